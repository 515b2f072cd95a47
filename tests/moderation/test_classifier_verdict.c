/* test_classifier_verdict.c -- a classifier's answer as a verdict (moderation/
 * classifier_verdict.c): what is accepted, and the hostile answers that are not. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "moderation/classifier.h"

static int parse(const char *s, struct classifier_verdict *v) {
  return classifier_verdict_parse(s, strlen(s), v);
}

static void test_accepted(void **state) {
  (void)state;
  struct classifier_verdict v;
  assert_int_equal(parse("{\"action\":\"none\"}", &v), 0);
  assert_int_equal(v.action, CLASSIFIER_NONE);
  assert_string_equal(v.reason, "");
  assert_int_equal(v.duration_s, 0);
  assert_int_equal(parse(" {\"reason\":\"nudity\",\"action\":\"kick\",\"score\":0.97,"
                         "\"extra\":{\"a\":[1,2]}} \n", &v), 0);
  assert_int_equal(v.action, CLASSIFIER_KICK);
  assert_string_equal(v.reason, "nudity");
  assert_int_equal(parse("{\"action\":\"ban\",\"reason\":\"weapon\",\"duration_s\":86400}", &v), 0);
  assert_int_equal(v.action, CLASSIFIER_BAN);
  assert_string_equal(v.reason, "weapon");
  assert_int_equal(v.duration_s, 86400);
  assert_int_equal(parse("{\"action\":\"ban\",\"duration_s\":0}", &v), 0);
  assert_int_equal(v.duration_s, 0);
  /* null is as good as absent. */
  assert_int_equal(parse("{\"action\":\"ban\",\"reason\":null,\"duration_s\":null}", &v), 0);
  assert_string_equal(v.reason, "");
  /* Longer than ten years is permanent. */
  assert_int_equal(parse("{\"action\":\"ban\",\"duration_s\":9223372036854775807}", &v), 0);
  assert_int_equal(v.duration_s, 0);
  assert_int_equal(parse("{\"action\":\"ban\",\"duration_s\":315360000}", &v), 0);
  assert_int_equal(v.duration_s, 315360000);
}

/* A reason cannot forge log lines, and is cut to fit without splitting a character. */
static void test_reason_cleaned(void **state) {
  (void)state;
  struct classifier_verdict v;
  assert_int_equal(parse("{\"action\":\"kick\",\"reason\":\"a\\nb\\r\\tc\\u007f\"}", &v), 0);
  assert_string_equal(v.reason, "a b  c ");
  /* 254 ASCII bytes and then a 3-byte character: only 1 byte of room left, so it goes. */
  char body[1024];
  char r[300];
  memset(r, 'x', 254);
  memcpy(r + 254, "\xe2\x82\xac" "yy", 6);
  snprintf(body, sizeof(body), "{\"action\":\"kick\",\"reason\":\"%s\"}", r);
  assert_int_equal(parse(body, &v), 0);
  assert_int_equal(strlen(v.reason), 254);
  /* 253: two bytes of room, still not enough. */
  memmove(r + 253, r + 254, 6);
  snprintf(body, sizeof(body), "{\"action\":\"kick\",\"reason\":\"%s\"}", r);
  assert_int_equal(parse(body, &v), 0);
  assert_int_equal(strlen(v.reason), 253);
  /* 252: it fits exactly. */
  memmove(r + 252, r + 253, 6);
  snprintf(body, sizeof(body), "{\"action\":\"kick\",\"reason\":\"%s\"}", r);
  assert_int_equal(parse(body, &v), 0);
  assert_int_equal(strlen(v.reason), 255);
  assert_memory_equal(v.reason + 252, "\xe2\x82\xac", 3);
}

static void test_refused(void **state) {
  (void)state;
  const char *bad[] = {
      "",
      "   ",
      "null",
      "[]",
      "\"kick\"",
      "{}",
      "{\"action\":\"kick\"",
      "{\"action\":\"kick\"} trailing",
      "{\"action\":\"Kick\"}",
      "{\"action\":\"kick \"}",
      "{\"action\":\"\"}",
      "{\"action\":1}",
      "{\"action\":null}",
      "{\"action\":[\"kick\"]}",
      "{\"action\":\"kick\",\"action\":\"none\"}",
      "{\"action\":\"kick\",\"reason\":5}",
      "{\"action\":\"kick\",\"reason\":{}}",
      "{\"action\":\"kick\",\"reason\":\"a\\u0000b\"}",
      "{\"action\":\"ban\",\"duration_s\":-1}",
      "{\"action\":\"ban\",\"duration_s\":1.5}",
      "{\"action\":\"ban\",\"duration_s\":\"60\"}",
      "{\"action\":\"ban\",\"duration_s\":99999999999999999999999}",
      "{\"action\":\"kick\",\"reason\":\"\xff\xfe\"}",
      "{'action':'kick'}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct classifier_verdict v = {.action = CLASSIFIER_BAN, .duration_s = 7};
    if (parse(bad[i], &v) != -EBADMSG)
      fail_msg("accepted: %s", bad[i]);
    /* Untouched on error. */
    assert_int_equal(v.action, CLASSIFIER_BAN);
    assert_int_equal(v.duration_s, 7);
  }
  struct classifier_verdict v;
  assert_int_equal(classifier_verdict_parse(NULL, 0, &v), -EBADMSG);
  /* A raw NUL inside the buffer, and one byte past the bound though the JSON is fine. */
  assert_int_equal(classifier_verdict_parse("{\"action\":\"none\"}\0", 18, &v), -EBADMSG);
  size_t n = CLASSIFIER_MAX_BODY + 1;
  char *big = malloc(n);
  memset(big, ' ', n);
  memcpy(big, "{\"action\":\"none\"}", 17);
  assert_int_equal(classifier_verdict_parse(big, n, &v), -EBADMSG);
  assert_int_equal(classifier_verdict_parse(big, n - 1, &v), 0);
  /* Deep nesting is refused, not a stack overflow. */
  size_t deep = 60000;
  char *d = malloc(deep * 2 + 64);
  size_t k = (size_t)sprintf(d, "{\"action\":\"none\",\"x\":");
  for (size_t i = 0; i < deep / 2; i++)
    d[k++] = '[';
  for (size_t i = 0; i < deep / 2; i++)
    d[k++] = ']';
  d[k++] = '}';
  assert_int_equal(classifier_verdict_parse(d, k, &v), -EBADMSG);
  free(d);
  free(big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accepted),
      cmocka_unit_test(test_reason_cleaned),
      cmocka_unit_test(test_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
