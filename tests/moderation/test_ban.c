/* test_ban.c -- the ban set: targets and their text, device/IP/64 lookups, IPv4-mapped IPv6,
 * the longest ban wins, expiry exactly at the boundary, lifting, pruning in bounded steps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "moderation/ban.h"

static struct device_id dev(uint8_t n) {
  struct device_id d;
  memset(d.b, n, sizeof(d.b));
  return d;
}

static struct netaddr ip(const char *s) {
  struct netaddr a;
  assert_int_equal(netaddr_parse(s, &a), 0);
  return a;
}

static struct ban make(int64_t id, enum ban_kind kind, const char *target, uint64_t created,
                       uint64_t expires) {
  struct ban b;
  memset(&b, 0, sizeof(b));
  b.id = id;
  assert_int_equal(ban_target_parse(kind, target, &b.target), 0);
  b.reason = "test";
  b.by = "mod";
  b.created_ms = created;
  b.expires_ms = expires;
  return b;
}

static void test_target_text(void **state) {
  struct ban_target t;
  char buf[BAN_TARGET_STRLEN];
  (void)state;
  assert_int_equal(ban_target_parse(BAN_IP, "::ffff:10.1.2.3", &t), 0);
  assert_int_equal(t.ip.family, NETADDR_V4);
  assert_int_equal(ban_target_format(&t, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "10.1.2.3");

  /* A /64 from any address in it, with or without the suffix. */
  assert_int_equal(ban_target_parse(BAN_IP6_64, "2001:db8:a:b:1:2:3:4", &t), 0);
  assert_int_equal(ban_target_format(&t, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "2001:db8:a:b::/64");
  assert_int_equal(ban_target_parse(BAN_IP6_64, "2001:db8:a:b::/64", &t), 0);
  assert_int_equal(ban_target_parse(BAN_IP6_64, "2001:db8:a:b::/48", &t), -EINVAL);
  assert_int_equal(ban_target_parse(BAN_IP6_64, "10.1.2.3", &t), -EINVAL);
  assert_int_equal(ban_target_parse(BAN_IP6_64, "::ffff:10.1.2.3", &t), -EINVAL);
  assert_int_equal(ban_target_parse(BAN_IP, "10.1.2.3/32", &t), -EINVAL);
  assert_int_equal(ban_target_parse(BAN_DEVICE, "0101", &t), -EINVAL);
  assert_int_equal(ban_target_parse((enum ban_kind)9, "1.2.3.4", &t), -EINVAL);
  assert_int_equal(ban_target_parse(BAN_DEVICE, "0101010101010101010101010101010A", &t), 0);
  assert_int_equal(ban_target_format(&t, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "0101010101010101010101010101010a");

  enum ban_kind k;
  assert_int_equal(ban_kind_parse("ip6_64", &k), 0);
  assert_int_equal(k, BAN_IP6_64);
  assert_int_equal(ban_kind_parse("IP", &k), -EINVAL);
  assert_string_equal(ban_kind_name(BAN_DEVICE), "device");
}

static void test_device_and_ip(void **state) {
  struct ban_set *s = ban_set_new(1);
  struct device_id d1 = dev(1), d2 = dev(2);
  struct netaddr a = ip("198.51.100.7"), other = ip("198.51.100.8");
  char hex[DEVICE_HEX_LEN + 1];
  (void)state;

  device_id_hex(&d1, hex);
  struct ban b = make(1, BAN_DEVICE, hex, 0, 0);
  assert_int_equal(ban_set_add(s, &b), 0);
  b = make(2, BAN_IP, "198.51.100.7", 0, 5000);
  assert_int_equal(ban_set_add(s, &b), 0);

  const struct ban *got = ban_check(s, &d1, &other, 100);
  assert_non_null(got);
  assert_int_equal(got->id, 1);
  got = ban_check(s, &d2, &a, 100);
  assert_non_null(got);
  assert_int_equal(got->id, 2);
  assert_string_equal(got->reason, "test");
  assert_string_equal(got->by, "mod");
  assert_null(ban_check(s, &d2, &other, 100));
  assert_null(ban_check(s, NULL, NULL, 100));
  assert_non_null(ban_check(s, &d1, NULL, 100));
  /* A new device from a banned IP, and a banned device from a new IP: both refused. */
  assert_non_null(ban_check(s, NULL, &a, 100));
  ban_set_free(s);
}

static void test_ipv4_mapped(void **state) {
  struct ban_set *s = ban_set_new(2);
  struct netaddr mapped;
  (void)state;
  struct ban b = make(1, BAN_IP, "203.0.113.5", 0, 0);
  assert_int_equal(ban_set_add(s, &b), 0);
  /* What a dual-stack socket reports for that client, built by hand as raw IPv6 bytes. */
  memset(&mapped, 0, sizeof(mapped));
  mapped.family = NETADDR_V6;
  mapped.b[10] = mapped.b[11] = 0xff;
  mapped.b[12] = 203, mapped.b[13] = 0, mapped.b[14] = 113, mapped.b[15] = 5;
  assert_non_null(ban_check(s, NULL, &mapped, 1));
  struct netaddr parsed = ip("::ffff:203.0.113.5");
  assert_non_null(ban_check(s, NULL, &parsed, 1));
  assert_true(ban_applies(ban_set_get(s, 1), NULL, &mapped, 1));

  /* And the other way round: a ban written as mapped IPv6 bytes covers the IPv4 client. */
  struct ban c;
  memset(&c, 0, sizeof(c));
  c.id = 2;
  c.target.kind = BAN_IP;
  c.target.ip = mapped;
  c.target.ip.b[15] = 6;
  assert_int_equal(ban_set_add(s, &c), 0);
  struct netaddr v4 = ip("203.0.113.6");
  const struct ban *got = ban_check(s, NULL, &v4, 1);
  assert_non_null(got);
  assert_int_equal(got->id, 2);
  assert_int_equal(got->target.ip.family, NETADDR_V4);
  assert_string_equal(got->reason, "");
  /* A mapped address never matches a /64 ban (it is not IPv6). */
  struct ban p = make(3, BAN_IP6_64, "::/64", 0, 0);
  assert_int_equal(ban_set_add(s, &p), 0);
  struct netaddr v4b = ip("::ffff:192.0.2.1");
  assert_null(ban_check(s, NULL, &v4b, 1));
  mapped.b[15] = 1;
  assert_false(ban_applies(ban_set_get(s, 3), NULL, &mapped, 1));
  ban_set_free(s);
}

static void test_prefix64(void **state) {
  struct ban_set *s = ban_set_new(3);
  (void)state;
  struct ban b = make(1, BAN_IP6_64, "2001:db8:1:2::/64", 0, 0);
  assert_int_equal(ban_set_add(s, &b), 0);
  struct netaddr in1 = ip("2001:db8:1:2::1"), in2 = ip("2001:db8:1:2:ffff:ffff:ffff:ffff");
  struct netaddr out1 = ip("2001:db8:1:3::1"), out2 = ip("2001:db8:1:1:ffff:ffff:ffff:ffff");
  assert_non_null(ban_check(s, NULL, &in1, 0));
  assert_non_null(ban_check(s, NULL, &in2, 0));
  assert_null(ban_check(s, NULL, &out1, 0));
  assert_null(ban_check(s, NULL, &out2, 0));
  assert_true(ban_applies(&b, NULL, &in2, 0));
  assert_false(ban_applies(&b, NULL, &out1, 0));

  /* An exact IPv6 address ban covers only that address. */
  b = make(2, BAN_IP, "2001:db8:9::5", 0, 0);
  assert_int_equal(ban_set_add(s, &b), 0);
  struct netaddr x = ip("2001:db8:9::5"), y = ip("2001:db8:9::6");
  assert_non_null(ban_check(s, NULL, &x, 0));
  assert_null(ban_check(s, NULL, &y, 0));
  ban_set_free(s);
}

static void test_longest_wins(void **state) {
  struct ban_set *s = ban_set_new(4);
  struct device_id d = dev(7);
  struct netaddr a = ip("2001:db8:5:6::9");
  char hex[DEVICE_HEX_LEN + 1];
  (void)state;
  device_id_hex(&d, hex);
  struct ban b = make(1, BAN_DEVICE, hex, 0, 2000);
  assert_int_equal(ban_set_add(s, &b), 0);
  b = make(2, BAN_IP, "2001:db8:5:6::9", 0, 9000);
  assert_int_equal(ban_set_add(s, &b), 0);
  b = make(3, BAN_IP6_64, "2001:db8:5:6::", 0, 5000);
  assert_int_equal(ban_set_add(s, &b), 0);
  b = make(4, BAN_DEVICE, hex, 0, 3000); /* a second ban on the same key */
  assert_int_equal(ban_set_add(s, &b), 0);

  assert_int_equal(ban_check(s, &d, &a, 0)->id, 2);
  assert_int_equal(ban_check(s, &d, NULL, 0)->id, 4);
  assert_int_equal(ban_set_lift(s, 2), 0);
  assert_int_equal(ban_check(s, &d, &a, 0)->id, 3);
  /* A permanent ban beats every timed one. */
  b = make(5, BAN_IP6_64, "2001:db8:5:6::1", 0, 0);
  assert_int_equal(ban_set_add(s, &b), 0);
  assert_int_equal(ban_check(s, &d, &a, 0)->id, 5);
  assert_int_equal(ban_set_lift(s, 5), 0);
  /* Later, the ones that ended drop out. */
  assert_int_equal(ban_check(s, &d, &a, 2999)->id, 3);
  assert_int_equal(ban_check(s, &d, NULL, 2999)->id, 4);
  assert_null(ban_check(s, &d, NULL, 3000));
  assert_int_equal(ban_check(s, &d, &a, 3000)->id, 3);
  ban_set_free(s);
}

static void test_expiry_boundary(void **state) {
  struct ban_set *s = ban_set_new(5);
  struct netaddr a = ip("192.0.2.1");
  (void)state;
  struct ban b = make(1, BAN_IP, "192.0.2.1", 1000, 61000);
  assert_int_equal(ban_set_add(s, &b), 0);
  assert_non_null(ban_check(s, NULL, &a, 1000));
  assert_non_null(ban_check(s, NULL, &a, 60999));
  assert_null(ban_check(s, NULL, &a, 61000)); /* ends exactly at expires_ms */
  assert_null(ban_check(s, NULL, &a, 61001));
  assert_true(ban_applies(&b, NULL, &a, 60999));
  assert_false(ban_applies(&b, NULL, &a, 61000));
  /* Pruning at the boundary frees it; one ms before it keeps it. */
  assert_int_equal(ban_set_prune(s, 60999, 100), 0);
  assert_int_equal(ban_set_count(s), 1);
  assert_int_equal(ban_set_prune(s, 61000, 100), 1);
  assert_int_equal(ban_set_count(s), 0);
  assert_null(ban_set_get(s, 1));
  /* Lifted bans never apply; a lifted ban is not accepted into the set. */
  b.lifted_ms = 5;
  assert_false(ban_applies(&b, NULL, &a, 2000));
  assert_int_equal(ban_set_add(s, &b), -EINVAL);
  ban_set_free(s);
}

static void test_add_errors_and_lift(void **state) {
  struct ban_set *s = ban_set_new(6);
  char big[BAN_TEXT_MAX + 2];
  (void)state;
  struct ban b = make(1, BAN_IP, "192.0.2.1", 0, 0);
  assert_int_equal(ban_set_add(s, &b), 0);
  assert_int_equal(ban_set_add(s, &b), -EEXIST);
  b.id = 0;
  assert_int_equal(ban_set_add(s, &b), -EINVAL);
  b.id = 2;
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  b.reason = big;
  assert_int_equal(ban_set_add(s, &b), -EINVAL);
  b.reason = NULL;
  b.target.ip.family = NETADDR_NONE;
  assert_int_equal(ban_set_add(s, &b), -EINVAL);
  assert_int_equal(ban_set_count(s), 1);
  assert_int_equal(ban_set_lift(s, 1), 0);
  assert_int_equal(ban_set_lift(s, 1), -ENOENT);
  assert_int_equal(ban_set_count(s), 0);
  /* The caller's strings are copied: the set does not keep pointers to them. */
  char reason[16] = "spam";
  b = make(3, BAN_IP, "192.0.2.9", 0, 0);
  b.reason = reason;
  assert_int_equal(ban_set_add(s, &b), 0);
  strcpy(reason, "changed");
  assert_string_equal(ban_set_get(s, 3)->reason, "spam");
  ban_set_free(s);
}

/* Many bans on shared keys, lifted and expired in a scrambled order: the chains and the heap
 * stay consistent, and prune works in bounded steps. */
static void test_many(void **state) {
  enum { N = 4000 };
  struct ban_set *s = ban_set_new(7);
  char text[64];
  (void)state;
  for (int i = 1; i <= N; i++) {
    snprintf(text, sizeof(text), "10.0.%d.%d", (i % 50) / 10, i % 10); /* 50 addresses */
    struct ban b = make(i, BAN_IP, text, 0, i % 7 == 0 ? 0 : (uint64_t)((i * 7919) % N + 1));
    assert_int_equal(ban_set_add(s, &b), 0);
  }
  for (int i = 3; i <= N; i += 3)
    assert_int_equal(ban_set_lift(s, i), 0);
  size_t left = ban_set_count(s);
  uint64_t now = N / 2;
  size_t pruned = 0, step;
  while ((step = ban_set_prune(s, now, 16)) > 0) {
    assert_true(step <= 16);
    pruned += step;
  }
  assert_int_equal(ban_set_count(s), left - pruned);
  /* What is left: permanent, or ending after now; every address still finds its longest. */
  for (int i = 1; i <= N; i++) {
    const struct ban *b = ban_set_get(s, i);
    bool expect = i % 3 != 0 && (i % 7 == 0 || (uint64_t)((i * 7919) % N + 1) > now);
    assert_int_equal(b != NULL, expect);
  }
  for (int a = 0; a < 50; a++) {
    snprintf(text, sizeof(text), "10.0.%d.%d", a / 10, a % 10);
    struct netaddr addr = ip(text);
    const struct ban *best = ban_check(s, NULL, &addr, now);
    /* Brute force over the ids for that address. */
    const struct ban *want = NULL;
    for (int i = 1; i <= N; i++) {
      const struct ban *b = ban_set_get(s, i);
      if (!b || i % 50 != a || !ban_applies(b, NULL, &addr, now))
        continue;
      if (!want || (want->expires_ms && (!b->expires_ms || b->expires_ms > want->expires_ms)))
        want = b;
    }
    assert_ptr_equal(best == NULL ? NULL : (void *)(uintptr_t)best->expires_ms,
                     want == NULL ? NULL : (void *)(uintptr_t)want->expires_ms);
  }
  assert_int_equal(ban_set_prune(s, UINT64_MAX - 1, SIZE_MAX), ban_set_count(s) - (N / 7 - N / 21));
  ban_set_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_target_text),     cmocka_unit_test(test_device_and_ip),
      cmocka_unit_test(test_ipv4_mapped),     cmocka_unit_test(test_prefix64),
      cmocka_unit_test(test_longest_wins),    cmocka_unit_test(test_expiry_boundary),
      cmocka_unit_test(test_add_errors_and_lift), cmocka_unit_test(test_many),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
