/* admin.c -- the admin API under /api/ (docs/admin-api.md): bearer token, JSON in and out,
 * answers that wait for the store or a snapshot deferred (httpd_defer). */
#include "server/admin.h"

#include <errno.h>
#include <stdarg.h>
#include <strings.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/admin_int.h"
#include "server/app_int.h"
#include "server/log.h"
#include "server/moderate_int.h"

/* ---- replies ---- */

void admin_json(struct httpd_reply *rep, int status, json_t *body) {
  char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!s) {
    httpd_reply_status(rep, 500);
    httpd_reply_body(rep, "application/json",
                     "{\"error\":\"internal\",\"message\":\"out of memory\"}", 46, false);
    return;
  }
  httpd_reply_status(rep, status);
  httpd_reply_header(rep, "Cache-Control", "no-store");
  httpd_reply_body(rep, "application/json", s, strlen(s), true);
  free(s);
}

void admin_error(struct httpd_reply *rep, int status, const char *code, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  admin_json(rep, status, json_pack("{s:s, s:s}", "error", code, "message", msg));
}

/* A store or capture error as the API says it. */
void admin_errno(struct httpd_reply *rep, int status, const char *what) {
  switch (status) {
  case -ENOENT: admin_error(rep, 404, "not_found", "no such %s", what); break;
  case -EALREADY: admin_error(rep, 409, "conflict", "that %s is already resolved or lifted", what); break;
  case -ENODATA: admin_error(rep, 409, "conflict", "that peer has no media"); break;
  case -EAGAIN: admin_error(rep, 503, "busy", "too much in progress; retry shortly"); break;
  case -ENOTCONN:
    admin_error(rep, 503, "cluster_unreachable",
                "Redis is unreachable: that %s belongs to another node; retry once Redis is back",
                what);
    break;
  case -ETIMEDOUT: admin_error(rep, 504, "timeout", "no keyframe arrived in time"); break;
  case -EINVAL: admin_error(rep, 400, "bad_request", "invalid %s", what); break;
  default: admin_error(rep, 500, "internal", "%s: %s", what, strerror(-status)); break;
  }
}

/* ---- the request ---- */

/* A query parameter's raw value into buf (no percent-decoding: every value here is a number
 * or a plain word). 0, or -ENOENT. */
int admin_query(const char *query, const char *name, char *buf, size_t cap) {
  size_t nl = strlen(name);
  const char *q = query;
  while (q && *q) {
    const char *amp = strchr(q, '&');
    size_t len = amp ? (size_t)(amp - q) : strlen(q);
    if (len > nl && q[nl] == '=' && !strncmp(q, name, nl)) {
      size_t vl = len - nl - 1;
      if (vl >= cap)
        vl = cap - 1;
      memcpy(buf, q + nl + 1, vl);
      buf[vl] = 0;
      return 0;
    }
    q = amp ? amp + 1 : NULL;
  }
  return -ENOENT;
}

/* A decimal integer in [lo, hi]. 0, -ENOENT (absent: *out untouched) or -EINVAL. */
int admin_query_int(const char *query, const char *name, int64_t lo, int64_t hi, int64_t *out) {
  char buf[32];
  if (admin_query(query, name, buf, sizeof(buf)))
    return -ENOENT;
  char *end;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (!*buf || *end || errno || v < lo || v > hi)
    return -EINVAL;
  *out = v;
  return 0;
}

/* "/api/peers/12/kick" against "peers": 12 and the rest ("kick"), or -EINVAL. */
static int path_id(const char *path, const char *coll, int64_t *id, const char **rest) {
  size_t cl = strlen(coll);
  if (strncmp(path, coll, cl) || path[cl] != '/')
    return -EINVAL;
  const char *s = path + cl + 1;
  char *end;
  if (*s < '0' || *s > '9')
    return -EINVAL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || v <= 0)
    return -EINVAL;
  *id = v;
  *rest = *end == '/' ? end + 1 : end;
  if (*end && *end != '/')
    return -EINVAL;
  return 0;
}

static bool authorized(struct app *a, const struct httpd_request *req) {
  if (!a->cfg.admin_token[0])
    return false;
  const char *h = httpd_header(req, "Authorization");
  if (!h || strncasecmp(h, "Bearer ", 7))
    return false;
  h += 7;
  while (*h == ' ')
    h++;
  /* Compared as hashes, so neither the length nor the bytes leak through timing. */
  unsigned char x[SHA256_DIGEST_LENGTH], y[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)h, strlen(h), x);
  SHA256((const unsigned char *)a->cfg.admin_token, strlen(a->cfg.admin_token), y);
  return CRYPTO_memcmp(x, y, sizeof(x)) == 0;
}

