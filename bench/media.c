/* media.c -- tandem-bench's media: VP8 and Opus encoded once, RTP payloads, identity trailers. */
#include "bench/media.h"

#include <errno.h>
#include <math.h>
#include <opus/opus.h>
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#define LOOP_FRAMES (2 * MEDIA_VIDEO_FPS) /* distinct pictures in the 2 s loop */
#define AUDIO_FRAMES (1000 / MEDIA_AUDIO_FRAME_MS)
#define AUDIO_RATE 48000
#define AUDIO_SAMPLES (AUDIO_RATE * MEDIA_AUDIO_FRAME_MS / 1000)
#define OPUS_MAX 400
#define VP8_CHUNK_MAX (MEDIA_MAX_PAYLOAD - MEDIA_VP8_DESC_LEN - MEDIA_TRAILER_LEN)

static const uint8_t magic[4] = {'T', 'D', 'M', '1'};

/* Growable byte store; frames keep offsets until the end, then become pointers. */
struct store {
  uint8_t *buf;
  size_t len, cap;
};

static int store_put(struct store *s, const void *p, size_t n, size_t *off) {
  if (s->len + n > s->cap) {
    size_t cap = s->cap ? s->cap : 65536;
    while (cap < s->len + n)
      cap *= 2;
    uint8_t *nb = realloc(s->buf, cap);
    if (!nb)
      return -ENOMEM;
    s->buf = nb;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, p, n);
  *off = s->len;
  s->len += n;
  return 0;
}

/* Picture t of the loop: a diagonal gradient sliding by one period per loop and a bright
 * square swinging left and right, so every frame differs and the loop closes seamlessly. */
static void draw(vpx_image_t *img, int t) {
  const int w = MEDIA_VIDEO_W, h = MEDIA_VIDEO_H, box = 48;
  double phase = 2 * M_PI * t / LOOP_FRAMES;
  int bx = (int)((w - box) * (0.5 - 0.5 * cos(phase)));
  int by = (int)((h - box) * (0.5 - 0.5 * sin(phase)));
  int shift = t * 256 / LOOP_FRAMES;
  for (int y = 0; y < h; y++) {
    uint8_t *row = img->planes[0] + (size_t)y * (size_t)img->stride[0];
    for (int x = 0; x < w; x++) {
      bool in = x >= bx && x < bx + box && y >= by && y < by + box;
      row[x] = in ? 235 : (uint8_t)(16 + ((x + y + shift) & 127));
    }
  }
  for (int p = 1; p <= 2; p++)
    for (int y = 0; y < h / 2; y++)
      memset(img->planes[p] + (size_t)y * (size_t)img->stride[p],
             p == 1 ? 128 + (int)(40 * sin(phase)) : 128 - (int)(40 * cos(phase)), (size_t)w / 2);
}

static int encode_video(int kbps, struct store *st, size_t *offs, size_t *lens, bool *keys) {
  vpx_codec_enc_cfg_t cfg;
  vpx_codec_ctx_t enc;
  if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0))
    return -EIO;
  cfg.g_w = MEDIA_VIDEO_W;
  cfg.g_h = MEDIA_VIDEO_H;
  cfg.g_timebase.num = 1;
  cfg.g_timebase.den = MEDIA_VIDEO_FPS;
  cfg.rc_target_bitrate = (unsigned)kbps;
  cfg.rc_end_usage = VPX_CBR;
  cfg.rc_dropframe_thresh = 0;
  cfg.g_lag_in_frames = 0;
  cfg.g_threads = 1;
  cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
  cfg.kf_mode = VPX_KF_DISABLED;
  cfg.rc_min_quantizer = 4;
  cfg.rc_max_quantizer = 56;
  if (vpx_codec_enc_init(&enc, vpx_codec_vp8_cx(), &cfg, 0))
    return -EIO;
  vpx_codec_control(&enc, VP8E_SET_CPUUSED, -6);
  vpx_image_t *img = vpx_img_alloc(NULL, VPX_IMG_FMT_I420, MEDIA_VIDEO_W, MEDIA_VIDEO_H, 16);
  int rc = img ? 0 : -ENOMEM;
  /* LOOP_FRAMES pictures, then picture 0 again as a delta frame that closes the loop. */
  for (int i = 0; rc == 0 && i <= LOOP_FRAMES; i++) {
    draw(img, i % LOOP_FRAMES);
    vpx_enc_frame_flags_t fl = i == 0 ? VPX_EFLAG_FORCE_KF : 0;
    if (vpx_codec_encode(&enc, img, i, 1, fl, VPX_DL_REALTIME)) {
      rc = -EIO;
      break;
    }
    bool got = false;
    vpx_codec_iter_t it = NULL;
    const vpx_codec_cx_pkt_t *pkt;
    while ((pkt = vpx_codec_get_cx_data(&enc, &it)) != NULL) {
      if (pkt->kind != VPX_CODEC_CX_FRAME_PKT || got)
        continue;
      rc = store_put(st, pkt->data.frame.buf, pkt->data.frame.sz, &offs[i]);
      lens[i] = pkt->data.frame.sz;
      keys[i] = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
      got = true;
    }
    if (rc == 0 && (!got || keys[i] != (i == 0)))
      rc = -EIO; /* a dropped frame or an unasked keyframe would break the loop */
  }
  vpx_img_free(img);
  vpx_codec_destroy(&enc);
  return rc;
}

