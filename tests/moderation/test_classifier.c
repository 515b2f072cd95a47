/* test_classifier.c -- the classifier webhook client (moderation/classifier.c) against a
 * scripted HTTP server on the same loop: verdicts, retries and their limits, timeouts, refused
 * connections, the bounded queue, closing with jobs pending, and a loop never blocked. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#include "moderation/classifier.h"
#include "tests/moderation/webhook_fixture.h"

#define MAXJ 32

struct answer {
  int calls;
  int status;
  struct classifier_verdict v;
  uint64_t at_ms; /* uv_now when answered */
};

struct fixture {
  uv_loop_t loop;
  struct wh_srv srv;
  struct classifier *cl;
  struct answer ans[MAXJ];
  int answered;
  int order[MAXJ]; /* job ids in the order answered */
  bool closed;
  /* Inside a callback: close the classifier, or submit another job (its result). */
  int close_in_cb_at;
  int submit_in_cb;
};

static struct fixture *fx;
static int ids[MAXJ];

static void on_answer(void *arg, int status, const struct classifier_verdict *v) {
  int id = *(int *)arg;
  struct answer *a = &fx->ans[id];
  a->calls++;
  a->status = status;
  if (status == 0) {
    assert_non_null(v);
    a->v = *v;
  } else {
    assert_null(v);
  }
  a->at_ms = uv_now(&fx->loop);
  fx->order[fx->answered++] = id;
  if (fx->close_in_cb_at == fx->answered && fx->cl) {
    struct classifier *cl = fx->cl;
    fx->cl = NULL;
    classifier_close(cl, NULL, NULL);
    fx->closed = true;
  }
}

static void on_closed(void *arg) { ((struct fixture *)arg)->closed = true; }

static int setup(void **state) {
  fx = calloc(1, sizeof(*fx));
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  assert_int_equal(wh_start(&fx->loop, &fx->srv), 0);
  for (int i = 0; i < MAXJ; i++)
    ids[i] = i;
  *state = fx;
  return 0;
}

static void slow_cleanup(void);

static int teardown(void **state) {
  (void)state;
  slow_cleanup();
  if (fx->cl)
    classifier_close(fx->cl, on_closed, fx);
  wh_stop(&fx->srv);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_true(fx->closed || !fx->cl);
  assert_int_equal(fx->srv.open, 0);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  for (int i = 0; i < MAXJ; i++)
    assert_true(fx->ans[i].calls <= 1);
  free(fx);
  fx = NULL;
  return 0;
}

static void start_host(const char *host, int port, unsigned timeout_ms, unsigned retries,
                       unsigned backoff_ms, unsigned max_queue, unsigned max_inflight) {
  char url[96];
  snprintf(url, sizeof(url), "http://%s:%d/classify", host, port);
  struct classifier_config c;
  classifier_config_default(&c);
  c.url = url;
  c.timeout_ms = timeout_ms;
  c.retries = retries;
  c.backoff_ms = backoff_ms;
  c.max_queue = max_queue;
  c.max_inflight = max_inflight;
  c.bearer = "s3cret";
  assert_int_equal(classifier_new(&fx->loop, &c, &fx->cl), 0);
}

static void start_at(int port, unsigned timeout_ms, unsigned retries, unsigned backoff_ms,
                     unsigned max_queue, unsigned max_inflight) {
  start_host("127.0.0.1", port, timeout_ms, retries, backoff_ms, max_queue, max_inflight);
}

static void start(unsigned timeout_ms, unsigned retries, unsigned backoff_ms) {
  start_at(fx->srv.port, timeout_ms, retries, backoff_ms, 256, 8);
}

static uint8_t *picture(size_t len) {
  uint8_t *p = malloc(len);
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t)(i * 7 + 1);
  return p;
}

static int submit(int id, const char *device) {
  return classifier_submit(fx->cl, (uint64_t)id + 1000, device, picture(100), 100, on_answer,
                           &ids[id]);
}

static void on_guard(uv_timer_t *t) { (void)t; }

