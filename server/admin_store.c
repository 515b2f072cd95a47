/* admin_store.c -- the admin routes answered from the store: bans, reports with their evidence,
 * the audit log (docs/admin-api.md). Every one defers its reply until the store answers. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "moderation/banwire.h"
#include "server/admin_int.h"
#include "server/app_int.h"
#include "server/log.h"
#include "server/moderate_int.h"

#define EVIDENCE_MAX (64u << 20) /* bytes of an evidence file served */

struct sjob {
  struct httpd_deferred *d;      /* NULL once the client has gone */
  struct app *a;
  int64_t id;
  char what[16];                 /* "", "snapshot.jpg" or "clip.webm" */
  int pending;                   /* bans still to be stored (a peer's ban is two) */
  json_t *bans, *cut;            /* what POST /api/bans answers */
  int status;
  /* evidence read on the pool */
  char path[400];
  uint8_t *buf;
  size_t len;
};

static void sjob_cancel(void *arg) { ((struct sjob *)arg)->d = NULL; }

static struct sjob *sjob_defer(struct admin_req *r) {
  struct sjob *j = calloc(1, sizeof(*j));
  if (!j) {
    admin_errno(r->rep, -ENOMEM, "request");
    return NULL;
  }
  j->a = r->a;
  j->d = httpd_defer(r->rep, 0, sjob_cancel, j);
  if (!j->d) {
    free(j);
    admin_errno(r->rep, -ENOMEM, "request");
    return NULL;
  }
  return j;
}

/* The reply of a deferred job, or NULL when its client has gone. */
static struct httpd_reply *sjob_reply(struct sjob *j) { return httpd_deferred_reply(j->d); }

static void sjob_send(struct sjob *j) {
  httpd_deferred_send(j->d);
  json_decref(j->bans);
  json_decref(j->cut);
  free(j->buf);
  free(j);
}

/* A submission the store refused at once: answered now, through the deferred reply. */
static void sjob_fail(struct sjob *j, int rc, const char *what) {
  struct httpd_reply *rep = sjob_reply(j);
  if (rep)
    admin_errno(rep, rc, what);
  sjob_send(j);
}

static json_t *ban_json(const struct ban *b) {
  char tgt[BAN_TARGET_STRLEN] = "";
  ban_target_format(&b->target, tgt, sizeof(tgt));
  return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "id", (json_int_t)b->id, "kind",
                   ban_kind_name(b->target.kind), "target", tgt, "reason",
                   b->reason ? b->reason : "", "by", b->by ? b->by : "", "created_ms",
                   (json_int_t)b->created_ms, "expires_ms", (json_int_t)b->expires_ms,
                   "lifted_ms", (json_int_t)b->lifted_ms);
}

/* ---- bans ---- */

static void on_bans(void *arg, int status, const struct ban *rows, size_t n) {
  struct sjob *j = arg;
  struct httpd_reply *rep = sjob_reply(j);
  if (rep && status) {
    admin_errno(rep, status, "bans");
  } else if (rep) {
    json_t *list = json_array();
    struct moderate *m = j->a->mod;
    int64_t last = 0;
    for (size_t i = 0; i < n; i++) {
      struct ban b = rows[i];
      b.id = last = m ? moderate_ban_id(m, rows[i].id) : rows[i].id; /* a cluster id */
      json_array_append_new(list, ban_json(&b));
    }
    json_t *next = n && n == (size_t)j->id ? json_integer((json_int_t)last) : json_null();
    admin_json(rep, 200, json_pack("{s:o, s:o}", "bans", list, "next_after_id", next));
  }
  sjob_send(j);
}

static int cmp_id(const void *x, const void *y) {
  int64_t a = (*(const struct ban *const *)x)->id, b = (*(const struct ban *const *)y)->id;
  return a < b ? -1 : a > b;
}

/* With redis_url, the bans in force are the cluster's: every node holds them all in memory
 * (moderate.c, modcluster.c), so they are answered from there, by id. */
