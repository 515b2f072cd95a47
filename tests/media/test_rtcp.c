/* test_rtcp.c -- unit tests for media/rtcp.c (compound iteration, feedback). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtcp.h"
#include "tests/media/testdata.h"

/* Runs every parser on every item of a heap copy of exactly len bytes, so
 * ASan sees any overread. Returns the number of items, or the error. */
static int walk_exact(const uint8_t *src, size_t len) {
  uint8_t *copy = testdata_copy(src, len);
  struct rtcp_iter it;
  struct rtcp_item item;
  int r, count = 0;

  rtcp_iter_init(&it, copy, len);
  while ((r = rtcp_iter_next(&it, &item)) == 1) {
    struct rtcp_sr sr;
    struct rtcp_report_block b[31];
    uint16_t seqs[64];
    uint32_t ssrcs[8], ssrc;
    uint64_t br;
    uint8_t nr;
    size_t n;

    assert_true(item.data >= copy && item.data + item.len <= copy + len);
    (void)rtcp_parse_sr(&item, &sr);
    (void)rtcp_parse_report_blocks(&item, b, 31, &n);
    (void)rtcp_parse_nack(&item, seqs, 64, &n);
    (void)rtcp_parse_remb(&item, &br, ssrcs, 8, &n);
    (void)rtcp_parse_fir(&item, &ssrc, &nr);
    count++;
  }
  free(copy);
  return r < 0 ? r : count;
}

/* Field by field: the struct has padding after fraction_lost. */
static void block_equal(const struct rtcp_report_block *a,
                        const struct rtcp_report_block *b) {
  assert_int_equal(a->ssrc, b->ssrc);
  assert_int_equal(a->fraction_lost, b->fraction_lost);
  assert_int_equal(a->cumulative_lost, b->cumulative_lost);
  assert_int_equal(a->ext_highest_seq, b->ext_highest_seq);
  assert_int_equal(a->jitter, b->jitter);
  assert_int_equal(a->lsr, b->lsr);
  assert_int_equal(a->dlsr, b->dlsr);
}

static void test_real_sr_sdes(void **state) {
  uint8_t buf[256];
  size_t n = testdata_load("rtp_rtcp_sr_sdes.raw", buf, sizeof(buf)), nb = 9;
  struct rtcp_iter it;
  struct rtcp_item item;
  struct rtcp_sr sr;
  struct rtcp_report_block b[4];

  (void)state;
  rtcp_iter_init(&it, buf, n);
  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(item.pt, RTCP_SR);
  assert_int_equal(item.fmt, 0);
  assert_int_equal(item.len, 28);
  assert_ptr_equal(item.data, buf);
  assert_int_equal(item.sender_ssrc, 0x2CFC4C9F);
  assert_int_equal(item.media_ssrc, 0);
  assert_int_equal(rtcp_parse_sr(&item, &sr), 0);
  assert_int_equal(sr.ssrc, 0x2CFC4C9F);
  assert_int_equal(sr.ntp_sec, 0xE9B2C0A1);
  assert_int_equal(sr.ntp_frac, 0x4189374B);
  assert_int_equal(sr.rtp_ts, 960000);
  assert_int_equal(sr.packet_count, 500);
  assert_int_equal(sr.octet_count, 40000);
  assert_int_equal(rtcp_parse_report_blocks(&item, b, 4, &nb), 0);
  assert_int_equal(nb, 0);

  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(item.pt, RTCP_SDES);
  assert_int_equal(item.fmt, 1);
  assert_int_equal(item.sender_ssrc, 0x2CFC4C9F);
  assert_int_equal(item.len, n - 28);
  assert_int_equal(rtcp_parse_sr(&item, &sr), -EINVAL);
  assert_int_equal(rtcp_iter_next(&it, &item), 0);
  assert_int_equal(rtcp_iter_next(&it, &item), 0);
}

