/* fuzz_keyframe.c -- libFuzzer target: VP8 keyframe reassembly (media/keyframe.c). The input is
 * a run of packets: [len:1][seq delta:1][flags:1][payload:len]. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "media/keyframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t buf[2048];
  struct keyframe_asm a;
  keyframe_asm_init(&a, buf, sizeof(buf));
  uint16_t seq = 0;
  uint32_t ts = 0;
  while (size >= 3) {
    size_t len = data[0];
    seq = (uint16_t)(seq + data[1]);
    uint8_t flags = data[2];
    data += 3;
    size -= 3;
    if (len > size)
      len = size;
    if (flags & 2)
      ts += 3000;
    int rc = keyframe_asm_feed(&a, seq, ts, flags & 1, data, len);
    if (a.len > a.cap || (rc == 1 && a.active))
      abort();
    data += len;
    size -= len;
  }
  return 0;
}
