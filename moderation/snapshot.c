/* snapshot.c -- VP8 keyframe to JPEG, and the pool job that runs it off the loops. */
#include "moderation/snapshot.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

#include "moderation/picture.h"
#include "moderation/workpool.h"

/* A keyframe starts with a 3-byte frame tag (bit 0 clear), the start code 9d 01 2a, then the
 * 14-bit width and height, each with 2 bits of scaling above (RFC 6386 9.1). */
#define KEYHDR_LEN 10

static int keyframe_size(const uint8_t *p, size_t len, int *w, int *h) {
  if (!p || len < KEYHDR_LEN || (p[0] & 1) != 0 || p[3] != 0x9d || p[4] != 0x01 ||
      p[5] != 0x2a)
    return -EBADMSG;
  *w = (p[6] | (p[7] << 8)) & 0x3fff;
  *h = (p[8] | (p[9] << 8)) & 0x3fff;
  if (*w == 0 || *h == 0 || *w > SNAPSHOT_MAX_DIM || *h > SNAPSHOT_MAX_DIM)
    return -EBADMSG;
  return 0;
}

/* Output size: the longer side becomes max_side when it is longer than that. */
static void out_size(int w, int h, int max_side, int *dw, int *dh) {
  *dw = w;
  *dh = h;
  if (max_side <= 0 || (w <= max_side && h <= max_side))
    return;
  if (w >= h) {
    *dw = max_side;
    *dh = (int)(((int64_t)h * max_side + w / 2) / w);
  } else {
    *dh = max_side;
    *dw = (int)(((int64_t)w * max_side + h / 2) / h);
  }
  if (*dw < 1)
    *dw = 1;
  if (*dh < 1)
    *dh = 1;
}

/* What a thread keeps between its snapshots: the decoder and the buffers, so that the next one
 * of the same size allocates nothing. A fresh decoder and fresh buffers cost a pool thread more
 * than the decoding itself: glibc gives the memory of a thread's arena back to the kernel when
 * it is freed, so every snapshot faulted in and cleared its frame buffers again (about 1.6 ms
 * a 320x240 snapshot on the moderation pool during a 200-pair run, against 0.6 ms when kept).
 * Pictures above SCRATCH_KEEP pixels use a decoder and buffers of their own, freed after, so
 * what a thread keeps stays bounded (about 8 MiB at 1080p). */
#define SCRATCH_KEEP (1920 * 1088)

struct buf {
  void *p;
  size_t cap;
};

