/* test_report_policy.c -- automatic bans: distinct reporters (device AND network: /24, /64),
 * the window and its boundary, escalation 1 h / 24 h / 7 d / permanent, forgiveness, replay
 * after a restart, bounds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "moderation/report_policy.h"

#define H 3600000ULL
#define D (24 * H)

static struct device_id dev(unsigned n) {
  struct device_id d;
  memset(d.b, 0, sizeof(d.b));
  d.b[0] = (uint8_t)n;
  d.b[1] = (uint8_t)(n >> 8);
  d.b[15] = 0x5a;
  return d;
}

static struct netaddr ip(const char *s) {
  struct netaddr a;
  assert_int_equal(netaddr_parse(s, &a), 0);
  return a;
}

static struct report_policy *policy(unsigned threshold) {
  struct report_policy_config c;
  struct report_policy *p;
  report_policy_config_default(&c);
  c.threshold = threshold;
  c.seed = 11;
  assert_int_equal(report_policy_new(&c, &p), 0);
  return p;
}

/* One report against `target` by reporter device r from address a at t. */
static struct report_verdict rep(struct report_policy *p, unsigned target, unsigned r,
                                 const char *a, uint64_t t) {
  struct report_verdict v;
  struct device_id x = dev(target), y = dev(r);
  struct netaddr addr = ip(a);
  assert_int_equal(report_policy_add(p, &x, &y, &addr, t, &v), 0);
  return v;
}

static void test_defaults(void **state) {
  struct report_policy_config c;
  (void)state;
  report_policy_config_default(&c);
  assert_int_equal(c.threshold, 3);
  assert_int_equal(c.nsteps, 4);
  assert_true(c.steps_ms[0] == H && c.steps_ms[1] == D && c.steps_ms[2] == 7 * D &&
              c.steps_ms[3] == 0);
  struct report_policy *p;
  assert_int_equal(report_policy_new(NULL, &p), 0);
  report_policy_free(p);
  report_policy_free(NULL);
  c.threshold = 0;
  assert_int_equal(report_policy_new(&c, &p), -EINVAL);
  c.threshold = 65;
  assert_int_equal(report_policy_new(&c, &p), -EINVAL);
  c.threshold = 3;
  c.max_reports = 2;
  assert_int_equal(report_policy_new(&c, &p), -EINVAL);
  c.max_reports = 32;
  c.nsteps = 0;
  assert_int_equal(report_policy_new(&c, &p), -EINVAL);
  c.nsteps = REPORT_POLICY_MAX_STEPS + 1;
  assert_int_equal(report_policy_new(&c, &p), -EINVAL);
}

static void test_three_distinct_ban(void **state) {
  struct report_policy *p = policy(3);
  (void)state;
  struct report_verdict v = rep(p, 1, 10, "198.51.100.1", 1000);
  assert_false(v.ban);
  assert_int_equal(v.reporters, 1);
  v = rep(p, 1, 11, "203.0.113.1", 2000);
  assert_false(v.ban);
  assert_int_equal(v.reporters, 2);
  v = rep(p, 1, 12, "2001:db8:1:1::1", 3000);
  assert_true(v.ban);
  assert_int_equal(v.reporters, 3);
  assert_int_equal(v.offence, 1);
  assert_true(v.expires_ms == 3000 + H);
  /* Counting starts over after a ban. */
  v = rep(p, 1, 13, "192.0.2.1", 4000);
  assert_false(v.ban);
  assert_int_equal(v.reporters, 1);
  report_policy_free(p);
}

static void test_same_device_counts_once(void **state) {
  struct report_policy *p = policy(2);
  (void)state;
  /* One device reporting again, even from another network, is one reporter. */
  assert_int_equal(rep(p, 1, 10, "198.51.100.1", 1).reporters, 1);
  assert_int_equal(rep(p, 1, 10, "203.0.113.1", 2).reporters, 1);
  assert_int_equal(rep(p, 1, 10, "2001:db8::1", 3).reporters, 1);
  assert_false(rep(p, 1, 10, "192.0.2.1", 4).ban);
  /* A second device is a second reporter, even from a /24 the first one used in a report
   * that was not counted (the first device was already counted by its first report). */
  assert_true(rep(p, 1, 11, "192.0.2.200", 5).ban);
  report_policy_free(p);
}

static void test_same_network_counts_once(void **state) {
  struct report_policy *p = policy(2);
  (void)state;
  /* Many devices behind one /24: one reporter. */
  for (unsigned r = 10; r < 30; r++) {
    char a[32];
    snprintf(a, sizeof(a), "198.51.100.%u", r);
    struct report_verdict v = rep(p, 1, r, a, r);
    assert_false(v.ban);
    assert_int_equal(v.reporters, 1);
  }
  /* The neighbouring /24 is another network. */
  assert_true(rep(p, 1, 40, "198.51.101.1", 100).ban);

  /* IPv6: the /64 is the network. */
  assert_int_equal(rep(p, 2, 10, "2001:db8:a:b::1", 1).reporters, 1);
  assert_int_equal(rep(p, 2, 11, "2001:db8:a:b:ffff::2", 2).reporters, 1);
  assert_false(rep(p, 2, 12, "2001:db8:a:b:1:2:3:4", 3).ban);
  assert_true(rep(p, 2, 13, "2001:db8:a:c::1", 4).ban);

  /* An IPv4-mapped IPv6 address is its IPv4 address: same /24. */
  assert_int_equal(rep(p, 3, 10, "192.0.2.1", 1).reporters, 1);
  assert_int_equal(rep(p, 3, 11, "::ffff:192.0.2.77", 2).reporters, 1);
  report_policy_free(p);
}

