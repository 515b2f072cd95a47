/* fuzz_relaywire.c -- libFuzzer target: node-to-node relay datagrams (media/relaywire.c). Each
 * input is opened by both ends of a link as it is, then with its header made plausible (magic,
 * version, kind, the link id), so the fuzzer reaches the window and the authentication; nothing
 * but a datagram the other end sealed may open, and a refusal must change nothing. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/relaywire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t SECRET[RELAYWIRE_SECRET_LEN] = {42};
#define LINK 77u

static void try_open(struct relaywire *r, const uint8_t *buf, size_t len) {
  struct relaywire_hdr h;
  uint8_t out[2048];
  size_t n = 0;
  int rc = relaywire_open(r, buf, len, &h, out, sizeof(out), &n);
  if (rc == 0)
    abort(); /* nobody sealed it: accepting it would be a forgery */
  if (rc != -EBADMSG && rc != -EPROTONOSUPPORT && rc != -ENOENT && rc != -EALREADY &&
      rc != -ESTALE && rc != -EMSGSIZE && rc != -EACCES)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct relaywire *a, *b;
  if (!a) {
    a = relaywire_new(SECRET, LINK, 0);
    b = relaywire_new(SECRET, LINK, 1);
    if (!a || !b)
      abort();
  }
  if (size > 4096)
    return 0;
  uint8_t buf[4096 + RELAYWIRE_OVERHEAD];
  memcpy(buf, data, size);
  try_open(a, buf, size);
  try_open(b, buf, size);
  if (size >= RELAYWIRE_HDR) {
    buf[0] = RELAYWIRE_MAGIC;
    buf[1] = RELAYWIRE_VERSION;
    buf[2] = (uint8_t)(1 + (buf[2] & 1));
    buf[3] = 0;
    for (int i = 0; i < 8; i++)
      buf[4 + i] = (uint8_t)((uint64_t)LINK >> (56 - 8 * i));
    try_open(b, buf, size);
  }
  /* A genuine datagram of this payload still opens after all that, and only once. */
  if (size > 0 && size <= 2000) {
    uint8_t wire[2048 + RELAYWIRE_OVERHEAD], out[2048];
    size_t n, m;
    struct relaywire_hdr h;
    if (relaywire_seal(a, RELAYWIRE_RTP, data, size, wire, sizeof(wire), &n) != 0 ||
        relaywire_open(b, wire, n, &h, out, sizeof(out), &m) != 0 || m != size ||
        memcmp(out, data, size) != 0 ||
        relaywire_open(b, wire, n, &h, out, sizeof(out), &m) != -EALREADY)
      abort();
  }
  return 0;
}
