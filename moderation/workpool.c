/* workpool.c -- a bounded thread pool whose jobs are answered on a libuv loop. */
#include "moderation/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

/* A job lives in one of the slots allocated with the pool. A slot is on exactly one list: free
 * (loop thread only), queued (under mu), or finished (under mu); or held by the one thread
 * running it, or by the loop while it delivers it. */
struct job {
  workpool_work_fn work;
  workpool_done_fn done;
  void *arg;
  int status;
  struct job *next;
};

struct jlist {
  struct job *head, *tail;
};

/* Why an eventfd and a uv_poll_t rather than a uv_async_t: libuv 1.44 (Debian 12's) makes the
 * loop spin, then sched_yield, while another thread is inside uv_async_send. The loop, woken by
 * the send, often preempts the pool thread (nice +10) on its CPU before the send is done, and
 * then spins until that thread runs again (perf, 200 pairs with the classifier: about a sixth
 * of the control loop's extra CPU, on every finished snapshot). An eventfd write has no such
 * window: the loop reads it, and the lock the thread held is already released. */
#define WAKE_EVERY 8

struct workpool {
  uv_loop_t *loop;
  int efd;                   /* written by a thread that finishes a job and finds !woken */
  uv_poll_t poll;            /* efd readable, on the loop */
  bool woken;                /* mu: efd written since the loop last took the finished jobs */
  unsigned unwoken;          /* mu: jobs finished since then without a write (more waiting) */
  uv_mutex_t mu;
  uv_cond_t cond;
  uv_thread_t *threads;
  unsigned n_threads;
  int nice;
  struct job *slots;
  unsigned max_jobs;
  struct job *free;          /* loop thread only */
  struct jlist queued;       /* mu */
  struct jlist finished;     /* mu */
  unsigned n_queued;         /* mu */
  bool stop;                 /* mu: threads exit once they see it */
  struct jlist delivering;   /* loop thread: taken from finished, being answered */
  bool closing;
  void (*closed)(void *arg);
  void *closed_arg;
  struct workpool_stats st;  /* loop thread, but queued (mu) */
};

void workpool_config_default(struct workpool_config *c) {
  c->threads = 1;
  c->max_jobs = 64;
  c->nice = 10;
}

static void jlist_push(struct jlist *l, struct job *j) {
  j->next = NULL;
  if (l->tail)
    l->tail->next = j;
  else
    l->head = j;
  l->tail = j;
}

static struct job *jlist_pop(struct jlist *l) {
  struct job *j = l->head;
  if (j) {
    l->head = j->next;
    if (!l->head)
      l->tail = NULL;
  }
  return j;
}

/* Appends all of src to dst and empties src. */
static void jlist_splice(struct jlist *dst, struct jlist *src) {
  if (!src->head)
    return;
  if (dst->tail)
    dst->tail->next = src->head;
  else
    dst->head = src->head;
  dst->tail = src->tail;
  src->head = src->tail = NULL;
}

static void thread_main(void *arg) {
  struct workpool *wp = arg;
  (void)pthread_setname_np(pthread_self(), "modpool"); /* for top -H and the benchmarks */
  /* On Linux the nice value belongs to the thread, so this lowers only the pool's threads.
   * Raising one's own nice value is always allowed; failing to is harmless. */
  if (wp->nice > 0) {
    id_t tid = (id_t)gettid();
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, tid);
    if (errno == 0)
      (void)setpriority(PRIO_PROCESS, tid, cur + wp->nice);
  }
  uv_mutex_lock(&wp->mu);
  for (;;) {
    while (!wp->stop && !wp->queued.head)
      uv_cond_wait(&wp->cond, &wp->mu);
    if (wp->stop)
      break;
    struct job *j = jlist_pop(&wp->queued);
    wp->n_queued--;
    uv_mutex_unlock(&wp->mu);
    int status = j->work(j->arg);
    uv_mutex_lock(&wp->mu);
    j->status = status;
    jlist_push(&wp->finished, j);
    /* One write until the loop takes the finished jobs (it takes them all), made outside the
     * lock so that the loop never waits for this thread; and while more jobs wait, only every
     * WAKE_EVERY finished ones, so a burst of jobs costs the loop a wake-up or two, not one
     * each. */
    if (!wp->woken && (!wp->queued.head || ++wp->unwoken >= WAKE_EVERY)) {
      wp->unwoken = 0;
      wp->woken = true;
      uv_mutex_unlock(&wp->mu);
      uint64_t one = 1;
      /* It cannot fail: efd is valid until the threads are joined, and its counter never
       * nears its limit. */
      (void)!write(wp->efd, &one, sizeof(one));
      uv_mutex_lock(&wp->mu);
    }
  }
  uv_mutex_unlock(&wp->mu);
}

/* Answers every job on wp->delivering. A slot goes back to the free list before its callback
 * runs, so the callback may submit again. The list is re-read after each callback because one
 * may close the pool, which then answers the rest itself. */
