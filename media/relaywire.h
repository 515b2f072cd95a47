/* relaywire.h -- the datagrams between Tandem nodes that carry a cross-node pair's RTP and RTCP:
 * sealed with AES-128-GCM under per-link, per-direction keys derived from the cluster secret.
 *
 * Pure: no sockets, no clocks, no globals; OpenSSL EVP does the cryptography. One datagram:
 *
 *   0       1       2       3       4 ...                11 12 ...                19 20 ...  +16
 *   +-------+-------+-------+-------+------------------------+------------------------+---------+---+
 *   | 0xF5  |version| kind  | 0     | link id (big endian)   | counter (big endian)   | payload |tag|
 *   +-------+-------+-------+-------+------------------------+------------------------+---------+---+
 *   \________________ header: AAD, in clear (20 bytes) _____________________________/ encrypted
 *
 * - Byte 0 is 0xF5: RFC 7983 gives 0-3 to STUN, 20-63 to DTLS, 128-191 to RTP/RTCP; browsers never
 *   send 192-255, so relay datagrams share a media worker's UDP port with browsers' traffic.
 * - version 1; kind RELAYWIRE_RTP or RELAYWIRE_RTCP; byte 3 is reserved and must be 0.
 * - link id: which cross-node pair leg (chosen by the control plane, the same on both nodes).
 * - counter: the sender's packet number in that direction, 0, 1, 2 ...; with the direction it
 *   forms the GCM nonce (direction byte, three zero bytes, counter), and each direction has its
 *   own key, so a (key, nonce) pair is never used twice while a sender never rewinds its counter.
 * - payload: a plain RTP or RTCP packet (after SRTP was removed at the first node).
 *
 * Keys: HKDF-SHA256 (RFC 5869) with the 32-byte cluster secret as input keying material, salt
 * "tandem-relay-v1", info = "tandem relay key" || link id (8 bytes, big endian) || direction
 * (1 byte), 16 bytes of output. The two ends of a link take opposite sides (0 and 1): side s
 * sends in direction s and receives in direction 1 - s. Nothing secret travels per link.
 *
 * Receiving: a 256-packet sliding window refuses duplicates and counters too far behind the
 * highest one accepted; the window moves only once a packet authenticated.
 *
 * Bundles: the datagrams a worker sends to the same remote worker in one loop turn travel as
 * one UDP datagram (one send, one receive and one wake-up instead of several):
 *
 *   +-------+-------+-------+-------+--------+-------------+--------+-------------+---
 *   | 0xF5  |version|   3   | count | length | datagram 1  | length | datagram 2  | ...
 *   +-------+-------+-------+-------+--------+-------------+--------+-------------+---
 *
 * - kind 3 (RELAYWIRE_BUNDLE); count: how many datagrams follow, 2 to 255;
 * - each datagram is a whole sealed datagram as above (kind RTP or RTCP, never a bundle),
 *   preceded by its length (2 bytes, big endian), and the last one ends the bundle exactly.
 * The bundle's own four bytes and the lengths are not authenticated: each datagram inside is,
 * on its own, under its own link's key. A bundle that breaks any of these rules is refused
 * whole, before any datagram in it is opened; a datagram inside that does not open is refused
 * alone, as it would be outside a bundle. A sender never bundles one datagram (it sends it
 * as it is) and keeps a bundle within RELAYWIRE_BUNDLE_MAX bytes. */
#ifndef TANDEM_RELAYWIRE_H
#define TANDEM_RELAYWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAYWIRE_MAGIC 0xF5
#define RELAYWIRE_VERSION 1
#define RELAYWIRE_HDR 20
#define RELAYWIRE_TAG 16
#define RELAYWIRE_OVERHEAD (RELAYWIRE_HDR + RELAYWIRE_TAG)
#define RELAYWIRE_SECRET_LEN 32
#define RELAYWIRE_KEY_LEN 16
#define RELAYWIRE_WINDOW 256

enum relaywire_kind { RELAYWIRE_RTP = 1, RELAYWIRE_RTCP = 2, RELAYWIRE_BUNDLE = 3 };

#define RELAYWIRE_BUNDLE_HDR 4
#define RELAYWIRE_BUNDLE_LEN 2     /* the length before each datagram in a bundle */
/* The largest bundle a sender makes: a 1500-byte MTU less IPv6 and UDP headers, so a bundle
 * is never fragmented where one datagram alone would not be. */
#define RELAYWIRE_BUNDLE_MAX 1452
#define RELAYWIRE_BUNDLE_COUNT 255

/* A header, read by relaywire_peek (not authenticated yet). */
struct relaywire_hdr {
  uint8_t version, kind;
  uint64_t link_id, counter;
};

/* One end of one link: its sending key and counter, its receiving key and replay window. */
struct relaywire;

/* Whether a datagram's first byte is a relay datagram's (0xF5): the demux test. */
bool relaywire_is(const uint8_t *buf, size_t len);

/* Reads the clear header of buf[0..len) into *h without touching any state: 0; -EBADMSG when
 * len cannot hold a header and a tag, the first byte is not 0xF5, byte 3 is not 0 or the kind
 * is unknown; -EPROTONOSUPPORT for another version. */
int relaywire_peek(const uint8_t *buf, size_t len, struct relaywire_hdr *h);

/* The key of (secret, link_id, direction 0 or 1) into key[RELAYWIRE_KEY_LEN]: 0, -EINVAL for
 * a bad direction, -EIO when OpenSSL fails. */
