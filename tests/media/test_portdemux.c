/* test_portdemux.c -- the first-bytes test of a connection on the HTTPS port (media/portdemux.c):
 * TLS, plain HTTP, ICE-TCP with its ufrag, garbage, and "more bytes", at every split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/portdemux.h"

/* RFC 5769 section 2.1: the sample request, USERNAME "evtj:h6vY" (the same bytes as in
 * test_ice.c), framed below as ICE-TCP sends it. */
static const uint8_t rfc5769_req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* The start of a real TLS 1.3 ClientHello record (as browsers send: record version 0x0301). */
static const uint8_t client_hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03};

static size_t framed(uint8_t *out, const uint8_t *msg, size_t n) {
  out[0] = (uint8_t)(n >> 8);
  out[1] = (uint8_t)n;
  memcpy(out + 2, msg, n);
  return n + 2;
}

/* A framed Binding request whose only attribute is USERNAME = user (padded). */
static size_t request_with(uint8_t *out, const char *user) {
  size_t ul = strlen(user), padded = (ul + 3) & ~(size_t)3;
  uint8_t msg[600];
  memset(msg, 0, sizeof(msg));
  memcpy(msg, rfc5769_req, 20);
  size_t len = 4 + padded;
  msg[2] = (uint8_t)(len >> 8);
  msg[3] = (uint8_t)len;
  msg[20] = 0x00;
  msg[21] = 0x06;
  msg[22] = (uint8_t)(ul >> 8);
  msg[23] = (uint8_t)ul;
  memcpy(msg + 24, user, ul);
  return framed(out, msg, 20 + len);
}

static void test_ice_rfc5769(void **state) {
  (void)state;
  uint8_t buf[256];
  size_t n = framed(buf, rfc5769_req, sizeof(rfc5769_req));
  struct portdemux_ice ice;
  memset(&ice, 0, sizeof(ice));
  assert_int_equal(portdemux_classify(buf, n, &ice), PORTDEMUX_ICE);
  assert_int_equal(ice.ufrag_len, 4);
  assert_memory_equal(ice.ufrag, "evtj", 4);
  assert_ptr_equal(ice.ufrag, (const char *)buf + 2 + 64);
  assert_int_equal(ice.frame_len, n);
  /* Every shorter prefix: more bytes, never a wrong answer. */
  for (size_t k = 0; k < n; k++)
    assert_int_equal(portdemux_classify(buf, k, &ice), PORTDEMUX_MORE);
  /* Bytes after the first frame (the next check, DTLS) change nothing. */
  uint8_t more[512];
  memcpy(more, buf, n);
  memcpy(more + n, buf, n);
  assert_int_equal(portdemux_classify(more, 2 * n, NULL), PORTDEMUX_ICE);
}

static void test_tls_and_http(void **state) {
  (void)state;
  assert_int_equal(portdemux_classify(client_hello, 0, NULL), PORTDEMUX_MORE);
  assert_int_equal(portdemux_classify(client_hello, 1, NULL), PORTDEMUX_MORE);
  assert_int_equal(portdemux_classify(client_hello, 2, NULL), PORTDEMUX_MORE);
  for (size_t k = 3; k <= sizeof(client_hello); k++)
    assert_int_equal(portdemux_classify(client_hello, k, NULL), PORTDEMUX_TLS);
  const uint8_t tls10[] = {0x16, 0x03, 0x00};
  assert_int_equal(portdemux_classify(tls10, 3, NULL), PORTDEMUX_TLS);
  const char *get = "GET /healthz HTTP/1.1\r\n\r\n";
  assert_int_equal(portdemux_classify((const uint8_t *)get, 3, NULL), PORTDEMUX_MORE);
  assert_int_equal(portdemux_classify((const uint8_t *)get, strlen(get), NULL), PORTDEMUX_HTTP);
  const char *post = "POST /api HTTP/1.0\r\n";
  assert_int_equal(portdemux_classify((const uint8_t *)post, strlen(post), NULL), PORTDEMUX_HTTP);
}

