/* redis.c -- an asynchronous Redis client on the loop (hiredis, its libuv adapter): a command
 * connection and a subscriber connection, each reconnecting with capped back-off. */
#include "server/redis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>

#include "server/log.h"
#include "server/redis_url.h"

#define MAX_CHANNELS 8
#define CHANNEL_MAX 128

enum cstate { C_IDLE, C_WAITING, C_RESOLVING, C_CONNECTING, C_HANDSHAKE, C_READY };

struct rconn {
  struct redis *r;
  bool sub;                 /* the subscriber connection */
  enum cstate st;
  redisAsyncContext *ac;    /* NULL unless CONNECTING, HANDSHAKE or READY */
  uv_timer_t timer;         /* back-off, then the connect deadline */
  uv_getaddrinfo_t gai;
  bool gai_busy;
  unsigned backoff_ms;
  bool failed_before;       /* the last attempt failed or the link dropped */
  bool told_down;           /* redis_unreachable logged since the last success */
  unsigned subs_pending;    /* SUBSCRIBE confirmations awaited */
  uint64_t ping_sent;       /* uv_now of the PING in flight, 0 none */
};

struct redis {
  uv_loop_t *loop;
  struct redis_config cfg;
  struct redis_events ev;
  struct redis_url url;
  char where[REDIS_URL_MAX + 32]; /* the URL without its password */
  char name[32];
  struct rconn cmd, sub;
  uv_timer_t ping;
  char channels[MAX_CHANNELS][CHANNEL_MAX];
  unsigned n_channels;
  bool up, closing;
  unsigned inflight;
  struct redis_stats st;
  int pending_closes;
  void (*done)(void *);
  void *done_arg;
};

struct rcmd {
  struct redis *r;
  redis_reply_fn cb;
  void *arg;
};

void redis_config_default(struct redis_config *c) {
  memset(c, 0, sizeof(*c));
  /* hiredis's libuv adapter drops a poll error (a refused connect is one): the deadline is
   * what notices, so it is short. */
  c->connect_timeout_ms = 1000;
  c->ping_ms = 1000;
  c->backoff_min_ms = 100;
  c->backoff_max_ms = 5000;
  c->max_inflight = 10000;
}

static void conn_start(struct rconn *c);
static void conn_failed(struct rconn *c, const char *why);

static const char *conn_name(const struct rconn *c) { return c->sub ? "subscriber" : "commands"; }

/* up = commands ready, and the subscriber ready with every channel confirmed (if any). */
static void update_up(struct redis *r) {
  bool up = !r->closing && r->cmd.st == C_READY &&
            (r->n_channels == 0 || (r->sub.st == C_READY && r->sub.subs_pending == 0));
  if (up == r->up)
    return;
  r->up = up;
  r->st.up = up;
  log_event(up ? LOG_INFO : LOG_WARN, up ? "redis_up" : "redis_down", LF_STR("name", r->name),
            LF_STR("url", r->where));
  if (r->ev.on_state)
    r->ev.on_state(r->ev.arg, up);
}

/* ---- connecting ---- */

static void on_timer(uv_timer_t *t);

static void schedule(struct rconn *c) {
  struct redis *r = c->r;
  if (r->closing)
    return;
  c->st = C_WAITING;
  unsigned d = c->backoff_ms ? c->backoff_ms : r->cfg.backoff_min_ms;
  c->backoff_ms = d * 2 > r->cfg.backoff_max_ms ? r->cfg.backoff_max_ms : d * 2;
  d += (unsigned)(uv_hrtime() % (d / 4 + 1)); /* a little jitter: nodes do not come in step */
  uv_timer_start(&c->timer, on_timer, d, 0);
}

/* The link is gone (or never came): every command in flight is answered by hiredis with a
 * NULL reply (-ECONNRESET) as the context is freed; a new attempt follows the back-off. */
