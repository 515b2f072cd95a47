/* bptransport.c -- a simulated browser's media session: ICE, DTLS-SRTP, media and RTCP out,
 * over UDP or (bptcp.c) ICE-TCP. */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bpeer_int.h"
#include "bench/media.h"
#include "bench/rxcheck.h"
#include "media/demux.h"
#include "media/dtls.h"
#include "media/rtcp.h"
#include "media/rtp.h"

#define ICE_PRIORITY 2122260223u /* Chrome's host candidate priority */
#define ICE_GIVE_UP_US 10000000
#define DTLS_GIVE_UP_US 15000000
#define CONSENT_US 5000000
#define RTCP_US 1000000
#define MAX_LAG_US 200000 /* behind by more than this: skip frames rather than burst */
#define PKT_CAP (1500 + SRTPCTX_TRAILER)
#define REMB_BPS 2500000

static uint32_t rand32(void) {
  uint32_t v = 0;
  while (v == 0)
    if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
      v = (uint32_t)random() ^ ((uint32_t)random() << 16);
  return v;
}

static void send_raw(struct bptransport *t, const uint8_t *buf, size_t len) {
  if (t->closing || !t->have_answer)
    return;
  if (t->tcp_state != BPT_NONE) {
    bptcp_send(t, buf, len);
    return;
  }
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  if (uv_udp_try_send(&t->udp, &b, 1, (const struct sockaddr *)&t->ans.cand) >= 0) {
    t->p->run->t.tx_packets++;
    t->p->run->t.tx_bytes += len;
  } else {
    t->p->run->t.tx_dropped++; /* the socket buffer is full: the bench is overloaded */
  }
}

/* ---- ICE (full, controlling) ---- */

static void send_check(struct bptransport *t, bool nominate) {
  uint8_t buf[512];
  size_t len = sizeof(buf);
  if (ice_build_check(buf, &len, t->ans.ufrag, t->ufrag, t->ans.pwd, ICE_PRIORITY, t->tie_breaker,
                      nominate, t->txid) == 0) {
    t->check_nominates = nominate;
    send_raw(t, buf, len);
  }
}

static void dtls_send_cb(void *arg, const uint8_t *buf, size_t len) { send_raw(arg, buf, len); }

static void on_stun(struct bptransport *t, const uint8_t *buf, size_t len, uint64_t now) {
  if (ice_parse_check_response(buf, len, t->ans.pwd, t->txid) != 0)
    return;
  memset(t->txid, 0, sizeof(t->txid)); /* answered: a repeat of the response is ignored */
  if (!t->ice_ok) {
    /* Regular nomination, as Chrome does: a check, then the same pair with USE-CANDIDATE. */
    t->ice_ok = true;
    t->ice_tries = 0;
    send_check(t, true);
    t->ice_next_us = now + 100000;
    return;
  }
  if (t->nominated || !t->check_nominates)
    return;
  t->nominated = true;
  t->consent_next_us = now + CONSENT_US;
  struct brun *r = t->p->run;
  t->dtls = dtls_new(r->dtls, t->ans.fp, DTLS_FP_LEN, dtls_send_cb, t);
  t->dtls_started_us = now;
  if (!t->dtls || dtls_start(t->dtls) != 0)
    brun_error(r, BE_DTLS, t->p->index, "could not start the DTLS handshake");
}

/* ---- DTLS ---- */

static void start_media(struct bptransport *t, uint64_t now) {
  struct brun *r = t->p->run;
  static const uint32_t clock[2] = {48000, 90000};
  for (int k = 0; k < 2; k++) {
    struct bp_tx *x = &t->tx[k];
    /* A random phase, so the peers' frames do not all fall on the same tick. */
    x->next_us = now + (uint64_t)(brun_rand(r) % (k ? 33000 : 20000));
    x->t_base_us = x->next_us;
    x->ts_base = rand32();
    x->frame = 0;
    x->key_next = false;
    t->rx[k].clock = clock[k];
  }
  t->rtcp_next_us = now + RTCP_US;
}

static void on_dtls(struct bptransport *t, const uint8_t *buf, size_t len, uint64_t now) {
  struct brun *r = t->p->run;
  if (!t->dtls || t->dtls_done)
    return;
  int rc = dtls_feed(t->dtls, buf, len);
  if (rc == 0)
    return;
  if (rc < 0) {
    brun_error(r, BE_DTLS, t->p->index, "DTLS handshake failed (%d)", rc);
    t->dtls_done = true; /* stop the timers; the visit will not become READY */
    return;
  }
  struct srtp_keys k;
  if (dtls_srtp_keys(t->dtls, &k) == 0)
    t->srtp = srtpctx_new(&k);
  memset(&k, 0, sizeof(k));
  t->dtls_done = true;
  if (!t->srtp) {
    brun_error(r, BE_DTLS, t->p->index, "no SRTP keys after the handshake");
    return;
  }
  start_media(t, now);
}

