/* test_hmap.c -- the hash map against a reference array, through growth and deletions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <errno.h>

#include "media/hmap.h"

static void test_put_get_del(void **state) {
  (void)state;
  struct hmap *m = hmap_new();
  assert_non_null(m);
  enum { N = 5000 };
  static int present[N];
  srand(7);
  for (int round = 0; round < 100000; round++) {
    uint64_t k = (uint64_t)(rand() % N);
    void *val = (void *)(uintptr_t)(k + 1);
    if (rand() % 3) {
      int rc = hmap_put(m, &k, sizeof(k), val);
      assert_int_equal(rc, present[k] ? -EEXIST : 0);
      present[k] = 1;
    } else {
      void *got = hmap_del(m, &k, sizeof(k));
      assert_ptr_equal(got, present[k] ? val : NULL);
      present[k] = 0;
    }
  }
  size_t count = 0;
  for (uint64_t k = 0; k < N; k++) {
    void *got = hmap_get(m, &k, sizeof(k));
    assert_ptr_equal(got, present[k] ? (void *)(uintptr_t)(k + 1) : NULL);
    count += (size_t)present[k];
  }
  assert_int_equal(hmap_count(m), count);
  assert_int_equal(hmap_put(m, "", 0, m), -EINVAL);
  char big[HMAP_KEY_MAX + 1] = {0};
  assert_int_equal(hmap_put(m, big, sizeof(big), m), -EINVAL);
  assert_null(hmap_get(m, big, sizeof(big)));
  hmap_free(m);
  hmap_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_put_get_del)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
