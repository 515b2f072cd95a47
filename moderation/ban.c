/* ban.c -- bans by key (device, address, /64) in seeded hash tables; a min-heap of end times
 * so that expired bans are freed in bounded steps. */
#include "moderation/ban.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moderation/modmap.h"

struct entry {
  struct ban b;         /* b.reason and b.by point into text[] */
  struct entry *next;   /* the next ban with the same key */
  size_t heap;          /* index in the heap of timed bans; SIZE_MAX if permanent */
  char text[];
};

struct ban_set {
  struct modmap *by_key; /* key bytes -> first entry with that key */
  struct modmap *by_id;  /* int64 id -> entry */
  struct entry **heap;   /* timed bans, soonest end first */
  size_t heap_n, heap_cap;
  size_t n;
};

#define KEY_MAX 18

/* ---- targets ---- */

const char *ban_kind_name(enum ban_kind kind) {
  switch (kind) {
  case BAN_DEVICE:
    return "device";
  case BAN_IP:
    return "ip";
  case BAN_IP6_64:
    return "ip6_64";
  }
  return "?";
}

int ban_kind_parse(const char *name, enum ban_kind *out) {
  static const enum ban_kind kinds[] = {BAN_DEVICE, BAN_IP, BAN_IP6_64};
  for (size_t i = 0; name && i < sizeof(kinds) / sizeof(kinds[0]); i++)
    if (strcmp(name, ban_kind_name(kinds[i])) == 0) {
      *out = kinds[i];
      return 0;
    }
  return -EINVAL;
}

static bool is_mapped(const struct netaddr *a) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return a->family == NETADDR_V6 && memcmp(a->b, mapped, sizeof(mapped)) == 0;
}

/* The canonical form of a target: only the fields of its kind set, addresses normalised
 * (a mapped IPv4 address as IPv4, a /64 with its host bits cleared). in != out. */
static int normalise(const struct ban_target *in, struct ban_target *out) {
  memset(out, 0, sizeof(*out));
  out->kind = in->kind;
  switch (in->kind) {
  case BAN_DEVICE:
    out->device = in->device;
    return 0;
  case BAN_IP:
    if (in->ip.family == NETADDR_V4) {
      out->ip.family = NETADDR_V4;
      memcpy(out->ip.b, in->ip.b, 4);
      return 0;
    }
    if (in->ip.family == NETADDR_V6) {
      if (is_mapped(&in->ip)) {
        out->ip.family = NETADDR_V4;
        memcpy(out->ip.b, in->ip.b + 12, 4);
      } else {
        out->ip = in->ip;
      }
      return 0;
    }
    return -EINVAL;
  case BAN_IP6_64:
    if (in->ip.family != NETADDR_V6 || is_mapped(&in->ip))
      return -EINVAL;
    return netaddr_prefix64(&in->ip, &out->ip);
  }
  return -EINVAL;
}

int ban_target_parse(enum ban_kind kind, const char *text, struct ban_target *out) {
  struct ban_target t;
  char buf[NETADDR_STRLEN];
  const char *slash;

  memset(&t, 0, sizeof(t));
  t.kind = kind;
  if (!text)
    return -EINVAL;
  switch (kind) {
  case BAN_DEVICE:
    if (device_id_parse_hex(text, &t.device))
      return -EINVAL;
    break;
  case BAN_IP:
    if (netaddr_parse(text, &t.ip))
      return -EINVAL;
    break;
  case BAN_IP6_64:
    slash = strchr(text, '/');
    if (slash && strcmp(slash, "/64") != 0)
      return -EINVAL;
    if (slash ? (size_t)(slash - text) >= sizeof(buf) : strlen(text) >= sizeof(buf))
      return -EINVAL;
    snprintf(buf, sizeof(buf), "%.*s", slash ? (int)(slash - text) : (int)strlen(text), text);
    if (netaddr_parse(buf, &t.ip) || t.ip.family != NETADDR_V6)
      return -EINVAL;
    break;
  default:
    return -EINVAL;
  }
  return normalise(&t, out);
}

int ban_target_format(const struct ban_target *t, char *buf, size_t cap) {
  struct ban_target n;
  char text[NETADDR_STRLEN];

  if (normalise(t, &n))
    return -EINVAL;
  if (n.kind == BAN_DEVICE) {
    if (cap < DEVICE_HEX_LEN + 1)
      return -ENOSPC;
    device_id_hex(&n.device, buf);
    return 0;
  }
  if (netaddr_format(&n.ip, text, sizeof(text)))
    return -EINVAL;
  if (snprintf(buf, cap, "%s%s", text, n.kind == BAN_IP6_64 ? "/64" : "") >= (int)cap)
    return -ENOSPC;
  return 0;
}

/* Key bytes of a normalised target: its kind, then the device id, or the family and address
 * bytes, or the eight prefix bytes. */
