/* rtcp.c -- RTCP compound parsing and building: SR/RR, NACK, PLI, FIR, REMB. */
#include "media/rtcp.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "media/bytes.h"

#define RTCP_HDR 4
#define FB_HDR 12      /* header + sender SSRC + media SSRC */
#define SR_HDR 28      /* header + SSRC + 20 bytes of sender info */
#define RR_HDR 8       /* header + SSRC */
#define BLOCK_LEN 24   /* one report block */
#define MAX_BLOCKS 31  /* the 5-bit RC field */

/* Writes a common header for a packet of `len` bytes (a multiple of 4). */
static void wr_hdr(uint8_t *out, uint8_t fmt, uint8_t pt, size_t len) {
  out[0] = (uint8_t)(0x80 | (fmt & 0x1f));
  out[1] = pt;
  bytes_put16(out + 2, (uint16_t)(len / 4 - 1));
}

void rtcp_iter_init(struct rtcp_iter *it, const uint8_t *buf, size_t len) {
  it->buf = buf;
  it->len = buf != NULL ? len : 0;
  it->off = 0;
}

/* The least a packet of type pt with count field fmt must hold. */
static size_t min_len(uint8_t pt, uint8_t fmt) {
  switch (pt) {
  case RTCP_SR:
    return SR_HDR + (size_t)BLOCK_LEN * fmt;
  case RTCP_RR:
    return RR_HDR + (size_t)BLOCK_LEN * fmt;
  case RTCP_RTPFB:
  case RTCP_PSFB:
  case RTCP_APP:
    return FB_HDR;
  case RTCP_BYE:
    return RTCP_HDR + 4u * fmt;
  default:
    return RTCP_HDR;
  }
}

int rtcp_iter_next(struct rtcp_iter *it, struct rtcp_item *item) {
  const uint8_t *p;
  size_t left, plen;

  if (it->off >= it->len)
    return 0;
  p = it->buf + it->off;
  left = it->len - it->off;
  if (left < RTCP_HDR || (p[0] >> 6) != 2)
    goto bad;
  plen = 4u * ((size_t)bytes_get16(p + 2) + 1);
  if (plen > left)
    goto bad;

  memset(item, 0, sizeof(*item));
  item->pt = p[1];
  item->fmt = p[0] & 0x1f;
  item->data = p;
  item->len = plen;
  if (plen < min_len(item->pt, item->fmt))
    goto bad;
  /* SDES and BYE start with an SSRC only when their count is non-zero. */
  if (plen >= 8 && !((item->pt == RTCP_SDES || item->pt == RTCP_BYE) &&
                     item->fmt == 0))
    item->sender_ssrc = bytes_get32(p + 4);
  if (item->pt == RTCP_RTPFB || item->pt == RTCP_PSFB)
    item->media_ssrc = bytes_get32(p + 8);
  it->off += plen;
  return 1;

bad:
  it->off = it->len;
  return -EBADMSG;
}

int rtcp_parse_sr(const struct rtcp_item *it, struct rtcp_sr *sr) {
  const uint8_t *p = it->data;

  if (it->pt != RTCP_SR)
    return -EINVAL;
  if (p == NULL || it->len < SR_HDR)
    return -EBADMSG;
  sr->ssrc = bytes_get32(p + 4);
  sr->ntp_sec = bytes_get32(p + 8);
  sr->ntp_frac = bytes_get32(p + 12);
  sr->rtp_ts = bytes_get32(p + 16);
  sr->packet_count = bytes_get32(p + 20);
  sr->octet_count = bytes_get32(p + 24);
  return 0;
}

static void rd_block(const uint8_t *p, struct rtcp_report_block *b) {
  uint32_t lost = bytes_get24(p + 5);

  b->ssrc = bytes_get32(p);
  b->fraction_lost = p[4];
  /* Sign-extend the 24-bit two's complement count (RFC 3550 6.4.1). */
  b->cumulative_lost = (lost & 0x800000) ? (int32_t)lost - 0x1000000
                                         : (int32_t)lost;
  b->ext_highest_seq = bytes_get32(p + 8);
  b->jitter = bytes_get32(p + 12);
  b->lsr = bytes_get32(p + 16);
  b->dlsr = bytes_get32(p + 20);
}

int rtcp_parse_report_blocks(const struct rtcp_item *it,
                             struct rtcp_report_block *b, size_t max,
                             size_t *n) {
  size_t off, count, i;

  *n = 0;
  if (it->pt == RTCP_SR)
    off = SR_HDR;
  else if (it->pt == RTCP_RR)
    off = RR_HDR;
  else
    return -EINVAL;
  count = it->fmt & 0x1f;
  if (it->data == NULL || it->len < off || (it->len - off) / BLOCK_LEN < count)
    return -EBADMSG;
  for (i = 0; i < count && i < max; i++)
    rd_block(it->data + off + i * BLOCK_LEN, &b[i]);
  *n = i;
  return 0;
}

