/* test_srtpctx.c -- SRTP/SRTCP with keys from a real DTLS handshake, both profiles. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/dtls.h"
#include "media/srtpctx.h"

/* --- a minimal in-memory handshake to get keys ------------------------- */

struct q {
  int n;
  size_t len[32];
  uint8_t pkt[32][DTLS_MTU];
};

static void on_send(void *arg, const uint8_t *buf, size_t len) {
  struct q *q = arg;
  assert_true(q->n < 32);
  memcpy(q->pkt[q->n], buf, len);
  q->len[q->n++] = len;
}

static void feed_all(struct q *from, struct dtls *to, int *done) {
  for (int i = 0; i < from->n; i++) {
    int rc = dtls_feed(to, from->pkt[i], from->len[i]);
    assert_true(rc >= 0);
    *done += rc;
  }
  from->n = 0;
}

/* Keys of both ends (server = us, client = the browser) for a profile list. */
static void handshake(const char *client_profiles, struct srtp_keys *server,
                      struct srtp_keys *client) {
  struct dtls_cert *cs = dtls_cert_new(), *cc = dtls_cert_new();
  assert_non_null(cs);
  assert_non_null(cc);
  struct dtls_ctx *xs = dtls_ctx_new(cs, DTLS_ROLE_SERVER, NULL);
  struct dtls_ctx *xc = dtls_ctx_new(cc, DTLS_ROLE_CLIENT, client_profiles);
  assert_non_null(xs);
  assert_non_null(xc);
  uint8_t fs[DTLS_FP_LEN], fc[DTLS_FP_LEN];
  dtls_cert_fingerprint_bytes(cs, fs);
  dtls_cert_fingerprint_bytes(cc, fc);
  static struct q qs, qc;
  qs.n = qc.n = 0;
  struct dtls *s = dtls_new(xs, fc, sizeof(fc), on_send, &qs);
  struct dtls *c = dtls_new(xc, fs, sizeof(fs), on_send, &qc);
  assert_non_null(s);
  assert_non_null(c);
  assert_int_equal(dtls_start(c), 0);
  int ds = 0, dc = 0;
  for (int i = 0; i < 10 && !(ds && dc); i++) {
    feed_all(&qc, s, &ds);
    feed_all(&qs, c, &dc);
  }
  assert_int_equal(ds, 1);
  assert_int_equal(dc, 1);
  assert_int_equal(dtls_srtp_keys(s, server), 0);
  assert_int_equal(dtls_srtp_keys(c, client), 0);
  dtls_free(s);
  dtls_free(c);
  dtls_ctx_free(xs);
  dtls_ctx_free(xc);
  dtls_cert_free(cs);
  dtls_cert_free(cc);
}

/* --- packets ---------------------------------------------------------- */

static size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, size_t payload) {
  buf[0] = 0x80;
  buf[1] = 96;
  buf[2] = (uint8_t)(seq >> 8);
  buf[3] = (uint8_t)seq;
  uint32_t ts = 90u * seq;
  buf[4] = (uint8_t)(ts >> 24);
  buf[5] = (uint8_t)(ts >> 16);
  buf[6] = (uint8_t)(ts >> 8);
  buf[7] = (uint8_t)ts;
  buf[8] = (uint8_t)(ssrc >> 24);
  buf[9] = (uint8_t)(ssrc >> 16);
  buf[10] = (uint8_t)(ssrc >> 8);
  buf[11] = (uint8_t)ssrc;
  for (size_t i = 0; i < payload; i++)
    buf[12 + i] = (uint8_t)(i ^ seq);
  return 12 + payload;
}

