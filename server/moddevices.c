/* moddevices.c -- never-again blocks and recent partners by device, across the nodes of a
 * cluster (docs/operations.md, "Blocks and recent partners across visits").
 *
 * One node keeps its own (modblock.c); with redis_url they are also written to Redis, so that
 * a later visit of the same device on any node keeps away from the devices it blocked (or that
 * blocked it) and, for a while, from its recent partners:
 *   tandem:dev:<device hex>  hash: "b<device hex>" -> "0" (never again), "r<device hex>" ->
 *                            the end of the no-rematch time (unix ms); 30 days to live,
 *                            renewed by every write
 *   tandem:devices           channel: "<peer id> <device hex>:<until> ..." -- a new visit and
 *                            the devices it must avoid (until 0: never), for every node to tell
 *                            matching about its own live visits of those devices
 * The two sides of a pair across nodes tell each other their visitor's device (CPM_DEVICE), so
 * either side can record a block or a pair. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "server/app_int.h"
#include "server/cluster.h"
#include "server/log.h"
#include "server/moderate_int.h"
#include "server/redis.h"

#define KEY_FMT "tandem:dev:%s"
#define TTL_MS "2592000000" /* 30 days */
#define ENTRIES_MAX 128     /* read of one device's hash */
#define MSG_MAX (24 + ENTRIES_MAX * (DEVICE_HEX_LEN + 23))

static void on_write(void *arg, int status, const struct redisReply *r) {
  (void)arg;
  (void)status;
  (void)r; /* lost: that relation holds on the nodes that saw it only */
}

static void write_one(struct redis *rd, const char *self, char kind, const char *other,
                      uint64_t until) {
  char key[16 + DEVICE_HEX_LEN], field[2 + DEVICE_HEX_LEN], val[24];
  snprintf(key, sizeof(key), KEY_FMT, self);
  snprintf(field, sizeof(field), "%c%s", kind, other);
  snprintf(val, sizeof(val), "%llu", (unsigned long long)until);
  const char *hset[4] = {"HSET", key, field, val};
  const char *exp[3] = {"PEXPIRE", key, TTL_MS};
  redis_command(rd, on_write, NULL, 4, hset, NULL);
  redis_command(rd, on_write, NULL, 3, exp, NULL);
}

void moddevices_relate(struct app *a, const struct device_id *x, const struct device_id *y,
                       uint64_t until) {
  struct redis *rd = modcluster_redis(a);
  if (!rd || !redis_is_up(rd) || !memcmp(x, y, sizeof(*x)))
    return;
  char hx[DEVICE_HEX_LEN + 1], hy[DEVICE_HEX_LEN + 1];
  device_id_hex(x, hx);
  device_id_hex(y, hy);
  write_one(rd, hx, until ? 'r' : 'b', hy, until);
  write_one(rd, hy, until ? 'r' : 'b', hx, until);
}

/* ---- a new visit: the devices it must avoid, told to every node ---- */

struct visit_job {
  struct app *a;
  match_id peer;
};

static void on_read(void *arg, int status, const struct redisReply *r) {
  struct visit_job *j = arg;
  struct app *a = j->a;
  match_id peer = j->peer;
  free(j);
  struct redis *rd = status == -ECANCELED ? NULL : modcluster_redis(a);
  if (!rd || status || r->type != REDIS_REPLY_ARRAY || r->elements % 2)
    return;
  char *msg = malloc(MSG_MAX);
  if (!msg)
    return;
  int n = snprintf(msg, MSG_MAX, "%llu", (unsigned long long)peer);
  uint64_t wall = moderate_wall_ms();
  size_t kept = 0;
  for (size_t i = 0; i + 1 < r->elements && kept < ENTRIES_MAX; i += 2) {
    const struct redisReply *f = r->element[i], *v = r->element[i + 1];
    struct device_id d;
    char hex[DEVICE_HEX_LEN + 1];
    if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
        f->len != 1 + DEVICE_HEX_LEN || (f->str[0] != 'b' && f->str[0] != 'r') || v->len > 20)
      continue;
    memcpy(hex, f->str + 1, DEVICE_HEX_LEN);
    hex[DEVICE_HEX_LEN] = '\0';
    char num[24];
    memcpy(num, v->str, v->len);
    num[v->len] = '\0';
    char *end;
    unsigned long long until = strtoull(num, &end, 10);
    if (*end || !v->len || device_id_parse_hex(hex, &d))
      continue;
    if (f->str[0] == 'b')
      until = 0;
    else if (until <= wall)
      continue; /* no longer recent */
    n += snprintf(msg + n, MSG_MAX - (size_t)n, " %s:%llu", hex, until);
    kept++;
  }
  if (kept) {
    const char *pub[3] = {"PUBLISH", MODDEVICES_CHANNEL, msg};
    redis_command(rd, on_write, NULL, 3, pub, NULL);
  }
  free(msg);
}

