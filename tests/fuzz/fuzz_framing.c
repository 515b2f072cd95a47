/* fuzz_framing.c -- libFuzzer target: RFC 4571 reassembly fed in random splits, and the
 * first-bytes test. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "media/framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t total;

static void on_pkt(void *arg, uint8_t *pkt, size_t n) {
  (void)arg;
  if (n == 0 || n > FRAMING_MAX)
    abort();
  pkt[0] ^= 1; /* the packet is writable, all of it */
  pkt[n - 1] ^= 1;
  total += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)framing_sniff(data, size);
  if (size < 1)
    return 0;
  /* The first byte picks the chunk size, so splits are explored too. */
  size_t chunk = (size_t)data[0] % 17 + 1;
  struct framing_reader r;
  framing_reader_init(&r);
  total = 0;
  for (size_t off = 1; off < size; off += chunk) {
    size_t n = size - off < chunk ? size - off : chunk;
    if (framing_feed(&r, data + off, n, on_pkt, NULL) != 0)
      break;
    if (r.have > FRAMING_MAX + 2)
      abort();
  }
  if (total > size)
    abort();
  return 0;
}
