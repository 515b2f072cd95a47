/* av_fixture.h -- real VP8 (libvpx) and Opus (libopus) for the snapshot and clip tests and
 * bench/snapshot_bench.c: keyframes of one colour, moving pictures, and a browser's session as
 * plaintext RTP packets with arrival times. */
#ifndef TANDEM_TESTS_AV_FIXTURE_H
#define TANDEM_TESTS_AV_FIXTURE_H

#include <math.h>
#include <opus/opus.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#define FX_UNUSED __attribute__((unused))

/* BT.601 studio range, as browsers feed VP8. */
FX_UNUSED static void fx_rgb_to_yuv(int r, int g, int b, uint8_t *y, uint8_t *u, uint8_t *v) {
  *y = (uint8_t)lround(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
  *u = (uint8_t)lround(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255);
  *v = (uint8_t)lround(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255);
}

FX_UNUSED static void fx_fill_solid(vpx_image_t *img, int r, int g, int b) {
  uint8_t yuv[3];
  fx_rgb_to_yuv(r, g, b, &yuv[0], &yuv[1], &yuv[2]);
  for (int p = 0; p < 3; p++) {
    unsigned w = p ? (img->d_w + 1) / 2 : img->d_w, h = p ? (img->d_h + 1) / 2 : img->d_h;
    for (unsigned y = 0; y < h; y++)
      memset(img->planes[p] + (size_t)y * (size_t)img->stride[p], yuv[p], w);
  }
}

/* Picture t: a sliding gradient and a square moving around, so every frame costs bits. */
FX_UNUSED static void fx_fill_moving(vpx_image_t *img, int t) {
  int w = (int)img->d_w, h = (int)img->d_h, box = w / 6;
  double ph = 2 * M_PI * t / 90.0;
  int bx = (int)((w - box) * (0.5 - 0.5 * cos(ph))), by = (int)((h - box) * (0.5 - 0.5 * sin(ph)));
  for (int y = 0; y < h; y++) {
    uint8_t *row = img->planes[0] + (size_t)y * (size_t)img->stride[0];
    for (int x = 0; x < w; x++) {
      bool in = x >= bx && x < bx + box && y >= by && y < by + box;
      row[x] = in ? 235 : (uint8_t)(16 + ((x * 3 + y * 2 + t * 4) & 127) + ((x * y) & 15));
    }
  }
  for (int p = 1; p <= 2; p++)
    for (int y = 0; y < (h + 1) / 2; y++)
      memset(img->planes[p] + (size_t)y * (size_t)img->stride[p],
             p == 1 ? 128 + (int)(50 * sin(ph)) : 128 - (int)(50 * cos(ph)), (size_t)(w + 1) / 2);
}

struct fx_vp8 {
  vpx_codec_ctx_t enc;
  vpx_image_t *img;
};

/* A real-time VP8 encoder as WebRTC runs one: CBR, no lag, keyframes only when forced. */
FX_UNUSED static int fx_vp8_open(struct fx_vp8 *e, int w, int h, int kbps) {
  vpx_codec_enc_cfg_t cfg;
  if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0))
    return -1;
  cfg.g_w = (unsigned)w;
  cfg.g_h = (unsigned)h;
  cfg.g_timebase.num = 1;
  cfg.g_timebase.den = 30;
  cfg.rc_target_bitrate = (unsigned)kbps;
  cfg.rc_end_usage = VPX_CBR;
  cfg.rc_dropframe_thresh = 0;
  cfg.g_lag_in_frames = 0;
  cfg.g_threads = 1;
  cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
  cfg.kf_mode = VPX_KF_DISABLED;
  cfg.rc_min_quantizer = 2;
  cfg.rc_max_quantizer = 56;
  if (vpx_codec_enc_init(&e->enc, vpx_codec_vp8_cx(), &cfg, 0))
    return -1;
  vpx_codec_control(&e->enc, VP8E_SET_CPUUSED, -6);
  e->img = vpx_img_alloc(NULL, VPX_IMG_FMT_I420, (unsigned)w, (unsigned)h, 16);
  return e->img ? 0 : -1;
}

FX_UNUSED static void fx_vp8_close(struct fx_vp8 *e) {
  vpx_img_free(e->img);
  vpx_codec_destroy(&e->enc);
}

/* Encodes e->img as frame pts; *out is malloc'd. 0, or -1 when the encoder gave nothing (then
 * *out is NULL, *len 0 and *key false). */
