/* peer.c -- a visitor's lifetime: WebSocket, media session, grace and the match events. */
#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "server/app_int.h"
#include "server/log.h"
#include "server/moderate.h"
#include "server/sigmsg.h"

/* 32 hex digits; in a cluster the first three name the node (cluster_move.c), the other 29
 * (116 bits) are random. */
static void make_token(char out[PEER_TOKEN_LEN + 1], unsigned node) {
  unsigned char raw[PEER_TOKEN_LEN / 2];
  if (RAND_bytes(raw, sizeof(raw)) != 1)
    for (size_t i = 0; i < sizeof(raw); i++)
      raw[i] = (unsigned char)random();
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < sizeof(raw); i++) {
    out[2 * i] = hex[raw[i] >> 4];
    out[2 * i + 1] = hex[raw[i] & 15];
  }
  if (node) {
    out[0] = hex[(node >> 8) & 15];
    out[1] = hex[(node >> 4) & 15];
    out[2] = hex[node & 15];
  }
  out[PEER_TOKEN_LEN] = 0;
}

/* ---- limits against hostile clients (docs/security.md) ---- */


static void grace_del(struct peer *p) {
  struct app *a = p->app;
  if (!p->grace_prev && a->grace_head != p)
    return;
  if (p->grace_prev)
    p->grace_prev->grace_next = p->grace_next;
  else
    a->grace_head = p->grace_next;
  if (p->grace_next)
    p->grace_next->grace_prev = p->grace_prev;
  else
    a->grace_tail = p->grace_prev;
  p->grace_prev = p->grace_next = NULL;
}

static void grace_add(struct peer *p) {
  struct app *a = p->app;
  grace_del(p);
  p->grace_prev = a->grace_tail;
  if (a->grace_tail)
    a->grace_tail->grace_next = p;
  else
    a->grace_head = p;
  a->grace_tail = p;
}

static int ip_add(struct peer *p) {
  struct iptab_entry *e = iptab_ref(p->app->by_ip, p->ip);
  if (!e)
    return -ENOMEM;
  p->ip_next = e->head;
  if (p->ip_next)
    p->ip_next->ip_prev = p;
  e->head = p;
  e->n++;
  return 0;
}

static void ip_del(struct peer *p) {
  struct app *a = p->app;
  struct iptab_entry *e = iptab_get(a->by_ip, p->ip);
  if (!e)
    return;
  if (p->ip_prev)
    p->ip_prev->ip_next = p->ip_next;
  else if (e->head == p)
    e->head = p->ip_next;
  if (p->ip_next)
    p->ip_next->ip_prev = p->ip_prev;
  p->ip_prev = p->ip_next = NULL;
  e->n--;
  iptab_release(a->by_ip, p->ip);
}

int peer_admit(struct app *a, const char *ip) {
  struct iptab_entry *e = iptab_get(a->by_ip, ip);
  struct peer *q, *oldest = NULL;
  /* A visitor in grace has lost its page (a reload, a vanished tab): a new visitor from
   * the same address most likely is that page again, so it takes the oldest one's place. A
   * burst of hello-and-close from one address therefore never holds more than its cap. */
  if (e && a->cfg.max_visitors_per_ip > 0 && e->n >= (unsigned)a->cfg.max_visitors_per_ip) {
    for (q = e->head; q; q = q->ip_next)
      if (!q->ws && !q->move_from)
        oldest = q; /* newest first: the last one found is the oldest */
    if (!oldest)
      return -EBUSY;
    log_event(LOG_INFO, "grace_replaced", LF_UINT("peer", oldest->id),
              LF_STR("limit", "max_visitors_per_ip"), LF_IP("ip", ip));
    visitlog_end(a, oldest, "replaced");
    peer_free(oldest);
  }
  /* A full server prefers a visitor who is here to one who has gone. */
  if ((int)a->n_peers >= a->cfg.max_peers) {
    if (!a->grace_head)
      return -ENOSPC;
    oldest = a->grace_head;
    log_event(LOG_INFO, "grace_replaced", LF_UINT("peer", oldest->id),
              LF_STR("limit", "max_peers"), LF_IP("ip", ip));
    visitlog_end(a, oldest, "replaced");
    peer_free(oldest);
  }
  return 0;
}

