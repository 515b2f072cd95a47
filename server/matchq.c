/* matchq.c -- the local backend of matchq.h: the engine in this process. */
#include "server/matchq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int matchq_events_push(struct matchq_events *r, const struct matcher_event *ev) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    struct matcher_event *nv = malloc(cap * sizeof(*nv));
    if (!nv)
      return -ENOMEM;
    for (size_t i = 0; i < r->n; i++)
      nv[i] = r->ev[(r->head + i) % r->cap];
    free(r->ev);
    r->ev = nv;
    r->cap = cap;
    r->head = 0;
  }
  r->ev[(r->head + r->n) % r->cap] = *ev;
  r->n++;
  return 0;
}

int matchq_events_pop(struct matchq_events *r, struct matcher_event *ev) {
  if (!r->n)
    return 0;
  *ev = r->ev[r->head];
  r->head = (r->head + 1) % r->cap;
  r->n--;
  return 1;
}

void matchq_events_free(struct matchq_events *r) {
  free(r->ev);
  memset(r, 0, sizeof(*r));
}

int matchq_send(struct matchq *q, enum matcher_cmd_type type, match_id peer, match_id other,
                bool flag, uint64_t now_ms) {
  struct matcher_cmd c;
  memset(&c, 0, sizeof(c));
  c.type = type;
  c.peer = peer;
  c.other = other;
  c.flag = flag;
  return matchq_submit(q, &c, now_ms);
}

struct local {
  struct matchq base;
  struct match_engine *engine;
  struct matchq_events events;
  int emit_error; /* an event that could not be queued (ENOMEM) */
};

static void emit(void *arg, const struct matcher_event *ev) {
  struct local *l = arg;
  if (matchq_events_push(&l->events, ev))
    l->emit_error = -ENOMEM;
}

static int local_submit(struct matchq *q, const struct matcher_cmd *c, uint64_t now_ms) {
  struct local *l = (struct local *)q;
  l->emit_error = 0;
  int rc = matcher_apply(l->engine, c, now_ms, emit, l);
  return rc ? rc : l->emit_error;
}

static int local_tick(struct matchq *q, uint64_t now_ms) {
  struct local *l = (struct local *)q;
  return matcher_tick(l->engine, now_ms, emit, l);
}

static int local_poll(struct matchq *q, struct matcher_event *ev) {
  return matchq_events_pop(&((struct local *)q)->events, ev);
}

static void local_close(struct matchq *q, void (*done)(void *), void *arg) {
  struct local *l = (struct local *)q;
  match_free(l->engine);
  matchq_events_free(&l->events);
  free(l);
  if (done)
    done(arg);
}

static const struct matchq_ops local_ops = {local_submit, local_tick, local_poll, local_close};

struct matchq *matchq_local_new(const struct match_config *c) {
  struct local *l = calloc(1, sizeof(*l));
  if (!l)
    return NULL;
  l->base.ops = &local_ops;
  l->engine = match_new(c);
  if (!l->engine) {
    free(l);
    return NULL;
  }
  return &l->base;
}
