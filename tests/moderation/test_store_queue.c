/* test_store_queue.c -- the store's machinery: callbacks in submission order (reads see the
 * writes before them), the queue bound and back-pressure, submissions from callbacks, bad
 * arguments refused at once, store_close draining what was submitted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_fixture.h"

/* ---- ordering ---- */

struct seq {
  int next;     /* the sequence number the next callback must carry */
  int n;
  int64_t last_report;
  int failures;
};

struct seq_arg {
  struct seq *s;
  int k;
  uint64_t want_time; /* for reads: the newest report must be this one */
};

static void seq_check(struct seq_arg *a) {
  if (a->k != a->s->next)
    a->s->failures++;
  a->s->next++;
}

static void seq_on_id(void *arg, int status, int64_t id) {
  struct seq_arg *a = arg;
  seq_check(a);
  if (status != 0 || (id && id <= a->s->last_report && a->want_time))
    a->s->failures++;
  if (a->want_time)
    a->s->last_report = id;
}

static void seq_on_reports(void *arg, int status, const struct store_report *rows, size_t n) {
  struct seq_arg *a = arg;
  seq_check(a);
  /* A read sees every write submitted before it. */
  if (status != 0 || n != 1 || rows[0].time_ms != a->want_time)
    a->s->failures++;
}

static void test_ordering(void **state) {
  struct fx *f = *state;
  enum { N = 600 };
  struct seq s = {0};
  struct seq_arg *args = calloc(N, sizeof(*args));
  uint64_t last_time = 0;
  (void)state;

  for (int k = 0; k < N; k++) {
    args[k].s = &s;
    args[k].k = k;
    if (k % 3 == 2 && last_time) {
      struct store_report_query q = {.limit = 1};
      args[k].want_time = last_time;
      assert_int_equal(store_reports_list(f->st, &q, seq_on_reports, &args[k]), 0);
    } else if (k % 3 == 1) {
      struct store_audit a = {.time_ms = T0, .actor = "x", .action = "y"};
      assert_int_equal(store_audit_add(f->st, &a, seq_on_id, &args[k]), 0);
    } else {
      last_time = T0 + (uint64_t)k;
      struct store_report in = report(1, 2, last_time, "other");
      args[k].want_time = last_time;
      assert_int_equal(store_report_add(f->st, &in, seq_on_id, &args[k]), 0);
    }
    /* Let the loop turn now and then, so batches of every size happen. */
    if (k % 97 == 0)
      uv_run(&f->loop, UV_RUN_NOWAIT);
  }
  while (s.next < N)
    uv_run(&f->loop, UV_RUN_ONCE);
  assert_int_equal(s.failures, 0);
  assert_int_equal(store_pending(f->st), 0);
  free(args);
}

/* ---- the queue bound ---- */

struct chain {
  struct store *st;
  int left, done, refused;
};

static void chain_on_id(void *arg, int status, int64_t id) {
  struct chain *c = arg;
  (void)id;
  assert_int_equal(status, 0);
  c->done++;
  /* Callbacks may submit: the slot of this operation is free again. */
  if (c->left > 0) {
    struct store_audit a = {.time_ms = T0, .actor = "x", .action = "chain"};
    if (store_audit_add(c->st, &a, chain_on_id, c) == 0)
      c->left--;
    else
      c->refused++;
  }
}

