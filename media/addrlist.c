/* addrlist.c -- public_ip: a comma-separated list of IP literals, parsed and checked. */
#include "media/addrlist.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* Whether an address (after inet_pton) is one a browser may send media to. */
static bool reachable(int family, const uint8_t *b) {
  static const uint8_t zero[16];
  if (family == AF_INET) {
    static const uint8_t bcast[4] = {255, 255, 255, 255};
    return memcmp(b, zero, 4) != 0 && memcmp(b, bcast, 4) != 0 && (b[0] & 0xf0) != 0xe0;
  }
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return memcmp(b, zero, 16) != 0 && b[0] != 0xff && memcmp(b, mapped, 12) != 0;
}

static int parse_one(const char *s, size_t n, struct addrlist *out) {
  char tmp[ADDRLIST_TEXT];
  if (n == 0 || n >= sizeof(tmp))
    return -EINVAL;
  memcpy(tmp, s, n);
  tmp[n] = 0;
  int family = AF_INET;
  uint8_t b[16] = {0};
  if (inet_pton(AF_INET, tmp, b) != 1) {
    family = AF_INET6;
    if (inet_pton(AF_INET6, tmp, b) != 1)
      return -EINVAL;
  }
  if (!reachable(family, b))
    return -EADDRNOTAVAIL;
  size_t len = family == AF_INET ? 4 : 16;
  for (unsigned i = 0; i < out->n; i++)
    if (out->a[i].family == family && !memcmp(out->a[i].bytes, b, len))
      return -EEXIST;
  if (out->n == ADDRLIST_MAX)
    return -E2BIG;
  unsigned k = out->n;
  out->a[k].family = family;
  memcpy(out->a[k].bytes, b, sizeof(b));
  if (!inet_ntop(family, b, out->a[k].text, sizeof(out->a[k].text)))
    return -EINVAL;
  out->n++;
  return 0;
}

int addrlist_parse(const char *s, struct addrlist *out, size_t *bad_off, size_t *bad_len) {
  memset(out, 0, sizeof(*out));
  const char *p = s;
  while (is_space(*p))
    p++;
  if (!*p)
    return 0;
  for (;;) {
    while (is_space(*p))
      p++;
    const char *e = p;
    while (*e && *e != ',')
      e++;
    size_t n = (size_t)(e - p);
    while (n && is_space(p[n - 1]))
      n--;
    int rc = parse_one(p, n, out);
    if (rc) {
      if (bad_off)
        *bad_off = (size_t)(p - s);
      if (bad_len)
        *bad_len = n;
      return rc;
    }
    if (!*e)
      return 0;
    p = e + 1;
  }
}

int addrlist_format(const struct addrlist *l, char *buf, size_t cap) {
  size_t n = 0;
  if (cap == 0)
    return -ENOSPC;
  buf[0] = 0;
  for (unsigned i = 0; i < l->n && i < ADDRLIST_MAX; i++) {
    size_t t = strnlen(l->a[i].text, ADDRLIST_TEXT);
    if (n + (i ? 1 : 0) + t + 1 > cap) {
      buf[0] = 0;
      return -ENOSPC;
    }
    if (i)
      buf[n++] = ',';
    memcpy(buf + n, l->a[i].text, t);
    n += t;
    buf[n] = 0;
  }
  return 0;
}

bool addrlist_has(const struct addrlist *l, int family) {
  for (unsigned i = 0; i < l->n && i < ADDRLIST_MAX; i++)
    if (l->a[i].family == family)
      return true;
  return false;
}

bool addrlist_global6(const uint8_t b[16]) {
  if ((b[0] & 0xe0) != 0x20)
    return false;
  return !(b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8);
}

bool addrlist_private(int family, const uint8_t b[16]) {
  if (family == AF_INET)
    return b[0] == 10 || b[0] == 127 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
           (b[0] == 192 && b[1] == 168) || (b[0] == 100 && (b[1] & 0xc0) == 64) ||
           (b[0] == 169 && b[1] == 254);
  static const uint8_t loop6[16] = {[15] = 1};
  return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
         memcmp(b, loop6, 16) == 0;
}
