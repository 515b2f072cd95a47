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
 * highest one accepted; the window moves only once a packet authenticated. */
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

enum relaywire_kind { RELAYWIRE_RTP = 1, RELAYWIRE_RTCP = 2 };

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

#endif
