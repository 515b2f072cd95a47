/* dtls.c -- DTLS 1.2 for DTLS-SRTP with OpenSSL on memory BIOs. */
#include "media/dtls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/srtp.h>
#include <openssl/x509.h>

#include "base/hex.h"

#define DTLS_DEFAULT_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
/* Every browser offers ECDHE with ECDSA; our certificate is ECDSA. */
#define DTLS_CIPHERS                                                                   \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                       \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA"
#define DTLS_CERT_DAYS (10L * 365)
#define DTLS_EXPORTER_LABEL "EXTRACTOR-dtls_srtp"

struct dtls_cert {
  EVP_PKEY *key;
  X509 *x509;
  uint8_t fp[DTLS_FP_LEN];
  char fp_str[DTLS_FP_STR_SIZE];
};

struct dtls_ctx {
  SSL_CTX *ctx;
  BIO_METHOD *bio;
  enum dtls_role role;
};

struct dtls {
  struct dtls_ctx *x;
  SSL *ssl;
  BIO *rbio; /* memory BIO, owned by ssl */
  dtls_send_fn send;
  void *arg;
  uint8_t peer_fp[DTLS_FP_LEN];
  bool started, done, closed;
  bool fp_ok, fp_bad; /* set by the certificate check */
  int error;          /* sticky negative errno once failed */
  size_t out_len;
  uint8_t out[DTLS_MTU]; /* records not yet handed to send */
};

/* --- the certificate ---------------------------------------------------- */

static int dtls__cert_build(struct dtls_cert *c) {
  /* The curve by NID (not EVP_EC_gen's OSSL_PARAM): works with the provider and with the
   * built-in EC method alike (dtls_fast_ec_install). */
  EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
  if (!kc || EVP_PKEY_keygen_init(kc) <= 0 ||
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kc, NID_X9_62_prime256v1) <= 0 ||
      EVP_PKEY_keygen(kc, &c->key) <= 0)
    c->key = NULL;
  EVP_PKEY_CTX_free(kc);
  c->x509 = X509_new();
  if (!c->key || !c->x509)
    return -1;
  X509 *x = c->x509;
  uint8_t rnd[8];
  char cn[32];
  if (RAND_bytes(rnd, sizeof(rnd)) != 1)
    return -1;
  rnd[0] &= 0x7f; /* a positive serial */
  BIGNUM *bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
  int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
  BN_free(bn);
  snprintf(cn, sizeof(cn), "tandem-%02x%02x%02x%02x", rnd[4], rnd[5], rnd[6], rnd[7]);
  X509_NAME *name = X509_get_subject_name(x);
  ok = ok && X509_set_version(x, X509_VERSION_3) &&
       X509_gmtime_adj(X509_getm_notBefore(x), -24L * 3600) &&
       X509_gmtime_adj(X509_getm_notAfter(x), DTLS_CERT_DAYS * 24 * 3600) &&
       X509_set_pubkey(x, c->key) &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                  0) &&
       X509_set_issuer_name(x, name) && X509_sign(x, c->key, EVP_sha256()) > 0;
  unsigned n = 0;
  uint8_t md[EVP_MAX_MD_SIZE];
  if (!ok || !X509_digest(x, EVP_sha256(), md, &n) || n != DTLS_FP_LEN)
    return -1;
  memcpy(c->fp, md, DTLS_FP_LEN);
  for (size_t i = 0; i < DTLS_FP_LEN; i++)
    snprintf(c->fp_str + 3 * i, 4, i + 1 < DTLS_FP_LEN ? "%02X:" : "%02X", c->fp[i]);
  return 0;
}

struct dtls_cert *dtls_cert_new(void) {
  struct dtls_cert *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  if (dtls__cert_build(c) != 0) {
    ERR_clear_error();
    dtls_cert_free(c);
    return NULL;
  }
  return c;
}

void dtls_cert_free(struct dtls_cert *c) {
  if (!c)
    return;
  X509_free(c->x509);
  EVP_PKEY_free(c->key);
  free(c);
}

const char *dtls_cert_fingerprint(const struct dtls_cert *c) {
  return c->fp_str;
}

void dtls_cert_fingerprint_bytes(const struct dtls_cert *c, uint8_t fp[DTLS_FP_LEN]) {
  memcpy(fp, c->fp, DTLS_FP_LEN);
}

