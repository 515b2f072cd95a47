/* cluster.c -- the node side of matchq's cluster backend (cluster.h): commands to the shared
 * stream, events from our own, the re-send on every (re)join, and matching alone while Redis
 * is away. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <openssl/rand.h>

#include "server/cluster_int.h"
#include "server/log.h"
#include "server/metrics.h"

uint64_t cluster_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int cluster_xread(struct redis *r, const char *key, const char *last, redis_reply_fn cb,
                  void *arg) {
  const char *argv[8] = {"XREAD", "COUNT", READ_COUNT, "BLOCK", READ_BLOCK_MS, "STREAMS", key,
                         last};
  return redis_command(r, cb, arg, 8, argv, NULL);
}

int cluster_xadd(struct redis *r, const char *key, const struct cw_msg *m, uint64_t now_ms) {
  uint8_t buf[CW_MAX];
  int n = cw_encode(m, now_ms, buf, sizeof(buf));
  if (n < 0)
    return n;
  const char *argv[7] = {"XADD", key, "MAXLEN", "~", STREAM_MAXLEN, "*", "m"};
  const char *args[8];
  size_t lens[8];
  for (int i = 0; i < 7; i++) {
    args[i] = argv[i];
    lens[i] = strlen(argv[i]);
  }
  args[7] = (const char *)buf;
  lens[7] = (size_t)n;
  return redis_command(r, NULL, NULL, 8, args, lens);
}

void cluster_each_entry(const struct redisReply *r, char *last, size_t cap, uint64_t *bad,
                        void (*fn)(void *arg, const uint8_t *data, size_t len), void *arg) {
  /* [[stream, [[id, [field, value, ...]], ...]]], or nil when the block timed out. */
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
    return;
  const struct redisReply *s = r->element[0];
  if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
      s->element[1]->type != REDIS_REPLY_ARRAY) {
    (*bad)++;
    return;
  }
  const struct redisReply *entries = s->element[1];
  for (size_t i = 0; i < entries->elements; i++) {
    const struct redisReply *e = entries->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= cap) {
      (*bad)++;
      continue;
    }
    memcpy(last, e->element[0]->str, e->element[0]->len);
    last[e->element[0]->len] = '\0';
    const struct redisReply *f = e->element[1];
    if (f->type != REDIS_REPLY_ARRAY || f->elements != 2 ||
        f->element[1]->type != REDIS_REPLY_STRING) {
      (*bad)++;
      continue;
    }
    fn(arg, (const uint8_t *)f->element[1]->str, f->element[1]->len);
  }
}

static struct cq *cq_of(struct matchq *q) { return (struct cq *)q; }

static void push_event(struct cq *q, const struct matcher_event *ev) {
  if (matchq_events_push(&q->events, ev) == 0)
    q->n_events++;
}

static void local_emit(void *arg, unsigned node, const struct matcher_event *ev) {
  (void)node;
  push_event(arg, ev);
}

/* ---- the log of commands not yet acknowledged ---- */

static struct logent *log_at(struct cq *q, size_t i) {
  return &q->log[(q->log_head + i) % LOG_MAX];
}

static int log_add(struct cq *q, const struct matcher_cmd *c) {
  if (q->log_n == LOG_MAX)
    return -ENOSPC;
  struct logent *e = log_at(q, q->log_n++);
  e->seq = ++q->seq;
  e->c = *c;
  return 0;
}

static void log_ack(struct cq *q, uint64_t seq) {
  if (seq > q->seq)
    seq = q->seq; /* never beyond what we sent */
  if (seq > q->acked)
    q->acked = seq;
  while (q->log_n && q->log[q->log_head].seq <= seq) {
    q->log_head = (q->log_head + 1) % LOG_MAX;
    q->log_n--;
  }
}

static void send_cmd(struct cq *q, struct logent *e) {
  e->sent_ms = uv_now(q->loop);
  struct cw_msg m;
  memset(&m, 0, sizeof(m));
  m.type = CW_CMD;
  m.node = q->node;
  m.seq = e->seq;
  m.cmd = e->c;
  cluster_xadd(q->w, KEY_IN, &m, uv_now(q->loop));
  q->n_cmds++;
}