/* Runs the loop until `answered` answers came or limit_ms passed. */
static void run_until(int answered, uint64_t limit_ms) {
  uint64_t end = uv_now(&fx->loop) + limit_ms;
  uv_timer_t guard;
  uv_timer_init(&fx->loop, &guard);
  uv_timer_start(&guard, on_guard, 10, 10);
  while (fx->answered < answered && uv_now(&fx->loop) < end)
    uv_run(&fx->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&fx->loop, UV_RUN_NOWAIT);
}

static void run_for(uint64_t ms) { run_until(MAXJ + 1, ms); }

static struct classifier_stats stats(void) {
  struct classifier_stats st;
  classifier_get_stats(fx->cl, &st);
  return st;
}

static void test_bad_arguments(void **state) {
  (void)state;
  struct classifier_config c;
  struct classifier *cl = NULL;
  classifier_config_default(&c);
  assert_int_equal(classifier_new(&fx->loop, &c, &cl), -EINVAL); /* no URL */
  c.url = "ftp://127.0.0.1/x";
  assert_int_equal(classifier_new(&fx->loop, &c, &cl), -EINVAL);
  c.url = "http://127.0.0.1/x\r\nHost: evil";
  assert_int_equal(classifier_new(&fx->loop, &c, &cl), -EINVAL);
  c.url = "http://127.0.0.1/caf\xc3\xa9"; /* not printable ASCII: no request could carry it */
  assert_int_equal(classifier_new(&fx->loop, &c, &cl), -EINVAL);
  c.url = "http://127.0.0.1/x";
  c.bearer = "tok\r\nX-Evil: 1";
  assert_int_equal(classifier_new(&fx->loop, &c, &cl), -EINVAL);
  c.bearer = NULL;
  c.max_queue = 0;
  assert_int_equal(classifier_new(&fx->loop, &c, &cl), -EINVAL);
  assert_null(cl);
  start(1000, 0, 100);
  /* Ownership of the picture passes in every case (the leak check would see it). */
  assert_int_equal(classifier_submit(fx->cl, 1, "", picture(10), 10, NULL, NULL), -EINVAL);
  assert_int_equal(classifier_submit(fx->cl, 1, "", picture(10), 0, on_answer, &ids[0]), -EINVAL);
  assert_int_equal(classifier_submit(fx->cl, 1, "", NULL, 10, on_answer, &ids[0]), -EINVAL);
  assert_int_equal(classifier_submit(fx->cl, 1, "", picture(10), CLASSIFIER_MAX_JPEG + 1,
                                     on_answer, &ids[0]), -EINVAL);
  assert_int_equal(stats().submitted, 0);
  classifier_close(NULL, NULL, NULL);
}

/* A verdict comes back; the request carries the picture and the headers promised. */
static void test_verdict(void **state) {
  (void)state;
  struct wh_resp r[] = {
      {WH_NORMAL, 200, "{\"action\":\"kick\",\"reason\":\"red\"}", 0},
      {WH_NORMAL, 200, "{\"action\":\"ban\",\"duration_s\":3600}", 0},
      {WH_NORMAL, 200, "{\"action\":\"none\"}", 0},
  };
  wh_script(&fx->srv, r, 3);
  start(2000, 0, 100);
  assert_int_equal(submit(0, "dev-\r\nX-Evil: 1 ok"), 0);
  run_until(1, 3000);
  assert_int_equal(fx->ans[0].status, 0);
  assert_int_equal(fx->ans[0].v.action, CLASSIFIER_KICK);
  assert_string_equal(fx->ans[0].v.reason, "red");
  const char *h = fx->srv.last_head;
  assert_true(!strncmp(h, "POST /classify HTTP/1.1\r\n", 25));
  assert_non_null(strcasestr(h, "\r\nContent-Type: image/jpeg\r\n"));
  assert_non_null(strcasestr(h, "\r\nX-Tandem-Peer: 1000\r\n"));
  /* Only the printable characters: no header can be smuggled in. */
  assert_non_null(strcasestr(h, "\r\nX-Tandem-Device: dev-X-Evil:1ok\r\n"));
  assert_null(strcasestr(h, "\r\nX-Evil"));
  assert_non_null(strcasestr(h, "\r\nAuthorization: Bearer s3cret\r\n"));
  assert_null(strcasestr(h, "\r\nExpect:"));
  uint8_t *want = picture(100);
  assert_int_equal(fx->srv.last_body_len, 100);
  assert_memory_equal(fx->srv.last_body, want, 100);
  free(want);

  assert_int_equal(submit(1, NULL), 0);
  assert_int_equal(submit(2, "d"), 0);
  run_until(3, 3000);
  assert_int_equal(fx->ans[1].status, 0);
  assert_int_equal(fx->ans[1].v.action, CLASSIFIER_BAN);
  assert_int_equal(fx->ans[1].v.duration_s, 3600);
  assert_int_equal(fx->ans[2].v.action, CLASSIFIER_NONE);
  assert_non_null(strcasestr(h, "\r\nX-Tandem-Device: d\r\n"));
  struct classifier_stats st = stats();
  assert_int_equal(st.submitted, 3);
  assert_int_equal(st.ok, 3);
  assert_int_equal(st.flagged, 2);
  assert_int_equal(st.failed, 0);
  assert_int_equal(st.retries, 0);
  assert_int_equal(fx->srv.requests, 3);
}