static size_t target_key(const struct ban_target *t, uint8_t *key) {
  key[0] = (uint8_t)t->kind;
  if (t->kind == BAN_DEVICE) {
    memcpy(key + 1, t->device.b, DEVICE_ID_LEN);
    return 1 + DEVICE_ID_LEN;
  }
  if (t->kind == BAN_IP6_64) {
    memcpy(key + 1, t->ip.b, 8);
    return 9;
  }
  key[1] = t->ip.family;
  size_t alen = t->ip.family == NETADDR_V4 ? 4 : 16;
  memcpy(key + 2, t->ip.b, alen);
  return 2 + alen;
}

static bool in_force(const struct ban *b, uint64_t now_ms) {
  return b->lifted_ms == 0 && (b->expires_ms == 0 || now_ms < b->expires_ms);
}

bool ban_applies(const struct ban *b, const struct device_id *device,
                 const struct netaddr *ip, uint64_t now_ms) {
  struct ban_target t, v = {.kind = BAN_IP}, nv;

  if (!in_force(b, now_ms) || normalise(&b->target, &t))
    return false;
  if (t.kind == BAN_DEVICE)
    return device && memcmp(device->b, t.device.b, DEVICE_ID_LEN) == 0;
  /* The visitor's address in canonical form first, so that a mapped IPv4 address is IPv4
   * here as it is in ban_check. */
  if (!ip || ip->family == NETADDR_NONE)
    return false;
  v.ip = *ip;
  if (normalise(&v, &nv) != 0)
    return false;
  if (t.kind == BAN_IP)
    return netaddr_equal(&nv.ip, &t.ip);
  return nv.ip.family == NETADDR_V6 && memcmp(nv.ip.b, t.ip.b, 8) == 0;
}

/* ---- the heap of timed bans ---- */

static bool ends_before(const struct entry *a, const struct entry *b) {
  return a->b.expires_ms < b->b.expires_ms;
}

static void heap_set(struct ban_set *s, size_t i, struct entry *e) {
  s->heap[i] = e;
  e->heap = i;
}

static void sift_up(struct ban_set *s, size_t i) {
  struct entry *e = s->heap[i];
  while (i > 0 && ends_before(e, s->heap[(i - 1) / 2])) {
    heap_set(s, i, s->heap[(i - 1) / 2]);
    i = (i - 1) / 2;
  }
  heap_set(s, i, e);
}

static void sift_down(struct ban_set *s, size_t i) {
  struct entry *e = s->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= s->heap_n)
      break;
    if (c + 1 < s->heap_n && ends_before(s->heap[c + 1], s->heap[c]))
      c++;
    if (!ends_before(s->heap[c], e))
      break;
    heap_set(s, i, s->heap[c]);
    i = c;
  }
  heap_set(s, i, e);
}

static void heap_remove(struct ban_set *s, struct entry *e) {
  size_t i = e->heap;
  struct entry *last = s->heap[--s->heap_n];
  e->heap = SIZE_MAX;
  if (last == e)
    return;
  heap_set(s, i, last);
  sift_up(s, i);
  sift_down(s, last->heap);
}

/* ---- the set ---- */

struct ban_set *ban_set_new(uint64_t seed) {
  struct ban_set *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->by_key = modmap_new(seed);
  s->by_id = modmap_new(seed ^ 0x5bd1e9955bd1e995ULL);
  if (!s->by_key || !s->by_id) {
    ban_set_free(s);
    return NULL;
  }
  return s;
}

void ban_set_free(struct ban_set *s) {
  if (!s)
    return;
  if (s->by_id) {
    size_t cur = 0, budget = SIZE_MAX;
    struct entry *e;
    /* The walk reads only the map's slots, never the values, so freeing as we go is safe. */
    while ((e = modmap_next(s->by_id, &cur, &budget)) != NULL)
      free(e);
  }
  modmap_free(s->by_key);
  modmap_free(s->by_id);
  free(s->heap);
  free(s);
}