static void send_simple(struct cq *q, enum cw_type type) {
  struct cw_msg m;
  memset(&m, 0, sizeof(m));
  m.type = type;
  m.node = q->node;
  m.epoch = q->epoch;
  m.seq = q->acked; /* HELLO: our next command is acked + 1 */
  cluster_xadd(q->w, KEY_IN, &m, uv_now(q->loop));
}

/* ---- matching alone ---- */

static void fallback_start(struct cq *q) {
  log_event(LOG_WARN, "cluster_fallback", LF_UINT("node", q->node),
            LF_UINT("waiting_commands", q->log_n));
  q->state = CQ_FALLBACK;
  q->n_fallbacks++;
  mcluster_free(q->local);
  q->local = mcluster_new(&q->mc);
  if (!q->local)
    return; /* out of memory: commands wait in the log until Redis is back */
  uint64_t now = uv_now(q->loop);
  /* Alone from here: a matcher of our own, which has seen nothing we sent. */
  uint64_t base = q->log_n ? log_at(q, 0)->seq - 1 : q->seq;
  mcluster_hello(q->local, q->node, q->epoch, base, now, local_emit, q);
  q->in_resync = true;
  q->hooks.resync(q->hooks.arg);
  q->in_resync = false;
  mcluster_sync_done(q->local, q->node, now, local_emit, q);
  for (size_t i = 0; i < q->log_n; i++)
    mcluster_command(q->local, q->node, log_at(q, i)->seq, &log_at(q, i)->c, now, local_emit, q);
  q->log_n = 0;
  q->hooks.events(q->hooks.arg);
}

/* ---- joining the shared pool ---- */

static void new_epoch(struct cq *q) {
  if (RAND_bytes((unsigned char *)&q->epoch, sizeof(q->epoch)) != 1)
    q->epoch = cluster_wall_ms() ^ ((uint64_t)q->node << 48);
}

/* Hello, every peer, the end of the re-send, then every command not acknowledged. Done on
 * every join and on every RESYNC of a new matcher: the matcher takes what it lacks and
 * ignores what it has (cluster.h). */
static void resend(struct cq *q) {
  send_simple(q, CW_HELLO);
  q->in_resync = true;
  q->hooks.resync(q->hooks.arg); /* records now; its commands join the log */
  q->in_resync = false;
  send_simple(q, CW_SYNC_END);
  for (size_t i = 0; i < q->log_n; i++)
    send_cmd(q, log_at(q, i));
  q->n_resyncs++;
}

static void read_next(struct cq *q);
static void fetch_secret(struct cq *q);

static void joined(struct cq *q) {
  bool was_alone = q->state == CQ_FALLBACK || q->local;
  if (q->local) {
    mcluster_free(q->local);
    q->local = NULL;
  }
  q->state = CQ_UP;
  q->gen = 0; /* Redis may have lost the generation counter: take the matcher there is */
  log_event(LOG_INFO, "cluster_joined", LF_UINT("node", q->node),
            LF_STR("after", was_alone ? "matching alone" : "start"));
  resend(q);
  read_next(q);
}

/* The relay secret every node shares (media/relaywire.h): the first node's, kept in Redis.
 * Redis is trusted with it as with everything else here. */
static void on_secret(void *arg, int status, const struct redisReply *r) {
  struct cq *q = arg;
  if (status == -ECANCELED || q->state != CQ_JOINING)
    return;
  bool ok = status == 0 && r->type == REDIS_REPLY_STRING && r->len == 64;
  for (size_t i = 0; ok && i < 32; i++) {
    unsigned v;
    ok = sscanf(r->str + 2 * i, "%2x", &v) == 1;
    q->secret[i] = (uint8_t)v;
  }
  q->has_secret = ok;
  if (!ok)
    log_event(LOG_ERROR, "cluster_relay_secret", LF_UINT("node", q->node),
              LF_STR("effect", "no media for pairs across nodes until it can be read"));
  joined(q);
}

