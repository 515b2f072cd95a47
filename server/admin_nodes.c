/* admin_nodes.c -- the cluster's list of nodes (docs/operations.md, "Seeing the whole
 * cluster"; docs/admin-api.md, GET /api/nodes).
 *
 * With redis_url, every node writes what it is about itself (server/nodewire.h: its number,
 * the URL of its admin API, its version, its visitors and pairs, whether it drains) every
 * second, on the modcluster link:
 *   tandem:admin:nodes   sorted set: node -> its entry's expiry (ms, on Redis's clock)
 *   tandem:admin:info    hash: node -> its entry (JSON)
 * and any node's GET /api/nodes reads every live entry, and the matcher's lease
 * (tandem:mq:lease), in one script. tandemctl uses that list to reach every node's own admin
 * API: the peers, pairs, reports and audit log of a node are read from that node; the proxy
 * for the console (admin_proxy.c) looks up one live node's entry at each request. Entries
 * read from Redis are decoded strictly; one that does not decode is skipped and counted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "server/admin_int.h"
#include "server/app_int.h"
#include "server/log.h"
#include "server/moderate_int.h"
#include "server/nodewire.h"
#include "server/redis.h"
#include "server/version.h"

#define KEY_SET "tandem:admin:nodes"
#define KEY_INFO "tandem:admin:info"
#define KEY_LEASE "tandem:mq:lease" /* the matcher's "<node>:<epoch>" (server/cluster_int.h) */
#define BEAT_MS 1000
#define ENTRY_TTL_MS "5000"
#define LIST_MAX 1024
#define LUA_NOW "local t = redis.call('time') local now = t[1] * 1000 + math.floor(t[2] / 1000) "
/* KEYS: the set, the hash; ARGV: ttl, node, entry. Entries dead for a minute are tidied. */
#define SCRIPT_BEAT                                                                          \
  LUA_NOW "redis.call('hset', KEYS[2], ARGV[2], ARGV[3]) "                                   \
          "redis.call('zadd', KEYS[1], now + tonumber(ARGV[1]), ARGV[2]) "                   \
          "local gone = redis.call('zrangebyscore', KEYS[1], '-inf', now - 60000) "          \
          "for _, id in ipairs(gone) do redis.call('zrem', KEYS[1], id) "                    \
          "redis.call('hdel', KEYS[2], id) end return 1"
/* KEYS: the set, the hash, the lease: {lease or "", node, entry, node, entry, ...} of the
 * live nodes. */
#define SCRIPT_LIST                                                                          \
  LUA_NOW "local ids = redis.call('zrangebyscore', KEYS[1], now, '+inf', 'LIMIT', 0, 1024) " \
          "local out = {redis.call('get', KEYS[3]) or ''} "                                  \
          "for _, id in ipairs(ids) do local v = redis.call('hget', KEYS[2], id) "           \
          "if v then out[#out + 1] = id out[#out + 1] = v end end return out"
/* KEYS: the set, the hash; ARGV: a node: its entry if it is live, else nil. */
#define SCRIPT_FIND                                                                          \
  LUA_NOW "local s = redis.call('zscore', KEYS[1], ARGV[1]) "                                \
          "if not s or tonumber(s) < now then return false end "                             \
          "return redis.call('hget', KEYS[2], ARGV[1])"

static uint64_t next_beat;
static uint64_t n_bad;

/* The URL this node's admin API is reached at: admin_url, or derived from relay_addr (or the
 * first public_ip) and the port http_port is bound to. */
static void self_url(struct app *a, char *buf, size_t cap) {
  if (a->cfg.admin_url[0]) {
    snprintf(buf, cap, "%.200s", a->cfg.admin_url); /* config.c: at most 200 bytes */
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '/')
      buf[n - 1] = 0;
    return;
  }
  char host[256];
  snprintf(host, sizeof(host), "%s", a->cfg.relay_addr[0] ? a->cfg.relay_addr : a->public_ip);
  host[strcspn(host, ",")] = 0;
  bool v6 = strchr(host, ':') != NULL;
  snprintf(buf, cap, "%s://%s%.64s%s:%d", a->cfg.tls_cert[0] ? "https" : "http", v6 ? "[" : "",
           host[0] ? host : "127.0.0.1", v6 ? "]" : "", a->httpd ? httpd_port(a->httpd) : 0);
}

