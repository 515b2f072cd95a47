/* test_picture.c -- the range maps give the exactly rounded quotient for every byte, and each
 * scaling path gives what a plain average of its box gives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "moderation/picture.h"

/* round(num / den), halves away from zero, in integers. */
static int round_div(int num, int den) {
  return num >= 0 ? (2 * num + den) / (2 * den) : -((-2 * num + den) / (2 * den));
}

static int clamp255(int v) { return v < 0 ? 0 : v > 255 ? 255 : v; }

static void test_every_byte_maps_exactly(void **state) {
  (void)state;
  struct picture_range l, c;
  picture_ranges(false, &l, &c);
  for (int i = 0; i < 256; i++) {
    assert_int_equal(picture_range_byte(&l, (uint8_t)i), clamp255(round_div((i - 16) * 255, 219)));
    assert_int_equal(picture_range_byte(&c, (uint8_t)i), clamp255(128 + round_div((i - 128) * 255, 224)));
  }
  /* The ends of studio range are the ends of full range. */
  assert_int_equal(picture_range_byte(&l, 16), 0);
  assert_int_equal(picture_range_byte(&l, 235), 255);
  assert_int_equal(picture_range_byte(&c, 16), 0);
  assert_int_equal(picture_range_byte(&c, 128), 128);
  assert_int_equal(picture_range_byte(&c, 240), 255);
  picture_ranges(true, &l, &c);
  for (int i = 0; i < 256; i++) {
    assert_int_equal(picture_range_byte(&l, (uint8_t)i), i);
    assert_int_equal(picture_range_byte(&c, (uint8_t)i), i);
  }
}

/* The reference: output pixel (x, y) is the rounded mean of source columns
 * [x * sw / dw, (x + 1) * sw / dw) and the same rows, through the map. */
static uint8_t ref_pixel(const uint8_t *src, int stride, int sw, int sh, int dw, int dh, int x,
                         int y, const struct picture_range *r) {
  int x0 = x * sw / dw, x1 = (x + 1) * sw / dw, y0 = y * sh / dh, y1 = (y + 1) * sh / dh;
  unsigned sum = 0, n = 0;
  for (int sy = y0; sy < y1; sy++)
    for (int sx = x0; sx < x1; sx++, n++)
      sum += src[sy * stride + sx];
  return picture_range_byte(r, (uint8_t)((sum + n / 2) / n));
}

static void check_sizes(int sw, int sh, int dw, int dh, unsigned seed) {
  int stride = sw + 13; /* rows further apart than they are wide, as libvpx's are */
  uint8_t *src = malloc((size_t)stride * (size_t)sh), *dst = malloc((size_t)dw * (size_t)dh);
  uint32_t *colsum = malloc((size_t)sw * sizeof(*colsum));
  int *xs = malloc(((size_t)dw + 1) * sizeof(*xs));
  assert_non_null(src);
  assert_non_null(dst);
  assert_non_null(colsum);
  assert_non_null(xs);
  for (int i = 0; i < stride * sh; i++) {
    seed = seed * 1103515245u + 12345u;
    src[i] = (uint8_t)(seed >> 16);
  }
  struct picture_range l, c;
  picture_ranges(false, &l, &c);
  for (int which = 0; which < 2; which++) {
    const struct picture_range *r = which ? &c : &l;
    memset(dst, 0xa5, (size_t)dw * (size_t)dh);
    struct picture_plane p = {src, stride, sw, sh, dst, dw, dh, *r};
    picture_plane_convert(&p, colsum, xs);
    for (int y = 0; y < dh; y++)
      for (int x = 0; x < dw; x++)
        if (dst[y * dw + x] != ref_pixel(src, stride, sw, sh, dw, dh, x, y, r))
          fail_msg("%dx%d -> %dx%d: pixel (%d,%d) is %d, want %d", sw, sh, dw, dh, x, y,
                   dst[y * dw + x], ref_pixel(src, stride, sw, sh, dw, dh, x, y, r));
  }
  free(src);
  free(dst);
  free(colsum);
  free(xs);
}

static void test_same_size(void **state) {
  (void)state;
  check_sizes(320, 240, 320, 240, 1);
  check_sizes(37, 5, 37, 5, 2); /* widths that are no multiple of a vector */
  check_sizes(1, 1, 1, 1, 3);
}

static void test_halving(void **state) {
  (void)state;
  check_sizes(640, 480, 320, 240, 4);
  check_sizes(74, 10, 37, 5, 5);
  check_sizes(2, 2, 1, 1, 6);
}

static void test_other_sizes(void **state) {
  (void)state;
  check_sizes(1280, 720, 320, 180, 7);
  check_sizes(641, 481, 320, 240, 8); /* odd sizes, just over half */
  check_sizes(300, 200, 299, 7, 9);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_byte_maps_exactly),
      cmocka_unit_test(test_same_size),
      cmocka_unit_test(test_halving),
      cmocka_unit_test(test_other_sizes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
