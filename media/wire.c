/* wire.c -- a worker's datagrams: RFC 7983 demux, ICE checks, DTLS, SRTP, and the batched
 * transmit path (sendmmsg). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/demux.h"
#include "media/worker_int.h"

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

int worker__fd(struct worker *w) { return w->fd; }

static void flush_batch(struct worker *w, struct txbatch *t) {
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
  w->ntx -= t->n;
  t->n = 0;
}

void wire__tx_flush(struct worker *w) {
  for (unsigned i = 0; i < w->nworkers && w->ntx; i++)
    if (w->tx[i] && w->tx[i]->n)
      flush_batch(w, w->tx[i]);
}

/* The batch for worker `via`'s socket, or NULL if it cannot be had (out of memory). */
static struct txbatch *batch(struct worker *w, unsigned via) {
  if (via >= w->nworkers)
    return NULL;
  struct txbatch *t = w->tx[via];
  if (!t) {
    t = calloc(1, sizeof(*t));
    if (!t)
      return NULL;
    t->fd = worker__fd(mediaplane__worker(w->mp, via));
    w->tx[via] = t;
  }
  if (t->n == TX_BATCH)
    flush_batch(w, t);
  return t;
}

static uint8_t spill[TX_SLOT]; /* written, never sent, when no batch exists (out of memory) */

uint8_t *worker__tx_slot(struct worker *w, unsigned via, size_t *cap) {
  struct txbatch *t = batch(w, via);
  *cap = 1500;
  return t ? t->buf[t->n] : spill;
}

void worker__tx_commit(struct worker *w, unsigned via, const struct sockaddr_storage *to, size_t len) {
  struct txbatch *t = via < w->nworkers ? w->tx[via] : NULL;
  if (!t || t->n == TX_BATCH)
    return;
  unsigned i = t->n;
  memcpy(&t->addr[i], to, addr_len((const struct sockaddr *)to));
  t->iov[i].iov_base = t->buf[i];
  t->iov[i].iov_len = len;
  memset(&t->msgs[i], 0, sizeof(t->msgs[i]));
  t->msgs[i].msg_hdr.msg_name = &t->addr[i];
  t->msgs[i].msg_hdr.msg_namelen = addr_len((const struct sockaddr *)to);
  t->msgs[i].msg_hdr.msg_iov = &t->iov[i];
  t->msgs[i].msg_hdr.msg_iovlen = 1;
  t->n++;
  w->ntx++;
}

void worker__send(struct worker *w, struct session *s, const uint8_t *buf, size_t len) {
  size_t cap;
  if (len > 1500 || !s->have_addr || s->closing)
    return;
  uint8_t *slot = worker__tx_slot(w, w->index, &cap);
  memcpy(slot, buf, len);
  worker__tx_commit(w, w->index, &s->addr, len);
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

void worker__partner_video(struct worker *w, uint64_t sid, uint32_t rtp_ts) {
  mediaplane__event(w->mp, WEV_PARTNER_VIDEO, sid, false, rtp_ts, NULL);
}

/* Removes s from every table; it is freed on the next tick (callers up the stack may hold it). */
void wire__forget(struct worker *w, struct session *s) {
  if (s->closing)
    return;
  /* close_notify first: nothing is sent for a session once it is closing. */
  if (s->dtls && s->dtls_done)
    dtls_close(s->dtls);
  s->closing = true;
  router__unlink(s);
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

void wire__fail(struct worker *w, struct session *s, const char *why) {
  if (s->closing)
    return;
  mediaplane__event(w->mp, WEV_FAILED, s->id, false, 0, why);
  wire__forget(w, s);
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
  if (s->have_addr && !memcmp(&s->addr, from, addr_len(from)))
    return;
  memset(&s->addr, 0, sizeof(s->addr));
  memcpy(&s->addr, from, addr_len(from));
  s->have_addr = true;
  router__addr_changed(s);
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
  uint8_t *slot = worker__tx_slot(w, w->index, &cap);
  memcpy(slot, reply, rlen);
  struct sockaddr_storage to;
  memset(&to, 0, sizeof(to));
  memcpy(&to, from, addr_len(from));
  worker__tx_commit(w, w->index, &to, rlen);
}

static void dtls_send_cb(void *arg, const uint8_t *buf, size_t len) {
  struct session *s = arg;
  worker__send(s->w, s, buf, len);
}

/* An SRTP or SRTCP packet from the browser authenticated. The first one shows that its
 * handshake is complete: the DTLS object is freed. */
static void on_authenticated(struct worker *w, struct session *s, uint64_t now) {
  s->last_media_ms = now;
  if (!s->dtls)
    return;
  dtls_free(s->dtls);
  s->dtls = NULL;
  w->st.dtls_released++;
}

static void on_dtls(struct worker *w, struct session *s, const uint8_t *buf, size_t len) {
  if (s->dtls_done && !s->dtls) { /* freed by on_authenticated */
    /* An encrypted alert (content type 21, epoch 1) is the browser's close_notify, or one
     * forged from its address: only a hint until media stops too. Anything else is ignored. */
    if (len >= 13 && buf[0] == 21 && (buf[3] | buf[4]) != 0 && !s->close_hint_ms)
      s->close_hint_ms = uv_now(&w->loop);
    return;
  }
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
      wire__fail(w, s, "could not set up SRTP");
      return;
    }
    s->profile = k.profile;
    s->keys = k;
    s->dtls_done = true;
    router__srtp_ready(s);
    w->st.dtls_ok++;
  } else if (rc == -EACCES) {
    w->st.dtls_failed++;
    wire__fail(w, s, "DTLS certificate does not match the offer's fingerprint");
  } else if (rc == -ECONNRESET) {
    wire__fail(w, s, "the browser closed the connection");
  } else if (rc < 0) {
    w->st.dtls_failed++;
    wire__fail(w, s, "DTLS handshake failed");
  }
}

