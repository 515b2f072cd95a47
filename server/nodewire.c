/* nodewire.c -- a node's entry in the cluster's list of nodes (nodewire.h). */
#include "server/nodewire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool dns_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
         c == '.';
}

int nodewire_url_check(const char *url) {
  if (!url)
    return -EINVAL;
  size_t n = strlen(url);
  if (n > NODEWIRE_URL_MAX)
    return -EINVAL;
  const char *p;
  if (!strncmp(url, "http://", 7))
    p = url + 7;
  else if (!strncmp(url, "https://", 8))
    p = url + 8;
  else
    return -EINVAL;
  const char *h = p;
  if (*p == '[') {
    const char *close = strchr(p, ']');
    char addr[64];
    unsigned char bin[16];
    if (!close || (size_t)(close - p - 1) >= sizeof(addr) || close == p + 1)
      return -EINVAL;
    memcpy(addr, p + 1, (size_t)(close - p - 1));
    addr[close - p - 1] = 0;
    if (inet_pton(AF_INET6, addr, bin) != 1)
      return -EINVAL;
    p = close + 1;
  } else {
    while (dns_char(*p))
      p++;
    size_t hl = (size_t)(p - h);
    if (hl == 0 || hl > 253 || *h == '.' || *h == '-' || p[-1] == '-' || p[-1] == '.')
      return -EINVAL;
    for (const char *q = h; q + 1 < p; q++)
      if (*q == '.' && q[1] == '.')
        return -EINVAL;
  }
  if (*p == ':') {
    p++;
    unsigned long port = 0;
    size_t k = 0;
    for (; is_digit(p[k]) && k < 6; k++)
      port = port * 10 + (unsigned long)(p[k] - '0');
    if (k == 0 || k > 5 || port == 0 || port > 65535)
      return -EINVAL;
    p += k;
  }
  if (*p == '/')
    p++;
  return *p ? -EINVAL : 0;
}

static bool printable(const char *s) {
  for (; *s; s++)
    if (*s < ' ' || *s > '~')
      return false;
  return true;
}

static bool valid(const struct nodewire *n) {
  return n->node <= NODEWIRE_NODE_MAX && !nodewire_url_check(n->admin_url) &&
         printable(n->version) && n->started_ms < (UINT64_C(1) << 53) &&
         n->visitors <= NODEWIRE_COUNT_MAX && n->pairs <= NODEWIRE_COUNT_MAX;
}

char *nodewire_encode(const struct nodewire *n) {
  if (!valid(n))
    return NULL;
  json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:b}", "node", (json_int_t)n->node,
                        "admin_url", n->admin_url, "version", n->version, "started_ms",
                        (json_int_t)n->started_ms, "visitors", (json_int_t)n->visitors,
                        "pairs", (json_int_t)n->pairs, "draining", n->draining);
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return s;
}

/* An integer field in [lo, hi]: true with *v. */
static bool get_int(const json_t *o, const char *key, json_int_t lo, json_int_t hi,
                    json_int_t *v) {
  const json_t *j = json_object_get(o, key);
  if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi)
    return false;
  *v = json_integer_value(j);
  return true;
}

/* A string field of at most max bytes without a NUL: true with it copied into buf. */
static bool get_str(const json_t *o, const char *key, char *buf, size_t max) {
  const json_t *j = json_object_get(o, key);
  if (!json_is_string(j) || json_string_length(j) > max ||
      strlen(json_string_value(j)) != json_string_length(j))
    return false;
  memcpy(buf, json_string_value(j), json_string_length(j) + 1);
  return true;
}

int nodewire_from_json(const json_t *o, struct nodewire *out) {
  struct nodewire n;
  json_int_t node, started, visitors, pairs;
  memset(&n, 0, sizeof(n));
  const json_t *d = json_object_get(o, "draining");
  if (!json_is_object(o) || !get_int(o, "node", 0, NODEWIRE_NODE_MAX, &node) ||
      !get_int(o, "started_ms", 0, (json_int_t)1 << 53, &started) ||
      !get_int(o, "visitors", 0, NODEWIRE_COUNT_MAX, &visitors) ||
      !get_int(o, "pairs", 0, NODEWIRE_COUNT_MAX, &pairs) || !json_is_boolean(d) ||
      !get_str(o, "admin_url", n.admin_url, NODEWIRE_URL_MAX) ||
      !get_str(o, "version", n.version, NODEWIRE_VERSION_MAX))
    return -EBADMSG;
  n.node = (unsigned)node;
  n.started_ms = (uint64_t)started;
  n.visitors = (uint32_t)visitors;
  n.pairs = (uint32_t)pairs;
  n.draining = json_is_true(d);
  if (!valid(&n))
    return -EBADMSG;
  *out = n;
  return 0;
}

int nodewire_decode(const char *text, size_t len, struct nodewire *out) {
  if (!text || len > NODEWIRE_TEXT_MAX)
    return -EBADMSG;
  json_error_t e;
  json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
  int rc = json_is_object(o) ? nodewire_from_json(o, out) : -EBADMSG;
  json_decref(o);
  return rc;
}

unsigned nodewire_lease_node(const char *s, size_t len) {
  size_t i = 0;
  unsigned node = 0;
  if (!s)
    return 0;
  for (; i < len && i < 5 && is_digit(s[i]); i++)
    node = node * 10 + (unsigned)(s[i] - '0');
  if (i == 0 || i >= len || s[i] != ':' || (s[0] == '0') || node > NODEWIRE_NODE_MAX)
    return 0;
  size_t hex = len - i - 1;
  if (hex == 0 || hex > 16)
    return 0;
  for (size_t k = i + 1; k < len; k++)
    if (!s[k] || !strchr("0123456789abcdefABCDEF", s[k]))
      return 0;
  return node;
}
