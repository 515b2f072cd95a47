/* session.c -- creating and closing a browser's media session from its SDP offer. */
#include "media/session.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/sdp.h"
#include "media/session_int.h"
#include "media/worker.h"

static uint32_t rand32(void) {
  uint32_t v = 0;
  while (v == 0)
    if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
      v = (uint32_t)random();
  return v;
}

int session_new(struct worker *w, const struct sdp_offer *o, void *user, char *answer,
                size_t cap, struct session **out) {
  if (o->audio < 0 || o->video < 0)
    return -EINVAL;
  struct session *s = calloc(1, sizeof(*s));
  if (!s)
    return -ENOMEM;
  s->w = w;
  s->user = user;
  s->created_ms = worker__now(w);
  if (ice_gen_credentials(s->ufrag, s->pwd)) {
    free(s);
    return -EIO;
  }
  snprintf(s->remote_ufrag, sizeof(s->remote_ufrag), "%s", o->ice_ufrag);
  s->peer_fp_len = o->fp_len > sizeof(s->peer_fp) ? sizeof(s->peer_fp) : o->fp_len;
  memcpy(s->peer_fp, o->fp, s->peer_fp_len);

  const struct sdp_media *ma = &o->media[o->audio], *mv = &o->media[o->video];
  s->ext_mid = ma->ext_mid;
  snprintf(s->mid[SESSION_AUDIO], sizeof(s->mid[0]), "%s", ma->mid);
  snprintf(s->mid[SESSION_VIDEO], sizeof(s->mid[0]), "%s", mv->mid);
  s->in[SESSION_AUDIO].pt = ma->pt;
  s->in[SESSION_AUDIO].ssrc = ma->main_ssrc;
  s->in[SESSION_VIDEO].pt = mv->pt;
  s->in[SESSION_VIDEO].ssrc = mv->main_ssrc;

  static const uint32_t clock[2] = {48000, 90000};
  for (int k = 0; k < 2; k++) {
    struct out_track *t = &s->out[k];
    t->pt = k == SESSION_AUDIO ? ma->pt : mv->pt;
    t->ssrc = rand32();
    uint32_t r = rand32();
    seqmap_init(&t->seq, clock[k], (uint16_t)(r & 0x7fff), rand32());
    if (k == SESSION_VIDEO)
      vp8map_init(&t->vp8, (uint16_t)(rand32() & 0x3fff));
  }
  if (s->out[0].ssrc == s->out[1].ssrc)
    s->out[1].ssrc ^= 0x5a5a5a5a;

  char fp[200];
  snprintf(fp, sizeof(fp), "%s", dtls_cert_fingerprint(worker__cert(w)));
  char cname[24], msid[24];
  snprintf(cname, sizeof(cname), "tandem");
  snprintf(msid, sizeof(msid), "tandem-%08x", rand32());
  struct sdp_answer_params p = {
      .ice_ufrag = s->ufrag,
      .ice_pwd = s->pwd,
      .fingerprint = fp,
      .ip = worker__public_ip(w),
      .udp_port = worker_port(w),
      .tcp_port = 0,
      .audio_ssrc = s->out[SESSION_AUDIO].ssrc,
      .video_ssrc = s->out[SESSION_VIDEO].ssrc,
      .cname = cname,
      .stream_id = msid,
      .session_id = ((uint64_t)rand32() << 20) ^ rand32(),
  };
  int n = sdp_write_answer(o, &p, answer, cap);
  if (n < 0) {
    free(s);
    return n;
  }
  int rc = worker__register(w, s);
  if (rc) {
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void session_close(struct session *s) {
  if (!s || s->closing)
    return;
  router_unlink(s);
  s->closing = true;
  if (s->dtls)
    dtls_close(s->dtls);
  worker__forget(s->w, s);
  /* The worker frees it on its next tick, so callers up the stack may still look at it. */
}

void session__free(struct session *s) {
  dtls_free(s->dtls);
  srtpctx_free(s->srtp);
  free(s);
}

void *session_user(const struct session *s) { return s->user; }
uint64_t session_id(const struct session *s) { return s->id; }
bool session_ready(const struct session *s) { return s->ready && s->flowing; }

const char *session_srtp_profile(const struct session *s) {
  return s->dtls_done ? dtls_profile_name(s->profile) : "";
}
