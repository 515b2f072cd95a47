/* test_rtp.c -- unit tests for media/rtp.c: parse, extensions, build, demux. */
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
#include "tests/media/testdata.h"

/* Parses a heap copy of exactly len bytes, so ASan sees any overread. */
static int parse_exact(const uint8_t *src, size_t len, struct rtp_view *v) {
  uint8_t *copy = testdata_copy(src, len);
  int r = rtp_parse(copy, len, v);

  if (r == 0) {
    /* Exercise the extension walk on the exact buffer as well. */
    const uint8_t *d;
    size_t dl;
    unsigned id;
    for (id = 0; id < 256; id++) {
      int e = rtp_ext_find(copy, v, (uint8_t)id, &d, &dl);
      assert_true(e == 0 || e == -ENOENT || e == -EBADMSG);
      if (e == 0)
        assert_true(d >= copy + v->ext_off &&
                    d + dl <= copy + v->ext_off + v->ext_len);
    }
  }
  free(copy);
  return r;
}

static void test_minimal(void **state) {
  static const uint8_t p[] = {0x80, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
                              0x01, 0x02, 0x03, 0x04};
  struct rtp_view v;

  (void)state;
  assert_int_equal(rtp_parse(p, sizeof(p), &v), 0);
  assert_int_equal(v.marker, 1);
  assert_int_equal(v.pt, 96);
  assert_int_equal(v.csrc_count, 0);
  assert_int_equal(v.seq, 0x1234);
  assert_int_equal(v.ts, 0xdeadbeef);
  assert_int_equal(v.ssrc, 0x01020304);
  assert_int_equal(v.header_len, 12);
  assert_int_equal(v.payload_off, 12);
  assert_int_equal(v.payload_len, 0);
  assert_int_equal(v.padding_len, 0);
  assert_int_equal(v.ext_profile, 0);
  assert_int_equal(v.ext_len, 0);
}

static void test_csrc_padding(void **state) {
  /* CC=2, P=1, 3 payload bytes and 4 bytes of padding. */
  static const uint8_t p[] = {0xa2, 0x08, 0x00, 0x01, 0, 0, 0, 9, 0, 0, 0, 7,
                              0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb,
                              'x', 'y', 'z', 0, 0, 0, 4};
  struct rtp_view v;

  (void)state;
  assert_int_equal(parse_exact(p, sizeof(p), &v), 0);
  assert_int_equal(v.marker, 0);
  assert_int_equal(v.pt, 8);
  assert_int_equal(v.csrc_count, 2);
  assert_int_equal(v.header_len, 20);
  assert_int_equal(v.payload_off, 20);
  assert_int_equal(v.payload_len, 3);
  assert_int_equal(v.padding_len, 4);
  assert_memory_equal(p + v.payload_off, "xyz", 3);
}

static void test_padding_only(void **state) {
  /* Padding may take every byte after the header. */
  uint8_t p[16] = {0xa0, 0x00, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 4};
  struct rtp_view v;

  (void)state;
  assert_int_equal(parse_exact(p, sizeof(p), &v), 0);
  assert_int_equal(v.payload_len, 0);
  assert_int_equal(v.padding_len, 4);
  p[15] = 5;
  assert_int_equal(parse_exact(p, sizeof(p), &v), -EBADMSG);
  p[15] = 0;
  assert_int_equal(parse_exact(p, sizeof(p), &v), -EBADMSG);
}

