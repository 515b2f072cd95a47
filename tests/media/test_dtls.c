/* test_dtls.c -- two DTLS objects wired in memory: handshake, profiles, fingerprints, loss. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "media/dtls.h"

#define MAXQ 64

/* One direction of the wire: what a side sent and has not been delivered. */
struct wire {
  uint8_t pkt[MAXQ][DTLS_MTU];
  size_t len[MAXQ];
  int n;
  int flight;        /* API calls that produced output so far */
  bool call_sent;    /* the current API call has produced output */
  unsigned drop;     /* bit f set: drop everything of flight f (1-based) */
  int dropped, sent;
};

static void on_send(void *arg, const uint8_t *buf, size_t len) {
  struct wire *w = arg;
  assert_true(len > 0 && len <= DTLS_MTU);
  if (!w->call_sent) {
    w->call_sent = true;
    w->flight++;
  }
  w->sent++;
  if (w->flight < 32 && (w->drop & (1u << w->flight))) {
    w->dropped++;
    return;
  }
  assert_true(w->n < MAXQ);
  memcpy(w->pkt[w->n], buf, len);
  w->len[w->n++] = len;
}

struct side {
  struct dtls *d;
  struct wire out;
  int completed; /* times dtls_feed returned 1 */
  int error;     /* first negative return */
};

struct pair {
  struct dtls_cert *cs, *cc;
  struct dtls_ctx *xs, *xc;
  struct side s, c;
};

static void note(struct side *sd, int rc) {
  if (rc == 1)
    sd->completed++;
  else if (rc < 0 && sd->error == 0)
    sd->error = rc;
}

/* Delivers everything `from` has sent to `to`. */
static bool deliver(struct side *from, struct side *to) {
  bool any = from->out.n > 0;
  for (int i = 0; i < from->out.n; i++) {
    to->out.call_sent = false;
    note(to, dtls_feed(to->d, from->out.pkt[i], from->out.len[i]));
  }
  from->out.n = 0;
  return any;
}

