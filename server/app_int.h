/* app_int.h -- private layout of the server, shared by app.c, peer.c and signal.c. */
#ifndef TANDEM_APP_INT_H
#define TANDEM_APP_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "match/engine.h"
#include "match/cluster.h"
#include "match/clusterwire.h"
#include "server/matchq.h"
#include "media/hmap.h"
#include "media/mediaplane.h"
#include "moderation/device.h"
#include "moderation/netaddr.h"
#include "moderation/ratelimit.h"
#include "server/app.h"
#include "server/httpd.h"
#include "server/iptab.h"
#include "server/metrics.h"

#define PEER_TOKEN_LEN 32
#define PEER_PROBE_MS 2000 /* a live connection must show a sign of life within this (peer.c) */

/* One browser tab for its whole visit. It outlives a dropped WebSocket for grace_ms. */
struct peer {
  struct app *app;
  uint64_t id;                    /* its id in matching */
  struct ws_conn *ws;             /* NULL while in grace */
  uint64_t sid;                   /* media session id, 0 before the offer or after a failure */
  uint64_t linked;                /* the session sid is linked to, 0 none */
  bool sess_ready;                /* the media session reported ready */
  char token[PEER_TOKEN_LEN + 1]; /* resume token */
  char ip[64];
  bool offered_on_ws;             /* an offer arrived on the current WebSocket */
  bool media_ready;               /* what matching was last told */
  enum match_state mq_state;      /* what matching's events say: IDLE, WAITING or PAIRED ... */
  match_id mq_partner;            /* ... with whom (0 unless PAIRED) (peer.c) */
  bool start_refused;             /* matching refused its latest start (signal.c) */
  bool mq_want;                   /* it has started and not stopped (for a cluster re-send) */
  struct matcher_cmd mq_start;    /* its latest start (tags, language) */
  match_id mq_blocks[MCLUSTER_REC_BLOCKS]; /* whom it blocked or was blocked by, newest last */
  match_id mq_recent[MCLUSTER_REC_RECENT]; /* its latest partners, newest last */
  uint8_t mq_nblocks, mq_nrecent;
  /* A partner on another node: the relay (cluster_relay.c). */
  uint64_t relay_base;            /* the pair's link id (low 12 bits: the opening) */
  uint64_t relay_sid;             /* the relay session linked to sid, 0 none */
  uint16_t relay_r_sent, relay_r_seen, relay_open_r;
  uint64_t relay_salt_mine, relay_salt_theirs; /* for r_sent, r_seen */
  bool relay_have_remote;
  struct sockaddr_storage relay_remote;
  uint64_t ws_lost_ms;            /* when the WebSocket went away (grace start), 0 if attached */
  uint64_t media_lost_ms;         /* when the session was replaced or failed, 0 if fine */
  struct ratelimit chat_rl;       /* chat messages */
  struct ratelimit offer_rl, resume_rl; /* limits against hostile clients (signal.c) */
  json_t *shared;                 /* the current pair's shared tags (owned), NULL if unpaired */
  bool have_partner_ts;           /* partner_ts is the current partner's first keyframe */
  uint32_t partner_ts;
  /* What operators see (visitlog.c): times from uv_now, 0 = not yet. */
  uint64_t visit_ms;              /* hello that began the visit */
  uint64_t ready_ms;              /* its media first flowed */
  uint64_t pool_ms;               /* it last entered the pool */
  uint64_t paired_ms;             /* its current pair began */
  uint64_t wait_ms;               /* how long it waited for that pair */
  match_id partner;               /* that pair's partner, 0 none */
  bool first_frame;               /* partner_video came for the current pair */
  uint32_t pairs, nexts;          /* in this visit */
  struct peer *prev, *next;       /* app->peers list */
  /* Limits against hostile clients (peer.c, docs/security.md). */
  uint64_t offer_due_ms;          /* an offer must arrive by then; 0 = none due */
  uint64_t ready_due_ms;          /* the offer's media must be ready by then; 0 = none due */
  struct peer *ip_prev, *ip_next; /* the visitors from this address (app->by_ip), newest first */
  struct peer *grace_prev, *grace_next; /* app->grace_*, oldest first, while in grace */
  struct ws_conn *probe_ws;       /* a resume waiting while the live ws is probed, or NULL;
                                     for a visit moving in (move_from), its WebSocket */
  match_id probe_remote;          /* a resume on another node waiting for the probe, 0 none */
  /* A visit moving in from another node (cluster_move.c): until both the old node's hand-over
   * and the matcher's answer are here, it has no ws (the hello's is probe_ws). */
  unsigned move_from;             /* the node it comes from, 0 = not moving */
  bool in_matching;               /* matching knows it (false while it moves in) */
  bool move_got_visit, move_got_state, move_fresh, moved_out;
  uint64_t move_due_ms;           /* given up (a new visit) by then */
  uint64_t move_link;             /* the pair's link id from the matcher's answer, 0 unknown */
  struct cw_visit *move_visit;    /* the hand-over (owned), NULL until it comes */
  uint64_t probe_rx;              /* ws_rx_bytes(ws) when the probe began */
  uint64_t probe_until_ms;        /* no bytes from ws by then: it is dead, the resume wins */
  /* Moderation (moderate.c, modsnap.c, report.c). */
  bool has_device, has_addr, dev_linked;
  struct device_id device;        /* from its device token (signed by this server) */
  char device_tok[DEVICE_TOKEN_LEN + 1];
  struct netaddr addr;            /* ip, parsed */
  struct peer *dev_prev, *dev_next; /* the live peers of this device */
  uint64_t last_partner;          /* the current or last partner, for a report */
  uint64_t last_partner_ms;       /* when that pair ended (uv_now), 0 while it lasts */
  struct device_id partner_dev;   /* the device of partner_dev_of, a partner on another node */
  match_id partner_dev_of;        /* (moddevices.c), 0 none */
  uint64_t report_times[8];       /* the reporter's latest reports (uv_now), a ring */
  unsigned report_next;
  struct modsnap_job *snap_job;   /* a snapshot being taken */
  uint8_t *snap_jpeg;             /* the latest snapshot (owned), NULL none */
  size_t snap_len;
  uint64_t snap_ms;               /* when its keyframe came (uv_now) */
  int snap_side;                  /* its max_side */
  uint64_t snap_pic;              /* its picture id (moderate_snapshot_fn's pic) */
  uint64_t classified_pic;        /* the picture the classifier last judged (classify.c), 0 none */
};

