/* httpd.c -- HTTP/1.1 connections on libuv and http-parser: keep-alive, pipelining, limits. */
#include "server/httpd_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINGER_MS 2000                 /* wait for the peer's FIN after ours */
#define RESERVE_IDLE_MS 2000           /* a reserve connection's request must come by then */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void http_feed(struct httpd_conn *c, const char *data, size_t len);

void httpd_config_default(struct httpd_config *c) {
  memset(c, 0, sizeof(*c));
  c->host = "0.0.0.0";
  c->port = 8080;
  c->max_header_bytes = 16 * 1024;
  c->max_body_bytes = 64 * 1024;
  c->max_ws_message = 64 * 1024;
  c->max_ws_fragments = 64;
  c->max_ws_outbuf = 1024 * 1024;
  c->idle_timeout_ms = 30000;
  c->ws_ping_ms = 20000;
  c->reserve_conns = 16;
  c->max_conns_per_ip = 64;
}

int httpd__grow(char **buf, size_t *cap, size_t need) {
  size_t n = *cap ? *cap : 256;
  char *p;
  if (need <= *cap)
    return 0;
  while (n < need)
    n *= 2;
  if (!(p = realloc(*buf, n)))
    return -ENOMEM;
  *buf = p;
  *cap = n;
  return 0;
}

/* ---- connection lifetime ---- */

static void maybe_free_server(struct httpd *s) {
  void (*done)(void *);
  void *arg;
  if (!s->closing || !s->listener_closed || s->conns)
    return;
  done = s->done;
  arg = s->done_arg;
  free(s->ws_path);
  free(s->ws_origins);
  free(s->reserve_paths);
  iptab_free(s->per_ip);
  httpd_set_tls(s, NULL);
  free(s);
  if (done)
    done(arg);
}

static void conn_free(struct httpd_conn *c) {
  struct httpd *s = c->srv;
  /* The owners' callbacks (on_cancel, on_ws_close) run first, while c is
   * still linked and valid. */
  httpd__defer_conn_freed(c);
  if (c->ws)
    ws__free(c);
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  s->nconns--;
  httpd__tls_conn_free(c);
  httpd__demux_done(c);
  free(c->hbuf);
  free(c->body);
  free(c->held);
  free(c);
  maybe_free_server(s);
}

static void on_conn_closed(uv_handle_t *h) {
  struct httpd_conn *c = h->data;
  if (--c->pending_closes == 0)
    conn_free(c);
}

/* Reads while the input has somewhere to go: never after the peer's FIN;
 * while draining always (it is discarded); otherwise not while too much
 * output is queued or too much input is held behind a deferred reply. */
static void read_update(struct httpd_conn *c) {
  bool want = !c->closing && !c->peer_eof &&
              (c->draining || (!c->out_full && !c->held_full));
  if (want == c->reading)
    return;
  c->reading = want;
  if (!want)
    uv_read_stop((uv_stream_t *)&c->tcp);
  else if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
    httpd__conn_close(c);
}

