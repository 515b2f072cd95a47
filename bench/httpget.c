/* httpget.c -- one HTTP/1.1 GET on libuv TCP, parsed with http-parser (for /metrics). */
#include "bench/httpget.h"

#include <errno.h>
#include <http_parser.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX (4 << 20)

struct httpget {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_connect_t creq;
  uv_write_t wreq;
  http_parser hp;
  http_parser_settings hs;
  httpget_done_fn done;
  void *arg;
  char req[384];
  char *body;
  size_t len, cap;
  bool complete, reported;
  int closes;
  char rbuf[16384];
};

static void closed_cb(uv_handle_t *h) {
  struct httpget *g = h->data;
  if (--g->closes > 0)
    return;
  free(g->body);
  free(g);
}

static void finish(struct httpget *g, int status) {
  if (g->reported)
    return;
  g->reported = true;
  if (g->body)
    g->body[g->len] = 0;
  g->done(g->arg, status, g->body ? g->body : "", g->len);
  uv_close((uv_handle_t *)&g->tcp, closed_cb);
  uv_close((uv_handle_t *)&g->timer, closed_cb);
}

static int on_body(http_parser *p, const char *at, size_t n) {
  struct httpget *g = p->data;
  if (g->len + n + 1 > g->cap) {
    size_t cap = g->cap ? g->cap : 8192;
    while (cap < g->len + n + 1)
      cap *= 2;
    char *nb = cap <= BODY_MAX ? realloc(g->body, cap) : NULL;
    if (!nb)
      return -1;
    g->body = nb;
    g->cap = cap;
  }
  memcpy(g->body + g->len, at, n);
  g->len += n;
  return 0;
}

static int on_complete(http_parser *p) {
  struct httpget *g = p->data;
  g->complete = true;
  return 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct httpget *g = h->data;
  (void)suggested;
  *buf = uv_buf_init(g->rbuf, sizeof(g->rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct httpget *g = s->data;
  if (g->reported || n == 0)
    return;
  /* At EOF the parser gets a zero-length call, which ends a body without a length. */
  size_t len = n > 0 ? (size_t)n : 0;
  size_t used = http_parser_execute(&g->hp, &g->hs, n > 0 ? buf->base : NULL, len);
  if (HTTP_PARSER_ERRNO(&g->hp) != HPE_OK || used != len) {
    finish(g, -EPROTO);
    return;
  }
  if (g->complete)
    finish(g, g->hp.status_code);
  else if (n < 0)
    finish(g, n == UV_EOF ? -EPROTO : (int)n);
}

static void write_cb(uv_write_t *req, int status) {
  struct httpget *g = req->data;
  if (status < 0)
    finish(g, status);
}

static void connect_cb(uv_connect_t *req, int status) {
  struct httpget *g = req->data;
  if (g->reported)
    return;
  if (status < 0) {
    finish(g, status);
    return;
  }
  uv_buf_t b = uv_buf_init(g->req, (unsigned)strlen(g->req));
  g->wreq.data = g;
  int rc = uv_write(&g->wreq, (uv_stream_t *)&g->tcp, &b, 1, write_cb);
  if (rc == 0)
    rc = uv_read_start((uv_stream_t *)&g->tcp, alloc_cb, read_cb);
  if (rc)
    finish(g, rc);
}

static void timer_cb(uv_timer_t *t) { finish(t->data, -ETIMEDOUT); }

int httpget_start(uv_loop_t *loop, const struct sockaddr *addr, const char *host,
                  const char *path, uint64_t timeout_ms, httpget_done_fn done, void *arg) {
  struct httpget *g = calloc(1, sizeof(*g));
  if (!g)
    return -ENOMEM;
  g->done = done;
  g->arg = arg;
  int n = snprintf(g->req, sizeof(g->req),
                   "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                   "User-Agent: tandem-bench\r\n\r\n", path, host);
  if (n <= 0 || (size_t)n >= sizeof(g->req)) {
    free(g);
    return -EINVAL;
  }
  http_parser_init(&g->hp, HTTP_RESPONSE);
  g->hp.data = g;
  http_parser_settings_init(&g->hs);
  g->hs.on_body = on_body;
  g->hs.on_message_complete = on_complete;
  int rc = uv_tcp_init(loop, &g->tcp);
  if (rc) {
    free(g);
    return rc;
  }
  uv_timer_init(loop, &g->timer);
  g->tcp.data = g->timer.data = g;
  g->closes = 2;
  g->creq.data = g;
  rc = uv_tcp_connect(&g->creq, &g->tcp, addr, connect_cb);
  if (rc == 0)
    rc = uv_timer_start(&g->timer, timer_cb, timeout_ms, 0);
  if (rc) {
    g->reported = true;
    uv_close((uv_handle_t *)&g->tcp, closed_cb);
    uv_close((uv_handle_t *)&g->timer, closed_cb);
    return rc;
  }
  return 0;
}
