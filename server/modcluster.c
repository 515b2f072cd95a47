/* modcluster.c -- bans that hold on every node, through Redis (docs/moderation.md, "Bans
 * across nodes"), and the device key all nodes sign with.
 *
 * In Redis:
 *   tandem:bans          hash: cluster ban id -> the ban as JSON (moderation/banwire.h), every
 *                        ban in force made by any node
 *   tandem:bans:lifted   hash: cluster ban id -> its expires_ms (0 = permanent): lifted bans,
 *                        so that a node that was away does not bring one back
 *   tandem:bans          channel: {"op":"ban",...} and {"op":"unban",...} as they happen
 *   tandem:device_key    the key every node signs device tokens with (the first node's)
 *   tandem:node:<id>     held by the live node with that node_id (45 s, renewed every 15 s)
 *
 * The node that made a ban is its authority: it stores it in its own SQLite store (its id is
 * node_id * 2^42 + the store's id), publishes it, and on every (re)connection re-publishes
 * the ones Redis lacks and withdraws the ones it lifted meanwhile. Every node learns the
 * others' bans from the channel at once and from the hash on every (re)connection and every
 * 15 s, and cuts off whoever they cover in the same loop turn (moderate_enforce). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <openssl/rand.h>

#include "media/hmap.h"
#include "moderation/banwire.h"
#include "server/app_int.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/moderate_int.h"
#include "server/redis.h"

#define KEY_BANS "tandem:bans"
#define KEY_LIFTED "tandem:bans:lifted"
#define CHANNEL "tandem:bans"
#define KEY_DEVICE "tandem:device_key"
#define SYNC_MS 15000
#define RETRY_MS 1000
#define START_WAIT_MS 3000
#define NODE_TTL_MS "45000"

struct modcluster {
  struct app *a;
  struct redis *redis;
  unsigned node;
  struct hmap *lifted;      /* cluster ids lifted anywhere -> (void *)1 */
  bool syncing, synced;     /* a resync in flight; one has completed since start */
  bool key_checked;         /* the cluster's device key has been compared with ours */
  /* the resync in progress (HSCAN): phase 0 tombstones, 1 bans */
  int phase;
  char cursor[32];
  struct hmap *seen;        /* ids of tandem:bans read so far */
  struct banwire_ban *w;    /* scratch for decoding */
  size_t sync_learnt;
  uint64_t next_sync;       /* uv_now of the next periodic resync */
  char instance[33];        /* this process, in tandem:node:<id> */
  char node_key[32];
  uint64_t n_learnt, n_lifted, n_published, n_bad, n_conflicts;
  void (*done)(void *);
  void *done_arg;
};

static struct modcluster *cluster_of(struct app *a) { return a->mod ? a->mod->cluster : NULL; }

struct redis *modcluster_redis(struct app *a) {
  struct modcluster *c = cluster_of(a);
  return c && !a->closing ? c->redis : NULL;
}

static uint64_t now_ms(void) { return moderate_wall_ms(); }

static void bad_input(struct modcluster *c, const char *what) {
  if (c->n_bad++ % 100 == 0)
    log_event(LOG_WARN, "cluster_bad_input", LF_STR("what", what),
              LF_UINT("count", c->n_bad), LF_STR("effect", "ignored"));
}

/* A decimal cluster id from Redis (a hash field): > 0, or 0 when it is anything else. */
static int64_t parse_id(const char *s, size_t len) {
  if (len == 0 || len > 16)
    return 0;
  int64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    v = v * 10 + (s[i] - '0');
  }
  return banwire_node(v) ? v : 0;
}

static bool is_lifted(struct modcluster *c, int64_t id) {
  return hmap_get(c->lifted, &id, sizeof(id)) != NULL;
}

static void note_lifted(struct modcluster *c, int64_t id) {
  if (!is_lifted(c, id))
    hmap_put(c->lifted, &id, sizeof(id), (void *)1);
}

static void cmd(struct modcluster *c, redis_reply_fn cb, void *arg, int argc, const char **argv,
                const size_t *lens) {
  int rc = redis_command(c->redis, cb, arg, argc, argv, lens);
  if (rc)
    c->next_sync = uv_now(c->a->loop) + RETRY_MS; /* what was lost is sent again by a resync */
}

