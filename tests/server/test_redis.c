/* test_redis.c -- the Redis client against a real redis-server (skipped without one): replies
 * and error replies, pub/sub with binary payloads, a command in flight answered -ECONNRESET
 * exactly once when Redis dies, commands refused while down, the reconnect with the channel
 * subscribed again, -ECANCELED on close, and a loop left with no handle open. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "server/redis.h"

extern char **environ;

#define REDIS_BIN "/usr/bin/redis-server"

static int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
  close(s);
  return ntohs(a.sin_port);
}

static pid_t start_redis(int port) {
  char p[16];
  snprintf(p, sizeof(p), "%d", port);
  char *argv[] = {REDIS_BIN, "--port", p, "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--loglevel", "warning", NULL};
  pid_t pid;
  posix_spawn_file_actions_t fa; /* its chatter stays out of the test's output */
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  assert_int_equal(posix_spawn(&pid, REDIS_BIN, &fa, NULL, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  for (int i = 0; i < 100; i++) { /* until it answers a PING */
    redisContext *c = redisConnect("127.0.0.1", port);
    if (c && !c->err) {
      redisReply *r = redisCommand(c, "PING");
      bool ok = r && r->type == REDIS_REPLY_STATUS;
      freeReplyObject(r);
      redisFree(c);
      if (ok)
        return pid;
    } else if (c) {
      redisFree(c);
    }
    usleep(50000);
  }
  fail_msg("redis-server did not start");
  return -1;
}

static void stop_redis(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

/* ---- what the client told us ---- */

struct seen {
  int ups, downs;
  bool up;
  char msg[64];
  size_t msg_len;
  int msgs;
};

static void on_state(void *arg, bool up) {
  struct seen *s = arg;
  s->up = up;
  if (up)
    s->ups++;
  else
    s->downs++;
}

static void on_message(void *arg, const char *channel, const char *msg, size_t len) {
  struct seen *s = arg;
  assert_string_equal(channel, "chan");
  assert_true(len < sizeof(s->msg));
  memcpy(s->msg, msg, len);
  s->msg_len = len;
  s->msgs++;
}

struct answer {
  int calls;
  int status;
  int type;
  char str[64];
};

static void on_answer(void *arg, int status, const struct redisReply *r) {
  struct answer *a = arg;
  a->calls++;
  a->status = status;
  a->type = r ? r->type : -1;
  if (r && r->str)
    snprintf(a->str, sizeof(a->str), "%s", r->str);
}

static uv_loop_t loop;

/* Runs the loop until *flag becomes true (or ms pass: a failure). The client's PING timer
 * wakes the loop at least every second. */
static void run_until(const bool *flag, unsigned ms) {
  uint64_t until = uv_now(&loop) + ms;
  while (!*flag && uv_now(&loop) < until)
    uv_run(&loop, UV_RUN_ONCE);
  assert_true(*flag);
}

static int cmd(struct redis *r, struct answer *a, int argc, const char **argv) {
  memset(a, 0, sizeof(*a));
  return redis_command(r, on_answer, a, argc, argv, NULL);
}

static void closed(void *arg) { *(bool *)arg = true; }

static void test_client(void **state) {
  (void)state;
  if (access(REDIS_BIN, X_OK)) {
    skip();
    return;
  }
  assert_int_equal(uv_loop_init(&loop), 0);
  int port = free_port();
  pid_t pid = start_redis(port);
  char url[64];
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d/1", port);
  struct redis_config cfg;
  redis_config_default(&cfg);
  cfg.url = url;
  cfg.backoff_max_ms = 200;
  cfg.ping_ms = 100;
  struct seen s = {0};
  struct redis_events ev = {.on_state = on_state, .on_message = on_message, .arg = &s};
  struct redis *r;
  assert_int_equal(redis_new(&loop, &cfg, &ev, &r), 0);
  assert_int_equal(redis_subscribe(r, "chan"), 0);
  assert_int_equal(redis_subscribe(r, "chan"), -EEXIST);
  assert_int_equal(redis_subscribe(r, ""), -EINVAL);
  /* Not up yet: refused at once. */
  struct answer a;
  const char *ping[] = {"PING"};
  assert_int_equal(cmd(r, &a, 1, ping), -ENOTCONN);
  run_until(&s.up, 3000);
  assert_int_equal(s.ups, 1);

  /* A reply, an error reply. */
  const char *set[] = {"SET", "k", "v"};
  assert_int_equal(cmd(r, &a, 3, set), 0);
  bool done = false;
  assert_int_equal(a.calls, 0); /* never inside the call */
  while (!a.calls)
    uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(a.status, 0);
  assert_int_equal(a.type, REDIS_REPLY_STATUS);
  const char *bad[] = {"NOSUCHCOMMAND", "x"};
  assert_int_equal(cmd(r, &a, 2, bad), 0);
  while (!a.calls)
    uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(a.status, -EREMOTEIO);
  assert_int_equal(a.type, REDIS_REPLY_ERROR);

  /* Pub/sub, a payload with a NUL in it. */
  const char *argv_pub[] = {"PUBLISH", "chan", "a\0b"};
  size_t lens[] = {7, 4, 3};
  memset(&a, 0, sizeof(a));
  assert_int_equal(redis_command(r, on_answer, &a, 3, argv_pub, lens), 0);
  while (!s.msgs)
    uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(s.msg_len, 3);
  assert_memory_equal(s.msg, "a\0b", 3);

  /* Redis dies with a command in flight: answered once with -ECONNRESET; then refused. */
  const char *blpop[] = {"BLPOP", "nothing", "10"};
  assert_int_equal(cmd(r, &a, 3, blpop), 0);
  for (int i = 0; i < 5; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  stop_redis(pid);
  /* Either link may be seen closing first: wait for both. */
  uint64_t until = uv_now(&loop) + 3000;
  while ((s.up || !a.calls) && uv_now(&loop) < until)
    uv_run(&loop, UV_RUN_ONCE);
  assert_false(s.up);
  assert_int_equal(a.calls, 1);
  assert_int_equal(a.status, -ECONNRESET);
  struct answer b;
  assert_int_equal(cmd(r, &b, 1, ping), -ENOTCONN);
  struct redis_stats st;
  redis_get_stats(r, &st);
  assert_false(st.up);
  assert_true(st.refused >= 2);

  /* Back: up again, the channel subscribed again. */
  pid = start_redis(port);
  run_until(&s.up, 5000);
  assert_int_equal(s.ups, 2);
  redis_get_stats(r, &st);
  assert_true(st.reconnects >= 1);
  const char *pub2[] = {"PUBLISH", "chan", "again"};
  s.msgs = 0;
  assert_int_equal(cmd(r, &a, 3, pub2), 0);
  while (!s.msgs)
    uv_run(&loop, UV_RUN_ONCE);
  assert_memory_equal(s.msg, "again", 5);
  assert_int_equal(a.calls, 1);

  /* A Redis that stops answering without closing anything (SIGSTOP): the PING health check
   * drops the links within 3 periods (here 100 ms), answering what was in flight; SIGCONT: up
   * again. */
  kill(pid, SIGSTOP);
  assert_int_equal(cmd(r, &a, 1, ping), 0);
  uint64_t t0 = uv_now(&loop);
  until = t0 + 3000;
  while ((s.up || !a.calls) && uv_now(&loop) < until)
    uv_run(&loop, UV_RUN_ONCE);
  assert_false(s.up);
  assert_int_equal(a.calls, 1);
  assert_int_equal(a.status, -ECONNRESET);
  assert_true(uv_now(&loop) - t0 < 1000);
  kill(pid, SIGCONT);
  run_until(&s.up, 5000);
  assert_int_equal(s.ups, 3);

  /* Closing answers what is in flight with -ECANCELED, then calls done once. */
  assert_int_equal(cmd(r, &a, 3, blpop), 0);
  for (int i = 0; i < 5; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  redis_close(r, closed, &done);
  assert_int_equal(a.calls, 1);
  assert_int_equal(a.status, -ECANCELED);
  uv_run(&loop, UV_RUN_DEFAULT); /* returns once every handle is closed */
  assert_true(done);
  assert_int_equal(uv_loop_close(&loop), 0);
  stop_redis(pid);
}

static void test_bad_url(void **state) {
  (void)state;
  uv_loop_t l;
  uv_loop_init(&l);
  struct redis_config cfg;
  redis_config_default(&cfg);
  cfg.url = "http://127.0.0.1";
  struct redis *r = NULL;
  assert_int_equal(redis_new(&l, &cfg, NULL, &r), -EINVAL);
  assert_int_equal(uv_loop_close(&l), 0);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client),
      cmocka_unit_test(test_bad_url),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
