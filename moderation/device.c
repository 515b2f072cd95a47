/* device.c -- device tokens: HMAC-SHA256 over id and issue time, base64url text; the key file. */
#include "moderation/device.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base/hex.h"

#define TOKEN_VERSION 1
#define BODY_LEN (1 + DEVICE_ID_LEN + 8) /* what the MAC covers */
#define MAC_LEN 32
#define RAW_LEN (BODY_LEN + MAC_LEN)     /* 57 bytes = 76 base64 characters exactly */

struct device_signer {
  uint8_t key[DEVICE_KEY_LEN];
};

/* ---- hex ---- */

void device_id_hex(const struct device_id *id, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < DEVICE_ID_LEN; i++) {
    out[2 * i] = digits[id->b[i] >> 4];
    out[2 * i + 1] = digits[id->b[i] & 15];
  }
  out[DEVICE_HEX_LEN] = '\0';
}

int device_id_parse_hex(const char *s, struct device_id *id) {
  struct device_id tmp;
  if (!s || strlen(s) != DEVICE_HEX_LEN)
    return -EINVAL;
  for (size_t i = 0; i < DEVICE_ID_LEN; i++) {
    int b = hex_byte(s + 2 * i);
    if (b < 0)
      return -EINVAL;
    tmp.b[i] = (uint8_t)b;
  }
  *id = tmp;
  return 0;
}

/* ---- base64url, for exactly RAW_LEN bytes (a multiple of 3: no padding, no spare bits) ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64_encode(const uint8_t *in, char *out) {
  for (size_t i = 0; i < RAW_LEN; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    *out++ = b64[v >> 18];
    *out++ = b64[(v >> 12) & 63];
    *out++ = b64[(v >> 6) & 63];
    *out++ = b64[v & 63];
  }
  *out = '\0';
}

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

static int b64_decode(const char *in, uint8_t *out) {
  for (size_t i = 0, o = 0; i < DEVICE_TOKEN_LEN; i += 4, o += 3) {
    uint32_t v = 0;
    for (size_t j = 0; j < 4; j++) {
      int d = b64_value((unsigned char)in[i + j]);
      if (d < 0)
        return -1;
      v = v << 6 | (uint32_t)d;
    }
    out[o] = (uint8_t)(v >> 16);
    out[o + 1] = (uint8_t)(v >> 8);
    out[o + 2] = (uint8_t)v;
  }
  return 0;
}

/* ---- tokens ---- */

static void body(uint8_t *raw, const struct device_id *id, uint64_t issued_ms) {
  raw[0] = TOKEN_VERSION;
  memcpy(raw + 1, id->b, DEVICE_ID_LEN);
  for (int i = 0; i < 8; i++)
    raw[1 + DEVICE_ID_LEN + i] = (uint8_t)(issued_ms >> (56 - 8 * i));
}

static void mac(const struct device_signer *s, const uint8_t *raw, uint8_t *tag) {
  unsigned int len = MAC_LEN;
  /* HMAC() only fails on a broken OpenSSL or out of memory; an all-zero tag then matches
   * nothing a browser could hold except by guessing 256 bits. */
  if (!HMAC(EVP_sha256(), s->key, DEVICE_KEY_LEN, raw, BODY_LEN, tag, &len))
    memset(tag, 0, MAC_LEN);
}

void device_token_make(const struct device_signer *s, const struct device_id *id,
                       uint64_t issued_ms, char *tok) {
  uint8_t raw[RAW_LEN];
  body(raw, id, issued_ms);
  mac(s, raw, raw + BODY_LEN);
  b64_encode(raw, tok);
}

int device_issue(const struct device_signer *s, uint64_t now_ms, struct device_id *id,
                 char *tok) {
  struct device_id fresh;
  if (RAND_bytes(fresh.b, DEVICE_ID_LEN) != 1)
    return -EIO;
  device_token_make(s, &fresh, now_ms, tok);
  *id = fresh;
  return 0;
}

