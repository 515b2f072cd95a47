/* vp8.c -- VP8 RTP payload descriptor (RFC 7741) and picture ID continuity. */
#include "media/vp8.h"

#include <errno.h>
#include <string.h>

/* Descriptor bits (RFC 7741 4.2). */
#define VP8_X 0x80
#define VP8_N 0x20
#define VP8_S 0x10
#define VP8_PART 0x07
#define VP8_I 0x80
#define VP8_L 0x40
#define VP8_T 0x20
#define VP8_K 0x10
#define VP8_M 0x80

/* A keyframe's payload header: 3-byte frame tag, start code, then 14-bit
 * width and height each with a 2-bit scale (RFC 6386 9.1). */
#define VP8_KEYHDR 10

static void keyframe_size(const uint8_t *p, size_t n, struct vp8_desc *d) {
  if (n < VP8_KEYHDR || p[3] != 0x9d || p[4] != 0x01 || p[5] != 0x2a)
    return;
  d->width = (uint16_t)((p[6] | (p[7] << 8)) & 0x3fff);
  d->height = (uint16_t)((p[8] | (p[9] << 8)) & 0x3fff);
}

int vp8_parse(const uint8_t *payload, size_t len, struct vp8_desc *d) {
  size_t off = 1;
  uint8_t b;

  if (payload == NULL || d == NULL || len < 1)
    return -EBADMSG;
  memset(d, 0, sizeof(*d));
  b = payload[0];
  d->start = (b & VP8_S) != 0;
  d->non_ref = (b & VP8_N) != 0;
  d->part_id = b & VP8_PART;

  if (b & VP8_X) {
    uint8_t x;

    if (off >= len)
      return -EBADMSG;
    x = payload[off++];
    if (x & VP8_I) {
      if (off >= len)
        return -EBADMSG;
      d->has_pid = true;
      d->pid_off = off;
      if (payload[off] & VP8_M) {
        if (len - off < 2)
          return -EBADMSG;
        d->pid_16bit = true;
        d->pid = (uint16_t)(((payload[off] & 0x7f) << 8) | payload[off + 1]);
        off += 2;
      } else {
        d->pid = payload[off] & 0x7f;
        off++;
      }
    }
    if (x & VP8_L) {
      if (off >= len)
        return -EBADMSG;
      d->has_tl0 = true;
      d->tl0_off = off;
      d->tl0picidx = payload[off++];
    }
    if (x & (VP8_T | VP8_K)) {
      uint8_t tk;

      if (off >= len)
        return -EBADMSG;
      tk = payload[off++];
      if (x & VP8_T) {
        d->has_tid = true;
        d->tid = tk >> 6;
        d->layer_sync = (tk & 0x20) != 0;
      }
      if (x & VP8_K) {
        d->has_keyidx = true;
        d->keyidx = tk & 0x1f;
      }
    }
  }
  d->desc_len = off;
  if (off >= len)
    return -EBADMSG;

  if (d->start && d->part_id == 0) {
    const uint8_t *h = payload + off;
    size_t n = len - off;

    if (n < 3)
      return -EBADMSG;
    /* The P bit (inverse keyframe flag) is bit 0 of the frame tag. */
    d->keyframe = (h[0] & 0x01) == 0;
    if (d->keyframe)
      keyframe_size(h, n, d);
  }
  return 0;
}

void vp8_rewrite(uint8_t *payload, const struct vp8_desc *d, uint16_t pid,
                 uint8_t tl0picidx) {
  if (d->has_pid) {
    if (d->pid_16bit) {
      payload[d->pid_off] = (uint8_t)(VP8_M | ((pid >> 8) & 0x7f));
      payload[d->pid_off + 1] = (uint8_t)pid;
    } else {
      payload[d->pid_off] = (uint8_t)(pid & 0x7f);
    }
  }
  if (d->has_tl0)
    payload[d->tl0_off] = tl0picidx;
}

void vp8map_init(struct vp8map *m, uint16_t first_pid) {
  memset(m, 0, sizeof(*m));
  /* One below the first values, since an anchor continues from "last". */
  m->last_pid = (uint16_t)((first_pid - 1) & 0x7fff);
  m->last_tl0 = 0xff;
}

void vp8map_switch(struct vp8map *m) {
  m->pid_anchored = false;
  m->tl0_anchored = false;
}

void vp8map_map(struct vp8map *m, const struct vp8_desc *d, uint16_t *out_pid,
                uint8_t *out_tl0) {
  *out_pid = 0;
  *out_tl0 = 0;
  if (d->has_pid) {
    uint16_t mask = d->pid_16bit ? 0x7fff : 0x7f;
    uint16_t out, diff;

    if (!m->pid_anchored) {
      m->pid_off = (uint16_t)((m->last_pid + 1 - d->pid) & 0x7fff);
      m->pid_anchored = true;
    }
    out = (uint16_t)((d->pid + m->pid_off) & mask);
    /* Newer when ahead by less than half the picture ID space. */
    diff = (uint16_t)((out - m->last_pid) & mask);
    if (diff != 0 && diff <= mask / 2)
      m->last_pid = out;
    *out_pid = out;
  }
  if (d->has_tl0) {
    uint8_t out, diff;

    if (!m->tl0_anchored) {
      m->tl0_off = (uint8_t)(m->last_tl0 + 1 - d->tl0picidx);
      m->tl0_anchored = true;
    }
    out = (uint8_t)(d->tl0picidx + m->tl0_off);
    diff = (uint8_t)(out - m->last_tl0);
    if (diff != 0 && diff < 0x80)
      m->last_tl0 = out;
    *out_tl0 = out;
  }
}
