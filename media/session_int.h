/* session_int.h -- a browser's media session on its (home) worker: ICE address learning,
 * DTLS, SRTP, its lifecycle and timeouts. Private to media/. */
#ifndef TANDEM_SESSION_INT_H
#define TANDEM_SESSION_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "media/dtls.h"
#include "media/ice.h"
#include "media/srtpctx.h"
#include "media/transport.h"
#include "media/worker_int.h"

struct recorder;
struct relaywire;

enum { KIND_AUDIO = 0, KIND_VIDEO = 1 };
#define MAX_ADDRS_PER_SESSION 4
#define MAX_SSRCS 6

/* What a session sends (its own camera/microphone). */
struct in_track {
  int pt;
  uint32_t ssrc;
  uint64_t packets, bytes, last_ms;
};

/* A pair: both sessions name each other; each LINK command has its own seq (worker_int.h). */
struct link {
  struct sref partner;         /* sid 0 = unlinked */
  uint64_t seq;                /* the seq of this session's LINK */
  uint64_t partner_seq;        /* the seq of the partner's LINK: the stamp our outbound carries */
};

struct rtx_wait;

struct session {
  struct worker *w;
  uint64_t id;
  bool closing;
  char ufrag[ICE_UFRAG_SIZE], pwd[ICE_PWD_SIZE];
  char remote_ufrag[257];
  uint8_t peer_fp[64];
  size_t peer_fp_len;

  struct tx_path path;         /* how we reach the browser (kind TX_NONE until known) */
  /* A relay session (media/relay.c) stands in for a remote node's browser: no ICE, DTLS or
   * SRTP; its path is TX_RELAY and this holds the link's keys, counter and replay window. NULL
   * for a browser's session. */
  struct relaywire *relay;
  struct sockaddr_storage addrs[MAX_ADDRS_PER_SESSION]; /* validated source addresses */
  size_t n_addrs;
  const struct stream_ops *stream_ops; /* a stream transport (ICE-TCP), or NULL */
  void *stream;
  uint64_t created_ms, last_stun_ms;
  struct dtls *dtls;
  struct srtpctx *srtp;
  enum srtpctx_profile profile;
  bool dtls_done, ready, flowing;
  /* The DTLS object (about 75 KiB) is freed once an authenticated SRTP or SRTCP packet shows
   * the browser finished its handshake (so it will never need our last flight again): then
   * dtls_done is set and dtls is NULL. After that an alert record from the browser's address
   * can no longer be authenticated: it only arms close_hint_ms, and the session ends if no
   * media follows it. */
  uint64_t close_hint_ms;
  uint64_t last_media_ms;      /* the last authenticated SRTP/SRTCP packet */
  uint32_t ssrcs[MAX_SSRCS];   /* SSRCs this browser sent from (bounds libsrtp's streams) */
  size_t n_ssrcs;

  struct in_track in[2];
  uint32_t out_ssrc[2];        /* our SSRCs toward this browser (the streams live in the
                                  outbound) */
  uint8_t fir_seq;
  uint64_t last_kf_req_ms;     /* as a source: last PLI/FIR sent to it */
  uint64_t kf_heard_ms;        /* the last request its encoder will have acted on (router.c) */
  bool kf_owed;                /* a request it ignored: to send again once it will act on it */
  bool kf_owed_fir;
  struct srtp_keys keys;       /* for the outbound's own RTP context */
  unsigned captures;           /* keyframe requests waiting for this session's video */
  /* Evidence recording (record.c), from READY on when the worker records, else NULL: */
  struct recorder *rec;
  struct rtx_wait *rtx;        /* retransmissions asked of this browser (router.c), or NULL */
  uint64_t rec_since_ms;       /* when it began */
  uint64_t rec_next_pli_ms;    /* no keyframe request for the recording before this */

  /* Forwarding (handover.c): */
  struct link link;
  struct outbound *outb;       /* this session's outbound while at home, else NULL */
  uint64_t outb_sent;          /* the stamp it was last sent with (0 = never) */
  struct outbound *sink_out;   /* the partner's outbound, held while this session feeds it */
};

/* session.c: lifecycle. */
/* Creates and registers a session from p (not consumed). NULL on failure. */
struct session *session__create(struct worker *w, const struct session_params *p);
/* Unlinks s and removes it from every table: forwarding stops at once. It is freed on the next
 * tick (session__reap), so any callback up the stack may still look at it. */
void session__close(struct session *s);
/* Tells the control loop why, then closes. */
void session__fail(struct session *s, const char *why);
void session__reap(struct worker *w);   /* frees closed sessions */
int session__list_add(struct worker *w, struct session *s); /* 0 or -1 (out of memory) */
void session__free(struct session *s);  /* at reap or shutdown */
void session__tick(struct session *s, uint64_t now); /* timeouts, readiness, close hints */
void session__check_ready(struct session *s, uint64_t now);
/* Sends one packet (RTCP already protected, DTLS, STUN) to the browser, on its home worker. */
void session__send(struct session *s, const uint8_t *buf, size_t len);
/* Protects an RTCP compound in buf (room for SRTPCTX_TRAILER after len) and sends it. */
void session__send_rtcp(struct session *s, uint8_t *buf, size_t len);

/* session_rx.c: what arrives from browsers. */
void session__on_datagram(struct worker *w, uint8_t *buf, size_t len, const struct sockaddr *from);
void session__rx_forget(struct session *s);  /* drops its source addresses from the table */
/* Validates an ICE check (a STUN Binding request) against this worker's sessions: returns the
 * session it is for, with the success response to `from` in reply (capacity *reply_len in,
 * length out), or NULL (counted as malformed or rejected). The caller accepts it or not, and
 * then counts stun_ok and refreshes last_stun_ms. */
struct session *session__check(struct worker *w, const uint8_t *buf, size_t len,
                               const struct sockaddr *from, uint8_t *reply, size_t *reply_len);
/* DTLS, SRTP or SRTCP that arrived on s's stream transport (ICE-TCP). */
void session__on_stream_packet(struct session *s, uint8_t *buf, size_t len);

/* relay.c: relay sessions (a remote node's browser, reached through relaywire datagrams). On the
 * wire between nodes every stream uses these payload types and the SSRCs relay__ssrc gives, the
 * same on both nodes, so neither needs to tell the other. */
#define RELAY_PT_AUDIO 111
#define RELAY_PT_VIDEO 96
struct relay_params;
/* The SSRC of `kind` that side `side` of link link_id sends toward the other node. */
uint32_t relay__ssrc(uint64_t link_id, int side, int kind);
/* Creates and registers a relay session from p and r (neither consumed). NULL on failure. */
struct session *relay__create(struct worker *w, const struct session_params *p,
                              const struct relay_params *r);
void relay__forget(struct session *s);  /* at close: out of the link table */
/* A datagram whose first byte is relaywire's, from the worker's socket. */
void relay__on_datagram(struct worker *w, uint8_t *buf, size_t len);
/* transport__slot/__commit for a relay path: the packet is built in w->scratch, then sealed into
 * the bundle for its remote worker (relay__flush sends the bundles). */
uint8_t *relay__slot(struct worker *w, const struct tx_path *p, size_t *cap);
void relay__commit(struct worker *w, const struct tx_path *p, size_t len);
/* Queues this loop turn's bundles on the worker's socket (worker__flush, before udp__flush). */
void relay__flush(struct worker *w);
void relay__free(struct worker *w);     /* with the worker */

#endif
