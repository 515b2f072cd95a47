/* shard.h -- tandem-bench --shard K/N and --merge: one run driven by several processes. */
#ifndef TANDEM_BENCH_SHARD_H
#define TANDEM_BENCH_SHARD_H

#include <jansson.h>
#include <stddef.h>

#include "bench/bench.h"
#include "bench/summary.h"

/* What a shard adds to its --json summary (the "shard" member), so that the
 * shards of a run can be summed up as if one process had run it: its number,
 * the run's nonce, its start on the wall clock, every counter, every latency
 * and quality sample, and every visit's pairing windows and runs of received
 * media (sender ids, times in microseconds since the shard started). NULL
 * when out of memory. */
json_t *shard_json(const struct brun *r, const struct bench_result *res);

/* N shards' results summed up: the options, counters, samples, the
 * cross-talk registry of every visit, and the figures, ready for
 * summary_print_table/summary_print_json (run.o points at o). */
struct shard_merged {
  struct bench_opts o;
  struct brun run;
  struct bench_result res;
};

/* Sums up docs[0..n) (each a tandem-bench --json summary of one shard of
 * the same run: the same --shard N, nonce and options apart from --url,
 * every K from 1 to N once) into *m: counters summed, samples pooled (so
 * percentiles are over every sample), per-behaviour figures summed, and
 * the cross-talk audit run again over every shard's visits at once, their
 * times put on one axis by each shard's wall-clock start; the server's
 * figures are those shard 1 measured. Pure: no files, sockets or clocks;
 * the audit's findings go to stderr. Returns 0, or -EINVAL with a reason in
 * err (m then holds nothing to free), or -ENOMEM. Free with
 * shard_merged_free. */
int shard_merge(json_t *const *docs, size_t n, struct shard_merged *m, char *err, size_t errlen);
void shard_merged_free(struct shard_merged *m);

#endif
