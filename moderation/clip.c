/* clip.c -- a clip's VP8 frames and Opus packets muxed as WebM by libavformat, in memory. */
#include "moderation/clip.h"

#include <errno.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <stdlib.h>
#include <string.h>

#include "moderation/clip_int.h"
#include "moderation/recorder.h"
#include "moderation/workpool.h"

void clip_params_default(struct clip_params *p) {
  p->video_pt = 96;
  p->audio_pt = 111;
  p->clip_ms = 10000;
}

/* The output: a growable malloc'd buffer that libavformat may seek in. Seekable output lets the
 * Matroska muxer go back and write the duration and the cues, so players and ffprobe know the
 * length and can seek. */
struct membuf {
  uint8_t *buf;
  size_t len, cap, pos;
  bool failed;
};

static int mb_write(void *opaque, uint8_t *data, int n) {
  struct membuf *m = opaque;
  size_t end = m->pos + (size_t)n;
  if (end > m->cap) {
    size_t cap = m->cap ? m->cap : 256 * 1024;
    while (cap < end)
      cap *= 2;
    uint8_t *nb = realloc(m->buf, cap);
    if (!nb) {
      m->failed = true;
      return AVERROR(ENOMEM);
    }
    m->buf = nb;
    m->cap = cap;
  }
  if (m->pos > m->len) /* a seek past the end leaves a hole of zeros */
    memset(m->buf + m->len, 0, m->pos - m->len);
  memcpy(m->buf + m->pos, data, (size_t)n);
  m->pos = end;
  if (end > m->len)
    m->len = end;
  return n;
}

static int64_t mb_seek(void *opaque, int64_t off, int whence) {
  struct membuf *m = opaque;
  int64_t base;
  switch (whence & ~AVSEEK_FORCE) {
  case AVSEEK_SIZE:
    return (int64_t)m->len;
  case SEEK_SET:
    base = 0;
    break;
  case SEEK_CUR:
    base = (int64_t)m->pos;
    break;
  case SEEK_END:
    base = (int64_t)m->len;
    break;
  default:
    return AVERROR(EINVAL);
  }
  if (base + off < 0)
    return AVERROR(EINVAL);
  m->pos = (size_t)(base + off);
  return base + off;
}

/* OpusHead (RFC 7845 5.1), which Matroska carries as the codec's private data: version 1,
 * 2 channels, no pre-skip (the clip starts mid-stream), 48 kHz, gain 0, mapping family 0. */
static int opus_head(AVCodecParameters *par) {
  static const uint8_t head[19] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 2, 0, 0,
                                   0x80, 0xbb, 0, 0, 0, 0, 0};
  par->extradata = av_mallocz(sizeof(head) + AV_INPUT_BUFFER_PADDING_SIZE);
  if (!par->extradata)
    return -ENOMEM;
  memcpy(par->extradata, head, sizeof(head));
  par->extradata_size = sizeof(head);
  return 0;
}

static int add_streams(AVFormatContext *oc, const struct clip__plan *pl, int *vi, int *ai) {
  *vi = *ai = -1;
  if (pl->has_video) {
    AVStream *s = avformat_new_stream(oc, NULL);
    if (!s)
      return -ENOMEM;
    s->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    s->codecpar->codec_id = AV_CODEC_ID_VP8;
    s->codecpar->width = pl->st.width;
    s->codecpar->height = pl->st.height;
    s->time_base = (AVRational){1, 90000};
    *vi = s->index;
  }
  if (pl->has_audio) {
    AVStream *s = avformat_new_stream(oc, NULL);
    if (!s)
      return -ENOMEM;
    s->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
    s->codecpar->codec_id = AV_CODEC_ID_OPUS;
    s->codecpar->sample_rate = 48000;
    av_channel_layout_default(&s->codecpar->ch_layout, 2);
    s->time_base = (AVRational){1, 48000};
    if (opus_head(s->codecpar) != 0)
      return -ENOMEM;
    *ai = s->index;
  }
  return 0;
}

/* Writes the plan's units. av_write_frame, not the interleaving variant: the plan is already
 * in time order, and nothing is buffered or copied. */
static int write_units(AVFormatContext *oc, const struct clip__plan *pl, int vi, int ai) {
  AVPacket *pkt = av_packet_alloc();
  if (!pkt)
    return -ENOMEM;
  const AVRational vtb = {1, 90000}, atb = {1, 48000};
  int rc = 0;
  for (size_t i = 0; i < pl->n && rc == 0; i++) {
    const struct clip__unit *u = &pl->units[i];
    AVStream *s = oc->streams[u->video ? vi : ai];
    AVRational tb = u->video ? vtb : atb;
    av_packet_unref(pkt);
    pkt->data = pl->data + u->off;
    pkt->size = (int)u->len;
    pkt->stream_index = s->index;
    pkt->pts = pkt->dts = av_rescale_q(u->pts, tb, s->time_base);
    pkt->duration = av_rescale_q(u->dur, tb, s->time_base);
    pkt->flags = u->key ? AV_PKT_FLAG_KEY : 0;
    if (av_write_frame(oc, pkt) < 0)
      rc = -EIO;
  }
  av_packet_unref(pkt);
  av_packet_free(&pkt);
  return rc;
}

