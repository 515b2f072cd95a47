/* worker.c -- a media worker: one thread, one libuv loop, one UDP port; its sessions' ICE,
 * DTLS and SRTP; batched receive (recvmmsg) and send (sendmmsg). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/demux.h"
#include "media/hmap.h"
#include "media/session_int.h"

#define RECV_SLOTS 32                 /* datagrams per recvmmsg */
#define DGRAM_SLOT (64 * 1024)        /* libuv hands recvmmsg 64 KiB per datagram slot */
#define TX_BATCH 64                   /* datagrams per sendmmsg */
#define TX_SLOT (1500 + SRTPCTX_TRAILER)
#define TICK_MS 20

struct wcmd {
  int type;
  uint64_t sid, other;
  unsigned other_worker;
  struct session_params *params;
  struct wcmd *next;
};

struct worker {
  struct mediaplane *mp;
  unsigned index, nworkers;
  uv_loop_t loop;
  uv_udp_t udp;
  uv_timer_t tick;
  uv_check_t check;
  uv_async_t async;
  uv_thread_t thread;
  bool thread_started;
  int open_handles;                   /* udp, tick, check: the loop stops when they are closed */
  bool stopping;
  struct mediaplane_config cfg;
  char bind_ip[64];
  struct dtls_ctx *dtls_ctx;
  struct ice_responder *ice;
  struct hmap *by_ufrag, *by_addr, *by_sid;
  struct session **list;              /* live sessions and closed ones awaiting the next tick */
  size_t n_list, cap_list;
  uint8_t *rxbuf;
  int fd;
  /* Transmit batch. */
  struct mmsghdr msgs[TX_BATCH];
  struct iovec iov[TX_BATCH];
  struct sockaddr_storage txaddr[TX_BATCH];
  uint8_t txbuf[TX_BATCH][TX_SLOT];
  unsigned ntx;
  bool ring_dirty[MAX_WORKERS];
  /* Commands from the control loop. */
  uv_mutex_t cmd_lock;
  struct wcmd *cmd_head, *cmd_tail;
  /* Counters: written by this thread only, published every tick for the control loop. */
  struct mediaplane_stats st;
  uv_mutex_t stat_lock;
  struct mediaplane_stats pub;
};

static size_t addr_key(const struct sockaddr *sa, uint8_t key[20]) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    key[0] = 4;
    memcpy(key + 1, &in->sin_port, 2);
    memcpy(key + 3, &in->sin_addr, 4);
    return 7;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    key[0] = 6;
    memcpy(key + 1, &in6->sin6_port, 2);
    memcpy(key + 3, &in6->sin6_addr, 16);
    return 19;
  }
  return 0;
}

static socklen_t addr_len(const struct sockaddr *sa) {
  return sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

uint64_t worker__now(struct worker *w) { return uv_now(&w->loop); }
unsigned worker__index(const struct worker *w) { return w->index; }
struct dtls_ctx *worker__dtls_ctx(struct worker *w) { return w->dtls_ctx; }

struct session *worker__session(struct worker *w, uint64_t sid) {
  struct session *s = hmap_get(w->by_sid, &sid, sizeof(sid));
  return s && !s->closing ? s : NULL;
}

void worker__count(struct worker *w, int what) {
  if (what == WSTAT_FWD)
    w->st.rtp_forwarded++;
  else if (what == WSTAT_DROP)
    w->st.rtp_dropped++;
  else if (what == WSTAT_KEYREQ)
    w->st.keyframe_requests++;
}

static void tx_flush(struct worker *w) {
  unsigned off = 0;
  while (off < w->ntx) {
    int n = sendmmsg(w->fd, w->msgs + off, w->ntx - off, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR)
        continue;
      break; /* EAGAIN or an error: drop the rest, like a full link would */
    }
    for (int i = 0; i < n; i++) {
      w->st.tx_packets++;
      w->st.tx_bytes += w->msgs[off + (unsigned)i].msg_hdr.msg_iov->iov_len;
    }
    off += (unsigned)n;
  }
  w->ntx = 0;
}

uint8_t *worker__tx_slot(struct worker *w, size_t *cap) {
  if (w->ntx == TX_BATCH)
    tx_flush(w);
  *cap = 1500;
  return w->txbuf[w->ntx];
}

