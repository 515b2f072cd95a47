/* srtp_ossl.c -- OpenSSL AES-ICM, HMAC-SHA1 and AES-GCM for libsrtp2's crypto kernel. */

/* HMAC-SHA1 uses the SHA1_* functions, deprecated since OpenSSL 3.0: they
 * are the only ones whose state (SHA_CTX) is a plain struct we can save
 * after the key pads and copy back per packet. EVP_MAC_init(NULL key) and
 * HMAC_CTX copies do the same through EVP_MD_CTX_copy_ex, which mallocs and
 * frees a digest context on every call (measured in bench/README.md). */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "media/srtp_ossl.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <srtp2/srtp.h>

#define SRTP_OSSL_ICM_BLOCK 16
#define SRTP_OSSL_GCM_IV 12
#define SRTP_OSSL_GCM_TAG 16
#define SRTP_OSSL_GCM_TAG_8 8
#define SRTP_OSSL_SHA1_BLOCK 64
#define SRTP_OSSL_SHA1_LEN 20
/* Longest HMAC key we accept: libsrtp uses 20 bytes; RFC 2202 goes to 80. */
#define SRTP_OSSL_HMAC_MAX_KEY 256

/* --- AES-128-ICM ------------------------------------------------------ */

struct srtp_ossl_icm {
  srtp_cipher_t base;      /* base.state points back at this struct */
  EVP_CIPHER_CTX *ctx;     /* keyed in init, re-IVed in set_iv */
  uint8_t offset[SRTP_OSSL_ICM_BLOCK]; /* salt || 0x0000 */
  size_t left;             /* bytes before the 16-bit block counter wraps */
};

static srtp_err_status_t srtp_ossl__icm_alloc(srtp_cipher_pointer_t *cp, int key_len,
                                              int tag_len) {
  (void)tag_len;
  if (!cp)
    return srtp_err_status_bad_param;
  *cp = NULL;
  /* Key and 14-byte salt, the only length libsrtp passes for this id. */
  if (key_len != SRTP_AES_ICM_128_KEY_LEN_WSALT)
    return srtp_err_status_bad_param;
  struct srtp_ossl_icm *s = calloc(1, sizeof(*s));
  if (!s)
    return srtp_err_status_alloc_fail;
  s->ctx = EVP_CIPHER_CTX_new();
  if (!s->ctx) {
    free(s);
    return srtp_err_status_alloc_fail;
  }
  s->base.type = srtp_ossl_cipher_type(SRTP_AES_ICM_128);
  s->base.state = s;
  s->base.key_len = key_len;
  s->base.algorithm = SRTP_AES_ICM_128;
  *cp = &s->base;
  return srtp_err_status_ok;
}

/* Frees a cipher's state: its OpenSSL context, then the state itself, wiped. */
static srtp_err_status_t free_state(void *state, EVP_CIPHER_CTX *ctx, size_t size) {
  EVP_CIPHER_CTX_free(ctx);
  OPENSSL_cleanse(state, size);
  free(state);
  return srtp_err_status_ok;
}

static srtp_err_status_t srtp_ossl__icm_dealloc(srtp_cipher_pointer_t c) {
  if (!c || !c->state)
    return srtp_err_status_bad_param;
  struct srtp_ossl_icm *s = c->state;
  return free_state(s, s->ctx, sizeof(*s));
}

static srtp_err_status_t srtp_ossl__icm_init(void *state, const uint8_t *key) {
  struct srtp_ossl_icm *s = state;
  memset(s->offset, 0, sizeof(s->offset));
  memcpy(s->offset, key + SRTP_AES_128_KEY_LEN, SRTP_SALT_LEN);
  s->left = 0;
  if (!EVP_EncryptInit_ex(s->ctx, EVP_aes_128_ctr(), NULL, key, NULL))
    return srtp_err_status_init_fail;
  return srtp_err_status_ok;
}

static srtp_err_status_t srtp_ossl__icm_set_iv(void *state, uint8_t *iv,
                                               srtp_cipher_direction_t dir) {
  (void)dir;
  struct srtp_ossl_icm *s = state;
  uint8_t ctr[SRTP_OSSL_ICM_BLOCK];
  for (int i = 0; i < SRTP_OSSL_ICM_BLOCK; i++)
    ctr[i] = s->offset[i] ^ iv[i];
  /* RFC 3711 counts blocks in the low 16 bits only; OpenSSL carries into
   * the next byte, so stop where the two would differ, as libsrtp does. */
  s->left = (0x10000u - (((size_t)ctr[14] << 8) | ctr[15])) * SRTP_OSSL_ICM_BLOCK;
  if (!EVP_EncryptInit_ex(s->ctx, NULL, NULL, NULL, ctr))
    return srtp_err_status_cipher_fail;
  return srtp_err_status_ok;
}

