/* media_world.h -- a media plane of three workers driven by hand (no sockets, no threads) for
 * the handover and router tests: sessions made through the control side and given keys as if
 * ICE and DTLS had completed, each receiving through a stream transport into a "browser" that
 * decrypts what it gets and checks who sent it. Static functions, like sdp_fixture.h. */
#ifndef TANDEM_TESTS_MEDIA_WORLD_H
#define TANDEM_TESTS_MEDIA_WORLD_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "media/router_int.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "tests/media/sdp_fixture.h"

#define NWORKERS 3
#define MAXS 64

/* The browser's side of one session: decrypts what the server sends it. */
struct browser {
  uint64_t sid;
  struct srtpctx *rx;
  uint64_t got, last_from;
  uint32_t last_sr_ntp_sec;   /* from the last sender report it got, 0 none */
  unsigned plis;              /* keyframe requests (PLI or FIR) it got */
};

struct world {
  uv_loop_t loop;
  struct dtls_cert *cert;
  struct mediaplane *mp;
  uint64_t sids[MAXS];
  struct browser *br[MAXS];
  int partner[MAXS];          /* the model: index of the partner, -1 none, -2 closed */
  uint8_t ever[MAXS][MAXS];   /* ever linked */
  int n;
  unsigned nworkers;
  unsigned rng;
  uint16_t seq[MAXS];
  bool strict;                /* every packet must come from the current partner */
  int failures;
};

static inline unsigned rnd(struct world *W) {
  W->rng = W->rng * 1103515245u + 12345u;
  return (W->rng >> 16) & 0x7fff;
}

static inline struct worker *wk(struct world *W, unsigned i) { return mediaplane__worker(W->mp, i); }
static inline unsigned home_of(uint64_t sid) { return (unsigned)(sid & 0xff); }

static inline struct session *sess(struct world *W, int i) {
  return worker__session(wk(W, home_of(W->sids[i])), W->sids[i]);
}

static inline void make_keys(uint64_t sid, struct srtp_keys *srv, struct srtp_keys *brw) {
  memset(srv, 0, sizeof(*srv));
  srv->profile = SRTPCTX_AEAD_AES_128_GCM;
  srv->key_len = 16;
  srv->salt_len = 12;
  for (int i = 0; i < 28; i++) {
    srv->local[i] = (uint8_t)(sid * 7 + (uint64_t)i);
    srv->remote[i] = (uint8_t)(sid * 13 + (uint64_t)i + 100);
  }
  *brw = *srv;
  memcpy(brw->local, srv->remote, sizeof(brw->local));
  memcpy(brw->remote, srv->local, sizeof(brw->remote));
}

static struct world *G; /* for the stream callback */

static inline int stream_write(void *impl, const uint8_t *buf, size_t len) {
  struct browser *b = impl;
  if (len < 12)
    return 0;
  uint8_t pkt[1600];
  memcpy(pkt, buf, len);
  size_t n = len;
  if (rtp_is_rtcp(buf, len)) {
    struct rtcp_iter it;
    struct rtcp_item item;
    struct rtcp_sr sr;
    if (srtpctx_unprotect_rtcp(b->rx, pkt, &n) != 0)
      return 0;
    rtcp_iter_init(&it, pkt, n);
    while (rtcp_iter_next(&it, &item) == 1)
      if (item.pt == RTCP_SR && rtcp_parse_sr(&item, &sr) == 0)
        b->last_sr_ntp_sec = sr.ntp_sec;
      else if (item.pt == RTCP_PSFB && (item.fmt == RTCP_FB_PLI || item.fmt == RTCP_FB_FIR))
        b->plis++;
    return 0;
  }
  if (srtpctx_unprotect_rtp(b->rx, pkt, &n) != 0) {
    fprintf(stderr, "session %llu: a packet it cannot decrypt\n", (unsigned long long)b->sid);
    G->failures++;
    return 0;
  }
  struct rtp_view v;
  assert_int_equal(rtp_parse(pkt, n, &v), 0);
  uint64_t from;
  assert_true(v.payload_len >= sizeof(from));
  memcpy(&from, pkt + v.payload_off, sizeof(from));
  int r = -1, f = -1;
  for (int i = 0; i < G->n; i++) {
    if (G->sids[i] == b->sid)
      r = i;
    if (G->sids[i] == from)
      f = i;
  }
  assert_true(r >= 0 && f >= 0);
  bool ok = G->strict ? G->partner[r] == f : G->ever[r][f];
  if (!ok) {
    fprintf(stderr, "cross-talk: %d received %d (partner %d)\n", r, f, G->partner[r]);
    G->failures++;
  }
  b->got++;
  b->last_from = from;
  return 0;
}

static inline void stream_close(void *impl) {
  struct browser *b = impl;
  srtpctx_free(b->rx);
  b->rx = NULL;
}

static const struct stream_ops STREAM = {stream_write, stream_close};

static inline void step(struct world *W, unsigned wi) {
  switch (rnd(W) % 3) {
  case 0: worker__run_commands(wk(W, wi)); break;
  case 1: worker__drain_rings(wk(W, wi)); break;
  default: worker__flush(wk(W, wi)); break;
  }
}