static size_t make_rtcp(uint8_t *buf, uint32_t ssrc) {
  /* A receiver report with no report blocks, then a PLI. */
  static const uint8_t tmpl[] = {0x80, 201, 0x00, 0x01, 0, 0, 0, 0,
                                 0x81, 206, 0x00, 0x02, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44};
  memcpy(buf, tmpl, sizeof(tmpl));
  for (int i = 0; i < 4; i++) {
    buf[4 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    buf[12 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
  }
  return sizeof(tmpl);
}

static void both_ways(enum srtpctx_profile want, const char *client_profiles) {
  struct srtp_keys ks, kc;
  handshake(client_profiles, &ks, &kc);
  assert_int_equal(ks.profile, want);
  struct srtpctx *server = srtpctx_new(&ks), *client = srtpctx_new(&kc);
  assert_non_null(server);
  assert_non_null(client);
  size_t tag = want == SRTPCTX_AEAD_AES_128_GCM ? 16 : 10;

  struct srtpctx *from[2] = {client, server}, *to[2] = {server, client};
  for (int dir = 0; dir < 2; dir++) {
    uint32_t ssrc = dir ? 0xcafef00du : 0x12345678u;
    for (uint16_t seq = 1000; seq < 1020; seq++) {
      uint8_t plain[1200], buf[1200 + SRTPCTX_TRAILER];
      size_t n = make_rtp(plain, seq, ssrc, 100 + seq % 50);
      memcpy(buf, plain, n);
      size_t len = n;
      /* The exact room the tag needs is enough (ASan watches the edge). */
      assert_int_equal(srtpctx_protect_rtp(from[dir], buf, &len, n + tag), 0);
      assert_int_equal(len, n + tag);
      assert_memory_equal(buf, plain, 12); /* the header stays clear */
      assert_memory_not_equal(buf + 12, plain + 12, n - 12);
      uint8_t copy[1200 + SRTPCTX_TRAILER];
      memcpy(copy, buf, len);
      size_t clen = len;
      assert_int_equal(srtpctx_unprotect_rtp(to[dir], buf, &len), 0);
      assert_int_equal(len, n);
      assert_memory_equal(buf, plain, n);
      /* Replay of the same packet. */
      assert_int_equal(srtpctx_unprotect_rtp(to[dir], copy, &clen), -EALREADY);
    }
    /* A NACKed packet is protected again (allow_repeat_tx). */
    uint8_t buf[1200 + SRTPCTX_TRAILER];
    size_t len = make_rtp(buf, 1005, ssrc, 80);
    assert_int_equal(srtpctx_protect_rtp(from[dir], buf, &len, sizeof(buf)), 0);

    /* A tampered byte in the header, payload or tag fails authentication. */
    static const size_t where[] = {1, 2, 7, 8, 11, 12, 20, 51, 52 + 9};
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
      uint8_t t[1200 + SRTPCTX_TRAILER];
      size_t tl = make_rtp(t, (uint16_t)(2000 + i), ssrc, 40);
      assert_int_equal(srtpctx_protect_rtp(from[dir], t, &tl, sizeof(t)), 0);
      assert_true(where[i] < tl);
      t[where[i]] ^= 0x01;
      assert_int_equal(srtpctx_unprotect_rtp(to[dir], t, &tl), -EACCES);
    }
    uint8_t t[1200 + SRTPCTX_TRAILER];
    size_t tl = make_rtp(t, 3000, ssrc, 40);
    assert_int_equal(srtpctx_protect_rtp(from[dir], t, &tl, sizeof(t)), 0);
    t[tl - 1] ^= 0x80;
    assert_int_equal(srtpctx_unprotect_rtp(to[dir], t, &tl), -EACCES);

    /* RTCP. */
    for (int i = 0; i < 5; i++) {
      uint8_t plain[64], rb[64 + SRTPCTX_TRAILER];
      size_t n = make_rtcp(plain, ssrc + (uint32_t)i);
      memcpy(rb, plain, n);
      size_t rl = n;
      assert_int_equal(srtpctx_protect_rtcp(from[dir], rb, &rl, n + 4 + tag), 0);
      assert_int_equal(rl, n + 4 + tag);
      uint8_t copy[64 + SRTPCTX_TRAILER];
      memcpy(copy, rb, rl);
      size_t cl = rl;
      uint8_t bad[64 + SRTPCTX_TRAILER];
      memcpy(bad, rb, rl);
      size_t bl = rl;
      bad[10] ^= 0x20;
      assert_int_equal(srtpctx_unprotect_rtcp(to[dir], bad, &bl), -EACCES);
      assert_int_equal(srtpctx_unprotect_rtcp(to[dir], rb, &rl), 0);
      assert_int_equal(rl, n);
      assert_memory_equal(rb, plain, n);
      assert_int_equal(srtpctx_unprotect_rtcp(to[dir], copy, &cl), -EALREADY);
    }
  }
  /* Keys of the wrong direction do not decrypt. */
  uint8_t buf[200 + SRTPCTX_TRAILER];
  size_t len = make_rtp(buf, 7, 99, 50);
  assert_int_equal(srtpctx_protect_rtp(server, buf, &len, sizeof(buf)), 0);
  assert_int_equal(srtpctx_unprotect_rtp(server, buf, &len), -EACCES);
  srtpctx_free(server);
  srtpctx_free(client);
}

static void test_gcm(void **state) {
  (void)state;
  both_ways(SRTPCTX_AEAD_AES_128_GCM, NULL);
}

static void test_sha1_80(void **state) {
  (void)state;
  both_ways(SRTPCTX_AES128_CM_SHA1_80, "SRTP_AES128_CM_SHA1_80");
}

static void test_limits(void **state) {
  (void)state;
  struct srtp_keys ks, kc;
  handshake("SRTP_AES128_CM_SHA1_80", &ks, &kc);
  struct srtpctx *s = srtpctx_new(&ks), *c = srtpctx_new(&kc);
  assert_non_null(s);
  assert_non_null(c);
  uint8_t buf[300];
  size_t n = make_rtp(buf, 1, 5, 100), len = n;
  /* No room for the tag. */
  assert_int_equal(srtpctx_protect_rtp(s, buf, &len, n + 9), -ENOSPC);
  assert_int_equal(len, n);
  assert_int_equal(srtpctx_protect_rtp(s, buf, &len, n - 1), -ENOSPC);
  size_t rn = make_rtcp(buf, 5), rl = rn;
  assert_int_equal(srtpctx_protect_rtcp(s, buf, &rl, rn + 13), -ENOSPC);
  /* Malformed headers. */
  len = 11;
  assert_int_equal(srtpctx_protect_rtp(s, buf, &len, sizeof(buf)), -EBADMSG);
  n = make_rtp(buf, 2, 5, 20);
  buf[0] = 0x8f; /* 15 CSRCs claimed in a 32-byte packet */
  len = n;
  assert_int_equal(srtpctx_protect_rtp(s, buf, &len, sizeof(buf)), -EBADMSG);
  buf[0] = 0x90; /* extension header */
  buf[12] = 0xbe;
  buf[13] = 0xde;
  buf[14] = 0xff;
  buf[15] = 0xff;
  len = n;
  assert_int_equal(srtpctx_protect_rtp(s, buf, &len, sizeof(buf)), -EBADMSG);
  assert_int_equal(srtpctx_unprotect_rtp(s, buf, &len), -EBADMSG);
  buf[0] = 0x40; /* version 1 */
  len = n;
  assert_int_equal(srtpctx_unprotect_rtp(s, buf, &len), -EBADMSG);
  /* Too short for a tag, for RTCP's index, or at all. */
  n = make_rtp(buf, 3, 5, 0);
  len = n + 5;
  assert_int_equal(srtpctx_unprotect_rtp(s, buf, &len), -EBADMSG);
  rn = make_rtcp(buf, 5);
  rl = 8 + 4 + 9;
  assert_int_equal(srtpctx_unprotect_rtcp(s, buf, &rl), -EBADMSG);
  rl = 3;
  assert_int_equal(srtpctx_unprotect_rtcp(s, buf, &rl), -EBADMSG);
  len = 0;
  assert_int_equal(srtpctx_unprotect_rtp(s, buf, &len), -EBADMSG);
  /* Garbage of every length up to 100 bytes never crashes. */
  for (size_t l = 0; l < 100; l++) {
    uint8_t g[100];
    for (size_t i = 0; i < l; i++)
      g[i] = (uint8_t)(i * 29 + l);
    if (l)
      g[0] = 0x80;
    size_t gl = l;
    assert_int_not_equal(srtpctx_unprotect_rtp(c, g, &gl), 0);
    gl = l;
    assert_int_not_equal(srtpctx_unprotect_rtcp(c, g, &gl), 0);
  }
  /* Bad key material. */
  struct srtp_keys bad = ks;
  bad.salt_len = 12;
  assert_null(srtpctx_new(&bad));
  bad = ks;
  bad.profile = (enum srtpctx_profile)2;
  assert_null(srtpctx_new(&bad));
  assert_null(srtpctx_new(NULL));
  srtpctx_free(NULL);
  srtpctx_free(s);
  srtpctx_free(c);
}

/* The browser sends a NACKed packet again with its first index: the inbound session refuses it
 * as a replay and leaves it as it was; srtpctx_unprotect_rtp_again reads it (also after the
 * sequence numbers wrapped), and refuses a forged one and an unknown SSRC. */
static void retransmissions(const char *client_profiles) {
  struct srtp_keys ks, kc;
  handshake(client_profiles, &ks, &kc);
  struct srtpctx *server = srtpctx_new(&ks), *browser = srtpctx_new(&kc);
  assert_non_null(server);
  assert_non_null(browser);
  const uint32_t ssrc = 0x0badcafeu;
  /* 65520 ... 65535, 0 ... 39: the stream's rollover counter becomes 1. */
  uint8_t sent[56][1200 + SRTPCTX_TRAILER];
  size_t sent_len[56];
  for (int i = 0; i < 56; i++) {
    uint16_t seq = (uint16_t)(65520 + i);
    uint8_t plain[1200];
    size_t n = make_rtp(plain, seq, ssrc, 200);
    memcpy(sent[i], plain, n);
    sent_len[i] = n;
    assert_int_equal(srtpctx_protect_rtp(browser, sent[i], &sent_len[i], sizeof(sent[i])), 0);
    uint8_t rx[1200 + SRTPCTX_TRAILER];
    memcpy(rx, sent[i], sent_len[i]);
    size_t rl = sent_len[i];
    assert_int_equal(srtpctx_unprotect_rtp(server, rx, &rl), 0);
    assert_memory_equal(rx, plain, n);
  }
  for (int i = 30; i < 56; i += 5) { /* seq 14, 19, ... 39: rollover counter 1 */
    uint8_t plain[1200], again[1200 + SRTPCTX_TRAILER];
    size_t n = make_rtp(plain, (uint16_t)(65520 + i), ssrc, 200);
    size_t len = n;
    memcpy(again, plain, n);
    assert_int_equal(srtpctx_protect_rtp(browser, again, &len, sizeof(again)), 0); /* resent */
    assert_int_equal(len, sent_len[i]);
    assert_memory_equal(again, sent[i], len);
    assert_int_equal(srtpctx_unprotect_rtp(server, again, &len), -EALREADY);
    assert_memory_equal(again, sent[i], len); /* refused, untouched */
    uint8_t forged[1200 + SRTPCTX_TRAILER];
    memcpy(forged, again, len);
    forged[40] ^= 1;
    size_t fl = len;
    assert_int_equal(srtpctx_unprotect_rtp_again(server, forged, &fl), -EACCES);
    assert_int_equal(srtpctx_unprotect_rtp_again(server, again, &len), 0);
    assert_int_equal(len, n);
    assert_memory_equal(again, plain, n);
    /* The stream itself goes on as before. */
    uint8_t next[1200 + SRTPCTX_TRAILER];
    size_t nl = make_rtp(next, (uint16_t)(100 + i), ssrc, 50);
    assert_int_equal(srtpctx_protect_rtp(browser, next, &nl, sizeof(next)), 0);
    assert_int_equal(srtpctx_unprotect_rtp(server, next, &nl), 0);
  }
  /* Before any wrap (rollover counter 0), from another SSRC. */
  uint8_t a[1200 + SRTPCTX_TRAILER], b[1200 + SRTPCTX_TRAILER];
  size_t al = make_rtp(a, 40000, 0x5555u, 100);
  assert_int_equal(srtpctx_protect_rtp(browser, a, &al, sizeof(a)), 0);
  memcpy(b, a, al);
  size_t bl = al;
  assert_int_equal(srtpctx_unprotect_rtp(server, a, &al), 0);
  assert_int_equal(srtpctx_unprotect_rtp(server, b, &bl), -EALREADY);
  assert_int_equal(srtpctx_unprotect_rtp_again(server, b, &bl), 0);
  assert_memory_equal(a, b, bl);
  /* An SSRC the server never received, and garbage. */
  size_t ul = make_rtp(a, 7, 0x7777u, 100);
  assert_int_equal(srtpctx_protect_rtp(browser, a, &ul, sizeof(a)), 0);
  assert_int_equal(srtpctx_unprotect_rtp_again(server, a, &ul), -ENOENT);
  size_t gl = 5;
  assert_int_equal(srtpctx_unprotect_rtp_again(server, a, &gl), -EBADMSG);
  assert_int_equal(srtpctx_unprotect_rtp_again(NULL, a, &gl), -EINVAL);
  srtpctx_free(server);
  srtpctx_free(browser);
}

static void test_retransmission_gcm(void **state) {
  (void)state;
  retransmissions(NULL);
}

static void test_retransmission_sha1_80(void **state) {
  (void)state;
  retransmissions("SRTP_AES128_CM_SHA1_80");
}

static int setup(void **state) {
  (void)state;
  assert_int_equal(srtpctx_global_init(), 0);
  assert_int_equal(srtpctx_global_init(), 0); /* idempotent */
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gcm),
      cmocka_unit_test(test_sha1_80),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_retransmission_gcm),
      cmocka_unit_test(test_retransmission_sha1_80),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