void peer_attach(struct peer *p, struct ws_conn *c) {
  struct app *a = p->app;
  uint64_t now = uv_now(a->loop);
  grace_del(p);
  p->ws = c;
  p->ws_lost_ms = 0;
  peer_update_away(p); /* back (a resume): it kept its place while away */
  p->offered_on_ws = false;
  /* A visit without a media session must offer soon; one whose session survived (a
   * network switch) keeps its READY deadline, if it still has one. */
  p->offer_due_ms = !p->sid && a->cfg.offer_timeout_ms > 0
                        ? now + (uint64_t)a->cfg.offer_timeout_ms : 0;
}

void peer_offered(struct peer *p) {
  struct app *a = p->app;
  p->offer_due_ms = 0;
  p->ready_due_ms = a->cfg.ready_timeout_ms > 0
                        ? uv_now(a->loop) + (uint64_t)a->cfg.ready_timeout_ms : 0;
}

/* Ends a visit that missed a deadline: told why, its WebSocket closed, gone at once. */
static void peer_expire(struct peer *p, const char *why) {
  struct ws_conn *c = p->ws;
  peer_error(p, NULL, "timeout", why, NULL);
  ws_close(c, 4008, "timeout");
  visitlog_end(p->app, p, "timeout");
  peer_free(p);
}

/* A new token on every welcome: a token works once, and whoever saw an old one (a log, a
 * shoulder, an old tab) can no longer use it. */
static void rotate_token(struct peer *p) {
  struct app *a = p->app;
  hmap_del(a->by_token, p->token, PEER_TOKEN_LEN);
  do
    make_token(p->token, a->node);
  while (hmap_get(a->by_token, p->token, PEER_TOKEN_LEN));
  if (hmap_put(a->by_token, p->token, PEER_TOKEN_LEN, p))
    log_event(LOG_WARN, "token_lost", LF_UINT("peer", p->id), LF_STR("error", "out of memory"));
}

void peer_welcome(struct peer *p, bool resumed) {
  if (resumed)
    rotate_token(p);
  json_t *w = json_pack("{s:s, s:s, s:b}", "type", "welcome", "resume", p->token, "resumed",
                        resumed);
  if (w && p->device_tok[0])
    json_object_set_new(w, "device", json_string(p->device_tok));
  peer_send(p, w);
  if (resumed)
    peer_send_resume(p);
}

/* c takes p's visit over; p's old WebSocket, if any, is told and closed. */
static void resume_on(struct peer *p, struct ws_conn *c) {
  struct ws_conn *old = p->ws;
  if (old) {
    ws_set_data(old, NULL);
    peer_error(NULL, old, "resumed_elsewhere", "this visit was resumed on another connection",
               NULL);
    ws_close(old, 4000, "resumed elsewhere");
  }
  ws_set_data(c, p);
  peer_attach(p, c);
  p->app->n.resumes++;
  peer_welcome(p, true);
  app_dispatch_match(p->app); /* after the welcome: it may pair at once */
}

void peer_resume_or_probe(struct peer *p, struct ws_conn *c) {
  struct app *a = p->app;
  if (!p->ws || ws_ping(p->ws) != 0) {
    resume_on(p, c);
    return;
  }
  p->probe_ws = c;
  p->probe_rx = ws_rx_bytes(p->ws);
  p->probe_until_ms = uv_now(a->loop) + PEER_PROBE_MS;
  ws_set_data(c, p); /* claimed, and marked as waiting: p->ws != c */
}

/* c was attached to a visit outside of its hello message (a probe's outcome): what operators
 * see of it (visit_start or visit_resume), as for a hello that attaches at once. */