static void tx_commit_to(struct worker *w, const struct sockaddr *to, size_t len) {
  unsigned i = w->ntx;
  memcpy(&w->txaddr[i], to, addr_len(to));
  w->iov[i].iov_base = w->txbuf[i];
  w->iov[i].iov_len = len;
  memset(&w->msgs[i], 0, sizeof(w->msgs[i]));
  w->msgs[i].msg_hdr.msg_name = &w->txaddr[i];
  w->msgs[i].msg_hdr.msg_namelen = addr_len(to);
  w->msgs[i].msg_hdr.msg_iov = &w->iov[i];
  w->msgs[i].msg_hdr.msg_iovlen = 1;
  w->ntx++;
}

void worker__tx_commit(struct worker *w, struct session *s, size_t len) {
  if (!s->have_addr || s->closing)
    return;
  tx_commit_to(w, (const struct sockaddr *)&s->addr, len);
}

void worker__send(struct worker *w, struct session *s, const uint8_t *buf, size_t len) {
  size_t cap;
  if (len > 1500 || !s->have_addr)
    return;
  uint8_t *slot = worker__tx_slot(w, &cap);
  memcpy(slot, buf, len);
  worker__tx_commit(w, s, len);
}

void worker__send_rtcp(struct worker *w, struct session *s, uint8_t *buf, size_t len) {
  if (s->srtp && srtpctx_protect_rtcp(s->srtp, buf, &len, len + SRTPCTX_TRAILER) == 0)
    worker__send(w, s, buf, len);
}

struct xmsg *worker__xmsg(struct worker *w, unsigned to, size_t extra) {
  if (to >= w->nworkers || to == w->index)
    return NULL;
  struct xmsg *m = xring_reserve(mediaplane__ring(w->mp, w->index, to), sizeof(*m) + extra);
  if (!m) {
    w->st.xworker_dropped++;
    return NULL;
  }
  memset(m, 0, sizeof(*m));
  w->ring_dirty[to] = true;
  w->st.xworker_packets++;
  return m;
}

void worker__partner_video(struct worker *w, struct session *s, uint32_t rtp_ts) {
  mediaplane__event(w->mp, WEV_PARTNER_VIDEO, s->id, false, rtp_ts, NULL);
}

/* Removes s from every table; it is freed on the next tick (callers up the stack may hold it). */
static void forget(struct worker *w, struct session *s) {
  if (s->closing)
    return;
  s->closing = true;
  router__unlink(s);
  if (s->dtls && s->dtls_done)
    dtls_close(s->dtls);
  hmap_del(w->by_ufrag, s->ufrag, strlen(s->ufrag));
  hmap_del(w->by_sid, &s->id, sizeof(s->id));
  for (size_t i = 0; i < s->n_addrs; i++) {
    uint8_t key[20];
    size_t kl = addr_key((const struct sockaddr *)&s->addrs[i], key);
    if (kl && hmap_get(w->by_addr, key, kl) == s)
      hmap_del(w->by_addr, key, kl);
  }
  s->n_addrs = 0;
}

static void fail(struct worker *w, struct session *s, const char *why) {
  if (s->closing)
    return;
  mediaplane__event(w->mp, WEV_FAILED, s->id, false, 0, why);
  forget(w, s);
}

static void remember_addr(struct worker *w, struct session *s, const struct sockaddr *from) {
  uint8_t key[20];
  size_t kl = addr_key(from, key);
  if (!kl)
    return;
  struct session *owner = hmap_get(w->by_addr, key, kl);
  if (owner == s)
    return;
  if (owner) {
    /* The address moved to another session (a NAT reused it): the newer check wins. */
    hmap_del(w->by_addr, key, kl);
    for (size_t i = 0; i < owner->n_addrs; i++) {
      uint8_t k2[20];
      if (addr_key((const struct sockaddr *)&owner->addrs[i], k2) == kl && !memcmp(k2, key, kl)) {
        owner->addrs[i] = owner->addrs[--owner->n_addrs];
        break;
      }
    }
  }
  if (s->n_addrs == MAX_ADDRS_PER_SESSION) {
    uint8_t k0[20];
    size_t l0 = addr_key((const struct sockaddr *)&s->addrs[0], k0);
    if (hmap_get(w->by_addr, k0, l0) == s)
      hmap_del(w->by_addr, k0, l0);
    memmove(&s->addrs[0], &s->addrs[1], (MAX_ADDRS_PER_SESSION - 1) * sizeof(s->addrs[0]));
    s->n_addrs--;
  }
  memset(&s->addrs[s->n_addrs], 0, sizeof(s->addrs[0]));
  memcpy(&s->addrs[s->n_addrs], from, addr_len(from));
  s->n_addrs++;
  hmap_put(w->by_addr, key, kl, s);
}

