/* test_store_crash.c -- a report acknowledged is a report kept: a child process submits
 * reports and is killed with SIGKILL right after an acknowledgement; the parent reopens the
 * store and finds every report the child saw acknowledged. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_fixture.h"

struct child {
  int fd;        /* the pipe to the parent */
  int acked;
  int kill_at;   /* SIGKILL after this many acknowledgements */
};

static void child_on_ack(void *arg, int status, int64_t id) {
  struct child *c = arg;
  if (status != 0)
    _exit(3);
  /* The parent learns of the acknowledgement before anything else can happen: a pipe write
   * of 8 bytes is atomic, and SIGKILL cannot interrupt a finished write. */
  if (write(c->fd, &id, sizeof(id)) != (ssize_t)sizeof(id))
    _exit(4);
  if (++c->acked == c->kill_at)
    kill(getpid(), SIGKILL);
}

/* In the child: opens the store, submits n reports (all at once, so later ones are still in
 * flight when an earlier acknowledgement arrives), and runs the loop until killed. */
static void child_main(const char *dir, int fd, int n, int kill_at) {
  uv_loop_t loop;
  struct store *st;
  struct store_config cfg = {.data_dir = dir, .batch_max = 16};
  struct child c = {.fd = fd, .kill_at = kill_at};
  char reason[32];

  if (uv_loop_init(&loop) || store_open_sqlite(&loop, &cfg, &st, NULL))
    _exit(2);
  for (int i = 0; i < n; i++) {
    struct store_report r;
    memset(&r, 0, sizeof(r));
    r.time_ms = T0 + (uint64_t)i;
    memset(r.reporter.b, 1, sizeof(r.reporter.b));
    memcpy(r.reported.b, &i, sizeof(i));
    netaddr_parse("192.0.2.1", &r.reporter_ip);
    snprintf(reason, sizeof(reason), "crash-%d", i);
    r.reason = reason;
    r.evidence_jpeg = "evidence/x.jpg";
    if (store_report_add(st, &r, child_on_ack, &c) != 0)
      _exit(5);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  _exit(6); /* never: the kill comes first */
}

struct found {
  bool done;
  int status;
  size_t n;
  int64_t ids[STORE_PAGE_MAX];
  int bad;
};

static void on_page(void *arg, int status, const struct store_report *rows, size_t n) {
  struct found *f = arg;
  char want[32];
  f->done = true;
  f->status = status;
  f->n = n;
  for (size_t i = 0; i < n; i++) {
    int k;
    memcpy(&k, rows[i].reported.b, sizeof(k));
    snprintf(want, sizeof(want), "crash-%d", k);
    if (strcmp(rows[i].reason, want) != 0 || rows[i].time_ms != T0 + (uint64_t)k ||
        !rows[i].evidence_jpeg || strcmp(rows[i].evidence_jpeg, "evidence/x.jpg") != 0)
      f->bad++;
    f->ids[i] = rows[i].id;
  }
}

static void run_crash(int n, int kill_at) {
  struct fx f;
  int fds[2];
  int64_t acked[STORE_PAGE_MAX];
  int nacked = 0;

  memset(&f, 0, sizeof(f));
  assert_non_null(tmpdir_make(f.dir));
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    child_main(f.dir, fds[1], n, kill_at);
  }
  close(fds[1]);
  int64_t id;
  while (read(fds[0], &id, sizeof(id)) == (ssize_t)sizeof(id))
    acked[nacked++] = id;
  close(fds[0]);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGKILL);
  assert_int_equal(nacked, kill_at);

  /* Reopen (SQLite recovers the WAL) and read everything back. */
  assert_int_equal(uv_loop_init(&f.loop), 0);
  assert_int_equal(fx_open(&f, NULL), 0);
  struct found *page = calloc(1, sizeof(*page));
  struct store_report_query q = {.oldest_first = true, .limit = STORE_PAGE_MAX};
  assert_int_equal(store_reports_list(f.st, &q, on_page, page), 0);
  fx_run_until(&f, &page->done);
  assert_int_equal(page->status, 0);
  assert_int_equal(page->bad, 0);
  /* Every acknowledged report is there, whole; reports in flight may or may not be. */
  assert_true(page->n >= (size_t)nacked);
  assert_true(page->n <= (size_t)n);
  for (int i = 0; i < nacked; i++) {
    bool there = false;
    for (size_t j = 0; j < page->n && !there; j++)
      there = page->ids[j] == acked[i];
    assert_true(there);
  }
  free(page);
  fx_close_store(&f);
  assert_int_equal(uv_loop_close(&f.loop), 0);
  tmpdir_remove(f.dir);
}

/* Killed right after the last acknowledgement: all N are there. */
static void test_kill_after_last_ack(void **state) {
  (void)state;
  run_crash(200, 200);
}

/* Killed in the middle of a burst, with reports still queued and a batch perhaps being
 * written: every acknowledged one is there. */
static void test_kill_mid_burst(void **state) {
  (void)state;
  for (int round = 0; round < 5; round++)
    run_crash(300, 37 + round * 41);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kill_after_last_ack),
      cmocka_unit_test(test_kill_mid_burst),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
