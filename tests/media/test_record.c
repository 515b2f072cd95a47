/* test_record.c -- evidence recording on the worker (media/record.c): what a READY session's
 * browser sends is recorded as the router sees it and MEDIAPLANE_REQ_CLIP answers with it at
 * once; the browser is asked for a keyframe when the newest recorded one gets old. */
#include <errno.h>

#include "media/record.h"
#include "moderation/recorder.h"
#include "tests/media/media_world.h"

static int replies, last_status;
static uint8_t *last_payload;
static size_t last_len;

static void on_reply(void *arg, int status, void *payload, size_t len) {
  (void)arg;
  replies++;
  last_status = status;
  free(last_payload);
  last_payload = payload;
  last_len = len;
}

/* Asks for session i's clip: the answer must come from one run of the worker's commands, with
 * no tick and no packet in between (the worker never waits). Returns its status. */
static int ask_clip(struct world *W, int i) {
  int before = replies;
  uint64_t req = mediaplane_request(W->mp, W->sids[i], MEDIAPLANE_REQ_CLIP, 0, NULL, 0, on_reply,
                                    NULL);
  assert_true(req > 0);
  worker__run_commands(wk(W, home_of(W->sids[i])));
  uv_run(&W->loop, UV_RUN_NOWAIT);
  assert_int_equal(replies, before + 1);
  return last_status;
}

static void open_rec(struct world *W, unsigned workers, uint32_t record_ms, size_t max_bytes) {
  struct mediaplane_config cfg;
  mediaplane_config_default(&cfg);
  cfg.workers = workers;
  cfg.record_ms = record_ms;
  cfg.record_max_bytes = max_bytes;
  open_world_cfg(W, 1, &cfg);
}

static void close_rec(struct world *W) {
  close_world(W);
  free(last_payload);
  last_payload = NULL;
}

/* What session s's browser sends: audio (pad bytes of v), or a VP8 packet (first: the first
 * packet of a frame, with a keyframe's 64x48 header when key). The packet goes to the router at
 * `now` as it would after SRTP; its bytes stay in pkt (len returned). */
static uint32_t frame_ts; /* when not 0, every packet's timestamp (packets of one frame) */

static size_t send_pkt(struct session *s, uint8_t *pkt, int kind, uint16_t seq, bool first,
                       bool key, bool marker, size_t pad, uint64_t now) {
  struct rtp_header h = {.pt = (uint8_t)s->in[kind].pt, .seq = seq,
                         .ts = frame_ts ? frame_ts : 9000u * seq,
                         .ssrc = kind == KIND_VIDEO ? 0x77u : 0x55u, .marker = marker};
  int hl = rtp_write_header(pkt, 1200, &h);
  assert_true(hl > 0);
  size_t off = (size_t)hl;
  if (kind == KIND_VIDEO) {
    pkt[off++] = first ? 0x10 : 0x00; /* S bit, partition 0 */
    if (first) {
      const uint8_t kf[] = {0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a, 64, 0, 48, 0};
      const uint8_t df[] = {0x51, 0x02, 0x00};
      memcpy(pkt + off, key ? kf : df, key ? sizeof(kf) : sizeof(df));
      off += key ? sizeof(kf) : sizeof(df);
    }
  }
  memset(pkt + off, (int)(seq & 0xff), pad);
  off += pad;
  router__on_rtp(s, pkt, off, now);
  return off;
}

/* Session 0 sends a video packet at t and becomes READY (dtls_done is set by the world). */
static void make_ready(struct world *W, int i, bool key, uint64_t t) {
  struct session *s = sess(W, i);
  uint8_t pkt[1300];
  send_pkt(s, pkt, KIND_VIDEO, 1, true, key, true, 20, t);
  session__check_ready(s, t);
  assert_true(s->ready);
}

struct sent {
  uint8_t bytes[1300];
  size_t len;
  uint64_t at;
  unsigned flags;
};

