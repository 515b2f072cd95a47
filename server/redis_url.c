/* redis_url.c -- parsing redis_url (redis://[[user]:password@]host[:port][/db], unix:/path). */
#include "server/redis_url.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/hex.h"

/* Copies s[0..n) into out[cap] decoding %XX; refuses control characters and a NUL escape. */
static int decode(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      if (i + 2 >= n)
        return -EINVAL;
      c = hex_byte(s + i + 1);
      if (c < 0)
        return -EINVAL;
      i += 2;
    }
    if (c < 0x20 || c == 0x7f)
      return -EINVAL;
    if (o + 1 >= cap)
      return -EINVAL;
    out[o++] = (char)c;
  }
  out[o] = 0;
  return 0;
}

static int fail(const char **why, const char *reason) {
  if (why)
    *why = reason;
  return -EINVAL;
}

int redis_url_parse(const char *s, struct redis_url *out, const char **why) {
  memset(out, 0, sizeof(*out));
  out->port = 6379;
  if (!s || !*s)
    return fail(why, "is empty");
  if (strlen(s) >= REDIS_URL_MAX)
    return fail(why, "is too long");
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
      return fail(why, "holds a space or a character outside printable ASCII");
  if (!strncmp(s, "unix:", 5)) {
    const char *path = s + 5;
    if (!strncmp(path, "//", 2))
      path += 2; /* unix:///run/redis.sock */
    if (path[0] != '/')
      return fail(why, "needs an absolute socket path (unix:/run/redis/redis.sock)");
    if (strlen(path) >= sizeof(out->path))
      return fail(why, "has a socket path longer than 107 bytes");
    out->unix_socket = true;
    memcpy(out->path, path, strlen(path) + 1);
    return 0;
  }
  if (strncmp(s, "redis://", 8))
    return fail(why, "is not redis://host[:port][/db] or unix:/path");
  const char *p = s + 8;
  const char *end = p + strcspn(p, "/?#");
  if (*end == '?' || *end == '#')
    return fail(why, "has a query or fragment (not supported)");
  /* userinfo: up to the last '@' before the path */
  const char *at = NULL;
  for (const char *q = p; q < end; q++)
    if (*q == '@')
      at = q;
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (!colon)
      return fail(why, "has user information without a password (write :password@)");
    if (decode(p, (size_t)(colon - p), out->user, sizeof(out->user)) ||
        decode(colon + 1, (size_t)(at - colon - 1), out->password, sizeof(out->password)))
      return fail(why, "has a bad user or password (too long, a bad %XX escape, or a "
                       "control character)");
    if (!out->password[0])
      return fail(why, "has an empty password");
    p = at + 1;
  }
  /* host[:port] */
  const char *host = p, *hend;
  if (*p == '[') {
    const char *close = memchr(p, ']', (size_t)(end - p));
    if (!close || close == p + 1)
      return fail(why, "has an IPv6 address without its closing ]");
    host = p + 1;
    hend = close;
    p = close + 1;
    if (p < end && *p != ':')
      return fail(why, "has text after the IPv6 address");
  } else {
    hend = memchr(p, ':', (size_t)(end - p));
    if (!hend)
      hend = end;
    p = hend;
  }
  size_t hl = (size_t)(hend - host);
  if (hl == 0)
    return fail(why, "has no host");
  if (hl >= sizeof(out->host))
    return fail(why, "has a host name that is too long");
  for (const char *q = host; q < hend; q++) {
    char c = *q;
    /* A colon only inside [brackets]: elsewhere the first one ended the host. */
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '_';
    if (!ok)
      return fail(why, "has a host that is not a name or an IP address");
  }
  memcpy(out->host, host, hl);
  out->host[hl] = 0;
  if (p < end) { /* ":port" */
    p++;
    if (p == end)
      return fail(why, "has an empty port");
    long port = 0;
    for (; p < end; p++) {
      if (*p < '0' || *p > '9' || port > 65535)
        return fail(why, "has a port that is not a number from 1 to 65535");
      port = port * 10 + (*p - '0');
    }
    if (port < 1 || port > 65535)
      return fail(why, "has a port that is not a number from 1 to 65535");
    out->port = (int)port;
  }
  if (*end == '/' && end[1]) {
    const char *d = end + 1;
    long db = 0;
    for (; *d; d++) {
      if (*d < '0' || *d > '9' || db > 9999)
        return fail(why, "has a database that is not a number from 0 to 9999");
      db = db * 10 + (*d - '0');
    }
    if (db > 9999)
      return fail(why, "has a database that is not a number from 0 to 9999");
    out->db = (int)db;
  }
  return 0;
}

void redis_url_redacted(const struct redis_url *u, char *buf, size_t cap) {
  if (u->unix_socket) {
    snprintf(buf, cap, "unix:%s", u->path);
    return;
  }
  bool v6 = strchr(u->host, ':') != NULL;
  snprintf(buf, cap, "redis://%s%s%s%s%s:%d/%d", u->user, u->password[0] ? ":***@" : "",
           v6 ? "[" : "", u->host, v6 ? "]" : "", u->port, u->db);
}