static void attached_later(struct app *a, struct ws_conn *c) {
  visitlog_message_done(a, c, NULL, "", 0);
}

/* A probe's outcome, if there is one yet: true if it ended (peers may have been freed). */
static bool probe_check(struct peer *p, uint64_t now) {
  struct ws_conn *c = p->probe_ws;
  if (p->probe_remote) { /* for a resume on another node (cluster_move.c) */
    bool alive = ws_rx_bytes(p->ws) != p->probe_rx;
    if (!alive && now < p->probe_until_ms)
      return false;
    move_probe_done(p, !alive);
    return true;
  }
  if (ws_rx_bytes(p->ws) != p->probe_rx) {
    /* The visit's connection is alive: it keeps the visit, the newcomer starts its own. */
    log_event(LOG_INFO, "resume_refused", LF_UINT("peer", p->id),
              LF_STR("why", "its connection is alive"));
    p->probe_ws = NULL;
    ws_set_data(c, NULL);
    /* The same browser (it had the visit's token): the visit's device. */
    signal_new_visit(p->app, c, p->device_tok[0] ? p->device_tok : NULL, strlen(p->device_tok));
    attached_later(p->app, c);
    return true;
  }
  if (now < p->probe_until_ms)
    return false;
  p->probe_ws = NULL;
  resume_on(p, c);
  attached_later(p->app, c);
  return true;
}

void peer_ws_closed(struct peer *p, struct ws_conn *c) {
  struct ws_conn *waiting = p->probe_ws;
  if (waiting == c) {
    p->probe_ws = NULL; /* the would-be resumer left */
    if (p->move_from) { /* a visit moving in, with nobody left to welcome */
      visitlog_end(p->app, p, "left");
      peer_free(p);
    }
    return;
  }
  if (p->ws != c)
    return;
  peer_ws_lost(p);
  if (p->probe_remote) {
    move_probe_done(p, true); /* the resume on another node wins */
    return;
  }
  if (waiting) {
    p->probe_ws = NULL;
    resume_on(p, waiting);
    attached_later(p->app, waiting);
  }
}

void peer_tick(struct app *a, uint64_t now) {
  struct peer *p, *next;
  char why[96];
  /* A probe's end may start a visit, which may free any visitor in grace: start over. */
again:
  for (p = a->peers; p; p = p->next)
    if (((p->probe_ws && !p->move_from) || p->probe_remote) && probe_check(p, now))
      goto again;
  move_tick(a, now);
  for (p = a->peers; p; p = next) {
    next = p->next;
    if (!p->ws)
      continue;
    if (p->offer_due_ms && now >= p->offer_due_ms) {
      snprintf(why, sizeof(why), "no offer within %d ms of hello", a->cfg.offer_timeout_ms);
      peer_expire(p, why);
    } else if (p->ready_due_ms && now >= p->ready_due_ms) {
      snprintf(why, sizeof(why), "media did not start within %d ms of the offer",
               a->cfg.ready_timeout_ms);
      peer_expire(p, why);
    }
  }
}

