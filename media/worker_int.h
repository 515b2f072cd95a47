/* worker_int.h -- a media worker: its thread, loop, command queue, rings to the other
 * workers and the events it posts to the control loop. Private to media/. */
#ifndef TANDEM_WORKER_INT_H
#define TANDEM_WORKER_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <uv.h>

#include "media/ice.h"
#include "media/mediaplane.h"
#include "media/tcp_int.h"
#include "media/transport.h"
#include "media/udp_int.h"
#include "media/xring.h"

struct session;
struct outbound;
struct relay_out;
struct dtls_cert;

#define TICK_MS 20

/* A session elsewhere (this worker or another), by id. */
struct sref {
  uint64_t sid;                /* 0 = none */
  unsigned worker;
};

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

/* A command from the control loop. Every command carries a sequence number from one counter
 * of the whole media plane, so a worker's commands arrive in increasing order and
 * "done_seq >= n" says that command n has been carried out (handover.c relies on it). */
enum { WCMD_NEW, WCMD_CLOSE, WCMD_LINK, WCMD_UNLINK, WCMD_REQUEST, WCMD_STOP, WCMD_ADOPT,
       WCMD_RELAY };
/* RELAY: what a relay session needs beside its session_params (mediaplane_relay_open). The
 * secret is wiped once the link's keys are derived. */
struct relay_params {
  uint64_t link_id;
  int side;
  struct sockaddr_storage remote;
  uint8_t secret[32];
};
struct wcmd {
  int type;
  uint64_t seq;
  uint64_t sid;
  struct sref other;           /* LINK: the partner */
  uint64_t other_seq;          /* LINK: the seq of the partner's own LINK command */
  struct session_params *params; /* NEW, RELAY: owned */
  uint64_t req;                /* REQUEST: its id */
  int req_type;
  uint32_t timeout_ms;
  void *payload;               /* REQUEST: owned (freed after the command), may be NULL;
                                  ADOPT: the bytes already read from fd;
                                  RELAY: a struct relay_params (wiped, then freed) */
  size_t payload_len;
  int fd;                      /* ADOPT: an ICE-TCP socket from the HTTPS port, owned */
  struct wcmd *next;
};

/* Messages between workers on the rings (this header; NACK seqs or packet bytes follow). */
enum xmsg_type { XM_KEYFRAME = 1, XM_NACK, XM_REMB, XM_RTCP_OUT, XM_TX, XM_HANDOVER,
                 XM_HANDBACK, XM_ADDR };
struct xmsg {
  uint8_t type, kind, fir;
  uint16_t n;                  /* NACK: sequence numbers following */
  uint64_t dst, src;           /* session ids */
  uint64_t stamp;              /* HANDOVER: the seq of the feeder's LINK it is sent for */
  uint64_t value;              /* REMB bitrate */
  struct outbound *outb;       /* HANDOVER / HANDBACK: the object changing hands */
  struct tx_path path;         /* ADDR: the receiving session's new path */
};

/* A message that did not fit its ring, kept in order until it does. */
struct pending_msg {
  struct pending_msg *next;
  size_t len;                  /* sizeof(struct xmsg) + extra */
  struct xmsg m;               /* followed by the extra bytes */
};

