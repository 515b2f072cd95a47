/* srtpctx.c -- SRTP/SRTCP protection of one transport with libsrtp2. */
#include "media/srtpctx.h"
#include "media/srtp_ossl.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#define SRTPCTX_RTP_HEADER 12
#define SRTPCTX_RTCP_HEADER 8
#define SRTPCTX_SRTCP_INDEX 4
/* Inbound replay window in packets: wide enough for reordered video at high
 * rates (libsrtp's default is 128). */
#define SRTPCTX_REPLAY_WINDOW 1024

struct srtpctx {
  srtp_t in;   /* ssrc_any_inbound, the remote key */
  srtp_t out;  /* ssrc_any_outbound, the local key */
  size_t tag;  /* authentication tag length of the profile */
  enum srtpctx_profile profile;
  uint8_t remote[SRTPCTX_MAX_KEY + 14]; /* for retransmissions (srtpctx_unprotect_rtp_again) */
  size_t remote_len;
};

static pthread_once_t srtpctx_once = PTHREAD_ONCE_INIT;
static int srtpctx_init_rc = -EIO;

/* After srtp_init(), swap libsrtp's NSS transforms for the OpenSSL ones in
 * media/srtp_ossl.c unless TANDEM_SRTP_BACKEND=libsrtp asks for the stock
 * ones (for comparison). A transform that fails libsrtp's self-test is not
 * installed and the stock one keeps working, so that is not an error here;
 * srtp_ossl_backend() tells which one runs. */
static void srtpctx__init_once(void) {
  if (srtp_init() != srtp_err_status_ok) {
    srtpctx_init_rc = -EIO;
    return;
  }
  const char *backend = getenv("TANDEM_SRTP_BACKEND");
  if (!backend || strcmp(backend, "libsrtp") != 0)
    (void)srtp_ossl_install();
  srtpctx_init_rc = 0;
}

int srtpctx_global_init(void) {
  if (pthread_once(&srtpctx_once, srtpctx__init_once) != 0)
    return -EIO;
  return srtpctx_init_rc;
}

/* An inbound or outbound session for any SSRC; or, with ssrc != 0, an inbound one for that
 * SSRC only (a one-off for a retransmission). */
static int srtpctx__session(srtp_t *out, enum srtpctx_profile profile, const uint8_t *key,
                            size_t key_len, bool inbound, uint32_t ssrc) {
  srtp_policy_t p;
  uint8_t k[SRTPCTX_MAX_KEY + 14];
  memset(&p, 0, sizeof(p));
  switch (profile) {
  case SRTPCTX_AES128_CM_SHA1_80:
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
    break;
  case SRTPCTX_AEAD_AES_128_GCM:
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    break;
  default:
    return -EINVAL;
  }
  memcpy(k, key, key_len);
  p.ssrc.type = ssrc ? ssrc_specific : inbound ? ssrc_any_inbound : ssrc_any_outbound;
  p.ssrc.value = ssrc;
  p.key = k;
  p.window_size = inbound ? SRTPCTX_REPLAY_WINDOW : 0;
  /* A NACKed packet is protected again with the same index and payload. */
  p.allow_repeat_tx = inbound ? 0 : 1;
  p.next = NULL;
  srtp_err_status_t st = srtp_create(out, &p);
  memset(k, 0, sizeof(k));
  if (st != srtp_err_status_ok) {
    *out = NULL;
    return st == srtp_err_status_alloc_fail ? -ENOMEM : -EINVAL;
  }
  return 0;
}

struct srtpctx *srtpctx_new(const struct srtp_keys *k) {
  if (!k)
    return NULL;
  size_t want_key, want_salt, tag;
  switch (k->profile) {
  case SRTPCTX_AES128_CM_SHA1_80:
    want_key = SRTP_AES_128_KEY_LEN;
    want_salt = SRTP_SALT_LEN;
    tag = 10;
    break;
  case SRTPCTX_AEAD_AES_128_GCM:
    want_key = SRTP_AES_128_KEY_LEN;
    want_salt = SRTP_AEAD_SALT_LEN;
    tag = 16;
    break;
  default:
    return NULL;
  }
  if (k->key_len != want_key || k->salt_len != want_salt)
    return NULL;
  struct srtpctx *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->tag = tag;
  size_t kl = k->key_len + k->salt_len;
  s->profile = k->profile;
  memcpy(s->remote, k->remote, kl);
  s->remote_len = kl;
  if (srtpctx__session(&s->in, k->profile, k->remote, kl, true, 0) != 0 ||
      srtpctx__session(&s->out, k->profile, k->local, kl, false, 0) != 0) {
    srtpctx_free(s);
    return NULL;
  }
  return s;
}

void srtpctx_free(struct srtpctx *s) {
  if (!s)
    return;
  if (s->in)
    srtp_dealloc(s->in);
  if (s->out)
    srtp_dealloc(s->out);
  memset(s->remote, 0, sizeof(s->remote));
  free(s);
}

static int srtpctx__errno(srtp_err_status_t st) {
  switch (st) {
  case srtp_err_status_ok:
    return 0;
  case srtp_err_status_auth_fail:
  case srtp_err_status_cipher_fail:
    return -EACCES;
  case srtp_err_status_replay_fail:
  case srtp_err_status_replay_old:
  case srtp_err_status_pkt_idx_old:
    return -EALREADY;
  case srtp_err_status_alloc_fail:
    return -ENOMEM;
  default:
    return -EBADMSG;
  }
}