void httpd__conn_close(struct httpd_conn *c) {
  if (c->closing)
    return;
  c->closing = true;
  /* uv_close closes the socket now: its descriptor and its place go at once. */
  if (c->fd_open) {
    c->fd_open = false;
    c->srv->nfds--;
  }
  httpd__rfifo_del(c);
  httpd__ip_uncount(c);
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_timer_close(uv_timer_t *t) {
  struct httpd_conn *c = t->data;
  if (httpd__demux_pending(c))
    c->srv->demux.refused++; /* no first bytes in time */
  httpd__conn_close(c);
}

void httpd__conn_idle(struct httpd_conn *c) {
  if (c->reserve || c->closing)
    return; /* a reserve connection keeps its short deadline */
  if (c->srv->cfg.idle_timeout_ms)
    uv_timer_start(&c->timer, on_timer_close, c->srv->cfg.idle_timeout_ms, 0);
  else
    uv_timer_stop(&c->timer);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  struct httpd_conn *c = req->data;
  c->shutdown_done = true;
  if (c->closing)
    return;
  if (status < 0 || c->peer_eof)
    httpd__conn_close(c);
  else
    uv_timer_start(&c->timer, on_timer_close, LINGER_MS, 0);
}

void httpd__conn_finish(struct httpd_conn *c) {
  unsigned t = c->srv->cfg.idle_timeout_ms ? c->srv->cfg.idle_timeout_ms : 30000;
  if (c->closing || c->draining)
    return;
  c->draining = true;
  /* Keep reading (and discarding) so that the peer's FIN is seen and its
   * unread data never turns our close into a reset. */
  read_update(c);
  if (c->closing)
    return;
  /* Bounds the time the queued output may take, then the linger. */
  uv_timer_start(&c->timer, on_timer_close, t, 0);
  httpd__tls_shutdown(c);
  if (c->closing)
    return;
  c->shutdown.data = c;
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
    httpd__conn_close(c);
}

/* ---- output ---- */

void httpd__conn_written(struct httpd_conn *c, int status) {
  c->writes--;
  if (c->closing)
    return;
  if (status < 0) {
    httpd__conn_close(c);
    return;
  }
  if (c->out_full && !c->draining && c->out_bytes <= HTTPD__OUT_MAX / 2) {
    c->out_full = false;
    /* The requests held meanwhile are parsed from a later iteration, in order, before
     * anything read after them. */
    if (c->held_len && !c->deferred && !c->resume_pending)
      httpd__conn_resume(c);
    else
      read_update(c);
  }
}

/* Answers with an error status and closes after it. */
static void send_error(struct httpd_conn *c, int status) {
  struct httpd_reply rep = { .status = status };
  c->close_after_write = true;
  httpd__reply_send(c, &rep, false, false);
  httpd__reply_clear(&rep);
  httpd__conn_finish(c);
}

/* ---- dispatch and reading ---- */

static void dispatch(struct httpd_conn *c) {
  struct httpd *s = c->srv;
  struct httpd_request req;
  struct httpd_reply rep = { .status = 404 };
  bool keep = http_should_keep_alive(&c->parser);
  bool head = c->parser.method == HTTP_HEAD;
  if (c->body)
    c->body[c->body_len] = '\0';
  httpd__set_client_ip(c);
  req = (struct httpd_request){
    .method = http_method_str((enum http_method)c->parser.method),
    .path = c->hbuf + c->path_off,
    .query = c->hbuf + c->query_off,
    .body = c->body ? c->body : "",
    .body_len = c->body_len,
    .remote_ip = c->client_ip,
    .conn_ = c,
  };
  if (s->cfg.idle_timeout_ms)
    uv_timer_start(&c->timer, on_timer_close, s->cfg.idle_timeout_ms, 0);
  if (c->reserve) {
    /* The reserve answers health checks, once each, and nothing else. */
    httpd__rfifo_del(c);
    if ((s->ws_path && !strcmp(req.path, s->ws_path)) || !httpd__reserve_path(s, req.path)) {
      send_error(c, 503);
      return;
    }
    keep = false;
  } else if (s->ws_path && !strcmp(req.path, s->ws_path) && s->cfg.trust_proxy &&
             !httpd__ip_count(c, c->client_ip)) {
    /* Behind a proxy the address is known only now: too many WebSockets from it. */
    send_error(c, 429);
    return;
  }
  if (s->ws_path && !strcmp(req.path, s->ws_path)) {
    bool up = ws__handshake(c, &req, &rep);
    httpd__reply_send(c, &rep, false, up);
    httpd__reply_clear(&rep);
    if (!up) {
      c->close_after_write = true;
      httpd__conn_finish(c);
      return;
    }
    ws__opened(c, &req);
    /* The WebSocket needs none of the HTTP buffers any more. */
    free(c->hbuf);
    free(c->body);
    c->hbuf = c->body = NULL;
    c->hlen = c->hcap = c->nhdr = c->body_len = c->body_cap = 0;
    return;
  }
  rep.conn = c; /* httpd_defer may take this one */
  if (s->h.on_request)
    s->h.on_request(s->h.arg, &req, &rep);
  if (rep.moved) {
    httpd__reply_clear(&rep); /* anything set after httpd_defer */
    httpd__defer_dispatched(c);
    return;
  }
  if (c->closing) {
    httpd__reply_clear(&rep);
    return;
  }
  if (rep.conn_close)
    keep = false;
  httpd__reply_send(c, &rep, head, keep);
  httpd__reply_clear(&rep);
  if (!keep) {
    c->close_after_write = true;
    httpd__conn_finish(c);
  }
}

/* ---- input held behind a deferred reply ---- */

static bool held(const struct httpd_conn *c) {
  return c->deferred || c->resume_pending || c->out_full;
}

static void hold(struct httpd_conn *c, const char *data, size_t len) {
  if (httpd__grow(&c->held, &c->held_cap, c->held_len + len) != 0) {
    httpd__conn_close(c);
    return;
  }
  memcpy(c->held + c->held_len, data, len);
  c->held_len += len;
  if (c->held_len >= HTTPD__HOLD_MAX) {
    c->held_full = true;
    read_update(c);
  }
}

/* The peer's FIN. A half-closing HTTP client still gets the answers it asked
 * for, except a deferred one: TCP cannot tell a half-close from a close, so
 * that client counts as gone and the connection is dropped, which cancels
 * the reply now rather than at its timeout. */
static void on_eof(struct httpd_conn *c) {
  c->peer_eof = true;
  c->reading = false; /* libuv stops reading at EOF */
  if (c->deferred)
    httpd__conn_close(c);
  else if (c->resume_pending || (c->out_full && c->held_len))
    return; /* on_resume answers the held requests first, then comes back */
  else if (c->shutdown_done || !(c->draining || (!c->ws && c->writes > 0)))
    httpd__conn_close(c);
  else
    httpd__conn_finish(c);
}

static void on_resume(uv_timer_t *t) {
  struct httpd_conn *c = t->data;
  struct httpd *s = c->srv;
  char *data = c->held;
  size_t len = c->held_len;
  c->resume_pending = false;
  c->held = NULL;
  c->held_len = c->held_cap = 0;
  c->held_full = false;
  if (s->cfg.idle_timeout_ms)
    uv_timer_start(&c->timer, on_timer_close, s->cfg.idle_timeout_ms, 0);
  /* Parsing may defer again and hold the rest of data anew. */
  http_feed(c, data, len);
  free(data);
  if (c->closing)
    return;
  if (c->peer_eof)
    on_eof(c);
  else
    read_update(c);
}

void httpd__conn_resume(struct httpd_conn *c) {
  /* A timer, so that the next on_request never runs inside the owner's
   * httpd_deferred_send(). */
  c->resume_pending = true;
  uv_timer_start(&c->timer, on_resume, 0, 0);
}

/* ---- reading ---- */

static void http_feed(struct httpd_conn *c, const char *data, size_t len) {
  size_t off = 0, n;
  enum http_errno e;
  while (off < len && !c->closing && !c->close_after_write && !c->ws && !c->deferred &&
         !c->out_full) {
    n = http_parser_execute(&c->parser, &httpd__parser_settings, data + off, len - off);
    off += n;
    e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
      http_parser_pause(&c->parser, 0);
      if (!c->closing) /* a failed "100 Continue" write may have closed it */
        dispatch(c);
      /* A pipelining client that does not read its answers: checked after every
       * request, since one read may hold thousands of them. */
      if (!c->closing && !c->draining && !c->ws && c->out_bytes > HTTPD__OUT_MAX)
        c->out_full = true;
      continue;
    }
    if (e != HPE_OK) {
      send_error(c, c->err_status ? c->err_status : e == HPE_HEADER_OVERFLOW ? 431 : 400);
      return;
    }
    if (n == 0)
      break;
  }
  if (c->ws && off < len && !c->closing)
    ws__on_read(c, data + off, len - off);
  else if ((c->deferred || c->out_full) && off < len && !c->closing)
    hold(c, data + off, len - off);
  if (c->out_full && !c->closing)
    read_update(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  struct httpd_conn *c = h->data;
  size_t n = sizeof(c->srv->rbuf);
  /* Held input grows by at most what HTTPD__HOLD_MAX still allows (reading
   * stops before it is reached). */
  if (held(c) && !c->draining && c->held_len < HTTPD__HOLD_MAX &&
      HTTPD__HOLD_MAX - c->held_len < n)
    n = HTTPD__HOLD_MAX - c->held_len;
  *buf = uv_buf_init(c->srv->rbuf, (unsigned)n);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  struct httpd_conn *c = st->data;
  if (c->closing || nread == 0)
    return;
  if (nread < 0) {
    if (nread == UV_EOF)
      on_eof(c);
    else
      httpd__conn_close(c);
    return;
  }
  if (c->draining)
    return;
  if (c->ssl)
    httpd__tls_read(c, buf->base, (size_t)nread);
  else
    httpd__conn_input(c, buf->base, (size_t)nread);
}

void httpd__conn_input(struct httpd_conn *c, const char *data, size_t len) {
  if (c->closing || c->draining)
    return;
  if (c->ws)
    ws__on_read(c, data, len);
  else if (held(c))
    hold(c, data, len);
  else
    http_feed(c, data, len);
}

/* ---- server ---- */

static void on_reject_closed(uv_handle_t *h) {
  free(h);
}

static void peer_name(struct httpd_conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  strcpy(c->peer_ip, "0.0.0.0");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
    return;
  if (ss.ss_family == AF_INET) {
    uv_ip4_name((struct sockaddr_in *)&ss, c->peer_ip, sizeof(c->peer_ip));
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
      inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], c->peer_ip, sizeof(c->peer_ip));
    else
      uv_ip6_name(a6, c->peer_ip, sizeof(c->peer_ip));
  }
}

