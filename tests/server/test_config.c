/* test_config.c -- defaults < file < environment < flags, and clear errors for bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>

#include "server/config.h"

static void test_defaults(void **state) {
  (void)state;
  unsetenv("TANDEM_CONFIG");
  unsetenv("TANDEM_HTTP_PORT");
  char *argv[] = {"tandem", NULL};
  struct config c;
  char err[256] = "";
  assert_int_equal(config_load(&c, 1, argv, err, sizeof(err)), 0);
  assert_int_equal(c.http_port, 8080);
  assert_int_equal(c.media_port, 40000);
  assert_string_equal(c.data_dir, "./data");
  assert_string_equal(c.log_level, "info");
  assert_int_equal(c.match_widen_ms, 5000);
  assert_int_equal(c.media_poll_ms, 2);
  assert_false(c.trust_proxy);
  assert_string_equal(c.terms_text, "");
}

static void test_precedence(void **state) {
  (void)state;
  char path[] = "/tmp/tandem-test-config-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fprintf(f, "# a comment\nhttp_port = 9000\nmedia_port=41000\ndata_dir = \"/srv/tandem\"\n"
             "log_level = debug\ntrust_proxy = yes\n");
  fclose(f);
  setenv("TANDEM_MEDIA_PORT", "42000", 1);
  setenv("TANDEM_LOG_LEVEL", "warn", 1);
  char cfgflag[64];
  snprintf(cfgflag, sizeof(cfgflag), "--config=%s", path);
  char *argv[] = {"tandem", cfgflag, "--log-level", "error", "--silence-ms=1500", NULL};
  struct config c;
  char err[256] = "";
  assert_int_equal(config_load(&c, 5, argv, err, sizeof(err)), 0);
  assert_int_equal(c.http_port, 9000);         /* file */
  assert_int_equal(c.media_port, 42000);       /* env beats file */
  assert_string_equal(c.log_level, "error");   /* flag beats env */
  assert_string_equal(c.data_dir, "/srv/tandem");
  assert_true(c.trust_proxy);
  assert_int_equal(c.silence_ms, 1500);
  unsetenv("TANDEM_MEDIA_PORT");
  unsetenv("TANDEM_LOG_LEVEL");
  remove(path);
}

static void test_errors(void **state) {
  (void)state;
  struct config c;
  char err[256];
  char *a1[] = {"tandem", "--no-such-flag=1", NULL};
  assert_int_equal(config_load(&c, 2, a1, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "unknown flag"));
  char *a2[] = {"tandem", "--http-port=eighty", NULL};
  assert_int_equal(config_load(&c, 2, a2, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "http_port"));
  char *a3[] = {"tandem", "--http-port=70000", NULL};
  assert_int_equal(config_load(&c, 2, a3, err, sizeof(err)), -EINVAL);
  char *a4[] = {"tandem", "--config=/nonexistent/tandem.conf", NULL};
  assert_int_equal(config_load(&c, 2, a4, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "cannot open"));
  char *a5[] = {"tandem", "stray", NULL};
  assert_int_equal(config_load(&c, 2, a5, err, sizeof(err)), -EINVAL);
  char *a6[] = {"tandem", "--trust-proxy=maybe", NULL};
  assert_int_equal(config_load(&c, 2, a6, err, sizeof(err)), -EINVAL);
  char *a9[] = {"tandem", "--media-poll-ms=0", NULL};
  assert_int_equal(config_load(&c, 2, a9, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "media_poll_ms"));
  char *a10[] = {"tandem", "--media-poll-ms=21", NULL};
  assert_int_equal(config_load(&c, 2, a10, err, sizeof(err)), -EINVAL);
  char *a11[] = {"tandem", "--media-poll-ms=5", NULL};
  assert_int_equal(config_load(&c, 2, a11, err, sizeof(err)), 0);
  assert_int_equal(c.media_poll_ms, 5);
  char *a12[] = {"tandem", "--media-workers=257", NULL};
  assert_int_equal(config_load(&c, 2, a12, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "media_workers"));
  char *a13[] = {"tandem", "--media-workers=256", NULL};
  assert_int_equal(config_load(&c, 2, a13, err, sizeof(err)), 0);
  char *a14[] = {"tandem", "--terms-text=Be kind. 18+ only.", NULL};
  assert_int_equal(config_load(&c, 2, a14, err, sizeof(err)), 0);
  assert_string_equal(c.terms_text, "Be kind. 18+ only.");
  setenv("TANDEM_GRACE_MS", "-5", 1);
  char *a7[] = {"tandem", NULL};
  assert_int_equal(config_load(&c, 1, a7, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "TANDEM_GRACE_MS"));
  unsetenv("TANDEM_GRACE_MS");

  char path[] = "/tmp/tandem-test-config-XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fdopen(fd, "w");
  fprintf(f, "http_port = 9000\nthis line has no equals sign\n");
  fclose(f);
  char flag[64];
  snprintf(flag, sizeof(flag), "--config=%s", path);
  char *a8[] = {"tandem", flag, NULL};
  assert_int_equal(config_load(&c, 2, a8, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, ":2:"));
  remove(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