static srtp_err_status_t srtp_ossl__icm_encrypt(void *state, uint8_t *buf,
                                                unsigned int *len) {
  struct srtp_ossl_icm *s = state;
  if (*len == 0)
    return srtp_err_status_ok;
  if (*len > INT_MAX || *len > s->left)
    return srtp_err_status_terminus;
  int out = 0;
  if (!EVP_EncryptUpdate(s->ctx, buf, &out, buf, (int)*len) || out != (int)*len)
    return srtp_err_status_cipher_fail;
  s->left -= *len;
  return srtp_err_status_ok;
}

/* --- AES-GCM (RFC 7714) ----------------------------------------------- */

struct srtp_ossl_gcm {
  srtp_cipher_t base;
  EVP_CIPHER_CTX *ctx;     /* keyed in init, re-IVed in set_iv */
  int key_size;            /* 16 or 32; the salt is used by srtp.c, not here */
  int tag_len;             /* 8 or 16 */
  srtp_cipher_direction_t dir;
};

static srtp_err_status_t srtp_ossl__gcm_alloc(srtp_cipher_pointer_t *cp, int key_len,
                                              int tag_len, int id) {
  if (!cp)
    return srtp_err_status_bad_param;
  *cp = NULL;
  int want = id == SRTP_AES_GCM_128 ? SRTP_AES_GCM_128_KEY_LEN_WSALT
                                    : SRTP_AES_GCM_256_KEY_LEN_WSALT;
  if (key_len != want || (tag_len != SRTP_OSSL_GCM_TAG && tag_len != SRTP_OSSL_GCM_TAG_8))
    return srtp_err_status_bad_param;
  struct srtp_ossl_gcm *s = calloc(1, sizeof(*s));
  if (!s)
    return srtp_err_status_alloc_fail;
  s->ctx = EVP_CIPHER_CTX_new();
  if (!s->ctx) {
    free(s);
    return srtp_err_status_alloc_fail;
  }
  s->key_size = key_len - SRTP_AEAD_SALT_LEN;
  s->tag_len = tag_len;
  s->dir = srtp_direction_any;
  s->base.type = srtp_ossl_cipher_type((srtp_cipher_type_id_t)id);
  s->base.state = s;
  s->base.key_len = key_len;
  s->base.algorithm = id;
  *cp = &s->base;
  return srtp_err_status_ok;
}

static srtp_err_status_t srtp_ossl__gcm128_alloc(srtp_cipher_pointer_t *cp, int key_len,
                                                 int tag_len) {
  return srtp_ossl__gcm_alloc(cp, key_len, tag_len, SRTP_AES_GCM_128);
}

static srtp_err_status_t srtp_ossl__gcm256_alloc(srtp_cipher_pointer_t *cp, int key_len,
                                                 int tag_len) {
  return srtp_ossl__gcm_alloc(cp, key_len, tag_len, SRTP_AES_GCM_256);
}

static srtp_err_status_t srtp_ossl__gcm_dealloc(srtp_cipher_pointer_t c) {
  if (!c || !c->state)
    return srtp_err_status_bad_param;
  struct srtp_ossl_gcm *s = c->state;
  return free_state(s, s->ctx, sizeof(*s));
}

static srtp_err_status_t srtp_ossl__gcm_init(void *state, const uint8_t *key) {
  struct srtp_ossl_gcm *s = state;
  const EVP_CIPHER *evp = s->key_size == SRTP_AES_128_KEY_LEN ? EVP_aes_128_gcm()
                                                              : EVP_aes_256_gcm();
  s->dir = srtp_direction_any;
  /* The default GCM IV length is the 12 bytes RFC 7714 uses. */
  if (!EVP_CipherInit_ex(s->ctx, evp, NULL, key, NULL, 1))
    return srtp_err_status_init_fail;
  return srtp_err_status_ok;
}

