/* test_httpd.c -- HTTP/WebSocket server tests: a real server and a blocking client thread. */
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
#include <wslay/wslay.h>

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
  char ws_ip[64];
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

/* ---- WebSocket client on wslay's frame API ---- */

struct wsc {
  struct cli *c;
  wslay_frame_context_ptr fr;
  bool eof;
  char *batch; /* when set, frames are collected here instead of sent */
  size_t blen;
};

static ssize_t wsc_send_cb(const uint8_t *d, size_t n, int flags, void *u) {
  struct wsc *w = u;
  ssize_t r;
  if (w->batch) {
    memcpy(w->batch + w->blen, d, n);
    w->blen += n;
    return (ssize_t)n;
  }
  r = send(w->c->fd, d, n, MSG_NOSIGNAL);
  return r > 0 ? r : -1;
}

static ssize_t wsc_recv_cb(uint8_t *b, size_t n, int flags, void *u) {
  struct wsc *w = u;
  ssize_t r;
  if (w->c->len) { /* bytes that arrived with the 101 */
    r = (ssize_t)(w->c->len < n ? w->c->len : n);
    memcpy(b, w->c->buf, (size_t)r);
    memmove(w->c->buf, w->c->buf + r, w->c->len - (size_t)r);
    w->c->len -= (size_t)r;
    return r;
  }
  r = recv(w->c->fd, b, n, 0);
  if (r <= 0) {
    w->eof = true;
    return -1;
  }
  return r;
}

static int wsc_mask_cb(uint8_t *b, size_t n, void *u) {
  size_t i;
  for (i = 0; i < n; i++)
    b[i] = (uint8_t)rand();
  return 0;
}

static const struct wslay_frame_callbacks wsc_cbs = { wsc_send_cb, wsc_recv_cb, wsc_mask_cb };

static const char ws_req[] =
    "GET /ws?token=abc HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";

