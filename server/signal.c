/* signal.c -- the WebSocket signalling protocol (docs/protocol.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/sdp.h"
#include "server/app_int.h"
#include "server/cluster.h"
#include "server/log.h"
#include "server/moderate.h"
#include "server/sigmsg.h"

/* A hello that starts a visit: refused while draining, over the address's or the server's
 * limit (peer_admit may make room by ending visits in grace); otherwise welcomed. */
struct peer *signal_admit(struct app *a, struct ws_conn *c, const char *device, size_t device_len,
                          bool add) {
  if (a->draining) {
    peer_error(NULL, c, "draining", "this server is being taken out of service; reconnect",
               "hello");
    ws_close(c, 1013, "draining");
    return NULL;
  }
  /* A banned device or address is told so, whatever else. */
  if (!moderate_admit(a, c, device, device_len))
    return NULL;
  int rc = peer_admit(a, ws_remote_ip(c));
  if (rc == -EBUSY) {
    peer_error(NULL, c, "ip_limit",
               "too many visitors from your network; try again when one of them has left",
               "hello");
    ws_close(c, 1013, "ip limit");
    return NULL;
  }
  if (rc) {
    peer_error(NULL, c, "full", "the server is full; try again in a minute", "hello");
    ws_close(c, 1013, "full");
    return NULL;
  }
  struct peer *p = peer_new(a, add ? c : NULL, ws_remote_ip(c), add);
  if (!p) {
    peer_error(NULL, c, "internal", "out of memory", "hello");
    return NULL;
  }
  moderate_peer_new(p, device, device_len);
  return p;
}

void signal_new_visit(struct app *a, struct ws_conn *c, const char *device, size_t device_len) {
  struct peer *p = signal_admit(a, c, device, device_len, true);
  if (!p)
    return;
  ws_set_data(c, p);
  peer_attach(p, c);
  peer_welcome(p, false);
}

/* Limits against hostile clients (docs/security.md, finding 5): every offer costs a media
 * session and a DTLS handshake, so offers are limited per visitor and per address, and
 * resumes (each may bring an offer) per visit. true = allowed; else the client was told. */
static bool limit_ok(struct app *a, struct peer *p, struct ws_conn *c, struct ratelimit *rl,
                     const char *ref, const char *what) {
  uint64_t now = uv_now(a->loop);
  if (ratelimit_take(rl, now))
    return true;
  json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "error", "code", "rate_limited",
                        "message", what, "ref", ref, "retry_ms",
                        (json_int_t)ratelimit_wait_ms(rl, now));
  char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
  json_decref(e);
  struct ws_conn *ws = c ? c : p->ws;
  if (s && ws)
    ws_send_text(ws, s, strlen(s));
  free(s);
  a->n.rate_limited++;
  app_on_error(p, "rate_limited", what, ref);
  return false;
}

static bool offer_allowed(struct app *a, struct peer *p) {
  if (a->cfg.offers_per_min &&
      !limit_ok(a, p, NULL, &p->offer_rl, "offer", "too many offers: wait a little"))
    return false;
  if (!a->cfg.offers_per_min_per_ip)
    return true;
  struct iptab_entry *e = iptab_get(a->by_ip, p->ip);
  if (!e)
    return true;
  if (!e->rl_ready) {
    uint32_t pm = (uint32_t)a->cfg.offers_per_min_per_ip;
    ratelimit_init_per_min(&e->offers, pm > 1 ? pm / 2 : 1, pm, uv_now(a->loop));
    e->rl_ready = true;
  }
  return limit_ok(a, p, NULL, &e->offers, "offer",
                  "too many offers from your network: wait a little");
}

