/* test_iptab.c -- per-address entries: IPv4 whole, IPv6 by /64, v4-mapped as IPv4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "server/iptab.h"

static void test_keys(void **state) {
  struct iptab *t = iptab_new();
  struct iptab_entry *a, *b;
  assert_non_null(t);
  a = iptab_ref(t, "192.0.2.1");
  a->n = 3;
  assert_ptr_equal(iptab_ref(t, "192.0.2.1"), a);
  assert_ptr_equal(iptab_get(t, "::ffff:192.0.2.1"), a);
  assert_null(iptab_get(t, "192.0.2.2"));
  /* One /64: any address in it is the same client. */
  b = iptab_ref(t, "2001:db8:1:2::1");
  assert_ptr_equal(iptab_get(t, "2001:db8:1:2:ffff:eeee:dddd:cccc"), b);
  assert_null(iptab_get(t, "2001:db8:1:3::1"));
  /* Not an IP: one shared entry. */
  a = iptab_ref(t, "garbage");
  assert_ptr_equal(iptab_get(t, ""), a);
  a = iptab_get(t, "192.0.2.1");
  assert_int_equal(iptab_count(t), 3);
  iptab_release(t, "192.0.2.1"); /* n != 0: kept */
  assert_int_equal(iptab_count(t), 3);
  a->n = 0;
  iptab_release(t, "192.0.2.1");
  iptab_release(t, "2001:db8:1:2::7");
  assert_int_equal(iptab_count(t), 1);
  iptab_free(t);
  iptab_free(NULL);
}

static void test_many(void **state) {
  struct iptab *t = iptab_new();
  char ip[64];
  for (int i = 0; i < 5000; i++) {
    snprintf(ip, sizeof(ip), "2001:db8:%x:%x::1", i >> 8, i & 255);
    struct iptab_entry *e = iptab_ref(t, ip);
    assert_non_null(e);
    e->n++;
  }
  assert_int_equal(iptab_count(t), 5000);
  for (int i = 0; i < 5000; i += 2) {
    snprintf(ip, sizeof(ip), "2001:db8:%x:%x::99", i >> 8, i & 255);
    assert_int_equal(iptab_get(t, ip)->n, 1);
    iptab_get(t, ip)->n = 0;
    iptab_release(t, ip);
  }
  assert_int_equal(iptab_count(t), 2500);
  iptab_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_keys),
    cmocka_unit_test(test_many),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
