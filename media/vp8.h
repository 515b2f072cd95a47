/* vp8.h -- VP8 RTP payload descriptor (RFC 7741) and picture ID continuity. */
#ifndef TANDEM_MEDIA_VP8_H
#define TANDEM_MEDIA_VP8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pure: no allocation, no logging, no clock. */

/* A parsed payload descriptor plus what the VP8 payload header says. Offsets
 * are relative to the RTP payload that was parsed; *_off is 0 for an absent
 * field. */
struct vp8_desc {
  bool start;          /* S: first packet of a partition */
  uint8_t part_id;     /* PID: partition index, 0..7 */
  bool non_ref;        /* N */
  bool has_pid, pid_16bit;
  uint16_t pid;        /* 7- or 15-bit picture ID */
  bool has_tl0;
  uint8_t tl0picidx;
  bool has_tid;
  uint8_t tid;
  bool layer_sync;     /* Y, meaningful when has_tid */
  bool has_keyidx;
  uint8_t keyidx;
  size_t desc_len;     /* bytes of descriptor before the VP8 payload */
  size_t pid_off, tl0_off;
  bool keyframe;       /* start && part_id == 0 && P bit of the VP8 payload
                          header is 0 */
  uint16_t width, height; /* from a keyframe's header (14-bit fields; 0 when
                             the packet does not hold a valid one), else 0 */
};

/* Parses the descriptor at the start of an RTP payload. Returns 0, or
 * -EBADMSG when the descriptor runs past len, no VP8 payload byte follows it,
 * or the first packet of partition 0 holds fewer than the 3 bytes of the VP8
 * frame tag. */
int vp8_parse(const uint8_t *payload, size_t len, struct vp8_desc *d);

/* Rewrites in place the picture ID and TL0PICIDX of a payload that vp8_parse()
 * described as *d (same, unchanged buffer). Writes only the fields present,
 * keeping the packet's 7- or 15-bit picture ID width (pid is truncated to it);
 * the payload length never changes. */
void vp8_rewrite(uint8_t *payload, const struct vp8_desc *d, uint16_t pid,
                 uint8_t tl0picidx);

/* Picture ID / TL0PICIDX continuity across source switches for one outbound
 * stream, like struct seqmap. Transparent so it can be embedded; the fields
 * are private to vp8.c. */
struct vp8map {
  bool pid_anchored, tl0_anchored;
  uint16_t pid_off;    /* 15-bit */
  uint8_t tl0_off;
  uint16_t last_pid;   /* newest picture ID sent */
  uint8_t last_tl0;    /* newest TL0PICIDX sent */
};

/* first_pid is the outbound stream's (random) first picture ID; the first
 * TL0PICIDX sent is 0. */
void vp8map_init(struct vp8map *m, uint16_t first_pid);

/* The source changes: the next packets anchor new offsets. */
void vp8map_switch(struct vp8map *m);

/* Maps the picture ID and TL0PICIDX of one forwarded packet. The first packet
 * with a picture ID after init or a switch gets last_out_pid + 1, the first
 * with a TL0PICIDX gets last_out_tl0 + 1; later packets get in + offset,
 * wrapping at 15 bits for a 15-bit picture ID and at 7 bits for a 7-bit one.
 * "last" is the newest value sent (wrap-aware), so reordered packets do not
 * move it back. Fields the packet lacks are set to 0 and leave no trace. */
void vp8map_map(struct vp8map *m, const struct vp8_desc *d, uint16_t *out_pid,
                uint8_t *out_tl0);

#endif
