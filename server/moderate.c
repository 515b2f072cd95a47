/* moderate.c -- moderation on the control loop: opening the store, device identity on hello,
 * bans and kicks that cut visitors off in the same loop turn, never-again blocks by device. */
#include "server/moderate.h"

#include <errno.h>
#include <stdio.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "moderation/banwire.h"
#include "moderation/report_policy.h"
#include "moderation/store.h"
#include "moderation/workpool.h"
#include "server/app_int.h"
#include "server/log.h"
#include "server/moderate_int.h"

uint64_t moderate_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct store *moderate_store(struct app *a) { return a->mod ? a->mod->store : NULL; }

int64_t moderate_ban_id(struct moderate *m, int64_t local) {
  return m->node ? banwire_id(m->node, local) : local;
}

static uint64_t seed64(void) {
  uint64_t s;
  if (RAND_bytes((unsigned char *)&s, sizeof(s)) != 1)
    s = uv_hrtime();
  return s;
}

/* ---- start-up: load what the store remembers ---- */

struct loader {
  struct app *a;
  int status;
  bool done;
  int64_t after_id;
  uint64_t since_ms;
  size_t bans, reports;
};

static void load_reports(struct loader *l, int64_t after_id);

static void on_reports_page(void *arg, int status, const struct store_report *rows, size_t n) {
  struct loader *l = arg;
  struct moderate *m = l->a->mod;
  if (status) {
    l->status = status;
    l->done = true;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    struct report_verdict v;
    /* Replayed oldest first after the bans: only a ban decided but never stored comes out. */
    if (rows[i].reporter_ip.family != NETADDR_NONE)
      report_policy_add(m->policy, &rows[i].reported, &rows[i].reporter, &rows[i].reporter_ip,
                        rows[i].time_ms, &v);
    modblock_add(m, &rows[i].reporter, &rows[i].reported);
    l->reports++;
  }
  if (n == STORE_PAGE_MAX)
    load_reports(l, rows[n - 1].id);
  else
    l->done = true;
}

static void load_reports(struct loader *l, int64_t after_id) {
  struct store_report_query q = {.state = STORE_REPORT_ANY, .oldest_first = true,
                                 .after_id = after_id, .since_ms = l->since_ms,
                                 .limit = STORE_PAGE_MAX};
  int rc = store_reports_list(l->a->mod->store, &q, on_reports_page, l);
  if (rc) {
    l->status = rc;
    l->done = true;
  }
}

static void load_bans(struct loader *l);

static void on_bans_page(void *arg, int status, const struct ban *rows, size_t n) {
  struct loader *l = arg;
  struct moderate *m = l->a->mod;
  if (status) {
    l->status = status;
    l->done = true;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    struct ban b = rows[i];
    b.id = moderate_ban_id(m, rows[i].id); /* with redis_url: this node's cluster id */
    if (ban_set_add(m->bans, &b) == 0)
      l->bans++;
    if (rows[i].target.kind == BAN_DEVICE)
      report_policy_note_ban(m->policy, &rows[i].target.device, rows[i].created_ms,
                             rows[i].expires_ms);
    if (rows[i].id >= l->after_id)
      l->after_id = rows[i].id;
  }
  if (n == STORE_PAGE_MAX) {
    load_bans(l);
    return;
  }
  uint64_t now = moderate_wall_ms();
  l->since_ms = now > m->policy_window_ms ? now - m->policy_window_ms : 0;
  load_reports(l, 0);
}

static void load_bans(struct loader *l) {
  struct store_ban_query q = {.active_only = true, .now_ms = moderate_wall_ms(),
                              .after_id = l->after_id, .limit = STORE_PAGE_MAX};
  int rc = store_bans_list(l->a->mod->store, &q, on_bans_page, l);
  if (rc) {
    l->status = rc;
    l->done = true;
  }
}

