/* test_xring.c -- the SPSC ring: ordering, wrap-around, full ring, and two threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <uv.h>

#include "media/xring.h"

static void test_order_and_wrap(void **state) {
  (void)state;
  struct xring r;
  assert_int_equal(xring_init(&r, 4096), 0);
  uint32_t next_in = 0, next_out = 0;
  /* Many rounds of odd-sized records force the skip marker at the end of the buffer. */
  for (int round = 0; round < 2000; round++) {
    int n = 1 + round % 5;
    for (int i = 0; i < n; i++) {
      size_t len = 4 + (size_t)((next_in * 37) % 300);
      uint8_t *p = xring_reserve(&r, len);
      if (!p)
        break;
      memset(p, (int)(next_in & 0xff), len);
      memcpy(p, &next_in, 4);
      next_in++;
    }
    xring_commit(&r);
    const uint8_t *q;
    size_t len;
    while ((q = xring_peek(&r, &len)) != NULL) {
      uint32_t v;
      memcpy(&v, q, 4);
      assert_int_equal(v, next_out);
      assert_int_equal(len, 4 + (size_t)((v * 37) % 300));
      for (size_t k = 4; k < len; k++)
        assert_int_equal(q[k], v & 0xff);
      xring_release(&r);
      next_out++;
    }
  }
  assert_int_equal(next_in, next_out);
  assert_true(next_in > 3000);
  xring_destroy(&r);
}

static void test_full_ring_refuses(void **state) {
  (void)state;
  struct xring r;
  assert_int_equal(xring_init(&r, 4096), 0);
  int pushed = 0;
  while (xring_reserve(&r, 500))
    pushed++;
  assert_true(pushed >= 6 && pushed <= 8);
  /* Uncommitted records are invisible to the consumer. */
  size_t len;
  assert_null(xring_peek(&r, &len));
  xring_commit(&r);
  assert_non_null(xring_peek(&r, &len));
  xring_release(&r);
  assert_non_null(xring_reserve(&r, 500));
  /* A record larger than half the ring is refused outright. */
  assert_null(xring_reserve(&r, 3000));
  xring_destroy(&r);
}

#define N_MSGS 200000
static struct xring tr;

static void producer(void *arg) {
  (void)arg;
  for (uint32_t i = 0; i < N_MSGS;) {
    uint8_t *p = xring_reserve(&tr, 16 + i % 64);
    if (!p) {
      xring_commit(&tr);
      continue;
    }
    memcpy(p, &i, 4);
    i++;
    if (i % 7 == 0)
      xring_commit(&tr);
  }
  xring_commit(&tr);
}

static void test_two_threads(void **state) {
  (void)state;
  assert_int_equal(xring_init(&tr, 8192), 0);
  uv_thread_t t;
  assert_int_equal(uv_thread_create(&t, producer, NULL), 0);
  uint32_t expect = 0;
  while (expect < N_MSGS) {
    size_t len;
    const uint8_t *q = xring_peek(&tr, &len);
    if (!q)
      continue;
    uint32_t v;
    memcpy(&v, q, 4);
    assert_int_equal(v, expect);
    assert_int_equal(len, 16 + expect % 64);
    xring_release(&tr);
    expect++;
  }
  uv_thread_join(&t);
  xring_destroy(&tr);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_order_and_wrap),
      cmocka_unit_test(test_full_ring_refuses),
      cmocka_unit_test(test_two_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