static void cluster_bans(struct admin_req *r, enum ban_kind kind, int64_t after, size_t limit) {
  struct moderate *m = r->a->mod;
  size_t n = ban_set_count(m->bans), k = 0, cur = 0;
  const struct ban **v = malloc((n ? n : 1) * sizeof(*v));
  if (!v) {
    admin_errno(r->rep, -ENOMEM, "bans");
    return;
  }
  uint64_t now = moderate_wall_ms();
  for (const struct ban *b; k < n && (b = ban_set_next(m->bans, &cur)) != NULL;)
    if (b->id > after && banwire_node(b->id) && (!kind || b->target.kind == kind) &&
        (!b->expires_ms || b->expires_ms > now))
      v[k++] = b;
  qsort(v, k, sizeof(*v), cmp_id);
  size_t shown = k < limit ? k : limit;
  json_t *list = json_array();
  for (size_t i = 0; i < shown; i++)
    json_array_append_new(list, ban_json(v[i]));
  json_t *next = shown && shown == limit ? json_integer((json_int_t)v[shown - 1]->id)
                                         : json_null();
  free(v);
  admin_json(r->rep, 200, json_pack("{s:o, s:o}", "bans", list, "next_after_id", next));
}

void admin_get_bans(struct admin_req *r) {
  int64_t active = 1, after = 0, limit = 100;
  char kind[16];
  struct store_ban_query q = {.now_ms = moderate_wall_ms()};
  if (admin_query_int(r->req->query, "active", 0, 1, &active) == -EINVAL ||
      admin_query_int(r->req->query, "after_id", 0, INT64_MAX, &after) == -EINVAL ||
      admin_query_int(r->req->query, "limit", 1, STORE_PAGE_MAX, &limit) == -EINVAL) {
    admin_error(r->rep, 400, "bad_request", "active is 0 or 1, after_id an id, limit 1-1000");
    return;
  }
  if (!admin_query(r->req->query, "kind", kind, sizeof(kind)) && ban_kind_parse(kind, &q.kind)) {
    admin_error(r->rep, 400, "bad_request", "kind is device, ip or ip6_64");
    return;
  }
  struct moderate *m = r->a->mod;
  if (m && m->node && active) {
    cluster_bans(r, q.kind, after, (size_t)limit);
    return;
  }
  q.active_only = active;
  /* With redis_url, every ban ever made here (this node's history), under cluster ids. */
  q.after_id = m && m->node ? (banwire_node(after) == m->node ? banwire_local(after) : 0) : after;
  q.limit = (size_t)limit;
  struct sjob *j = sjob_defer(r);
  if (!j)
    return;
  j->id = limit; /* to tell whether a next page may exist */
  int rc = store_bans_list(moderate_store(r->a), &q, on_bans, j);
  if (rc)
    sjob_fail(j, rc, "bans");
}

static void ban_answer(struct sjob *j) {
  struct httpd_reply *rep = sjob_reply(j);
  if (rep && j->status && !json_array_size(j->bans))
    admin_errno(rep, j->status, "ban");
  else if (rep)
    admin_json(rep, 201, json_pack("{s:O, s:O}", "bans", j->bans, "cut_off", j->cut));
  sjob_send(j);
}

static void on_ban(void *arg, int status, const struct ban *b, const uint64_t *cut, size_t n) {
  struct sjob *j = arg;
  if (status)
    j->status = status;
  else if (b)
    json_array_append_new(j->bans, ban_json(b));
  for (size_t i = 0; i < n; i++)
    json_array_append_new(j->cut, json_integer((json_int_t)cut[i]));
  if (--j->pending == 0)
    ban_answer(j);
}

