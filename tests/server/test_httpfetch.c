/* test_httpfetch.c -- HTTP requests from a loop against our own httpd on the same loop:
 * methods, headers and bodies both ways, a bound on the answer, a timeout that leaves the
 * other requests alone, a closed port, bad requests refused, cancel, close with requests out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/httpd.h"
#include "moderation/httpfetch.h"

#define BIG 100000

struct world {
  uv_loop_t loop;
  struct httpd *s;
  struct httpfetch *f;
  int port;
  char url[64];
  int never_cancels; /* /never requests httpd gave up on */
  bool httpd_done, fetch_done;
};

/* One request's outcome. */
struct got {
  bool called;
  int calls;
  int err;
  int status;
  char ctype[128];
  char *body;
  size_t len;
  uint64_t at;
};

static void never_cancel(void *arg) { ((struct world *)arg)->never_cancels++; }

/* /echo: "METHOD body [X-Test]"; /big: BIG bytes; /never: deferred, never answered;
 * /teapot: 418. */
static void on_request(void *arg, const struct httpd_request *req, struct httpd_reply *rep) {
  struct world *w = arg;
  if (!strcmp(req->path, "/echo")) {
    char out[512];
    const char *h = httpd_header(req, "X-Test");
    snprintf(out, sizeof(out), "%s %.*s [%s]", req->method, (int)req->body_len, req->body,
             h ? h : "");
    httpd_reply_status(rep, 200);
    httpd_reply_body(rep, "text/plain", out, strlen(out), true);
  } else if (!strcmp(req->path, "/big")) {
    static char big[BIG];
    memset(big, 'b', sizeof(big));
    httpd_reply_status(rep, 200);
    httpd_reply_body(rep, "application/octet-stream", big, sizeof(big), true);
  } else if (!strcmp(req->path, "/never")) {
    assert_non_null(httpd_defer(rep, 60000, never_cancel, w));
  } else {
    httpd_reply_status(rep, 418);
  }
}

static void on_got(void *arg, int err, const struct httpfetch_resp *r) {
  struct got *g = arg;
  g->called = true;
  g->calls++;
  g->err = err;
  if (r) {
    g->status = r->status;
    snprintf(g->ctype, sizeof(g->ctype), "%s", r->ctype);
    g->body = malloc(r->len + 1);
    memcpy(g->body, r->body, r->len);
    g->body[r->len] = 0;
    g->len = r->len;
  }
}

static void httpd_closed(void *arg) { ((struct world *)arg)->httpd_done = true; }
static void fetch_closed(void *arg) { ((struct world *)arg)->fetch_done = true; }

static int setup(void **state) {
  struct world *w = calloc(1, sizeof(*w));
  assert_int_equal(uv_loop_init(&w->loop), 0);
  struct httpd_config c;
  httpd_config_default(&c);
  c.host = "127.0.0.1";
  c.port = 0;
  struct httpd_handlers h = {.on_request = on_request, .arg = w};
  w->s = httpd_new(&w->loop, &c, &h);
  assert_non_null(w->s);
  assert_int_equal(httpd_listen(w->s), 0);
  w->port = httpd_port(w->s);
  snprintf(w->url, sizeof(w->url), "http://127.0.0.1:%d", w->port);
  assert_int_equal(httpfetch_new(&w->loop, 4, &w->f), 0);
  *state = w;
  return 0;
}

/* Closes what is open and checks every handle is gone (STYLE rule 9). */
static int teardown(void **state) {
  struct world *w = *state;
  if (w->f)
    httpfetch_close(w->f, fetch_closed, w);
  httpd_close(w->s, httpd_closed, w);
  while (!w->httpd_done || (w->f && !w->fetch_done))
    uv_run(&w->loop, UV_RUN_ONCE);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&w->loop), 0);
  free(w);
  return 0;
}

