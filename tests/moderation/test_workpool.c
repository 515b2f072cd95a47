/* test_workpool.c -- the bounded pool (moderation/workpool.c): every job answered exactly once
 * on the loop, the bound, closing with jobs queued, running and finished, priorities. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "moderation/workpool.h"

#define MAXJ 512

struct fixture {
  uv_loop_t loop;
  struct workpool *wp;
  uv_thread_t loop_thread;
  int done_count[MAXJ];
  int status[MAXJ];
  int answered;
  atomic_int started;
  atomic_int release; /* gated jobs wait for this */
  atomic_int nice_seen;
  int submit_in_done; /* what a submit from inside a done callback returned */
  bool closed;
};

static struct fixture *fx;

struct jarg {
  int id;
  int sleep_ms;
  bool gated;
};
static struct jarg args[MAXJ];

static int work(void *arg) {
  struct jarg *j = arg;
  atomic_fetch_add(&fx->started, 1);
  errno = 0;
  atomic_store(&fx->nice_seen, getpriority(PRIO_PROCESS, (id_t)gettid()));
  while (j->gated && !atomic_load(&fx->release))
    uv_sleep(1);
  if (j->sleep_ms)
    uv_sleep((unsigned)j->sleep_ms);
  return j->id * 10; /* a status the callback can recognise */
}

static void done(void *arg, int status) {
  struct jarg *j = arg;
  /* Answers run on the loop's thread. */
  uv_thread_t self = uv_thread_self();
  assert_true(uv_thread_equal(&self, &fx->loop_thread));
  fx->done_count[j->id]++;
  fx->status[j->id] = status;
  fx->answered++;
}

static void on_closed(void *arg) { ((struct fixture *)arg)->closed = true; }

static int setup(void **state) {
  fx = calloc(1, sizeof(*fx));
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  fx->loop_thread = uv_thread_self();
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (!fx->closed && fx->wp) {
    workpool_close(fx->wp, on_closed, fx);
  }
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_true(fx->closed || !fx->wp);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  free(fx);
  fx = NULL;
  return 0;
}

static void start(unsigned threads, unsigned max_jobs) {
  struct workpool_config c;
  workpool_config_default(&c);
  c.threads = threads;
  c.max_jobs = max_jobs;
  assert_int_equal(workpool_new(&fx->loop, &c, &fx->wp), 0);
}

static int submit(int id, int sleep_ms, bool gated) {
  args[id] = (struct jarg){id, sleep_ms, gated};
  return workpool_submit(fx->wp, work, done, &args[id]);
}

static void run_until(int answered) {
  while (fx->answered < answered)
    uv_run(&fx->loop, UV_RUN_ONCE);
}

static void test_bad_config(void **state) {
  (void)state;
  struct workpool_config c;
  struct workpool *wp = NULL;
  workpool_config_default(&c);
  c.threads = 0;
  assert_int_equal(workpool_new(&fx->loop, &c, &wp), -EINVAL);
  workpool_config_default(&c);
  c.max_jobs = 0;
  assert_int_equal(workpool_new(&fx->loop, &c, &wp), -EINVAL);
  assert_null(wp);
  workpool_close(NULL, NULL, NULL);
}

/* Many jobs on three threads, kept under the bound: each answered once with its own status. */
static void test_every_job_once(void **state) {
  (void)state;
  start(3, 16);
  int next = 0, total = 400;
  while (fx->answered < total) {
    while (next < total && submit(next, next % 7 == 0 ? 1 : 0, false) == 0)
      next++;
    uv_run(&fx->loop, UV_RUN_ONCE);
  }
  for (int i = 0; i < total; i++) {
    assert_int_equal(fx->done_count[i], 1);
    assert_int_equal(fx->status[i], i * 10);
  }
  struct workpool_stats st;
  workpool_get_stats(fx->wp, &st);
  assert_int_equal(st.submitted, total);
  assert_int_equal(st.completed, total);
  assert_int_equal(st.in_pool, 0);
  assert_int_equal(st.queued, 0);
  assert_true(st.rejected > 0); /* the loop above ran into the bound */
}

/* max_jobs counts queued, running and finished-not-yet-answered jobs. */
static void test_bound(void **state) {
  (void)state;
  start(2, 4);
  for (int i = 0; i < 4; i++)
    assert_int_equal(submit(i, 0, true), 0);
  assert_int_equal(submit(4, 0, false), -EAGAIN);
  assert_int_equal(workpool_submit(fx->wp, NULL, done, NULL), -EINVAL);
  struct workpool_stats st;
  workpool_get_stats(fx->wp, &st);
  assert_int_equal(st.in_pool, 4);
  assert_int_equal(st.rejected, 1);
  while (atomic_load(&fx->started) < 2)
    uv_sleep(1);
  workpool_get_stats(fx->wp, &st);
  assert_int_equal(st.queued, 2); /* two running, two waiting */
  atomic_store(&fx->release, 1);
  run_until(4);
  assert_int_equal(fx->done_count[4], 0);
  /* Room again. */
  assert_int_equal(submit(5, 0, false), 0);
  run_until(5);
  assert_int_equal(fx->status[5], 50);
}

/* Closing: the running job finishes and gets its status, queued ones get -ECANCELED, all
 * from inside workpool_close; the pool is freed after the loop runs. */