/* The ban's shared fields from the body: 0, or -EINVAL with the 400 sent. */
static int ban_fields(struct admin_req *r, json_t *body, struct ban *b) {
  json_t *jd = json_object_get(body, "duration_s"), *jr = json_object_get(body, "reason");
  if (jd && !json_is_null(jd) &&
      (!json_is_integer(jd) || json_integer_value(jd) < 0 ||
       json_integer_value(jd) > 10 * 366 * 86400LL)) {
    admin_error(r->rep, 400, "bad_request", "duration_s is seconds, 0 (permanent) to 10 years");
    return -EINVAL;
  }
  if (jr && !json_is_null(jr) &&
      (!json_is_string(jr) || json_string_length(jr) > 1000 ||
       strlen(json_string_value(jr)) != json_string_length(jr))) {
    admin_error(r->rep, 400, "bad_request", "reason is a string of at most 1000 bytes");
    return -EINVAL;
  }
  json_int_t d = json_is_integer(jd) ? json_integer_value(jd) : 0;
  b->expires_ms = d ? moderate_wall_ms() + (uint64_t)d * 1000u : 0;
  b->reason = json_is_string(jr) ? json_string_value(jr) : "";
  b->by = r->actor;
  return 0;
}

void admin_post_ban(struct admin_req *r) {
  json_t *body = admin_body(r, false);
  if (!body)
    return;
  struct ban b = {0};
  struct ban more[2];
  size_t n = 0;
  json_t *jp = json_object_get(body, "peer"), *jk = json_object_get(body, "kind"),
         *jt = json_object_get(body, "target");
  if (ban_fields(r, body, &b))
    goto out;
  if (jp) {
    struct peer *p = json_is_integer(jp) ? peer_by_id(r->a, (uint64_t)json_integer_value(jp))
                                         : NULL;
    if (!json_is_integer(jp)) {
      admin_error(r->rep, 400, "bad_request", "peer is a peer id");
      goto out;
    }
    if (!p) {
      admin_error(r->rep, 404, "not_found", "no live peer %lld",
                  (long long)json_integer_value(jp));
      goto out;
    }
    /* Its device and its address (IPv6: its /64), so neither a new address nor a new
     * device from the same network gets back in; "address": false bans the device alone
     * (a shared address: a campus, a carrier's NAT). */
    json_t *ja = json_object_get(body, "address");
    if (ja && !json_is_boolean(ja)) {
      admin_error(r->rep, 400, "bad_request", "address is true or false");
      goto out;
    }
    bool with_addr = !ja || json_is_true(ja);
    if (p->has_device) {
      more[n] = b;
      more[n].target.kind = BAN_DEVICE;
      more[n++].target.device = p->device;
    }
    if (p->has_addr && with_addr) {
      more[n] = b;
      more[n].target.kind = p->addr.family == NETADDR_V6 ? BAN_IP6_64 : BAN_IP;
      if (p->addr.family == NETADDR_V6)
        netaddr_prefix64(&p->addr, &more[n].target.ip);
      else
        more[n].target.ip = p->addr;
      n++;
    }
    if (!n) {
      admin_error(r->rep, 409, "conflict", "that peer has neither a device nor an address");
      goto out;
    }
  } else {
    if (!json_is_string(jk) || ban_kind_parse(json_string_value(jk), &b.target.kind)) {
      admin_error(r->rep, 400, "bad_request",
                  "kind is device, ip or ip6_64 (or give peer instead)");
      goto out;
    }
    if (!json_is_string(jt) || ban_target_parse(b.target.kind, json_string_value(jt),
                                                &b.target)) {
      admin_error(r->rep, 400, "bad_request",
                  "target is a device's 32 hex digits, an IP address, or an IPv6 /64");
      goto out;
    }
    more[n++] = b;
  }
  struct sjob *j = sjob_defer(r);
  if (!j)
    goto out;
  j->bans = json_array();
  j->cut = json_array();
  j->pending = (int)n + 1; /* +1 until every ban is submitted */
  for (size_t i = 0; i < n; i++) {
    int rc = moderate_ban(r->a, &more[i], on_ban, j);
    if (rc) {
      j->status = rc;
      j->pending--;
    }
  }
  if (--j->pending == 0)
    ban_answer(j);
out:
  json_decref(body);
}

