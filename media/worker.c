/* worker.c -- a media worker: the UDP port, STUN/DTLS/SRTP demultiplexing and timers. */
#include "media/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/demux.h"
#include "media/hmap.h"
#include "media/session_int.h"

#define RECV_SLOTS 32                 /* datagrams per recvmmsg wakeup */
#define DGRAM_SLOT (64 * 1024)        /* libuv hands recvmmsg 64 KiB per datagram slot */
#define SCRATCH_SIZE 2048
#define TICK_MS 20
#define MAX_ADDRS_PER_SESSION 4

struct worker {
  uv_loop_t *loop;
  uv_udp_t udp;
  uv_timer_t tick;
  struct worker_config cfg;
  char bind_ip[64], public_ip[64];
  struct worker_events ev;
  const struct dtls_cert *cert;
  struct dtls_ctx *dtls_ctx;
  struct ice_responder *ice;
  struct hmap *by_ufrag;
  struct hmap *by_addr;
  /* Every live session, and those closed but not yet freed (freed on the next tick, so a
   * callback may close any session while the worker iterates). */
  struct session **list;
  size_t n_list, cap_list;
  uint8_t *rxbuf;
  uint8_t scratch[SCRATCH_SIZE + SRTPCTX_TRAILER];
  uint64_t next_id;
  int pending_closes;
  void (*done)(void *);
  void *done_arg;
  struct worker_stats st;
};

void worker_config_default(struct worker_config *c) {
  memset(c, 0, sizeof(*c));
  c->bind_ip = "0.0.0.0";
  c->port = 40000;
  c->public_ip = "127.0.0.1";
  c->silence_ms = 3000;
  c->connect_timeout_ms = 20000;
  c->consent_timeout_ms = 30000;
}

/* Address keys: family, port and address bytes, so IPv4 and IPv6 never collide. */
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

uint64_t worker__now(struct worker *w) { return uv_now(w->loop); }
const struct dtls_cert *worker__cert(struct worker *w) { return w->cert; }
struct dtls_ctx *worker__dtls_ctx(struct worker *w) { return w->dtls_ctx; }
const struct worker_config *worker__config(struct worker *w) { return &w->cfg; }

uint8_t *worker__scratch(struct worker *w, size_t *cap) {
  *cap = SCRATCH_SIZE;
  return w->scratch;
}

void worker__send(struct worker *w, struct session *s, const uint8_t *buf, size_t len) {
  if (!s->have_addr || s->closing)
    return;
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  int rc = uv_udp_try_send(&w->udp, &b, 1, (const struct sockaddr *)&s->addr);
  if (rc >= 0) {
    w->st.tx_packets++;
    w->st.tx_bytes += len;
  }
}

void worker__send_rtcp(struct worker *w, struct session *s, uint8_t *buf, size_t len) {
  if (!s->srtp)
    return;
  if (srtpctx_protect_rtcp(s->srtp, buf, &len, len + SRTPCTX_TRAILER) == 0)
    worker__send(w, s, buf, len);
}

void worker__partner_video(struct worker *w, struct session *s, uint32_t rtp_ts) {
  if (w->ev.on_partner_video)
    w->ev.on_partner_video(w->ev.arg, s, rtp_ts);
}

void worker__count(struct worker *w, int what) {
  switch (what) {
  case 0: w->st.rtp_forwarded++; break;
  case 1: w->st.rtp_dropped++; break;
  case 2: w->st.keyframe_requests++; break;
  default: break;
  }
}

int worker__register(struct worker *w, struct session *s) {
  if (w->n_list == w->cap_list) {
    size_t ncap = w->cap_list ? w->cap_list * 2 : 64;
    struct session **nl = realloc(w->list, ncap * sizeof(*nl));
    if (!nl)
      return -ENOMEM;
    w->list = nl;
    w->cap_list = ncap;
  }
  int rc = hmap_put(w->by_ufrag, s->ufrag, strlen(s->ufrag), s);
  if (rc)
    return rc;
  s->id = ++w->next_id;
  w->list[w->n_list++] = s;
  w->st.sessions++;
  return 0;
}

/* Removes every address key and the ufrag key of s; s stays in the list until reaped. */
void worker__forget(struct worker *w, struct session *s) {
  hmap_del(w->by_ufrag, s->ufrag, strlen(s->ufrag));
  for (size_t i = 0; i < s->n_addrs; i++) {
    uint8_t key[20];
    size_t kl = addr_key((const struct sockaddr *)&s->addrs[i], key);
    if (kl && hmap_get(w->by_addr, key, kl) == s)
      hmap_del(w->by_addr, key, kl);
  }
  s->n_addrs = 0;
}