struct worker {
  struct mediaplane *mp;
  unsigned index, nworkers;
  uv_loop_t loop;
  uv_timer_t tick;
  uv_check_t check;
  uv_async_t async;
  uv_thread_t thread;
  bool thread_started;
  bool bound;                  /* the socket and timers exist (worker_bind succeeded) */
  int open_handles;            /* closed one by one at stop; the loop ends at 0 */
  bool stopping;
  struct mediaplane_config cfg;
  int64_t wall_offset_ms;      /* wall clock (Unix ms) minus the loop's clock, at start */
  char bind_ip[64];
  char bind_ip6[64];           /* "" = no IPv6 sockets beside bind_ip's (see mediaplane.h) */
  struct dtls_ctx *dtls_ctx;
  struct ice_responder *ice;
  struct hmap *by_ufrag, *by_addr, *by_sid;
  struct hmap *by_link;        /* relay sessions by link id (relay.c) */
  struct session *relay_tx;    /* the relay session whose packet is in the scratch (relay.c) */
  struct relay_out *relay_out; /* this loop turn's bundles to remote workers (relay.c) */
  struct session **list;       /* live sessions and closed ones awaiting the next tick */
  size_t n_list, cap_list;
  struct udp udp;              /* the datagram transport: socket, receive, transmit batches */
  struct tcp tcp;              /* ICE-TCP: listener and connections (if offered) */
  uint8_t *scratch;            /* UDP_TX_SLOT bytes: a packet built for a stream path */
  /* Commands from the control loop, carried out strictly in posted order, never nested. */
  uv_mutex_t cmd_lock;
  struct wcmd *cmd_head, *cmd_tail; /* posted, under cmd_lock */
  uint64_t done_seq;           /* the seq of the last command carried out */
  /* Outbounds that arrived before the LINK they are stamped for (handover.c). */
  struct parked *parked;
  /* Rings to other workers: what is reserved is committed after each loop iteration; what
   * does not fit waits in an outbox, in order, so no message owning an object is lost. */
  bool *ring_dirty;            /* [nworkers] */
  struct pending_msg **outbox, **outbox_tail; /* [nworkers] */
  size_t outbox_len;
  /* Keyframe requests waiting for their frame (capture.c), and where a recorded keyframe is
   * put together before its reply is copied out (CAPTURE_MAX_BYTES, made on first use). */
  struct kf_wait *kf_waits;
  uint8_t *kf_scratch;
  /* Counters: written by this thread only, published every tick for the control loop. */
  struct mediaplane_stats st;
  uv_mutex_t stat_lock;
  struct mediaplane_stats pub;
};

/* Called on the control thread. */
struct worker *worker_new(struct mediaplane *mp, unsigned index, const struct mediaplane_config *cfg,
                          const struct dtls_cert *cert);
int worker_bind(struct worker *w);      /* before worker_run */
int worker_run(struct worker *w);       /* starts the thread */
void worker_stop(struct worker *w);     /* asks the thread to finish and joins it */
void worker_free(struct worker *w);     /* after every worker is stopped */
void worker_post(struct worker *w, struct wcmd *c); /* takes ownership of c */
void worker_read_stats(struct worker *w, struct mediaplane_stats *st); /* adds */
void worker_wake(struct worker *w);     /* another worker pushed into our ring */

/* Called on the worker's thread (or, with no thread, by a test driving it). */
void worker__run_commands(struct worker *w); /* carries out what was posted */
void worker__drain_rings(struct worker *w);  /* handles what other workers sent */
void worker__flush(struct worker *w);        /* transmits, publishes ring records, wakes */
uint64_t worker__now(struct worker *w);
struct session *worker__session(struct worker *w, uint64_t sid); /* live local session or NULL */
/* A record of sizeof(struct xmsg) + extra bytes for worker `to`, its header zeroed but for
 * `type`. It is published at the end of the loop iteration, after every record reserved before
 * it for the same worker; when the ring is full it waits in an outbox, in order. NULL when `to`
 * is this worker or out of range, when memory runs out, or for feedback (not ownership) while
 * the outbox is long: the caller drops what it meant to send. */
struct xmsg *worker__xmsg(struct worker *w, unsigned to, int type, size_t extra);
/* Posts an event to the control loop (mediaplane.c delivers it there); payload (malloc'd, may
 * be NULL) is owned by the event from now on. */
void worker__event(struct worker *w, int type, uint64_t id, int status, void *payload, size_t len);
enum { WEV_READY, WEV_MEDIA, WEV_FAILED, WEV_PARTNER_VIDEO, WEV_REPLY };

/* mediaplane.c, for the workers, and for tests: with bind false the workers get no socket and
 * no thread, and the caller drives them (worker__run_commands, __drain_rings, __flush). */
int mediaplane__new(uv_loop_t *loop, const struct mediaplane_config *cfg,
                    const struct mediaplane_events *ev, const struct dtls_cert *cert, bool bind,
                    struct mediaplane **out);
struct xring *mediaplane__ring(struct mediaplane *mp, unsigned from, unsigned to);
struct worker *mediaplane__worker(struct mediaplane *mp, unsigned i);
/* Worker i's UDP socket that sends to addresses of `family`, -1 if none. */
int mediaplane__fd(struct mediaplane *mp, unsigned i, int family);
void mediaplane__event(struct mediaplane *mp, int type, uint64_t id, int status, void *payload,
                       size_t len);

#endif
