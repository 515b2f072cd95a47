/* record.c -- a session's last seconds of RTP, kept on its home worker for evidence clips. */
#include "media/record.h"

#include <errno.h>

#include "media/router_int.h"
#include "moderation/recorder.h"

void record__start(struct session *s, uint64_t now) {
  const struct mediaplane_config *c = &s->w->cfg;
  if (!c->record_ms || s->rec)
    return;
  struct recorder_config rc;
  recorder_config_default(&rc);
  rc.window_ms = c->record_ms + RECORD_KEY_EVERY_MS / 2 + 500;
  if (c->record_max_bytes)
    rc.max_bytes = c->record_max_bytes;
  s->rec = recorder_new(&rc);
  s->rec_since_ms = now;
  s->rec_next_pli_ms = 0;
}

void record__rtp(struct session *s, const uint8_t *buf, size_t len, bool video, bool keyframe,
                 uint64_t now) {
  unsigned flags = (video ? RECORDER_VIDEO : 0u) | (keyframe ? RECORDER_KEYFRAME : 0u);
  /* A packet that cannot be kept (too long, no memory for a chunk) is simply missing from the
   * clip, which drops the frame it belonged to. */
  (void)recorder_add(s->rec, buf, len, now, flags);
}

void record__tick(struct session *s, uint64_t now) {
  if (!s->rec || now < s->rec_next_pli_ms)
    return;
  /* A browser with its camera off sends no video: nothing to ask for. */
  if (!s->in[KIND_VIDEO].last_ms || now - s->in[KIND_VIDEO].last_ms > RECORD_FIRST_KEY_MS)
    return;
  uint64_t limit = RECORD_KEY_EVERY_MS;
  uint64_t age = recorder_keyframe_age_ms(s->rec, now);
  bool due = age == UINT64_MAX ? now - s->rec_since_ms > RECORD_FIRST_KEY_MS : age > limit;
  if (!due)
    return;
  s->rec_next_pli_ms = now + RECORD_PLI_GAP_MS;
  router__keyframe(s, now, false);
}

void record__request(struct worker *w, uint64_t req, uint64_t sid) {
  struct session *s = worker__session(w, sid);
  if (!s) {
    worker__event(w, WEV_REPLY, req, -ENOENT, NULL, 0);
    return;
  }
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = s->rec ? recorder_export(s->rec, &buf, &len) : 0;
  if (rc == 0 && len == 0)
    rc = -ENODATA;
  worker__event(w, WEV_REPLY, req, rc, rc ? NULL : buf, rc ? 0 : len);
}

size_t record__bytes(const struct session *s) { return s->rec ? recorder_bytes(s->rec) : 0; }
