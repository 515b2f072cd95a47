/* fuzz_rtp.c -- libFuzzer target for every function of media/rtp.c. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Builds a header from the input's bytes and checks that it parses back. */
static void fuzz_write(const uint8_t *data, size_t size) {
  struct rtp_ext ext[8];
  struct rtp_header h;
  struct rtp_view v;
  uint8_t out[12 + 4 + 8 * 257];
  size_t i, n, off = 0;
  int w;

  if (size < 12)
    return;
  memset(&h, 0, sizeof(h));
  h.marker = data[0] & 1;
  h.pt = data[1];
  h.seq = (uint16_t)(data[2] << 8 | data[3]);
  h.ts = (uint32_t)data[4] << 24 | (uint32_t)data[5] << 16 |
         (uint32_t)data[6] << 8 | data[7];
  h.ssrc = (uint32_t)data[8];
  n = data[9] % 9;
  off = 10;
  for (i = 0; i < n && off + 2 <= size; i++) {
    ext[i].id = data[off];
    ext[i].len = data[off + 1];
    off += 2;
    if (ext[i].len > size - off)
      ext[i].len = (uint8_t)(size - off);
    ext[i].data = data + off;
    off += ext[i].len;
  }
  h.ext = ext;
  h.n_ext = i;
  w = rtp_write_header(out, data[0] & 2 ? sizeof(out) : size, &h);
  if (w > 0) {
    if (rtp_parse(out, (size_t)w, &v) != 0 || v.header_len != (size_t)w ||
        v.seq != h.seq || v.ts != h.ts)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct rtp_view v;
  unsigned id;

  (void)rtp_is_rtcp(data, size);
  if (rtp_parse(data, size, &v) == 0) {
    if (v.payload_off + v.payload_len + v.padding_len != size ||
        v.header_len > size)
      abort();
    for (id = 0; id < 256; id++) {
      const uint8_t *d;
      size_t len;
      if (rtp_ext_find(data, &v, (uint8_t)id, &d, &len) == 0 &&
          (d < data + v.ext_off || d + len > data + v.ext_off + v.ext_len))
        abort();
    }
  }
  fuzz_write(data, size);
  return 0;
}