FX_UNUSED static int fx_vp8_encode(struct fx_vp8 *e, int pts, bool force_key, uint8_t **out,
                                   size_t *len, bool *key) {
  *out = NULL;
  *len = 0;
  *key = false;
  if (vpx_codec_encode(&e->enc, e->img, pts, 1, force_key ? VPX_EFLAG_FORCE_KF : 0,
                       VPX_DL_REALTIME))
    return -1;
  vpx_codec_iter_t it = NULL;
  const vpx_codec_cx_pkt_t *pkt;
  int rc = -1;
  while ((pkt = vpx_codec_get_cx_data(&e->enc, &it)) != NULL) {
    if (pkt->kind != VPX_CODEC_CX_FRAME_PKT || rc == 0)
      continue;
    *out = malloc(pkt->data.frame.sz);
    if (*out == NULL)
      return -1;
    memcpy(*out, pkt->data.frame.buf, pkt->data.frame.sz);
    *len = pkt->data.frame.sz;
    *key = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
    rc = 0;
  }
  return rc;
}

/* One keyframe of a single colour; *out malloc'd. */
FX_UNUSED static int fx_solid_keyframe(int w, int h, int r, int g, int b, uint8_t **out,
                                       size_t *len) {
  struct fx_vp8 e;
  bool key;
  if (fx_vp8_open(&e, w, h, 2000) != 0)
    return -1;
  fx_fill_solid(e.img, r, g, b);
  int rc = fx_vp8_encode(&e, 0, true, out, len, &key);
  fx_vp8_close(&e);
  return rc == 0 && key ? 0 : -1;
}

/* The keyframe a CBR encoder at kbps makes when asked at frame t of a moving picture, after
 * t frames have settled its rate control (as a browser's answer to a PLI); *out malloc'd. */
FX_UNUSED static int fx_moving_keyframe(int w, int h, int kbps, int t, uint8_t **out,
                                        size_t *len) {
  struct fx_vp8 e;
  bool key = false;
  int rc = 0;
  if (fx_vp8_open(&e, w, h, kbps) != 0)
    return -1;
  for (int i = 0; i <= t && rc == 0; i++) {
    fx_fill_moving(e.img, i);
    rc = fx_vp8_encode(&e, i, i == 0 || i == t, out, len, &key);
    if (rc == 0 && i < t)
      free(*out);
  }
  fx_vp8_close(&e);
  return rc == 0 && key ? 0 : -1;
}

/* ---- a session as RTP ---- */

#define FX_VIDEO_PT 96
#define FX_AUDIO_PT 111
#define FX_MAX_PAYLOAD 1100

struct fx_pkt {
  uint8_t *buf;
  size_t len;
  uint64_t arrival_ms;
  bool video, key_start, marker;
  unsigned frame; /* video: frame index; audio: packet index */
  unsigned part;  /* video: packet index in its frame */
  unsigned parts; /* video: packets in its frame */
};

struct fx_session {
  struct fx_pkt *p;
  size_t n, cap;
  unsigned frames, keyframes;
};

/* An RTP header with one RFC 8285 one-byte extension (id 3, 3 bytes, like abs-send-time), as
 * Chrome sends; 20 bytes. */