static void on_hello(struct app *a, struct ws_conn *c, const struct sigmsg *msg) {
  struct peer *p = ws_get_data(c);
  if (p) {
    peer_error(p, c, "bad_state", "hello was already sent on this connection", "hello");
    return;
  }
  /* Same visitor, new WebSocket: a refresh or a network switch. The visit is taken over
   * only from a connection that is gone, or proves dead (peer_resume_or_probe); a token
   * that cannot resume anything starts a new visit, as no token does. */
  if (msg->resume && move_hello(a, c, msg->resume, msg->device, msg->device_len))
    return; /* a token of another node: the visit may move here (cluster_move.c) */
  if (msg->resume && (p = peer_by_token(a, msg->resume)) != NULL && !p->probe_ws &&
      !p->probe_remote && !p->move_from) {
    if (a->cfg.resumes_per_min &&
        !limit_ok(a, p, c, &p->resume_rl, "hello", "too many reconnects: wait a little")) {
      ws_close(c, 1013, "rate limited");
      return;
    }
    peer_resume_or_probe(p, c);
    return;
  }
  signal_new_visit(a, c, msg->device, msg->device_len);
}

static void on_offer(struct app *a, struct peer *p, const struct sigmsg *msg) {
  if (p->offered_on_ws) {
    peer_error(p, NULL, "already_negotiated",
               "this connection already has media; Tandem never renegotiates", "offer");
    return;
  }
  if (!offer_allowed(a, p))
    return;
  a->n.offers++;
  struct sdp_offer *o = malloc(sizeof(*o));
  if (!o) {
    peer_error(p, NULL, "internal", "out of memory", "offer");
    return;
  }
  const char *err = "unreadable offer";
  int rc = sdp_parse_offer(msg->sdp, msg->sdp_len, o, &err);
  if (rc) {
    a->n.offers_rejected++;
    peer_error(p, NULL, "bad_offer", err, "offer");
    free(o);
    return;
  }
  char answer[8192];
  uint64_t sid;
  rc = mediaplane_new_session(a->media, o, answer, sizeof(answer), &sid);
  free(o);
  if (rc) {
    a->n.offers_rejected++;
    peer_error(p, NULL, "bad_offer", "could not build an answer for this offer", "offer");
    return;
  }
  if (p->sid) {
    /* A refreshed page brings a new RTCPeerConnection: its session replaces the old one. The
     * pair survives if the new media arrives within silence_ms. */
    if (!p->media_lost_ms) {
      p->media_lost_ms = uv_now(a->loop);
      peer_update_away(p);
    }
  }
  /* Whoever sends this offer, the partner is told that the media they will see next comes
   * from a new session of this visit (its partner_video follows with the first keyframe). */
  struct peer *q = p->mq_partner ? peer_by_id(a, p->mq_partner) : NULL;
  if (q)
    peer_send(q, json_pack("{s:s}", "type", "partner_reconnected"));
  else if (app_partner_remote(a, p->mq_partner))
    cluster_peer_send(a->match, p->mq_partner, p->id, CPM_PARTNER_RECONNECTED, NULL, 0);
  p->have_partner_ts = false;
  peer_set_session(p, sid);
  p->offered_on_ws = true;
  peer_offered(p);
  peer_send(p, json_pack("{s:s, s:s}", "type", "answer", "sdp", answer));
}

static void on_start(struct app *a, struct peer *p, const struct sigmsg *msg) {
  if (!p->sid) {
    peer_error(p, NULL, "bad_state", "send an offer before start", "start");
    return;
  }
  struct matcher_cmd cmd;
  if (matcher_cmd_start(&cmd, p->id, msg->tags, msg->n_tags, msg->lang) < 0) {
    peer_error(p, NULL, "bad_message",
               "interests: at most 10, each at most 32 bytes; no control characters", "start");
    return;
  }
  p->start_refused = false;
  p->mq_want = true;
  p->mq_start = cmd;
  if (matchq_submit(a->match, &cmd, uv_now(a->loop)) < 0) {
    peer_error(p, NULL, "internal", "out of memory", "start");
    return;
  }
  /* Waiting for its media: matching keeps the wish until then. With the local engine a
   * refusal has been heard already (the errors above); from a remote matcher it may follow. */
  if (!p->media_ready) {
    app_dispatch_match(a);
    if (!p->start_refused)
      peer_send(p, json_pack("{s:s, s:s}", "type", "state", "state", "connecting"));
    return;
  }
  app_dispatch_match(a);
}