struct app_counters {
  uint64_t ws_opened, ws_messages, ws_errors, offers, offers_rejected;
  uint64_t matches, nexts, resumes, media_failures, chats, chats_dropped, blocks;
  uint64_t visits, moved, moved_in, moved_out;
  uint64_t banned_refused, device_refused, kicks, bans, reports, reports_failed;
  uint64_t snapshots, snapshots_failed, rate_limited;
};

/* A pair that ended during a signalling message; logged once the message's type is known. */
struct pair_end {
  match_id peer, partner; /* who ended it, who was left */
  uint64_t pair_ms;
};

enum drain_phase {
  DRAIN_NONE,
  DRAIN_RUNNING,  /* pairs finish; everyone else has been told to move */
  DRAIN_FLUSHING, /* everyone told; waiting (briefly) for their WebSockets to close */
};

struct app {
  uv_loop_t *loop;
  struct config cfg;
  char public_ip[256];          /* what answers advertise: public_ip, or detected (app.c) */
  bool public_ip6_detected;     /* detection added a global IPv6 address to it */
  struct dtls_cert *cert;
  struct mediaplane *media;
  struct httpd *httpd;
  struct httpd *metrics_httpd;  /* metrics_addr's listener, NULL when /metrics is public */
  struct httpd *redirect_httpd; /* http_redirect_port's listener (app_tls.c), or NULL */
  struct httpd_tls *tls;        /* tls_cert/tls_key as last loaded, or NULL */
  struct matchq *match;         /* matching (matchq.h): commands in, events out */
  size_t n_waiting, n_paired;   /* peers WAITING, PAIRED by their mq_state */
  unsigned node;                /* node_id in a cluster (redis_url), else 0 (cluster_app.c) */
  struct hmap *by_token;
  struct hmap *by_id;
  struct hmap *by_sid;
  struct peer *peers;           /* every peer, attached or in grace */
  size_t n_peers;
  uint64_t next_id;
  uv_timer_t tick;
  bool draining, closing;
  enum drain_phase drain;
  uint64_t drain_started, drain_deadline, drain_flush_until, drain_next_report;
  size_t moving_ws;             /* WebSockets told to move and not closed yet */
  void (*drained)(void *);
  void *drained_arg;
  int pending_closes;
  void (*done)(void *);
  void *done_arg;
  uint64_t started_ms;
  double started_wall;          /* Unix time of start-up (process_start_time_seconds) */
  struct app_counters n;
  /* Why pairs end right now (visitlog.c): a reason, or NULL inside a signalling message. */
  const char *cause;
  bool in_message;
  struct pair_end pending[4];
  size_t n_pending;
  struct metrics_hist h_connect, h_wait, h_first_frame;
  /* Limits against hostile clients (peer.c, docs/security.md). */
  struct iptab *by_ip;                   /* visitors per client address */
  struct peer *grace_head, *grace_tail;  /* visitors in grace, oldest first */
  struct moderate *mod;                  /* moderation (moderate.c), NULL when closed */
  struct classify *classify;             /* the classifier's rounds (classify.c), NULL = off */
  struct httpfetch *fetch;               /* the admin proxy's HTTP client (admin_proxy.c),
                                            NULL until a request to another node */
};