static srtp_err_status_t srtp_ossl__gcm_set_iv(void *state, uint8_t *iv,
                                               srtp_cipher_direction_t dir) {
  struct srtp_ossl_gcm *s = state;
  if (dir != srtp_direction_encrypt && dir != srtp_direction_decrypt)
    return srtp_err_status_bad_param;
  s->dir = dir;
  if (!EVP_CipherInit_ex(s->ctx, NULL, NULL, NULL, iv, dir == srtp_direction_encrypt))
    return srtp_err_status_init_fail;
  return srtp_err_status_ok;
}

/* May be called more than once before the payload (SRTCP passes the header
 * and then the index word). */
static srtp_err_status_t srtp_ossl__gcm_set_aad(void *state, const uint8_t *aad,
                                                uint32_t len) {
  struct srtp_ossl_gcm *s = state;
  if (s->dir != srtp_direction_encrypt && s->dir != srtp_direction_decrypt)
    return srtp_err_status_bad_param;
  if (len == 0)
    return srtp_err_status_ok;
  if (len > INT_MAX)
    return srtp_err_status_bad_param;
  int out = 0;
  if (!EVP_CipherUpdate(s->ctx, NULL, &out, aad, (int)len))
    return srtp_err_status_algo_fail;
  return srtp_err_status_ok;
}

static srtp_err_status_t srtp_ossl__gcm_encrypt(void *state, uint8_t *buf,
                                                unsigned int *len) {
  struct srtp_ossl_gcm *s = state;
  if (s->dir != srtp_direction_encrypt && s->dir != srtp_direction_decrypt)
    return srtp_err_status_bad_param;
  if (*len == 0)
    return srtp_err_status_ok;
  if (*len > INT_MAX)
    return srtp_err_status_bad_param;
  int out = 0;
  if (!EVP_CipherUpdate(s->ctx, buf, &out, buf, (int)*len) || out != (int)*len)
    return srtp_err_status_cipher_fail;
  return srtp_err_status_ok;
}

static srtp_err_status_t srtp_ossl__gcm_get_tag(void *state, uint8_t *tag, uint32_t *len) {
  struct srtp_ossl_gcm *s = state;
  uint8_t none[SRTP_OSSL_ICM_BLOCK];
  int out = 0;
  if (s->dir != srtp_direction_encrypt)
    return srtp_err_status_bad_param;
  if (!EVP_EncryptFinal_ex(s->ctx, none, &out) ||
      !EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, s->tag_len, tag))
    return srtp_err_status_algo_fail;
  *len = (uint32_t)s->tag_len;
  return srtp_err_status_ok;
}

/* *len covers ciphertext and tag; on success it is cut to the plaintext. */
static srtp_err_status_t srtp_ossl__gcm_decrypt(void *state, uint8_t *buf,
                                                unsigned int *len) {
  struct srtp_ossl_gcm *s = state;
  uint8_t none[SRTP_OSSL_ICM_BLOCK];
  int out = 0;
  if (s->dir != srtp_direction_decrypt)
    return srtp_err_status_bad_param;
  if (*len < (unsigned)s->tag_len || *len > INT_MAX)
    return srtp_err_status_bad_param;
  int n = (int)*len - s->tag_len;
  if (!EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_TAG, s->tag_len, buf + n))
    return srtp_err_status_auth_fail;
  if (n > 0 && (!EVP_DecryptUpdate(s->ctx, buf, &out, buf, n) || out != n))
    return srtp_err_status_cipher_fail;
  if (EVP_DecryptFinal_ex(s->ctx, none, &out) <= 0)
    return srtp_err_status_auth_fail;
  *len = (unsigned)n;
  return srtp_err_status_ok;
}

/* --- HMAC-SHA1 -------------------------------------------------------- */

struct srtp_ossl_hmac {
  srtp_auth_t base;
  SHA_CTX inner;  /* SHA-1 after (key ^ ipad) */
  SHA_CTX outer;  /* SHA-1 after (key ^ opad) */
  SHA_CTX run;    /* the message being authenticated */
};

