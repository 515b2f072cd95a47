/* test_httpd_defer.c -- deferred replies: answered later, cancelled once, in order, timed out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "httpd_fixture.h"

/* ---- the route owner: a job per deferred request, answered from a timer ---- */

/* What the owner saw; written on the loop thread, read by the client only
 * through /stats and by the test after the join. */
struct dstate {
  int cancels;       /* on_cancel calls */
  int reentrant;     /* on_cancel calls from inside one of our httpd calls */
  int late_cancels;  /* on_cancel calls after httpd_close's done */
  int answered;      /* httpd_deferred_send calls */
  int jobs;          /* jobs alive */
  int refused;       /* httpd_defer calls that had to return NULL and did */
  bool in_call;      /* inside an httpd_* call made by the owner */
};

struct job {
  struct dstate *ds;
  struct fx *f;
  struct httpd_deferred *d; /* NULL once answered or cancelled */
  uv_timer_t timer;
  char body[32];
  bool close_first; /* httpd_close just before answering */
};

static void job_closed(uv_handle_t *h) {
  free(h->data);
}

static void job_end(struct job *j) {
  j->ds->jobs--;
  uv_close((uv_handle_t *)&j->timer, job_closed);
}

static void job_cancel(void *arg) {
  struct job *j = arg;
  j->ds->cancels++;
  if (j->ds->in_call)
    j->ds->reentrant++;
  if (j->f->done_called)
    j->ds->late_cancels++;
  j->d = NULL; /* already freed by httpd: never used again */
  job_end(j);
}

static void job_answer(uv_timer_t *t) {
  struct job *j = t->data;
  struct httpd_reply *r = httpd_deferred_reply(j->d);
  httpd_reply_status(r, 200);
  httpd_reply_header(r, "X-Late", "1");
  httpd_reply_body(r, "text/plain", j->body, strlen(j->body), true);
  j->ds->in_call = true;
  if (j->close_first)
    httpd_close(j->f->s, on_done, j->f);
  httpd_deferred_send(j->d);
  j->ds->in_call = false;
  j->d = NULL;
  j->ds->answered++;
  job_end(j);
}

/* The value of key in a query like "ms=50&b=x", or def. */
static int qint(const char *q, const char *key, int def) {
  size_t n = strlen(key);
  for (; q && *q; q = strchr(q, '&') ? strchr(q, '&') + 1 : NULL)
    if (!strncmp(q, key, n) && q[n] == '=')
      return atoi(q + n + 1);
  return def;
}

/* GET /defer?ms=M&t=T&b=B: the reply is deferred with timeout T (0 = the
 * default) and answered "200 B" after M ms, or never when there is no ms.
 * /defer-now answers inside on_request, /defer-close calls httpd_close
 * after deferring, /defer-close-send then answers too, /defer-close-later
 * calls httpd_close just before answering from the timer. /stats tells
 * what the owner has seen. */
static bool route(struct fx *f, const struct httpd_request *req, struct httpd_reply *rep) {
  struct dstate *ds = f->user;
  struct job *j;
  const char *b;
  char tmp[160];
  int ms;
  if (!strcmp(req->path, "/stats")) {
    snprintf(tmp, sizeof(tmp), "cancels=%d answered=%d jobs=%d", ds->cancels,
             ds->answered, ds->jobs);
    httpd_reply_status(rep, 200);
    httpd_reply_body(rep, "text/plain", tmp, strlen(tmp), true);
    return true;
  }
  if (strncmp(req->path, "/defer", 6))
    return false;
  j = calloc(1, sizeof(*j));
  assert_non_null(j);
  j->ds = ds;
  j->f = f;
  assert_int_equal(uv_timer_init(&f->loop, &j->timer), 0);
  j->timer.data = j;
  b = strstr(req->query, "b=");
  snprintf(j->body, sizeof(j->body), "%.*s", b ? (int)strcspn(b + 2, "&") : 5,
           b ? b + 2 : "later");
  ds->jobs++;
  /* Set before deferring: carried over into the deferred reply. */
  httpd_reply_header(rep, "X-Early", "1");
  if (!httpd_defer(rep, 0, NULL, j)) /* on_cancel is required */
    ds->refused++;
  ds->in_call = true;
  j->d = httpd_defer(rep, (unsigned)qint(req->query, "t", 0), job_cancel, j);
  ds->in_call = false;
  assert_non_null(j->d);
  /* rep is spent now: these change nothing. */
  if (!httpd_defer(rep, 0, job_cancel, j))
    ds->refused++;
  httpd_reply_status(rep, 500);
  httpd_reply_header(rep, "X-Ignored", "1");
  if (!strcmp(req->path, "/defer-now")) {
    job_answer(&j->timer);
  } else if (!strcmp(req->path, "/defer-close")) {
    ds->in_call = true;
    httpd_close(f->s, on_done, f);
    ds->in_call = false;
  } else if (!strcmp(req->path, "/defer-close-send")) {
    ds->in_call = true;
    httpd_close(f->s, on_done, f);
    ds->in_call = false;
    job_answer(&j->timer); /* discarded: on_cancel will not come */
  } else if ((ms = qint(req->query, "ms", -1)) >= 0) {
    j->close_first = !strcmp(req->path, "/defer-close-later");
    uv_timer_start(&j->timer, job_answer, (uint64_t)ms, 0);
  }
  return true;
}

