/* matchq.h -- the one way the server reaches matching: commands in, events out.
 *
 * The server sends commands (match/matcher.h) and learns every decision from events, which
 * it drains with matchq_poll (app_dispatch_match). It never reads the engine: each peer keeps
 * the view that the events give it (struct peer's mq_state and mq_partner, peer.c). An event
 * may come in the same loop turn as its command or later, from another node; a command may be
 * refused by an event (MATCHER_EV_REFUSED). Backends:
 *   - local: the engine in this process; a command's events are ready when submit returns;
 *   - cluster (server/cluster.h): one matcher for all nodes, through Redis; events arrive
 *     later, and a hook says when.
 * One matchq belongs to the control loop's thread. */
#ifndef TANDEM_SERVER_MATCHQ_H
#define TANDEM_SERVER_MATCHQ_H

#include <stddef.h>
#include <stdint.h>

#include "match/engine.h"
#include "match/matcher.h"

struct matchq;

struct matchq_ops {
  int (*submit)(struct matchq *q, const struct matcher_cmd *c, uint64_t now_ms);
  int (*tick)(struct matchq *q, uint64_t now_ms);
  int (*poll)(struct matchq *q, struct matcher_event *ev);
  void (*close)(struct matchq *q, void (*done)(void *arg), void *arg);
};

struct matchq {
  const struct matchq_ops *ops;
};

/* The engine in this process, with a copy of *c. NULL on ENOMEM. */
struct matchq *matchq_local_new(const struct match_config *c);

/* Sends a command. 0, or -EINVAL (malformed) / -ENOMEM (not sent: nothing changed). */
static inline int matchq_submit(struct matchq *q, const struct matcher_cmd *c, uint64_t now_ms) {
  return q->ops->submit(q, c, now_ms);
}
/* Time-driven matching (widening, rematches, cool-downs); call every ~100-500 ms. */
static inline int matchq_tick(struct matchq *q, uint64_t now_ms) {
  return q->ops->tick(q, now_ms);
}
/* The oldest undelivered event into *ev: 1, or 0 when none waits. */
static inline int matchq_poll(struct matchq *q, struct matcher_event *ev) {
  return q->ops->poll(q, ev);
}
/* Closes and frees q (a backend's connections may take a loop turn or more); done(arg) after.
 * No event is delivered after this call. */
static inline void matchq_close(struct matchq *q, void (*done)(void *arg), void *arg) {
  q->ops->close(q, done, arg);
}

/* Shorthands for the commands with no payload beyond a peer, another peer or a flag. */
int matchq_send(struct matchq *q, enum matcher_cmd_type type, match_id peer, match_id other,
                bool flag, uint64_t now_ms);

/* A queue of events (a growable ring), for backends. */
struct matchq_events {
  struct matcher_event *ev;
  size_t cap, head, n;
};
int matchq_events_push(struct matchq_events *r, const struct matcher_event *ev); /* 0 / -ENOMEM */
int matchq_events_pop(struct matchq_events *r, struct matcher_event *ev);        /* 1 / 0 */
void matchq_events_free(struct matchq_events *r);

#endif
