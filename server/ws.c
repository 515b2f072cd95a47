/* ws.c -- WebSocket connections (RFC 6455) on httpd: handshake, wslay glue, backpressure. */
#include "server/httpd_int.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_CLOSE_TIMEOUT_MS 5000
#define WS_WBUF_MIN 4096
#define WS_WBUF_MAX 65536 /* bytes handed to one uv_write */
/* What wslay spends on a queued message besides its payload (its omsg struct, the
 * queue's cell, malloc's headers): about 65 bytes for an empty pong, measured. Counting it
 * keeps a flood of empty control frames inside max_ws_outbuf. */
#define WS_MSG_COST 64
#define WS_MSG_KEEP 4096 /* an idle connection keeps at most this much reassembly buffer */

struct ws_conn {
  struct httpd_conn *hc;
  wslay_event_context_ptr ctx;
  void *data;
  const uint8_t *in; /* the read being fed to wslay_event_recv */
  size_t in_len;
  /* The data message being reassembled (wslay runs without buffering, so fragments cost
   * their bytes and nothing more): at most max_ws_message bytes in max_ws_fragments frames,
   * finished within idle_timeout_ms of its first frame. */
  uint8_t *msg;
  size_t msg_len, msg_cap;
  unsigned frags;
  uint64_t msg_start;
  bool rx_ctrl;      /* the frame being received is a control frame */
  bool rx_failed;    /* a limit was hit: a close is queued, input is ignored */
  bool over_budget;  /* queued output passed max_ws_outbuf while reading: drop */
  uint8_t *wbuf; /* frames produced by wslay_event_send, one write at a time */
  size_t wlen, wcap;
  uv_write_t wreq;
  bool writing, opened, app_closed, close_pending, close_timer;
  bool claimed; /* ws_set_data was given non-NULL data once */
  uint16_t close_code;
  size_t reason_len;
  char reason[124];
  uint64_t last_rx;
  uint64_t rx_bytes;
};

/* ---- wslay callbacks ---- */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                          int flags, void *user) {
  struct ws_conn *ws = user;
  size_t n = ws->in_len < len ? ws->in_len : len;
  /* Every ping queues a pong: stop feeding wslay as soon as the output is over budget,
   * so that one read full of pings cannot queue more than one frame too many. */
  if (n > 0 && ws_outbuf_bytes(ws) > ws->hc->srv->cfg.max_ws_outbuf) {
    ws->over_budget = true;
    n = 0;
  }
  if (n == 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  memcpy(buf, ws->in, n);
  ws->in += n;
  ws->in_len -= n;
  return (ssize_t)n;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                          int flags, void *user) {
  struct ws_conn *ws = user;
  size_t n;
  if (ws->wlen == ws->wcap) {
    size_t cap = ws->wcap ? ws->wcap * 2 : WS_WBUF_MIN;
    uint8_t *p;
    if (ws->wcap >= WS_WBUF_MAX) {
      wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
      return -1;
    }
    if (!(p = realloc(ws->wbuf, cap))) {
      wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
      return -1;
    }
    ws->wbuf = p;
    ws->wcap = cap;
  }
  n = ws->wcap - ws->wlen < len ? ws->wcap - ws->wlen : len;
  memcpy(ws->wbuf + ws->wlen, data, n);
  ws->wlen += n;
  return (ssize_t)n;
}

/* Stops reading for good and queues a close frame with `code` (the peer broke a limit). */
static void ws_fail(struct ws_conn *ws, uint16_t code) {
  ws->rx_failed = true;
  wslay_event_queue_close(ws->ctx, code, NULL, 0); /* fails only if a close is queued */
  wslay_event_shutdown_read(ws->ctx);
}

static void ws_msg_reset(struct ws_conn *ws) {
  ws->msg_len = 0;
  ws->frags = 0;
  if (ws->msg_cap > WS_MSG_KEEP) {
    free(ws->msg);
    ws->msg = NULL;
    ws->msg_cap = 0;
  }
}

/* A frame header: data frames are counted and room is made for their payload. wslay has
 * already checked the opcode sequence and this frame's length alone. */
static void ws_frame_start_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_start_arg *a,
                              void *user) {
  struct ws_conn *ws = user;
  const struct httpd_config *cfg = &ws->hc->srv->cfg;
  size_t need, cap;
  uint8_t *p;
  ws->rx_ctrl = (a->opcode & 0x8) != 0;
  if (ws->rx_ctrl || ws->rx_failed)
    return;
  if (a->opcode != WSLAY_CONTINUATION_FRAME) {
    ws->msg_len = ws->frags = 0;
    ws->msg_start = uv_now(ws->hc->srv->loop);
  }
  if (++ws->frags > cfg->max_ws_fragments) {
    ws_fail(ws, WSLAY_CODE_POLICY_VIOLATION);
    return;
  }
  if (a->payload_length > cfg->max_ws_message - ws->msg_len) {
    ws_fail(ws, WSLAY_CODE_MESSAGE_TOO_BIG);
    return;
  }
  need = ws->msg_len + (size_t)a->payload_length;
  if (need <= ws->msg_cap)
    return;
  cap = ws->msg_cap ? ws->msg_cap : 256;
  while (cap < need)
    cap *= 2;
  if (cap > cfg->max_ws_message)
    cap = cfg->max_ws_message;
  if (!(p = realloc(ws->msg, cap))) {
    ws_fail(ws, WSLAY_CODE_INTERNAL_SERVER_ERROR);
    return;
  }
  ws->msg = p;
  ws->msg_cap = cap;
}