/* Accepts and closes at once: the listener must be drained, or libuv stops polling it. */
static void reject(struct httpd *s) {
  uv_tcp_t *t = malloc(sizeof(*t));
  if (t && uv_tcp_init(s->loop, t) == 0) {
    uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, on_reject_closed);
  } else {
    free(t);
  }
}

static void on_connection(uv_stream_t *ls, int status) {
  struct httpd *s = ls->data;
  struct httpd_conn *c;
  if (status < 0 || s->closing)
    return;
  /* Out of budget: make room by closing the oldest reserve connection still
   * waiting for its request (most likely idle on purpose), or refuse this one. */
  if (s->nfds >= s->cfg.max_conns) {
    if (!s->rhead) {
      reject(s);
      return;
    }
    httpd__conn_close(s->rhead);
  }
  c = calloc(1, sizeof(*c));
  if (!c) {
    reject(s);
    return;
  }
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->pending_closes = 2;
  c->srv = s;
  c->next = s->conns;
  if (s->conns)
    s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0) {
    httpd__conn_close(c);
    return;
  }
  c->fd_open = true;
  s->nfds++;
  peer_name(c);
  strcpy(c->client_ip, c->peer_ip);
  if (!s->cfg.trust_proxy && !httpd__ip_count(c, c->peer_ip)) {
    httpd__conn_close(c);
    return;
  }
  c->reserve = s->nfds > s->cfg.max_conns - s->cfg.reserve_conns;
  uv_tcp_nodelay(&c->tcp, 1);
  if (httpd__tls_accept(c) != 0) {
    httpd__conn_close(c);
    return;
  }
  c->demux = c->ssl && s->media_fn;
  if (c->reserve) {
    httpd__rfifo_add(c);
    uv_timer_start(&c->timer, on_timer_close, RESERVE_IDLE_MS, 0);
  } else if (c->demux) {
    /* What the connection carries must show at once; the idle timeout follows TLS. */
    unsigned t = HTTPD_FIRST_BYTES_MS;
    if (s->cfg.idle_timeout_ms && s->cfg.idle_timeout_ms < t)
      t = s->cfg.idle_timeout_ms;
    uv_timer_start(&c->timer, on_timer_close, t, 0);
  } else if (s->cfg.idle_timeout_ms) {
    uv_timer_start(&c->timer, on_timer_close, s->cfg.idle_timeout_ms, 0);
  }
  read_update(c);
}