/* Writes that need no answer: a failure only brings the next resync closer. */
static void on_write(void *arg, int status, const struct redisReply *r) {
  struct modcluster *c = arg;
  (void)r;
  if (status && status != -ECANCELED)
    c->next_sync = uv_now(c->a->loop) + RETRY_MS;
}

/* ---- publishing ---- */

static void publish(struct modcluster *c, const struct ban *b) {
  if (b->expires_ms && b->expires_ms <= now_ms())
    return;
  char *json = banwire_encode(b), *msg = banwire_msg_ban(b);
  char id[24];
  snprintf(id, sizeof(id), "%lld", (long long)b->id);
  if (json && msg) {
    const char *hset[4] = {"HSET", KEY_BANS, id, json};
    const char *pub[3] = {"PUBLISH", CHANNEL, msg};
    cmd(c, on_write, c, 4, hset, NULL);
    cmd(c, on_write, c, 3, pub, NULL);
    c->n_published++;
  }
  free(json);
  free(msg);
}

static void publish_lift(struct modcluster *c, int64_t id, const char *by, uint64_t expires) {
  char sid[24], exp[24];
  snprintf(sid, sizeof(sid), "%lld", (long long)id);
  snprintf(exp, sizeof(exp), "%llu", (unsigned long long)expires);
  char *msg = banwire_msg_unban(id, by);
  const char *hdel[3] = {"HDEL", KEY_BANS, sid};
  const char *hset[4] = {"HSET", KEY_LIFTED, sid, exp};
  cmd(c, on_write, c, 3, hdel, NULL);
  cmd(c, on_write, c, 4, hset, NULL);
  if (msg) {
    const char *pub[3] = {"PUBLISH", CHANNEL, msg};
    cmd(c, on_write, c, 3, pub, NULL);
  }
  free(msg);
}

void modcluster_ban_stored(struct app *a, const struct ban *b) {
  struct modcluster *c = cluster_of(a);
  if (c && redis_is_up(c->redis))
    publish(c, b); /* else the next resync publishes it */
}

void modcluster_ban_lifted(struct app *a, int64_t id, const char *actor) {
  struct modcluster *c = cluster_of(a);
  if (!c)
    return;
  note_lifted(c, id);
  if (redis_is_up(c->redis))
    publish_lift(c, id, actor, 0); /* else the resync withdraws it: it is no longer here */
}

/* Another node's ban lifted by a node: this node's store agrees when it was this node's. */
static void lift_here(struct modcluster *c, int64_t id, const char *by) {
  struct moderate *m = c->a->mod;
  note_lifted(c, id);
  if (ban_set_lift(m->bans, id) == 0) {
    c->n_lifted++;
    log_event(LOG_INFO, "unban_learnt", LF_INT("ban", id), LF_STR("by", by));
  }
  if (banwire_node(id) == c->node)
    store_ban_lift(m->store, banwire_local(id), by, now_ms(), NULL, NULL);
}

/* ---- lifting another node's ban (DELETE /api/bans/{id} on this node) ---- */

struct unban_job {
  struct modcluster *c;
  int64_t id;
  char sid[24];
  moderate_done_fn cb;
  void *arg;
  char actor[BAN_TEXT_MAX + 1];
};

static void unban_done(struct unban_job *j, int status) {
  if (j->cb)
    j->cb(j->arg, status);
  free(j);
}

static void unban_now(struct unban_job *j) {
  struct modcluster *c = j->c;
  struct moderate *m = c->a->mod;
  const struct ban *b = ban_set_get(m->bans, j->id);
  publish_lift(c, j->id, j->actor, b ? b->expires_ms : 0);
  lift_here(c, j->id, j->actor);
  char target[40];
  snprintf(target, sizeof(target), "ban:%lld", (long long)j->id);
  struct store_audit au = {.time_ms = now_ms(), .actor = j->actor, .action = "unban",
                           .target = target, .details_json = "{\"cluster\":true}"};
  store_audit_add(m->store, &au, NULL, NULL);
  unban_done(j, 0);
}

static void on_unban_exists(void *arg, int status, const struct redisReply *r) {
  struct unban_job *j = arg;
  if (status)
    unban_done(j, status == -ECANCELED ? -ECANCELED : -ENOTCONN);
  else
    unban_done(j, r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? -EALREADY : -ENOENT);
}

