/* test_srtp_ossl.c -- the OpenSSL SRTP transforms: RFC vectors, round trips, stock equality. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>

#include "media/srtp_ossl.h"
#include "media/srtpctx.h"

/* --- helpers ------------------------------------------------------------ */

static size_t unhex(const char *h, uint8_t *out, size_t cap) {
  size_t n = 0;
  int hi = -1;
  for (; *h; h++) {
    int v;
    if (*h >= '0' && *h <= '9')
      v = *h - '0';
    else if (*h >= 'a' && *h <= 'f')
      v = *h - 'a' + 10;
    else if (*h >= 'A' && *h <= 'F')
      v = *h - 'A' + 10;
    else
      continue;
    if (hi < 0) {
      hi = v;
    } else {
      assert_true(n < cap);
      out[n++] = (uint8_t)(hi << 4 | v);
      hi = -1;
    }
  }
  assert_int_equal(hi, -1);
  return n;
}

static srtp_cipher_t *cipher_new(srtp_cipher_type_id_t id, const uint8_t *key, int key_len,
                                 int tag_len) {
  const srtp_cipher_type_t *ct = srtp_ossl_cipher_type(id);
  assert_non_null(ct);
  srtp_cipher_t *c = NULL;
  assert_int_equal(srtp_cipher_type_alloc(ct, &c, key_len, tag_len), srtp_err_status_ok);
  assert_int_equal(srtp_cipher_init(c, key), srtp_err_status_ok);
  return c;
}

/* --- AES-ICM: RFC 3711 B.2 and B.3 ------------------------------------- */

static void test_icm_rfc3711_b2_keystream(void **state) {
  (void)state;
  uint8_t key[30], iv[16] = {0};
  unhex("2B7E151628AED2A6ABF7158809CF4F3C F0F1F2F3F4F5F6F7F8F9FAFBFCFD", key, sizeof(key));
  srtp_cipher_t *c = cipher_new(SRTP_AES_ICM_128, key, 30, 0);

  /* The whole 2^16-block segment: the RFC lists its first and last blocks. */
  size_t seg = (size_t)0x10000 * 16;
  uint8_t *buf = calloc(1, seg + 1);
  assert_non_null(buf);
  assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), srtp_err_status_ok);
  uint32_t n = (uint32_t)seg;
  assert_int_equal(srtp_cipher_encrypt(c, buf, &n), srtp_err_status_ok);
  uint8_t want[48];
  unhex("E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB"
        "41E95B3BB0A2E8DD477901E4FCA894C0", want, sizeof(want));
  assert_memory_equal(buf, want, 48);
  unhex("EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE"
        "6A2CC3787889374FBEB4C81B17BA6C44", want, sizeof(want));
  assert_memory_equal(buf + 0xFEFF * 16, want, 48);

  /* One byte more would need block 0x10000: the 16-bit counter ends. */
  memset(buf, 0, seg + 1);
  assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), srtp_err_status_ok);
  n = (uint32_t)seg + 1;
  assert_int_not_equal(srtp_cipher_encrypt(c, buf, &n), srtp_err_status_ok);

  /* Keystream is continuous across calls and decrypt is the same XOR. */
  uint8_t a[100] = {0}, b[100] = {0};
  assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), srtp_err_status_ok);
  n = 100;
  assert_int_equal(srtp_cipher_encrypt(c, a, &n), srtp_err_status_ok);
  assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt), srtp_err_status_ok);
  n = 7;
  assert_int_equal(srtp_cipher_decrypt(c, b, &n), srtp_err_status_ok);
  n = 93;
  assert_int_equal(srtp_cipher_decrypt(c, b + 7, &n), srtp_err_status_ok);
  assert_memory_equal(a, b, 100);
  free(buf);
  assert_int_equal(srtp_cipher_dealloc(c), srtp_err_status_ok);
}

/* The SRTP KDF is AES-ICM keyed with the master key, IV = label at byte 7. */
static void kdf(srtp_cipher_t *c, uint8_t label, uint8_t *out, uint32_t len) {
  uint8_t iv[16] = {0};
  iv[7] = label;
  memset(out, 0, len);
  assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), srtp_err_status_ok);
  assert_int_equal(srtp_cipher_encrypt(c, out, &len), srtp_err_status_ok);
}