/* Runs the loop until every g is answered (or 10 s). */
static void wait_all(struct world *w, struct got **g, size_t n) {
  uint64_t t0 = uv_now(&w->loop);
  for (;;) {
    bool all = true;
    for (size_t i = 0; i < n; i++) {
      if (g[i]->called && !g[i]->at)
        g[i]->at = uv_now(&w->loop) - t0 + 1;
      all = all && g[i]->called;
    }
    if (all)
      return;
    assert_true(uv_now(&w->loop) - t0 < 10000);
    uv_run(&w->loop, UV_RUN_ONCE);
  }
}

static void start(struct world *w, const char *method, const char *path, const char *body,
                  size_t max, unsigned timeout_ms, struct got *g) {
  char url[128];
  snprintf(url, sizeof(url), "%s%s", w->url, path);
  const char *hdrs[] = {"X-Test: t1", "Content-Type: text/plain", NULL};
  struct httpfetch_req q = {.method = method, .url = url, .headers = hdrs, .body = body,
                            .body_len = body ? strlen(body) : 0, .timeout_ms = timeout_ms,
                            .max_response = max};
  assert_int_equal(httpfetch_start(w->f, &q, on_got, g, NULL), 0);
  assert_false(g->called); /* never inside the call */
}

static void free_got(struct got *g) { free(g->body); }

static void test_methods(void **state) {
  struct world *w = *state;
  struct got a = {0}, b = {0}, c = {0}, d = {0}, e = {0};
  start(w, "GET", "/echo", NULL, 4096, 5000, &a);
  start(w, "POST", "/echo", "{\"x\":1}", 4096, 5000, &b);
  start(w, "DELETE", "/echo", NULL, 4096, 5000, &c);
  start(w, "HEAD", "/echo", NULL, 4096, 5000, &d);
  struct got *all[] = {&a, &b, &c, &d};
  wait_all(w, all, 4);
  assert_int_equal(a.err, 0);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.ctype, "text/plain");
  assert_string_equal(a.body, "GET  [t1]");
  assert_int_equal(b.err, 0);
  assert_string_equal(b.body, "POST {\"x\":1} [t1]");
  assert_string_equal(c.body, "DELETE  [t1]");
  assert_int_equal(d.err, 0);
  assert_int_equal(d.status, 200);
  assert_int_equal(d.len, 0);
  /* An error status is an answer like any other. */
  start(w, "GET", "/teapot", NULL, 4096, 5000, &e);
  struct got *one[] = {&e};
  wait_all(w, one, 1);
  assert_int_equal(e.err, 0);
  assert_int_equal(e.status, 418);
  for (struct got **g = all; g < all + 4; g++)
    assert_int_equal((*g)->calls, 1);
  free_got(&a), free_got(&b), free_got(&c), free_got(&d), free_got(&e);
}

static void test_bounded(void **state) {
  struct world *w = *state;
  struct got small = {0}, fits = {0};
  start(w, "GET", "/big", NULL, 1000, 5000, &small);
  start(w, "GET", "/big", NULL, BIG, 5000, &fits);
  struct got *all[] = {&small, &fits};
  wait_all(w, all, 2);
  assert_int_equal(small.err, -EFBIG);
  assert_null(small.body);
  assert_int_equal(fits.err, 0);
  assert_int_equal(fits.len, BIG);
  free_got(&fits);
}

/* A server that never answers times out; an answer meanwhile is not held up. */
static void test_timeout(void **state) {
  struct world *w = *state;
  struct got slow = {0}, quick = {0};
  start(w, "GET", "/never", NULL, 4096, 400, &slow);
  start(w, "GET", "/echo", NULL, 4096, 5000, &quick);
  struct got *all[] = {&slow, &quick};
  wait_all(w, all, 2);
  assert_int_equal(quick.err, 0);
  assert_int_equal(slow.err, -ETIMEDOUT);
  assert_true(quick.at < 300);
  assert_true(slow.at >= 350 && slow.at < 3000);
  free_got(&quick);
}

