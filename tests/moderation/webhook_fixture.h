/* webhook_fixture.h -- a tiny scripted HTTP/1.1 server on a libuv loop, standing in for a
 * classifier: it reads whole requests (Content-Length bodies), keeps the last one's headers
 * and body, and answers each with the next scripted response. For tests only: it trusts what
 * it is sent no more than it needs to (requests past its buffer are cut). */
#ifndef TANDEM_TEST_WEBHOOK_FIXTURE_H
#define TANDEM_TEST_WEBHOOK_FIXTURE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

enum wh_mode {
  WH_NORMAL, /* status, Content-Length, body */
  WH_NEVER,  /* read the request, answer nothing, keep the connection open */
  WH_NOLEN,  /* status and body without Content-Length, then close (the body ends at EOF) */
  WH_DROP,   /* read the request, close the connection without a word */
  WH_SHUT,   /* answer as WH_NORMAL (keep-alive, by the headers), then close the connection */
};

struct wh_resp {
  enum wh_mode mode;
  int status;
  const char *body; /* NULL = "" */
  size_t pad;       /* that many spaces before body (a huge answer) */
};

#define WH_SCRIPT_MAX 16
#define WH_BUF 65536

struct wh_conn;

struct wh_srv {
  uv_tcp_t tcp;
  int port;
  struct wh_resp script[WH_SCRIPT_MAX]; /* request i gets script[min(i, n_script - 1)] */
  size_t n_script;
  int requests;                          /* whole requests read */
  char last_head[4096];                  /* the last request's line and headers */
  char last_body[4096];
  size_t last_body_len;
  struct wh_conn *conns;
  int open;                              /* handles not yet closed */
  int accepted;                          /* connections accepted */
};

struct wh_conn {
  uv_tcp_t tcp;
  struct wh_srv *s;
  char buf[WH_BUF];
  size_t len;
  bool closing;
  struct wh_conn *next;
};

static void wh_handle_closed(uv_handle_t *h) {
  struct wh_srv *s = h->data;
  s->open--;
}

static void wh_conn_closed(uv_handle_t *h) {
  struct wh_conn *c = h->data;
  struct wh_srv *s = c->s;
  for (struct wh_conn **pp = &s->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  free(c);
  s->open--;
}

static void wh_conn_close(struct wh_conn *c) {
  if (c->closing)
    return;
  c->closing = true;
  uv_close((uv_handle_t *)&c->tcp, wh_conn_closed);
}

static void wh_written(uv_write_t *w, int status) {
  (void)status;
  free(w->data);
  free(w);
}

static void wh_send(struct wh_conn *c, const struct wh_resp *r) {
  size_t blen = r->body ? strlen(r->body) : 0;
  size_t total = 256 + r->pad + blen;
  char *out = malloc(total);
  int n;
  if (r->mode == WH_NOLEN)
    n = snprintf(out, total, "HTTP/1.1 %d X\r\nConnection: close\r\n\r\n", r->status);
  else
    n = snprintf(out, total, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n", r->status, r->pad + blen);
  memset(out + n, ' ', r->pad);
  memcpy(out + n + r->pad, r->body ? r->body : "", blen);
  uv_write_t *w = malloc(sizeof(*w));
  w->data = out;
  uv_buf_t b = uv_buf_init(out, (unsigned)((size_t)n + r->pad + blen));
  if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, wh_written)) {
    free(out);
    free(w);
  }
  if (r->mode == WH_NOLEN)
    wh_conn_close(c); /* libuv finishes the write first */
}

/* Answers every whole request in the buffer. */
static void wh_serve(struct wh_conn *c) {
  struct wh_srv *s = c->s;
  for (;;) {
    c->buf[c->len < WH_BUF ? c->len : WH_BUF - 1] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end)
      return;
    size_t head = (size_t)(end - c->buf) + 4;
    size_t clen = 0;
    char *cl = strcasestr(c->buf, "\r\ncontent-length:");
    if (cl && cl < end)
      clen = strtoul(cl + 17, NULL, 10);
    if (head + clen > WH_BUF - 1)
      clen = WH_BUF - 1 - head;
    if (c->len < head + clen)
      return;
    size_t hl = head < sizeof(s->last_head) ? head : sizeof(s->last_head) - 1;
    memcpy(s->last_head, c->buf, hl);
    s->last_head[hl] = '\0';
    s->last_body_len = clen < sizeof(s->last_body) ? clen : sizeof(s->last_body);
    memcpy(s->last_body, c->buf + head, s->last_body_len);
    size_t i = (size_t)s->requests < s->n_script ? (size_t)s->requests : s->n_script - 1;
    s->requests++;
    memmove(c->buf, c->buf + head + clen, c->len - head - clen);
    c->len -= head + clen;
    if (s->script[i].mode == WH_DROP)
      wh_conn_close(c);
    else if (s->script[i].mode == WH_SHUT) {
      wh_send(c, &s->script[i]);
      wh_conn_close(c); /* libuv has written what fitted, all of it for a small answer */
    }
    else if (s->script[i].mode != WH_NEVER)
      wh_send(c, &s->script[i]);
    if (c->closing)
      return;
  }
}

static void wh_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  struct wh_conn *c = h->data;
  *b = uv_buf_init(c->buf + c->len, (unsigned)(WH_BUF - 1 - c->len));
}

static void wh_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)b;
  struct wh_conn *c = st->data;
  if (n < 0 || c->len + 1 >= WH_BUF) {
    wh_conn_close(c);
    return;
  }
  c->len += (size_t)n;
  wh_serve(c);
}

static void wh_accept(uv_stream_t *l, int status) {
  struct wh_srv *s = l->data;
  if (status)
    return;
  struct wh_conn *c = calloc(1, sizeof(*c));
  c->s = s;
  uv_tcp_init(l->loop, &c->tcp);
  c->tcp.data = c;
  c->next = s->conns;
  s->conns = c;
  s->open++;
  s->accepted++;
  if (uv_accept(l, (uv_stream_t *)&c->tcp) || uv_read_start((uv_stream_t *)&c->tcp, wh_alloc, wh_read))
    wh_conn_close(c);
}

/* Listens on 127.0.0.1 on a free port (s->port). */
static int wh_start(uv_loop_t *loop, struct wh_srv *s) {
  memset(s, 0, sizeof(*s));
  uv_tcp_init(loop, &s->tcp);
  s->tcp.data = s;
  s->open = 1;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  int rc = uv_tcp_bind(&s->tcp, (const struct sockaddr *)&a, 0);
  if (!rc)
    rc = uv_listen((uv_stream_t *)&s->tcp, 64, wh_accept);
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  if (!rc)
    rc = uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &len);
  if (!rc)
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return rc;
}

static void wh_script(struct wh_srv *s, const struct wh_resp *r, size_t n) {
  memcpy(s->script, r, n * sizeof(*r));
  s->n_script = n;
}

/* Closes the listener and every connection; the loop finishes the closes. */
static void wh_stop(struct wh_srv *s) {
  if (!uv_is_closing((uv_handle_t *)&s->tcp))
    uv_close((uv_handle_t *)&s->tcp, wh_handle_closed);
  for (struct wh_conn *c = s->conns; c; c = c->next)
    wh_conn_close(c);
}

/* A port on 127.0.0.1 nothing listens on (bound, then closed at once). */
static int wh_free_port(uv_loop_t *loop) {
  uv_tcp_t t;
  uv_tcp_init(loop, &t);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_bind(&t, (const struct sockaddr *)&a, 0);
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  int port = 0;
  if (!uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len))
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return port;
}

#endif
