/* snapshot_bench.c -- CPU per moderation snapshot (VP8 keyframe -> JPEG) and per 10 s clip
 * (recorder -> WebM), and what a recorder costs per packet and per peer, alone and as one of a
 * worker's 200. Prints, never asserts.
 *
 *   snapshot_bench [iterations]   (default 200 snapshots of each size; a tenth as many clips)
 *
 * Inputs are real libvpx/libopus output made at start-up (tests/moderation/av_fixture.h): a
 * moving picture with detail, so the decoder and the JPEG encoder have work to do. Times are
 * this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which is what a pool thread spends. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

#include "moderation/clip.h"
#include "moderation/recorder.h"
#include "moderation/snapshot.h"
#include "tests/moderation/av_fixture.h"

static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* libvpx alone, to split a snapshot's cost between decoding and the rest. */
static int decode_only(const uint8_t *vp8, size_t len) {
  vpx_codec_ctx_t dec;
  vpx_codec_dec_cfg_t cfg = {.threads = 1};
  if (vpx_codec_dec_init(&dec, vpx_codec_vp8_dx(), &cfg, 0))
    return -1;
  int rc = vpx_codec_decode(&dec, vp8, (unsigned)len, NULL, 0) ? -1 : 0;
  vpx_codec_iter_t it = NULL;
  if (rc == 0 && !vpx_codec_get_frame(&dec, &it))
    rc = -1;
  vpx_codec_destroy(&dec);
  return rc;
}

static void bench_snapshot(int w, int h, int kbps, int max_side, int iters) {
  uint8_t *vp8, *jpeg;
  size_t len, jlen = 0;
  if (fx_moving_keyframe(w, h, kbps, 60, &vp8, &len) != 0) {
    fprintf(stderr, "encoding a %dx%d keyframe failed\n", w, h);
    exit(1);
  }
  double t = cpu_ms();
  for (int i = 0; i < iters; i++)
    decode_only(vp8, len);
  double dec = (cpu_ms() - t) / iters;
  t = cpu_ms();
  for (int i = 0; i < iters; i++) {
    if (snapshot_jpeg(vp8, len, max_side, &jpeg, &jlen) != 0) {
      fprintf(stderr, "snapshot failed\n");
      exit(1);
    }
    free(jpeg);
  }
  double all = (cpu_ms() - t) / iters;
  int ow = w, oh = h;
  if (max_side > 0 && (w > max_side || h > max_side)) {
    ow = w >= h ? max_side : w * max_side / h;
    oh = w >= h ? h * max_side / w : max_side;
  }
  printf("snapshot %4dx%-4d -> %4dx%-4d  keyframe %6zu B  jpeg %6zu B  "
         "%6.2f ms CPU/snapshot (decode %5.2f, convert+JPEG %5.2f)  %5.0f/s per core\n",
         w, h, ow, oh, len, jlen, all, dec, all - dec, 1000 / all);
  free(vp8);
}

static void bench_clip(int w, int h, int kbps, int iters) {
  struct fx_session s;
  if (fx_session_make(&s, 12, w, h, kbps, 3, 1700000000000ull) != 0) {
    fprintf(stderr, "encoding a session failed\n");
    exit(1);
  }
  struct recorder_config rc;
  recorder_config_default(&rc);
  /* Recording, as a media worker would: the whole session, packet by packet, several times
   * over so the clock has something to measure. */
  struct recorder *r = NULL;
  int rounds = 20;
  double t = cpu_ms();
  for (int k = 0; k < rounds; k++) {
    recorder_free(r);
    r = recorder_new(&rc);
    for (size_t i = 0; i < s.n; i++)
      recorder_add(r, s.p[i].buf, s.p[i].len, s.p[i].arrival_ms,
                   s.p[i].key_start ? RECORDER_KEYFRAME : 0);
  }
  double add_ns = (cpu_ms() - t) * 1e6 / ((double)s.n * rounds);
  uint8_t *recs = NULL;
  size_t n = 0;
  t = cpu_ms();
  for (int k = 0; k < rounds; k++) {
    free(recs);
    recorder_export(r, &recs, &n);
  }
  double export_ms = (cpu_ms() - t) / rounds;
  size_t held = recorder_bytes(r);
  recorder_free(r);

  struct clip_params cp;
  clip_params_default(&cp);
  uint8_t *webm = NULL;
  size_t wlen = 0;
  struct clip_stats st = {0};
  t = cpu_ms();
  for (int i = 0; i < iters; i++) {
    free(webm);
    if (clip_webm_records(recs, n, &cp, &webm, &wlen, &st) != 0) {
      fprintf(stderr, "clip failed\n");
      exit(1);
    }
  }
  double clip = (cpu_ms() - t) / iters;
  uint64_t bytes = 0;
  for (size_t i = 0; i < s.n; i++)
    bytes += s.p[i].len;
  printf("clip %dx%d, %.0f kbit/s of RTP (video+audio): recorder %.0f ns CPU/packet, holds "
         "%.2f MiB per peer, export %.3f ms; clip of %.1f s (%u frames, %u Opus) %zu KiB WebM: "
         "%.2f ms CPU/clip\n",
         w, h, bytes * 8.0 / 12 / 1000, add_ns, held / 1048576.0, export_ms,
         st.duration_ms / 1000.0, st.video_frames, st.audio_packets, wlen / 1024, clip);
  free(webm);
  free(recs);
  fx_session_free(&s);
}