static void test_greedy_never_overcounts(void **state) {
  struct report_policy *p = policy(3);
  (void)state;
  /* A on three networks, B and C on A's first network: at most two people, counted as fewer
   * than three, never as three. */
  rep(p, 1, 10, "198.51.100.1", 1);
  rep(p, 1, 10, "203.0.113.1", 2);
  rep(p, 1, 10, "192.0.2.1", 3);
  rep(p, 1, 11, "198.51.100.2", 4);
  struct report_verdict v = rep(p, 1, 12, "198.51.100.3", 5);
  assert_false(v.ban);
  assert_true(v.reporters < 3);
  report_policy_free(p);
}

static void test_window_boundary(void **state) {
  struct report_policy *p = policy(2);
  (void)state;
  /* A report counts while now < its time + window: at exactly + window it is gone. */
  rep(p, 1, 10, "198.51.100.1", 1000);
  struct report_verdict v = rep(p, 1, 11, "203.0.113.1", 1000 + H);
  assert_false(v.ban);
  assert_int_equal(v.reporters, 1);
  /* One ms inside the window: counted. */
  rep(p, 2, 10, "198.51.100.1", 1000);
  v = rep(p, 2, 11, "203.0.113.1", 1000 + H - 1);
  assert_true(v.ban);
  report_policy_free(p);
}

static void test_escalation(void **state) {
  struct report_policy *p = policy(1);
  uint64_t t = 10 * D;
  const uint64_t want[] = {H, D, 7 * D, 0, 0};
  (void)state;
  for (unsigned i = 0; i < 5; i++) {
    struct report_verdict v = rep(p, 1, 10 + i, "198.51.100.1", t);
    assert_true(v.ban);
    assert_int_equal(v.offence, i + 1);
    assert_true(v.expires_ms == (want[i] ? t + want[i] : 0));
    struct device_id d = dev(1);
    assert_int_equal(report_policy_offences(p, &d, t), i + 1);
    t += 8 * D; /* after the ban, well within forgive_ms */
  }
  report_policy_free(p);
}

static void test_forgiveness(void **state) {
  struct report_policy_config c;
  struct report_policy *p;
  struct device_id d = dev(1);
  (void)state;
  report_policy_config_default(&c);
  c.threshold = 1;
  c.forgive_ms = 10 * D;
  assert_int_equal(report_policy_new(&c, &p), 0);
  assert_true(rep(p, 1, 10, "198.51.100.1", 0).expires_ms == H);
  /* Ended at 1 h; 10 days after that the slate is clean, one ms before it is not. */
  assert_int_equal(report_policy_offences(p, &d, H + 10 * D - 1), 1);
  assert_int_equal(report_policy_offences(p, &d, H + 10 * D), 0);
  struct report_verdict v = rep(p, 1, 11, "198.51.100.1", H + 10 * D - 1);
  assert_int_equal(v.offence, 2);
  assert_true(v.expires_ms == H + 10 * D - 1 + D);
  uint64_t end = v.expires_ms;
  v = rep(p, 1, 12, "198.51.100.1", end + 10 * D);
  assert_int_equal(v.offence, 1);
  assert_true(v.expires_ms == end + 10 * D + H);
  report_policy_free(p);
}

static void test_note_ban_and_replay(void **state) {
  struct report_policy *p = policy(2);
  struct device_id d = dev(1);
  (void)state;
  /* History from the store: two earlier bans (manual or auto), the last at t = 5000. */
  assert_int_equal(report_policy_note_ban(p, &d, 100, 100 + H), 0);
  assert_int_equal(report_policy_note_ban(p, &d, 5000, 5000 + D), 0);
  assert_int_equal(report_policy_offences(p, &d, 6000), 2);
  /* Replayed reports up to the last ban (the ones that led to it) never count again. */
  assert_int_equal(rep(p, 1, 10, "198.51.100.1", 4000).reporters, 0);
  assert_int_equal(rep(p, 1, 11, "203.0.113.1", 5000).reporters, 0);
  /* Later ones do, and the next ban is a third offence: 7 days. */
  assert_int_equal(rep(p, 1, 10, "198.51.100.1", 5001).reporters, 1);
  struct report_verdict v = rep(p, 1, 11, "203.0.113.1", 6000);
  assert_true(v.ban);
  assert_int_equal(v.offence, 3);
  assert_true(v.expires_ms == 6000 + 7 * D);
  /* A permanent ban noted: further bans stay permanent. */
  struct device_id e = dev(2);
  assert_int_equal(report_policy_note_ban(p, &e, 10, 0), 0);
  assert_int_equal(report_policy_note_ban(p, &e, 20, 0), 0);
  assert_int_equal(report_policy_note_ban(p, &e, 30, 0), 0);
  rep(p, 2, 10, "198.51.100.1", 100);
  v = rep(p, 2, 11, "203.0.113.1", 100);
  assert_int_equal(v.offence, 4);
  assert_true(v.ban && v.expires_ms == 0);
  report_policy_free(p);
}

