/* cluster_matcher.c -- the matcher role of the cluster backend (cluster.h): every node tries
 * for the lease each second; the holder reads every node's commands from tandem:mq:in, runs
 * the pure cluster matcher (match/cluster.h) and writes each event to its node's stream.
 *
 * Taking over: INCR tandem:mq:gen gives the new generation; reading starts at the end of
 * tandem:mq:in as it is then (older commands were the old matcher's: what it did not answer
 * is re-sent); every live node (tandem:mq:nodes) is sent RESYNC and re-sends its visitors;
 * the rebuild ends when every one of them has (or after SYNC_WAIT_MS). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "server/cluster_int.h"
#include "server/log.h"
#include "server/metrics.h"

#define SYNC_WAIT_MS 2000
#define TICK_MS 200
#define RENEW_SCRIPT                                                                            \
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], "       \
  "ARGV[2]) else return 0 end"

/* Only while it is still ours: a successor's lease is not ours to end. */
#define DEL_SCRIPT                                                                              \
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else "      \
  "return 0 end"

enum lead { IDLE, ASKING, TAKING, LEADING };

struct cmatcher {
  struct cq *q;
  struct redis *rd;        /* tandem:mq:in (XREAD BLOCK holds its connection) */
  bool rd_up, rd_busy;
  enum lead lead;
  uint64_t gen;
  struct mcluster *mc;
  char in_last[48];
  char holder[48];         /* "<node>:<epoch>" in the lease */
  uint64_t next_lease, next_expiry, next_tick, sync_until;
  bool expect[MCLUSTER_NODE_MAX + 1]; /* live nodes at the take-over, re-send awaited */
  unsigned n_expect;
  uint64_t resync_at[MCLUSTER_NODE_MAX + 1]; /* when an unknown node may be asked again */
  uint64_t n_decisions, n_events_out, n_takeovers, n_bad;
  double lag_s;            /* from a command's entry to its decision (Redis's clock vs ours) */
  int closing;
  void (*done)(void *);
  void *done_arg;
};

static uint64_t now_of(struct cmatcher *m) { return uv_now(m->q->loop); }

static void emit(void *arg, unsigned node, const struct matcher_event *ev) {
  struct cmatcher *m = arg;
  struct cw_msg out;
  memset(&out, 0, sizeof(out));
  out.type = CW_EVENT;
  out.node = node;
  out.gen = m->gen;
  out.ev = *ev;
  char key[40];
  snprintf(key, sizeof(key), KEY_NODE_FMT, node);
  cluster_xadd(m->q->w, key, &out, now_of(m));
  m->n_events_out++;
}

static void send_ack(struct cmatcher *m, unsigned node, uint64_t seq) {
  struct cw_msg a;
  memset(&a, 0, sizeof(a));
  a.type = CW_ACK;
  a.node = node;
  a.gen = m->gen;
  a.seq = seq;
  a.epoch = mcluster_epoch(m->mc, node);
  char key[40];
  snprintf(key, sizeof(key), KEY_NODE_FMT, node);
  cluster_xadd(m->q->w, key, &a, now_of(m));
}

static void send_resync(struct cmatcher *m, unsigned node) {
  struct cw_msg rs;
  memset(&rs, 0, sizeof(rs));
  rs.type = CW_RESYNC;
  rs.node = node;
  rs.gen = m->gen;
  char key[40];
  snprintf(key, sizeof(key), KEY_NODE_FMT, node);
  cluster_xadd(m->q->w, key, &rs, now_of(m));
}

static void step_down(struct cmatcher *m, const char *why) {
  if (m->lead == LEADING)
    log_event(LOG_WARN, "cluster_matcher_stop", LF_UINT("node", m->q->node),
              LF_UINT("gen", m->gen), LF_STR("why", why));
  m->lead = IDLE;
  mcluster_free(m->mc);
  m->mc = NULL;
}

static void sync_end(struct cmatcher *m) {
  if (!m->mc || !mcluster_syncing(m->mc))
    return;
  mcluster_sync_done(m->mc, 0, now_of(m), emit, m);
  log_event(LOG_INFO, "cluster_matcher_ready", LF_UINT("node", m->q->node),
            LF_UINT("gen", m->gen), LF_UINT("peers", mcluster_peers(m->mc, 0)),
            LF_UINT("waited_for", m->n_expect));
}

