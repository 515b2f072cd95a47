/* test_sigmsg.c -- the signalling parser: every type, every refusal, and UTF-8-safe replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "server/sigmsg.h"

static int parse(const char *s, struct sigmsg *m, struct sigmsg_error *e) {
  return sigmsg_parse(s, strlen(s), m, e);
}

/* jansson refuses strings that are not valid UTF-8: the oracle for "this reply can be sent". */
static void assert_utf8(const char *s) {
  json_t *j = json_string(s);
  assert_non_null(j);
  json_decref(j);
}

static void expect_error(const char *in, const char *code, const char *ref) {
  struct sigmsg m;
  struct sigmsg_error e;
  assert_int_equal(sigmsg_parse(in, strlen(in), &m, &e), -EBADMSG);
  assert_string_equal(e.code, code);
  assert_string_equal(e.ref, ref);
  assert_true(e.message[0] != '\0');
  assert_utf8(e.message);
  assert_utf8(e.ref);
  assert_null(m.root);
}

static void test_valid(void **state) {
  struct sigmsg m;
  struct sigmsg_error e;
  assert_int_equal(parse("{\"type\":\"hello\",\"resume\":null}", &m, &e), 0);
  assert_int_equal(m.type, SIGMSG_HELLO);
  assert_null(m.resume);
  sigmsg_clear(&m);
  assert_int_equal(parse("{\"type\":\"hello\",\"resume\":\"abc\",\"extra\":[1]}", &m, &e), 0);
  assert_string_equal(m.resume, "abc");
  sigmsg_clear(&m);
  assert_int_equal(parse("{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}", &m, &e), 0);
  assert_int_equal(m.type, SIGMSG_OFFER);
  assert_int_equal(m.sdp_len, 5);
  sigmsg_clear(&m);
  assert_int_equal(parse("{\"type\":\"start\",\"interests\":[\"a\",\"b\"],\"lang\":\"en\"}", &m, &e), 0);
  assert_int_equal(m.n_tags, 2);
  assert_string_equal(m.tags[1], "b");
  assert_string_equal(m.lang, "en");
  sigmsg_clear(&m);
  assert_int_equal(parse("{\"type\":\"start\",\"lang\":\"\"}", &m, &e), 0);
  assert_null(m.lang);
  assert_int_equal(m.n_tags, 0);
  sigmsg_clear(&m);
  assert_int_equal(parse("{\"type\":\"chat\",\"text\":\"h\\u00e9\"}", &m, &e), 0);
  assert_int_equal(m.text_len, 3);
  sigmsg_clear(&m);
  for (const char *const *t = (const char *const[]){"next", "stop", "block", "ping", NULL}; *t; t++) {
    char buf[64];
    snprintf(buf, sizeof(buf), "{\"type\":\"%s\"}", *t);
    assert_int_equal(parse(buf, &m, &e), 0);
    assert_string_equal(m.type_name, *t);
    sigmsg_clear(&m);
  }
  sigmsg_clear(&m); /* an empty message is fine */
}

static void test_refused(void **state) {
  char chat[1100];
  expect_error("{\"type\": \"start\",", "bad_json", "");
  expect_error("[1,2]", "bad_message", "");
  expect_error("{\"type\":42}", "bad_message", "");
  expect_error("{\"type\":\"teleport\"}", "unknown_type", "teleport");
  expect_error("{\"type\":\"hello\",\"resume\":5}", "bad_message", "hello");
  expect_error("{\"type\":\"offer\",\"sdp\":5}", "bad_message", "offer");
  expect_error("{\"type\":\"start\",\"interests\":\"x\"}", "bad_message", "start");
  expect_error("{\"type\":\"start\",\"interests\":[1]}", "bad_message", "start");
  expect_error("{\"type\":\"start\",\"interests\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\","
               "\"10\",\"11\"]}", "bad_message", "start");
  expect_error("{\"type\":\"start\",\"lang\":\"abcdefghijklmnopq\"}", "bad_message", "start");
  expect_error("{\"type\":\"chat\",\"text\":\"\"}", "bad_message", "chat");
  snprintf(chat, sizeof(chat), "{\"type\":\"chat\",\"text\":\"%01001d\"}", 0);
  expect_error(chat, "bad_message", "chat");
  /* Duplicate keys are refused, so no field is read twice. */
  expect_error("{\"type\":\"ping\",\"type\":\"hello\"}", "bad_json", "");
  /* jansson refuses \u0000, so no string is cut short by a NUL of its own. */
  expect_error("{\"type\":\"hello\\u0000x\"}", "bad_json", "");
}

/* Finding 11: an unknown type cut at 64 bytes inside a character produced no reply at all
 * (the message was not valid UTF-8, so it could not be built). */