static void ws_frame_chunk_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_chunk_arg *a,
                              void *user) {
  struct ws_conn *ws = user;
  if (ws->rx_ctrl || ws->rx_failed || a->data_length == 0)
    return;
  /* ws_frame_start_cb made room for the whole payload. */
  memcpy(ws->msg + ws->msg_len, a->data, a->data_length);
  ws->msg_len += a->data_length;
}

static void ws_msg_cb(wslay_event_context_ptr ctx,
                      const struct wslay_event_on_msg_recv_arg *a, void *user) {
  struct ws_conn *ws = user;
  struct httpd_conn *c = ws->hc;
  struct httpd *s = c->srv;
  if (a->opcode != WSLAY_TEXT_FRAME && a->opcode != WSLAY_BINARY_FRAME)
    return;
  if (ws->rx_failed)
    return;
  if (!c->closing && !c->draining && !ws->app_closed && ws->opened && s->h.on_ws_message)
    s->h.on_ws_message(s->h.arg, ws, ws->msg ? (const char *)ws->msg : "", ws->msg_len,
                       a->opcode == WSLAY_BINARY_FRAME);
  ws_msg_reset(ws);
}

static const struct wslay_event_callbacks ws_callbacks = {
  .recv_callback = ws_recv_cb,
  .send_callback = ws_send_cb,
  .on_frame_recv_start_callback = ws_frame_start_cb,
  .on_frame_recv_chunk_callback = ws_frame_chunk_cb,
  .on_msg_recv_callback = ws_msg_cb,
};

static void ws_close_timeout(uv_timer_t *t) {
  httpd__conn_close(t->data);
}

/* Once closing starts, the connection has WS_CLOSE_TIMEOUT_MS to finish. */
static void ws_arm_close_timer(struct ws_conn *ws) {
  if (ws->close_timer || ws->hc->draining)
    return;
  ws->close_timer = true;
  uv_timer_start(&ws->hc->timer, ws_close_timeout, WS_CLOSE_TIMEOUT_MS, 0);
}

/* ---- output ---- */

static void ws_flush(struct ws_conn *ws);

/* Closes the TCP connection once both directions of the WebSocket are done. */
static void ws_maybe_finish(struct ws_conn *ws) {
  if (ws->writing || ws->close_pending || wslay_event_want_write(ws->ctx) ||
      wslay_event_get_read_enabled(ws->ctx))
    return;
  if (wslay_event_get_close_received(ws->ctx))
    httpd__conn_close(ws->hc); /* handshake complete: the server closes first */
  else
    httpd__conn_finish(ws->hc); /* we failed the connection: let the peer see it */
}

static void ws_on_write(uv_write_t *req, int status) {
  struct ws_conn *ws = req->data;
  ws->writing = false;
  ws->wlen = 0;
  if (ws->wcap > WS_WBUF_MIN) {
    free(ws->wbuf); /* idle connections keep at most a small buffer */
    ws->wbuf = NULL;
    ws->wcap = 0;
  }
  if (ws->hc->closing)
    return;
  if (status < 0) {
    httpd__conn_close(ws->hc);
    return;
  }
  ws_flush(ws);
}