static void test_one_byte_ext_real(void **state) {
  uint8_t buf[2048];
  size_t n = testdata_load("rtp_opus.raw", buf, sizeof(buf));
  struct rtp_view v;
  const uint8_t *d;
  size_t dl;

  (void)state;
  assert_int_equal(parse_exact(buf, n, &v), 0);
  assert_int_equal(v.pt, 111);
  assert_int_equal(v.marker, 1);
  assert_int_equal(v.seq, 12345);
  assert_int_equal(v.ts, 960000);
  assert_int_equal(v.ssrc, 0x2CFC4C9F);
  assert_int_equal(v.ext_profile, 0xBEDE);
  assert_int_equal(v.ext_off, 16);
  assert_int_equal(v.ext_len, 12);
  assert_int_equal(v.header_len, 28);
  assert_int_equal(v.payload_len, n - 28);

  /* ssrc-audio-level: V=1, level 30. */
  assert_int_equal(rtp_ext_find(buf, &v, 1, &d, &dl), 0);
  assert_int_equal(dl, 1);
  assert_int_equal(d[0], 0x80 | 30);
  assert_int_equal(rtp_ext_find(buf, &v, 2, &d, &dl), 0);
  assert_int_equal(dl, 3);
  assert_memory_equal(d, "\x12\x34\x56", 3);
  assert_int_equal(rtp_ext_find(buf, &v, 3, &d, &dl), 0);
  assert_int_equal(dl, 2);
  assert_int_equal(rtp_ext_find(buf, &v, 4, &d, &dl), 0);
  assert_int_equal(dl, 1);
  assert_int_equal(d[0], '0');
  assert_int_equal(rtp_ext_find(buf, &v, 5, &d, &dl), -ENOENT);
  assert_int_equal(rtp_ext_find(buf, &v, 0, &d, &dl), -ENOENT);
  assert_int_equal(rtp_ext_find(buf, &v, 15, &d, &dl), -ENOENT);
  assert_int_equal(rtp_ext_find(buf, &v, 200, &d, &dl), -ENOENT);
}

static void test_real_video(void **state) {
  uint8_t buf[2048];
  size_t n = testdata_load("rtp_vp8_keyframe.raw", buf, sizeof(buf));
  struct rtp_view v;
  const uint8_t *d;
  size_t dl;

  (void)state;
  assert_int_equal(parse_exact(buf, n, &v), 0);
  assert_int_equal(v.pt, 96);
  assert_int_equal(v.seq, 65534);
  assert_int_equal(v.ssrc, 0x2B5C2B2F);
  assert_int_equal(rtp_ext_find(buf, &v, 4, &d, &dl), 0);
  assert_int_equal(dl, 1);
  assert_int_equal(d[0], '1');
  assert_false(rtp_is_rtcp(buf, n));

  n = testdata_load("rtp_vp8_delta.raw", buf, sizeof(buf));
  assert_int_equal(parse_exact(buf, n, &v), 0);
  assert_int_equal(v.seq, 0);
  assert_int_equal(v.marker, 1);
}

static void test_two_byte_ext(void **state) {
  /* Profile 0x1001 (appbits 1): id 1 len 0, a padding byte, id 20 len 3,
   * id 2 len 1, then padding to the word. */
  static const uint8_t p[] = {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
                              0x10, 0x01, 0x00, 0x03,
                              1, 0, 0, 20, 3, 'a', 'b', 'c', 2, 1, 'z', 0,
                              'P', 'L'};
  struct rtp_view v;
  const uint8_t *d;
  size_t dl;

  (void)state;
  assert_int_equal(parse_exact(p, sizeof(p), &v), 0);
  assert_int_equal(v.ext_profile, 0x1001);
  assert_int_equal(v.ext_off, 16);
  assert_int_equal(v.ext_len, 12);
  assert_int_equal(v.header_len, 28);
  assert_int_equal(v.payload_len, 2);
  assert_int_equal(rtp_ext_find(p, &v, 1, &d, &dl), 0);
  assert_int_equal(dl, 0);
  assert_int_equal(rtp_ext_find(p, &v, 20, &d, &dl), 0);
  assert_int_equal(dl, 3);
  assert_memory_equal(d, "abc", 3);
  assert_int_equal(rtp_ext_find(p, &v, 2, &d, &dl), 0);
  assert_int_equal(dl, 1);
  assert_int_equal(d[0], 'z');
  assert_int_equal(rtp_ext_find(p, &v, 3, &d, &dl), -ENOENT);
}

