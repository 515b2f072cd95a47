/* test_htab.c -- the open-addressing table and SipHash. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "match/htab.h"

static void test_siphash_vector(void **state) {
  uint8_t msg[64];
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(msg); i++)
    msg[i] = (uint8_t)i;
  /* The reference vectors of the SipHash paper: key 00..0f, message 00..(n-1). */
  assert_true(match__siphash(0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL, msg, 15) ==
              0xa129ca6149be45e5ULL);
  assert_true(match__siphash(0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL, msg, 0) ==
              0x726fdb47dd0e0e31ULL);
}

static void test_put_find_del(void **state) {
  struct match__htab h;
  enum { N = 5000 };
  uint64_t i;

  (void)state;
  assert_int_equal(match__htab_init(&h, 42), 0);
  assert_int_equal(match__htab_put(&h, 0, 1, 1), -EINVAL);
  assert_null(match__htab_find(&h, 0, 1));
  for (i = 1; i <= N; i++)
    assert_int_equal(match__htab_put(&h, i, i % 7, i * 2), 0);
  assert_int_equal(h.n, N);
  assert_int_equal(match__htab_put(&h, 5, 5, 99), 0); /* overwrite */
  assert_int_equal(h.n, N);
  assert_int_equal(*match__htab_find(&h, 5, 5), 99);
  assert_null(match__htab_find(&h, 5, 6));
  /* Delete every other key: the rest must stay reachable (backward shift). */
  for (i = 1; i <= N; i += 2)
    assert_int_equal(match__htab_del(&h, i, i % 7), 0);
  assert_int_equal(match__htab_del(&h, 1, 1), -ENOENT);
  for (i = 1; i <= N; i++) {
    uint64_t *v = match__htab_find(&h, i, i % 7);
    if (i % 2)
      assert_null(v);
    else
      assert_true(v != NULL && *v == (i == 5 ? 99 : i * 2));
  }
  for (i = 2; i <= N; i += 2)
    assert_int_equal(match__htab_del(&h, i, i % 7), 0);
  assert_int_equal(h.n, 0);
  assert_true(h.mask + 1 <= 64); /* shrank back */
  assert_int_equal(match__htab_reserve(&h, 1000), 0);
  assert_true(h.mask + 1 >= 2000);
  match__htab_free(&h);
}

static void test_random_against_reference(void **state) {
  struct match__htab h;
  enum { KEYS = 300 };
  uint64_t ref[KEYS + 1] = {0};
  uint64_t x = 12345, step;

  (void)state;
  assert_int_equal(match__htab_init(&h, 7), 0);
  for (step = 0; step < 100000; step++) {
    uint64_t k;
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    k = 1 + (x >> 33) % KEYS;
    if ((x >> 20) & 1) {
      assert_int_equal(match__htab_put(&h, k, 3, step + 1), 0);
      ref[k] = step + 1;
    } else {
      assert_int_equal(match__htab_del(&h, k, 3), ref[k] ? 0 : -ENOENT);
      ref[k] = 0;
    }
    if (step % 1000 == 0) {
      uint64_t j;
      for (j = 1; j <= KEYS; j++) {
        uint64_t *v = match__htab_find(&h, j, 3);
        assert_true(ref[j] ? (v != NULL && *v == ref[j]) : v == NULL);
      }
    }
  }
  match__htab_free(&h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_siphash_vector),
    cmocka_unit_test(test_put_find_del),
    cmocka_unit_test(test_random_against_reference),
  };
  return cmocka_run_group_tests_name("match_htab", tests, NULL, NULL);
}
