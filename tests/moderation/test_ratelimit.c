/* test_ratelimit.c -- token buckets: burst, refill, waiting time, clock going backwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "moderation/ratelimit.h"

static void test_burst_then_refill(void **state) {
  (void)state;
  struct ratelimit r;
  ratelimit_init(&r, 3, 1, 1000);
  assert_true(ratelimit_take(&r, 1000));
  assert_true(ratelimit_take(&r, 1000));
  assert_true(ratelimit_take(&r, 1000));
  assert_false(ratelimit_take(&r, 1000));
  assert_int_equal(ratelimit_wait_ms(&r, 1000), 1000);
  assert_false(ratelimit_take(&r, 1999));
  assert_int_equal(ratelimit_wait_ms(&r, 1999), 1);
  assert_true(ratelimit_take(&r, 2000));
  assert_false(ratelimit_take(&r, 2000));
}

static void test_refill_caps_at_burst(void **state) {
  (void)state;
  struct ratelimit r;
  ratelimit_init(&r, 2, 10, 0);
  assert_true(ratelimit_take(&r, 0));
  assert_true(ratelimit_take(&r, 0));
  /* An hour later there are still only `burst` tokens. */
  assert_true(ratelimit_take(&r, 3600000));
  assert_true(ratelimit_take(&r, 3600000));
  assert_false(ratelimit_take(&r, 3600000));
  assert_true(ratelimit_take(&r, 3600100));
}

static void test_clock_backwards_gives_nothing(void **state) {
  (void)state;
  struct ratelimit r;
  ratelimit_init(&r, 1, 1, 5000);
  assert_true(ratelimit_take(&r, 5000));
  assert_false(ratelimit_take(&r, 100));
  assert_false(ratelimit_take(&r, 5500));
  assert_true(ratelimit_take(&r, 6000));
}

/* A per-minute bucket: 6 a minute is one every 10 s, however often it is asked. */
static void test_per_minute(void **state) {
  (void)state;
  struct ratelimit r;
  ratelimit_init_per_min(&r, 2, 6, 1000);
  assert_true(ratelimit_take(&r, 1000));
  assert_true(ratelimit_take(&r, 1000));
  assert_false(ratelimit_take(&r, 1000));
  assert_int_equal(ratelimit_wait_ms(&r, 1000), 10000);
  /* Asked every millisecond for 9.999 s: rounding must not eat the refill. */
  uint64_t t = 1000;
  for (; t < 10999; t++)
    assert_false(ratelimit_take(&r, t));
  assert_true(ratelimit_take(&r, 11000));
  assert_false(ratelimit_take(&r, 11001));
  /* A long pause refills to the burst, not beyond. */
  assert_true(ratelimit_take(&r, 1000000));
  assert_true(ratelimit_take(&r, 1000000));
  assert_false(ratelimit_take(&r, 1000000));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_burst_then_refill),
      cmocka_unit_test(test_refill_caps_at_burst),
      cmocka_unit_test(test_clock_backwards_gives_nothing),
      cmocka_unit_test(test_per_minute),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