static int parse_steps(const char *s, struct report_policy_config *pc) {
  pc->nsteps = 0;
  while (*s) {
    while (*s == ' ' || *s == ',')
      s++;
    if (!*s)
      break;
    if (pc->nsteps == REPORT_POLICY_MAX_STEPS)
      return -EINVAL;
    uint64_t ms;
    if (!strncmp(s, "permanent", 9)) {
      ms = 0;
      s += 9;
    } else {
      char *end;
      unsigned long long v = strtoull(s, &end, 10);
      if (end == s || v == 0)
        return -EINVAL;
      uint64_t unit = *end == 'm' ? 60000 : *end == 'h' ? 3600000 : *end == 'd' ? 86400000
                    : *end == 's' ? 1000 : 0;
      if (!unit || v > 36500ull * 86400000 / unit)
        return -EINVAL;
      ms = v * unit;
      s = end + 1;
    }
    pc->steps_ms[pc->nsteps++] = ms;
  }
  return pc->nsteps ? 0 : -EINVAL;
}

int moderate_open(struct app *a) {
  const struct config *cfg = &a->cfg;
  struct moderate *m = calloc(1, sizeof(*m));
  if (!m)
    return -ENOMEM;
  a->mod = m;
  m->a = a;
  m->next_temp_id = INT64_MAX - 1;
  m->node = cfg->redis_url[0] ? (unsigned)cfg->node_id : 0;
  if (mkdir(cfg->data_dir, 0750) && errno != EEXIST) {
    log_event(LOG_ERROR, "init_failed", LF_STR("what", "data_dir"),
              LF_STR("path", cfg->data_dir), LF_STR("error", strerror(errno)));
    return -errno;
  }
  snprintf(m->evidence_dir, sizeof(m->evidence_dir), "%s/evidence", cfg->data_dir);
  if (mkdir(m->evidence_dir, 0750) && errno != EEXIST) {
    log_event(LOG_ERROR, "init_failed", LF_STR("what", "evidence directory"),
              LF_STR("path", m->evidence_dir), LF_STR("error", strerror(errno)));
    return -errno;
  }
  int rc = device_signer_open(cfg->data_dir, &m->signer);
  if (rc) {
    log_event(LOG_ERROR, "init_failed", LF_STR("what", "device key"),
              LF_STR("path", cfg->data_dir),
              LF_STR("error", rc == -EPERM ? "device.key can be read by others: chmod 600 it"
                              : rc == -EBADMSG ? "device.key is not a 32-byte regular file"
                                               : strerror(-rc)));
    return rc;
  }
  struct store_config sc = {.data_dir = cfg->data_dir};
  const char *why = NULL;
  rc = store_open_sqlite(a->loop, &sc, &m->store, &why);
  if (rc) {
    log_event(LOG_ERROR, "init_failed", LF_STR("what", "store"), LF_STR("path", cfg->data_dir),
              LF_STR("error", why ? why : strerror(-rc)));
    return rc;
  }
  struct report_policy_config pc;
  report_policy_config_default(&pc);
  pc.threshold = (unsigned)cfg->autoban_threshold;
  pc.window_ms = (uint64_t)cfg->autoban_window_ms;
  pc.seed = seed64();
  if (parse_steps(cfg->autoban_steps, &pc)) {
    log_event(LOG_ERROR, "init_failed", LF_STR("what", "autoban_steps"),
              LF_STR("error", "expected durations such as 1h,24h,7d,permanent"));
    return -EINVAL;
  }
  m->policy_window_ms = pc.window_ms;
  m->bans = ban_set_new(seed64());
  m->by_device = hmap_new();
  m->blocks = hmap_new();
  m->recents = modmap_new(seed64());
  if (!m->bans || !m->by_device || !m->blocks || !m->recents ||
      report_policy_new(&pc, &m->policy))
    return -ENOMEM;
  struct workpool_config wc;
  workpool_config_default(&wc);
  wc.threads = (unsigned)cfg->snapshot_threads;
  wc.max_jobs = (unsigned)cfg->snapshot_max_jobs;
  rc = workpool_new(a->loop, &wc, &m->pool);
  if (rc) {
    log_event(LOG_ERROR, "init_failed", LF_STR("what", "snapshot pool"),
              LF_STR("error", uv_strerror(rc)));
    return rc;
  }
  /* The bans in force must be known before the first hello: the loop has not started yet,
   * so it is run here until the store has answered. */
  struct loader l = {.a = a};
  load_bans(&l);
  while (!l.done)
    uv_run(a->loop, UV_RUN_ONCE);
  if (l.status) {
    log_event(LOG_ERROR, "init_failed", LF_STR("what", "loading bans and reports"),
              LF_STR("error", strerror(-l.status)));
    return l.status;
  }
  /* With redis_url: the cluster's bans and device key, before the first visitor too. */
  if ((rc = modcluster_open(a)) != 0)
    return rc;
  log_event(LOG_INFO, "moderation", LF_STR("data_dir", cfg->data_dir),
            LF_UINT("bans_in_force", l.bans), LF_UINT("recent_reports", l.reports),
            LF_STR("admin_api", cfg->admin_token[0] ? "on" : "off (no admin_token)"));
  if (cfg->admin_token[0] && strlen(cfg->admin_token) < 16)
    log_event(LOG_WARN, "weak_admin_token",
              LF_STR("advice", "use at least 16 random characters, e.g. openssl rand -hex 24"));
  return 0;
}