static void test_clip_has_what_was_sent(void **state) {
  (void)state;
  struct world W;
  open_rec(&W, 1, 10000, 0);
  add_session(&W);
  add_session(&W);
  struct session *s = sess(&W, 0);
  uint64_t t0 = worker__now(s->w);
  /* Before READY nothing is kept: a session that never gets media costs nothing. */
  assert_null(s->rec);
  assert_int_equal(ask_clip(&W, 0), -ENODATA);
  make_ready(&W, 0, true, t0);
  assert_non_null(s->rec);
  assert_int_equal(ask_clip(&W, 0), -ENODATA); /* the packet that made it READY came before */

  /* Unlinked: audio, a keyframe in two packets, audio, a delta frame, and a packet of a
   * payload type the session does not send (not recorded). */
  struct sent in[8];
  int n = 0;
  struct {
    int kind;
    bool first, key, marker;
    unsigned flags;
  } plan[] = {
      {KIND_AUDIO, false, false, false, 0},
      {KIND_VIDEO, true, true, false, RECORDER_VIDEO | RECORDER_KEYFRAME},
      {KIND_VIDEO, false, false, true, RECORDER_VIDEO},
      {KIND_AUDIO, false, false, false, 0},
      {KIND_VIDEO, true, false, true, RECORDER_VIDEO},
  };
  for (size_t k = 0; k < sizeof(plan) / sizeof(plan[0]); k++, n++) {
    in[n].at = t0 + 10 + 7 * k;
    in[n].flags = plan[k].flags;
    in[n].len = send_pkt(s, in[n].bytes, plan[k].kind, (uint16_t)(100 + k), plan[k].first,
                         plan[k].key, plan[k].marker, 50 + 300 * (k % 3), in[n].at);
  }
  uint8_t junk[64];
  struct rtp_header h = {.pt = 13, .seq = 7, .ssrc = 0x99};
  int hl = rtp_write_header(junk, sizeof(junk), &h);
  router__on_rtp(s, junk, (size_t)hl + 10, t0 + 60);

  /* Linked, the session goes on recording (and its partner gets its audio). */
  link_pair(&W, 0, 1);
  quiesce(&W);
  send_from(&W, 0);
  quiesce(&W);
  assert_int_equal(W.br[1]->got, 1);
  in[n].at = worker__now(s->w);
  in[n].flags = 0;
  uint16_t seq = (uint16_t)(W.seq[0] - 1);
  struct rtp_header ha = {.pt = (uint8_t)s->in[KIND_AUDIO].pt, .seq = seq,
                          .ts = (uint32_t)W.seq[0] * 960u, .ssrc = 0x1000u};
  hl = rtp_write_header(in[n].bytes, sizeof(in[n].bytes), &ha);
  memcpy(in[n].bytes + hl, &W.sids[0], sizeof(W.sids[0]));
  in[n].len = (size_t)hl + sizeof(W.sids[0]);
  n++;

  assert_int_equal(ask_clip(&W, 0), 0);
  assert_non_null(last_payload);
  size_t off = 0;
  struct recorder_rec rec;
  int got = 0;
  while (recorder_rec_next(last_payload, last_len, &off, &rec) == 1) {
    assert_true(got < n);
    assert_int_equal(rec.len, in[got].len);
    assert_memory_equal(rec.rtp, in[got].bytes, rec.len);
    assert_int_equal(rec.flags, in[got].flags);
    assert_int_equal(rec.arrival_ms, in[got].at);
    got++;
  }
  assert_int_equal(off, last_len);
  assert_int_equal(got, n);
  assert_true(record__bytes(s) >= RECORDER_CHUNK);
  close_rec(&W);
}

static void test_bounded_by_max_bytes(void **state) {
  (void)state;
  struct world W;
  /* Below two chunks the configuration is refused. */
  struct mediaplane_config cfg;
  mediaplane_config_default(&cfg);
  cfg.record_ms = 10000;
  cfg.record_max_bytes = RECORDER_CHUNK;
  struct mediaplane *mp;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(mediaplane__new(&loop, &cfg, NULL, NULL, false, &mp), -EINVAL);
  assert_int_equal(uv_loop_close(&loop), 0);

  open_rec(&W, 1, 10000, 2 * RECORDER_CHUNK);
  add_session(&W);
  struct session *s = sess(&W, 0);
  uint64_t t0 = worker__now(s->w);
  make_ready(&W, 0, true, t0);
  uint8_t pkt[1300];
  for (uint16_t k = 0; k < 400; k++) /* 400 KB in 1 s: well past 128 KiB */
    send_pkt(s, pkt, KIND_VIDEO, (uint16_t)(10 + k), true, k % 100 == 0, true, 1000,
             t0 + 1 + k * 2u);
  assert_true(record__bytes(s) <= 3 * RECORDER_CHUNK);
  assert_int_equal(ask_clip(&W, 0), 0);
  assert_true(last_len <= 2 * RECORDER_CHUNK);
  /* What is kept is the newest, in order, ending with the last packet sent. */
  size_t off = 0;
  struct recorder_rec rec;
  uint16_t prev = 0;
  int got = 0;
  while (recorder_rec_next(last_payload, last_len, &off, &rec) == 1) {
    struct rtp_view v;
    assert_int_equal(rtp_parse(rec.rtp, rec.len, &v), 0);
    if (got++)
      assert_int_equal(v.seq, (uint16_t)(prev + 1));
    prev = v.seq;
  }
  assert_true(got > 50);
  assert_int_equal(prev, 10 + 399);
  close_rec(&W);
}

