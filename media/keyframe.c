/* keyframe.c -- one VP8 keyframe from its RTP packets. */
#include "media/keyframe.h"

#include <errno.h>
#include <string.h>

#include "media/vp8.h"

void keyframe_asm_init(struct keyframe_asm *a, uint8_t *buf, size_t cap) {
  memset(a, 0, sizeof(*a));
  a->buf = buf;
  a->cap = cap;
}

int keyframe_asm_feed(struct keyframe_asm *a, uint16_t seq, uint32_t ts, bool marker,
                      const uint8_t *payload, size_t len) {
  struct vp8_desc d;
  if (vp8_parse(payload, len, &d) != 0)
    return -EBADMSG;
  if (d.keyframe) {
    a->active = true;
    a->ts = ts;
    a->len = 0;
    a->width = d.width;
    a->height = d.height;
  } else if (!a->active || ts != a->ts || seq != a->next_seq) {
    a->active = false;
    return 0;
  }
  size_t n = len - d.desc_len;
  if (n > a->cap - a->len) {
    a->active = false;
    return -EMSGSIZE;
  }
  memcpy(a->buf + a->len, payload + d.desc_len, n);
  a->len += n;
  a->next_seq = (uint16_t)(seq + 1);
  if (!marker)
    return 0;
  a->active = false;
  return 1;
}
