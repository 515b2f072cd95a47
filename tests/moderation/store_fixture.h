/* store_fixture.h -- a loop, a data_dir and a store for the store tests; helpers that run the
 * loop until callbacks arrive, and collectors that copy results out of callbacks. */
#ifndef TANDEM_TEST_STORE_FIXTURE_H
#define TANDEM_TEST_STORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#include "moderation/store.h"
#include "tmpdir_fixture.h"

struct fx {
  uv_loop_t loop;
  char dir[PATH_MAX];
  struct store *st;
  bool closed;
};

static void fx__closed(void *arg) { ((struct fx *)arg)->closed = true; }

/* Runs the loop until *flag is true (the store's async keeps the loop alive meanwhile). */
static inline void fx_run_until(struct fx *f, const bool *flag) {
  while (!*flag)
    uv_run(&f->loop, UV_RUN_ONCE);
}

static inline int fx_open(struct fx *f, const struct store_config *extra) {
  struct store_config c;
  const char *why = NULL;
  memset(&c, 0, sizeof(c));
  if (extra)
    c = *extra;
  c.data_dir = f->dir;
  return store_open_sqlite(&f->loop, &c, &f->st, &why);
}

/* Closes the store, runs the loop until its done callback, checks nothing is left. */
static inline void fx_close_store(struct fx *f) {
  f->closed = false;
  store_close(f->st, fx__closed, f);
  fx_run_until(f, &f->closed);
  f->st = NULL;
}

static inline int fx_setup(void **state) {
  struct fx *f = calloc(1, sizeof(*f));
  if (!f || uv_loop_init(&f->loop) != 0 || !tmpdir_make(f->dir))
    return -1;
  if (fx_open(f, NULL) != 0)
    return -1;
  *state = f;
  return 0;
}

static inline int fx_teardown(void **state) {
  struct fx *f = *state;
  if (f->st)
    fx_close_store(f);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&f->loop); /* every handle closed: nothing leaked on the loop */
  tmpdir_remove(f->dir);
  free(f);
  return rc == 0 ? 0 : -1;
}

#define T0 1700000000000ULL

/* ---- collecting results ---- */

struct got {
  bool done;
  int status;
  int64_t id;
};

static inline void on_id(void *arg, int status, int64_t id) {
  struct got *g = arg;
  assert_false(g->done); /* exactly once */
  g->done = true;
  g->status = status;
  g->id = id;
}

/* Copies of rows, with their strings, taken inside the callback (results are borrowed). */
struct rows {
  bool done;
  int status;
  size_t n;
  struct store_report rep[STORE_PAGE_MAX];
  struct ban ban[STORE_PAGE_MAX];
  struct store_audit aud[STORE_PAGE_MAX];
  struct store_device dev;
  char *strs[STORE_PAGE_MAX * 8];
  size_t nstrs;
};

static inline const char *keep(struct rows *r, const char *s) {
  if (!s)
    return NULL;
  char *c = strdup(s);
  assert_non_null(c);
  r->strs[r->nstrs++] = c;
  return c;
}

static inline void rows_free(struct rows *r) {
  for (size_t i = 0; i < r->nstrs; i++)
    free(r->strs[i]);
  free(r);
}

static inline struct rows *rows_new(void) {
  struct rows *r = calloc(1, sizeof(*r));
  assert_non_null(r);
  return r;
}

static inline void on_reports(void *arg, int status, const struct store_report *rows, size_t n) {
  struct rows *r = arg;
  r->done = true;
  r->status = status;
  r->n = n;
  for (size_t i = 0; i < n; i++) {
    r->rep[i] = rows[i];
    r->rep[i].reason = keep(r, rows[i].reason);
    r->rep[i].note = keep(r, rows[i].note);
    r->rep[i].resolution = keep(r, rows[i].resolution);
    r->rep[i].resolved_by = keep(r, rows[i].resolved_by);
    r->rep[i].evidence_jpeg = keep(r, rows[i].evidence_jpeg);
    r->rep[i].evidence_webm = keep(r, rows[i].evidence_webm);
  }
}