static srtp_err_status_t srtp_ossl__hmac_alloc(srtp_auth_pointer_t *ap, int key_len,
                                               int out_len) {
  if (!ap)
    return srtp_err_status_bad_param;
  *ap = NULL;
  if (key_len < 0 || key_len > SRTP_OSSL_HMAC_MAX_KEY || out_len < 0 ||
      out_len > SRTP_OSSL_SHA1_LEN)
    return srtp_err_status_bad_param;
  struct srtp_ossl_hmac *s = calloc(1, sizeof(*s));
  if (!s)
    return srtp_err_status_alloc_fail;
  s->base.type = srtp_ossl_auth_type(SRTP_HMAC_SHA1);
  s->base.state = s;
  s->base.out_len = out_len;
  s->base.key_len = key_len;
  s->base.prefix_len = 0;
  *ap = &s->base;
  return srtp_err_status_ok;
}

static srtp_err_status_t srtp_ossl__hmac_dealloc(srtp_auth_pointer_t a) {
  if (!a || !a->state)
    return srtp_err_status_bad_param;
  struct srtp_ossl_hmac *s = a->state;
  OPENSSL_cleanse(s, sizeof(*s));
  free(s);
  return srtp_err_status_ok;
}

/* Leaves the context started, as libsrtp's self-test computes right away. */
static srtp_err_status_t srtp_ossl__hmac_init(void *state, const uint8_t *key, int key_len) {
  struct srtp_ossl_hmac *s = state;
  uint8_t k[SRTP_OSSL_SHA1_BLOCK], pad[SRTP_OSSL_SHA1_BLOCK];
  if (key_len < 0 || key_len > SRTP_OSSL_HMAC_MAX_KEY)
    return srtp_err_status_bad_param;
  memset(k, 0, sizeof(k));
  if (key_len > SRTP_OSSL_SHA1_BLOCK)
    SHA1(key, (size_t)key_len, k);
  else if (key_len > 0)
    memcpy(k, key, (size_t)key_len);
  for (int i = 0; i < SRTP_OSSL_SHA1_BLOCK; i++)
    pad[i] = k[i] ^ 0x36;
  bool ok = SHA1_Init(&s->inner) && SHA1_Update(&s->inner, pad, sizeof(pad));
  for (int i = 0; i < SRTP_OSSL_SHA1_BLOCK; i++)
    pad[i] = k[i] ^ 0x5c;
  ok = ok && SHA1_Init(&s->outer) && SHA1_Update(&s->outer, pad, sizeof(pad));
  OPENSSL_cleanse(k, sizeof(k));
  OPENSSL_cleanse(pad, sizeof(pad));
  s->run = s->inner;
  return ok ? srtp_err_status_ok : srtp_err_status_init_fail;
}

static srtp_err_status_t srtp_ossl__hmac_start(void *state) {
  struct srtp_ossl_hmac *s = state;
  s->run = s->inner;
  return srtp_err_status_ok;
}

static srtp_err_status_t srtp_ossl__hmac_update(void *state, const uint8_t *buf, int len) {
  struct srtp_ossl_hmac *s = state;
  if (len < 0)
    return srtp_err_status_bad_param;
  if (len > 0 && !SHA1_Update(&s->run, buf, (size_t)len))
    return srtp_err_status_auth_fail;
  return srtp_err_status_ok;
}

static srtp_err_status_t srtp_ossl__hmac_compute(void *state, const uint8_t *buf, int len,
                                                 int tag_len, uint8_t *tag) {
  struct srtp_ossl_hmac *s = state;
  uint8_t h[SRTP_OSSL_SHA1_LEN];
  if (tag_len < 0 || tag_len > SRTP_OSSL_SHA1_LEN)
    return srtp_err_status_bad_param;
  srtp_err_status_t st = srtp_ossl__hmac_update(s, buf, len);
  if (st != srtp_err_status_ok)
    return st;
  SHA_CTX o = s->outer;
  if (!SHA1_Final(h, &s->run) || !SHA1_Update(&o, h, sizeof(h)) || !SHA1_Final(h, &o))
    return srtp_err_status_auth_fail;
  memcpy(tag, h, (size_t)tag_len);
  return srtp_err_status_ok;
}

/* --- self-test vectors ------------------------------------------------ */

/* libsrtp runs these (and the stock types' own) before accepting a type. */

/* RFC 3711 B.2: session key, salt F0..FD, SSRC 0, index 0. */
static const uint8_t srtp_ossl__icm_key[SRTP_AES_ICM_128_KEY_LEN_WSALT] = {
  0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf,
  0x4f, 0x3c, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb,
  0xfc, 0xfd};
