/* test_demux.c -- RFC 7983 / RFC 5761 demultiplexing, every boundary byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/demux.h"

/* What RFC 7983 section 7 says the first byte B means, with the second byte
 * set to an RTP-looking value. */
static enum demux_kind expected(unsigned b) {
  if (b <= 3)
    return DEMUX_STUN;
  if (b >= 16 && b <= 19)
    return DEMUX_UNKNOWN; /* ZRTP */
  if (b >= 20 && b <= 63)
    return DEMUX_DTLS;
  if (b >= 64 && b <= 79)
    return DEMUX_UNKNOWN; /* TURN channel */
  if (b >= 128 && b <= 191)
    return DEMUX_RTP;
  return DEMUX_UNKNOWN;
}

static void test_every_first_byte(void **state) {
  (void)state;
  uint8_t pkt[64];
  memset(pkt, 0, sizeof(pkt));
  pkt[1] = 96; /* a dynamic RTP payload type, no marker */
  for (unsigned b = 0; b < 256; b++) {
    pkt[0] = (uint8_t)b;
    assert_int_equal(demux_classify(pkt, sizeof(pkt)), expected(b));
  }
}

static void test_boundaries(void **state) {
  (void)state;
  static const struct {
    uint8_t b;
    enum demux_kind k;
  } cases[] = {
      {0, DEMUX_STUN},      {3, DEMUX_STUN},      {4, DEMUX_UNKNOWN},   {15, DEMUX_UNKNOWN},
      {16, DEMUX_UNKNOWN},  {19, DEMUX_UNKNOWN},  {20, DEMUX_DTLS},     {63, DEMUX_DTLS},
      {64, DEMUX_UNKNOWN},  {79, DEMUX_UNKNOWN},  {80, DEMUX_UNKNOWN},  {127, DEMUX_UNKNOWN},
      {128, DEMUX_RTP},     {191, DEMUX_RTP},     {192, DEMUX_UNKNOWN}, {255, DEMUX_UNKNOWN},
  };
  uint8_t pkt[20] = {0};
  pkt[1] = 111;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pkt[0] = cases[i].b;
    assert_int_equal(demux_classify(pkt, sizeof(pkt)), cases[i].k);
  }
}

static void test_stun_length(void **state) {
  (void)state;
  uint8_t pkt[20] = {0x00, 0x01};
  assert_int_equal(demux_classify(pkt, 20), DEMUX_STUN);
  assert_int_equal(demux_classify(pkt, 19), DEMUX_UNKNOWN);
  assert_int_equal(demux_classify(pkt, 1), DEMUX_UNKNOWN);
  assert_int_equal(demux_classify(pkt, 0), DEMUX_UNKNOWN);
  assert_int_equal(demux_classify(NULL, 0), DEMUX_UNKNOWN);
  pkt[0] = 3;
  assert_int_equal(demux_classify(pkt, 20), DEMUX_STUN);
  assert_int_equal(demux_classify(pkt, 19), DEMUX_UNKNOWN);
}

static void test_rtp_vs_rtcp(void **state) {
  (void)state;
  /* RFC 5761 section 4: a second byte of 192..223 is an RTCP packet type. */
  uint8_t pkt[12] = {0x80};
  for (unsigned s = 0; s < 256; s++) {
    pkt[1] = (uint8_t)s;
    enum demux_kind want = (s >= 192 && s <= 223) ? DEMUX_RTCP : DEMUX_RTP;
    assert_int_equal(demux_classify(pkt, sizeof(pkt)), want);
  }
  pkt[1] = 191;
  assert_int_equal(demux_classify(pkt, sizeof(pkt)), DEMUX_RTP);
  pkt[1] = 192;
  assert_int_equal(demux_classify(pkt, sizeof(pkt)), DEMUX_RTCP);
  pkt[1] = 200; /* SR */
  assert_int_equal(demux_classify(pkt, sizeof(pkt)), DEMUX_RTCP);
  pkt[1] = 223;
  assert_int_equal(demux_classify(pkt, sizeof(pkt)), DEMUX_RTCP);
  pkt[1] = 224;
  assert_int_equal(demux_classify(pkt, sizeof(pkt)), DEMUX_RTP);
  /* Marker bit set on payload type 96 is 0xe0: RTP. */
  pkt[1] = 0x80 | 96;
  assert_int_equal(demux_classify(pkt, sizeof(pkt)), DEMUX_RTP);
  /* RTCP with padding or a report count (first byte 0x81..0xbf). */
  pkt[0] = 0xbf;
  pkt[1] = 201;
  assert_int_equal(demux_classify(pkt, sizeof(pkt)), DEMUX_RTCP);
  /* One byte cannot be told apart. */
  assert_int_equal(demux_classify(pkt, 1), DEMUX_UNKNOWN);
}

static void test_dtls_record(void **state) {
  (void)state;
  /* A DTLS 1.2 handshake record header: content type 22, version fefd. */
  uint8_t rec[13] = {22, 0xfe, 0xfd};
  assert_int_equal(demux_classify(rec, sizeof(rec)), DEMUX_DTLS);
  rec[0] = 23; /* application data */
  assert_int_equal(demux_classify(rec, sizeof(rec)), DEMUX_DTLS);
  rec[0] = 21; /* alert */
  assert_int_equal(demux_classify(rec, 1), DEMUX_DTLS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_first_byte), cmocka_unit_test(test_boundaries),
      cmocka_unit_test(test_stun_length),      cmocka_unit_test(test_rtp_vs_rtcp),
      cmocka_unit_test(test_dtls_record),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