static void test_recording_off(void **state) {
  (void)state;
  struct world W;
  open_rec(&W, 1, 0, 0);
  add_session(&W);
  struct session *s = sess(&W, 0);
  uint64_t t0 = worker__now(s->w);
  make_ready(&W, 0, true, t0);
  uint8_t pkt[1300];
  for (uint16_t k = 0; k < 10; k++)
    send_pkt(s, pkt, k % 2 ? KIND_AUDIO : KIND_VIDEO, (uint16_t)(2 + k), true, false, true, 100,
             t0 + k);
  assert_null(s->rec);
  assert_int_equal(record__bytes(s), 0);
  assert_int_equal(ask_clip(&W, 0), -ENODATA);
  close_rec(&W);
}

static void test_unknown_session(void **state) {
  (void)state;
  struct world W;
  open_rec(&W, 2, 10000, 0);
  add_session(&W);
  add_session(&W);
  make_ready(&W, 0, true, worker__now(sess(&W, 0)->w));
  /* A session the control side never made: no request at all. */
  assert_int_equal(mediaplane_request(W.mp, 0xdead00, MEDIAPLANE_REQ_CLIP, 0, NULL, 0, on_reply,
                                      NULL),
                   0);
  /* One its worker closed (it failed) before the control side heard: -ENOENT. */
  session__close(sess(&W, 0));
  assert_int_equal(ask_clip(&W, 0), -ENOENT);
  assert_null(last_payload);
  close_rec(&W);
}

/* One delta-frame packet from session 0's browser at t, then the worker's tick at t. Returns
 * the keyframe requests sent so far. */
static uint64_t tick_at(struct world *W, uint16_t *seq, bool key, bool video, uint64_t t) {
  struct session *s = sess(W, 0);
  uint8_t pkt[1300];
  if (video)
    send_pkt(s, pkt, KIND_VIDEO, (*seq)++, true, key, true, 100, t);
  session__tick(s, t);
  return s->w->st.keyframe_requests;
}

static void test_keyframe_age_pli(void **state) {
  (void)state;
  struct world W;
  open_rec(&W, 1, 10000, 0);
  add_session(&W);
  uint64_t t0 = worker__now(sess(&W, 0)->w);
  uint16_t seq = 50;
  make_ready(&W, 0, false, t0); /* READY on a delta frame: no keyframe recorded yet */
  assert_int_equal(tick_at(&W, &seq, false, true, t0 + 20), 0);
  assert_int_equal(tick_at(&W, &seq, false, true, t0 + 1000), 0);
  /* Over 1 s READY without one: one PLI, then none for 3 s however often the tick runs. */
  assert_int_equal(tick_at(&W, &seq, false, true, t0 + 1020), 1);
  for (uint64_t t = t0 + 1040; t < t0 + 4020; t += 20)
    assert_int_equal(tick_at(&W, &seq, false, true, t), 1);
  assert_int_equal(tick_at(&W, &seq, false, true, t0 + 4020), 2);
  /* A keyframe at t1: nothing until it is RECORD_KEY_EVERY_MS (4 s) old. */
  uint64_t t1 = t0 + 5000;
  assert_int_equal(tick_at(&W, &seq, true, true, t1), 2);
  for (uint64_t t = t1 + 20; t <= t1 + 4000; t += 20)
    assert_int_equal(tick_at(&W, &seq, false, true, t), 2);
  assert_int_equal(tick_at(&W, &seq, false, true, t1 + 4020), 3);
  assert_int_equal(tick_at(&W, &seq, false, true, t1 + 7000), 3);
  /* Camera off (no video for over 1 s): the browser is not asked. */
  assert_int_equal(tick_at(&W, &seq, false, false, t1 + 10100), 3);
  assert_int_equal(tick_at(&W, &seq, false, false, t1 + 13000), 3);
  /* Video again: asked at once (the last PLI was long ago). */
  assert_int_equal(tick_at(&W, &seq, false, true, t1 + 13020), 4);
  close_rec(&W);
}