static void on_unban_del(void *arg, int status, const struct redisReply *r) {
  struct unban_job *j = arg;
  if (status) {
    unban_done(j, status == -ECANCELED ? -ECANCELED : -ENOTCONN);
    return;
  }
  struct modcluster *c = j->c;
  if ((r->type == REDIS_REPLY_INTEGER && r->integer == 1) ||
      ban_set_get(c->a->mod->bans, j->id)) {
    unban_now(j); /* also one Redis had lost but this node still enforced */
    return;
  }
  const char *hexists[3] = {"HEXISTS", KEY_LIFTED, j->sid};
  if (redis_command(c->redis, on_unban_exists, j, 3, hexists, NULL))
    unban_done(j, -ENOTCONN);
}

int modcluster_unban(struct app *a, int64_t id, const char *actor, moderate_done_fn cb,
                     void *arg) {
  struct modcluster *c = cluster_of(a);
  if (!c)
    return -ENOENT;
  if (!redis_is_up(c->redis))
    return -ENOTCONN;
  struct unban_job *j = calloc(1, sizeof(*j));
  if (!j)
    return -ENOMEM;
  *j = (struct unban_job){.c = c, .id = id, .cb = cb, .arg = arg};
  snprintf(j->sid, sizeof(j->sid), "%lld", (long long)id);
  snprintf(j->actor, sizeof(j->actor), "%s", actor ? actor : "");
  const char *hdel[3] = {"HDEL", KEY_BANS, j->sid};
  int rc = redis_command(c->redis, on_unban_del, j, 3, hdel, NULL);
  if (rc)
    free(j);
  return rc;
}

/* ---- learning: the channel ---- */

static void on_message(void *arg, const char *channel, const char *msg, size_t len) {
  struct modcluster *c = arg;
  if (!strcmp(channel, MODDEVICES_CHANNEL) && c->a->mod) {
    moddevices_on_message(c->a, msg, len);
    return;
  }
  if (strcmp(channel, CHANNEL) || !c->a->mod)
    return;
  struct banwire_ban *w = malloc(sizeof(*w));
  enum banwire_op op;
  if (!w)
    return;
  if (banwire_msg_decode(msg, len, &op, w)) {
    bad_input(c, "a message on " CHANNEL);
  } else if (op == BANWIRE_UNBAN) {
    lift_here(c, w->b.id, w->b.by);
  } else if (banwire_node(w->b.id) != c->node && !is_lifted(c, w->b.id) &&
             (!w->b.expires_ms || w->b.expires_ms > now_ms())) {
    if (moderate_enforce(c->a, &w->b) == 0)
      c->n_learnt++;
  }
  free(w);
}

/* ---- node_id: one live node per number ---- */

static void on_node_get(void *arg, int status, const struct redisReply *r) {
  struct modcluster *c = arg;
  if (status)
    return;
  bool ours = r->type == REDIS_REPLY_NIL ||
              (r->type == REDIS_REPLY_STRING && !strcmp(r->str, c->instance));
  if (ours) {
    const char *set[5] = {"SET", c->node_key, c->instance, "PX", NODE_TTL_MS};
    cmd(c, on_write, c, 5, set, NULL);
    return;
  }
  c->n_conflicts++;
  log_event(LOG_ERROR, "node_id_conflict", LF_UINT("node_id", c->node),
            LF_STR("error", "another live node uses this node_id (or this node restarted "
                            "less than 45 s ago)"),
            LF_STR("effect", "ban ids of the two nodes collide: give every node its own "
                             "node_id"));
}

static void heartbeat(struct modcluster *c) {
  const char *get[2] = {"GET", c->node_key};
  cmd(c, on_node_get, c, 2, get, NULL);
}

/* ---- learning: the whole state, on every (re)connection and every SYNC_MS ---- */

/* A resync walks tandem:bans:lifted, then tandem:bans, with HSCAN, SCAN_COUNT entries a page:
 * each callback does bounded work however many bans there are. An entry may come twice (HSCAN
 * may repeat); everything done with one is idempotent. */
#define SCAN_COUNT "256"

static void lifted_item(struct modcluster *c, const struct redisReply *f,
                        const struct redisReply *v, uint64_t now) {
  int64_t id = f->type == REDIS_REPLY_STRING ? parse_id(f->str, f->len) : 0;
  if (!id) {
    bad_input(c, KEY_LIFTED " field");
    return;
  }
  unsigned long long exp = v->type == REDIS_REPLY_STRING ? strtoull(v->str, NULL, 10) : 0;
  if (exp && exp <= now) { /* the ban would have ended anyway: the tombstone can go */
    const char *hdel[3] = {"HDEL", KEY_LIFTED, f->str};
    cmd(c, on_write, c, 3, hdel, NULL);
  }
  if (!is_lifted(c, id) || ban_set_get(c->a->mod->bans, id))
    lift_here(c, id, "cluster");
}