static void on_next(struct app *a, struct peer *p) {
  a->n.nexts++;
  /* Refusals (press start first, cooling down) come back as events (peer.c). */
  if (matchq_send(a->match, MATCHER_NEXT, p->id, 0, false, uv_now(a->loop)) < 0)
    peer_error(p, NULL, "internal", "out of memory", "next");
  app_dispatch_match(a);
}

static void on_chat(struct app *a, struct peer *p, const struct sigmsg *msg) {
  uint64_t now = uv_now(a->loop);
  struct peer *q = p->mq_partner ? peer_by_id(a, p->mq_partner) : NULL;
  bool remote = !q && app_partner_remote(a, p->mq_partner);
  if (!q && !remote) {
    a->n.chats_dropped++;
    peer_error(p, NULL, "not_paired", "there is nobody to chat with right now", "chat");
    return;
  }
  if (!ratelimit_take(&p->chat_rl, now)) {
    a->n.chats_dropped++;
    json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "error", "code", "rate_limited",
                          "message", "You are sending messages too fast.", "ref", "chat",
                          "retry_ms", (json_int_t)ratelimit_wait_ms(&p->chat_rl, now));
    peer_send(p, e);
    return;
  }
  if (remote) { /* the partner's node hands it on (cluster_app.c) */
    if (cluster_peer_send(a->match, p->mq_partner, p->id, CPM_CHAT, msg->text, msg->text_len))
      a->n.chats_dropped++;
    return;
  }
  a->n.chats++;
  peer_send(q, json_pack("{s:s, s:s%}", "type", "chat", "text", msg->text, msg->text_len));
}

/* Ends the pair with the current partner and never pairs the two again. */
static void on_block(struct app *a, struct peer *p) {
  match_id partner = p->mq_partner;
  if (!partner) {
    peer_error(p, NULL, "not_paired", "there is nobody to block right now", "block");
    return;
  }
  a->n.blocks++;
  moderate_block(a, p, peer_by_id(a, partner));
  if (peer_block(p, partner, uv_now(a->loop)) < 0)
    peer_error(p, NULL, "internal", "out of memory", "block");
  app_dispatch_match(a);
}

static void on_stop(struct app *a, struct peer *p) {
  p->mq_want = false;
  if (matchq_send(a->match, MATCHER_STOP, p->id, 0, false, uv_now(a->loop)) < 0)
    peer_error(p, NULL, "internal", "out of memory", "stop");
  app_dispatch_match(a);
}

void signal_on_message(struct app *a, struct ws_conn *c, const char *data, size_t len) {
  struct peer *p = ws_get_data(c);
  struct sigmsg m;
  struct sigmsg_error e;
  a->n.ws_messages++;
  /* Parsed and validated whole before anything changes (sigmsg.c, fuzzed). */
  if (sigmsg_parse(data, len, &m, &e)) {
    peer_error(p, c, e.code, e.message, e.ref[0] ? e.ref : NULL);
    return;
  }
  if (m.type == SIGMSG_HELLO) {
    on_hello(a, c, &m);
  } else if (p && p->ws != c) {
    /* A resume waiting for the visit's old connection to prove itself alive or dead. */
    peer_error(NULL, c, "bad_state", "wait for welcome", m.type_name);
  } else if (!p) {
    peer_error(NULL, c, "bad_state", "send hello first", m.type_name);
  } else {
    switch (m.type) {
    case SIGMSG_OFFER: on_offer(a, p, &m); break;
    case SIGMSG_START: on_start(a, p, &m); break;
    case SIGMSG_NEXT: on_next(a, p); break;
    case SIGMSG_STOP: on_stop(a, p); break;
    case SIGMSG_CHAT: on_chat(a, p, &m); break;
    case SIGMSG_BLOCK: on_block(a, p); break;
    case SIGMSG_REPORT: moderate_report(a, p, &m); break;
    case SIGMSG_PING: peer_send(p, json_pack("{s:s}", "type", "pong")); break;
    default: break;
    }
  }
  sigmsg_clear(&m);
}