/* A device-less request still names the header, empty. */
static void test_empty_device(void **state) {
  (void)state;
  struct wh_resp r[] = {{WH_NORMAL, 200, "{\"action\":\"none\"}", 0}};
  wh_script(&fx->srv, r, 1);
  start(2000, 0, 100);
  assert_int_equal(submit(0, NULL), 0);
  run_until(1, 3000);
  assert_int_equal(fx->ans[0].status, 0);
  assert_non_null(strcasestr(fx->srv.last_head, "\r\nX-Tandem-Device:"));
}

/* 500, then 200: one retry, after the back-off, and a verdict. */
static void test_retry_after_500(void **state) {
  (void)state;
  struct wh_resp r[] = {
      {WH_NORMAL, 500, "oops", 0},
      {WH_NORMAL, 200, "{\"action\":\"kick\",\"reason\":\"x\"}", 0},
  };
  wh_script(&fx->srv, r, 2);
  start(2000, 2, 150);
  uint64_t t0 = uv_now(&fx->loop);
  assert_int_equal(submit(0, "d"), 0);
  run_until(1, 3000);
  assert_int_equal(fx->ans[0].status, 0);
  assert_int_equal(fx->ans[0].v.action, CLASSIFIER_KICK);
  assert_true(fx->ans[0].at_ms - t0 >= 150);
  assert_int_equal(fx->srv.requests, 2);
  struct classifier_stats st = stats();
  assert_int_equal(st.retries, 1);
  assert_int_equal(st.ok, 1);
  assert_int_equal(st.inflight, 0);
}

/* 5xx every time: retries, then -EPROTO. A dropped connection is retried the same way. */
static void test_retries_run_out(void **state) {
  (void)state;
  /* The drop comes first: on a reused connection curl would itself try again once. */
  struct wh_resp r[] = {{WH_DROP, 0, NULL, 0}, {WH_NORMAL, 503, "", 0},
                        {WH_NORMAL, 502, "", 0}};
  wh_script(&fx->srv, r, 3);
  start(2000, 2, 20);
  assert_int_equal(submit(0, "d"), 0);
  run_until(1, 3000);
  assert_int_equal(fx->ans[0].status, -EPROTO);
  assert_int_equal(fx->srv.requests, 3);
  assert_int_equal(stats().retries, 2);
  assert_int_equal(stats().failed, 1);
}

/* 4xx and bad answers are the classifier's word: never retried. */
static void test_no_retry_for_4xx_and_bad_answers(void **state) {
  (void)state;
  struct wh_resp r[] = {
      {WH_NORMAL, 400, "{\"action\":\"kick\"}", 0},
      {WH_NORMAL, 200, "{\"action\":\"kick\"", 0},           /* bad JSON */
      {WH_NORMAL, 200, "{\"action\":\"explode\"}", 0},       /* unknown action */
      {WH_NORMAL, 200, "{\"action\":\"none\"}", 70000},      /* over 64 KiB, with a length */
      {WH_NOLEN, 200, "{\"action\":\"none\"}", 70000},       /* over 64 KiB, until EOF */
      {WH_NORMAL, 302, "", 0},
      {WH_NORMAL, 200, "", 0},
  };
  wh_script(&fx->srv, r, 7);
  start(2000, 3, 20);
  for (int i = 0; i < 7; i++) {
    assert_int_equal(submit(i, "d"), 0);
    run_until(i + 1, 3000);
    assert_int_equal(fx->ans[i].calls, 1);
    assert_int_equal(fx->ans[i].status, -EPROTO);
    assert_int_equal(fx->srv.requests, i + 1);
  }
  assert_int_equal(stats().retries, 0);
  assert_int_equal(stats().failed, 7);
}

