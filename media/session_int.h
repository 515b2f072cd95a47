/* session_int.h -- private layout of sessions and workers, shared by mediaplane.c, worker.c,
 * session.c and router.c. */
#ifndef TANDEM_SESSION_INT_H
#define TANDEM_SESSION_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <uv.h>

#include "media/dtls.h"
#include "media/ice.h"
#include "media/mediaplane.h"
#include "media/seqmap.h"
#include "media/srtpctx.h"
#include "media/vp8.h"
#include "media/xring.h"

enum { KIND_AUDIO = 0, KIND_VIDEO = 1 };
#define MAX_ADDRS_PER_SESSION 4
#define MAX_SSRCS 6
#define MAX_WORKERS 64

/* Everything a worker needs to create a session; built on the control loop from the offer. */
struct session_params {
  uint64_t sid;
  char ufrag[ICE_UFRAG_SIZE], pwd[ICE_PWD_SIZE];
  char remote_ufrag[257];
  uint8_t peer_fp[64];
  size_t peer_fp_len;
  uint8_t ext_mid;             /* the receiver's extmap id for sdes:mid, 0 none */
  char mid[2][33];
  int in_pt[2];                /* what the browser sends */
  uint32_t in_ssrc[2];         /* from the offer, 0 if unknown */
  int out_pt[2];               /* what the browser receives */
  uint32_t out_ssrc[2];
  uint16_t out_seq[2];
  uint32_t out_ts[2];
  uint16_t out_pid;
};

/* What a session sends (its own camera/microphone). */
struct in_track {
  int pt;
  uint32_t ssrc;
  uint64_t packets, bytes, last_ms;
};

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
 * owned by exactly one worker at a time: the worker of the session that feeds it (so the
 * packet path never crosses threads), or its home worker while unlinked. It moves only in
 * XM_HANDOVER / XM_HANDBACK messages. */
struct outbound {
  uint64_t sid;                /* the receiving session */
  unsigned home;               /* its worker, whose socket sends to the browser */
  int fd;                      /* that socket (sending on it from any thread is safe) */
  struct sockaddr_storage addr;
  bool have_addr;
  uint8_t ext_mid;
  char mid[2][33];
  struct out_track out[2];
  struct srtpctx *srtp;        /* protects RTP only (RTCP to the browser is protected at home) */
};

/* A session elsewhere (this worker or another), by id. */
struct sref {
  uint64_t sid;                /* 0 = none */
  unsigned worker;
};

struct session {
  struct worker *w;
  uint64_t id;
  bool closing;
  char ufrag[ICE_UFRAG_SIZE], pwd[ICE_PWD_SIZE];
  char remote_ufrag[257];
  uint8_t peer_fp[64];
  size_t peer_fp_len;
  uint8_t ext_mid;
  char mid[2][33];

  struct sockaddr_storage addr; /* where we send: the nominated remote address */
  bool have_addr;
  struct sockaddr_storage addrs[MAX_ADDRS_PER_SESSION]; /* validated source addresses */
  size_t n_addrs;
  uint64_t created_ms, last_stun_ms;
  struct dtls *dtls;
  struct srtpctx *srtp;
  enum srtpctx_profile profile;
  bool dtls_done, ready, flowing;
  /* The DTLS object (about 75 KiB) is freed once an authenticated SRTP or SRTCP packet shows
   * the browser finished its handshake (so it will never need our last flight again): then
   * dtls_done is set and dtls is NULL. After that an alert record from the browser's address
   * can no longer be authenticated: it only arms close_hint_ms, and the session ends if no
   * media follows it (see wire__check_closed). */
  uint64_t close_hint_ms;
  uint64_t last_media_ms;      /* the last authenticated SRTP/SRTCP packet */
  uint32_t ssrcs[MAX_SSRCS];    /* SSRCs this browser sent from (bounds libsrtp's streams) */
  size_t n_ssrcs;

  struct in_track in[2];
  uint32_t out_ssrc[2];        /* our SSRCs toward this browser (copies; the streams live in
                                  the outbound) */
  uint8_t fir_seq;
  struct srtp_keys keys;       /* for the outbound's own RTP context */

  struct sref source;          /* who feeds this session */
  struct sref sink;            /* whom this session feeds (a pair is symmetric) */
  struct outbound *outb;       /* this session's outbound while at home, else NULL */
  struct sref outb_at;         /* where the outbound was sent (valid while outb is NULL) */
  unsigned link_gen, outb_gen; /* links made; the link the outbound was last sent for */
  uint64_t outb_home_since;    /* linked, yet the outbound is at home: since when (0 = not) */
  struct outbound *sink_out;   /* the sink's outbound, held here while this session feeds it */
  uint64_t last_kf_req_ms;     /* as a source: last PLI/FIR sent to it */
};

