/* test_ice.c -- ICE-lite responder and client checks: RFC 5769 vectors, round trips, rejects. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "media/ice.h"

/* RFC 5769 section 2.1: sample request, USERNAME "evtj:h6vY", password
 * "VOkJxbRl1RmTxUk/WvJxBt", with ICE-CONTROLLED from the peer. */
static const uint8_t rfc5769_req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 section 2.2: sample IPv4 response to that request, mapped address
 * 192.0.2.1:32853. */
static const uint8_t rfc5769_resp4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

#define RFC_PWD "VOkJxbRl1RmTxUk/WvJxBt"

/* A lookup table of sessions keyed by local ufrag. */
struct fake_session {
  const char *local_ufrag, *local_pwd, *remote_ufrag;
  int calls;
};

static struct fake_session sessions[] = {
    {"evtj", RFC_PWD, "h6vY", 0},
    {"SrvUfrag", "server-password-24chars!", "CliUfrag", 0},
};

static void *lookup(void *arg, const char *ufrag, size_t len, const char **pwd, const char **remote) {
  (void)arg;
  for (size_t i = 0; i < sizeof(sessions) / sizeof(sessions[0]); i++) {
    struct fake_session *s = &sessions[i];
    if (strlen(s->local_ufrag) == len && memcmp(s->local_ufrag, ufrag, len) == 0) {
      s->calls++;
      *pwd = s->local_pwd;
      *remote = s->remote_ufrag;
      return s;
    }
  }
  return NULL;
}

static struct sockaddr_in v4(const char *ip, uint16_t port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
  return a;
}

static struct sockaddr_in6 v6(const char *ip, uint16_t port) {
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof(a));
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
  return a;
}

static int handle(struct ice_responder *r, const uint8_t *buf, size_t len, struct ice_check *chk,
                  uint8_t *reply, size_t *rlen) {
  struct sockaddr_in from = v4("192.0.2.1", 32853);
  *rlen = 1280;
  return ice_responder_handle(r, buf, len, (const struct sockaddr *)&from, sizeof(from), lookup,
                              NULL, chk, reply, rlen);
}

static void test_credentials(void **state) {
  (void)state;
  char u1[ICE_UFRAG_SIZE], p1[ICE_PWD_SIZE], u2[ICE_UFRAG_SIZE], p2[ICE_PWD_SIZE];
  assert_int_equal(ice_gen_credentials(u1, p1), 0);
  assert_int_equal(ice_gen_credentials(u2, p2), 0);
  assert_int_equal(strlen(u1), 8);
  assert_int_equal(strlen(p1), 24);
  assert_string_not_equal(u1, u2);
  assert_string_not_equal(p1, p2);
  for (const char *c = u1; *c; c++)
    assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", *c));
  for (const char *c = p1; *c; c++)
    assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", *c));
}

static void test_rfc5769_request(void **state) {
  (void)state;
  struct ice_responder *r = ice_responder_new();
  assert_non_null(r);
  struct ice_check chk;
  uint8_t reply[1280];
  size_t rlen;
  memset(&chk, 0, sizeof(chk));
  assert_int_equal(handle(r, rfc5769_req, sizeof(rfc5769_req), &chk, reply, &rlen), 0);
  assert_ptr_equal(chk.session, &sessions[0]);
  assert_false(chk.use_candidate);
  assert_int_equal(chk.priority, 0x6e0001ff);
  assert_false(chk.controlling);
  assert_true(rlen >= 20 && rlen <= 1280);
  /* The reply is a Binding success response to the same transaction,
   * protected with the same password: the client side accepts it and sees
   * its own address. */
  assert_int_equal(reply[0], 0x01);
  assert_int_equal(reply[1], 0x01);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  assert_int_equal(ice_parse_check_response_addr(reply, rlen, RFC_PWD, rfc5769_req + 8, &ss, &sl), 0);
  assert_int_equal(sl, sizeof(struct sockaddr_in));
  struct sockaddr_in *in = (struct sockaddr_in *)&ss;
  struct sockaddr_in want = v4("192.0.2.1", 32853);
  assert_int_equal(in->sin_family, AF_INET);
  assert_int_equal(in->sin_port, want.sin_port);
  assert_memory_equal(&in->sin_addr, &want.sin_addr, 4);
  /* Wrong password or another transaction: refused. */
  assert_int_equal(ice_parse_check_response(reply, rlen, "wrong-password", rfc5769_req + 8), -EACCES);
  uint8_t other[12];
  memcpy(other, rfc5769_req + 8, 12);
  other[11] ^= 1;
  assert_int_not_equal(ice_parse_check_response(reply, rlen, RFC_PWD, other), 0);
  ice_responder_free(r);
}