struct peer *peer_new(struct app *a, struct ws_conn *ws, const char *ip, bool add) {
  struct peer *p = calloc(1, sizeof(*p));
  if (!p)
    return NULL;
  p->app = a;
  p->id = app_new_peer_id(a);
  p->in_matching = add;
  p->ws = ws;
  make_token(p->token, a->node);
  snprintf(p->ip, sizeof(p->ip), "%s", ip ? ip : "");
  uint32_t om = (uint32_t)a->cfg.offers_per_min, rm = (uint32_t)a->cfg.resumes_per_min;
  ratelimit_init_per_min(&p->offer_rl, om > 1 ? om / 2 : 1, om, uv_now(a->loop));
  ratelimit_init_per_min(&p->resume_rl, rm > 1 ? rm / 2 : 1, rm, uv_now(a->loop));
  ratelimit_init(&p->chat_rl, (uint32_t)a->cfg.chat_burst, (uint32_t)a->cfg.chat_per_sec,
                 uv_now(a->loop));
  if (ip_add(p)) {
    free(p);
    return NULL;
  }
  if (hmap_put(a->by_token, p->token, PEER_TOKEN_LEN, p) ||
      hmap_put(a->by_id, &p->id, sizeof(p->id), p) ||
      (add && matchq_send(a->match, MATCHER_ADD, p->id, 0, false, uv_now(a->loop)) != 0)) {
    hmap_del(a->by_token, p->token, PEER_TOKEN_LEN);
    hmap_del(a->by_id, &p->id, sizeof(p->id));
    ip_del(p);
    free(p);
    return NULL;
  }
  p->mq_state = MATCH_IDLE;
  p->next = a->peers;
  if (a->peers)
    a->peers->prev = p;
  a->peers = p;
  a->n_peers++;
  return p;
}

void peer_free(struct peer *p) {
  struct app *a = p->app;
  /* A visit that moved to another node lives on in matching under its new id. */
  int rc = p->moved_out ? 0 : matchq_send(a->match, MATCHER_REMOVE, p->id, 0, false, uv_now(a->loop));
  if (rc < 0)
    log_event(LOG_ERROR, "match_error", LF_UINT("peer", p->id), LF_STR("call", "remove"),
              LF_STR("error", uv_strerror(rc)));
  peer_follow(p, MATCH_IDLE, 0); /* out of the counts */
  peer_set_session(p, 0);
  moderate_peer_free(p);
  if (p->ws)
    ws_set_data(p->ws, NULL);
  if (p->probe_ws) {
    /* A resume waiting for a visit that is gone: it may start over. */
    ws_set_data(p->probe_ws, NULL);
    ws_close(p->probe_ws, 1013, "try again");
  }
  hmap_del(a->by_token, p->token, PEER_TOKEN_LEN);
  hmap_del(a->by_id, &p->id, sizeof(p->id));
  grace_del(p);
  ip_del(p);
  if (p->prev)
    p->prev->next = p->next;
  else
    a->peers = p->next;
  if (p->next)
    p->next->prev = p->prev;
  a->n_peers--;
  json_decref(p->shared);
  free(p->move_visit);
  free(p);
  /* The partner learns of the departure from the events the removal brings. */
  app_dispatch_match(a);
}

struct peer *peer_by_token(struct app *a, const char *token) {
  if (strlen(token) != PEER_TOKEN_LEN)
    return NULL;
  return hmap_get(a->by_token, token, PEER_TOKEN_LEN);
}

struct peer *peer_by_id(struct app *a, uint64_t id) { return hmap_get(a->by_id, &id, sizeof(id)); }

static void send_json(struct ws_conn *ws, json_t *msg) {
  if (!ws) { /* a visit without a connection (in grace, or moving in) */
    json_decref(msg);
    return;
  }
  char *s = json_dumps(msg, JSON_COMPACT);
  json_decref(msg);
  if (!s)
    return;
  ws_send_text(ws, s, strlen(s));
  free(s);
}

void peer_send(struct peer *p, json_t *msg) {
  if (!p->ws) {
    json_decref(msg);
    return;
  }
  send_json(p->ws, msg);
}

void peer_error(struct peer *p, struct ws_conn *ws, const char *code, const char *message,
                const char *ref) {
  /* Whatever the message quotes, the reply is valid UTF-8 and goes out: json_pack would
   * refuse anything else, and the error would vanish. */
  char text[SIGMSG_TEXT_MAX + 1], r[SIGMSG_REF_MAX + 1];
  sigmsg_utf8_copy(text, sizeof(text), message, strlen(message));
  json_t *m = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", text);
  if (!m)
    return;
  if (ref) {
    sigmsg_utf8_copy(r, sizeof(r), ref, strlen(ref));
    json_object_set_new(m, "ref", json_string(r));
  }
  if (p)
    p->app->n.ws_errors++;
  app_on_error(p, code, message, ref);
  send_json(ws ? ws : p->ws, m);
}