static int actor_of(const struct httpd_request *req, char *out, size_t cap) {
  const char *h = httpd_header(req, "X-Tandem-Actor");
  if (!h) {
    snprintf(out, cap, "admin");
    return 0;
  }
  size_t n = strlen(h);
  if (n == 0 || n > 64)
    return -EINVAL;
  for (size_t i = 0; i < n; i++)
    if (h[i] < ' ' || h[i] > '~')
      return -EINVAL;
  snprintf(out, cap, "%s", h);
  return 0;
}

/* The body as a JSON object; an empty body is {} when allowed. NULL with the 400 sent. */
json_t *admin_body(const struct admin_req *r, bool empty_ok) {
  if (r->req->body_len == 0 && empty_ok)
    return json_object();
  json_error_t e;
  json_t *j = json_loadb(r->req->body, r->req->body_len, JSON_REJECT_DUPLICATES, &e);
  if (!j || !json_is_object(j)) {
    json_decref(j);
    admin_error(r->rep, 400, "bad_json", "the body must be a JSON object%s%s",
                j ? "" : ": ", j ? "" : e.text);
    return NULL;
  }
  return j;
}

/* ---- peers ---- */

static const char *peer_state(const struct peer *p) {
  if (!p->ws)
    return "grace";
  if (!p->media_ready)
    return "connecting";
  switch (p->mq_state) {
  case MATCH_PAIRED: return "paired";
  case MATCH_WAITING: return "waiting";
  default: return "idle";
  }
}

static void get_peers(struct admin_req *r) {
  struct app *a = r->a;
  json_t *list = json_array();
  for (struct peer *p = a->peers; p; p = p->next) {
    char hex[DEVICE_HEX_LEN + 1];
    if (p->has_device)
      device_id_hex(&p->device, hex);
    match_id partner = p->mq_partner;
    json_array_append_new(
        list, json_pack("{s:I, s:s, s:o, s:o, s:s, s:b, s:I, s:i, s:i}", "id", (json_int_t)p->id,
                        "state", peer_state(p), "partner",
                        partner ? json_integer((json_int_t)partner) : json_null(), "device",
                        p->has_device ? json_string(hex) : json_null(), "ip", p->ip, "media",
                        p->sid && p->sess_ready, "visit_ms",
                        (json_int_t)admin_wall_of(a, p->visit_ms),
                        "pairs", (int)p->pairs, "nexts", (int)p->nexts));
  }
  size_t n = json_array_size(list);
  admin_json(r->rep, 200, json_pack("{s:o, s:I}", "peers", list, "count", (json_int_t)n));
}

static void get_pairs(struct admin_req *r) {
  struct app *a = r->a;
  json_t *list = json_array();
  for (struct peer *p = a->peers; p; p = p->next) {
    match_id q = p->mq_partner;
    if (q && p->id < q)
      json_array_append_new(list, json_pack("{s:I, s:I, s:I}", "a", (json_int_t)p->id, "b",
                                            (json_int_t)q, "since_ms",
                                            (json_int_t)admin_wall_of(a, p->paired_ms)));
  }
  size_t n = json_array_size(list);
  admin_json(r->rep, 200, json_pack("{s:o, s:I}", "pairs", list, "count", (json_int_t)n));
}

/* A time of uv_now as unix ms (0 stays 0). */
uint64_t admin_wall_of(struct app *a, uint64_t loop_ms) {
  if (!loop_ms)
    return 0;
  uint64_t now = uv_now(a->loop), wall = moderate_wall_ms();
  return wall - (now > loop_ms ? now - loop_ms : 0);
}

struct snap_req {
  struct httpd_deferred *d;
};

static void snap_cancel(void *arg) { ((struct snap_req *)arg)->d = NULL; }

static void snap_done(void *arg, int status, const uint8_t *jpeg, size_t len, uint64_t pic) {
  struct snap_req *s = arg;
  (void)pic;
  if (s->d) {
    struct httpd_reply *rep = httpd_deferred_reply(s->d);
    if (status) {
      admin_errno(rep, status, "peer");
    } else {
      httpd_reply_status(rep, 200);
      httpd_reply_header(rep, "Cache-Control", "no-store");
      httpd_reply_body(rep, "image/jpeg", jpeg, len, true);
    }
    httpd_deferred_send(s->d);
  }
  free(s);
}

