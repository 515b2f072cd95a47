/* media.h -- tandem-bench's media: VP8 and Opus encoded once, RTP payloads, identity trailers. */
#ifndef TANDEM_BENCH_MEDIA_H
#define TANDEM_BENCH_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every RTP payload the bench sends ends with this trailer: "TDM1" and the
 * sender's 8-byte id, big-endian. The server forwards payload bytes verbatim,
 * so each receiver learns who sent what it got. */
#define MEDIA_TRAILER_LEN 12
/* Largest RTP payload we send (VP8 descriptor and trailer included). */
#define MEDIA_MAX_PAYLOAD 1100
/* Our VP8 payload descriptor (RFC 7741): X, S, PID 0 / I / 15-bit picture id. */
#define MEDIA_VP8_DESC_LEN 4

#define MEDIA_VIDEO_FPS 30
#define MEDIA_VIDEO_W 320
#define MEDIA_VIDEO_H 240
#define MEDIA_AUDIO_FRAME_MS 20

struct media_frame {
  const uint8_t *data; /* borrowed from the media_set */
  size_t len;
  bool key;
};

/* The encoded loops, shared read-only by every peer. video[0] is the only
 * keyframe; video[1..n-2] follow it; video[n-1] is a delta frame showing
 * video[0]'s picture again, so the loop 0, 1, ..., n-1, 1, ..., n-1, 1, ...
 * stays a valid stream that never needs another keyframe unless asked
 * (PLI/FIR: send video[0] next and go on from there). audio[] is 1 s of a
 * 440 Hz tone in 20 ms Opus frames, played in a cycle. */
struct media_set {
  struct media_frame *video, *audio;
  size_t n_video, n_audio; /* 0 when disabled */
  uint8_t *buf;            /* holds every frame's bytes */
  double video_kbps_real;  /* what the encoded loop averages, kbit/s */
  size_t video_packets;    /* RTP packets per loop (for figures) */
};

/* Encodes the loops: VP8 320x240 at 30 fps, 2 s of a moving synthetic
 * pattern at about video_kbps (CBR), and Opus mono 48 kHz. Takes about
 * 0.1-0.5 s of CPU. Returns 0 and *out, -EINVAL (bad bitrate), -ENOMEM or
 * -EIO (an encoder failed). */
int media_set_new(int video_kbps, bool video, bool audio, struct media_set **out);
void media_set_free(struct media_set *m); /* NULL ok */

/* The index of the video frame after `i` in the loop described above. */
size_t media_video_next(const struct media_set *m, size_t i);

/* How many RTP packets a VP8 frame of `len` bytes is split into. */
size_t media_vp8_packets(size_t len);

/* Writes the RTP payload of packet k (0-based) of frame f: the VP8 payload
 * descriptor with the 15-bit picture id pid, the k-th of
 * media_vp8_packets(f->len) near-equal chunks of the frame, and the trailer
 * for `sender`. Returns the length, -EINVAL for k out of range, or -ENOSPC. */
int media_vp8_payload(uint8_t *out, size_t cap, const struct media_frame *f, size_t k,
                      uint16_t pid, uint64_t sender);

/* The Opus frame followed by the trailer. Returns the length or -ENOSPC. */
int media_opus_payload(uint8_t *out, size_t cap, const struct media_frame *f, uint64_t sender);

/* Reads the trailer at the end of a received payload: 0 and *sender, or
 * -EBADMSG when the payload does not end with one. */
int media_trailer_read(const uint8_t *payload, size_t len, uint64_t *sender);

#endif