/* libsrtp's test-case struct takes the IV as a non-const pointer. */
static uint8_t srtp_ossl__icm_iv[SRTP_OSSL_ICM_BLOCK];
static const uint8_t srtp_ossl__icm_zero[32];
static const uint8_t srtp_ossl__icm_stream[32] = {
  0xe0, 0x3e, 0xad, 0x09, 0x35, 0xc9, 0x5e, 0x80, 0xe1, 0x66, 0xb1, 0x6d, 0xd9, 0x2b, 0x4e, 0xb4,
  0xd2, 0x35, 0x13, 0x16, 0x2b, 0x02, 0xd0, 0xf7, 0x2a, 0x43, 0xa2, 0xfe, 0x4a, 0x5f, 0x97, 0xab};
static const srtp_cipher_test_case_t srtp_ossl__icm_test = {
  SRTP_AES_ICM_128_KEY_LEN_WSALT, srtp_ossl__icm_key, srtp_ossl__icm_iv,
  sizeof(srtp_ossl__icm_zero), srtp_ossl__icm_zero, sizeof(srtp_ossl__icm_stream),
  srtp_ossl__icm_stream, 0, NULL, 0, NULL};

/* RFC 7714 16.1.1 / 16.2.1: session key 00..0f (00..1f), salt "Quid pro
 * quo", RTP header as AAD, IV for SSRC 5501a0b2 and sequence f17b. */
static const uint8_t srtp_ossl__gcm_key[SRTP_AES_GCM_256_KEY_LEN_WSALT] = {
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
  0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x51, 0x75, 0x69, 0x64,
  0x20, 0x70, 0x72, 0x6f, 0x20, 0x71, 0x75, 0x6f};
static const uint8_t srtp_ossl__gcm128_key[SRTP_AES_GCM_128_KEY_LEN_WSALT] = {
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
  0x0e, 0x0f, 0x51, 0x75, 0x69, 0x64, 0x20, 0x70, 0x72, 0x6f, 0x20, 0x71, 0x75, 0x6f};
static uint8_t srtp_ossl__gcm_iv[SRTP_OSSL_GCM_IV] = {
  0x51, 0x75, 0x3c, 0x65, 0x80, 0xc2, 0x72, 0x6f, 0x20, 0x71, 0x84, 0x14};
static const uint8_t srtp_ossl__gcm_aad[12] = {
  0x80, 0x40, 0xf1, 0x7b, 0x80, 0x41, 0xf8, 0xd3, 0x55, 0x01, 0xa0, 0xb2};
/* "Gallia est omnis divisa in partes tres" */
static const uint8_t srtp_ossl__gcm_plain[38] = {
  0x47, 0x61, 0x6c, 0x6c, 0x69, 0x61, 0x20, 0x65, 0x73, 0x74, 0x20, 0x6f, 0x6d,
  0x6e, 0x69, 0x73, 0x20, 0x64, 0x69, 0x76, 0x69, 0x73, 0x61, 0x20, 0x69, 0x6e,
  0x20, 0x70, 0x61, 0x72, 0x74, 0x65, 0x73, 0x20, 0x74, 0x72, 0x65, 0x73};
static const uint8_t srtp_ossl__gcm128_ct[38 + SRTP_OSSL_GCM_TAG] = {
  0xf2, 0x4d, 0xe3, 0xa3, 0xfb, 0x34, 0xde, 0x6c, 0xac, 0xba, 0x86, 0x1c, 0x9d, 0x7e,
  0x4b, 0xca, 0xbe, 0x63, 0x3b, 0xd5, 0x0d, 0x29, 0x4e, 0x6f, 0x42, 0xa5, 0xf4, 0x7a,
  0x51, 0xc7, 0xd1, 0x9b, 0x36, 0xde, 0x3a, 0xdf, 0x88, 0x33, 0x89, 0x9d, 0x7f, 0x27,
  0xbe, 0xb1, 0x6a, 0x91, 0x52, 0xcf, 0x76, 0x5e, 0xe4, 0x39, 0x0c, 0xce};
static const uint8_t srtp_ossl__gcm256_ct[38 + SRTP_OSSL_GCM_TAG] = {
  0x32, 0xb1, 0xde, 0x78, 0xa8, 0x22, 0xfe, 0x12, 0xef, 0x9f, 0x78, 0xfa, 0x33, 0x2e,
  0x33, 0xaa, 0xb1, 0x80, 0x12, 0x38, 0x9a, 0x58, 0xe2, 0xf3, 0xb5, 0x0b, 0x2a, 0x02,
  0x76, 0xff, 0xae, 0x0f, 0x1b, 0xa6, 0x37, 0x99, 0xb8, 0x7b, 0x7a, 0xa3, 0xdb, 0x36,
  0xdf, 0xff, 0xd6, 0xb0, 0xf9, 0xbb, 0x78, 0x78, 0xd7, 0xa7, 0x6c, 0x13};