int relaywire_derive_key(const uint8_t secret[RELAYWIRE_SECRET_LEN], uint64_t link_id, int dir,
                         uint8_t key[RELAYWIRE_KEY_LEN]);

/* A link's end for side 0 or 1, its keys derived from secret (which is not kept). NULL when
 * side is not 0 or 1, or when memory or OpenSSL fails. relaywire_free(NULL) is a no-op; it
 * wipes the keys. */
struct relaywire *relaywire_new(const uint8_t secret[RELAYWIRE_SECRET_LEN], uint64_t link_id,
                                int side);
void relaywire_free(struct relaywire *r);
uint64_t relaywire_link_id(const struct relaywire *r);

/* Seals plain[0..len) as one datagram of `kind` into out (capacity cap): header, ciphertext,
 * tag, *out_len = len + RELAYWIRE_OVERHEAD. plain may be exactly out + RELAYWIRE_HDR (sealing
 * in place); any other overlap is not allowed. Uses the next counter. 0; -EINVAL for a bad kind
 * or an empty payload; -EMSGSIZE when cap is too small; -EOVERFLOW once the counter is spent
 * (2^64 packets); -EIO when OpenSSL fails. Nothing changes on failure. */
int relaywire_seal(struct relaywire *r, int kind, const uint8_t *plain, size_t len, uint8_t *out,
                   size_t cap, size_t *out_len);

/* Opens the datagram buf[0..len): authenticates header and payload, decrypts the payload into
 * out (capacity cap; out may be exactly buf + RELAYWIRE_HDR, opening in place; no other
 * overlap), gives its header in *h and its length in *out_len, and moves the replay window.
 * Errors, after which the state is as before (out's bytes are undefined):
 *   -EBADMSG, -EPROTONOSUPPORT   as relaywire_peek says;
 *   -ENOENT     another link's datagram;
 *   -EALREADY   a counter already accepted (a replay or a duplicate);
 *   -ESTALE     a counter RELAYWIRE_WINDOW or more behind the highest accepted;
 *   -EMSGSIZE   cap too small;
 *   -EACCES     authentication failed: forged, corrupted, or sealed in the other direction;
 *   -EIO        OpenSSL failed. */
int relaywire_open(struct relaywire *r, const uint8_t *buf, size_t len, struct relaywire_hdr *h,
                   uint8_t *out, size_t cap, size_t *out_len);

/* ---- bundles ---- */

/* Whether buf[0..len) claims to be a bundle (magic, version, kind 3); relaywire_bundle_parse
 * says whether it is one. */
bool relaywire_is_bundle(const uint8_t *buf, size_t len);

/* The datagrams of a bundle, checked: relaywire_bundle_parse walks the whole bundle first, so
 * nothing in a malformed bundle is ever handed out. */
struct relaywire_bundle_iter {
  uint8_t *buf;
  size_t len, off;
  unsigned left;
};

/* Checks the bundle buf[0..len) and sets up *it to walk it: 0; -EBADMSG when it is not a bundle
 * (magic, kind), its count is not 2..255, a length is shorter than a datagram can be
 * (RELAYWIRE_OVERHEAD + 1) or runs past the end, a datagram inside is not one relaywire_peek
 * accepts (a bundle in a bundle is not), the count and the datagrams found differ, or bytes
 * are left over; -EPROTONOSUPPORT for another version. Pure: it reads buf, changes nothing. */
int relaywire_bundle_parse(uint8_t *buf, size_t len, struct relaywire_bundle_iter *it);
/* The next datagram of a parsed bundle in *dg and *dg_len (pointing into the bundle's buffer),
 * true; false after the last one. */
bool relaywire_bundle_next(struct relaywire_bundle_iter *it, uint8_t **dg, size_t *dg_len);

/* A bundle being built in a caller's buffer (transparent; fields are private to relaywire.c). */
struct relaywire_bundle {
  uint8_t *buf;
  size_t cap, len;             /* len: the bundle's bytes so far (its header included) */
  unsigned n;                  /* datagrams in it */
};

/* Starts an empty bundle in buf[0..cap); cap should hold RELAYWIRE_BUNDLE_HDR +
 * RELAYWIRE_BUNDLE_LEN and the largest datagram to be sent. */
void relaywire_bundle_init(struct relaywire_bundle *b, uint8_t *buf, size_t cap);
/* Where the next datagram is to be written (sealed straight there), and *room, the most bytes
 * it may take; NULL when the bundle holds RELAYWIRE_BUNDLE_COUNT datagrams or has no room. */
uint8_t *relaywire_bundle_room(struct relaywire_bundle *b, size_t *room);
/* Adds the datagram of len bytes just written at relaywire_bundle_room's pointer: 0, or
 * -EINVAL when it does not fit or is shorter than a datagram can be. */
int relaywire_bundle_add(struct relaywire_bundle *b, size_t len);
/* Whether a datagram of len more bytes keeps the bundle within max bytes (always true for an
 * empty bundle, which sends its one datagram bare). */
bool relaywire_bundle_fits(const struct relaywire_bundle *b, size_t len, size_t max);
/* What to send: NULL for an empty bundle; one datagram alone as it is; else the bundle with
 * its count. The pointer is into the bundle's buffer. relaywire_bundle_init starts again. */
const uint8_t *relaywire_bundle_datagram(struct relaywire_bundle *b, size_t *len);

#endif
