/* rtp.h -- RTP packet parsing and header building (RFC 3550, RFC 8285). */
#ifndef TANDEM_MEDIA_RTP_H
#define TANDEM_MEDIA_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* All functions here are pure: no allocation, no logging, no clock, safe to
 * call from any callback and from any thread on distinct buffers. */

#define RTP_HEADER_MIN 12

/* A parsed view of one RTP packet. Transparent and caller-allocated; filled by
 * rtp_parse(). It holds only offsets into the parsed buffer, so it stays
 * meaningful exactly as long as that buffer is unchanged. */
struct rtp_view {
  uint8_t marker, pt, csrc_count;
  uint16_t seq;
  uint32_t ts, ssrc;
  size_t header_len;               /* fixed header + CSRCs + extension block */
  size_t payload_off, payload_len; /* payload excludes padding */
  size_t padding_len;
  uint16_t ext_profile; /* 0 none, 0xBEDE one-byte, 0x100x two-byte (RFC 8285);
                           any other value is an unknown profile */
  size_t ext_off, ext_len; /* offset/length in buf of the extension data after
                              its 4-byte header; both 0 without extension */
};

/* Parses buf[0..len) as an RTP packet into *v. Returns 0, or -EBADMSG when
 * the version is not 2, the packet is shorter than its fixed header, CSRC list
 * or extension block, or the padding count is 0 or larger than what follows
 * the header. *v is unspecified after an error. */
int rtp_parse(const uint8_t *buf, size_t len, struct rtp_view *v);

/* Finds header extension `id` in a packet parsed by rtp_parse() into *v
 * (buf must be the same, unchanged buffer). Handles the one-byte (0xBEDE) and
 * two-byte (0x100x) forms. On success returns 0 and sets *data (a pointer into
 * buf, borrowed for buf's lifetime) and *len (may be 0 in the two-byte form).
 * Returns -ENOENT when the packet has no such element (or no RFC 8285
 * extension block at all, or id is 0 or, in the one-byte form, 15), and
 * -EBADMSG when an element before it overruns the block. */
int rtp_ext_find(const uint8_t *buf, const struct rtp_view *v, uint8_t id,
                 const uint8_t **data, size_t *len);

/* One header extension element to write. data points to len bytes (may be
 * NULL when len is 0). */
struct rtp_ext {
  uint8_t id;
  uint8_t len;
  const uint8_t *data;
};

/* Header fields to write. ext points to n_ext elements (NULL when n_ext is 0);
 * only borrowed during rtp_write_header(). No CSRCs are written. */
struct rtp_header {
  uint8_t marker, pt;
  uint16_t seq;
  uint32_t ts, ssrc;
  const struct rtp_ext *ext;
  size_t n_ext;
};

/* Writes an RTP header (version 2, no padding, no CSRC) and, when n_ext > 0,
 * an RFC 8285 extension block padded with zeros to a multiple of 4 bytes.
 * The one-byte form is used when every id is in 1..14 and every len in 1..16,
 * else the two-byte form (ids 1..255, len 0..255). marker is treated as a
 * boolean. Returns the number of bytes written (12 + extension block), or
 * -ENOSPC when cap is too small, or -EINVAL for pt > 127, an id 0, a NULL ext
 * or data where bytes are needed, or a block longer than 65535 words. */
int rtp_write_header(uint8_t *out, size_t cap, const struct rtp_header *h);

/* RFC 5761 demultiplexing of RTP and RTCP on one port: true when the packet
 * has at least 2 bytes and its second byte is in 192..223 (RTCP packet types,
 * which as RTP would be marker + payload type 64..95). */
bool rtp_is_rtcp(const uint8_t *buf, size_t len);

#endif