/* ---- RTCP ---- */

static void on_rtcp(struct bptransport *t, uint8_t *buf, size_t len) {
  struct brun *r = t->p->run;
  size_t n = len;
  int rc = srtpctx_unprotect_rtcp(t->srtp, buf, &n);
  if (rc == -EALREADY)
    return;
  if (rc) {
    brun_error(r, BE_SRTP, t->p->index, "SRTCP unprotect failed (%d)", rc);
    return;
  }
  struct rtcp_iter it;
  struct rtcp_item item;
  rtcp_iter_init(&it, buf, n);
  while (rtcp_iter_next(&it, &item) == 1) {
    if (item.pt == RTCP_PSFB && item.fmt == RTCP_FB_PLI && item.media_ssrc == t->tx[1].ssrc) {
      r->t.plis++;
      t->tx[1].key_next = true;
    } else if (item.pt == RTCP_PSFB && item.fmt == RTCP_FB_FIR) {
      uint32_t ssrc;
      uint8_t seqnr;
      if (rtcp_parse_fir(&item, &ssrc, &seqnr) == 0 && ssrc == t->tx[1].ssrc) {
        r->t.firs++;
        t->tx[1].key_next = true;
      }
    } else if (item.pt == RTCP_RTPFB && item.fmt == RTCP_FB_NACK) {
      r->t.nacks++;
    }
  }
}

static void fill_block(const struct bp_rx *rx, struct rtcp_report_block *b) {
  uint64_t expected = rx->max_ext - rx->first_ext + 1;
  uint64_t lost = expected > rx->received ? expected - rx->received : 0;
  uint64_t exp_int = expected - rx->rr_expected, rec_int = rx->received - rx->rr_received;
  uint64_t lost_int = exp_int > rec_int ? exp_int - rec_int : 0;
  *b = (struct rtcp_report_block){
      .ssrc = rx->ssrc,
      .fraction_lost = exp_int ? (uint8_t)((lost_int << 8) / exp_int) : 0,
      .cumulative_lost = lost > 0x7fffff ? 0x7fffff : (int32_t)lost,
      .ext_highest_seq = (uint32_t)rx->max_ext,
      .jitter = (uint32_t)rx->jitter,
  };
}

/* Every second, like a browser: SRs for what we send, report blocks for what we get, REMB. */
static void send_reports(struct bptransport *t, uint64_t now) {
  uint8_t buf[PKT_CAP];
  size_t len = 0, cap = sizeof(buf) - SRTPCTX_TRAILER;
  struct rtcp_report_block blocks[2];
  size_t nb = 0;
  for (int k = 0; k < 2; k++) {
    struct bp_rx *rx = &t->rx[k];
    if (!rx->any)
      continue;
    fill_block(rx, &blocks[nb++]);
    rx->rr_expected = rx->max_ext - rx->first_ext + 1;
    rx->rr_received = rx->received;
  }
  uint64_t unix_us = (uint64_t)uv_hrtime() / 1000; /* any steady clock serves for lip sync */
  for (int k = 1; k >= 0; k--) {
    const struct bp_tx *x = &t->tx[k];
    struct rtcp_sr sr = {
        .ssrc = x->ssrc,
        .ntp_sec = (uint32_t)(unix_us / 1000000 + 2208988800u),
        .ntp_frac = (uint32_t)(((unix_us % 1000000) << 32) / 1000000),
        .rtp_ts = x->ts_base + (uint32_t)((now - x->t_base_us) * (k ? 90 : 48) / 1000),
        .packet_count = (uint32_t)x->packets,
        .octet_count = (uint32_t)x->bytes,
    };
    int n = rtcp_write_sr(buf + len, cap - len, &sr, k ? blocks : NULL, k ? nb : 0);
    if (n > 0)
      len += (size_t)n;
  }
  if (t->rx[1].any) {
    uint32_t media = t->rx[1].ssrc;
    int n = rtcp_write_remb(buf + len, cap - len, t->tx[1].ssrc, REMB_BPS, &media, 1);
    if (n > 0)
      len += (size_t)n;
  }
  if (len && srtpctx_protect_rtcp(t->srtp, buf, &len, sizeof(buf)) == 0)
    send_raw(t, buf, len);
}

