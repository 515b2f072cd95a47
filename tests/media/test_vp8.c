/* test_vp8.c -- unit tests for media/vp8.c: descriptor, keyframes, vp8map. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtp.h"
#include "media/vp8.h"
#include "tests/media/testdata.h"

/* Parses a heap copy of exactly len bytes, so ASan sees any overread. */
static int parse_exact(const uint8_t *src, size_t len, struct vp8_desc *d) {
  uint8_t *copy = testdata_copy(src, len);
  int r = vp8_parse(copy, len, d);

  if (r == 0) {
    assert_true(d->desc_len < len);
    assert_true(!d->has_pid ||
                d->pid_off + (d->pid_16bit ? 2 : 1) <= d->desc_len);
    assert_true(!d->has_tl0 || d->tl0_off < d->desc_len);
    vp8_rewrite(copy, d, 0x7fff, 0xff);
  }
  free(copy);
  return r;
}

/* Loads an RTP file and returns its VP8 payload (within buf) and length. */
static uint8_t *load_payload(const char *name, uint8_t *buf, size_t cap,
                             size_t *len) {
  struct rtp_view v;
  size_t n = testdata_load(name, buf, cap);

  assert_int_equal(rtp_parse(buf, n, &v), 0);
  *len = v.payload_len;
  return buf + v.payload_off;
}

static void test_minimal(void **state) {
  /* S=1, partition 0, no X; a delta frame tag (P=1). */
  static const uint8_t p[] = {0x10, 0x01, 0x02, 0x03};
  static const uint8_t q[] = {0x23, 0xaa};
  struct vp8_desc d;

  (void)state;
  assert_int_equal(parse_exact(p, sizeof(p), &d), 0);
  assert_true(d.start);
  assert_int_equal(d.part_id, 0);
  assert_false(d.non_ref);
  assert_false(d.has_pid);
  assert_false(d.has_tl0);
  assert_false(d.has_tid);
  assert_false(d.has_keyidx);
  assert_int_equal(d.desc_len, 1);
  assert_false(d.keyframe);
  assert_int_equal(d.width, 0);
  /* N=1, partition 3, not a start: no frame tag needed. */
  assert_int_equal(parse_exact(q, sizeof(q), &d), 0);
  assert_false(d.start);
  assert_true(d.non_ref);
  assert_int_equal(d.part_id, 3);
  assert_false(d.keyframe);
}

static void test_extensions(void **state) {
  /* X, I (7-bit 0x55). */
  static const uint8_t a[] = {0x90, 0x80, 0x55, 0x01, 0, 0};
  /* X, I (15-bit 0x1234), L (0x99), T (tid 2, Y) and K (keyidx 17). */
  static const uint8_t b[] = {0x90, 0xf0, 0x92, 0x34, 0x99, 0xb1, 0x01, 0, 0};
  /* X, L only. */
  static const uint8_t c[] = {0x80, 0x40, 0x07, 0xee};
  /* X, K only. */
  static const uint8_t e[] = {0x80, 0x10, 0xc5, 0xee};
  /* X with no field set. */
  static const uint8_t f[] = {0x80, 0x00, 0xee};
  struct vp8_desc d;

  (void)state;
  assert_int_equal(parse_exact(a, sizeof(a), &d), 0);
  assert_true(d.has_pid);
  assert_false(d.pid_16bit);
  assert_int_equal(d.pid, 0x55);
  assert_int_equal(d.pid_off, 2);
  assert_int_equal(d.desc_len, 3);
  assert_false(d.has_tl0);

  assert_int_equal(parse_exact(b, sizeof(b), &d), 0);
  assert_true(d.has_pid);
  assert_true(d.pid_16bit);
  assert_int_equal(d.pid, 0x1234);
  assert_int_equal(d.pid_off, 2);
  assert_true(d.has_tl0);
  assert_int_equal(d.tl0picidx, 0x99);
  assert_int_equal(d.tl0_off, 4);
  assert_true(d.has_tid);
  assert_int_equal(d.tid, 2);
  assert_true(d.layer_sync);
  assert_true(d.has_keyidx);
  assert_int_equal(d.keyidx, 17);
  assert_int_equal(d.desc_len, 6);

  assert_int_equal(parse_exact(c, sizeof(c), &d), 0);
  assert_false(d.has_pid);
  assert_true(d.has_tl0);
  assert_int_equal(d.tl0picidx, 7);
  assert_int_equal(d.tl0_off, 2);
  assert_int_equal(d.desc_len, 3);

  assert_int_equal(parse_exact(e, sizeof(e), &d), 0);
  assert_false(d.has_tid);
  assert_true(d.has_keyidx);
  assert_int_equal(d.keyidx, 5);
  assert_int_equal(d.desc_len, 3);

  assert_int_equal(parse_exact(f, sizeof(f), &d), 0);
  assert_int_equal(d.desc_len, 2);
  assert_false(d.has_pid || d.has_tl0 || d.has_tid || d.has_keyidx);
}

