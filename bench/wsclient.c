/* wsclient.c -- a WebSocket client (RFC 6455) on libuv TCP, http-parser and wslay. */
#include "bench/wsclient.h"

#include <errno.h>
#include <http_parser.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define HDR_MAX 128
#define READ_BUF 16384

enum ws_state { ST_CONNECTING, ST_UPGRADING, ST_OPEN, ST_DONE };

struct wsclient {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_shutdown_t sreq;
  enum ws_state state;
  bool owner_gone;  /* no more callbacks: closed by the owner or reported */
  bool handle_closing;
  struct wsclient_events ev;
  void *arg;
  char host[96], path[64];
  char accept[32]; /* the Sec-WebSocket-Accept we expect */
  http_parser hp;
  http_parser_settings hs;
  char field[HDR_MAX], value[HDR_MAX];
  size_t field_len, value_len;
  bool in_value, accept_ok, headers_done;
  wslay_event_context_ptr ctx;
  const uint8_t *in;
  size_t in_len;
  uint8_t *wbuf;
  size_t wlen, wcap;
  uint16_t close_code;
  char rbuf[READ_BUF];
};

struct wreq {
  uv_write_t req;
  uint8_t data[];
};

/* ---- lifetime ---- */

static void on_closed(uv_handle_t *h) {
  struct wsclient *c = h->data;
  if (c->ctx)
    wslay_event_context_free(c->ctx);
  free(c->wbuf);
  free(c);
}

static void close_handle(struct wsclient *c) {
  if (c->handle_closing)
    return;
  c->handle_closing = true;
  c->state = ST_DONE;
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* The connection ended by itself: tell the owner once, then go. */
static void fail(struct wsclient *c, int err, uint16_t code) {
  if (!c->owner_gone) {
    c->owner_gone = true;
    if (c->ev.on_close)
      c->ev.on_close(c->arg, err, code);
  }
  close_handle(c);
}

/* ---- writing ---- */

static void write_cb(uv_write_t *req, int status) {
  (void)status; /* a failed write shows up as a read error or EOF */
  free(req);
}

static int write_raw(struct wsclient *c, const void *data, size_t len) {
  struct wreq *w = malloc(sizeof(*w) + len);
  if (!w)
    return -ENOMEM;
  memcpy(w->data, data, len);
  uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
  int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
  if (rc)
    free(w);
  return rc;
}

/* Lets wslay produce its queued frames into wbuf and writes them out in one piece. */
static int flush(struct wsclient *c) {
  if (!c->ctx || c->handle_closing)
    return 0;
  if (wslay_event_send(c->ctx) != 0)
    return -EPROTO;
  if (c->wlen == 0)
    return 0;
  int rc = write_raw(c, c->wbuf, c->wlen);
  c->wlen = 0;
  return rc;
}

/* ---- wslay callbacks ---- */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *user) {
  struct wsclient *c = user;
  (void)flags;
  size_t n = c->in_len < len ? c->in_len : len;
  if (n == 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  memcpy(buf, c->in, n);
  c->in += n;
  c->in_len -= n;
  return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user) {
  struct wsclient *c = user;
  (void)flags;
  if (c->wlen + len > c->wcap) {
    size_t cap = c->wcap ? c->wcap : 4096;
    while (cap < c->wlen + len)
      cap *= 2;
    uint8_t *nb = realloc(c->wbuf, cap);
    if (!nb) {
      wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
      return -1;
    }
    c->wbuf = nb;
    c->wcap = cap;
  }
  memcpy(c->wbuf + c->wlen, data, len);
  c->wlen += len;
  return (ssize_t)len;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user) {
  (void)ctx;
  (void)user;
  return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m,
                   void *user) {
  struct wsclient *c = user;
  (void)ctx;
  if (m->opcode == WSLAY_CONNECTION_CLOSE)
    c->close_code = m->status_code ? m->status_code : 1005;
  else if (m->opcode == WSLAY_TEXT_FRAME && !c->owner_gone && c->ev.on_text)
    c->ev.on_text(c->arg, (const char *)m->msg, m->msg_length);
}

static const struct wslay_event_callbacks wslay_cbs = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .genmask_callback = genmask_cb,
    .on_msg_recv_callback = msg_cb,
};

/* ---- the HTTP upgrade ---- */

static void header_done(struct wsclient *c) {
  if (c->field_len == strlen("Sec-WebSocket-Accept") &&
      !strncasecmp(c->field, "Sec-WebSocket-Accept", c->field_len))
    c->accept_ok = c->value_len == strlen(c->accept) && !memcmp(c->value, c->accept, c->value_len);
  c->field_len = c->value_len = 0;
}

static void append(char *dst, size_t *len, const char *at, size_t n) {
  size_t room = HDR_MAX - 1 - *len;
  n = n < room ? n : room;
  memcpy(dst + *len, at, n);
  *len += n;
}

static int hp_field(http_parser *p, const char *at, size_t n) {
  struct wsclient *c = p->data;
  if (c->in_value) {
    header_done(c);
    c->in_value = false;
  }
  append(c->field, &c->field_len, at, n);
  return 0;
}

static int hp_value(http_parser *p, const char *at, size_t n) {
  struct wsclient *c = p->data;
  c->in_value = true;
  append(c->value, &c->value_len, at, n);
  return 0;
}

static int hp_headers_done(http_parser *p) {
  struct wsclient *c = p->data;
  if (c->in_value)
    header_done(c);
  c->headers_done = true;
  return 2; /* no body, and what follows is another protocol */
}

