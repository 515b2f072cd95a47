/* framing.h -- RFC 4571 framing of RTP/RTCP/STUN/DTLS over a byte stream (ICE-TCP, RFC 6544),
 * and telling a stream's protocol by its first bytes (one TCP port for TLS, HTTP and media). */
#ifndef TANDEM_MEDIA_FRAMING_H
#define TANDEM_MEDIA_FRAMING_H

#include <stddef.h>
#include <stdint.h>

/* Pure: no allocation, no clock, no logging. */

/* The largest packet accepted in a frame. RFC 4571 allows 65535; nothing Tandem carries is
 * over 1500 bytes, so a longer frame means a broken or hostile stream. */
#define FRAMING_MAX 2048

/* Reassembles frames from stream bytes; at most FRAMING_MAX + 2 bytes held. */
struct framing_reader {
  uint8_t buf[FRAMING_MAX + 2];
  size_t have;
};

void framing_reader_init(struct framing_reader *r);
/* Feeds len bytes read from the stream. Calls cb(arg, pkt, n) for every whole frame, in order
 * (pkt is valid during the call, writable, and may be modified). Returns 0, or -EMSGSIZE for a
 * frame longer than FRAMING_MAX or empty (the stream must be closed; frames before it were
 * delivered). cb may not feed the same reader. */
int framing_feed(struct framing_reader *r, const uint8_t *data, size_t len,
                 void (*cb)(void *arg, uint8_t *pkt, size_t n), void *arg);
/* Writes the 2-byte length header of a len-byte packet into hdr. -EMSGSIZE over FRAMING_MAX or
 * for 0. */
int framing_header(uint8_t hdr[2], size_t len);

enum framing_kind {
  FRAMING_MORE = 0,   /* too few bytes to tell */
  FRAMING_TLS,        /* a TLS handshake record (ClientHello): 0x16 0x03 0x00-0x04 */
  FRAMING_HTTP,       /* an HTTP/1.x request line: an uppercase method and a space */
  FRAMING_ICE_TCP,    /* RFC 4571: a length of 20..FRAMING_MAX, then a STUN Binding request */
  FRAMING_UNKNOWN,
};
/* What a stream's first len bytes say it carries. An ICE-TCP stream always opens with a
 * Binding request (RFC 6544), whose header (type 0x0001, then the magic cookie at offset 4 of
 * the message) is checked, so none of the three can be taken for another. */
enum framing_kind framing_sniff(const uint8_t *buf, size_t len);

#endif
