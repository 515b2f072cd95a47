/* proxypath.h -- what follows /api/nodes/ in a request the admin API proxies to another node
 * (admin_proxy.c): "{node}/{path}" and the query, checked. Pure: no I/O, no state; fuzzed
 * (tests/fuzz/fuzz_proxypath.c). */
#ifndef TANDEM_PROXYPATH_H
#define TANDEM_PROXYPATH_H

#include <stdbool.h>
#include <stddef.h>

#define PROXYPATH_MAX_REST 200  /* bytes of {path} */
#define PROXYPATH_MAX_QUERY 512 /* bytes of the query */
/* "/api/" + path + "?" + query + NUL */
#define PROXYPATH_TARGET_MAX (5 + PROXYPATH_MAX_REST + 1 + PROXYPATH_MAX_QUERY + 1)

enum proxypath_result {
  PROXYPATH_OK = 0,
  PROXYPATH_BAD_NODE, /* not a number 0-node_max without a leading zero, then '/' */
  PROXYPATH_BAD_PATH, /* {path} or the query is not one the admin API could have */
  PROXYPATH_LOOP,     /* {path} is nodes/...: a proxied request is never proxied again */
};

/* after: what follows "/api/nodes/"; query: the request's query ("" for none). On
 * PROXYPATH_OK, *node and *rest (pointing into after: {path}, segments of letters, digits,
 * '_', '-' and '.', none empty, "." or "..", at most PROXYPATH_MAX_REST bytes). The query may
 * hold URL characters only (unreserved, sub-delims, '%', ':', '@', '/', '?'). */
enum proxypath_result proxypath_parse(const char *after, const char *query, unsigned node_max,
                                      unsigned *node, const char **rest);

/* "/api/{rest}" and "?{query}" when query is not "", into buf (PROXYPATH_TARGET_MAX bytes);
 * the length of the path part ("/api/{rest}") is returned. For what proxypath_parse accepted. */
size_t proxypath_target(char *buf, const char *rest, const char *query);

#endif