int dtls_fingerprint_parse(const char *s, size_t len, uint8_t fp[DTLS_FP_LEN]) {
  if (!s || !fp || len != DTLS_FP_STR_SIZE - 1)
    return -EBADMSG;
  for (size_t i = 0; i < DTLS_FP_LEN; i++) {
    int b = hex_byte(s + 3 * i);
    if (b < 0 || (i + 1 < DTLS_FP_LEN && s[3 * i + 2] != ':'))
      return -EBADMSG;
    fp[i] = (uint8_t)b;
  }
  return 0;
}

/* --- the outgoing BIO --------------------------------------------------- */

static void dtls__flush(struct dtls *d) {
  if (d->out_len == 0)
    return;
  size_t n = d->out_len;
  d->out_len = 0;
  d->send(d->arg, d->out, n);
}

/* OpenSSL writes one record per call and sizes each record to what
 * BIO_wpending says is left of the current datagram, so records pack into
 * datagrams of at most DTLS_MTU bytes without ever being split. */
static int dtls__bio_write(BIO *b, const char *data, int len) {
  struct dtls *d = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (!d || len < 0)
    return -1;
  size_t n = (size_t)len;
  if (d->out_len + n > DTLS_MTU)
    dtls__flush(d);
  if (n > DTLS_MTU) {
    d->send(d->arg, (const uint8_t *)data, n);
    return len;
  }
  memcpy(d->out + d->out_len, data, n);
  d->out_len += n;
  return len;
}

static long dtls__bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  struct dtls *d = BIO_get_data(b);
  (void)num;
  (void)ptr;
  switch (cmd) {
  case BIO_CTRL_FLUSH:
    if (d)
      dtls__flush(d);
    return 1;
  case BIO_CTRL_WPENDING:
    return d ? (long)d->out_len : 0;
  case BIO_CTRL_PENDING:
    return 0;
  case BIO_CTRL_DGRAM_QUERY_MTU:
  case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
    return DTLS_MTU;
  default:
    return 0;
  }
}

static int dtls__bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static int dtls__bio_destroy(BIO *b) {
  BIO_set_data(b, NULL);
  return 1;
}

/* --- the context -------------------------------------------------------- */

/* Replaces chain verification: the only thing that makes a peer certificate
 * acceptable is its sha-256 matching the SDP fingerprint. The signatures
 * of the handshake prove the peer holds its key. */
static int dtls__verify(X509_STORE_CTX *store, void *arg) {
  (void)arg;
  SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
  struct dtls *d = ssl ? SSL_get_app_data(ssl) : NULL;
  X509 *cert = X509_STORE_CTX_get0_cert(store);
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (!d)
    return 0;
  if (!cert || !X509_digest(cert, EVP_sha256(), md, &n) || n != DTLS_FP_LEN ||
      CRYPTO_memcmp(md, d->peer_fp, DTLS_FP_LEN) != 0) {
    d->fp_bad = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  d->fp_ok = true;
  X509_STORE_CTX_set_error(store, X509_V_OK);
  return 1;
}

struct dtls_ctx *dtls_ctx_new(const struct dtls_cert *c, enum dtls_role role,
                              const char *srtp_profiles) {
  if (!c || (role != DTLS_ROLE_SERVER && role != DTLS_ROLE_CLIENT))
    return NULL;
  struct dtls_ctx *x = calloc(1, sizeof(*x));
  if (!x)
    return NULL;
  x->role = role;
  x->ctx = SSL_CTX_new(DTLS_method());
  int idx = BIO_get_new_index();
  if (idx > 0)
    x->bio = BIO_meth_new(idx | BIO_TYPE_SOURCE_SINK, "tandem-dtls");
  SSL_CTX *ctx = x->ctx;
  bool ok = ctx && x->bio && BIO_meth_set_write(x->bio, dtls__bio_write) &&
            BIO_meth_set_ctrl(x->bio, dtls__bio_ctrl) &&
            BIO_meth_set_create(x->bio, dtls__bio_create) &&
            BIO_meth_set_destroy(x->bio, dtls__bio_destroy) &&
            SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) &&
            SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) &&
            SSL_CTX_use_certificate(ctx, c->x509) == 1 &&
            SSL_CTX_use_PrivateKey(ctx, c->key) == 1 && SSL_CTX_check_private_key(ctx) == 1 &&
            SSL_CTX_set_cipher_list(ctx, DTLS_CIPHERS) == 1 &&
            SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") == 1 &&
            /* Returns 0 on success, unlike everything around it. */
            SSL_CTX_set_tlsext_use_srtp(ctx, srtp_profiles ? srtp_profiles
                                                           : DTLS_DEFAULT_PROFILES) == 0;
  if (!ok) {
    ERR_clear_error();
    dtls_ctx_free(x);
    return NULL;
  }
  /* No resumption (it would skip the certificate, hence the fingerprint
   * check), no renegotiation, and no MTU probing through our BIO. */
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  SSL_CTX_set_cert_verify_callback(ctx, dtls__verify, NULL);
  return x;
}

