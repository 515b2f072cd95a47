/* workpool.h -- a few threads for CPU-heavy jobs (snapshots, clips), bounded, answering on a
 * libuv loop. */
#ifndef TANDEM_WORKPOOL_H
#define TANDEM_WORKPOOL_H

#include <stdint.h>
#include <uv.h>

/* Why not uv_queue_work(): libuv's pool is shared with its file system and DNS work, has no
 * bound (a flood of requests queues without limit) and its threads run at normal priority.
 * This pool has its own threads at a lower priority (nice), so under CPU pressure the media
 * threads win, and at most max_jobs jobs exist at once: past that, submit says -EAGAIN.
 *
 * Every function here is called on the loop's thread (the one running `loop`), including from
 * inside a done callback. */

struct workpool;

struct workpool_config {
  unsigned threads;   /* pool threads, >= 1; 1 */
  unsigned max_jobs;  /* jobs queued, running or finished but not yet delivered; 64 */
  int nice;           /* added to each pool thread's nice value (Linux: per thread); 10 */
};
void workpool_config_default(struct workpool_config *c);

/* Runs on a pool thread. It must not touch loop-owned state; its arg is its own until done. */
typedef int (*workpool_work_fn)(void *arg);
/* Runs on the loop: status is what work returned, or -ECANCELED when the job never ran
 * because the pool was closed. arg is the caller's again. */
typedef void (*workpool_done_fn)(void *arg, int status);

/* Starts the threads. Returns 0 and *out, -EINVAL for a bad config, -ENOMEM, or a negative
 * errno when a thread, the eventfd or its uv_poll_t cannot be made (finished jobs wake the loop
 * through them). After a failed thread (or poll start), the half-made pool is closed as by
 * workpool_close(): the loop must run once more to free it. */
int workpool_new(uv_loop_t *loop, const struct workpool_config *cfg, struct workpool **out);

/* Queues work(arg). done(arg, status) then runs exactly once, on the loop, from a later loop
 * iteration (never from inside this call), or from inside workpool_close(). Completions come in
 * no promised order. Returns 0, -EAGAIN when max_jobs are already in the pool (done is never
 * called then), -EINVAL for a NULL work or done, or once the pool is closing. No allocation. */
int workpool_submit(struct workpool *wp, workpool_work_fn work, workpool_done_fn done, void *arg);

struct workpool_stats {
  uint64_t submitted, completed, rejected, cancelled;
  unsigned in_pool;   /* accepted and not yet delivered */
  unsigned queued;    /* of those, not started */
};
void workpool_get_stats(const struct workpool *wp, struct workpool_stats *st);

/* Stops the pool: jobs not started are answered with -ECANCELED, jobs running are waited for
 * (this blocks the loop for at most one job per thread) and answered with their status; every
 * answer runs from inside this call. Then closes the uv_poll_t and, from its close callback,
 * frees the pool and calls closed(arg) (closed may be NULL). Safe from inside a done callback;
 * wp must not be used after this call. NULL is a no-op. */
void workpool_close(struct workpool *wp, void (*closed)(void *arg), void *arg);

#endif