/* ---- sending media ---- */

static void send_rtp(struct bptransport *t, int kind, bool marker, const uint8_t *payload,
                     size_t plen, uint32_t ts) {
  struct brun *r = t->p->run;
  struct bp_tx *x = &t->tx[kind];
  uint8_t buf[PKT_CAP];
  struct rtp_ext ext = {r->ext_mid, (uint8_t)strlen(r->mid[kind]), (const uint8_t *)r->mid[kind]};
  struct rtp_header h = {.marker = marker, .pt = (uint8_t)r->pt[kind], .seq = x->seq++,
                         .ts = ts, .ssrc = x->ssrc, .ext = &ext, .n_ext = r->ext_mid && ext.len};
  int hl = rtp_write_header(buf, sizeof(buf) - SRTPCTX_TRAILER, &h);
  if (hl < 0 || (size_t)hl + plen > sizeof(buf) - SRTPCTX_TRAILER)
    return;
  memcpy(buf + hl, payload, plen);
  size_t len = (size_t)hl + plen;
  if (srtpctx_protect_rtp(t->srtp, buf, &len, sizeof(buf)) != 0)
    return;
  x->packets++;
  x->bytes += plen;
  r->t.rtp_packets[kind]++;
  r->t.rtp_bytes[kind] += (size_t)hl + plen;
  send_raw(t, buf, len);
}

static void send_frame(struct bptransport *t, int kind) {
  const struct media_set *m = t->p->run->media;
  struct bp_tx *x = &t->tx[kind];
  uint32_t ts = x->ts_base + (uint32_t)((x->next_us - x->t_base_us) * (kind ? 90 : 48) / 1000);
  uint8_t payload[MEDIA_MAX_PAYLOAD];
  if (kind == 0) {
    int n = media_opus_payload(payload, sizeof(payload), &m->audio[x->frame], t->p->id);
    if (n > 0)
      send_rtp(t, 0, false, payload, (size_t)n, ts);
    x->frame = (x->frame + 1) % m->n_audio;
    return;
  }
  if (x->key_next) {
    /* Answer PLI/FIR: the loop restarts at its keyframe, and goes on decodably from there. */
    x->key_next = false;
    x->frame = 0;
  }
  const struct media_frame *f = &m->video[x->frame];
  if (f->key)
    t->p->run->t.keyframes_sent++;
  size_t n = media_vp8_packets(f->len);
  for (size_t k = 0; k < n; k++) {
    int len = media_vp8_payload(payload, sizeof(payload), f, k, x->pid, t->p->id);
    if (len > 0)
      send_rtp(t, 1, k + 1 == n, payload, (size_t)len, ts);
  }
  x->pid = (x->pid + 1) & 0x7fff;
  x->frame = media_video_next(m, x->frame);
}

void bptransport_tick(struct bptransport *t, uint64_t now) {
  struct brun *r = t->p->run;
  if (t->closing || !t->have_answer)
    return;
  if (!t->nominated) {
    if (now > t->ice_started_us && now - t->ice_started_us > ICE_GIVE_UP_US) {
      brun_error(r, BE_ICE, t->p->index, "no ICE check answered in %d s", ICE_GIVE_UP_US / 1000000);
      t->have_answer = false; /* give up on this session */
      return;
    }
    if (t->tcp_state != BPT_NONE && t->tcp_state != BPT_UP)
      return; /* ICE-TCP: the checks wait for the connection */
    if (now >= t->ice_next_us) {
      send_check(t, t->ice_ok);
      t->ice_tries++;
      uint64_t rto = 100000u << (t->ice_tries < 3 ? t->ice_tries : 3);
      t->ice_next_us = now + rto;
    }
    return;
  }
  if (now >= t->consent_next_us) {
    /* Consent freshness (RFC 7675): a plain check on the selected pair every few seconds. */
    send_check(t, false);
    t->consent_next_us = now + CONSENT_US - 500000 + brun_rand(r) % 1000000;
  }
  if (t->dtls && !t->dtls_done) {
    if (now > t->dtls_started_us && now - t->dtls_started_us > DTLS_GIVE_UP_US) {
      brun_error(r, BE_DTLS, t->p->index, "DTLS handshake timed out");
      t->dtls_done = true;
    } else if (dtls_timeout_ms(t->dtls, now / 1000) == 0 && dtls_handle_timeout(t->dtls) < 0) {
      brun_error(r, BE_DTLS, t->p->index, "DTLS gave up retransmitting");
      t->dtls_done = true;
    }
    return;
  }
  if (!t->srtp)
    return;
  if (!t->media_since_us)
    t->media_since_us = now;
  if (r->o->forge_alert && !t->alert_forged && now - t->media_since_us > 2000000) {
    /* What an attacker who can send from the browser's address could inject: an "encrypted"
     * alert record of epoch 1 the server cannot authenticate (it keeps no DTLS state by now).
     * Media goes on, so the session must survive it. */
    uint8_t rec[39] = {21, 0xfe, 0xfd, 0x00, 0x01, 0, 0, 0, 0, 0, 7, 0x00, 26};
    for (size_t i = 13; i < sizeof(rec); i++)
      rec[i] = (uint8_t)brun_rand(r);
    send_raw(t, rec, sizeof(rec));
    t->alert_forged = true;
    r->t.forged_alerts++;
  }
  const struct media_set *m = r->media;
  for (int k = 0; k < 2; k++) {
    struct bp_tx *x = &t->tx[k];
    size_t frames = k ? m->n_video : m->n_audio;
    uint64_t period = k ? 1000000 / MEDIA_VIDEO_FPS : MEDIA_AUDIO_FRAME_MS * 1000;
    if (!frames)
      continue;
    if (now > x->next_us + MAX_LAG_US)
      x->next_us = now - (now - x->next_us) % period; /* skip what is too late */
    while (x->next_us <= now) {
      /* --hold-media: the first video frame (a keyframe) makes us READY; nothing else yet. */
      if (!r->media_held || (k == 1 && !x->held_sent)) {
        send_frame(t, k);
        x->held_sent = true;
      }
      x->next_us += period;
    }
  }
  if (now >= t->rtcp_next_us) {
    send_reports(t, now);
    t->rtcp_next_us = now + RTCP_US;
  }
}

