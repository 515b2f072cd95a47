/* test_modmap.c -- the seeded map: SipHash vectors, put/get/del under growth, the bounded walk. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "moderation/modmap.h"

static void test_siphash_vectors(void **state) {
  uint8_t msg[64];
  (void)state;
  for (size_t i = 0; i < sizeof(msg); i++)
    msg[i] = (uint8_t)i;
  /* The SipHash paper's vectors: key 00..0f, message 00..(n-1). */
  assert_true(modmap_siphash(0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL, msg, 0) ==
              0x726fdb47dd0e0e31ULL);
  assert_true(modmap_siphash(0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL, msg, 15) ==
              0xa129ca6149be45e5ULL);
  assert_true(modmap_siphash(0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL, msg, 8) ==
              0x93f5f5799a932462ULL);
}

static void test_put_get_del(void **state) {
  enum { N = 20000 };
  struct modmap *m = modmap_new(7);
  static int vals[N];
  (void)state;
  assert_non_null(m);
  for (uint32_t i = 0; i < N; i++)
    assert_int_equal(modmap_put(m, &i, sizeof(i), &vals[i]), 0);
  uint32_t k = 5;
  assert_int_equal(modmap_put(m, &k, sizeof(k), NULL), -EEXIST);
  assert_int_equal(modmap_put(m, &k, 0, NULL), -EINVAL);
  assert_int_equal(modmap_put(m, "0123456789012345678901234", 25, NULL), -EINVAL);
  assert_int_equal(modmap_count(m), N);
  /* A shorter key with the same leading bytes is another key. */
  assert_null(modmap_get(m, &k, 2));
  for (uint32_t i = 0; i < N; i += 2)
    assert_ptr_equal(modmap_del(m, &i, sizeof(i)), &vals[i]);
  for (uint32_t i = 0; i < N; i++)
    assert_ptr_equal(modmap_get(m, &i, sizeof(i)), i % 2 ? &vals[i] : NULL);
  k = 4; /* even: already deleted */
  assert_null(modmap_del(m, &k, sizeof(k)));
  assert_int_equal(modmap_count(m), N / 2);
  modmap_free(m);
  modmap_free(NULL);
}

static void test_walk_with_deletes(void **state) {
  enum { N = 3000 };
  struct modmap *m = modmap_new(99);
  static int vals[N];
  static int seen[N];
  size_t cur = 0;
  (void)state;
  for (uint32_t i = 0; i < N; i++) {
    vals[i] = (int)i;
    assert_int_equal(modmap_put(m, &i, sizeof(i), &vals[i]), 0);
  }
  /* Walk in small budgets, deleting every value divisible by 3 as we go (stepping back as the
   * header says): every entry must be seen exactly once. */
  int calls = 0;
  for (;;) {
    size_t budget = 7;
    int *v;
    while ((v = modmap_next(m, &cur, &budget)) != NULL) {
      seen[*v]++;
      if (*v % 3 == 0) {
        uint32_t key = (uint32_t)*v;
        assert_ptr_equal(modmap_del(m, &key, sizeof(key)), v);
        cur--;
      }
    }
    calls++;
    if (cur == 0)
      break;
    assert_int_equal(budget, 0);
  }
  assert_true(calls > 1);
  for (int i = 0; i < N; i++)
    assert_int_equal(seen[i], 1);
  assert_int_equal(modmap_count(m), N - N / 3);
  modmap_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_siphash_vectors),
      cmocka_unit_test(test_put_get_del),
      cmocka_unit_test(test_walk_with_deletes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
