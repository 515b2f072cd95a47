/* test_netaddr.c -- parsing, IPv4-mapped IPv6 folded to IPv4, formatting, /24 and /64. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "moderation/netaddr.h"

static void roundtrip(const char *in, int family, const char *out) {
  struct netaddr a;
  char buf[NETADDR_STRLEN];
  assert_int_equal(netaddr_parse(in, &a), 0);
  assert_int_equal(a.family, family);
  assert_int_equal(netaddr_format(&a, buf, sizeof(buf)), 0);
  assert_string_equal(buf, out);
}

static void test_parse_format(void **state) {
  (void)state;
  roundtrip("192.0.2.7", NETADDR_V4, "192.0.2.7");
  roundtrip("2001:DB8:0:0:0:0:0:1", NETADDR_V6, "2001:db8::1");
  roundtrip("::1", NETADDR_V6, "::1");
  /* A dual-stack socket's view of an IPv4 client is the IPv4 address. */
  roundtrip("::ffff:192.0.2.7", NETADDR_V4, "192.0.2.7");
  roundtrip("::FFFF:c000:0207", NETADDR_V4, "192.0.2.7");
  /* Not mapped: the deprecated IPv4-compatible form and NAT64 stay IPv6. */
  roundtrip("::192.0.2.7", NETADDR_V6, "::192.0.2.7");
  roundtrip("64:ff9b::192.0.2.7", NETADDR_V6, "64:ff9b::c000:207");
}

static void test_parse_rejects(void **state) {
  static const char *bad[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "[::1]", "::1%eth0",
                              "1.2.3.4:80", "fe80::1/64", " 1.2.3.4", "gg::1", "01.2.3.4"};
  struct netaddr a;
  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    a.family = 99;
    assert_int_equal(netaddr_parse(bad[i], &a), -EINVAL);
    assert_int_equal(a.family, NETADDR_NONE);
  }
  assert_int_equal(netaddr_parse(NULL, &a), -EINVAL);
}

static void test_sockaddr(void **state) {
  struct sockaddr_in in4;
  struct sockaddr_in6 in6;
  struct netaddr a, b;
  (void)state;
  memset(&in4, 0, sizeof(in4));
  in4.sin_family = AF_INET;
  in4.sin_port = htons(1234);
  inet_pton(AF_INET, "198.51.100.9", &in4.sin_addr);
  assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&in4, &a), 0);
  memset(&in6, 0, sizeof(in6));
  in6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:198.51.100.9", &in6.sin6_addr);
  assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&in6, &b), 0);
  assert_true(netaddr_equal(&a, &b));
  assert_int_equal(a.family, NETADDR_V4);

  struct sockaddr un = {.sa_family = AF_UNIX};
  assert_int_equal(netaddr_from_sockaddr(&un, &a), -EAFNOSUPPORT);
}

static void test_networks(void **state) {
  struct netaddr a, n, m;
  char buf[NETADDR_STRLEN];
  (void)state;
  assert_int_equal(netaddr_parse("203.0.113.77", &a), 0);
  netaddr_network(&a, &n);
  assert_int_equal(netaddr_format(&n, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "203.0.113.0");
  assert_int_equal(netaddr_prefix64(&a, &m), -EINVAL);

  assert_int_equal(netaddr_parse("2001:db8:1:2:aaaa:bbbb:cccc:dddd", &a), 0);
  netaddr_network(&a, &n);
  assert_int_equal(netaddr_format(&n, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "2001:db8:1:2::");
  assert_int_equal(netaddr_prefix64(&a, &m), 0);
  assert_true(netaddr_equal(&n, &m));

  /* Same /64, other host: same network. Next /64: not. */
  assert_int_equal(netaddr_parse("2001:db8:1:2::1", &a), 0);
  netaddr_network(&a, &m);
  assert_true(netaddr_equal(&n, &m));
  assert_int_equal(netaddr_parse("2001:db8:1:3::1", &a), 0);
  netaddr_network(&a, &m);
  assert_false(netaddr_equal(&n, &m));
}

static void test_format_errors(void **state) {
  struct netaddr a;
  char small[8];
  (void)state;
  memset(&a, 0, sizeof(a));
  assert_int_equal(netaddr_format(&a, small, sizeof(small)), -EINVAL);
  assert_int_equal(netaddr_parse("2001:db8::1", &a), 0);
  assert_int_equal(netaddr_format(&a, small, sizeof(small)), -ENOSPC);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_format),  cmocka_unit_test(test_parse_rejects),
      cmocka_unit_test(test_sockaddr),      cmocka_unit_test(test_networks),
      cmocka_unit_test(test_format_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
