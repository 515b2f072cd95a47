/* tcp.c -- ICE-TCP (RFC 6544, passive candidates) on a media worker: a TCP listener on the
 * worker's port number; each connection carries RFC 4571 frames, opens with an ICE check that
 * binds it to its session, and then is that session's stream transport. Writes never block the
 * worker: a connection's unsent bytes are bounded, and what does not fit is dropped as loss on
 * UDP would be (counted in tcp_dropped). Frames written during a loop turn are gathered per
 * connection and written together when the turn ends (tcp__flush), one system call for many
 * packets, as sendmmsg does for UDP. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media/demux.h"
#include "media/framing.h"
#include "media/router_int.h"
#include "media/tcp_int.h"

#define TCP_OUT_MAX (256 * 1024)  /* unsent bytes per connection before packets are dropped */
#define TCP_BIND_MS 10000         /* a connection must pass an ICE check within this */
#define TCP_MAX_CONNS 8192        /* per worker */
#define TCP_READ_BUF (64 * 1024)
#define TCP_GATHER (16 * 1024)    /* frames gathered per connection before a write */
_Static_assert(FRAMING_MAX + 2 <= TCP_GATHER, "a frame fits in the gather buffer");

struct tcp_conn {
  uv_tcp_t h;
  struct worker *w;
  struct tcp_conn *prev, *next;
  struct framing_reader rd;
  struct session *s;           /* the session it carries, once a check bound it */
  struct sockaddr_storage peer;
  size_t queued;               /* bytes handed to uv_write and not yet written */
  uint64_t accepted_ms;
  bool closing;
  uint8_t *gather;             /* whole frames of this loop turn (TCP_GATHER bytes), or NULL */
  size_t gathered;
  struct tcp_conn *dirty_next; /* on w->tcp.dirty while gathered > 0 */
};

struct tcp_wreq {
  uv_write_t req;
  struct tcp_conn *c;
  size_t len;
  uint8_t data[];
};

static int conn_write(void *impl, const uint8_t *buf, size_t len);
static void conn_release(void *impl);
static const struct stream_ops TCP_OPS = {conn_write, conn_release};

static void conn_closed(uv_handle_t *h) {
  struct tcp_conn *c = h->data;
  struct worker *w = c->w;
  if (c->prev)
    c->prev->next = c->next;
  else
    w->tcp.conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  w->tcp.n_conns--;
  free(c->gather);
  free(c);
}

/* Detaches the connection from its session (which then has no path until it gets another). */
static void unbind(struct tcp_conn *c) {
  struct session *s = c->s;
  if (!s)
    return;
  c->s = NULL;
  if (s->stream == c) {
    s->stream_ops = NULL;
    s->stream = NULL;
    s->path.kind = TX_NONE;
    handover__path_changed(s);
  }
}

/* Takes c off the list of connections with gathered frames (which are discarded). */
static void undirty(struct tcp_conn *c) {
  if (!c->gathered)
    return;
  c->gathered = 0;
  for (struct tcp_conn **pp = &c->w->tcp.dirty; *pp; pp = &(*pp)->dirty_next)
    if (*pp == c) {
      *pp = c->dirty_next;
      break;
    }
  c->dirty_next = NULL;
}

static void conn_close(struct tcp_conn *c) {
  if (c->closing)
    return;
  c->closing = true;
  undirty(c);
  unbind(c);
  uv_close((uv_handle_t *)&c->h, conn_closed);
}

/* stream_ops.close: the session is being freed; the connection goes with it. */
static void conn_release(void *impl) {
  struct tcp_conn *c = impl;
  c->s = NULL;
  conn_close(c);
}

static void write_done(uv_write_t *req, int status) {
  struct tcp_wreq *r = (struct tcp_wreq *)req;
  r->c->queued -= r->len;
  if (status < 0 && status != UV_ECANCELED)
    conn_close(r->c);
  free(r);
}

/* Writes len bytes of whole frames: at once if the socket takes them, the rest queued in
 * libuv. The budget was checked when the frames were gathered. */
static int conn_send(struct tcp_conn *c, const uint8_t *buf, size_t len) {
  size_t done = 0;
  if (c->queued == 0) {
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->h, &b, 1);
    if (n == (int)len)
      return 0;
    if (n < 0 && n != UV_EAGAIN) {
      conn_close(c);
      return -EPIPE;
    }
    done = n > 0 ? (size_t)n : 0;
  }
  struct tcp_wreq *r = malloc(sizeof(*r) + len - done);
  if (!r) {
    /* Part of a frame may have gone out: the stream cannot continue in step. */
    conn_close(c);
    return -ENOMEM;
  }
  memcpy(r->data, buf + done, len - done);
  r->c = c;
  r->len = len - done;
  uv_buf_t b = uv_buf_init((char *)r->data, (unsigned)r->len);
  if (uv_write(&r->req, (uv_stream_t *)&c->h, &b, 1, write_done) != 0) {
    free(r);
    conn_close(c);
    return -EPIPE;
  }
  c->queued += r->len;
  return 0;
}

