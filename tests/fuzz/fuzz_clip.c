/* fuzz_clip.c -- libFuzzer target: choosing and depacketizing a clip's RTP (moderation/
 * clip_plan.c; no muxing). The input is a run of packets: [len:1][arrival step:1][bytes:len];
 * byte 1 of each packet is forced to VP8's or Opus's payload type now and then so that most
 * packets get past the type filter. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moderation/clip_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct clip_pkt pkts[4096];
  static uint8_t bufs[4096][256];
  size_t n = 0;
  uint64_t at = 1000;
  while (size >= 2 && n < 4096) {
    size_t len = data[0];
    at += data[1];
    data += 2;
    size -= 2;
    if (len > size)
      len = size;
    memcpy(bufs[n], data, len);
    if (len >= 2 && (bufs[n][0] & 0xc0) == 0x80)
      bufs[n][1] = (uint8_t)((bufs[n][1] & 0x80) | ((bufs[n][1] & 1) ? 96 : 111));
    pkts[n] = (struct clip_pkt){bufs[n], len, at};
    n++;
    data += len;
    size -= len;
  }
  struct clip_params p;
  clip_params_default(&p);
  struct clip__plan pl;
  if (clip__plan(pkts, n, &p, &pl) != 0)
    return 0;
  size_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += pkts[i].len;
  int64_t last_v = -1, last_a = -1;
  for (size_t i = 0; i < pl.n; i++) {
    const struct clip__unit *u = &pl.units[i];
    if (u->off + u->len > total || u->pts < 0)
      abort();
    int64_t *last = u->video ? &last_v : &last_a;
    if (u->pts <= *last)
      abort(); /* the muxer needs growing timestamps */
    *last = u->pts;
    if (u->video && last_v == 0 && !u->key)
      abort(); /* video starts on a keyframe */
  }
  clip__plan_free(&pl);
  return 0;
}
