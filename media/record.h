/* record.h -- evidence recording on a session's home worker: every RTP packet its browser sends,
 * kept in a moderation/recorder.h ring, and MEDIAPLANE_REQ_CLIP answered from it. Private to
 * media/. */
#ifndef TANDEM_RECORD_H
#define TANDEM_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker;
struct session;

/* A clip starts on a keyframe, and browsers send one only when asked: a recording session's
 * browser is asked (PLI) whenever its newest keyframe is RECORD_KEY_EVERY_MS old, at most
 * every RECORD_PLI_GAP_MS. The recorder holds record_ms plus half that interval, so a clip of
 * record_ms can start on the keyframe nearest its start: record_ms within +-2 s. */
#define RECORD_PLI_GAP_MS 3000
#define RECORD_KEY_EVERY_MS 4000
#define RECORD_FIRST_KEY_MS 1000 /* READY this long without a keyframe recorded: ask */

/* At READY, when the worker records (cfg.record_ms > 0): gives s its recorder. Out of memory
 * leaves s unrecorded (nothing else changes). */
void record__start(struct session *s, uint64_t now);
/* One plaintext RTP packet from s's browser, as the router sees it; video and keyframe say
 * what it is (keyframe: the first packet of a VP8 keyframe). A copy, no allocation but one
 * chunk per RECORDER_CHUNK bytes. Only for a session with a recorder (s->rec). */
void record__rtp(struct session *s, const uint8_t *buf, size_t len, bool video, bool keyframe,
                 uint64_t now);
/* From the 20 ms tick: one PLI when the newest keyframe recorded is getting too old for a clip
 * (older than RECORD_KEY_EVERY_MS, or none RECORD_FIRST_KEY_MS after READY), at
 * most every RECORD_PLI_GAP_MS, and only while the browser sends video. */
void record__tick(struct session *s, uint64_t now);
/* A MEDIAPLANE_REQ_CLIP request, answered at once (WEV_REPLY): status 0 with
 * recorder_export()'s buffer as the owned payload, -ENOENT (no such live session), -ENODATA
 * (recording off, or nothing recorded yet), -ENOMEM. Never waits. */
void record__request(struct worker *w, uint64_t req, uint64_t sid);
/* Bytes s's recorder holds (0 without one), for the tandem_recorder_bytes gauge. */
size_t record__bytes(const struct session *s);

#endif
