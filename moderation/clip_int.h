/* clip_int.h -- private to clip.c and clip_plan.c: what goes into a clip, in order. */
#ifndef TANDEM_CLIP_INT_H
#define TANDEM_CLIP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moderation/clip.h"

/* One packet for the muxer: a whole VP8 frame or one Opus packet. pts and dur are in the
 * stream's clock (90 kHz video, 48 kHz audio), 0 at the clip's start. */
struct clip__unit {
  size_t off, len;   /* in clip__plan.data */
  int64_t pts;
  uint32_t dur;      /* 0 when unknown */
  bool video, key;
};

/* Units in time order (video first on a tie), their bytes in data. */
struct clip__plan {
  struct clip__unit *units;
  size_t n;
  uint8_t *data;
  bool has_video, has_audio;
  struct clip_stats st;
};

/* Pure: chooses and depacketizes what goes into the clip (see clip_webm() in clip.h for the
 * rules). Returns 0 and *pl (free it with clip__plan_free), -ENOENT, -EINVAL or -ENOMEM. */
int clip__plan(const struct clip_pkt *pkts, size_t n, const struct clip_params *p,
               struct clip__plan *pl);
void clip__plan_free(struct clip__plan *pl);

/* Samples at 48 kHz in one Opus packet from its TOC (RFC 6716 3.1), or 0 when the packet is
 * malformed or longer than 120 ms. */
uint32_t clip__opus_samples(const uint8_t *p, size_t len);

#endif