static int mux(const struct clip__plan *pl, struct membuf *m) {
  AVFormatContext *oc = NULL;
  AVIOContext *pb = NULL;
  if (avformat_alloc_output_context2(&oc, NULL, "webm", NULL) < 0 || !oc)
    return -ENOMEM;
  int rc = -ENOMEM, vi, ai;
  unsigned char *iobuf = av_malloc(64 * 1024);
  if (!iobuf)
    goto out;
  pb = avio_alloc_context(iobuf, 64 * 1024, 1, m, NULL, mb_write, mb_seek);
  if (!pb) {
    av_free(iobuf);
    goto out;
  }
  pb->seekable = AVIO_SEEKABLE_NORMAL;
  oc->pb = pb;
  oc->flags |= AVFMT_FLAG_BITEXACT; /* no library version in the file: same input, same bytes */
  rc = add_streams(oc, pl, &vi, &ai);
  if (rc)
    goto out;
  rc = -EIO;
  if (avformat_write_header(oc, NULL) < 0)
    goto out;
  rc = write_units(oc, pl, vi, ai);
  if (av_write_trailer(oc) < 0 && rc == 0)
    rc = -EIO;
  avio_flush(pb);
  if (m->failed)
    rc = -ENOMEM;
out:
  if (pb) {
    av_freep(&pb->buffer);
    avio_context_free(&pb);
  }
  avformat_free_context(oc);
  return rc;
}

int clip_webm(const struct clip_pkt *pkts, size_t n, const struct clip_params *p,
              uint8_t **webm, size_t *webm_len, struct clip_stats *st) {
  struct clip__plan pl;
  int rc = clip__plan(pkts, n, p, &pl);
  if (rc)
    return rc;
  struct membuf m = {0};
  rc = mux(&pl, &m);
  if (rc == 0) {
    *webm = m.buf;
    *webm_len = m.len;
    if (st)
      *st = pl.st;
  } else {
    free(m.buf);
  }
  clip__plan_free(&pl);
  return rc;
}

int clip_webm_records(const uint8_t *recs, size_t len, const struct clip_params *p,
                      uint8_t **webm, size_t *webm_len, struct clip_stats *st) {
  size_t n = 0, off = 0;
  struct recorder_rec r;
  int rc;
  while ((rc = recorder_rec_next(recs, len, &off, &r)) == 1)
    n++;
  if (rc < 0)
    return rc;
  struct clip_pkt *pkts = malloc((n ? n : 1) * sizeof(*pkts));
  if (!pkts)
    return -ENOMEM;
  off = 0;
  for (size_t i = 0; i < n; i++) {
    recorder_rec_next(recs, len, &off, &r);
    pkts[i] = (struct clip_pkt){r.rtp, r.len, r.arrival_ms};
  }
  rc = clip_webm(pkts, n, p, webm, webm_len, st);
  free(pkts);
  return rc;
}

/* The pool job: input and output of one clip_webm_records call. */
struct clip_job {
  uint8_t *recs;
  size_t len;
  struct clip_params p;
  uint8_t *webm;
  size_t webm_len;
  struct clip_stats st;
  clip_done_fn cb;
  void *arg;
};

static int clip_work(void *arg) {
  struct clip_job *j = arg;
  int rc = clip_webm_records(j->recs, j->len, &j->p, &j->webm, &j->webm_len, &j->st);
  free(j->recs);
  j->recs = NULL;
  return rc;
}

static void clip_done(void *arg, int status) {
  struct clip_job *j = arg;
  struct clip_stats st = status == 0 ? j->st : (struct clip_stats){0};
  uint8_t *webm = status == 0 ? j->webm : NULL;
  size_t n = status == 0 ? j->webm_len : 0;
  clip_done_fn cb = j->cb;
  void *cb_arg = j->arg;
  free(j->recs); /* still here when the job was cancelled */
  free(j);
  cb(cb_arg, status, webm, n, &st);
}

int clip_submit(struct workpool *wp, uint8_t *recs, size_t len, const struct clip_params *p,
                clip_done_fn cb, void *arg) {
  struct clip_job *j = cb && p ? calloc(1, sizeof(*j)) : NULL;
  if (!j) {
    free(recs);
    return cb && p ? -ENOMEM : -EINVAL;
  }
  *j = (struct clip_job){.recs = recs, .len = len, .p = *p, .cb = cb, .arg = arg};
  int rc = workpool_submit(wp, clip_work, clip_done, j);
  if (rc != 0) {
    free(recs);
    free(j);
  }
  return rc;
}
