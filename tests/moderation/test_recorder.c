/* test_recorder.c -- the per-session ring of RTP records (moderation/recorder.c): the window,
 * the byte bound, chunk reuse, the export format. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "moderation/recorder.h"

/* A fake packet whose bytes say which one it is. */
static size_t pkt(uint8_t *b, size_t len, uint32_t id) {
  memset(b, (int)(id & 0xff), len);
  memcpy(b, &id, 4);
  return len;
}

/* Exports and checks the records are ids first..last in order, each of its length. */
static void check_export(const struct recorder *r, uint32_t first, uint32_t last, size_t len) {
  uint8_t *buf;
  size_t n, off = 0;
  assert_int_equal(recorder_export(r, &buf, &n), 0);
  struct recorder_rec rec;
  uint32_t want = first;
  while (recorder_rec_next(buf, n, &off, &rec) == 1) {
    uint32_t id;
    memcpy(&id, rec.rtp, 4);
    assert_int_equal(id, want);
    assert_int_equal(rec.len, len);
    assert_int_equal(rec.arrival_ms, 1000 + id * 10);
    assert_int_equal(rec.rtp[len - 1], id & 0xff);
    want++;
  }
  assert_int_equal(off, n);
  assert_int_equal(want, last + 1);
  free(buf);
}

static void test_empty(void **state) {
  (void)state;
  struct recorder_config c;
  recorder_config_default(&c);
  struct recorder *r = recorder_new(&c);
  assert_non_null(r);
  uint8_t *buf = (uint8_t *)"x";
  size_t n = 9;
  assert_int_equal(recorder_export(r, &buf, &n), 0);
  assert_null(buf);
  assert_int_equal(n, 0);
  assert_int_equal(recorder_keyframe_age_ms(r, 5), UINT64_MAX);
  assert_true(recorder_bytes(r) < 2048); /* no chunk until the first packet */
  uint8_t p[4000];
  assert_int_equal(recorder_add(r, p, 0, 1, 0), -EMSGSIZE);
  assert_int_equal(recorder_add(r, p, RECORDER_MAX_PACKET + 1, 1, 0), -EMSGSIZE);
  recorder_free(r);
  recorder_free(NULL);
  c.max_bytes = RECORDER_CHUNK; /* fewer than two chunks */
  assert_null(recorder_new(&c));
  c.max_bytes = 1 << 20;
  c.window_ms = 0;
  assert_null(recorder_new(&c));
}

/* One packet every 10 ms: after 30 s only about the last 10 s are held, and the memory held is
 * what 10 s need, not the bound. */
static void test_window(void **state) {
  (void)state;
  struct recorder_config c = {.window_ms = 10000, .max_bytes = 4 << 20};
  struct recorder *r = recorder_new(&c);
  uint8_t p[1200];
  uint32_t n = 3000;
  for (uint32_t i = 0; i < n; i++)
    assert_int_equal(recorder_add(r, p, pkt(p, sizeof(p), i), 1000 + i * 10, 0), 0);
  uint8_t *buf;
  size_t len, off = 0;
  assert_int_equal(recorder_export(r, &buf, &len), 0);
  struct recorder_rec rec;
  assert_int_equal(recorder_rec_next(buf, len, &off, &rec), 1);
  uint32_t first;
  memcpy(&first, rec.rtp, 4);
  free(buf);
  uint64_t newest = 1000 + (n - 1) * 10, oldest = 1000 + first * 10;
  /* At least the window, at most the window plus one chunk's worth (53 packets here). */
  assert_true(newest - oldest >= 10000);
  assert_true(newest - oldest <= 10000 + 60 * 10);
  check_export(r, first, n - 1, sizeof(p));
  /* 10 s of 1212-byte records is 18 chunks; plus the one being written and a spare. */
  size_t held = recorder_bytes(r) / RECORDER_CHUNK;
  assert_true(held >= 19 && held <= 21);
  recorder_free(r);
}

/* A bitrate the bound cannot hold for the whole window: the oldest chunks go, memory stays at
 * the bound, the newest packets are all there. */
static void test_byte_bound(void **state) {
  (void)state;
  struct recorder_config c = {.window_ms = 10000, .max_bytes = 8 * RECORDER_CHUNK};
  struct recorder *r = recorder_new(&c);
  uint8_t p[1000];
  uint32_t n = 2000; /* 2 MB in 20 s */
  for (uint32_t i = 0; i < n; i++) {
    assert_int_equal(recorder_add(r, p, pkt(p, sizeof(p), i), 1000 + i * 10, 0), 0);
    assert_true(recorder_bytes(r) <= c.max_bytes + 1024);
  }
  uint8_t *buf;
  size_t len, off = 0;
  assert_int_equal(recorder_export(r, &buf, &len), 0);
  assert_true(len > 7 * RECORDER_CHUNK - 1100);
  assert_true(len <= 8 * RECORDER_CHUNK);
  struct recorder_rec rec;
  assert_int_equal(recorder_rec_next(buf, len, &off, &rec), 1);
  uint32_t first;
  memcpy(&first, rec.rtp, 4);
  free(buf);
  check_export(r, first, n - 1, sizeof(p));
  recorder_free(r);
}

/* A pause longer than the window: everything old goes but the chunk being written. */
static void test_pause_and_keyframe_age(void **state) {
  (void)state;
  struct recorder_config c;
  recorder_config_default(&c);
  struct recorder *r = recorder_new(&c);
  uint8_t p[500];
  for (uint32_t i = 0; i < 1000; i++)
    recorder_add(r, p, pkt(p, sizeof(p), i), 1000 + i * 10, i == 100 ? RECORDER_KEYFRAME : 0);
  assert_int_equal(recorder_keyframe_age_ms(r, 1000 + 999 * 10), 899 * 10);
  recorder_add(r, p, pkt(p, sizeof(p), 5000), 1000 + 5000 * 10, 0);
  size_t held = recorder_bytes(r) / RECORDER_CHUNK;
  assert_true(held <= 3);
  assert_int_equal(recorder_keyframe_age_ms(r, 1000), 0); /* a clock going back */
  recorder_free(r);
}

static void test_rec_next_rejects_bad_buffers(void **state) {
  (void)state;
  uint8_t buf[64] = {0};
  size_t off = 0;
  struct recorder_rec rec;
  assert_int_equal(recorder_rec_next(buf, 0, &off, &rec), 0);
  assert_int_equal(recorder_rec_next(buf, 5, &off, &rec), -EBADMSG);
  uint16_t n = 100; /* longer than the buffer */
  memcpy(buf + 8, &n, 2);
  assert_int_equal(recorder_rec_next(buf, sizeof(buf), &off, &rec), -EBADMSG);
  n = 0;
  memcpy(buf + 8, &n, 2);
  assert_int_equal(recorder_rec_next(buf, sizeof(buf), &off, &rec), -EBADMSG);
  n = 3;
  memcpy(buf + 8, &n, 2);
  buf[10] = RECORDER_VIDEO;
  assert_int_equal(recorder_rec_next(buf, sizeof(buf), &off, &rec), 1);
  assert_int_equal(off, 16);
  assert_int_equal(rec.flags, RECORDER_VIDEO);
  assert_int_equal(rec.len, 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_window),
      cmocka_unit_test(test_byte_bound),
      cmocka_unit_test(test_pause_and_keyframe_age),
      cmocka_unit_test(test_rec_next_rejects_bad_buffers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