static void ban_item(struct modcluster *c, const struct redisReply *f,
                     const struct redisReply *v, uint64_t now) {
  struct moderate *m = c->a->mod;
  int64_t id = f->type == REDIS_REPLY_STRING ? parse_id(f->str, f->len) : 0;
  if (!id || v->type != REDIS_REPLY_STRING || banwire_decode(v->str, v->len, c->w) ||
      c->w->b.id != id) {
    bad_input(c, KEY_BANS " entry");
    return;
  }
  hmap_put(c->seen, &id, sizeof(id), (void *)1);
  bool mine = banwire_node(id) == c->node;
  if (c->w->b.expires_ms && c->w->b.expires_ms <= now) {
    const char *hdel[3] = {"HDEL", KEY_BANS, f->str}; /* ended: tidy */
    cmd(c, on_write, c, 3, hdel, NULL);
  } else if (is_lifted(c, id) || (mine && !ban_set_get(m->bans, id))) {
    /* Lifted, here or anywhere, while a link was down: every node is told (again). */
    publish_lift(c, id, "cluster", c->w->b.expires_ms);
  } else if (!mine && !ban_set_get(m->bans, id)) {
    if (moderate_enforce(c->a, &c->w->b) == 0) {
      c->n_learnt++;
      c->sync_learnt++;
    }
  }
}

static void sync_end(struct modcluster *c, bool ok) {
  hmap_free(c->seen);
  c->seen = NULL;
  c->syncing = false;
  c->next_sync = uv_now(c->a->loop) + (ok ? SYNC_MS : RETRY_MS);
}

/* The whole hash was read: this node's bans Redis lacks (made while it was away, or lost by
 * Redis) are published. */
static void sync_done(struct modcluster *c) {
  struct moderate *m = c->a->mod;
  size_t cur = 0, published = 0;
  for (const struct ban *b; (b = ban_set_next(m->bans, &cur)) != NULL;) {
    int64_t id = b->id;
    if (banwire_node(id) == c->node && !hmap_get(c->seen, &id, sizeof(id)) &&
        !is_lifted(c, id)) {
      publish(c, b);
      published++;
    }
  }
  if (!c->synced || c->sync_learnt || published)
    log_event(LOG_INFO, "cluster_synced", LF_UINT("node", c->node),
              LF_UINT("bans_in_force", ban_set_count(m->bans)),
              LF_UINT("learnt", c->sync_learnt), LF_UINT("published", published));
  c->synced = true;
  sync_end(c, true);
}

static void scan_next(struct modcluster *c);

static void on_scan(void *arg, int status, const struct redisReply *r) {
  struct modcluster *c = arg;
  if (status == -ECANCELED)
    return;
  if (!c->a->mod || status || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
      r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof(c->cursor) ||
      r->element[1]->type != REDIS_REPLY_ARRAY) {
    if (status == -EREMOTEIO || (status == 0 && c->a->mod)) /* e.g. WRONGTYPE */
      bad_input(c, r && r->type == REDIS_REPLY_ERROR ? r->str : "an HSCAN reply");
    sync_end(c, false);
    return;
  }
  const struct redisReply *items = r->element[1];
  uint64_t now = now_ms();
  for (size_t i = 0; i + 1 < items->elements; i += 2) {
    if (c->phase == 0)
      lifted_item(c, items->element[i], items->element[i + 1], now);
    else
      ban_item(c, items->element[i], items->element[i + 1], now);
  }
  memcpy(c->cursor, r->element[0]->str, r->element[0]->len + 1);
  if (!strcmp(c->cursor, "0")) {
    if (c->phase == 1) {
      sync_done(c);
      return;
    }
    c->phase = 1;
  }
  scan_next(c);
}

static void scan_next(struct modcluster *c) {
  const char *argv[5] = {"HSCAN", c->phase == 0 ? KEY_LIFTED : KEY_BANS, c->cursor, "COUNT",
                         SCAN_COUNT};
  if (redis_command(c->redis, on_scan, c, 5, argv, NULL))
    sync_end(c, false); /* the link went down: on_state brings a new resync */
}