/* ---- the commands ---- */

static void on_entry(void *arg, const uint8_t *data, size_t len) {
  struct cmatcher *m = arg;
  struct cw_msg c;
  uint64_t now = now_of(m);
  if (!m->mc || cw_decode(data, len, now, &c)) {
    m->n_bad += m->mc != NULL;
    return;
  }
  switch (c.type) {
  case CW_HELLO:
    mcluster_hello(m->mc, c.node, c.epoch, c.seq, now, emit, m);
    return;
  case CW_SYNC:
    mcluster_sync_peer(m->mc, c.node, &c.rec, now);
    return;
  case CW_SYNC_END:
    if (!mcluster_syncing(m->mc)) {
      mcluster_sync_done(m->mc, c.node, now, emit, m); /* a node back in the running pool */
      return;
    }
    if (m->expect[c.node]) {
      m->expect[c.node] = false;
      if (--m->n_expect == 0)
        sync_end(m);
    }
    return;
  case CW_CMD:
    if (!mcluster_node_known(m->mc, c.node)) {
      /* A node that spoke before this matcher began (its hello lost with the old one, or
       * before any): it must say hello and re-send; once a second is enough. */
      if (now >= m->resync_at[c.node]) {
        m->resync_at[c.node] = now + 1000;
        send_resync(m, c.node);
      }
      return;
    }
    /* A command with the next number is always taken (cluster.h): its acknowledgement goes
     * first, so that a node never sees a command's events without it (a matcher dying in
     * between loses the command, rather than a new one applying it twice). */
    if (c.seq == mcluster_acked(m->mc, c.node) + 1)
      send_ack(m, c.node, c.seq);
    int rc = mcluster_command(m->mc, c.node, c.seq, &c.cmd, now, emit, m);
    if (rc == 0)
      m->n_decisions++;
    else if (rc == -EAGAIN && now >= m->resync_at[c.node]) {
      m->resync_at[c.node] = now + 1000; /* a gap: the node re-sends from its last taken */
      send_resync(m, c.node);
    }
    return;
  default:
    m->n_bad++;
    return;
  }
}

static void read_next(struct cmatcher *m);

static void on_read(void *arg, int status, const struct redisReply *r) {
  struct cmatcher *m = arg;
  m->rd_busy = false;
  if (status == -ECANCELED)
    return;
  if (status == 0 && m->lead == LEADING) {
    cluster_each_entry(r, m->in_last, sizeof(m->in_last), &m->n_bad, on_entry, m);
    /* The lag: the last entry's id is Redis's clock (ms) when it was added. */
    unsigned long long ms = strtoull(m->in_last, NULL, 10);
    uint64_t wall = cluster_wall_ms();
    if (ms && wall >= ms)
      m->lag_s = (double)(wall - ms) / 1000.0;
  }
  read_next(m);
}

static void read_next(struct cmatcher *m) {
  if (m->rd_busy || !m->rd_up || m->lead != LEADING || m->closing)
    return;
  if (cluster_xread(m->rd, KEY_IN, m->in_last, on_read, m) == 0)
    m->rd_busy = true;
}

/* ---- taking over ---- */

static void on_live_nodes(void *arg, int status, const struct redisReply *r) {
  struct cmatcher *m = arg;
  if (status == -ECANCELED || m->lead != TAKING)
    return;
  if (status || r->type != REDIS_REPLY_ARRAY) {
    step_down(m, "redis");
    return;
  }
  m->lead = LEADING;
  m->n_takeovers++;
  memset(m->expect, 0, sizeof(m->expect));
  m->n_expect = 0;
  for (size_t i = 0; i < r->elements; i++) {
    const struct redisReply *e = r->element[i];
    unsigned long n = e->type == REDIS_REPLY_STRING ? strtoul(e->str, NULL, 10) : 0;
    if (n < 1 || n > MCLUSTER_NODE_MAX || m->expect[n])
      continue;
    m->expect[n] = true;
    m->n_expect++;
    send_resync(m, (unsigned)n);
  }
  m->sync_until = now_of(m) + SYNC_WAIT_MS;
  log_event(LOG_INFO, "cluster_matcher_start", LF_UINT("node", m->q->node),
            LF_UINT("gen", m->gen), LF_UINT("nodes", m->n_expect));
  if (m->n_expect == 0)
    sync_end(m);
  read_next(m);
}