/* A classifier under 64 KiB with padding is still fine (the bound is not off by much). */
static void test_large_but_allowed(void **state) {
  (void)state;
  struct wh_resp r[] = {{WH_NOLEN, 200, "{\"action\":\"ban\"}", 60000}};
  wh_script(&fx->srv, r, 1);
  start(2000, 0, 20);
  assert_int_equal(submit(0, "d"), 0);
  run_until(1, 3000);
  assert_int_equal(fx->ans[0].status, 0);
  assert_int_equal(fx->ans[0].v.action, CLASSIFIER_BAN);
  assert_int_equal(fx->ans[0].v.duration_s, 0);
}

/* A server that reads and never answers: each attempt times out, then -ETIMEDOUT, within
 * timeout * (retries + 1) plus the back-offs. */
static void test_timeout(void **state) {
  (void)state;
  struct wh_resp r[] = {{WH_NEVER, 0, NULL, 0}};
  wh_script(&fx->srv, r, 1);
  start(200, 2, 50);
  uint64_t t0 = uv_now(&fx->loop);
  assert_int_equal(submit(0, "d"), 0);
  run_until(1, 5000);
  assert_int_equal(fx->ans[0].status, -ETIMEDOUT);
  uint64_t took = fx->ans[0].at_ms - t0;
  assert_true(took >= 3 * 200 + 50 + 100);
  assert_true(took <= 3 * 200 + 50 + 100 + 400);
  assert_int_equal(fx->srv.requests, 3);
  assert_int_equal(stats().retries, 2);
}

/* Nothing listens: refused at once, retried, -ECONNREFUSED. */
static void test_refused(void **state) {
  (void)state;
  int port = wh_free_port(&fx->loop);
  start_at(port, 1000, 1, 30, 256, 8);
  uint64_t t0 = uv_now(&fx->loop);
  assert_int_equal(submit(0, "d"), 0);
  run_until(1, 3000);
  assert_int_equal(fx->ans[0].status, -ECONNREFUSED);
  assert_true(fx->ans[0].at_ms - t0 < 1000); /* not a timeout */
  assert_int_equal(stats().retries, 1);
}

/* A dead classifier holds max_inflight slots and max_queue waiting jobs; past that, -EAGAIN and
 * a count, never more memory. */
static void test_queue_bound(void **state) {
  (void)state;
  struct wh_resp r[] = {{WH_NEVER, 0, NULL, 0}};
  wh_script(&fx->srv, r, 1);
  start_at(fx->srv.port, 5000, 0, 100, 3, 2);
  for (int i = 0; i < 3; i++)
    assert_int_equal(submit(i, "d"), 0);
  assert_int_equal(submit(3, "d"), -EAGAIN);
  assert_int_equal(stats().queued, 3);
  run_for(100); /* two start */
  assert_int_equal(stats().inflight, 2);
  assert_int_equal(stats().queued, 1);
  assert_int_equal(fx->srv.requests, 2);
  assert_int_equal(submit(4, "d"), 0);
  assert_int_equal(submit(5, "d"), 0);
  assert_int_equal(submit(6, "d"), -EAGAIN);
  struct classifier_stats st = stats();
  assert_int_equal(st.dropped, 2);
  assert_int_equal(st.submitted, 5);
  assert_int_equal(st.queued, 3);
  assert_int_equal(fx->answered, 0);
  assert_int_equal(fx->ans[3].calls, 0);
}

/* Closing answers every job not yet answered, in flight or waiting, with -ECANCELED, once and
 * in submission order, then frees everything (the teardown's uv_loop_close checks). */