/* A paired browser sends audio every 20 ms and video every 33 ms: 300 ms without any after its
 * alert means it really closed. */
#define CLOSE_HINT_MS 300

/* After the DTLS object is gone, an alert from the browser's address armed close_hint_ms. The
 * browser's close_notify is followed by silence; a forged alert is not (media keeps coming
 * and clears the hint). Returns true when the session ended. */
bool wire__check_closed(struct worker *w, struct session *s, uint64_t now) {
  if (s->last_media_ms > s->close_hint_ms) {
    s->close_hint_ms = 0; /* media after the alert: not closed */
    return false;
  }
  if (now - s->close_hint_ms < CLOSE_HINT_MS)
    return false;
  wire__fail(w, s, "the browser closed the connection");
  return true;
}

void wire__check_ready(struct worker *w, struct session *s, uint64_t now) {
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

/* libsrtp keeps one stream per SSRC and searches them linearly: a peer holding the keys must
 * not be able to make it create streams without bound. A browser sends from two SSRCs (three
 * or four with RTX or a receive-only RTCP SSRC); anything beyond MAX_SSRCS is dropped. */
static bool ssrc_allowed(struct session *s, const uint8_t *buf, size_t len, bool rtp) {
  if (len < 8 + (rtp ? 4u : 0u))
    return false;
  const uint8_t *p = buf + (rtp ? 8 : 4);
  uint32_t ssrc = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  for (size_t i = 0; i < s->n_ssrcs; i++)
    if (s->ssrcs[i] == ssrc)
      return true;
  if (s->n_ssrcs == MAX_SSRCS)
    return false;
  s->ssrcs[s->n_ssrcs++] = ssrc;
  return true;
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
  if (!ssrc_allowed(s, buf, len, k == DEMUX_RTP)) {
    w->st.rx_dropped++;
    return;
  }
  if (k == DEMUX_RTP) {
    if (srtpctx_unprotect_rtp(s->srtp, buf, &n) != 0) {
      w->st.srtp_errors++;
      return;
    }
    on_authenticated(w, s, now);
    router__on_rtp(s, buf, n, now);
    if (!s->flowing)
      wire__check_ready(w, s, now);
  } else {
    if (srtpctx_unprotect_rtcp(s->srtp, buf, &n) != 0) {
      w->st.srtp_errors++;
      return;
    }
    on_authenticated(w, s, now);
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


int wire__recv_start(struct worker *w) { return uv_udp_recv_start(&w->udp, alloc_cb, recv_cb); }

#define POLL_MAX_CALLS 64  /* bounded work per timer tick */

static void poll_cb(uv_timer_t *t) {
  struct worker *w = t->data;
  if (w->stopping)
    return;
  for (int call = 0; call < POLL_MAX_CALLS; call++) {
    for (int i = 0; i < 32; i++) {
      w->rx_iov[i].iov_base = w->rx_bufs[i];
      w->rx_iov[i].iov_len = sizeof(w->rx_bufs[i]);
      memset(&w->rx_msgs[i].msg_hdr, 0, sizeof(w->rx_msgs[i].msg_hdr));
      w->rx_msgs[i].msg_hdr.msg_iov = &w->rx_iov[i];
      w->rx_msgs[i].msg_hdr.msg_iovlen = 1;
      w->rx_msgs[i].msg_hdr.msg_name = &w->rx_addr[i];
      w->rx_msgs[i].msg_hdr.msg_namelen = sizeof(w->rx_addr[i]);
    }
    int n = recvmmsg(w->fd, w->rx_msgs, 32, MSG_DONTWAIT, NULL);
    if (n <= 0)
      break;
    for (int i = 0; i < n; i++) {
      if (w->rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        w->st.rx_dropped++;
        continue;
      }
      on_datagram(w, w->rx_bufs[i], w->rx_msgs[i].msg_len,
                  (const struct sockaddr *)&w->rx_addr[i]);
    }
    if (n < 32)
      break;
  }
}

static void poll_stop(struct worker *w) {
  if (w->polling_mode) {
    uv_timer_stop(&w->poll);
    w->polling_mode = false;
  }
}

void wire__adapt(struct worker *w, uint64_t now) {
  if (!w->rate_window_ms) {
    w->rate_window_ms = now;
    w->rate_window_rx = w->st.rx_packets;
    return;
  }
  uint64_t span = now - w->rate_window_ms;
  if (span < 200)
    return;
  uint64_t pps = (w->st.rx_packets - w->rate_window_rx) * 1000 / span;
  w->rate_window_ms = now;
  w->rate_window_rx = w->st.rx_packets;
  if (!w->rx_bufs || w->stopping)
    return;
  /* Switch to timer-driven receive above poll_pps, back below half of it. */
  uint64_t on = w->cfg.poll_pps;
  if (!w->polling_mode && on && pps >= on) {
    uv_udp_recv_stop(&w->udp);
    uint64_t ms = w->cfg.poll_ms ? w->cfg.poll_ms : 1;
    uv_timer_start(&w->poll, poll_cb, ms, ms);
    w->polling_mode = true;
  } else if (w->polling_mode && (!on || pps < on / 2)) {
    poll_stop(w);
    wire__recv_start(w);
  }
}