/* This node as it is now. Pairs are counted as GET /api/pairs lists them: by the side with
 * the smaller id, so that every pair of the cluster is counted on exactly one node. */
static void self_info(struct app *a, struct nodewire *n) {
  memset(n, 0, sizeof(*n));
  n->node = a->node;
  self_url(a, n->admin_url, sizeof(n->admin_url));
  snprintf(n->version, sizeof(n->version), "%.20s (%.40s)", tandem_version(), tandem_commit());
  n->started_ms = (uint64_t)(a->started_wall * 1000.0);
  n->visitors = (uint32_t)a->n_peers;
  for (struct peer *p = a->peers; p; p = p->next)
    if (p->mq_partner && p->id < p->mq_partner)
      n->pairs++;
  n->draining = a->draining;
}

static json_t *entry_json(const struct nodewire *n, unsigned matcher, bool self) {
  return json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:b, s:b, s:b}", "node", (json_int_t)n->node,
                   "admin_url", n->admin_url, "version", n->version, "started_ms",
                   (json_int_t)n->started_ms, "visitors", (json_int_t)n->visitors, "pairs",
                   (json_int_t)n->pairs, "draining", n->draining, "matcher",
                   n->node && n->node == matcher, "self", self);
}

static void bad_input(const char *what) {
  if (n_bad++ % 100 == 0)
    log_event(LOG_WARN, "cluster_bad_input", LF_STR("what", what), LF_UINT("count", n_bad),
              LF_STR("effect", "ignored"));
}

/* ---- the heartbeat ---- */

void admin_nodes_tick(struct app *a) {
  struct redis *r = modcluster_redis(a);
  uint64_t now = uv_now(a->loop);
  if (!r || !a->node || !redis_is_up(r) || now < next_beat)
    return;
  next_beat = now + BEAT_MS;
  struct nodewire n;
  self_info(a, &n);
  char *json = nodewire_encode(&n), node[16];
  if (!json) {
    bad_input("this node's own entry (admin_url?)");
    return;
  }
  snprintf(node, sizeof(node), "%u", n.node);
  const char *argv[8] = {"EVAL", SCRIPT_BEAT, "2", KEY_SET, KEY_INFO, ENTRY_TTL_MS, node, json};
  redis_command(r, NULL, NULL, 8, argv, NULL); /* a lost beat: the next one comes in 1 s */
  free(json);
}

/* ---- GET /api/nodes ---- */

struct nodes_job {
  struct httpd_deferred *d;
  struct app *a;
};

static void job_cancel(void *arg) { ((struct nodes_job *)arg)->d = NULL; }

static int cmp_node(const void *x, const void *y) {
  json_int_t a = json_integer_value(json_object_get(*(json_t *const *)x, "node")),
             b = json_integer_value(json_object_get(*(json_t *const *)y, "node"));
  return a < b ? -1 : a > b;
}

/* The answer: this node from memory, the others from the script's reply (NULL: Redis is not
 * answering; this node alone, "redis_up": false). */
static json_t *answer(struct app *a, const struct redisReply *r) {
  struct nodewire self, n;
  self_info(a, &self);
  unsigned matcher = 0;
  json_t *list = json_array();
  bool seen[NODEWIRE_NODE_MAX + 1] = {false};
  if (r) {
    const struct redisReply *l = r->element[0];
    if (l->type == REDIS_REPLY_STRING && l->len)
      matcher = nodewire_lease_node(l->str, l->len);
    for (size_t i = 1; i + 1 < r->elements && i <= 2 * LIST_MAX; i += 2) {
      const struct redisReply *f = r->element[i], *e = r->element[i + 1];
      char field[16];
      /* An entry must be the one of the node it is filed under, and each node once. */
      if (f->type != REDIS_REPLY_STRING || f->len >= sizeof(field) ||
          e->type != REDIS_REPLY_STRING || nodewire_decode(e->str, e->len, &n) || !n.node ||
          (snprintf(field, sizeof(field), "%u", n.node), strlen(field) != f->len) ||
          memcmp(field, f->str, f->len) || seen[n.node]) {
        bad_input(KEY_INFO " entry");
        continue;
      }
      seen[n.node] = true;
      if (n.node != self.node)
        json_array_append_new(list, entry_json(&n, matcher, false));
    }
  }
  json_array_append_new(list, entry_json(&self, matcher, true));
  /* Sorted by node (a few entries: a tiny array). */
  size_t k = json_array_size(list);
  json_t **v = malloc((k ? k : 1) * sizeof(*v));
  if (v) {
    for (size_t i = 0; i < k; i++)
      v[i] = json_incref(json_array_get(list, i));
    qsort(v, k, sizeof(*v), cmp_node);
    json_array_clear(list);
    for (size_t i = 0; i < k; i++)
      json_array_append_new(list, v[i]);
    free(v);
  }
  return json_pack("{s:I, s:b, s:o, s:o}", "self", (json_int_t)a->node, "redis_up", r != NULL,
                   "matcher", matcher ? json_integer(matcher) : json_null(), "nodes", list);
}

