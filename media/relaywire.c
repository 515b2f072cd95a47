/* relaywire.c -- sealing and opening the datagrams between nodes (AES-128-GCM, HKDF-SHA256
 * keys per link and direction, a sliding replay window). Pure; see relaywire.h. */
#include "media/relaywire.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_WORDS (RELAYWIRE_WINDOW / 64)

struct relaywire {
  uint64_t link_id;
  uint8_t tx_dir, rx_dir;
  EVP_CIPHER_CTX *tx, *rx;     /* keyed once; each packet only sets its nonce */
  uint64_t next;               /* the counter the next sealed datagram takes */
  /* Replay window: bit (c % RELAYWIRE_WINDOW) for counters in (top - WINDOW, top]. */
  bool any;                    /* something was accepted: top is meaningful */
  uint64_t top;
  uint64_t seen[WINDOW_WORDS];
};

static const char SALT[] = "tandem-relay-v1";
static const char INFO[] = "tandem relay key";

bool relaywire_is(const uint8_t *buf, size_t len) { return len > 0 && buf[0] == RELAYWIRE_MAGIC; }

static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}

int relaywire_peek(const uint8_t *buf, size_t len, struct relaywire_hdr *h) {
  if (!buf || len < RELAYWIRE_OVERHEAD + 1 || buf[0] != RELAYWIRE_MAGIC || buf[3] != 0)
    return -EBADMSG;
  if (buf[1] != RELAYWIRE_VERSION)
    return -EPROTONOSUPPORT;
  if (buf[2] != RELAYWIRE_RTP && buf[2] != RELAYWIRE_RTCP)
    return -EBADMSG;
  h->version = buf[1];
  h->kind = buf[2];
  h->link_id = get64(buf + 4);
  h->counter = get64(buf + 12);
  return 0;
}

int relaywire_derive_key(const uint8_t secret[RELAYWIRE_SECRET_LEN], uint64_t link_id, int dir,
                         uint8_t key[RELAYWIRE_KEY_LEN]) {
  if (dir != 0 && dir != 1)
    return -EINVAL;
  uint8_t info[sizeof(INFO) - 1 + 9];
  memcpy(info, INFO, sizeof(INFO) - 1);
  put64(info + sizeof(INFO) - 1, link_id);
  info[sizeof(info) - 1] = (uint8_t)dir;
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  EVP_KDF_free(kdf);
  if (!kc)
    return -EIO;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, RELAYWIRE_SECRET_LEN),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)SALT, sizeof(SALT) - 1),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info)),
      OSSL_PARAM_construct_end(),
  };
  int ok = EVP_KDF_derive(kc, key, RELAYWIRE_KEY_LEN, params);
  EVP_KDF_CTX_free(kc);
  return ok == 1 ? 0 : -EIO;
}

static EVP_CIPHER_CTX *keyed(const uint8_t secret[RELAYWIRE_SECRET_LEN], uint64_t link_id,
                             int dir, bool enc) {
  uint8_t key[RELAYWIRE_KEY_LEN];
  if (relaywire_derive_key(secret, link_id, dir, key) != 0)
    return NULL;
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int ok = c && (enc ? EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, NULL)
                     : EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, NULL)) == 1;
  OPENSSL_cleanse(key, sizeof(key));
  if (!ok) {
    EVP_CIPHER_CTX_free(c);
    return NULL;
  }
  return c;
}

struct relaywire *relaywire_new(const uint8_t secret[RELAYWIRE_SECRET_LEN], uint64_t link_id,
                                int side) {
  if (side != 0 && side != 1)
    return NULL;
  struct relaywire *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  r->link_id = link_id;
  r->tx_dir = (uint8_t)side;
  r->rx_dir = (uint8_t)(1 - side);
  r->tx = keyed(secret, link_id, r->tx_dir, true);
  r->rx = keyed(secret, link_id, r->rx_dir, false);
  if (!r->tx || !r->rx) {
    relaywire_free(r);
    return NULL;
  }
  return r;
}

void relaywire_free(struct relaywire *r) {
  if (!r)
    return;
  EVP_CIPHER_CTX_free(r->tx); /* wipes the key schedule */
  EVP_CIPHER_CTX_free(r->rx);
  OPENSSL_cleanse(r, sizeof(*r));
  free(r);
}

uint64_t relaywire_link_id(const struct relaywire *r) { return r->link_id; }

static void nonce(uint8_t iv[12], uint8_t dir, uint64_t counter) {
  iv[0] = dir;
  iv[1] = iv[2] = iv[3] = 0;
  put64(iv + 4, counter);
}

