/* session_rx.c -- what arrives from browsers on a worker: RFC 7983 demux, ICE checks (and the
 * addresses they validate), the DTLS handshake, and SRTP/SRTCP handed to the router. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/demux.h"
#include "media/hmap.h"
#include "media/relaywire.h"
#include "media/router_int.h"

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

static void drop_addr(struct worker *w, struct session *s, size_t i) {
  uint8_t key[20];
  size_t kl = addr_key((const struct sockaddr *)&s->addrs[i], key);
  if (kl && hmap_get(w->by_addr, key, kl) == s)
    hmap_del(w->by_addr, key, kl);
  s->addrs[i] = s->addrs[--s->n_addrs];
}

void session__rx_forget(struct session *s) {
  while (s->n_addrs)
    drop_addr(s->w, s, 0);
}

/* A valid check from `from` validates that address for s. An address another live session
 * holds is never taken from it (a spoofed check must not hijack or break a stranger's session);
 * one held by a closed session is taken over. Returns false when refused. */
/* Whether o still holds its addresses: it was heard from (an authenticated packet or an accepted
 * check) within silence_ms. A session silent that long has lost its browser (its pair has
 * ended already), and the port number it held may now be another browser's. */
static bool still_there(struct worker *w, const struct session *o) {
  uint64_t last = o->last_media_ms > o->last_stun_ms ? o->last_media_ms : o->last_stun_ms;
  if (last < o->created_ms)
    last = o->created_ms;
  uint32_t quiet = w->cfg.silence_ms ? w->cfg.silence_ms : 3000;
  return worker__now(w) - last < quiet;
}

static bool remember_addr(struct worker *w, struct session *s, const struct sockaddr *from) {
  uint8_t key[20];
  size_t kl = addr_key(from, key);
  if (!kl)
    return false;
  struct session *owner = hmap_get(w->by_addr, key, kl);
  if (owner == s)
    return true;
  if (owner && !owner->closing && still_there(w, owner))
    return false;
  if (owner) {
    hmap_del(w->by_addr, key, kl);
    /* Nothing more goes there from the old one (its keys are not the new browser's). */
    if (owner->path.kind == TX_DGRAM && !memcmp(&owner->path.addr, from, udp__addr_len(from))) {
      owner->path.kind = TX_NONE;
      handover__path_changed(owner);
    }
  }
  if (s->n_addrs == MAX_ADDRS_PER_SESSION) {
    /* Full: the oldest goes, the others keep their order. */
    uint8_t k0[20];
    size_t l0 = addr_key((const struct sockaddr *)&s->addrs[0], k0);
    if (l0 && hmap_get(w->by_addr, k0, l0) == s)
      hmap_del(w->by_addr, k0, l0);
    memmove(&s->addrs[0], &s->addrs[1], (MAX_ADDRS_PER_SESSION - 1) * sizeof(s->addrs[0]));
    s->n_addrs--;
  }
  memset(&s->addrs[s->n_addrs], 0, sizeof(s->addrs[0]));
  memcpy(&s->addrs[s->n_addrs], from, udp__addr_len(from));
  s->n_addrs++;
  hmap_put(w->by_addr, key, kl, s);
  return true;
}

static void set_send_addr(struct session *s, const struct sockaddr *from) {
  socklen_t len = udp__addr_len(from);
  if (s->path.kind == TX_DGRAM && !memcmp(&s->path.addr, from, len))
    return;
  memset(&s->path.addr, 0, sizeof(s->path.addr));
  memcpy(&s->path.addr, from, len);
  s->path.kind = TX_DGRAM;
  handover__path_changed(s);
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

struct session *session__check(struct worker *w, const uint8_t *buf, size_t len,
                               const struct sockaddr *from, uint8_t *reply, size_t *reply_len) {
  struct ice_check chk;
  int rc = ice_responder_handle(w->ice, buf, len, from, udp__addr_len(from), lookup_ufrag, w,
                                &chk, reply, reply_len);
  if (rc == -EBADMSG) {
    w->st.stun_malformed++;
    return NULL;
  }
  if (rc < 0) {
    w->st.stun_rejected++;
    return NULL;
  }
  return chk.session;
}

static void on_stun(struct worker *w, const uint8_t *buf, size_t len, const struct sockaddr *from) {
  uint8_t reply[1280];
  size_t rlen = sizeof(reply);
  struct session *s = session__check(w, buf, len, from, reply, &rlen);
  if (!s)
    return;
  if (!remember_addr(w, s, from)) {
    w->st.stun_conflicts++; /* no answer: the browser will not select this pair */
    return;
  }
  w->st.stun_ok++;
  s->last_stun_ms = worker__now(w);
  /* The first valid check gives the handshake somewhere to go. After that the send address
   * follows what the browser proves, not what a check claims: the source of its DTLS records
   * while the handshake runs, then of its authenticated SRTP/SRTCP (follow_media). */
  if (s->path.kind == TX_NONE)
    set_send_addr(s, from);
  size_t cap;
  uint8_t *slot = udp__slot(w, w->index, from->sa_family, &cap);
  if (!slot)
    return;
  memcpy(slot, reply, rlen);
  struct sockaddr_storage to;
  memset(&to, 0, sizeof(to));
  memcpy(&to, from, udp__addr_len(from));
  udp__commit(w, w->index, &to, rlen);
}

static void dtls_send_cb(void *arg, const uint8_t *buf, size_t len) {
  session__send(arg, buf, len);
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

static void on_dtls(struct worker *w, struct session *s, const uint8_t *buf, size_t len,
                    const struct sockaddr *from) {
  if (s->dtls_done && !s->dtls) { /* freed by on_authenticated */
    /* An encrypted alert (content type 21, epoch 1) is the browser's close_notify, or one
     * forged from its address: only a hint until media stops too. Anything else is ignored. */
    if (len >= 13 && buf[0] == 21 && (buf[3] | buf[4]) != 0 && !s->close_hint_ms)
      s->close_hint_ms = worker__now(w);
    return;
  }
  if (from && s->path.kind == TX_DGRAM)
    set_send_addr(s, from); /* the handshake runs on the pair the browser chose */
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
      session__fail(s, "could not set up SRTP");
      return;
    }
    s->profile = k.profile;
    s->keys = k;
    memset(&k, 0, sizeof(k));
    s->dtls_done = true;
    handover__srtp_ready(s);
    w->st.dtls_ok++;
  } else if (rc == -EACCES) {
    w->st.dtls_failed++;
    session__fail(s, "DTLS certificate does not match the offer's fingerprint");
  } else if (rc == -ECONNRESET) {
    session__fail(s, "the browser closed the connection");
  } else if (rc < 0) {
    w->st.dtls_failed++;
    session__fail(s, "DTLS handshake failed");
  }
}

