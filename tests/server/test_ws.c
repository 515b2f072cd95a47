/* test_ws.c -- WebSocket server tests: a real server and a wslay-framed client thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <wslay/wslay.h>

#include "httpd_fixture.h"

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

/* A client whose receive buffer is rcvbuf bytes from the start (0: the default), so that
 * the server's sending backs up at once when it does not read. */
static struct cli *cli_connect_rcvbuf(struct fx *f, int rcvbuf) {
  struct cli *c;
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)f->port) };
  struct timeval tv = { .tv_sec = 5 };
  if (!rcvbuf)
    return cli_connect(f);
  c = calloc(1, sizeof(*c));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(c->fd);
    free(c);
    return NULL;
  }
  return c;
}

static struct wsc *wsc_open_rcvbuf(struct fx *f, int rcvbuf) {
  struct wsc *w = calloc(1, sizeof(*w));
  struct resp r;
  if (!(w->c = cli_connect_rcvbuf(f, rcvbuf)) || !cli_sends(w->c, ws_req) ||
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

static struct wsc *wsc_open(struct fx *f) {
  return wsc_open_rcvbuf(f, 0);
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

/* Empty pings, whose pongs carry no payload, from a client that never reads: each
 * queued pong counts against max_ws_outbuf, so the connection is dropped instead of
 * growing without bound (before, they counted as 0 bytes and 9M of them held 600 MB). */
static void cl_ws_empty_ping_flood(struct fx *f) {
  struct wsc *w;
  static char batch[4096 * 6];
  int i;
  /* A tiny receive window, so the pongs back up on the server's side at once. */
  CHECK(f, (w = wsc_open_rcvbuf(f, 4096)));
  w->batch = batch;
  for (i = 0; i < 4096; i++)
    CHECK(f, wsc_frame(w, WSLAY_PING, 1, 1, "", 0));
  w->batch = NULL;
  /* 400k pings at most (2.4 MB, which the kernel may well take at once); the server
   * closes the connection once their pongs pass the budget. */
  for (i = 0; i < 100 && cli_send(w->c, batch, w->blen); i++)
    ;
  CHECK(f, wait_eof(w->c));
  wsc_free(w);
}

static void test_ws_empty_ping_flood(void **state) {
  struct fx *f = fx_new();
  f->cfg.max_ws_outbuf = 64 * 1024;
  run(f, cl_ws_empty_ping_flood);
  assert_int_equal(f->ws_closes, 1);
  free(f);
}

/* One-byte fragments: a message may have max_ws_fragments frames (64 by default) and is
 * reassembled in one buffer; one more frame closes the connection with 1008. Before,
 * fragments had no limit and each cost about 90 bytes of wslay's bookkeeping. */
static void cl_ws_fragments(struct fx *f) {
  struct wsc *w;
  char buf[256];
  size_t n;
  int i;
  CHECK(f, (w = wsc_open(f)));
  for (i = 0; i < 64; i++)
    CHECK(f, wsc_frame(w, i ? WSLAY_CONTINUATION_FRAME : WSLAY_TEXT_FRAME, i == 63, 1,
                       &"abcdefgh"[i % 8], 1));
  CHECK(f, wsc_read(w, buf, sizeof(buf), &n) == WSLAY_TEXT_FRAME);
  CHECK(f, n == 64 && !memcmp(buf, "abcdefgh", 8) && !memcmp(buf + 56, "abcdefgh", 8));
  /* Control frames between fragments do not count; the 65th data frame does. */
  for (i = 0; i < 65; i++) {
    CHECK(f, wsc_frame(w, i ? WSLAY_CONTINUATION_FRAME : WSLAY_BINARY_FRAME, 0, 1, "x", 1));
    if (i % 16 == 0)
      CHECK(f, wsc_frame(w, WSLAY_PING, 1, 1, "", 0));
  }
  CHECK(f, wsc_expect_close(w, 1008));
  wsc_free(w);
}

static void test_ws_fragments(void **state) {
  struct fx *f = fx_new();
  run(f, cl_ws_fragments);
  assert_int_equal(f->ws_msgs, 1);
  assert_int_equal(f->ws_closes, 1);
  free(f);
}

/* A message begun and never finished, on a connection kept alive with pings: closed
 * (1008) once it is older than idle_timeout_ms, instead of holding its buffer forever. */
static void cl_ws_stale_fragment(struct fx *f) {
  struct wsc *w;
  char buf[256];
  size_t n;
  int i, op = -1;
  CHECK(f, (w = wsc_open(f)));
  CHECK(f, wsc_frame(w, WSLAY_TEXT_FRAME, 0, 1, "never ", 6));
  for (i = 0; i < 60; i++) {
    CHECK(f, wsc_frame(w, WSLAY_PING, 1, 1, "", 0));
    while ((op = wsc_read(w, buf, sizeof(buf), &n)) == WSLAY_PING || op == WSLAY_PONG)
      if (op == WSLAY_PONG)
        break;
    if (op != WSLAY_PONG)
      break;
    usleep(50 * 1000);
  }
  CHECK(f, op == WSLAY_CONNECTION_CLOSE && n >= 2 &&
               (((uint8_t)buf[0] << 8) | (uint8_t)buf[1]) == 1008);
  wsc_free(w);
}

static void test_ws_stale_fragment(void **state) {
  struct fx *f = fx_new();
  f->cfg.ws_ping_ms = 100;
  f->cfg.idle_timeout_ms = 400;
  run(f, cl_ws_stale_fragment);
  assert_int_equal(f->ws_msgs, 0);
  assert_int_equal(f->ws_closes, 1);
  free(f);
}

/* The status of a handshake with these extra header lines (each ending in CRLF). */
static int ws_status(struct fx *f, const char *host, const char *extra) {
  struct cli *c = cli_connect(f);
  struct resp r;
  char req[1024];
  int st = -1;
  snprintf(req, sizeof(req),
           "GET /ws HTTP/1.1\r\n%s%s%sUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
           host ? "Host: " : "", host ? host : "", host ? "\r\n" : "", extra);
  if (c && cli_sends(c, req) && read_response(c, &r, false))
    st = r.status;
  cli_free(c);
  return st;
}

/* Finding 10: any web page could make its visitors' browsers use the server. By default
 * only the page's own origin may (Origin's host and port are Host's); clients that send no
 * Origin are not browsers and are let in. */
static void cl_ws_origin_default(struct fx *f) {
  CHECK(f, ws_status(f, "test", "") == 101);
  CHECK(f, ws_status(f, NULL, "") == 101);
  CHECK(f, ws_status(f, "test", "Origin: http://test\r\n") == 101);
  CHECK(f, ws_status(f, "Test:80", "Origin: http://tEst\r\n") == 101);
  CHECK(f, ws_status(f, "test", "Origin: https://test\r\n") == 101);
  CHECK(f, ws_status(f, "test:8080", "Origin: http://test:8080\r\n") == 101);
  CHECK(f, ws_status(f, "[::1]:8080", "Origin: http://[::1]:8080\r\n") == 101);
  CHECK(f, ws_status(f, "test", "Origin: http://evil.example\r\n") == 403);
  CHECK(f, ws_status(f, "test", "Origin: http://test.evil.example\r\n") == 403);
  CHECK(f, ws_status(f, "test:8080", "Origin: http://test:8081\r\n") == 403);
  CHECK(f, ws_status(f, "test:80", "Origin: https://test\r\n") == 403);
  CHECK(f, ws_status(f, "test", "Origin: null\r\n") == 403);
  CHECK(f, ws_status(f, NULL, "Origin: http://test\r\n") == 403);
  CHECK(f, ws_status(f, "test", "Origin: http://test@evil\r\n") == 403);
  CHECK(f, ws_status(f, "test", "Origin: http://test/\r\n") == 403);
}

static void test_ws_origin_default(void **state) {
  struct fx *f = fx_new();
  run(f, cl_ws_origin_default);
  assert_int_equal(f->ws_opens, 7);
  free(f);
}

static void cl_ws_origin_list(struct fx *f) {
  CHECK(f, ws_status(f, "x", "Origin: https://tandem.example\r\n") == 101);
  CHECK(f, ws_status(f, "x", "Origin: HTTP://LOCALHOST:8080\r\n") == 101);
  CHECK(f, ws_status(f, "x", "") == 101);
  /* With a list, only the list: a rebound name (Host = Origin = evil) is refused. */
  CHECK(f, ws_status(f, "x", "Origin: http://x\r\n") == 403);
  CHECK(f, ws_status(f, "x", "Origin: https://tandem.example.evil\r\n") == 403);
  CHECK(f, ws_status(f, "x", "Origin: https://tandem\r\n") == 403);
}

static void test_ws_origin_list(void **state) {
  struct fx *f = fx_new();
  f->cfg.ws_origins = " https://tandem.example,http://localhost:8080 ";
  run(f, cl_ws_origin_list);
  assert_int_equal(f->ws_opens, 3);
  free(f);
}

static void cl_ws_origin_any(struct fx *f) {
  CHECK(f, ws_status(f, "x", "Origin: http://anything.example\r\n") == 101);
}

static void test_ws_origin_any(void **state) {
  struct fx *f = fx_new();
  f->cfg.ws_origins = "*";
  run(f, cl_ws_origin_any);
  assert_int_equal(f->ws_opens, 1);
  free(f);
}

/* A WebSocket its owner never claims (no hello, in the server) is closed after
 * ws_claim_ms; a claimed one lives on and is pinged as usual. */
static void cl_ws_claim(struct fx *f) {
  struct wsc *a, *b;
  char buf[256];
  size_t n;
  CHECK(f, (a = wsc_open(f)));
  CHECK(f, (b = wsc_open(f)));
  CHECK(f, wsc_text(b, "claim"));
  CHECK(f, wsc_read(b, buf, sizeof(buf), &n) == WSLAY_TEXT_FRAME);
  CHECK(f, wsc_expect_close(a, 1008));
  CHECK(f, wsc_frame(a, WSLAY_CONNECTION_CLOSE, 1, 1, "", 0));
  CHECK(f, wait_eof(a->c));
  CHECK(f, wsc_read(b, buf, sizeof(buf), &n) == WSLAY_PING);
  CHECK(f, wsc_frame(b, WSLAY_PONG, 1, 1, "", 0));
  CHECK(f, wsc_text(b, "still here"));
  CHECK(f, wsc_read(b, buf, sizeof(buf), &n) == WSLAY_TEXT_FRAME);
  CHECK(f, n == 10);
  wsc_free(a);
  wsc_free(b);
}

static void test_ws_claim(void **state) {
  struct fx *f = fx_new();
  f->cfg.ws_claim_ms = 200;
  f->cfg.ws_ping_ms = 300;
  f->ws_noclaim = true;
  run(f, cl_ws_claim);
  assert_int_equal(f->ws_opens, 2);
  assert_int_equal(f->ws_closes, 2);
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
    cmocka_unit_test(test_ws_handshake),
    cmocka_unit_test(test_ws_echo),
    cmocka_unit_test(test_ws_errors),
    cmocka_unit_test(test_ws_server_close),
    cmocka_unit_test(test_ws_backpressure),
    cmocka_unit_test(test_ws_ping),
    cmocka_unit_test(test_ws_pong_flood),
    cmocka_unit_test(test_ws_empty_ping_flood),
    cmocka_unit_test(test_ws_fragments),
    cmocka_unit_test(test_ws_stale_fragment),
    cmocka_unit_test(test_ws_origin_default),
    cmocka_unit_test(test_ws_claim),
    cmocka_unit_test(test_ws_origin_list),
    cmocka_unit_test(test_ws_origin_any),
    cmocka_unit_test(test_ws_httpd_close),
    cmocka_unit_test(test_close_with_open_connections),
  };
  memset(big, 'b', sizeof(big));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