static inline void quiesce(struct world *W) {
  for (int round = 0; round < 8; round++)
    for (unsigned i = 0; i < W->nworkers; i++) {
      worker__run_commands(wk(W, i));
      worker__drain_rings(wk(W, i));
      worker__flush(wk(W, i));
    }
}

/* A new session: created through the control side, then given keys and a stream path as
 * if ICE and DTLS had completed. */
static inline void add_session(struct world *W) {
  struct sdp_offer o;
  const char *err;
  char answer[8192];
  assert_int_equal(sdp_parse_offer(BASE, strlen(BASE), &o, &err), 0);
  int i = W->n++;
  assert_int_equal(mediaplane_new_session(W->mp, &o, answer, sizeof(answer), &W->sids[i]), 0);
  W->partner[i] = -1;
  struct worker *w = wk(W, home_of(W->sids[i]));
  worker__run_commands(w);
  struct session *s = sess(W, i);
  assert_non_null(s);
  struct srtp_keys srv, brw;
  make_keys(W->sids[i], &srv, &brw);
  struct browser *b = calloc(1, sizeof(*b));
  b->sid = W->sids[i];
  b->rx = srtpctx_new(&brw);
  assert_non_null(b->rx);
  W->br[i] = b;
  s->keys = srv;
  s->srtp = srtpctx_new(&srv);
  s->dtls_done = true;
  handover__srtp_ready(s);
  s->stream_ops = &STREAM;
  s->stream = b;
  s->path.kind = TX_STREAM;
  handover__path_changed(s);
}

static inline void unpair(struct world *W, int i) {
  int p = W->partner[i];
  if (p >= 0) {
    mediaplane_unlink(W->mp, W->sids[p]);
    W->partner[p] = -1;
  }
  if (W->partner[i] >= -1) {
    mediaplane_unlink(W->mp, W->sids[i]);
    W->partner[i] = -1;
  }
}

static inline void link_pair(struct world *W, int a, int b) {
  unpair(W, a);
  unpair(W, b);
  mediaplane_link(W->mp, W->sids[a], W->sids[b]);
  W->partner[a] = b;
  W->partner[b] = a;
  W->ever[a][b] = W->ever[b][a] = 1;
}

/* One audio packet from session i (plaintext, as the router gets it after SRTP). */
static inline void send_from(struct world *W, int i) {
  struct session *s = sess(W, i);
  if (!s)
    return;
  uint8_t pkt[64 + SRTPCTX_TRAILER];
  struct rtp_header h = {.pt = (uint8_t)s->in[KIND_AUDIO].pt, .seq = W->seq[i]++,
                         .ts = (uint32_t)W->seq[i] * 960u, .ssrc = 0x1000u + (uint32_t)i};
  int hl = rtp_write_header(pkt, sizeof(pkt), &h);
  assert_true(hl > 0);
  memcpy(pkt + hl, &W->sids[i], sizeof(W->sids[i]));
  router__on_rtp(s, pkt, (size_t)hl + sizeof(W->sids[i]), worker__now(s->w));
}

/* A burst of PLIs from session i's browser: keyframe requests to its partner's worker. */
static inline void pli_burst(struct world *W, int i, int n) {
  struct session *s = sess(W, i);
  if (!s)
    return;
  for (int k = 0; k < n; k++) {
    uint8_t pkt[64];
    int len = rtcp_write_pli(pkt, sizeof(pkt), 0x1000u + (uint32_t)i, s->out_ssrc[KIND_VIDEO]);
    assert_true(len > 0);
    router__on_rtcp(s, pkt, (size_t)len, worker__now(s->w));
  }
}

/* A world whose media plane has the configuration cfg (workers driven by hand). */
static inline void open_world_cfg(struct world *W, unsigned seed, const struct mediaplane_config *cfg) {
  memset(W, 0, sizeof(*W));
  G = W;
  W->rng = seed;
  assert_int_equal(uv_loop_init(&W->loop), 0);
  W->cert = dtls_cert_new();
  assert_non_null(W->cert);
  W->nworkers = cfg->workers;
  assert_int_equal(mediaplane__new(&W->loop, cfg, NULL, W->cert, false, &W->mp), 0);
}

static inline void open_world_n(struct world *W, unsigned seed, size_t ring_bytes, unsigned workers) {
  struct mediaplane_config cfg;
  mediaplane_config_default(&cfg);
  cfg.workers = workers;
  cfg.ring_bytes = ring_bytes;
  open_world_cfg(W, seed, &cfg);
}

static uint64_t total_parked, total_queued;

static inline void open_world(struct world *W, unsigned seed, size_t ring_bytes) {
  open_world_n(W, seed, ring_bytes, NWORKERS);
}

static inline void close_world(struct world *W) {
  for (unsigned i = 0; i < W->nworkers; i++) {
    total_parked += wk(W, i)->st.handovers_parked;
    total_queued += wk(W, i)->st.xworker_queued;
  }
  mediaplane_close(W->mp, NULL, NULL);
  uv_run(&W->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&W->loop), 0);
  dtls_cert_free(W->cert);
  for (int i = 0; i < W->n; i++)
    free(W->br[i]);
}

#endif