static void test_real_keyframe(void **state) {
  uint8_t buf[2048];
  struct vp8_desc d;
  size_t len;
  uint8_t *p = load_payload("rtp_vp8_keyframe.raw", buf, sizeof(buf), &len);

  (void)state;
  assert_int_equal(parse_exact(p, len, &d), 0);
  assert_true(d.start);
  assert_int_equal(d.part_id, 0);
  assert_true(d.keyframe);
  assert_int_equal(d.width, 640);
  assert_int_equal(d.height, 480);
  assert_true(d.has_pid && d.pid_16bit);
  assert_int_equal(d.pid, 0x1234);
  assert_int_equal(d.desc_len, 4);

  /* Without its start code the keyframe has no size. */
  p[d.desc_len + 3] = 0;
  assert_int_equal(parse_exact(p, len, &d), 0);
  assert_true(d.keyframe);
  assert_int_equal(d.width, 0);
  assert_int_equal(d.height, 0);
  /* Fewer than 10 bytes of header likewise. */
  assert_int_equal(parse_exact(p, 4 + 9, &d), 0);
  assert_true(d.keyframe);
  assert_int_equal(d.width, 0);

  p = load_payload("rtp_vp8_keyframe_cont.raw", buf, sizeof(buf), &len);
  assert_int_equal(parse_exact(p, len, &d), 0);
  assert_false(d.start);
  assert_false(d.keyframe);
  assert_int_equal(d.pid, 0x1234);

  p = load_payload("rtp_vp8_delta.raw", buf, sizeof(buf), &len);
  assert_int_equal(parse_exact(p, len, &d), 0);
  assert_true(d.start);
  assert_false(d.keyframe);
  assert_int_equal(d.width, 0);
  assert_int_equal(d.pid, 0x1235);
}

static void test_malformed(void **state) {
  static const uint8_t full[] = {0x90, 0xf0, 0x92, 0x34, 0x99, 0xb1,
                                 0x00, 0x00, 0x00};
  static const uint8_t seven[] = {0x80, 0x80, 0x12};
  uint8_t buf[2048];
  struct vp8_desc d;
  size_t len, cut;
  uint8_t *p;
  unsigned b0, b1;

  (void)state;
  assert_int_equal(vp8_parse(NULL, 3, &d), -EBADMSG);
  /* Every prefix of a full descriptor is cut inside it, or lacks payload or
   * the 3-byte frame tag. */
  for (cut = 0; cut < sizeof(full); cut++)
    assert_int_equal(parse_exact(full, cut, &d), -EBADMSG);
  assert_int_equal(parse_exact(full, sizeof(full), &d), 0);
  /* A descriptor with nothing after it. */
  assert_int_equal(parse_exact(seven, sizeof(seven), &d), -EBADMSG);
  assert_int_equal(parse_exact(seven, 2, &d), -EBADMSG);

  /* Every prefix of a real packet: fine from the first 3 payload bytes. */
  p = load_payload("rtp_vp8_keyframe.raw", buf, sizeof(buf), &len);
  for (cut = 0; cut <= len; cut++)
    assert_int_equal(parse_exact(p, cut, &d), cut >= 7 ? 0 : -EBADMSG);

  /* Any first two bytes over short buffers fail cleanly or parse. */
  for (b0 = 0; b0 < 256; b0++)
    for (b1 = 0; b1 < 256; b1++) {
      uint8_t t[6] = {(uint8_t)b0, (uint8_t)b1, 0xff, 0xff, 0xff, 0xff};
      for (cut = 0; cut <= sizeof(t); cut++) {
        int r = parse_exact(t, cut, &d);
        assert_true(r == 0 || r == -EBADMSG);
      }
    }
}

static void test_rewrite(void **state) {
  uint8_t b[] = {0x90, 0xf0, 0x92, 0x34, 0x99, 0xb1, 0x01, 0xaa, 0xbb};
  uint8_t a[] = {0x90, 0xc0, 0x55, 0x07, 0x01, 0xaa, 0xbb};
  uint8_t orig[sizeof(b)];
  struct vp8_desc d, d2;

  (void)state;
  memcpy(orig, b, sizeof(b));
  assert_int_equal(vp8_parse(b, sizeof(b), &d), 0);
  vp8_rewrite(b, &d, 0x7abc, 0x42);
  assert_int_equal(vp8_parse(b, sizeof(b), &d2), 0);
  assert_true(d2.pid_16bit);
  assert_int_equal(d2.pid, 0x7abc);
  assert_int_equal(d2.tl0picidx, 0x42);
  assert_int_equal(d2.tid, d.tid);
  assert_int_equal(d2.keyidx, d.keyidx);
  assert_int_equal(d2.desc_len, d.desc_len);
  /* Nothing but the two fields changed. */
  assert_memory_equal(b, orig, 2);
  assert_memory_equal(b + 5, orig + 5, sizeof(b) - 5);
  /* Rewriting back restores the packet. */
  vp8_rewrite(b, &d, 0x1234, 0x99);
  assert_memory_equal(b, orig, sizeof(b));
  /* The 15th bit is dropped: picture IDs are 15-bit. */
  vp8_rewrite(b, &d, 0xffff, 0);
  assert_int_equal(vp8_parse(b, sizeof(b), &d2), 0);
  assert_int_equal(d2.pid, 0x7fff);

  /* 7-bit stays 7-bit. */
  assert_int_equal(vp8_parse(a, sizeof(a), &d), 0);
  assert_false(d.pid_16bit);
  vp8_rewrite(a, &d, 0x1ff, 3);
  assert_int_equal(vp8_parse(a, sizeof(a), &d2), 0);
  assert_false(d2.pid_16bit);
  assert_int_equal(d2.pid, 0x7f);
  assert_int_equal(d2.tl0picidx, 3);
  assert_int_equal(d2.desc_len, 4);
  assert_int_equal(a[4], 0x01);

  /* Absent fields are left alone. */
  {
    uint8_t c[] = {0x10, 0x01, 0x02, 0x03};
    assert_int_equal(vp8_parse(c, sizeof(c), &d), 0);
    vp8_rewrite(c, &d, 5, 5);
    assert_memory_equal(c, "\x10\x01\x02\x03", 4);
  }
}

