/* picture.h -- a decoded picture's planes made ready for JPEG: VP8's studio range to the full
 * range JFIF assumes, and area-average scaling down. Pure (no I/O, no allocation, no state). */
#ifndef TANDEM_PICTURE_H
#define TANDEM_PICTURE_H

#include <stdbool.h>
#include <stdint.h>

/* A range map: out = clamp(floor((in * k + b) / 4096), 0, 255), with k and b chosen
 * (picture.c) so that it gives the same bytes as rounding (in - 16) * 255 / 219 (luma) or 128 + (in - 128) * 255 / 224
 * (chroma) to the nearest, halves away from zero, for every input byte (test_picture checks
 * all 256). It is computed in 16-bit steps with nothing negative, so that eight bytes go at
 * once in SSE2's 16-bit lanes:
 *   t = in * m1 + bb + ((in * m0 + b0) >> 4),  out = clamp(in + (t >> 8) - 20, 0, 255)
 * which is in + floor((in * (k - 4096) + b) / 4096) with k - 4096 = 16 * m1 + m0 and
 * b + 20 * 4096 = 16 * bb + b0. */
struct picture_range {
  uint16_t m1, m0, bb, b0;
};

/* The luma and chroma maps of a picture in studio range, or the identity for full range. */
void picture_ranges(bool full_range, struct picture_range *luma, struct picture_range *chroma);

/* One byte through a range map. */
static inline uint8_t picture_range_byte(const struct picture_range *r, uint8_t in) {
  uint16_t x = in;
  uint16_t t = (uint16_t)(x * r->m1 + r->bb + (uint16_t)((x * r->m0 + r->b0) >> 4));
  uint16_t w = (uint16_t)(x + (t >> 8));
  return (uint8_t)(w < 20 ? 0 : w - 20 > 255 ? 255 : w - 20);
}

/* One plane: sw x sh bytes at src (rows src_stride apart) into dw x dh bytes at dst (rows dw
 * apart), each output pixel the average of its box of source pixels, through range. Sizes only
 * shrink (dw <= sw, dh <= sh, all > 0). colsum holds sw values and xs dw + 1. */
struct picture_plane {
  const uint8_t *src;
  int src_stride, sw, sh;
  uint8_t *dst;
  int dw, dh;
  struct picture_range range;
};
void picture_plane_convert(const struct picture_plane *p, uint32_t *colsum, int *xs);

#endif