static int encode_audio(struct store *st, size_t *offs, size_t *lens) {
  int err;
  OpusEncoder *enc = opus_encoder_create(AUDIO_RATE, 1, OPUS_APPLICATION_VOIP, &err);
  if (!enc)
    return -EIO;
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(32000));
  int16_t pcm[AUDIO_SAMPLES];
  uint8_t out[OPUS_MAX];
  int rc = 0;
  for (int f = 0; rc == 0 && f < AUDIO_FRAMES; f++) {
    for (int i = 0; i < AUDIO_SAMPLES; i++) {
      /* 440 whole periods per second, so the one-second loop is seamless. */
      double t = (double)(f * AUDIO_SAMPLES + i) / AUDIO_RATE;
      pcm[i] = (int16_t)(8000 * sin(2 * M_PI * 440 * t));
    }
    opus_int32 n = opus_encode(enc, pcm, AUDIO_SAMPLES, out, sizeof(out));
    if (n <= 0) {
      rc = -EIO;
      break;
    }
    rc = store_put(st, out, (size_t)n, &offs[f]);
    lens[f] = (size_t)n;
  }
  opus_encoder_destroy(enc);
  return rc;
}

int media_set_new(int video_kbps, bool video, bool audio, struct media_set **out) {
  if (video && (video_kbps < 30 || video_kbps > 20000))
    return -EINVAL;
  struct media_set *m = calloc(1, sizeof(*m));
  struct store st = {0};
  size_t voff[LOOP_FRAMES + 1], vlen[LOOP_FRAMES + 1], aoff[AUDIO_FRAMES], alen[AUDIO_FRAMES];
  bool vkey[LOOP_FRAMES + 1];
  if (!m)
    return -ENOMEM;
  int rc = 0;
  if (video) {
    m->video = calloc(LOOP_FRAMES + 1, sizeof(*m->video));
    rc = m->video ? encode_video(video_kbps, &st, voff, vlen, vkey) : -ENOMEM;
    if (rc == 0)
      m->n_video = LOOP_FRAMES + 1;
  }
  if (rc == 0 && audio) {
    m->audio = calloc(AUDIO_FRAMES, sizeof(*m->audio));
    rc = m->audio ? encode_audio(&st, aoff, alen) : -ENOMEM;
    if (rc == 0)
      m->n_audio = AUDIO_FRAMES;
  }
  if (rc) {
    free(st.buf);
    m->n_video = m->n_audio = 0;
    media_set_free(m);
    return rc;
  }
  m->buf = st.buf;
  size_t loop_bytes = 0;
  for (size_t i = 0; i < m->n_video; i++) {
    m->video[i] = (struct media_frame){m->buf + voff[i], vlen[i], vkey[i]};
    if (i > 0) /* the steady loop is frames 1..n-1 */
      loop_bytes += vlen[i], m->video_packets += media_vp8_packets(vlen[i]);
  }
  if (m->n_video)
    m->video_kbps_real = (double)loop_bytes * 8 / 1000.0 / ((double)LOOP_FRAMES / MEDIA_VIDEO_FPS);
  for (size_t i = 0; i < m->n_audio; i++)
    m->audio[i] = (struct media_frame){m->buf + aoff[i], alen[i], false};
  *out = m;
  return 0;
}

void media_set_free(struct media_set *m) {
  if (!m)
    return;
  free(m->video);
  free(m->audio);
  free(m->buf);
  free(m);
}

size_t media_video_next(const struct media_set *m, size_t i) {
  return i + 1 < m->n_video ? i + 1 : 1;
}

size_t media_vp8_packets(size_t len) { return len ? (len + VP8_CHUNK_MAX - 1) / VP8_CHUNK_MAX : 1; }

static void trailer_write(uint8_t *out, uint64_t sender) {
  memcpy(out, magic, 4);
  for (int i = 0; i < 8; i++)
    out[4 + i] = (uint8_t)(sender >> (56 - 8 * i));
}

int media_vp8_payload(uint8_t *out, size_t cap, const struct media_frame *f, size_t k,
                      uint16_t pid, uint64_t sender) {
  size_t n = media_vp8_packets(f->len);
  if (k >= n)
    return -EINVAL;
  /* Near-equal chunks, as libwebrtc does, so no packet is a tiny tail. */
  size_t base = f->len / n, extra = f->len % n;
  size_t off = k * base + (k < extra ? k : extra);
  size_t len = base + (k < extra ? 1 : 0);
  if (cap < MEDIA_VP8_DESC_LEN + len + MEDIA_TRAILER_LEN)
    return -ENOSPC;
  out[0] = 0x80 | (k == 0 ? 0x10 : 0); /* X, S on the first packet, PID 0 */
  out[1] = 0x80;                        /* I: picture id present */
  out[2] = 0x80 | (uint8_t)((pid >> 8) & 0x7f);
  out[3] = (uint8_t)pid;
  memcpy(out + MEDIA_VP8_DESC_LEN, f->data + off, len);
  trailer_write(out + MEDIA_VP8_DESC_LEN + len, sender);
  return (int)(MEDIA_VP8_DESC_LEN + len + MEDIA_TRAILER_LEN);
}

int media_opus_payload(uint8_t *out, size_t cap, const struct media_frame *f, uint64_t sender) {
  if (cap < f->len + MEDIA_TRAILER_LEN)
    return -ENOSPC;
  memcpy(out, f->data, f->len);
  trailer_write(out + f->len, sender);
  return (int)(f->len + MEDIA_TRAILER_LEN);
}

int media_trailer_read(const uint8_t *payload, size_t len, uint64_t *sender) {
  if (len < MEDIA_TRAILER_LEN)
    return -EBADMSG;
  const uint8_t *t = payload + len - MEDIA_TRAILER_LEN;
  if (memcmp(t, magic, 4) != 0)
    return -EBADMSG;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | t[4 + i];
  *sender = v;
  return 0;
}