static void test_icm_rfc3711_b3_kdf(void **state) {
  (void)state;
  uint8_t key[30], out[94], want[94];
  unhex("E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6", key, sizeof(key));
  srtp_cipher_t *c = cipher_new(SRTP_AES_ICM_128, key, 30, 0);
  kdf(c, 0x00, out, 16);
  unhex("C61E7A93744F39EE10734AFE3FF7A087", want, sizeof(want));
  assert_memory_equal(out, want, 16);
  kdf(c, 0x02, out, 14);
  unhex("30CBBC08863D8C85D49DB34A9AE1", want, sizeof(want));
  assert_memory_equal(out, want, 14);
  kdf(c, 0x01, out, 94);
  unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE"
        "E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25"
        "6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2", want, sizeof(want));
  assert_memory_equal(out, want, 94);
  assert_int_equal(srtp_cipher_dealloc(c), srtp_err_status_ok);
}

static void test_icm_bad_params(void **state) {
  (void)state;
  const srtp_cipher_type_t *ct = srtp_ossl_cipher_type(SRTP_AES_ICM_128);
  srtp_cipher_t *c = (srtp_cipher_t *)1;
  assert_int_equal(srtp_cipher_type_alloc(ct, &c, 16, 0), srtp_err_status_bad_param);
  assert_int_equal(srtp_cipher_type_alloc(ct, &c, 46, 0), srtp_err_status_bad_param);
  assert_null(srtp_ossl_cipher_type(SRTP_AES_ICM_256));
  assert_null(srtp_ossl_auth_type(SRTP_NULL_AUTH));
  assert_int_equal(srtp_cipher_type_self_test(ct), srtp_err_status_ok);
}

/* --- HMAC-SHA1: RFC 2202 ------------------------------------------------ */

struct hmac_case {
  const char *key_hex; /* or NULL: key_byte repeated key_len times */
  uint8_t key_byte;
  int key_len;
  const char *data; /* or NULL: data_byte repeated data_len times */
  uint8_t data_byte;
  int data_len;
  const char *tag;
};

