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
  for (int k = 0; k < 2; k++) {
    s->in[k].pt = p->in_pt[k];
    s->in[k].ssrc = p->in_ssrc[k];
    s->out_ssrc[k] = p->out_ssrc[k];
  }
  s->outb = router__outbound_new(s, p, worker__fd(w));
  if (!s->outb) {
    free(s);
    return NULL;
  }
  return s;
}

void session__free(struct session *s) {
  if (!s)
    return;
  dtls_free(s->dtls);
  srtpctx_free(s->srtp);
  router__outbound_free(s->outb);
  router__outbound_free(s->sink_out);
  free(s);
}

const char *session__profile(const struct session *s) {
  return s->dtls_done ? dtls_profile_name(s->profile) : "";
}
