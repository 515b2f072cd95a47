/* clip.h -- a peer's last seconds of RTP (VP8 + Opus) as a WebM file that plays. */
#ifndef TANDEM_CLIP_H
#define TANDEM_CLIP_H

#include <stddef.h>
#include <stdint.h>

struct workpool;

/* One plaintext RTP packet as the router sees it after SRTP, and when it arrived. */
struct clip_pkt {
  const uint8_t *rtp; /* borrowed */
  size_t len;
  uint64_t arrival_ms;
};

struct clip_params {
  uint8_t video_pt;  /* VP8's payload type in the session (RFC 7741); 96 */
  uint8_t audio_pt;  /* Opus's (RFC 7587, 48 kHz); 111 */
  uint32_t clip_ms;  /* how far back from the newest packet; 10000 */
};
void clip_params_default(struct clip_params *p);

struct clip_stats {
  unsigned video_frames;   /* VP8 frames written, the first a keyframe */
  unsigned video_dropped;  /* frames in the window left out: a packet missing */
  unsigned audio_packets;  /* Opus packets written */
  uint32_t duration_ms;    /* from the first unit written to the end of the last */
  uint16_t width, height;  /* of the first keyframe; 0 without video */
};

/* Builds the clip from pkts[0..n) in arrival order (reordered, duplicated and lost packets
 * are expected; other payload types, padding-only packets and packets that do not parse are
 * skipped; of each payload type, only the SSRC of the newest packet is used).
 * - The window is the last clip_ms before the newest packet's arrival; the video starts on the
 *   keyframe nearest the window's start (before or after it).
 * - Video: VP8 frames are depacketized per RFC 7741; a frame with a missing packet is
 *   dropped (counted). The clip starts at the whole keyframe nearest the window's start.
 *   Without any keyframe the clip has no video.
 * - Audio: Opus packets as they are (48 kHz, written as 2 channels, as negotiated in WebRTC's
 *   opus/48000/2).
 * - Timestamps come from RTP timestamps (90 kHz, 48 kHz); each stream is placed on the arrival
 *   clock by its least-delayed packet, which aligns audio with video.
 * Pure apart from libavformat (into memory; no files, no logging: libavformat's log level is
 * left as the process set it). Safe on any thread. Returns 0 with *webm (malloc'd, the caller
 * frees it), *webm_len and, when st is not NULL, *st; -ENOENT when the window holds neither a
 * keyframe nor audio; -EINVAL for bad params; -ENOMEM; -EIO when libavformat fails. */
int clip_webm(const struct clip_pkt *pkts, size_t n, const struct clip_params *p,
              uint8_t **webm, size_t *webm_len, struct clip_stats *st);

/* The same from a recorder_export() buffer (moderation/recorder.h); -EBADMSG when the buffer
 * is not in the record format. */
int clip_webm_records(const uint8_t *recs, size_t len, const struct clip_params *p,
                      uint8_t **webm, size_t *webm_len, struct clip_stats *st);

/* Answers clip_submit() on the pool's loop: status 0 with webm (the callback owns it and
 * free()s it) and st, or a negative errno, NULL and st zeroed (clip_webm_records' errors, or
 * -ECANCELED when the pool closed first). st is valid during the call only. */
typedef void (*clip_done_fn)(void *arg, int status, uint8_t *webm, size_t webm_len,
                             const struct clip_stats *st);

/* Runs clip_webm_records(recs, len, p) on a pool thread. Call on the pool's loop thread; takes
 * ownership of recs (malloc'd: a recorder_export() buffer, e.g. a media worker's reply) in
 * every case. Returns 0 (cb will be called exactly once, later), -EAGAIN when the pool is full,
 * -ENOMEM, -EINVAL (NULL cb or p, or the pool is closing); on error recs is freed and cb never
 * called. */
int clip_submit(struct workpool *wp, uint8_t *recs, size_t len, const struct clip_params *p,
                clip_done_fn cb, void *arg);

#endif