/* A worker's recorders, not one: 200 of them fed in turn at 18.5k packets/s (54% audio of 116 B,
 * the rest 720 B: a 200-peer tandem-bench run) for 20 s. Together they hold far more than the
 * caches, so each copy writes memory that is not cached, and until the 10 s window is full each
 * new chunk's pages are faulted in: the cost a server pays, unlike bench_clip's one recorder. */
static void bench_recorders(void) {
  enum { PEERS = 200, RATE_PER_MS = 37, SECONDS = 20 }; /* 18.5 packets per ms, two ms at a time */
  struct recorder *r[PEERS];
  struct recorder_config rc;
  recorder_config_default(&rc);
  for (int i = 0; i < PEERS; i++)
    r[i] = recorder_new(&rc);
  uint8_t pkt[720] = {0x80};
  uint32_t rnd = 1;
  double t = cpu_ms(), fill = 0;
  long n = 0, n_fill = 0;
  for (uint64_t ms = 0; ms < SECONDS * 1000; ms += 2) {
    if (ms == 10500) {
      fill = cpu_ms() - t;
      n_fill = n;
      t = cpu_ms();
    }
    for (int k = 0; k < RATE_PER_MS; k++, n++) {
      rnd = rnd * 1103515245u + 12345u;
      bool audio = (rnd >> 20) % 100 < 54;
      recorder_add(r[(rnd >> 8) % PEERS], pkt, audio ? 116 : 720, ms, audio ? 0 : RECORDER_VIDEO);
    }
  }
  double steady = cpu_ms() - t;
  size_t held = 0;
  for (int i = 0; i < PEERS; i++) {
    held += recorder_bytes(r[i]);
    recorder_free(r[i]);
  }
  printf("%d recorders of 10 s at %d packets/s: %.0f ns CPU/packet while the windows fill "
         "(pages faulted in), %.0f ns after; %.0f KiB per peer\n",
         PEERS, RATE_PER_MS * 500, fill * 1e6 / (double)n_fill, steady * 1e6 / (double)(n - n_fill),
         held / 1024.0 / PEERS);
}

int main(int argc, char **argv) {
  int iters = argc > 1 ? atoi(argv[1]) : 200;
  if (iters < 1) {
    fprintf(stderr, "usage: snapshot_bench [iterations]\n");
    return 2;
  }
  /* Keyframes at the sizes and rates browsers send (a keyframe at these rates is 10-60 KB). */
  bench_snapshot(320, 240, 300, 640, iters);
  bench_snapshot(640, 480, 1000, 640, iters);
  bench_snapshot(640, 480, 1000, 320, iters);
  bench_snapshot(1280, 720, 2000, 640, iters / 2 ? iters / 2 : 1);
  bench_clip(320, 240, 500, iters / 10 ? iters / 10 : 1);
  bench_clip(640, 480, 1200, iters / 10 ? iters / 10 : 1);
  bench_recorders();
  return 0;
}
