/* test_rbtree.c -- the pool's red-black tree against a sorted reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "match/rbtree.h"

#define N 2000

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void check_order(const struct match__rbtree *t, const struct match__rbnode *nodes,
                        const int *in) {
  const struct match__rbnode *n;
  size_t count = 0;
  int i;
  uint64_t last = 0;

  assert_int_equal(match__rb_check(t), 0);
  /* Walk forwards: exactly the inserted keys, ascending. */
  for (n = t->first; n != NULL; n = match__rb_next(n)) {
    assert_true(count == 0 || n->key > last);
    last = n->key;
    count++;
  }
  assert_int_equal(count, t->n);
  for (i = 0, count = 0; i < N; i++)
    count += in[i] ? 1 : 0;
  assert_int_equal(count, t->n);
  /* And backwards. */
  count = 0;
  for (n = t->last; n != NULL; n = match__rb_prev(n))
    count++;
  assert_int_equal(count, t->n);
  (void)nodes;
}

static void test_random_insert_erase(void **state) {
  struct match__rbtree t;
  struct match__rbnode *nodes = calloc(N, sizeof(*nodes));
  int *in = calloc(N, sizeof(*in));
  int step, i;

  (void)state;
  assert_non_null(nodes);
  assert_non_null(in);
  match__rb_init(&t);
  assert_int_equal(match__rb_check(&t), 0);
  for (i = 0; i < N; i++)
    nodes[i].key = (uint64_t)i * 3 + 1;
  for (step = 0; step < 20000; step++) {
    i = (int)(rnd() % N);
    if (in[i]) {
      match__rb_erase(&t, &nodes[i]);
      in[i] = 0;
    } else {
      match__rb_insert(&t, &nodes[i]);
      in[i] = 1;
    }
    if (step % 97 == 0)
      check_order(&t, nodes, in);
  }
  check_order(&t, nodes, in);
  /* Drain from the front, as the pool does when the oldest peers pair. */
  while (t.first != NULL) {
    struct match__rbnode *f = t.first;
    match__rb_erase(&t, f);
    in[f - nodes] = 0;
  }
  check_order(&t, nodes, in);
  free(nodes);
  free(in);
}

static void test_append_and_reinsert(void **state) {
  struct match__rbtree t;
  struct match__rbnode nodes[64];
  int i;

  (void)state;
  match__rb_init(&t);
  /* Appends (the fast path) interleaved with re-inserting old keys. */
  for (i = 0; i < 64; i++) {
    nodes[i].key = (uint64_t)(i + 1) * 10;
    match__rb_insert(&t, &nodes[i]);
    assert_int_equal(match__rb_check(&t), 0);
    if (i % 5 == 4) {
      match__rb_erase(&t, &nodes[i - 3]);
      assert_int_equal(match__rb_check(&t), 0);
      match__rb_insert(&t, &nodes[i - 3]);
      assert_int_equal(match__rb_check(&t), 0);
    }
  }
  assert_ptr_equal(match__rb_after(&t, 0), &nodes[0]);
  assert_ptr_equal(match__rb_after(&t, 10), &nodes[1]);
  assert_ptr_equal(match__rb_after(&t, 11), &nodes[1]);
  assert_ptr_equal(match__rb_after(&t, 635), &nodes[63]);
  assert_null(match__rb_after(&t, 640));
  assert_ptr_equal(t.first, &nodes[0]);
  assert_ptr_equal(t.last, &nodes[63]);
  assert_null(match__rb_prev(t.first));
  assert_null(match__rb_next(t.last));
  for (i = 63; i >= 0; i--) {
    match__rb_erase(&t, &nodes[i]);
    assert_int_equal(match__rb_check(&t), 0);
  }
  assert_null(t.root);
  assert_int_equal(t.n, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_random_insert_erase),
    cmocka_unit_test(test_append_and_reinsert),
  };
  return cmocka_run_group_tests_name("match_rbtree", tests, NULL, NULL);
}