int rtcp_parse_nack(const struct rtcp_item *it, uint16_t *seqs, size_t max,
                    size_t *n) {
  size_t off, k = 0;

  *n = 0;
  if (it->pt != RTCP_RTPFB || it->fmt != RTCP_FB_NACK)
    return -EINVAL;
  if (it->data == NULL || it->len < FB_HDR + 4)
    return -EBADMSG;
  for (off = FB_HDR; it->len - off >= 4 && k < max; off += 4) {
    uint16_t pid = bytes_get16(it->data + off);
    uint16_t blp = bytes_get16(it->data + off + 2);
    int bit;

    seqs[k++] = pid;
    for (bit = 0; bit < 16 && k < max; bit++)
      if (blp & (1u << bit))
        seqs[k++] = (uint16_t)(pid + bit + 1);
  }
  *n = k;
  return 0;
}

int rtcp_parse_remb(const struct rtcp_item *it, uint64_t *bitrate_bps,
                    uint32_t *ssrcs, size_t max, size_t *n) {
  const uint8_t *p = it->data;
  size_t count, i;
  unsigned exp;
  uint64_t mantissa;

  *n = 0;
  if (it->pt != RTCP_PSFB || it->fmt != RTCP_FB_AFB)
    return -EINVAL;
  if (p == NULL || it->len < FB_HDR + 4)
    return -EBADMSG;
  if (memcmp(p + FB_HDR, "REMB", 4) != 0)
    return -EINVAL;
  if (it->len < FB_HDR + 8)
    return -EBADMSG;
  count = p[FB_HDR + 4];
  if ((it->len - FB_HDR - 8) / 4 < count)
    return -EBADMSG;
  exp = p[FB_HDR + 5] >> 2;
  mantissa = bytes_get24(p + FB_HDR + 5) & 0x3FFFF;
  /* The largest mantissa has 18 bits, so shifts above 46 may overflow. */
  if (mantissa != 0 && exp > 46 && (mantissa >> (64 - exp)) != 0)
    *bitrate_bps = UINT64_MAX;
  else
    *bitrate_bps = mantissa << exp;
  for (i = 0; i < count && i < max; i++)
    ssrcs[i] = bytes_get32(p + FB_HDR + 8 + 4 * i);
  *n = i;
  return 0;
}

int rtcp_parse_fir(const struct rtcp_item *it, uint32_t *ssrc,
                   uint8_t *seqnr) {
  if (it->pt != RTCP_PSFB || it->fmt != RTCP_FB_FIR)
    return -EINVAL;
  if (it->data == NULL || it->len < FB_HDR + 8)
    return -EBADMSG;
  *ssrc = bytes_get32(it->data + FB_HDR);
  *seqnr = it->data[FB_HDR + 4];
  return 0;
}

static int write_fb(uint8_t *out, size_t cap, uint8_t fmt, uint8_t pt,
                    size_t len, uint32_t sender_ssrc, uint32_t media_ssrc) {
  if (out == NULL || cap < len)
    return -ENOSPC;
  wr_hdr(out, fmt, pt, len);
  bytes_put32(out + 4, sender_ssrc);
  bytes_put32(out + 8, media_ssrc);
  return 0;
}

int rtcp_write_pli(uint8_t *out, size_t cap, uint32_t sender_ssrc,
                   uint32_t media_ssrc) {
  int r = write_fb(out, cap, RTCP_FB_PLI, RTCP_PSFB, FB_HDR, sender_ssrc,
                   media_ssrc);
  return r < 0 ? r : FB_HDR;
}

int rtcp_write_fir(uint8_t *out, size_t cap, uint32_t sender_ssrc,
                   uint32_t media_ssrc, uint8_t seqnr) {
  int r = write_fb(out, cap, RTCP_FB_FIR, RTCP_PSFB, FB_HDR + 8, sender_ssrc,
                   0);
  if (r < 0)
    return r;
  bytes_put32(out + FB_HDR, media_ssrc);
  out[FB_HDR + 4] = seqnr;
  memset(out + FB_HDR + 5, 0, 3);
  return FB_HDR + 8;
}

