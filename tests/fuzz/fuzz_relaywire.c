/* fuzz_relaywire.c -- libFuzzer target: node-to-node relay datagrams (media/relaywire.c). Each
 * input is opened by both ends of a link as it is, then with its header made plausible (magic,
 * version, kind, the link id), so the fuzzer reaches the window and the authentication; nothing
 * but a datagram the other end sealed may open, and a refusal must change nothing. Each input is
 * also parsed as a bundle, as it is and with a bundle's header: what the parser accepts must hold
 * together exactly, and nothing in it may open. Last, the input's bytes are sealed as a genuine
 * bundle of one to four datagrams, which must parse and open, each datagram once. */
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

/* Parses buf as a bundle; what is accepted must add up to buf exactly, and nothing opens. */
static void try_bundle(struct relaywire *r, uint8_t *buf, size_t len) {
  struct relaywire_bundle_iter it;
  int rc = relaywire_bundle_parse(buf, len, &it);
  if (rc != 0) {
    if (rc != -EBADMSG && rc != -EPROTONOSUPPORT)
      abort();
    return;
  }
  if (!relaywire_is_bundle(buf, len) || buf[3] < 2)
    abort();
  size_t total = RELAYWIRE_BUNDLE_HDR;
  unsigned k = 0;
  uint8_t *dg;
  size_t n;
  while (relaywire_bundle_next(&it, &dg, &n)) {
    struct relaywire_hdr h;
    if (dg != buf + total + RELAYWIRE_BUNDLE_LEN || relaywire_peek(dg, n, &h) != 0)
      abort();
    total += RELAYWIRE_BUNDLE_LEN + n;
    k++;
    try_open(r, dg, n);
  }
  if (k != buf[3] || total != len)
    abort();
}

/* data sealed as a bundle of up to four datagrams (sizes from its first bytes): it parses, each
 * datagram opens once and gives its piece back. */
static void genuine_bundle(struct relaywire *a, struct relaywire *b, const uint8_t *data,
                           size_t size) {
  if (size < 4 || size > 1200)
    return;
  size_t k = 1 + (data[0] & 3), piece = size / k;
  if (piece == 0)
    return;
  static uint8_t buf[RELAYWIRE_BUNDLE_HDR + 4 * (RELAYWIRE_BUNDLE_LEN + RELAYWIRE_OVERHEAD) + 1200];
  struct relaywire_bundle bb;
  relaywire_bundle_init(&bb, buf, sizeof(buf));
  for (size_t i = 0; i < k; i++) {
    size_t room, n;
    uint8_t *at = relaywire_bundle_room(&bb, &room);
    if (!at || relaywire_seal(a, RELAYWIRE_RTCP, data + i * piece, piece, at, room, &n) != 0 ||
        relaywire_bundle_add(&bb, n) != 0)
      abort();
  }
  size_t len;
  uint8_t *dg = (uint8_t *)relaywire_bundle_datagram(&bb, &len);
  if (!dg || relaywire_is_bundle(dg, len) != (k > 1))
    abort();
  uint8_t out[1300];
  size_t m;
  struct relaywire_hdr h;
  if (k == 1) {
    if (relaywire_open(b, dg, len, &h, out, sizeof(out), &m) != 0 || m != piece)
      abort();
    return;
  }
  struct relaywire_bundle_iter it;
  if (relaywire_bundle_parse(dg, len, &it) != 0)
    abort();
  uint8_t *d;
  size_t n, i = 0;
  while (relaywire_bundle_next(&it, &d, &n)) {
    if (relaywire_open(b, d, n, &h, out, sizeof(out), &m) != 0 || m != piece ||
        memcmp(out, data + i * piece, piece) != 0 ||
        relaywire_open(b, d, n, &h, out, sizeof(out), &m) != -EALREADY)
      abort();
    i++;
  }
  if (i != k)
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
  memcpy(buf, data, size);
  try_bundle(b, buf, size);
  if (size >= RELAYWIRE_BUNDLE_HDR) {
    buf[0] = RELAYWIRE_MAGIC;
    buf[1] = RELAYWIRE_VERSION;
    buf[2] = RELAYWIRE_BUNDLE;
    try_bundle(b, buf, size);
  }
  genuine_bundle(a, b, data, size);
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
