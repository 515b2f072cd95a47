/* test_handover.c -- three media workers driven by hand, without sockets or threads: links,
 * unlinks and closes in random interleavings with the workers' commands, rings and flushes;
 * every outbound ends where the pairs say, nobody receives a stranger, nothing leaks. A
 * receiver's packets go through a stream transport (the home-only path), so a feeder on another
 * worker must send them home through the ring. Set TANDEM_TEST_SEED to replay one seed. */
#include "media/capture.h"
#include "tests/media/media_world.h"

/* Where every outbound is, once nothing is in flight: the five rules of handover.c. */
static void check_placement(struct world *W, unsigned seed) {
  for (unsigned k = 0; k < W->nworkers; k++) {
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
      step(&W, rnd(&W) % W.nworkers);
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
  assert_int_equal(mediaplane_request(W.mp, 12345, MEDIAPLANE_REQ_KEYFRAME, 0, NULL, 0, on_reply, NULL), 0);
  uint64_t req = mediaplane_request(W.mp, W.sids[0], MEDIAPLANE_REQ_KEYFRAME, 1000, NULL, 0, on_reply, NULL);
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
  req = mediaplane_request(W.mp, W.sids[0], MEDIAPLANE_REQ_KEYFRAME, 1000, NULL, 0, on_reply, NULL);
  uint64_t req2 = mediaplane_request(W.mp, W.sids[0], MEDIAPLANE_REQ_KEYFRAME, 1000, "x", 1,
                                     on_reply, NULL); /* a payload the worker frees */
  mediaplane_cancel(W.mp, req2);
  worker__run_commands(w);
  capture__tick(w, worker__now(w) + 5000);
  uv_run(&W.loop, UV_RUN_NOWAIT);
  assert_int_equal(replies, 2);
  assert_int_equal(last_status, -ETIMEDOUT);
  /* Pending at close: -ECANCELED. */
  req = mediaplane_request(W.mp, W.sids[0], MEDIAPLANE_REQ_KEYFRAME, 1000, NULL, 0, on_reply, NULL);
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
