/* test_snapshot.c -- VP8 keyframes from libvpx to JPEG and back through libjpeg-turbo
 * (moderation/snapshot.c), alone and on the pool. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <uv.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

#include <cmocka.h>

#include "moderation/snapshot.h"
#include "moderation/workpool.h"
#include "tests/moderation/av_fixture.h"

/* Decodes a JPEG to RGB; returns the pixels (malloc'd) and its size. */
static uint8_t *jpeg_rgb(const uint8_t *jpeg, size_t len, int *w, int *h) {
  tjhandle tj = tjInitDecompress();
  int sub, cs;
  assert_non_null(tj);
  assert_int_equal(tjDecompressHeader3(tj, jpeg, len, w, h, &sub, &cs), 0);
  assert_int_equal(sub, TJSAMP_420);
  uint8_t *rgb = malloc((size_t)*w * (size_t)*h * 3);
  assert_int_equal(tjDecompress2(tj, jpeg, len, rgb, *w, 0, *h, TJPF_RGB, 0), 0);
  tjDestroy(tj);
  return rgb;
}

/* Every pixel within tol of (r, g, b). In a picture of odd width or height, libjpeg-turbo's
 * padding of the last 4:2:0 block rings a little in the last column or row (seen: 11 levels
 * at 33x17, none at 34x18); those get 2 x tol. */
static void assert_colour(const uint8_t *rgb, int w, int h, int r, int g, int b, int tol) {
  int worst = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      const uint8_t *p = rgb + 3 * ((size_t)y * (size_t)w + (size_t)x);
      bool edge = ((w & 1) && x == w - 1) || ((h & 1) && y == h - 1);
      int d[3] = {abs(p[0] - r), abs(p[1] - g), abs(p[2] - b)};
      for (int k = 0; k < 3; k++)
        if ((edge ? d[k] / 2 : d[k]) > worst)
          worst = edge ? d[k] / 2 : d[k];
    }
  if (worst > tol)
    fail_msg("colour off by %d (want %d,%d,%d; first pixel %d,%d,%d)", worst, r, g, b, rgb[0],
             rgb[1], rgb[2]);
}

static void check_solid(int w, int h, int max_side, int want_w, int want_h, int r, int g, int b) {
  uint8_t *vp8, *jpeg = NULL;
  size_t len, jlen = 0;
  assert_int_equal(fx_solid_keyframe(w, h, r, g, b, &vp8, &len), 0);
  assert_int_equal(snapshot_jpeg(vp8, len, max_side, &jpeg, &jlen), 0);
  assert_true(jlen > 100);
  assert_int_equal(jpeg[0], 0xff);
  assert_int_equal(jpeg[1], 0xd8);
  int jw, jh;
  uint8_t *rgb = jpeg_rgb(jpeg, jlen, &jw, &jh);
  assert_int_equal(jw, want_w);
  assert_int_equal(jh, want_h);
  /* VP8 and JPEG both round; the studio-to-full range conversion is what keeps this tight
   * (without it, black would come back as 16 and white as 235). */
  assert_colour(rgb, jw, jh, r, g, b, 6);
  free(rgb);
  free(jpeg);
  free(vp8);
}

static void test_320x240_colours(void **state) {
  (void)state;
  check_solid(320, 240, 640, 320, 240, 200, 30, 40);
  check_solid(320, 240, 0, 320, 240, 30, 180, 60);
  check_solid(320, 240, 640, 320, 240, 20, 40, 220);
  check_solid(320, 240, 640, 320, 240, 0, 0, 0);
  check_solid(320, 240, 640, 320, 240, 255, 255, 255);
}

static void test_640x480(void **state) {
  (void)state;
  check_solid(640, 480, 640, 640, 480, 240, 200, 20);
  check_solid(640, 480, 0, 640, 480, 128, 128, 128);
}

static void test_scaled_down(void **state) {
  (void)state;
  check_solid(640, 480, 320, 320, 240, 200, 30, 40);
  check_solid(1280, 720, 640, 640, 360, 30, 180, 60);
  check_solid(480, 640, 320, 240, 320, 20, 40, 220); /* portrait: the height is the long side */
  check_solid(322, 242, 100, 100, 75, 90, 200, 150); /* odd sizes, a ratio that is not whole */
  check_solid(33, 17, 640, 33, 17, 90, 200, 150);
}

