/* fuzz_proxypath.c -- libFuzzer target: what follows /api/nodes/ in a request the admin API
 * would send to another node (server/proxypath.c). The bytes up to the first NUL are the
 * path, what follows the query. Whatever they are, parsing answers one of its four results;
 * what it accepts names a node in range and a path of plain segments (no empty, "." or ".."
 * segment, nothing that could change where the request goes or split a header), and the
 * target built from it is "/api/" and that path, then the query. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/proxypath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool plain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-' || c == '.' || c == '/';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096)
    return 0;
  char *buf = malloc(size + 2);
  if (!buf)
    return 0;
  memcpy(buf, data, size);
  buf[size] = buf[size + 1] = 0;
  const char *after = buf;
  const char *query = buf + strlen(buf) + 1;
  if (query > buf + size)
    query = buf + size + 1; /* "" */
  unsigned node = 0;
  const char *rest = NULL;
  enum proxypath_result r = proxypath_parse(after, query, 1023, &node, &rest);
  if (r != PROXYPATH_OK && r != PROXYPATH_BAD_NODE && r != PROXYPATH_BAD_PATH &&
      r != PROXYPATH_LOOP)
    abort();
  if (r == PROXYPATH_OK) {
    size_t n = strlen(rest);
    if (node > 1023 || !n || n > PROXYPATH_MAX_REST || rest < after ||
        rest > after + strlen(after) || rest[0] == '/' || rest[n - 1] == '/' ||
        strstr(rest, "//") || !strncmp(rest, "nodes/", 6) || strlen(query) > PROXYPATH_MAX_QUERY)
      abort();
    for (const char *p = rest; *p; p++)
      if (!plain_char(*p))
        abort();
    /* No "." or ".." segment anywhere. */
    for (const char *seg = rest; seg;) {
      const char *end = strchr(seg, '/');
      size_t len = end ? (size_t)(end - seg) : strlen(seg);
      if ((len == 1 && seg[0] == '.') || (len == 2 && !strncmp(seg, "..", 2)))
        abort();
      seg = end ? end + 1 : NULL;
    }
    for (const char *p = query; *p; p++)
      if (*p <= ' ' || *p > '~' || *p == '"' || *p == '<' || *p == '>' || *p == '\\' ||
          *p == '#')
        abort();
    char target[PROXYPATH_TARGET_MAX];
    size_t path_len = proxypath_target(target, rest, query);
    if (path_len != 5 + n || strncmp(target, "/api/", 5) || strncmp(target + 5, rest, n) ||
        (query[0] ? target[path_len] != '?' || strcmp(target + path_len + 1, query)
                  : target[path_len] != 0))
      abort();
  }
  free(buf);
  return 0;
}