/* The WebSocket went away: keep the peer (and its pair, while its media flows) for grace_ms. */
/* Away, for the match engine: nobody can tell it `matched` (no WebSocket: a vanished visitor's
 * media runs on until silence_ms), or its media is being replaced (a reloaded page's new session
 * is not READY yet, and may not be within silence_ms). Either way someone new would meet a
 * frozen picture: it keeps the pair it has, but meets nobody new until both are back. */
void peer_update_away(struct peer *p) {
  struct app *a = p->app;
  matchq_send(a->match, MATCHER_AWAY, p->id, 0, !p->ws || p->media_lost_ms != 0,
              uv_now(a->loop));
}

void peer_ws_lost(struct peer *p) {
  p->ws = NULL;
  p->offered_on_ws = false;
  p->ws_lost_ms = uv_now(p->app->loop);
  peer_update_away(p);
  grace_add(p);
}

void peer_set_media(struct peer *p, bool ready) {
  struct app *a = p->app;
  if (p->media_ready == ready)
    return;
  p->media_ready = ready;
  int rc = matchq_send(a->match, MATCHER_READY, p->id, 0, ready, uv_now(a->loop));
  if (rc < 0)
    log_event(LOG_ERROR, "match_error", LF_UINT("peer", p->id),
              LF_STR("call", ready ? "set_ready" : "set_not_ready"),
              LF_STR("error", uv_strerror(rc)));
  app_dispatch_match(a);
}

static const char *state_name(enum match_state s, bool ready) {
  switch (s) {
  case MATCH_WAITING: return "waiting";
  case MATCH_PAIRED: return "paired";
  default: return ready ? "ready" : "connecting";
  }
}

/* Unlinks p's session (and the partner's link back to it). */
void peer_unlink(struct peer *p) {
  struct app *a = p->app;
  relay_close(p);
  if (!p->linked)
    return;
  struct peer *q = hmap_get(a->by_sid, &p->linked, sizeof(p->linked));
  if (q && q->linked == p->sid) {
    mediaplane_unlink(a->media, q->sid);
    q->linked = 0;
  }
  if (p->sid)
    mediaplane_unlink(a->media, p->sid);
  p->linked = 0;
}

void peer_set_session(struct peer *p, uint64_t sid) {
  struct app *a = p->app;
  if (p->sid) {
    peer_unlink(p);
    hmap_del(a->by_sid, &p->sid, sizeof(p->sid));
    mediaplane_close_session(a->media, p->sid);
  }
  p->sid = sid;
  p->sess_ready = false;
  if (sid)
    hmap_put(a->by_sid, &sid, sizeof(sid), p);
}

/* Both sessions exist and are ready: they feed each other from now on. */
static void link_pair(struct peer *p, struct peer *q) {
  if (!p->sid || !q->sid || !p->sess_ready || !q->sess_ready)
    return;
  if (p->linked == q->sid && q->linked == p->sid)
    return;
  peer_unlink(p);
  peer_unlink(q);
  mediaplane_link(p->app->media, p->sid, q->sid);
  p->linked = q->sid;
  q->linked = p->sid;
}

/* p's view of its state (mq_state, mq_partner), and the counts of waiting and paired peers. */
void peer_follow(struct peer *p, enum match_state state, match_id partner) {
  struct app *a = p->app;
  if (p->mq_state == MATCH_WAITING)
    a->n_waiting--;
  else if (p->mq_state == MATCH_PAIRED)
    a->n_paired--;
  p->mq_state = state;
  p->mq_partner = state == MATCH_PAIRED ? partner : 0;
  if (state == MATCH_WAITING)
    a->n_waiting++;
  else if (state == MATCH_PAIRED)
    a->n_paired++;
}