static void on_unban(void *arg, int status) {
  struct sjob *j = arg;
  struct httpd_reply *rep = sjob_reply(j);
  if (rep && status)
    admin_errno(rep, status, "ban");
  else if (rep)
    admin_json(rep, 200, json_pack("{s:b, s:I}", "ok", 1, "id", (json_int_t)j->id));
  sjob_send(j);
}

void admin_delete_ban(struct admin_req *r, int64_t id) {
  struct sjob *j = sjob_defer(r);
  if (!j)
    return;
  j->id = id;
  int rc = moderate_unban(r->a, id, r->actor, on_unban, j);
  if (rc)
    sjob_fail(j, rc, "ban");
}

/* ---- reports ---- */

static json_t *addr_json(const struct netaddr *ip) {
  char buf[64];
  if (ip->family == NETADDR_NONE || netaddr_format(ip, buf, sizeof(buf)))
    return json_null();
  return json_string(buf);
}

/* With redis_url a report's id in the API is a cluster id, node_id * 2^42 + its id in this
 * node's store (as a ban's), so that tandemctl can tell which node to ask for it. */
static int64_t report_cid(struct app *a, int64_t local) {
  return a->mod && local > 0 ? moderate_ban_id(a->mod, local) : local;
}

/* The store's id of an id given to the API: a cluster id of this node, or a bare store id.
 * -1 (with a 404 sent) for another node's. */
static int64_t report_local(struct admin_req *r, int64_t id) {
  unsigned node = banwire_node(id), self = r->a->mod ? r->a->mod->node : 0;
  if (!node)
    return id;
  if (node == self)
    return banwire_local(id);
  admin_error(r->rep, 404, "not_found",
              "no report %lld here: it belongs to node %u (tandemctl asks that node)",
              (long long)id, node);
  return -1;
}

static json_t *report_json(struct app *a, const struct store_report *r) {
  char rep_hex[DEVICE_HEX_LEN + 1], hex[DEVICE_HEX_LEN + 1], url[80];
  int64_t id = report_cid(a, r->id);
  device_id_hex(&r->reporter, rep_hex);
  device_id_hex(&r->reported, hex);
  struct peer *live = moderate_peers_of_device(a, &r->reported);
  json_t *ev = json_object();
  snprintf(url, sizeof(url), "/api/reports/%lld/snapshot.jpg", (long long)id);
  json_object_set_new(ev, "jpeg", r->evidence_jpeg && *r->evidence_jpeg ? json_string(url)
                                                                         : json_null());
  snprintf(url, sizeof(url), "/api/reports/%lld/clip.webm", (long long)id);
  json_object_set_new(ev, "webm", r->evidence_webm && *r->evidence_webm ? json_string(url)
                                                                         : json_null());
  bool resolved = r->state == STORE_REPORT_RESOLVED;
  return json_pack(
      "{s:I, s:I, s:s, s:s, s:{s:s, s:o}, s:{s:s, s:o, s:o}, s:o, s:s, s:o, s:o, s:o}", "id",
      (json_int_t)id, "time_ms", (json_int_t)r->time_ms, "reason", r->reason, "note",
      r->note ? r->note : "", "reporter", "device", rep_hex, "ip", addr_json(&r->reporter_ip),
      "reported", "device", hex, "ip", addr_json(&r->reported_ip), "peer",
      live ? json_integer((json_int_t)live->id) : json_null(), "evidence", ev, "state",
      resolved ? "resolved" : "open", "resolution",
      resolved && r->resolution ? json_string(r->resolution) : json_null(), "resolved_by",
      resolved && r->resolved_by ? json_string(r->resolved_by) : json_null(), "resolved_ms",
      resolved ? json_integer((json_int_t)r->resolved_ms) : json_null());
}

