/* redis.h -- an asynchronous Redis client on a libuv loop (hiredis and its libuv adapter):
 * one connection for commands and, once something is subscribed, a second one for pub/sub.
 * It never blocks the loop: host names are resolved with uv_getaddrinfo, connects have a
 * deadline, a PING every ping_ms finds a Redis that stopped answering.
 *
 * Life of a client: redis_new starts connecting; after a failure or a dropped link each
 * connection reconnects after a back-off (backoff_min_ms doubling up to backoff_max_ms) for
 * ever. The client is *up* when the command connection has answered its hand-shake (AUTH,
 * SELECT, PING) and the subscriber connection (if any channel is subscribed) has confirmed
 * every channel; on_state tells each change. Channels are subscribed again after every
 * reconnect: a message published while the subscriber was down is lost, so a user re-reads
 * its state when on_state says up.
 *
 * Commands while down are refused at once (-ENOTCONN), not queued: memory stays bounded and
 * a caller never acts on a stale queue; it re-sends what matters when the client is up again.
 * A command accepted gets exactly one answer: its reply, or -ECONNRESET when the link drops
 * first, or -ECANCELED when the client is closed first. At most max_inflight commands wait
 * for replies (more: -EAGAIN).
 *
 * One client belongs to one loop's thread. Not for use from other threads. */
#ifndef TANDEM_REDIS_H
#define TANDEM_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct redisReply; /* hiredis: <hiredis/hiredis.h> to read one */

struct redis_config {
  const char *url;              /* redis://[[user]:password@]host[:port][/db] or unix:/path */
  unsigned connect_timeout_ms;  /* a connect (and its hand-shake) must finish within this */
  unsigned ping_ms;             /* health check period; no PONG within 3 of them: link dropped */
  unsigned backoff_min_ms;      /* first reconnect delay ... */
  unsigned backoff_max_ms;      /* ... doubled up to this */
  unsigned max_inflight;        /* commands waiting for replies at once */
  const char *name;             /* in log lines ("redis" if NULL) */
};
void redis_config_default(struct redis_config *c); /* 1000, 1000, 100, 5000, 10000 */

struct redis_events {
  void (*on_state)(void *arg, bool up);
  /* A message on a subscribed channel; channel and msg are borrowed for the call (msg is not
   * NUL-terminated and may hold any bytes). */
  void (*on_message)(void *arg, const char *channel, const char *msg, size_t len);
  void *arg;
};

struct redis;

/* 0 and *out (connecting has begun), -EINVAL (a bad url), or -ENOMEM. */
int redis_new(uv_loop_t *loop, const struct redis_config *cfg, const struct redis_events *ev,
              struct redis **out);
/* Answers every command in flight with -ECANCELED, closes both connections; done(arg) once
 * every handle is closed. No event is called after this returns. NULL: done at once. */
void redis_close(struct redis *r, void (*done)(void *arg), void *arg);

bool redis_is_up(const struct redis *r);

/* Subscribes to a channel now (if connected) and after every reconnect. 0, -EEXIST, -E2BIG
 * (more than 8 channels), -EINVAL (empty or longer than 127 bytes). */
int redis_subscribe(struct redis *r, const char *channel);

/* status 0 with the reply; -EREMOTEIO with an error reply (reply->str says why); -ECONNRESET
 * or -ECANCELED with reply NULL. reply is borrowed for the call. */
typedef void (*redis_reply_fn)(void *arg, int status, const struct redisReply *reply);

/* A command of argc arguments (argv[i] of lens[i] bytes; lens NULL: NUL-terminated). cb may be
 * NULL (fire and forget). 0 (cb runs exactly once, never inside this call), -ENOTCONN (down:
 * nothing sent, cb never runs), -EAGAIN (max_inflight reached), -ENOMEM. */
int redis_command(struct redis *r, redis_reply_fn cb, void *arg, int argc, const char **argv,
                  const size_t *lens);

struct redis_stats {
  bool up;
  unsigned inflight;
  uint64_t connects;  /* successful hand-shakes, both connections */
  uint64_t reconnects; /* connection attempts after a failure or a dropped link */
  uint64_t errors;    /* failed connects, dropped links, PING timeouts, error replies */
  uint64_t refused;   /* commands refused while down or full */
};
void redis_get_stats(const struct redis *r, struct redis_stats *s);
/* tandem_redis_up, _inflight, _connects_total, _reconnects_total, _errors_total,
 * _commands_refused_total (file is a FILE *). */
void redis_metrics(void *file, const struct redis *r);

#endif