/* ---- receiving ---- */

static void on_rtp(struct bptransport *t, uint8_t *buf, size_t len, uint64_t now) {
  struct brun *r = t->p->run;
  size_t n = len;
  int rc = srtpctx_unprotect_rtp(t->srtp, buf, &n);
  if (rc == -EALREADY)
    return;
  if (rc) {
    brun_error(r, BE_SRTP, t->p->index, "SRTP unprotect failed (%d)", rc);
    return;
  }
  r->t.rx_packets++;
  r->t.rx_bytes += len;
  rxcheck_packet(t, buf, n, now);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct bptransport *t = h->data;
  (void)suggested;
  *buf = uv_buf_init((char *)t->p->run->rxbuf, sizeof(t->p->run->rxbuf));
}

static bool same_addr(const struct sockaddr *a, const struct sockaddr_storage *b) {
  if (a->sa_family != b->ss_family)
    return false;
  if (a->sa_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

static void recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags) {
  struct bptransport *t = h->data;
  if (t->closing || nread <= 0 || !addr || (flags & UV_UDP_PARTIAL) || !t->have_answer)
    return;
  bool tcp = t->tcp_state != BPT_NONE;
  if (!same_addr(addr, tcp ? &t->ans.tcp_cand : &t->ans.cand))
    return; /* only the server's media address may talk to us */
  t->p->run->t.udp_rx++;
  if (tcp)
    return; /* --transport=tcp plays a browser whose UDP is blocked */
  bptransport__on_packet(t, (uint8_t *)buf->base, (size_t)nread, brun_now_us(t->p->run));
}

void bptransport__on_packet(struct bptransport *t, uint8_t *b, size_t len, uint64_t now) {
  switch (demux_classify(b, len)) {
  case DEMUX_STUN: on_stun(t, b, len, now); break;
  case DEMUX_DTLS: on_dtls(t, b, len, now); break;
  case DEMUX_RTP:
    if (t->srtp)
      on_rtp(t, b, len, now);
    break;
  case DEMUX_RTCP:
    if (t->srtp)
      on_rtcp(t, b, len);
    break;
  default: break;
  }
}

/* ---- lifetime ---- */

struct bptransport *bptransport_new(struct bpeer *p) {
  struct brun *r = p->run;
  struct bptransport *t = calloc(1, sizeof(*t));
  if (!t)
    return NULL;
  t->p = p;
  t->stream = ++r->streams;
  t->t_created = brun_now_us(r);
  if (ice_gen_credentials(t->ufrag, t->pwd) != 0 ||
      RAND_bytes((unsigned char *)&t->tie_breaker, sizeof(t->tie_breaker)) != 1) {
    free(t);
    return NULL;
  }
  for (int k = 0; k < 2; k++) {
    t->tx[k].ssrc = rand32();
    t->tx[k].seq = (uint16_t)rand32();
    t->tx[k].pid = (uint16_t)(rand32() & 0x7fff);
  }
  if (uv_udp_init(r->loop, &t->udp) != 0) {
    free(t);
    return NULL;
  }
  t->udp.data = t;
  t->handles = 1;
  p->closing_transports++; /* released when every handle has closed */
  if (r->o->tcp && bptcp_init(t) != 0) {
    bptransport_close(t, false);
    return NULL;
  }
  /* Our socket is on the --url host's address: traffic stays on this machine (with --remote,
   * on the address this machine reaches that host from). */
  struct sockaddr_storage ss = r->media_addr;
  if (ss.ss_family == AF_INET)
    ((struct sockaddr_in *)&ss)->sin_port = 0;
  else
    ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
  int len = sizeof(ss);
  if (uv_udp_bind(&t->udp, (struct sockaddr *)&ss, 0) != 0 ||
      uv_udp_getsockname(&t->udp, (struct sockaddr *)&ss, &len) != 0 ||
      uv_udp_recv_start(&t->udp, alloc_cb, recv_cb) != 0) {
    bptransport_close(t, false);
    return NULL;
  }
  t->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                           : ((struct sockaddr_in6 *)&ss)->sin6_port);
  return t;
}