static void fetch_secret(struct cq *q) {
  uint8_t mine[32];
  char hex[65];
  if (RAND_bytes(mine, sizeof(mine)) != 1) {
    joined(q);
    return;
  }
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", mine[i]);
  const char *set[4] = {"SET", KEY_SECRET, hex, "NX"};
  const char *get[2] = {"GET", KEY_SECRET};
  /* Replies come in order: the GET sees the value the SET NX left, ours or the first's. */
  if (redis_command(q->w, NULL, NULL, 4, set, NULL) ||
      redis_command(q->w, on_secret, q, 2, get, NULL))
    joined(q);
}

static void on_stream_end(void *arg, int status, const struct redisReply *r) {
  struct cq *q = arg;
  if (status == -ECANCELED || q->state != CQ_JOINING)
    return;
  if (status) {
    q->state = CQ_DOWN; /* on_state brings the next attempt */
    return;
  }
  /* XREVRANGE key + - COUNT 1: [[id, fields]] or []. What is older belongs to the past. */
  snprintf(q->rd_last, sizeof(q->rd_last), "0-0");
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
      r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements >= 1 &&
      r->element[0]->element[0]->type == REDIS_REPLY_STRING &&
      r->element[0]->element[0]->len < sizeof(q->rd_last))
    snprintf(q->rd_last, sizeof(q->rd_last), "%s", r->element[0]->element[0]->str);
  fetch_secret(q);
}

static void join(struct cq *q) {
  if (!q->w_up)
    return;
  if (q->state == CQ_FALLBACK || q->rd_last[0] == '\0') {
    /* From matching alone (or at start): a new epoch, and the stream read from its end. What
     * we sent before went nowhere, or was matched here: numbering goes on from our last. */
    if (q->state == CQ_FALLBACK) {
      new_epoch(q);
      q->acked = q->seq;
    }
    q->state = CQ_JOINING;
    const char *argv[6] = {"XREVRANGE", q->key_node, "+", "-", "COUNT", "1"};
    if (redis_command(q->w, on_stream_end, q, 6, argv, NULL))
      q->state = q->local ? CQ_FALLBACK : CQ_DOWN;
    return;
  }
  /* Back within the fallback time: same epoch, read on where we were; the secret again, in
   * case Redis lost everything meanwhile. */
  q->state = CQ_JOINING;
  fetch_secret(q);
}

/* ---- our stream ---- */

static void on_entry(void *arg, const uint8_t *data, size_t len) {
  struct cq *q = arg;
  struct cw_msg m;
  if (cw_decode(data, len, uv_now(q->loop), &m) || m.node != q->node) {
    q->n_bad++;
    return;
  }
  switch (m.type) {
  case CW_EVENT:
    if (m.gen < q->gen || q->state == CQ_FALLBACK)
      return; /* from a matcher that has been replaced, or while we match alone */
    q->gen = m.gen;
    if (MCLUSTER_NODE_OF(m.ev.peer) == q->node)
      push_event(q, &m.ev);
    return;
  case CW_ACK:
    if (m.gen >= q->gen && m.epoch == q->epoch) {
      q->gen = m.gen;
      log_ack(q, m.seq);
      q->n_acks++;
    }
    return;
  case CW_RESYNC:
    /* A new matcher, or ours asking again (it had not heard our hello, or lost a command). */
    if (m.gen >= q->gen && q->state == CQ_UP) {
      q->gen = m.gen;
      if (q->events.n) /* what was read before it first, so the re-send says it */
        q->hooks.events(q->hooks.arg);
      log_event(LOG_INFO, "cluster_resync", LF_UINT("node", q->node), LF_UINT("gen", m.gen));
      resend(q);
    }
    return;
  case CW_PEER:
    q->n_peer_in++;
    /* In stream order: the events read before it (its PAIRED) are handled first. */
    if (q->events.n)
      q->hooks.events(q->hooks.arg);
    if (MCLUSTER_NODE_OF(m.to) == q->node && q->hooks.peer_msg)
      q->hooks.peer_msg(q->hooks.arg, m.to, m.from, m.kind, m.data, m.len);
    return;
  default:
    q->n_bad++;
    return;
  }
}

