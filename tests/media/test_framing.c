/* test_framing.c -- RFC 4571 frames and the first-bytes test (media/framing.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/framing.h"

struct got {
  size_t n;
  size_t lens[16];
  uint8_t first[16];
};

static void on_pkt(void *arg, uint8_t *pkt, size_t n) {
  struct got *g = arg;
  if (g->n < 16) {
    g->lens[g->n] = n;
    g->first[g->n] = pkt[0];
  }
  g->n++;
}

static size_t frame(uint8_t *out, size_t n, uint8_t fill) {
  assert_int_equal(framing_header(out, n), 0);
  memset(out + 2, fill, n);
  return n + 2;
}

static void test_frames_in_any_split(void **state) {
  (void)state;
  uint8_t stream[3000];
  size_t len = frame(stream, 100, 1);
  len += frame(stream + len, 1, 2);
  len += frame(stream + len, FRAMING_MAX, 3);
  len += frame(stream + len, 20, 4);
  /* Every way of cutting the stream in two, and byte by byte, gives the same four frames. */
  for (size_t cut = 0; cut <= len; cut += 7) {
    struct framing_reader r;
    struct got g = {0};
    framing_reader_init(&r);
    assert_int_equal(framing_feed(&r, stream, cut, on_pkt, &g), 0);
    assert_int_equal(framing_feed(&r, stream + cut, len - cut, on_pkt, &g), 0);
    assert_int_equal(g.n, 4);
    assert_int_equal(g.lens[0], 100);
    assert_int_equal(g.lens[1], 1);
    assert_int_equal(g.lens[2], FRAMING_MAX);
    assert_int_equal(g.lens[3], 20);
    assert_int_equal(g.first[2], 3);
  }
  struct framing_reader r;
  struct got g = {0};
  framing_reader_init(&r);
  for (size_t i = 0; i < len; i++)
    assert_int_equal(framing_feed(&r, stream + i, 1, on_pkt, &g), 0);
  assert_int_equal(g.n, 4);
}

static void test_bad_lengths(void **state) {
  (void)state;
  uint8_t hdr[2];
  assert_int_equal(framing_header(hdr, 0), -EMSGSIZE);
  assert_int_equal(framing_header(hdr, FRAMING_MAX + 1), -EMSGSIZE);
  struct framing_reader r;
  struct got g = {0};
  uint8_t big[4] = {(FRAMING_MAX + 1) >> 8, (FRAMING_MAX + 1) & 0xff, 0, 0};
  framing_reader_init(&r);
  assert_int_equal(framing_feed(&r, big, 1, on_pkt, &g), 0); /* not known yet */
  assert_int_equal(framing_feed(&r, big + 1, 3, on_pkt, &g), -EMSGSIZE);
  uint8_t zero[3] = {0, 0, 9};
  framing_reader_init(&r);
  assert_int_equal(framing_feed(&r, zero, 3, on_pkt, &g), -EMSGSIZE);
  /* A good frame before a bad one is still delivered. */
  uint8_t s[20];
  size_t n = frame(s, 5, 7);
  s[n++] = 0xff;
  s[n++] = 0xff;
  framing_reader_init(&r);
  assert_int_equal(framing_feed(&r, s, n, on_pkt, &g), -EMSGSIZE);
  assert_int_equal(g.n, 1);
}

static void test_sniff(void **state) {
  (void)state;
  const uint8_t tls[] = {0x16, 0x03, 0x01, 0x02, 0x00};
  const uint8_t get[] = "GET / HTTP/1.1\r\n";
  const uint8_t options[] = "OPTIONS * HTTP/1.1\r\n";
  /* A framed Binding request: frame length 28, type 0x0001, STUN length 8, the cookie. */
  const uint8_t ice[] = {0x00, 0x1c, 0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 1, 2};
  assert_int_equal(framing_sniff(tls, 0), FRAMING_MORE);
  assert_int_equal(framing_sniff(tls, 2), FRAMING_MORE);
  assert_int_equal(framing_sniff(tls, sizeof(tls)), FRAMING_TLS);
  assert_int_equal(framing_sniff(get, 2), FRAMING_MORE);
  assert_int_equal(framing_sniff(get, sizeof(get) - 1), FRAMING_HTTP);
  assert_int_equal(framing_sniff(options, sizeof(options) - 1), FRAMING_HTTP);
  assert_int_equal(framing_sniff(ice, 5), FRAMING_MORE);
  assert_int_equal(framing_sniff(ice, sizeof(ice)), FRAMING_ICE_TCP);
  uint8_t bad[sizeof(ice)];
  memcpy(bad, ice, sizeof(ice));
  bad[9] = 0x43; /* not the cookie */
  assert_int_equal(framing_sniff(bad, sizeof(bad)), FRAMING_UNKNOWN);
  memcpy(bad, ice, sizeof(ice));
  bad[1] = 0x1d; /* frame and STUN lengths disagree */
  assert_int_equal(framing_sniff(bad, sizeof(bad)), FRAMING_UNKNOWN);
  memcpy(bad, ice, sizeof(ice));
  bad[3] = 0x11; /* not a Binding request */
  assert_int_equal(framing_sniff(bad, sizeof(bad)), FRAMING_UNKNOWN);
  const uint8_t ssl3_bad[] = {0x16, 0x02, 0x00};
  assert_int_equal(framing_sniff(ssl3_bad, 3), FRAMING_UNKNOWN);
  const uint8_t lower[] = "get / HTTP/1.1";
  assert_int_equal(framing_sniff(lower, sizeof(lower) - 1), FRAMING_UNKNOWN);
  const uint8_t longm[] = "ABCDEFGHIJ / HTTP/1.1";
  assert_int_equal(framing_sniff(longm, sizeof(longm) - 1), FRAMING_UNKNOWN);
  const uint8_t hi[] = {0x80, 0x00};
  assert_int_equal(framing_sniff(hi, 2), FRAMING_UNKNOWN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_frames_in_any_split),
      cmocka_unit_test(test_bad_lengths),
      cmocka_unit_test(test_sniff),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