static void pump(struct pair *p) {
  for (int i = 0; i < 100; i++) {
    bool a = deliver(&p->c, &p->s);
    bool b = deliver(&p->s, &p->c);
    if (!a && !b)
      return;
  }
  fail_msg("the handshake does not settle");
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Runs the exchange, waiting out retransmission timers, until both sides
 * completed, one failed, or too long. */
static void run(struct pair *p) {
  for (int round = 0; round < 12; round++) {
    pump(p);
    if ((p->s.completed && p->c.completed) || p->s.error || p->c.error)
      return;
    int ts = dtls_timeout_ms(p->s.d, 0), tc = dtls_timeout_ms(p->c.d, 0);
    int t = ts < 0 ? tc : tc < 0 ? ts : (ts < tc ? ts : tc);
    assert_true(t >= 0); /* someone must be waiting for something */
    assert_true(t <= 60000);
    sleep_ms(t + 2);
    p->s.out.call_sent = false;
    note(&p->s, dtls_handle_timeout(p->s.d));
    p->c.out.call_sent = false;
    note(&p->c, dtls_handle_timeout(p->c.d));
  }
  fail_msg("no completion after retransmissions");
}

static void setup_pair(struct pair *p, const char *server_profiles, const char *client_profiles,
                       bool bad_fp_at_server, bool bad_fp_at_client) {
  memset(p, 0, sizeof(*p));
  p->cs = dtls_cert_new();
  p->cc = dtls_cert_new();
  assert_non_null(p->cs);
  assert_non_null(p->cc);
  p->xs = dtls_ctx_new(p->cs, DTLS_ROLE_SERVER, server_profiles);
  p->xc = dtls_ctx_new(p->cc, DTLS_ROLE_CLIENT, client_profiles);
  assert_non_null(p->xs);
  assert_non_null(p->xc);
  uint8_t fps[DTLS_FP_LEN], fpc[DTLS_FP_LEN];
  dtls_cert_fingerprint_bytes(p->cs, fps);
  dtls_cert_fingerprint_bytes(p->cc, fpc);
  if (bad_fp_at_server)
    fpc[7] ^= 0x40;
  if (bad_fp_at_client)
    fps[31] ^= 0x01;
  p->s.d = dtls_new(p->xs, fpc, sizeof(fpc), on_send, &p->s.out);
  p->c.d = dtls_new(p->xc, fps, sizeof(fps), on_send, &p->c.out);
  assert_non_null(p->s.d);
  assert_non_null(p->c.d);
}

static void start(struct pair *p) {
  p->s.out.call_sent = false;
  assert_int_equal(dtls_start(p->s.d), 0); /* server: no-op */
  assert_int_equal(p->s.out.n, 0);
  p->c.out.call_sent = false;
  assert_int_equal(dtls_start(p->c.d), 0);
}

static void teardown_pair(struct pair *p) {
  dtls_free(p->s.d);
  dtls_free(p->c.d);
  dtls_ctx_free(p->xs);
  dtls_ctx_free(p->xc);
  dtls_cert_free(p->cs);
  dtls_cert_free(p->cc);
}

static void expect_keys(struct pair *p, enum srtpctx_profile prof) {
  assert_int_equal(p->s.error, 0);
  assert_int_equal(p->c.error, 0);
  assert_int_equal(p->s.completed, 1);
  assert_int_equal(p->c.completed, 1);
  assert_true(dtls_done(p->s.d));
  assert_true(dtls_done(p->c.d));
  struct srtp_keys ks, kc;
  assert_int_equal(dtls_srtp_keys(p->s.d, &ks), 0);
  assert_int_equal(dtls_srtp_keys(p->c.d, &kc), 0);
  assert_int_equal(ks.profile, prof);
  assert_int_equal(kc.profile, prof);
  size_t kl = 16, sl = prof == SRTPCTX_AEAD_AES_128_GCM ? 12 : 14;
  assert_int_equal(ks.key_len, kl);
  assert_int_equal(ks.salt_len, sl);
  assert_int_equal(kc.key_len, kl);
  assert_int_equal(kc.salt_len, sl);
  assert_memory_equal(kc.local, ks.remote, kl + sl);
  assert_memory_equal(kc.remote, ks.local, kl + sl);
  assert_memory_not_equal(kc.local, kc.remote, kl + sl);
  /* Nothing is due after completion. */
  assert_int_equal(dtls_timeout_ms(p->s.d, 0), -1);
  assert_int_equal(dtls_timeout_ms(p->c.d, 0), -1);
}

static void test_cert(void **state) {
  (void)state;
  struct dtls_cert *c = dtls_cert_new();
  assert_non_null(c);
  const char *fp = dtls_cert_fingerprint(c);
  assert_int_equal(strlen(fp), 95);
  for (size_t i = 0; i < 95; i++) {
    if (i % 3 == 2)
      assert_int_equal(fp[i], ':');
    else
      assert_non_null(strchr("0123456789ABCDEF", fp[i]));
  }
  uint8_t raw[DTLS_FP_LEN], parsed[DTLS_FP_LEN];
  dtls_cert_fingerprint_bytes(c, raw);
  assert_int_equal(dtls_fingerprint_parse(fp, strlen(fp), parsed), 0);
  assert_memory_equal(raw, parsed, DTLS_FP_LEN);
  char lower[96];
  for (size_t i = 0; i < 96; i++)
    lower[i] = (char)(fp[i] >= 'A' && fp[i] <= 'F' ? fp[i] + 32 : fp[i]);
  assert_int_equal(dtls_fingerprint_parse(lower, 95, parsed), 0);
  assert_memory_equal(raw, parsed, DTLS_FP_LEN);
  assert_int_equal(dtls_fingerprint_parse(fp, 94, parsed), -EBADMSG);
  lower[2] = '-';
  assert_int_equal(dtls_fingerprint_parse(lower, 95, parsed), -EBADMSG);
  lower[2] = ':';
  lower[94] = 'g';
  assert_int_equal(dtls_fingerprint_parse(lower, 95, parsed), -EBADMSG);
  struct dtls_cert *c2 = dtls_cert_new();
  assert_string_not_equal(fp, dtls_cert_fingerprint(c2));
  dtls_cert_free(c2);
  dtls_cert_free(c);
  dtls_cert_free(NULL);
  dtls_ctx_free(NULL);
  dtls_free(NULL);
}

static void test_handshake_gcm(void **state) {
  (void)state;
  struct pair p;
  setup_pair(&p, NULL, NULL, false, false);
  assert_false(dtls_done(p.c.d));
  assert_int_equal(dtls_srtp_keys(p.c.d, &(struct srtp_keys){0}), -EINVAL);
  start(&p);
  run(&p);
  expect_keys(&p, SRTPCTX_AEAD_AES_128_GCM);
  assert_string_equal(dtls_profile_name(SRTPCTX_AEAD_AES_128_GCM), "SRTP_AEAD_AES_128_GCM");
  /* Application data and a stray retransmission afterwards change nothing. */
  uint8_t junk[40] = {23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 27};
  assert_int_equal(dtls_feed(p.s.d, junk, sizeof(junk)), 0);
  assert_true(dtls_done(p.s.d));
  /* close_notify reaches the other side as -ECONNRESET. */
  dtls_close(p.c.d);
  dtls_close(p.c.d);
  assert_int_equal(p.c.out.n, 1);
  deliver(&p.c, &p.s);
  assert_int_equal(p.s.error, -ECONNRESET);
  assert_int_equal(dtls_feed(p.s.d, junk, sizeof(junk)), -ECONNRESET);
  assert_false(dtls_done(p.s.d));
  teardown_pair(&p);
}

static void test_handshake_sha1_only(void **state) {
  (void)state;
  struct pair p;
  setup_pair(&p, NULL, "SRTP_AES128_CM_SHA1_80", false, false);
  start(&p);
  run(&p);
  expect_keys(&p, SRTPCTX_AES128_CM_SHA1_80);
  assert_string_equal(dtls_profile_name(SRTPCTX_AES128_CM_SHA1_80), "SRTP_AES128_CM_SHA1_80");
  teardown_pair(&p);
}

static void test_server_preference(void **state) {
  (void)state;
  /* The client prefers SHA1_80; the server's order (GCM first) wins. */
  struct pair p;
  setup_pair(&p, NULL, "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM", false, false);
  start(&p);
  run(&p);
  expect_keys(&p, SRTPCTX_AEAD_AES_128_GCM);
  teardown_pair(&p);
}

static void test_no_common_profile(void **state) {
  (void)state;
  struct pair p;
  setup_pair(&p, "SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_SHA1_80", false, false);
  start(&p);
  pump(&p);
  /* The server answers without use_srtp; neither side may report success. */
  assert_int_equal(p.s.completed + p.c.completed, 0);
  assert_false(dtls_done(p.s.d));
  assert_false(dtls_done(p.c.d));
  assert_true(p.s.error < 0 || p.c.error < 0);
  teardown_pair(&p);
}

static void test_wrong_fp_at_server(void **state) {
  (void)state;
  struct pair p;
  setup_pair(&p, NULL, NULL, true, false);
  start(&p);
  run(&p);
  assert_int_equal(p.s.error, -EACCES);
  pump(&p);
  assert_int_equal(p.c.error, -EPROTO); /* the alert */
  assert_int_equal(p.s.completed, 0);
  assert_int_equal(p.c.completed, 0);
  assert_false(dtls_done(p.s.d));
  struct srtp_keys k;
  assert_int_equal(dtls_srtp_keys(p.s.d, &k), -EINVAL);
  assert_int_equal(dtls_handle_timeout(p.s.d), -EACCES);
  assert_int_equal(dtls_timeout_ms(p.s.d, 0), -1);
  teardown_pair(&p);
}

static void test_wrong_fp_at_client(void **state) {
  (void)state;
  struct pair p;
  setup_pair(&p, NULL, NULL, false, true);
  start(&p);
  run(&p);
  assert_int_equal(p.c.error, -EACCES);
  pump(&p);
  assert_int_equal(p.s.error, -EPROTO);
  assert_int_equal(p.s.completed + p.c.completed, 0);
  teardown_pair(&p);
}

static void drop_case(unsigned client_drop, unsigned server_drop) {
  struct pair p;
  setup_pair(&p, NULL, NULL, false, false);
  p.c.out.drop = client_drop;
  p.s.out.drop = server_drop;
  start(&p);
  run(&p);
  expect_keys(&p, SRTPCTX_AEAD_AES_128_GCM);
  assert_true(p.c.out.dropped + p.s.out.dropped > 0);
  teardown_pair(&p);
}

static void test_lost_client_hello(void **state) {
  (void)state;
  drop_case(1u << 1, 0);
}

static void test_lost_server_flight(void **state) {
  (void)state;
  drop_case(0, 1u << 1);
}

static void test_lost_client_finished(void **state) {
  (void)state;
  drop_case(1u << 2, 0);
}

static void test_lost_server_finished(void **state) {
  (void)state;
  /* The server is done; the client's retransmission makes it resend. */
  drop_case(0, 1u << 2);
}

static void test_datagram_size(void **state) {
  (void)state;
  struct pair p;
  setup_pair(&p, NULL, NULL, false, false);
  start(&p);
  assert_int_equal(p.c.out.n, 1);
  deliver(&p.c, &p.s);
  /* The server's first flight is several records packed into few
   * datagrams, each within the MTU (on_send asserts the size). */
  assert_true(p.s.out.n >= 1 && p.s.out.n <= 3);
  run(&p);
  expect_keys(&p, SRTPCTX_AEAD_AES_128_GCM);
  teardown_pair(&p);
}

static void test_garbage(void **state) {
  (void)state;
  struct pair p;
  setup_pair(&p, NULL, NULL, false, false);
  start(&p);
  deliver(&p.c, &p.s);
  /* Not DTLS at all, too short, a wrong version, a length past the end: all
   * silently dropped, and the handshake goes on. */
  uint8_t g[300];
  for (size_t i = 0; i < sizeof(g); i++)
    g[i] = (uint8_t)(i * 151 + 7);
  g[0] = 22;
  g[1] = 0x03;
  g[2] = 0x01;
  assert_int_equal(dtls_feed(p.s.d, g, sizeof(g)), 0);
  assert_int_equal(dtls_feed(p.c.d, g, sizeof(g)), 0);
  assert_int_equal(dtls_feed(p.s.d, g, 5), 0);
  assert_int_equal(dtls_feed(p.c.d, g, 1), 0);
  g[1] = 0xfe;
  g[2] = 0xfd;
  g[11] = 0xff;
  g[12] = 0xff; /* record length 65535 in a 300-byte datagram */
  assert_int_equal(dtls_feed(p.s.d, g, sizeof(g)), 0);
  assert_int_equal(dtls_feed(p.c.d, g, sizeof(g)), 0);
  assert_int_equal(dtls_feed(p.c.d, NULL, 0), 0);
  run(&p);
  expect_keys(&p, SRTPCTX_AEAD_AES_128_GCM);
  teardown_pair(&p);
}

static void test_hostile_records(void **state) {
  (void)state;
  /* Records that parse but carry nonsense: no crash, no completion; either
   * dropped or a clean -EPROTO. */
  uint32_t seed = 12345;
  for (int round = 0; round < 200; round++) {
    struct pair p;
    setup_pair(&p, NULL, NULL, false, false);
    start(&p);
    deliver(&p.c, &p.s);
    uint8_t g[256];
    for (size_t i = 0; i < sizeof(g); i++) {
      seed = seed * 1103515245u + 12345u;
      g[i] = (uint8_t)(seed >> 16);
    }
    size_t n = 13 + (seed >> 8) % (sizeof(g) - 13);
    g[0] = (uint8_t)(20 + round % 4);
    g[1] = 0xfe;
    g[2] = 0xfd;
    g[3] = 0;
    g[4] = 0;
    g[11] = (uint8_t)((n - 13) >> 8);
    g[12] = (uint8_t)(n - 13);
    int rs = dtls_feed(p.s.d, g, n), rc = dtls_feed(p.c.d, g, n);
    assert_true(rs == 0 || rs == -EPROTO);
    assert_true(rc == 0 || rc == -EPROTO);
    teardown_pair(&p);
  }
}

static void test_misuse(void **state) {
  (void)state;
  struct pair p;
  setup_pair(&p, NULL, NULL, false, false);
  uint8_t fp[DTLS_FP_LEN] = {0};
  assert_null(dtls_new(p.xs, fp, 20, on_send, &p.s.out));
  assert_null(dtls_new(p.xs, NULL, 32, on_send, &p.s.out));
  assert_null(dtls_ctx_new(NULL, DTLS_ROLE_SERVER, NULL));
  assert_null(dtls_ctx_new(p.cs, DTLS_ROLE_SERVER, "NOT_A_PROFILE"));
  /* Nothing runs before the handshake starts. */
  assert_int_equal(dtls_timeout_ms(p.c.d, 0), -1);
  assert_int_equal(dtls_handle_timeout(p.c.d), 0);
  start(&p);
  assert_int_equal(dtls_start(p.c.d), -EINVAL);
  int t = dtls_timeout_ms(p.c.d, 0);
  assert_true(t > 0 && t <= 1000);
  assert_int_equal(dtls_handle_timeout(p.c.d), 0); /* not due yet */
  /* Closing before completion sends nothing. */
  p.c.out.n = 0;
  dtls_close(p.c.d);
  assert_int_equal(p.c.out.n, 0);
  assert_int_equal(dtls_timeout_ms(p.c.d, 0), -1);
  teardown_pair(&p);
}

/* A certificate made before dtls_fast_ec_install (a provider key), used after it. */
static struct dtls_cert *early_cert;

static void test_mixed_keys(void **state) {
  (void)state;
  struct dtls_cert *late = dtls_cert_new();
  assert_non_null(early_cert);
  assert_non_null(late);
  for (int server_early = 0; server_early < 2; server_early++) {
    struct dtls_cert *cs = server_early ? early_cert : late, *cc = server_early ? late : early_cert;
    struct dtls_ctx *xs = dtls_ctx_new(cs, DTLS_ROLE_SERVER, NULL);
    struct dtls_ctx *xc = dtls_ctx_new(cc, DTLS_ROLE_CLIENT, NULL);
    assert_non_null(xs);
    assert_non_null(xc);
    struct pair p;
    memset(&p, 0, sizeof(p));
    uint8_t fps[DTLS_FP_LEN], fpc[DTLS_FP_LEN];
    dtls_cert_fingerprint_bytes(cs, fps);
    dtls_cert_fingerprint_bytes(cc, fpc);
    p.s.d = dtls_new(xs, fpc, sizeof(fpc), on_send, &p.s.out);
    p.c.d = dtls_new(xc, fps, sizeof(fps), on_send, &p.c.out);
    start(&p);
    run(&p);
    expect_keys(&p, SRTPCTX_AEAD_AES_128_GCM);
    dtls_free(p.s.d);
    dtls_free(p.c.d);
    dtls_ctx_free(xs);
    dtls_ctx_free(xc);
  }
  dtls_cert_free(late);
}

static EVP_PKEY *p256_key(void) {
  EVP_PKEY *k = NULL;
  EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
  assert_non_null(kc);
  assert_true(EVP_PKEY_keygen_init(kc) > 0);
  assert_true(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kc, NID_X9_62_prime256v1) > 0);
  assert_true(EVP_PKEY_keygen(kc, &k) > 0);
  EVP_PKEY_CTX_free(kc);
  return k;
}

