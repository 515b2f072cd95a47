/* device.h -- device identity: signed device tokens (HMAC-SHA256 under a key kept in
 * data_dir) that let a ban follow a browser across IP addresses and reloads. */
#ifndef TANDEM_DEVICE_H
#define TANDEM_DEVICE_H

#include <stddef.h>
#include <stdint.h>

/* A device is a random 128-bit id the server chose. Transparent value. */
#define DEVICE_ID_LEN 16
struct device_id {
  uint8_t b[DEVICE_ID_LEN];
};
#define DEVICE_HEX_LEN 32 /* characters of device_id_hex, without the NUL */

/* Lower-case hex into out[DEVICE_HEX_LEN + 1] (NUL-terminated). */
void device_id_hex(const struct device_id *id, char *out);
/* Exactly DEVICE_HEX_LEN hex digits (either case). 0 or -EINVAL. */
int device_id_parse_hex(const char *s, struct device_id *id);

/* A token is the text the browser stores and presents on every hello: base64url without
 * padding of  version (1 byte, 1) | device id (16) | issue time, unix ms (8, big-endian) |
 * HMAC-SHA256 of the first 25 bytes (32)  -- 57 bytes, exactly DEVICE_TOKEN_LEN characters,
 * with no spare bits, so every character is covered by the MAC. */
#define DEVICE_TOKEN_LEN 76
#define DEVICE_KEY_LEN 32
#define DEVICE_KEY_FILE "device.key"

/* Holds the 256-bit key. Immutable once made: device_issue and device_verify may be called
 * from any thread at the same time. */
struct device_signer;

/* Loads data_dir/device.key, or creates it on first start: 32 random bytes (RAND_bytes),
 * written to a temporary file with mode 0600, fsync'd and linked into place, so a crash leaves
 * either no key or a whole one, and two processes starting at once agree on one key. Blocking
 * file I/O: call it at start-up, before the loops run.
 * Returns 0 and *out, or: -ENOENT/-ENOTDIR/-EACCES (data_dir), -EPERM (the key file can be
 * read or written by group or others: fix with chmod 600), -EBADMSG (the key file is not a
 * regular file of exactly 32 bytes, or is a symbolic link: it is never replaced, since a new
 * key would turn every device into a new one and so lift every device ban), -EIO (RAND_bytes
 * or a write failed), -ENAMETOOLONG, -ENOMEM. */
int device_signer_open(const char *data_dir, struct device_signer **out);
/* A signer with the given key (tests, or a key held elsewhere). NULL on ENOMEM. */
struct device_signer *device_signer_new(const uint8_t key[DEVICE_KEY_LEN]);
/* Copies the key out (to share it with the other nodes of a cluster: server/modcluster.c). */
void device_signer_key(const struct device_signer *s, uint8_t key[DEVICE_KEY_LEN]);
/* Wipes the key and frees. NULL is a no-op. */
void device_signer_free(struct device_signer *s);

/* Issues a token for a new device: a fresh random id (RAND_bytes) and the time now_ms (unix
 * milliseconds) written into tok[DEVICE_TOKEN_LEN + 1], NUL-terminated; *id gets the id.
 * 0 or -EIO (no random bytes). */
int device_issue(const struct device_signer *s, uint64_t now_ms, struct device_id *id,
                 char *tok);
/* The token of a given id and issue time; pure and deterministic (what device_issue uses). */
void device_token_make(const struct device_signer *s, const struct device_id *id,
                       uint64_t issued_ms, char *tok);

/* Checks a token of len bytes (tok need not be NUL-terminated): 0 and the device id and issue
 * time (either out pointer may be NULL), or -EACCES for anything that is not a token this key
 * issued: wrong length, a character outside base64url, another version, a MAC that does not
 * match (compared in constant time). On -EACCES the outputs are untouched; the caller counts
 * the refusal (a metric) and treats the browser as a new device. Pure. */
int device_verify(const struct device_signer *s, const char *tok, size_t len,
                  struct device_id *id, uint64_t *issued_ms);

#endif