int ban_set_add(struct ban_set *s, const struct ban *b) {
  struct ban_target t;
  uint8_t key[KEY_MAX];
  const char *reason = b->reason ? b->reason : "", *by = b->by ? b->by : "";
  size_t rlen = strlen(reason), blen = strlen(by);

  if (b->id <= 0 || b->lifted_ms != 0 || rlen > BAN_TEXT_MAX || blen > BAN_TEXT_MAX ||
      normalise(&b->target, &t))
    return -EINVAL;
  if (modmap_get(s->by_id, &b->id, sizeof(b->id)))
    return -EEXIST;
  if (b->expires_ms && s->heap_n == s->heap_cap) {
    size_t cap = s->heap_cap ? s->heap_cap * 2 : 16;
    struct entry **h = realloc(s->heap, cap * sizeof(*h));
    if (!h)
      return -ENOMEM;
    s->heap = h;
    s->heap_cap = cap;
  }
  struct entry *e = malloc(sizeof(*e) + rlen + blen + 2);
  if (!e)
    return -ENOMEM;
  e->b = *b;
  e->b.target = t;
  memcpy(e->text, reason, rlen + 1);
  memcpy(e->text + rlen + 1, by, blen + 1);
  e->b.reason = e->text;
  e->b.by = e->text + rlen + 1;
  e->heap = SIZE_MAX;

  size_t klen = target_key(&t, key);
  struct entry *head = modmap_get(s->by_key, key, klen);
  if (modmap_put(s->by_id, &e->b.id, sizeof(e->b.id), e)) {
    free(e);
    return -ENOMEM;
  }
  if (head) {
    e->next = head->next; /* second in the chain: the map keeps pointing at head */
    head->next = e;
  } else {
    e->next = NULL;
    if (modmap_put(s->by_key, key, klen, e)) {
      modmap_del(s->by_id, &e->b.id, sizeof(e->b.id));
      free(e);
      return -ENOMEM;
    }
  }
  if (e->b.expires_ms) {
    s->heap[s->heap_n] = e;
    e->heap = s->heap_n++;
    sift_up(s, e->heap);
  }
  s->n++;
  return 0;
}

static void remove_entry(struct ban_set *s, struct entry *e) {
  uint8_t key[KEY_MAX];
  size_t klen = target_key(&e->b.target, key);
  struct entry *head = modmap_get(s->by_key, key, klen);

  if (head == e) {
    /* Replacing the map's value needs a delete and a put of the same key; the put cannot fail
     * for lack of memory, since the delete just made room and the table never shrinks. */
    modmap_del(s->by_key, key, klen);
    if (e->next)
      modmap_put(s->by_key, key, klen, e->next);
  } else {
    struct entry *p = head;
    while (p && p->next != e)
      p = p->next;
    if (p)
      p->next = e->next;
  }
  modmap_del(s->by_id, &e->b.id, sizeof(e->b.id));
  if (e->heap != SIZE_MAX)
    heap_remove(s, e);
  s->n--;
  free(e);
}

int ban_set_lift(struct ban_set *s, int64_t id) {
  struct entry *e = modmap_get(s->by_id, &id, sizeof(id));
  if (!e)
    return -ENOENT;
  remove_entry(s, e);
  return 0;
}

const struct ban *ban_set_get(const struct ban_set *s, int64_t id) {
  struct entry *e = modmap_get(s->by_id, &id, sizeof(id));
  return e ? &e->b : NULL;
}

/* Which of two bans in force keeps the visitor out longer. */
static const struct ban *longer(const struct ban *a, const struct ban *b) {
  if (!a)
    return b;
  if (!b)
    return a;
  if (a->expires_ms == 0 || b->expires_ms == 0)
    return a->expires_ms == 0 ? a : b;
  return b->expires_ms > a->expires_ms ? b : a;
}

static const struct ban *best_of(const struct ban_set *s, const struct ban_target *t,
                                 const struct ban *best, uint64_t now_ms) {
  uint8_t key[KEY_MAX];
  size_t klen = target_key(t, key);
  for (struct entry *e = modmap_get(s->by_key, key, klen); e; e = e->next)
    if (in_force(&e->b, now_ms))
      best = longer(best, &e->b);
  return best;
}

const struct ban *ban_check(const struct ban_set *s, const struct device_id *device,
                            const struct netaddr *ip, uint64_t now_ms) {
  const struct ban *best = NULL;
  struct ban_target t;

  if (device) {
    memset(&t, 0, sizeof(t));
    t.kind = BAN_DEVICE;
    t.device = *device;
    best = best_of(s, &t, best, now_ms);
  }
  if (ip && ip->family != NETADDR_NONE) {
    struct ban_target a = {.kind = BAN_IP, .ip = *ip};
    if (normalise(&a, &t) == 0) {
      best = best_of(s, &t, best, now_ms);
      if (t.ip.family == NETADDR_V6) {
        struct ban_target p = {.kind = BAN_IP6_64, .ip = t.ip};
        if (normalise(&p, &t) == 0)
          best = best_of(s, &t, best, now_ms);
      }
    }
  }
  return best;
}

size_t ban_set_prune(struct ban_set *s, uint64_t now_ms, size_t max) {
  size_t n = 0;
  while (n < max && s->heap_n > 0 && s->heap[0]->b.expires_ms <= now_ms) {
    remove_entry(s, s->heap[0]);
    n++;
  }
  return n;
}

size_t ban_set_count(const struct ban_set *s) { return s->n; }

const struct ban *ban_set_next(const struct ban_set *s, size_t *cursor) {
  size_t budget = SIZE_MAX;
  struct entry *e = modmap_next(s->by_id, cursor, &budget);
  return e ? &e->b : NULL;
}