/* peer.c */
/* add: told to matching now (else later: a visit moving in, cluster_move.c). */
struct peer *peer_new(struct app *a, struct ws_conn *ws, const char *ip, bool add);
void peer_free(struct peer *p);                 /* forgets it everywhere, closes its session */
struct peer *peer_by_token(struct app *a, const char *token);
struct peer *peer_by_id(struct app *a, uint64_t id);
void peer_send(struct peer *p, json_t *msg);    /* steals msg; dropped while detached */
void peer_error(struct peer *p, struct ws_conn *ws, const char *code, const char *message,
                const char *ref);
void peer_ws_lost(struct peer *p);
void peer_update_away(struct peer *p); /* tells matching whether p is away (peer.c) */
void peer_set_media(struct peer *p, bool ready);
/* p's view of matching is now state with partner (from an event; keeps the counts). */
void peer_follow(struct peer *p, enum match_state state, match_id partner);
/* p blocks other (never to meet again): told to matching, and kept for a cluster re-send. */
int peer_block(struct peer *p, match_id other, uint64_t now);
void peer_send_state(struct peer *p);           /* {"type":"state"} with the current state */
void peer_send_resume(struct peer *p);          /* what a resumed client needs to catch up */
void app_dispatch_match(struct app *a);         /* drains match events into messages/links */
extern const struct mediaplane_events peer_media_events;
void peer_set_session(struct peer *p, uint64_t sid);   /* replaces (closes) the old one */
void peer_unlink(struct peer *p);
/* Limits against hostile clients (docs/security.md). Makes room for a new visitor from ip:
 * 0; or -EBUSY (ip has max_visitors_per_ip, none in grace), -ENOSPC (max_peers, none in
 * grace). It may free the oldest visitor in grace of that address, or of all. */
int peer_admit(struct app *a, const char *ip);
void peer_attach(struct peer *p, struct ws_conn *c);  /* a (new) WebSocket for p: out of grace */
void peer_offered(struct peer *p);                     /* an offer was accepted: READY is due */
void peer_tick(struct app *a, uint64_t now);           /* deadlines, resume probes */
/* A hello with p's token on c: resumes at once if p has no live WebSocket (or its one is
 * closing); otherwise pings the live one and decides within PEER_PROBE_MS: bytes from it
 * mean it is alive and c gets a new visit; none mean it is dead and c takes the visit over. */
void peer_resume_or_probe(struct peer *p, struct ws_conn *c);
void peer_welcome(struct peer *p, bool resumed);      /* welcome (a new token), and the state */
void peer_ws_closed(struct peer *p, struct ws_conn *c); /* on_ws_close of p's ws or probe_ws */

/* cluster_app.c -- the app's side of the cluster backend (server/cluster.h). */
void cluster_events(void *arg);
void cluster_resync(void *arg);
void cluster_peer_msg(void *arg, match_id to, match_id from, uint8_t kind, const uint8_t *data,
                      size_t len);