static void conn_failed(struct rconn *c, const char *why) {
  struct redis *r = c->r;
  bool was_ready = c->st == C_READY || c->st == C_HANDSHAKE;
  c->ping_sent = 0;
  c->subs_pending = 0;
  r->st.errors++;
  if (!c->told_down || was_ready) {
    log_event(LOG_WARN, "redis_unreachable", LF_STR("name", r->name),
              LF_STR("connection", conn_name(c)), LF_STR("url", r->where),
              LF_STR("error", why ? why : "unknown"),
              LF_STR("effect", "retrying with back-off"));
    c->told_down = true;
  } else {
    log_event(LOG_DEBUG, "redis_retry", LF_STR("name", r->name),
              LF_STR("connection", conn_name(c)), LF_STR("error", why ? why : "unknown"));
  }
  c->failed_before = true;
  uv_timer_stop(&c->timer);
  if (r->closing) {
    c->st = C_IDLE;
    return;
  }
  schedule(c);
  update_up(r);
}

/* Frees c's context from outside any hiredis callback (a timer): its pending callbacks run
 * now with NULL replies; its disconnect callback is ignored (data cleared first). */
static void conn_drop(struct rconn *c, const char *why) {
  redisAsyncContext *ac = c->ac;
  c->ac = NULL;
  if (ac) {
    ac->data = NULL;
    redisAsyncFree(ac);
  }
  conn_failed(c, why);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  struct rconn *c = ac->data;
  if (!c)
    return; /* dropped by us */
  c->ac = NULL;
  conn_failed(c, status == REDIS_OK ? "closed" : ac->errstr[0] ? ac->errstr : "link lost");
}

static void on_ready(struct rconn *c) {
  struct redis *r = c->r;
  c->st = C_READY;
  c->backoff_ms = 0;
  c->told_down = false;
  c->failed_before = false;
  uv_timer_stop(&c->timer);
  r->st.connects++;
  log_event(LOG_DEBUG, "redis_connected", LF_STR("name", r->name),
            LF_STR("connection", conn_name(c)));
  update_up(r);
}

/* Replies to the hand-shake (AUTH, SELECT, PING) and to health-check PINGs. */
static void on_internal(redisAsyncContext *ac, void *reply, void *priv) {
  struct rconn *c = priv;
  redisReply *rep = reply;
  (void)ac;
  if (!rep || c->r->closing || c->ac != ac)
    return; /* the link is going away: handled there */
  if (rep->type == REDIS_REPLY_ERROR) {
    char why[160];
    snprintf(why, sizeof(why), "hand-shake refused: %.120s", rep->str);
    /* Freed once this callback returns (hiredis defers it). */
    redisAsyncContext *x = c->ac;
    c->ac = NULL;
    x->data = NULL;
    redisAsyncFree(x);
    conn_failed(c, why);
    return;
  }
  c->ping_sent = 0;
  if (c->st == C_HANDSHAKE && !c->sub)
    on_ready(c);
}

static void send_internal(struct rconn *c, int argc, const char **argv) {
  redisAsyncCommandArgv(c->ac, on_internal, c, argc, argv, NULL);
}

/* Subscribe confirmations and messages. */
static void on_sub(redisAsyncContext *ac, void *reply, void *priv) {
  struct rconn *c = priv;
  struct redis *r = c->r;
  redisReply *rep = reply;
  if (!rep || r->closing || c->ac != ac)
    return;
  if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
      rep->element[0]->type != REDIS_REPLY_STRING) {
    r->st.errors++;
    return;
  }
  const char *kind = rep->element[0]->str;
  if (!strcmp(kind, "subscribe")) {
    if (c->subs_pending && --c->subs_pending == 0 && c->st == C_HANDSHAKE)
      on_ready(c);
    else
      update_up(r);
  } else if (!strcmp(kind, "message") && rep->element[1]->type == REDIS_REPLY_STRING &&
             rep->element[2]->type == REDIS_REPLY_STRING) {
    if (r->ev.on_message)
      r->ev.on_message(r->ev.arg, rep->element[1]->str, rep->element[2]->str,
                       rep->element[2]->len);
  }
}

static void send_subscribe(struct rconn *c, const char *channel) {
  const char *argv[2] = {"SUBSCRIBE", channel};
  c->subs_pending++;
  redisAsyncCommandArgv(c->ac, on_sub, c, 2, argv, NULL);
}

