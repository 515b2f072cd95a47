/* udp.c -- the datagram transport of a media worker: one UDP socket (and an IPv6-only one
 * beside it when IPv6 is advertised), recvmmsg batches (per wake-up, or from a timer under load)
 * and sendmmsg batches flushed once per loop iteration. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media/session_int.h"
#include "media/worker_int.h"

#define DGRAM_SLOT (64 * 1024)       /* libuv hands recvmmsg 64 KiB per datagram slot */
#define POLL_MAX_CALLS 64            /* bounded work per timer tick */

struct udp_txbatch {
  int fd;
  unsigned n;
  struct mmsghdr msgs[UDP_TX_BATCH];
  struct iovec iov[UDP_TX_BATCH];
  struct sockaddr_storage addr[UDP_TX_BATCH];
  uint8_t buf[UDP_TX_BATCH][UDP_TX_SLOT];
};

socklen_t udp__addr_len(const struct sockaddr *sa) {
  return sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

int udp__fd(struct worker *w) { return w->udp.fd; }

int udp__fd_for(struct worker *w, int family) {
  return family == AF_INET6 && w->udp.fd6 >= 0 ? w->udp.fd6 : w->udp.fd;
}

/* Batch 2 * via is worker via's main socket; 2 * via + 1 its socket for IPv6 (its IPv6-only
 * socket, or the main one again when that is IPv6 or there is none). One comparison on the
 * per-packet path. */
static unsigned batch_index(unsigned via, int family) {
  return 2 * via + (family == AF_INET6);
}

/* ---- transmit ---- */

static void flush_batch(struct worker *w, struct udp_txbatch *t) {
  unsigned off = 0;
  while (off < t->n) {
    int n = sendmmsg(t->fd, t->msgs + off, t->n - off, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR)
        continue;
      break; /* EAGAIN or an error: drop the rest, like a full link would */
    }
    for (int i = 0; i < n; i++) {
      w->st.tx_packets++;
      w->st.tx_bytes += t->iov[off + (unsigned)i].iov_len;
    }
    off += (unsigned)n;
  }
  w->udp.ntx -= t->n;
  t->n = 0;
}

void udp__flush(struct worker *w) {
  for (unsigned i = 0; i < 2 * w->nworkers && w->udp.ntx; i++)
    if (w->udp.tx[i] && w->udp.tx[i]->n)
      flush_batch(w, w->udp.tx[i]);
}

uint8_t *udp__slot(struct worker *w, unsigned via, int family, size_t *cap) {
  if (via >= w->nworkers || !w->udp.tx)
    return NULL;
  unsigned b = batch_index(via, family);
  struct udp_txbatch *t = w->udp.tx[b];
  if (!t) {
    t = calloc(1, sizeof(*t));
    if (!t)
      return NULL;
    t->fd = mediaplane__fd(w->mp, via, family);
    w->udp.tx[b] = t;
  }
  if (t->n == UDP_TX_BATCH)
    flush_batch(w, t);
  *cap = 1500;
  return t->buf[t->n];
}

void udp__commit(struct worker *w, unsigned via, const struct sockaddr_storage *to, size_t len) {
  struct udp_txbatch *t =
      via < w->nworkers && w->udp.tx ? w->udp.tx[batch_index(via, to->ss_family)] : NULL;
  if (!t || t->n == UDP_TX_BATCH || t->fd < 0)
    return;
  unsigned i = t->n;
  socklen_t alen = udp__addr_len((const struct sockaddr *)to);
  memcpy(&t->addr[i], to, alen);
  t->iov[i].iov_base = t->buf[i];
  t->iov[i].iov_len = len;
  memset(&t->msgs[i], 0, sizeof(t->msgs[i]));
  t->msgs[i].msg_hdr.msg_name = &t->addr[i];
  t->msgs[i].msg_hdr.msg_namelen = alen;
  t->msgs[i].msg_hdr.msg_iov = &t->iov[i];
  t->msgs[i].msg_hdr.msg_iovlen = 1;
  t->n++;
  w->udp.ntx++;
}

/* ---- receive ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct worker *w = h->data;
  (void)suggested;
  *buf = uv_buf_init((char *)w->udp.rxbuf, UDP_RECV_SLOTS * DGRAM_SLOT);
}

static void recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags) {
  struct worker *w = h->data;
  if (nread <= 0 || !addr || w->stopping)
    return;
  if (flags & UV_UDP_PARTIAL) {
    w->st.rx_dropped++;
    return;
  }
  session__on_datagram(w, (uint8_t *)buf->base, (size_t)nread, addr);
}

/* Both sockets share alloc_cb's area: libuv hands one socket's batch to recv_cb before it
 * reads the next socket. */
static int recv_start(struct worker *w) {
  int rc = uv_udp_recv_start(&w->udp.handle, alloc_cb, recv_cb);
  if (!rc && w->udp.fd6 >= 0)
    rc = uv_udp_recv_start(&w->udp.handle6, alloc_cb, recv_cb);
  return rc;
}

