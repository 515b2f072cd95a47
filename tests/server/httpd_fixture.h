/* httpd_fixture.h -- shared fixture for the httpd/ws tests: a real server and a blocking client thread. */
#ifndef TANDEM_TESTS_SERVER_HTTPD_FIXTURE_H
#define TANDEM_TESTS_SERVER_HTTPD_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "server/httpd.h"

/* ---- fixture: server on the test thread's loop, client script on a thread ---- */

struct fx {
  uv_loop_t loop;
  struct httpd *s;
  struct httpd_config cfg;
  uv_async_t async;
  void (*client)(struct fx *);
  int port;
  char err[512]; /* the client's first failure */
  /* What the server saw (written on the loop thread, read after the join). */
  int requests, ws_opens, ws_closes, ws_msgs, close_data_ok;
  int send_err, send_err_after;
  bool done_called;
  bool signalled; /* client thread only */
  bool ws_noclaim; /* on_ws_open leaves the connection unclaimed ("claim" claims it) */
  char ws_ip[64];
  /* Extra routes, tried first; true when it handled the request. */
  bool (*route)(struct fx *f, const struct httpd_request *req, struct httpd_reply *rep);
  void *user; /* the route's state */
  struct httpd_tls *tls; /* set on the server before it listens (test_httpd_tls.c) */
  httpd_media_fn media;  /* with tls: ICE-TCP on the TLS port (test_httpd_demux.c), arg f */
};

#define CHECK(f, cond)                                                        \
  do {                                                                        \
    if (!(cond)) {                                                            \
      if (!(f)->err[0])                                                       \
        snprintf((f)->err, sizeof((f)->err), "%s:%d: %s", __FILE__, __LINE__, \
                 #cond);                                                      \
      return;                                                                 \
    }                                                                         \
  } while (0)

static char big[16384];

static void on_done(void *arg) {
  struct fx *f = arg;
  f->done_called = true;
  f->s = NULL;
}

static void on_request(void *arg, const struct httpd_request *req, struct httpd_reply *rep) {
  struct fx *f = arg;
  char tmp[256];
  f->requests++;
  if (f->route && f->route(f, req, rep))
    return;
  if (!strcmp(req->path, "/hello")) {
    httpd_reply_status(rep, 200);
    httpd_reply_body(rep, "text/plain", "hello world", 11, false);
  } else if (!strcmp(req->path, "/echo")) {
    httpd_reply_status(rep, 200);
    httpd_reply_header(rep, "X-Query", req->query);
    httpd_reply_header(rep, "X-Method", req->method);
    httpd_reply_header(rep, "X-Bad", "a\r\nInjected: 1"); /* dropped */
    httpd_reply_body(rep, "application/octet-stream", req->body, req->body_len, true);
  } else if (!strcmp(req->path, "/hdr")) {
    const char *name = req->query[0] ? req->query : "X-Test";
    const char *v = httpd_header(req, name);
    httpd_reply_status(rep, v ? 200 : 204);
    if (v)
      httpd_reply_body(rep, "text/plain", v, strlen(v), true);
  } else if (!strcmp(req->path, "/ip")) {
    httpd_reply_status(rep, 200);
    snprintf(tmp, sizeof(tmp), "%s", req->remote_ip);
    httpd_reply_body(rep, "text/plain", tmp, strlen(tmp), true);
  } else if (!strcmp(req->path, "/close")) {
    httpd_reply_status(rep, 200);
    httpd_reply_header(rep, "Connection", "close");
    httpd_reply_body(rep, "text/plain", "bye", 3, false);
  } else if (!strcmp(req->path, "/shutdown")) {
    httpd_close(f->s, on_done, f);
    httpd_reply_status(rep, 200);
  }
}

static void on_ws_open(void *arg, struct ws_conn *c, const struct httpd_request *req) {
  struct fx *f = arg;
  f->ws_opens++;
  if (!f->ws_noclaim)
    ws_set_data(c, f);
  snprintf(f->ws_ip, sizeof(f->ws_ip), "%s", ws_remote_ip(c));
}

static void on_ws_message(void *arg, struct ws_conn *c, const char *data, size_t len,
                          bool binary) {
  struct fx *f = arg;
  int i, r;
  f->ws_msgs++;
  if (len == 8 && !memcmp(data, "close-me", 8)) {
    ws_close(c, 4000, "bye");
  } else if (len == 15 && !memcmp(data, "send-then-close", 15)) {
    ws_send_text(c, "last", 4);
    ws_close(c, 1000, "done");
    f->send_err_after = ws_send_text(c, "x", 1);
  } else if (len == 5 && !memcmp(data, "flood", 5)) {
    for (i = 0; i < 1000; i++) {
      if ((r = ws_send_text(c, big, sizeof(big))) != 0) {
        f->send_err = r;
        break;
      }
    }
    f->send_err_after = ws_send_text(c, "x", 1);
  } else if (len == 5 && !memcmp(data, "claim", 5)) {
    ws_set_data(c, f);
    ws_send_text(c, data, len);
  } else if (len == 8 && !memcmp(data, "shutdown", 8)) {
    httpd_close(f->s, on_done, f);
  } else if (binary) {
    ws_send_binary(c, data, len);
  } else {
    ws_send_text(c, data, len);
  }
}

static void on_ws_close(void *arg, struct ws_conn *c) {
  struct fx *f = arg;
  f->ws_closes++;
  if (ws_get_data(c) == f && ws_send_text(c, "x", 1) == -EPIPE)
    f->close_data_ok++;
}

static void on_async(uv_async_t *a) {
  struct fx *f = a->data;
  if (f->s)
    httpd_close(f->s, on_done, f);
  uv_close((uv_handle_t *)a, NULL);
}

/* Tells the loop thread to close the server (once). */
static void client_done(struct fx *f) {
  if (!f->signalled) {
    f->signalled = true;
    uv_async_send(&f->async);
  }
}

static void *client_main(void *arg) {
  struct fx *f = arg;
  f->client(f);
  client_done(f);
  return NULL;
}

static struct fx *fx_new(void) {
  struct fx *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  httpd_config_default(&f->cfg);
  f->cfg.host = "127.0.0.1";
  f->cfg.port = 0;
  return f;
}

/* Runs the client script against a fresh server, then closes everything and
 * checks that nothing is left on the loop. */
static void run(struct fx *f, void (*client)(struct fx *)) {
  struct httpd_handlers h = {
    .on_request = on_request, .ws_path = "/ws", .on_ws_open = on_ws_open,
    .on_ws_message = on_ws_message, .on_ws_close = on_ws_close, .arg = f,
  };
  pthread_t th;
  assert_int_equal(uv_loop_init(&f->loop), 0);
  f->s = httpd_new(&f->loop, &f->cfg, &h);
  assert_non_null(f->s);
  if (f->tls)
    httpd_set_tls(f->s, f->tls);
  if (f->media)
    httpd_set_media(f->s, f->media, f);
  assert_int_equal(httpd_listen(f->s), 0);
  f->port = httpd_port(f->s);
  assert_true(f->port > 0);
  f->client = client;
  assert_int_equal(uv_async_init(&f->loop, &f->async, on_async), 0);
  f->async.data = f;
  assert_int_equal(pthread_create(&th, NULL, client_main, f), 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  pthread_join(th, NULL);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  if (f->err[0])
    fail_msg("%s", f->err);
  assert_true(f->done_called);
}

/* ---- blocking HTTP client ---- */

struct cli {
  int fd;
  size_t len;
  char buf[1 << 18];
};

struct resp {
  int status;
  char head[8192];
  char body[65536];
  size_t blen;
};

static struct cli *cli_connect(struct fx *f) {
  struct cli *c = calloc(1, sizeof(*c));
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)f->port) };
  struct timeval tv = { .tv_sec = 5 };
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(c->fd);
    free(c);
    return NULL;
  }
  return c;
}