struct scratch {
  vpx_codec_ctx_t dec;
  bool dec_ok;
  tjhandle tj;
  struct buf yuv, colsum, xs, out;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void buf_free(struct buf *b) {
  free(b->p);
  *b = (struct buf){0};
}

static void scratch_free_parts(struct scratch *sc) {
  if (sc->dec_ok)
    vpx_codec_destroy(&sc->dec);
  sc->dec_ok = false;
  if (sc->tj)
    tjDestroy(sc->tj);
  sc->tj = NULL;
  buf_free(&sc->yuv);
  buf_free(&sc->colsum);
  buf_free(&sc->xs);
  buf_free(&sc->out);
}

static void scratch_free(void *arg) {
  if (!arg)
    return;
  scratch_free_parts(arg);
  free(arg);
}

static void scratch_key_make(void) { (void)pthread_key_create(&scratch_key, scratch_free); }

/* This thread's scratch, made on first use; NULL when memory runs out. */
static struct scratch *scratch_get(void) {
  (void)pthread_once(&scratch_once, scratch_key_make);
  struct scratch *sc = pthread_getspecific(scratch_key);
  if (!sc && (sc = calloc(1, sizeof(*sc))) && pthread_setspecific(scratch_key, sc) != 0) {
    free(sc);
    sc = NULL;
  }
  return sc;
}

/* b with room for n bytes (its contents not kept), or NULL. */
static void *buf_room(struct buf *b, size_t n) {
  if (b->cap >= n)
    return b->p;
  free(b->p);
  b->p = malloc(n);
  b->cap = b->p ? n : 0;
  return b->p;
}

static int encode_jpeg(struct scratch *sc, const vpx_image_t *img, int max_side, uint8_t **jpeg,
                       size_t *jpeg_len) {
  int w = (int)img->d_w, h = (int)img->d_h, dw, dh;
  out_size(w, h, max_side, &dw, &dh);
  int cw = (dw + 1) / 2, ch = (dh + 1) / 2;
  size_t ysz = (size_t)dw * (size_t)dh, csz = (size_t)cw * (size_t)ch;
  struct picture_range luma, chroma;
  picture_ranges(img->range == VPX_CR_FULL_RANGE, &luma, &chroma);

  uint8_t *yuv = buf_room(&sc->yuv, ysz + 2 * csz);
  uint32_t *colsum = buf_room(&sc->colsum, (size_t)w * sizeof(*colsum));
  int *xs = buf_room(&sc->xs, ((size_t)dw + 1) * sizeof(*xs));
  unsigned long cap = tjBufSize(dw, dh, TJSAMP_420);
  uint8_t *out = cap != (unsigned long)-1 ? buf_room(&sc->out, cap) : NULL;
  if (!sc->tj)
    sc->tj = tjInitCompress();
  tjhandle tj = sc->tj;
  if (!yuv || !colsum || !xs || !out || !tj)
    return -ENOMEM;
  const uint8_t *planes[3] = {yuv, yuv + ysz, yuv + ysz + csz};
  int strides[3] = {dw, cw, cw};
  for (int i = 0; i < 3; i++) {
    struct picture_plane p = {
        .src = img->planes[i],
        .src_stride = img->stride[i],
        .sw = i ? (w + 1) / 2 : w,
        .sh = i ? (h + 1) / 2 : h,
        .dst = (uint8_t *)planes[i],
        .dw = i ? cw : dw,
        .dh = i ? ch : dh,
        .range = i ? chroma : luma,
    };
    picture_plane_convert(&p, colsum, xs);
  }
  /* Into the scratch buffer (TJFLAG_NOREALLOC), then a copy of just the JPEG for the caller. */
  unsigned long n = cap;
  if (tjCompressFromYUVPlanes(tj, planes, dw, strides, dh, TJSAMP_420, &out, &n,
                              SNAPSHOT_QUALITY, TJFLAG_NOREALLOC) != 0)
    return -EIO;
  uint8_t *copy = malloc(n);
  if (!copy)
    return -ENOMEM;
  memcpy(copy, out, n);
  *jpeg = copy;
  *jpeg_len = n;
  return 0;
}

int snapshot_jpeg(const uint8_t *vp8, size_t len, int max_side, uint8_t **jpeg,
                  size_t *jpeg_len) {
  int w, h;
  if (keyframe_size(vp8, len, &w, &h) != 0 || len > UINT32_MAX)
    return -EBADMSG;
  struct scratch *kept = scratch_get(), own = {0};
  if (!kept)
    return -ENOMEM;
  /* A large picture gets a decoder and buffers of its own, so a thread never keeps much. */
  struct scratch *sc = (size_t)w * (size_t)h <= SCRATCH_KEEP ? kept : &own;
  vpx_codec_dec_cfg_t cfg = {.threads = 1};
  if (!sc->dec_ok) {
    if (vpx_codec_dec_init(&sc->dec, vpx_codec_vp8_dx(), &cfg, 0) != VPX_CODEC_OK)
      return -ENOMEM;
    sc->dec_ok = true;
  }
  /* Every input is a keyframe, so nothing of the previous picture carries over. */
  int rc = -EBADMSG;
  if (vpx_codec_decode(&sc->dec, vp8, (unsigned)len, NULL, 0) == VPX_CODEC_OK) {
    vpx_codec_iter_t it = NULL;
    vpx_image_t *img = vpx_codec_get_frame(&sc->dec, &it);
    if (img && img->fmt == VPX_IMG_FMT_I420 && img->d_w > 0 && img->d_h > 0)
      rc = encode_jpeg(sc, img, max_side, jpeg, jpeg_len);
  }
  if (rc == -EBADMSG && sc->dec_ok) {
    /* A decoder that refused a frame starts afresh next time. */
    vpx_codec_destroy(&sc->dec);
    sc->dec_ok = false;
  }
  if (sc == &own)
    scratch_free_parts(&own);
  return rc;
}

/* The pool job: input and output of one snapshot_jpeg call. */
struct snap_job {
  uint8_t *vp8;
  size_t len;
  int max_side;
  uint8_t *jpeg;
  size_t jpeg_len;
  snapshot_done_fn cb;
  void *arg;
};

static int snap_work(void *arg) {
  struct snap_job *j = arg;
  int rc = snapshot_jpeg(j->vp8, j->len, j->max_side, &j->jpeg, &j->jpeg_len);
  /* The input is not needed any more: give its memory back on the pool thread. */
  free(j->vp8);
  j->vp8 = NULL;
  return rc;
}

static void snap_done(void *arg, int status) {
  struct snap_job *j = arg;
  snapshot_done_fn cb = j->cb;
  void *cb_arg = j->arg;
  uint8_t *jpeg = status == 0 ? j->jpeg : NULL;
  size_t n = status == 0 ? j->jpeg_len : 0;
  free(j->vp8); /* still here when the job was cancelled */
  free(j);
  cb(cb_arg, status, jpeg, n);
}

int snapshot_submit(struct workpool *wp, uint8_t *vp8, size_t len, int max_side,
                    snapshot_done_fn cb, void *arg) {
  struct snap_job *j = cb ? calloc(1, sizeof(*j)) : NULL;
  if (!j) {
    free(vp8);
    return cb ? -ENOMEM : -EINVAL;
  }
  *j = (struct snap_job){.vp8 = vp8, .len = len, .max_side = max_side, .cb = cb, .arg = arg};
  int rc = workpool_submit(wp, snap_work, snap_done, j);
  if (rc != 0) {
    free(vp8);
    free(j);
  }
  return rc;
}