static void ws_flush(struct ws_conn *ws) {
  struct httpd_conn *c = ws->hc;
  uv_buf_t b;
  if (c->closing || ws->writing)
    return;
  for (;;) {
    /* A graceful close waits until everything queued before it is out. */
    if (ws->close_pending && !wslay_event_want_write(ws->ctx)) {
      ws->close_pending = false;
      wslay_event_queue_close(ws->ctx, ws->close_code, (const uint8_t *)ws->reason,
                              ws->reason_len);
    }
    if (wslay_event_send(ws->ctx) < 0) {
      httpd__conn_close(c);
      return;
    }
    if (!ws->close_pending || wslay_event_want_write(ws->ctx))
      break;
  }
  if (ws->wlen == 0) {
    ws_maybe_finish(ws);
    return;
  }
  b = uv_buf_init((char *)ws->wbuf, (unsigned)ws->wlen);
  ws->wreq.data = ws;
  if (httpd__write(c, &ws->wreq, &b, 1, ws_on_write) != 0) {
    httpd__conn_close(c);
    return;
  }
  ws->writing = true;
}

/* ---- handshake and lifetime (called by httpd.c) ---- */

static bool has_token(const char *list, const char *tok) {
  size_t tl = strlen(tok), n;
  while (list && *list) {
    list += strspn(list, " \t,");
    n = strcspn(list, " \t,");
    if (n == tl && !strncasecmp(list, tok, tl))
      return true;
    list += n;
  }
  return false;
}

/* A base64 encoding of 16 bytes: 22 characters and "==". */
static bool key_ok(const char *k) {
  static const char b64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  return k && strlen(k) == 24 && strspn(k, b64) == 22 && !strcmp(k + 22, "==");
}

bool ws__handshake(struct httpd_conn *c, const struct httpd_request *req,
                   struct httpd_reply *rep) {
  struct httpd *s = c->srv;
  const char *key = httpd_header(req, "sec-websocket-key");
  const char *ver = httpd_header(req, "sec-websocket-version");
  unsigned char md[EVP_MAX_MD_SIZE], in[24 + sizeof(WS_GUID)];
  char accept[64];
  unsigned mdlen = 0;
  struct ws_conn *ws;
  if (c->parser.method != HTTP_GET) {
    httpd_reply_status(rep, 400);
    return false;
  }
  if (!has_token(httpd_header(req, "upgrade"), "websocket")) {
    httpd_reply_status(rep, 426);
    httpd_reply_header(rep, "Upgrade", "websocket");
    return false;
  }
  if (c->parser.http_major != 1 || c->parser.http_minor < 1 ||
      !has_token(httpd_header(req, "connection"), "upgrade")) {
    httpd_reply_status(rep, 400);
    return false;
  }
  if (!ver || strcmp(ver, "13")) {
    httpd_reply_status(rep, 426);
    httpd_reply_header(rep, "Upgrade", "websocket");
    httpd_reply_header(rep, "Sec-WebSocket-Version", "13");
    return false;
  }
  if (!key_ok(key)) {
    httpd_reply_status(rep, 400);
    return false;
  }
  /* Any web page can make its visitors' browsers open a WebSocket anywhere; the
   * browser tells us which page (Origin), and only our own pages may. */
  if (!ws__origin_ok(s, httpd_header(req, "origin"), httpd_header(req, "host"))) {
    httpd_reply_status(rep, 403);
    return false;
  }
  memcpy(in, key, 24);
  memcpy(in + 24, WS_GUID, sizeof(WS_GUID) - 1);
  if (EVP_Digest(in, 24 + sizeof(WS_GUID) - 1, md, &mdlen, EVP_sha1(), NULL) != 1 ||
      !(ws = calloc(1, sizeof(*ws)))) {
    httpd_reply_status(rep, 500);
    return false;
  }
  if (wslay_event_context_server_init(&ws->ctx, &ws_callbacks, ws) != 0) {
    free(ws);
    httpd_reply_status(rep, 500);
    return false;
  }
  /* wslay then checks each frame's length, and UTF-8 across fragments; this file
   * reassembles messages itself, in one buffer per connection. */
  wslay_event_config_set_no_buffering(ws->ctx, 1);
  wslay_event_config_set_max_recv_msg_length(ws->ctx, s->cfg.max_ws_message);
  EVP_EncodeBlock((unsigned char *)accept, md, (int)mdlen);
  ws->hc = c;
  c->ws = ws;
  httpd_reply_status(rep, 101);
  httpd_reply_header(rep, "Upgrade", "websocket");
  httpd_reply_header(rep, "Connection", "Upgrade");
  httpd_reply_header(rep, "Sec-WebSocket-Accept", accept);
  return true;
}

