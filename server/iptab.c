/* iptab.c -- a table of client addresses for per-address caps (IPv6 counted by /64). */
#include "server/iptab.h"

#include <arpa/inet.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "media/hmap.h"

#define KEY_LEN 24 /* salt (8) + address (16) */

struct iptab {
  struct hmap *map; /* key -> struct iptab_entry * (owned) */
  uint8_t salt[8];
};

static void make_key(const struct iptab *t, const char *ip, uint8_t key[KEY_LEN]) {
  struct in_addr a4;
  struct in6_addr a6;
  memcpy(key, t->salt, 8);
  memset(key + 8, 0, 16);
  if (inet_pton(AF_INET, ip, &a4) == 1) {
    key[8 + 10] = key[8 + 11] = 0xff; /* ::ffff:a.b.c.d */
    memcpy(key + 8 + 12, &a4, 4);
  } else if (inet_pton(AF_INET6, ip, &a6) == 1) {
    if (IN6_IS_ADDR_V4MAPPED(&a6))
      memcpy(key + 8, &a6, 16);
    else
      memcpy(key + 8, &a6, 8);
  }
}

struct iptab *iptab_new(void) {
  struct iptab *t = calloc(1, sizeof(*t));
  if (!t)
    return NULL;
  if (!(t->map = hmap_new())) {
    free(t);
    return NULL;
  }
  if (RAND_bytes(t->salt, sizeof(t->salt)) != 1) {
    uint64_t x = uv_hrtime() ^ (uint64_t)(uintptr_t)t;
    memcpy(t->salt, &x, sizeof(x));
  }
  return t;
}

static void free_entry(void *arg, void *val) {
  free(val);
}

void iptab_free(struct iptab *t) {
  if (!t)
    return;
  hmap_each(t->map, free_entry, NULL);
  hmap_free(t->map);
  free(t);
}

struct iptab_entry *iptab_get(const struct iptab *t, const char *ip) {
  uint8_t key[KEY_LEN];
  make_key(t, ip, key);
  return hmap_get(t->map, key, sizeof(key));
}

struct iptab_entry *iptab_ref(struct iptab *t, const char *ip) {
  uint8_t key[KEY_LEN];
  struct iptab_entry *e;
  make_key(t, ip, key);
  if ((e = hmap_get(t->map, key, sizeof(key))))
    return e;
  if (!(e = calloc(1, sizeof(*e))))
    return NULL;
  if (hmap_put(t->map, key, sizeof(key), e) != 0) {
    free(e);
    return NULL;
  }
  return e;
}

void iptab_release(struct iptab *t, const char *ip) {
  uint8_t key[KEY_LEN];
  struct iptab_entry *e;
  make_key(t, ip, key);
  e = hmap_get(t->map, key, sizeof(key));
  if (e && e->n == 0 && !e->head)
    free(hmap_del(t->map, key, sizeof(key)));
}

size_t iptab_count(const struct iptab *t) {
  return hmap_count(t->map);
}
