/* test_clip_e2e.c -- evidence clips end to end: a browser's real VP8 and Opus through a media
 * worker's recorder (media/record.c), MEDIAPLANE_REQ_CLIP's answer, and moderation's WebM
 * (moderation/clip.c). Links tandem_media and tandem_moderation, the chain it checks. */
#include <errno.h>

#include "moderation/clip.h"
#include "tests/media/media_world.h"
#include "tests/moderation/av_fixture.h"

static int replies, last_status;
static uint8_t *last_payload;
static size_t last_len;

static void on_reply(void *arg, int status, void *payload, size_t len) {
  (void)arg;
  replies++;
  last_status = status;
  last_payload = payload;
  last_len = len;
}

static void test_session_to_webm(void **state) {
  (void)state;
  struct world W;
  struct mediaplane_config cfg;
  mediaplane_config_default(&cfg);
  cfg.workers = 1;
  cfg.record_ms = 10000;
  open_world_cfg(&W, 1, &cfg);
  add_session(&W);
  struct session *s = sess(&W, 0);
  struct worker *w = s->w;
  /* 6 s from the browser, keyframes at 0, 2 and 4 s. The first one makes the session READY and
   * is not recorded (recording starts at READY), so the worker must ask for one after 1 s. */
  uint64_t t0 = worker__now(w);
  struct fx_session fx;
  assert_int_equal(fx_session_make(&fx, 6, 320, 240, 400, 2, t0), 0);
  uint64_t next_tick = t0 + TICK_MS;
  for (size_t i = 0; i < fx.n; i++) {
    const struct fx_pkt *p = &fx.p[i];
    for (; next_tick <= p->arrival_ms; next_tick += TICK_MS)
      session__tick(s, next_tick);
    router__on_rtp(s, p->buf, p->len, p->arrival_ms);
    if (!s->flowing)
      session__check_ready(s, p->arrival_ms); /* as session_rx.c does */
  }
  assert_true(s->ready);
  assert_true(w->st.keyframe_requests >= 1);

  uint64_t req = mediaplane_request(W.mp, W.sids[0], MEDIAPLANE_REQ_CLIP, 0, NULL, 0, on_reply,
                                    NULL);
  assert_true(req > 0);
  worker__run_commands(w);
  uv_run(&W.loop, UV_RUN_NOWAIT);
  assert_int_equal(replies, 1);
  assert_int_equal(last_status, 0);

  struct clip_params cp;
  clip_params_default(&cp);
  struct clip_stats st;
  uint8_t *webm = NULL;
  size_t webm_len = 0;
  assert_int_equal(clip_webm_records(last_payload, last_len, &cp, &webm, &webm_len, &st), 0);
  /* From the keyframe at 2 s to the end: about 120 frames and 200 Opus packets. */
  assert_true(st.video_frames >= 100);
  assert_int_equal(st.width, 320);
  assert_int_equal(st.height, 240);
  assert_true(st.audio_packets >= 150);
  assert_true(st.duration_ms >= 3500);
  assert_true(webm_len > 1000);
  assert_memory_equal(webm, "\x1a\x45\xdf\xa3", 4); /* EBML */
  free(webm);
  free(last_payload);
  fx_session_free(&fx);
  close_world(&W);
}

int main(void) {
  srtpctx_global_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_session_to_webm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