int bptransport_offer(struct bptransport *t, char *out, size_t cap) {
  struct brun *r = t->p->run;
  char cname[17];
  static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (size_t i = 0; i < 16; i++)
    cname[i] = alnum[rand32() % (sizeof(alnum) - 1)];
  cname[16] = 0;
  struct offer_params op = {
      .ufrag = t->ufrag,
      .pwd = t->pwd,
      .fingerprint = r->fingerprint,
      .ip = r->media_ip,
      .port = t->port,
      .tcp_active = r->o->tcp,
      .audio_ssrc = t->tx[0].ssrc,
      .video_ssrc = t->tx[1].ssrc,
      .rtx_ssrc = rand32(),
      .cname = cname,
      .session_id = ((uint64_t)rand32() << 31) ^ rand32(),
  };
  return offer_build(r->offer_template, &op, out, cap);
}

int bptransport_answer(struct bptransport *t, const char *sdp, size_t len) {
  struct brun *r = t->p->run;
  const char *err = NULL;
  bool tcp = t->tcp_state != BPT_NONE;
  if (offer_parse_answer(sdp, len, tcp, r->http_addr.ss_family, &t->ans, &err) != 0) {
    brun_error(r, BE_BAD_ANSWER, t->p->index, "%s", err);
    return -EBADMSG;
  }
  /* The media address must be the --url host itself (or loopback), never elsewhere; with
   * --remote (a staging host, or its load balancer in front of nodes that each advertise
   * their own address) whatever the server's answer names. */
  char ip[64] = "";
  const struct sockaddr *c = (const struct sockaddr *)(tcp ? &t->ans.tcp_cand : &t->ans.cand);
  if (c->sa_family == AF_INET)
    uv_ip4_name((const struct sockaddr_in *)c, ip, sizeof(ip));
  else
    uv_ip6_name((const struct sockaddr_in6 *)c, ip, sizeof(ip));
  if (!r->o->remote && strcmp(ip, r->o->host) != 0 && strncmp(ip, "127.", 4) != 0 &&
      strcmp(ip, "::1") != 0) {
    brun_error(r, BE_BAD_ANSWER, t->p->index, "the media candidate %s is not the --url host", ip);
    return -EBADMSG;
  }
  for (int k = 0; k < 2; k++)
    t->rx[k].ssrc = t->ans.ssrc[k];
  t->have_answer = true;
  t->ice_started_us = brun_now_us(r);
  t->ice_next_us = t->ice_started_us;
  if (tcp)
    bptcp_connect(t); /* the checks start once it is up */
  return 0;
}

void bptransport__handle_closed(uv_handle_t *h) {
  struct bptransport *t = h->data;
  if (--t->handles > 0)
    return;
  struct bpeer *p = t->p;
  dtls_free(t->dtls);
  srtpctx_free(t->srtp);
  free(t);
  bpeer__on_transport_closed(p);
}

void bptransport_close(struct bptransport *t, bool polite) {
  if (t->closing)
    return;
  rxcheck_flush(t);
  if (polite && t->dtls && t->dtls_done)
    dtls_close(t->dtls);
  t->closing = true;
  uv_udp_recv_stop(&t->udp);
  bptcp_close(t);
  uv_close((uv_handle_t *)&t->udp, bptransport__handle_closed);
}