/* Messages between workers on the rings (header; RTP bytes or NACK seqs follow). */
enum xmsg_type { XM_KEYFRAME = 1, XM_NACK, XM_REMB, XM_RTCP_OUT, XM_HANDOVER, XM_HANDBACK,
                 XM_ADDR };
struct xmsg {
  uint8_t type, kind, fir;
  uint16_t n;                  /* NACK: sequence numbers following */
  uint64_t dst, src;           /* session ids */
  struct sockaddr_storage addr; /* XM_ADDR */
  uint64_t value;              /* REMB bitrate */
  struct outbound *outb;       /* HANDOVER / HANDBACK: the object changing hands */
};

/* worker.c */
struct worker;
struct worker *worker_new(struct mediaplane *mp, unsigned index, uv_loop_t *control,
                          const struct mediaplane_config *cfg, const struct dtls_cert *cert);
int worker_bind(struct worker *w);      /* on the control thread, before worker_run */
int worker_run(struct worker *w);       /* starts the thread */
void worker_stop(struct worker *w);     /* asks the thread to finish and joins it */
void worker_free(struct worker *w);     /* after every worker is stopped */
uint16_t worker_port(const struct worker *w);
void worker_post_new(struct worker *w, struct session_params *p);  /* takes ownership */
void worker_post(struct worker *w, int type, uint64_t sid, uint64_t other, unsigned other_worker);
void worker_read_stats(struct worker *w, struct mediaplane_stats *st); /* adds */
void worker_wake(struct worker *w);     /* another worker pushed into our ring */
void worker_post_pair(struct worker *a, int ta, uint64_t sa, uint64_t oa, unsigned owa,
                      struct worker *b, int tb, uint64_t sb, uint64_t ob, unsigned owb);
void worker__drain_commands(struct worker *w);
enum { WCMD_NEW, WCMD_CLOSE, WCMD_LINK, WCMD_UNLINK, WCMD_STOP };

/* Called on a worker's thread. */
uint64_t worker__now(struct worker *w);
unsigned worker__index(const struct worker *w);
struct session *worker__session(struct worker *w, uint64_t sid); /* live local session or NULL */
/* A transmit slot of 1500 bytes (+ SRTPCTX_TRAILER) for one datagram on worker `via`'s
 * socket, sent by worker__tx_commit (batched per socket with sendmmsg). */
uint8_t *worker__tx_slot(struct worker *w, unsigned via, size_t *cap);
void worker__tx_commit(struct worker *w, unsigned via, const struct sockaddr_storage *to, size_t len);
int worker__fd(struct worker *w);
void worker__send(struct worker *w, struct session *s, const uint8_t *buf, size_t len);
void worker__send_rtcp(struct worker *w, struct session *s, uint8_t *buf, size_t len);
/* A record for worker `to`'s ring, or NULL if full (counted). Committed at the end of the
 * loop iteration, with one wake-up per destination. */
struct xmsg *worker__xmsg(struct worker *w, unsigned to, size_t extra);
enum { WSTAT_FWD, WSTAT_DROP, WSTAT_KEYREQ };
void worker__count(struct worker *w, int what);
void worker__partner_video(struct worker *w, uint64_t sid, uint32_t rtp_ts);

/* mediaplane.c: the control side's rings and events. */
struct xring *mediaplane__ring(struct mediaplane *mp, unsigned from, unsigned to);
struct worker *mediaplane__worker(struct mediaplane *mp, unsigned i);
void mediaplane__event(struct mediaplane *mp, int type, uint64_t sid, bool flag, uint32_t ts,
                       const char *text);
enum { WEV_READY, WEV_MEDIA, WEV_FAILED, WEV_PARTNER_VIDEO };

/* session.c */
struct session *session__create(struct worker *w, const struct session_params *p);
void session__free(struct session *s);
const char *session__profile(const struct session *s);

/* router.c */
void router__on_rtp(struct session *s, uint8_t *buf, size_t len, uint64_t now_ms);
void router__on_rtcp(struct session *s, uint8_t *buf, size_t len, uint64_t now_ms);
void router__on_xmsg(struct worker *w, const struct xmsg *m, const uint8_t *extra, size_t extra_len,
                     uint64_t now_ms);
void router__tick(struct session *s, uint64_t now_ms);
void router__link(struct session *s, uint64_t partner, unsigned partner_worker, uint64_t now_ms);
void router__unlink(struct session *s);
void router__addr_changed(struct session *s);   /* the nominated address of s changed */
void router__srtp_ready(struct session *s);     /* DTLS done: give the outbound its context */
struct outbound *router__outbound_new(struct session *s, const struct session_params *p, int fd);
void router__outbound_free(struct outbound *o);
/* Frees what a ring record owns (at shutdown, when nobody will process it). */
void router__xmsg_discard(const struct xmsg *m);

#endif