static void test_refused(void **state) {
  struct world *w = *state;
  /* A port just bound and closed again: nothing listens there. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof(sa);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
  close(fd);
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", ntohs(sa.sin_port));
  struct got g = {0};
  struct httpfetch_req q = {.method = "GET", .url = url, .timeout_ms = 3000, .max_response = 10};
  assert_int_equal(httpfetch_start(w->f, &q, on_got, &g, NULL), 0);
  struct got *all[] = {&g};
  wait_all(w, all, 1);
  assert_int_equal(g.err, -ECONNREFUSED);
}

static void test_refusals(void **state) {
  struct world *w = *state;
  struct got g = {0};
  const char *crlf[] = {"X-A: b\r\nX-Injected: 1", NULL};
  const char *nocolon[] = {"X-A", NULL};
  struct httpfetch_req ok = {.method = "GET", .url = w->url, .timeout_ms = 100, .max_response = 1};
  struct httpfetch_req q;
  q = ok, q.method = "get";
  assert_int_equal(httpfetch_start(w->f, &q, on_got, &g, NULL), -EINVAL);
  q = ok, q.method = "GE T";
  assert_int_equal(httpfetch_start(w->f, &q, on_got, &g, NULL), -EINVAL);
  q = ok, q.url = "ftp://127.0.0.1/";
  assert_int_equal(httpfetch_start(w->f, &q, on_got, &g, NULL), -EINVAL);
  q = ok, q.url = "http://127.0.0.1/\r\n";
  assert_int_equal(httpfetch_start(w->f, &q, on_got, &g, NULL), -EINVAL);
  q = ok, q.headers = crlf;
  assert_int_equal(httpfetch_start(w->f, &q, on_got, &g, NULL), -EINVAL);
  q = ok, q.headers = nocolon;
  assert_int_equal(httpfetch_start(w->f, &q, on_got, &g, NULL), -EINVAL);
  q = ok, q.timeout_ms = 0;
  assert_int_equal(httpfetch_start(w->f, &q, on_got, &g, NULL), -EINVAL);
  q = ok, q.max_response = 0;
  assert_int_equal(httpfetch_start(w->f, &q, on_got, &g, NULL), -EINVAL);
  assert_int_equal(httpfetch_inflight(w->f), 0);
  /* At most 4 at once (setup): the fifth is refused, and the four are cancelled unanswered. */
  struct httpfetch_job *j[4];
  char url[128];
  snprintf(url, sizeof(url), "%s/never", w->url);
  q = ok, q.url = url, q.timeout_ms = 5000;
  for (int i = 0; i < 4; i++)
    assert_int_equal(httpfetch_start(w->f, &q, on_got, &g, &j[i]), 0);
  assert_int_equal(httpfetch_start(w->f, &q, on_got, &g, NULL), -EAGAIN);
  for (int i = 0; i < 4; i++)
    httpfetch_cancel(j[i]);
  httpfetch_cancel(NULL);
  assert_int_equal(httpfetch_inflight(w->f), 0);
  for (int i = 0; i < 20; i++)
    uv_run(&w->loop, UV_RUN_NOWAIT);
  assert_false(g.called);
}

/* Closing with requests out: each is answered -ECANCELED from inside the call, once; the
 * loop then closes clean (teardown). */
static void test_close_inflight(void **state) {
  struct world *w = *state;
  struct got a = {0}, b = {0};
  start(w, "GET", "/never", NULL, 4096, 5000, &a);
  start(w, "POST", "/never", "x", 4096, 5000, &b);
  for (int i = 0; i < 50 && w->never_cancels == 0; i++)
    uv_run(&w->loop, UV_RUN_NOWAIT); /* let the requests reach the server */
  httpfetch_close(w->f, fetch_closed, w);
  assert_true(a.called && b.called);
  assert_int_equal(a.err, -ECANCELED);
  assert_int_equal(b.err, -ECANCELED);
  assert_false(w->fetch_done); /* done comes from a later loop iteration */
  while (!w->fetch_done)
    uv_run(&w->loop, UV_RUN_ONCE);
  assert_int_equal(a.calls + b.calls, 2);
  w->f = NULL;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_methods, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_inflight, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