struct closer {
  int pending;
  void (*done)(void *);
  void *arg;
};

static void part_done(void *arg) {
  struct closer *c = arg;
  if (--c->pending > 0)
    return;
  void (*done)(void *) = c->done;
  void *darg = c->arg;
  free(c);
  if (done)
    done(darg);
}

static void free_block(void *arg, void *val) {
  (void)arg;
  free(val);
}

void moderate_close(struct app *a, void (*done)(void *), void *arg) {
  struct moderate *m = a->mod;
  struct closer *c = m ? calloc(1, sizeof(*c)) : NULL;
  if (!c) {
    if (done)
      done(arg);
    return;
  }
  a->mod = NULL;
  m->closing = true;
  c->done = done;
  c->arg = arg;
  c->pending = 1;
  /* The pool answers what waits on it from inside workpool_close; those answers may still
   * look at the store, which closes after. */
  modsnap_cancel_all(m);
  if (m->pool) {
    c->pending++;
    workpool_close(m->pool, part_done, c);
  }
  if (m->store) {
    c->pending++;
    store_close(m->store, part_done, c);
  }
  if (m->cluster) {
    c->pending++;
    modcluster_close(m, part_done, c);
  }
  device_signer_free(m->signer);
  device_signer_free(m->signer_old);
  ban_set_free(m->bans);
  report_policy_free(m->policy);
  hmap_free(m->by_device);
  if (m->blocks)
    hmap_each(m->blocks, free_block, NULL);
  hmap_free(m->blocks);
  size_t cur = 0, budget = SIZE_MAX;
  for (void *v; (v = modmap_next(m->recents, &cur, &budget)) != NULL;)
    free(v);
  modmap_free(m->recents);
  free(m);
  part_done(c);
}

void moderate_metrics(void *file, struct app *a) {
  FILE *f = file;
  struct moderate *m = a->mod;
  if (!m)
    return;
  struct workpool_stats ws;
  workpool_get_stats(m->pool, &ws);
  fprintf(f, "# HELP tandem_bans_in_force Bans in force (device, address, /64).\n"
             "# TYPE tandem_bans_in_force gauge\ntandem_bans_in_force %zu\n",
          ban_set_count(m->bans));
  fprintf(f, "# HELP tandem_store_pending Store operations queued and not yet answered.\n"
             "# TYPE tandem_store_pending gauge\ntandem_store_pending %zu\n",
          store_pending(m->store));
  fprintf(f, "# HELP tandem_modpool_jobs Snapshot and evidence jobs in the moderation pool.\n"
             "# TYPE tandem_modpool_jobs gauge\ntandem_modpool_jobs %u\n",
          ws.in_pool);
  fprintf(f, "# HELP tandem_modpool_rejected_total Jobs refused because the pool was full.\n"
             "# TYPE tandem_modpool_rejected_total counter\ntandem_modpool_rejected_total %llu\n",
          (unsigned long long)ws.rejected);
  modcluster_metrics(f, a);
}