static struct fx *dfx_new(struct dstate *ds) {
  struct fx *f = fx_new();
  memset(ds, 0, sizeof(*ds));
  f->route = route;
  f->user = ds;
  return f;
}

/* Every job ended (so no leak), none re-entrantly, and every defer call
 * that had to fail did (two per /defer request). */
static void check_owner(struct fx *f, struct dstate *ds, int defers) {
  assert_int_equal(ds->jobs, 0);
  assert_int_equal(ds->reentrant, 0);
  assert_int_equal(ds->late_cancels, 0);
  assert_int_equal(ds->refused, 2 * defers);
}

/* ---- client helpers ---- */

static bool get(struct cli *c, const char *path, struct resp *r) {
  char req[256];
  snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
  return cli_sends(c, req) && read_response(c, r, false);
}

/* Asks /stats on a fresh connection until it shows `want` (up to 5 s). */
static bool stats_wait(struct fx *f, const char *want) {
  struct resp r;
  int i;
  for (i = 0; i < 500; i++) {
    struct cli *c = cli_connect(f);
    bool ok = c && get(c, "/stats", &r);
    cli_free(c);
    if (ok && strstr(r.body, want))
      return true;
    usleep(10000);
  }
  return false;
}

/* True when the server closes the connection without sending anything. */
static bool closed_silently(struct cli *c) {
  char tmp[256];
  ssize_t r = recv(c->fd, tmp, sizeof(tmp), 0);
  return r == 0 || (r < 0 && errno == ECONNRESET);
}

/* ---- tests ---- */

