/* test_clip.c -- evidence clips (moderation/clip.c, clip_plan.c): 12 s of a browser's VP8 and
 * Opus as RTP, through a recorder, into WebM that ffprobe and ffmpeg read. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "moderation/clip.h"
#include "moderation/clip_int.h"
#include "moderation/recorder.h"
#include "moderation/workpool.h"
#include "tests/moderation/av_fixture.h"

#define T0_MS 1700000000000ull

/* 12 s, a keyframe every 3 s; and 12 s with only the first keyframe. Made once. */
static struct fx_session sess, sess_onekey;

static int group_setup(void **state) {
  (void)state;
  if (fx_session_make(&sess, 12, 320, 240, 500, 3, T0_MS) != 0 ||
      fx_session_make(&sess_onekey, 12, 320, 240, 500, 0, T0_MS) != 0)
    return -1;
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  fx_session_free(&sess);
  fx_session_free(&sess_onekey);
  return 0;
}

/* Runs cmd, returns its exit status and its output (stdout, and stderr when cmd says 2>&1). */
static int run(const char *cmd, char *out, size_t cap) {
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  size_t n = fread(out, 1, cap - 1, f);
  out[n] = 0;
  int st = pclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool have_ffmpeg(void) {
  return system("ffprobe -version >/dev/null 2>&1") == 0 &&
         system("ffmpeg -version >/dev/null 2>&1") == 0;
}

/* Writes the clip to a temporary .webm file; the caller unlinks it. */
static void write_tmp(const uint8_t *webm, size_t len, char *path) {
  strcpy(path, "/tmp/tandem_clip_XXXXXX.webm");
  int fd = mkstemps(path, 5);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, webm, len), (ssize_t)len);
  close(fd);
}

/* Feeds packets [0, n) except `skip` (SIZE_MAX for none) to a recorder as a media worker would
 * and builds the clip from its export. */
static int clip_via_recorder(const struct fx_session *s, size_t skip, uint8_t **webm,
                             size_t *len, struct clip_stats *st) {
  struct recorder_config rc;
  recorder_config_default(&rc);
  struct recorder *r = recorder_new(&rc);
  assert_non_null(r);
  for (size_t i = 0; i < s->n; i++) {
    if (i == skip)
      continue;
    const struct fx_pkt *p = &s->p[i];
    unsigned fl = (p->video ? RECORDER_VIDEO : 0) | (p->key_start ? RECORDER_KEYFRAME : 0);
    assert_int_equal(recorder_add(r, p->buf, p->len, p->arrival_ms, fl), 0);
  }
  uint8_t *recs;
  size_t n;
  assert_int_equal(recorder_export(r, &recs, &n), 0);
  recorder_free(r);
  struct clip_params cp;
  clip_params_default(&cp);
  int ret = clip_webm_records(recs, n, &cp, webm, len, st);
  free(recs);
  return ret;
}

static double json_number(const char *json, const char *key) {
  const char *p = strstr(json, key);
  assert_non_null(p);
  p = strchr(p + strlen(key), ':');
  assert_non_null(p);
  while (*p == ':' || *p == ' ' || *p == '"')
    p++;
  return strtod(p, NULL);
}

/* ffprobe finds VP8 and Opus, the duration, a keyframe first; ffmpeg decodes it all without a
 * word on stderr. Returns the number of video packets ffprobe counted. */