static const struct hmac_case rfc2202[] = {
  {NULL, 0x0b, 20, "Hi There", 0, 8, "b617318655057264e28bc0b6fb378c8ef146be00"},
  {"4a656665", 0, 4, "what do ya want for nothing?", 0, 28,
   "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
  {NULL, 0xaa, 20, NULL, 0xdd, 50, "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
  {"0102030405060708090a0b0c0d0e0f10111213141516171819", 0, 25, NULL, 0xcd, 50,
   "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
  {NULL, 0x0c, 20, "Test With Truncation", 0, 20, "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"},
  {NULL, 0xaa, 80, "Test Using Larger Than Block-Size Key - Hash Key First", 0, 54,
   "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
  {NULL, 0xaa, 80, "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
   0, 73, "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"},
};

static void test_hmac_rfc2202(void **state) {
  (void)state;
  const srtp_auth_type_t *at = srtp_ossl_auth_type(SRTP_HMAC_SHA1);
  assert_non_null(at);
  for (size_t i = 0; i < sizeof(rfc2202) / sizeof(rfc2202[0]); i++) {
    const struct hmac_case *t = &rfc2202[i];
    uint8_t key[80], data[80], want[20], tag[20];
    if (t->key_hex)
      assert_int_equal(unhex(t->key_hex, key, sizeof(key)), (size_t)t->key_len);
    else
      memset(key, t->key_byte, (size_t)t->key_len);
    if (t->data)
      memcpy(data, t->data, (size_t)t->data_len);
    else
      memset(data, t->data_byte, (size_t)t->data_len);
    unhex(t->tag, want, sizeof(want));
    /* Full tag in one call, and the SRTP-style 80-bit truncation split over
     * update calls after a restart. */
    for (int out_len = 20; out_len >= 10; out_len -= 10) {
      srtp_auth_t *a = NULL;
      assert_int_equal(srtp_auth_type_alloc(at, &a, t->key_len, out_len), srtp_err_status_ok);
      assert_int_equal(srtp_auth_init(a, key), srtp_err_status_ok);
      assert_int_equal(srtp_auth_get_tag_length(a), out_len);
      assert_int_equal(srtp_auth_get_prefix_length(a), 0);
      memset(tag, 0, sizeof(tag));
      assert_int_equal(srtp_auth_compute(a, data, t->data_len, tag), srtp_err_status_ok);
      assert_memory_equal(tag, want, (size_t)out_len);
      for (int rep = 0; rep < 2; rep++) {
        memset(tag, 0, sizeof(tag));
        assert_int_equal(srtp_auth_start(a), srtp_err_status_ok);
        int half = t->data_len / 2;
        assert_int_equal(srtp_auth_update(a, data, half), srtp_err_status_ok);
        assert_int_equal(srtp_auth_update(a, data + half, 0), srtp_err_status_ok);
        assert_int_equal(srtp_auth_compute(a, data + half, t->data_len - half, tag),
                         srtp_err_status_ok);
        assert_memory_equal(tag, want, (size_t)out_len);
      }
      assert_int_equal(srtp_auth_dealloc(a), srtp_err_status_ok);
    }
  }
  srtp_auth_t *a = NULL;
  assert_int_equal(srtp_auth_type_alloc(at, &a, 20, 21), srtp_err_status_bad_param);
  assert_int_equal(srtp_auth_type_alloc(at, &a, -1, 10), srtp_err_status_bad_param);
  assert_int_equal(srtp_auth_type_self_test(at), srtp_err_status_ok);
}

/* --- AES-GCM: RFC 7714 16 and 17 ---------------------------------------- */

static const char *const gcm_rtp = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f"
                                   "6d6e6973 20646976 69736120 696e2070 61727465 73207472 6573";

static void gcm_rtp_case(srtp_cipher_type_id_t id, const char *key_hex, const char *want_hex) {
  uint8_t key[44], iv[12], pkt[64], want[80], buf[80];
  int klen = (int)unhex(key_hex, key, sizeof(key));
  unhex("517569642070726f2071756f", key + klen, 12);
  unhex("51753c6580c2726f20718414", iv, sizeof(iv));
  size_t plen = unhex(gcm_rtp, pkt, sizeof(pkt));
  size_t wlen = unhex(want_hex, want, sizeof(want));
  assert_int_equal(wlen, plen + 16);
  srtp_cipher_t *c = cipher_new(id, key, klen + 12, 16);

  memcpy(buf, pkt, plen);
  assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), srtp_err_status_ok);
  assert_int_equal(srtp_cipher_set_aad(c, buf, 12), srtp_err_status_ok);
  uint32_t n = (uint32_t)plen - 12, tl = 0;
  assert_int_equal(srtp_cipher_encrypt(c, buf + 12, &n), srtp_err_status_ok);
  assert_int_equal(srtp_cipher_get_tag(c, buf + 12 + n, &tl), srtp_err_status_ok);
  assert_int_equal(tl, 16);
  assert_memory_equal(buf, want, wlen);

  assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt), srtp_err_status_ok);
  assert_int_equal(srtp_cipher_set_aad(c, buf, 12), srtp_err_status_ok);
  n = (uint32_t)wlen - 12;
  assert_int_equal(srtp_cipher_decrypt(c, buf + 12, &n), srtp_err_status_ok);
  assert_int_equal(n, plen - 12);
  assert_memory_equal(buf, pkt, plen);

  /* Any flipped bit in AAD, ciphertext or tag fails authentication. */
  size_t flips[] = {3, 12, wlen - 17, wlen - 16, wlen - 1};
  for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
    memcpy(buf, want, wlen);
    buf[flips[i]] ^= 0x01;
    assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt), srtp_err_status_ok);
    assert_int_equal(srtp_cipher_set_aad(c, buf, 12), srtp_err_status_ok);
    n = (uint32_t)wlen - 12;
    assert_int_equal(srtp_cipher_decrypt(c, buf + 12, &n), srtp_err_status_auth_fail);
  }
  assert_int_equal(ERR_peek_error(), 0);
  assert_int_equal(srtp_cipher_dealloc(c), srtp_err_status_ok);
}

static void test_gcm_rfc7714_rtp(void **state) {
  (void)state;
  gcm_rtp_case(SRTP_AES_GCM_128, "000102030405060708090a0b0c0d0e0f",
               "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5"
               "0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce");
  gcm_rtp_case(SRTP_AES_GCM_256,
               "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
               "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa b1801238"
               "9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7 6c13");
}