/* Appends id to a ring of n at most cap, newest last (an id already there moves to the end). */
static void ring_note(match_id *ring, uint8_t *n, unsigned cap, match_id id) {
  unsigned k = 0;
  for (unsigned i = 0; i < *n; i++)
    if (ring[i] != id)
      ring[k++] = ring[i];
  if (k == cap) {
    memmove(ring, ring + 1, (cap - 1) * sizeof(*ring));
    k--;
  }
  ring[k++] = id;
  *n = (uint8_t)k;
}

int peer_block(struct peer *p, match_id other, uint64_t now) {
  ring_note(p->mq_blocks, &p->mq_nblocks, MCLUSTER_REC_BLOCKS, other);
  return matchq_send(p->app->match, MATCHER_BLOCK, p->id, other, false, now);
}

static void send_cooldown(struct peer *p, const char *ref, uint64_t until_ms) {
  uint64_t now = uv_now(p->app->loop);
  json_t *m = json_pack("{s:s, s:s, s:s, s:I}", "type", "error", "code", "cooldown", "message",
                        "Too many skips: take a breath, you will be back in the queue in a few "
                        "seconds.",
                        "retry_ms", (json_int_t)(until_ms > now ? until_ms - now : 0));
  if (m && ref)
    json_object_set_new(m, "ref", json_string(ref));
  peer_send(p, m);
}

/* Matching said no to one of p's commands. */
static void refused(struct peer *p, const struct matcher_event *ev) {
  int rc = ev->code;
  if (rc == -ENOMEM || rc == -ENOSPC) {
    peer_error(p, NULL, "internal", "out of memory", matcher_cmd_name(ev->cmd));
    return;
  }
  /* A block or memory of someone already gone (told by another node a moment late). */
  if (rc == -ENOENT && (ev->cmd == MATCHER_BLOCK || ev->cmd == MATCHER_REMEMBER))
    return;
  switch (ev->cmd) {
  case MATCHER_START:
    p->start_refused = true;
    p->mq_want = false;
    if (rc == -EINVAL)
      peer_error(p, NULL, "bad_message",
                 "interests: at most 10, each at most 32 bytes; no control characters", "start");
    else if (rc == -EBUSY)
      peer_error(p, NULL, "cooldown",
                 "Too many skips: wait a few seconds before starting again", "start");
    else if (rc == -EPERM)
      peer_error(p, NULL, "banned", "you cannot be matched right now", "start");
    return;
  case MATCHER_NEXT:
    /* Over the limit while paired comes as MATCHER_EV_COOLDOWN; this is a Next while already
     * cooling down. */
    if (rc == -EINVAL)
      peer_error(p, NULL, "bad_state", "press start first", "next");
    else if (rc == -EBUSY)
      send_cooldown(p, "next", ev->until_ms);
    return;
  case MATCHER_BLOCK:
  case MATCHER_STOP:
    peer_error(p, NULL, "internal", "out of memory", matcher_cmd_name(ev->cmd));
    return;
  default:
    log_event(LOG_ERROR, "match_error", LF_UINT("peer", p->id),
              LF_STR("call", matcher_cmd_name(ev->cmd)), LF_STR("error", uv_strerror(rc)));
    return;
  }
}

