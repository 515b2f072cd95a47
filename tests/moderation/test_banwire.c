/* test_banwire.c -- bans between nodes: cluster ids (node in the high bits, exact in JSON),
 * a ban and the channel's messages encoded and decoded back, and hostile text refused
 * without touching the output. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "moderation/ban.h"
#include "moderation/banwire.h"

static void test_ids(void **state) {
  (void)state;
  int64_t id = banwire_id(3, 17);
  assert_true(id > 0);
  assert_int_equal(banwire_node(id), 3);
  assert_int_equal(banwire_local(id), 17);
  int64_t top = banwire_id(BANWIRE_NODE_MAX, BANWIRE_LOCAL_MAX);
  assert_true(top > 0 && top < (INT64_C(1) << 53)); /* exact in a JavaScript number */
  assert_int_equal(banwire_node(top), BANWIRE_NODE_MAX);
  assert_int_equal(banwire_id(0, 1), -1);
  assert_int_equal(banwire_id(BANWIRE_NODE_MAX + 1, 1), -1);
  assert_int_equal(banwire_id(1, 0), -1);
  assert_int_equal(banwire_id(1, BANWIRE_LOCAL_MAX + 1), -1);
  /* A standalone store id (node 0) and a temporary id are no cluster ids. */
  assert_int_equal(banwire_node(17), 0);
  assert_int_equal(banwire_node(INT64_MAX - 1), 0);
  assert_int_equal(banwire_node(-5), 0);
  assert_int_equal(banwire_node(INT64_C(5) << BANWIRE_LOCAL_BITS), 0); /* local id 0 */
}

static struct ban sample(enum ban_kind kind, const char *target) {
  struct ban b;
  memset(&b, 0, sizeof(b));
  b.id = banwire_id(2, 41);
  assert_int_equal(ban_target_parse(kind, target, &b.target), 0);
  b.reason = "nudity \"quoted\" \xc3\xa9";
  b.by = "alice";
  b.created_ms = 1733300000000ull;
  b.expires_ms = 1733303600000ull;
  return b;
}

static void same(const struct ban *a, const struct ban *b) {
  assert_int_equal(a->id, b->id);
  assert_int_equal(a->target.kind, b->target.kind);
  char x[BAN_TARGET_STRLEN], y[BAN_TARGET_STRLEN];
  assert_int_equal(ban_target_format(&a->target, x, sizeof(x)), 0);
  assert_int_equal(ban_target_format(&b->target, y, sizeof(y)), 0);
  assert_string_equal(x, y);
  assert_string_equal(a->reason, b->reason);
  assert_string_equal(a->by, b->by);
  assert_int_equal(a->created_ms, b->created_ms);
  assert_int_equal(a->expires_ms, b->expires_ms);
  assert_int_equal(b->lifted_ms, 0);
}

static void test_round_trip(void **state) {
  (void)state;
  struct ban bans[] = {sample(BAN_DEVICE, "000102030405060708090a0b0c0d0e0f"),
                       sample(BAN_IP, "203.0.113.9"), sample(BAN_IP, "2001:db8::7"),
                       sample(BAN_IP6_64, "2001:db8:1:2::/64")};
  bans[1].expires_ms = 0; /* permanent */
  for (size_t i = 0; i < sizeof(bans) / sizeof(bans[0]); i++) {
    char *s = banwire_encode(&bans[i]);
    assert_non_null(s);
    struct banwire_ban d;
    assert_int_equal(banwire_decode(s, strlen(s), &d), 0);
    same(&bans[i], &d.b);
    /* A copy keeps its own strings. */
    struct banwire_ban c;
    banwire_copy(&c, &d);
    memset(&d, 0, sizeof(d));
    same(&bans[i], &c.b);
    free(s);
    s = banwire_msg_ban(&bans[i]);
    enum banwire_op op = 0;
    assert_int_equal(banwire_msg_decode(s, strlen(s), &op, &d), 0);
    assert_int_equal(op, BANWIRE_BAN);
    same(&bans[i], &d.b);
    free(s);
  }
  char *s = banwire_msg_unban(banwire_id(7, 9), "bob");
  struct banwire_ban d;
  enum banwire_op op = 0;
  assert_int_equal(banwire_msg_decode(s, strlen(s), &op, &d), 0);
  assert_int_equal(op, BANWIRE_UNBAN);
  assert_int_equal(d.b.id, banwire_id(7, 9));
  assert_string_equal(d.b.by, "bob");
  free(s);
}

static void test_encode_refuses(void **state) {
  (void)state;
  struct ban b = sample(BAN_IP, "198.51.100.1");
  b.id = 12; /* a standalone id */
  assert_null(banwire_encode(&b));
  assert_null(banwire_msg_ban(&b));
  assert_null(banwire_msg_unban(12, "x"));
  b = sample(BAN_IP, "198.51.100.1");
  b.target.kind = 9;
  assert_null(banwire_encode(&b));
}