/* libsrtp keeps one stream per SSRC and searches them linearly: a peer holding the keys must
 * not be able to make it create streams without bound. A browser sends from two SSRCs (three
 * or four with RTX or a receive-only RTCP SSRC); beyond MAX_SSRCS a new one is dropped. A slot
 * is taken only once a packet from that SSRC authenticated (libsrtp too creates a stream only
 * then), so garbage from the browser's address cannot lock its real streams out. */
static int ssrc_of(const uint8_t *buf, size_t len, bool rtp, uint32_t *ssrc) {
  if (len < 8 + (rtp ? 4u : 0u))
    return -EBADMSG;
  const uint8_t *p = buf + (rtp ? 8 : 4);
  *ssrc = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  return 0;
}

static bool ssrc_known(const struct session *s, uint32_t ssrc) {
  for (size_t i = 0; i < s->n_ssrcs; i++)
    if (s->ssrcs[i] == ssrc)
      return true;
  return false;
}

/* An authenticated packet from a validated address that is not where we send: the browser moved
 * (a network switch, a new nomination). Only proof of the keys moves the send address. */
static void follow_media(struct session *s, const struct sockaddr *from) {
  if (from && s->path.kind == TX_DGRAM &&
      memcmp(&s->path.addr, from, udp__addr_len(from)) != 0)
    set_send_addr(s, from);
}

/* DTLS, SRTP or SRTCP from s's browser; from is NULL on a stream (its address never moves). */
static void on_packet(struct worker *w, struct session *s, enum demux_kind k, uint8_t *buf,
                      size_t len, const struct sockaddr *from) {
  if (k == DEMUX_DTLS) {
    on_dtls(w, s, buf, len, from);
    return;
  }
  uint32_t ssrc;
  bool known = false;
  if (!s->srtp || ssrc_of(buf, len, k == DEMUX_RTP, &ssrc) != 0 ||
      (!(known = ssrc_known(s, ssrc)) && s->n_ssrcs == MAX_SSRCS)) {
    w->st.rx_dropped++;
    return;
  }
  uint64_t now = worker__now(w);
  size_t n = len;
  int rc = k == DEMUX_RTP ? srtpctx_unprotect_rtp(s->srtp, buf, &n)
                          : srtpctx_unprotect_rtcp(s->srtp, buf, &n);
  bool again = false;
  if (rc == -EALREADY && k == DEMUX_RTP && router__rtx_expected(s, buf, len, now)) {
    rc = srtpctx_unprotect_rtp_again(s->srtp, buf, &n); /* a retransmission a receiver asked for */
    again = true;
  }
  if (rc != 0) {
    w->st.srtp_errors++;
    return;
  }
  if (!known)
    s->ssrcs[s->n_ssrcs++] = ssrc;
  on_authenticated(w, s, now);
  follow_media(s, from);
  if (again) {
    router__on_rtp_again(s, buf, n, now);
  } else if (k == DEMUX_RTP) {
    router__on_rtp(s, buf, n, now);
    if (!s->flowing)
      session__check_ready(s, now);
  } else {
    router__on_rtcp(s, buf, n, now);
  }
}

void session__on_datagram(struct worker *w, uint8_t *buf, size_t len, const struct sockaddr *from) {
  w->st.rx_packets++;
  w->st.rx_bytes += len;
  enum demux_kind k = demux_classify(buf, len);
  if (k == DEMUX_STUN) {
    on_stun(w, buf, len, from);
    return;
  }
  if (k == DEMUX_UNKNOWN) {
    if (relaywire_is(buf, len))
      relay__on_datagram(w, buf, len); /* another node's, for a relay session */
    else
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
  on_packet(w, s, k, buf, len, from);
}

void session__on_stream_packet(struct session *s, uint8_t *buf, size_t len) {
  struct worker *w = s->w;
  w->st.rx_packets++;
  w->st.rx_bytes += len;
  enum demux_kind k = demux_classify(buf, len);
  if (k == DEMUX_STUN || k == DEMUX_UNKNOWN || s->closing) {
    w->st.rx_dropped++;
    return;
  }
  on_packet(w, s, k, buf, len, NULL);
}