/* A keyframe request with a maximum age is answered at once from the recording when its newest
 * keyframe is that recent (no PLI); one without, or with a keyframe too old, asks the browser. */
static void test_snapshot_keyframe_from_the_recording(void **state) {
  (void)state;
  struct world W;
  open_rec(&W, 1, 10000, 0);
  add_session(&W);
  struct session *s = sess(&W, 0);
  struct worker *w = s->w;
  uint64_t t0 = worker__now(w);
  make_ready(&W, 0, false, t0);
  /* A keyframe in two packets, audio between them, then a delta frame. */
  uint8_t k1[1300], a1[1300], k2[1300], d1[1300];
  frame_ts = 777000;
  size_t n1 = send_pkt(s, k1, KIND_VIDEO, 200, true, true, false, 300, t0);
  send_pkt(s, a1, KIND_AUDIO, 7, false, false, false, 40, t0);
  size_t n2 = send_pkt(s, k2, KIND_VIDEO, 201, false, false, true, 200, t0);
  frame_ts = 0;
  send_pkt(s, d1, KIND_VIDEO, 202, true, false, true, 50, t0);
  uint64_t plis = w->st.keyframe_requests;

  uint32_t age = 5000;
  int before = replies;
  assert_true(mediaplane_request(W.mp, W.sids[0], MEDIAPLANE_REQ_KEYFRAME, 1000, &age,
                                 sizeof(age), on_reply, NULL) > 0);
  worker__run_commands(w);
  uv_run(&W.loop, UV_RUN_NOWAIT);
  assert_int_equal(replies, before + 1);
  assert_int_equal(last_status, 0);
  /* The VP8 frame: each packet's payload after its 1-byte descriptor, in order. */
  struct rtp_view v1, v2;
  assert_int_equal(rtp_parse(k1, n1, &v1), 0);
  assert_int_equal(rtp_parse(k2, n2, &v2), 0);
  assert_int_equal(last_len, v1.payload_len - 1 + v2.payload_len - 1);
  assert_memory_equal(last_payload, k1 + v1.payload_off + 1, v1.payload_len - 1);
  assert_memory_equal(last_payload + v1.payload_len - 1, k2 + v2.payload_off + 1,
                      v2.payload_len - 1);
  assert_int_equal(w->st.keyframe_requests, plis);
  assert_int_equal(w->st.keyframes_recorded, 1);

  /* Without a maximum age: the browser is asked, and nothing answers until a keyframe comes. */
  before = replies;
  assert_true(mediaplane_request(W.mp, W.sids[0], MEDIAPLANE_REQ_KEYFRAME, 1000, NULL, 0,
                                 on_reply, NULL) > 0);
  worker__run_commands(w);
  uv_run(&W.loop, UV_RUN_NOWAIT);
  assert_int_equal(replies, before);
  assert_int_equal(w->st.keyframe_requests, plis + 1);
  send_pkt(s, k1, KIND_VIDEO, 203, true, true, true, 100, worker__now(w));
  uv_run(&W.loop, UV_RUN_NOWAIT);
  assert_int_equal(replies, before + 1);
  assert_int_equal(last_status, 0);

  /* The newest recorded keyframe is older than asked: the browser is asked again. */
  age = 50;
  send_pkt(s, k1, KIND_VIDEO, 204, true, true, true, 100, worker__now(w) - 100);
  before = replies;
  assert_true(mediaplane_request(W.mp, W.sids[0], MEDIAPLANE_REQ_KEYFRAME, 1000, &age,
                                 sizeof(age), on_reply, NULL) > 0);
  worker__run_commands(w);
  uv_run(&W.loop, UV_RUN_NOWAIT);
  assert_int_equal(replies, before);
  assert_int_equal(w->st.keyframes_recorded, 1);
  close_rec(&W);
}

int main(void) {
  srtpctx_global_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_clip_has_what_was_sent),
      cmocka_unit_test(test_bounded_by_max_bytes),
      cmocka_unit_test(test_recording_off),
      cmocka_unit_test(test_unknown_session),
      cmocka_unit_test(test_keyframe_age_pli),
      cmocka_unit_test(test_snapshot_keyframe_from_the_recording),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
