/* addrlist.h -- the addresses advertised to browsers (public_ip): a comma-separated list of
 * IPv4 and IPv6 literals, parsed and checked. Pure: no I/O, no allocation. */
#ifndef TANDEM_ADDRLIST_H
#define TANDEM_ADDRLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADDRLIST_MAX 4          /* addresses in a list */
#define ADDRLIST_TEXT 46        /* INET6_ADDRSTRLEN: the longest text of one, with its NUL */

/* A parsed list, in the order given (the first is the most preferred). A transparent value. */
struct addrlist {
  unsigned n;
  struct {
    int family;                 /* AF_INET or AF_INET6 */
    uint8_t bytes[16];          /* network order; IPv4 in bytes[0..3] */
    char text[ADDRLIST_TEXT];   /* canonical (inet_ntop), e.g. "2001:db8::5" */
  } a[ADDRLIST_MAX];
};

/* Parses s: IP literals separated by commas, with optional spaces around each. A string of
 * nothing but spaces is the empty list (0, out->n = 0). Returns 0, or
 *   -EINVAL        an entry is empty or not an IPv4/IPv6 literal (a host name, a zone id
 *                  "fe80::1%eth0", a prefix "2001:db8::/64", brackets, a port)
 *   -EADDRNOTAVAIL an entry no browser can send to: unspecified (0.0.0.0, ::), multicast,
 *                  255.255.255.255, or IPv4-mapped IPv6 (::ffff:a.b.c.d: give the IPv4 form)
 *   -EEXIST        an entry repeats an earlier one
 *   -E2BIG         more than ADDRLIST_MAX entries
 * On failure *bad_off and *bad_len (either may be NULL) locate the offending entry in s
 * (spaces trimmed), and *out is left in an unspecified but valid state. s must be a C string. */
int addrlist_parse(const char *s, struct addrlist *out, size_t *bad_off, size_t *bad_len);

/* Writes the list as "a,b,c" into buf (NUL-terminated). 0, or -ENOSPC (buf then holds "").
 * ADDRLIST_MAX * ADDRLIST_TEXT bytes always suffice. */
int addrlist_format(const struct addrlist *l, char *buf, size_t cap);

/* Whether the list holds an address of this family (AF_INET or AF_INET6). */
bool addrlist_has(const struct addrlist *l, int family);

/* Whether an IPv6 address (16 bytes, network order) is a global unicast address worth
 * advertising when public_ip is detected: in 2000::/3, and not 2001:db8::/32 (documentation).
 * Link-local, unique-local (fc00::/7), loopback, mapped and multicast addresses are not. */
bool addrlist_global6(const uint8_t b[16]);

/* Whether browsers built on libwebrtc (Chromium, Safari) count an address as private: they
 * refuse an ICE candidate on port 80 or 443 there (and below 1024 on any other port anywhere),
 * so media on an HTTPS port of 443 reaches Chromium only through a public address. IPv4
 * 10/8, 172.16/12, 192.168/16, 100.64/10, 127/8, 169.254/16; IPv6 fc00::/7, fe80::/10, ::1. */
bool addrlist_private(int family, const uint8_t b[16]);

#endif