/* Writes what c gathered and takes it off the dirty list. */
static void conn_flush(struct tcp_conn *c) {
  size_t n = c->gathered;
  undirty(c);
  if (n && !c->closing)
    (void)conn_send(c, c->gather, n);
}

void tcp__flush(struct worker *w) {
  while (w->tcp.dirty)
    conn_flush(w->tcp.dirty);
}

/* stream_ops.write: one framed packet, gathered for the end of the loop turn if the budget
 * (bytes gathered and queued in libuv) has room, else dropped as loss on UDP would be. */
static int conn_write(void *impl, const uint8_t *buf, size_t len) {
  struct tcp_conn *c = impl;
  uint8_t hdr[2];
  if (c->closing || framing_header(hdr, len) != 0)
    return -EPIPE;
  struct worker *w = c->w;
  size_t total = len + 2;
  if (c->queued + c->gathered + total > TCP_OUT_MAX) {
    w->st.tcp_dropped++;
    return -ENOBUFS;
  }
  if (!c->gather && !(c->gather = malloc(TCP_GATHER))) {
    w->st.tcp_dropped++;
    return -ENOMEM;
  }
  if (c->gathered + total > TCP_GATHER) {
    conn_flush(c);
    if (c->closing)
      return -EPIPE;
  }
  if (!c->gathered) {
    c->dirty_next = w->tcp.dirty;
    w->tcp.dirty = c;
  }
  memcpy(c->gather + c->gathered, hdr, 2);
  memcpy(c->gather + c->gathered + 2, buf, len);
  c->gathered += total;
  return 0;
}

/* An ICE check on the connection: binds it to its session (a TCP connection cannot be spoofed,
 * so the session's path may move to it), and answers on it. */
static void on_check(struct tcp_conn *c, uint8_t *pkt, size_t n) {
  struct worker *w = c->w;
  uint8_t reply[1280];
  size_t rlen = sizeof(reply);
  struct session *s = session__check(w, pkt, n, (struct sockaddr *)&c->peer, reply, &rlen);
  if (!s)
    return;
  if (c->s && c->s != s) {
    w->st.stun_conflicts++; /* one connection, one session */
    return;
  }
  w->st.stun_ok++;
  s->last_stun_ms = worker__now(w);
  c->s = s;
  if (s->stream != c) {
    if (s->stream_ops && s->stream_ops != &TCP_OPS)
      s->stream_ops->close(s->stream);
    else if (s->stream)
      ((struct tcp_conn *)s->stream)->s = NULL; /* an older connection of the same browser */
    s->stream_ops = &TCP_OPS;
    s->stream = c;
    s->path.kind = TX_STREAM;
    handover__path_changed(s);
  }
  conn_write(c, reply, rlen);
}

static void on_frame(void *arg, uint8_t *pkt, size_t n) {
  struct tcp_conn *c = arg;
  if (c->closing)
    return;
  if (demux_classify(pkt, n) == DEMUX_STUN) {
    c->w->st.rx_packets++;
    c->w->st.rx_bytes += n;
    on_check(c, pkt, n);
  } else if (c->s) {
    session__on_stream_packet(c->s, pkt, n);
  } else {
    c->w->st.rx_dropped++; /* media before a check bound the connection */
  }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct tcp_conn *c = h->data;
  (void)suggested;
  *buf = uv_buf_init((char *)c->w->tcp.rbuf, TCP_READ_BUF);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  struct tcp_conn *c = st->data;
  if (nread < 0) {
    conn_close(c);
    return;
  }
  if (framing_feed(&c->rd, (const uint8_t *)buf->base, (size_t)nread, on_frame, c) != 0) {
    c->w->st.rx_dropped++;
    conn_close(c); /* a frame no browser sends: the stream is broken or hostile */
  }
}

/* A new connection's object, linked into the worker's list (its handle initialised, not yet
 * open), or NULL when memory runs out. */