static int probe(const char *path, bool want_video, double min_s, double max_s) {
  char cmd[512], out[65536];
  snprintf(cmd, sizeof(cmd),
           "ffprobe -v error -count_packets -show_streams -show_format -of json %s 2>&1", path);
  assert_int_equal(run(cmd, out, sizeof(out)), 0);
  assert_non_null(strstr(out, "\"format_name\": \"matroska,webm\""));
  assert_non_null(strstr(out, "\"codec_name\": \"opus\""));
  assert_true((strstr(out, "\"codec_name\": \"vp8\"") != NULL) == want_video);
  double dur = json_number(strstr(out, "\"format\""), "\"duration\"");
  if (dur < min_s || dur > max_s)
    fail_msg("duration %.3f s, want %.1f-%.1f", dur, min_s, max_s);
  int video_packets = 0;
  if (want_video) {
    video_packets = (int)json_number(out, "\"nb_read_packets\"");
    assert_int_equal((int)json_number(out, "\"width\""), 320);
    snprintf(cmd, sizeof(cmd),
             "ffprobe -v error -select_streams v:0 -show_packets -show_entries "
             "packet=flags,pts_time -of csv=p=0 %s 2>&1 | head -1",
             path);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    if (strncmp(out, "0.000000,K", 10) != 0)
      fail_msg("first video packet: %s", out);
  }
  snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -i %s -f null - 2>&1", path);
  assert_int_equal(run(cmd, out, sizeof(out)), 0);
  if (out[0])
    fail_msg("ffmpeg said: %s", out);
  return video_packets;
}

static void test_ten_seconds_from_the_recorder(void **state) {
  (void)state;
  uint8_t *webm;
  size_t len;
  struct clip_stats st;
  assert_int_equal(clip_via_recorder(&sess, SIZE_MAX, &webm, &len, &st), 0);
  /* The recorder holds 10 s and a little; keyframes come at 0, 3, 6, 9 s; the newest packet
   * is at 12 s: the clip starts at the one at 3 s. */
  assert_int_equal(st.width, 320);
  assert_int_equal(st.height, 240);
  assert_int_equal(st.video_dropped, 0);
  assert_true(st.video_frames >= 265 && st.video_frames <= 272);
  assert_true(st.audio_packets >= 440 && st.audio_packets <= 455);
  assert_true(st.duration_ms >= 8500 && st.duration_ms <= 11000);
  assert_true(len > 300000); /* 9 s at 500 kbit/s */
  if (!have_ffmpeg()) {
    free(webm);
    skip();
  }
  char path[64];
  write_tmp(webm, len, path);
  int vp = probe(path, true, 8.5, 11.0);
  assert_int_equal(vp, (int)st.video_frames);
  unlink(path);
  free(webm);
}

/* One packet of one frame lost: that frame alone is left out, and the clip still plays. */
static void test_lost_packet_drops_its_frame(void **state) {
  (void)state;
  uint8_t *base, *webm;
  size_t blen, len;
  struct clip_stats bst, st;
  assert_int_equal(clip_via_recorder(&sess, SIZE_MAX, &base, &blen, &bst), 0);
  free(base);
  /* The second packet of a delta frame at about 7 s. */
  size_t victim = SIZE_MAX;
  for (size_t i = 0; i < sess.n && victim == SIZE_MAX; i++)
    if (sess.p[i].video && sess.p[i].frame >= 200 && sess.p[i].frame % 90 != 0 &&
        sess.p[i].part == 1 && sess.p[i].parts >= 2)
      victim = i;
  assert_true(victim != SIZE_MAX);
  assert_int_equal(clip_via_recorder(&sess, victim, &webm, &len, &st), 0);
  assert_int_equal(st.video_dropped, 1);
  assert_int_equal(st.video_frames, bst.video_frames - 1);
  assert_int_equal(st.audio_packets, bst.audio_packets);
  if (!have_ffmpeg()) {
    free(webm);
    skip();
  }
  char path[64];
  write_tmp(webm, len, path);
  assert_int_equal(probe(path, true, 8.5, 11.0), (int)st.video_frames);
  unlink(path);
  free(webm);

  /* The first packet of a frame lost (the next one has S=0): the same. */
  for (size_t i = victim; i-- > 0;)
    if (sess.p[i].video && sess.p[i].part == 0 && sess.p[i].frame != sess.p[victim].frame &&
        !sess.p[i].key_start) {
      victim = i;
      break;
    }
  assert_int_equal(clip_via_recorder(&sess, victim, &webm, &len, &st), 0);
  assert_int_equal(st.video_dropped, 1);
  assert_int_equal(st.video_frames, bst.video_frames - 1);
  free(webm);
}