static struct wsc *wsc_open(struct fx *f) {
  struct wsc *w = calloc(1, sizeof(*w));
  struct resp r;
  if (!(w->c = cli_connect(f)) || !cli_sends(w->c, ws_req) ||
      !read_response(w->c, &r, false) || r.status != 101 ||
      /* RFC 6455 section 1.3's example: SHA-1 of the key + GUID, base64. */
      !strstr(r.head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n")) {
    fprintf(stderr, "handshake failed: %s\n", w->c ? w->c->buf : "no connection");
    cli_free(w->c);
    free(w);
    return NULL;
  }
  wslay_frame_context_init(&w->fr, &wsc_cbs, w);
  return w;
}

static void wsc_free(struct wsc *w) {
  if (w) {
    wslay_frame_context_free(w->fr);
    cli_free(w->c);
    free(w);
  }
}

static bool wsc_frame(struct wsc *w, int opcode, int fin, int mask, const void *data,
                      size_t len) {
  struct wslay_frame_iocb io = {
    .fin = (uint8_t)fin, .opcode = (uint8_t)opcode, .mask = (uint8_t)mask,
    .payload_length = len, .data = data, .data_length = len,
  };
  do {
    ssize_t r = wslay_frame_send(w->fr, &io);
    if (r < 0)
      return false;
    io.data += r;
    io.data_length -= (size_t)r;
  } while (io.data_length > 0);
  return true;
}

static bool wsc_text(struct wsc *w, const char *s) {
  return wsc_frame(w, WSLAY_TEXT_FRAME, 1, 1, s, strlen(s));
}

/* Reads one frame into buf (NUL-terminated); returns its opcode, or -1. */
static int wsc_read(struct wsc *w, char *buf, size_t cap, size_t *len) {
  size_t got = 0;
  for (;;) {
    struct wslay_frame_iocb io;
    ssize_t r;
    memset(&io, 0, sizeof(io));
    r = wslay_frame_recv(w->fr, &io);
    if (r < 0) {
      if (r == WSLAY_ERR_WANT_READ && !w->eof)
        continue;
      return -1;
    }
    if (got + io.data_length < cap)
      memcpy(buf + got, io.data, io.data_length);
    got += io.data_length;
    if (got >= io.payload_length) {
      *len = got;
      buf[got < cap ? got : cap - 1] = '\0';
      return io.opcode;
    }
  }
}

/* Expects a close frame with `code`; returns false otherwise. */
static bool wsc_expect_close(struct wsc *w, int code) {
  char buf[256];
  size_t n;
  int op;
  while ((op = wsc_read(w, buf, sizeof(buf), &n)) == WSLAY_PING || op == WSLAY_TEXT_FRAME)
    ;
  return op == WSLAY_CONNECTION_CLOSE && n >= 2 &&
         (((uint8_t)buf[0] << 8) | (uint8_t)buf[1]) == code;
}

/* ---- HTTP tests ---- */

static void cl_get(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200);
  CHECK(f, !strcmp(r.body, "hello world"));
  CHECK(f, strstr(r.head, "\r\nContent-Type: text/plain\r\n"));
  CHECK(f, strstr(r.head, "\r\nContent-Length: 11\r\n"));
  CHECK(f, !strstr(r.head, "Connection: close"));
  CHECK(f, cli_sends(c, "GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 404);
  CHECK(f, !strcmp(r.body, "Not Found"));
  CHECK(f, cli_sends(c, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(f, read_response(c, &r, true));
  CHECK(f, r.status == 200 && strstr(r.head, "\r\nContent-Length: 11\r\n"));
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(f, read_response(c, &r, false)); /* no stray HEAD body before it */
  CHECK(f, r.status == 200 && !strcmp(r.body, "hello world"));
  cli_free(c);
}

static void test_get_404_head(void **state) {
  struct fx *f = fx_new();
  run(f, cl_get);
  assert_int_equal(f->requests, 4);
  free(f);
}

static void cl_keepalive(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  CHECK(f, c);
  CHECK(f, cli_sends(c, "POST /echo?a=1&b=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "abcde"));
  CHECK(f, strstr(r.head, "\r\nX-Query: a=1&b=2\r\n") && strstr(r.head, "\r\nX-Method: POST\r\n"));
  CHECK(f, !strstr(r.head, "Injected"));
  /* Chunked body, then a header lookup (case-insensitive, empty value). */
  CHECK(f, cli_sends(c, "PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "abcde") && strstr(r.head, "X-Query: \r\n"));
  CHECK(f, cli_sends(c, "GET /hdr HTTP/1.1\r\nX-Empty:\r\nx-test: value 1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "value 1"));
  CHECK(f, cli_sends(c, "GET /hdr?X-Empty HTTP/1.1\r\nX-Empty:\r\nx-test: value 1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && r.blen == 0);
  CHECK(f, cli_sends(c, "GET /hdr?X-None HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 204);
  /* Expect: 100-continue gets an interim answer before the body is sent. */
  CHECK(f, cli_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 100);
  CHECK(f, cli_sends(c, "ok"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "ok"));
  /* HTTP/1.0 closes unless asked to keep alive. */
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, strstr(r.head, "\r\nConnection: keep-alive\r\n"));
  CHECK(f, cli_sends(c, "GET /close HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "bye"));
  CHECK(f, wait_eof(c));
  cli_free(c);
  c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.0\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, strstr(r.head, "\r\nConnection: close\r\n"));
  CHECK(f, wait_eof(c));
  cli_free(c);
}

static void test_keepalive(void **state) {
  struct fx *f = fx_new();
  run(f, cl_keepalive);
  free(f);
}

static void cl_pipelined(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  int i;
  CHECK(f, c);
  /* Three requests in one segment, and one split across many. */
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\n\r\nPOST /echo?n=2 HTTP/1.1\r\nContent-Length: 3\r\n"
                        "\r\nxyzGET /missing HTTP/1.1\r\n\r\nGE"));
  CHECK(f, cli_sends(c, "T /echo?n=4 HT"));
  CHECK(f, cli_sends(c, "TP/1.1\r\nContent-"));
  CHECK(f, cli_sends(c, "Length: 1\r\n\r\nQ"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "hello world"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "xyz") && strstr(r.head, "X-Query: n=2\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 404);
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "Q") && strstr(r.head, "X-Query: n=4\r\n"));
  /* An Upgrade to something else is an ordinary request; parsing goes on. */
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
                        "GET /echo?after HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "hello world"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && strstr(r.head, "X-Query: after\r\n"));
  /* Many pipelined requests at once. */
  for (i = 0; i < 200; i++)
    CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\n\r\n"));
  for (i = 0; i < 200; i++) {
    CHECK(f, read_response(c, &r, false));
    CHECK(f, r.status == 200);
  }
  cli_free(c);
}

static void test_pipelined(void **state) {
  struct fx *f = fx_new();
  run(f, cl_pipelined);
  assert_int_equal(f->requests, 206);
  free(f);
}

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

static void cl_malformed(struct fx *f) {
  struct cli *c;
  struct resp r;
  expect_error(f, "GARBAGE\r\n\r\n", 400);
  expect_error(f, "GET /hello HTTP/1.1\r\nBad Header\r\n\r\n", 400);
  expect_error(f, "GET /hello HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400);
  expect_error(f, "CONNECT example.com:443 HTTP/1.1\r\n\r\n", 400);
  /* A good request, then a bad one behind it. */
  c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\n\r\nBROKEN\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strstr(r.head, "Connection"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 400 && strstr(r.head, "\r\nConnection: close\r\n"));
  CHECK(f, wait_eof(c));
  cli_free(c);
  /* The server still serves the next connection. */
  c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200);
  cli_free(c);
}

static void test_malformed(void **state) {
  struct fx *f = fx_new();
  run(f, cl_malformed);
  free(f);
}

static void cl_limits(struct fx *f) {
  char req[4096];
  memset(req, 0, sizeof(req));
  snprintf(req, sizeof(req), "GET /hello HTTP/1.1\r\nX-Big: %.*s\r\n\r\n", 1100, big);
  expect_error(f, req, 431);
  snprintf(req, sizeof(req), "GET /%.*s HTTP/1.1\r\n\r\n", 1100, big);
  expect_error(f, req, 431);
  expect_error(f, "POST /echo HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413);
  snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "80\r\n%.*s\r\n0\r\n\r\n", 128, big);
  expect_error(f, req, 413);
}

static void test_limits(void **state) {
  struct fx *f = fx_new();
  f->cfg.max_header_bytes = 1024;
  f->cfg.max_body_bytes = 100;
  run(f, cl_limits);
  assert_int_equal(f->requests, 0);
  free(f);
}

static void cl_idle(struct fx *f) {
  struct cli *c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /hel")); /* never finished */
  CHECK(f, wait_eof(c));
  cli_free(c);
}

static void test_idle_timeout(void **state) {
  struct fx *f = fx_new();
  f->cfg.idle_timeout_ms = 100;
  run(f, cl_idle);
  free(f);
}

static void cl_proxy(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /ip HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1, 192.0.2.7\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, !strcmp(r.body, "192.0.2.7"));
  CHECK(f, cli_sends(c, "GET /ip HTTP/1.1\r\nX-Forwarded-For: 2001:DB8::1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, !strcmp(r.body, "2001:db8::1"));
  CHECK(f, cli_sends(c, "GET /ip HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1, nonsense\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, !strcmp(r.body, "127.0.0.1"));
  CHECK(f, cli_sends(c, "GET /ip HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, !strcmp(r.body, "127.0.0.1"));
  cli_free(c);
}

static void cl_no_proxy(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /ip HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, !strcmp(r.body, "127.0.0.1"));
  cli_free(c);
}

static void test_trust_proxy(void **state) {
  struct fx *f = fx_new();
  f->cfg.trust_proxy = true;
  run(f, cl_proxy);
  free(f);
  f = fx_new();
  run(f, cl_no_proxy);
  free(f);
}

static void cl_shutdown(struct fx *f) {
  struct cli *c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /shutdown HTTP/1.1\r\n\r\n"));
  CHECK(f, wait_eof(c));
  cli_free(c);
}

static void test_close_from_handler(void **state) {
  struct fx *f = fx_new();
  run(f, cl_shutdown);
  free(f);
}

static void test_listen_errors(void **state) {
  uv_loop_t loop;
  struct httpd_config cfg;
  struct httpd_handlers h = { 0 };
  struct httpd *a, *b;
  assert_int_equal(uv_loop_init(&loop), 0);
  httpd_config_default(&cfg);
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  a = httpd_new(&loop, &cfg, &h);
  assert_int_equal(httpd_listen(a), 0);
  assert_int_equal(httpd_listen(a), -EALREADY);
  cfg.port = httpd_port(a);
  b = httpd_new(&loop, &cfg, &h);
  assert_int_equal(httpd_listen(b), -EADDRINUSE);
  httpd_close(b, NULL, NULL);
  cfg.host = "not an address";
  b = httpd_new(&loop, &cfg, &h);
  assert_int_equal(httpd_listen(b), -EINVAL);
  assert_true(httpd_port(b) < 0);
  httpd_close(b, NULL, NULL);
  httpd_close(a, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- WebSocket tests ---- */

static void cl_ws_handshake(struct fx *f) {
  struct wsc *w = wsc_open(f);
  CHECK(f, w);
  wsc_free(w);
  expect_error(f, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 8\r\n\r\n", 426);
  expect_error(f, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n", 400);
  expect_error(f, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: short==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400);
  expect_error(f, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n", 400);
  expect_error(f, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 426);
  expect_error(f, "POST /ws HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400);
  expect_error(f, "FOO /ws HTTP/1.1\r\n\r\n", 400);
}

static void test_ws_handshake(void **state) {
  struct fx *f = fx_new();
  run(f, cl_ws_handshake);
  assert_int_equal(f->ws_opens, 1);
  assert_int_equal(f->ws_closes, 1);
  assert_int_equal(f->close_data_ok, 1);
  assert_string_equal(f->ws_ip, "127.0.0.1");
  assert_int_equal(f->requests, 0);
  free(f);
}

static void cl_ws_echo(struct fx *f) {
  struct wsc *w = wsc_open(f);
  char buf[70000];
  size_t n;
  CHECK(f, w);
  CHECK(f, wsc_text(w, "hello"));
  CHECK(f, wsc_read(w, buf, sizeof(buf), &n) == WSLAY_TEXT_FRAME);
  CHECK(f, n == 5 && !memcmp(buf, "hello", 5));
  CHECK(f, wsc_frame(w, WSLAY_BINARY_FRAME, 1, 1, "\0\1\2", 3));
  CHECK(f, wsc_read(w, buf, sizeof(buf), &n) == WSLAY_BINARY_FRAME);
  CHECK(f, n == 3 && !memcmp(buf, "\0\1\2", 3));
  CHECK(f, wsc_frame(w, WSLAY_PING, 1, 1, "pp", 2));
  CHECK(f, wsc_read(w, buf, sizeof(buf), &n) == WSLAY_PONG);
  CHECK(f, n == 2 && !memcmp(buf, "pp", 2));
  CHECK(f, wsc_text(w, ""));
  CHECK(f, wsc_read(w, buf, sizeof(buf), &n) == WSLAY_TEXT_FRAME && n == 0);
  /* A 60 KiB message both ways (a 64-bit-length frame is not needed). */
  memset(buf, 'z', 60000);
  CHECK(f, wsc_frame(w, WSLAY_TEXT_FRAME, 1, 1, buf, 60000));
  memset(buf, 0, 60000);
  CHECK(f, wsc_read(w, buf, sizeof(buf), &n) == WSLAY_TEXT_FRAME);
  CHECK(f, n == 60000 && buf[0] == 'z' && buf[59999] == 'z');
  /* Fragmented, with a ping between the fragments. */
  CHECK(f, wsc_frame(w, WSLAY_TEXT_FRAME, 0, 1, "hel", 3));
  CHECK(f, wsc_frame(w, WSLAY_CONTINUATION_FRAME, 0, 1, "lo", 2));
  CHECK(f, wsc_frame(w, WSLAY_PING, 1, 1, "", 0));
  CHECK(f, wsc_frame(w, WSLAY_CONTINUATION_FRAME, 1, 1, " world", 6));
  CHECK(f, wsc_read(w, buf, sizeof(buf), &n) == WSLAY_PONG);
  CHECK(f, wsc_read(w, buf, sizeof(buf), &n) == WSLAY_TEXT_FRAME);
  CHECK(f, n == 11 && !memcmp(buf, "hello world", 11));
  /* Client-initiated close: the server answers with the same code. */
  CHECK(f, wsc_frame(w, WSLAY_CONNECTION_CLOSE, 1, 1, "\x03\xe8", 2));
  CHECK(f, wsc_expect_close(w, 1000));
  CHECK(f, wait_eof(w->c));
  wsc_free(w);
}

static void test_ws_echo(void **state) {
  struct fx *f = fx_new();
  run(f, cl_ws_echo);
  assert_int_equal(f->ws_msgs, 5);
  assert_int_equal(f->ws_closes, 1);
  assert_int_equal(f->close_data_ok, 1);
  free(f);
}

static void cl_ws_errors(struct fx *f) {
  struct wsc *w;
  char buf[2048];
  /* Unmasked client frame: protocol error 1002. */
  CHECK(f, (w = wsc_open(f)));
  CHECK(f, wsc_frame(w, WSLAY_TEXT_FRAME, 1, 0, "plain", 5));
  CHECK(f, wsc_expect_close(w, 1002));
  CHECK(f, wait_eof(w->c));
  wsc_free(w);
  /* Over max_ws_message, also when assembled from fragments: 1009. */
  CHECK(f, (w = wsc_open(f)));
  memset(buf, 'a', sizeof(buf));
  CHECK(f, wsc_frame(w, WSLAY_TEXT_FRAME, 1, 1, buf, 1025));
  CHECK(f, wsc_expect_close(w, 1009));
  CHECK(f, wait_eof(w->c));
  wsc_free(w);
  CHECK(f, (w = wsc_open(f)));
  CHECK(f, wsc_frame(w, WSLAY_TEXT_FRAME, 0, 1, buf, 1000));
  CHECK(f, wsc_frame(w, WSLAY_CONTINUATION_FRAME, 1, 1, buf, 1000));
  CHECK(f, wsc_expect_close(w, 1009));
  wsc_free(w);
  /* Invalid UTF-8 in a text message: 1007. */
  CHECK(f, (w = wsc_open(f)));
  CHECK(f, wsc_frame(w, WSLAY_TEXT_FRAME, 1, 1, "ok\xff\xfe", 4));
  CHECK(f, wsc_expect_close(w, 1007));
  wsc_free(w);
  /* A continuation without a start: 1002. */
  CHECK(f, (w = wsc_open(f)));
  CHECK(f, wsc_frame(w, WSLAY_CONTINUATION_FRAME, 1, 1, "x", 1));
  CHECK(f, wsc_expect_close(w, 1002));
  wsc_free(w);
  /* Garbage after the handshake, then a vanished client. */
  CHECK(f, (w = wsc_open(f)));
  CHECK(f, cli_send(w->c, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 14));
  CHECK(f, wait_eof(w->c));
  wsc_free(w);
  CHECK(f, (w = wsc_open(f)));
  CHECK(f, wsc_frame(w, WSLAY_TEXT_FRAME, 0, 1, "partial", 7));
  wsc_free(w);
}

static void test_ws_errors(void **state) {
  struct fx *f = fx_new();
  f->cfg.max_ws_message = 1024;
  run(f, cl_ws_errors);
  assert_int_equal(f->ws_opens, 7);
  assert_int_equal(f->ws_closes, 7);
  assert_int_equal(f->ws_msgs, 0);
  free(f);
}

static void cl_ws_server_close(struct fx *f) {
  struct wsc *w;
  char buf[256];
  size_t n;
  CHECK(f, (w = wsc_open(f)));
  CHECK(f, wsc_text(w, "close-me"));
  CHECK(f, wsc_read(w, buf, sizeof(buf), &n) == WSLAY_CONNECTION_CLOSE);
  CHECK(f, n == 5 && !memcmp(buf, "\x0f\xa0" "bye", 5));
  CHECK(f, wsc_text(w, "ignored after close")); /* not delivered */
  CHECK(f, wsc_frame(w, WSLAY_CONNECTION_CLOSE, 1, 1, "\x0f\xa0", 2));
  CHECK(f, wait_eof(w->c));
  wsc_free(w);
  /* Messages queued before ws_close still go out first. */
  CHECK(f, (w = wsc_open(f)));
  CHECK(f, wsc_text(w, "send-then-close"));
  CHECK(f, wsc_read(w, buf, sizeof(buf), &n) == WSLAY_TEXT_FRAME);
  CHECK(f, n == 4 && !memcmp(buf, "last", 4));
  CHECK(f, wsc_read(w, buf, sizeof(buf), &n) == WSLAY_CONNECTION_CLOSE);
  CHECK(f, n == 6 && !memcmp(buf, "\x03\xe8" "done", 6));
  CHECK(f, wsc_frame(w, WSLAY_CONNECTION_CLOSE, 1, 1, "", 0));
  CHECK(f, wait_eof(w->c));
  wsc_free(w);
}

static void test_ws_server_close(void **state) {
  struct fx *f = fx_new();
  run(f, cl_ws_server_close);
  assert_int_equal(f->ws_msgs, 2);
  assert_int_equal(f->ws_closes, 2);
  assert_int_equal(f->send_err_after, -EPIPE);
  free(f);
}

static void cl_ws_backpressure(struct fx *f) {
  struct wsc *w;
  CHECK(f, (w = wsc_open(f)));
  CHECK(f, wsc_text(w, "flood"));
  usleep(200 * 1000);
  CHECK(f, wait_eof(w->c)); /* dropped, after whatever was already sent */
  wsc_free(w);
}

static void test_ws_backpressure(void **state) {
  struct fx *f = fx_new();
  run(f, cl_ws_backpressure);
  assert_int_equal(f->send_err, -ENOBUFS);
  assert_int_equal(f->send_err_after, -EPIPE);
  assert_int_equal(f->ws_closes, 1);
  free(f);
}

/* Pings in one segment, pongs never read: the pongs overflow the outbuf. */
static void cl_ws_pong_flood(struct fx *f) {
  struct wsc *w;
  static char batch[200 * 120];
  int i;
  CHECK(f, (w = wsc_open(f)));
  w->batch = batch;
  for (i = 0; i < 200; i++)
    CHECK(f, wsc_frame(w, WSLAY_PING, 1, 1, big, 100));
  w->batch = NULL;
  CHECK(f, cli_send(w->c, batch, w->blen));
  CHECK(f, wait_eof(w->c));
  wsc_free(w);
}

static void test_ws_pong_flood(void **state) {
  struct fx *f = fx_new();
  f->cfg.max_ws_outbuf = 4096;
  run(f, cl_ws_pong_flood);
  assert_int_equal(f->ws_closes, 1);
  free(f);
}

static void cl_ws_ping(struct fx *f) {
  struct wsc *w;
  char buf[256];
  size_t n;
  CHECK(f, (w = wsc_open(f)));
  CHECK(f, wsc_read(w, buf, sizeof(buf), &n) == WSLAY_PING);
  CHECK(f, wait_eof(w->c)); /* no pong, no traffic: dropped after 2 periods */
  wsc_free(w);
}

static void test_ws_ping(void **state) {
  struct fx *f = fx_new();
  f->cfg.ws_ping_ms = 100;
  run(f, cl_ws_ping);
  assert_int_equal(f->ws_closes, 1);
  free(f);
}

static void cl_ws_shutdown(struct fx *f) {
  struct wsc *a, *b;
  struct cli *h;
  struct resp r;
  CHECK(f, (a = wsc_open(f)));
  CHECK(f, (b = wsc_open(f)));
  CHECK(f, (h = cli_connect(f)));
  CHECK(f, cli_sends(h, "GET /hello HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(h, &r, false));
  CHECK(f, wsc_text(b, "shutdown")); /* httpd_close from inside on_ws_message */
  CHECK(f, wsc_expect_close(a, 1001));
  CHECK(f, wait_eof(a->c));
  CHECK(f, wsc_expect_close(b, 1001));
  CHECK(f, wait_eof(b->c));
  CHECK(f, wait_eof(h));
  wsc_free(a);
  wsc_free(b);
  cli_free(h);
}

static void test_ws_httpd_close(void **state) {
  struct fx *f = fx_new();
  run(f, cl_ws_shutdown);
  assert_int_equal(f->ws_opens, 2);
  assert_int_equal(f->ws_closes, 2);
  assert_int_equal(f->close_data_ok, 2);
  free(f);
}

/* httpd_close with connections open and nobody calling from a handler. */
static void cl_open_and_leave(struct fx *f) {
  struct wsc *w;
  struct cli *h, *p;
  CHECK(f, (w = wsc_open(f)));
  CHECK(f, (h = cli_connect(f)));
  CHECK(f, (p = cli_connect(f)));
  CHECK(f, cli_sends(p, "GET /hel")); /* half a request */
  CHECK(f, cli_sends(h, "GET /hello HTTP/1.1\r\n\r\n"));
  usleep(100 * 1000);
  client_done(f); /* httpd_close under these open connections */
  CHECK(f, wsc_expect_close(w, 1001));
  CHECK(f, wait_eof(w->c) && wait_eof(h) && wait_eof(p));
  wsc_free(w);
  cli_free(h);
  cli_free(p);
}

static void test_close_with_open_connections(void **state) {
  struct fx *f = fx_new();
  run(f, cl_open_and_leave);
  assert_int_equal(f->ws_opens, 1);
  assert_int_equal(f->ws_closes, 1);
  free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_get_404_head),
    cmocka_unit_test(test_keepalive),
    cmocka_unit_test(test_pipelined),
    cmocka_unit_test(test_malformed),
    cmocka_unit_test(test_limits),
    cmocka_unit_test(test_idle_timeout),
    cmocka_unit_test(test_trust_proxy),
    cmocka_unit_test(test_close_from_handler),
    cmocka_unit_test(test_listen_errors),
    cmocka_unit_test(test_ws_handshake),
    cmocka_unit_test(test_ws_echo),
    cmocka_unit_test(test_ws_errors),
    cmocka_unit_test(test_ws_server_close),
    cmocka_unit_test(test_ws_backpressure),
    cmocka_unit_test(test_ws_ping),
    cmocka_unit_test(test_ws_pong_flood),
    cmocka_unit_test(test_ws_httpd_close),
    cmocka_unit_test(test_close_with_open_connections),
  };
  memset(big, 'b', sizeof(big));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