static void set_send_addr(struct session *s, const struct sockaddr *from) {
  memset(&s->addr, 0, sizeof(s->addr));
  memcpy(&s->addr, from, addr_len(from));
  s->have_addr = true;
}

static void *lookup_ufrag(void *arg, const char *local, size_t len, const char **pwd,
                          const char **remote) {
  struct worker *w = arg;
  struct session *s = hmap_get(w->by_ufrag, local, len);
  if (!s || s->closing)
    return NULL;
  *pwd = s->pwd;
  *remote = s->remote_ufrag;
  return s;
}

static void on_stun(struct worker *w, const uint8_t *buf, size_t len, const struct sockaddr *from) {
  uint8_t reply[1280];
  size_t rlen = sizeof(reply);
  struct ice_check chk;
  int rc = ice_responder_handle(w->ice, buf, len, from, addr_len(from), lookup_ufrag, w, &chk,
                                reply, &rlen);
  if (rc == -EBADMSG) {
    w->st.stun_malformed++;
    return;
  }
  if (rc < 0) {
    w->st.stun_rejected++;
    return;
  }
  struct session *s = chk.session;
  w->st.stun_ok++;
  s->last_stun_ms = uv_now(&w->loop);
  remember_addr(w, s, from);
  /* ICE-lite: the controlling browser nominates; follow its nomination (a later one is how a
   * network switch arrives), and until then answer where the checks come from. */
  if (chk.use_candidate || !s->have_addr)
    set_send_addr(s, from);
  size_t cap;
  uint8_t *slot = worker__tx_slot(w, &cap);
  memcpy(slot, reply, rlen);
  tx_commit_to(w, from, rlen);
}

static void dtls_send_cb(void *arg, const uint8_t *buf, size_t len) {
  struct session *s = arg;
  worker__send(s->w, s, buf, len);
}

static void on_dtls(struct worker *w, struct session *s, const uint8_t *buf, size_t len) {
  if (!s->dtls) {
    s->dtls = dtls_new(w->dtls_ctx, s->peer_fp, s->peer_fp_len, dtls_send_cb, s);
    if (!s->dtls)
      return;
  }
  int rc = dtls_feed(s->dtls, buf, len);
  if (rc == 1 && !s->srtp) {
    struct srtp_keys k;
    if (dtls_srtp_keys(s->dtls, &k) == 0)
      s->srtp = srtpctx_new(&k);
    if (!s->srtp) {
      w->st.dtls_failed++;
      fail(w, s, "could not set up SRTP");
      return;
    }
    s->profile = k.profile;
    s->dtls_done = true;
    w->st.dtls_ok++;
  } else if (rc == -EACCES) {
    w->st.dtls_failed++;
    fail(w, s, "DTLS certificate does not match the offer's fingerprint");
  } else if (rc == -ECONNRESET) {
    fail(w, s, "the browser closed the connection");
  } else if (rc < 0) {
    w->st.dtls_failed++;
    fail(w, s, "DTLS handshake failed");
  }
}

static void check_ready(struct worker *w, struct session *s, uint64_t now) {
  bool flowing = s->dtls_done && s->in[KIND_VIDEO].packets > 0 &&
                 now - s->in[KIND_VIDEO].last_ms < w->cfg.silence_ms;
  if (!s->ready && flowing) {
    s->ready = s->flowing = true;
    mediaplane__event(w->mp, WEV_READY, s->id, true, 0, session__profile(s));
  } else if (s->ready && flowing != s->flowing) {
    s->flowing = flowing;
    mediaplane__event(w->mp, WEV_MEDIA, s->id, flowing, 0, NULL);
  }
}