static void test_close_with_jobs_pending(void **state) {
  (void)state;
  start(1, 8);
  assert_int_equal(submit(0, 30, false), 0);
  for (int i = 1; i < 5; i++)
    assert_int_equal(submit(i, 0, false), 0);
  while (atomic_load(&fx->started) < 1)
    uv_sleep(1);
  workpool_close(fx->wp, on_closed, fx);
  assert_int_equal(fx->answered, 5);
  assert_int_equal(fx->done_count[0], 1);
  assert_int_equal(fx->status[0], 0);
  for (int i = 1; i < 5; i++) {
    assert_int_equal(fx->done_count[i], 1);
    assert_int_equal(fx->status[i], -ECANCELED);
  }
  assert_false(fx->closed);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_true(fx->closed);
}

static void done_then_submit(void *arg, int status) {
  done(arg, status);
  struct jarg *j = arg;
  if (j->id == 0)
    assert_int_equal(submit(1, 0, false), 0); /* the slot just freed is reusable */
}

static void done_then_close(void *arg, int status) {
  done(arg, status);
  workpool_close(fx->wp, on_closed, fx);
  /* Closing: no new work. */
  args[9] = (struct jarg){9, 0, false};
  fx->submit_in_done = workpool_submit(fx->wp, work, done, &args[9]);
}

/* A callback may submit (even when the pool was full) and may close the pool; jobs finished
 * meanwhile are still answered once, with their status. */
static void test_callbacks_submit_and_close(void **state) {
  (void)state;
  start(2, 1);
  args[0] = (struct jarg){0, 0, false};
  assert_int_equal(workpool_submit(fx->wp, work, done_then_submit, &args[0]), 0);
  run_until(2);
  assert_int_equal(fx->status[1], 10);

  workpool_close(fx->wp, NULL, NULL);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  memset(fx->done_count, 0, sizeof(fx->done_count));
  fx->answered = 0;
  atomic_store(&fx->started, 0);

  start(2, 4);
  args[0] = (struct jarg){0, 0, false};
  assert_int_equal(workpool_submit(fx->wp, work, done_then_close, &args[0]), 0);
  assert_int_equal(submit(1, 0, false), 0);
  assert_int_equal(submit(2, 100, false), 0);
  assert_int_equal(submit(3, 100, false), 0);
  /* Once 2 and 3 started, 0 and 1 are finished and not yet answered (the loop has not run);
   * 2 and 3 are still running when 0's callback closes the pool. */
  while (atomic_load(&fx->started) < 4)
    uv_sleep(1);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_true(fx->closed);
  for (int i = 0; i < 4; i++)
    assert_int_equal(fx->done_count[i], 1);
  assert_int_equal(fx->status[0], 0);
  assert_int_equal(fx->status[1], 10);
  assert_int_equal(fx->status[2], 20);
  assert_int_equal(fx->status[3], 30);
  assert_int_equal(fx->submit_in_done, -EINVAL);
  assert_int_equal(fx->done_count[9], 0);
}

/* Pool threads run at a lower priority than the loop's thread. */
static void test_nice(void **state) {
  (void)state;
  errno = 0;
  int mine = getpriority(PRIO_PROCESS, (id_t)gettid());
  start(1, 2);
  assert_int_equal(submit(0, 0, false), 0);
  run_until(1);
  int theirs = atomic_load(&fx->nice_seen);
  assert_true(theirs == mine + 10 || theirs == 19);
}

/* The first wake-up of the loop that answers anything: how many jobs it answered. */
static int first_delivery(void) {
  while (fx->answered == 0)
    uv_run(&fx->loop, UV_RUN_ONCE);
  return fx->answered;
}

/* A burst of jobs is answered in one wake-up of the loop, not one each: a thread that finishes a
 * job while more wait wakes the loop only once the queue is empty, or every eight jobs. */
static void test_burst_shares_wakeups(void **state) {
  (void)state;
  start(1, 32);
  assert_int_equal(submit(0, 0, true), 0);
  while (atomic_load(&fx->started) < 1)
    uv_sleep(1);
  for (int i = 1; i < 6; i++) /* queued behind the gated job, on the one thread */
    assert_int_equal(submit(i, 0, false), 0);
  atomic_store(&fx->release, 1);
  assert_int_equal(first_delivery(), 6);
  /* A longer burst: the loop hears of it after eight, and gets every one. */
  fx->answered = 0;
  atomic_store(&fx->release, 0);
  atomic_store(&fx->started, 0);
  assert_int_equal(submit(10, 0, true), 0);
  while (atomic_load(&fx->started) < 1)
    uv_sleep(1);
  for (int i = 11; i < 30; i++)
    assert_int_equal(submit(i, 0, false), 0);
  atomic_store(&fx->release, 1);
  assert_true(first_delivery() >= 8);
  run_until(20);
  for (int i = 10; i < 30; i++)
    assert_int_equal(fx->done_count[i], 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_job_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_with_jobs_pending, setup, teardown),
      cmocka_unit_test_setup_teardown(test_callbacks_submit_and_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nice, setup, teardown),
      cmocka_unit_test_setup_teardown(test_burst_shares_wakeups, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
