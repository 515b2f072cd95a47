/* rtp.c -- RTP packet parsing and header building (RFC 3550, RFC 8285). */
#include "media/rtp.h"

#include <errno.h>
#include <string.h>

#include "media/bytes.h"

int rtp_parse(const uint8_t *buf, size_t len, struct rtp_view *v) {
  size_t off;

  if (buf == NULL || v == NULL || len < RTP_HEADER_MIN)
    return -EBADMSG;
  if ((buf[0] >> 6) != 2)
    return -EBADMSG;

  memset(v, 0, sizeof(*v));
  v->csrc_count = buf[0] & 0x0f;
  v->marker = buf[1] >> 7;
  v->pt = buf[1] & 0x7f;
  v->seq = bytes_get16(buf + 2);
  v->ts = bytes_get32(buf + 4);
  v->ssrc = bytes_get32(buf + 8);

  /* Every length below is checked against what remains, so no sum can run
   * past len (all terms are small compared with SIZE_MAX). */
  off = RTP_HEADER_MIN + 4u * v->csrc_count;
  if (off > len)
    return -EBADMSG;

  if (buf[0] & 0x10) {
    if (len - off < 4)
      return -EBADMSG;
    v->ext_profile = bytes_get16(buf + off);
    v->ext_len = 4u * bytes_get16(buf + off + 2);
    v->ext_off = off + 4;
    if (len - v->ext_off < v->ext_len)
      return -EBADMSG;
    off = v->ext_off + v->ext_len;
  }
  v->header_len = off;
  v->payload_off = off;

  if (buf[0] & 0x20) {
    /* The last byte counts the padding, itself included (RFC 3550 5.1). */
    size_t pad = buf[len - 1];
    if (pad == 0 || pad > len - off)
      return -EBADMSG;
    v->padding_len = pad;
  }
  v->payload_len = len - off - v->padding_len;
  return 0;
}

/* Walks the one-byte form: an element is ID(4) LEN-1(4) then LEN bytes; zero
 * bytes are padding and ID 15 ends the walk (RFC 8285 4.2). */
static int find_one_byte(const uint8_t *p, size_t n, uint8_t id,
                         const uint8_t **data, size_t *len) {
  size_t i = 0;

  while (i < n) {
    uint8_t eid = p[i] >> 4;
    size_t elen = (size_t)(p[i] & 0x0f) + 1;

    if (p[i] == 0) {
      i++;
      continue;
    }
    if (eid == 15)
      return -ENOENT;
    if (n - i - 1 < elen)
      return -EBADMSG;
    if (eid == id) {
      *data = p + i + 1;
      *len = elen;
      return 0;
    }
    i += 1 + elen;
  }
  return -ENOENT;
}

/* Walks the two-byte form: ID(8) LEN(8) then LEN bytes; a zero ID byte is
 * padding (RFC 8285 4.3). */
static int find_two_byte(const uint8_t *p, size_t n, uint8_t id,
                         const uint8_t **data, size_t *len) {
  size_t i = 0;

  while (i < n) {
    size_t elen;

    if (p[i] == 0) {
      i++;
      continue;
    }
    if (n - i < 2)
      return -EBADMSG;
    elen = p[i + 1];
    if (n - i - 2 < elen)
      return -EBADMSG;
    if (p[i] == id) {
      *data = p + i + 2;
      *len = elen;
      return 0;
    }
    i += 2 + elen;
  }
  return -ENOENT;
}

int rtp_ext_find(const uint8_t *buf, const struct rtp_view *v, uint8_t id,
                 const uint8_t **data, size_t *len) {
  const uint8_t *p;

  if (buf == NULL || v == NULL || data == NULL || len == NULL)
    return -EINVAL;
  if (id == 0 || v->ext_len == 0)
    return -ENOENT;
  p = buf + v->ext_off;
  if (v->ext_profile == 0xBEDE) {
    if (id > 14)
      return -ENOENT;
    return find_one_byte(p, v->ext_len, id, data, len);
  }
  if ((v->ext_profile & 0xFFF0) == 0x1000)
    return find_two_byte(p, v->ext_len, id, data, len);
  return -ENOENT;
}

int rtp_write_header(uint8_t *out, size_t cap, const struct rtp_header *h) {
  bool one_byte = true;
  size_t body = 0, block = 0, total, i, off;

  if (h == NULL || h->pt > 127 || (h->n_ext > 0 && h->ext == NULL))
    return -EINVAL;
  for (i = 0; i < h->n_ext; i++) {
    const struct rtp_ext *e = &h->ext[i];
    if (e->id == 0 || (e->len > 0 && e->data == NULL))
      return -EINVAL;
    if (e->id > 14 || e->len < 1 || e->len > 16)
      one_byte = false;
    /* 64k words is the most a block can hold; stop summing well before any
     * overflow could happen. */
    body += 2u + e->len;
    if (body > 4u * 0xFFFF)
      return -EINVAL;
  }
  if (h->n_ext > 0) {
    if (one_byte)
      body -= h->n_ext;
    block = (body + 3) & ~(size_t)3;
    if (block / 4 > 0xFFFF)
      return -EINVAL;
    block += 4;
  }
  total = RTP_HEADER_MIN + block;
  if (out == NULL || cap < total)
    return -ENOSPC;

  out[0] = (uint8_t)(0x80 | (h->n_ext > 0 ? 0x10 : 0));
  out[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->pt);
  bytes_put16(out + 2, h->seq);
  bytes_put32(out + 4, h->ts);
  bytes_put32(out + 8, h->ssrc);
  if (h->n_ext == 0)
    return (int)total;

  bytes_put16(out + 12, one_byte ? 0xBEDE : 0x1000);
  bytes_put16(out + 14, (uint16_t)((block - 4) / 4));
  off = 16;
  for (i = 0; i < h->n_ext; i++) {
    const struct rtp_ext *e = &h->ext[i];
    if (one_byte) {
      out[off++] = (uint8_t)((e->id << 4) | (e->len - 1));
    } else {
      out[off++] = e->id;
      out[off++] = e->len;
    }
    if (e->len > 0)
      memcpy(out + off, e->data, e->len);
    off += e->len;
  }
  memset(out + off, 0, total - off);
  return (int)total;
}

bool rtp_is_rtcp(const uint8_t *buf, size_t len) {
  return buf != NULL && len >= 2 && buf[1] >= 192 && buf[1] <= 223;
}