static void deliver(struct workpool *wp) {
  struct job *j;
  while ((j = jlist_pop(&wp->delivering)) != NULL) {
    workpool_done_fn done = j->done;
    void *arg = j->arg;
    int status = j->status;
    j->next = wp->free;
    wp->free = j;
    wp->st.in_pool--;
    if (status == -ECANCELED)
      wp->st.cancelled++;
    else
      wp->st.completed++;
    done(arg, status);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  struct workpool *wp = h->data;
  if (!wp || wp->closing)
    return;
  uint64_t n;
  (void)!read(wp->efd, &n, sizeof(n)); /* -EAGAIN when already read: harmless */
  uv_mutex_lock(&wp->mu);
  wp->woken = false;
  jlist_splice(&wp->delivering, &wp->finished);
  uv_mutex_unlock(&wp->mu);
  deliver(wp);
}

static void on_closed(uv_handle_t *h);

static void pool_free(struct workpool *wp) {
  if (wp->efd >= 0)
    close(wp->efd);
  free(wp->threads);
  free(wp->slots);
  free(wp);
}

int workpool_new(uv_loop_t *loop, const struct workpool_config *cfg, struct workpool **out) {
  if (!loop || !cfg || cfg->threads < 1 || cfg->threads > 64 || cfg->max_jobs < 1 ||
      cfg->max_jobs > 65536 || cfg->nice < 0 || cfg->nice > 19)
    return -EINVAL;
  struct workpool *wp = calloc(1, sizeof(*wp));
  if (!wp)
    return -ENOMEM;
  wp->loop = loop;
  wp->efd = -1;
  wp->nice = cfg->nice;
  wp->max_jobs = cfg->max_jobs;
  wp->threads = calloc(cfg->threads, sizeof(*wp->threads));
  wp->slots = calloc(cfg->max_jobs, sizeof(*wp->slots));
  if (!wp->threads || !wp->slots) {
    pool_free(wp);
    return -ENOMEM;
  }
  for (unsigned i = cfg->max_jobs; i-- > 0;) {
    wp->slots[i].next = wp->free;
    wp->free = &wp->slots[i];
  }
  int rc = uv_mutex_init(&wp->mu);
  if (rc) {
    pool_free(wp);
    return rc;
  }
  rc = uv_cond_init(&wp->cond);
  if (rc) {
    uv_mutex_destroy(&wp->mu);
    pool_free(wp);
    return rc;
  }
  wp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  rc = wp->efd < 0 ? -errno : uv_poll_init(loop, &wp->poll, wp->efd);
  if (rc == 0) {
    wp->poll.data = wp;
    rc = uv_poll_start(&wp->poll, UV_READABLE, on_poll);
    if (rc) {
      /* Made but not started: closed like any handle, then freed from its callback. */
      uv_close((uv_handle_t *)&wp->poll, on_closed);
      return rc;
    }
  }
  if (rc) {
    uv_cond_destroy(&wp->cond);
    uv_mutex_destroy(&wp->mu);
    pool_free(wp);
    return rc;
  }
  for (unsigned i = 0; i < cfg->threads; i++) {
    rc = uv_thread_create(&wp->threads[i], thread_main, wp);
    if (rc) {
      /* Close what was made; the threads already started exit on stop. */
      workpool_close(wp, NULL, NULL);
      return rc;
    }
    wp->n_threads++;
  }
  *out = wp;
  return 0;
}

int workpool_submit(struct workpool *wp, workpool_work_fn work, workpool_done_fn done, void *arg) {
  if (!work || !done || wp->closing)
    return -EINVAL;
  struct job *j = wp->free;
  if (!j) {
    wp->st.rejected++;
    return -EAGAIN;
  }
  wp->free = j->next;
  j->work = work;
  j->done = done;
  j->arg = arg;
  j->status = 0;
  uv_mutex_lock(&wp->mu);
  jlist_push(&wp->queued, j);
  wp->n_queued++;
  uv_cond_signal(&wp->cond);
  uv_mutex_unlock(&wp->mu);
  wp->st.submitted++;
  wp->st.in_pool++;
  return 0;
}

void workpool_get_stats(const struct workpool *wp, struct workpool_stats *st) {
  *st = wp->st;
  uv_mutex_lock((uv_mutex_t *)&wp->mu);
  st->queued = wp->n_queued;
  uv_mutex_unlock((uv_mutex_t *)&wp->mu);
}

static void on_closed(uv_handle_t *h) {
  struct workpool *wp = h->data;
  void (*closed)(void *) = wp->closed;
  void *arg = wp->closed_arg;
  uv_cond_destroy(&wp->cond);
  uv_mutex_destroy(&wp->mu);
  pool_free(wp);
  if (closed)
    closed(arg);
}

void workpool_close(struct workpool *wp, void (*closed)(void *arg), void *arg) {
  if (!wp || wp->closing)
    return;
  wp->closing = true;
  wp->closed = closed;
  wp->closed_arg = arg;
  struct jlist cancelled = {0};
  uv_mutex_lock(&wp->mu);
  wp->stop = true;
  jlist_splice(&cancelled, &wp->queued);
  wp->n_queued = 0;
  uv_cond_broadcast(&wp->cond);
  uv_mutex_unlock(&wp->mu);
  for (unsigned i = 0; i < wp->n_threads; i++)
    uv_thread_join(&wp->threads[i]);
  /* No thread is left: the lists are the loop's now. Jobs that ran are answered with their
   * status (their results may own memory), then those that never ran. */
  jlist_splice(&wp->delivering, &wp->finished);
  for (struct job *j = cancelled.head; j; j = j->next)
    j->status = -ECANCELED;
  jlist_splice(&wp->delivering, &cancelled);
  deliver(wp);
  uv_close((uv_handle_t *)&wp->poll, on_closed);
}