static struct tcp_conn *conn_new(struct worker *w) {
  struct tcp_conn *c = calloc(1, sizeof(*c));
  if (!c || uv_tcp_init(&w->loop, &c->h) != 0) {
    free(c);
    return NULL;
  }
  c->w = w;
  c->h.data = c;
  c->next = w->tcp.conns;
  if (c->next)
    c->next->prev = c;
  w->tcp.conns = c;
  w->tcp.n_conns++;
  framing_reader_init(&c->rd);
  c->accepted_ms = worker__now(w);
  return c;
}

/* The socket is open: its peer, no Nagle, reading. false when it must be closed. */
static bool conn_start(struct tcp_conn *c) {
  int len = sizeof(c->peer);
  if (c->w->tcp.n_conns > TCP_MAX_CONNS ||
      uv_tcp_getpeername(&c->h, (struct sockaddr *)&c->peer, &len) != 0)
    return false;
  uv_tcp_nodelay(&c->h, 1);
  return uv_read_start((uv_stream_t *)&c->h, alloc_cb, read_cb) == 0;
}

static void on_connection(uv_stream_t *server, int status) {
  struct worker *w = server->data;
  if (status < 0 || w->stopping)
    return;
  struct tcp_conn *c = conn_new(w);
  if (!c)
    return;
  if (uv_accept(server, (uv_stream_t *)&c->h) != 0 || !conn_start(c))
    conn_close(c);
}

int tcp__adopt(struct worker *w, int fd, const uint8_t *data, size_t len) {
  if (w->stopping || !w->bound) {
    close(fd);
    return -ESHUTDOWN;
  }
  /* The worker may offer no TCP of its own (media_transports = udp): the read buffer then
   * comes with its first adopted connection. */
  if (!w->tcp.rbuf && !(w->tcp.rbuf = malloc(TCP_READ_BUF))) {
    close(fd);
    return -ENOMEM;
  }
  struct tcp_conn *c = conn_new(w);
  if (!c) {
    close(fd);
    return -ENOMEM;
  }
  int rc = uv_tcp_open(&c->h, (uv_os_sock_t)fd);
  if (rc) {
    close(fd); /* the handle never owned it */
    conn_close(c);
    return rc;
  }
  if (!conn_start(c)) {
    conn_close(c);
    return -EIO;
  }
  /* What the control loop read is this stream's beginning: the same path as a read. */
  if (len && framing_feed(&c->rd, data, len, on_frame, c) != 0) {
    w->st.rx_dropped++;
    conn_close(c);
    return -EBADMSG;
  }
  return 0;
}

static int listen_on(struct worker *w, uv_tcp_t *h, bool *listening, const char *ip,
                     uint16_t port, unsigned flags) {
  struct sockaddr_storage ss;
  int rc = strchr(ip, ':') ? uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&ss)
                           : uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss);
  if (rc)
    return rc;
  rc = uv_tcp_init(&w->loop, h);
  if (rc)
    return rc;
  h->data = w;
  *listening = true;
  w->open_handles++;
  rc = uv_tcp_bind(h, (const struct sockaddr *)&ss, flags);
  if (!rc)
    rc = uv_listen((uv_stream_t *)h, 512, on_connection);
  return rc;
}

int tcp__listen(struct worker *w, uint16_t port) {
  w->tcp.rbuf = malloc(TCP_READ_BUF);
  if (!w->tcp.rbuf)
    return -ENOMEM;
  int rc = listen_on(w, &w->tcp.listener, &w->tcp.listening, w->bind_ip, port, 0);
  if (!rc && w->bind_ip6[0])
    rc = listen_on(w, &w->tcp.listener6, &w->tcp.listening6, w->bind_ip6, port, UV_TCP_IPV6ONLY);
  return rc;
}

void tcp__tick(struct worker *w, uint64_t now) {
  for (struct tcp_conn *c = w->tcp.conns, *next; c; c = next) {
    next = c->next;
    if (!c->s && !c->closing && now - c->accepted_ms > TCP_BIND_MS)
      conn_close(c);
  }
}

void tcp__close(struct worker *w, uv_close_cb cb) {
  for (struct tcp_conn *c = w->tcp.conns; c; c = c->next)
    conn_close(c);
  if (w->tcp.listening && !uv_is_closing((uv_handle_t *)&w->tcp.listener))
    uv_close((uv_handle_t *)&w->tcp.listener, cb);
  if (w->tcp.listening6 && !uv_is_closing((uv_handle_t *)&w->tcp.listener6))
    uv_close((uv_handle_t *)&w->tcp.listener6, cb);
}

void tcp__free(struct worker *w) {
  free(w->tcp.rbuf);
  w->tcp.rbuf = NULL;
}