struct httpd *httpd_new(uv_loop_t *loop, const struct httpd_config *cfg,
                        const struct httpd_handlers *h) {
  struct httpd *s = calloc(1, sizeof(*s));
  struct httpd_config d;
  if (!s)
    return NULL;
  httpd_config_default(&d);
  s->cfg = cfg ? *cfg : d;
  /* A zero limit means the default, never "unlimited". */
  s->cfg.max_header_bytes = s->cfg.max_header_bytes ? s->cfg.max_header_bytes : d.max_header_bytes;
  s->cfg.max_body_bytes = s->cfg.max_body_bytes ? s->cfg.max_body_bytes : d.max_body_bytes;
  s->cfg.max_ws_message = s->cfg.max_ws_message ? s->cfg.max_ws_message : d.max_ws_message;
  s->cfg.max_ws_outbuf = s->cfg.max_ws_outbuf ? s->cfg.max_ws_outbuf : d.max_ws_outbuf;
  s->cfg.max_ws_fragments = s->cfg.max_ws_fragments ? s->cfg.max_ws_fragments
                                                    : d.max_ws_fragments;
  s->cfg.reserve_conns = s->cfg.reserve_conns ? s->cfg.reserve_conns : d.reserve_conns;
  s->cfg.max_conns_per_ip = s->cfg.max_conns_per_ip ? s->cfg.max_conns_per_ip
                                                    : d.max_conns_per_ip;
  snprintf(s->host, sizeof(s->host), "%s", s->cfg.host ? s->cfg.host : d.host);
  s->cfg.host = s->host;
  if (h)
    s->h = *h;
  if (s->h.ws_path && !(s->ws_path = strdup(s->h.ws_path))) {
    free(s);
    return NULL;
  }
  s->h.ws_path = s->ws_path;
  s->cfg.ws_origins = s->cfg.reserve_paths = NULL;
  if ((cfg && cfg->ws_origins && cfg->ws_origins[0] &&
       !(s->cfg.ws_origins = s->ws_origins = strdup(cfg->ws_origins))) ||
      (cfg && cfg->reserve_paths &&
       !(s->cfg.reserve_paths = s->reserve_paths = strdup(cfg->reserve_paths))) ||
      !(s->per_ip = iptab_new())) {
    free(s->ws_path);
    free(s->ws_origins);
    free(s->reserve_paths);
    iptab_free(s->per_ip);
    free(s);
    return NULL;
  }
  s->loop = loop;
  if (uv_tcp_init(loop, &s->listener) != 0) {
    free(s->ws_path);
    free(s->ws_origins);
    free(s->reserve_paths);
    iptab_free(s->per_ip);
    free(s);
    return NULL;
  }
  s->listener.data = s;
  return s;
}

