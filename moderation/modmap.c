/* modmap.c -- SipHash-keyed linear probing with backward-shift deletion. */
#include "moderation/modmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct slot {
  uint64_t hash; /* 0 = empty */
  uint8_t len;
  uint8_t key[MODMAP_KEY_MAX];
  void *val;
};

struct modmap {
  struct slot *slots;
  size_t cap; /* a power of two */
  size_t count;
  uint64_t k0, k1;
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                           \
  do {                                                                                     \
    v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                              \
    v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                                 \
    v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                                 \
    v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                              \
  } while (0)

static uint64_t load64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

uint64_t modmap_siphash(uint64_t k0, uint64_t k1, const void *buf, size_t len) {
  const uint8_t *p = buf;
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
  size_t i, end = len - len % 8;

  for (i = 0; i < end; i += 8) {
    uint64_t m = load64(p + i);
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  uint64_t b = (uint64_t)len << 56;
  for (size_t j = 0; j < len % 8; j++)
    b |= (uint64_t)p[end + j] << (8 * j);
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t hash_key(const struct modmap *m, const void *key, size_t len) {
  uint64_t h = modmap_siphash(m->k0, m->k1, key, len);
  return h ? h : 1;
}

struct modmap *modmap_new(uint64_t seed) {
  struct modmap *m = calloc(1, sizeof(*m));
  if (!m)
    return NULL;
  m->cap = 16;
  m->slots = calloc(m->cap, sizeof(*m->slots));
  if (!m->slots) {
    free(m);
    return NULL;
  }
  /* Two words of key from one seed; the constant only keeps k1 from equalling k0. */
  m->k0 = seed;
  m->k1 = seed ^ 0x9e3779b97f4a7c15ULL;
  return m;
}

void modmap_free(struct modmap *m) {
  if (!m)
    return;
  free(m->slots);
  free(m);
}

static struct slot *find(const struct modmap *m, const void *key, size_t len, uint64_t h) {
  size_t mask = m->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    struct slot *s = &m->slots[i];
    if (s->hash == 0)
      return s;
    if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
      return s;
  }
}

static int grow(struct modmap *m) {
  struct slot *old = m->slots;
  size_t oldcap = m->cap;
  struct slot *ns = calloc(oldcap * 2, sizeof(*ns));
  if (!ns)
    return -ENOMEM;
  m->slots = ns;
  m->cap = oldcap * 2;
  for (size_t i = 0; i < oldcap; i++)
    if (old[i].hash)
      *find(m, old[i].key, old[i].len, old[i].hash) = old[i];
  free(old);
  return 0;
}

int modmap_put(struct modmap *m, const void *key, size_t len, void *val) {
  if (len == 0 || len > MODMAP_KEY_MAX)
    return -EINVAL;
  uint64_t h = hash_key(m, key, len);
  struct slot *s = find(m, key, len, h);
  if (s->hash)
    return -EEXIST;
  if ((m->count + 1) * 4 > m->cap * 3) {
    int rc = grow(m);
    if (rc)
      return rc;
    s = find(m, key, len, h);
  }
  s->hash = h;
  s->len = (uint8_t)len;
  memcpy(s->key, key, len);
  s->val = val;
  m->count++;
  return 0;
}

void *modmap_get(const struct modmap *m, const void *key, size_t len) {
  if (len == 0 || len > MODMAP_KEY_MAX)
    return NULL;
  struct slot *s = find(m, key, len, hash_key(m, key, len));
  return s->hash ? s->val : NULL;
}

void *modmap_del(struct modmap *m, const void *key, size_t len) {
  if (len == 0 || len > MODMAP_KEY_MAX)
    return NULL;
  struct slot *s = find(m, key, len, hash_key(m, key, len));
  if (!s->hash)
    return NULL;
  void *val = s->val;
  size_t mask = m->cap - 1;
  size_t i = (size_t)(s - m->slots);
  /* Backward shift: pull later entries of the run into the hole unless their home slot lies
   * in the cyclic range (i, j], where moving them would put them before their home. */
  for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    struct slot *t = &m->slots[j];
    if (t->hash == 0)
      break;
    size_t home = t->hash & mask;
    int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!in_range) {
      m->slots[i] = *t;
      i = j;
    }
  }
  memset(&m->slots[i], 0, sizeof(m->slots[i]));
  m->count--;
  return val;
}

size_t modmap_count(const struct modmap *m) { return m->count; }

void *modmap_next(const struct modmap *m, size_t *cursor, size_t *budget) {
  size_t i = *cursor;
  for (; *budget > 0; i++) {
    if (i >= m->cap)
      break;
    (*budget)--;
    if (m->slots[i].hash) {
      *cursor = i + 1;
      return m->slots[i].val;
    }
  }
  *cursor = i >= m->cap ? 0 : i;
  return NULL;
}