static void on_datagram(struct worker *w, uint8_t *buf, size_t len, const struct sockaddr *from) {
  w->st.rx_packets++;
  w->st.rx_bytes += len;
  enum demux_kind k = demux_classify(buf, len);
  if (k == DEMUX_STUN) {
    on_stun(w, buf, len, from);
    return;
  }
  if (k == DEMUX_UNKNOWN) {
    w->st.rx_dropped++;
    return;
  }
  uint8_t key[20];
  size_t kl = addr_key(from, key);
  struct session *s = kl ? hmap_get(w->by_addr, key, kl) : NULL;
  if (!s || s->closing) {
    w->st.rx_dropped++;
    return;
  }
  if (k == DEMUX_DTLS) {
    on_dtls(w, s, buf, len);
    return;
  }
  if (!s->srtp) {
    w->st.rx_dropped++;
    return;
  }
  uint64_t now = uv_now(&w->loop);
  size_t n = len;
  if (k == DEMUX_RTP) {
    if (srtpctx_unprotect_rtp(s->srtp, buf, &n) != 0) {
      w->st.srtp_errors++;
      return;
    }
    router__on_rtp(s, buf, n, now);
    if (!s->flowing)
      check_ready(w, s, now);
  } else {
    if (srtpctx_unprotect_rtcp(s->srtp, buf, &n) != 0) {
      w->st.srtp_errors++;
      return;
    }
    router__on_rtcp(s, buf, n, now);
  }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct worker *w = h->data;
  (void)suggested;
  *buf = uv_buf_init((char *)w->rxbuf, RECV_SLOTS * DGRAM_SLOT);
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
  on_datagram(w, (uint8_t *)buf->base, (size_t)nread, addr);
}

static void add_session(struct worker *w, struct session_params *p) {
  struct session *s = session__create(w, p);
  free(p);
  if (!s)
    return;
  if (w->n_list == w->cap_list) {
    size_t ncap = w->cap_list ? w->cap_list * 2 : 64;
    struct session **nl = realloc(w->list, ncap * sizeof(*nl));
    if (!nl) {
      session__free(s);
      return;
    }
    w->list = nl;
    w->cap_list = ncap;
  }
  if (hmap_put(w->by_ufrag, s->ufrag, strlen(s->ufrag), s) ||
      hmap_put(w->by_sid, &s->id, sizeof(s->id), s)) {
    hmap_del(w->by_ufrag, s->ufrag, strlen(s->ufrag));
    session__free(s);
    return;
  }
  w->list[w->n_list++] = s;
  w->st.sessions++;
}

static void drain_commands(struct worker *w) {
  uv_mutex_lock(&w->cmd_lock);
  struct wcmd *c = w->cmd_head;
  w->cmd_head = w->cmd_tail = NULL;
  uv_mutex_unlock(&w->cmd_lock);
  uint64_t now = uv_now(&w->loop);
  while (c) {
    struct wcmd *next = c->next;
    struct session *s = c->type == WCMD_NEW ? NULL : worker__session(w, c->sid);
    switch (c->type) {
    case WCMD_NEW:
      if (w->stopping)
        free(c->params);
      else
        add_session(w, c->params);
      break;
    case WCMD_CLOSE: if (s) forget(w, s); break;
    case WCMD_LINK: if (s) router__link(s, c->other, c->other_worker, now); break;
    case WCMD_UNLINK: if (s) router__unlink(s); break;
    case WCMD_STOP: w->stopping = true; break;
    }
    free(c);
    c = next;
  }
}

static void drain_rings(struct worker *w) {
  uint64_t now = uv_now(&w->loop);
  for (unsigned i = 0; i < w->nworkers; i++) {
    if (i == w->index)
      continue;
    struct xring *r = mediaplane__ring(w->mp, i, w->index);
    const uint8_t *rec;
    size_t len;
    /* Bounded work per wakeup keeps the loop responsive; the rest waits for the next one. */
    for (int n = 0; n < 4096 && (rec = xring_peek(r, &len)) != NULL; n++) {
      if (len >= sizeof(struct xmsg)) {
        struct xmsg m;
        memcpy(&m, rec, sizeof(m));
        router__on_xmsg(w, &m, rec + sizeof(m), len - sizeof(m), now);
      }
      xring_release(r);
    }
  }
}

static void stop_now(struct worker *w);

static void async_cb(uv_async_t *a) {
  struct worker *w = a->data;
  drain_commands(w);
  if (w->stopping) {
    stop_now(w);
    return;
  }
  drain_rings(w);
}

/* After every loop iteration: send what was batched, publish what other workers should see. */
static void check_cb(uv_check_t *c) {
  struct worker *w = c->data;
  if (w->ntx)
    tx_flush(w);
  for (unsigned i = 0; i < w->nworkers; i++) {
    if (!w->ring_dirty[i])
      continue;
    w->ring_dirty[i] = false;
    xring_commit(mediaplane__ring(w->mp, w->index, i));
    worker_wake(mediaplane__worker(w->mp, i));
  }
}

