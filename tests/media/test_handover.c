/* test_handover.c -- three media workers driven by hand, without sockets or threads: links,
 * unlinks and closes in random interleavings with the workers' commands, rings and flushes;
 * every outbound ends where the pairs say, nobody receives a stranger, nothing leaks. A
 * receiver's packets go through a stream transport (the home-only path), so a feeder on another
 * worker must send them home through the ring. Set TANDEM_TEST_SEED to replay one seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "media/capture.h"
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
  unsigned rng;
  uint16_t seq[MAXS];
  bool strict;                /* every packet must come from the current partner */
  int failures;
};

static unsigned rnd(struct world *W) {
  W->rng = W->rng * 1103515245u + 12345u;
  return (W->rng >> 16) & 0x7fff;
}

static struct worker *wk(struct world *W, unsigned i) { return mediaplane__worker(W->mp, i); }
static unsigned home_of(uint64_t sid) { return (unsigned)(sid & 0xff); }

static struct session *sess(struct world *W, int i) {
  return worker__session(wk(W, home_of(W->sids[i])), W->sids[i]);
}

static void make_keys(uint64_t sid, struct srtp_keys *srv, struct srtp_keys *brw) {
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

static int stream_write(void *impl, const uint8_t *buf, size_t len) {
  struct browser *b = impl;
  if (len < 12 || rtp_is_rtcp(buf, len))
    return 0;
  uint8_t pkt[1600];
  memcpy(pkt, buf, len);
  size_t n = len;
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

static void stream_close(void *impl) {
  struct browser *b = impl;
  srtpctx_free(b->rx);
  b->rx = NULL;
}

static const struct stream_ops STREAM = {stream_write, stream_close};

static void step(struct world *W, unsigned wi) {
  switch (rnd(W) % 3) {
  case 0: worker__run_commands(wk(W, wi)); break;
  case 1: worker__drain_rings(wk(W, wi)); break;
  default: worker__flush(wk(W, wi)); break;
  }
}

static void quiesce(struct world *W) {
  for (int round = 0; round < 8; round++)
    for (unsigned i = 0; i < NWORKERS; i++) {
      worker__run_commands(wk(W, i));
      worker__drain_rings(wk(W, i));
      worker__flush(wk(W, i));
    }
}

/* A new session: created through the control side, then given keys and a stream path as
 * if ICE and DTLS had completed. */
static void add_session(struct world *W) {
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

static void unpair(struct world *W, int i) {
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

static void link_pair(struct world *W, int a, int b) {
  unpair(W, a);
  unpair(W, b);
  mediaplane_link(W->mp, W->sids[a], W->sids[b]);
  W->partner[a] = b;
  W->partner[b] = a;
  W->ever[a][b] = W->ever[b][a] = 1;
}

/* One audio packet from session i (plaintext, as the router gets it after SRTP). */
static void send_from(struct world *W, int i) {
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
static void pli_burst(struct world *W, int i, int n) {
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

static void open_world(struct world *W, unsigned seed, size_t ring_bytes) {
  memset(W, 0, sizeof(*W));
  G = W;
  W->rng = seed;
  assert_int_equal(uv_loop_init(&W->loop), 0);
  W->cert = dtls_cert_new();
  assert_non_null(W->cert);
  struct mediaplane_config cfg;
  mediaplane_config_default(&cfg);
  cfg.workers = NWORKERS;
  cfg.ring_bytes = ring_bytes;
  assert_int_equal(mediaplane__new(&W->loop, &cfg, NULL, W->cert, false, &W->mp), 0);
}

static uint64_t total_parked, total_queued;

static void close_world(struct world *W) {
  for (unsigned i = 0; i < NWORKERS; i++) {
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

/* Where every outbound is, once nothing is in flight: the five rules of handover.c. */
static void check_placement(struct world *W, unsigned seed) {
  for (unsigned k = 0; k < NWORKERS; k++) {
    struct worker *w = wk(W, k);
    if (w->parked || w->outbox_len)
      fail_msg("seed %u: worker %u still has parked or queued outbounds", seed, k);
  }
  for (int i = 0; i < W->n; i++) {
    struct session *s = sess(W, i);
    if (W->partner[i] == -2) {
      if (s)
        fail_msg("seed %u: closed session %d is alive", seed, i);
      continue;
    }
    assert_non_null(s);
    int p = W->partner[i];
    if (p < 0) {
      if (!s->outb || s->sink_out)
        fail_msg("seed %u: unpaired %d: outbound %s home, feeding %s", seed, i,
                 s->outb ? "at" : "not", s->sink_out ? "someone" : "nobody");
      continue;
    }
    struct session *ps = sess(W, p);
    if (s->outb || !ps || !ps->sink_out || ps->sink_out->sid != s->id)
      fail_msg("seed %u: %d's outbound is not with its partner %d", seed, i, p);
  }
}

static void random_run(unsigned seed, int ops, size_t ring_bytes) {
  struct world W;
  open_world(&W, seed, ring_bytes);
  for (int i = 0; i < 8; i++)
    add_session(&W);
  for (int op = 0; op < ops; op++) {
    unsigned r = rnd(&W) % 100;
    int a = (int)(rnd(&W) % (unsigned)W.n), b = (int)(rnd(&W) % (unsigned)W.n);
    if (r < 40 && a != b && W.partner[a] != -2 && W.partner[b] != -2)
      link_pair(&W, a, b);
    else if (r < 55 && W.partner[a] >= 0)
      unpair(&W, a);
    else if (r < 60 && W.partner[a] != -2) {
      unpair(&W, a);
      mediaplane_close_session(W.mp, W.sids[a]);
      W.partner[a] = -2;
    } else if (r < 63 && W.n < MAXS) {
      add_session(&W);
    } else if (r < 70) {
      pli_burst(&W, a, 40);
    } else {
      for (int k = 0; k < 3; k++)
        send_from(&W, (int)(rnd(&W) % (unsigned)W.n));
    }
    for (int k = (int)(rnd(&W) % 6); k > 0; k--)
      step(&W, rnd(&W) % NWORKERS);
  }
  quiesce(&W);
  check_placement(&W, seed);
  /* Now every packet must reach exactly the current partner. */
  W.strict = true;
  for (int i = 0; i < W.n; i++)
    if (W.br[i])
      W.br[i]->got = 0;
  for (int i = 0; i < W.n; i++)
    send_from(&W, i);
  quiesce(&W);
  for (int i = 0; i < W.n; i++) {
    int p = W.partner[i];
    if (p >= 0 && (W.br[i]->got != 1 || W.br[i]->last_from != W.sids[p]))
      fail_msg("seed %u: %d got %llu packets, not one from its partner %d", seed, i,
               (unsigned long long)W.br[i]->got, p);
    if (p == -1 && W.br[i]->got)
      fail_msg("seed %u: unpaired %d received", seed, i);
  }
  if (W.failures)
    fail_msg("seed %u: %d failures (see above)", seed, W.failures);
  close_world(&W);
}

static unsigned seeds(unsigned dflt) {
  const char *e = getenv("TANDEM_TEST_SEED");
  return e ? 1 : dflt;
}

static unsigned seed_at(unsigned i) {
  const char *e = getenv("TANDEM_TEST_SEED");
  return e ? (unsigned)strtoul(e, NULL, 10) : 1000u + i;
}

static void test_random_interleavings(void **state) {
  (void)state;
  total_parked = total_queued = 0;
  for (unsigned i = 0, n = seeds(150); i < n; i++)
    random_run(seed_at(i), 300, 4 * 1024 * 1024);
  /* The runs must have met the early-arrival case, or they prove little. */
  if (!getenv("TANDEM_TEST_SEED"))
    assert_true(total_parked > 0);
}

/* Rings of one page: handovers and feedback overflow into the outboxes and must still arrive,
 * in order, with nothing lost. */
static void test_full_rings(void **state) {
  (void)state;
  total_parked = total_queued = 0;
  for (unsigned i = 0, n = seeds(60); i < n; i++)
    random_run(seed_at(i) + 50000u, 400, 4096);
  if (!getenv("TANDEM_TEST_SEED"))
    assert_true(total_queued > 0);
}

/* A handover that arrives before its LINK parks, and is attached when the LINK runs. */
static void test_parks_until_link(void **state) {
  (void)state;
  struct world W;
  open_world(&W, 7, 4 * 1024 * 1024);
  add_session(&W);
  add_session(&W);
  assert_int_not_equal(home_of(W.sids[0]), home_of(W.sids[1]));
  link_pair(&W, 0, 1);
  struct worker *w0 = wk(&W, home_of(W.sids[0])), *w1 = wk(&W, home_of(W.sids[1]));
  worker__run_commands(w0); /* 0's LINK: its outbound leaves for 1's worker */
  worker__flush(w0);
  worker__drain_rings(w1);  /* ... and arrives before 1's LINK */
  assert_non_null(w1->parked);
  assert_null(sess(&W, 1)->sink_out);
  worker__run_commands(w1); /* 1's LINK: attached */
  assert_null(w1->parked);
  assert_non_null(sess(&W, 1)->sink_out);
  quiesce(&W);
  check_placement(&W, 7);
  close_world(&W);
}

static int replies, last_status;
static size_t last_len;
static void on_reply(void *arg, int status, void *payload, size_t len) {
  (void)arg;
  replies++;
  last_status = status;
  last_len = len;
  free(payload);
}

static void send_vp8(struct session *s, uint16_t seq, bool key, bool start, bool marker,
                     const uint8_t *data, size_t n) {
  uint8_t pkt[256 + SRTPCTX_TRAILER];
  struct rtp_header h = {.pt = (uint8_t)s->in[KIND_VIDEO].pt, .seq = seq, .ts = 9000,
                         .ssrc = 0x77, .marker = marker};
  int hl = rtp_write_header(pkt, sizeof(pkt), &h);
  size_t off = (size_t)hl;
  pkt[off++] = start ? 0x10 : 0x00; /* S bit, partition 0 */
  if (start) {
    /* A VP8 keyframe tag (P = 0) with start code and a 64x48 size, or an interframe tag. */
    const uint8_t kf[] = {0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 64, 0, 48, 0};
    const uint8_t df[] = {0x51, 0x02, 0x00};
    memcpy(pkt + off, key ? kf : df, key ? sizeof(kf) : sizeof(df));
    off += key ? sizeof(kf) : sizeof(df);
  }
  memcpy(pkt + off, data, n);
  router__on_rtp(s, pkt, off + n, worker__now(s->w));
}

/* A keyframe request is answered with the bytes of the next whole keyframe. */
static void test_keyframe_request(void **state) {
  (void)state;
  struct world W;
  open_world(&W, 9, 4 * 1024 * 1024);
  add_session(&W);
  struct worker *w = wk(&W, home_of(W.sids[0]));
  replies = 0;
  assert_int_equal(mediaplane_request(W.mp, 12345, MEDIAPLANE_REQ_KEYFRAME, 0, on_reply, NULL), 0);
  uint64_t req = mediaplane_request(W.mp, W.sids[0], MEDIAPLANE_REQ_KEYFRAME, 1000, on_reply, NULL);
  assert_true(req > 0);
  worker__run_commands(w);
  assert_int_equal(sess(&W, 0)->captures, 1);
  uint8_t body[100];
  memset(body, 0xab, sizeof(body));
  send_vp8(sess(&W, 0), 10, false, true, true, body, 20);  /* a delta frame: ignored */
  send_vp8(sess(&W, 0), 11, true, true, false, body, 50);  /* keyframe, first packet */
  send_vp8(sess(&W, 0), 12, true, false, true, body, 100); /* its last packet */
  uv_run(&W.loop, UV_RUN_NOWAIT);
  assert_int_equal(replies, 1);
  assert_int_equal(last_status, 0);
  assert_int_equal(last_len, 10 + 50 + 100);
  assert_int_equal(sess(&W, 0)->captures, 0);
  /* No keyframe in time: -ETIMEDOUT; a cancelled request is never answered. */
  req = mediaplane_request(W.mp, W.sids[0], MEDIAPLANE_REQ_KEYFRAME, 1000, on_reply, NULL);
  uint64_t req2 = mediaplane_request(W.mp, W.sids[0], MEDIAPLANE_REQ_KEYFRAME, 1000, on_reply, NULL);
  mediaplane_cancel(W.mp, req2);
  worker__run_commands(w);
  capture__tick(w, worker__now(w) + 5000);
  uv_run(&W.loop, UV_RUN_NOWAIT);
  assert_int_equal(replies, 2);
  assert_int_equal(last_status, -ETIMEDOUT);
  /* Pending at close: -ECANCELED. */
  req = mediaplane_request(W.mp, W.sids[0], MEDIAPLANE_REQ_KEYFRAME, 1000, on_reply, NULL);
  assert_true(req > 0);
  close_world(&W);
  assert_int_equal(replies, 3);
  assert_int_equal(last_status, -ECANCELED);
}

int main(void) {
  srtpctx_global_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parks_until_link),
      cmocka_unit_test(test_random_interleavings),
      cmocka_unit_test(test_full_rings),
      cmocka_unit_test(test_keyframe_request),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