/* Remembers a validated source address of s (bounded), so DTLS and SRTP from it map to s. */
static void remember_addr(struct worker *w, struct session *s, const struct sockaddr *from) {
  uint8_t key[20];
  size_t kl = addr_key(from, key);
  if (!kl)
    return;
  struct session *owner = hmap_get(w->by_addr, key, kl);
  if (owner == s)
    return;
  if (owner) {
    /* The address moved to another session (a NAT rebinding reused it): the newer check wins. */
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
    hmap_del(w->by_addr, k0, l0);
    memmove(&s->addrs[0], &s->addrs[1], (MAX_ADDRS_PER_SESSION - 1) * sizeof(s->addrs[0]));
    s->n_addrs--;
  }
  memset(&s->addrs[s->n_addrs], 0, sizeof(s->addrs[0]));
  memcpy(&s->addrs[s->n_addrs], from,
         from->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
  s->n_addrs++;
  hmap_put(w->by_addr, key, kl, s);
}

static void set_send_addr(struct session *s, const struct sockaddr *from) {
  memset(&s->addr, 0, sizeof(s->addr));
  s->addrlen = from->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  memcpy(&s->addr, from, s->addrlen);
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

static void fail(struct worker *w, struct session *s, const char *why) {
  if (s->closing)
    return;
  if (w->ev.on_failed)
    w->ev.on_failed(w->ev.arg, s, why);
}

static void on_stun(struct worker *w, const uint8_t *buf, size_t len, const struct sockaddr *from) {
  uint8_t reply[1280];
  size_t rlen = sizeof(reply);
  struct ice_check chk;
  socklen_t fl = from->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  int rc = ice_responder_handle(w->ice, buf, len, from, fl, lookup_ufrag, w, &chk, reply, &rlen);
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
  s->last_stun_ms = uv_now(w->loop);
  remember_addr(w, s, from);
  /* ICE-lite: the controlling browser nominates; follow its nomination (and a later one, which
   * is how a network switch arrives), and until then answer where the checks come from. */
  if (chk.use_candidate || !s->have_addr)
    set_send_addr(s, from);
  uv_buf_t b = uv_buf_init((char *)reply, (unsigned)rlen);
  if (uv_udp_try_send(&w->udp, &b, 1, from) >= 0) {
    w->st.tx_packets++;
    w->st.tx_bytes += rlen;
  }
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
    fail(w, s, "the browser closed DTLS");
  } else if (rc < 0) {
    w->st.dtls_failed++;
    fail(w, s, "DTLS handshake failed");
  }
}

static void check_ready(struct worker *w, struct session *s, uint64_t now) {
  bool flowing = s->dtls_done && s->in[SESSION_VIDEO].packets > 0 &&
                 now - s->in[SESSION_VIDEO].last_ms < w->cfg.silence_ms;
  if (!s->ready && flowing) {
    s->ready = true;
    s->flowing = true;
    if (w->ev.on_ready)
      w->ev.on_ready(w->ev.arg, s);
  } else if (s->ready && flowing != s->flowing) {
    s->flowing = flowing;
    if (w->ev.on_media)
      w->ev.on_media(w->ev.arg, s, flowing);
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
  uint64_t now = uv_now(w->loop);
  if (k == DEMUX_DTLS) {
    on_dtls(w, s, buf, len);
    return;
  }
  if (!s->srtp) {
    w->st.rx_dropped++;
    return;
  }
  size_t n = len;
  if (k == DEMUX_RTP) {
    if (srtpctx_unprotect_rtp(s->srtp, buf, &n) != 0) {
      w->st.srtp_errors++;
      return;
    }
    /* Media from a new address of a verified session is a path change (NAT rebinding). */
    if (!s->have_addr)
      set_send_addr(s, from);
    router__on_rtp(s, buf, n, now);
    if (!s->ready && !s->closing)
      check_ready(w, s, now);
    else if (s->ready && !s->flowing && !s->closing)
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
  (void)buf;
  if (!w || nread <= 0 || !addr)
    return;
  if (flags & UV_UDP_PARTIAL) {
    w->st.rx_dropped++;
    return;
  }
  on_datagram(w, (uint8_t *)buf->base, (size_t)nread, addr);
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
  uint64_t now = uv_now(w->loop);
  reap(w);
  /* Sessions created by callbacks during this loop are appended; n is fixed first. */
  size_t n = w->n_list;
  for (size_t i = 0; i < n; i++) {
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
    if (!s->closing)
      router__tick(s, now);
  }
}

struct worker *worker_new(uv_loop_t *loop, const struct worker_config *cfg,
                          const struct worker_events *ev, const struct dtls_cert *cert) {
  struct worker *w = calloc(1, sizeof(*w));
  if (!w)
    return NULL;
  w->loop = loop;
  w->cfg = *cfg;
  snprintf(w->bind_ip, sizeof(w->bind_ip), "%s", cfg->bind_ip ? cfg->bind_ip : "0.0.0.0");
  snprintf(w->public_ip, sizeof(w->public_ip), "%s", cfg->public_ip ? cfg->public_ip : "127.0.0.1");
  w->cfg.bind_ip = w->bind_ip;
  w->cfg.public_ip = w->public_ip;
  if (ev)
    w->ev = *ev;
  w->cert = cert;
  w->rxbuf = malloc(RECV_SLOTS * DGRAM_SLOT);
  w->dtls_ctx = dtls_ctx_new(cert, DTLS_ROLE_SERVER, NULL);
  w->ice = ice_responder_new();
  w->by_ufrag = hmap_new();
  w->by_addr = hmap_new();
  if (!w->rxbuf || !w->dtls_ctx || !w->ice || !w->by_ufrag || !w->by_addr) {
    free(w->rxbuf);
    dtls_ctx_free(w->dtls_ctx);
    ice_responder_free(w->ice);
    hmap_free(w->by_ufrag);
    hmap_free(w->by_addr);
    free(w);
    return NULL;
  }
  return w;
}

int worker_start(struct worker *w) {
  struct sockaddr_storage ss;
  int rc;
  if (strchr(w->bind_ip, ':'))
    rc = uv_ip6_addr(w->bind_ip, w->cfg.port, (struct sockaddr_in6 *)&ss);
  else
    rc = uv_ip4_addr(w->bind_ip, w->cfg.port, (struct sockaddr_in *)&ss);
  if (rc)
    return rc;
  rc = uv_udp_init_ex(w->loop, &w->udp, ss.ss_family | UV_UDP_RECVMMSG);
  if (rc)
    return rc;
  w->udp.data = w;
  w->pending_closes++;
  rc = uv_udp_bind(&w->udp, (const struct sockaddr *)&ss, 0);
  if (rc == 0) {
    /* Large socket buffers absorb bursts of keyframes from many peers. */
    int sz = 4 * 1024 * 1024;
    uv_send_buffer_size((uv_handle_t *)&w->udp, &sz);
    sz = 4 * 1024 * 1024;
    uv_recv_buffer_size((uv_handle_t *)&w->udp, &sz);
    rc = uv_udp_recv_start(&w->udp, alloc_cb, recv_cb);
  }
  if (rc)
    return rc;
  uv_timer_init(w->loop, &w->tick);
  w->tick.data = w;
  w->pending_closes++;
  uv_timer_start(&w->tick, tick_cb, TICK_MS, TICK_MS);
  return 0;
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

const char *worker__public_ip(struct worker *w) { return w->public_ip; }

void worker_get_stats(const struct worker *w, struct worker_stats *st) { *st = w->st; }

static void closed_cb(uv_handle_t *h) {
  struct worker *w = h->data;
  if (--w->pending_closes > 0)
    return;
  void (*done)(void *) = w->done;
  void *arg = w->done_arg;
  dtls_ctx_free(w->dtls_ctx);
  ice_responder_free(w->ice);
  hmap_free(w->by_ufrag);
  hmap_free(w->by_addr);
  free(w->list);
  free(w->rxbuf);
  free(w);
  if (done)
    done(arg);
}

void worker_close(struct worker *w, void (*done)(void *), void *arg) {
  w->done = done;
  w->done_arg = arg;
  w->ev.on_ready = NULL;
  w->ev.on_media = NULL;
  w->ev.on_failed = NULL;
  w->ev.on_partner_video = NULL;
  for (size_t i = 0; i < w->n_list; i++)
    if (!w->list[i]->closing)
      session_close(w->list[i]);
  reap(w);
  if (w->pending_closes == 0) {
    w->pending_closes = 1;
    w->udp.data = w;
    closed_cb((uv_handle_t *)&w->udp);
    return;
  }
  if (uv_is_active((uv_handle_t *)&w->tick) || w->tick.data == w)
    uv_close((uv_handle_t *)&w->tick, closed_cb);
  uv_close((uv_handle_t *)&w->udp, closed_cb);
}