static void on_reports(void *arg, int status, const struct store_report *rows, size_t n) {
  struct sjob *j = arg;
  struct httpd_reply *rep = sjob_reply(j);
  if (rep && status) {
    admin_errno(rep, status, "reports");
  } else if (rep) {
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
      json_array_append_new(list, report_json(j->a, &rows[i]));
    json_t *next = n && n == (size_t)j->id
                       ? json_integer((json_int_t)report_cid(j->a, rows[n - 1].id))
                       : json_null();
    admin_json(rep, 200, json_pack("{s:o, s:o}", "reports", list, "next_before_id", next));
  }
  sjob_send(j);
}

void admin_get_reports(struct admin_req *r) {
  int64_t before = 0, limit = 100;
  char state[16] = "open";
  struct store_report_query q = {0};
  if (admin_query_int(r->req->query, "before_id", 0, INT64_MAX, &before) == -EINVAL ||
      admin_query_int(r->req->query, "limit", 1, STORE_PAGE_MAX, &limit) == -EINVAL) {
    admin_error(r->rep, 400, "bad_request", "before_id is an id, limit 1-1000");
    return;
  }
  admin_query(r->req->query, "state", state, sizeof(state));
  if (!strcmp(state, "open"))
    q.state = STORE_REPORT_OPEN;
  else if (!strcmp(state, "resolved"))
    q.state = STORE_REPORT_RESOLVED;
  else if (!strcmp(state, "any"))
    q.state = STORE_REPORT_ANY;
  else {
    admin_error(r->rep, 400, "bad_request", "state is open, resolved or any");
    return;
  }
  if (before && (before = report_local(r, before)) < 0)
    return;
  q.before_id = before;
  q.limit = (size_t)limit;
  struct sjob *j = sjob_defer(r);
  if (!j)
    return;
  j->id = limit;
  int rc = store_reports_list(moderate_store(r->a), &q, on_reports, j);
  if (rc)
    sjob_fail(j, rc, "reports");
}

/* On a pool thread: reads one evidence file. */
static int read_work(void *arg) {
  struct sjob *j = arg;
  int fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -errno;
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > EVIDENCE_MAX) {
    close(fd);
    return -EBADMSG;
  }
  j->buf = malloc((size_t)st.st_size + 1);
  size_t off = 0;
  while (j->buf && off < (size_t)st.st_size) {
    ssize_t n = read(fd, j->buf + off, (size_t)st.st_size - off);
    if (n <= 0)
      break;
    off += (size_t)n;
  }
  close(fd);
  if (!j->buf)
    return -ENOMEM;
  j->len = off;
  return 0;
}

static void read_done(void *arg, int status) {
  struct sjob *j = arg;
  struct httpd_reply *rep = sjob_reply(j);
  if (rep && status) {
    admin_error(rep, status == -ENOENT ? 404 : 500, status == -ENOENT ? "not_found" : "internal",
                "the evidence file cannot be read: %s", strerror(-status));
  } else if (rep) {
    httpd_reply_status(rep, 200);
    httpd_reply_header(rep, "Cache-Control", "private, max-age=3600");
    httpd_reply_body(rep, !strcmp(j->what, "clip.webm") ? "video/webm" : "image/jpeg", j->buf,
                     j->len, true);
  }
  sjob_send(j);
}

static void on_report(void *arg, int status, const struct store_report *rows, size_t n) {
  struct sjob *j = arg;
  struct httpd_reply *rep = sjob_reply(j);
  if (!rep) {
    sjob_send(j);
    return;
  }
  if (status || n != 1) {
    admin_errno(rep, status ? status : -ENOENT, "report");
    sjob_send(j);
    return;
  }
  if (!j->what[0]) {
    admin_json(rep, 200, json_pack("{s:o}", "report", report_json(j->a, &rows[0])));
    sjob_send(j);
    return;
  }
  const char *rel = !strcmp(j->what, "clip.webm") ? rows[0].evidence_webm : rows[0].evidence_jpeg;
  struct moderate *m = j->a->mod;
  if (!rel || !*rel || strncmp(rel, "evidence/", 9) || strstr(rel, "..") || !m) {
    admin_error(rep, 404, "not_found", "report %lld has no %s", (long long)j->id, j->what);
    sjob_send(j);
    return;
  }
  snprintf(j->path, sizeof(j->path), "%s/%s", j->a->cfg.data_dir, rel);
  int rc = workpool_submit(m->pool, read_work, read_done, j);
  if (rc)
    sjob_fail(j, rc == -EINVAL ? -EAGAIN : rc, "evidence");
}