static void ws_tick(uv_timer_t *t) {
  struct httpd_conn *c = t->data;
  struct ws_conn *ws = c->ws;
  struct wslay_event_msg ping = { WSLAY_PING, NULL, 0 };
  uint64_t now = uv_now(c->srv->loop);
  unsigned stale = c->srv->cfg.idle_timeout_ms;
  if (now - ws->last_rx >= 2 * (uint64_t)c->srv->cfg.ws_ping_ms) {
    httpd__conn_close(c); /* the peer is gone */
    return;
  }
  if (ws->frags && stale && now - ws->msg_start >= stale && !ws->rx_failed) {
    /* A message begun and never finished holds its buffer: a live peer may not keep one
     * open past idle_timeout_ms. */
    ws_fail(ws, WSLAY_CODE_POLICY_VIOLATION);
    ws_arm_close_timer(ws);
  } else {
    wslay_event_queue_msg(ws->ctx, &ping);
  }
  ws_flush(ws);
}

/* ws_claim_ms after the open: an unclaimed connection is closed, a claimed one gets its
 * ping timer from now on. */
static void ws_claim_check(uv_timer_t *t) {
  struct httpd_conn *c = t->data;
  struct ws_conn *ws = c->ws;
  if (!ws->claimed) {
    ws_close(ws, WSLAY_CODE_POLICY_VIOLATION, "timeout");
    return;
  }
  if (c->srv->cfg.ws_ping_ms)
    uv_timer_start(&c->timer, ws_tick, c->srv->cfg.ws_ping_ms, c->srv->cfg.ws_ping_ms);
}

void ws__opened(struct httpd_conn *c, const struct httpd_request *req) {
  struct httpd *s = c->srv;
  struct ws_conn *ws = c->ws;
  if (c->closing)
    return;
  ws->last_rx = uv_now(s->loop);
  uv_timer_stop(&c->timer);
  if (s->cfg.ws_claim_ms)
    uv_timer_start(&c->timer, ws_claim_check, s->cfg.ws_claim_ms, 0);
  else if (s->cfg.ws_ping_ms)
    uv_timer_start(&c->timer, ws_tick, s->cfg.ws_ping_ms, s->cfg.ws_ping_ms);
  ws->opened = true;
  if (s->h.on_ws_open)
    s->h.on_ws_open(s->h.arg, ws, req);
}

void ws__on_read(struct httpd_conn *c, const char *data, size_t len) {
  struct ws_conn *ws = c->ws;
  int r;
  if (c->closing || c->draining)
    return;
  ws->last_rx = uv_now(c->srv->loop);
  ws->rx_bytes += len;
  ws->in = (const uint8_t *)data;
  ws->in_len = len;
  r = wslay_event_recv(ws->ctx);
  ws->in = NULL;
  ws->in_len = 0;
  if (c->closing)
    return;
  /* Pongs a peer never reads count against max_ws_outbuf too, each with its overhead. */
  if (r == WSLAY_ERR_NOMEM || ws->over_budget ||
      ws_outbuf_bytes(ws) > c->srv->cfg.max_ws_outbuf) {
    httpd__conn_close(c);
    return;
  }
  if (!wslay_event_get_read_enabled(ws->ctx))
    ws_arm_close_timer(ws); /* close received or protocol error */
  /* Protocol errors have queued their close frame (1002, 1007, 1009). */
  ws_flush(ws);
}