static void on_connect(const redisAsyncContext *ac, int status) {
  struct rconn *c = ac->data;
  if (!c)
    return;
  if (status != REDIS_OK) {
    c->ac = NULL; /* hiredis frees it after this callback */
    conn_failed(c, ac->errstr[0] ? ac->errstr : "connect failed");
    return;
  }
  struct redis *r = c->r;
  c->st = C_HANDSHAKE;
  if (r->url.password[0]) {
    const char *auth[3] = {"AUTH", r->url.user[0] ? r->url.user : r->url.password,
                           r->url.password};
    send_internal(c, r->url.user[0] ? 3 : 2, auth);
  }
  if (c->sub) {
    if (r->n_channels == 0) {
      on_ready(c);
      return;
    }
    for (unsigned i = 0; i < r->n_channels; i++)
      send_subscribe(c, r->channels[i]);
    return;
  }
  if (r->url.db) {
    char db[16];
    snprintf(db, sizeof(db), "%d", r->url.db);
    const char *sel[2] = {"SELECT", db};
    send_internal(c, 2, sel);
  }
  const char *ping[1] = {"PING"};
  send_internal(c, 1, ping);
}

/* hiredis's libuv adapter ignores a poll error (libuv reports POLLERR/POLLHUP as a status and
 * stops the handle): a refused connect or a reset link would then go unnoticed until a
 * deadline. These wrappers start the adapter's handle with a callback that hands such an error
 * to hiredis, whose read (or, while connecting, its connect check) then fails and tears the
 * context down the usual way. */
static void poll_cb(uv_poll_t *h, int status, int events) {
  redisLibuvEvents *p = h->data;
  if (status < 0 && p->context) {
    if (p->context->c.flags & REDIS_CONNECTED)
      redisAsyncHandleRead(p->context);
    else
      redisAsyncHandleWrite(p->context);
    return;
  }
  redisLibuvPoll(h, status, events);
}

static void repoll(void *priv) {
  redisLibuvEvents *p = priv;
  if (p->events)
    uv_poll_start(&p->handle, p->events, poll_cb);
}

static void add_read(void *priv) { redisLibuvAddRead(priv), repoll(priv); }
static void del_read(void *priv) { redisLibuvDelRead(priv), repoll(priv); }
static void add_write(void *priv) { redisLibuvAddWrite(priv), repoll(priv); }
static void del_write(void *priv) { redisLibuvDelWrite(priv), repoll(priv); }

static void connect_to(struct rconn *c, const char *ip) {
  struct redis *r = c->r;
  redisAsyncContext *ac = r->url.unix_socket ? redisAsyncConnectUnix(r->url.path)
                                             : redisAsyncConnect(ip, r->url.port);
  if (!ac) {
    conn_failed(c, "out of memory");
    return;
  }
  if (ac->err) {
    char why[160];
    snprintf(why, sizeof(why), "%s", ac->errstr);
    redisAsyncFree(ac);
    conn_failed(c, why);
    return;
  }
  if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
    redisAsyncFree(ac);
    conn_failed(c, "cannot attach to the loop");
    return;
  }
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->data = c;
  c->ac = ac;
  c->st = C_CONNECTING;
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  uv_timer_start(&c->timer, on_timer, r->cfg.connect_timeout_ms, 0);
}

static void release(struct redis *r);

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res) {
  struct rconn *c = g->data;
  struct redis *r = c->r;
  c->gai_busy = false;
  if (r->closing) {
    uv_freeaddrinfo(res);
    release(r);
    return;
  }
  char ip[64] = "";
  if (status == 0 && res) {
    if (res->ai_family == AF_INET)
      uv_ip4_name((struct sockaddr_in *)res->ai_addr, ip, sizeof(ip));
    else if (res->ai_family == AF_INET6)
      uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, ip, sizeof(ip));
  }
  uv_freeaddrinfo(res);
  if (!ip[0]) {
    char why[160];
    snprintf(why, sizeof(why), "cannot resolve %.64s: %s", r->url.host,
             status ? uv_strerror(status) : "no address");
    conn_failed(c, why);
    return;
  }
  connect_to(c, ip);
}

