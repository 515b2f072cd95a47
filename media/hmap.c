/* hmap.c -- a small open-addressing hash map (linear probing, backward-shift delete). */
#include "media/hmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct slot {
  uint64_t hash; /* 0 = empty */
  uint8_t len;
  uint8_t key[HMAP_KEY_MAX];
  void *val;
};

struct hmap {
  struct slot *slots;
  size_t cap; /* power of two */
  size_t count;
};

static uint64_t hash_bytes(const void *key, size_t len) {
  /* FNV-1a, then a final mix so that low bits are usable as an index. */
  const uint8_t *p = key;
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h ? h : 1;
}

struct hmap *hmap_new(void) {
  struct hmap *m = calloc(1, sizeof(*m));
  if (!m)
    return NULL;
  m->cap = 16;
  m->slots = calloc(m->cap, sizeof(*m->slots));
  if (!m->slots) {
    free(m);
    return NULL;
  }
  return m;
}

void hmap_free(struct hmap *m) {
  if (!m)
    return;
  free(m->slots);
  free(m);
}

static struct slot *find(const struct hmap *m, const void *key, size_t len, uint64_t h) {
  size_t mask = m->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    struct slot *s = &m->slots[i];
    if (s->hash == 0)
      return s;
    if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
      return s;
  }
}

static int grow(struct hmap *m) {
  struct slot *old = m->slots;
  size_t oldcap = m->cap;
  struct slot *ns = calloc(oldcap * 2, sizeof(*ns));
  if (!ns)
    return -ENOMEM;
  m->slots = ns;
  m->cap = oldcap * 2;
  for (size_t i = 0; i < oldcap; i++) {
    if (old[i].hash)
      *find(m, old[i].key, old[i].len, old[i].hash) = old[i];
  }
  free(old);
  return 0;
}

int hmap_put(struct hmap *m, const void *key, size_t len, void *val) {
  if (len == 0 || len > HMAP_KEY_MAX)
    return -EINVAL;
  if ((m->count + 1) * 4 > m->cap * 3) {
    int rc = grow(m);
    if (rc)
      return rc;
  }
  uint64_t h = hash_bytes(key, len);
  struct slot *s = find(m, key, len, h);
  if (s->hash)
    return -EEXIST;
  s->hash = h;
  s->len = (uint8_t)len;
  memcpy(s->key, key, len);
  s->val = val;
  m->count++;
  return 0;
}

void *hmap_get(const struct hmap *m, const void *key, size_t len) {
  if (len == 0 || len > HMAP_KEY_MAX)
    return NULL;
  struct slot *s = find(m, key, len, hash_bytes(key, len));
  return s->hash ? s->val : NULL;
}

void *hmap_del(struct hmap *m, const void *key, size_t len) {
  if (len == 0 || len > HMAP_KEY_MAX)
    return NULL;
  struct slot *s = find(m, key, len, hash_bytes(key, len));
  if (!s->hash)
    return NULL;
  void *val = s->val;
  size_t mask = m->cap - 1;
  size_t i = (size_t)(s - m->slots);
  /* Backward-shift deletion keeps probe chains intact without tombstones. */
  for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    struct slot *t = &m->slots[j];
    if (t->hash == 0)
      break;
    size_t home = t->hash & mask;
    /* Move t into the hole at i if its home is not in the cyclic range (i, j]. */
    if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
      m->slots[i] = *t;
      i = j;
    }
  }
  memset(&m->slots[i], 0, sizeof(m->slots[i]));
  m->count--;
  return val;
}

size_t hmap_count(const struct hmap *m) { return m->count; }

void hmap_each(const struct hmap *m, void (*fn)(void *arg, void *val), void *arg) {
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].hash)
      fn(arg, m->slots[i].val);
}
