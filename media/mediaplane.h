/* mediaplane.h -- the media workers as seen from the control loop: sessions by id, links,
 * events. Every function here is called on the control loop's thread. */
#ifndef TANDEM_MEDIAPLANE_H
#define TANDEM_MEDIAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct mediaplane;
struct sdp_offer;
struct dtls_cert;

struct mediaplane_config {
  const char *bind_ip;          /* "0.0.0.0" */
  uint16_t port;                /* first UDP port; worker i binds port + i (0 = ephemeral) */
  const char *public_ip;        /* advertised in candidates: one IP literal or several,
                                   comma-separated (addrlist.h), the preferred first; "127.0.0.1" */
  const char *bind_ip6;         /* "::". When public_ip lists an IPv6 address and bind_ip is
                                   IPv4, each worker also binds an IPv6-only UDP socket (and TCP
                                   listener) here, on the same port number. With an IPv6
                                   bind_ip the one socket serves whatever it can (:: is dual-stack
                                   on Linux unless net.ipv6.bindv6only is set). */
  unsigned workers;             /* media threads, >= 1 */
  uint32_t silence_ms;          /* media silent this long -> on_media(false); 3000 */
  uint32_t connect_timeout_ms;  /* ICE + DTLS must complete within; 20000 */
  uint32_t consent_timeout_ms;  /* no STUN from the peer this long -> failed; 30000 */
  uint32_t poll_pps;            /* above this many datagrams/s a worker drains its socket on a
                                   timer instead of per wake-up; 0 = never; 3000 */
  uint32_t poll_ms;             /* that timer's period, 1-20 ms; 2 */
  size_t ring_bytes;            /* each worker-to-worker ring; 4 MiB (0 = that) */
  unsigned transports;          /* MEDIAPLANE_UDP | MEDIAPLANE_TCP offered to browsers; both */
  uint32_t record_ms;           /* evidence recording: keep this much of each READY session's
                                   RTP for MEDIAPLANE_REQ_CLIP; 0 = off (the default here) */
  size_t record_max_bytes;      /* and never more than this per session; 0 = the recorder's
                                   default (1.5 MiB), else at least 2 x RECORDER_CHUNK */
  bool av_unsynced;             /* answers put audio and video in separate streams, so browsers
                                   show video without holding it for lip sync; false */
};
/* UDP is always bound (it is also how a worker sends); TCP listens on the same port number. */
enum { MEDIAPLANE_UDP = 1, MEDIAPLANE_TCP = 2 };
/* Session ids carry their worker's index in 8 bits. */
#define MEDIAPLANE_MAX_WORKERS 256
void mediaplane_config_default(struct mediaplane_config *c);

/* Events, delivered on the control loop. `sid` is the session id; events of a session that
 * was closed from the control side are never delivered after mediaplane_close_session(). */
struct mediaplane_events {
  void (*on_ready)(void *arg, uint64_t sid, const char *srtp_profile);
  void (*on_media)(void *arg, uint64_t sid, bool flowing);
  void (*on_failed)(void *arg, uint64_t sid, const char *why);
  void (*on_partner_video)(void *arg, uint64_t sid, uint32_t rtp_ts);
  void *arg;
};