void admin_get_report(struct admin_req *r, int64_t id, const char *what) {
  int64_t local = report_local(r, id);
  if (local < 0)
    return;
  struct sjob *j = sjob_defer(r);
  if (!j)
    return;
  j->id = id;
  snprintf(j->what, sizeof(j->what), "%s", what);
  int rc = store_report_get(moderate_store(r->a), local, on_report, j);
  if (rc)
    sjob_fail(j, rc, "report");
}

static void on_resolved(void *arg, int status, int64_t id) {
  struct sjob *j = arg;
  struct httpd_reply *rep = sjob_reply(j);
  (void)id;
  if (rep && status)
    admin_errno(rep, status, "report");
  else if (rep)
    admin_json(rep, 200, json_pack("{s:b, s:I}", "ok", 1, "id", (json_int_t)j->id));
  sjob_send(j);
}

void admin_resolve(struct admin_req *r, int64_t id) {
  json_t *body = admin_body(r, false);
  if (!body)
    return;
  json_t *jr = json_object_get(body, "resolution");
  if (!json_is_string(jr) || !json_string_length(jr) || json_string_length(jr) > 200 ||
      strlen(json_string_value(jr)) != json_string_length(jr)) {
    admin_error(r->rep, 400, "bad_request", "resolution is a string of 1-200 bytes");
    json_decref(body);
    return;
  }
  int64_t local = report_local(r, id);
  struct sjob *j = local < 0 ? NULL : sjob_defer(r);
  if (j) {
    j->id = id;
    int rc = store_report_resolve(moderate_store(r->a), local, json_string_value(jr), r->actor,
                                  moderate_wall_ms(), on_resolved, j);
    if (rc)
      sjob_fail(j, rc, "report");
  }
  json_decref(body);
}

/* ---- the audit log ---- */

static void on_audit(void *arg, int status, const struct store_audit *rows, size_t n) {
  struct sjob *j = arg;
  struct httpd_reply *rep = sjob_reply(j);
  if (rep && status) {
    admin_errno(rep, status, "audit log");
  } else if (rep) {
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
      json_t *d = rows[i].details_json ? json_loads(rows[i].details_json, 0, NULL) : NULL;
      json_array_append_new(
          list, json_pack("{s:I, s:I, s:s, s:s, s:s, s:o}", "id", (json_int_t)rows[i].id,
                          "time_ms", (json_int_t)rows[i].time_ms, "actor", rows[i].actor,
                          "action", rows[i].action, "target", rows[i].target, "details",
                          d ? d : json_object()));
    }
    json_t *next = n && n == (size_t)j->id ? json_integer((json_int_t)rows[n - 1].id) : json_null();
    admin_json(rep, 200, json_pack("{s:o, s:o}", "audit", list, "next_before_id", next));
  }
  sjob_send(j);
}

void admin_get_audit(struct admin_req *r) {
  int64_t before = 0, limit = 100;
  if (admin_query_int(r->req->query, "before_id", 0, INT64_MAX, &before) == -EINVAL ||
      admin_query_int(r->req->query, "limit", 1, STORE_PAGE_MAX, &limit) == -EINVAL) {
    admin_error(r->rep, 400, "bad_request", "before_id is an id, limit 1-1000");
    return;
  }
  struct sjob *j = sjob_defer(r);
  if (!j)
    return;
  j->id = limit;
  int rc = store_audit_list(moderate_store(r->a), before, (size_t)limit, on_audit, j);
  if (rc)
    sjob_fail(j, rc, "audit log");
}