static void test_queue_bound(void **state) {
  struct fx *f = *state;
  struct store_config cfg = {.queue_max = 8, .batch_max = 3};
  struct got g[9];
  (void)state;
  fx_close_store(f);
  assert_int_equal(fx_open(f, &cfg), 0);

  memset(g, 0, sizeof(g));
  struct store_audit a = {.time_ms = T0, .actor = "x", .action = "fill"};
  for (int i = 0; i < 8; i++)
    assert_int_equal(store_audit_add(f->st, &a, on_id, &g[i]), 0);
  assert_int_equal(store_pending(f->st), 8);
  /* Full: refused at once, whatever the thread has done meanwhile (a slot frees only when
   * its callback has run on this loop). */
  usleep(50000);
  assert_int_equal(store_audit_add(f->st, &a, on_id, &g[8]), -EAGAIN);
  struct store_report_query q = {.limit = 1};
  assert_int_equal(store_reports_list(f->st, &q, on_reports, NULL), -EAGAIN);
  for (int i = 0; i < 8; i++)
    fx_run_until(f, &g[i].done);
  assert_false(g[8].done);
  assert_int_equal(store_pending(f->st), 0);
  assert_int_equal(store_audit_add(f->st, &a, on_id, &g[8]), 0);
  fx_run_until(f, &g[8].done);

  /* Submitting from callbacks keeps the queue at its bound and never over it. */
  struct chain c = {.st = f->st, .left = 200};
  for (int i = 0; i < 8; i++)
    assert_int_equal(store_audit_add(f->st, &a, chain_on_id, &c), 0);
  while (c.done < 208)
    uv_run(&f->loop, UV_RUN_ONCE);
  assert_int_equal(c.refused, 0);
  assert_int_equal(store_pending(f->st), 0);
}

static void test_bad_arguments(void **state) {
  struct fx *f = *state;
  struct store_report in = report(1, 2, T0, NULL);
  char *big = malloc(STORE_TEXT_MAX + 2);
  struct got g = {0};
  (void)state;
  memset(big, 'a', STORE_TEXT_MAX + 1);
  big[STORE_TEXT_MAX + 1] = '\0';
  assert_int_equal(store_report_add(f->st, &in, on_id, &g), -EINVAL); /* no reason */
  in.reason = "";
  assert_int_equal(store_report_add(f->st, &in, on_id, &g), -EINVAL);
  in.reason = "spam";
  in.note = big;
  assert_int_equal(store_report_add(f->st, &in, on_id, &g), -EINVAL);
  in.note = NULL;
  in.time_ms = UINT64_MAX;
  assert_int_equal(store_report_add(f->st, &in, on_id, &g), -EINVAL);
  assert_int_equal(store_report_resolve(f->st, 0, "x", "y", T0, on_id, &g), -EINVAL);
  assert_int_equal(store_report_resolve(f->st, 1, "x", NULL, T0, on_id, &g), -EINVAL);
  struct store_report_query q = {.limit = 0};
  assert_int_equal(store_reports_list(f->st, &q, on_reports, NULL), -EINVAL);
  q.limit = STORE_PAGE_MAX + 1;
  assert_int_equal(store_reports_list(f->st, &q, on_reports, NULL), -EINVAL);
  struct ban b;
  memset(&b, 0, sizeof(b));
  b.by = "x";
  assert_int_equal(store_ban_add(f->st, &b, on_id, &g), -EINVAL); /* no target */
  assert_int_equal(ban_target_parse(BAN_IP, "192.0.2.1", &b.target), 0);
  b.created_ms = 10;
  b.expires_ms = 10; /* ends before it starts */
  assert_int_equal(store_ban_add(f->st, &b, on_id, &g), -EINVAL);
  b.expires_ms = 0;
  b.reason = big; /* longer than a ban set takes */
  assert_int_equal(store_ban_add(f->st, &b, on_id, &g), -EINVAL);
  b.reason = NULL;
  b.by = NULL;
  assert_int_equal(store_ban_add(f->st, &b, on_id, &g), -EINVAL);
  assert_int_equal(store_pending(f->st), 0);
  free(big);

  /* After store_close, nothing is taken; what was submitted before still completes. */
  in.note = NULL;
  in.time_ms = T0;
  assert_int_equal(store_report_add(f->st, &in, on_id, &g), 0);
  f->closed = false;
  store_close(f->st, fx__closed, f);
  assert_int_equal(store_report_add(f->st, &in, on_id, NULL), -ESHUTDOWN);
  fx_run_until(f, &f->closed);
  assert_true(g.done);
  assert_int_equal(g.status, 0);
  f->st = NULL;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_ordering, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_queue_bound, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_bad_arguments, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