int relaywire_seal(struct relaywire *r, int kind, const uint8_t *plain, size_t len, uint8_t *out,
                   size_t cap, size_t *out_len) {
  if ((kind != RELAYWIRE_RTP && kind != RELAYWIRE_RTCP) || len == 0 || len > INT32_MAX)
    return -EINVAL;
  if (cap < RELAYWIRE_OVERHEAD || len > cap - RELAYWIRE_OVERHEAD)
    return -EMSGSIZE;
  if (r->next == UINT64_MAX)
    return -EOVERFLOW;
  uint8_t iv[12];
  nonce(iv, r->tx_dir, r->next);
  out[0] = RELAYWIRE_MAGIC;
  out[1] = RELAYWIRE_VERSION;
  out[2] = (uint8_t)kind;
  out[3] = 0;
  put64(out + 4, r->link_id);
  put64(out + 12, r->next);
  int n = 0, f = 0;
  uint8_t *ct = out + RELAYWIRE_HDR;
  if (EVP_EncryptInit_ex(r->tx, NULL, NULL, NULL, iv) != 1 ||
      EVP_EncryptUpdate(r->tx, NULL, &n, out, RELAYWIRE_HDR) != 1 ||
      EVP_EncryptUpdate(r->tx, ct, &n, plain, (int)len) != 1 ||
      EVP_EncryptFinal_ex(r->tx, ct + n, &f) != 1 || (size_t)(n + f) != len ||
      EVP_CIPHER_CTX_ctrl(r->tx, EVP_CTRL_GCM_GET_TAG, RELAYWIRE_TAG, ct + len) != 1)
    return -EIO;
  r->next++;
  *out_len = len + RELAYWIRE_OVERHEAD;
  return 0;
}

static bool seen_bit(const struct relaywire *r, uint64_t c) {
  unsigned i = (unsigned)(c % RELAYWIRE_WINDOW);
  return (r->seen[i / 64] >> (i % 64)) & 1;
}

static void set_bit(struct relaywire *r, uint64_t c, bool on) {
  unsigned i = (unsigned)(c % RELAYWIRE_WINDOW);
  if (on)
    r->seen[i / 64] |= (uint64_t)1 << (i % 64);
  else
    r->seen[i / 64] &= ~((uint64_t)1 << (i % 64));
}

/* 0 when counter c may be accepted; the window itself does not change here. */
static int replay_check(const struct relaywire *r, uint64_t c) {
  if (!r->any || c > r->top)
    return 0;
  if (r->top - c >= RELAYWIRE_WINDOW)
    return -ESTALE;
  return seen_bit(r, c) ? -EALREADY : 0;
}

static void replay_accept(struct relaywire *r, uint64_t c) {
  if (!r->any) {
    memset(r->seen, 0, sizeof(r->seen));
    r->top = c;
    r->any = true;
  } else if (c > r->top) {
    /* The slots of the counters passed over now stand for new ones: not seen yet. */
    if (c - r->top >= RELAYWIRE_WINDOW)
      memset(r->seen, 0, sizeof(r->seen));
    else
      for (uint64_t k = r->top + 1; k < c; k++)
        set_bit(r, k, false);
    r->top = c;
  }
  set_bit(r, c, true);
}

int relaywire_open(struct relaywire *r, const uint8_t *buf, size_t len, struct relaywire_hdr *h,
                   uint8_t *out, size_t cap, size_t *out_len) {
  struct relaywire_hdr hd;
  int rc = relaywire_peek(buf, len, &hd);
  if (rc)
    return rc;
  if (hd.link_id != r->link_id)
    return -ENOENT;
  if ((rc = replay_check(r, hd.counter)) != 0)
    return rc;
  size_t clen = len - RELAYWIRE_OVERHEAD;
  if (clen > cap)
    return -EMSGSIZE;
  if (clen > INT32_MAX)
    return -EBADMSG;
  uint8_t iv[12], tag[RELAYWIRE_TAG];
  nonce(iv, r->rx_dir, hd.counter);
  memcpy(tag, buf + len - RELAYWIRE_TAG, RELAYWIRE_TAG);
  int n = 0, f = 0;
  if (EVP_DecryptInit_ex(r->rx, NULL, NULL, NULL, iv) != 1 ||
      EVP_DecryptUpdate(r->rx, NULL, &n, buf, RELAYWIRE_HDR) != 1 ||
      EVP_DecryptUpdate(r->rx, out, &n, buf + RELAYWIRE_HDR, (int)clen) != 1 ||
      EVP_CIPHER_CTX_ctrl(r->rx, EVP_CTRL_GCM_SET_TAG, RELAYWIRE_TAG, tag) != 1)
    return -EIO;
  if (EVP_DecryptFinal_ex(r->rx, out + n, &f) != 1)
    return -EACCES;
  replay_accept(r, hd.counter);
  *h = hd;
  *out_len = clen;
  return 0;
}