static void resync(struct modcluster *c) {
  if (c->syncing || !redis_is_up(c->redis))
    return;
  c->seen = hmap_new();
  if (!c->seen) {
    c->next_sync = uv_now(c->a->loop) + RETRY_MS;
    return;
  }
  c->syncing = true;
  c->phase = 0;
  c->sync_learnt = 0;
  memcpy(c->cursor, "0", 2);
  heartbeat(c);
  scan_next(c);
}

/* ---- the device key: every node signs with the first node's ---- */

static void key_hex(const struct device_signer *s, char *hex) {
  uint8_t key[DEVICE_KEY_LEN];
  device_signer_key(s, key);
  for (size_t i = 0; i < DEVICE_KEY_LEN; i++)
    snprintf(hex + 2 * i, 3, "%02x", key[i]);
  memset(key, 0, sizeof(key));
}

static void on_key_get(void *arg, int status, const struct redisReply *r) {
  struct modcluster *c = arg;
  struct moderate *m = c->a->mod;
  if (status || !m)
    return;
  c->key_checked = true;
  char mine[2 * DEVICE_KEY_LEN + 1];
  key_hex(m->signer, mine);
  uint8_t key[DEVICE_KEY_LEN];
  bool ok = r->type == REDIS_REPLY_STRING && r->len == 2 * DEVICE_KEY_LEN;
  for (size_t i = 0; ok && i < DEVICE_KEY_LEN; i++) {
    unsigned v = 0;
    char two[3] = {r->str[2 * i], r->str[2 * i + 1], 0};
    ok = strspn(two, "0123456789abcdefABCDEF") == 2 && sscanf(two, "%x", &v) == 1;
    key[i] = (uint8_t)v;
  }
  if (!ok) {
    log_event(LOG_ERROR, "device_key_bad", LF_STR("key", KEY_DEVICE),
              LF_STR("error", "not 64 hex digits"),
              LF_STR("effect", "this node keeps its own device.key; tokens from other nodes "
                               "are refused here"));
    return;
  }
  if (!strncasecmp(r->str, mine, r->len))
    return; /* the same key */
  if (m->signer_old) {
    log_event(LOG_ERROR, "device_key_changed", LF_STR("key", KEY_DEVICE),
              LF_STR("effect", "the cluster's device key changed while this node ran; it "
                               "keeps the one it took"));
    return;
  }
  struct device_signer *s = device_signer_new(key);
  memset(key, 0, sizeof(key));
  if (!s)
    return;
  m->signer_old = m->signer;
  m->signer = s;
  log_event(LOG_WARN, "device_key_adopted", LF_STR("key", KEY_DEVICE),
            LF_STR("why", "this node's device.key differs from the cluster's"),
            LF_STR("effect", "new device tokens are signed with the cluster's key; tokens "
                             "this node issued before stay valid here (and are re-signed on "
                             "their next visit); copy the cluster's key into every node's "
                             "device.key to silence this"));
}

static void on_key_set(void *arg, int status, const struct redisReply *r) {
  (void)arg;
  if (status == 0 && r->type == REDIS_REPLY_STATUS)
    log_event(LOG_INFO, "device_key_shared", LF_STR("key", KEY_DEVICE),
              LF_STR("effect", "this node's device.key is now the cluster's"));
}

static void share_device_key(struct modcluster *c) {
  char hex[2 * DEVICE_KEY_LEN + 1];
  key_hex(c->a->mod->signer, hex);
  /* SET NX, then GET the key that won, before the bans (one link: in this order). */
  const char *set[4] = {"SET", KEY_DEVICE, hex, "NX"};
  const char *get[2] = {"GET", KEY_DEVICE};
  cmd(c, on_key_set, c, 4, set, NULL);
  cmd(c, on_key_get, c, 2, get, NULL);
  memset(hex, 0, sizeof(hex));
}

/* ---- the link ---- */

static void on_state(void *arg, bool up) {
  struct modcluster *c = arg;
  if (!up || !c->a->mod) {
    c->syncing = false; /* its replies come back as errors */
    return;
  }
  /* In this order on one link: the key first, so that no token is judged by a stale one once
   * the bans are in. */
  share_device_key(c);
  resync(c);
}

