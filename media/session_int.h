/* session_int.h -- private layout of sessions, shared by session.c, router.c and worker.c. */
#ifndef TANDEM_SESSION_INT_H
#define TANDEM_SESSION_INT_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "media/dtls.h"
#include "media/ice.h"
#include "media/seqmap.h"
#include "media/session.h"
#include "media/srtpctx.h"
#include "media/vp8.h"

#define SESSION_MAX_SINKS 4

/* What a session sends (its own camera/microphone), as negotiated in its offer. */
struct in_track {
  int pt;               /* the sender's payload type */
  uint32_t ssrc;        /* learned from packets (or the offer) */
  uint64_t packets, bytes;
  uint64_t last_ms;     /* last packet */
};

/* What a session receives: one outbound stream per kind, with a stable SSRC. */
struct out_track {
  int pt;               /* the receiver's payload type */
  uint32_t ssrc;
  struct seqmap seq;
  struct vp8map vp8;    /* video only */
  bool need_keyframe;   /* video: hold back until the source's keyframe */
  uint64_t last_pli_ms;
  unsigned plis;        /* requests sent since the switch */
  uint8_t fir_seq;
  uint64_t packets, bytes;
};

struct session {
  struct worker *w;
  void *user;
  uint64_t id;
  bool closing;

  char ufrag[ICE_UFRAG_SIZE], pwd[ICE_PWD_SIZE];
  char remote_ufrag[257];
  uint8_t peer_fp[64];
  size_t peer_fp_len;
  uint8_t ext_mid;      /* receiver's extmap id for sdes:mid, 0 none */
  char mid[2][33];      /* receiver's mids per kind */

  /* Transport. */
  struct sockaddr_storage addr;  /* the nominated remote address */
  socklen_t addrlen;
  bool have_addr;
  struct sockaddr_storage addrs[4]; /* validated source addresses, keyed in the worker's map */
  size_t n_addrs;
  uint64_t created_ms, last_stun_ms;
  struct dtls *dtls;
  struct srtpctx *srtp;
  enum srtpctx_profile profile;
  bool dtls_done;
  bool ready;                    /* reported to the owner */
  bool flowing;                  /* media arriving within the silence window */

  struct in_track in[2];
  struct out_track out[2];

  /* Router: who feeds this session and whom it feeds. */
  struct session *source;
  struct session *sinks[SESSION_MAX_SINKS];
  size_t n_sinks;
  uint64_t keyframe_wait_ms;     /* when the current keyframe wait began */

  uint64_t remb_bps;             /* last REMB from this receiver */
  uint64_t last_kf_req_ms;       /* as a source: last PLI/FIR sent to it */
};

/* session.c */
void session__free(struct session *s);

/* router.c */
void router__on_rtp(struct session *s, uint8_t *buf, size_t len, uint64_t now_ms);
void router__on_rtcp(struct session *s, uint8_t *buf, size_t len, uint64_t now_ms);
void router__tick(struct session *s, uint64_t now_ms);
void router__request_keyframe(struct session *source, uint64_t now_ms, bool fir);

/* worker.c */
void worker__send(struct worker *w, struct session *s, const uint8_t *buf, size_t len);
/* Protects (in place; buf must have SRTPCTX_TRAILER spare bytes) and sends an RTCP packet. */
void worker__send_rtcp(struct worker *w, struct session *s, uint8_t *buf, size_t len);
uint8_t *worker__scratch(struct worker *w, size_t *cap);
void worker__count(struct worker *w, int what);
void worker__partner_video(struct worker *w, struct session *s, uint32_t rtp_ts);
const char *worker__public_ip(struct worker *w);
void worker__forget(struct worker *w, struct session *s);
int worker__register(struct worker *w, struct session *s);
uint64_t worker__now(struct worker *w);
const struct dtls_cert *worker__cert(struct worker *w);
struct dtls_ctx *worker__dtls_ctx(struct worker *w);
const struct worker_config *worker__config(struct worker *w);

#endif