static void test_unknown_type_cut(void **state) {
  struct sigmsg m;
  struct sigmsg_error e;
  char in[256], want[65];
  /* 63 ASCII bytes, then a 2-byte character straddling byte 64. */
  memset(want, 'a', 63);
  want[63] = '\0';
  snprintf(in, sizeof(in), "{\"type\":\"%s\xc3\xa9tail\"}", want);
  assert_int_equal(sigmsg_parse(in, strlen(in), &m, &e), -EBADMSG);
  assert_string_equal(e.code, "unknown_type");
  assert_string_equal(e.ref, want);
  assert_utf8(e.message);
  assert_non_null(strstr(e.message, want));
  /* A 4-byte character from byte 62: cut before it. */
  want[62] = '\0';
  snprintf(in, sizeof(in), "{\"type\":\"%s\xf0\x9f\x98\x80\"}", want);
  assert_int_equal(sigmsg_parse(in, strlen(in), &m, &e), -EBADMSG);
  assert_string_equal(e.ref, want);
  assert_utf8(e.message);
}

/* Moderation's fields: hello's device token, report's reason and note. */
static void test_moderation_fields(void **state) {
  (void)state;
  struct sigmsg m;
  struct sigmsg_error e;
  assert_int_equal(parse("{\"type\":\"hello\",\"device\":\"abc\"}", &m, &e), 0);
  assert_int_equal(m.device_len, 3);
  assert_string_equal(m.device, "abc");
  sigmsg_clear(&m);
  assert_int_equal(parse("{\"type\":\"hello\",\"device\":null}", &m, &e), 0);
  assert_null(m.device);
  sigmsg_clear(&m);
  assert_int_equal(parse("{\"type\":\"report\",\"reason\":\"minor\"}", &m, &e), 0);
  assert_int_equal(m.type, SIGMSG_REPORT);
  assert_string_equal(m.reason, "minor");
  assert_null(m.note);
  sigmsg_clear(&m);
  assert_int_equal(parse("{\"type\":\"report\",\"reason\":\"spam\",\"note\":\"buy x\"}", &m, &e),
                   0);
  assert_int_equal(m.note_len, 5);
  sigmsg_clear(&m);
  expect_error("{\"type\":\"hello\",\"device\":5}", "bad_message", "hello");
  expect_error("{\"type\":\"hello\",\"device\":\"a\\u0000b\"}", "bad_json", "");
  expect_error("{\"type\":\"report\"}", "bad_message", "report");
  expect_error("{\"type\":\"report\",\"reason\":\"nuditys\"}", "bad_message", "report");
  expect_error("{\"type\":\"report\",\"reason\":\"nudity\\u0000\"}", "bad_json", "");
  expect_error("{\"type\":\"report\",\"reason\":\"spam\",\"note\":7}", "bad_message", "report");
  char big[700];
  snprintf(big, sizeof(big), "{\"type\":\"report\",\"reason\":\"spam\",\"note\":\"%0501d\"}", 0);
  expect_error(big, "bad_message", "report");
}

static void test_utf8_copy(void **state) {
  char out[16];
  static const struct {
    const char *in;
    size_t cap;
    const char *want;
  } cases[] = {
    {"plain", 16, "plain"},
    {"\xc3\xa9t\xc3\xa9", 16, "\xc3\xa9t\xc3\xa9"},
    {"ab\xc3\xa9", 4, "ab"},              /* no room for the whole character */
    {"\xc0\x80x", 16, "??x"},             /* overlong NUL */
    {"\xed\xa0\x80", 16, "???"},          /* a surrogate */
    {"\xf4\x90\x80\x80", 16, "????"},     /* past U+10FFFF */
    {"\xe2\x82", 16, "??"},               /* cut short */
    {"\xf0\x9f\x98\x80!", 16, "\xf0\x9f\x98\x80!"},
    {"\xff\xfe", 16, "??"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t n = sigmsg_utf8_copy(out, cases[i].cap, cases[i].in, strlen(cases[i].in));
    assert_string_equal(out, cases[i].want);
    assert_int_equal(n, strlen(cases[i].want));
  }
  assert_int_equal(sigmsg_utf8_copy(out, 1, "abc", 3), 0);
  assert_string_equal(out, "");
  assert_int_equal(sigmsg_utf8_copy(out, sizeof(out), "a\0b", 3), 3);
  assert_string_equal(out, "a?b");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_valid),
    cmocka_unit_test(test_refused),
    cmocka_unit_test(test_unknown_type_cut),
    cmocka_unit_test(test_utf8_copy),
    cmocka_unit_test(test_moderation_fields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