void modcluster_tick(struct app *a) {
  struct modcluster *c = cluster_of(a);
  if (c && !c->syncing && redis_is_up(c->redis) && uv_now(a->loop) >= c->next_sync)
    resync(c);
}

int modcluster_open(struct app *a) {
  const struct config *cfg = &a->cfg;
  struct moderate *m = a->mod;
  if (!cfg->redis_url[0])
    return 0;
  struct modcluster *c = calloc(1, sizeof(*c));
  if (!c)
    return -ENOMEM;
  c->a = a;
  c->node = m->node;
  c->lifted = hmap_new();
  c->w = malloc(sizeof(*c->w));
  uint8_t rnd[16];
  if (!c->lifted || !c->w || RAND_bytes(rnd, sizeof(rnd)) != 1) {
    hmap_free(c->lifted);
    free(c->w);
    free(c);
    return -ENOMEM;
  }
  for (size_t i = 0; i < sizeof(rnd); i++)
    snprintf(c->instance + 2 * i, 3, "%02x", rnd[i]);
  snprintf(c->node_key, sizeof(c->node_key), "tandem:node:%u", c->node);
  struct redis_config rc;
  redis_config_default(&rc);
  rc.url = cfg->redis_url;
  rc.name = "cluster";
  struct redis_events ev = {.on_state = on_state, .on_message = on_message, .arg = c};
  int rc2 = redis_new(a->loop, &rc, &ev, &c->redis);
  if (rc2 == 0)
    rc2 = redis_subscribe(c->redis, CHANNEL);
  if (rc2 == 0)
    rc2 = redis_subscribe(c->redis, MODDEVICES_CHANNEL);
  if (rc2) {
    log_event(LOG_ERROR, "init_failed", LF_STR("what", "redis_url"),
              LF_STR("error", strerror(-rc2)));
    redis_close(c->redis, NULL, NULL);
    hmap_free(c->lifted);
    free(c->w);
    free(c);
    return rc2;
  }
  m->cluster = c;
  /* The cluster's bans before the first visitor, if Redis answers soon; else this node starts
   * on its own bans and learns the others' as soon as it does. */
  uint64_t until = uv_now(a->loop) + START_WAIT_MS;
  while (!(c->synced && c->key_checked) && uv_now(a->loop) < until)
    uv_run(a->loop, UV_RUN_ONCE);
  log_event(c->synced ? LOG_INFO : LOG_WARN, "cluster", LF_UINT("node_id", c->node),
            LF_BOOL("redis_up", redis_is_up(c->redis)),
            LF_UINT("bans_in_force", ban_set_count(m->bans)),
            LF_STR("effect", c->synced ? "bans hold on every node"
                                       : "Redis does not answer yet: this node enforces its "
                                         "own bans and joins the cluster's when it does"));
  return 0;
}

static void redis_closed(void *arg) {
  struct modcluster *c = arg;
  void (*done)(void *) = c->done;
  void *darg = c->done_arg;
  hmap_free(c->lifted);
  hmap_free(c->seen);
  free(c->w);
  free(c);
  if (done)
    done(darg);
}

void modcluster_close(struct moderate *m, void (*done)(void *), void *arg) {
  struct modcluster *c = m->cluster;
  m->cluster = NULL;
  if (!c) {
    if (done)
      done(arg);
    return;
  }
  c->done = done;
  c->done_arg = arg;
  redis_close(c->redis, redis_closed, c);
}

void modcluster_metrics(void *file, struct app *a) {
  FILE *f = file;
  struct modcluster *c = cluster_of(a);
  if (!c)
    return;
  redis_metrics(f, c->redis);
  metrics_put(f, "tandem_cluster_bans_learnt_total", "counter",
              "Bans of other nodes learnt from Redis.", (double)c->n_learnt);
  metrics_put(f, "tandem_cluster_unbans_learnt_total", "counter",
              "Bans lifted on other nodes.", (double)c->n_lifted);
  metrics_put(f, "tandem_cluster_bans_published_total", "counter",
              "This node's bans written to Redis.", (double)c->n_published);
  metrics_put(f, "tandem_cluster_bad_input_total", "counter",
              "Redis entries and messages that were not valid bans (ignored).", (double)(c->n_bad + admin_nodes_bad_input()));
  metrics_put(f, "tandem_cluster_node_id_conflicts_total", "counter",
              "Times another live node held this node_id.", (double)c->n_conflicts);
}
