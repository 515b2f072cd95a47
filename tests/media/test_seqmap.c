/* test_seqmap.c -- unit tests for media/seqmap.c (seq/ts continuity). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "media/seqmap.h"

/* Maps one packet and expects it forwarded with these numbers. */
static void expect_map(struct seqmap *m, uint16_t in_seq, uint32_t in_ts,
                       uint64_t now, uint16_t want_seq, uint32_t want_ts) {
  uint16_t os = 0;
  uint32_t ot = 0;

  assert_int_equal(seqmap_map(m, in_seq, in_ts, now, &os, &ot), 0);
  assert_int_equal(os, want_seq);
  assert_int_equal(ot, want_ts);
}

static void expect_drop(struct seqmap *m, uint16_t in_seq, uint32_t in_ts,
                        uint64_t now) {
  uint16_t os = 0x5555;
  uint32_t ot = 0x5555;

  assert_int_equal(seqmap_map(m, in_seq, in_ts, now, &os, &ot), -EAGAIN);
  assert_int_equal(os, 0x5555);
  assert_int_equal(ot, 0x5555);
}

static void test_first_packet(void **state) {
  struct seqmap m;
  uint16_t in;
  uint32_t ts;

  (void)state;
  seqmap_init(&m, 90000, 1000, 5000);
  assert_int_equal(seqmap_last_seq(&m), 999);
  assert_int_equal(seqmap_last_ts(&m), 5000);
  assert_int_equal(seqmap_unmap_seq(&m, 1000, &in), -ENOENT);
  assert_false(seqmap_in_to_out_ts(&m, 1, &ts));
  /* A switch before any packet changes nothing. */
  seqmap_switch(&m);
  expect_map(&m, 40000, 3000000000u, 10, 1000, 5000);
  expect_map(&m, 40001, 3000003000u, 43, 1001, 8000);
  expect_map(&m, 40002, 3000003000u, 44, 1002, 8000);
  assert_int_equal(seqmap_last_seq(&m), 1002);
  assert_int_equal(seqmap_last_ts(&m), 8000);
  assert_int_equal(seqmap_last_ms(&m), 44);
  assert_true(seqmap_in_to_out_ts(&m, 3000009000u, &ts));
  assert_int_equal(ts, 14000);
}

static void test_wrap(void **state) {
  struct seqmap m;
  uint16_t i, in;

  (void)state;
  /* Input and output both wrap, at different moments. */
  seqmap_init(&m, 48000, 65530, 0xfffffc40u);
  for (i = 0; i < 12; i++)
    expect_map(&m, (uint16_t)(65533 + i), 960u * i, 20u * i,
               (uint16_t)(65530 + i), 0xfffffc40u + 960u * i);
  assert_int_equal(seqmap_last_seq(&m), 5);
  assert_int_equal(seqmap_last_ts(&m), 0xfffffc40u + 960u * 11);
  /* Unmap across both wraps. */
  assert_int_equal(seqmap_unmap_seq(&m, 65535, &in), 0);
  assert_int_equal(in, 2);
  assert_int_equal(seqmap_unmap_seq(&m, 0, &in), 0);
  assert_int_equal(in, 3);
  assert_int_equal(seqmap_unmap_seq(&m, 65530, &in), 0);
  assert_int_equal(in, 65533);
  assert_int_equal(seqmap_unmap_seq(&m, 65529, &in), -ENOENT);
  assert_int_equal(seqmap_unmap_seq(&m, 6, &in), -ENOENT);
}

static void test_long_stream(void **state) {
  struct seqmap m;
  uint32_t i;
  uint16_t os, in;
  uint32_t ot;

  (void)state;
  /* Far more packets than 2^16 from one source: nothing is ever taken for a
   * packet older than the anchor. */
  seqmap_init(&m, 90000, 7, 0);
  for (i = 0; i < 200000; i++) {
    assert_int_equal(seqmap_map(&m, (uint16_t)(100 + i), i * 3000, i, &os, &ot),
                     0);
    assert_int_equal(os, (uint16_t)(7 + i));
  }
  /* Late packets from the last half of the window still map. */
  assert_int_equal(seqmap_map(&m, (uint16_t)(100 + i - 30000), 0, i, &os, &ot),
                   0);
  assert_int_equal(os, (uint16_t)(7 + i - 30000));
  assert_int_equal(seqmap_last_seq(&m), (uint16_t)(7 + i - 1));
  assert_int_equal(seqmap_unmap_seq(&m, (uint16_t)(7 + i - 100), &in), 0);
  assert_int_equal(in, (uint16_t)(100 + i - 100));
}