/* ---- bundles ---- */

bool relaywire_is_bundle(const uint8_t *buf, size_t len) {
  return len >= RELAYWIRE_BUNDLE_HDR && buf[0] == RELAYWIRE_MAGIC &&
         buf[1] == RELAYWIRE_VERSION && buf[2] == RELAYWIRE_BUNDLE;
}

int relaywire_bundle_parse(uint8_t *buf, size_t len, struct relaywire_bundle_iter *it) {
  if (!buf || len < RELAYWIRE_BUNDLE_HDR || buf[0] != RELAYWIRE_MAGIC)
    return -EBADMSG;
  if (buf[1] != RELAYWIRE_VERSION)
    return -EPROTONOSUPPORT;
  unsigned count = buf[3];
  if (buf[2] != RELAYWIRE_BUNDLE || count < 2)
    return -EBADMSG;
  /* Every length and every datagram's clear header first: a bundle is taken whole or not. */
  size_t off = RELAYWIRE_BUNDLE_HDR;
  unsigned found = 0;
  while (off < len) {
    if (len - off < RELAYWIRE_BUNDLE_LEN || found == count)
      return -EBADMSG;
    size_t n = (size_t)buf[off] << 8 | buf[off + 1];
    off += RELAYWIRE_BUNDLE_LEN;
    struct relaywire_hdr h;
    if (n > len - off || relaywire_peek(buf + off, n, &h) != 0)
      return -EBADMSG;
    off += n;
    found++;
  }
  if (found != count)
    return -EBADMSG;
  *it = (struct relaywire_bundle_iter){.buf = buf, .len = len, .off = RELAYWIRE_BUNDLE_HDR,
                                       .left = count};
  return 0;
}

bool relaywire_bundle_next(struct relaywire_bundle_iter *it, uint8_t **dg, size_t *dg_len) {
  if (!it->left || it->len - it->off < RELAYWIRE_BUNDLE_LEN)
    return false;
  size_t n = (size_t)it->buf[it->off] << 8 | it->buf[it->off + 1];
  it->off += RELAYWIRE_BUNDLE_LEN;
  if (n > it->len - it->off)
    return false; /* cannot happen after relaywire_bundle_parse */
  *dg = it->buf + it->off;
  *dg_len = n;
  it->off += n;
  it->left--;
  return true;
}

void relaywire_bundle_init(struct relaywire_bundle *b, uint8_t *buf, size_t cap) {
  *b = (struct relaywire_bundle){.buf = buf, .cap = cap, .len = RELAYWIRE_BUNDLE_HDR};
}

uint8_t *relaywire_bundle_room(struct relaywire_bundle *b, size_t *room) {
  if (b->n >= RELAYWIRE_BUNDLE_COUNT || b->cap < b->len + RELAYWIRE_BUNDLE_LEN + RELAYWIRE_OVERHEAD + 1)
    return NULL;
  size_t r = b->cap - b->len - RELAYWIRE_BUNDLE_LEN;
  *room = r > 0xffff ? 0xffff : r;
  return b->buf + b->len + RELAYWIRE_BUNDLE_LEN;
}

int relaywire_bundle_add(struct relaywire_bundle *b, size_t len) {
  size_t room;
  if (!relaywire_bundle_room(b, &room) || len > room || len < RELAYWIRE_OVERHEAD + 1)
    return -EINVAL;
  b->buf[b->len] = (uint8_t)(len >> 8);
  b->buf[b->len + 1] = (uint8_t)len;
  b->len += RELAYWIRE_BUNDLE_LEN + len;
  b->n++;
  return 0;
}

bool relaywire_bundle_fits(const struct relaywire_bundle *b, size_t len, size_t max) {
  return b->n == 0 || (b->n < RELAYWIRE_BUNDLE_COUNT && b->len + RELAYWIRE_BUNDLE_LEN + len <= max);
}

const uint8_t *relaywire_bundle_datagram(struct relaywire_bundle *b, size_t *len) {
  if (b->n == 0)
    return NULL;
  if (b->n == 1) {
    *len = b->len - RELAYWIRE_BUNDLE_HDR - RELAYWIRE_BUNDLE_LEN;
    return b->buf + RELAYWIRE_BUNDLE_HDR + RELAYWIRE_BUNDLE_LEN;
  }
  b->buf[0] = RELAYWIRE_MAGIC;
  b->buf[1] = RELAYWIRE_VERSION;
  b->buf[2] = RELAYWIRE_BUNDLE;
  b->buf[3] = (uint8_t)b->n;
  *len = b->len;
  return b->buf;
}