static void on_list(void *arg, int status, const struct redisReply *r) {
  struct nodes_job *j = arg;
  struct httpd_reply *rep = httpd_deferred_reply(j->d);
  if (rep && j->a->mod) {
    bool ok = !status && r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
              (r->element[0]->type == REDIS_REPLY_STRING);
    if (!ok && !status)
      bad_input("the list of nodes");
    admin_json(rep, 200, answer(j->a, ok ? r : NULL));
  } else if (rep) {
    admin_error(rep, 503, "busy", "shutting down");
  }
  if (j->d)
    httpd_deferred_send(j->d);
  free(j);
}

void admin_get_nodes(struct admin_req *r) {
  struct app *a = r->a;
  struct redis *rd = modcluster_redis(a);
  if (!rd || !a->node || !redis_is_up(rd)) {
    admin_json(r->rep, 200, answer(a, NULL));
    return;
  }
  struct nodes_job *j = calloc(1, sizeof(*j));
  if (!j) {
    admin_errno(r->rep, -ENOMEM, "nodes");
    return;
  }
  j->a = a;
  j->d = httpd_defer(r->rep, 5000, job_cancel, j);
  if (!j->d) {
    free(j);
    admin_errno(r->rep, -ENOMEM, "nodes");
    return;
  }
  const char *argv[6] = {"EVAL", SCRIPT_LIST, "3", KEY_SET, KEY_INFO, KEY_LEASE};
  if (redis_command(rd, on_list, j, 6, argv, NULL)) {
    admin_json(httpd_deferred_reply(j->d), 200, answer(a, NULL));
    httpd_deferred_send(j->d);
    free(j);
  }
}

/* ---- one node, for the proxy (admin_proxy.c) ---- */

struct find_job {
  admin_node_fn cb;
  void *arg;
  unsigned node;
};

static void on_find(void *arg, int status, const struct redisReply *r) {
  struct find_job *j = arg;
  struct nodewire n;
  int rc = status;
  if (!rc && r && r->type == REDIS_REPLY_NIL) {
    rc = -ENOENT;
  } else if (!rc && (!r || r->type != REDIS_REPLY_STRING || nodewire_decode(r->str, r->len, &n) ||
                     n.node != j->node)) {
    /* Filed under another node, or not an entry at all. */
    bad_input(KEY_INFO " entry");
    rc = -EBADMSG;
  }
  j->cb(j->arg, rc, rc ? NULL : &n);
  free(j);
}

int admin_nodes_find(struct app *a, unsigned node, admin_node_fn cb, void *arg) {
  struct redis *rd = modcluster_redis(a);
  if (!rd || !a->node)
    return -ENOENT;
  if (!redis_is_up(rd))
    return -ENOTCONN;
  struct find_job *j = calloc(1, sizeof(*j));
  if (!j)
    return -ENOMEM;
  j->cb = cb;
  j->arg = arg;
  j->node = node;
  char id[16];
  snprintf(id, sizeof(id), "%u", node);
  const char *argv[6] = {"EVAL", SCRIPT_FIND, "2", KEY_SET, KEY_INFO, id};
  int rc = redis_command(rd, on_find, j, 6, argv, NULL);
  if (rc)
    free(j);
  return rc;
}

uint64_t admin_nodes_bad_input(void) { return n_bad; }