static void on_read(void *arg, int status, const struct redisReply *r) {
  struct cq *q = arg;
  q->rd_busy = false;
  if (status == -ECANCELED)
    return;
  if (status == 0) {
    size_t before = q->events.n;
    cluster_each_entry(r, q->rd_last, sizeof(q->rd_last), &q->n_bad, on_entry, q);
    if (q->events.n != before)
      q->hooks.events(q->hooks.arg);
  }
  read_next(q);
}

static void read_next(struct cq *q) {
  if (q->rd_busy || !q->rd_up || q->rd_last[0] == '\0' || q->closing)
    return;
  if (cluster_xread(q->rd, q->key_node, q->rd_last, on_read, q) == 0)
    q->rd_busy = true;
}

/* ---- links and time ---- */

static void on_w_state(void *arg, bool up) {
  struct cq *q = arg;
  q->w_up = up;
  if (up) {
    if (q->state == CQ_DOWN || q->state == CQ_FALLBACK)
      join(q);
  } else if (q->state == CQ_UP || q->state == CQ_JOINING) {
    log_event(LOG_WARN, "cluster_redis_down", LF_UINT("node", q->node));
    q->state = CQ_DOWN;
    q->down_since = uv_now(q->loop);
  }
}

static void on_rd_state(void *arg, bool up) {
  struct cq *q = arg;
  q->rd_up = up;
  if (up)
    read_next(q);
}

/* The heartbeat's answer: the nodes alive now (by Redis's clock). */
static void on_beat(void *arg, int status, const struct redisReply *r) {
  struct cq *q = arg;
  if (status || r->type != REDIS_REPLY_ARRAY)
    return;
  memset(q->live, 0, sizeof(q->live));
  for (size_t i = 0; i < r->elements; i++) {
    const struct redisReply *e = r->element[i];
    char buf[8];
    if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len >= sizeof(buf))
      continue;
    memcpy(buf, e->str, e->len);
    buf[e->len] = '\0';
    char *end;
    unsigned long n = strtoul(buf, &end, 10);
    if (!*end && n >= 1 && n <= MCLUSTER_NODE_MAX)
      q->live[n / 64] |= UINT64_C(1) << (n % 64);
  }
}

bool cluster_node_live(const struct matchq *mq, unsigned node) {
  const struct cq *q = (const struct cq *)mq;
  return node >= 1 && node <= MCLUSTER_NODE_MAX && (q->live[node / 64] >> (node % 64) & 1);
}

static void on_timer(uv_timer_t *t) {
  struct cq *q = t->data;
  uint64_t now = uv_now(q->loop);
  if (q->state == CQ_DOWN && now - q->down_since >= CLUSTER_FALLBACK_MS)
    fallback_start(q);
  if (q->w_up && now >= q->next_beat) {
    q->next_beat = now + HEARTBEAT_MS;
    char ttl[16], member[8];
    snprintf(ttl, sizeof(ttl), "%d", NODE_TTL_MS);
    snprintf(member, sizeof(member), "%u", q->node);
    const char *argv[6] = {"EVAL", SCRIPT_BEAT, "1", KEY_NODES, ttl, member};
    redis_command(q->w, on_beat, q, 6, argv, NULL);
  }
  if (q->matcher)
    cmatcher_tick(q->matcher, now);
  /* Commands unanswered for long (an XADD lost, a gap refused): out again, same numbers. */
  if (q->state == CQ_UP && q->log_n && now - log_at(q, 0)->sent_ms >= RESEND_MS)
    for (size_t i = 0; i < q->log_n; i++)
      send_cmd(q, log_at(q, i));
  read_next(q);
}

/* ---- matchq ---- */