struct mediaplane_stats {
  uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
  uint64_t rx_dropped;          /* unknown source, bad demux, refused relay datagrams */
  uint64_t stun_ok, stun_rejected, stun_malformed;
  uint64_t stun_conflicts;      /* valid checks from an address another live session holds */
  uint64_t dtls_ok, dtls_failed;
  uint64_t dtls_released;       /* DTLS objects freed after the browser's first SRTP */
  uint64_t srtp_errors;
  uint64_t rtp_forwarded, rtp_dropped;
  uint64_t rtp_retransmitted;   /* of rtp_forwarded, retransmissions a receiver asked for */
  uint64_t keyframe_requests;
  uint64_t keyframes_recorded;  /* snapshot keyframes taken from the recording (no PLI) */
  uint64_t xworker_packets;     /* records for another worker */
  uint64_t xworker_queued;      /* of those, queued because the ring was full */
  uint64_t xworker_dropped;     /* feedback dropped (a long outbox, or out of memory) */
  uint64_t handovers_parked;    /* outbounds that arrived before their LINK */
  uint64_t sessions;            /* created */
  uint64_t sessions_live;
  uint64_t tcp_dropped;         /* packets a slow ICE-TCP reader could not take */
  uint64_t workers_polling;     /* workers in timer-driven receive right now */
  uint64_t recorder_bytes;      /* memory the sessions' recorders hold right now */
  /* The node-to-node relay (mediaplane_relay_open): packets (each its own sealed datagram)
   * accepted and sent, their bytes, and the UDP datagrams that carried them (several packets
   * for the same remote worker in one loop turn travel as one bundle, media/relaywire.h). */
  uint64_t relay_rx_packets, relay_rx_bytes, relay_tx_packets, relay_tx_bytes;
  uint64_t relay_rx_datagrams, relay_tx_datagrams;
  uint64_t relay_auth_failed;   /* refused: did not authenticate (forged, corrupted, wrong key) */
  uint64_t relay_replayed;      /* refused: a counter already seen, or too old */
  uint64_t relay_malformed;     /* refused: not a relay datagram of a version we speak */
  uint64_t relay_unknown;       /* for no relay session here (a link closed, or never opened) */
  uint64_t relay_dropped;       /* not sent: the relay session closed (its partner still
                                   feeds it), sealing failed, or a packet off its worker */
};

/* Starts the workers (threads) and binds their ports. 0 or -errno (message logged by caller). */
int mediaplane_new(uv_loop_t *loop, const struct mediaplane_config *cfg,
                   const struct mediaplane_events *ev, const struct dtls_cert *cert,
                   struct mediaplane **out);

/* Creates a session for an offer that sdp_parse_offer() accepted, on the least loaded worker,
 * and writes the SDP answer (NUL-terminated). Returns 0 and *sid, -ENOSPC, -ENOMEM, -EIO. */
int mediaplane_new_session(struct mediaplane *mp, const struct sdp_offer *o, char *answer,
                           size_t cap, uint64_t *sid);

/* Forgets a session: it stops forwarding and being forwarded to at once on its worker. */
void mediaplane_close_session(struct mediaplane *mp, uint64_t sid);

/* a and b receive each other from now on (each was unlinked from anything else). A relay
 * session is linked only with a session of its own worker (else nothing happens). */
void mediaplane_link(struct mediaplane *mp, uint64_t a, uint64_t b);
/* sid receives nothing and feeds nobody. */
void mediaplane_unlink(struct mediaplane *mp, uint64_t sid);

/* The node-to-node relay (docs/architecture.md). A visitor here paired with one on another node
 * is linked to a *relay session* standing in for the stranger: what the local session sends is
 * sealed (media/relaywire.h) and sent from the local session's worker to the remote node's worker,
 * where the other end's relay session hands it to its browser's session, and back.
 *  - link_id: names this pair leg; the same on both nodes, not 0, one live relay per id here.
 *  - side: 0 on one node, 1 on the other (each sends under its own direction's key).
 *  - remote: the remote node's media worker, the address its relay session is reached at
 *    (IPv4 or IPv6, port set); sent from the local session's worker's socket, whose address
 *    (mediaplane_port) the remote node needs in turn.
 *  - secret: the cluster secret every node shares; each link's keys are derived from it and
 *    the link id, so nothing secret is exchanged per pair. It is copied (and the copy wiped
 *    once used). */
struct mediaplane_relay {
  uint64_t link_id;
  int side;
  const struct sockaddr *remote;
  const uint8_t *secret;        /* 32 bytes */
};
/* Opens a relay session on local_sid's worker and links the two (as mediaplane_link, which may
 * later link local_sid elsewhere and back). The relay session is closed with
 * mediaplane_close_session (or mediaplane_relay_close) and has no events but on_failed, when its
 * worker could not create it (out of memory): then close it. 0 and *relay_sid;
 * -ENOENT local_sid is unknown or itself a relay; -EINVAL bad side, link id or address;
 * -EEXIST the link id is open here; -ENOMEM. */