static void test_ext_malformed(void **state) {
  /* One-byte: id 1 claims 4 bytes but only 3 remain in the block. */
  uint8_t a[] = {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
                 0xBE, 0xDE, 0x00, 0x01, 0x13, 'a', 'b', 'c'};
  /* One-byte: id 2 ok, then id 15 stops the walk before a well-formed
   * id 3 (which a walk past id 15 would find). */
  uint8_t b[] = {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
                 0xBE, 0xDE, 0x00, 0x02, 0x20, 'x', 0xF0, 0x30,
                 0x30, 'y', 0, 0};
  /* Two-byte: id 5 len 1, then an id with no length byte. */
  uint8_t c[] = {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
                 0x10, 0x00, 0x00, 0x01, 5, 1, 'q', 7};
  /* Unknown profile: nothing can be found. */
  uint8_t e[] = {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
                 0x12, 0x34, 0x00, 0x01, 0x10, 'a', 0, 0};
  struct rtp_view v;
  const uint8_t *d;
  size_t dl;

  (void)state;
  assert_int_equal(parse_exact(a, sizeof(a), &v), 0);
  assert_int_equal(rtp_ext_find(a, &v, 1, &d, &dl), -EBADMSG);
  assert_int_equal(rtp_ext_find(a, &v, 2, &d, &dl), -EBADMSG);

  assert_int_equal(parse_exact(b, sizeof(b), &v), 0);
  assert_int_equal(rtp_ext_find(b, &v, 2, &d, &dl), 0);
  assert_int_equal(rtp_ext_find(b, &v, 3, &d, &dl), -ENOENT);

  assert_int_equal(parse_exact(c, sizeof(c), &v), 0);
  assert_int_equal(rtp_ext_find(c, &v, 5, &d, &dl), 0);
  assert_int_equal(d[0], 'q');
  assert_int_equal(rtp_ext_find(c, &v, 7, &d, &dl), -EBADMSG);
  c[19] = 0; /* now a padding byte */
  assert_int_equal(rtp_ext_find(c, &v, 7, &d, &dl), -ENOENT);
  c[17] = 3; /* id 5 overruns */
  assert_int_equal(rtp_ext_find(c, &v, 5, &d, &dl), -EBADMSG);

  assert_int_equal(parse_exact(e, sizeof(e), &v), 0);
  assert_int_equal(v.ext_profile, 0x1234);
  assert_int_equal(rtp_ext_find(e, &v, 1, &d, &dl), -ENOENT);

  /* An empty block is valid and holds nothing. */
  e[15] = 0;
  assert_int_equal(parse_exact(e, 16, &v), 0);
  assert_int_equal(v.ext_len, 0);
  e[12] = 0xBE;
  e[13] = 0xDE;
  assert_int_equal(rtp_ext_find(e, &v, 1, &d, &dl), -ENOENT);
}

static void test_malformed(void **state) {
  uint8_t p[64];
  struct rtp_view v;
  size_t len;
  unsigned ver;

  (void)state;
  memset(p, 0, sizeof(p));
  p[0] = 0x80;
  for (len = 0; len < RTP_HEADER_MIN; len++)
    assert_int_equal(parse_exact(p, len, &v), -EBADMSG);
  assert_int_equal(rtp_parse(NULL, 12, &v), -EBADMSG);
  for (ver = 0; ver < 4; ver++) {
    p[0] = (uint8_t)(ver << 6);
    assert_int_equal(parse_exact(p, 12, &v), ver == 2 ? 0 : -EBADMSG);
  }
  /* CSRC count past the end. */
  p[0] = 0x83;
  assert_int_equal(parse_exact(p, 23, &v), -EBADMSG);
  assert_int_equal(parse_exact(p, 24, &v), 0);
  /* Extension header cut short, then extension length past the end. */
  p[0] = 0x90;
  assert_int_equal(parse_exact(p, 15, &v), -EBADMSG);
  p[12] = 0xBE;
  p[13] = 0xDE;
  p[14] = 0;
  p[15] = 2;
  assert_int_equal(parse_exact(p, 23, &v), -EBADMSG);
  assert_int_equal(parse_exact(p, 24, &v), 0);
  p[14] = 0xFF;
  assert_int_equal(parse_exact(p, sizeof(p), &v), -EBADMSG);
  /* Padding: zero count, count beyond the payload, and the header. */
  p[0] = 0xa0;
  p[13] = 0;
  assert_int_equal(parse_exact(p, 14, &v), -EBADMSG);
  p[13] = 3;
  assert_int_equal(parse_exact(p, 14, &v), -EBADMSG);
  p[13] = 2;
  assert_int_equal(parse_exact(p, 14, &v), 0);
  assert_int_equal(v.payload_len, 0);
  /* P set on a 12-byte packet: its last header byte is not padding. */
  p[11] = 1;
  assert_int_equal(parse_exact(p, 12, &v), -EBADMSG);
}