static void test_rfc5769_response(void **state) {
  (void)state;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  assert_int_equal(ice_parse_check_response_addr(rfc5769_resp4, sizeof(rfc5769_resp4), RFC_PWD,
                                                 rfc5769_req + 8, &ss, &sl),
                   0);
  struct sockaddr_in *in = (struct sockaddr_in *)&ss;
  assert_int_equal(ntohs(in->sin_port), 32853);
  assert_int_equal(ntohl(in->sin_addr.s_addr), 0xc0000201);
  /* Any flipped bit breaks MESSAGE-INTEGRITY or FINGERPRINT. */
  for (size_t i = 20; i < sizeof(rfc5769_resp4); i++) {
    uint8_t m[sizeof(rfc5769_resp4)];
    memcpy(m, rfc5769_resp4, sizeof(m));
    m[i] ^= 0x10;
    assert_int_not_equal(ice_parse_check_response(m, sizeof(m), RFC_PWD, rfc5769_req + 8), 0);
  }
}

static void round_trip(const struct sockaddr *from, socklen_t fromlen, bool use_candidate) {
  struct ice_responder *r = ice_responder_new();
  assert_non_null(r);
  uint8_t req[1280], reply[1280], tid[12];
  size_t len = sizeof(req);
  /* The client's view: the server is the remote side. */
  assert_int_equal(ice_build_check(req, &len, "SrvUfrag", "CliUfrag", "server-password-24chars!",
                                   0x7e7f00ff, 0x0102030405060708ull, use_candidate, tid),
                   0);
  assert_true(len > 20);
  assert_memory_equal(req + 8, tid, 12);
  struct ice_check chk;
  size_t rlen = sizeof(reply);
  assert_int_equal(ice_responder_handle(r, req, len, from, fromlen, lookup, NULL, &chk, reply, &rlen), 0);
  assert_ptr_equal(chk.session, &sessions[1]);
  assert_int_equal(chk.use_candidate, use_candidate);
  assert_int_equal(chk.priority, 0x7e7f00ff);
  assert_true(chk.controlling);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  assert_int_equal(ice_parse_check_response_addr(reply, rlen, "server-password-24chars!", tid, &ss, &sl), 0);
  assert_int_equal(sl, fromlen);
  assert_memory_equal(&ss, from, fromlen);
  assert_int_equal(ice_parse_check_response(reply, rlen, "server-password-24chars!", tid), 0);
  /* A truncated response, or one checked with the wrong password, fails. */
  assert_int_equal(ice_parse_check_response(reply, rlen - 4, "server-password-24chars!", tid), -EBADMSG);
  assert_int_equal(ice_parse_check_response(reply, rlen, "server-password-24chars?", tid), -EACCES);
  /* A reply buffer that is too small gets nothing written past it. */
  rlen = 40;
  assert_int_equal(ice_responder_handle(r, req, len, from, fromlen, lookup, NULL, &chk, reply, &rlen),
                   -ENOSPC);
  assert_int_equal(rlen, 0);
  ice_responder_free(r);
}

static void test_round_trip_v4(void **state) {
  (void)state;
  struct sockaddr_in a = v4("203.0.113.7", 51234);
  round_trip((const struct sockaddr *)&a, sizeof(a), false);
  round_trip((const struct sockaddr *)&a, sizeof(a), true);
}