static void on_upgrade_data(struct wsclient *c, const uint8_t *data, size_t len) {
  size_t used = http_parser_execute(&c->hp, &c->hs, (const char *)data, len);
  if (!c->headers_done) {
    if (HTTP_PARSER_ERRNO(&c->hp) != HPE_OK || used != len)
      fail(c, -EPROTO, 0);
    return;
  }
  if (c->hp.status_code != 101 || !c->accept_ok) {
    fail(c, -EPROTO, 0);
    return;
  }
  if (wslay_event_context_client_init(&c->ctx, &wslay_cbs, c) != 0) {
    fail(c, -ENOMEM, 0);
    return;
  }
  wslay_event_config_set_max_recv_msg_length(c->ctx, 1 << 20);
  c->state = ST_OPEN;
  if (!c->owner_gone && c->ev.on_open)
    c->ev.on_open(c->arg);
  if (c->state != ST_OPEN)
    return;
  /* Frames that came in the same read as the 101 response. */
  c->in = data + used;
  c->in_len = len - used;
  if (c->in_len && wslay_event_recv(c->ctx) != 0)
    fail(c, -EPROTO, 0);
}

/* ---- reading ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct wsclient *c = h->data;
  (void)suggested;
  *buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct wsclient *c = s->data;
  if (c->handle_closing || n == 0)
    return;
  if (n < 0) {
    if (c->state == ST_OPEN && c->close_code)
      fail(c, 0, c->close_code);
    else
      fail(c, n == UV_EOF ? -ECONNRESET : (int)n, 0);
    return;
  }
  if (c->state == ST_UPGRADING) {
    on_upgrade_data(c, (const uint8_t *)buf->base, (size_t)n);
  } else if (c->state == ST_OPEN) {
    c->in = (const uint8_t *)buf->base;
    c->in_len = (size_t)n;
    if (wslay_event_recv(c->ctx) != 0) {
      fail(c, -EPROTO, 0);
      return;
    }
  }
  if (c->state != ST_OPEN || c->handle_closing)
    return;
  if (flush(c) != 0) {
    fail(c, -EPROTO, 0);
    return;
  }
  /* After the server's close frame (answered by wslay above) there is nothing left to do. */
  if (!wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx))
    fail(c, 0, c->close_code ? c->close_code : 1005);
}

static void connect_cb(uv_connect_t *req, int status) {
  struct wsclient *c = req->data;
  if (c->handle_closing)
    return;
  if (status < 0) {
    fail(c, status, 0);
    return;
  }
  uint8_t raw[16];
  char key[32];
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned dlen = 0;
  char cat[64];
  if (RAND_bytes(raw, sizeof(raw)) != 1) {
    fail(c, -EIO, 0);
    return;
  }
  EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
  int cl = snprintf(cat, sizeof(cat), "%s%s", key, WS_GUID);
  EVP_Digest(cat, (size_t)cl, digest, &dlen, EVP_sha1(), NULL);
  EVP_EncodeBlock((unsigned char *)c->accept, digest, (int)dlen);
  char req_text[512];
  int n = snprintf(req_text, sizeof(req_text),
                   "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                   "Origin: http://%s\r\nUser-Agent: tandem-bench\r\n\r\n",
                   c->path, c->host, key, c->host);
  c->state = ST_UPGRADING;
  if (n <= 0 || (size_t)n >= sizeof(req_text) || write_raw(c, req_text, (size_t)n) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
    fail(c, -EIO, 0);
}

int wsclient_open(uv_loop_t *loop, const struct sockaddr *addr, const char *host,
                  const char *path, const struct wsclient_events *ev, void *arg,
                  struct wsclient **out) {
  struct wsclient *c = calloc(1, sizeof(*c));
  if (!c)
    return -ENOMEM;
  c->ev = *ev;
  c->arg = arg;
  snprintf(c->host, sizeof(c->host), "%s", host);
  snprintf(c->path, sizeof(c->path), "%s", path);
  http_parser_init(&c->hp, HTTP_RESPONSE);
  c->hp.data = c;
  http_parser_settings_init(&c->hs);
  c->hs.on_header_field = hp_field;
  c->hs.on_header_value = hp_value;
  c->hs.on_headers_complete = hp_headers_done;
  int rc = uv_tcp_init(loop, &c->tcp);
  if (rc) {
    free(c);
    return rc;
  }
  c->tcp.data = c;
  uv_tcp_nodelay(&c->tcp, 1);
  c->creq.data = c;
  rc = uv_tcp_connect(&c->creq, &c->tcp, addr, connect_cb);
  if (rc) {
    c->owner_gone = true;
    close_handle(c);
    return rc;
  }
  *out = c;
  return 0;
}

int wsclient_send_text(struct wsclient *c, const char *data, size_t len) {
  if (c->state != ST_OPEN || c->owner_gone)
    return -EINVAL;
  struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)data, len};
  if (wslay_event_queue_msg(c->ctx, &m) != 0)
    return -ENOMEM;
  return flush(c) ? -EIO : 0;
}

static void shutdown_cb(uv_shutdown_t *req, int status) {
  struct wsclient *c = req->data;
  (void)status;
  close_handle(c);
}

void wsclient_close(struct wsclient *c, uint16_t code) {
  if (c->owner_gone)
    return;
  c->owner_gone = true;
  if (c->state != ST_OPEN || c->handle_closing) {
    close_handle(c);
    return;
  }
  wslay_event_queue_close(c->ctx, code, NULL, 0);
  flush(c);
  c->state = ST_DONE;
  c->sreq.data = c;
  /* The shutdown waits for the queued writes, so the close frame goes out first. */
  if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, shutdown_cb) != 0)
    close_handle(c);
}

void wsclient_abort(struct wsclient *c) {
  if (c->owner_gone)
    return;
  c->owner_gone = true;
  close_handle(c);
}
