/* session.c -- a browser's media session on its home worker: creation from control-side
 * parameters, timeouts, readiness, sending to the browser, and closing. */
#include <stdlib.h>
#include <string.h>

#include "media/hmap.h"
#include "media/record.h"
#include "media/router_int.h"
#include "media/relaywire.h"
#include "moderation/recorder.h"

/* A paired browser sends audio every 20 ms and video every 33 ms: 300 ms without any after its
 * alert means it really closed. */
#define CLOSE_HINT_MS 300

int session__list_add(struct worker *w, struct session *s) {
  if (w->n_list == w->cap_list) {
    size_t ncap = w->cap_list ? w->cap_list * 2 : 64;
    struct session **nl = realloc(w->list, ncap * sizeof(*nl));
    if (!nl)
      return -1;
    w->list = nl;
    w->cap_list = ncap;
  }
  w->list[w->n_list++] = s;
  return 0;
}

struct session *session__create(struct worker *w, const struct session_params *p) {
  struct session *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->w = w;
  s->id = p->sid;
  s->created_ms = worker__now(w);
  memcpy(s->ufrag, p->ufrag, sizeof(s->ufrag));
  memcpy(s->pwd, p->pwd, sizeof(s->pwd));
  memcpy(s->remote_ufrag, p->remote_ufrag, sizeof(s->remote_ufrag));
  memcpy(s->peer_fp, p->peer_fp, sizeof(s->peer_fp));
  s->peer_fp_len = p->peer_fp_len;
  s->path = (struct tx_path){.kind = TX_NONE, .home = w->index, .sid = p->sid};
  for (int k = 0; k < 2; k++) {
    s->in[k].pt = p->in_pt[k];
    s->in[k].ssrc = p->in_ssrc[k];
    s->out_ssrc[k] = p->out_ssrc[k];
  }
  s->outb = handover__outbound_new(s, p);
  if (!s->outb || hmap_put(w->by_ufrag, s->ufrag, strlen(s->ufrag), s)) {
    session__free(s);
    return NULL;
  }
  if (hmap_put(w->by_sid, &s->id, sizeof(s->id), s) || session__list_add(w, s)) {
    hmap_del(w->by_ufrag, s->ufrag, strlen(s->ufrag));
    hmap_del(w->by_sid, &s->id, sizeof(s->id));
    session__free(s);
    return NULL;
  }
  w->st.sessions++;
  return s;
}

void session__free(struct session *s) {
  if (!s)
    return;
  if (s->stream_ops)
    s->stream_ops->close(s->stream);
  dtls_free(s->dtls);
  srtpctx_free(s->srtp);
  handover__outbound_free(s->outb);
  handover__outbound_free(s->sink_out);
  recorder_free(s->rec);
  relaywire_free(s->relay);
  free(s->rtx);
  memset(&s->keys, 0, sizeof(s->keys));
  free(s);
}

void session__close(struct session *s) {
  if (s->closing)
    return;
  struct worker *w = s->w;
  /* close_notify first: nothing is sent for a session once it is closing. */
  if (s->dtls && s->dtls_done)
    dtls_close(s->dtls);
  handover__unlink(s);
  s->closing = true;
  if (s->relay)
    relay__forget(s);
  else
    hmap_del(w->by_ufrag, s->ufrag, strlen(s->ufrag));
  hmap_del(w->by_sid, &s->id, sizeof(s->id));
  session__rx_forget(s);
}

void session__fail(struct session *s, const char *why) {
  if (s->closing)
    return;
  char *text = strdup(why);
  worker__event(s->w, WEV_FAILED, s->id, 0, text, text ? strlen(text) + 1 : 0);
  session__close(s);
}

void session__reap(struct worker *w) {
  size_t j = 0;
  for (size_t i = 0; i < w->n_list; i++) {
    struct session *s = w->list[i];
    if (s->closing)
      session__free(s);
    else
      w->list[j++] = s;
  }
  w->n_list = j;
}

void session__send(struct session *s, const uint8_t *buf, size_t len) {
  size_t cap;
  if (s->closing || len > 1500)
    return;
  uint8_t *slot = transport__slot(s->w, &s->path, &cap);
  if (!slot || len > cap)
    return;
  memcpy(slot, buf, len);
  transport__commit(s->w, &s->path, len);
}

void session__send_rtcp(struct session *s, uint8_t *buf, size_t len) {
  if (s->relay) /* sealed on its way (relay__commit) */
    session__send(s, buf, len);
  else if (s->srtp && srtpctx_protect_rtcp(s->srtp, buf, &len, len + SRTPCTX_TRAILER) == 0)
    session__send(s, buf, len);
}

void session__check_ready(struct session *s, uint64_t now) {
  struct worker *w = s->w;
  /* READY needs video (nobody is matched with a black screen); after that any media keeps a
   * session flowing, so a browser with its camera off (sending no video) keeps its pair. */
  uint64_t last = s->in[KIND_VIDEO].last_ms;
  if (s->ready && s->in[KIND_AUDIO].last_ms > last)
    last = s->in[KIND_AUDIO].last_ms;
  bool flowing = s->dtls_done && s->in[KIND_VIDEO].packets > 0 && now - last < w->cfg.silence_ms;
  if (!s->ready && flowing) {
    s->ready = s->flowing = true;
    record__start(s, now);
    worker__event(w, WEV_READY, s->id, (int)s->profile, NULL, 0);
  } else if (s->ready && flowing != s->flowing) {
    s->flowing = flowing;
    worker__event(w, WEV_MEDIA, s->id, flowing, NULL, 0);
  }
}

/* After the DTLS object is gone, an alert from the browser's address armed close_hint_ms. The
 * browser's close_notify is followed by silence; a forged alert is not (media keeps coming and
 * clears the hint). Returns true when the session ended. */
static bool check_closed(struct session *s, uint64_t now) {
  if (s->last_media_ms > s->close_hint_ms) {
    s->close_hint_ms = 0; /* media after the alert: not closed */
    return false;
  }
  if (now - s->close_hint_ms < CLOSE_HINT_MS)
    return false;
  session__fail(s, "the browser closed the connection");
  return true;
}

void session__tick(struct session *s, uint64_t now) {
  struct worker *w = s->w;
  if (s->relay) {
    /* No handshake, consent or readiness: the remote node watches its browser; the control
     * plane closes the relay. As a source it still repeats keyframe requests. */
    router__tick(s, now);
    return;
  }
  if (s->dtls && !s->dtls_done) {
    int ms = dtls_timeout_ms(s->dtls, now);
    if (ms == 0 && dtls_handle_timeout(s->dtls) < 0) {
      w->st.dtls_failed++;
      session__fail(s, "DTLS handshake timed out");
      return;
    }
  }
  if (!s->dtls_done && now - s->created_ms > w->cfg.connect_timeout_ms) {
    session__fail(s, "media connection timed out (ICE/DTLS did not complete)");
    return;
  }
  if (s->dtls_done && s->last_stun_ms && now - s->last_stun_ms > w->cfg.consent_timeout_ms) {
    session__fail(s, "the browser stopped answering (ICE consent expired)");
    return;
  }
  if (s->close_hint_ms && check_closed(s, now))
    return;
  if (s->ready)
    session__check_ready(s, now);
  router__tick(s, now);
  record__tick(s, now);
}