static void reap(struct worker *w) {
  size_t j = 0;
  for (size_t i = 0; i < w->n_list; i++) {
    struct session *s = w->list[i];
    if (s->closing)
      session__free(s);
    else
      w->list[j++] = s;
  }
  w->n_list = j;
}

static void tick_cb(uv_timer_t *t) {
  struct worker *w = t->data;
  uint64_t now = uv_now(&w->loop);
  reap(w);
  drain_rings(w); /* in case a wake-up raced with a commit */
  for (size_t i = 0; i < w->n_list; i++) {
    struct session *s = w->list[i];
    if (s->closing)
      continue;
    if (s->dtls && !s->dtls_done) {
      int ms = dtls_timeout_ms(s->dtls, now);
      if (ms == 0 && dtls_handle_timeout(s->dtls) < 0) {
        w->st.dtls_failed++;
        fail(w, s, "DTLS handshake timed out");
        continue;
      }
    }
    if (!s->dtls_done && now - s->created_ms > w->cfg.connect_timeout_ms) {
      fail(w, s, "media connection timed out (ICE/DTLS did not complete)");
      continue;
    }
    if (s->dtls_done && s->last_stun_ms && now - s->last_stun_ms > w->cfg.consent_timeout_ms) {
      fail(w, s, "the browser stopped answering (ICE consent expired)");
      continue;
    }
    if (s->ready)
      check_ready(w, s, now);
    router__tick(s, now);
  }
  w->st.sessions_live = w->n_list;
  uv_mutex_lock(&w->stat_lock);
  w->pub = w->st;
  uv_mutex_unlock(&w->stat_lock);
}

static void handle_closed(uv_handle_t *h) {
  struct worker *w = h->data;
  if (--w->open_handles == 0)
    uv_stop(&w->loop);
}

static void stop_now(struct worker *w) {
  if (w->open_handles <= 0 || uv_is_closing((uv_handle_t *)&w->tick))
    return;
  for (size_t i = 0; i < w->n_list; i++)
    forget(w, w->list[i]);
  if (w->ntx)
    tx_flush(w);
  reap(w);
  uv_close((uv_handle_t *)&w->udp, handle_closed);
  uv_close((uv_handle_t *)&w->tick, handle_closed);
  uv_close((uv_handle_t *)&w->check, handle_closed);
}

struct worker *worker_new(struct mediaplane *mp, unsigned index, uv_loop_t *control,
                          const struct mediaplane_config *cfg, const struct dtls_cert *cert) {
  (void)control;
  struct worker *w = calloc(1, sizeof(*w));
  if (!w)
    return NULL;
  w->mp = mp;
  w->index = index;
  w->nworkers = cfg->workers;
  w->cfg = *cfg;
  snprintf(w->bind_ip, sizeof(w->bind_ip), "%s", cfg->bind_ip ? cfg->bind_ip : "0.0.0.0");
  w->cfg.bind_ip = w->bind_ip;
  w->cfg.public_ip = NULL;
  w->rxbuf = malloc(RECV_SLOTS * DGRAM_SLOT);
  w->dtls_ctx = dtls_ctx_new(cert, DTLS_ROLE_SERVER, NULL);
  w->ice = ice_responder_new();
  w->by_ufrag = hmap_new();
  w->by_addr = hmap_new();
  w->by_sid = hmap_new();
  if (!w->rxbuf || !w->dtls_ctx || !w->ice || !w->by_ufrag || !w->by_addr || !w->by_sid ||
      uv_loop_init(&w->loop)) {
    free(w->rxbuf);
    dtls_ctx_free(w->dtls_ctx);
    ice_responder_free(w->ice);
    hmap_free(w->by_ufrag);
    hmap_free(w->by_addr);
    hmap_free(w->by_sid);
    free(w);
    return NULL;
  }
  uv_mutex_init(&w->cmd_lock);
  uv_mutex_init(&w->stat_lock);
  uv_async_init(&w->loop, &w->async, async_cb);
  w->async.data = w;
  return w;
}

