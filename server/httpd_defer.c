/* httpd_defer.c -- deferred replies: a route answers later, or is told once that it never will. */
#include "server/httpd_int.h"

#include <stdlib.h>

/* A request whose reply its route will send later. It is owned by the route
 * until httpd_deferred_send(), or until httpd calls on_cancel (see httpd.h);
 * `conn` is the connection while it waits, which points back at it. */
struct httpd_deferred {
  struct httpd_reply rep;
  struct httpd_conn *conn;
  void (*on_cancel)(void *arg);
  void *arg;
  unsigned timeout_ms;
  bool head, keep;  /* of the request: HEAD; keep-alive per its version and headers */
  bool in_request;  /* on_request has not returned yet */
  bool ready;       /* sent inside on_request: goes out when it returns */
};

struct httpd_deferred *httpd_defer(struct httpd_reply *rep, unsigned timeout_ms,
                                   void (*on_cancel)(void *arg), void *arg) {
  struct httpd_conn *c;
  struct httpd_deferred *d;
  if (!rep || !rep->conn || rep->moved || !on_cancel || rep->conn->closing)
    return NULL;
  c = rep->conn;
  if (!(d = calloc(1, sizeof(*d))))
    return NULL;
  /* The reply so far moves into d; rep keeps nothing and ignores setters. */
  d->rep = *rep;
  d->rep.conn = NULL;
  *rep = (struct httpd_reply){ .moved = true };
  d->conn = c;
  d->on_cancel = on_cancel;
  d->arg = arg;
  d->timeout_ms = timeout_ms ? timeout_ms : HTTPD_DEFER_TIMEOUT_MS;
  /* The parser stays on this request until the reply is sent: nothing more
   * is parsed on c meanwhile. */
  d->head = c->parser.method == HTTP_HEAD;
  d->keep = http_should_keep_alive(&c->parser);
  d->in_request = true;
  c->deferred = d;
  return d;
}

struct httpd_reply *httpd_deferred_reply(struct httpd_deferred *d) {
  return d ? &d->rep : NULL;
}

/* Sends d's reply on c and frees d. With keep-alive, the input held
 * meanwhile is parsed from a later loop iteration when `resume`, or at once
 * by the caller (dispatch's parsing loop) otherwise. */
static void answer(struct httpd_conn *c, struct httpd_deferred *d, bool resume) {
  bool keep = d->keep && !d->rep.conn_close;
  c->deferred = NULL;
  httpd__reply_send(c, &d->rep, d->head, keep);
  httpd__reply_clear(&d->rep);
  free(d);
  if (c->closing) /* the write failed */
    return;
  if (!keep) {
    c->close_after_write = true;
    httpd__conn_finish(c);
  } else if (resume) {
    httpd__conn_resume(c);
  }
}

void httpd_deferred_send(struct httpd_deferred *d) {
  struct httpd_conn *c;
  if (!d)
    return;
  c = d->conn;
  if (c->closing) {
    /* Dropped, and on_cancel not delivered yet: it never will be now. */
    c->deferred = NULL;
    httpd__reply_clear(&d->rep);
    free(d);
    return;
  }
  if (d->in_request) {
    d->ready = true;
    return;
  }
  answer(c, d, true);
}

static void on_timeout(uv_timer_t *t) {
  struct httpd_conn *c = t->data;
  struct httpd_deferred *d = c->deferred;
  void (*cb)(void *);
  void *arg;
  if (!d)
    return;
  cb = d->on_cancel;
  arg = d->arg;
  /* Our own answer replaces whatever the route had set so far. */
  httpd__reply_clear(&d->rep);
  d->rep = (struct httpd_reply){ .status = 504 };
  answer(c, d, true);
  cb(arg);
}

void httpd__defer_dispatched(struct httpd_conn *c) {
  struct httpd_deferred *d = c->deferred;
  if (!d)
    return; /* sent inside on_request after httpd_close: discarded */
  d->in_request = false;
  if (c->closing)
    return; /* httpd__defer_conn_freed cancels it */
  if (d->ready)
    answer(c, d, false);
  else
    uv_timer_start(&c->timer, on_timeout, d->timeout_ms, 0);
}

void httpd__defer_conn_freed(struct httpd_conn *c) {
  struct httpd_deferred *d = c->deferred;
  void (*cb)(void *);
  void *arg;
  if (!d)
    return;
  c->deferred = NULL;
  cb = d->on_cancel;
  arg = d->arg;
  httpd__reply_clear(&d->rep);
  free(d);
  cb(arg);
}