static void test_rr_roundtrip(void **state) {
  struct rtcp_report_block in[2] = {
      {0x11111111, 25, -3, 0x0001fffe, 123, 0xaabbccdd, 65536},
      {0x22222222, 255, 8388607, 7, 0, 0, 0}};
  struct rtcp_report_block out[2];
  uint8_t buf[128];
  struct rtcp_iter it;
  struct rtcp_item item;
  size_t n;
  int len;

  (void)state;
  len = rtcp_write_rr(buf, sizeof(buf), 0xcafebabe, in, 2);
  assert_int_equal(len, 8 + 48);
  assert_memory_equal(buf, "\x82\xc9\x00\x0d\xca\xfe\xba\xbe", 8);
  /* cumulative lost -3 is 0xfffffd on the wire. */
  assert_memory_equal(buf + 12, "\x19\xff\xff\xfd", 4);
  rtcp_iter_init(&it, buf, (size_t)len);
  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(item.pt, RTCP_RR);
  assert_int_equal(item.fmt, 2);
  assert_int_equal(item.sender_ssrc, 0xcafebabe);
  assert_int_equal(rtcp_parse_report_blocks(&item, out, 2, &n), 0);
  assert_int_equal(n, 2);
  block_equal(&out[0], &in[0]);
  assert_int_equal(out[1].ssrc, in[1].ssrc);
  assert_int_equal(out[1].fraction_lost, 255);
  assert_int_equal(out[1].cumulative_lost, 8388607);
  assert_int_equal(out[1].ext_highest_seq, 7);
  /* Fewer slots than blocks: the rest are ignored. */
  assert_int_equal(rtcp_parse_report_blocks(&item, out, 1, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(rtcp_iter_next(&it, &item), 0);

  /* Out-of-range losses are clamped to 24-bit signed. */
  in[0].cumulative_lost = 0x7fffffff;
  in[1].cumulative_lost = -10000000;
  len = rtcp_write_rr(buf, sizeof(buf), 1, in, 2);
  rtcp_iter_init(&it, buf, (size_t)len);
  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(rtcp_parse_report_blocks(&item, out, 2, &n), 0);
  assert_int_equal(out[0].cumulative_lost, 0x7fffff);
  assert_int_equal(out[1].cumulative_lost, -0x800000);

  /* An empty RR is 8 bytes; limits. */
  assert_int_equal(rtcp_write_rr(buf, sizeof(buf), 1, NULL, 0), 8);
  assert_int_equal(rtcp_write_rr(buf, 7, 1, NULL, 0), -ENOSPC);
  assert_int_equal(rtcp_write_rr(buf, 8 + 47, 1, in, 2), -ENOSPC);
  assert_int_equal(rtcp_write_rr(buf, sizeof(buf), 1, in, 32), -EINVAL);
}

static void test_sr_roundtrip(void **state) {
  struct rtcp_sr in = {0x01020304, 3900000000u, 0x80000000u, 123456, 10, 1000};
  struct rtcp_sr out;
  struct rtcp_report_block b = {0x55667788, 1, 2, 3, 4, 5, 6}, ob;
  uint8_t buf[64];
  struct rtcp_iter it;
  struct rtcp_item item;
  size_t n;
  int len = rtcp_write_sr(buf, sizeof(buf), &in, &b, 1);

  (void)state;
  assert_int_equal(len, 52);
  assert_int_equal(buf[0], 0x81);
  assert_int_equal(buf[1], 200);
  assert_int_equal(buf[3], 12);
  rtcp_iter_init(&it, buf, (size_t)len);
  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(rtcp_parse_sr(&item, &out), 0);
  assert_memory_equal(&out, &in, sizeof(in));
  assert_int_equal(rtcp_parse_report_blocks(&item, &ob, 1, &n), 0);
  assert_int_equal(n, 1);
  block_equal(&ob, &b);
  assert_int_equal(rtcp_write_sr(buf, 51, &in, &b, 1), -ENOSPC);
  assert_int_equal(rtcp_write_sr(buf, sizeof(buf), &in, NULL, 0), 28);
  assert_int_equal(rtcp_write_sr(buf, sizeof(buf), NULL, NULL, 0), -EINVAL);
}

static void test_pli_fir(void **state) {
  uint8_t buf[32];
  struct rtcp_iter it;
  struct rtcp_item item;
  uint32_t ssrc;
  uint8_t nr;

  (void)state;
  /* RFC 4585 6.3.1: PSFB, FMT 1, length 2, no FCI. */
  assert_int_equal(rtcp_write_pli(buf, sizeof(buf), 0x01020304, 0x0a0b0c0d),
                   12);
  assert_memory_equal(buf, "\x81\xce\x00\x02\x01\x02\x03\x04\x0a\x0b\x0c\x0d",
                      12);
  assert_int_equal(rtcp_write_pli(buf, 11, 1, 2), -ENOSPC);
  rtcp_iter_init(&it, buf, 12);
  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(item.pt, RTCP_PSFB);
  assert_int_equal(item.fmt, RTCP_FB_PLI);
  assert_int_equal(item.sender_ssrc, 0x01020304);
  assert_int_equal(item.media_ssrc, 0x0a0b0c0d);
  assert_int_equal(rtcp_parse_fir(&item, &ssrc, &nr), -EINVAL);

  /* RFC 5104 4.3.1: FMT 4, media source 0, FCI = SSRC, seq nr, reserved. */
  assert_int_equal(rtcp_write_fir(buf, sizeof(buf), 0x01020304, 0x0a0b0c0d, 7),
                   20);
  assert_memory_equal(buf,
                      "\x84\xce\x00\x04\x01\x02\x03\x04\x00\x00\x00\x00"
                      "\x0a\x0b\x0c\x0d\x07\x00\x00\x00",
                      20);
  assert_int_equal(rtcp_write_fir(buf, 19, 1, 2, 3), -ENOSPC);
  rtcp_iter_init(&it, buf, 20);
  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(item.fmt, RTCP_FB_FIR);
  assert_int_equal(item.media_ssrc, 0);
  assert_int_equal(rtcp_parse_fir(&item, &ssrc, &nr), 0);
  assert_int_equal(ssrc, 0x0a0b0c0d);
  assert_int_equal(nr, 7);
  /* A FIR without FCI. */
  buf[3] = 2;
  rtcp_iter_init(&it, buf, 12);
  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(rtcp_parse_fir(&item, &ssrc, &nr), -EBADMSG);
}

static void nack_roundtrip(const uint16_t *seqs, size_t n, size_t want_fci) {
  uint8_t buf[512];
  uint16_t out[512];
  struct rtcp_iter it;
  struct rtcp_item item;
  size_t got, i, j;
  int len = rtcp_write_nack(buf, sizeof(buf), 0x11, 0x22, seqs, n);

  assert_int_equal(len, 12 + 4 * want_fci);
  rtcp_iter_init(&it, buf, (size_t)len);
  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(item.pt, RTCP_RTPFB);
  assert_int_equal(item.fmt, RTCP_FB_NACK);
  assert_int_equal(item.sender_ssrc, 0x11);
  assert_int_equal(item.media_ssrc, 0x22);
  assert_int_equal(rtcp_parse_nack(&item, out, 512, &got), 0);
  /* Same set: every input is in the output and the output has no extras
   * beyond duplicates of the input. */
  for (i = 0; i < n; i++) {
    for (j = 0; j < got && out[j] != seqs[i]; j++)
      ;
    assert_true(j < got);
  }
  for (j = 0; j < got; j++) {
    for (i = 0; i < n && out[j] != seqs[i]; i++)
      ;
    assert_true(i < n);
  }
  assert_int_equal(rtcp_iter_next(&it, &item), 0);
  /* Every smaller capacity fails cleanly. */
  for (i = 0; i < (size_t)len; i++)
    assert_int_equal(rtcp_write_nack(buf, i, 1, 2, seqs, n), -ENOSPC);
}

static void test_nack(void **state) {
  static const uint16_t a[] = {100, 101, 105, 116, 117, 200};
  static const uint16_t wrap[] = {65530, 65533, 65535, 0, 1, 9, 10, 11};
  static const uint16_t unordered[] = {50, 40, 41, 50, 56, 39, 40};
  uint16_t many[100];
  /* RFC 4585 6.2.1: PID 0x1234 with BLP bits 0 and 2. */
  static const uint8_t known[] = {0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2,
                                  0x12, 0x34, 0x00, 0x05};
  uint8_t buf[64];
  uint16_t out[40];
  struct rtcp_iter it;
  struct rtcp_item item;
  size_t n, i;

  (void)state;
  rtcp_iter_init(&it, known, sizeof(known));
  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(rtcp_parse_nack(&item, out, 40, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(out[0], 0x1234);
  assert_int_equal(out[1], 0x1235);
  assert_int_equal(out[2], 0x1237);
  /* Truncated expansion. */
  assert_int_equal(rtcp_parse_nack(&item, out, 2, &n), 0);
  assert_int_equal(n, 2);

  assert_int_equal(rtcp_write_nack(buf, sizeof(buf), 1, 2, a, 6), 24);
  assert_memory_equal(buf + 12,
                      "\x00\x64\x80\x11\x00\x75\x00\x00\x00\xc8\x00\x00", 12);
  nack_roundtrip(a, 6, 3);
  /* 65530 covers up to 65530+16 = 10 across the wrap; 11 needs a new one. */
  nack_roundtrip(wrap, 8, 2);
  assert_int_equal(rtcp_write_nack(buf, sizeof(buf), 1, 2, wrap, 8), 20);
  assert_memory_equal(buf + 12, "\xff\xfa\xc0\x74\x00\x0b\x00\x00", 8);
  rtcp_iter_init(&it, buf, 20);
  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(rtcp_parse_nack(&item, out, 40, &n), 0);
  assert_int_equal(n, 8);
  assert_memory_equal(out, wrap, sizeof(wrap));
  nack_roundtrip(unordered, 7, 3);
  for (i = 0; i < 100; i++)
    many[i] = (uint16_t)(65500 + 3 * i);
  nack_roundtrip(many, 100, 17);
  assert_int_equal(rtcp_write_nack(buf, sizeof(buf), 1, 2, a, 0), -EINVAL);
  assert_int_equal(rtcp_write_nack(buf, sizeof(buf), 1, 2, NULL, 1), -EINVAL);

  /* A NACK without FCI is malformed; a PLI is not a NACK. */
  rtcp_write_pli(buf, sizeof(buf), 1, 2);
  rtcp_iter_init(&it, buf, 12);
  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(rtcp_parse_nack(&item, out, 40, &n), -EINVAL);
  buf[1] = RTCP_RTPFB;
  rtcp_iter_init(&it, buf, 12);
  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(rtcp_parse_nack(&item, out, 40, &n), -EBADMSG);
}

static void test_remb(void **state) {
  static const uint64_t rates[] = {0, 1, 1000, 0x3ffff, 0x40000, 64000,
                                   300000, 1000000, 2500000, 123456789,
                                   1000000000000ull, UINT64_MAX};
  static const uint32_t ssrcs[] = {0xaaaaaaaa, 0xbbbbbbbb};
  uint8_t buf[64];
  uint32_t out[4];
  struct rtcp_iter it;
  struct rtcp_item item;
  uint64_t br;
  size_t n, i;

  (void)state;
  /* 1 Mbit/s is 250000 << 2. */
  assert_int_equal(rtcp_write_remb(buf, sizeof(buf), 0x01020304, 1000000,
                                   ssrcs, 2), 28);
  assert_memory_equal(buf,
                      "\x8f\xce\x00\x06\x01\x02\x03\x04\x00\x00\x00\x00"
                      "REMB\x02\x0b\xd0\x90\xaa\xaa\xaa\xaa\xbb\xbb\xbb\xbb",
                      28);
  for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
    int len = rtcp_write_remb(buf, sizeof(buf), 7, rates[i], ssrcs, 2);
    uint64_t err;
    assert_int_equal(len, 28);
    rtcp_iter_init(&it, buf, (size_t)len);
    assert_int_equal(rtcp_iter_next(&it, &item), 1);
    assert_int_equal(item.fmt, RTCP_FB_AFB);
    assert_int_equal(item.media_ssrc, 0);
    assert_int_equal(rtcp_parse_remb(&item, &br, out, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], ssrcs[0]);
    assert_int_equal(out[1], ssrcs[1]);
    /* Rounded down, within one part in 2^17. */
    assert_true(br <= rates[i]);
    err = rates[i] - br;
    assert_true(err == 0 || err <= rates[i] >> 17);
    if (rates[i] <= 0x3ffff || rates[i] == 1000000)
      assert_true(br == rates[i]);
  }
  assert_int_equal(rtcp_write_remb(buf, sizeof(buf), 7, 5, NULL, 0), 20);
  assert_int_equal(rtcp_write_remb(buf, 27, 7, 5, ssrcs, 2), -ENOSPC);
  assert_int_equal(rtcp_write_remb(buf, sizeof(buf), 7, 5, ssrcs, 256),
                   -EINVAL);

  /* Fewer slots than SSRCs. */
  rtcp_write_remb(buf, sizeof(buf), 7, 5, ssrcs, 2);
  rtcp_iter_init(&it, buf, 28);
  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(rtcp_parse_remb(&item, &br, out, 1, &n), 0);
  assert_int_equal(n, 1);
  /* The largest exponent with a full mantissa saturates. */
  buf[17] = 0xff;
  buf[18] = 0xff;
  buf[19] = 0xff;
  assert_int_equal(rtcp_parse_remb(&item, &br, out, 4, &n), 0);
  assert_true(br == UINT64_MAX);
  /* More SSRCs claimed than present. */
  buf[16] = 3;
  assert_int_equal(rtcp_parse_remb(&item, &br, out, 4, &n), -EBADMSG);
  /* Another AFB application. */
  memcpy(buf + 12, "ABCD", 4);
  assert_int_equal(rtcp_parse_remb(&item, &br, out, 4, &n), -EINVAL);
  /* An AFB too short for its identifier. */
  rtcp_write_pli(buf, sizeof(buf), 1, 2);
  buf[0] = 0x8f;
  rtcp_iter_init(&it, buf, 12);
  assert_int_equal(rtcp_iter_next(&it, &item), 1);
  assert_int_equal(rtcp_parse_remb(&item, &br, out, 4, &n), -EBADMSG);
}

/* SR + RR + PLI + FIR + NACK + REMB + SDES from the builders. */
static size_t build_compound(uint8_t *buf, size_t cap) {
  struct rtcp_sr sr = {1, 2, 3, 4, 5, 6};
  struct rtcp_report_block b = {9, 1, 1, 1, 1, 1, 1};
  static const uint16_t seqs[] = {65535, 0, 3};
  static const uint32_t ssrc = 9;
  uint8_t sdes[128];
  size_t off = 0, n;
  int r;

  r = rtcp_write_sr(buf + off, cap - off, &sr, &b, 1);
  assert_true(r > 0);
  off += (size_t)r;
  r = rtcp_write_rr(buf + off, cap - off, 1, &b, 1);
  assert_true(r > 0);
  off += (size_t)r;
  r = rtcp_write_pli(buf + off, cap - off, 1, 9);
  assert_true(r > 0);
  off += (size_t)r;
  r = rtcp_write_fir(buf + off, cap - off, 1, 9, 3);
  assert_true(r > 0);
  off += (size_t)r;
  r = rtcp_write_nack(buf + off, cap - off, 1, 9, seqs, 3);
  assert_true(r > 0);
  off += (size_t)r;
  r = rtcp_write_remb(buf + off, cap - off, 1, 500000, &ssrc, 1);
  assert_true(r > 0);
  off += (size_t)r;
  /* The browser's SDES, which follows its 28-byte SR. */
  n = testdata_load("rtp_rtcp_sr_sdes.raw", sdes, sizeof(sdes));
  assert_true(cap - off >= n - 28);
  memcpy(buf + off, sdes + 28, n - 28);
  return off + n - 28;
}

static void test_compound(void **state) {
  static const uint8_t want_pt[] = {RTCP_SR,    RTCP_RR,   RTCP_PSFB, RTCP_PSFB,
                                    RTCP_RTPFB, RTCP_PSFB, RTCP_SDES};
  static const uint8_t want_fmt[] = {1, 1, 1, 4, 1, 15, 1};
  uint8_t buf[512];
  size_t len = build_compound(buf, sizeof(buf)), i = 0, n;
  struct rtcp_iter it;
  struct rtcp_item item;
  uint16_t seqs[8];
  int r;

  (void)state;
  rtcp_iter_init(&it, buf, len);
  while ((r = rtcp_iter_next(&it, &item)) == 1) {
    assert_true(i < 7);
    assert_int_equal(item.pt, want_pt[i]);
    assert_int_equal(item.fmt, want_fmt[i]);
    if (item.pt == RTCP_RTPFB) {
      assert_int_equal(rtcp_parse_nack(&item, seqs, 8, &n), 0);
      assert_int_equal(n, 3);
      assert_int_equal(seqs[0], 65535);
      assert_int_equal(seqs[1], 0);
      assert_int_equal(seqs[2], 3);
    }
    i++;
  }
  assert_int_equal(r, 0);
  assert_int_equal(i, 7);
  assert_int_equal(walk_exact(buf, len), 7);
}

static void test_malformed(void **state) {
  uint8_t buf[512];
  size_t len = build_compound(buf, sizeof(buf)), cut, ends[8], k = 0;
  struct rtcp_iter it;
  struct rtcp_item item;

  (void)state;
  /* Every prefix: whole packets only iterate cleanly, anything else ends in
   * -EBADMSG after the complete ones. */
  rtcp_iter_init(&it, buf, len);
  ends[k++] = 0;
  while (rtcp_iter_next(&it, &item) == 1)
    ends[k++] = it.off;
  for (cut = 0; cut <= len; cut++) {
    size_t j, whole = 0;
    bool boundary = false;
    for (j = 0; j < k; j++) {
      if (ends[j] <= cut)
        whole = j;
      if (ends[j] == cut)
        boundary = true;
    }
    assert_int_equal(walk_exact(buf, cut), boundary ? (int)whole : -EBADMSG);
  }

  /* Bad version; length past the end; -EBADMSG ends the iteration. */
  buf[0] = 0x41;
  rtcp_iter_init(&it, buf, len);
  assert_int_equal(rtcp_iter_next(&it, &item), -EBADMSG);
  assert_int_equal(rtcp_iter_next(&it, &item), 0);
  buf[0] = 0x81;
  buf[2] = 0xff;
  assert_int_equal(walk_exact(buf, len), -EBADMSG);
  buf[2] = 0;

  /* Counts the length cannot hold: SR with RC=2, RR with RC=31, BYE. */
  buf[0] = 0x82;
  assert_int_equal(walk_exact(buf, len), -EBADMSG);
  buf[0] = 0x81;
  buf[52] = 0x9f;
  assert_int_equal(walk_exact(buf, len), -EBADMSG);
  buf[52] = 0x81;
  assert_int_equal(walk_exact(buf, len), 7);
  {
    uint8_t bye[] = {0x82, RTCP_BYE, 0, 1, 0, 0, 0, 1};
    uint8_t fb[] = {0x81, RTCP_PSFB, 0, 1, 0, 0, 0, 1};
    uint8_t odd[] = {0x80, 210, 0, 0};
    uint8_t sdes0[] = {0x80, RTCP_SDES, 0, 1, 1, 2, 3, 4};
    assert_int_equal(walk_exact(bye, sizeof(bye)), -EBADMSG);
    bye[0] = 0x81;
    assert_int_equal(walk_exact(bye, sizeof(bye)), 1);
    assert_int_equal(walk_exact(fb, sizeof(fb)), -EBADMSG);
    assert_int_equal(walk_exact(odd, sizeof(odd)), 1);
    rtcp_iter_init(&it, sdes0, sizeof(sdes0));
    assert_int_equal(rtcp_iter_next(&it, &item), 1);
    assert_int_equal(item.sender_ssrc, 0);
  }
  rtcp_iter_init(&it, NULL, 10);
  assert_int_equal(rtcp_iter_next(&it, &item), 0);
}

static void test_every_byte(void **state) {
  uint8_t buf[512];
  size_t len = build_compound(buf, sizeof(buf)), i;
  unsigned v;

  (void)state;
  /* Any value at any position parses or fails cleanly. */
  for (i = 0; i < len; i++) {
    uint8_t keep = buf[i];
    for (v = 0; v < 256; v += 3) {
      int r;
      buf[i] = (uint8_t)v;
      r = walk_exact(buf, len);
      assert_true(r == -EBADMSG || (r >= 1 && r <= 64));
    }
    buf[i] = keep;
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_real_sr_sdes),
      cmocka_unit_test(test_rr_roundtrip),
      cmocka_unit_test(test_sr_roundtrip),
      cmocka_unit_test(test_pli_fir),
      cmocka_unit_test(test_nack),
      cmocka_unit_test(test_remb),
      cmocka_unit_test(test_compound),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_every_byte),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
