/* handover_int.h -- the outbound (what one browser receives) and who holds it, as it moves
 * between workers (handover.c). Private to media/. */
#ifndef TANDEM_HANDOVER_INT_H
#define TANDEM_HANDOVER_INT_H

#include "media/seqmap.h"
#include "media/session_int.h"
#include "media/vp8.h"

/* What a session receives: one outbound stream per kind with a stable SSRC. */
struct out_track {
  int pt;
  uint32_t ssrc;
  uint32_t src_ssrc;           /* the source SSRC the offsets are anchored on, 0 none */
  struct seqmap seq;
  struct vp8map vp8;           /* video only */
  bool need_keyframe;          /* video: hold back until the source's keyframe */
  uint64_t last_pli_ms;
  unsigned plis;
  uint64_t packets, bytes;
};

/* What one browser receives: its outbound streams and everything needed to send them. It is
 * owned by exactly one worker at a time (handover.c says which and how it moves). */
struct outbound {
  uint64_t sid;                /* the receiving session */
  struct tx_path path;         /* a copy of its session's path */
  uint8_t ext_mid;
  char mid[2][33];
  struct out_track out[2];
  struct srtpctx *srtp;        /* protects RTP only (RTCP to the browser is protected at home) */
};

struct outbound *handover__outbound_new(struct session *s, const struct session_params *p);
void handover__outbound_free(struct outbound *o);      /* NULL ok */
/* LINK / UNLINK / close of s, on its worker, in command order. */
void handover__link(struct session *s, struct sref partner, uint64_t seq, uint64_t partner_seq);
void handover__unlink(struct session *s);
/* After each command: outbounds parked for a LINK that has now been carried out. */
void handover__resolve_parked(struct worker *w);
/* XM_HANDOVER, XM_HANDBACK, XM_ADDR. */
void handover__on_xmsg(struct worker *w, const struct xmsg *m);
void handover__path_changed(struct session *s);        /* s->path changed */
void handover__srtp_ready(struct session *s);          /* the outbound gets its RTP context */
/* Shutdown: frees what is parked, and what a ring record or outbox entry owns. */
void handover__discard_parked(struct worker *w);
void handover__xmsg_discard(const struct xmsg *m);

#endif