void dtls_ctx_free(struct dtls_ctx *x) {
  if (!x)
    return;
  SSL_CTX_free(x->ctx);
  BIO_meth_free(x->bio);
  free(x);
}

/* --- one association ---------------------------------------------------- */

struct dtls *dtls_new(struct dtls_ctx *x, const uint8_t *peer_fp, size_t peer_fp_len,
                      dtls_send_fn send, void *arg) {
  if (!x || !peer_fp || peer_fp_len != DTLS_FP_LEN || !send)
    return NULL;
  struct dtls *d = calloc(1, sizeof(*d));
  if (!d)
    return NULL;
  d->x = x;
  d->send = send;
  d->arg = arg;
  memcpy(d->peer_fp, peer_fp, DTLS_FP_LEN);
  d->ssl = SSL_new(x->ctx);
  BIO *rbio = BIO_new(BIO_s_mem());
  BIO *wbio = BIO_new(x->bio);
  if (!d->ssl || !rbio || !wbio) {
    BIO_free(rbio);
    BIO_free(wbio);
    ERR_clear_error();
    dtls_free(d);
    return NULL;
  }
  /* An empty memory BIO means "no datagram yet", not end of file. */
  BIO_set_mem_eof_return(rbio, -1);
  BIO_set_data(wbio, d);
  SSL_set_bio(d->ssl, rbio, wbio);
  d->rbio = rbio;
  SSL_set_app_data(d->ssl, d);
  if (SSL_set_mtu(d->ssl, DTLS_MTU) <= 0) {
    ERR_clear_error();
    dtls_free(d);
    return NULL;
  }
  if (x->role == DTLS_ROLE_SERVER)
    SSL_set_accept_state(d->ssl);
  else
    SSL_set_connect_state(d->ssl);
  return d;
}

static int dtls__fail(struct dtls *d, int rc) {
  d->error = rc;
  return rc;
}

/* Maps the result of an SSL call; clears OpenSSL's per-thread error queue so
 * no stale error leaks into the next call on this thread. */
static int dtls__result(struct dtls *d, int r) {
  int e = SSL_get_error(d->ssl, r);
  ERR_clear_error();
  switch (e) {
  case SSL_ERROR_NONE:
  case SSL_ERROR_WANT_READ:
  case SSL_ERROR_WANT_WRITE:
    return 0;
  case SSL_ERROR_ZERO_RETURN:
    return dtls__fail(d, -ECONNRESET);
  default:
    return dtls__fail(d, d->fp_bad ? -EACCES : -EPROTO);
  }
}

int dtls_start(struct dtls *d) {
  if (!d || d->error || d->closed)
    return -EINVAL;
  if (d->x->role == DTLS_ROLE_SERVER)
    return 0;
  if (d->started)
    return -EINVAL;
  d->started = true;
  ERR_clear_error();
  int r = SSL_do_handshake(d->ssl);
  int rc = dtls__result(d, r);
  dtls__flush(d);
  return rc;
}

/* The handshake just finished: it only counts if the certificate check ran
 * and passed, and DTLS-SRTP was negotiated. */
static int dtls__complete(struct dtls *d) {
  if (!d->fp_ok || d->fp_bad)
    return dtls__fail(d, -EACCES);
  if (!SSL_get_selected_srtp_profile(d->ssl))
    return dtls__fail(d, -EPROTO);
  d->done = true;
  return 1;
}

/* After the handshake: let OpenSSL process what arrived (a retransmitted
 * final flight from the peer makes it resend ours; close_notify ends the
 * association) and throw application data away. */
static int dtls__drain(struct dtls *d) {
  uint8_t sink[4096];
  for (int i = 0; i < 64; i++) {
    int r = SSL_read(d->ssl, sink, (int)sizeof(sink));
    if (r <= 0)
      return dtls__result(d, r);
  }
  return 0;
}