int httpd_listen(struct httpd *s) {
  struct sockaddr_storage ss;
  const char *host = strcmp(s->host, "localhost") ? s->host : "127.0.0.1";
  int r;
  if (s->closing)
    return -EINVAL;
  if (s->listening)
    return -EALREADY;
  if (s->cfg.port < 0 || s->cfg.port > 65535)
    return -EINVAL;
  if (uv_ip4_addr(host, s->cfg.port, (struct sockaddr_in *)&ss) != 0 &&
      uv_ip6_addr(host, s->cfg.port, (struct sockaddr_in6 *)&ss) != 0)
    return -EINVAL;
  if ((r = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0)) != 0)
    return r;
  if ((r = uv_listen((uv_stream_t *)&s->listener, 511, on_connection)) != 0)
    return r;
  s->listening = true;
  if (!s->cfg.max_conns)
    s->cfg.max_conns = httpd__conn_budget();
  if (s->cfg.reserve_conns > s->cfg.max_conns / 2)
    s->cfg.reserve_conns = s->cfg.max_conns / 2;
  return 0;
}

int httpd_port(const struct httpd *s) {
  struct sockaddr_storage ss;
  int len = sizeof(ss), r;
  if ((r = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len)) != 0)
    return r;
  if (ss.ss_family == AF_INET)
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return -EINVAL;
}

static void on_listener_closed(uv_handle_t *h) {
  struct httpd *s = h->data;
  s->listener_closed = true;
  maybe_free_server(s);
}

void httpd_close(struct httpd *s, void (*done)(void *arg), void *arg) {
  struct httpd_conn *c;
  if (!s || s->closing)
    return;
  s->closing = true;
  s->done = done;
  s->done_arg = arg;
  uv_close((uv_handle_t *)&s->listener, on_listener_closed);
  /* Connections stay linked until their close callbacks run. */
  for (c = s->conns; c; c = c->next) {
    if (c->ws)
      ws__going_away(c);
    httpd__conn_close(c);
  }
}

size_t httpd_connection_count(const struct httpd *s) {
  return s ? s->nconns : 0;
}

unsigned httpd_max_conns(const struct httpd *s) {
  return s ? s->cfg.max_conns : 0;
}