static int cq_submit(struct matchq *mq, const struct matcher_cmd *c, uint64_t now_ms) {
  struct cq *q = cq_of(mq);
  if (!c || !c->peer || c->type < MATCHER_ADD || c->type > MATCHER_CMD_MAX_)
    return -EINVAL;
  if (q->state == CQ_FALLBACK && q->local && !q->in_resync) {
    mcluster_command(q->local, q->node, ++q->seq, c, now_ms, local_emit, q);
    return 0;
  }
  int rc = log_add(q, c);
  if (rc == -ENOSPC && q->state == CQ_DOWN) {
    fallback_start(q); /* too much waiting: match alone now */
    if (q->local) {
      mcluster_command(q->local, q->node, ++q->seq, c, now_ms, local_emit, q);
      return 0;
    }
  }
  if (rc)
    return rc;
  if (q->state == CQ_UP && !q->in_resync)
    send_cmd(q, log_at(q, q->log_n - 1));
  return 0;
}

static int cq_tick(struct matchq *mq, uint64_t now_ms) {
  struct cq *q = cq_of(mq);
  if (q->state == CQ_FALLBACK && q->local)
    return mcluster_tick(q->local, now_ms, local_emit, q);
  return 0; /* the matcher's own timer drives shared matching */
}

static int cq_poll(struct matchq *mq, struct matcher_event *ev) {
  return matchq_events_pop(&cq_of(mq)->events, ev);
}

static void part_closed(void *arg) {
  struct cq *q = arg;
  if (--q->closing > 0)
    return;
  mcluster_free(q->local);
  matchq_events_free(&q->events);
  free(q->log);
  void (*done)(void *) = q->done;
  void *done_arg = q->done_arg;
  free(q);
  if (done)
    done(done_arg);
}

static void timer_closed(uv_handle_t *h) { part_closed(h->data); }

static void cq_close(struct matchq *mq, void (*done)(void *), void *arg) {
  struct cq *q = cq_of(mq);
  q->done = done;
  q->done_arg = arg;
  q->closing = 1;
  if (q->timer.data == q) {
    q->closing++;
    uv_close((uv_handle_t *)&q->timer, timer_closed);
  }
  if (q->matcher) {
    q->closing++;
    cmatcher_close(q->matcher, part_closed, q);
  }
  if (q->w) {
    q->closing++;
    redis_close(q->w, part_closed, q);
  }
  if (q->rd) {
    q->closing++;
    redis_close(q->rd, part_closed, q);
  }
  part_closed(q);
}

static const struct matchq_ops cluster_ops = {cq_submit, cq_tick, cq_poll, cq_close};

void cluster_record(struct matchq *mq, const struct mcluster_peer *rec) {
  struct cq *q = cq_of(mq);
  if (q->state == CQ_FALLBACK && q->local) {
    mcluster_sync_peer(q->local, q->node, rec, uv_now(q->loop));
    return;
  }
  struct cw_msg m;
  memset(&m, 0, sizeof(m));
  m.type = CW_SYNC;
  m.node = q->node;
  m.rec = *rec;
  cluster_xadd(q->w, KEY_IN, &m, uv_now(q->loop));
}

const uint8_t *cluster_relay_secret(const struct matchq *mq) {
  const struct cq *q = (const struct cq *)mq;
  return q->has_secret ? q->secret : NULL;
}

int cluster_peer_send(struct matchq *mq, match_id to, match_id from, uint8_t kind,
                      const void *data, size_t len) {
  struct cq *q = cq_of(mq);
  unsigned node = MCLUSTER_NODE_OF(to);
  if (node < 1 || node > MCLUSTER_NODE_MAX || len > CW_PEER_DATA_MAX)
    return -EINVAL;
  if (!q->w_up)
    return -ENOTCONN;
  struct cw_msg m;
  memset(&m, 0, sizeof(m));
  m.type = CW_PEER;
  m.node = node;
  m.to = to;
  m.from = from;
  m.kind = kind;
  m.len = (uint16_t)len;
  if (len)
    memcpy(m.data, data, len);
  char key[40];
  snprintf(key, sizeof(key), KEY_NODE_FMT, node);
  q->n_peer_out++;
  return cluster_xadd(q->w, key, &m, uv_now(q->loop));
}

