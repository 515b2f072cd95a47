/* hmap.h -- a small open-addressing hash map from short byte keys to pointers. */
#ifndef TANDEM_HMAP_H
#define TANDEM_HMAP_H

#include <stddef.h>
#include <stdint.h>

#define HMAP_KEY_MAX 32

/* Keys are copied in (at most HMAP_KEY_MAX bytes); values are borrowed pointers the
 * map never dereferences. Lookups and updates are amortised O(1) and allocate only
 * when the table grows. */
struct hmap;

struct hmap *hmap_new(void);                 /* NULL on ENOMEM */
void hmap_free(struct hmap *m);              /* NULL ok; values are not freed */
int hmap_put(struct hmap *m, const void *key, size_t len, void *val); /* 0, -EEXIST, -EINVAL, -ENOMEM */
void *hmap_get(const struct hmap *m, const void *key, size_t len);    /* NULL if absent */
void *hmap_del(struct hmap *m, const void *key, size_t len);          /* removed value or NULL */
size_t hmap_count(const struct hmap *m);

/* Calls fn for every entry; fn must not modify the map. */
void hmap_each(const struct hmap *m, void (*fn)(void *arg, void *val), void *arg);

#endif
