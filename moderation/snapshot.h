/* snapshot.h -- a VP8 keyframe as a JPEG picture: libvpx decodes, libjpeg-turbo encodes. */
#ifndef TANDEM_SNAPSHOT_H
#define TANDEM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

struct workpool;

#define SNAPSHOT_QUALITY 80
/* Pictures whose width or height is larger are refused (-EBADMSG) before libvpx sees them: a
 * keyframe header may claim up to 16383x16383, and the decoder would allocate for that. */
#define SNAPSHOT_MAX_DIM 4096

/* Pure (no I/O, no shared state; safe on any thread at once; each thread keeps its decoder and
 * buffers between calls, bounded, so the next picture of a size allocates nothing): decodes vp8[0..len), one whole
 * VP8 keyframe as mediaplane's MEDIAPLANE_REQ_KEYFRAME answers, and encodes the picture as a
 * baseline JPEG (4:2:0, quality SNAPSHOT_QUALITY, full-range colours as JFIF wants, converted
 * from VP8's studio range). When max_side > 0 and the picture's longer side exceeds it, the
 * picture is first scaled down (area average) so the longer side is max_side.
 * Returns 0 with *jpeg (malloc'd, the caller frees it) and *jpeg_len; -EBADMSG when the input is
 * not a VP8 keyframe libvpx decodes, or is larger than SNAPSHOT_MAX_DIM; -ENOMEM; -EIO when
 * libjpeg-turbo fails. Outputs are untouched on error. CPU: about 2 ms at 640x480, 0.5 ms at
 * 320x240, three quarters of it libvpx (bench/snapshot_bench.c). */
int snapshot_jpeg(const uint8_t *vp8, size_t len, int max_side, uint8_t **jpeg,
                  size_t *jpeg_len);

/* Answers snapshot_submit(), on the pool's loop: status 0 and jpeg (the callback owns it and
 * free()s it) or a negative errno and NULL: snapshot_jpeg's errors, or -ECANCELED when the pool
 * closed first. */
typedef void (*snapshot_done_fn)(void *arg, int status, uint8_t *jpeg, size_t jpeg_len);

/* Runs snapshot_jpeg(vp8, len, max_side) on a pool thread. Call on the pool's loop thread (the
 * control loop), e.g. straight from a mediaplane_reply_fn: it takes ownership of vp8 (malloc'd)
 * in every case, so a reply's payload can be passed as it comes. Returns 0 (cb will be called
 * exactly once, later), -EAGAIN when the pool is full or -ENOMEM (vp8 is freed and cb is never
 * called), -EINVAL when the pool is closing. */
int snapshot_submit(struct workpool *wp, uint8_t *vp8, size_t len, int max_side,
                    snapshot_done_fn cb, void *arg);

#endif