static void test_errors_and_bounds(void **state) {
  struct report_policy_config c;
  struct report_policy *p;
  struct report_verdict v;
  struct device_id a = dev(1), b = dev(2), x = dev(3);
  struct netaddr none, addr = ip("192.0.2.1");
  (void)state;
  report_policy_config_default(&c);
  c.threshold = 3;
  c.max_devices = 2;
  c.max_reports = 4;
  c.window_ms = 1000;
  assert_int_equal(report_policy_new(&c, &p), 0);
  memset(&none, 0, sizeof(none));
  assert_int_equal(report_policy_add(p, &a, &a, &addr, 1, &v), -EINVAL);
  assert_int_equal(report_policy_add(p, &a, &b, &none, 1, &v), -EINVAL);
  assert_int_equal(report_policy_devices(p), 0);
  assert_int_equal(report_policy_add(p, &a, &b, &addr, 1, &v), 0);
  assert_int_equal(report_policy_add(p, &b, &a, &addr, 1, &v), 0);
  assert_int_equal(report_policy_add(p, &x, &a, &addr, 1, &v), -ENOSPC);
  assert_int_equal(report_policy_note_ban(p, &x, 1, 0), -ENOSPC);
  /* Nothing to forget yet; after the window both are forgotten. */
  assert_int_equal(report_policy_prune(p, 500, 1000), 0);
  assert_int_equal(report_policy_prune(p, 1001, 1000), 2);
  assert_int_equal(report_policy_devices(p), 0);
  assert_int_equal(report_policy_add(p, &x, &a, &addr, 2000, &v), 0);

  /* max_reports (4): the oldest report leaves first. A once, then B five times: A's report
   * is gone, so only B counts; C brings the count to two, not three; D makes three. (On the
   * second device the table allows: x, which had one report.) */
  const char *nets[] = {"10.0.1.1", "10.0.2.1", "10.0.3.1", "10.0.4.1"};
  uint64_t t = 2001;
  v = rep(p, 4, 100, nets[0], t++);
  for (int i = 0; i < 5; i++)
    v = rep(p, 4, 101, nets[1], t++);
  assert_int_equal(v.reporters, 1);
  v = rep(p, 4, 102, nets[2], t++);
  assert_false(v.ban);
  assert_int_equal(v.reporters, 2);
  v = rep(p, 4, 103, nets[3], t++);
  assert_true(v.ban);
  assert_true(v.expires_ms == t - 1 + H);
  /* An offender is kept by prune (it has offences), and forgotten once forgiven. */
  assert_int_equal(report_policy_prune(p, t + 5 * 1000, 1000), 1); /* x */
  assert_int_equal(report_policy_devices(p), 1);
  assert_int_equal(report_policy_prune(p, t - 1 + H + c.forgive_ms - 1, 1000), 0);
  assert_int_equal(report_policy_prune(p, t - 1 + H + c.forgive_ms, 1000), 1);
  report_policy_free(p);
}

static void test_prune_bounded(void **state) {
  struct report_policy_config c;
  struct report_policy *p;
  struct report_verdict v;
  struct netaddr addr = ip("192.0.2.1");
  struct device_id r = dev(60000);
  (void)state;
  report_policy_config_default(&c);
  c.window_ms = 10;
  assert_int_equal(report_policy_new(&c, &p), 0);
  for (unsigned i = 0; i < 5000; i++) {
    struct device_id d = dev(i);
    assert_int_equal(report_policy_add(p, &d, &r, &addr, 1, &v), 0);
  }
  size_t freed = 0, calls = 0, step;
  while ((step = report_policy_prune(p, 100, 64)) > 0 || report_policy_devices(p) > 0) {
    assert_true(step <= 64);
    freed += step;
    assert_true(++calls < 10000);
  }
  assert_int_equal(freed, 5000);
  assert_true(calls > 10);
  report_policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_three_distinct_ban),
      cmocka_unit_test(test_same_device_counts_once),
      cmocka_unit_test(test_same_network_counts_once),
      cmocka_unit_test(test_greedy_never_overcounts),
      cmocka_unit_test(test_window_boundary),
      cmocka_unit_test(test_escalation),
      cmocka_unit_test(test_forgiveness),
      cmocka_unit_test(test_note_ban_and_replay),
      cmocka_unit_test(test_errors_and_bounds),
      cmocka_unit_test(test_prune_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
