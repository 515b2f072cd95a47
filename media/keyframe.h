/* keyframe.h -- reassembles one VP8 keyframe from RTP packets (RFC 7741), for snapshots. */
#ifndef TANDEM_MEDIA_KEYFRAME_H
#define TANDEM_MEDIA_KEYFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pure: no allocation, no clock, no logging. The caller owns buf (cap bytes). A frame starts at
 * a keyframe's first packet (S=1, PID=0, P=0), goes on with consecutive sequence numbers of the
 * same timestamp and ends at the marker bit; a gap or another timestamp drops the partial frame
 * and the next keyframe starts over. */
struct keyframe_asm {
  uint8_t *buf;
  size_t cap, len;
  bool active;
  uint32_t ts;
  uint16_t next_seq;
  uint16_t width, height;      /* from the keyframe header */
};

void keyframe_asm_init(struct keyframe_asm *a, uint8_t *buf, size_t cap);
/* Feeds the RTP payload of one VP8 packet. Returns 1 when buf holds a whole keyframe (len
 * bytes, a VP8 frame libvpx decodes), 0 while more is needed, -EBADMSG for a payload that is not
 * VP8, -EMSGSIZE when the frame outgrew cap (dropped; the next keyframe starts over). */
int keyframe_asm_feed(struct keyframe_asm *a, uint16_t seq, uint32_t ts, bool marker,
                      const uint8_t *payload, size_t len);

#endif