int worker_bind(struct worker *w) {
  struct sockaddr_storage ss;
  uint16_t port = w->cfg.port ? (uint16_t)(w->cfg.port + w->index) : 0;
  int rc = strchr(w->bind_ip, ':') ? uv_ip6_addr(w->bind_ip, port, (struct sockaddr_in6 *)&ss)
                                   : uv_ip4_addr(w->bind_ip, port, (struct sockaddr_in *)&ss);
  if (rc)
    return rc;
  rc = uv_udp_init_ex(&w->loop, &w->udp, ss.ss_family | UV_UDP_RECVMMSG);
  if (rc)
    return rc;
  w->udp.data = w;
  w->open_handles++;
  uv_timer_init(&w->loop, &w->tick);
  w->tick.data = w;
  w->open_handles++;
  uv_check_init(&w->loop, &w->check);
  w->check.data = w;
  w->open_handles++;
  rc = uv_udp_bind(&w->udp, (const struct sockaddr *)&ss, 0);
  if (rc)
    return rc;
  uv_os_fd_t fd;
  uv_fileno((uv_handle_t *)&w->udp, &fd);
  w->fd = fd;
  /* Large socket buffers absorb bursts of keyframes from many peers. */
  int sz = 4 * 1024 * 1024;
  uv_send_buffer_size((uv_handle_t *)&w->udp, &sz);
  sz = 4 * 1024 * 1024;
  uv_recv_buffer_size((uv_handle_t *)&w->udp, &sz);
  rc = uv_udp_recv_start(&w->udp, alloc_cb, recv_cb);
  if (rc)
    return rc;
  uv_timer_start(&w->tick, tick_cb, TICK_MS, TICK_MS);
  uv_check_start(&w->check, check_cb);
  return 0;
}

static void thread_main(void *arg) {
  struct worker *w = arg;
  uv_run(&w->loop, UV_RUN_DEFAULT);
}

int worker_run(struct worker *w) {
  int rc = uv_thread_create(&w->thread, thread_main, w);
  w->thread_started = rc == 0;
  return rc;
}

uint16_t worker_port(const struct worker *w) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_udp_getsockname(&w->udp, (struct sockaddr *)&ss, &len))
    return 0;
  if (ss.ss_family == AF_INET)
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void post(struct worker *w, struct wcmd *c) {
  uv_mutex_lock(&w->cmd_lock);
  if (w->cmd_tail)
    w->cmd_tail->next = c;
  else
    w->cmd_head = c;
  w->cmd_tail = c;
  uv_mutex_unlock(&w->cmd_lock);
  uv_async_send(&w->async);
}

void worker_post_new(struct worker *w, struct session_params *p) {
  struct wcmd *c = calloc(1, sizeof(*c));
  if (!c) {
    free(p);
    return;
  }
  c->type = WCMD_NEW;
  c->sid = p->sid;
  c->params = p;
  post(w, c);
}

void worker_post(struct worker *w, int type, uint64_t sid, uint64_t other, unsigned other_worker) {
  struct wcmd *c = calloc(1, sizeof(*c));
  if (!c)
    return;
  c->type = type;
  c->sid = sid;
  c->other = other;
  c->other_worker = other_worker;
  post(w, c);
}

void worker_wake(struct worker *w) { uv_async_send(&w->async); }

void worker_read_stats(struct worker *w, struct mediaplane_stats *st) {
  uv_mutex_lock(&w->stat_lock);
  const uint64_t *src = (const uint64_t *)&w->pub;
  uint64_t *dst = (uint64_t *)st;
  for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
    dst[i] += src[i];
  uv_mutex_unlock(&w->stat_lock);
}

/* Stops the thread (if it runs) and joins it. The async handle stays open, so other workers
 * may still wake this one safely until worker_free(). */
void worker_stop(struct worker *w) {
  if (w->thread_started) {
    worker_post(w, WCMD_STOP, 0, 0, 0);
    uv_thread_join(&w->thread);
    w->thread_started = false;
  } else {
    w->stopping = true;
    drain_commands(w);
    stop_now(w);
    if (w->open_handles > 0)
      uv_run(&w->loop, UV_RUN_DEFAULT);
  }
}

/* Closes what is left, on the calling thread, and frees w: every worker must be stopped. */
void worker_free(struct worker *w) {
  w->stopping = true;
  drain_commands(w);
  for (size_t i = 0; i < w->n_list; i++)
    session__free(w->list[i]);
  w->n_list = 0;
  uv_close((uv_handle_t *)&w->async, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
  uv_mutex_destroy(&w->cmd_lock);
  uv_mutex_destroy(&w->stat_lock);
  dtls_ctx_free(w->dtls_ctx);
  ice_responder_free(w->ice);
  hmap_free(w->by_ufrag);
  hmap_free(w->by_addr);
  hmap_free(w->by_sid);
  free(w->list);
  free(w->rxbuf);
  free(w);
}