static void test_switch_ts(void **state) {
  struct seqmap m;

  (void)state;
  /* Video: the new source starts 500 ms after the old one's last packet, so
   * the timestamp moves by 45000 ticks of 90 kHz. */
  seqmap_init(&m, 90000, 100, 1000);
  expect_map(&m, 5000, 77777, 1000, 100, 1000);
  expect_map(&m, 5001, 80777, 1033, 101, 4000);
  seqmap_switch(&m);
  expect_map(&m, 60000, 123, 1533, 102, 4000 + 45000);
  expect_map(&m, 60001, 3123, 1566, 103, 4000 + 45000 + 3000);
  /* Audio: 20 ms at 48 kHz is 960; 7 ms is 336. */
  seqmap_init(&m, 48000, 0, 0);
  expect_map(&m, 9, 100, 0, 0, 0);
  expect_map(&m, 10, 1060, 20, 1, 960);
  seqmap_switch(&m);
  expect_map(&m, 300, 999999, 40, 2, 1920);
  seqmap_switch(&m);
  expect_map(&m, 7, 5, 47, 3, 1920 + 336);
  /* No time elapsed (or a clock going back) still moves by one tick. */
  seqmap_switch(&m);
  expect_map(&m, 1, 1, 47, 4, 1920 + 337);
  seqmap_switch(&m);
  expect_map(&m, 1, 1, 10, 5, 1920 + 338);
  /* A long pause: 1 hour at 90 kHz wraps the 32-bit space correctly. */
  seqmap_init(&m, 90000, 0, 0xffffff00u);
  expect_map(&m, 0, 0, 1000, 0, 0xffffff00u);
  seqmap_switch(&m);
  expect_map(&m, 0, 0, 1000 + 3600000, 1,
             (uint32_t)(0xffffff00u + 90000ull * 3600));
  /* A switch with no packet from the new source in between anchors once. */
  seqmap_switch(&m);
  seqmap_switch(&m);
  expect_map(&m, 50, 50, 1000 + 3600000, 2,
             (uint32_t)(0xffffff00u + 90000ull * 3600 + 1));
}

static void test_late_before_anchor(void **state) {
  struct seqmap m;
  uint16_t in;

  (void)state;
  seqmap_init(&m, 90000, 10, 0);
  expect_map(&m, 1, 0, 0, 10, 0);
  expect_map(&m, 2, 0, 0, 11, 0);
  seqmap_switch(&m);
  /* The new source's packet 500 arrives first; 498 and 499 would take the
   * numbers 10 and 11 already used, so they are dropped. */
  expect_map(&m, 500, 9000, 10, 12, 900);
  expect_drop(&m, 499, 6000, 11);
  expect_drop(&m, 498, 3000, 12);
  expect_map(&m, 501, 9000, 13, 13, 900);
  expect_map(&m, 500, 9000, 14, 12, 900);
  expect_drop(&m, 499, 6000, 15);
  assert_int_equal(seqmap_last_seq(&m), 13);
  /* Across the wrap: anchor at 0, 65535 is before it. */
  seqmap_switch(&m);
  expect_map(&m, 0, 0, 20, 14, 900 + 630);
  expect_drop(&m, 65535, 0, 21);
  expect_drop(&m, 32769, 0, 21);
  expect_map(&m, 1, 0, 21, 15, 900 + 630);
  assert_int_equal(seqmap_unmap_seq(&m, 13, &in), -ENOENT);
  assert_int_equal(seqmap_unmap_seq(&m, 14, &in), 0);
  assert_int_equal(in, 0);
}

static void test_reorder(void **state) {
  struct seqmap m;

  (void)state;
  seqmap_init(&m, 90000, 200, 0);
  expect_map(&m, 10, 0, 0, 200, 0);
  expect_map(&m, 12, 6000, 66, 202, 6000);
  expect_map(&m, 11, 3000, 70, 201, 3000);
  /* The newest is still 12: the reordered 11 does not move "last" back. */
  assert_int_equal(seqmap_last_seq(&m), 202);
  assert_int_equal(seqmap_last_ts(&m), 6000);
  assert_int_equal(seqmap_last_ms(&m), 66);
  /* Duplicates map identically. */
  expect_map(&m, 12, 6000, 80, 202, 6000);
  assert_int_equal(seqmap_last_ms(&m), 66);
  /* The switch anchors after the highest, timed from its packet. */
  seqmap_switch(&m);
  expect_map(&m, 40000, 1, 166, 203, 6000 + 9000);
}

static void test_unmap(void **state) {
  struct seqmap m;
  uint16_t in, i;

  (void)state;
  seqmap_init(&m, 90000, 65000, 0);
  for (i = 0; i < 10; i++)
    expect_map(&m, (uint16_t)(100 + i), 0, 0, (uint16_t)(65000 + i), 0);
  assert_int_equal(seqmap_unmap_seq(&m, 65005, &in), 0);
  assert_int_equal(in, 105);
  seqmap_switch(&m);
  /* Between the switch and the new source's first packet nothing maps. */
  assert_int_equal(seqmap_unmap_seq(&m, 65005, &in), -ENOENT);
  for (i = 0; i < 10; i++)
    expect_map(&m, (uint16_t)(65530 + i), 0, 0, (uint16_t)(65010 + i), 1);
  /* The old source's numbers, and ones not sent yet, are unknown. */
  assert_int_equal(seqmap_unmap_seq(&m, 65009, &in), -ENOENT);
  assert_int_equal(seqmap_unmap_seq(&m, 65000, &in), -ENOENT);
  assert_int_equal(seqmap_unmap_seq(&m, 65020, &in), -ENOENT);
  for (i = 0; i < 10; i++) {
    assert_int_equal(seqmap_unmap_seq(&m, (uint16_t)(65010 + i), &in), 0);
    assert_int_equal(in, (uint16_t)(65530 + i));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_first_packet),
      cmocka_unit_test(test_wrap),
      cmocka_unit_test(test_long_stream),
      cmocka_unit_test(test_switch_ts),
      cmocka_unit_test(test_late_before_anchor),
      cmocka_unit_test(test_reorder),
      cmocka_unit_test(test_unmap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
