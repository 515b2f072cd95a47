/* test_nodewire.c -- a node's entry in the cluster's list of nodes (server/nodewire.h): admin
 * URLs accepted and refused, an entry encoded and decoded back, hostile entries refused
 * without touching the output, the matcher's lease parsed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/nodewire.h"

static void test_urls(void **state) {
  (void)state;
  const char *good[] = {
      "http://10.0.0.5:8080", "https://10.0.0.5", "http://node-1.example.com:443/",
      "http://[fd00::5]:8080", "https://[2001:db8::1]/", "http://localhost:1", "http://a:65535",
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    assert_int_equal(nodewire_url_check(good[i]), 0);
  char longname[300] = "http://";
  memset(longname + 7, 'a', 254);
  const char *bad[] = {
      "", "10.0.0.5:8080", "ftp://10.0.0.5", "http://", "http://:8080", "http://a:0",
      "http://a:65536", "http://a:123456", "http://a:", "http://a/path", "http://a/?x=1",
      "http://user:pw@a", "http://a#frag", "http://[fd00::5", "http://[not-v6]:80",
      "http://[]:80", "http://a b", "http://a\r\nX: y", "http://-a", "http://a-", "http://.a",
      "http://a..b", "http://a.", "HTTP://a", "http://a:80//", "http://é.example", longname,
      "javascript:alert(1)", "http://a:+80", "http://a:-1",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (nodewire_url_check(bad[i]) != -EINVAL)
      fail_msg("accepted: %s", bad[i]);
  }
  assert_int_equal(nodewire_url_check(NULL), -EINVAL);
}

static struct nodewire sample(void) {
  struct nodewire n;
  memset(&n, 0, sizeof(n));
  n.node = 7;
  snprintf(n.admin_url, sizeof(n.admin_url), "http://10.0.0.7:8080");
  snprintf(n.version, sizeof(n.version), "0.1.0 (5be1d00)");
  n.started_ms = 1796419898300ull;
  n.visitors = 120;
  n.pairs = 55;
  n.draining = true;
  return n;
}

static void test_round_trip(void **state) {
  (void)state;
  struct nodewire n = sample(), back;
  char *s = nodewire_encode(&n);
  assert_non_null(s);
  memset(&back, 0xa5, sizeof(back));
  assert_int_equal(nodewire_decode(s, strlen(s), &back), 0);
  assert_int_equal(back.node, 7);
  assert_string_equal(back.admin_url, n.admin_url);
  assert_string_equal(back.version, n.version);
  assert_true(back.started_ms == n.started_ms);
  assert_int_equal(back.visitors, 120);
  assert_int_equal(back.pairs, 55);
  assert_true(back.draining);
  free(s);
  /* Unknown fields are ignored (a newer node beside an older one). */
  const char *newer = "{\"node\":3,\"admin_url\":\"https://[fd00::3]:8443\",\"version\":\"9\","
                      "\"started_ms\":0,\"visitors\":0,\"pairs\":0,\"draining\":false,"
                      "\"zone\":\"eu-1\"}";
  assert_int_equal(nodewire_decode(newer, strlen(newer), &back), 0);
  assert_int_equal(back.node, 3);
  assert_false(back.draining);
  /* What cannot be decoded back is not encoded. */
  struct nodewire bad = sample();
  snprintf(bad.admin_url, sizeof(bad.admin_url), "http://x/path");
  assert_null(nodewire_encode(&bad));
  bad = sample();
  bad.node = 1024;
  assert_null(nodewire_encode(&bad));
  bad = sample();
  bad.version[0] = '\x1b';
  assert_null(nodewire_encode(&bad));
}

#define BASE "\"admin_url\":\"http://10.0.0.7:8080\",\"version\":\"v\",\"started_ms\":1," \
             "\"visitors\":2,\"pairs\":1,\"draining\":false"