static void test_close_cancels(void **state) {
  (void)state;
  struct wh_resp r[] = {{WH_NEVER, 0, NULL, 0}};
  wh_script(&fx->srv, r, 1);
  start_at(fx->srv.port, 5000, 2, 100, 16, 2);
  for (int i = 0; i < 5; i++)
    assert_int_equal(submit(i, "d"), 0);
  run_for(100);
  assert_int_equal(fx->srv.requests, 2);
  assert_int_equal(fx->answered, 0);
  classifier_close(fx->cl, on_closed, fx);
  fx->cl = NULL;
  assert_int_equal(fx->answered, 5);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(fx->ans[i].calls, 1);
    assert_int_equal(fx->ans[i].status, -ECANCELED);
    assert_int_equal(fx->order[i], i);
  }
  assert_false(fx->closed); /* done comes from a later loop iteration */
  run_for(50);
  assert_true(fx->closed);
}

/* A job's callback closes the classifier: the others are cancelled, nothing is answered twice. */
static void test_close_from_callback(void **state) {
  (void)state;
  struct wh_resp r[] = {{WH_NORMAL, 200, "{\"action\":\"none\"}", 0}, {WH_NEVER, 0, NULL, 0}};
  wh_script(&fx->srv, r, 2);
  start_at(fx->srv.port, 5000, 0, 100, 16, 1);
  fx->close_in_cb_at = 1;
  for (int i = 0; i < 4; i++)
    assert_int_equal(submit(i, "d"), 0);
  run_until(4, 3000);
  assert_int_equal(fx->ans[0].status, 0);
  for (int i = 1; i < 4; i++)
    assert_int_equal(fx->ans[i].status, -ECANCELED);
  assert_true(fx->closed);
}

/* While one classifier never answers, the loop keeps turning: a 10 ms timer is never late by
 * much, and a second, healthy classifier answers at once. */
static int ticks;
static uint64_t worst_gap, last_tick;
static void on_tick(uv_timer_t *t) {
  uint64_t now = uv_now(t->loop);
  if (last_tick && now - last_tick > worst_gap)
    worst_gap = now - last_tick;
  last_tick = now;
  ticks++;
}

/* What test_slow_blocks_nothing opened, closed by teardown if an assertion ended it early
 * (a repeating timer left running would hold the loop forever). */
static uv_timer_t *slow_tick;
static struct classifier *slow_cl2;
static struct wh_srv *slow_good;

static void slow_cleanup(void) {
  if (slow_tick)
    uv_close((uv_handle_t *)slow_tick, NULL);
  if (slow_cl2)
    classifier_close(slow_cl2, NULL, NULL);
  if (slow_good)
    wh_stop(slow_good);
  slow_tick = NULL;
  slow_cl2 = NULL;
  slow_good = NULL;
}

/* A classifier that never answers holds up nothing: not another classifier's answer, not the
 * loop. Judged by order, not by the clock: the fast answer comes while every slow request is
 * still waiting for its timeout, and the loop's 10 ms timer never stops for anything near as
 * long as that timeout (a blocking call would stop it for all of it). */