/* 17.1: SRTCP, AAD given in two pieces (header, then E flag and index). */
static void test_gcm_rfc7714_rtcp(void **state) {
  (void)state;
  uint8_t key[28], iv[12], pkt[64], want[96], buf[96], idx[4] = {0x80, 0x00, 0x05, 0xd4};
  unhex("000102030405060708090a0b0c0d0e0f 517569642070726f2071756f", key, sizeof(key));
  unhex("517524055203726f207170bb", iv, sizeof(iv));
  size_t plen = unhex("81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61"
                      "deadbeef deadbeef deadbeef deadbeef deadbeef", pkt, sizeof(pkt));
  size_t wlen = unhex("81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d"
                      "c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872"
                      "45d9eade 800005d4", want, sizeof(want));
  srtp_cipher_t *c = cipher_new(SRTP_AES_GCM_128, key, 28, 16);
  memcpy(buf, pkt, plen);
  assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), srtp_err_status_ok);
  assert_int_equal(srtp_cipher_set_aad(c, buf, 8), srtp_err_status_ok);
  assert_int_equal(srtp_cipher_set_aad(c, idx, 4), srtp_err_status_ok);
  uint32_t n = (uint32_t)plen - 8, tl = 0;
  assert_int_equal(srtp_cipher_encrypt(c, buf + 8, &n), srtp_err_status_ok);
  assert_int_equal(srtp_cipher_get_tag(c, buf + 8 + n, &tl), srtp_err_status_ok);
  memcpy(buf + plen + tl, idx, 4);
  assert_int_equal(plen + tl + 4, wlen);
  assert_memory_equal(buf, want, wlen);

  assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt), srtp_err_status_ok);
  assert_int_equal(srtp_cipher_set_aad(c, buf, 8), srtp_err_status_ok);
  assert_int_equal(srtp_cipher_set_aad(c, idx, 4), srtp_err_status_ok);
  n = (uint32_t)(wlen - 8 - 4);
  assert_int_equal(srtp_cipher_decrypt(c, buf + 8, &n), srtp_err_status_ok);
  assert_memory_equal(buf, pkt, plen);
  assert_int_equal(srtp_cipher_dealloc(c), srtp_err_status_ok);
}

/* An 8-byte tag is the first half of the 16-byte one; misuse is refused. */
static void test_gcm_short_tag_and_misuse(void **state) {
  (void)state;
  uint8_t key[28] = {1, 2, 3}, iv[12] = {9}, aad[12] = {0x80}, a[64], b[64];
  memset(a, 0x5a, sizeof(a));
  memset(b, 0x5a, sizeof(b));
  srtp_cipher_t *c16 = cipher_new(SRTP_AES_GCM_128, key, 28, 16);
  srtp_cipher_t *c8 = cipher_new(SRTP_AES_GCM_128, key, 28, 8);
  uint32_t n = 40, tl = 0;
  assert_int_equal(srtp_cipher_set_iv(c16, iv, srtp_direction_encrypt), 0);
  assert_int_equal(srtp_cipher_set_aad(c16, aad, 12), 0);
  assert_int_equal(srtp_cipher_encrypt(c16, a, &n), 0);
  assert_int_equal(srtp_cipher_get_tag(c16, a + 40, &tl), 0);
  assert_int_equal(tl, 16);
  n = 40;
  assert_int_equal(srtp_cipher_set_iv(c8, iv, srtp_direction_encrypt), 0);
  assert_int_equal(srtp_cipher_set_aad(c8, aad, 12), 0);
  assert_int_equal(srtp_cipher_encrypt(c8, b, &n), 0);
  assert_int_equal(srtp_cipher_get_tag(c8, b + 40, &tl), 0);
  assert_int_equal(tl, 8);
  assert_memory_equal(a, b, 48);
  n = 48;
  assert_int_equal(srtp_cipher_set_iv(c8, iv, srtp_direction_decrypt), 0);
  assert_int_equal(srtp_cipher_set_aad(c8, aad, 12), 0);
  assert_int_equal(srtp_cipher_decrypt(c8, b, &n), 0);
  assert_int_equal(n, 40);

  /* Shorter than the tag; tag asked while decrypting; no direction. */
  n = 7;
  assert_int_equal(srtp_cipher_set_iv(c8, iv, srtp_direction_decrypt), 0);
  assert_int_equal(srtp_cipher_decrypt(c8, b, &n), srtp_err_status_bad_param);
  assert_int_not_equal(srtp_cipher_get_tag(c8, b, &tl), srtp_err_status_ok);
  assert_int_equal(srtp_cipher_set_iv(c8, iv, srtp_direction_any), srtp_err_status_bad_param);
  /* Empty payload: the tag still authenticates the AAD. */
  n = 0;
  assert_int_equal(srtp_cipher_set_iv(c16, iv, srtp_direction_encrypt), 0);
  assert_int_equal(srtp_cipher_set_aad(c16, aad, 12), 0);
  assert_int_equal(srtp_cipher_encrypt(c16, a, &n), 0);
  assert_int_equal(srtp_cipher_get_tag(c16, a, &tl), 0);
  n = 16;
  assert_int_equal(srtp_cipher_set_iv(c16, iv, srtp_direction_decrypt), 0);
  assert_int_equal(srtp_cipher_set_aad(c16, aad, 12), 0);
  assert_int_equal(srtp_cipher_decrypt(c16, a, &n), 0);
  assert_int_equal(n, 0);
  ERR_clear_error();
  assert_int_equal(srtp_cipher_dealloc(c16), 0);
  assert_int_equal(srtp_cipher_dealloc(c8), 0);

  const srtp_cipher_type_t *g = srtp_ossl_cipher_type(SRTP_AES_GCM_128);
  srtp_cipher_t *c = NULL;
  assert_int_equal(srtp_cipher_type_alloc(g, &c, 44, 16), srtp_err_status_bad_param);
  assert_int_equal(srtp_cipher_type_alloc(g, &c, 28, 12), srtp_err_status_bad_param);
  assert_int_equal(srtp_cipher_type_self_test(g), srtp_err_status_ok);
  assert_int_equal(srtp_cipher_type_self_test(srtp_ossl_cipher_type(SRTP_AES_GCM_256)),
                   srtp_err_status_ok);
}

