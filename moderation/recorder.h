/* recorder.h -- the last seconds of one session's RTP, kept for an evidence clip. */
#ifndef TANDEM_RECORDER_H
#define TANDEM_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pure: no I/O, no clock (the caller hands in now_ms), no locking. A recorder belongs to one
 * thread: the media worker that receives its session's packets (after SRTP, as the router sees
 * them). It holds packets in chunks of RECORDER_CHUNK bytes taken as they fill, so memory
 * follows the session's bitrate: about window_ms of it, rounded up to a chunk, plus one spare
 * chunk, never more than max_bytes. Recording a packet is a copy; a chunk is allocated at most
 * once per RECORDER_CHUNK bytes recorded (a chunk that ages out is reused first).
 *
 * What it costs per peer (bench/snapshot_bench.c prints it): about (video + audio kbit/s) x
 * window / 8, plus 12 bytes per packet and up to two chunks: 0.75 MiB at 530 kbit/s for 10 s;
 * the 1.5 MiB bound is reached at about 1.2 Mbit/s. Nothing for a session without one. */

#define RECORDER_CHUNK (64 * 1024)
#define RECORDER_MAX_PACKET 2048 /* longer packets are not recorded (-EMSGSIZE) */

struct recorder_config {
  uint32_t window_ms; /* keep at least this much; 10000 */
  size_t max_bytes;   /* never hold more (oldest chunks go first); 1.5 MiB. At least 2 chunks */
};
void recorder_config_default(struct recorder_config *c);

/* Flags the caller may set on a packet. The recorder stores them and uses RECORDER_KEYFRAME
 * for recorder_keyframe_age_ms(); the clip ignores them (it parses the packets itself). */
enum {
  RECORDER_VIDEO = 1,
  RECORDER_KEYFRAME = 2, /* the first packet of a VP8 keyframe (vp8_desc.keyframe) */
};

struct recorder;

/* Returns NULL when memory runs out or the config is invalid. Allocates no chunk yet. */
struct recorder *recorder_new(const struct recorder_config *c);
void recorder_free(struct recorder *r); /* NULL ok */

/* Copies one plaintext RTP packet (rtp[0..len)) that arrived at now_ms. Returns 0, -EMSGSIZE
 * for len 0 or above RECORDER_MAX_PACKET, -ENOMEM when a chunk was needed and none could be
 * allocated or reused (the packet is not recorded). Safe from any callback on the owner
 * thread; now_ms should not go backwards (if it does, ageing just waits). */
int recorder_add(struct recorder *r, const uint8_t *rtp, size_t len, uint64_t now_ms,
                 unsigned flags);

/* Bytes of memory the recorder holds now (chunks, spare included, and the struct). */
size_t recorder_bytes(const struct recorder *r);

/* How long ago (ms, relative to now_ms) a packet flagged RECORDER_KEYFRAME was recorded;
 * UINT64_MAX when none ever was. Browsers send keyframes only when asked (PLI), so a clip
 * needs the worker to ask now and then: e.g. when this exceeds the window minus a few
 * seconds, send one PLI. */
uint64_t recorder_keyframe_age_ms(const struct recorder *r, uint64_t now_ms);

/* Calls fn(arg, rtp, len) with every video packet held from the newest keyframe's first packet
 * on, oldest first, until fn returns non-zero (a snapshot's keyframe, reassembled without
 * asking the browser). Returns what fn returned last (0 when it never stopped the walk), or
 * -ENOENT when the newest keyframe's first packet is no longer held. */
int recorder_walk_keyframe(const struct recorder *r,
                           int (*fn)(void *arg, const uint8_t *rtp, size_t len), void *arg);

/* Copies every record held into one malloc'd buffer (*out, the caller frees it) in the record
 * format below, oldest first. *out is NULL and *len 0 when nothing is held. Returns 0 or
 * -ENOMEM. A memcpy of at most max_bytes: 0.01-0.06 ms on the worker thread (bench). */
int recorder_export(const struct recorder *r, uint8_t **out, size_t *len);

/* The record format, in process memory only (native byte order, not a file format): records
 * back to back, each a header { uint64_t arrival_ms; uint16_t len; uint8_t flags; uint8_t 0 }
 * (12 bytes), then len bytes of RTP, then zero padding to a multiple of 4. */
#define RECORDER_REC_HDR 12
struct recorder_rec {
  uint64_t arrival_ms;
  unsigned flags;
  const uint8_t *rtp; /* borrowed from the buffer read */
  size_t len;
};

/* Reads the record at *off in buf[0..len) and moves *off past it. Returns 1 and *rec, 0 at the
 * end, -EBADMSG when a record runs past len. Pure; for the clip builder and tests. */
int recorder_rec_next(const uint8_t *buf, size_t len, size_t *off, struct recorder_rec *rec);

#endif