void app_dispatch_match(struct app *a) {
  struct matcher_event ev;
  while (matchq_poll(a->match, &ev) == 1) {
    struct peer *p = peer_by_id(a, ev.peer);
    if (!p) {
      /* Paired, or moved here, but gone from here (its removal lost on the way, or a move
       * given up): the matcher is told again, so the partner is not left with a ghost. */
      if ((ev.type == MATCHER_EV_PAIRED || ev.type == MATCHER_EV_STATE) && a->node &&
          MCLUSTER_NODE_OF(ev.peer) == a->node)
        matchq_send(a->match, MATCHER_REMOVE, ev.peer, 0, false, uv_now(a->loop));
      continue;
    }
    if (ev.type == MATCHER_EV_REFUSED) {
      refused(p, &ev);
      continue;
    }
    if (ev.type == MATCHER_EV_BLOCKED_BY) {
      ring_note(p->mq_blocks, &p->mq_nblocks, MCLUSTER_REC_BLOCKS, ev.partner);
      continue;
    }
    enum match_state state = p->mq_state;
    match_id partner = p->mq_partner;
    matcher_event_follow(&ev, &state, &partner);
    peer_follow(p, state, partner);
    /* Who p may still report (moderate.c): its partner, or its last one for a minute. */
    if (ev.type == MATCHER_EV_PAIRED || ev.type == MATCHER_EV_PARTNER_MOVED)
      moderate_pair_changed(p, ev.partner);
    else if (!p->mq_partner)
      moderate_pair_changed(p, 0);
    switch (ev.type) {
    case MATCHER_EV_PAIRED: {
      struct peer *q = peer_by_id(a, ev.partner);
      bool remote = app_partner_remote(a, ev.partner);
      if (!q && !remote)
        break; /* gone meanwhile: its PARTNER_LEFT follows */
      if (p->id < ev.partner || remote)
        a->n.matches++;
      ring_note(p->mq_recent, &p->mq_nrecent, MCLUSTER_REC_RECENT, ev.partner);
      /* The pair's link id is kept either way: a pair on one node may come to cross nodes
       * (one of them moves) and then needs its relay. */
      relay_paired(p, ev.link);
      if (q)
        link_pair(p, q);
      else
        moddevices_tell_partner(p);
      json_t *tags = json_array();
      for (size_t i = 0; i < ev.n_shared; i++)
        json_array_append_new(tags, json_string(ev.shared_tags[i]));
      json_decref(p->shared);
      p->shared = json_incref(tags);
      p->have_partner_ts = false;
      peer_send(p, json_pack("{s:s, s:o}", "type", "matched", "shared", tags));
      log_debug("peer %llu paired with %llu", (unsigned long long)p->id,
                (unsigned long long)ev.partner);
      break;
    }
    case MATCHER_EV_PARTNER_LEFT:
      json_decref(p->shared);
      p->shared = NULL;
      p->have_partner_ts = false;
      peer_unlink(p);
      peer_send(p, json_pack("{s:s}", "type", "partner_left"));
      break;
    case MATCHER_EV_WAITING:
      peer_unlink(p);
      peer_send(p, json_pack("{s:s, s:s}", "type", "state", "state", "waiting"));
      break;
    case MATCHER_EV_STOPPED:
      p->mq_want = false;
      peer_unlink(p);
      peer_send(p, json_pack("{s:s, s:s}", "type", "state", "state",
                             state_name(MATCH_IDLE, p->media_ready)));
      break;
    case MATCHER_EV_COOLDOWN:
      send_cooldown(p, NULL, ev.until_ms);
      break;
    case MATCHER_EV_STATE:
      /* A change p itself is not told of (it went not ready, or away while waiting): its
       * side of a pair is undone, as the partner's PARTNER_LEFT undoes the other. */
      if (p->mq_state != MATCH_PAIRED) {
        json_decref(p->shared);
        p->shared = NULL;
        peer_unlink(p);
      } else {
        struct peer *q = peer_by_id(a, p->mq_partner);
        if (q)
          link_pair(p, q);
      }
      break;
    case MATCHER_EV_PARTNER_MOVED: {
      /* The partner's page came back on another node (cluster_move.c): the same pair, its
       * media from a new place. */
      struct peer *q = peer_by_id(a, ev.partner);
      peer_unlink(p);
      p->relay_r_sent = p->relay_r_seen = p->relay_r_sent > p->relay_r_seen
                                               ? p->relay_r_sent : p->relay_r_seen;
      p->relay_have_remote = false;
      p->have_partner_ts = false;
      if (p->mq_nrecent)
        p->mq_recent[p->mq_nrecent - 1] = ev.partner;
      if (q) {
        link_pair(p, q);
      } else {
        relay_announce(p);
        moddevices_tell_partner(p);
      }
      peer_send(p, json_pack("{s:s}", "type", "partner_reconnected"));
      break;
    }
    case MATCHER_EV_REFUSED:
    case MATCHER_EV_BLOCKED_BY:
      break;
    }
    app_on_match_event(a, p, &ev); /* operators' view and draining (app.c) */
    if (ev.type == MATCHER_EV_STATE && p->move_from)
      move_on_state(p, &ev); /* the answer to the MOVE that brought it here */
  }
}

