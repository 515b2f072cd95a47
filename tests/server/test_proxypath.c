/* test_proxypath.c -- the path of a request proxied to another node (server/proxypath.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/proxypath.h"

static enum proxypath_result parse(const char *after, const char *query, unsigned *node,
                                   const char **rest) {
  return proxypath_parse(after, query, 1023, node, rest);
}

static void test_accepted(void **state) {
  (void)state;
  unsigned node;
  const char *rest;
  assert_int_equal(parse("2/peers", "", &node, &rest), PROXYPATH_OK);
  assert_int_equal(node, 2);
  assert_string_equal(rest, "peers");
  assert_int_equal(parse("0/reports/8796093022213/evidence.jpg", "limit=50&before=9", &node,
                         &rest),
                   PROXYPATH_OK);
  assert_int_equal(node, 0);
  assert_string_equal(rest, "reports/8796093022213/evidence.jpg");
  assert_int_equal(parse("1023/a_b-c.d", "", &node, &rest), PROXYPATH_OK);
  assert_int_equal(node, 1023);
  char target[PROXYPATH_TARGET_MAX];
  size_t n = proxypath_target(target, "bans", "all=1");
  assert_string_equal(target, "/api/bans?all=1");
  assert_int_equal(n, strlen("/api/bans"));
  n = proxypath_target(target, "peers", "");
  assert_string_equal(target, "/api/peers");
  assert_int_equal(n, strlen(target));
}

static void test_bad_node(void **state) {
  (void)state;
  const char *bad[] = {"", "/peers", "x/peers", "02/peers", "1024/peers", "99999/peers",
                       "-1/peers", "2", "2peers", " 2/peers", "+2/peers", "0x2/peers"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    unsigned node = 77;
    const char *rest = NULL;
    assert_int_equal(parse(bad[i], "", &node, &rest), PROXYPATH_BAD_NODE);
  }
  unsigned node;
  const char *rest;
  assert_int_equal(proxypath_parse("5/peers", "", 4, &node, &rest), PROXYPATH_BAD_NODE);
}

static void test_bad_path(void **state) {
  (void)state;
  const char *bad[] = {"2/", "2/../admin", "2/peers/..", "2/./peers", "2/peers//x",
                       "2/peers/", "2/%2e%2e/x", "2/pe ers", "2/peers\r\nX: y", "2/péers",
                       "2/a\\b", "2/a?b"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    unsigned node;
    const char *rest;
    assert_int_equal(parse(bad[i], "", &node, &rest), PROXYPATH_BAD_PATH);
  }
  char longest[PROXYPATH_MAX_REST + 8] = "2/";
  memset(longest + 2, 'a', PROXYPATH_MAX_REST);
  longest[2 + PROXYPATH_MAX_REST] = 0;
  unsigned node;
  const char *rest;
  assert_int_equal(parse(longest, "", &node, &rest), PROXYPATH_OK);
  longest[2 + PROXYPATH_MAX_REST] = 'a';
  longest[3 + PROXYPATH_MAX_REST] = 0;
  assert_int_equal(parse(longest, "", &node, &rest), PROXYPATH_BAD_PATH);
  /* Queries: URL characters only, bounded. */
  assert_int_equal(parse("2/peers", "a=b c", &node, &rest), PROXYPATH_BAD_PATH);
  assert_int_equal(parse("2/peers", "a=\"b\"", &node, &rest), PROXYPATH_BAD_PATH);
  assert_int_equal(parse("2/peers", "a=<b>", &node, &rest), PROXYPATH_BAD_PATH);
  char q[PROXYPATH_MAX_QUERY + 2];
  memset(q, 'q', sizeof(q) - 1);
  q[sizeof(q) - 1] = 0;
  assert_int_equal(parse("2/peers", q, &node, &rest), PROXYPATH_BAD_PATH);
  q[sizeof(q) - 2] = 0;
  assert_int_equal(parse("2/peers", q, &node, &rest), PROXYPATH_OK);
}

static void test_loop(void **state) {
  (void)state;
  unsigned node;
  const char *rest;
  assert_int_equal(parse("2/nodes/3/peers", "", &node, &rest), PROXYPATH_LOOP);
  assert_int_equal(parse("2/nodes/x", "", &node, &rest), PROXYPATH_LOOP);
  /* Node 2's own list of nodes is only a read, not a way round. */
  assert_int_equal(parse("2/nodes", "", &node, &rest), PROXYPATH_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accepted),
      cmocka_unit_test(test_bad_node),
      cmocka_unit_test(test_bad_path),
      cmocka_unit_test(test_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