void moddevices_visit(struct app *a, struct peer *p) {
  struct redis *rd = modcluster_redis(a);
  if (!rd || !redis_is_up(rd) || !p->has_device)
    return;
  struct visit_job *j = malloc(sizeof(*j));
  if (!j)
    return;
  j->a = a;
  j->peer = p->id;
  char hex[DEVICE_HEX_LEN + 1], key[16 + DEVICE_HEX_LEN];
  device_id_hex(&p->device, hex);
  snprintf(key, sizeof(key), KEY_FMT, hex);
  const char *get[2] = {"HGETALL", key};
  if (redis_command(rd, on_read, j, 2, get, NULL))
    free(j);
}

/* "<peer> <hex>:<until> ...": this node's live visits of those devices avoid the peer. */
void moddevices_on_message(struct app *a, const char *msg, size_t len) {
  char buf[MSG_MAX + 1];
  if (len > MSG_MAX || !a->mod)
    return;
  memcpy(buf, msg, len);
  buf[len] = '\0';
  char *save = NULL, *tok = strtok_r(buf, " ", &save), *end;
  if (!tok)
    return;
  unsigned long long peer = strtoull(tok, &end, 10);
  if (*end || !peer || peer > (1ull << 52)) {
    log_event(LOG_WARN, "cluster_bad_input", LF_STR("what", "a message on " MODDEVICES_CHANNEL));
    return;
  }
  uint64_t wall = moderate_wall_ms(), now = uv_now(a->loop);
  bool told = false;
  while ((tok = strtok_r(NULL, " ", &save)) != NULL) {
    struct device_id d;
    char *colon = strchr(tok, ':');
    if (!colon || colon - tok != DEVICE_HEX_LEN)
      break;
    *colon = '\0';
    unsigned long long until = strtoull(colon + 1, &end, 10);
    if (*end || !colon[1] || device_id_parse_hex(tok, &d))
      break;
    if (until && until <= wall)
      continue;
    for (struct peer *x = moderate_peers_of_device(a, &d); x; x = x->dev_next) {
      if (x->id == peer || !x->in_matching)
        continue;
      if (!until) {
        peer_block(x, peer, now);
      } else {
        modrecent_remember(a, x->id, peer, until - wall, now);
      }
      told = true;
    }
  }
  if (told)
    app_dispatch_match(a);
}

/* ---- the device of a partner on another node ---- */

void moddevices_tell_partner(struct peer *p) {
  struct app *a = p->app;
  if (p->has_device && app_partner_remote(a, p->mq_partner))
    cluster_peer_send(a->match, p->mq_partner, p->id, CPM_DEVICE, &p->device,
                      sizeof(p->device));
}

void moddevices_partner_msg(struct peer *p, const uint8_t *data, size_t len) {
  if (len != sizeof(struct device_id) || !p->mq_partner)
    return;
  memcpy(&p->partner_dev, data, len);
  p->partner_dev_of = p->mq_partner;
  /* Recent partners, by device, on this node and (one side writes) in Redis. */
  modrecent_add_device(p, &p->partner_dev);
  if (p->has_device && p->id < p->mq_partner)
    moddevices_relate(p->app, &p->device, &p->partner_dev,
                      moderate_wall_ms() + (uint64_t)p->app->cfg.match_rematch_cooldown_ms);
}