void moderate_tick(struct app *a) {
  struct moderate *m = a->mod;
  if (!m)
    return;
  uint64_t now = moderate_wall_ms();
  ban_set_prune(m->bans, now, 64);
  modcluster_tick(a);
  admin_nodes_tick(a);
  report_policy_prune(m->policy, now, 256);
  modrecent_prune(m, now, 256);
}

/* ---- visitors ---- */

static void send_banned(struct app *a, struct peer *p, struct ws_conn *c, const struct ban *b) {
  struct ws_conn *ws = c ? c : p ? p->ws : NULL;
  if (!ws)
    return;
  char text[160];
  if (b->expires_ms) {
    time_t t = (time_t)(b->expires_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(text, sizeof(text), "You are banned from Tandem until %Y-%m-%d %H:%M UTC.", &tm);
  } else {
    snprintf(text, sizeof(text), "You are banned from Tandem.");
  }
  json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "type", "error", "code", "banned", "message",
                        text, "reason", b->reason ? b->reason : "");
  if (!j)
    return;
  json_object_set_new(j, "until", b->expires_ms ? json_integer((json_int_t)b->expires_ms)
                                                : json_null());
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (s)
    ws_send_text(ws, s, strlen(s));
  free(s);
  a->n.banned_refused++;
  app_on_error(p, "banned", text, NULL);
  ws_close(ws, 4003, "banned");
}

int moderate_device_verify(struct moderate *m, const char *tok, size_t len,
                           struct device_id *dev) {
  if (device_verify(m->signer, tok, len, dev, NULL) == 0)
    return 0;
  if (m->signer_old && device_verify(m->signer_old, tok, len, dev, NULL) == 0)
    return 1;
  return -EACCES;
}

bool moderate_admit(struct app *a, struct ws_conn *c, const char *tok, size_t len) {
  struct moderate *m = a->mod;
  struct device_id dev;
  bool has_dev = tok && moderate_device_verify(m, tok, len, &dev) >= 0;
  struct netaddr ip;
  bool has_ip = netaddr_parse(ws_remote_ip(c), &ip) == 0;
  const struct ban *b = ban_check(m->bans, has_dev ? &dev : NULL, has_ip ? &ip : NULL,
                                  moderate_wall_ms());
  if (!b)
    return true;
  log_event(LOG_INFO, "banned_refused", LF_INT("ban", b->id),
            LF_STR("kind", ban_kind_name(b->target.kind)), LF_IP("ip", ws_remote_ip(c)));
  send_banned(a, NULL, c, b);
  return false;
}

static void dev_link(struct moderate *m, struct peer *p) {
  struct peer *head = hmap_get(m->by_device, &p->device, sizeof(p->device));
  p->dev_prev = NULL;
  p->dev_next = head;
  if (head) {
    head->dev_prev = p;
    hmap_del(m->by_device, &p->device, sizeof(p->device));
  }
  if (hmap_put(m->by_device, &p->device, sizeof(p->device), p)) {
    p->dev_next = NULL;
    if (head) /* out of memory: keep the old list, without p */
      head->dev_prev = NULL, hmap_put(m->by_device, &p->device, sizeof(p->device), head);
    p->dev_linked = false;
    return;
  }
  p->dev_linked = true;
}

static void dev_unlink(struct moderate *m, struct peer *p) {
  if (!p->dev_linked)
    return;
  if (p->dev_prev) {
    p->dev_prev->dev_next = p->dev_next;
  } else {
    hmap_del(m->by_device, &p->device, sizeof(p->device));
    if (p->dev_next)
      hmap_put(m->by_device, &p->device, sizeof(p->device), p->dev_next);
  }
  if (p->dev_next)
    p->dev_next->dev_prev = p->dev_prev;
  p->dev_prev = p->dev_next = NULL;
  p->dev_linked = false;
}

