/* session.c -- a browser's media session on its worker, built from control-side parameters. */
#include <stdlib.h>
#include <string.h>

#include "media/session_int.h"

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
  s->ext_mid = p->ext_mid;
  memcpy(s->mid, p->mid, sizeof(s->mid));
  static const uint32_t clock[2] = {48000, 90000};
  for (int k = 0; k < 2; k++) {
    s->in[k].pt = p->in_pt[k];
    s->in[k].ssrc = p->in_ssrc[k];
    s->out[k].pt = p->out_pt[k];
    s->out[k].ssrc = p->out_ssrc[k];
    seqmap_init(&s->out[k].seq, clock[k], p->out_seq[k], p->out_ts[k]);
  }
  vp8map_init(&s->out[KIND_VIDEO].vp8, p->out_pid);
  return s;
}

void session__free(struct session *s) {
  if (!s)
    return;
  dtls_free(s->dtls);
  srtpctx_free(s->srtp);
  free(s);
}

const char *session__profile(const struct session *s) {
  return s->dtls_done ? dtls_profile_name(s->profile) : "";
}