static void test_every_prefix(void **state) {
  static const char *files[] = {"rtp_opus.raw", "rtp_vp8_keyframe.raw",
                                "rtp_vp8_delta.raw"};
  uint8_t buf[2048];
  size_t f;

  (void)state;
  for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
    size_t n = testdata_load(files[f], buf, sizeof(buf)), len;
    for (len = 0; len <= n; len++) {
      struct rtp_view v;
      int r = parse_exact(buf, len, &v);
      if (r == 0) {
        assert_int_equal(v.payload_off + v.payload_len + v.padding_len, len);
        assert_true(v.header_len >= RTP_HEADER_MIN && v.header_len <= len);
      } else {
        assert_int_equal(r, -EBADMSG);
      }
      /* The header block of these files is 28 bytes. */
      assert_int_equal(r, len >= 28 ? 0 : -EBADMSG);
    }
  }
}

static void test_every_byte_value(void **state) {
  /* Any value of the first byte over a 40-byte buffer parses or fails
   * cleanly, with consistent lengths. */
  uint8_t p[40];
  unsigned b0, last;
  struct rtp_view v;

  (void)state;
  memset(p, 0x01, sizeof(p));
  for (b0 = 0; b0 < 256; b0++)
    for (last = 0; last < 256; last += 5) {
      int r;
      p[0] = (uint8_t)b0;
      p[39] = (uint8_t)last;
      r = parse_exact(p, sizeof(p), &v);
      if (r == 0)
        assert_int_equal(v.payload_off + v.payload_len + v.padding_len, 40);
      else
        assert_int_equal(r, -EBADMSG);
    }
}

static void check_roundtrip(const struct rtp_header *h, uint16_t profile) {
  uint8_t out[1400];
  struct rtp_view v;
  size_t i, cap;
  int n = rtp_write_header(out, sizeof(out), h);

  assert_true(n >= RTP_HEADER_MIN);
  assert_int_equal(n % 4, 0);
  assert_int_equal(parse_exact(out, (size_t)n, &v), 0);
  assert_int_equal(v.marker, h->marker ? 1 : 0);
  assert_int_equal(v.pt, h->pt);
  assert_int_equal(v.seq, h->seq);
  assert_int_equal(v.ts, h->ts);
  assert_int_equal(v.ssrc, h->ssrc);
  assert_int_equal(v.csrc_count, 0);
  assert_int_equal(v.header_len, (size_t)n);
  assert_int_equal(v.payload_len, 0);
  assert_int_equal(v.ext_profile, profile);
  for (i = 0; i < h->n_ext; i++) {
    const uint8_t *d;
    size_t dl;
    assert_int_equal(rtp_ext_find(out, &v, h->ext[i].id, &d, &dl), 0);
    assert_int_equal(dl, h->ext[i].len);
    if (dl > 0)
      assert_memory_equal(d, h->ext[i].data, dl);
  }
  for (cap = 0; cap < (size_t)n; cap++)
    assert_int_equal(rtp_write_header(out, cap, h), -ENOSPC);
  assert_int_equal(rtp_write_header(out, (size_t)n, h), n);
}

