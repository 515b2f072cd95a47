/* test_tags.c -- tag normalisation and the interned tag table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "match/tags.h"

static void test_normalise(void **state) {
  struct match__tagset ts;
  const char *in[] = {"  Music ", "MUSIC", "", NULL, "\tart\n", "caf\xc3\xa9", "Caf\xc3\xa9"};

  (void)state;
  assert_int_equal(match__tags_normalise(in, 7, 10, 32, &ts), 0);
  assert_int_equal(ts.n, 3);
  assert_string_equal(ts.name[0], "music");
  assert_int_equal(ts.len[0], 5);
  assert_string_equal(ts.name[1], "art");
  assert_string_equal(ts.name[2], "caf\xc3\xa9"); /* only ASCII is folded */
  assert_int_equal(match__tags_normalise(NULL, 0, 10, 32, &ts), 0);
  assert_int_equal(ts.n, 0);
  assert_int_equal(match__tags_normalise(NULL, 2, 10, 32, &ts), -EINVAL);
}

static void test_limits(void **state) {
  struct match__tagset ts;
  char buf[64];
  const char *one[1] = {buf};
  const char *bad[1] = {"a\x01" "b"};
  const char *del[1] = {"a\x7f"};
  const char *inner[1] = {"rock and roll"};
  const char *three[3] = {"a", "b", "c"};

  (void)state;
  memset(buf, 'x', 32);
  buf[32] = '\0';
  assert_int_equal(match__tags_normalise(one, 1, 10, 32, &ts), 0);
  buf[32] = 'x';
  buf[33] = '\0';
  assert_int_equal(match__tags_normalise(one, 1, 10, 32, &ts), -EINVAL);
  /* Trimming happens before the length check. */
  snprintf(buf, sizeof(buf), "   %s   ", "0123456789012345678901234567890x");
  assert_int_equal(match__tags_normalise(one, 1, 10, 32, &ts), 0);
  /* max_len above the hard cap is treated as the cap. */
  memset(buf, 'y', 40);
  buf[40] = '\0';
  assert_int_equal(match__tags_normalise(one, 1, 10, 1000, &ts), -EINVAL);
  assert_int_equal(match__tags_normalise(bad, 1, 10, 32, &ts), -EINVAL);
  assert_int_equal(match__tags_normalise(del, 1, 10, 32, &ts), -EINVAL);
  assert_int_equal(match__tags_normalise(inner, 1, 10, 32, &ts), 0);
  assert_int_equal(match__tags_normalise(three, 3, 2, 32, &ts), -EINVAL);
  assert_int_equal(match__tags_normalise(three, 3, 3, 32, &ts), 0);
}

static void test_lang(void **state) {
  char out[MATCH__TAG_LEN_MAX + 1];
  size_t len;

  (void)state;
  assert_int_equal(match__lang_normalise(" PT-br ", 32, out, &len), 0);
  assert_int_equal(len, 5);
  assert_string_equal(out, "pt-br");
  assert_int_equal(match__lang_normalise(NULL, 32, out, &len), 0);
  assert_int_equal(len, 0);
  assert_int_equal(match__lang_normalise("   ", 32, out, &len), 0);
  assert_int_equal(len, 0);
  assert_int_equal(match__lang_normalise("en\n-x", 32, out, &len), -EINVAL);
  assert_int_equal(match__lang_normalise("english", 3, out, &len), -EINVAL);
}

static void test_intern(void **state) {
  struct match__tagtab tt;
  struct match__tag *a, *b, *c, *d;
  struct match__tag *many[500];
  char name[16];
  int i;

  (void)state;
  assert_int_equal(match__tagtab_init(&tt, 1), 0);
  a = match__tag_get(&tt, MATCH__TAG_USER, "en", 2);
  b = match__tag_get(&tt, MATCH__TAG_USER, "en", 2);
  c = match__tag_get(&tt, MATCH__TAG_LANG, "en", 2);
  assert_non_null(a);
  assert_ptr_equal(a, b);
  assert_ptr_not_equal(a, c); /* languages are their own namespace */
  assert_int_equal(a->refs, 2);
  assert_null(match__tag_get(&tt, MATCH__TAG_USER, "", 0));
  for (i = 0; i < 500; i++) {
    snprintf(name, sizeof(name), "tag%d", i);
    many[i] = match__tag_get(&tt, MATCH__TAG_USER, name, strlen(name));
    assert_non_null(many[i]);
  }
  assert_int_equal(tt.n, 502);
  for (i = 0; i < 500; i += 2)
    match__tag_release(&tt, many[i]);
  for (i = 1; i < 500; i += 2) {
    snprintf(name, sizeof(name), "tag%d", i);
    d = match__tag_get(&tt, MATCH__TAG_USER, name, strlen(name));
    assert_ptr_equal(d, many[i]);
    match__tag_release(&tt, d);
    match__tag_release(&tt, many[i]);
  }
  match__tag_release(&tt, a);
  assert_int_equal(tt.n, 2);
  match__tag_release(&tt, b);
  match__tag_release(&tt, c);
  assert_int_equal(tt.n, 0);
  match__tagtab_free(&tt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_normalise),
    cmocka_unit_test(test_limits),
    cmocka_unit_test(test_lang),
    cmocka_unit_test(test_intern),
  };
  return cmocka_run_group_tests_name("match_tags", tests, NULL, NULL);
}