void peer_send_state(struct peer *p) {
  peer_send(p, json_pack("{s:s, s:s}", "type", "state", "state",
                         state_name(p->mq_state, p->media_ready)));
}

/* After a resume: the state, and if paired what the client missed while away. */
void peer_send_resume(struct peer *p) {
  if (p->mq_state == MATCH_PAIRED) {
    peer_send(p, json_pack("{s:s, s:o, s:b}", "type", "matched", "shared",
                           p->shared ? json_incref(p->shared) : json_array(), "resumed", 1));
    if (p->have_partner_ts)
      peer_send(p, json_pack("{s:s, s:I}", "type", "partner_video", "ts",
                             (json_int_t)p->partner_ts));
    return;
  }
  peer_send_state(p);
}

static struct peer *by_sid(struct app *a, uint64_t sid) {
  return hmap_get(a->by_sid, &sid, sizeof(sid));
}

static void on_ready(void *arg, uint64_t sid, const char *profile) {
  struct app *a = arg;
  struct peer *p = by_sid(a, sid);
  if (!p)
    return;
  p->sess_ready = true;
  p->media_lost_ms = 0;
  p->ready_due_ms = 0;
  peer_update_away(p);
  log_debug("peer %llu media ready (%s)", (unsigned long long)p->id, profile);
  /* After a refresh the pair may have survived: feed the new session at once. */
  struct peer *q = p->mq_partner ? peer_by_id(a, p->mq_partner) : NULL;
  if (q)
    link_pair(p, q);
  else if (app_partner_remote(a, p->mq_partner))
    relay_announce(p);
  peer_set_media(p, true);
  if (p->mq_state == MATCH_IDLE)
    peer_send_state(p);
}

static void on_media(void *arg, uint64_t sid, bool flowing) {
  struct app *a = arg;
  struct peer *p = by_sid(a, sid);
  if (!p)
    return;
  peer_set_media(p, flowing);
}

static void on_failed(void *arg, uint64_t sid, const char *why) {
  struct app *a = arg;
  struct peer *p = by_sid(a, sid);
  if (!p)
    return;
  a->n.media_failures++;
  log_event(LOG_INFO, "media_failed", LF_UINT("peer", p->id), LF_STR("why", why));
  if (p->ws)
    peer_error(p, NULL, "media_failed", why, NULL);
  peer_set_session(p, 0);
  /* A page being refreshed closes DTLS before its new session arrives: the pair is kept for
   * silence_ms (the tick ends it if no new media comes), the same rule as silent media. */
  if (p->media_ready && !p->media_lost_ms) {
    p->media_lost_ms = uv_now(a->loop);
    peer_update_away(p);
  } else if (!p->media_ready) {
    peer_set_media(p, false);
  }
}

static void on_partner_video(void *arg, uint64_t sid, uint32_t ts) {
  struct app *a = arg;
  struct peer *p = by_sid(a, sid);
  if (!p)
    return;
  p->have_partner_ts = true;
  p->partner_ts = ts;
  peer_send(p, json_pack("{s:s, s:I}", "type", "partner_video", "ts", (json_int_t)ts));
}

const struct mediaplane_events peer_media_events = {
    .on_ready = on_ready,
    .on_media = on_media,
    .on_failed = on_failed,
    .on_partner_video = on_partner_video,
};