static void recv_stop(struct worker *w) {
  uv_udp_recv_stop(&w->udp.handle);
  if (w->udp.fd6 >= 0)
    uv_udp_recv_stop(&w->udp.handle6);
}

/* Drains up to POLL_MAX_CALLS recvmmsg batches from fd. */
static void drain(struct worker *w, int fd) {
  struct udp *u = &w->udp;
  for (int call = 0; call < POLL_MAX_CALLS; call++) {
    for (int i = 0; i < UDP_RECV_SLOTS; i++) {
      u->rx_iov[i].iov_base = u->rx_bufs[i];
      u->rx_iov[i].iov_len = sizeof(u->rx_bufs[i]);
      memset(&u->rx_msgs[i].msg_hdr, 0, sizeof(u->rx_msgs[i].msg_hdr));
      u->rx_msgs[i].msg_hdr.msg_iov = &u->rx_iov[i];
      u->rx_msgs[i].msg_hdr.msg_iovlen = 1;
      u->rx_msgs[i].msg_hdr.msg_name = &u->rx_addr[i];
      u->rx_msgs[i].msg_hdr.msg_namelen = sizeof(u->rx_addr[i]);
    }
    int n = recvmmsg(fd, u->rx_msgs, UDP_RECV_SLOTS, MSG_DONTWAIT, NULL);
    if (n <= 0)
      break;
    for (int i = 0; i < n; i++) {
      if (u->rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        w->st.rx_dropped++;
        continue;
      }
      session__on_datagram(w, u->rx_bufs[i], u->rx_msgs[i].msg_len,
                           (const struct sockaddr *)&u->rx_addr[i]);
    }
    if (n < UDP_RECV_SLOTS)
      break;
  }
}

static void poll_cb(uv_timer_t *t) {
  struct worker *w = t->data;
  if (w->stopping)
    return;
  drain(w, w->udp.fd);
  if (w->udp.fd6 >= 0 && !w->stopping)
    drain(w, w->udp.fd6);
}

void udp__adapt(struct worker *w, uint64_t now) {
  struct udp *u = &w->udp;
  /* Packets, not datagrams: a relay bundle's packets count one by one, so bundling does not
   * move the point where a worker starts polling. */
  uint64_t rx = w->st.rx_packets + u->rx_bundled;
  if (!u->rate_window_ms) {
    u->rate_window_ms = now;
    u->rate_window_rx = rx;
    return;
  }
  uint64_t span = now - u->rate_window_ms;
  if (span < 200)
    return;
  uint64_t pps = (rx - u->rate_window_rx) * 1000 / span;
  u->rate_window_ms = now;
  u->rate_window_rx = rx;
  if (!w->bound || w->stopping)
    return;
  /* Switch to timer-driven receive above poll_pps, back below half of it. */
  uint64_t on = w->cfg.poll_pps;
  if (!u->polling && on && pps >= on) {
    recv_stop(w);
    uint64_t ms = w->cfg.poll_ms ? w->cfg.poll_ms : 1;
    uv_timer_start(&u->poll, poll_cb, ms, ms);
    u->polling = true;
  } else if (u->polling && (!on || pps < on / 2)) {
    uv_timer_stop(&u->poll);
    u->polling = false;
    recv_start(w);
  }
}

/* ---- set-up and tear-down ---- */

/* Whether a socket of this type can bind addr (port included); 0 or a negative errno. The
 * probe is closed again at once. TCP as libuv binds it (SO_REUSEADDR); IPv6 only when asked. */
static int probe(const struct sockaddr_storage *addr, socklen_t len, int type, bool v6only) {
  int fd = socket(addr->ss_family, type | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  int one = 1, rc = 0;
  if (type == SOCK_STREAM)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (v6only)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, (const struct sockaddr *)addr, len))
    rc = -errno;
  close(fd);
  return rc;
}

static int parse_addr(const char *ip, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof(*ss));
  bool v6 = strchr(ip, ':') != NULL;
  *len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  return v6 ? uv_ip6_addr(ip, 0, (struct sockaddr_in6 *)ss)
            : uv_ip4_addr(ip, 0, (struct sockaddr_in *)ss);
}

static void set_port(struct sockaddr_storage *ss, uint16_t port) {
  if (ss->ss_family == AF_INET6)
    ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
  else
    ((struct sockaddr_in *)ss)->sin_port = htons(port);
}

/* UDP on an ephemeral port says which number; the others must be free there too (an outgoing
 * connection of any program may hold that number). */