/* --- srtpctx round trips, and equality with stock libsrtp2 --------------- */

#define NPKT 24
#define CAP 1500

struct kat {
  size_t rtp_len[NPKT], rtcp_len[NPKT];
  uint8_t rtp[NPKT][CAP], rtcp[NPKT][CAP];
};
/* [profile]: protected by stock libsrtp2 in a child, before installation. */
static struct kat stock[2];
static const enum srtpctx_profile profiles[2] = {SRTPCTX_AES128_CM_SHA1_80,
                                                 SRTPCTX_AEAD_AES_128_GCM};

static void keys_for(enum srtpctx_profile p, int flip, struct srtp_keys *k) {
  memset(k, 0, sizeof(*k));
  k->profile = p;
  k->key_len = 16;
  k->salt_len = p == SRTPCTX_AES128_CM_SHA1_80 ? 14 : 12;
  for (size_t i = 0; i < sizeof(k->local); i++) {
    k->local[i] = (uint8_t)(i * 7 + 1 + flip);
    k->remote[i] = (uint8_t)(i * 13 + 5 + !flip);
  }
}

/* Packet i: sizes across block boundaries, with CSRCs and an extension on
 * some, up to 1200 bytes. */
static size_t make_rtp(int i, uint8_t *b) {
  static const size_t payload[] = {0, 1, 15, 16, 17, 31, 33, 100, 160, 1000, 1188, 1200};
  size_t pl = payload[i % 12], h = 12;
  memset(b, 0, CAP);
  b[0] = 0x80;
  if (i % 3 == 1) {
    b[0] |= 2; /* two CSRCs */
    h += 8;
  }
  b[1] = (uint8_t)(96 + (i & 1));
  b[2] = 0x12;
  b[3] = (uint8_t)(0x30 + i);
  b[4] = 0xde, b[5] = 0xad, b[6] = 0, b[7] = (uint8_t)i;
  b[8] = 0x11, b[9] = 0x22, b[10] = 0x33, b[11] = 0x44;
  if (i % 4 == 2) {
    b[0] |= 0x10;
    b[h] = 0xbe, b[h + 1] = 0xde, b[h + 2] = 0, b[h + 3] = 1;
    b[h + 4] = 0x10, b[h + 5] = (uint8_t)i;
    h += 8;
  }
  if (h + pl > 1200)
    pl = 1200 - h;
  for (size_t j = 0; j < pl; j++)
    b[h + j] = (uint8_t)(j * 31 + i);
  return h + pl;
}

