/* cluster_move.c -- a refreshed page that the load balancer sends to another node keeps its
 * visit: its pair, its place in line, its wishes, blocks and recent partners.
 *
 * A resume token names the node that issued it (its first three hex digits, in a cluster). A
 * hello with a token of node A reaching node B goes like this:
 *   1. B admits the visitor as for a new visit (bans, limits), under a new id of its own, but
 *      tells matching nothing yet, and asks A (CPM_MOVE_ASK: the token, from the new id).
 *   2. A finds the visit. If its WebSocket is alive (no close seen yet), A pings it and waits,
 *      as for a resume on one node (peer.c): a live connection keeps the visit and B hears
 *      CPM_MOVE_NO. Otherwise A sends the matcher MOVE (the visit's id becomes the new one,
 *      keeping everything), then the visit (CPM_MOVE_VISIT, struct cw_visit) to the new id,
 *      and forgets the visit without a word to matching.
 *   3. The matcher answers the MOVE with STATE to the new id (on B) and PARTNER_MOVED to the
 *      partner, whose node re-aims its media (a local link or the relay) at the new id.
 *   4. B holds the visitor until it has both the visit and the matcher's STATE, in either
 *      order, then welcomes it as resumed; its new offer brings the media back as on one node.
 * B gives up after MOVE_WAIT_MS (A gone, Redis away) and starts a new visit under yet another
 * id; whatever arrives later for the abandoned id is removed (peer.c, ghosts). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/app_int.h"
#include "server/cluster.h"
#include "server/log.h"
#include "server/moderate.h"

#define MOVE_WAIT_MS 5000 /* more than the old node's probe of a live WebSocket (2 s) */

unsigned move_token_node(const struct app *a, const char *token) {
  if (!a->node || !token || strlen(token) != PEER_TOKEN_LEN)
    return 0;
  unsigned v = 0;
  for (int i = 0; i < 3; i++) {
    char c = token[i];
    unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                 : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;
    if (d == 16)
      return 0;
    v = v << 4 | d;
  }
  return v >= 1 && v <= MCLUSTER_NODE_MAX ? v : 0;
}

static match_id node_addr(unsigned node) { return (match_id)node << MCLUSTER_ID_SHIFT; }

/* ---- the new node (B) ---- */

bool move_hello(struct app *a, struct ws_conn *c, const char *token, const char *device,
                size_t device_len) {
  unsigned from = move_token_node(a, token);
  /* Only a live node is asked: a token naming any other starts a new visit at once (and
   * writes nothing to Redis for a node that is not there to read it). */
  if (!from || from == a->node || !cluster_up(a->match) || !cluster_node_live(a->match, from))
    return false;
  struct peer *p = signal_admit(a, c, device, device_len, false);
  if (!p)
    return true; /* refused, and told why */
  p->move_from = from;
  p->probe_ws = c;
  ws_set_data(c, p); /* claimed, and waiting: p->ws != c */
  p->move_due_ms = uv_now(a->loop) + MOVE_WAIT_MS;
  if (cluster_peer_send(a->match, node_addr(from), p->id, CPM_MOVE_ASK, token,
                        PEER_TOKEN_LEN) < 0)
    p->move_due_ms = 0; /* the tick starts a new visit at once */
  log_debug("peer %llu asks node %u for its visit", (unsigned long long)p->id, from);
  return true;
}

/* Nothing came, or nothing moves: c starts a new visit (under a new id: whatever comes late
 * for this one is removed as a ghost). */
static void give_up(struct peer *p, const char *why) {
  struct app *a = p->app;
  struct ws_conn *c = p->probe_ws;
  char device[DEVICE_TOKEN_LEN + 1];
  snprintf(device, sizeof(device), "%s", p->device_tok);
  log_event(LOG_INFO, "move_refused", LF_UINT("peer", p->id), LF_UINT("from_node", p->move_from),
            LF_STR("why", why));
  p->probe_ws = NULL;
  if (c)
    ws_set_data(c, NULL);
  peer_free(p);
  if (c) {
    signal_new_visit(a, c, device[0] ? device : NULL, strlen(device));
    visitlog_message_done(a, c, NULL, "", 0);
  }
}