void ws__going_away(struct httpd_conn *c) {
  struct ws_conn *ws = c->ws;
  static const char reason[] = "server shutdown";
  if (c->closing || c->draining)
    return;
  wslay_event_shutdown_read(ws->ctx);
  ws->app_closed = true;
  ws->close_pending = false;
  wslay_event_queue_close(ws->ctx, WSLAY_CODE_GOING_AWAY, (const uint8_t *)reason,
                          sizeof(reason) - 1);
  /* uv_write tries to write at once, so the frame usually leaves before the
   * handle closes. */
  ws_flush(ws);
}

void ws__free(struct httpd_conn *c) {
  struct ws_conn *ws = c->ws;
  struct httpd *s = c->srv;
  if (ws->opened && s->h.on_ws_close)
    s->h.on_ws_close(s->h.arg, ws);
  wslay_event_context_free(ws->ctx);
  free(ws->wbuf);
  free(ws->msg);
  free(ws);
  c->ws = NULL;
}

/* ---- public API ---- */

void ws_set_data(struct ws_conn *c, void *data) {
  if (c) {
    c->data = data;
    c->claimed = c->claimed || data;
  }
}

void *ws_get_data(const struct ws_conn *c) {
  return c ? c->data : NULL;
}

int ws_ping(struct ws_conn *c) {
  struct wslay_event_msg ping = { WSLAY_PING, NULL, 0 };
  if (!c || c->hc->closing || c->hc->draining || c->app_closed ||
      wslay_event_queue_msg(c->ctx, &ping) != 0)
    return -EPIPE;
  ws_flush(c);
  return 0;
}

uint64_t ws_rx_bytes(const struct ws_conn *c) {
  return c ? c->rx_bytes : 0;
}

const char *ws_remote_ip(const struct ws_conn *c) {
  return c ? c->hc->client_ip : "";
}

size_t ws_outbuf_bytes(const struct ws_conn *c) {
  if (!c)
    return 0;
  return wslay_event_get_queued_msg_length(c->ctx) +
         wslay_event_get_queued_msg_count(c->ctx) * WS_MSG_COST + (c->writing ? c->wlen : 0);
}

static int ws_send(struct ws_conn *c, uint8_t opcode, const void *data, size_t len) {
  struct wslay_event_msg m = { opcode, data, len };
  int r;
  if (!c || (!data && len))
    return -EINVAL;
  if (c->hc->closing || c->hc->draining || c->app_closed ||
      !wslay_event_get_write_enabled(c->ctx))
    return -EPIPE;
  if (ws_outbuf_bytes(c) + len + WS_MSG_COST > c->hc->srv->cfg.max_ws_outbuf) {
    httpd__conn_close(c->hc); /* a slow consumer */
    return -ENOBUFS;
  }
  r = wslay_event_queue_msg(c->ctx, &m);
  if (r == WSLAY_ERR_NO_MORE_MSG)
    return -EPIPE;
  if (r == WSLAY_ERR_NOMEM)
    return -ENOMEM;
  if (r != 0)
    return -EINVAL;
  ws_flush(c);
  return 0;
}

int ws_send_text(struct ws_conn *c, const char *data, size_t len) {
  return ws_send(c, WSLAY_TEXT_FRAME, data, len);
}

int ws_send_binary(struct ws_conn *c, const void *data, size_t len) {
  return ws_send(c, WSLAY_BINARY_FRAME, data, len);
}

void ws_close(struct ws_conn *c, uint16_t code, const char *reason) {
  size_t len = reason ? strlen(reason) : 0;
  if (!c || c->hc->closing || c->hc->draining || c->app_closed)
    return;
  c->app_closed = true;
  /* Only registered codes (1004-1006 and 1015 never go on the wire) and the
   * application range 3000-4999 may be sent. */
  if (code != 0 && !(code >= 1000 && code <= 1003) && !(code >= 1007 && code <= 1014) &&
      !(code >= 3000 && code <= 4999))
    code = 1000;
  if (len > 123) {
    /* Cut before the character that straddles the limit. */
    len = 123;
    while (len > 0 && ((unsigned char)reason[len] & 0xC0) == 0x80)
      len--;
  }
  c->close_code = code;
  c->reason_len = code ? len : 0;
  if (c->reason_len)
    memcpy(c->reason, reason, c->reason_len);
  c->close_pending = true;
  ws_arm_close_timer(c);
  ws_flush(c);
}