static void test_hostile(void **state) {
  (void)state;
  char huge[NODEWIRE_TEXT_MAX + 100];
  int k = snprintf(huge, sizeof(huge), "{\"node\":1," BASE ",\"pad\":\"");
  memset(huge + k, 'x', sizeof(huge) - (size_t)k - 3);
  memcpy(huge + sizeof(huge) - 3, "\"}", 3);
  const char *bad[] = {
      "", "null", "[]", "\"x\"", "{", "{\"node\":1}", "{\"node\":1," BASE "} trailing",
      "{\"node\":1024," BASE "}", "{\"node\":-1," BASE "}", "{\"node\":1.5," BASE "}",
      "{\"node\":\"1\"," BASE "}", "{\"node\":1,\"node\":2," BASE "}",
      "{\"node\":1,\"admin_url\":\"file:///etc/passwd\",\"version\":\"v\",\"started_ms\":1,"
      "\"visitors\":2,\"pairs\":1,\"draining\":false}",
      "{\"node\":1,\"admin_url\":\"http://evil.example/steal?t=\",\"version\":\"v\","
      "\"started_ms\":1,\"visitors\":2,\"pairs\":1,\"draining\":false}",
      "{\"node\":1,\"admin_url\":\"http://a\",\"version\":\"\\u001b[2J\",\"started_ms\":1,"
      "\"visitors\":2,\"pairs\":1,\"draining\":false}",
      "{\"node\":1,\"admin_url\":\"http://a\",\"version\":\"a\\u0000b\",\"started_ms\":1,"
      "\"visitors\":2,\"pairs\":1,\"draining\":false}",
      "{\"node\":1,\"admin_url\":\"http://a\",\"version\":\"v\",\"started_ms\":-5,"
      "\"visitors\":2,\"pairs\":1,\"draining\":false}",
      "{\"node\":1,\"admin_url\":\"http://a\",\"version\":\"v\",\"started_ms\":1,"
      "\"visitors\":200000000,\"pairs\":1,\"draining\":false}",
      "{\"node\":1,\"admin_url\":\"http://a\",\"version\":\"v\",\"started_ms\":1,"
      "\"visitors\":2,\"pairs\":1,\"draining\":0}",
      "{\"node\":1,\"admin_url\":\"http://a\",\"version\":\"v\",\"started_ms\":1,"
      "\"visitors\":2,\"pairs\":1}",
      huge,
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct nodewire out = sample();
    if (nodewire_decode(bad[i], strlen(bad[i]), &out) != -EBADMSG)
      fail_msg("accepted: %.200s", bad[i]);
    assert_int_equal(out.node, 7); /* untouched */
    assert_string_equal(out.admin_url, "http://10.0.0.7:8080");
  }
  struct nodewire out = sample();
  assert_int_equal(nodewire_decode(NULL, 0, &out), -EBADMSG);
  /* A version longer than the room for it. */
  char longv[400];
  snprintf(longv, sizeof(longv), "{\"node\":1,\"admin_url\":\"http://a\",\"version\":\"%0100d\","
                                 "\"started_ms\":1,\"visitors\":2,\"pairs\":1,\"draining\":true}",
           0);
  assert_int_equal(nodewire_decode(longv, strlen(longv), &out), -EBADMSG);
  /* Bytes after a NUL are not read past len. */
  const char ok[] = "{\"node\":1," BASE "}";
  assert_int_equal(nodewire_decode(ok, strlen(ok), &out), 0);
  assert_int_equal(nodewire_decode(ok, strlen(ok) - 1, &out), -EBADMSG);
}

static void test_lease(void **state) {
  (void)state;
  assert_int_equal(nodewire_lease_node("2:00000000deadbeef", 18), 2);
  assert_int_equal(nodewire_lease_node("1023:1", 6), 1023);
  const char *bad[] = {"", ":1", "1:", "0:1", "01:1", "1024:1", "99999:1", "1x:1", "1:xyz",
                       "1:00000000000000000", "-1:1", " 1:1", "1:1 "};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (nodewire_lease_node(bad[i], strlen(bad[i])))
      fail_msg("accepted: %s", bad[i]);
  assert_int_equal(nodewire_lease_node("1:a\0b", 5), 0);
  assert_int_equal(nodewire_lease_node(NULL, 3), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_urls),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_hostile),
      cmocka_unit_test(test_lease),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