/* The picture is right, not just its average: the left half one colour, the right another. */
static void test_picture_layout(void **state) {
  (void)state;
  struct fx_vp8 e;
  uint8_t *vp8, *jpeg;
  size_t len, jlen;
  bool key;
  assert_int_equal(fx_vp8_open(&e, 320, 240, 2000), 0);
  uint8_t y1, u1, v1, y2, u2, v2;
  fx_rgb_to_yuv(220, 20, 20, &y1, &u1, &v1);
  fx_rgb_to_yuv(20, 20, 220, &y2, &u2, &v2);
  for (int y = 0; y < 240; y++)
    for (int x = 0; x < 320; x++)
      e.img->planes[0][y * e.img->stride[0] + x] = x < 160 ? y1 : y2;
  for (int y = 0; y < 120; y++)
    for (int x = 0; x < 160; x++) {
      e.img->planes[1][y * e.img->stride[1] + x] = x < 80 ? u1 : u2;
      e.img->planes[2][y * e.img->stride[2] + x] = x < 80 ? v1 : v2;
    }
  assert_int_equal(fx_vp8_encode(&e, 0, true, &vp8, &len, &key), 0);
  fx_vp8_close(&e);
  assert_int_equal(snapshot_jpeg(vp8, len, 160, &jpeg, &jlen), 0);
  int w, h;
  uint8_t *rgb = jpeg_rgb(jpeg, jlen, &w, &h);
  assert_int_equal(w, 160);
  assert_int_equal(h, 120);
  const uint8_t *l = rgb + 3 * (60 * 160 + 20), *r = rgb + 3 * (60 * 160 + 140);
  assert_true(l[0] > 190 && l[2] < 50);
  assert_true(r[2] > 190 && r[0] < 50);
  free(rgb);
  free(jpeg);
  free(vp8);
}

/* Halving averages each 2x2 box of the camera's picture: one bright pixel in four reads as a
 * quarter of the way up, neither the bright pixel alone nor half of each row. */
static void test_halving_averages_four_pixels(void **state) {
  (void)state;
  enum { W = 640, H = 480, HI = 216, LO = 40 };
  struct fx_vp8 e;
  uint8_t *vp8, *jpeg;
  size_t len, jlen;
  bool key;
  assert_int_equal(fx_vp8_open(&e, W, H, 40000), 0);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      e.img->planes[0][y * e.img->stride[0] + x] = (x % 2 == 0 && y % 2 == 0) ? HI : LO;
  for (int p = 1; p <= 2; p++)
    for (int y = 0; y < H / 2; y++)
      memset(e.img->planes[p] + y * e.img->stride[p], 128, W / 2);
  assert_int_equal(fx_vp8_encode(&e, 0, true, &vp8, &len, &key), 0);
  fx_vp8_close(&e);
  /* The keyframe itself keeps the pattern, or this test could not tell averaging from picking. */
  vpx_codec_ctx_t dec;
  vpx_codec_dec_cfg_t cfg = {.threads = 1};
  assert_int_equal(vpx_codec_dec_init(&dec, vpx_codec_vp8_dx(), &cfg, 0), VPX_CODEC_OK);
  assert_int_equal(vpx_codec_decode(&dec, vp8, (unsigned)len, NULL, 0), VPX_CODEC_OK);
  vpx_codec_iter_t it = NULL;
  vpx_image_t *img = vpx_codec_get_frame(&dec, &it);
  assert_non_null(img);
  const uint8_t *row0 = img->planes[0] + 200 * img->stride[0], *row1 = row0 + img->stride[0];
  assert_true(row0[300] > HI - 30 && row0[301] < LO + 30 && row1[300] < LO + 30);
  vpx_codec_destroy(&dec);

  assert_int_equal(snapshot_jpeg(vp8, len, 320, &jpeg, &jlen), 0);
  int w, h;
  uint8_t *rgb = jpeg_rgb(jpeg, jlen, &w, &h);
  assert_int_equal(w, 320);
  assert_int_equal(h, 240);
  /* (HI + 3 LO) / 4 = 74 in studio range, 68 in full range; picking would give 233 or 120. */
  for (int y = 40; y < 200; y += 40)
    for (int x = 40; x < 280; x += 40) {
      const uint8_t *px = rgb + 3 * (y * 320 + x);
      for (int c = 0; c < 3; c++)
        assert_in_range(px[c], 68 - 12, 68 + 12);
    }
  free(rgb);
  free(jpeg);
  free(vp8);
}

