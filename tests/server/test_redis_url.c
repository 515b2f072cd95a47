/* test_redis_url.c -- redis_url: TCP with and without port, database and password, IPv6 in
 * brackets, unix sockets, and every malformed form refused with a reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/redis_url.h"

static void test_good(void **state) {
  (void)state;
  struct redis_url u;
  assert_int_equal(redis_url_parse("redis://127.0.0.1", &u, NULL), 0);
  assert_false(u.unix_socket);
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(u.port, 6379);
  assert_int_equal(u.db, 0);
  assert_string_equal(u.password, "");

  assert_int_equal(redis_url_parse("redis://redis.internal:6380/3", &u, NULL), 0);
  assert_string_equal(u.host, "redis.internal");
  assert_int_equal(u.port, 6380);
  assert_int_equal(u.db, 3);

  assert_int_equal(redis_url_parse("redis://:s%40cr%2Fet@10.0.0.5:7000/", &u, NULL), 0);
  assert_string_equal(u.user, "");
  assert_string_equal(u.password, "s@cr/et");
  assert_int_equal(u.port, 7000);
  char red[256];
  redis_url_redacted(&u, red, sizeof(red));
  assert_string_equal(red, "redis://:***@10.0.0.5:7000/0");
  assert_null(strstr(red, "cr"));

  assert_int_equal(redis_url_parse("redis://tandem:pw@[::1]:6379/1", &u, NULL), 0);
  assert_string_equal(u.user, "tandem");
  assert_string_equal(u.password, "pw");
  assert_string_equal(u.host, "::1");
  redis_url_redacted(&u, red, sizeof(red));
  assert_string_equal(red, "redis://tandem:***@[::1]:6379/1");

  assert_int_equal(redis_url_parse("unix:/run/redis/redis.sock", &u, NULL), 0);
  assert_true(u.unix_socket);
  assert_string_equal(u.path, "/run/redis/redis.sock");
  assert_int_equal(redis_url_parse("unix:///tmp/r.sock", &u, NULL), 0);
  assert_string_equal(u.path, "/tmp/r.sock");
}

static void test_bad(void **state) {
  (void)state;
  static const char *bad[] = {
      "", "localhost:6379", "http://127.0.0.1:6379", "redis://", "redis://:6379",
      "redis://host:", "redis://host:0", "redis://host:65536", "redis://host:99999999999",
      "redis://host:12a", "redis://host/abc", "redis://host/10000", "redis://host?db=1",
      "redis://::1:6379", "redis://[::1", "redis://[]:1", "redis://[::1]x:1",
      "redis://user@host", "redis://:@host", "redis://:%zz@host", "redis://:%0a@host",
      "redis://:pw%4@host", "redis://ho st", "redis://h\x01st", "redis://h!st",
      "unix:", "unix:relative.sock", "redis://host:6379#frag",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct redis_url u;
    const char *why = NULL;
    if (redis_url_parse(bad[i], &u, &why) != -EINVAL)
      fail_msg("accepted '%s'", bad[i]);
    assert_non_null(why);
    assert_true(strlen(why) > 5);
  }
  char longpath[200] = "unix:/";
  memset(longpath + 6, 'a', 150);
  longpath[156] = 0;
  struct redis_url u;
  assert_int_equal(redis_url_parse(longpath, &u, NULL), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good),
      cmocka_unit_test(test_bad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