unsigned cluster_node(const struct matchq *mq) { return ((const struct cq *)mq)->node; }

bool cluster_up(const struct matchq *mq) { return ((const struct cq *)mq)->state == CQ_UP; }

static int client(struct cq *q, const char *url, const char *name,
                  void (*on_state)(void *, bool), struct redis **out) {
  struct redis_config rc;
  redis_config_default(&rc);
  rc.url = url;
  rc.name = name;
  rc.max_inflight = 200000;
  struct redis_events ev = {.on_state = on_state, .arg = q};
  return redis_new(q->loop, &rc, &ev, out);
}

struct matchq *cluster_new(uv_loop_t *loop, const struct match_config *mc, const char *url,
                           unsigned node, const struct cluster_hooks *hooks) {
  if (node < 1 || node > MCLUSTER_NODE_MAX || !hooks || !hooks->events || !hooks->resync)
    return NULL;
  struct cq *q = calloc(1, sizeof(*q));
  if (!q)
    return NULL;
  q->base.ops = &cluster_ops;
  q->loop = loop;
  q->node = node;
  if (mc)
    q->mc = *mc;
  else
    match_config_default(&q->mc);
  q->hooks = *hooks;
  q->state = CQ_DOWN;
  q->down_since = uv_now(loop);
  snprintf(q->key_node, sizeof(q->key_node), KEY_NODE_FMT, node);
  new_epoch(q);
  q->log = malloc(LOG_MAX * sizeof(*q->log));
  if (!q->log || uv_timer_init(loop, &q->timer)) {
    free(q->log);
    free(q);
    return NULL;
  }
  q->timer.data = q;
  uv_timer_start(&q->timer, on_timer, 100, 100);
  if (client(q, url, "redis-match", on_w_state, &q->w) ||
      client(q, url, "redis-match-read", on_rd_state, &q->rd) ||
      !(q->matcher = cmatcher_new(q, url))) {
    cq_close(&q->base, NULL, NULL);
    return NULL;
  }
  return &q->base;
}

void cluster_metrics(void *file, const struct matchq *mq) {
  const struct cq *q = (const struct cq *)mq;
  FILE *f = file;
  metrics_put(f, "tandem_cluster_state", "gauge",
              "How this node matches: 0 waiting for Redis, 1 joining, 2 in the shared pool, 3 "
              "alone (Redis away).",
              (double)q->state);
  metrics_put(f, "tandem_cluster_commands_total", "counter",
              "Matching commands sent to the matcher.", (double)q->n_cmds);
  metrics_put(f, "tandem_cluster_events_total", "counter",
              "Matching events received for this node's visitors.", (double)q->n_events);
  metrics_put(f, "tandem_cluster_unacked", "gauge", "Commands sent and not yet acknowledged.",
              (double)q->log_n);
  metrics_put(f, "tandem_cluster_resyncs_total", "counter",
              "Re-sends of this node's visitors (joins and new matchers).",
              (double)q->n_resyncs);
  metrics_put(f, "tandem_cluster_fallbacks_total", "counter",
              "Times this node matched alone after losing Redis.", (double)q->n_fallbacks);
  fprintf(f, "# HELP tandem_cluster_peer_messages_total Messages between the two sides of "
             "cross-node pairs.\n# TYPE tandem_cluster_peer_messages_total counter\n"
             "tandem_cluster_peer_messages_total{dir=\"in\"} %llu\n"
             "tandem_cluster_peer_messages_total{dir=\"out\"} %llu\n",
          (unsigned long long)q->n_peer_in, (unsigned long long)q->n_peer_out);
  metrics_put(f, "tandem_cluster_match_bad_input_total", "counter",
              "Malformed entries read from Redis.", (double)q->n_bad);
  if (q->matcher)
    cmatcher_metrics(file, q->matcher);
}