int dtls_feed(struct dtls *d, const uint8_t *buf, size_t len) {
  if (!d)
    return -EINVAL;
  if (d->error)
    return d->error;
  if (d->closed || !buf || len == 0 || len > INT_MAX)
    return 0;
  ERR_clear_error();
  if (BIO_write(d->rbio, buf, (int)len) != (int)len) {
    ERR_clear_error();
    return 0;
  }
  int rc;
  if (!d->done) {
    d->started = true;
    int r = SSL_do_handshake(d->ssl);
    rc = r == 1 ? dtls__complete(d) : dtls__result(d, r);
  } else {
    rc = dtls__drain(d);
  }
  ERR_clear_error();
  dtls__flush(d);
  return rc;
}

int dtls_timeout_ms(struct dtls *d, uint64_t now_ms) {
  (void)now_ms;
  if (!d || d->error || d->closed || d->done || !d->started)
    return -1;
  struct timeval tv;
  if (DTLSv1_get_timeout(d->ssl, &tv) != 1)
    return -1;
  uint64_t ms = (uint64_t)tv.tv_sec * 1000u + ((uint64_t)tv.tv_usec + 999u) / 1000u;
  return ms > INT_MAX ? INT_MAX : (int)ms;
}

int dtls_handle_timeout(struct dtls *d) {
  if (!d)
    return -EINVAL;
  if (d->error)
    return d->error;
  if (d->closed || d->done || !d->started)
    return 0;
  ERR_clear_error();
  int r = (int)DTLSv1_handle_timeout(d->ssl);
  ERR_clear_error();
  dtls__flush(d);
  if (r < 0)
    return dtls__fail(d, -ETIMEDOUT);
  return 0;
}

bool dtls_done(const struct dtls *d) {
  return d && d->done && !d->error;
}

int dtls_srtp_keys(struct dtls *d, struct srtp_keys *k) {
  if (!d || !k || !d->done || d->error)
    return -EINVAL;
  const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
  if (!p)
    return -EINVAL;
  size_t kl, sl;
  enum srtpctx_profile prof;
  switch (p->id) {
  case SRTP_AES128_CM_SHA1_80:
    prof = SRTPCTX_AES128_CM_SHA1_80;
    kl = 16;
    sl = 14;
    break;
  case SRTP_AEAD_AES_128_GCM:
    prof = SRTPCTX_AEAD_AES_128_GCM;
    kl = 16;
    sl = 12;
    break;
  default:
    return -EINVAL;
  }
  uint8_t m[2 * (SRTPCTX_MAX_KEY + 14)];
  size_t total = 2 * (kl + sl);
  ERR_clear_error();
  if (SSL_export_keying_material(d->ssl, m, total, DTLS_EXPORTER_LABEL,
                                 sizeof(DTLS_EXPORTER_LABEL) - 1, NULL, 0, 0) != 1) {
    ERR_clear_error();
    return -EINVAL;
  }
  /* client_write_key | server_write_key | client_salt | server_salt */
  const uint8_t *ck = m, *sk = m + kl, *cs = m + 2 * kl, *ss = m + 2 * kl + sl;
  bool client = d->x->role == DTLS_ROLE_CLIENT;
  memset(k, 0, sizeof(*k));
  k->profile = prof;
  k->key_len = kl;
  k->salt_len = sl;
  memcpy(k->local, client ? ck : sk, kl);
  memcpy(k->local + kl, client ? cs : ss, sl);
  memcpy(k->remote, client ? sk : ck, kl);
  memcpy(k->remote + kl, client ? ss : cs, sl);
  OPENSSL_cleanse(m, sizeof(m));
  return 0;
}

const char *dtls_profile_name(enum srtpctx_profile p) {
  switch (p) {
  case SRTPCTX_AES128_CM_SHA1_80:
    return "SRTP_AES128_CM_SHA1_80";
  case SRTPCTX_AEAD_AES_128_GCM:
    return "SRTP_AEAD_AES_128_GCM";
  default:
    return "unknown";
  }
}

void dtls_close(struct dtls *d) {
  if (!d || d->closed)
    return;
  d->closed = true;
  if (!d->done || d->error)
    return;
  ERR_clear_error();
  (void)SSL_shutdown(d->ssl);
  ERR_clear_error();
  dtls__flush(d);
}

void dtls_free(struct dtls *d) {
  if (!d)
    return;
  SSL_free(d->ssl);
  free(d);
}
