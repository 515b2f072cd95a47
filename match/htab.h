/* htab.h -- small open-addressing hash table with two-word keys, and SipHash.
 *
 * Why not media/hmap.h: that table maps short byte keys (addresses, ICE
 * ufrags, tokens), copied into each slot, to borrowed pointers, and only
 * grows. This one maps fixed two-word integer keys (peer ids, pairs of
 * serials) to a uint64 the engine updates in place, is embedded in the
 * engine, seeded from the engine's config, and keeps its load at or below 1/2
 * and shrinks after a crowd leaves, for pools of a million peers. Sharing one
 * table would make match depend on media, or need a library below both, while
 * match stays pure and standalone (its tests, fuzzer and benchmark link it
 * alone); at 140 and 200 lines, two tables cost less than that coupling. */
#ifndef TANDEM_MATCH_HTAB_H
#define TANDEM_MATCH_HTAB_H

#include <stddef.h>
#include <stdint.h>

/* Maps a key (k1, k2) with k1 != 0 to a uint64 value. Linear probing with
 * backward-shift deletion, so there are no tombstones and a lookup never walks
 * further than the longest run. The table owns only its slot array. */
struct match__htab_slot {
  uint64_t k1; /* 0 = empty */
  uint64_t k2;
  uint64_t val;
};

struct match__htab {
  struct match__htab_slot *slots;
  size_t mask; /* capacity - 1; capacity is a power of two */
  size_t n;
  uint64_t seed;
};

/* Returns 0 or -ENOMEM. */
int match__htab_init(struct match__htab *h, uint64_t seed);
void match__htab_free(struct match__htab *h);
/* Returns a pointer to the value, valid until the next put/del, or NULL. */
uint64_t *match__htab_find(const struct match__htab *h, uint64_t k1, uint64_t k2);
/* Makes room for `extra` more keys, so that many puts of new keys cannot fail.
 * Returns 0 or -ENOMEM (the table is unchanged then). */
int match__htab_reserve(struct match__htab *h, size_t extra);
/* Inserts or overwrites. Returns 0 or -ENOMEM (-EINVAL if k1 == 0). */
int match__htab_put(struct match__htab *h, uint64_t k1, uint64_t k2, uint64_t val);
/* Returns 0 or -ENOENT. May shrink the table; never fails otherwise. */
int match__htab_del(struct match__htab *h, uint64_t k1, uint64_t k2);

/* SipHash-2-4 of buf under the 128-bit key (k0, k1). */
uint64_t match__siphash(uint64_t k0, uint64_t k1, const void *buf, size_t len);

#endif