static const srtp_cipher_test_case_t srtp_ossl__gcm128_test = {
  SRTP_AES_GCM_128_KEY_LEN_WSALT, srtp_ossl__gcm128_key, srtp_ossl__gcm_iv,
  sizeof(srtp_ossl__gcm_plain), srtp_ossl__gcm_plain, sizeof(srtp_ossl__gcm128_ct),
  srtp_ossl__gcm128_ct, sizeof(srtp_ossl__gcm_aad), srtp_ossl__gcm_aad, SRTP_OSSL_GCM_TAG,
  NULL};
static const srtp_cipher_test_case_t srtp_ossl__gcm256_test = {
  SRTP_AES_GCM_256_KEY_LEN_WSALT, srtp_ossl__gcm_key, srtp_ossl__gcm_iv,
  sizeof(srtp_ossl__gcm_plain), srtp_ossl__gcm_plain, sizeof(srtp_ossl__gcm256_ct),
  srtp_ossl__gcm256_ct, sizeof(srtp_ossl__gcm_aad), srtp_ossl__gcm_aad, SRTP_OSSL_GCM_TAG,
  NULL};

/* RFC 2202 cases 2, 5 (truncated to 96 bits) and 6 (key longer than a
 * block). libsrtp adds its own case 1 when replacing. */
static const uint8_t srtp_ossl__hmac_key5[20] = {
  0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
  0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c};
static const uint8_t srtp_ossl__hmac_tag5[12] = {
  0x4c, 0x1a, 0x03, 0x42, 0x4b, 0x55, 0xe0, 0x7f, 0xe7, 0xf2, 0x7b, 0xe1};
#define SRTP_OSSL_AA8 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa
static const uint8_t srtp_ossl__hmac_key6[80] = {
  SRTP_OSSL_AA8, SRTP_OSSL_AA8, SRTP_OSSL_AA8, SRTP_OSSL_AA8, SRTP_OSSL_AA8,
  SRTP_OSSL_AA8, SRTP_OSSL_AA8, SRTP_OSSL_AA8, SRTP_OSSL_AA8, SRTP_OSSL_AA8};
static const uint8_t srtp_ossl__hmac_tag6[20] = {
  0xaa, 0x4a, 0xe5, 0xe1, 0x52, 0x72, 0xd0, 0x0e, 0x95, 0x70,
  0x56, 0x37, 0xce, 0x8a, 0x3b, 0x55, 0xed, 0x40, 0x21, 0x12};
static const uint8_t srtp_ossl__hmac_tag2[20] = {
  0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74,
  0x16, 0xd5, 0xf1, 0x84, 0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79};
static const srtp_auth_test_case_t srtp_ossl__hmac_test6 = {
  80, srtp_ossl__hmac_key6, 54,
  (const uint8_t *)"Test Using Larger Than Block-Size Key - Hash Key First",
  20, srtp_ossl__hmac_tag6, NULL};
static const srtp_auth_test_case_t srtp_ossl__hmac_test5 = {
  20, srtp_ossl__hmac_key5, 20, (const uint8_t *)"Test With Truncation",
  12, srtp_ossl__hmac_tag5, &srtp_ossl__hmac_test6};
static const srtp_auth_test_case_t srtp_ossl__hmac_test2 = {
  4, (const uint8_t *)"Jefe", 28, (const uint8_t *)"what do ya want for nothing?",
  20, srtp_ossl__hmac_tag2, &srtp_ossl__hmac_test5};

/* --- types and installation ------------------------------------------- */

static const srtp_cipher_type_t srtp_ossl__icm128 = {
  srtp_ossl__icm_alloc, srtp_ossl__icm_dealloc, srtp_ossl__icm_init, NULL,
  srtp_ossl__icm_encrypt, srtp_ossl__icm_encrypt, srtp_ossl__icm_set_iv, NULL,
  "AES-128 ICM (Tandem, OpenSSL)", &srtp_ossl__icm_test, SRTP_AES_ICM_128};

