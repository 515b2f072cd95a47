/* htab.c -- small open-addressing hash table with two-word keys, and SipHash. */
#include "match/htab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HTAB_MIN_CAP 16

static uint64_t htab_mix(uint64_t x) {
  /* splitmix64's finaliser: every input bit affects every output bit. */
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

static size_t htab_home(const struct match__htab *h, uint64_t k1, uint64_t k2) {
  return (size_t)htab_mix(k1 ^ htab_mix(k2 ^ h->seed)) & h->mask;
}

int match__htab_init(struct match__htab *h, uint64_t seed) {
  h->slots = calloc(HTAB_MIN_CAP, sizeof(*h->slots));
  if (h->slots == NULL)
    return -ENOMEM;
  h->mask = HTAB_MIN_CAP - 1;
  h->n = 0;
  h->seed = seed;
  return 0;
}

void match__htab_free(struct match__htab *h) {
  free(h->slots);
  h->slots = NULL;
  h->mask = 0;
  h->n = 0;
}

/* Returns the slot index of the key, or SIZE_MAX. */
static size_t htab_index(const struct match__htab *h, uint64_t k1, uint64_t k2) {
  size_t i;

  if (k1 == 0)
    return SIZE_MAX;
  for (i = htab_home(h, k1, k2);; i = (i + 1) & h->mask) {
    const struct match__htab_slot *s = &h->slots[i];
    if (s->k1 == 0)
      return SIZE_MAX;
    if (s->k1 == k1 && s->k2 == k2)
      return i;
  }
}

uint64_t *match__htab_find(const struct match__htab *h, uint64_t k1, uint64_t k2) {
  size_t i = htab_index(h, k1, k2);

  return i == SIZE_MAX ? NULL : &h->slots[i].val;
}

static int htab_resize(struct match__htab *h, size_t cap) {
  struct match__htab_slot *old = h->slots;
  size_t oldcap = h->mask + 1;
  size_t i;

  h->slots = calloc(cap, sizeof(*h->slots));
  if (h->slots == NULL) {
    h->slots = old;
    return -ENOMEM;
  }
  h->mask = cap - 1;
  for (i = 0; i < oldcap; i++) {
    size_t j;
    if (old[i].k1 == 0)
      continue;
    for (j = htab_home(h, old[i].k1, old[i].k2); h->slots[j].k1 != 0; j = (j + 1) & h->mask) {
    }
    h->slots[j] = old[i];
  }
  free(old);
  return 0;
}

int match__htab_reserve(struct match__htab *h, size_t extra) {
  size_t cap = h->mask + 1;
  size_t want = h->n + extra;

  /* Keep the load factor at or below 1/2: short probe runs matter more here
   * than the memory, which stays within 48 bytes per key. */
  if (want > SIZE_MAX / 4)
    return -ENOMEM;
  if (want * 2 <= cap)
    return 0;
  while (want * 2 > cap)
    cap *= 2;
  return htab_resize(h, cap);
}

int match__htab_put(struct match__htab *h, uint64_t k1, uint64_t k2, uint64_t val) {
  uint64_t *v;
  size_t i;
  int rc;

  if (k1 == 0)
    return -EINVAL;
  v = match__htab_find(h, k1, k2);
  if (v != NULL) {
    *v = val;
    return 0;
  }
  rc = match__htab_reserve(h, 1);
  if (rc < 0)
    return rc;
  for (i = htab_home(h, k1, k2); h->slots[i].k1 != 0; i = (i + 1) & h->mask) {
  }
  h->slots[i].k1 = k1;
  h->slots[i].k2 = k2;
  h->slots[i].val = val;
  h->n++;
  return 0;
}

int match__htab_del(struct match__htab *h, uint64_t k1, uint64_t k2) {
  size_t i = htab_index(h, k1, k2);
  size_t j;

  if (i == SIZE_MAX)
    return -ENOENT;
  /* Backward shift: pull later members of the run into the hole whenever the
   * hole lies on the way from their home slot to where they sit. */
  for (j = (i + 1) & h->mask; h->slots[j].k1 != 0; j = (j + 1) & h->mask) {
    size_t home = htab_home(h, h->slots[j].k1, h->slots[j].k2);
    if (((j - home) & h->mask) >= ((j - i) & h->mask)) {
      h->slots[i] = h->slots[j];
      i = j;
    }
  }
  memset(&h->slots[i], 0, sizeof(h->slots[i]));
  h->n--;
  /* Give memory back after a crowd leaves; failing to shrink is harmless. */
  if (h->mask + 1 > HTAB_MIN_CAP && h->n * 8 < h->mask + 1)
    (void)htab_resize(h, (h->mask + 1) / 2);
  return 0;
}

#define SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND()                                                                                \
  do {                                                                                             \
    v0 += v1;                                                                                      \
    v1 = SIP_ROTL(v1, 13);                                                                         \
    v1 ^= v0;                                                                                      \
    v0 = SIP_ROTL(v0, 32);                                                                         \
    v2 += v3;                                                                                      \
    v3 = SIP_ROTL(v3, 16);                                                                         \
    v3 ^= v2;                                                                                      \
    v0 += v3;                                                                                      \
    v3 = SIP_ROTL(v3, 21);                                                                         \
    v3 ^= v0;                                                                                      \
    v2 += v1;                                                                                      \
    v1 = SIP_ROTL(v1, 17);                                                                         \
    v1 ^= v2;                                                                                      \
    v2 = SIP_ROTL(v2, 32);                                                                         \
  } while (0)

static uint64_t sip_load_le(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  size_t i;

  for (i = 0; i < n; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

uint64_t match__siphash(uint64_t k0, uint64_t k1, const void *buf, size_t len) {
  const uint8_t *p = buf;
  uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
  uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
  uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
  uint64_t v3 = k1 ^ 0x7465646279746573ULL;
  uint64_t m;
  size_t left = len;

  for (; left >= 8; left -= 8, p += 8) {
    m = sip_load_le(p, 8);
    v3 ^= m;
    SIP_ROUND();
    SIP_ROUND();
    v0 ^= m;
  }
  m = sip_load_le(p, left) | ((uint64_t)(len & 0xff) << 56);
  v3 ^= m;
  SIP_ROUND();
  SIP_ROUND();
  v0 ^= m;
  v2 ^= 0xff;
  SIP_ROUND();
  SIP_ROUND();
  SIP_ROUND();
  SIP_ROUND();
  return v0 ^ v1 ^ v2 ^ v3;
}
