/* capture.c -- keyframe requests waiting on a worker for their session's next keyframe. */
#include "media/capture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/keyframe.h"
#include "moderation/recorder.h"
#include "media/router_int.h"
#include "media/rtp.h"

#define CAPTURE_MAX_BYTES (512 * 1024) /* a 1080p VP8 keyframe is well under this */
#define CAPTURE_MAX_WAITING 64         /* per worker */

struct kf_wait {
  struct kf_wait *next;
  uint64_t req, sid, deadline;
  struct keyframe_asm a;
};

static size_t n_waiting(const struct worker *w) {
  size_t n = 0;
  for (const struct kf_wait *k = w->kf_waits; k; k = k->next)
    n++;
  return n;
}

/* recorder_walk_keyframe's callback: one recorded video packet into the reassembly. */
static int feed_recorded(void *arg, const uint8_t *rtp, size_t len) {
  struct rtp_view v;
  if (rtp_parse(rtp, len, &v) != 0)
    return 0;
  int rc = keyframe_asm_feed(arg, v.seq, v.ts, v.marker, rtp + v.payload_off, v.payload_len);
  return rc == 1 ? 1 : 0;
}

/* The recorder's newest keyframe when it is recent enough, reassembled into a (cap bytes, the
 * caller's); 1 with a whole frame, 0 when it cannot be had (none, too old, a packet missing). */
static int recorded_keyframe(struct session *s, uint64_t now, uint32_t max_age_ms,
                             struct keyframe_asm *a) {
  if (!s->rec || !max_age_ms || recorder_keyframe_age_ms(s->rec, now) > max_age_ms)
    return 0;
  return recorder_walk_keyframe(s->rec, feed_recorded, a) == 1;
}

/* Replies with a copy of the frame's own size: the buffer it was put together in is the
 * largest a keyframe may be, and the reply is freed on the control loop. Handing that over
 * cost a mapping of half a MiB per snapshot, or, once glibc kept such blocks in the worker's
 * heap, a trim of the worker's arena every few snapshots and the page faults after it. */
static void reply_frame(struct worker *w, uint64_t req, const struct keyframe_asm *a) {
  uint8_t *out = malloc(a->len ? a->len : 1);
  if (!out) {
    worker__event(w, WEV_REPLY, req, -ENOMEM, NULL, 0);
    return;
  }
  memcpy(out, a->buf, a->len);
  worker__event(w, WEV_REPLY, req, 0, out, a->len);
}

void capture__request(struct worker *w, uint64_t req, uint64_t sid, uint32_t timeout_ms,
                      uint32_t max_age_ms) {
  struct session *s = worker__session(w, sid);
  if (!s) {
    worker__event(w, WEV_REPLY, req, -ENOENT, NULL, 0);
    return;
  }
  uint64_t now = worker__now(w);
  if (!w->kf_scratch)
    w->kf_scratch = malloc(CAPTURE_MAX_BYTES);
  struct keyframe_asm rec;
  if (w->kf_scratch) {
    keyframe_asm_init(&rec, w->kf_scratch, CAPTURE_MAX_BYTES);
    if (recorded_keyframe(s, now, max_age_ms, &rec)) {
      /* No PLI, no wait: the browser sent this one for the recording a moment ago. */
      w->st.keyframes_recorded++;
      reply_frame(w, req, &rec);
      return;
    }
  }
  if (n_waiting(w) >= CAPTURE_MAX_WAITING) {
    worker__event(w, WEV_REPLY, req, -EBUSY, NULL, 0);
    return;
  }
  struct kf_wait *k = calloc(1, sizeof(*k));
  uint8_t *buf = malloc(CAPTURE_MAX_BYTES);
  if (!k || !buf) {
    free(k);
    free(buf);
    worker__event(w, WEV_REPLY, req, -ENOMEM, NULL, 0);
    return;
  }
  keyframe_asm_init(&k->a, buf, CAPTURE_MAX_BYTES);
  k->req = req;
  k->sid = sid;
  k->deadline = now + (timeout_ms ? timeout_ms : 2000);
  k->next = w->kf_waits;
  w->kf_waits = k;
  s->captures++;
  router__keyframe(s, now, false);
}

/* Unhooks k, answers it, frees it. */
static void answer(struct worker *w, struct kf_wait **pp, int status) {
  struct kf_wait *k = *pp;
  *pp = k->next;
  struct session *s = worker__session(w, k->sid);
  if (s && s->captures)
    s->captures--;
  if (status == 0)
    reply_frame(w, k->req, &k->a);
  else
    worker__event(w, WEV_REPLY, k->req, status, NULL, 0);
  free(k->a.buf);
  free(k);
}

void capture__on_video(struct session *s, const uint8_t *buf, const struct rtp_view *v) {
  struct worker *w = s->w;
  struct kf_wait **pp = &w->kf_waits;
  while (*pp) {
    struct kf_wait *k = *pp;
    if (k->sid == s->id &&
        keyframe_asm_feed(&k->a, v->seq, v->ts, v->marker, buf + v->payload_off,
                          v->payload_len) == 1) {
      answer(w, pp, 0);
      continue;
    }
    pp = &k->next;
  }
}

#define CAPTURE_REASK_MS 400 /* a PLI lost, or swallowed by the router's minimum gap: again */

void capture__tick(struct worker *w, uint64_t now) {
  struct kf_wait **pp = &w->kf_waits;
  while (*pp) {
    struct kf_wait *k = *pp;
    struct session *s = worker__session(w, k->sid);
    if (!s) {
      answer(w, pp, -ENOENT);
    } else if (now >= k->deadline) {
      answer(w, pp, -ETIMEDOUT);
    } else {
      /* Browsers send keyframes only when asked: a request that came just after another
       * one's keyframe (its PLI fell in the router's gap) or whose PLI was lost asks again. */
      if (now - s->last_kf_req_ms >= CAPTURE_REASK_MS)
        router__keyframe(s, now, false);
      pp = &k->next;
    }
  }
}

void capture__discard(struct worker *w) {
  while (w->kf_waits) {
    struct kf_wait *k = w->kf_waits;
    w->kf_waits = k->next;
    free(k->a.buf);
    free(k);
  }
  free(w->kf_scratch);
  w->kf_scratch = NULL;
}