static void on_in_end(void *arg, int status, const struct redisReply *r) {
  struct cmatcher *m = arg;
  if (status == -ECANCELED || m->lead != TAKING)
    return;
  if (status || r->type != REDIS_REPLY_ARRAY) {
    step_down(m, "redis");
    return;
  }
  snprintf(m->in_last, sizeof(m->in_last), "0-0");
  if (r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
      r->element[0]->elements >= 1 && r->element[0]->element[0]->type == REDIS_REPLY_STRING &&
      r->element[0]->element[0]->len < sizeof(m->in_last))
    snprintf(m->in_last, sizeof(m->in_last), "%s", r->element[0]->element[0]->str);
  const char *argv[4] = {"EVAL", SCRIPT_LIVE, "1", KEY_NODES};
  if (redis_command(m->q->w, on_live_nodes, m, 4, argv, NULL))
    step_down(m, "redis");
}

static void on_gen(void *arg, int status, const struct redisReply *r) {
  struct cmatcher *m = arg;
  if (status == -ECANCELED || m->lead != TAKING)
    return;
  if (status || r->type != REDIS_REPLY_INTEGER || r->integer <= 0) {
    step_down(m, "redis");
    return;
  }
  m->gen = (uint64_t)r->integer;
  m->mc = mcluster_new(&m->q->mc);
  if (!m->mc) {
    step_down(m, "out of memory");
    return;
  }
  mcluster_set_generation(m->mc, m->gen);
  const char *argv[6] = {"XREVRANGE", KEY_IN, "+", "-", "COUNT", "1"};
  if (redis_command(m->q->w, on_in_end, m, 6, argv, NULL))
    step_down(m, "redis");
}

static void on_lease(void *arg, int status, const struct redisReply *r) {
  struct cmatcher *m = arg;
  if (status == -ECANCELED)
    return;
  if (m->lead == ASKING) {
    m->lead = IDLE;
    if (status == 0 && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "OK")) {
      m->lead = TAKING;
      const char *argv[2] = {"INCR", KEY_GEN};
      if (redis_command(m->q->w, on_gen, m, 2, argv, NULL))
        step_down(m, "redis");
    }
    return;
  }
  if (m->lead == LEADING || m->lead == TAKING) {
    /* The renewal: 1 while the lease is ours. */
    if (status == 0 && r->type == REDIS_REPLY_INTEGER && r->integer != 1)
      step_down(m, "lease lost");
  }
}

static void on_expired(void *arg, int status, const struct redisReply *r) {
  struct cmatcher *m = arg;
  if (status || m->lead != LEADING || !m->mc || r->type != REDIS_REPLY_ARRAY)
    return;
  for (size_t i = 0; i < r->elements; i++) {
    const struct redisReply *e = r->element[i];
    unsigned long n = e->type == REDIS_REPLY_STRING ? strtoul(e->str, NULL, 10) : 0;
    if (n < 1 || n > MCLUSTER_NODE_MAX)
      continue;
    log_event(LOG_WARN, "cluster_node_gone", LF_UINT("node", n),
              LF_UINT("peers", mcluster_peers(m->mc, (unsigned)n)));
    mcluster_node_gone(m->mc, (unsigned)n, now_of(m), emit, m);
    if (m->expect[n]) {
      m->expect[n] = false;
      if (--m->n_expect == 0)
        sync_end(m);
    }
    const char *argv[3] = {"ZREM", KEY_NODES, e->str};
    redis_command(m->q->w, NULL, NULL, 3, argv, NULL);
    send_resync(m, (unsigned)n); /* if it was only late, it comes back with its visitors */
  }
}

