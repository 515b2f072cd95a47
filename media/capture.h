/* capture.h -- answering "the next keyframe of session S" on its worker. Private to media/. */
#ifndef TANDEM_CAPTURE_H
#define TANDEM_CAPTURE_H

#include <stdint.h>

struct worker;
struct session;
struct rtp_view;

/* A MEDIAPLANE_REQ_KEYFRAME request: answers at once with the keyframe the session's recorder
 * holds when it is at most max_age_ms old (0: never), else asks the browser for a keyframe
 * (PLI) and answers with the first whole one (WEV_REPLY, status 0, the VP8 frame as an owned
 * payload), or -ENOENT (no such session, or it closed), -ETIMEDOUT, -EBUSY (too many waiting),
 * -ENOMEM. */
void capture__request(struct worker *w, uint64_t req, uint64_t sid, uint32_t timeout_ms,
                      uint32_t max_age_ms);
/* Every video packet of a session with s->captures > 0 (plaintext RTP, parsed as v). */
void capture__on_video(struct session *s, const uint8_t *buf, const struct rtp_view *v);
void capture__tick(struct worker *w, uint64_t now);  /* timeouts and closed sessions */
void capture__discard(struct worker *w);             /* shutdown: frees every wait */

#endif