/* The RTP header length (fixed part, CSRCs, extension) if it fits in len
 * and the version is 2, else 0. libsrtp checks too; this keeps hostile
 * lengths away from it altogether. */
static size_t srtpctx__rtp_header(const uint8_t *buf, size_t len) {
  if (len < SRTPCTX_RTP_HEADER || (buf[0] >> 6) != 2)
    return 0;
  size_t h = SRTPCTX_RTP_HEADER + 4u * (buf[0] & 0x0fu);
  if (buf[0] & 0x10u) {
    if (h + 4 > len)
      return 0;
    h += 4 + 4u * (((size_t)buf[h + 2] << 8) | buf[h + 3]);
  }
  return h <= len ? h : 0;
}

static bool srtpctx__rtcp_header_ok(const uint8_t *buf, size_t len) {
  return len >= SRTPCTX_RTCP_HEADER && (buf[0] >> 6) == 2;
}

/* Unprotects an RTP packet (its header checked) with session `in`: ours, or a one-off. */
static int srtpctx__unprotect_rtp(srtp_t in, uint8_t *buf, size_t *len) {
  int n = (int)*len;
  int rc = srtpctx__errno(srtp_unprotect(in, buf, &n));
  if (rc == 0) {
    if (n < 0 || (size_t)n > *len)
      return -EBADMSG;
    *len = (size_t)n;
  }
  return rc;
}

static int srtpctx__rtp_ok(const struct srtpctx *s, const uint8_t *buf, const size_t *len) {
  if (!s || !buf || !len)
    return -EINVAL;
  size_t h = srtpctx__rtp_header(buf, *len);
  return h == 0 || *len < h + s->tag || *len > INT_MAX ? -EBADMSG : 0;
}

int srtpctx_unprotect_rtp(struct srtpctx *s, uint8_t *buf, size_t *len) {
  int rc = srtpctx__rtp_ok(s, buf, len);
  return rc ? rc : srtpctx__unprotect_rtp(s->in, buf, len);
}

int srtpctx_unprotect_rtp_again(struct srtpctx *s, uint8_t *buf, size_t *len) {
  int rc = srtpctx__rtp_ok(s, buf, len);
  if (rc)
    return rc;
  uint32_t ssrc = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
  uint32_t roc = 0;
  if (ssrc == 0 || srtp_get_stream_roc(s->in, ssrc, &roc) != srtp_err_status_ok)
    return -ENOENT;
  /* A fresh stream takes the packet's index as the stream's rollover counter with its sequence
   * number (libsrtp's pending ROC; none is needed at 0). Its replay window starts empty. */
  srtp_t once;
  if ((rc = srtpctx__session(&once, s->profile, s->remote, s->remote_len, true, ssrc)) != 0)
    return rc;
  if (roc && srtp_set_stream_roc(once, ssrc, roc) != srtp_err_status_ok)
    rc = -EIO;
  else
    rc = srtpctx__unprotect_rtp(once, buf, len);
  srtp_dealloc(once);
  return rc;
}

int srtpctx_unprotect_rtcp(struct srtpctx *s, uint8_t *buf, size_t *len) {
  if (!s || !buf || !len)
    return -EINVAL;
  if (!srtpctx__rtcp_header_ok(buf, *len) ||
      *len < SRTPCTX_RTCP_HEADER + SRTPCTX_SRTCP_INDEX + s->tag || *len > INT_MAX)
    return -EBADMSG;
  int n = (int)*len;
  int rc = srtpctx__errno(srtp_unprotect_rtcp(s->in, buf, &n));
  if (rc == 0) {
    if (n < 0 || (size_t)n > *len)
      return -EBADMSG;
    *len = (size_t)n;
  }
  return rc;
}

static int srtpctx__protect_errno(srtp_err_status_t st) {
  int rc = srtpctx__errno(st);
  return rc == -EACCES || rc == -EALREADY ? -EIO : rc;
}

int srtpctx_protect_rtp(struct srtpctx *s, uint8_t *buf, size_t *len, size_t cap) {
  if (!s || !buf || !len)
    return -EINVAL;
  if (srtpctx__rtp_header(buf, *len) == 0)
    return -EBADMSG;
  if (cap > INT_MAX)
    cap = INT_MAX;
  if (*len > cap || cap - *len < s->tag)
    return -ENOSPC;
  int n = (int)*len;
  srtp_err_status_t st = srtp_protect(s->out, buf, &n);
  if (st != srtp_err_status_ok)
    return srtpctx__protect_errno(st);
  if (n < 0 || (size_t)n > cap)
    return -EIO;
  *len = (size_t)n;
  return 0;
}

int srtpctx_protect_rtcp(struct srtpctx *s, uint8_t *buf, size_t *len, size_t cap) {
  if (!s || !buf || !len)
    return -EINVAL;
  if (!srtpctx__rtcp_header_ok(buf, *len))
    return -EBADMSG;
  if (cap > INT_MAX)
    cap = INT_MAX;
  if (*len > cap || cap - *len < SRTPCTX_SRTCP_INDEX + s->tag)
    return -ENOSPC;
  int n = (int)*len;
  srtp_err_status_t st = srtp_protect_rtcp(s->out, buf, &n);
  if (st != srtp_err_status_ok)
    return srtpctx__protect_errno(st);
  if (n < 0 || (size_t)n > cap)
    return -EIO;
  *len = (size_t)n;
  return 0;
}
