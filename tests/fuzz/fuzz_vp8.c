/* fuzz_vp8.c -- libFuzzer target: vp8_parse, vp8_rewrite and vp8map. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/vp8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct vp8map map;
  static int ready;
  struct vp8_desc d, d2;
  uint8_t *copy;
  uint16_t pid;
  uint8_t tl0;

  if (!ready) {
    vp8map_init(&map, 1000);
    ready = 1;
  }
  if (vp8_parse(data, size, &d) != 0)
    return 0;
  if (d.desc_len >= size)
    abort();
  copy = malloc(size);
  if (copy == NULL)
    return 0;
  memcpy(copy, data, size);
  if (size > 0 && (data[size - 1] & 1))
    vp8map_switch(&map);
  vp8map_map(&map, &d, &pid, &tl0);
  vp8_rewrite(copy, &d, pid, tl0);
  /* A rewritten packet parses the same, with the new numbers. */
  if (vp8_parse(copy, size, &d2) != 0 || d2.desc_len != d.desc_len ||
      d2.keyframe != d.keyframe ||
      (d.has_pid && d2.pid != (pid & (d.pid_16bit ? 0x7fff : 0x7f))) ||
      (d.has_tl0 && d2.tl0picidx != tl0))
    abort();
  free(copy);
  return 0;
}