static void test_slow_blocks_nothing(void **state) {
  (void)state;
  struct wh_resp r[] = {{WH_NEVER, 0, NULL, 0}};
  wh_script(&fx->srv, r, 1);
  start_at(fx->srv.port, 1000, 1, 50, 16, 8);
  static struct wh_srv good;
  assert_int_equal(wh_start(&fx->loop, &good), 0);
  slow_good = &good;
  struct wh_resp ok[] = {{WH_NORMAL, 200, "{\"action\":\"kick\"}", 0}};
  wh_script(&good, ok, 1);
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", good.port);
  struct classifier_config c;
  classifier_config_default(&c);
  c.url = url;
  struct classifier *cl2;
  assert_int_equal(classifier_new(&fx->loop, &c, &cl2), 0);
  slow_cl2 = cl2;

  static uv_timer_t tick;
  uv_timer_init(&fx->loop, &tick);
  slow_tick = &tick;
  ticks = 0;
  worst_gap = last_tick = 0;
  uv_timer_start(&tick, on_tick, 10, 10);
  for (int i = 0; i < 8; i++)
    assert_int_equal(submit(i, "slow"), 0);
  run_for(50);
  assert_int_equal(classifier_submit(cl2, 7, "fast", picture(50), 50, on_answer, &ids[10]), 0);
  run_until(1, 5000);
  assert_int_equal(fx->answered, 1);
  assert_int_equal(fx->ans[10].status, 0);
  for (int i = 0; i < 8; i++)
    assert_int_equal(fx->ans[i].calls, 0); /* the slow ones still wait */
  run_until(9, 20000);
  assert_int_equal(fx->answered, 9);
  for (int i = 0; i < 8; i++)
    assert_int_equal(fx->ans[i].status, -ETIMEDOUT);
  assert_true(ticks > 50);
  assert_true(worst_gap < 500);
  slow_tick = NULL;
  slow_cl2 = NULL;
  slow_good = NULL;
  uv_close((uv_handle_t *)&tick, NULL);
  classifier_close(cl2, NULL, NULL);
  wh_stop(&good);
  run_for(50);
  assert_int_equal(good.open, 0);
}

/* The server closes each kept-alive connection after answering: curl finds the cached one dead
 * and closes it without saying CURL_POLL_REMOVE, and the next socket often gets the same
 * number. Every answer must still arrive (a stale watcher made them all time out). */
static void test_connections_closed_by_server(void **state) {
  (void)state;
  struct wh_resp r[] = {{WH_SHUT, 200, "{\"action\":\"none\"}", 0}};
  wh_script(&fx->srv, r, 1);
  start_at(fx->srv.port, 1000, 0, 50, 16, 1);
  for (int i = 0; i < 6; i++) {
    assert_int_equal(submit(i, "d"), 0);
    run_until(i + 1, 3000);
    assert_int_equal(fx->ans[i].status, 0);
    run_for(30); /* the server's close reaches curl's cached connection */
  }
  assert_int_equal(fx->srv.requests, 6);
}

/* Posts one after another share one kept connection, whose watcher stays parked between
 * them; a URL naming a host (curl's resolver may hand over sockets of its own) works the same. */
static void test_kept_connection(void **state) {
  (void)state;
  struct wh_resp r[] = {{WH_NORMAL, 200, "{\"action\":\"none\"}", 0}};
  wh_script(&fx->srv, r, 1);
  start_host("localhost", fx->srv.port, 2000, 0, 50, 16, 4);
  for (int i = 0; i < 8; i++) {
    assert_int_equal(submit(i, "d"), 0);
    run_until(i + 1, 3000);
    assert_int_equal(fx->ans[i].status, 0);
    run_for(5); /* idle between posts, as between turns */
  }
  assert_int_equal(fx->srv.requests, 8);
  assert_int_equal(fx->srv.accepted, 1);
}

/* Submitting from inside a callback works, and that job's answer comes later. */
static struct classifier *chain_cl;
static int chain_rc = 1;
static void on_chain(void *arg, int status, const struct classifier_verdict *v) {
  on_answer(arg, status, v);
  if (*(int *)arg == 0)
    chain_rc = classifier_submit(chain_cl, 2, "d", picture(10), 10, on_answer, &ids[1]);
}

static void test_submit_from_callback(void **state) {
  (void)state;
  struct wh_resp r[] = {{WH_NORMAL, 200, "{\"action\":\"none\"}", 0}};
  wh_script(&fx->srv, r, 1);
  start(2000, 0, 100);
  chain_cl = fx->cl;
  assert_int_equal(classifier_submit(fx->cl, 1, "d", picture(10), 10, on_chain, &ids[0]), 0);
  run_until(1, 3000);
  assert_int_equal(chain_rc, 0);
  assert_int_equal(fx->answered, 1);
  run_until(2, 3000);
  assert_int_equal(fx->ans[1].status, 0);
  assert_int_equal(fx->srv.requests, 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verdict, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_device, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retry_after_500, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retries_run_out, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_retry_for_4xx_and_bad_answers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_large_but_allowed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_queue_bound, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_cancels, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_from_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slow_blocks_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_submit_from_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connections_closed_by_server, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kept_connection, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