static struct clip_pkt *as_pkts(const struct fx_session *s) {
  struct clip_pkt *p = calloc(s->n, sizeof(*p));
  for (size_t i = 0; i < s->n; i++)
    p[i] = (struct clip_pkt){s->p[i].buf, s->p[i].len, s->p[i].arrival_ms};
  return p;
}

/* Packets out of order and retransmitted copies make no difference to the file. */
static void test_reordered_and_duplicated(void **state) {
  (void)state;
  struct clip_pkt *p = as_pkts(&sess);
  struct clip_params cp;
  clip_params_default(&cp);
  uint8_t *a, *b;
  size_t alen, blen;
  struct clip_stats ast, bst;
  assert_int_equal(clip_webm(p, sess.n, &cp, &a, &alen, &ast), 0);
  assert_int_equal(ast.video_dropped, 0);
  /* All 12 s given: the keyframe at 0 s is outside the window, the one at 3 s starts it. */
  assert_int_equal(ast.video_frames, 270);
  assert_true(ast.duration_ms >= 8900 && ast.duration_ms <= 9100);
  /* Swap neighbours here and there, and append copies of some packets at the end. */
  size_t n = sess.n, extra = 40;
  struct clip_pkt *q = calloc(n + extra, sizeof(*q));
  memcpy(q, p, n * sizeof(*q));
  for (size_t i = 100; i + 1 < n; i += 37) {
    struct clip_pkt t = q[i];
    q[i] = q[i + 1];
    q[i + 1] = t;
  }
  for (size_t i = 0; i < extra; i++)
    q[n + i] = p[n / 2 + i * 11];
  assert_int_equal(clip_webm(q, n + extra, &cp, &b, &blen, &bst), 0);
  assert_int_equal(bst.video_frames, ast.video_frames);
  assert_int_equal(bst.audio_packets, ast.audio_packets);
  assert_int_equal(bst.video_dropped, 0);
  assert_int_equal(alen, blen);
  assert_memory_equal(a, b, alen);
  free(a);
  free(b);
  free(q);
  free(p);
}

/* Without a keyframe in the window, the last one before it starts the clip; with none at all,
 * the clip has audio only. */
static void test_keyframe_before_window_or_none(void **state) {
  (void)state;
  struct clip_pkt *p = as_pkts(&sess_onekey);
  struct clip_params cp;
  clip_params_default(&cp);
  uint8_t *webm;
  size_t len;
  struct clip_stats st;
  assert_int_equal(clip_webm(p, sess_onekey.n, &cp, &webm, &len, &st), 0);
  assert_int_equal(st.video_frames, 360);
  assert_true(st.duration_ms >= 11900 && st.duration_ms <= 12100);
  free(webm);

  assert_int_equal(clip_via_recorder(&sess_onekey, SIZE_MAX, &webm, &len, &st), 0);
  assert_int_equal(st.video_frames, 0);
  assert_true(st.audio_packets >= 490 && st.audio_packets <= 520);
  assert_true(st.duration_ms >= 9500 && st.duration_ms <= 10500);
  if (have_ffmpeg()) {
    char path[64];
    write_tmp(webm, len, path);
    probe(path, false, 9.5, 10.5);
    unlink(path);
  }
  free(webm);
  free(p);
}