/* A peer id: node_id in its top bits in a cluster (match/cluster.h). */
uint64_t app_new_peer_id(struct app *a);
/* partner is on another node of the cluster (0 / unknown: false). */
bool app_partner_remote(struct app *a, match_id partner);
enum {
  CPM_CHAT = 1,
  CPM_PARTNER_RECONNECTED = 2,
  CPM_RELAY = 3,
  CPM_MOVE_ASK = 4,   /* to a node (serial 0), from the new id: the token (cluster_move.c) */
  CPM_MOVE_VISIT = 5, /* to the new id, from the old: the visit (struct cw_visit) */
  CPM_MOVE_NO = 6,    /* to the new id, from the old node: nothing moves */
  CPM_REPORT = 7,     /* to the reported, from the reporter: filed there (report.c) */
  CPM_REPORT_DONE = 8,/* to the reporter: the report's id, 0 failed, -1 gone */
  CPM_DEVICE = 9,     /* to the partner: this side's device id (moddevices.c) */
};
/* cluster_move.c -- a refreshed page that lands on another node keeps its visit and pair. */
/* A hello whose token names another node: true if it is being asked (c is taken). */
bool move_hello(struct app *a, struct ws_conn *c, const char *token, const char *device,
                size_t device_len);
void move_on_msg(struct app *a, match_id to, match_id from, uint8_t kind, const uint8_t *data,
                 size_t len);
void move_on_state(struct peer *p, const struct matcher_event *ev); /* the MOVE's answer */
void move_tick(struct app *a, uint64_t now);     /* gives up on slow moves */
/* The live WebSocket of p (asked for by another node) proved alive (false) or dead (true). */
void move_probe_done(struct peer *p, bool dead);
/* The node a token names (0: none, or not a cluster). */
unsigned move_token_node(const struct app *a, const char *token);
/* cluster_relay.c */
void relay_paired(struct peer *p, uint64_t link);   /* PAIRED: the link id kept; relay if remote */
void relay_announce(struct peer *p);                 /* p's session is (newly) ready */
void relay_close(struct peer *p);
void relay_on_msg(struct peer *p, const uint8_t *data, size_t len);

/* app.c: called by peer.c for every match event, after peer.c has handled it; and for every
 * error reply (p may be NULL: before hello). */
void app_on_match_event(struct app *a, struct peer *p, const struct matcher_event *ev);
void app_on_error(struct peer *p, const char *code, const char *message, const char *ref);

/* visitlog.c -- one log line per visitor event, and the latency histograms. */
void visitlog_init(struct app *a);
void visitlog_match_event(struct app *a, struct peer *p, const struct matcher_event *ev);
void visitlog_message_done(struct app *a, struct ws_conn *c, struct peer *before,
                           const char *data, size_t len);
void visitlog_ready(struct app *a, struct peer *p, const char *profile);
void visitlog_partner_video(struct app *a, struct peer *p);
void visitlog_error(struct peer *p, const char *code, const char *message, const char *ref);
void visitlog_end(struct app *a, struct peer *p, const char *reason); /* before peer_free */

/* drain.c -- SIGTERM: move everyone not in a pair elsewhere, let pairs finish, exit. */
void drain_start(struct app *a);
void drain_match_event(struct app *a, struct peer *p, const struct matcher_event *ev);
void drain_tick(struct app *a, uint64_t now);   /* may call app_close */
bool drain_ws_closed(struct app *a, struct ws_conn *c); /* true: one we had told to move */
void drain_tell_all(struct app *a, const char *reason); /* best effort, before app_close */

/* app_tls.c -- tls_cert/tls_key on the public listener, and http_redirect_port. */
/* Loads the certificate onto a->httpd (before it listens): 0, or -EINVAL logged. */
int app_tls_load(struct app *a);
/* With TLS and media_on_https_port: the HTTPS port takes ICE-TCP media too, and answers
 * offer it as a candidate (after httpd_listen: the port must be known). */
void app_tls_media(struct app *a);
/* The redirect listener, if configured: 0, or a negative errno logged. */
int app_tls_listen_redirect(struct app *a);

/* signal.c */
void signal_on_message(struct app *a, struct ws_conn *c, const char *data, size_t len);
/* A hello that starts a visit, with its device token (NULL: none). */
void signal_new_visit(struct app *a, struct ws_conn *c, const char *device, size_t device_len);
/* The admission of a new visit (draining, bans, limits): its peer, not yet attached to c, or
 * NULL with c told why. add: as peer_new. */
struct peer *signal_admit(struct app *a, struct ws_conn *c, const char *device, size_t device_len,
                          bool add);

#endif
