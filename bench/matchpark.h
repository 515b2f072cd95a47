/* matchpark.h -- for tandem-bench-match only: waiting peers parked without pairing. */
#ifndef TANDEM_BENCH_MATCHPARK_H
#define TANDEM_BENCH_MATCHPARK_H

#include <stddef.h>
#include <stdint.h>

#include "match/engine.h"

/* A pool of a million waiting peers who could pair with each other cannot arise
 * through the engine's API (they would pair), so the benchmark builds one by
 * reaching into match's private headers (match/pool.h). None of this is in the
 * shipped library; it breaks the immediate-pairing rule on purpose. */

/* Adds a ready peer that wants a partner with the given tags and lang (as
 * match_start takes them) and links it into the pool at the back without
 * looking for a partner and without an event. Returns 0 or what match_add or
 * match_start returned (the peer is not left behind then). */
int matchpark_add(struct match_engine *e, match_id id, const char *const *tags, size_t ntags,
                  const char *lang, uint64_t now_ms);

/* Removes id and its partner, if any, at once, so neither goes back to the
 * pool (which would pair it with a parked peer and drain the pool). No event
 * is queued for either. Returns 0 or -ENOENT. */
int matchpark_remove_pair(struct match_engine *e, match_id id, uint64_t now_ms);

#endif
