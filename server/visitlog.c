/* visitlog.c -- what operators see of each visit: one log line per event, the histograms.
 *
 * At info, a visit logs visit_start, ready (with its connect time), match (once per pair),
 * next or pair_end (once per pair that ends), errors worth an operator's eye, visit_end
 * (with its duration). The code that ends a pair sets app->cause; inside a signalling
 * message the reason is the message's type, known once signal.c has handled it. */
#include <string.h>

#include "server/app_int.h"
#include "server/log.h"

static const double connect_bounds[] = {0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30};
static const double wait_bounds[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
static const double frame_bounds[] = {0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5};
#define N(a) (sizeof(a) / sizeof(a[0]))

void visitlog_init(struct app *a) {
  metrics_hist_init(&a->h_connect, connect_bounds, N(connect_bounds));
  metrics_hist_init(&a->h_wait, wait_bounds, N(wait_bounds));
  metrics_hist_init(&a->h_first_frame, frame_bounds, N(frame_bounds));
}

static uint64_t since(const struct app *a, uint64_t t) {
  uint64_t now = uv_now(a->loop);
  return t && now > t ? now - t : 0;
}

/* One line per pair that ends: "next" when a Next ended it, else "pair_end" with why. */
static void log_pair_end(struct app *a, const struct pair_end *e, const char *reason) {
  struct peer *ender = peer_by_id(a, e->peer);
  bool next = !strcmp(reason, "next");
  if (next && ender)
    ender->nexts++;
  if (next)
    log_event(LOG_INFO, "next", LF_UINT("peer", e->peer), LF_UINT("partner", e->partner),
              LF_UINT("pair_ms", e->pair_ms));
  else
    log_event(LOG_INFO, "pair_end", LF_UINT("peer", e->peer), LF_UINT("partner", e->partner),
              LF_UINT("pair_ms", e->pair_ms), LF_STR("reason", reason));
}

void visitlog_match_event(struct app *a, struct peer *p, const struct matcher_event *ev) {
  if (a->closing)
    return; /* peers freed one by one at shutdown pair the rest for a moment: not news */
  uint64_t now = uv_now(a->loop);
  switch (ev->type) {
  case MATCHER_EV_WAITING:
    p->pool_ms = now;
    break;
  case MATCHER_EV_PAIRED: {
    uint64_t wait = since(a, p->pool_ms);
    metrics_hist_observe(&a->h_wait, (double)wait / 1000.0);
    p->pool_ms = 0;
    p->wait_ms = wait;
    p->paired_ms = now;
    p->partner = ev->partner;
    p->first_frame = false;
    p->pairs++;
    /* The second side's event completes the pair: log it once, with both waits. */
    struct peer *q = peer_by_id(a, ev->partner);
    if (q && q->partner == p->id && q->paired_ms == now)
      log_event(LOG_INFO, "match", LF_UINT("a", q->id), LF_UINT("b", p->id),
                LF_UINT("shared", ev->n_shared), LF_UINT("wait_a_ms", q->wait_ms),
                LF_UINT("wait_b_ms", wait));
    break;
  }
  case MATCHER_EV_PARTNER_LEFT: {
    struct pair_end e = {.peer = ev->partner, .partner = p->id, .pair_ms = since(a, p->paired_ms)};
    p->paired_ms = 0;
    p->partner = 0;
    struct peer *q = peer_by_id(a, ev->partner);
    if (q && q->partner == p->id) {
      q->paired_ms = 0;
      q->partner = 0;
    }
    if (!a->in_message)
      log_pair_end(a, &e, a->cause ? a->cause : "other");
    else if (a->n_pending < sizeof(a->pending) / sizeof(a->pending[0]))
      a->pending[a->n_pending++] = e;
    else
      log_pair_end(a, &e, "message");
    break;
  }
  case MATCHER_EV_STOPPED:
    p->pool_ms = 0;
    break;
  case MATCHER_EV_STATE:
    if (ev->state != MATCH_WAITING)
      p->pool_ms = 0;
    break;
  case MATCHER_EV_REFUSED:
  case MATCHER_EV_BLOCKED_BY:
    break;
  case MATCHER_EV_PARTNER_MOVED: /* the same pair: the partner's visit moved to another node */
    p->partner = ev->partner;
    break;
  case MATCHER_EV_COOLDOWN:
    p->pool_ms = 0;
    log_event(LOG_INFO, "cooldown", LF_UINT("peer", p->id),
              LF_UINT("retry_ms", ev->until_ms > now ? ev->until_ms - now : 0));
    break;
  }
}

/* The type of a message signal.c accepted, for pairs it ended; parsed again only then. */
static void message_type(const char *data, size_t len, char *out, size_t cap) {
  snprintf(out, cap, "message");
  json_t *m = json_loadb(data, len, JSON_DECODE_ANY, NULL);
  const char *t = json_string_value(json_object_get(m, "type"));
  if (t && strlen(t) < cap)
    snprintf(out, cap, "%s", t);
  json_decref(m);
}

void visitlog_message_done(struct app *a, struct ws_conn *c, struct peer *before,
                           const char *data, size_t len) {
  if (a->n_pending) {
    char type[24];
    message_type(data, len, type, sizeof(type));
    for (size_t i = 0; i < a->n_pending; i++)
      log_pair_end(a, &a->pending[i], type);
    a->n_pending = 0;
  }
  struct peer *p = ws_get_data(c);
  if (before || !p || p->ws != c)
    return;
  /* This message attached c to a peer: a hello, new or resuming. */
  if (p->visit_ms) {
    log_event(LOG_INFO, "visit_resume", LF_UINT("peer", p->id), LF_IP("ip", ws_remote_ip(c)),
              LF_STR("state", p->partner ? "paired" : "unpaired"));
    return;
  }
  p->visit_ms = uv_now(a->loop);
  a->n.visits++;
  log_event(LOG_INFO, "visit_start", LF_UINT("peer", p->id), LF_IP("ip", p->ip),
            LF_UINT("visitors", a->n_peers));
}

void visitlog_ready(struct app *a, struct peer *p, const char *profile) {
  if (p->ready_ms)
    return; /* a reloaded page's new session: the visit was ready long ago */
  p->ready_ms = uv_now(a->loop);
  uint64_t ms = since(a, p->visit_ms);
  if (p->visit_ms)
    metrics_hist_observe(&a->h_connect, (double)ms / 1000.0);
  log_event(LOG_INFO, "ready", LF_UINT("peer", p->id), LF_UINT("connect_ms", ms),
            LF_STR("srtp", profile));
}

void visitlog_partner_video(struct app *a, struct peer *p) {
  if (p->first_frame || !p->paired_ms)
    return;
  p->first_frame = true;
  uint64_t ms = since(a, p->paired_ms);
  metrics_hist_observe(&a->h_first_frame, (double)ms / 1000.0);
  log_event(LOG_DEBUG, "first_frame", LF_UINT("peer", p->id), LF_UINT("ms", ms));
}

/* Errors an operator acts on (capacity, draining, offers, out of memory) at info; the
 * protocol mistakes of clients (bad JSON, wrong state, chat too fast) at debug, and
 * media_failed too, as peer.c logs it with its reason. */
void visitlog_error(struct peer *p, const char *code, const char *message, const char *ref) {
  static const char *const loud[] = {"full", "draining", "bad_offer", "banned", "internal",
                                     NULL};
  enum log_level lv = LOG_DEBUG;
  for (size_t i = 0; loud[i]; i++)
    if (!strcmp(code, loud[i]))
      lv = LOG_INFO;
  if (p)
    log_event(lv, "error", LF_UINT("peer", p->id), LF_STR("code", code),
              LF_STR("ref", ref ? ref : ""), LF_STR("message", message));
  else
    log_event(lv, "error", LF_STR("code", code), LF_STR("ref", ref ? ref : ""),
              LF_STR("message", message));
}

void visitlog_end(struct app *a, struct peer *p, const char *reason) {
  if (!p->visit_ms)
    return;
  /* A visit that lost its WebSocket ended then; grace is not part of it. */
  uint64_t end = p->ws_lost_ms ? p->ws_lost_ms : uv_now(a->loop);
  uint64_t ms = end > p->visit_ms ? end - p->visit_ms : 0;
  log_event(a->closing ? LOG_DEBUG : LOG_INFO, "visit_end", LF_UINT("peer", p->id),
            LF_STR("reason", reason), LF_UINT("visit_ms", ms), LF_UINT("pairs", p->pairs),
            LF_UINT("nexts", p->nexts));
}