struct peer *moderate_peers_of_device(struct app *a, const struct device_id *d) {
  return a->mod ? hmap_get(a->mod->by_device, d, sizeof(*d)) : NULL;
}

void moderate_peer_new(struct peer *p, const char *tok, size_t len) {
  struct app *a = p->app;
  struct moderate *m = a->mod;
  uint64_t now = moderate_wall_ms();
  p->has_addr = netaddr_parse(p->ip, &p->addr) == 0;
  int v = tok && len <= DEVICE_TOKEN_LEN ? moderate_device_verify(m, tok, len, &p->device)
                                         : -EACCES;
  if (v == 0) {
    memcpy(p->device_tok, tok, len);
    p->device_tok[len] = 0;
  } else if (v == 1) {
    /* Signed with this node's key from before it joined the cluster: the same device, in a
     * token every node verifies. */
    device_token_make(m->signer, &p->device, now, p->device_tok);
  } else {
    if (tok)
      a->n.device_refused++; /* forged, tampered with, or from another key */
    if (device_issue(m->signer, now, &p->device, p->device_tok)) {
      p->device_tok[0] = 0;
      return;
    }
  }
  p->has_device = true;
  dev_link(m, p);
  store_device_seen(m->store, &p->device, now, NULL, NULL);
  if (p->in_matching) { /* a visit moving in gets them once it is there (cluster_move.c) */
    modblock_apply(a, p);
    modrecent_apply(a, p);
    moddevices_visit(a, p); /* and those other nodes recorded */
  }
}

void moderate_peer_rejoin(struct peer *p) {
  if (p->app->mod && p->has_device) {
    modblock_apply(p->app, p);
    modrecent_apply(p->app, p);
  }
}

void moderate_pair_changed(struct peer *p, uint64_t partner) {
  if (partner && partner != p->last_partner)
    modrecent_add(p, peer_by_id(p->app, partner));
  if (partner) {
    p->last_partner = partner;
    p->last_partner_ms = 0;
  } else if (p->last_partner && !p->last_partner_ms) {
    p->last_partner_ms = uv_now(p->app->loop);
  }
}

void moderate_peer_free(struct peer *p) {
  struct moderate *m = p->app->mod;
  if (!m)
    return;
  dev_unlink(m, p);
  modsnap_peer_gone(p);
}

/* ---- cutting visitors off ---- */

/* Ends p's visit now: its session is closed (forwarding stops on this loop turn), its
 * partner is told and moves on, its WebSocket closes with code. */
static void cut_off(struct peer *p, const char *why) {
  struct app *a = p->app;
  const char *saved = a->cause;
  a->cause = why;
  visitlog_end(a, p, why);
  peer_free(p);
  a->cause = saved;
}

static void audit(struct app *a, const char *actor, const char *action, const char *target,
                  json_t *details) {
  char *d = details ? json_dumps(details, JSON_COMPACT) : NULL;
  json_decref(details);
  struct store_audit au = {.time_ms = moderate_wall_ms(), .actor = actor, .action = action,
                           .target = target, .details_json = d};
  if (a->mod && store_audit_add(a->mod->store, &au, NULL, NULL))
    log_event(LOG_WARN, "audit_lost", LF_STR("action", action), LF_STR("target", target));
  free(d);
}

int moderate_kick(struct app *a, uint64_t peer_id, const char *actor, const char *reason) {
  struct peer *p = peer_by_id(a, peer_id);
  if (!p || !a->mod)
    return -ENOENT;
  char target[40];
  snprintf(target, sizeof(target), "peer:%llu", (unsigned long long)peer_id);
  json_t *d = json_pack("{s:s}", "reason", reason ? reason : "");
  if (p->has_device) {
    char hex[DEVICE_HEX_LEN + 1];
    device_id_hex(&p->device, hex);
    json_object_set_new(d, "device", json_string(hex));
  }
  audit(a, actor, "kick", target, d);
  log_event(LOG_INFO, "kicked", LF_UINT("peer", peer_id), LF_STR("by", actor));
  a->n.kicks++;
  if (p->ws) {
    peer_error(p, NULL, "kicked", "A moderator ended your visit.", NULL);
    ws_close(p->ws, 4004, "kicked");
  }
  cut_off(p, "kicked");
  return 0;
}