static void test_write_roundtrip(void **state) {
  static const uint8_t bytes[300] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                     13, 14, 15, 16, 17, 18};
  struct rtp_ext one[14], two[3];
  struct rtp_header h = {1, 96, 65535, 0xffffffffu, 0x12345678u, NULL, 0};
  uint8_t out[64];
  int i;

  (void)state;
  check_roundtrip(&h, 0);
  assert_int_equal(rtp_write_header(out, sizeof(out), &h), 12);
  assert_memory_equal(out, "\x80\xe0\xff\xff\xff\xff\xff\xff\x12\x34\x56\x78",
                      12);

  /* Every one-byte id with lengths 1..14 (one is 16 long). */
  for (i = 0; i < 14; i++) {
    one[i].id = (uint8_t)(i + 1);
    one[i].len = (uint8_t)(i == 13 ? 16 : i + 1);
    one[i].data = bytes + i;
  }
  h.marker = 0;
  h.pt = 111;
  h.ext = one;
  h.n_ext = 14;
  check_roundtrip(&h, 0xBEDE);
  /* A single 1-byte element: 2 bytes padded to 4 with zeros. */
  h.n_ext = 1;
  assert_int_equal(rtp_write_header(out, sizeof(out), &h), 20);
  assert_memory_equal(out + 12, "\xBE\xDE\x00\x01\x10\x01\x00\x00", 8);

  /* Two-byte form is forced by id 15, by len 0 and by len 17. */
  two[0].id = 1;
  two[0].len = 1;
  two[0].data = bytes;
  two[1].id = 15;
  two[1].len = 2;
  two[1].data = bytes;
  h.ext = two;
  h.n_ext = 2;
  check_roundtrip(&h, 0x1000);
  two[1].id = 2;
  two[1].len = 0;
  two[1].data = NULL;
  check_roundtrip(&h, 0x1000);
  two[1].len = 17;
  two[1].data = bytes;
  check_roundtrip(&h, 0x1000);
  two[2].id = 255;
  two[2].len = 255;
  two[2].data = bytes;
  h.n_ext = 3;
  check_roundtrip(&h, 0x1000);
  assert_int_equal(rtp_write_header(out, sizeof(out), &h), -ENOSPC);
}

static void test_write_invalid(void **state) {
  static const uint8_t x = 1;
  struct rtp_ext e = {1, 1, &x};
  struct rtp_header h = {0, 128, 1, 2, 3, NULL, 0};
  uint8_t out[64];

  (void)state;
  assert_int_equal(rtp_write_header(out, sizeof(out), &h), -EINVAL);
  h.pt = 127;
  assert_int_equal(rtp_write_header(out, sizeof(out), &h), 12);
  assert_int_equal(rtp_write_header(out, sizeof(out), NULL), -EINVAL);
  assert_int_equal(rtp_write_header(NULL, 0, &h), -ENOSPC);
  h.n_ext = 1;
  assert_int_equal(rtp_write_header(out, sizeof(out), &h), -EINVAL);
  h.ext = &e;
  e.id = 0;
  assert_int_equal(rtp_write_header(out, sizeof(out), &h), -EINVAL);
  e.id = 3;
  e.data = NULL;
  assert_int_equal(rtp_write_header(out, sizeof(out), &h), -EINVAL);
  e.data = &x;
  assert_int_equal(rtp_write_header(out, sizeof(out), &h), 20);
}

static void test_is_rtcp(void **state) {
  uint8_t p[12] = {0x80, 0};
  uint8_t sr[128];
  size_t n;
  unsigned b;

  (void)state;
  for (b = 0; b < 256; b++) {
    p[1] = (uint8_t)b;
    assert_int_equal(rtp_is_rtcp(p, sizeof(p)), b >= 192 && b <= 223);
  }
  p[1] = 200;
  assert_false(rtp_is_rtcp(p, 1));
  assert_false(rtp_is_rtcp(NULL, 0));
  n = testdata_load("rtp_rtcp_sr_sdes.raw", sr, sizeof(sr));
  assert_true(rtp_is_rtcp(sr, n));
  n = testdata_load("rtp_opus.raw", sr, sizeof(sr));
  assert_false(rtp_is_rtcp(sr, n));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_minimal),
      cmocka_unit_test(test_csrc_padding),
      cmocka_unit_test(test_padding_only),
      cmocka_unit_test(test_one_byte_ext_real),
      cmocka_unit_test(test_real_video),
      cmocka_unit_test(test_two_byte_ext),
      cmocka_unit_test(test_ext_malformed),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_every_prefix),
      cmocka_unit_test(test_every_byte_value),
      cmocka_unit_test(test_write_roundtrip),
      cmocka_unit_test(test_write_invalid),
      cmocka_unit_test(test_is_rtcp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