static void conn_start(struct rconn *c) {
  struct redis *r = c->r;
  if (r->closing)
    return;
  if (c->failed_before)
    r->st.reconnects++;
  unsigned char buf[16];
  if (r->url.unix_socket || uv_inet_pton(AF_INET, r->url.host, buf) == 0 ||
      uv_inet_pton(AF_INET6, r->url.host, buf) == 0) {
    connect_to(c, r->url.host);
    return;
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
  c->st = C_RESOLVING;
  c->gai.data = c;
  int rc = uv_getaddrinfo(r->loop, &c->gai, on_resolved, r->url.host, NULL, &hints);
  if (rc) {
    conn_failed(c, uv_strerror(rc));
    return;
  }
  c->gai_busy = true;
}

static void on_timer(uv_timer_t *t) {
  struct rconn *c = t->data;
  switch (c->st) {
  case C_WAITING:
    conn_start(c);
    break;
  case C_CONNECTING:
  case C_HANDSHAKE:
    conn_drop(c, "connect timed out");
    break;
  default:
    break;
  }
}

/* Every ping_ms: a PING on the command connection; none answered for 3 periods means a Redis
 * that stopped answering (SIGSTOP, a partition): both links are dropped and rebuilt. */
static void on_ping(uv_timer_t *t) {
  struct redis *r = t->data;
  struct rconn *c = &r->cmd;
  if (c->st != C_READY)
    return;
  uint64_t now = uv_now(r->loop);
  if (c->ping_sent && now - c->ping_sent >= 3ull * r->cfg.ping_ms) {
    conn_drop(c, "no answer to PING");
    if (r->sub.ac)
      conn_drop(&r->sub, "no answer to PING on the command connection");
    return;
  }
  if (!c->ping_sent) {
    c->ping_sent = now;
    const char *ping[1] = {"PING"};
    send_internal(c, 1, ping);
  }
}

/* ---- the API ---- */

static void conn_init(struct redis *r, struct rconn *c, bool sub) {
  c->r = r;
  c->sub = sub;
  c->st = C_IDLE;
  uv_timer_init(r->loop, &c->timer);
  c->timer.data = c;
}

int redis_new(uv_loop_t *loop, const struct redis_config *cfg, const struct redis_events *ev,
              struct redis **out) {
  struct redis *r = calloc(1, sizeof(*r));
  if (!r)
    return -ENOMEM;
  if (redis_url_parse(cfg->url, &r->url, NULL)) {
    free(r);
    return -EINVAL;
  }
  r->loop = loop;
  r->cfg = *cfg;
  r->cfg.url = NULL; /* parsed: not kept */
  if (!r->cfg.backoff_min_ms)
    r->cfg.backoff_min_ms = 100;
  if (r->cfg.backoff_max_ms < r->cfg.backoff_min_ms)
    r->cfg.backoff_max_ms = r->cfg.backoff_min_ms;
  if (!r->cfg.ping_ms)
    r->cfg.ping_ms = 1000;
  if (!r->cfg.connect_timeout_ms)
    r->cfg.connect_timeout_ms = 1000;
  if (ev)
    r->ev = *ev;
  snprintf(r->name, sizeof(r->name), "%s", cfg->name ? cfg->name : "redis");
  redis_url_redacted(&r->url, r->where, sizeof(r->where));
  conn_init(r, &r->cmd, false);
  conn_init(r, &r->sub, true);
  uv_timer_init(loop, &r->ping);
  r->ping.data = r;
  uv_timer_start(&r->ping, on_ping, r->cfg.ping_ms, r->cfg.ping_ms);
  conn_start(&r->cmd);
  *out = r;
  return 0;
}

bool redis_is_up(const struct redis *r) { return r && r->up; }

int redis_subscribe(struct redis *r, const char *channel) {
  size_t n = channel ? strlen(channel) : 0;
  if (n == 0 || n >= CHANNEL_MAX)
    return -EINVAL;
  for (unsigned i = 0; i < r->n_channels; i++)
    if (!strcmp(r->channels[i], channel))
      return -EEXIST;
  if (r->n_channels == MAX_CHANNELS)
    return -E2BIG;
  memcpy(r->channels[r->n_channels++], channel, n + 1);
  if (r->sub.st == C_IDLE) {
    conn_start(&r->sub);
  } else if ((r->sub.st == C_READY || r->sub.st == C_HANDSHAKE) && r->sub.ac) {
    send_subscribe(&r->sub, channel);
  }
  update_up(r); /* not up until the new channel is confirmed */
  return 0;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv) {
  struct rcmd *k = priv;
  struct redis *r = k->r;
  redisReply *rep = reply;
  (void)ac;
  r->inflight--;
  int status = !rep ? (r->closing ? -ECANCELED : -ECONNRESET)
               : rep->type == REDIS_REPLY_ERROR ? -EREMOTEIO : 0;
  if (status == -EREMOTEIO)
    r->st.errors++;
  if (k->cb)
    k->cb(k->arg, status, rep);
  free(k);
}

int redis_command(struct redis *r, redis_reply_fn cb, void *arg, int argc, const char **argv,
                  const size_t *lens) {
  /* A context hiredis is tearing down (its callbacks run with NULL replies first) takes no
   * more commands. */
  if (!r || r->closing || r->cmd.st != C_READY || !r->cmd.ac ||
      (r->cmd.ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING))) {
    if (r)
      r->st.refused++;
    return -ENOTCONN;
  }
  if (r->inflight >= r->cfg.max_inflight) {
    r->st.refused++;
    return -EAGAIN;
  }
  struct rcmd *k = malloc(sizeof(*k));
  if (!k)
    return -ENOMEM;
  *k = (struct rcmd){r, cb, arg};
  if (redisAsyncCommandArgv(r->cmd.ac, on_reply, k, argc, argv, lens) != REDIS_OK) {
    free(k);
    r->st.refused++;
    return -ENOTCONN;
  }
  r->inflight++;
  return 0;
}