static const srtp_cipher_type_t srtp_ossl__gcm128 = {
  srtp_ossl__gcm128_alloc, srtp_ossl__gcm_dealloc, srtp_ossl__gcm_init,
  srtp_ossl__gcm_set_aad, srtp_ossl__gcm_encrypt, srtp_ossl__gcm_decrypt,
  srtp_ossl__gcm_set_iv, srtp_ossl__gcm_get_tag, "AES-128 GCM (Tandem, OpenSSL)",
  &srtp_ossl__gcm128_test, SRTP_AES_GCM_128};

static const srtp_cipher_type_t srtp_ossl__gcm256 = {
  srtp_ossl__gcm256_alloc, srtp_ossl__gcm_dealloc, srtp_ossl__gcm_init,
  srtp_ossl__gcm_set_aad, srtp_ossl__gcm_encrypt, srtp_ossl__gcm_decrypt,
  srtp_ossl__gcm_set_iv, srtp_ossl__gcm_get_tag, "AES-256 GCM (Tandem, OpenSSL)",
  &srtp_ossl__gcm256_test, SRTP_AES_GCM_256};

static const srtp_auth_type_t srtp_ossl__hmac = {
  srtp_ossl__hmac_alloc, srtp_ossl__hmac_dealloc, srtp_ossl__hmac_init,
  srtp_ossl__hmac_compute, srtp_ossl__hmac_update, srtp_ossl__hmac_start,
  "HMAC-SHA1 (Tandem, OpenSSL)", &srtp_ossl__hmac_test2, SRTP_HMAC_SHA1};

const srtp_cipher_type_t *srtp_ossl_cipher_type(srtp_cipher_type_id_t id) {
  switch (id) {
  case SRTP_AES_ICM_128:
    return &srtp_ossl__icm128;
  case SRTP_AES_GCM_128:
    return &srtp_ossl__gcm128;
  case SRTP_AES_GCM_256:
    return &srtp_ossl__gcm256;
  default:
    return NULL;
  }
}

const srtp_auth_type_t *srtp_ossl_auth_type(srtp_auth_type_id_t id) {
  return id == SRTP_HMAC_SHA1 ? &srtp_ossl__hmac : NULL;
}

#define SRTP_OSSL_ALL 0xfu
/* Bit per installed type; written only by srtp_ossl_install(). */
static unsigned srtp_ossl__installed;

/* Whether srtp_init() has run: before it the kernel refuses to allocate,
 * and a replacement would be added as new, making srtp_init() fail later. */
static bool srtp_ossl__kernel_ready(void) {
  srtp_policy_t p;
  uint8_t key[SRTP_AES_ICM_128_KEY_LEN_WSALT] = {0};
  srtp_t probe = NULL;
  memset(&p, 0, sizeof(p));
  srtp_crypto_policy_set_null_cipher_hmac_null(&p.rtp);
  srtp_crypto_policy_set_null_cipher_hmac_null(&p.rtcp);
  p.ssrc.type = ssrc_any_outbound;
  p.key = key;
  if (srtp_create(&probe, &p) != srtp_err_status_ok)
    return false;
  srtp_dealloc(probe);
  return true;
}

int srtp_ossl_install(void) {
  if (!srtp_ossl__kernel_ready())
    return -EINVAL;
  /* AES-ICM first: it is also the key derivation function of the rest. */
  if (srtp_replace_cipher_type(&srtp_ossl__icm128, SRTP_AES_ICM_128) == srtp_err_status_ok)
    srtp_ossl__installed |= 1u;
  if (srtp_replace_auth_type(&srtp_ossl__hmac, SRTP_HMAC_SHA1) == srtp_err_status_ok)
    srtp_ossl__installed |= 2u;
  if (srtp_replace_cipher_type(&srtp_ossl__gcm128, SRTP_AES_GCM_128) == srtp_err_status_ok)
    srtp_ossl__installed |= 4u;
  if (srtp_replace_cipher_type(&srtp_ossl__gcm256, SRTP_AES_GCM_256) == srtp_err_status_ok)
    srtp_ossl__installed |= 8u;
  return srtp_ossl__installed == SRTP_OSSL_ALL ? 0 : -EIO;
}

const char *srtp_ossl_backend(void) {
  if (srtp_ossl__installed == SRTP_OSSL_ALL)
    return "openssl";
  return srtp_ossl__installed ? "mixed" : "libsrtp";
}
