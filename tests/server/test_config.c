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
  assert_int_equal(c.media_record_ms, 10000);
  assert_false(c.trust_proxy);
  assert_string_equal(c.terms_text, "");
  assert_string_equal(c.log_format, "text");
  assert_false(c.log_ips);
  assert_string_equal(c.metrics_addr, "");
  assert_int_equal(c.classifier_max_side, 320);
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

static char *write_temp(const char *text) {
  static char path[64];
  snprintf(path, sizeof(path), "/tmp/tandem-test-config-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fputs(text, f);
  fclose(f);
  return path;
}

static int load_file_only(struct config *c, const char *path, char *err, size_t errlen) {
  char flag[128];
  snprintf(flag, sizeof(flag), "--config=%s", path);
  char *argv[] = {"tandem", flag, NULL};
  return config_load(c, 2, argv, err, errlen);
}

/* Every numeric error names the range; every file error names file:line. */
static void test_ranges_and_places(void **state) {
  (void)state;
  struct config c;
  char err[512];
  char *a1[] = {"tandem", "--grace-ms=-1", NULL};
  assert_int_equal(config_load(&c, 2, a1, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "flag --grace-ms"));
  assert_non_null(strstr(err, "0 to 3600000"));
  char *a2[] = {"tandem", "--max-peers=lots", NULL};
  assert_int_equal(config_load(&c, 2, a2, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "whole number"));
  assert_non_null(strstr(err, "1 to 1000000"));
  char *a3[] = {"tandem", "--match-recent-k=65", NULL};
  assert_int_equal(config_load(&c, 2, a3, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "0 to 64"));
  char *a4[] = {"tandem", "--media-transports=quic", NULL};
  assert_int_equal(config_load(&c, 2, a4, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "media_transports: 'quic' is not one of udp, tcp, both"));
  /* media_record_ms: 0 (off), or 2000 to 60000. */
  char *a5[] = {"tandem", "--media-record-ms=1999", NULL};
  assert_int_equal(config_load(&c, 2, a5, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "media_record_ms: '1999' is out of range (0, or 2000 to 60000)"));
  char *a6[] = {"tandem", "--media-record-ms=0", NULL};
  assert_int_equal(config_load(&c, 2, a6, err, sizeof(err)), 0);
  assert_int_equal(c.media_record_ms, 0);
  /* classifier_max_side: 0 (as sent), or 16 to 1920. */
  char *a7[] = {"tandem", "--classifier-max-side=1921", NULL};
  assert_int_equal(config_load(&c, 2, a7, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "classifier_max_side: '1921' is out of range (0, or 16 to 1920)"));
  char *a8[] = {"tandem", "--classifier-max-side=0", NULL};
  assert_int_equal(config_load(&c, 2, a8, err, sizeof(err)), 0);
  assert_int_equal(c.classifier_max_side, 0);
  char *a9[] = {"tandem", "--classifier-max-side=224", NULL};
  assert_int_equal(config_load(&c, 2, a9, err, sizeof(err)), 0);
  assert_int_equal(c.classifier_max_side, 224);

  char *path = write_temp("# comment\n\nhttp_port = 9000\nsilence_ms = 10\n");
  assert_int_equal(load_file_only(&c, path, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, ":4: silence_ms: '10' is out of range (500 to 600000)"));
  assert_non_null(strstr(err, path));
  remove(path);
  path = write_temp("log_level = loud\n");
  assert_int_equal(load_file_only(&c, path, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, ":1: log_level: 'loud' is not one of error, warn, info, debug"));
  remove(path);
  path = write_temp("web_dir = \"/srv/web\n");
  assert_int_equal(load_file_only(&c, path, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, ":1: web_dir: missing closing quote"));
  remove(path);
  path = write_temp("bogus_key = 1\n");
  assert_int_equal(load_file_only(&c, path, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, ":1: unknown key 'bogus_key'"));
  remove(path);
  path = write_temp("config = /etc/other.conf\n");
  assert_int_equal(load_file_only(&c, path, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, ":1: config cannot be set"));
  remove(path);
}

static void test_addresses(void **state) {
  (void)state;
  struct config c;
  char err[512];
  char *a1[] = {"tandem", "--public-ip=tandem.example.com", NULL};
  assert_int_equal(config_load(&c, 2, a1, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "public_ip: 'tandem.example.com' is not an IP address"));
  char *a2[] = {"tandem", "--public-ip=0.0.0.0", NULL};
  assert_int_equal(config_load(&c, 2, a2, err, sizeof(err)), -EINVAL);
  char *a3[] = {"tandem", "--public-ip=203.0.113.7", NULL};
  assert_int_equal(config_load(&c, 2, a3, err, sizeof(err)), 0);
  assert_string_equal(c.public_ip, "203.0.113.7");
  char *a4[] = {"tandem", "--public-ip=2001:db8::7", NULL};
  assert_int_equal(config_load(&c, 2, a4, err, sizeof(err)), 0);
  /* A list: IPv4 and IPv6, spaces allowed, kept as given; each entry checked, the bad one
   * named. */
  char *l1[] = {"tandem", "--public-ip=203.0.113.7, 2001:db8::7", NULL};
  assert_int_equal(config_load(&c, 2, l1, err, sizeof(err)), 0);
  assert_string_equal(c.public_ip, "203.0.113.7, 2001:db8::7");
  char *l2[] = {"tandem", "--public-ip=203.0.113.7,tandem.example.com", NULL};
  assert_int_equal(config_load(&c, 2, l2, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "public_ip: '203.0.113.7,tandem.example.com' lists "
                              "'tandem.example.com', which is not an IP address"));
  char *l3[] = {"tandem", "--public-ip=2001:db8::7,::", NULL};
  assert_int_equal(config_load(&c, 2, l3, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "lists '::', which is not an address browsers can reach"));
  char *l4[] = {"tandem", "--public-ip=2001:db8::7,2001:DB8::7", NULL};
  assert_int_equal(config_load(&c, 2, l4, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "lists '2001:DB8::7', which is listed twice"));
  char *l5[] = {"tandem", "--public-ip=10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5", NULL};
  assert_int_equal(config_load(&c, 2, l5, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "lists '10.0.0.5', which is one address too many (at most 4)"));
  char *l6[] = {"tandem", "--public-ip=203.0.113.7,", NULL};
  assert_int_equal(config_load(&c, 2, l6, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "lists '', which is not an IP address"));
  char *l7[] = {"tandem", "--public-ip=::ffff:203.0.113.7", NULL};
  assert_int_equal(config_load(&c, 2, l7, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "'::ffff:203.0.113.7' is not an address browsers can reach"));
  assert_non_null(strstr(err, "write the IPv4 form"));
  /* media_addr6: an IPv6 address, "::" by default. */
  char *m0[] = {"tandem", NULL};
  assert_int_equal(config_load(&c, 1, m0, err, sizeof(err)), 0);
  assert_string_equal(c.media_addr6, "::");
  char *m1[] = {"tandem", "--media-addr6=2001:db8::7", NULL};
  assert_int_equal(config_load(&c, 2, m1, err, sizeof(err)), 0);
  assert_string_equal(c.media_addr6, "2001:db8::7");
  char *m2[] = {"tandem", "--media-addr6=0.0.0.0", NULL};
  assert_int_equal(config_load(&c, 2, m2, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "media_addr6: '0.0.0.0' is not an IPv6 address"));
  setenv("TANDEM_PUBLIC_IP", "example.org", 1);
  char *a5[] = {"tandem", NULL};
  assert_int_equal(config_load(&c, 1, a5, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "TANDEM_PUBLIC_IP: public_ip"));
  unsetenv("TANDEM_PUBLIC_IP");
  char *a6[] = {"tandem", "--media-addr=localhost", NULL};
  assert_int_equal(config_load(&c, 2, a6, err, sizeof(err)), -EINVAL);
  char *a7[] = {"tandem", "--http-addr=localhost", NULL};
  assert_int_equal(config_load(&c, 2, a7, err, sizeof(err)), 0);

  char host[64];
  int port = 0;
  assert_int_equal(config_parse_hostport("127.0.0.1:9090", host, sizeof(host), &port), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(port, 9090);
  assert_int_equal(config_parse_hostport("[::1]:9091", host, sizeof(host), &port), 0);
  assert_string_equal(host, "::1");
  assert_int_equal(port, 9091);
  assert_int_equal(config_parse_hostport("localhost:1", host, sizeof(host), &port), 0);
  assert_int_equal(config_parse_hostport("::1:9090", host, sizeof(host), &port), -EINVAL);
  assert_int_equal(config_parse_hostport("127.0.0.1", host, sizeof(host), &port), -EINVAL);
  assert_int_equal(config_parse_hostport("127.0.0.1:0", host, sizeof(host), &port), -EINVAL);
  assert_int_equal(config_parse_hostport("127.0.0.1:65536", host, sizeof(host), &port), -EINVAL);
  assert_int_equal(config_parse_hostport("metrics.local:9090", host, sizeof(host), &port), -EINVAL);
  char *a8[] = {"tandem", "--metrics-addr=127.0.0.1", NULL};
  assert_int_equal(config_load(&c, 2, a8, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "metrics_addr"));
  char *a9[] = {"tandem", "--metrics-addr=127.0.0.1:8080", NULL};
  assert_int_equal(config_load(&c, 2, a9, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "http_port"));
  char *a10[] = {"tandem", "--metrics-addr=127.0.0.1:9090", "--log-format=json", "--log-ips",
                 NULL};
  assert_int_equal(config_load(&c, 4, a10, err, sizeof(err)), 0);
  assert_string_equal(c.metrics_addr, "127.0.0.1:9090");
  assert_string_equal(c.log_format, "json");
  assert_true(c.log_ips);
}

static char *print_to_string(const struct config *c) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  config_print(c, f);
  fclose(f);
  return buf;
}

/* --print-config output is a config file that loads back to the same configuration. */
static void test_print_reads_back(void **state) {
  (void)state;
  struct config a, b;
  char err[512] = "";
  char *argv[] = {"tandem", "--data-dir=/srv/a \"quoted\" dir\\with = and # signs",
                  "--web-dir= padded\ttab ", "--http-port=9001", "--log-ips=yes",
                  "--public-ip=198.51.100.4", NULL};
  assert_int_equal(config_load(&a, 6, argv, err, sizeof(err)), 0);
  char *first = print_to_string(&a);
  char *path = write_temp(first);
  assert_int_equal(load_file_only(&b, path, err, sizeof(err)), 0);
  char *second = print_to_string(&b);
  assert_string_equal(first, second);
  assert_string_equal(b.data_dir, "/srv/a \"quoted\" dir\\with = and # signs");
  assert_string_equal(b.web_dir, " padded\ttab ");
  assert_int_equal(b.http_port, 9001);
  assert_true(b.log_ips);
  /* Everything but the file name itself is the same. */
  memset(b.config_file, 0, sizeof(b.config_file));
  assert_memory_equal(&a, &b, sizeof(a));
  remove(path);
  free(first);
  free(second);

  /* A newline in a string (terms text, say) survives too. */
  char *path2 = write_temp("data_dir = \"line one\\nline two\"\n");
  assert_int_equal(load_file_only(&a, path2, err, sizeof(err)), 0);
  assert_string_equal(a.data_dir, "line one\nline two");
  remove(path2);
  first = print_to_string(&a);
  assert_non_null(strstr(first, "data_dir = \"line one\\nline two\"\n"));
  free(first);
}

static void test_version_and_help(void **state) {
  (void)state;
  struct config c;
  char err[256] = "";
  /* They answer even when the rest would be refused. */
  char *a1[] = {"tandem", "--http-port=nope", "--version", NULL};
  assert_int_equal(config_load(&c, 3, a1, err, sizeof(err)), 1);
  char *a2[] = {"tandem", "--help", NULL};
  assert_int_equal(config_load(&c, 2, a2, err, sizeof(err)), 1);
}

/* Several nodes: redis_url is checked as a URL, and needs a node_id of 1 to 1023. */
static void test_cluster_keys(void **state) {
  (void)state;
  struct config c;
  char err[256];
  char *def[] = {"tandem", NULL};
  assert_int_equal(config_load(&c, 1, def, err, sizeof(err)), 0);
  assert_string_equal(c.redis_url, "");
  assert_int_equal(c.node_id, 0);
  char *ok[] = {"tandem", "--redis-url=redis://:pw@10.0.0.5:6380/2", "--node-id=7", NULL};
  assert_int_equal(config_load(&c, 3, ok, err, sizeof(err)), 0);
  assert_string_equal(c.redis_url, "redis://:pw@10.0.0.5:6380/2");
  assert_int_equal(c.node_id, 7);
  char *no_id[] = {"tandem", "--redis-url=redis://127.0.0.1", NULL};
  assert_int_equal(config_load(&c, 2, no_id, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "node_id"));
  assert_non_null(strstr(err, "1 to 1023"));
  char *big[] = {"tandem", "--redis-url=redis://127.0.0.1", "--node-id=1024", NULL};
  assert_int_equal(config_load(&c, 3, big, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "node_id"));
  char *neg[] = {"tandem", "--node-id=-1", NULL};
  assert_int_equal(config_load(&c, 2, neg, err, sizeof(err)), -EINVAL);
  char *bad[] = {"tandem", "--redis-url=localhost:6379", "--node-id=1", NULL};
  assert_int_equal(config_load(&c, 3, bad, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "redis_url"));
  assert_non_null(strstr(err, "redis://"));
  char *port[] = {"tandem", "--redis-url=redis://127.0.0.1:99999", "--node-id=1", NULL};
  assert_int_equal(config_load(&c, 3, port, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "port"));
  /* node_id alone (no redis_url) is accepted and changes nothing. */
  char *alone[] = {"tandem", "--node-id=3", NULL};
  assert_int_equal(config_load(&c, 2, alone, err, sizeof(err)), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cluster_keys),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_ranges_and_places),
      cmocka_unit_test(test_addresses),
      cmocka_unit_test(test_print_reads_back),
      cmocka_unit_test(test_version_and_help),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