int mediaplane_relay_open(struct mediaplane *mp, uint64_t local_sid,
                          const struct mediaplane_relay *r, uint64_t *relay_sid);
/* As in any pair, the partner holds local_sid's outbound until its own link ends: when local_sid
 * is linked to someone else, close (or unlink) its relay in the same turn, or local_sid receives
 * nothing from its new partner. */
/* Closes a relay session: nothing more is sent to the remote node for it and what comes from it
 * is refused (counted as relay_unknown). The local session stays linked to nothing until it is
 * linked again. */
void mediaplane_relay_close(struct mediaplane *mp, uint64_t relay_sid);

/* The HTTPS port's number, offered from now on in every answer as a third host candidate
 * (TCP passive, below the media port's TCP candidate) for networks that let only TCP to it
 * through; 0 = none (the default). */
void mediaplane_set_https_port(struct mediaplane *mp, uint16_t port);
/* A connection on the HTTPS port that opened with an ICE check (media/portdemux.h) for the
 * session whose ICE ufrag is ufrag[0..ufrag_len): fd (an open TCP socket) goes to that
 * session's worker with data[0..len), the bytes already read (copied), and becomes one of its
 * ICE-TCP connections. fd is the media plane's from the call on, whatever it returns (closed on
 * failure). 0; -ENOENT when no live session has that ufrag; -ENOMEM. */
int mediaplane_adopt_tcp(struct mediaplane *mp, const char *ufrag, size_t ufrag_len, int fd,
                         const uint8_t *data, size_t len);

/* Requests answered by a session's worker. The callback runs on the control loop exactly once:
 * with status 0 and a malloc'd payload it now owns (free() it), or a negative errno and NULL
 * (-ENOENT no such session, -ETIMEDOUT, -EBUSY, -ENOMEM, -ENODATA; -ECANCELED from inside
 * mediaplane_close); never after mediaplane_cancel(). Returns the request id, or 0 when the
 * session is unknown or memory runs out (the callback is never called then). */
typedef void (*mediaplane_reply_fn)(void *arg, int status, void *payload, size_t len);
enum {
  /* A keyframe of the session: the VP8 frame, as libvpx decodes it. The payload may carry a
   * uint32_t max_age_ms: a keyframe the session's recording holds that is at most that old is
   * answered at once; otherwise (or without it) the browser is asked (PLI) and the first whole
   * keyframe answers. timeout_ms 0 = 2000. */
  MEDIAPLANE_REQ_KEYFRAME = 1,
  /* The session's recent RTP (record_ms of it), answered at once without waiting: the buffer
   * of moderation/recorder.h's recorder_export() (read it with recorder_rec_next(), or make a
   * WebM with clip_webm_records()); -ENODATA when recording is off or nothing was recorded yet
   * (a session records from READY on). Arrival times are the worker's monotonic clock (ms).
   * timeout_ms is not used. */
  MEDIAPLANE_REQ_CLIP = 2,
};
/* payload (len bytes, may be NULL) is copied for the worker: what the request type says it
 * carries. */
uint64_t mediaplane_request(struct mediaplane *mp, uint64_t sid, int type, uint32_t timeout_ms,
                            const void *payload, size_t len, mediaplane_reply_fn cb, void *arg);
void mediaplane_cancel(struct mediaplane *mp, uint64_t req);

void mediaplane_get_stats(struct mediaplane *mp, struct mediaplane_stats *st);
unsigned mediaplane_workers(const struct mediaplane *mp);
uint16_t mediaplane_port(const struct mediaplane *mp, unsigned worker);
/* The worker a session lives on (for its port: what a remote node's relay sends to). */
unsigned mediaplane_session_worker(uint64_t sid);

/* Stops every worker (joining its thread), frees everything, then done(arg). */
void mediaplane_close(struct mediaplane *mp, void (*done)(void *arg), void *arg);

#endif
