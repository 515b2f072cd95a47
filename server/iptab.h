/* iptab.h -- a table of client addresses for per-address caps: IPv4 by address, IPv6 by /64. */
#ifndef TANDEM_IPTAB_H
#define TANDEM_IPTAB_H

#include <stdbool.h>
#include <stddef.h>

#include "moderation/ratelimit.h"

/* One address's entry: what its owner counts, and a pointer of the owner's (e.g. the first
 * of a list). Both start at 0/NULL; the table never looks at them except to free an entry
 * whose n is 0 and head NULL (iptab_release). */
struct iptab_entry {
  unsigned n;
  void *head;
  struct ratelimit offers; /* offers from this address (signal.c); set up when rl_ready is 0 */
  bool rl_ready;
};

/* Addresses are the text of an IP literal, as httpd's remote_ip. An IPv4-mapped IPv6
 * address is its IPv4 address; any other IPv6 address counts by its /64 (one subscriber's
 * network: a client can pick any address inside it). Text that is not an IP literal shares
 * one entry. Keys are salted with a secret at iptab_new, so that addresses chosen by an
 * attacker do not collide in the table on purpose. */
struct iptab;

struct iptab *iptab_new(void);    /* NULL on ENOMEM */
void iptab_free(struct iptab *t); /* frees every entry; NULL ok */
/* ip's entry, created if absent; NULL only when out of memory. Valid until released. */
struct iptab_entry *iptab_ref(struct iptab *t, const char *ip);
/* ip's entry or NULL. */
struct iptab_entry *iptab_get(const struct iptab *t, const char *ip);
/* Frees ip's entry if its n is 0 and its head NULL. */
void iptab_release(struct iptab *t, const char *ip);
size_t iptab_count(const struct iptab *t);

#endif
