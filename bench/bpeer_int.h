/* bpeer_int.h -- private layout of a simulated browser, shared by bpeer.c and bptransport.c. */
#ifndef TANDEM_BENCH_BPEER_INT_H
#define TANDEM_BENCH_BPEER_INT_H

#include "bench/bpeer.h"
#include "bench/offer.h"
#include "media/framing.h"
#include "media/ice.h"
#include "media/srtpctx.h"

#define BP_SEGS 8    /* runs of senders remembered per received track */
#define BP_FRAMES 32 /* recent video frames remembered (for partner_video) */

/* A run of packets from one sender on one received track, in sequence order. */
struct bp_seg {
  uint64_t sender, first, max; /* extended sequence numbers */
  int xt;                      /* xtalk segment handle */
};

/* One stream the server sends us (its SSRC is stable for the session). */
struct bp_rx {
  uint32_t ssrc;
  uint32_t clock;              /* 48000 / 90000 */
  bool any;
  uint64_t max_ext, first_ext, received;
  uint64_t rr_expected, rr_received; /* at the last receiver report */
  struct bp_seg seg[BP_SEGS];
  int nseg;
  bool split;                  /* the pairing changed: the next packet opens a new segment */
  /* RFC 3550 interarrival jitter, in timestamp units. */
  double jitter;
  int64_t last_transit;
  bool have_transit;
};

/* One stream we send. */
struct bp_tx {
  uint32_t ssrc;
  uint16_t seq;
  uint32_t ts_base;            /* the RTP timestamp at t_base_us */
  uint64_t t_base_us;
  uint64_t next_us;            /* when the next frame is due */
  size_t frame;                /* index of the next frame in the media loop */
  uint16_t pid;                /* VP8 picture id */
  bool key_next;               /* a PLI/FIR asked for a keyframe */
  bool held_sent;              /* --hold-media: the one frame sent while media is held */
  uint64_t packets, bytes;
};

/* A recently received video frame: its first packet. */
struct bp_frame {
  uint32_t ts;
  uint64_t t_us, sender, ext;
  bool key_start, start;       /* a keyframe's first packet / a frame's first packet */
};

/* One media session (one RTCPeerConnection): replaced on refresh. Freed when
 * its UDP handle has closed; after bptransport_close it calls nothing but
 * bpeer__on_transport_closed. */
enum bp_tcp_state { BPT_NONE, BPT_IDLE, BPT_CONNECTING, BPT_UP, BPT_DOWN };

struct bptransport {
  struct bpeer *p;
  uint32_t stream;             /* this session's number in the run (xtalk segments) */
  uv_udp_t udp;
  int handles;                 /* libuv handles not closed yet; t is freed when none is left */
  bool closing;
  /* --transport=tcp (bptcp.c): one ICE-TCP connection to the answer's passive candidate. */
  enum bp_tcp_state tcp_state; /* BPT_NONE with UDP; BPT_DOWN once closed or given up */
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  struct framing_reader rd;
  size_t tcp_queued;           /* bytes handed to uv_write and not written yet */
  uint16_t port;
  char ufrag[ICE_UFRAG_SIZE], pwd[ICE_PWD_SIZE];
  struct answer_info ans;
  bool have_answer;
  uint64_t tie_breaker;
  uint8_t txid[12];
  bool check_nominates, ice_ok, nominated;
  uint64_t ice_next_us, ice_started_us, consent_next_us;
  int ice_tries;
  struct dtls *dtls;
  bool dtls_done;
  uint64_t dtls_started_us;
  struct srtpctx *srtp;
  struct bp_tx tx[2];
  struct bp_rx rx[2];
  uint64_t rtcp_next_us;
  uint64_t t_created;
  uint64_t media_since_us;     /* SRTP ready (for --forge-alert) */
  bool alert_forged;
  bool got_partner_media;      /* for the refresh measurement */
  struct bp_frame frames[BP_FRAMES];
  int nframes;                 /* frames[] is a ring; nframes counts up to BP_FRAMES */
  int frame_head;
  bool pv_pending;             /* partner_video named a timestamp not received yet */
  uint32_t pv_ts;
};

enum bp_action { ACT_NONE, ACT_NEXT, ACT_REFRESH, ACT_VANISH, ACT_REVISIT, ACT_REPORT };

struct wsclient;

struct bpeer {
  struct brun *run;
  uint32_t index;
  enum bench_behaviour behaviour;
  uint64_t id;                 /* the current visit's sender id */
  char token[72];              /* resume token from welcome */
  struct wsclient *ws;
  struct bptransport *tr;
  int closing_transports;      /* transports whose UDP handle is still closing */
  bool finished;

  /* The visit. */
  uint32_t visits, pairings;
  uint64_t t_visit, t_reconnect;
  bool resuming, ready, ever_ready, ever_media, ready_late, connected;
  /* Measurements in flight. */
  uint64_t t_start_sent, t_matched, t_gap; /* t_gap: next sent / partner_left, 0 none */
  bool measure_start, measure_key, measure_gap, measure_resume;
  uint64_t gap_for_pair;       /* t_gap carried into the current pairing */
  bool have_pv, skip_pv;       /* skip_pv: ignore a repeat of last_pv_ts after a resume */
  uint32_t last_pv_ts;
  /* The behaviour's next step. */
  enum bp_action action;
  uint64_t action_us;
};

/* bptransport.c. bptransport_new binds the UDP socket and makes the ICE
 * credentials and SSRCs; NULL on failure (counted). */
struct bptransport *bptransport_new(struct bpeer *p);
/* Writes this session's offer into out; the length or a negative errno. */
int bptransport_offer(struct bptransport *t, char *out, size_t cap);
/* Lets go of t: its receive statistics go into the run, a DTLS close_notify
 * goes out if `polite`, the socket closes; t frees itself afterwards. */
void bptransport_close(struct bptransport *t, bool polite);
/* The answer arrived: 0 (ICE starts), or -EBADMSG (the error is counted). */
int bptransport_answer(struct bptransport *t, const char *sdp, size_t len);
void bptransport_tick(struct bptransport *t, uint64_t now_us);

/* bptransport.c, for bptcp.c: a packet from the server (any kind; buf is writable), and the
 * close callback of every handle of t. */
void bptransport__on_packet(struct bptransport *t, uint8_t *buf, size_t len, uint64_t now);
void bptransport__handle_closed(uv_handle_t *h);

/* bptcp.c: --transport=tcp. bptcp_init makes the handle (0 or a negative errno);
 * bptcp_connect starts the connection to t->ans.tcp_cand once the answer is in;
 * bptcp_send writes one packet as an RFC 4571 frame (dropped, counted, while not
 * connected or when the bounded queue is full); bptcp_close closes the handle (idempotent). */
int bptcp_init(struct bptransport *t);
void bptcp_connect(struct bptransport *t);
void bptcp_send(struct bptransport *t, const uint8_t *buf, size_t len);
void bptcp_close(struct bptransport *t);

/* bpeer.c, called by the transport. */
void bpeer__on_partner_keyframe(struct bpeer *p, uint64_t t_us);
void bpeer__on_media(struct bpeer *p, uint64_t t_us);
void bpeer__on_transport_closed(struct bpeer *p);

#endif
