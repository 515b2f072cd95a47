/* test_addrlist.c -- public_ip lists (media/addrlist.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/addrlist.h"

static void test_one_and_many(void **state) {
  (void)state;
  struct addrlist l;
  assert_int_equal(addrlist_parse("203.0.113.5", &l, NULL, NULL), 0);
  assert_int_equal(l.n, 1);
  assert_int_equal(l.a[0].family, AF_INET);
  assert_string_equal(l.a[0].text, "203.0.113.5");
  assert_memory_equal(l.a[0].bytes, "\xcb\x00\x71\x05", 4);

  /* Spaces around entries; IPv6 is written canonically; the order is kept. */
  assert_int_equal(addrlist_parse(" 2001:DB8:0:0::5 , 203.0.113.5,fd00::1 ", &l, NULL, NULL), 0);
  assert_int_equal(l.n, 3);
  assert_int_equal(l.a[0].family, AF_INET6);
  assert_string_equal(l.a[0].text, "2001:db8::5");
  assert_string_equal(l.a[1].text, "203.0.113.5");
  assert_string_equal(l.a[2].text, "fd00::1");
  assert_true(addrlist_has(&l, AF_INET));
  assert_true(addrlist_has(&l, AF_INET6));
  char buf[ADDRLIST_MAX * ADDRLIST_TEXT];
  assert_int_equal(addrlist_format(&l, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "2001:db8::5,203.0.113.5,fd00::1");
  assert_int_equal(addrlist_format(&l, buf, 10), -ENOSPC);
  assert_string_equal(buf, "");

  /* The longest IPv6 text, four times, fits the documented buffer. */
  const char *lng = "1:2:3:4:5:6:255.255.255.255";
  assert_int_equal(addrlist_parse("1111:2222:3333:4444:5555:6666:7777:8888,"
                                  "1111:2222:3333:4444:5555:6666:7777:8889,"
                                  "1111:2222:3333:4444:5555:6666:7777:888a,"
                                  "1111:2222:3333:4444:5555:6666:7777:888b", &l, NULL, NULL), 0);
  assert_int_equal(addrlist_format(&l, buf, sizeof(buf)), 0);
  assert_int_equal(addrlist_parse(lng, &l, NULL, NULL), 0);
  assert_string_equal(l.a[0].text, "1:2:3:4:5:6:ffff:ffff");
}

static void test_empty(void **state) {
  (void)state;
  struct addrlist l;
  l.n = 7;
  assert_int_equal(addrlist_parse("", &l, NULL, NULL), 0);
  assert_int_equal(l.n, 0);
  assert_int_equal(addrlist_parse("   ", &l, NULL, NULL), 0);
  assert_int_equal(l.n, 0);
  assert_false(addrlist_has(&l, AF_INET));
  char buf[4];
  assert_int_equal(addrlist_format(&l, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "");
}

/* Each bad list, the error, and where the offending entry is. */
static void test_refused(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int rc;
    const char *bad;
  } cases[] = {
      {"tandem.example.com", -EINVAL, "tandem.example.com"},
      {"203.0.113.5,tandem.example.com", -EINVAL, "tandem.example.com"},
      {"203.0.113.5, ,2001:db8::5", -EINVAL, ""},
      {"203.0.113.5,", -EINVAL, ""},
      {",203.0.113.5", -EINVAL, ""},
      {"fe80::1%eth0", -EINVAL, "fe80::1%eth0"},
      {"2001:db8::/64", -EINVAL, "2001:db8::/64"},
      {"[2001:db8::5]", -EINVAL, "[2001:db8::5]"},
      {"203.0.113.5:40000", -EINVAL, "203.0.113.5:40000"},
      {"203.0.113.5 198.51.100.7", -EINVAL, "203.0.113.5 198.51.100.7"},
      {"1.2.3", -EINVAL, "1.2.3"},
      {"0.0.0.0", -EADDRNOTAVAIL, "0.0.0.0"},
      {"203.0.113.5, ::", -EADDRNOTAVAIL, "::"},
      {"255.255.255.255", -EADDRNOTAVAIL, "255.255.255.255"},
      {"224.0.0.1", -EADDRNOTAVAIL, "224.0.0.1"},
      {"ff02::1", -EADDRNOTAVAIL, "ff02::1"},
      {"::ffff:203.0.113.5", -EADDRNOTAVAIL, "::ffff:203.0.113.5"},
      {"203.0.113.5,2001:db8::5,203.0.113.5", -EEXIST, "203.0.113.5"},
      {"2001:db8::5,2001:DB8:0::5", -EEXIST, "2001:DB8:0::5"},
      {"10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5", -E2BIG, "10.0.0.5"},
      {"a123456789012345678901234567890123456789012345678901234567890", -EINVAL,
       "a123456789012345678901234567890123456789012345678901234567890"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct addrlist l;
    size_t off = 999, len = 999;
    int rc = addrlist_parse(cases[i].s, &l, &off, &len);
    if (rc != cases[i].rc)
      fail_msg("'%s': %d, expected %d", cases[i].s, rc, cases[i].rc);
    assert_true(off <= strlen(cases[i].s));
    assert_int_equal(len, strlen(cases[i].bad));
    assert_memory_equal(cases[i].s + off, cases[i].bad, len);
  }
}

static void test_global6(void **state) {
  (void)state;
  static const struct {
    const char *a;
    bool global;
  } cases[] = {
      {"2a00:1450:4001:81a::200e", true}, {"2600::1", true}, {"3fff::1", true},
      {"2001:db8::5", false},             {"fe80::1", false}, {"fd00::1", false},
      {"fc00::1", false},                 {"::1", false},     {"::ffff:1.2.3.4", false},
      {"ff02::1", false},                 {"4000::1", false}, {"::", false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint8_t b[16];
    assert_int_equal(inet_pton(AF_INET6, cases[i].a, b), 1);
    if (addrlist_global6(b) != cases[i].global)
      fail_msg("%s: expected %s", cases[i].a, cases[i].global ? "global" : "not global");
  }
}

/* What libwebrtc counts as private (no ICE candidate on 80 or 443 there). */
static void test_private(void **state) {
  (void)state;
  static const struct {
    const char *a;
    bool priv;
  } cases[] = {
      {"10.1.2.3", true},      {"172.16.0.1", true},   {"172.31.255.255", true},
      {"172.32.0.1", false},   {"192.168.1.1", true},  {"100.64.0.1", true},
      {"100.127.0.1", true},   {"100.128.0.1", false}, {"127.0.0.1", true},
      {"169.254.1.1", true},   {"8.8.8.8", false},     {"198.18.5.1", false},
      {"203.0.113.7", false},  {"fd00::1", true},      {"fc12::1", true},
      {"fe80::1", true},       {"::1", true},          {"2a00:1450::1", false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint8_t b[16] = {0};
    int fam = strchr(cases[i].a, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(fam, cases[i].a, b), 1);
    if (addrlist_private(fam, b) != cases[i].priv)
      fail_msg("%s: expected %s", cases[i].a, cases[i].priv ? "private" : "public");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_and_many),
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_global6),
      cmocka_unit_test(test_private),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