/* DER of a self-signed certificate for k. */
static int self_signed_der(EVP_PKEY *k, unsigned char **der) {
  X509 *x = X509_new();
  assert_non_null(x);
  assert_true(X509_set_version(x, X509_VERSION_3));
  assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 7));
  assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
  assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
  assert_true(X509_set_pubkey(x, k));
  assert_true(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                         (const unsigned char *)"peer", -1, -1, 0));
  assert_true(X509_set_issuer_name(x, X509_get_subject_name(x)));
  assert_true(X509_sign(x, k, EVP_sha256()) > 0);
  int n = i2d_X509(x, der);
  X509_free(x);
  assert_true(n > 0);
  return n;
}

static int verify_with(X509 *cert, const unsigned char *msg, size_t len, const unsigned char *sig,
                       size_t sig_len) {
  EVP_MD_CTX *m = EVP_MD_CTX_new();
  int ok = EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, X509_get0_pubkey(cert)) == 1 &&
           EVP_DigestVerify(m, sig, sig_len, msg, len) == 1;
  EVP_MD_CTX_free(m);
  return ok;
}

/* With the built-in EC method: a parsed peer certificate still proves exactly what it must. A
 * signature by its key verifies; a changed message, a changed signature, another key's
 * signature, and a certificate whose own signature was altered do not. */