static void test_garbage(void **state) {
  (void)state;
  /* An alert record, SSLv2, TLS with an unknown major version. */
  const uint8_t alert[] = {0x15, 0x03, 0x03, 0x00, 0x02};
  const uint8_t sslv2[] = {0x80, 0x2e, 0x01, 0x00, 0x02};
  const uint8_t tls_v9[] = {0x16, 0x09, 0x01};
  assert_int_equal(portdemux_classify(alert, sizeof(alert), NULL), PORTDEMUX_GARBAGE);
  assert_int_equal(portdemux_classify(sslv2, sizeof(sslv2), NULL), PORTDEMUX_GARBAGE);
  assert_int_equal(portdemux_classify(tls_v9, sizeof(tls_v9), NULL), PORTDEMUX_GARBAGE);
  /* Garbage is told at once, from its first byte where it can be. */
  const uint8_t zeros[4] = {0};
  assert_int_equal(portdemux_classify(zeros, 4, NULL), PORTDEMUX_GARBAGE);
  const uint8_t ff = 0xff;
  assert_int_equal(portdemux_classify(&ff, 1, NULL), PORTDEMUX_GARBAGE);
  const char *ssh = "SSH-2.0-OpenSSH_9.2\r\n";
  assert_int_equal(portdemux_classify((const uint8_t *)ssh, strlen(ssh), NULL), PORTDEMUX_GARBAGE);

  uint8_t buf[700], msg[sizeof(rfc5769_req)];
  /* A frame longer than FRAMING_MAX. */
  const uint8_t big[] = {0x08, 0x01, 0x00, 0x01, 0x07, 0xed, 0x21, 0x12, 0xa4, 0x42};
  assert_int_equal(portdemux_classify(big, sizeof(big), NULL), PORTDEMUX_GARBAGE);
  /* ... told from its first two bytes, as is a frame too short for STUN. */
  assert_int_equal(portdemux_classify(big, 2, NULL), PORTDEMUX_GARBAGE);
  const uint8_t tiny[] = {0x00, 0x13};
  assert_int_equal(portdemux_classify(tiny, 1, NULL), PORTDEMUX_MORE);
  assert_int_equal(portdemux_classify(tiny, 2, NULL), PORTDEMUX_GARBAGE);
  /* A Binding response, not a request. */
  memcpy(msg, rfc5769_req, sizeof(msg));
  msg[0] = 0x01;
  size_t n = framed(buf, msg, sizeof(msg));
  assert_int_equal(portdemux_classify(buf, n, NULL), PORTDEMUX_GARBAGE);
  /* An attribute running past the message. */
  memcpy(msg, rfc5769_req, sizeof(msg));
  msg[20 + 2] = 0x01; /* SOFTWARE's length 0x0110 */
  n = framed(buf, msg, sizeof(msg));
  assert_int_equal(portdemux_classify(buf, n, NULL), PORTDEMUX_GARBAGE);
  /* Usernames no browser sends. */
  static const char *const bad_users[] = {"evtj", "evtj:", ":h6vY", "abc:h6vY", "ev tj:h6vY",
                                          "evtj\x00:x", "\xc3\xa9vtj:h6vY"};
  for (size_t i = 0; i < sizeof(bad_users) / sizeof(bad_users[0]); i++) {
    n = request_with(buf, bad_users[i]);
    assert_int_equal(portdemux_classify(buf, n, NULL), PORTDEMUX_GARBAGE);
  }
  char longu[300];
  memset(longu, 'a', 257);
  strcpy(longu + 257, ":x");
  n = request_with(buf, longu);
  assert_int_equal(portdemux_classify(buf, n, NULL), PORTDEMUX_GARBAGE);
  /* No USERNAME at all: the RFC 5769 request with it renamed (type 0x0007). */
  memcpy(msg, rfc5769_req, sizeof(msg));
  msg[61] = 0x07;
  n = framed(buf, msg, sizeof(msg));
  assert_int_equal(portdemux_classify(buf, n, NULL), PORTDEMUX_GARBAGE);
}

static void test_ufrag_bounds(void **state) {
  (void)state;
  uint8_t buf[700];
  struct portdemux_ice ice;
  size_t n = request_with(buf, "a+/9:remote");
  assert_int_equal(portdemux_classify(buf, n, &ice), PORTDEMUX_ICE);
  assert_int_equal(ice.ufrag_len, 4);
  assert_memory_equal(ice.ufrag, "a+/9", 4);
  char u[300];
  memset(u, 'Z', 256);
  strcpy(u + 256, ":r");
  n = request_with(buf, u);
  assert_int_equal(portdemux_classify(buf, n, &ice), PORTDEMUX_ICE);
  assert_int_equal(ice.ufrag_len, 256);
  assert_true(n <= PORTDEMUX_MAX);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ice_rfc5769),
      cmocka_unit_test(test_tls_and_http),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_ufrag_bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
