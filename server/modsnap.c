/* modsnap.c -- snapshots: a live peer's latest keyframe as JPEG, cached per peer, a fresh one
 * asked of the browser (PLI) when the cached one is too old; decoded and encoded on the
 * moderation pool, never on a media thread or the control loop. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "moderation/snapshot.h"
#include "server/app_int.h"
#include "server/log.h"
#include "server/moderate_int.h"

struct snap_waiter {
  moderate_snapshot_fn cb;
  void *arg;
  struct snap_waiter *next;
};

struct modsnap_job {
  struct moderate *m;
  struct peer *peer;       /* NULL once the peer is gone */
  uint64_t req;            /* the media request while waiting for a keyframe, else 0 */
  int side;
  struct snap_waiter *waiters;
  uint8_t *vp8, *jpeg;
  size_t vp8_len, jpeg_len;
  uint64_t pic;            /* the picture's id, given when it is made */
  struct modsnap_job *prev, *next;
};

static void job_finish(struct modsnap_job *j, int status) {
  struct moderate *m = j->m;
  struct app *a = m->a;
  if (j->prev)
    j->prev->next = j->next;
  else
    m->jobs = j->next;
  if (j->next)
    j->next->prev = j->prev;
  m->snap_jobs--;
  if (status == 0)
    j->pic = ++m->last_pic;
  if (j->peer) {
    j->peer->snap_job = NULL;
    if (status == 0) {
      /* The cache keeps its own copy; the waiters borrow the job's. */
      uint8_t *copy = malloc(j->jpeg_len);
      if (copy) {
        memcpy(copy, j->jpeg, j->jpeg_len);
        free(j->peer->snap_jpeg);
        j->peer->snap_jpeg = copy;
        j->peer->snap_len = j->jpeg_len;
        j->peer->snap_ms = uv_now(a->loop);
        j->peer->snap_side = j->side;
        j->peer->snap_pic = j->pic;
      }
    }
  }
  if (status == 0)
    a->n.snapshots++;
  else
    a->n.snapshots_failed++;
  struct snap_waiter *w = j->waiters, *next;
  for (; w; w = next) {
    next = w->next;
    w->cb(w->arg, status, status ? NULL : j->jpeg, status ? 0 : j->jpeg_len, j->pic);
    free(w);
  }
  free(j->vp8);
  free(j->jpeg);
  free(j);
}

static int encode_work(void *arg) {
  struct modsnap_job *j = arg;
  return snapshot_jpeg(j->vp8, j->vp8_len, j->side, &j->jpeg, &j->jpeg_len);
}

static void encode_done(void *arg, int status) { job_finish(arg, status); }

static void on_keyframe(void *arg, int status, void *payload, size_t len) {
  struct modsnap_job *j = arg;
  j->req = 0;
  if (status) {
    free(payload);
    job_finish(j, status == -ENOENT ? -ENODATA : status);
    return;
  }
  j->vp8 = payload;
  j->vp8_len = len;
  int rc = workpool_submit(j->m->pool, encode_work, encode_done, j);
  if (rc)
    job_finish(j, rc == -EINVAL ? -ECANCELED : rc);
}

/* Whether p's cached picture will do for (max_age_ms, max_side). */
static bool cached_fits(struct app *a, const struct peer *p, uint64_t max_age_ms, int max_side) {
  return p->snap_jpeg && p->snap_side == max_side && uv_now(a->loop) - p->snap_ms <= max_age_ms;
}

uint64_t moderate_snapshot_cached(struct app *a, uint64_t peer_id, uint64_t max_age_ms,
                                  int max_side) {
  struct peer *p = a->mod && !a->mod->closing ? peer_by_id(a, peer_id) : NULL;
  if (!p || !p->sid || !p->sess_ready || !cached_fits(a, p, max_age_ms, max_side))
    return 0;
  return p->snap_pic;
}

int moderate_snapshot(struct app *a, uint64_t peer_id, uint64_t max_age_ms, int max_side,
                      moderate_snapshot_fn cb, void *arg) {
  struct moderate *m = a->mod;
  if (!m || m->closing)
    return -ECANCELED;
  struct peer *p = peer_by_id(a, peer_id);
  if (!p)
    return -ENOENT;
  if (!p->sid || !p->sess_ready)
    return -ENODATA;
  if (cached_fits(a, p, max_age_ms, max_side)) {
    cb(arg, 0, p->snap_jpeg, p->snap_len, p->snap_pic);
    return 0;
  }
  struct snap_waiter *w = calloc(1, sizeof(*w));
  if (!w)
    return -ENOMEM;
  w->cb = cb;
  w->arg = arg;
  struct modsnap_job *j = p->snap_job;
  if (j) {
    /* One capture per peer at a time: whoever asks meanwhile gets its picture. */
    w->next = j->waiters;
    j->waiters = w;
    return 0;
  }
  if (m->snap_jobs >= (unsigned)a->cfg.snapshot_max_jobs || !(j = calloc(1, sizeof(*j)))) {
    free(w);
    return -EAGAIN;
  }
  j->m = m;
  j->peer = p;
  j->side = max_side;
  j->waiters = w;
  /* A keyframe the recording holds that is as recent as the picture asked for will do. */
  uint32_t age = max_age_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)max_age_ms;
  j->req = mediaplane_request(a->media, p->sid, MEDIAPLANE_REQ_KEYFRAME,
                              (uint32_t)a->cfg.snapshot_timeout_ms, &age, sizeof(age),
                              on_keyframe, j);
  if (!j->req) {
    free(w);
    free(j);
    return -ENODATA;
  }
  p->snap_job = j;
  m->snap_jobs++;
  j->next = m->jobs;
  if (m->jobs)
    m->jobs->prev = j;
  m->jobs = j;
  return 0;
}

void modsnap_peer_gone(struct peer *p) {
  if (p->snap_job)
    p->snap_job->peer = NULL;
  p->snap_job = NULL;
  free(p->snap_jpeg);
  p->snap_jpeg = NULL;
  p->snap_pic = 0;
}

void modsnap_cancel_all(struct moderate *m) {
  m->closing = true;
  struct modsnap_job *j = m->jobs, *next;
  for (; j; j = next) {
    next = j->next;
    if (j->req) {
      /* Waiting on a worker: withdrawn. Jobs on the pool are answered by workpool_close. */
      mediaplane_cancel(m->a->media, j->req);
      j->req = 0;
      job_finish(j, -ECANCELED);
    }
  }
}
