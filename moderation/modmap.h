/* modmap.h -- a seeded open-addressing hash map from short byte keys to pointers, for the
 * ban set and the report policy.
 *
 * Why not media/hmap.h or match/htab.h: moderation links neither media nor match, and its keys
 * (device ids, addresses) come from the outside, so the hash is SipHash under a caller-chosen
 * seed (hmap's FNV-1a is unseeded) and the table can be walked a bounded number of slots at a
 * time (modmap_next), so pruning never takes a long pause. */
#ifndef TANDEM_MODMAP_H
#define TANDEM_MODMAP_H

#include <stddef.h>
#include <stdint.h>

#define MODMAP_KEY_MAX 24

/* Keys are copied in (1..MODMAP_KEY_MAX bytes); values are borrowed pointers the map never
 * dereferences. Linear probing with backward-shift deletion (no tombstones); the load stays at
 * or below 3/4. Lookups and updates are amortised O(1) and allocate only when the table grows.
 * One map belongs to one thread. */
struct modmap;

struct modmap *modmap_new(uint64_t seed);    /* NULL on ENOMEM */
void modmap_free(struct modmap *m);          /* NULL ok; values are not freed */
/* 0, -EEXIST (the key is present; nothing changes), -EINVAL (key length), -ENOMEM. */
int modmap_put(struct modmap *m, const void *key, size_t len, void *val);
void *modmap_get(const struct modmap *m, const void *key, size_t len); /* NULL if absent */
void *modmap_del(struct modmap *m, const void *key, size_t len);       /* removed value or NULL */
size_t modmap_count(const struct modmap *m);

/* A resumable walk: from slot *cursor (0 to begin), looks at slots until it finds a value,
 * which it returns (moving *cursor past it), or until *budget slots were looked at or the end
 * was reached (then NULL; *cursor is 0 again at the end). Each slot looked at takes one from
 * *budget. The walk reads slots only, never values. To delete the entry just returned and go
 * on without missing one, step *cursor back by one before the next call (the delete may have
 * moved a later entry into its slot). */
void *modmap_next(const struct modmap *m, size_t *cursor, size_t *budget);

/* SipHash-2-4 of buf under the key (k0, k1). */
uint64_t modmap_siphash(uint64_t k0, uint64_t k1, const void *buf, size_t len);

#endif