void cmatcher_tick(struct cmatcher *m, uint64_t now) {
  struct cq *q = m->q;
  if (!q->w_up) {
    if (m->lead != IDLE)
      step_down(m, "redis away"); /* the lease lapses; another node takes over */
    return;
  }
  if (now >= m->next_lease) {
    m->next_lease = now + LEASE_MS / 3;
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%d", LEASE_MS);
    if (m->lead == IDLE) {
      const char *argv[6] = {"SET", KEY_LEASE, m->holder, "NX", "PX", ttl};
      if (redis_command(q->w, on_lease, m, 6, argv, NULL) == 0)
        m->lead = ASKING;
    } else if (m->lead != ASKING) {
      const char *argv[6] = {"EVAL", RENEW_SCRIPT, "1", KEY_LEASE, m->holder, ttl};
      redis_command(q->w, on_lease, m, 6, argv, NULL);
    }
  }
  if (m->lead != LEADING)
    return;
  if (mcluster_syncing(m->mc) && now >= m->sync_until)
    sync_end(m);
  if (now >= m->next_expiry) {
    /* Nodes whose heartbeat stopped: their visitors are gone. */
    m->next_expiry = now + HEARTBEAT_MS;
    const char *argv[4] = {"EVAL", SCRIPT_GONE, "1", KEY_NODES};
    redis_command(q->w, on_expired, m, 4, argv, NULL);
  }
  if (now >= m->next_tick && !mcluster_syncing(m->mc)) {
    m->next_tick = now + TICK_MS;
    mcluster_tick(m->mc, now, emit, m);
  }
  read_next(m);
}

static void on_rd_state(void *arg, bool up) {
  struct cmatcher *m = arg;
  m->rd_up = up;
  if (up)
    read_next(m);
}

struct cmatcher *cmatcher_new(struct cq *q, const char *url) {
  struct cmatcher *m = calloc(1, sizeof(*m));
  if (!m)
    return NULL;
  m->q = q;
  snprintf(m->holder, sizeof(m->holder), "%u:%016llx", q->node, (unsigned long long)q->epoch);
  struct redis_config rc;
  redis_config_default(&rc);
  rc.url = url;
  rc.name = "redis-matcher";
  struct redis_events ev = {.on_state = on_rd_state, .arg = m};
  if (redis_new(q->loop, &rc, &ev, &m->rd)) {
    free(m);
    return NULL;
  }
  return m;
}

static void rd_closed(void *arg) {
  struct cmatcher *m = arg;
  void (*done)(void *) = m->done;
  void *done_arg = m->done_arg;
  mcluster_free(m->mc);
  free(m);
  if (done)
    done(done_arg);
}

void cmatcher_close(struct cmatcher *m, void (*done)(void *), void *arg) {
  m->done = done;
  m->done_arg = arg;
  m->closing = 1;
  if (m->lead == LEADING || m->lead == TAKING) {
    /* Hand the lease on at once rather than in 3 s. */
    const char *argv[5] = {"EVAL", DEL_SCRIPT, "1", KEY_LEASE, m->holder};
    redis_command(m->q->w, NULL, NULL, 5, argv, NULL);
  }
  redis_close(m->rd, rd_closed, m);
}

bool cmatcher_leading(const struct cmatcher *m) { return m->lead == LEADING; }

void cmatcher_metrics(void *file, const struct cmatcher *m) {
  FILE *f = file;
  metrics_put(f, "tandem_cluster_matcher", "gauge", "1 while this node is the cluster's matcher.",
              m->lead == LEADING);
  metrics_put(f, "tandem_cluster_matcher_takeovers_total", "counter",
              "Times this node became the matcher.", (double)m->n_takeovers);
  if (m->lead != LEADING || !m->mc)
    return;
  metrics_put(f, "tandem_cluster_pool_waiting", "gauge",
              "Visitors waiting, cluster-wide (the matcher only).",
              (double)mcluster_waiting(m->mc));
  metrics_put(f, "tandem_cluster_pool_paired", "gauge",
              "Visitors paired, cluster-wide (the matcher only).", (double)mcluster_paired(m->mc));
  metrics_put(f, "tandem_cluster_pool_peers", "gauge", "Visitors known to the matcher.",
              (double)mcluster_peers(m->mc, 0));
  metrics_put(f, "tandem_cluster_matcher_decisions_total", "counter",
              "Commands the matcher decided.", (double)m->n_decisions);
  metrics_put(f, "tandem_cluster_matcher_lag_seconds", "gauge",
              "From a command's entry in Redis to its decision, for the latest batch (Redis's "
              "clock against this node's).",
              m->lag_s);
}