/* The visit and the matcher's answer are both here: the visitor is welcomed back. */
static void complete(struct peer *p) {
  struct app *a = p->app;
  if (!p->move_got_visit || !p->move_got_state)
    return;
  uint64_t now = uv_now(a->loop);
  struct cw_visit *v = p->move_visit;
  struct ws_conn *c = p->probe_ws;
  p->move_from = 0;
  p->move_visit = NULL;
  p->probe_ws = NULL;
  p->mq_want = v->want;
  memset(&p->mq_start, 0, sizeof(p->mq_start));
  p->mq_start.type = MATCHER_START;
  p->mq_start.peer = p->id;
  p->mq_start.ntags = v->ntags;
  memcpy(p->mq_start.tags, v->tags, sizeof(v->tags));
  memcpy(p->mq_start.lang, v->lang, sizeof(v->lang));
  p->mq_nblocks = v->nblocks;
  memcpy(p->mq_blocks, v->blocks, sizeof(v->blocks));
  p->mq_nrecent = v->nrecent;
  memcpy(p->mq_recent, v->recent, sizeof(v->recent));
  if (p->mq_state == MATCH_PAIRED) {
    json_t *tags = json_array();
    for (unsigned i = 0; i < v->n_shared; i++)
      json_array_append_new(tags, json_string(v->shared[i]));
    json_decref(p->shared);
    p->shared = tags;
    /* The matcher's link id when it knows it: the old node may have handed the visit over
     * before it heard of the pair. */
    bool same = !p->move_link || p->move_link == v->relay_base;
    p->relay_base = p->move_link ? p->move_link : v->relay_base;
    p->relay_r_sent = p->relay_r_seen = same ? v->relay_r : 0;
    p->partner = p->mq_partner;
    p->paired_ms = now > v->paired_age_ms ? now - v->paired_age_ms : 1;
    moderate_pair_changed(p, p->mq_partner);
  }
  p->visit_ms = now > v->visit_age_ms ? now - v->visit_age_ms : 1;
  p->pairs = v->pairs;
  p->nexts = v->nexts;
  bool ready = v->ready;
  if (ready)
    p->ready_ms = p->visit_ms; /* its connect time was counted where it began */
  free(v);
  if (p->move_fresh) {
    /* The matcher did not know the visit any more: it is new there, and told the rest. */
    p->media_ready = false;
    if (p->mq_want)
      matchq_submit(a->match, &p->mq_start, now);
    for (unsigned i = 0; i < p->mq_nblocks; i++)
      matchq_send(a->match, MATCHER_BLOCK, p->id, p->mq_blocks[i], false, now);
  } else {
    /* The matcher has it as its old node left it; its media comes back with the new page's
     * offer (the pair survives silence_ms without it, as on one node). */
    p->media_ready = ready;
    p->media_lost_ms = p->media_ready ? now : 0;
  }
  p->in_matching = true;
  moderate_peer_rejoin(p); /* its device's blocks and recent partners on this node */
  if (p->mq_state == MATCH_PAIRED)
    moddevices_tell_partner(p);
  a->n.resumes++;
  a->n.moved_in++;
  log_event(LOG_INFO, "visit_moved_in", LF_UINT("peer", p->id),
            LF_STR("state", p->mq_state == MATCH_PAIRED ? "paired" : "unpaired"));
  ws_set_data(c, p);
  peer_attach(p, c);
  peer_welcome(p, true);
  visitlog_message_done(a, c, NULL, "", 0);
  app_dispatch_match(a);
}

void move_on_state(struct peer *p, const struct matcher_event *ev) {
  if (!p->move_from || p->move_got_state)
    return;
  p->move_got_state = true;
  p->move_fresh = ev->code == -ENOENT;
  p->move_link = ev->link & ~(uint64_t)0xfff;
  complete(p);
}

/* ---- the old node (A) ---- */

static void say_no(struct app *a, match_id to) {
  cluster_peer_send(a->match, to, node_addr(a->node), CPM_MOVE_NO, NULL, 0);
}