int udp__shared_port(const char *ip, const char *ip6, uint16_t *port) {
  struct sockaddr_storage ss, ss6;
  socklen_t sl, sl6 = 0;
  int rc = parse_addr(ip, &ss, &sl);
  if (!rc && ip6)
    rc = parse_addr(ip6, &ss6, &sl6);
  if (rc)
    return rc;
  for (int attempt = 0; attempt < 64; attempt++) {
    int u = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (u < 0)
      return -errno;
    struct sockaddr_storage got = ss;
    socklen_t gl = sl;
    rc = bind(u, (struct sockaddr *)&ss, sl) || getsockname(u, (struct sockaddr *)&got, &gl)
             ? -errno : 0;
    close(u);
    if (rc)
      return rc;
    uint16_t p = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                 : ((struct sockaddr_in *)&got)->sin_port);
    rc = probe(&got, gl, SOCK_STREAM, false);
    if (!rc && ip6) {
      set_port(&ss6, p);
      rc = probe(&ss6, sl6, SOCK_DGRAM, true);
      if (!rc)
        rc = probe(&ss6, sl6, SOCK_STREAM, true);
    }
    if (!rc) {
      *port = p;
      return 0;
    }
    if (rc != -EADDRINUSE)
      return rc;
  }
  return -EADDRINUSE;
}


/* A bound socket's descriptor, its buffers enlarged: they absorb bursts of keyframes from many
 * peers. */
static int socket_ready(uv_udp_t *h) {
  uv_os_fd_t fd;
  uv_fileno((uv_handle_t *)h, &fd);
  int sz = 4 * 1024 * 1024;
  uv_send_buffer_size((uv_handle_t *)h, &sz);
  sz = 4 * 1024 * 1024;
  uv_recv_buffer_size((uv_handle_t *)h, &sz);
  return fd;
}

int udp__bind(struct worker *w, uint16_t port) {
  struct udp *u = &w->udp;
  struct sockaddr_storage ss;
  int rc = strchr(w->bind_ip, ':') ? uv_ip6_addr(w->bind_ip, port, (struct sockaddr_in6 *)&ss)
                                   : uv_ip4_addr(w->bind_ip, port, (struct sockaddr_in *)&ss);
  if (rc)
    return rc;
  u->rxbuf = malloc(UDP_RECV_SLOTS * DGRAM_SLOT);
  u->rx_bufs = malloc(UDP_RECV_SLOTS * sizeof(*u->rx_bufs));
  if (!u->rxbuf || !u->rx_bufs)
    return -ENOMEM;
  rc = uv_udp_init_ex(&w->loop, &u->handle, ss.ss_family | UV_UDP_RECVMMSG);
  if (rc)
    return rc;
  u->handle.data = w;
  w->open_handles++;
  uv_timer_init(&w->loop, &u->poll);
  u->poll.data = w;
  w->open_handles++;
  u->open = true;
  rc = uv_udp_bind(&u->handle, (const struct sockaddr *)&ss, 0);
  if (rc)
    return rc;
  u->fd = socket_ready(&u->handle);
  return recv_start(w);
}

int udp__bind6(struct worker *w, uint16_t port) {
  struct udp *u = &w->udp;
  struct sockaddr_in6 sa;
  int rc = uv_ip6_addr(w->bind_ip6, port, &sa);
  if (rc)
    return rc;
  rc = uv_udp_init_ex(&w->loop, &u->handle6, AF_INET6 | UV_UDP_RECVMMSG);
  if (rc)
    return rc;
  u->handle6.data = w;
  w->open_handles++;
  u->open6 = true;
  /* IPv6 only: the IPv4 socket already holds this port number for IPv4. */
  rc = uv_udp_bind(&u->handle6, (const struct sockaddr *)&sa, UV_UDP_IPV6ONLY);
  if (rc)
    return rc;
  u->fd6 = socket_ready(&u->handle6);
  /* In poll mode the timer drains this socket too; otherwise it is read per wake-up. */
  return u->polling ? 0 : uv_udp_recv_start(&u->handle6, alloc_cb, recv_cb);
}

void udp__close(struct worker *w, uv_close_cb cb) {
  if (w->udp.open && !uv_is_closing((uv_handle_t *)&w->udp.handle)) {
    uv_close((uv_handle_t *)&w->udp.handle, cb);
    uv_close((uv_handle_t *)&w->udp.poll, cb);
  }
  if (w->udp.open6 && !uv_is_closing((uv_handle_t *)&w->udp.handle6))
    uv_close((uv_handle_t *)&w->udp.handle6, cb);
}

void udp__free(struct worker *w) {
  struct udp *u = &w->udp;
  if (u->tx)
    for (unsigned i = 0; i < 2 * w->nworkers; i++)
      free(u->tx[i]);
  free(u->tx);
  free(u->rxbuf);
  free(u->rx_bufs);
  u->tx = NULL;
  u->rxbuf = NULL;
  u->rx_bufs = NULL;
}

uint16_t udp__port(struct worker *w) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  if (w->udp.fd < 0 || uv_udp_getsockname(&w->udp.handle, (struct sockaddr *)&ss, &len))
    return 0;
  if (ss.ss_family == AF_INET)
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}