static void test_garbage(void **state) {
  (void)state;
  uint8_t *jpeg = (uint8_t *)"untouched";
  size_t jlen = 7;
  uint8_t junk[4096];
  uint32_t x = 99;
  for (size_t i = 0; i < sizeof(junk); i++)
    junk[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
  junk[0] &= 0xfe; /* looks like a keyframe's tag ... */
  assert_int_equal(snapshot_jpeg(junk, sizeof(junk), 640, &jpeg, &jlen), -EBADMSG);
  memcpy(junk + 3, "\x9d\x01\x2a\x40\x01\xf0\x00", 7); /* ... with a start code, 320x240 */
  assert_int_equal(snapshot_jpeg(junk, sizeof(junk), 640, &jpeg, &jlen), -EBADMSG);
  assert_int_equal(snapshot_jpeg(NULL, 0, 640, &jpeg, &jlen), -EBADMSG);
  assert_int_equal(snapshot_jpeg(junk, 5, 640, &jpeg, &jlen), -EBADMSG);

  uint8_t *vp8;
  size_t len;
  assert_int_equal(fx_solid_keyframe(320, 240, 10, 20, 30, &vp8, &len), 0);
  /* Cut short. */
  assert_int_equal(snapshot_jpeg(vp8, 12, 640, &jpeg, &jlen), -EBADMSG);
  /* A size past SNAPSHOT_MAX_DIM is refused before the decoder would allocate for it. */
  uint8_t *big = malloc(len);
  memcpy(big, vp8, len);
  big[6] = 0xff;
  big[7] = 0x3f; /* 16383 wide */
  assert_int_equal(snapshot_jpeg(big, len, 640, &jpeg, &jlen), -EBADMSG);
  /* A delta frame alone is not a picture. */
  big[0] |= 1;
  big[6] = vp8[6];
  big[7] = vp8[7];
  assert_int_equal(snapshot_jpeg(big, len, 640, &jpeg, &jlen), -EBADMSG);
  free(big);
  free(vp8);
  assert_string_equal((char *)jpeg, "untouched");
  assert_int_equal(jlen, 7);
}

/* ---- on the pool ---- */

struct answers {
  int n, ok, bad, cancelled;
  int w[8], h[8];
};

static void on_snapshot(void *arg, int status, uint8_t *jpeg, size_t len) {
  struct answers *a = arg;
  a->n++;
  if (status == 0) {
    assert_non_null(jpeg);
    int w, h;
    uint8_t *rgb = jpeg_rgb(jpeg, len, &w, &h);
    if (a->ok < 8) {
      a->w[a->ok] = w;
      a->h[a->ok] = h;
    }
    a->ok++;
    free(rgb);
    free(jpeg);
  } else {
    assert_null(jpeg);
    if (status == -ECANCELED)
      a->cancelled++;
    else if (status == -EBADMSG)
      a->bad++;
  }
}

static void test_on_the_pool(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  struct workpool_config c;
  workpool_config_default(&c);
  c.threads = 2;
  c.max_jobs = 3;
  struct workpool *wp;
  assert_int_equal(workpool_new(&loop, &c, &wp), 0);
  struct answers a = {0};
  uint8_t *k1, *k2;
  size_t l1, l2;
  assert_int_equal(fx_solid_keyframe(640, 480, 200, 30, 40, &k1, &l1), 0);
  assert_int_equal(fx_solid_keyframe(320, 240, 200, 30, 40, &k2, &l2), 0);
  assert_int_equal(snapshot_submit(wp, k1, l1, 320, on_snapshot, &a), 0);
  assert_int_equal(snapshot_submit(wp, k2, l2, 640, on_snapshot, &a), 0);
  uint8_t *junk = calloc(1, 64);
  assert_int_equal(snapshot_submit(wp, junk, 64, 640, on_snapshot, &a), 0);
  /* Full: the input is freed (ASan would see a leak otherwise), the callback never runs. */
  uint8_t *more = malloc(64);
  assert_int_equal(snapshot_submit(wp, more, 64, 640, on_snapshot, &a), -EAGAIN);
  while (a.n < 3)
    uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(a.ok, 2);
  assert_int_equal(a.bad, 1);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(a.w[i], 320);
    assert_int_equal(a.h[i], 240);
  }
  workpool_close(wp, NULL, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_320x240_colours), cmocka_unit_test(test_640x480),
      cmocka_unit_test(test_halving_averages_four_pixels),
      cmocka_unit_test(test_scaled_down),     cmocka_unit_test(test_picture_layout),
      cmocka_unit_test(test_garbage),         cmocka_unit_test(test_on_the_pool),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