/* Cuts off every live peer b applies to, in this loop turn; their ids are appended to *cut
 * (as memory allows). */
static void enforce(struct app *a, const struct ban *b, uint64_t **cut, size_t *n_cut) {
  struct peer *p, *next;
  uint64_t now = b->created_ms > moderate_wall_ms() ? b->created_ms : moderate_wall_ms();
  for (p = a->peers; p; p = next) {
    next = p->next;
    if (!ban_applies(b, p->has_device ? &p->device : NULL, p->has_addr ? &p->addr : NULL,
                     now))
      continue;
    uint64_t *nc = realloc(*cut, (*n_cut + 1) * sizeof(*nc));
    if (nc) {
      *cut = nc;
      (*cut)[(*n_cut)++] = p->id;
    }
    send_banned(a, p, NULL, b);
    /* Freeing p may free others (its partner stays; a probe's connection closes): the list
     * is walked again from the start, skipping nobody twice since p is gone. */
    cut_off(p, "banned");
    next = a->peers;
  }
}

struct ban_job {
  struct app *a;
  int64_t temp_id;
  moderate_ban_fn cb;
  void *arg;
  uint64_t *cut;
  size_t n_cut;
};

static void ban_stored(void *arg, int status, int64_t id) {
  struct ban_job *j = arg;
  struct moderate *m = j->a->mod;
  const struct ban *tb = m ? ban_set_get(m->bans, j->temp_id) : NULL;
  struct ban b = {0};
  char reason[BAN_TEXT_MAX + 1] = "", by[BAN_TEXT_MAX + 1] = "";
  if (tb) {
    b = *tb;
    snprintf(reason, sizeof(reason), "%s", tb->reason);
    snprintf(by, sizeof(by), "%s", tb->by);
    b.reason = reason;
    b.by = by;
    if (status == 0) {
      /* The temporary id becomes the store's (with redis_url, this node's cluster id). */
      ban_set_lift(m->bans, j->temp_id);
      b.id = moderate_ban_id(m, id);
      if (ban_set_add(m->bans, &b))
        log_event(LOG_ERROR, "ban_lost", LF_INT("ban", b.id));
      else
        modcluster_ban_stored(j->a, &b); /* the other nodes enforce it too */
    }
  }
  if (status)
    log_event(LOG_ERROR, "ban_not_stored", LF_STR("error", strerror(-status)),
              LF_STR("effect", "enforced until restart"));
  if (j->cb)
    j->cb(j->arg, status, tb ? &b : NULL, j->cut, j->n_cut);
  free(j->cut);
  free(j);
}

int moderate_ban(struct app *a, const struct ban *in, moderate_ban_fn cb, void *arg) {
  struct moderate *m = a->mod;
  if (!m)
    return -ESHUTDOWN;
  struct ban b = *in;
  b.created_ms = moderate_wall_ms();
  b.lifted_ms = 0;
  b.id = m->next_temp_id--;
  if (!b.reason)
    b.reason = "";
  if (!b.by)
    b.by = "admin";
  if (b.expires_ms && b.expires_ms <= b.created_ms)
    return -EINVAL;
  struct ban_job *j = calloc(1, sizeof(*j));
  if (!j)
    return -ENOMEM;
  j->a = a;
  j->temp_id = b.id;
  j->cb = cb;
  j->arg = arg;
  int rc = ban_set_add(m->bans, &b);
  if (rc) {
    free(j);
    return rc;
  }
  rc = store_ban_add(m->store, &b, ban_stored, j);
  if (rc) {
    ban_set_lift(m->bans, b.id);
    free(j);
    return rc;
  }
  if (b.target.kind == BAN_DEVICE && strcmp(b.by, "auto"))
    report_policy_note_ban(m->policy, &b.target.device, b.created_ms, b.expires_ms);
  /* Everyone it applies to is cut off now, in this loop turn. */
  log_event(LOG_INFO, "ban", LF_STR("kind", ban_kind_name(b.target.kind)), LF_STR("by", b.by),
            LF_UINT("expires_ms", b.expires_ms));
  a->n.bans++;
  enforce(a, &b, &j->cut, &j->n_cut);
  return 0;
}