static inline void on_bans(void *arg, int status, const struct ban *rows, size_t n) {
  struct rows *r = arg;
  r->done = true;
  r->status = status;
  r->n = n;
  for (size_t i = 0; i < n; i++) {
    r->ban[i] = rows[i];
    r->ban[i].reason = keep(r, rows[i].reason);
    r->ban[i].by = keep(r, rows[i].by);
  }
}

static inline void on_audit(void *arg, int status, const struct store_audit *rows, size_t n) {
  struct rows *r = arg;
  r->done = true;
  r->status = status;
  r->n = n;
  for (size_t i = 0; i < n; i++) {
    r->aud[i] = rows[i];
    r->aud[i].actor = keep(r, rows[i].actor);
    r->aud[i].action = keep(r, rows[i].action);
    r->aud[i].target = keep(r, rows[i].target);
    r->aud[i].details_json = keep(r, rows[i].details_json);
  }
}

static inline void on_device(void *arg, int status, const struct store_device *d) {
  struct rows *r = arg;
  r->done = true;
  r->status = status;
  r->n = d ? 1 : 0;
  if (d)
    r->dev = *d;
}

/* ---- synchronous wrappers for the tests ---- */

#define WAIT_ID(f, call)                                                                   \
  ({                                                                                       \
    struct got g_ = {0};                                                                   \
    assert_int_equal((call), 0);                                                           \
    fx_run_until((f), &g_.done);                                                           \
    g_;                                                                                    \
  })

static inline struct device_id dev(uint8_t n) {
  struct device_id d;
  memset(d.b, n, sizeof(d.b));
  return d;
}

static inline struct store_report report(uint8_t reporter, uint8_t reported, uint64_t t,
                                  const char *reason) {
  struct store_report r;
  memset(&r, 0, sizeof(r));
  r.time_ms = t;
  r.reporter = dev(reporter);
  r.reported = dev(reported);
  assert_int_equal(netaddr_parse("198.51.100.7", &r.reporter_ip), 0);
  assert_int_equal(netaddr_parse("2001:db8::42", &r.reported_ip), 0);
  r.reason = reason;
  return r;
}

static inline int64_t add_report(struct fx *f, const struct store_report *r) {
  struct got g = WAIT_ID(f, store_report_add(f->st, r, on_id, &g_));
  assert_int_equal(g.status, 0);
  assert_true(g.id > 0);
  return g.id;
}

static inline struct rows *get_report(struct fx *f, int64_t id) {
  struct rows *r = rows_new();
  assert_int_equal(store_report_get(f->st, id, on_reports, r), 0);
  fx_run_until(f, &r->done);
  return r;
}

static inline struct rows *list_reports(struct fx *f, const struct store_report_query *q) {
  struct rows *r = rows_new();
  assert_int_equal(store_reports_list(f->st, q, on_reports, r), 0);
  fx_run_until(f, &r->done);
  assert_int_equal(r->status, 0);
  return r;
}

static inline struct rows *list_bans(struct fx *f, const struct store_ban_query *q) {
  struct rows *r = rows_new();
  assert_int_equal(store_bans_list(f->st, q, on_bans, r), 0);
  fx_run_until(f, &r->done);
  assert_int_equal(r->status, 0);
  return r;
}

static inline struct rows *list_audit(struct fx *f, int64_t before, size_t limit) {
  struct rows *r = rows_new();
  assert_int_equal(store_audit_list(f->st, before, limit, on_audit, r), 0);
  fx_run_until(f, &r->done);
  assert_int_equal(r->status, 0);
  return r;
}

static inline struct rows *get_device(struct fx *f, uint8_t n) {
  struct rows *r = rows_new();
  struct device_id d = dev(n);
  assert_int_equal(store_device_get(f->st, &d, on_device, r), 0);
  fx_run_until(f, &r->done);
  return r;
}

#endif