static void cli_free(struct cli *c) {
  if (c) {
    close(c->fd);
    free(c);
  }
}

static bool cli_send(struct cli *c, const void *p, size_t n) {
  const char *s = p;
  while (n > 0) {
    ssize_t r = send(c->fd, s, n, MSG_NOSIGNAL);
    if (r <= 0)
      return false;
    s += r;
    n -= (size_t)r;
  }
  return true;
}

static bool cli_sends(struct cli *c, const char *s) {
  return cli_send(c, s, strlen(s));
}

static bool cli_fill(struct cli *c) {
  ssize_t r;
  if (c->len == sizeof(c->buf))
    return false;
  r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
  if (r <= 0)
    return false;
  c->len += (size_t)r;
  return true;
}

static bool read_response(struct cli *c, struct resp *r, bool head_req) {
  char *end, *cl;
  size_t hl, n;
  while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
    if (!cli_fill(c))
      return false;
  hl = (size_t)(end + 4 - c->buf);
  if (hl >= sizeof(r->head))
    return false;
  memcpy(r->head, c->buf, hl);
  r->head[hl] = '\0';
  if (sscanf(r->head, "HTTP/1.1 %d", &r->status) != 1)
    return false;
  cl = strcasestr(r->head, "\r\nContent-Length:");
  n = cl && !head_req ? strtoul(cl + 17, NULL, 10) : 0;
  if (n >= sizeof(r->body))
    return false;
  while (c->len < hl + n)
    if (!cli_fill(c))
      return false;
  memcpy(r->body, c->buf + hl, n);
  r->body[n] = '\0';
  r->blen = n;
  memmove(c->buf, c->buf + hl + n, c->len - hl - n);
  c->len -= hl + n;
  return true;
}

/* True when the server closes the connection (FIN or reset) within 5 s. */
static bool wait_eof(struct cli *c) {
  char tmp[65536];
  for (;;) {
    ssize_t r = recv(c->fd, tmp, sizeof(tmp), 0);
    if (r == 0)
      return true;
    if (r < 0)
      return errno == ECONNRESET;
  }
}

/* Sends `req` on a fresh connection; expects `status` and a closed connection. */
static void expect_error(struct fx *f, const char *req, int status) {
  struct cli *c = cli_connect(f);
  struct resp r;
  CHECK(f, c);
  CHECK(f, cli_sends(c, req));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == status);
  CHECK(f, strstr(r.head, "\r\nConnection: close\r\n"));
  CHECK(f, wait_eof(c));
  cli_free(c);
}

#endif