void redis_get_stats(const struct redis *r, struct redis_stats *s) {
  *s = r->st;
  s->up = r->up;
  s->inflight = r->inflight;
}

void redis_metrics(void *file, const struct redis *r) {
  FILE *f = file;
  if (!r)
    return;
  fprintf(f, "# HELP tandem_redis_up 1 while the Redis links are up (commands and pub/sub).\n"
             "# TYPE tandem_redis_up gauge\ntandem_redis_up %d\n", r->up ? 1 : 0);
  fprintf(f, "# HELP tandem_redis_inflight Redis commands waiting for their replies.\n"
             "# TYPE tandem_redis_inflight gauge\ntandem_redis_inflight %u\n", r->inflight);
  fprintf(f, "# HELP tandem_redis_connects_total Redis connections established.\n"
             "# TYPE tandem_redis_connects_total counter\ntandem_redis_connects_total %llu\n",
          (unsigned long long)r->st.connects);
  fprintf(f, "# HELP tandem_redis_reconnects_total Redis connection attempts after a failure "
             "or a dropped link.\n# TYPE tandem_redis_reconnects_total counter\n"
             "tandem_redis_reconnects_total %llu\n", (unsigned long long)r->st.reconnects);
  fprintf(f, "# HELP tandem_redis_errors_total Failed connects, dropped links, PING timeouts "
             "and error replies.\n# TYPE tandem_redis_errors_total counter\n"
             "tandem_redis_errors_total %llu\n", (unsigned long long)r->st.errors);
  fprintf(f, "# HELP tandem_redis_commands_refused_total Commands refused while Redis was "
             "down or too many were in flight.\n"
             "# TYPE tandem_redis_commands_refused_total counter\n"
             "tandem_redis_commands_refused_total %llu\n", (unsigned long long)r->st.refused);
}

static void release(struct redis *r) {
  if (--r->pending_closes > 0)
    return;
  void (*done)(void *) = r->done;
  void *arg = r->done_arg;
  free(r);
  if (done)
    done(arg);
}

static void handle_closed(uv_handle_t *h) { release(h->data); }

static void conn_close(struct redis *r, struct rconn *c) {
  redisAsyncContext *ac = c->ac;
  c->ac = NULL;
  c->st = C_IDLE;
  if (ac) {
    ac->data = NULL;
    redisAsyncFree(ac); /* commands in flight: -ECANCELED */
  }
  if (c->gai_busy) {
    r->pending_closes++; /* on_resolved (ECANCELED, or a late answer) releases it */
    uv_cancel((uv_req_t *)&c->gai);
  }
  uv_timer_stop(&c->timer);
  c->timer.data = r;
  r->pending_closes++;
  uv_close((uv_handle_t *)&c->timer, handle_closed);
}

void redis_close(struct redis *r, void (*done)(void *), void *arg) {
  if (!r) {
    if (done)
      done(arg);
    return;
  }
  if (r->closing)
    return;
  r->closing = true;
  r->up = false;
  r->done = done;
  r->done_arg = arg;
  r->pending_closes = 1;
  conn_close(r, &r->cmd);
  conn_close(r, &r->sub);
  r->pending_closes++;
  uv_close((uv_handle_t *)&r->ping, handle_closed);
  release(r); /* the 1 above */
}