int rtcp_write_nack(uint8_t *out, size_t cap, uint32_t sender_ssrc,
                    uint32_t media_ssrc, const uint16_t *seqs, size_t n) {
  size_t i, len = FB_HDR;

  if (n == 0 || seqs == NULL)
    return -EINVAL;
  if (out == NULL || cap < FB_HDR)
    return -ENOSPC;
  /* The FCI entries written so far live in out itself: each sequence number
   * joins the first entry whose PID..PID+16 window holds it, or opens a new
   * entry. */
  for (i = 0; i < n; i++) {
    size_t off;
    bool placed = false;

    for (off = FB_HDR; off < len && !placed; off += 4) {
      uint16_t d = (uint16_t)(seqs[i] - bytes_get16(out + off));
      if (d == 0) {
        placed = true;
      } else if (d <= 16) {
        bytes_put16(out + off + 2,
                    (uint16_t)(bytes_get16(out + off + 2) | (1u << (d - 1))));
        placed = true;
      }
    }
    if (placed)
      continue;
    if (cap - len < 4)
      return -ENOSPC;
    if (len / 4 > 0xFFFF)
      return -EINVAL;
    bytes_put16(out + len, seqs[i]);
    bytes_put16(out + len + 2, 0);
    len += 4;
  }
  write_fb(out, cap, RTCP_FB_NACK, RTCP_RTPFB, len, sender_ssrc, media_ssrc);
  return (int)len;
}

int rtcp_write_remb(uint8_t *out, size_t cap, uint32_t sender_ssrc,
                    uint64_t bitrate_bps, const uint32_t *ssrcs, size_t n) {
  size_t len = FB_HDR + 8 + 4 * n, i;
  unsigned exp = 0;
  int r;

  if (n > 255 || (n > 0 && ssrcs == NULL))
    return -EINVAL;
  /* The media source field of a REMB is 0 (draft-alvestrand-rmcat-remb). */
  r = write_fb(out, cap, RTCP_FB_AFB, RTCP_PSFB, len, sender_ssrc, 0);
  if (r < 0)
    return r;
  while ((bitrate_bps >> exp) > 0x3FFFF)
    exp++;
  memcpy(out + FB_HDR, "REMB", 4);
  out[FB_HDR + 4] = (uint8_t)n;
  bytes_put24(out + FB_HDR + 5, ((uint32_t)exp << 18) |
                             (uint32_t)(bitrate_bps >> exp));
  for (i = 0; i < n; i++)
    bytes_put32(out + FB_HDR + 8 + 4 * i, ssrcs[i]);
  return (int)len;
}

static void wr_block(uint8_t *p, const struct rtcp_report_block *b) {
  int32_t lost = b->cumulative_lost;

  if (lost > 0x7FFFFF)
    lost = 0x7FFFFF;
  if (lost < -0x800000)
    lost = -0x800000;
  bytes_put32(p, b->ssrc);
  p[4] = b->fraction_lost;
  bytes_put24(p + 5, (uint32_t)lost & 0xFFFFFF);
  bytes_put32(p + 8, b->ext_highest_seq);
  bytes_put32(p + 12, b->jitter);
  bytes_put32(p + 16, b->lsr);
  bytes_put32(p + 20, b->dlsr);
}

int rtcp_write_rr(uint8_t *out, size_t cap, uint32_t sender_ssrc,
                  const struct rtcp_report_block *b, size_t n) {
  size_t len = RR_HDR + BLOCK_LEN * n, i;

  if (n > MAX_BLOCKS || (n > 0 && b == NULL))
    return -EINVAL;
  if (out == NULL || cap < len)
    return -ENOSPC;
  wr_hdr(out, (uint8_t)n, RTCP_RR, len);
  bytes_put32(out + 4, sender_ssrc);
  for (i = 0; i < n; i++)
    wr_block(out + RR_HDR + BLOCK_LEN * i, &b[i]);
  return (int)len;
}

int rtcp_write_sr(uint8_t *out, size_t cap, const struct rtcp_sr *sr,
                  const struct rtcp_report_block *b, size_t n) {
  size_t len = SR_HDR + BLOCK_LEN * n, i;

  if (sr == NULL || n > MAX_BLOCKS || (n > 0 && b == NULL))
    return -EINVAL;
  if (out == NULL || cap < len)
    return -ENOSPC;
  wr_hdr(out, (uint8_t)n, RTCP_SR, len);
  bytes_put32(out + 4, sr->ssrc);
  bytes_put32(out + 8, sr->ntp_sec);
  bytes_put32(out + 12, sr->ntp_frac);
  bytes_put32(out + 16, sr->rtp_ts);
  bytes_put32(out + 20, sr->packet_count);
  bytes_put32(out + 24, sr->octet_count);
  for (i = 0; i < n; i++)
    wr_block(out + SR_HDR + BLOCK_LEN * i, &b[i]);
  return (int)len;
}