static struct vp8_desc desc(uint16_t pid, bool pid16, int tl0) {
  struct vp8_desc d;

  memset(&d, 0, sizeof(d));
  d.has_pid = true;
  d.pid_16bit = pid16;
  d.pid = pid;
  if (tl0 >= 0) {
    d.has_tl0 = true;
    d.tl0picidx = (uint8_t)tl0;
  }
  return d;
}

static void expect_vp8map(struct vp8map *m, struct vp8_desc d, uint16_t pid,
                          uint8_t tl0) {
  uint16_t op;
  uint8_t ot;

  vp8map_map(m, &d, &op, &ot);
  assert_int_equal(op, pid);
  assert_int_equal(ot, tl0);
}

static void test_vp8map(void **state) {
  struct vp8map m;
  struct vp8_desc none;
  uint16_t op;
  uint8_t ot;

  (void)state;
  /* 15-bit wrap: the stream starts at 0x7ffe. */
  vp8map_init(&m, 0x7ffe);
  expect_vp8map(&m, desc(100, true, 200), 0x7ffe, 0);
  expect_vp8map(&m, desc(100, true, 200), 0x7ffe, 0);
  expect_vp8map(&m, desc(101, true, 201), 0x7fff, 1);
  expect_vp8map(&m, desc(102, true, 202), 0, 2);
  expect_vp8map(&m, desc(103, true, 203), 1, 3);
  /* A reordered older picture maps by offset and does not move "last". */
  expect_vp8map(&m, desc(102, true, 202), 0, 2);

  /* Switch to a 15-bit source whose numbers wrap too. */
  vp8map_switch(&m);
  expect_vp8map(&m, desc(0x7fff, true, 255), 2, 4);
  expect_vp8map(&m, desc(0, true, 0), 3, 5);
  expect_vp8map(&m, desc(1, true, 0), 4, 5);

  /* Switch to a 7-bit source: it wraps at 127 and continues by one. */
  vp8map_switch(&m);
  expect_vp8map(&m, desc(126, false, 9), 5, 6);
  expect_vp8map(&m, desc(127, false, 10), 6, 7);
  expect_vp8map(&m, desc(0, false, 11), 7, 8);
  /* Make the 7-bit output itself wrap. */
  vp8map_switch(&m);
  expect_vp8map(&m, desc(10, false, 50), 8, 9);
  {
    uint16_t i;
    for (i = 11; i < 130; i++)
      expect_vp8map(&m, desc((uint16_t)(i & 0x7f), false, -1),
                    (uint16_t)((i - 2) & 0x7f), 0);
  }
  /* Last 7-bit output was (129 - 2) & 0x7f = 127; back to 15-bit. */
  vp8map_switch(&m);
  expect_vp8map(&m, desc(5000, true, 1), 128, 10);

  /* Packets without the fields leave no trace; the first one that has them
   * anchors. */
  memset(&none, 0, sizeof(none));
  vp8map_switch(&m);
  vp8map_map(&m, &none, &op, &ot);
  assert_int_equal(op, 0);
  assert_int_equal(ot, 0);
  expect_vp8map(&m, desc(7, true, -1), 129, 0);
  expect_vp8map(&m, desc(8, true, 77), 130, 11);
  expect_vp8map(&m, desc(9, true, 78), 131, 12);

  /* TL0PICIDX wraps at 255, on the way in and on the way out. */
  vp8map_init(&m, 10);
  {
    uint16_t i;
    for (i = 0; i < 300; i++)
      expect_vp8map(&m, desc(i, true, (200 + i) & 0xff), (uint16_t)(10 + i),
                    (uint8_t)i);
  }
  vp8map_switch(&m);
  expect_vp8map(&m, desc(0, true, 0), 310, (uint8_t)300);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_minimal),
      cmocka_unit_test(test_extensions),
      cmocka_unit_test(test_real_keyframe),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_rewrite),
      cmocka_unit_test(test_vp8map),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