static void test_hostile(void **state) {
  (void)state;
  static const char *bad[] = {
      "", "null", "[]", "42", "\"ban\"", "{", "{\"id\":1}",
      /* a standalone id, a node out of range, negative and fractional and huge numbers */
      "{\"id\":5,\"kind\":\"ip\",\"target\":\"192.0.2.1\",\"reason\":\"\",\"by\":\"\",\"created_ms\":1,\"expires_ms\":0}",
      "{\"id\":-4398046511105,\"kind\":\"ip\",\"target\":\"192.0.2.1\",\"reason\":\"\",\"by\":\"\",\"created_ms\":1,\"expires_ms\":0}",
      "{\"id\":4398046511105.5,\"kind\":\"ip\",\"target\":\"192.0.2.1\",\"reason\":\"\",\"by\":\"\",\"created_ms\":1,\"expires_ms\":0}",
      "{\"id\":9007199254740993,\"kind\":\"ip\",\"target\":\"192.0.2.1\",\"reason\":\"\",\"by\":\"\",\"created_ms\":1,\"expires_ms\":0}",
      /* wrong kinds and targets */
      "{\"id\":4398046511105,\"kind\":\"host\",\"target\":\"192.0.2.1\",\"reason\":\"\",\"by\":\"\",\"created_ms\":1,\"expires_ms\":0}",
      "{\"id\":4398046511105,\"kind\":\"ip\",\"target\":\"192.0.2.300\",\"reason\":\"\",\"by\":\"\",\"created_ms\":1,\"expires_ms\":0}",
      "{\"id\":4398046511105,\"kind\":\"device\",\"target\":\"0011\",\"reason\":\"\",\"by\":\"\",\"created_ms\":1,\"expires_ms\":0}",
      "{\"id\":4398046511105,\"kind\":\"ip6_64\",\"target\":\"192.0.2.1\",\"reason\":\"\",\"by\":\"\",\"created_ms\":1,\"expires_ms\":0}",
      /* ill-typed, missing, a NUL in a string, duplicate keys, ends before it starts */
      "{\"id\":\"4398046511105\",\"kind\":\"ip\",\"target\":\"192.0.2.1\",\"reason\":\"\",\"by\":\"\",\"created_ms\":1,\"expires_ms\":0}",
      "{\"id\":4398046511105,\"kind\":\"ip\",\"target\":\"192.0.2.1\",\"by\":\"\",\"created_ms\":1,\"expires_ms\":0}",
      "{\"id\":4398046511105,\"kind\":\"ip\",\"target\":\"192.0.2.1\",\"reason\":\"a\\u0000b\",\"by\":\"\",\"created_ms\":1,\"expires_ms\":0}",
      "{\"id\":4398046511105,\"id\":4398046511106,\"kind\":\"ip\",\"target\":\"192.0.2.1\",\"reason\":\"\",\"by\":\"\",\"created_ms\":1,\"expires_ms\":0}",
      "{\"id\":4398046511105,\"kind\":\"ip\",\"target\":\"192.0.2.1\",\"reason\":\"\",\"by\":\"\",\"created_ms\":10,\"expires_ms\":10}",
      "{\"id\":4398046511105,\"kind\":\"ip\",\"target\":\"192.0.2.1\",\"reason\":\"\",\"by\":\"\",\"created_ms\":0,\"expires_ms\":0}",
  };
  struct banwire_ban d;
  memset(&d, 0x5a, sizeof(d));
  struct banwire_ban before = d;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(banwire_decode(bad[i], strlen(bad[i]), &d), -EBADMSG);
    assert_memory_equal(&d, &before, sizeof(d));
  }
  /* The good one of the same shape decodes. */
  const char *good = "{\"id\":4398046511105,\"kind\":\"ip\",\"target\":\"192.0.2.1\",\"reason\":\"\",\"by\":\"\",\"created_ms\":1,\"expires_ms\":0}";
  assert_int_equal(banwire_decode(good, strlen(good), &d), 0);
  assert_int_equal(banwire_node(d.b.id), 1);
  /* Too long a reason. */
  size_t n = BAN_TEXT_MAX + 200;
  char *big = malloc(n + 200);
  int w = snprintf(big, 200, "{\"id\":4398046511105,\"kind\":\"ip\",\"target\":\"192.0.2.1\",\"by\":\"\",\"created_ms\":1,\"expires_ms\":0,\"reason\":\"");
  memset(big + w, 'r', BAN_TEXT_MAX + 1);
  strcpy(big + w + BAN_TEXT_MAX + 1, "\"}");
  assert_int_equal(banwire_decode(big, strlen(big), &d), -EBADMSG);
  free(big);
  /* Messages. */
  static const char *badmsg[] = {
      "{}", "{\"op\":\"ban\"}", "{\"op\":\"ban\",\"ban\":7}", "{\"op\":\"unban\",\"id\":5,\"by\":\"x\"}",
      "{\"op\":\"unban\",\"id\":4398046511105}", "{\"op\":\"lift\",\"id\":4398046511105,\"by\":\"\"}",
      "{\"op\":1}", "not json at all",
  };
  enum banwire_op op = 0;
  for (size_t i = 0; i < sizeof(badmsg) / sizeof(badmsg[0]); i++)
    assert_int_equal(banwire_msg_decode(badmsg[i], strlen(badmsg[i]), &op, &d), -EBADMSG);
  assert_int_equal(banwire_msg_decode(NULL, 0, &op, &d), -EBADMSG);
  assert_int_equal(op, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ids),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_encode_refuses),
      cmocka_unit_test(test_hostile),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
