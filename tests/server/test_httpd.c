/* test_httpd.c -- HTTP server tests: a real server and a blocking client thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "httpd_fixture.h"

/* ---- HTTP tests ---- */

static void cl_get(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200);
  CHECK(f, !strcmp(r.body, "hello world"));
  CHECK(f, strstr(r.head, "\r\nContent-Type: text/plain\r\n"));
  CHECK(f, strstr(r.head, "\r\nContent-Length: 11\r\n"));
  CHECK(f, !strstr(r.head, "Connection: close"));
  CHECK(f, cli_sends(c, "GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 404);
  CHECK(f, !strcmp(r.body, "Not Found"));
  CHECK(f, cli_sends(c, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(f, read_response(c, &r, true));
  CHECK(f, r.status == 200 && strstr(r.head, "\r\nContent-Length: 11\r\n"));
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(f, read_response(c, &r, false)); /* no stray HEAD body before it */
  CHECK(f, r.status == 200 && !strcmp(r.body, "hello world"));
  cli_free(c);
}

static void test_get_404_head(void **state) {
  struct fx *f = fx_new();
  run(f, cl_get);
  assert_int_equal(f->requests, 4);
  free(f);
}

static void cl_keepalive(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  CHECK(f, c);
  CHECK(f, cli_sends(c, "POST /echo?a=1&b=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "abcde"));
  CHECK(f, strstr(r.head, "\r\nX-Query: a=1&b=2\r\n") && strstr(r.head, "\r\nX-Method: POST\r\n"));
  CHECK(f, !strstr(r.head, "Injected"));
  /* Chunked body, then a header lookup (case-insensitive, empty value). */
  CHECK(f, cli_sends(c, "PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "abcde") && strstr(r.head, "X-Query: \r\n"));
  CHECK(f, cli_sends(c, "GET /hdr HTTP/1.1\r\nX-Empty:\r\nx-test: value 1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "value 1"));
  CHECK(f, cli_sends(c, "GET /hdr?X-Empty HTTP/1.1\r\nX-Empty:\r\nx-test: value 1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && r.blen == 0);
  CHECK(f, cli_sends(c, "GET /hdr?X-None HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 204);
  /* Expect: 100-continue gets an interim answer before the body is sent. */
  CHECK(f, cli_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 100);
  CHECK(f, cli_sends(c, "ok"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "ok"));
  /* HTTP/1.0 closes unless asked to keep alive. */
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, strstr(r.head, "\r\nConnection: keep-alive\r\n"));
  CHECK(f, cli_sends(c, "GET /close HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "bye"));
  CHECK(f, wait_eof(c));
  cli_free(c);
  c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.0\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, strstr(r.head, "\r\nConnection: close\r\n"));
  CHECK(f, wait_eof(c));
  cli_free(c);
}

static void test_keepalive(void **state) {
  struct fx *f = fx_new();
  run(f, cl_keepalive);
  free(f);
}

static void cl_pipelined(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  int i;
  CHECK(f, c);
  /* Three requests in one segment, and one split across many. */
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\n\r\nPOST /echo?n=2 HTTP/1.1\r\nContent-Length: 3\r\n"
                        "\r\nxyzGET /missing HTTP/1.1\r\n\r\nGE"));
  CHECK(f, cli_sends(c, "T /echo?n=4 HT"));
  CHECK(f, cli_sends(c, "TP/1.1\r\nContent-"));
  CHECK(f, cli_sends(c, "Length: 1\r\n\r\nQ"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "hello world"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "xyz") && strstr(r.head, "X-Query: n=2\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 404);
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "Q") && strstr(r.head, "X-Query: n=4\r\n"));
  /* An Upgrade to something else is an ordinary request; parsing goes on. */
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
                        "GET /echo?after HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strcmp(r.body, "hello world"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && strstr(r.head, "X-Query: after\r\n"));
  /* Many pipelined requests at once. */
  for (i = 0; i < 200; i++)
    CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\n\r\n"));
  for (i = 0; i < 200; i++) {
    CHECK(f, read_response(c, &r, false));
    CHECK(f, r.status == 200);
  }
  cli_free(c);
}

static void test_pipelined(void **state) {
  struct fx *f = fx_new();
  run(f, cl_pipelined);
  assert_int_equal(f->requests, 206);
  free(f);
}


/* /big?n: 16 KiB, with the query echoed in X-Query. */
static bool big_route(struct fx *f, const struct httpd_request *req, struct httpd_reply *rep) {
  if (strcmp(req->path, "/big"))
    return false;
  httpd_reply_status(rep, 200);
  httpd_reply_header(rep, "X-Query", req->query);
  httpd_reply_body(rep, "text/plain", big, sizeof(big), false);
  return true;
}

/* Thousands of pipelined requests from a client that never reads its answers: the server
 * answers until about HTTPD__OUT_MAX is queued beyond what the kernel took, then stops
 * parsing and reading (before, it answered every request in each 64 KiB read at once:
 * 7.6 MB per connection for pipelined /metrics). */
static void cl_pipeline_unread(struct fx *f) {
  struct cli *c = cli_connect(f);
  static char reqs[3000 * 32];
  size_t n = 0;
  int small = 4096, i;
  CHECK(f, c);
  setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  for (i = 0; i < 3000; i++)
    n += (size_t)snprintf(reqs + n, sizeof(reqs) - n, "GET /big?%d HTTP/1.1\r\n\r\n", i);
  CHECK(f, cli_send(c, reqs, n));
  usleep(300 * 1000);
  cli_free(c);
}

static void test_pipeline_unread(void **state) {
  struct fx *f = fx_new();
  f->route = big_route;
  run(f, cl_pipeline_unread);
  print_message("answered %d of 3000 pipelined requests\n", f->requests);
  assert_true(f->requests < 600);
  free(f);
}

/* The same flood read slowly: every answer comes, in order. */
static void cl_pipeline_slow_reader(struct fx *f) {
  struct cli *c = cli_connect(f);
  static char reqs[400 * 32];
  struct resp r;
  char want[32];
  size_t n = 0;
  int i;
  CHECK(f, c);
  for (i = 0; i < 400; i++)
    n += (size_t)snprintf(reqs + n, sizeof(reqs) - n, "GET /big?%d HTTP/1.1\r\n\r\n", i);
  CHECK(f, cli_send(c, reqs, n));
  usleep(100 * 1000);
  for (i = 0; i < 400; i++) {
    CHECK(f, read_response(c, &r, false));
    snprintf(want, sizeof(want), "\r\nX-Query: %d\r\n", i);
    CHECK(f, r.status == 200 && r.blen == sizeof(big) && strstr(r.head, want));
  }
  /* Then a half-close behind a full pipeline: the answers still all come. */
  for (i = 0, n = 0; i < 100; i++)
    n += (size_t)snprintf(reqs + n, sizeof(reqs) - n, "GET /big?%d HTTP/1.1\r\n\r\n", i);
  CHECK(f, cli_send(c, reqs, n));
  shutdown(c->fd, SHUT_WR);
  usleep(100 * 1000);
  for (i = 0; i < 100; i++) {
    CHECK(f, read_response(c, &r, false));
    snprintf(want, sizeof(want), "\r\nX-Query: %d\r\n", i);
    CHECK(f, r.status == 200 && strstr(r.head, want));
  }
  CHECK(f, wait_eof(c));
  cli_free(c);
}

static void test_pipeline_slow_reader(void **state) {
  struct fx *f = fx_new();
  f->route = big_route;
  run(f, cl_pipeline_slow_reader);
  assert_int_equal(f->requests, 500);
  free(f);
}

/* A keep-alive GET /hello on c: true when answered 200. */
static bool hello_ok(struct cli *c) {
  struct resp r;
  return c && cli_sends(c, "GET /hello HTTP/1.1\r\n\r\n") && read_response(c, &r, false) &&
         r.status == 200;
}

static const char ws_upgrade[] =
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/* Finding 2: idle connections took every descriptor and /healthz failed for everyone.
 * max_conns 6 with a reserve of 2 for /hello: four ordinary connections, then the reserve
 * answers /hello once and refuses the rest; at the limit the oldest reserve connection
 * still without a request makes room; one that stays idle is closed after 2 s. */
static void cl_budget(struct fx *f) {
  struct cli *a[4], *b, *d1, *d2, *e;
  struct resp r;
  int i;
  for (i = 0; i < 4; i++)
    CHECK(f, hello_ok(a[i] = cli_connect(f)));
  CHECK(f, (b = cli_connect(f)));
  CHECK(f, cli_sends(b, "GET /echo HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(b, &r, false) && r.status == 503);
  CHECK(f, wait_eof(b));
  cli_free(b);
  CHECK(f, (b = cli_connect(f)));
  CHECK(f, cli_sends(b, ws_upgrade) && cli_sends(b, "\r\n"));
  CHECK(f, read_response(b, &r, false) && r.status == 503);
  CHECK(f, wait_eof(b));
  cli_free(b);
  usleep(50 * 1000); /* the refused ones are gone */
  CHECK(f, (d1 = cli_connect(f)));
  usleep(50 * 1000);
  CHECK(f, (d2 = cli_connect(f)));
  usleep(50 * 1000);
  CHECK(f, (e = cli_connect(f))); /* over the budget: d1 makes room */
  CHECK(f, cli_sends(e, "GET /hello HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(e, &r, false) && r.status == 200);
  CHECK(f, strstr(r.head, "\r\nConnection: close\r\n"));
  CHECK(f, wait_eof(e));
  CHECK(f, wait_eof(d1));
  CHECK(f, wait_eof(d2)); /* idle in the reserve: closed after 2 s */
  for (i = 0; i < 4; i++)
    CHECK(f, hello_ok(a[i]));
  for (i = 0; i < 4; i++)
    cli_free(a[i]);
  cli_free(d1);
  cli_free(d2);
  cli_free(e);
}

static void test_budget(void **state) {
  struct fx *f = fx_new();
  f->cfg.max_conns = 6;
  f->cfg.reserve_conns = 2;
  f->cfg.reserve_paths = "/healthz, /hello";
  run(f, cl_budget);
  assert_int_equal(f->requests, 9); /* 4 + 1 + 4: the refused ones never reach on_request */
  free(f);
}

/* Finding 2: nothing limited connections per client. */
static void cl_per_ip(struct fx *f) {
  struct cli *a[4];
  int i;
  for (i = 0; i < 3; i++)
    CHECK(f, hello_ok(a[i] = cli_connect(f)));
  CHECK(f, (a[3] = cli_connect(f)));
  CHECK(f, wait_eof(a[3])); /* the fourth from 127.0.0.1: closed at once */
  cli_free(a[3]);
  cli_free(a[0]);
  usleep(50 * 1000);
  CHECK(f, hello_ok(a[0] = cli_connect(f)));
  for (i = 0; i < 3; i++)
    cli_free(a[i]);
}

static void test_per_ip(void **state) {
  struct fx *f = fx_new();
  f->cfg.max_conns_per_ip = 3;
  run(f, cl_per_ip);
  assert_int_equal(f->requests, 4);
  free(f);
}

/* Behind a proxy every connection comes from the proxy: WebSockets are counted by
 * X-Forwarded-For at the upgrade instead (429 over the cap); plain HTTP is not. */
static int ws_via_proxy(struct fx *f, struct cli **keep, const char *xff) {
  struct cli *c = cli_connect(f);
  struct resp r;
  char req[512];
  snprintf(req, sizeof(req), "%sX-Forwarded-For: 203.0.113.9, %s\r\n\r\n", ws_upgrade, xff);
  *keep = c;
  if (!c || !cli_sends(c, req) || !read_response(c, &r, false))
    return -1;
  return r.status;
}

static void cl_per_ip_proxy(struct fx *f) {
  struct cli *w[4], *h[3];
  int i;
  CHECK(f, ws_via_proxy(f, &w[0], "198.51.100.7") == 101);
  CHECK(f, ws_via_proxy(f, &w[1], "198.51.100.7") == 101);
  CHECK(f, ws_via_proxy(f, &w[2], "198.51.100.7") == 429);
  CHECK(f, ws_via_proxy(f, &w[3], "198.51.100.8") == 101);
  for (i = 0; i < 3; i++)
    CHECK(f, hello_ok(h[i] = cli_connect(f)));
  for (i = 0; i < 4; i++)
    cli_free(w[i]);
  for (i = 0; i < 3; i++)
    cli_free(h[i]);
}

static void test_per_ip_proxy(void **state) {
  struct fx *f = fx_new();
  f->cfg.max_conns_per_ip = 2;
  f->cfg.trust_proxy = true;
  run(f, cl_per_ip_proxy);
  assert_int_equal(f->ws_opens, 3);
  free(f);
}

static void cl_malformed(struct fx *f) {
  struct cli *c;
  struct resp r;
  expect_error(f, "GARBAGE\r\n\r\n", 400);
  expect_error(f, "GET /hello HTTP/1.1\r\nBad Header\r\n\r\n", 400);
  expect_error(f, "GET /hello HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400);
  expect_error(f, "CONNECT example.com:443 HTTP/1.1\r\n\r\n", 400);
  /* A good request, then a bad one behind it. */
  c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\n\r\nBROKEN\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200 && !strstr(r.head, "Connection"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 400 && strstr(r.head, "\r\nConnection: close\r\n"));
  CHECK(f, wait_eof(c));
  cli_free(c);
  /* The server still serves the next connection. */
  c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /hello HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, r.status == 200);
  cli_free(c);
}

static void test_malformed(void **state) {
  struct fx *f = fx_new();
  run(f, cl_malformed);
  free(f);
}

static void cl_limits(struct fx *f) {
  char req[4096];
  memset(req, 0, sizeof(req));
  snprintf(req, sizeof(req), "GET /hello HTTP/1.1\r\nX-Big: %.*s\r\n\r\n", 1100, big);
  expect_error(f, req, 431);
  snprintf(req, sizeof(req), "GET /%.*s HTTP/1.1\r\n\r\n", 1100, big);
  expect_error(f, req, 431);
  expect_error(f, "POST /echo HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413);
  snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "80\r\n%.*s\r\n0\r\n\r\n", 128, big);
  expect_error(f, req, 413);
}

static void test_limits(void **state) {
  struct fx *f = fx_new();
  f->cfg.max_header_bytes = 1024;
  f->cfg.max_body_bytes = 100;
  run(f, cl_limits);
  assert_int_equal(f->requests, 0);
  free(f);
}

static void cl_idle(struct fx *f) {
  struct cli *c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /hel")); /* never finished */
  CHECK(f, wait_eof(c));
  cli_free(c);
}

static void test_idle_timeout(void **state) {
  struct fx *f = fx_new();
  f->cfg.idle_timeout_ms = 100;
  run(f, cl_idle);
  free(f);
}

static void cl_proxy(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /ip HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1, 192.0.2.7\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, !strcmp(r.body, "192.0.2.7"));
  CHECK(f, cli_sends(c, "GET /ip HTTP/1.1\r\nX-Forwarded-For: 2001:DB8::1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, !strcmp(r.body, "2001:db8::1"));
  CHECK(f, cli_sends(c, "GET /ip HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1, nonsense\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, !strcmp(r.body, "127.0.0.1"));
  CHECK(f, cli_sends(c, "GET /ip HTTP/1.1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, !strcmp(r.body, "127.0.0.1"));
  cli_free(c);
}

static void cl_no_proxy(struct fx *f) {
  struct cli *c = cli_connect(f);
  struct resp r;
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /ip HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n"));
  CHECK(f, read_response(c, &r, false));
  CHECK(f, !strcmp(r.body, "127.0.0.1"));
  cli_free(c);
}

static void test_trust_proxy(void **state) {
  struct fx *f = fx_new();
  f->cfg.trust_proxy = true;
  run(f, cl_proxy);
  free(f);
  f = fx_new();
  run(f, cl_no_proxy);
  free(f);
}

static void cl_shutdown(struct fx *f) {
  struct cli *c = cli_connect(f);
  CHECK(f, c);
  CHECK(f, cli_sends(c, "GET /shutdown HTTP/1.1\r\n\r\n"));
  CHECK(f, wait_eof(c));
  cli_free(c);
}

static void test_close_from_handler(void **state) {
  struct fx *f = fx_new();
  run(f, cl_shutdown);
  free(f);
}

static void test_listen_errors(void **state) {
  uv_loop_t loop;
  struct httpd_config cfg;
  struct httpd_handlers h = { 0 };
  struct httpd *a, *b;
  assert_int_equal(uv_loop_init(&loop), 0);
  httpd_config_default(&cfg);
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  a = httpd_new(&loop, &cfg, &h);
  assert_int_equal(httpd_listen(a), 0);
  assert_int_equal(httpd_listen(a), -EALREADY);
  cfg.port = httpd_port(a);
  b = httpd_new(&loop, &cfg, &h);
  assert_int_equal(httpd_listen(b), -EADDRINUSE);
  httpd_close(b, NULL, NULL);
  cfg.host = "not an address";
  /* The connection budget comes from the descriptor limit. */
  assert_true(httpd_raise_nofile() > 0);
  assert_true(httpd_max_conns(a) >= 8);
  b = httpd_new(&loop, &cfg, &h);
  assert_int_equal(httpd_listen(b), -EINVAL);
  assert_true(httpd_port(b) < 0);
  httpd_close(b, NULL, NULL);
  httpd_close(a, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_get_404_head),
    cmocka_unit_test(test_keepalive),
    cmocka_unit_test(test_pipelined),
    cmocka_unit_test(test_pipeline_unread),
    cmocka_unit_test(test_pipeline_slow_reader),
    cmocka_unit_test(test_budget),
    cmocka_unit_test(test_per_ip),
    cmocka_unit_test(test_per_ip_proxy),
    cmocka_unit_test(test_malformed),
    cmocka_unit_test(test_limits),
    cmocka_unit_test(test_idle_timeout),
    cmocka_unit_test(test_trust_proxy),
    cmocka_unit_test(test_close_from_handler),
    cmocka_unit_test(test_listen_errors),
  };
  memset(big, 'b', sizeof(big));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
