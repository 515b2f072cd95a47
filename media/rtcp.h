/* rtcp.h -- RTCP compound parsing and building: SR/RR, NACK, PLI, FIR, REMB. */
#ifndef TANDEM_MEDIA_RTCP_H
#define TANDEM_MEDIA_RTCP_H

#include <stddef.h>
#include <stdint.h>

/* All functions here are pure: no allocation, no logging, no clock. Every
 * multi-byte field is converted from/to network byte order. */

enum {
  RTCP_SR = 200,
  RTCP_RR = 201,
  RTCP_SDES = 202,
  RTCP_BYE = 203,
  RTCP_APP = 204,
  RTCP_RTPFB = 205,
  RTCP_PSFB = 206
};

enum {
  RTCP_FB_NACK = 1, /* RTPFB, RFC 4585 */
  RTCP_FB_PLI = 1,  /* PSFB, RFC 4585 */
  RTCP_FB_FIR = 4,  /* PSFB, RFC 5104 */
  RTCP_FB_AFB = 15  /* PSFB; REMB is AFB with "REMB" */
};

/* One packet of a compound. data/len cover the whole packet including its
 * 4-byte header; data borrows the iterated buffer. fmt is the 5-bit count /
 * FMT field. sender_ssrc is the first SSRC of the packet (0 when it has none,
 * e.g. an SDES or BYE with count 0); media_ssrc is set only for RTPFB/PSFB,
 * else 0. */
struct rtcp_item {
  uint8_t pt, fmt;
  const uint8_t *data;
  size_t len;
  uint32_t sender_ssrc, media_ssrc;
};

/* Iterator over a compound packet; buf is borrowed for the iteration. */
struct rtcp_iter {
  const uint8_t *buf;
  size_t len, off;
};

void rtcp_iter_init(struct rtcp_iter *it, const uint8_t *buf, size_t len);

/* Returns 1 and fills *item with the next packet, 0 at the end, or -EBADMSG
 * when the next packet is malformed: version not 2, length past the buffer,
 * or too short for its type (SR: 28 + 24*RC bytes, RR: 8 + 24*RC, RTPFB/PSFB
 * and APP: 12, BYE: 4 + 4*SC, others: 4). After -EBADMSG the caller stops;
 * further calls return 0. Packets of unknown types are returned as items. */
int rtcp_iter_next(struct rtcp_iter *it, struct rtcp_item *item);

struct rtcp_sr {
  uint32_t ssrc, ntp_sec, ntp_frac, rtp_ts, packet_count, octet_count;
};

struct rtcp_report_block {
  uint32_t ssrc;
  uint8_t fraction_lost;
  int32_t cumulative_lost; /* 24-bit signed on the wire; clamped when written */
  uint32_t ext_highest_seq, jitter, lsr, dlsr;
};

/* Parsers of one item (normally from rtcp_iter_next). Each returns 0, -EINVAL
 * when the item is not of the right type, or -EBADMSG when it is too short
 * for what it claims to hold. Arrays are caller-owned; at most max entries
 * are written and *n says how many were (extra entries are ignored). */

/* The sender info of an SR. */
int rtcp_parse_sr(const struct rtcp_item *it, struct rtcp_sr *sr);

/* The report blocks of an SR or RR. */
int rtcp_parse_report_blocks(const struct rtcp_item *it,
                             struct rtcp_report_block *b, size_t max,
                             size_t *n);

/* A generic NACK (RTPFB FMT 1): expands every PID+BLP pair into the list of
 * lost sequence numbers, in packet order, wrapping at 65535. -EBADMSG when
 * it has no FCI entry. */
int rtcp_parse_nack(const struct rtcp_item *it, uint16_t *seqs, size_t max,
                    size_t *n);

/* A REMB (PSFB FMT 15 with "REMB"): the bitrate mantissa << exponent
 * (saturated to UINT64_MAX) and the SSRCs it applies to. -EINVAL when the
 * AFB is not a REMB. */
int rtcp_parse_remb(const struct rtcp_item *it, uint64_t *bitrate_bps,
                    uint32_t *ssrcs, size_t max, size_t *n);

/* A FIR (PSFB FMT 4): the SSRC and command sequence number of its first FCI
 * entry. -EBADMSG when it has none. */
int rtcp_parse_fir(const struct rtcp_item *it, uint32_t *ssrc,
                   uint8_t *seqnr);

/* Builders write one RTCP packet at out and return its size in bytes, or
 * -ENOSPC when cap is too small, or -EINVAL for arguments that cannot be
 * encoded (noted below). Concatenate their outputs to make a compound. */

/* PLI, 12 bytes. */
int rtcp_write_pli(uint8_t *out, size_t cap, uint32_t sender_ssrc,
                   uint32_t media_ssrc);

/* FIR, 20 bytes, one FCI entry for media_ssrc. The packet's own media source
 * field is 0 as RFC 5104 4.3.1.2 requires. */
int rtcp_write_fir(uint8_t *out, size_t cap, uint32_t sender_ssrc,
                   uint32_t media_ssrc, uint8_t seqnr);

/* Generic NACK for seqs[0..n): packs them into as few PID+BLP entries as it
 * finds (optimal for ascending input, wrap at 65535 included; duplicates are
 * merged). -EINVAL when n is 0. */
int rtcp_write_nack(uint8_t *out, size_t cap, uint32_t sender_ssrc,
                    uint32_t media_ssrc, const uint16_t *seqs, size_t n);

/* REMB for ssrcs[0..n), n <= 255 (else -EINVAL). The bitrate is encoded as an
 * 18-bit mantissa and 6-bit exponent, rounded down. */
int rtcp_write_remb(uint8_t *out, size_t cap, uint32_t sender_ssrc,
                    uint64_t bitrate_bps, const uint32_t *ssrcs, size_t n);

/* RR with n <= 31 report blocks (else -EINVAL). */
int rtcp_write_rr(uint8_t *out, size_t cap, uint32_t sender_ssrc,
                  const struct rtcp_report_block *b, size_t n);

/* SR with n <= 31 report blocks (else -EINVAL). */
int rtcp_write_sr(uint8_t *out, size_t cap, const struct rtcp_sr *sr,
                  const struct rtcp_report_block *b, size_t n);

#endif
