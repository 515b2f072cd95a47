/* drain.c -- SIGTERM: visitors not in a pair move to another node, pairs finish, then exit.
 *
 * While a node drains, /readyz answers 503 and new visitors are refused (signal.c). Every
 * visitor who is not in a pair -- idle, connecting, waiting, or whose pair has just ended --
 * is sent {"type":"moving"} and disconnected (close code 1012), so that its page reconnects
 * through the load balancer to a node that is ready. Nobody is paired anew here: a visitor
 * entering the pool is taken out of it at once. Pairs in progress go on until they end; when
 * the last visitor has gone the process exits. At drain_timeout_ms everyone left is told the
 * same way (reason "drain_timeout") before being closed: nobody is dropped without a word. */
#include <openssl/rand.h>

#include "server/app_int.h"
#include "server/log.h"

#define FLUSH_MS 3000           /* after the last visitor: time for the WebSockets to close */
#define REPORT_MS 30000         /* a drain_progress line this often */
#define RETRY_MIN_MS 1000       /* moving pages reconnect after 1 to 5 s, spread out */
#define RETRY_SPREAD_MS 4000

/* The WebSocket user pointer of connections told to move: not a peer. */
#define MOVING_TAG(a) ((void *)&(a)->moving_ws)

static json_int_t retry_ms(void) {
  uint32_t r = 0;
  if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
    r = (uint32_t)uv_hrtime();
  return RETRY_MIN_MS + (json_int_t)(r % RETRY_SPREAD_MS);
}

static void tell(struct peer *p, const char *reason) {
  peer_send(p, json_pack("{s:s, s:I, s:s}", "type", "moving", "retry_ms", retry_ms(), "reason",
                         reason));
}

/* Tells p (if attached) to move and closes its WebSocket once the message is out; p stays,
 * detached, so nothing said to it later (a partner leaving) reaches the page. */
static void detach(struct app *a, struct peer *p, const char *reason) {
  struct ws_conn *ws = p->ws;
  if (!ws)
    return;
  tell(p, reason);
  p->ws = NULL; /* peer_free must leave the connection to us */
  ws_set_data(ws, MOVING_TAG(a));
  ws_close(ws, 1012, "moving to another server");
  a->moving_ws++;
  a->n.moved++;
}

static void end_visit(struct app *a, struct peer *p, const char *why) {
  visitlog_end(a, p, why);
  peer_free(p);
}

/* Everyone not in a pair. A peer in grace with its pair intact stays: it may come back.
 * Freeing an unpaired peer ends no pair, so no other peer is freed meanwhile and next
 * stays valid. */
static size_t move_unpaired(struct app *a) {
  size_t n = 0;
  struct peer *p, *next;
  for (p = a->peers; p; p = next) {
    next = p->next;
    if (p->mq_state != MATCH_PAIRED) {
      detach(a, p, "draining");
      end_visit(a, p, "moved");
      n++;
    }
  }
  return n;
}

void drain_start(struct app *a) {
  uint64_t now = uv_now(a->loop);
  size_t visitors = a->n_peers;
  a->draining = true;
  a->drain = DRAIN_RUNNING;
  a->drain_started = now;
  a->drain_deadline = now + (uint64_t)a->cfg.drain_timeout_ms;
  a->drain_next_report = now + REPORT_MS;
  size_t moved = move_unpaired(a);
  log_event(LOG_INFO, "drain_start", LF_UINT("visitors", visitors), LF_UINT("moved", moved),
            LF_UINT("paired", a->n_paired),
            LF_UINT("timeout_ms", a->cfg.drain_timeout_ms));
}

void drain_match_event(struct app *a, struct peer *p, const struct matcher_event *ev) {
  if (a->drain != DRAIN_RUNNING)
    return;
  /* Out of the pool before anyone can be paired with it; the tick moves it. A pair made
   * here all the same (two peers entering the pool in one engine call) is undone the same
   * way: not ready ends it, and the partner's WAITING follows. */
  if (ev->type == MATCHER_EV_WAITING || ev->type == MATCHER_EV_PAIRED)
    matchq_send(a->match, MATCHER_READY, p->id, 0, false, uv_now(a->loop));
}

static void start_flush(struct app *a, uint64_t now) {
  a->drain = DRAIN_FLUSHING;
  a->drain_flush_until = now + FLUSH_MS;
}

void drain_tick(struct app *a, uint64_t now) {
  if (a->drain == DRAIN_RUNNING) {
    move_unpaired(a);
    if (a->n_peers == 0) {
      log_event(LOG_INFO, "drain_done", LF_UINT("drain_ms", now - a->drain_started),
                LF_UINT("moved", a->n.moved));
      start_flush(a, now);
    } else if (now >= a->drain_deadline) {
      log_event(LOG_INFO, "drain_timeout", LF_UINT("drain_ms", now - a->drain_started),
                LF_UINT("visitors", a->n_peers), LF_UINT("paired", a->n_paired));
      /* Everyone hears "moving" before any pair ends, so it is the last thing they hear. */
      for (struct peer *p = a->peers; p; p = p->next)
        detach(a, p, "drain_timeout");
      while (a->peers)
        end_visit(a, a->peers, "drain_timeout");
      start_flush(a, now);
    } else if (now >= a->drain_next_report) {
      a->drain_next_report = now + REPORT_MS;
      log_event(LOG_INFO, "drain_progress", LF_UINT("visitors", a->n_peers),
                LF_UINT("paired", a->n_paired),
                LF_UINT("left_ms", a->drain_deadline - now));
    }
  }
  if (a->drain == DRAIN_FLUSHING && (a->moving_ws == 0 || now >= a->drain_flush_until)) {
    log_event(LOG_INFO, "drained", LF_UINT("drain_ms", now - a->drain_started),
              LF_UINT("unclosed", a->moving_ws));
    app_close(a, a->drained, a->drained_arg);
  }
}

bool drain_ws_closed(struct app *a, struct ws_conn *c) {
  if (ws_get_data(c) != MOVING_TAG(a))
    return false;
  a->moving_ws--;
  return true;
}

void drain_tell_all(struct app *a, const char *reason) {
  for (struct peer *p = a->peers; p; p = p->next)
    tell(p, reason);
}
