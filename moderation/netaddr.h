/* netaddr.h -- IP addresses as parsed bytes for enforcement (bans, distinct networks). Pure. */
#ifndef TANDEM_NETADDR_H
#define TANDEM_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

enum { NETADDR_NONE = 0, NETADDR_V4 = 4, NETADDR_V6 = 6 };

/* An address as bytes: family NETADDR_V4 keeps its four bytes in b[0..3] and zeros after,
 * NETADDR_V6 all sixteen. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack
 * socket reports for an IPv4 client) is always stored as the IPv4 address, so one ban or one
 * network covers both spellings. A transparent value: copy and compare it freely
 * (netaddr_equal); zero it for "no address" (family NETADDR_NONE). */
struct netaddr {
  uint8_t family;
  uint8_t b[16];
};

/* Longest text netaddr_format writes, with its NUL (INET6_ADDRSTRLEN). */
#define NETADDR_STRLEN 46

/* Parses dotted IPv4 or IPv6 text with inet_pton (no brackets, ports or zone ids).
 * 0 or -EINVAL (out is zeroed then). */
int netaddr_parse(const char *s, struct netaddr *out);

/* From a struct sockaddr_in or sockaddr_in6 (the port is ignored). 0 or -EAFNOSUPPORT. */
int netaddr_from_sockaddr(const struct sockaddr *sa, struct netaddr *out);

/* Canonical text (inet_ntop) into buf. 0, -EINVAL (family NONE) or -ENOSPC. */
int netaddr_format(const struct netaddr *a, char *buf, size_t cap);

/* The network an address belongs to for counting distinct reporters: its /24 for IPv4, its
 * /64 for IPv6, as an address with the host bits zeroed (same family). NONE stays NONE. */
void netaddr_network(const struct netaddr *a, struct netaddr *net);

/* The /64 of an IPv6 address (host bits zeroed); -EINVAL for anything but NETADDR_V6. */
int netaddr_prefix64(const struct netaddr *a, struct netaddr *net);

bool netaddr_equal(const struct netaddr *a, const struct netaddr *b);

#endif