static void test_round_trip_v6(void **state) {
  (void)state;
  struct sockaddr_in6 a = v6("2001:db8::1234:5678:9abc", 61000);
  round_trip((const struct sockaddr *)&a, sizeof(a), true);
}

static int build(uint8_t *req, size_t *len, const char *user_remote, const char *user_local,
                 const char *pwd, uint8_t *tid) {
  *len = 1280;
  return ice_build_check(req, len, user_remote, user_local, pwd, 1, 2, false, tid);
}

static void test_rejects(void **state) {
  (void)state;
  struct ice_responder *r = ice_responder_new();
  assert_non_null(r);
  uint8_t req[1280], reply[1280], tid[12];
  size_t len, rlen;
  struct ice_check chk;

  /* Wrong password. */
  assert_int_equal(build(req, &len, "SrvUfrag", "CliUfrag", "not-the-password-at-all!", tid), 0);
  assert_int_equal(handle(r, req, len, &chk, reply, &rlen), -EACCES);
  assert_int_equal(rlen, 0);
  /* Unknown ufrag. */
  assert_int_equal(build(req, &len, "Nobody00", "CliUfrag", "server-password-24chars!", tid), 0);
  assert_int_equal(handle(r, req, len, &chk, reply, &rlen), -EACCES);
  assert_int_equal(rlen, 0);
  /* Remote ufrag mismatch, including a prefix of the right one. */
  assert_int_equal(build(req, &len, "SrvUfrag", "Intruder", "server-password-24chars!", tid), 0);
  assert_int_equal(handle(r, req, len, &chk, reply, &rlen), -EACCES);
  assert_int_equal(build(req, &len, "SrvUfrag", "CliUfra", "server-password-24chars!", tid), 0);
  assert_int_equal(handle(r, req, len, &chk, reply, &rlen), -EACCES);
  assert_int_equal(build(req, &len, "SrvUfrag", "CliUfragX", "server-password-24chars!", tid), 0);
  assert_int_equal(handle(r, req, len, &chk, reply, &rlen), -EACCES);
  /* A tampered attribute breaks MESSAGE-INTEGRITY; the FINGERPRINT is
   * recomputed by nobody, so a tampered FINGERPRINT is malformed. */
  uint8_t m[sizeof(rfc5769_req)];
  memcpy(m, rfc5769_req, sizeof(m));
  m[46] ^= 1; /* PRIORITY value */
  assert_int_not_equal(handle(r, m, sizeof(m), &chk, reply, &rlen), 0);
  memcpy(m, rfc5769_req, sizeof(m));
  m[sizeof(m) - 1] ^= 1;
  assert_int_equal(handle(r, m, sizeof(m), &chk, reply, &rlen), -EBADMSG);
  ice_responder_free(r);
}