static size_t make_rtcp(int i, uint8_t *b) {
  size_t words = 1 + (size_t)(i % 7) * 3; /* an SR/RR-sized body */
  memset(b, 0, CAP);
  b[0] = 0x80, b[1] = (uint8_t)(i & 1 ? 201 : 200);
  b[2] = 0, b[3] = (uint8_t)words;
  b[4] = 0x11, b[5] = 0x22, b[6] = 0x33, b[7] = 0x44;
  for (size_t j = 8; j < 4 + words * 4; j++)
    b[j] = (uint8_t)(j ^ (size_t)i);
  return 4 + words * 4;
}

static void protect_all(enum srtpctx_profile p, struct kat *out) {
  struct srtp_keys k;
  keys_for(p, 0, &k);
  struct srtpctx *s = srtpctx_new(&k);
  assert_non_null(s);
  for (int i = 0; i < NPKT; i++) {
    out->rtp_len[i] = make_rtp(i, out->rtp[i]);
    assert_int_equal(srtpctx_protect_rtp(s, out->rtp[i], &out->rtp_len[i], CAP), 0);
    out->rtcp_len[i] = make_rtcp(i, out->rtcp[i]);
    assert_int_equal(srtpctx_protect_rtcp(s, out->rtcp[i], &out->rtcp_len[i], CAP), 0);
  }
  srtpctx_free(s);
}

static int write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w <= 0)
      return -1;
    b += w, n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *p, size_t n) {
  uint8_t *b = p;
  while (n) {
    ssize_t r = read(fd, b, n);
    if (r <= 0)
      return -1;
    b += r, n -= (size_t)r;
  }
  return 0;
}

/* Runs before anything initialises libsrtp in this process: the child uses
 * the stock transforms and sends its packets back. */
static int stock_reference(void) {
  int fds[2];
  if (pipe(fds) != 0)
    return -1;
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    close(fds[0]);
    setenv("TANDEM_SRTP_BACKEND", "libsrtp", 1);
    static struct kat k[2];
    /* Before srtp_init() installing is refused and must not break it. */
    int rc = srtp_ossl_install() == -EINVAL ? 0 : 1;
    if (rc == 0)
      rc = srtpctx_global_init() == 0 && strcmp(srtp_ossl_backend(), "libsrtp") == 0 ? 0 : 1;
    for (int p = 0; rc == 0 && p < 2; p++)
      protect_all(profiles[p], &k[p]);
    if (rc == 0)
      rc = write_all(fds[1], k, sizeof(k)) == 0 ? 0 : 1;
    _exit(rc);
  }
  close(fds[1]);
  int rc = read_all(fds[0], stock, sizeof(stock));
  close(fds[0]);
  int st = 0;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    rc = -1;
  return rc;
}

static void test_installed(void **state) {
  (void)state;
  assert_int_equal(srtpctx_global_init(), 0);
  assert_string_equal(srtp_ossl_backend(), "openssl");
  /* Installing again keeps everything in place. */
  assert_int_equal(srtp_ossl_install(), 0);
  assert_string_equal(srtp_ossl_backend(), "openssl");
}

static void test_same_bytes_as_stock(void **state) {
  (void)state;
  static struct kat ours;
  for (int p = 0; p < 2; p++) {
    protect_all(profiles[p], &ours);
    for (int i = 0; i < NPKT; i++) {
      assert_int_equal(ours.rtp_len[i], stock[p].rtp_len[i]);
      assert_memory_equal(ours.rtp[i], stock[p].rtp[i], ours.rtp_len[i]);
      assert_int_equal(ours.rtcp_len[i], stock[p].rtcp_len[i]);
      assert_memory_equal(ours.rtcp[i], stock[p].rtcp[i], ours.rtcp_len[i]);
    }
  }
}