/* p's visit goes to the new id `to` on another node. */
static void move_out(struct peer *p, match_id to) {
  struct app *a = p->app;
  uint64_t now = uv_now(a->loop);
  struct cw_visit v;
  memset(&v, 0, sizeof(v));
  v.want = p->mq_want;
  v.ready = p->media_ready;
  v.ntags = p->mq_start.ntags > MATCHER_TAGS_MAX ? MATCHER_TAGS_MAX : p->mq_start.ntags;
  memcpy(v.tags, p->mq_start.tags, sizeof(v.tags));
  memcpy(v.lang, p->mq_start.lang, sizeof(v.lang));
  v.nblocks = p->mq_nblocks;
  memcpy(v.blocks, p->mq_blocks, sizeof(v.blocks));
  v.nrecent = p->mq_nrecent;
  memcpy(v.recent, p->mq_recent, sizeof(v.recent));
  size_t ns = p->shared ? json_array_size(p->shared) : 0;
  for (size_t i = 0; i < ns && v.n_shared < MATCHER_TAGS_MAX; i++) {
    const char *t = json_string_value(json_array_get(p->shared, i));
    if (t && strlen(t) <= MATCHER_TAG_LEN_MAX)
      memcpy(v.shared[v.n_shared++], t, strlen(t) + 1);
  }
  v.relay_base = p->relay_base & ~(uint64_t)0xfff;
  v.relay_r = p->relay_r_sent > p->relay_r_seen ? p->relay_r_sent : p->relay_r_seen;
  v.visit_age_ms = p->visit_ms && now > p->visit_ms ? (uint32_t)(now - p->visit_ms) : 0;
  v.paired_age_ms = p->paired_ms && now > p->paired_ms ? (uint32_t)(now - p->paired_ms) : 0;
  v.pairs = p->pairs;
  v.nexts = p->nexts;
  uint8_t buf[CW_VISIT_MAX];
  int n = cw_visit_encode(&v, buf, sizeof(buf));
  /* The visit, then the MOVE (the new node takes them in either order). If the MOVE cannot be
   * sent, this node keeps the visit and the new one, never hearing the matcher, gives up. */
  if (n < 0 || !cluster_up(a->match) ||
      cluster_peer_send(a->match, to, p->id, CPM_MOVE_VISIT, buf, (size_t)n) < 0) {
    say_no(a, to);
    return;
  }
  if (matchq_send(a->match, MATCHER_MOVE, p->id, to, false, now) < 0)
    return;
  if (p->ws) {
    struct ws_conn *old = p->ws;
    ws_set_data(old, NULL);
    peer_error(NULL, old, "resumed_elsewhere", "this visit was resumed on another connection",
               NULL);
    ws_close(old, 4000, "resumed elsewhere");
    p->ws = NULL;
  }
  a->n.moved_out++;
  log_event(LOG_INFO, "visit_moved_out", LF_UINT("peer", p->id), LF_UINT("to", to),
            LF_UINT("to_node", MCLUSTER_NODE_OF(to)));
  visitlog_end(a, p, "moved_node");
  p->moved_out = true; /* matching keeps it, under its new id */
  peer_free(p);
}

static void on_ask(struct app *a, match_id from, const uint8_t *data, size_t len) {
  unsigned node = MCLUSTER_NODE_OF(from);
  if (!node || node == a->node || len != PEER_TOKEN_LEN || memchr(data, 0, len))
    return;
  char token[PEER_TOKEN_LEN + 1];
  memcpy(token, data, len);
  token[len] = '\0';
  struct peer *p = peer_by_token(a, token);
  uint64_t now = uv_now(a->loop);
  if (!p || p->probe_ws || p->probe_remote || p->move_from ||
      (a->cfg.resumes_per_min && !ratelimit_take(&p->resume_rl, now))) {
    say_no(a, from);
    return;
  }
  if (p->ws && ws_ping(p->ws) == 0) {
    /* Its connection may be alive (the page open twice): it must show it within the probe. */
    p->probe_remote = from;
    p->probe_rx = ws_rx_bytes(p->ws);
    p->probe_until_ms = now + PEER_PROBE_MS;
    return;
  }
  move_out(p, from);
}

void move_probe_done(struct peer *p, bool dead) {
  match_id to = p->probe_remote;
  p->probe_remote = 0;
  if (!to)
    return;
  if (dead) {
    move_out(p, to);
    return;
  }
  log_event(LOG_INFO, "resume_refused", LF_UINT("peer", p->id),
            LF_STR("why", "its connection is alive"));
  say_no(p->app, to);
}

void move_on_msg(struct app *a, match_id to, match_id from, uint8_t kind, const uint8_t *data,
                 size_t len) {
  if (kind == CPM_MOVE_ASK) {
    if ((to & MCLUSTER_SERIAL_MAX) == 0 && MCLUSTER_NODE_OF(to) == a->node)
      on_ask(a, from, data, len);
    return;
  }
  struct peer *p = peer_by_id(a, to);
  if (!p || !p->move_from || MCLUSTER_NODE_OF(from) != p->move_from || p->move_got_visit)
    return;
  if (kind == CPM_MOVE_NO) {
    give_up(p, "its node does not have it (or its connection is alive)");
    return;
  }
  struct cw_visit *v = malloc(sizeof(*v));
  if (!v || cw_visit_decode(data, len, v) != 0) {
    const char *why = v ? "unreadable hand-over" : "out of memory";
    free(v);
    /* The old node has moved it already: what the matcher keeps of it is removed as a ghost. */
    give_up(p, why);
    return;
  }
  p->move_visit = v;
  p->move_got_visit = true;
  complete(p);
}

void move_tick(struct app *a, uint64_t now) {
again:
  for (struct peer *p = a->peers; p; p = p->next)
    if (p->move_from && now >= p->move_due_ms) {
      give_up(p, "no answer from its node");
      goto again; /* a new visit may have freed others */
    }
}
