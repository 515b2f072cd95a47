/* fuzz_portdemux.c -- libFuzzer target: the first-bytes test of a connection on the HTTPS port,
 * on every prefix of the input as a stream delivers it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/portdemux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > PORTDEMUX_MAX + 64)
    size = PORTDEMUX_MAX + 64;
  enum portdemux_kind first = PORTDEMUX_MORE;
  for (size_t k = 0; k <= size; k++) {
    struct portdemux_ice ice;
    memset(&ice, 0, sizeof(ice));
    enum portdemux_kind got = portdemux_classify(data, k, &ice);
    /* Once decided, more bytes never change the decision. */
    if (first != PORTDEMUX_MORE && got != first)
      abort();
    if (got == PORTDEMUX_MORE && k >= PORTDEMUX_MAX)
      abort();
    if (got == PORTDEMUX_ICE) {
      const uint8_t *u = (const uint8_t *)ice.ufrag;
      if (ice.ufrag_len < 4 || ice.ufrag_len > 256 || ice.frame_len > k || u < data + 2 + 20 ||
          u + ice.ufrag_len > data + ice.frame_len || memchr(u, ':', ice.ufrag_len))
        abort();
    }
    if (first == PORTDEMUX_MORE)
      first = got;
    if (first != PORTDEMUX_MORE && k > 64 && got != PORTDEMUX_ICE)
      break; /* decided early: the rest of the prefixes only repeat it */
  }
  return 0;
}
