/* proxypath.c -- the path and query of a request proxied to another node, checked. */
#include "server/proxypath.h"

#include <stdio.h>
#include <string.h>

/* The node's number: decimal, 0-node_max with no leading zero, then '/'. */
static bool parse_node(const char *s, unsigned node_max, unsigned *node, const char **rest) {
  unsigned v = 0;
  size_t n = 0;
  for (; s[n] >= '0' && s[n] <= '9'; n++) {
    if (n == 4)
      return false;
    v = v * 10 + (unsigned)(s[n] - '0');
  }
  if (!n || (n > 1 && s[0] == '0') || v > node_max || s[n] != '/')
    return false;
  *node = v;
  *rest = s + n + 1;
  return true;
}

static bool rest_ok(const char *s) {
  size_t n = strlen(s);
  if (!n || n > PROXYPATH_MAX_REST)
    return false;
  const char *seg = s;
  for (const char *p = s;; p++) {
    if (*p == '/' || !*p) {
      size_t len = (size_t)(p - seg);
      if (!len || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
        return false;
      if (!*p)
        return true;
      seg = p + 1;
    } else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                 (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.')) {
      return false;
    }
  }
}

static bool query_ok(const char *q) {
  if (strlen(q) > PROXYPATH_MAX_QUERY)
    return false;
  for (; *q; q++)
    if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
          strchr("-._~!$&'()*+,;=%:@/?", *q)))
      return false;
  return true;
}

enum proxypath_result proxypath_parse(const char *after, const char *query, unsigned node_max,
                                      unsigned *node, const char **rest) {
  if (!parse_node(after, node_max, node, rest))
    return PROXYPATH_BAD_NODE;
  if (!rest_ok(*rest) || !query_ok(query))
    return PROXYPATH_BAD_PATH;
  if (!strncmp(*rest, "nodes/", 6))
    return PROXYPATH_LOOP;
  return PROXYPATH_OK;
}

size_t proxypath_target(char *buf, const char *rest, const char *query) {
  int n = snprintf(buf, PROXYPATH_TARGET_MAX, "/api/%.*s", PROXYPATH_MAX_REST, rest);
  if (query[0])
    snprintf(buf + n, PROXYPATH_TARGET_MAX - (size_t)n, "?%.*s", PROXYPATH_MAX_QUERY, query);
  return (size_t)n;
}