static void test_fast_ec_verify(void **state) {
  (void)state;
  assert_true(dtls_fast_ec_active());
  EVP_PKEY *k = p256_key(), *other = p256_key();
  unsigned char *der = NULL;
  int n = self_signed_der(k, &der);
  const unsigned char *pp = der;
  X509 *cert = d2i_X509(NULL, &pp, n);
  assert_non_null(cert);
  assert_non_null(X509_get0_pubkey(cert));
  assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(cert)), EVP_PKEY_EC);
  assert_int_equal(X509_verify(cert, X509_get0_pubkey(cert)), 1);

  unsigned char msg[64] = "the transcript of a DTLS handshake, more or less", sig[128], sig2[128];
  size_t sl = sizeof(sig), sl2 = sizeof(sig2);
  EVP_MD_CTX *m = EVP_MD_CTX_new();
  assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k), 1);
  assert_int_equal(EVP_DigestSign(m, sig, &sl, msg, sizeof(msg)), 1);
  EVP_MD_CTX_free(m);
  m = EVP_MD_CTX_new();
  assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, other), 1);
  assert_int_equal(EVP_DigestSign(m, sig2, &sl2, msg, sizeof(msg)), 1);
  EVP_MD_CTX_free(m);

  assert_true(verify_with(cert, msg, sizeof(msg), sig, sl));
  msg[3] ^= 1;
  assert_false(verify_with(cert, msg, sizeof(msg), sig, sl));
  msg[3] ^= 1;
  sig[sl - 2] ^= 0x10;
  assert_false(verify_with(cert, msg, sizeof(msg), sig, sl));
  sig[sl - 2] ^= 0x10;
  assert_false(verify_with(cert, msg, sizeof(msg), sig2, sl2));
  assert_true(verify_with(cert, msg, sizeof(msg), sig, sl));

  /* The certificate's own signature is its last bytes. */
  der[n - 3] ^= 0x01;
  pp = der;
  X509 *bad = d2i_X509(NULL, &pp, n);
  if (bad)
    assert_true(X509_verify(bad, X509_get0_pubkey(bad)) <= 0);
  X509_free(bad);
  X509_free(cert);
  OPENSSL_free(der);
  EVP_PKEY_free(k);
  EVP_PKEY_free(other);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cert),
      cmocka_unit_test(test_handshake_gcm),
      cmocka_unit_test(test_handshake_sha1_only),
      cmocka_unit_test(test_server_preference),
      cmocka_unit_test(test_no_common_profile),
      cmocka_unit_test(test_wrong_fp_at_server),
      cmocka_unit_test(test_wrong_fp_at_client),
      cmocka_unit_test(test_lost_client_hello),
      cmocka_unit_test(test_lost_server_flight),
      cmocka_unit_test(test_lost_client_finished),
      cmocka_unit_test(test_lost_server_finished),
      cmocka_unit_test(test_datagram_size),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_hostile_records),
      cmocka_unit_test(test_misuse),
  };
  /* Every test twice: with OpenSSL's providers, then with its built-in EC method (which is
   * what the server and the bench install at start-up; it cannot be uninstalled). */
  early_cert = dtls_cert_new();
  int rc = cmocka_run_group_tests_name("dtls, EC keys through the providers", tests, NULL, NULL);
  if (dtls_fast_ec_install() != 0 || !dtls_fast_ec_active()) {
    fprintf(stderr, "dtls_fast_ec_install failed\n");
    return 1;
  }
  const struct CMUnitTest fast[] = {
      cmocka_unit_test(test_fast_ec_verify),
      cmocka_unit_test(test_mixed_keys),
  };
  rc |= cmocka_run_group_tests_name("dtls, built-in EC method", fast, NULL, NULL);
  rc |= cmocka_run_group_tests_name("dtls, built-in EC method: every test again", tests, NULL,
                                    NULL);
  dtls_cert_free(early_cert);
  return rc;
}