/* Our unprotect opens what stock libsrtp2 protected; tampering fails. */
static void test_unprotect_stock_packets(void **state) {
  (void)state;
  uint8_t buf[CAP], want[CAP];
  for (int p = 0; p < 2; p++) {
    struct srtp_keys k;
    keys_for(profiles[p], 0, &k);
    struct srtp_keys r = k;
    memcpy(r.remote, k.local, sizeof(k.local));
    struct srtpctx *s = srtpctx_new(&r);
    assert_non_null(s);
    for (int i = 0; i < NPKT; i++) {
      size_t len = stock[p].rtp_len[i], wl = make_rtp(i, want);
      /* A flipped bit in the tag first: refused, and no replay damage. */
      memcpy(buf, stock[p].rtp[i], len);
      buf[len - 1] ^= 0x80;
      size_t bad = len;
      assert_int_equal(srtpctx_unprotect_rtp(s, buf, &bad), -EACCES);
      memcpy(buf, stock[p].rtp[i], len);
      assert_int_equal(srtpctx_unprotect_rtp(s, buf, &len), 0);
      assert_int_equal(len, wl);
      assert_memory_equal(buf, want, wl);
      /* The same packet again is a replay. */
      memcpy(buf, stock[p].rtp[i], stock[p].rtp_len[i]);
      len = stock[p].rtp_len[i];
      assert_int_equal(srtpctx_unprotect_rtp(s, buf, &len), -EALREADY);

      len = stock[p].rtcp_len[i];
      wl = make_rtcp(i, want);
      memcpy(buf, stock[p].rtcp[i], len);
      buf[9] ^= 0x01;
      bad = len;
      assert_int_equal(srtpctx_unprotect_rtcp(s, buf, &bad), -EACCES);
      memcpy(buf, stock[p].rtcp[i], len);
      assert_int_equal(srtpctx_unprotect_rtcp(s, buf, &len), 0);
      assert_int_equal(len, wl);
      assert_memory_equal(buf, want, wl);
    }
    srtpctx_free(s);
  }
  assert_int_equal(ERR_peek_error(), 0);
}

/* Two ends with mirrored keys, many packets each way, and a relay-style
 * unprotect then protect in place. */
static void test_roundtrip_srtpctx(void **state) {
  (void)state;
  uint8_t buf[CAP], want[CAP];
  for (int p = 0; p < 2; p++) {
    struct srtp_keys ka, kb;
    keys_for(profiles[p], 0, &ka);
    kb = ka;
    memcpy(kb.local, ka.remote, sizeof(kb.local));
    memcpy(kb.remote, ka.local, sizeof(kb.remote));
    struct srtpctx *a = srtpctx_new(&ka), *b = srtpctx_new(&kb);
    assert_non_null(a);
    assert_non_null(b);
    for (int i = 0; i < 3000; i++) {
      size_t len = make_rtp(i % NPKT, buf);
      /* The sequence number wraps halfway (the rollover counter moves). */
      unsigned seq = (65536u - 1500u + (unsigned)i) & 0xffffu;
      buf[2] = (uint8_t)(seq >> 8), buf[3] = (uint8_t)seq;
      memcpy(want, buf, len);
      size_t wl = len;
      struct srtpctx *from = i & 1 ? a : b, *to = i & 1 ? b : a;
      assert_int_equal(srtpctx_protect_rtp(from, buf, &len, CAP), 0);
      assert_int_equal(len, wl + (p == 0 ? 10 : 16));
      assert_int_equal(srtpctx_unprotect_rtp(to, buf, &len), 0);
      assert_int_equal(len, wl);
      assert_memory_equal(buf, want, wl);
      len = make_rtcp(i % NPKT, buf);
      memcpy(want, buf, len);
      wl = len;
      assert_int_equal(srtpctx_protect_rtcp(from, buf, &len, CAP), 0);
      assert_int_equal(srtpctx_unprotect_rtcp(to, buf, &len), 0);
      assert_int_equal(len, wl);
      assert_memory_equal(buf, want, wl);
    }
    srtpctx_free(a);
    srtpctx_free(b);
  }
}

int main(void) {
  /* Before cmocka and before this process initialises libsrtp2. */
  if (stock_reference() != 0) {
    fprintf(stderr, "stock libsrtp2 reference child failed\n");
    return 1;
  }
  unsetenv("TANDEM_SRTP_BACKEND");
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_installed),
    cmocka_unit_test(test_icm_rfc3711_b2_keystream),
    cmocka_unit_test(test_icm_rfc3711_b3_kdf),
    cmocka_unit_test(test_icm_bad_params),
    cmocka_unit_test(test_hmac_rfc2202),
    cmocka_unit_test(test_gcm_rfc7714_rtp),
    cmocka_unit_test(test_gcm_rfc7714_rtcp),
    cmocka_unit_test(test_gcm_short_tag_and_misuse),
    cmocka_unit_test(test_same_bytes_as_stock),
    cmocka_unit_test(test_unprotect_stock_packets),
    cmocka_unit_test(test_roundtrip_srtpctx),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