static void get_snapshot(struct admin_req *r, int64_t id) {
  struct app *a = r->a;
  int64_t age = a->cfg.snapshot_max_age_ms, side = 0;
  if (admin_query_int(r->req->query, "max_age_ms", 0, 86400000, &age) == -EINVAL ||
      admin_query_int(r->req->query, "max_side", 0, 4096, &side) == -EINVAL ||
      (side && side < 16)) {
    admin_error(r->rep, 400, "bad_request", "max_age_ms is 0-86400000, max_side 0 or 16-4096");
    return;
  }
  struct peer *p = peer_by_id(a, (uint64_t)id);
  if (!p) {
    admin_error(r->rep, 404, "not_found", "no live peer %lld", (long long)id);
    return;
  }
  struct snap_req *s = calloc(1, sizeof(*s));
  if (!s) {
    admin_errno(r->rep, -ENOMEM, "snapshot");
    return;
  }
  s->d = httpd_defer(r->rep, (unsigned)a->cfg.snapshot_timeout_ms + 5000, snap_cancel, s);
  if (!s->d) {
    free(s);
    admin_errno(r->rep, -ENOMEM, "snapshot");
    return;
  }
  int rc = moderate_snapshot(a, (uint64_t)id, (uint64_t)age, (int)side, snap_done, s);
  if (rc)
    snap_done(s, rc, NULL, 0, 0);
}

static void post_kick(struct admin_req *r, int64_t id) {
  json_t *b = admin_body(r, true);
  if (!b)
    return;
  json_t *jr = json_object_get(b, "reason");
  if (jr && !json_is_string(jr)) {
    admin_error(r->rep, 400, "bad_request", "reason must be a string");
  } else if (moderate_kick(r->a, (uint64_t)id, r->actor, jr ? json_string_value(jr) : "")) {
    admin_error(r->rep, 404, "not_found", "no live peer %lld", (long long)id);
  } else {
    admin_json(r->rep, 200, json_pack("{s:b, s:I}", "ok", 1, "peer", (json_int_t)id));
  }
  json_decref(b);
}

/* ---- routing ---- */

void admin_request(struct app *a, const struct httpd_request *req, struct httpd_reply *rep) {
  struct admin_req r = {.a = a, .req = req, .rep = rep};
  if (!authorized(a, req)) {
    httpd_reply_header(rep, "WWW-Authenticate", "Bearer realm=\"tandem\"");
    admin_error(rep, 401, "unauthorized",
                a->cfg.admin_token[0] ? "a valid admin token is required (Authorization: "
                                        "Bearer TOKEN)"
                                      : "the admin API is off: set admin_token to enable it");
    return;
  }
  if (actor_of(req, r.actor, sizeof(r.actor))) {
    admin_error(rep, 400, "bad_request", "X-Tandem-Actor must be 1-64 printable characters");
    return;
  }
  if (!a->mod) {
    admin_error(rep, 503, "busy", "shutting down");
    return;
  }
  admin_route(&r);
}

void admin_route(struct admin_req *r0) {
  struct admin_req r = *r0;
  struct httpd_reply *rep = r.rep;
  const struct httpd_request *req = r.req;
  const char *path = req->path + 5; /* after "/api/" */
  const char *m = req->method;
  bool get = !strcmp(m, "GET") || !strcmp(m, "HEAD"), post = !strcmp(m, "POST");
  int64_t id;
  const char *rest;
  if (!strncmp(path, "nodes/", 6)) {
    return admin_proxy(&r, path + 6);
  } else if (!strcmp(path, "peers")) {
    if (get)
      return get_peers(&r);
  } else if (!strcmp(path, "pairs")) {
    if (get)
      return get_pairs(&r);
  } else if (!path_id(path, "peers", &id, &rest) && !strcmp(rest, "snapshot.jpg")) {
    if (get)
      return get_snapshot(&r, id);
  } else if (!path_id(path, "peers", &id, &rest) && !strcmp(rest, "kick")) {
    if (post)
      return post_kick(&r, id);
  } else if (!strcmp(path, "bans")) {
    if (get)
      return admin_get_bans(&r);
    if (post)
      return admin_post_ban(&r);
  } else if (!path_id(path, "bans", &id, &rest) && !*rest) {
    if (!strcmp(m, "DELETE"))
      return admin_delete_ban(&r, id);
  } else if (!strcmp(path, "reports")) {
    if (get)
      return admin_get_reports(&r);
  } else if (!path_id(path, "reports", &id, &rest) &&
             (!*rest || !strcmp(rest, "snapshot.jpg") || !strcmp(rest, "clip.webm"))) {
    if (get)
      return admin_get_report(&r, id, rest);
  } else if (!path_id(path, "reports", &id, &rest) && !strcmp(rest, "resolve")) {
    if (post)
      return admin_resolve(&r, id);
  } else if (!strcmp(path, "nodes")) {
    if (get)
      return admin_get_nodes(&r);
  } else if (!strcmp(path, "audit")) {
    if (get)
      return admin_get_audit(&r);
  } else {
    admin_error(rep, 404, "not_found", "no such route: %s %.100s", m, req->path);
    return;
  }
  admin_error(rep, 405, "method_not_allowed", "%s is not allowed on %.100s", m, req->path);
}
