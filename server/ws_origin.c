/* ws_origin.c -- which web pages may open a WebSocket: the handshake's Origin against Host or ws_origins. */
#include "server/httpd_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* host[:port] of an absolute "scheme://host[:port]" origin into *host (no port),
 * with the scheme's default port when none is given; false if it is not one. */
static bool origin_split(const char *o, size_t *hlen, const char **host, unsigned *port) {
  const char *p, *colon;
  unsigned def;
  char *end;
  unsigned long v;
  if (!strncasecmp(o, "http://", 7)) {
    def = 80;
    p = o + 7;
  } else if (!strncasecmp(o, "https://", 8)) {
    def = 443;
    p = o + 8;
  } else {
    return false;
  }
  /* An IPv6 literal's colons are inside its brackets. */
  colon = *p == '[' ? strchr(p, ']') : p;
  colon = colon ? strchr(colon, ':') : NULL;
  *host = p;
  if (!colon) {
    *hlen = strlen(p);
    *port = def;
    return *hlen > 0 && !strpbrk(p, "/?#@");
  }
  *hlen = (size_t)(colon - p);
  v = strtoul(colon + 1, &end, 10);
  *port = (unsigned)v;
  return *hlen > 0 && colon[1] && !*end && v > 0 && v < 65536 && !memchr(p, '/', *hlen);
}

/* The Host header against the origin's host and port (Host's port defaults to the
 * origin scheme's, which is what the browser would have sent). */
static bool same_host(const char *origin, const char *hosthdr) {
  const char *oh, *colon;
  char *end;
  size_t ol, hl;
  unsigned op, hp;
  if (!hosthdr || !origin_split(origin, &ol, &oh, &op))
    return false;
  colon = *hosthdr == '[' ? strchr(hosthdr, ']') : hosthdr;
  colon = colon ? strchr(colon, ':') : NULL;
  hl = colon ? (size_t)(colon - hosthdr) : strlen(hosthdr);
  if (colon) {
    hp = (unsigned)strtoul(colon + 1, &end, 10);
    if (!colon[1] || *end)
      return false;
  } else {
    hp = op;
  }
  return hl == ol && !strncasecmp(hosthdr, oh, ol) && hp == op;
}

/* Whether a handshake with this Origin header may proceed (NULL: no header). */
bool ws__origin_ok(const struct httpd *s, const char *origin, const char *hosthdr) {
  const char *list = s->cfg.ws_origins;
  size_t ol, n;
  if (!origin)
    return true; /* not a browser: no web page can be driving it */
  if (!list)
    return same_host(origin, hosthdr);
  ol = strlen(origin);
  while (*list) {
    list += strspn(list, " \t,");
    n = strcspn(list, " \t,");
    if ((n == 1 && *list == '*') || (n == ol && n && !strncasecmp(list, origin, n)))
      return true;
    list += n;
  }
  return false;
}
