/* test_keyframe.c -- reassembling a VP8 keyframe from RTP payloads (media/keyframe.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/keyframe.h"

/* A first packet of partition 0: descriptor (S=1), then a keyframe's 10-byte header (64x48) or
 * an interframe's 3-byte tag, then n bytes of v. */
static size_t first(uint8_t *out, bool key, size_t n, uint8_t v) {
  const uint8_t kf[] = {0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 64, 0, 48, 0};
  const uint8_t df[] = {0x51, 0x02, 0x00};
  out[0] = 0x10;
  memcpy(out + 1, key ? kf : df, key ? sizeof(kf) : sizeof(df));
  size_t off = 1 + (key ? sizeof(kf) : sizeof(df));
  memset(out + off, v, n);
  return off + n;
}

static size_t cont(uint8_t *out, size_t n, uint8_t v) {
  out[0] = 0x00;
  memset(out + 1, v, n);
  return 1 + n;
}

static void test_whole_keyframe(void **state) {
  (void)state;
  uint8_t buf[1024], p[300];
  struct keyframe_asm a;
  keyframe_asm_init(&a, buf, sizeof(buf));
  size_t n = first(p, false, 5, 1);
  assert_int_equal(keyframe_asm_feed(&a, 1, 100, true, p, n), 0); /* a delta frame: nothing */
  n = first(p, true, 20, 2);
  assert_int_equal(keyframe_asm_feed(&a, 2, 200, false, p, n), 0);
  n = cont(p, 30, 3);
  assert_int_equal(keyframe_asm_feed(&a, 3, 200, true, p, n), 1);
  assert_int_equal(a.len, 10 + 20 + 30);
  assert_int_equal(a.width, 64);
  assert_int_equal(a.height, 48);
  assert_int_equal(buf[0], 0x50);
  assert_int_equal(buf[10], 2);
  assert_int_equal(buf[59], 3);
}

static void test_gap_drops_the_frame(void **state) {
  (void)state;
  uint8_t buf[1024], p[300];
  struct keyframe_asm a;
  keyframe_asm_init(&a, buf, sizeof(buf));
  size_t n = first(p, true, 20, 2);
  assert_int_equal(keyframe_asm_feed(&a, 10, 200, false, p, n), 0);
  n = cont(p, 30, 3);
  assert_int_equal(keyframe_asm_feed(&a, 12, 200, true, p, n), 0); /* 11 was lost */
  assert_int_equal(keyframe_asm_feed(&a, 13, 200, true, p, n), 0);
  /* Another timestamp ends it too; the next keyframe starts over. */
  n = first(p, true, 20, 4);
  assert_int_equal(keyframe_asm_feed(&a, 20, 300, false, p, n), 0);
  n = cont(p, 8, 5);
  assert_int_equal(keyframe_asm_feed(&a, 21, 301, true, p, n), 0);
  n = first(p, true, 20, 6);
  assert_int_equal(keyframe_asm_feed(&a, 30, 400, true, p, n), 1);
  assert_int_equal(a.len, 30);
}

static void test_too_big_and_not_vp8(void **state) {
  (void)state;
  uint8_t buf[40], p[300];
  struct keyframe_asm a;
  keyframe_asm_init(&a, buf, sizeof(buf));
  size_t n = first(p, true, 20, 2);
  assert_int_equal(keyframe_asm_feed(&a, 1, 200, false, p, n), 0);
  n = cont(p, 30, 3);
  assert_int_equal(keyframe_asm_feed(&a, 2, 200, true, p, n), -EMSGSIZE);
  assert_false(a.active);
  assert_int_equal(keyframe_asm_feed(&a, 3, 200, true, p, 0), -EBADMSG);
  p[0] = 0x80; /* X bit with no extension byte */
  assert_int_equal(keyframe_asm_feed(&a, 3, 200, true, p, 1), -EBADMSG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_whole_keyframe),
      cmocka_unit_test(test_gap_drops_the_frame),
      cmocka_unit_test(test_too_big_and_not_vp8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