int moderate_enforce(struct app *a, const struct ban *b) {
  struct moderate *m = a->mod;
  if (!m)
    return -ESHUTDOWN;
  int rc = ban_set_add(m->bans, b);
  if (rc)
    return rc;
  size_t n = 0;
  uint64_t *cut = NULL;
  enforce(a, b, &cut, &n);
  /* A node joining learns every ban at once: one line each only at debug, unless it acted. */
  log_event(n ? LOG_INFO : LOG_DEBUG, "ban_learnt", LF_INT("ban", b->id),
            LF_STR("kind", ban_kind_name(b->target.kind)), LF_STR("by", b->by),
            LF_UINT("node", banwire_node(b->id)), LF_UINT("cut_off", n));
  free(cut);
  return 0;
}

struct ban_peer_ctx {
  int pending;
};

int moderate_ban_peer(struct app *a, uint64_t peer_id, uint64_t duration_ms, const char *actor,
                      const char *reason) {
  struct peer *p = peer_by_id(a, peer_id);
  if (!p || !a->mod)
    return -ENOENT;
  uint64_t now = moderate_wall_ms();
  struct ban b = {.reason = reason, .by = actor, .expires_ms = duration_ms ? now + duration_ms : 0};
  struct ban addr_ban = b;
  bool ip = p->has_addr;
  if (ip) {
    if (p->addr.family == NETADDR_V6) {
      addr_ban.target.kind = BAN_IP6_64;
      netaddr_prefix64(&p->addr, &addr_ban.target.ip);
    } else {
      addr_ban.target.kind = BAN_IP;
      addr_ban.target.ip = p->addr;
    }
  }
  int rc = 0;
  if (p->has_device) {
    b.target.kind = BAN_DEVICE;
    b.target.device = p->device;
    rc = moderate_ban(a, &b, NULL, NULL); /* p is gone after this */
  }
  if (ip) {
    int rc2 = moderate_ban(a, &addr_ban, NULL, NULL);
    if (!rc)
      rc = rc2;
  }
  return rc;
}

struct unban_job {
  struct app *a;
  int64_t id;
  moderate_done_fn cb;
  void *arg;
  char actor[BAN_TEXT_MAX + 1];
};

static void unban_stored(void *arg, int status, int64_t id) {
  struct unban_job *j = arg;
  (void)id;
  if ((status == 0 || status == -EALREADY) && j->a->mod) {
    ban_set_lift(j->a->mod->bans, j->id);
    modcluster_ban_lifted(j->a, j->id, j->actor); /* every node lifts it (idempotent) */
  }
  if (j->cb)
    j->cb(j->arg, status);
  free(j);
}

int moderate_unban(struct app *a, int64_t id, const char *actor, moderate_done_fn cb,
                   void *arg) {
  struct moderate *m = a->mod;
  if (!m)
    return -ESHUTDOWN;
  int64_t local = id;
  if (m->node) {
    /* Cluster ids: this node's own bans are lifted in its store, the others' through Redis. */
    if (banwire_node(id) != m->node)
      return banwire_node(id) ? modcluster_unban(a, id, actor, cb, arg) : -ENOENT;
    local = banwire_local(id);
  }
  struct unban_job *j = calloc(1, sizeof(*j));
  if (!j)
    return -ENOMEM;
  *j = (struct unban_job){.a = a, .id = id, .cb = cb, .arg = arg};
  snprintf(j->actor, sizeof(j->actor), "%s", actor ? actor : "");
  int rc = store_ban_lift(m->store, local, actor, moderate_wall_ms(), unban_stored, j);
  if (rc)
    free(j);
  return rc;
}