static void test_malformed(void **state) {
  (void)state;
  struct ice_responder *r = ice_responder_new();
  assert_non_null(r);
  uint8_t reply[1280];
  size_t rlen;
  struct ice_check chk;
  /* Every truncation of a valid request. */
  for (size_t n = 0; n < sizeof(rfc5769_req); n++) {
    assert_int_equal(handle(r, rfc5769_req, n, &chk, reply, &rlen), -EBADMSG);
    assert_int_equal(rlen, 0);
  }
  /* Garbage and a wrong magic cookie. */
  uint8_t junk[64];
  for (size_t i = 0; i < sizeof(junk); i++)
    junk[i] = (uint8_t)(i * 37 + 11);
  junk[0] = 0x00;
  assert_int_equal(handle(r, junk, sizeof(junk), &chk, reply, &rlen), -EBADMSG);
  uint8_t m[sizeof(rfc5769_req)];
  memcpy(m, rfc5769_req, sizeof(m));
  m[4] = 0x22;
  assert_int_equal(handle(r, m, sizeof(m), &chk, reply, &rlen), -EBADMSG);
  /* Message length larger than the datagram, and an attribute running over. */
  memcpy(m, rfc5769_req, sizeof(m));
  m[3] = 0x5c;
  assert_int_equal(handle(r, m, sizeof(m), &chk, reply, &rlen), -EBADMSG);
  memcpy(m, rfc5769_req, sizeof(m));
  m[23] = 0x40; /* SOFTWARE length 64 */
  assert_int_equal(handle(r, m, sizeof(m), &chk, reply, &rlen), -EBADMSG);
  /* A header with no attributes at all: no credentials. */
  uint8_t bare[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
  assert_int_not_equal(handle(r, bare, sizeof(bare), &chk, reply, &rlen), 0);
  assert_int_equal(rlen, 0);
  assert_int_equal(handle(r, NULL, 0, &chk, reply, &rlen), -EBADMSG);
  /* The bare request without FINGERPRINT is malformed for ICE. */
  assert_int_equal(handle(r, bare, sizeof(bare), &chk, reply, &rlen), -EBADMSG);
  ice_responder_free(r);
}

static void test_not_answered(void **state) {
  (void)state;
  struct ice_responder *r = ice_responder_new();
  assert_non_null(r);
  uint8_t reply[1280];
  size_t rlen;
  struct ice_check chk;
  /* A response (RFC 5769 2.2). */
  assert_int_equal(handle(r, rfc5769_resp4, sizeof(rfc5769_resp4), &chk, reply, &rlen), -ENOTSUP);
  assert_int_equal(rlen, 0);
  /* A Binding indication (consent keepalive), with and without attributes. */
  uint8_t ind[20] = {0x00, 0x11, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  assert_int_equal(handle(r, ind, sizeof(ind), &chk, reply, &rlen), -ENOTSUP);
  assert_int_equal(rlen, 0);
  uint8_t m[sizeof(rfc5769_req)];
  memcpy(m, rfc5769_req, sizeof(m));
  m[1] = 0x11;
  assert_int_equal(handle(r, m, sizeof(m), &chk, reply, &rlen), -ENOTSUP);
  /* Another method (Allocate request) and an error response. */
  memcpy(m, rfc5769_req, sizeof(m));
  m[1] = 0x03;
  assert_int_equal(handle(r, m, sizeof(m), &chk, reply, &rlen), -ENOTSUP);
  memcpy(m, rfc5769_req, sizeof(m));
  m[0] = 0x01;
  m[1] = 0x11;
  assert_int_equal(handle(r, m, sizeof(m), &chk, reply, &rlen), -ENOTSUP);
  assert_int_equal(rlen, 0);
  ice_responder_free(r);
}

static uint32_t crc32_ieee(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

/* A request whose MESSAGE-INTEGRITY is shorter than the 20-byte HMAC, with
 * a correct FINGERPRINT after it, in a heap buffer of exactly its size (so
 * ASan sees any read past it). */
static void test_short_integrity(void **state) {
  (void)state;
  struct ice_responder *r = ice_responder_new();
  uint8_t req[1280], tid[12];
  size_t len = sizeof(req);
  assert_int_equal(ice_build_check(req, &len, "SrvUfrag", "CliUfrag", "server-password-24chars!",
                                   1, 2, false, tid),
                   0);
  /* MI is the second to last attribute: 24 bytes + FINGERPRINT 8 bytes. */
  size_t mi = len - 8 - 24;
  assert_int_equal(req[mi], 0x00);
  assert_int_equal(req[mi + 1], 0x08);
  for (unsigned milen = 0; milen <= 24; milen += 4) {
    size_t n = mi;
    uint8_t *m = malloc(n + 4 + milen + 8);
    assert_non_null(m);
    memcpy(m, req, n);
    m[n++] = 0x00;
    m[n++] = 0x08;
    m[n++] = 0x00;
    m[n++] = (uint8_t)milen;
    memset(m + n, 0x5a, milen);
    n += milen;
    size_t total = n + 8;
    m[2] = (uint8_t)((total - 20) >> 8);
    m[3] = (uint8_t)(total - 20);
    m[n++] = 0x80;
    m[n++] = 0x28;
    m[n++] = 0x00;
    m[n++] = 0x04;
    uint32_t fp = crc32_ieee(m, n - 4) ^ 0x5354554eu;
    m[n++] = (uint8_t)(fp >> 24);
    m[n++] = (uint8_t)(fp >> 16);
    m[n++] = (uint8_t)(fp >> 8);
    m[n++] = (uint8_t)fp;
    assert_int_equal(n, total);
    uint8_t reply[1280];
    size_t rlen;
    struct ice_check chk;
    int rc = handle(r, m, n, &chk, reply, &rlen);
    assert_true(rc == -EBADMSG || rc == -EACCES);
    assert_int_equal(rlen, 0);
    /* The same framing as a response. */
    m[0] = 0x01;
    m[1] = 0x01;
    assert_int_not_equal(ice_parse_check_response(m, n, "server-password-24chars!", tid), 0);
    free(m);
  }
  ice_responder_free(r);
}

/* Builds a Binding request from raw attributes, then appends a correct
 * MESSAGE-INTEGRITY (keyed by pwd) and FINGERPRINT, as a peer would. */
static size_t craft(uint8_t *m, const uint8_t *attrs, size_t alen, const char *pwd) {
  static const uint8_t hdr[20] = {0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
  memcpy(m, hdr, 20);
  memcpy(m + 20, attrs, alen);
  size_t n = 20 + alen;
  m[2] = (uint8_t)((n - 20 + 24) >> 8);
  m[3] = (uint8_t)(n - 20 + 24);
  unsigned hl = 0;
  uint8_t mac[20];
  HMAC(EVP_sha1(), pwd, (int)strlen(pwd), m, n, mac, &hl);
  assert_int_equal(hl, 20);
  m[n++] = 0x00;
  m[n++] = 0x08;
  m[n++] = 0x00;
  m[n++] = 20;
  memcpy(m + n, mac, 20);
  n += 20;
  m[2] = (uint8_t)((n - 20 + 8) >> 8);
  m[3] = (uint8_t)(n - 20 + 8);
  uint32_t fp = crc32_ieee(m, n) ^ 0x5354554eu;
  m[n++] = 0x80;
  m[n++] = 0x28;
  m[n++] = 0x00;
  m[n++] = 0x04;
  m[n++] = (uint8_t)(fp >> 24);
  m[n++] = (uint8_t)(fp >> 16);
  m[n++] = (uint8_t)(fp >> 8);
  m[n++] = (uint8_t)fp;
  return n;
}

static void put(uint8_t *a, size_t *al, const uint8_t *attr, size_t len) {
  memcpy(a + *al, attr, len);
  *al += len;
}

static void test_crafted(void **state) {
  (void)state;
  struct ice_responder *r = ice_responder_new();
  uint8_t m[512], reply[1280];
  size_t rlen;
  struct ice_check chk;
  const char *pwd = "server-password-24chars!";
  /* USERNAME "SrvUfrag:CliUfrag" (17 bytes + 3 padding). */
  const uint8_t user[] = {0x00, 0x06, 0x00, 17, 'S', 'r', 'v', 'U', 'f', 'r', 'a', 'g', ':',
                          'C', 'l', 'i', 'U', 'f', 'r', 'a', 'g', 0, 0, 0};
  const uint8_t controlling[] = {0x80, 0x2a, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8};
  const uint8_t controlled[] = {0x80, 0x29, 0x00, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  const uint8_t use_cand[] = {0x00, 0x25, 0x00, 0x00};
  const uint8_t unknown_required[] = {0x00, 0x7f, 0x00, 0x04, 1, 2, 3, 4};
  const uint8_t unknown_optional[] = {0xc0, 0x57, 0x00, 0x04, 0, 1, 0, 10};
  uint8_t a[256];
  size_t al;

  /* The minimal browser check, with an optional attribute we don't know. */
  al = 0;
  put(a, &al, user, sizeof(user));
  put(a, &al, controlling, sizeof(controlling));
  put(a, &al, use_cand, sizeof(use_cand));
  put(a, &al, unknown_optional, sizeof(unknown_optional));
  size_t n = craft(m, a, al, pwd);
  assert_int_equal(handle(r, m, n, &chk, reply, &rlen), 0);
  assert_true(chk.use_candidate);
  assert_true(chk.controlling);
  assert_int_equal(chk.priority, 0);

  /* A peer that also says it is controlled (or only that): still answered,
   * even with the largest tie-breaker; claiming both roles is nonsense. */
  al = 0;
  put(a, &al, user, sizeof(user));
  put(a, &al, controlled, sizeof(controlled));
  n = craft(m, a, al, pwd);
  assert_int_equal(handle(r, m, n, &chk, reply, &rlen), 0);
  assert_false(chk.controlling);
  assert_int_equal(reply[0], 0x01);
  assert_int_equal(reply[1], 0x01);
  put(a, &al, controlling, sizeof(controlling));
  n = craft(m, a, al, pwd);
  assert_int_equal(handle(r, m, n, &chk, reply, &rlen), -EBADMSG);
  assert_int_equal(rlen, 0);

  /* A comprehension-required attribute we don't know. */
  al = 0;
  put(a, &al, user, sizeof(user));
  put(a, &al, unknown_required, sizeof(unknown_required));
  n = craft(m, a, al, pwd);
  assert_int_equal(handle(r, m, n, &chk, reply, &rlen), -EBADMSG);

  /* No USERNAME, a USERNAME without ':' or with an empty local part. */
  n = craft(m, controlling, sizeof(controlling), pwd);
  assert_int_equal(handle(r, m, n, &chk, reply, &rlen), -EACCES);
  const uint8_t nocolon[] = {0x00, 0x06, 0x00, 8, 'S', 'r', 'v', 'U', 'f', 'r', 'a', 'g'};
  n = craft(m, nocolon, sizeof(nocolon), pwd);
  assert_int_equal(handle(r, m, n, &chk, reply, &rlen), -EACCES);
  const uint8_t emptylocal[] = {0x00, 0x06, 0x00, 9, ':', 'C', 'l', 'i', 'U', 'f', 'r', 'a', 'g', 0, 0, 0};
  n = craft(m, emptylocal, sizeof(emptylocal), pwd);
  assert_int_equal(handle(r, m, n, &chk, reply, &rlen), -EACCES);
  ice_responder_free(r);
}

static void test_bad_from(void **state) {
  (void)state;
  struct ice_responder *r = ice_responder_new();
  uint8_t reply[1280];
  size_t rlen = sizeof(reply);
  struct ice_check chk;
  struct sockaddr_in a = v4("192.0.2.1", 1);
  assert_int_equal(ice_responder_handle(r, rfc5769_req, sizeof(rfc5769_req), (struct sockaddr *)&a,
                                        4, lookup, NULL, &chk, reply, &rlen),
                   -EINVAL);
  assert_int_equal(rlen, 0);
  ice_responder_free(r);
  ice_responder_free(NULL);
}

static void test_build_errors(void **state) {
  (void)state;
  uint8_t req[1280], tid[12];
  size_t len = 30;
  assert_int_equal(ice_build_check(req, &len, "a", "b", "c", 1, 2, true, tid), -ENOSPC);
  assert_int_equal(len, 0);
  len = sizeof(req);
  assert_int_equal(ice_build_check(req, &len, "", "b", "c", 1, 2, true, tid), -EINVAL);
  char huge[300];
  memset(huge, 'a', sizeof(huge) - 1);
  huge[sizeof(huge) - 1] = '\0';
  len = sizeof(req);
  assert_int_equal(ice_build_check(req, &len, huge, "b", "c", 1, 2, true, tid), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_credentials),    cmocka_unit_test(test_rfc5769_request),
      cmocka_unit_test(test_rfc5769_response), cmocka_unit_test(test_round_trip_v4),
      cmocka_unit_test(test_round_trip_v6),  cmocka_unit_test(test_rejects),
      cmocka_unit_test(test_malformed),      cmocka_unit_test(test_not_answered),
      cmocka_unit_test(test_bad_from),       cmocka_unit_test(test_build_errors),
      cmocka_unit_test(test_short_integrity), cmocka_unit_test(test_crafted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