static void test_bad_input(void **state) {
  (void)state;
  struct clip_params cp;
  clip_params_default(&cp);
  uint8_t *webm = NULL;
  size_t len = 0;
  assert_int_equal(clip_webm(NULL, 0, &cp, &webm, &len, NULL), -ENOENT);
  assert_int_equal(clip_webm_records(NULL, 0, &cp, &webm, &len, NULL), -ENOENT);
  uint8_t junk[3000];
  uint32_t x = 7;
  for (size_t i = 0; i < sizeof(junk); i++)
    junk[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
  assert_int_equal(clip_webm_records(junk, sizeof(junk), &cp, &webm, &len, NULL), -EBADMSG);
  /* Random packets, some with our payload types: nothing whole comes of them. */
  struct clip_pkt p[100];
  for (int i = 0; i < 100; i++) {
    uint8_t *b = junk + i * 30;
    b[0] = 0x80;
    b[1] = (uint8_t)(i & 1 ? FX_VIDEO_PT : 0x80 | FX_VIDEO_PT);
    p[i] = (struct clip_pkt){b, 30, T0_MS + (uint64_t)i};
  }
  int rc = clip_webm(p, 100, &cp, &webm, &len, NULL);
  assert_true(rc == -ENOENT);
  cp.audio_pt = cp.video_pt;
  assert_int_equal(clip_webm(p, 100, &cp, &webm, &len, NULL), -EINVAL);
  assert_null(webm);
  assert_int_equal(len, 0);
}

static void test_opus_toc(void **state) {
  (void)state;
  const uint8_t silk20[] = {0x08}, celt20_2[] = {0xf9, 0}, celt2_5x3[] = {0x83, 0x03},
                code3_none[] = {0x03};
  assert_int_equal(clip__opus_samples(silk20, 1), 960);
  assert_int_equal(clip__opus_samples(celt20_2, 2), 1920);
  assert_int_equal(clip__opus_samples(celt2_5x3, 2), 360);
  assert_int_equal(clip__opus_samples(code3_none, 1), 0);
  assert_int_equal(clip__opus_samples(NULL, 0), 0);
}

/* ---- on the pool ---- */

struct answers {
  int n, ok, cancelled;
  struct clip_stats st;
};

static void on_clip(void *arg, int status, uint8_t *webm, size_t len, const struct clip_stats *st) {
  struct answers *a = arg;
  a->n++;
  if (status == 0) {
    assert_non_null(webm);
    assert_true(len > 1000);
    a->ok++;
    a->st = *st;
    free(webm);
  } else {
    assert_null(webm);
    assert_int_equal(st->video_frames, 0);
    assert_int_equal(status, -ECANCELED);
    a->cancelled++;
  }
}

static uint8_t *export_session(const struct fx_session *s, size_t *n) {
  struct recorder_config rc;
  recorder_config_default(&rc);
  struct recorder *r = recorder_new(&rc);
  for (size_t i = 0; i < s->n; i++)
    recorder_add(r, s->p[i].buf, s->p[i].len, s->p[i].arrival_ms, 0);
  uint8_t *recs;
  assert_int_equal(recorder_export(r, &recs, n), 0);
  recorder_free(r);
  return recs;
}

static void test_on_the_pool(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  struct workpool_config c;
  workpool_config_default(&c);
  c.max_jobs = 2;
  struct workpool *wp;
  assert_int_equal(workpool_new(&loop, &c, &wp), 0);
  struct clip_params cp;
  clip_params_default(&cp);
  struct answers a = {0};
  size_t n;
  uint8_t *recs = export_session(&sess, &n);
  assert_int_equal(clip_submit(wp, recs, n, &cp, on_clip, &a), 0);
  while (a.n < 1)
    uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(a.ok, 1);
  assert_true(a.st.video_frames > 250);

  /* Two more, then three: the third is refused; closing at once answers both queued ones,
   * each with its clip (it had started: it finishes) or -ECANCELED (it had not). On a slow
   * (sanitized) build the pool thread may have taken both before the close. */
  recs = export_session(&sess, &n);
  assert_int_equal(clip_submit(wp, recs, n, &cp, on_clip, &a), 0);
  recs = export_session(&sess, &n);
  assert_int_equal(clip_submit(wp, recs, n, &cp, on_clip, &a), 0);
  recs = export_session(&sess, &n);
  assert_int_equal(clip_submit(wp, recs, n, &cp, on_clip, &a), -EAGAIN);
  workpool_close(wp, NULL, NULL);
  assert_int_equal(a.n, 3);
  assert_int_equal(a.ok + a.cancelled, 3);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ten_seconds_from_the_recorder),
      cmocka_unit_test(test_lost_packet_drops_its_frame),
      cmocka_unit_test(test_reordered_and_duplicated),
      cmocka_unit_test(test_keyframe_before_window_or_none),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_opus_toc),
      cmocka_unit_test(test_on_the_pool),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
