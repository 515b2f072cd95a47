/* ban.h -- the bans in force, in memory: by device, by IP address, by IPv6 /64; timed or
 * permanent. Pure: loaded from the store at start and updated by the server. */
#ifndef TANDEM_BAN_H
#define TANDEM_BAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moderation/device.h"
#include "moderation/netaddr.h"

/* Times are unix milliseconds (wall clock), because bans outlive the process. A ban with
 * expires_ms E applies while now < E: at now == E it has ended. */
enum ban_kind {
  BAN_DEVICE = 1, /* target.device */
  BAN_IP = 2,     /* target.ip, IPv4 or IPv6, one address */
  BAN_IP6_64 = 3, /* target.ip, NETADDR_V6 with the low 64 bits zero: the whole /64 */
};

struct ban_target {
  enum ban_kind kind;
  struct device_id device; /* BAN_DEVICE */
  struct netaddr ip;       /* BAN_IP, BAN_IP6_64 */
};

/* A ban as a value. Strings are borrowed: in arguments for the duration of the call, in
 * results as the function returning them says. */
struct ban {
  int64_t id;              /* the store's id, > 0 */
  struct ban_target target;
  const char *reason;      /* never NULL in results ("" if none) */
  const char *by;          /* who: a moderator's name, "auto" for the report policy */
  uint64_t created_ms;
  uint64_t expires_ms;     /* 0 = permanent */
  uint64_t lifted_ms;      /* 0 = not lifted (the set never holds lifted bans) */
};

#define BAN_TEXT_MAX 1024  /* longest reason or by, in bytes */
#define BAN_TARGET_STRLEN 64

/* Target text: a device's 32 hex digits, an address, or a /64 as "2001:db8:1:2::/64" (any
 * address inside the /64 is accepted and its host bits are cleared). For BAN_IP an
 * IPv4-mapped IPv6 address becomes the IPv4 address; for BAN_IP6_64 it is -EINVAL (it is not
 * an IPv6 network). 0 or -EINVAL. */
int ban_target_parse(enum ban_kind kind, const char *text, struct ban_target *out);
/* The inverse, into buf[BAN_TARGET_STRLEN]. 0 or -EINVAL. */
int ban_target_format(const struct ban_target *t, char *buf, size_t cap);
/* "device", "ip", "ip6_64"; and back (0 or -EINVAL). */
const char *ban_kind_name(enum ban_kind kind);
int ban_kind_parse(const char *name, enum ban_kind *out);

/* Whether b applies to a visitor with this device (NULL: none known) and address (NULL or
 * family NONE: none known) at now_ms: not lifted, not expired, and its target matches (a
 * /64 matches every IPv6 address in it). The server runs this over its live peers when a
 * new ban arrives, to cut off whoever it covers in the same loop turn. */
bool ban_applies(const struct ban *b, const struct device_id *device,
                 const struct netaddr *ip, uint64_t now_ms);

/* The set. Lookups cost three hash probes plus the bans sharing those keys. One set belongs to
 * one thread (the control loop). */
struct ban_set;

/* seed keys the hash tables (pass random bytes, so crafted addresses cannot collide). NULL on
 * ENOMEM. */
struct ban_set *ban_set_new(uint64_t seed);
void ban_set_free(struct ban_set *s); /* NULL ok */

/* Copies b (and its strings) in. -EINVAL (id <= 0, a bad target, lifted, strings too long),
 * -EEXIST (that id is in the set), -ENOMEM; nothing changes on error. A ban already expired
 * at insertion is accepted and simply never applies (ban_set_prune drops it). */
int ban_set_add(struct ban_set *s, const struct ban *b);
/* Removes the ban with this id. 0 or -ENOENT. */
int ban_set_lift(struct ban_set *s, int64_t id);
/* The ban with this id, borrowed until the next add/lift/prune/free, or NULL. */
const struct ban *ban_set_get(const struct ban_set *s, int64_t id);

/* The ban that keeps this visitor out at now_ms -- a permanent one if any, else the one that
 * ends last -- or NULL. device and ip may each be NULL. An IPv6 address is checked both as an
 * address and by its /64. Borrowed until the next add/lift/prune/free. */
const struct ban *ban_check(const struct ban_set *s, const struct device_id *device,
                            const struct netaddr *ip, uint64_t now_ms);

/* Frees the timed bans that have ended by now_ms (expires_ms <= now_ms), at most max of them
 * (bounded work per call: call it from a periodic tick). Returns how many it freed. */
size_t ban_set_prune(struct ban_set *s, uint64_t now_ms, size_t max);

size_t ban_set_count(const struct ban_set *s);

/* A walk over every ban in the set, in no particular order: start with *cursor = 0; each
 * call returns the next ban (borrowed) or NULL at the end. The set must not change during a
 * walk (collect ids first, then lift). */
const struct ban *ban_set_next(const struct ban_set *s, size_t *cursor);

#endif
