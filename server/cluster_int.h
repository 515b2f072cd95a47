/* cluster_int.h -- what the node side (cluster.c) and the matcher role (cluster_matcher.c) of
 * the cluster backend share. */
#ifndef TANDEM_SERVER_CLUSTER_INT_H
#define TANDEM_SERVER_CLUSTER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "match/cluster.h"
#include "match/clusterwire.h"
#include "server/cluster.h"
#include "server/matchq.h"
#include "server/redis.h"

#define KEY_IN "tandem:mq:in"            /* stream: every node's commands */
#define KEY_NODE_FMT "tandem:mq:node:%u" /* stream: events and peer messages for one node */
#define KEY_NODES "tandem:mq:nodes"      /* sorted set: node -> its heartbeat's expiry (ms) */
/* Heartbeats and their expiry on Redis's clock (its TIME), so nodes' clocks need not agree. */
#define LUA_NOW "local t = redis.call('time') local now = t[1] * 1000 + math.floor(t[2] / 1000) "
#define SCRIPT_BEAT LUA_NOW "redis.call('zadd', KEYS[1], now + tonumber(ARGV[1]), ARGV[2]) " \
                    "return redis.call('zrangebyscore', KEYS[1], now, '+inf')"
#define SCRIPT_LIVE LUA_NOW "return redis.call('zrangebyscore', KEYS[1], now, '+inf')"
#define SCRIPT_GONE LUA_NOW "return redis.call('zrangebyscore', KEYS[1], '-inf', now)"
#define KEY_LEASE "tandem:mq:lease"      /* the matcher's "<node>:<epoch>", 3 s to live */
#define KEY_GEN "tandem:mq:gen"          /* the matchers' generation counter */
#define KEY_SECRET "tandem:mq:relay_key" /* the relay secret (64 hex digits), the first node's */
#define STREAM_MAXLEN "100000"           /* entries kept per stream (approximately) */
#define LEASE_MS 3000
#define HEARTBEAT_MS 1000
#define NODE_TTL_MS 5000
#define READ_BLOCK_MS "500"
#define READ_COUNT "512"
#define LOG_MAX 65536                    /* commands sent and not acknowledged */

struct logent {
  uint64_t seq;
  uint64_t sent_ms; /* when it last went out (uv_now), 0 never */
  struct matcher_cmd c;
};
#define RESEND_MS 2000 /* an unacknowledged command goes out again after this */

enum cq_state {
  CQ_DOWN,     /* Redis away (not yet for CLUSTER_FALLBACK_MS): commands wait in the log */
  CQ_JOINING,  /* finding where our stream ends, before saying hello */
  CQ_UP,       /* in the shared pool */
  CQ_FALLBACK, /* Redis away for long: matching our own visitors alone */
};

struct cmatcher;

struct cq {
  struct matchq base;
  uv_loop_t *loop;
  unsigned node;
  uint64_t epoch;
  struct match_config mc;
  struct cluster_hooks hooks;
  struct redis *w;    /* commands out, heartbeats, the lease */
  struct redis *rd;   /* our stream in (XREAD BLOCK holds its connection) */
  bool w_up, rd_up;
  enum cq_state state;
  uint64_t down_since;
  struct matchq_events events;
  struct logent *log; /* a ring, by seq */
  size_t log_head, log_n;
  uint64_t seq;
  uint64_t acked;     /* the highest of our seqs the matcher has taken (this epoch) */
  uint64_t gen;       /* the newest matcher generation heard of (since joining) */
  char rd_last[48];   /* the last id read from our stream ("" = find the end first) */
  bool rd_busy;
  bool in_resync;     /* inside the resync hook: records go out now, commands wait */
  struct mcluster *local; /* CQ_FALLBACK */
  uv_timer_t timer;
  uint64_t next_beat;
  struct cmatcher *matcher;
  uint8_t secret[32];
  bool has_secret;
  int closing;        /* handles still closing */
  void (*done)(void *);
  void *done_arg;
  char key_node[40];
  /* counters */
  uint64_t n_cmds, n_events, n_acks, n_resyncs, n_fallbacks, n_bad, n_peer_in, n_peer_out;
  /* The live nodes as of the latest heartbeat's answer (bit n: node n). */
  uint64_t live[(MCLUSTER_NODE_MAX + 64) / 64];
};

/* cluster.c */
/* XADD of one message to a stream, fire and forget. 0 or the redis error. */
int cluster_xadd(struct redis *r, const char *key, const struct cw_msg *m, uint64_t now_ms);
/* XREAD BLOCK of the next entries of one stream after id last: 0, or the redis error. */
int cluster_xread(struct redis *r, const char *key, const char *last, redis_reply_fn cb,
                  void *arg);
/* For each entry of an XREAD reply's only stream: fn(arg, id, field value). Returns the last id
 * seen (in last, cap bytes), or leaves it. Malformed entries are counted in *bad. */
void cluster_each_entry(const struct redisReply *r, char *last, size_t cap, uint64_t *bad,
                        void (*fn)(void *arg, const uint8_t *data, size_t len), void *arg);

/* cluster_matcher.c: the matcher role, taken by whichever node holds the lease. */
struct cmatcher *cmatcher_new(struct cq *q, const char *url);
void cmatcher_tick(struct cmatcher *m, uint64_t now);   /* lease, node expiry, matching timers */
void cmatcher_close(struct cmatcher *m, void (*done)(void *), void *arg);
bool cmatcher_leading(const struct cmatcher *m);
void cmatcher_metrics(void *file, const struct cmatcher *m);

#endif