FX_UNUSED static size_t fx_rtp_header(uint8_t *o, bool marker, uint8_t pt, uint16_t seq,
                                      uint32_t ts, uint32_t ssrc) {
  o[0] = 0x90;
  o[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
  o[2] = (uint8_t)(seq >> 8);
  o[3] = (uint8_t)seq;
  for (int i = 0; i < 4; i++) {
    o[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
    o[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
  }
  const uint8_t ext[8] = {0xbe, 0xde, 0x00, 0x01, 0x32, 0x12, 0x34, 0x56};
  memcpy(o + 12, ext, sizeof(ext));
  return 20;
}

FX_UNUSED static void fx_push(struct fx_session *s, const struct fx_pkt *p) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 1024;
    s->p = realloc(s->p, s->cap * sizeof(*s->p));
  }
  s->p[s->n++] = *p;
}

FX_UNUSED static int fx_by_arrival(const void *a, const void *b) {
  const struct fx_pkt *x = a, *y = b;
  if (x->arrival_ms != y->arrival_ms)
    return x->arrival_ms < y->arrival_ms ? -1 : 1;
  /* Same millisecond: keep each stream's own order (seq grows with frame and part). */
  if (x->video != y->video)
    return x->video ? -1 : 1;
  if (x->frame != y->frame)
    return x->frame < y->frame ? -1 : 1;
  return x->part < y->part ? -1 : x->part > y->part;
}

/* `seconds` of a call from one browser: VP8 w x h at 30 fps and about kbps, a keyframe every
 * key_every_s seconds (0: only the first), 20 ms Opus frames of a tone. Packets arrive from
 * t0_ms on with per-frame network jitter of up to 15 ms, sorted by arrival (so audio and video
 * interleave, and a late frame may arrive after an early audio packet). Sequence numbers and
 * the video timestamp wrap during the session. Returns 0 or -1. */
FX_UNUSED static int fx_session_make(struct fx_session *s, int seconds, int w, int h, int kbps,
                                     int key_every_s, uint64_t t0_ms) {
  memset(s, 0, sizeof(*s));
  uint32_t rnd = 12345;
#define FX_RND() (rnd = rnd * 1103515245u + 12345u, (rnd >> 16) & 0x7fff)
  struct fx_vp8 e;
  if (fx_vp8_open(&e, w, h, kbps) != 0)
    return -1;
  uint16_t vseq = 65000;
  uint32_t vts = 0xffff0000u;
  for (int f = 0; f < seconds * 30; f++) {
    fx_fill_moving(e.img, f);
    bool force = f == 0 || (key_every_s > 0 && f % (key_every_s * 30) == 0);
    uint8_t *frame;
    size_t len;
    bool key;
    if (fx_vp8_encode(&e, f, force, &frame, &len, &key) != 0) {
      fx_vp8_close(&e);
      return -1;
    }
    size_t chunk = FX_MAX_PAYLOAD - 4;
    unsigned parts = (unsigned)((len + chunk - 1) / chunk);
    uint64_t at = t0_ms + (uint64_t)f * 1000 / 30 + 5 + FX_RND() % 15;
    for (unsigned k = 0; k < parts; k++) {
      size_t off = k * chunk, n = len - off < chunk ? len - off : chunk;
      struct fx_pkt p = {.len = 20 + 4 + n, .arrival_ms = at + k / 4, .video = true,
                         .key_start = key && k == 0, .marker = k + 1 == parts,
                         .frame = (unsigned)f, .part = k, .parts = parts};
      p.buf = malloc(p.len);
      size_t hl = fx_rtp_header(p.buf, p.marker, FX_VIDEO_PT, vseq++, vts, 0x11111111);
      uint16_t pid = (uint16_t)(f & 0x7fff);
      p.buf[hl] = (uint8_t)(0x80 | (k == 0 ? 0x10 : 0)); /* X, S on the first, PID 0 */
      p.buf[hl + 1] = 0x80;                                 /* I */
      p.buf[hl + 2] = (uint8_t)(0x80 | (pid >> 8));
      p.buf[hl + 3] = (uint8_t)pid;
      memcpy(p.buf + hl + 4, frame + off, n);
      fx_push(s, &p);
    }
    s->frames++;
    s->keyframes += key;
    free(frame);
    vts += 3000;
  }
  fx_vp8_close(&e);

  int err;
  OpusEncoder *oe = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
  if (!oe)
    return -1;
  opus_encoder_ctl(oe, OPUS_SET_BITRATE(32000));
  uint16_t aseq = 65500;
  uint32_t ats = 123456;
  int16_t pcm[960];
  for (int f = 0; f < seconds * 50; f++) {
    for (int i = 0; i < 960; i++)
      pcm[i] = (int16_t)(6000 * sin(2 * M_PI * 440 * (f * 960 + i) / 48000.0));
    uint8_t out[400];
    opus_int32 n = opus_encode(oe, pcm, 960, out, sizeof(out));
    if (n <= 0) {
      opus_encoder_destroy(oe);
      return -1;
    }
    struct fx_pkt p = {.len = 20 + (size_t)n, .arrival_ms = t0_ms + (uint64_t)f * 20 + 3 +
                                                            FX_RND() % 10,
                       .frame = (unsigned)f};
    p.buf = malloc(p.len);
    size_t hl = fx_rtp_header(p.buf, f == 0, FX_AUDIO_PT, aseq++, ats, 0x22222222);
    memcpy(p.buf + hl, out, (size_t)n);
    fx_push(s, &p);
    ats += 960;
  }
  opus_encoder_destroy(oe);
#undef FX_RND
  qsort(s->p, s->n, sizeof(*s->p), fx_by_arrival);
  return 0;
}

FX_UNUSED static void fx_session_free(struct fx_session *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->p[i].buf);
  free(s->p);
  memset(s, 0, sizeof(*s));
}

#endif