int device_verify(const struct device_signer *s, const char *tok, size_t len,
                  struct device_id *id, uint64_t *issued_ms) {
  uint8_t raw[RAW_LEN], tag[MAC_LEN];

  if (!tok || len != DEVICE_TOKEN_LEN || b64_decode(tok, raw) != 0)
    return -EACCES;
  mac(s, raw, tag);
  /* Check the tag before looking at the version, and in constant time, so a forger learns
   * nothing from how fast a refusal comes. */
  if (CRYPTO_memcmp(tag, raw + BODY_LEN, MAC_LEN) != 0 || raw[0] != TOKEN_VERSION)
    return -EACCES;
  if (id)
    memcpy(id->b, raw + 1, DEVICE_ID_LEN);
  if (issued_ms) {
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
      t = t << 8 | raw[1 + DEVICE_ID_LEN + i];
    *issued_ms = t;
  }
  return 0;
}

/* ---- the key ---- */

struct device_signer *device_signer_new(const uint8_t key[DEVICE_KEY_LEN]) {
  struct device_signer *s = malloc(sizeof(*s));
  if (s)
    memcpy(s->key, key, DEVICE_KEY_LEN);
  return s;
}

void device_signer_key(const struct device_signer *s, uint8_t key[DEVICE_KEY_LEN]) {
  memcpy(key, s->key, DEVICE_KEY_LEN);
}

void device_signer_free(struct device_signer *s) {
  if (!s)
    return;
  OPENSSL_cleanse(s->key, sizeof(s->key));
  free(s);
}

static int read_key(int fd, uint8_t *key) {
  struct stat st;
  size_t got = 0;

  if (fstat(fd, &st) != 0)
    return -errno;
  if (!S_ISREG(st.st_mode) || st.st_size != DEVICE_KEY_LEN)
    return -EBADMSG;
  if (st.st_mode & 077)
    return -EPERM;
  while (got < DEVICE_KEY_LEN) {
    ssize_t n = read(fd, key + got, DEVICE_KEY_LEN - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n == 0 ? -EBADMSG : -errno;
    got += (size_t)n;
  }
  return 0;
}

static int load(const char *path, uint8_t *key) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ELOOP ? -EBADMSG : -errno;
  int rc = read_key(fd, key);
  close(fd);
  return rc;
}

static int write_all(int fd, const uint8_t *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  int rc = fsync(fd) == 0 ? 0 : -errno;
  close(fd);
  return rc;
}

/* Writes a new key beside the final name and links it into place: link() never replaces an
 * existing file, so if another process created the key meanwhile, its key wins and is read. */
static int create(const char *dir, const char *path, uint8_t *key) {
  char tmp[PATH_MAX];
  int rc, fd;

  if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
    return -ENAMETOOLONG;
  unlink(tmp); /* left by a crash of a process that had our pid */
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  if (RAND_bytes(key, DEVICE_KEY_LEN) != 1)
    rc = -EIO;
  else if (fchmod(fd, 0600) != 0)
    rc = -errno;
  else
    rc = write_all(fd, key, DEVICE_KEY_LEN);
  if (rc == 0 && fsync(fd) != 0)
    rc = -errno;
  if (close(fd) != 0 && rc == 0)
    rc = -errno;
  if (rc == 0 && link(tmp, path) != 0)
    rc = errno == EEXIST ? load(path, key) : -errno;
  unlink(tmp);
  if (rc == 0)
    rc = fsync_dir(dir);
  if (rc != 0)
    OPENSSL_cleanse(key, DEVICE_KEY_LEN);
  return rc;
}

int device_signer_open(const char *data_dir, struct device_signer **out) {
  char path[PATH_MAX];
  uint8_t key[DEVICE_KEY_LEN];
  struct stat st;
  int rc;

  *out = NULL;
  if (!data_dir || !*data_dir)
    return -ENOENT;
  if (stat(data_dir, &st) != 0)
    return -errno;
  if (!S_ISDIR(st.st_mode))
    return -ENOTDIR;
  if (snprintf(path, sizeof(path), "%s/%s", data_dir, DEVICE_KEY_FILE) >= (int)sizeof(path))
    return -ENAMETOOLONG;
  rc = load(path, key);
  if (rc == -ENOENT)
    rc = create(data_dir, path, key);
  if (rc == 0) {
    *out = device_signer_new(key);
    if (!*out)
      rc = -ENOMEM;
  }
  OPENSSL_cleanse(key, sizeof(key));
  return rc;
}
