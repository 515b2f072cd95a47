/* fuzz_nodewire.c -- libFuzzer target: nodes' entries as they come from Redis or from another
 * node's GET /api/nodes (server/nodewire.c). Whatever the bytes, decoding answers 0 or
 * -EBADMSG; what it accepts has a node in range, an admin URL that passes the check, a
 * printable version, counts within bounds, and encodes back to text that decodes to the same
 * entry. The bytes are also tried as an admin URL and as the matcher's lease. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/nodewire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct nodewire n, again;
  int rc = nodewire_decode((const char *)data, size, &n);
  if (rc == 0) {
    if (n.node > NODEWIRE_NODE_MAX || nodewire_url_check(n.admin_url) ||
        n.visitors > NODEWIRE_COUNT_MAX || n.pairs > NODEWIRE_COUNT_MAX)
      abort();
    for (const char *s = n.version; *s; s++)
      if (*s < ' ' || *s > '~')
        abort();
    char *s = nodewire_encode(&n);
    if (!s || nodewire_decode(s, strlen(s), &again) || again.node != n.node ||
        strcmp(again.admin_url, n.admin_url) || strcmp(again.version, n.version) ||
        again.started_ms != n.started_ms || again.visitors != n.visitors ||
        again.pairs != n.pairs || again.draining != n.draining)
      abort();
    free(s);
  } else if (rc != -EBADMSG) {
    abort();
  }
  if (nodewire_lease_node((const char *)data, size) > NODEWIRE_NODE_MAX)
    abort();
  char url[NODEWIRE_URL_MAX + 2];
  size_t k = size < sizeof(url) - 1 ? size : sizeof(url) - 1;
  memcpy(url, data, k);
  url[k] = 0;
  rc = nodewire_url_check(url);
  if (rc && rc != -EINVAL)
    abort();
  if (rc == 0 && strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
    abort();
  return 0;
}