static void cl_later(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  CHECK(f, c);
  CHECK(f, get(c, "/defer?ms=50&b=late", &r));
  CHECK(f, r.status == 200 && !strcmp(r.body, "late"));
  CHECK(f, strstr(r.head, "\r\nX-Early: 1\r\n") && strstr(r.head, "\r\nX-Late: 1\r\n"));
  CHECK(f, !strstr(r.head, "X-Ignored") && !strstr(r.head, "Connection"));
  CHECK(f, get(c, "/hello", &r)); /* keep-alive */
  CHECK(f, r.status == 200 && !strcmp(r.body, "hello world"));
  CHECK(f, get(c, "/defer-now?b=now", &r));
  CHECK(f, r.status == 200 && !strcmp(r.body, "now"));
  /* HEAD: the headers of the GET, no body. */
  CHECK(f, cli_sends(c, "HEAD /defer?ms=20&b=late HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(c, &r, true));
  CHECK(f, r.status == 200 && strstr(r.head, "\r\nContent-Length: 4\r\n"));
  CHECK(f, get(c, "/hello", &r)); /* no stray HEAD body before it */
  CHECK(f, r.status == 200 && !strcmp(r.body, "hello world"));
  /* HTTP/1.0 keep-alive. */
  CHECK(f, cli_sends(c, "GET /defer?ms=10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, strstr(r.head, "\r\nConnection: keep-alive\r\n"));
  /* The idle timeout (200 ms) does not cut a reply deferred for longer. */
  CHECK(f, get(c, "/defer?ms=500&t=2000&b=slow", &r));
  CHECK(f, r.status == 200 && !strcmp(r.body, "slow"));
  /* Connection: close is honoured after the deferred answer. */
  CHECK(f, cli_sends(c, "GET /defer?ms=10 HTTP/1.1\r\nConnection: close\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && strstr(r.head, "\r\nConnection: close\r\n"));
  CHECK(f, wait_eof(c));
  cli_free(c);
  /* HTTP/1.0 without keep-alive closes too. */
  c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /defer?ms=10 HTTP/1.0\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && strstr(r.head, "\r\nConnection: close\r\n"));
  CHECK(f, wait_eof(c));
  cli_free(c);
}

static void test_defer_answer_later(void **state) {
  struct dstate ds;
  struct fx *f = dfx_new(&ds);
  f->cfg.idle_timeout_ms = 200;
  run(f, cl_later);
  assert_int_equal(ds.answered, 7);
  assert_int_equal(ds.cancels, 0);
  check_owner(f, &ds, 7);
  free(f);
}

static void cl_pipelined(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  static char many[1000 * 24 + 64];
  size_t n = 0;
  int i;
  CHECK(f, c);
  /* Later requests would be ready first; answers still come in order. */
  CHECK(f, cli_sends(c, "GET /defer?ms=80&b=one HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n"
                        "GET /defer?ms=1&b=three HTTP/1.1\r\n\r\n"
                        "HEAD /defer?ms=0&b=four HTTP/1.1\r\n\r\n"
                        "GET /defer-now?b=five HTTP/1.1\r\n\r\nGET /missing HTTP/1.1\r\n\r\nGE"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "one"));
  CHECK(f, cli_sends(c, "T /echo?n=7 HTTP/1.1\r\nContent-Length: 1\r\n\r\nQ"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "hello world"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "three"));
  CHECK(f, read_response(c, &r, true));
  CHECK(f, r.status == 200 && strstr(r.head, "\r\nContent-Length: 4\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "five"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 404);
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "Q") && strstr(r.head, "X-Query: n=7\r\n"));
  /* More pipelined input than the server holds (16 KiB) behind one
   * deferred request: it stops reading, then catches up in order. */
  n += (size_t)sprintf(many, "GET /defer?ms=100&b=first HTTP/1.1\r\n\r\n");
  for (i = 0; i < 1000; i++)
    n += (size_t)sprintf(many + n, "GET /ip?%03d HTTP/1.1\r\n\r\n", i);
  CHECK(f, cli_send(c, many, n));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "first"));
  for (i = 0; i < 1000; i++) {
    CHECK(f, read_response(c, &r, false));
    CHECK(f, r.status == 200 && !strcmp(r.body, "127.0.0.1"));
  }
  /* A deferred request that times out, with one behind it. */
  CHECK(f, cli_sends(c, "GET /defer?t=50 HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 504);
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "hello world"));
  cli_free(c);
}

static void test_defer_pipelined_in_order(void **state) {
  struct dstate ds;
  struct fx *f = dfx_new(&ds);
  run(f, cl_pipelined);
  assert_int_equal(f->requests, 1000 + 10);
  assert_int_equal(ds.answered, 5);
  assert_int_equal(ds.cancels, 1);
  check_owner(f, &ds, 6);
  free(f);
}

static void cl_timeout(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  CHECK(f, c);
  CHECK(f, get(c, "/defer?t=100", &r)); /* never answered by its owner */
  CHECK(f, r.status == 504 && !strcmp(r.body, "Gateway Timeout"));
  CHECK(f, !strstr(r.head, "X-Early") && !strstr(r.head, "Connection"));
  CHECK(f, stats_wait(f, "cancels=1 answered=0 jobs=0"));
  CHECK(f, get(c, "/hello", &r)); /* the connection lives on */
  CHECK(f, r.status == 200);
  /* The owner would answer after the timeout: on_cancel stops it first. */
  CHECK(f, get(c, "/defer?t=50&ms=300", &r));
  CHECK(f, r.status == 504);
  usleep(400 * 1000);
  CHECK(f, cli_sends(c, "GET /defer?t=50 HTTP/1.1\r\nConnection: close\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 504 && strstr(r.head, "\r\nConnection: close\r\n"));
  CHECK(f, wait_eof(c));
  cli_free(c);
}

static void test_defer_timeout(void **state) {
  struct dstate ds;
  struct fx *f = dfx_new(&ds);
  run(f, cl_timeout);
  assert_int_equal(ds.cancels, 3);
  assert_int_equal(ds.answered, 0);
  check_owner(f, &ds, 3);
  free(f);
}

static void cl_client_gone(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  CHECK(f, c);
  CHECK(f, get(c, "/hello", &r));
  CHECK(f, cli_sends(c, "GET /defer?b=x HTTP/1.1\r\n\r\n"));
  CHECK(f, stats_wait(f, "cancels=0 answered=0 jobs=1"));
  cli_free(c); /* closes while the reply is deferred */
  CHECK(f, stats_wait(f, "cancels=1 answered=0 jobs=0"));
  /* A half-close counts as gone too: the server drops the connection. */
  c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /defer?b=x HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n"));
  CHECK(f, stats_wait(f, "cancels=1 answered=0 jobs=1"));
  CHECK(f, shutdown(c->fd, SHUT_WR) == 0);
  CHECK(f, closed_silently(c));
  cli_free(c);
  CHECK(f, stats_wait(f, "cancels=2 answered=0 jobs=0"));
}

static void test_defer_client_closes(void **state) {
  struct dstate ds;
  struct fx *f = dfx_new(&ds);
  run(f, cl_client_gone);
  assert_int_equal(ds.cancels, 2);
  check_owner(f, &ds, 2);
  free(f);
}

static void cl_server_closes(struct fx *f) {
  struct cli *c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /defer HTTP/1.1\r\n\r\n"));
  CHECK(f, stats_wait(f, "cancels=0 answered=0 jobs=1"));
  client_done(f); /* httpd_close from the loop thread, reply still deferred */
  CHECK(f, wait_eof(c));
  cli_free(c);
}

static void test_defer_httpd_close(void **state) {
  struct dstate ds;
  struct fx *f = dfx_new(&ds);
  run(f, cl_server_closes);
  assert_int_equal(ds.cancels, 1);
  check_owner(f, &ds, 1);
  free(f);
}

static void cl_close_in_handler(struct fx *f) {
  struct cli *c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /defer-close HTTP/1.1\r\n\r\n"));
  CHECK(f, wait_eof(c));
  cli_free(c);
}

static void cl_close_then_send(struct fx *f) {
  struct cli *c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /defer-close-send HTTP/1.1\r\n\r\n"));
  CHECK(f, closed_silently(c)); /* the answer was discarded */
  cli_free(c);
}

static void cl_close_later_then_send(struct fx *f) {
  struct cli *c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /defer-close-later?ms=20 HTTP/1.1\r\n\r\n"));
  CHECK(f, closed_silently(c));
  cli_free(c);
}

static void test_defer_close_by_owner(void **state) {
  struct dstate ds;
  struct fx *f = dfx_new(&ds);
  /* on_cancel comes later, from the close callback, not from httpd_close. */
  run(f, cl_close_in_handler);
  assert_int_equal(ds.cancels, 1);
  check_owner(f, &ds, 1);
  free(f);
  /* Answering once the connection is gone, before on_cancel: a no-op that
   * ends the handle, so on_cancel never comes. */
  f = dfx_new(&ds);
  run(f, cl_close_then_send);
  assert_int_equal(ds.cancels, 0);
  assert_int_equal(ds.answered, 1);
  check_owner(f, &ds, 1);
  free(f);
  /* The same from a timer, outside any on_request. */
  f = dfx_new(&ds);
  run(f, cl_close_later_then_send);
  assert_int_equal(ds.cancels, 0);
  assert_int_equal(ds.answered, 1);
  check_owner(f, &ds, 1);
  free(f);
}

static void cl_limits(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  char req[2048];
  CHECK(f, c);
  /* Requests over the limits, held behind a deferred one, are refused
   * after its answer just as they would be without it. */
  CHECK(f, cli_sends(c, "GET /defer?ms=30&b=ok HTTP/1.1\r\n\r\n"
                        "POST /echo HTTP/1.1\r\nContent-Length: 101\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "ok"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 413 && strstr(r.head, "\r\nConnection: close\r\n"));
  CHECK(f, wait_eof(c));
  cli_free(c);
  c = cli_connect(f);
  CHECK(f, c);
  snprintf(req, sizeof(req), "GET /defer?ms=10 HTTP/1.1\r\n\r\n"
                             "GET /hello HTTP/1.1\r\nX-Big: %.*s\r\n\r\n", 1100, big);
  CHECK(f, cli_sends(c, req));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200);
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 431);
  CHECK(f, wait_eof(c));
  cli_free(c);
  /* The route is never reached. */
  expect_error(f, "POST /defer?ms=1 HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413);
}

static void test_defer_limits(void **state) {
  struct dstate ds;
  struct fx *f = dfx_new(&ds);
  f->cfg.max_header_bytes = 1024;
  f->cfg.max_body_bytes = 100;
  run(f, cl_limits);
  assert_int_equal(ds.answered, 2);
  check_owner(f, &ds, 2);
  free(f);
}

static void test_defer_misuse(void **state) {
  struct httpd_reply *none = NULL;
  assert_null(httpd_defer(none, 0, job_cancel, NULL));
  assert_null(httpd_deferred_reply(NULL));
  httpd_deferred_send(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defer_answer_later),
    cmocka_unit_test(test_defer_pipelined_in_order),
    cmocka_unit_test(test_defer_timeout),
    cmocka_unit_test(test_defer_client_closes),
    cmocka_unit_test(test_defer_httpd_close),
    cmocka_unit_test(test_defer_close_by_owner),
    cmocka_unit_test(test_defer_limits),
    cmocka_unit_test(test_defer_misuse),
  };
  memset(big, 'b', sizeof(big));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
