/* tandemctl.c -- the operator's command line over Tandem's admin API (docs/admin-api.md):
 * live peers and pairs, snapshots, kicks, bans, reports and their evidence, the audit log.
 * Tables for people, the server's JSON as is with --json; the exit code says what went wrong
 * (tools/ctl.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "tools/ctl.h"

/* ---- answers ---- */

/* GET/POST/DELETE expecting a JSON object: CTL_OK with *j, or the exit code. */
static int call_json(struct ctl *c, const char *method, const char *path, json_t *body,
                     struct ctl_resp *r, json_t **j) {
  int rc = ctl_request(c, method, path, body, CTL_JSON_MAX, r);
  if (rc == CTL_OK)
    rc = ctl_answer_json(c, r, j);
  return rc;
}

/* --json: the answer as the server wrote it. */
static void print_verbatim(const struct ctl_resp *r) {
  fwrite(r->body, 1, r->len, stdout);
  if (!r->len || r->body[r->len - 1] != '\n')
    putchar('\n');
}

static json_t *jarray(json_t *o, const char *key) {
  json_t *a = json_object_get(o, key);
  return json_is_array(a) ? a : NULL;
}

static int no_array(struct ctl *c, const char *key) {
  return ctl_fail(c, CTL_FAILED, "unexpected answer from %s: no \"%s\" list", c->url, key);
}

/* Downloads a JPEG or a clip into file: CTL_OK or the exit code. magic: its first bytes. */
static int fetch_media(struct ctl *c, const char *path, const char *file, const char *magic,
                       size_t mlen, const char *what, size_t *bytes) {
  struct ctl_resp r;
  int rc = ctl_request(c, "GET", path, NULL, CTL_MEDIA_MAX, &r);
  if (rc == CTL_OK && (r.status < 200 || r.status >= 300))
    rc = ctl_refused(c, &r);
  else if (rc == CTL_OK && (r.len < mlen || memcmp(r.body, magic, mlen)))
    rc = ctl_fail(c, CTL_FAILED, "unexpected answer from %s: HTTP %ld but not %s (%zu bytes)",
                  c->url, r.status, what, r.len);
  else if (rc == CTL_OK)
    rc = ctl_write_file(c, file, r.body, r.len);
  if (rc == CTL_OK)
    *bytes = r.len;
  ctl_resp_free(&r);
  return rc;
}

static int refuse_terminal(const struct ctl *c, const char *file, const char *what) {
  if (file && !strcmp(file, "-") && isatty(STDOUT_FILENO))
    return ctl_usage(c, "refusing to write %s to a terminal: redirect stdout or give a file", what);
  return CTL_OK;
}

static const char JPEG_MAGIC[] = "\xff\xd8\xff";
static const char WEBM_MAGIC[] = "\x1a\x45\xdf\xa3";

/* Listings gathered from every node (ctl_cluster.c) have a NODE column first: heads[0] and
 * cells[0] are it, left out for one node. */
static struct ctl_table *table(const struct ctl_gather *g, size_t ncols,
                               const char *const *heads) {
  return ctl_table_new(ncols - !g->multi, heads + !g->multi);
}

static void add_row(struct ctl_table *t, const struct ctl_gather *g, json_t *e,
                    const char **cells) {
  char node[24];
  cells[0] = ctl_jint(e, "node", node, sizeof(node));
  ctl_table_add(t, cells + !g->multi);
}

/* After a listing some nodes did not give (their trouble already on stderr). */
static const char *partial(const struct ctl_gather *g, int rc) {
  return g->multi && rc ? " (from the nodes that answered)" : "";
}

/* ---- commands ---- */

static int cmd_peers(struct ctl *c, int argc, char **argv) {
  size_t np;
  int rc = ctl_parse_args(c, argc, argv, NULL, NULL, 0, &np);
  if (rc || (rc = ctl_settle(c)))
    return rc;
  struct ctl_gather g;
  rc = ctl_gather(c, "/api/peers", "peers", 0, &g);
  json_t *list = g.list;
  if (!list) {
  } else if (c->json) {
    ctl_gather_print_json(&g);
  } else if (!json_array_size(list)) {
    printf("no live peers%s\n", partial(&g, rc));
  } else {
    static const char *const heads[] = {"NODE", "ID",  "STATE", "PARTNER",
                                        "DEVICE", "IP", "MEDIA"};
    struct ctl_table *t = table(&g, 7, heads);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
      char id[24], partner[24], dev[9];
      snprintf(dev, sizeof(dev), "%s", ctl_jstr(p, "device"));
      json_t *m = json_object_get(p, "media");
      const char *row[] = {NULL, ctl_jint(p, "id", id, sizeof(id)), ctl_jstr(p, "state"),
                           ctl_jint(p, "partner", partner, sizeof(partner)), dev,
                           ctl_jstr(p, "ip"), json_is_true(m) ? "yes" : "no"};
      add_row(t, &g, p, row);
    }
    ctl_table_print(t);
    ctl_table_free(t);
    printf("%zu peer%s%s\n", json_array_size(list), json_array_size(list) == 1 ? "" : "s",
           partial(&g, rc));
  }
  ctl_gather_free(&g);
  return rc;
}

static int cmd_pairs(struct ctl *c, int argc, char **argv) {
  size_t np;
  int rc = ctl_parse_args(c, argc, argv, NULL, NULL, 0, &np);
  if (rc || (rc = ctl_settle(c)))
    return rc;
  struct ctl_gather g;
  rc = ctl_gather(c, "/api/pairs", "pairs", 0, &g);
  json_t *list = g.list;
  if (!list) {
  } else if (c->json) {
    ctl_gather_print_json(&g);
  } else if (!json_array_size(list)) {
    printf("no live pairs%s\n", partial(&g, rc));
  } else {
    static const char *const heads[] = {"NODE", "A", "B", "SINCE (UTC)", "FOR"};
    struct ctl_table *t = table(&g, 5, heads);
    int64_t now = (int64_t)time(NULL) * 1000;
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
      char a[24], b[24], since[32], span[32];
      int64_t ms = ctl_jint64(p, "since_ms");
      const char *row[] = {NULL, ctl_jint(p, "a", a, sizeof(a)), ctl_jint(p, "b", b, sizeof(b)),
                           ctl_time(ms, since, sizeof(since)),
                           ms ? ctl_span((now - ms) / 1000, span, sizeof(span)) : "-"};
      add_row(t, &g, p, row);
    }
    ctl_table_print(t);
    ctl_table_free(t);
    printf("%zu pair%s%s\n", json_array_size(list), json_array_size(list) == 1 ? "" : "s",
           partial(&g, rc));
  }
  ctl_gather_free(&g);
  return rc;
}

static int cmd_snapshot(struct ctl *c, int argc, char **argv) {
  const char *pos[1], *file = NULL, *age = NULL, *side = NULL;
  size_t np;
  const struct opt own[] = {{"--output", "-o", &file, NULL},
                            {"--max-age", NULL, &age, NULL},
                            {"--max-side", NULL, &side, NULL},
                            {NULL, NULL, NULL, NULL}};
  int64_t id;
  long long vage = -1, vside = -1;
  int rc = ctl_parse_args(c, argc, argv, own, pos, 1, &np);
  if (rc || (rc = ctl_parse_id(c, np ? pos[0] : NULL, "the peer's ID", &id)))
    return rc;
  if (!file)
    return ctl_usage(c, "give -o FILE (or -o - for stdout)%s", "");
  if ((age && (rc = ctl_parse_num(c, age, "--max-age", 0, 86400000, &vage))) ||
      (side && (rc = ctl_parse_num(c, side, "--max-side", 0, 4096, &vside))))
    return rc;
  if (vside > 0 && vside < 16)
    return ctl_usage(c, "--max-side is 0 (as sent) or 16-4096, not %s", side);
  if ((rc = ctl_settle(c)) || (rc = refuse_terminal(c, file, "a JPEG")) ||
      (rc = ctl_route(c, id)))
    return rc;
  char path[160];
  int n = snprintf(path, sizeof(path), "/api/peers/%lld/snapshot.jpg", (long long)id);
  const char *sep = "?";
  if (vage >= 0) {
    n += snprintf(path + n, sizeof(path) - (size_t)n, "%smax_age_ms=%lld", sep, vage);
    sep = "&";
  }
  if (vside >= 0)
    snprintf(path + n, sizeof(path) - (size_t)n, "%smax_side=%lld", sep, vside);
  size_t bytes = 0;
  if ((rc = fetch_media(c, path, file, JPEG_MAGIC, 3, "a JPEG", &bytes)))
    return rc;
  if (strcmp(file, "-")) {
    if (c->json) {
      json_t *o = json_pack("{s:I, s:s, s:I}", "peer", (json_int_t)id, "file", file, "bytes",
                            (json_int_t)bytes);
      char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
      if (s)
        printf("%s\n", s);
      free(s);
      json_decref(o);
    } else {
      printf("peer %lld: %zu bytes of JPEG written to %s\n", (long long)id, bytes, file);
    }
  }
  return CTL_OK;
}

static int cmd_kick(struct ctl *c, int argc, char **argv) {
  const char *pos[1], *reason = NULL;
  size_t np;
  const struct opt own[] = {{"--reason", NULL, &reason, NULL}, {NULL, NULL, NULL, NULL}};
  int64_t id;
  int rc = ctl_parse_args(c, argc, argv, own, pos, 1, &np);
  if (rc || (rc = ctl_parse_id(c, np ? pos[0] : NULL, "the peer's ID", &id)) ||
      (rc = ctl_settle(c)) || (rc = ctl_route(c, id)))
    return rc;
  json_t *body = reason ? json_pack("{s:s}", "reason", reason) : json_object();
  if (!body)
    return ctl_usage(c, "--reason must be UTF-8 text%s", "");
  char path[80];
  snprintf(path, sizeof(path), "/api/peers/%lld/kick", (long long)id);
  struct ctl_resp r;
  json_t *j = NULL;
  if (!(rc = call_json(c, "POST", path, body, &r, &j))) {
    if (c->json)
      print_verbatim(&r);
    else
      printf("kicked peer %lld\n", (long long)id);
  }
  json_decref(body);
  json_decref(j);
  ctl_resp_free(&r);
  return rc;
}

/* One ban as a line: "ban 7: device 0f1e... permanent, by admin: reason". */
static void print_ban(json_t *b) {
  char id[24], until[32];
  int64_t exp = ctl_jint64(b, "expires_ms");
  char *target = ctl_clean(ctl_jstr(b, "target"), 80), *reason = ctl_clean(ctl_jstr(b, "reason"), 200),
       *kind = ctl_clean(ctl_jstr(b, "kind"), 16), *by = ctl_clean(ctl_jstr(b, "by"), 64);
  printf("ban %s: %s %s, %s%s%s, by %s%s%s\n", ctl_jint(b, "id", id, sizeof(id)), kind, target,
         exp ? "until " : "permanent", exp ? ctl_time(exp, until, sizeof(until)) : "",
         exp ? " UTC" : "", by, reason[0] ? ": " : "", reason);
  free(target);
  free(reason);
  free(kind);
  free(by);
}

static int cmd_ban(struct ctl *c, int argc, char **argv) {
  const char *peer = NULL, *device = NULL, *ip = NULL, *net = NULL, *dur = NULL, *reason = NULL;
  bool device_only = false;
  const struct opt own[] = {{"--device-only", NULL, NULL, &device_only},
                            {"--peer", NULL, &peer, NULL},     {"--device", NULL, &device, NULL},
                            {"--ip", NULL, &ip, NULL},         {"--ip6-64", NULL, &net, NULL},
                            {"--duration", NULL, &dur, NULL},  {"--reason", NULL, &reason, NULL},
                            {NULL, NULL, NULL, NULL}};
  size_t np;
  int rc = ctl_parse_args(c, argc, argv, own, NULL, 0, &np);
  if (rc)
    return rc;
  if (!!peer + !!device + !!ip + !!net != 1)
    return ctl_usage(c, "give exactly one of --peer ID, --device HEX, --ip ADDR, --ip6-64 NET%s", "");
  if (device_only && !peer)
    return ctl_usage(c, "--device-only goes with --peer%s", "");
  long long secs = 0;
  if (dur && (rc = ctl_parse_duration(c, dur, &secs)))
    return rc;
  if (reason && strlen(reason) > 1000)
    return ctl_usage(c, "--reason is at most 1000 bytes%s", "");
  json_t *body = json_pack("{s:I}", "duration_s", (json_int_t)secs);
  if (!body)
    return ctl_fail(c, CTL_FAILED, "out of memory");
  if (reason && json_object_set_new(body, "reason", json_string(reason))) {
    json_decref(body);
    return ctl_usage(c, "--reason must be UTF-8 text%s", "");
  }
  int64_t pid = 0;
  unsigned char tmp[16];
  if (peer) {
    if ((rc = ctl_parse_id(c, peer, "--peer", &pid))) {
      json_decref(body);
      return rc;
    }
    json_object_set_new(body, "peer", json_integer((json_int_t)pid));
    if (device_only)
      json_object_set_new(body, "address", json_false());
  } else {
    const char *kind = device ? "device" : ip ? "ip" : "ip6_64";
    const char *target = device ? device : ip ? ip : net;
    char addr[64];
    bool ok;
    if (device) {
      ok = strlen(device) == 32 && strspn(device, "0123456789abcdefABCDEF") == 32;
    } else if (ip) {
      ok = inet_pton(AF_INET, ip, tmp) == 1 || inet_pton(AF_INET6, ip, tmp) == 1;
    } else {
      snprintf(addr, sizeof(addr), "%s", net);
      char *slash = strchr(addr, '/');
      if (slash && !strcmp(slash, "/64"))
        *slash = 0;
      ok = strlen(net) < sizeof(addr) && inet_pton(AF_INET6, addr, tmp) == 1;
    }
    if (!ok) {
      json_decref(body);
      return ctl_usage(c, device ? "--device is 32 hex digits, not %s"
                      : ip   ? "--ip is an IPv4 or IPv6 address, not %s"
                             : "--ip6-64 is an IPv6 /64 (2001:db8:1:2::/64) or an address "
                               "in it, not %s",
                   target);
    }
    json_object_set_new(body, "kind", json_string(kind));
    json_object_set_new(body, "target", json_string(target));
  }
  /* A peer's ban is made by the node it is on (and holds on every node). */
  if ((rc = ctl_settle(c)) || (peer && (rc = ctl_route(c, pid)))) {
    json_decref(body);
    return rc;
  }
  struct ctl_resp r;
  json_t *j = NULL, *bans;
  if (!(rc = call_json(c, "POST", "/api/bans", body, &r, &j))) {
    if (!(bans = jarray(j, "bans"))) {
      rc = no_array(c, "bans");
    } else if (c->json) {
      print_verbatim(&r);
    } else {
      size_t i;
      json_t *b;
      json_array_foreach(bans, i, b) print_ban(b);
      json_t *cut = jarray(j, "cut_off");
      if (!json_array_size(cut)) {
        printf("nobody live was cut off\n");
      } else {
        printf("cut off: peer%s", json_array_size(cut) == 1 ? "" : "s");
        json_array_foreach(cut, i, b) printf("%s %lld", i ? "," : "",
                                             (long long)json_integer_value(b));
        putchar('\n');
      }
    }
  }
  json_decref(body);
  json_decref(j);
  ctl_resp_free(&r);
  return rc;
}

static int cmd_unban(struct ctl *c, int argc, char **argv) {
  const char *pos[1];
  size_t np;
  int64_t id;
  int rc = ctl_parse_args(c, argc, argv, NULL, pos, 1, &np);
  if (rc || (rc = ctl_parse_id(c, np ? pos[0] : NULL, "the ban's ID", &id)) || (rc = ctl_settle(c)))
    return rc;
  char path[80];
  snprintf(path, sizeof(path), "/api/bans/%lld", (long long)id);
  struct ctl_resp r;
  json_t *j = NULL;
  if (!(rc = call_json(c, "DELETE", path, NULL, &r, &j))) {
    if (c->json)
      print_verbatim(&r);
    else
      printf("lifted ban %lld\n", (long long)id);
  }
  json_decref(j);
  ctl_resp_free(&r);
  return rc;
}

#define BANS_PAGES_MAX 10000 /* 10 million bans: a server paging forever is stopped */

struct ban_query {
  bool all;
  const char *kind;
  json_t *acc;
};

/* Every page of one node's bans into q->acc. */
static int ban_pages(struct ctl *c, void *arg) {
  struct ban_query *q = arg;
  bool all = q->all;
  const char *kind = q->kind;
  json_t *acc = q->acc;
  int rc = CTL_OK;
  long long after = 0;
  for (int page = 0; !rc; page++) {
    if (page == BANS_PAGES_MAX) {
      rc = ctl_fail(c, CTL_FAILED, "more than %d pages of bans; stopped", BANS_PAGES_MAX);
      break;
    }
    char path[160];
    snprintf(path, sizeof(path), "/api/bans?active=%d&limit=1000%s%s&after_id=%lld",
             all ? 0 : 1, kind ? "&kind=" : "", kind ? kind : "", after);
    struct ctl_resp r;
    json_t *j = NULL, *list;
    if (!(rc = call_json(c, "GET", path, NULL, &r, &j))) {
      json_t *next = json_object_get(j, "next_after_id");
      if (!(list = jarray(j, "bans")))
        rc = no_array(c, "bans");
      else if (json_array_extend(acc, list))
        rc = ctl_fail(c, CTL_FAILED, "out of memory");
      else if (json_is_integer(next) && json_integer_value(next) > after)
        after = (long long)json_integer_value(next);
      else if (next && !json_is_null(next))
        rc = ctl_fail(c, CTL_FAILED, "unexpected answer from %s: next_after_id does not "
                                     "move on", c->url);
      else
        after = -1; /* the last page */
    }
    json_decref(j);
    ctl_resp_free(&r);
    if (after < 0)
      break;
  }
  return rc;
}

static int cmd_bans(struct ctl *c, int argc, char **argv) {
  const char *kind = NULL;
  bool all = false;
  const struct opt own[] = {{"--all", NULL, NULL, &all}, {"--kind", NULL, &kind, NULL},
                            {NULL, NULL, NULL, NULL}};
  size_t np;
  int rc = ctl_parse_args(c, argc, argv, own, NULL, 0, &np);
  if (rc)
    return rc;
  if (kind && strcmp(kind, "device") && strcmp(kind, "ip") && strcmp(kind, "ip6_64"))
    return ctl_usage(c, "--kind is device, ip or ip6_64, not %s", kind);
  if ((rc = ctl_settle(c)))
    return rc;
  json_t *acc = json_array();
  struct ban_query q = {.all = all, .kind = kind, .acc = acc};
  /* The bans in force are the cluster's on every node; each node keeps its own history. */
  if (all)
    rc = ctl_each_node(c, ban_pages, &q);
  else
    rc = (rc = ctl_route(c, 0)) ? rc : ban_pages(c, &q);
  if (!rc && c->json) {
    /* Every page in one answer of the server's shape. */
    json_t *o = json_pack("{s:O, s:n}", "bans", acc, "next_after_id");
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s)
      printf("%s\n", s);
    else
      rc = ctl_fail(c, CTL_FAILED, "out of memory");
    free(s);
    json_decref(o);
  } else if (!rc && !json_array_size(acc)) {
    printf("no bans%s\n", all ? "" : " in force");
  } else if (!rc) {
    static const char *const heads[] = {"ID",      "KIND", "TARGET", "CREATED (UTC)",
                                        "EXPIRES", "BY",   "REASON", "LIFTED"};
    struct ctl_table *t = ctl_table_new(all ? 8 : 7, heads);
    size_t i;
    json_t *b;
    json_array_foreach(acc, i, b) {
      char id[24], created[32], exp[32], lifted[32];
      int64_t e = ctl_jint64(b, "expires_ms");
      const char *row[] = {ctl_jint(b, "id", id, sizeof(id)), ctl_jstr(b, "kind"),
                           ctl_jstr(b, "target"),
                           ctl_time(ctl_jint64(b, "created_ms"), created, sizeof(created)),
                           e ? ctl_time(e, exp, sizeof(exp)) : "permanent", ctl_jstr(b, "by"),
                           ctl_jstr(b, "reason"),
                           ctl_time(ctl_jint64(b, "lifted_ms"), lifted, sizeof(lifted))};
      ctl_table_add(t, row);
    }
    ctl_table_print(t);
    ctl_table_free(t);
    printf("%zu ban%s\n", json_array_size(acc), json_array_size(acc) == 1 ? "" : "s");
  }
  json_decref(acc);
  return rc;
}

/* "0f1e2d3c (peer 12)" for a report's reported or reporter side. */
static void side_text(json_t *s, char *buf, size_t cap) {
  char dev[9], peer[24];
  snprintf(dev, sizeof(dev), "%s", ctl_jstr(s, "device"));
  if (json_is_integer(json_object_get(s, "peer")))
    snprintf(buf, cap, "%s (peer %s)", dev, ctl_jint(s, "peer", peer, sizeof(peer)));
  else
    snprintf(buf, cap, "%s", dev);
}

static int cmd_reports(struct ctl *c, int argc, char **argv) {
  const char *state = NULL, *limit = NULL;
  const struct opt own[] = {{"--state", NULL, &state, NULL}, {"--limit", NULL, &limit, NULL},
                            {NULL, NULL, NULL, NULL}};
  size_t np;
  long long n = 100;
  int rc = ctl_parse_args(c, argc, argv, own, NULL, 0, &np);
  if (rc || (limit && (rc = ctl_parse_num(c, limit, "--limit", 1, 1000, &n))))
    return rc;
  if (state && strcmp(state, "open") && strcmp(state, "resolved") && strcmp(state, "any"))
    return ctl_usage(c, "--state is open, resolved or any, not %s", state);
  if ((rc = ctl_settle(c)))
    return rc;
  char path[96];
  snprintf(path, sizeof(path), "/api/reports?state=%s&limit=%lld", state ? state : "open", n);
  struct ctl_gather g;
  rc = ctl_gather(c, path, "reports", (size_t)n, &g);
  json_t *list = g.list;
  if (!list) {
  } else if (c->json) {
    ctl_gather_print_json(&g);
  } else if (!json_array_size(list)) {
    printf("no %s reports%s\n", state && !strcmp(state, "any") ? "" : state ? state : "open",
           partial(&g, rc));
  } else {
    static const char *const heads[] = {"NODE",     "ID",       "TIME (UTC)", "STATE",
                                        "REASON",   "REPORTED", "EVIDENCE",   "NOTE"};
    struct ctl_table *t = table(&g, 8, heads);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
      char id[24], when[32], who[48];
      json_t *ev = json_object_get(p, "evidence");
      bool jpg = json_is_string(json_object_get(ev, "jpeg")),
           webm = json_is_string(json_object_get(ev, "webm"));
      side_text(json_object_get(p, "reported"), who, sizeof(who));
      const char *row[] = {NULL, ctl_jint(p, "id", id, sizeof(id)),
                           ctl_time(ctl_jint64(p, "time_ms"), when, sizeof(when)),
                           ctl_jstr(p, "state"), ctl_jstr(p, "reason"), who,
                           jpg && webm ? "jpeg+webm" : jpg ? "jpeg" : webm ? "webm" : "-",
                           ctl_jstr(p, "note")};
      add_row(t, &g, p, row);
    }
    ctl_table_print(t);
    ctl_table_free(t);
    printf("%zu report%s%s%s\n", json_array_size(list), json_array_size(list) == 1 ? "" : "s",
           partial(&g, rc),
           json_is_integer(json_object_get(g.answer, "next_before_id")) ||
                   json_is_true(json_object_get(g.answer, "more"))
               ? " (more: raise --limit)"
               : "");
  }
  ctl_gather_free(&g);
  return rc;
}

static void print_field(const char *name, const char *value) {
  char *v = ctl_clean(value, 1000);
  printf("%-12s %s\n", name, v);
  free(v);
}

static void print_report(json_t *p) {
  char buf[64], who[48];
  json_t *ev = json_object_get(p, "evidence");
  print_field("report", ctl_jint(p, "id", buf, sizeof(buf)));
  print_field("time (UTC)", ctl_time(ctl_jint64(p, "time_ms"), buf, sizeof(buf)));
  print_field("state", ctl_jstr(p, "state"));
  print_field("reason", ctl_jstr(p, "reason"));
  print_field("note", ctl_jstr(p, "note"));
  const char *sides[] = {"reported", "reporter"};
  for (int i = 0; i < 2; i++) {
    json_t *s = json_object_get(p, sides[i]);
    side_text(s, who, sizeof(who));
    char line[160];
    snprintf(line, sizeof(line), "device %s, ip %s%s%s", ctl_jstr(s, "device"),
             ctl_jstr(s, "ip"), json_is_integer(json_object_get(s, "peer")) ? ", live as peer " : "",
             json_is_integer(json_object_get(s, "peer")) ? ctl_jint(s, "peer", buf, sizeof(buf))
                                                         : "");
    print_field(sides[i], line);
  }
  print_field("picture", json_is_string(json_object_get(ev, "jpeg")) ? ctl_jstr(ev, "jpeg")
                                                                     : "none");
  print_field("clip", json_is_string(json_object_get(ev, "webm")) ? ctl_jstr(ev, "webm")
                                                                  : "none");
  if (!strcmp(ctl_jstr(p, "state"), "resolved")) {
    print_field("resolution", ctl_jstr(p, "resolution"));
    print_field("resolved by", ctl_jstr(p, "resolved_by"));
    print_field("resolved", ctl_time(ctl_jint64(p, "resolved_ms"), buf, sizeof(buf)));
  }
}

static int cmd_report(struct ctl *c, int argc, char **argv) {
  const char *pos[1], *jpeg = NULL, *clip = NULL;
  const struct opt own[] = {{"--jpeg", NULL, &jpeg, NULL}, {"--clip", NULL, &clip, NULL},
                            {NULL, NULL, NULL, NULL}};
  size_t np;
  int64_t id;
  int rc = ctl_parse_args(c, argc, argv, own, pos, 1, &np);
  if (rc || (rc = ctl_parse_id(c, np ? pos[0] : NULL, "the report's ID", &id)))
    return rc;
  if (jpeg && clip && !strcmp(jpeg, "-") && !strcmp(clip, "-"))
    return ctl_usage(c, "only one of --jpeg and --clip may be - (stdout)%s", "");
  if ((rc = ctl_settle(c)) || (rc = refuse_terminal(c, jpeg, "a JPEG")) ||
      (rc = refuse_terminal(c, clip, "a clip")) || (rc = ctl_route(c, id)))
    return rc;
  bool to_stdout = (jpeg && !strcmp(jpeg, "-")) || (clip && !strcmp(clip, "-"));
  char path[96];
  snprintf(path, sizeof(path), "/api/reports/%lld", (long long)id);
  struct ctl_resp r;
  json_t *j = NULL, *rep;
  if ((rc = call_json(c, "GET", path, NULL, &r, &j)))
    goto out;
  if (!json_is_object(rep = json_object_get(j, "report"))) {
    rc = ctl_fail(c, CTL_FAILED, "unexpected answer from %s: no \"report\"", c->url);
    goto out;
  }
  /* With evidence going to stdout, the report itself is not printed. */
  if (!to_stdout && c->json)
    print_verbatim(&r);
  else if (!to_stdout)
    print_report(rep);
  json_t *ev = json_object_get(rep, "evidence");
  const struct {
    const char *file, *key, *route, *magic, *what, *none;
    size_t mlen;
  } want[] = {
      {jpeg, "jpeg", "snapshot.jpg", JPEG_MAGIC, "a JPEG", "no evidence picture", 3},
      {clip, "webm", "clip.webm", WEBM_MAGIC, "a WebM clip", "no evidence clip", 4},
  };
  for (size_t i = 0; i < 2 && !rc; i++) {
    if (!want[i].file)
      continue;
    if (!json_is_string(json_object_get(ev, want[i].key))) {
      rc = ctl_fail(c, CTL_FAILED, "report %lld has %s", (long long)id, want[i].none);
      break;
    }
    /* The route is ours, not the URL in the answer: a server cannot send us elsewhere. */
    snprintf(path, sizeof(path), "/api/reports/%lld/%s", (long long)id, want[i].route);
    size_t bytes = 0;
    rc = fetch_media(c, path, want[i].file, want[i].magic, want[i].mlen, want[i].what, &bytes);
    if (!rc && strcmp(want[i].file, "-"))
      fprintf(c->json ? stderr : stdout, "%zu bytes of %s written to %s\n", bytes,
              want[i].what + 2, want[i].file);
  }
out:
  json_decref(j);
  ctl_resp_free(&r);
  return rc;
}

static int cmd_resolve(struct ctl *c, int argc, char **argv) {
  const char *pos[1], *res = NULL;
  const struct opt own[] = {{"--resolution", NULL, &res, NULL}, {NULL, NULL, NULL, NULL}};
  size_t np;
  int64_t id;
  int rc = ctl_parse_args(c, argc, argv, own, pos, 1, &np);
  if (rc || (rc = ctl_parse_id(c, np ? pos[0] : NULL, "the report's ID", &id)))
    return rc;
  if (!res)
    res = "dismissed";
  if (!*res || strlen(res) > 200)
    return ctl_usage(c, "--resolution is 1-200 bytes of text%s", "");
  if ((rc = ctl_settle(c)) || (rc = ctl_route(c, id)))
    return rc;
  json_t *body = json_pack("{s:s}", "resolution", res);
  if (!body)
    return ctl_usage(c, "--resolution must be UTF-8 text%s", "");
  char path[96];
  snprintf(path, sizeof(path), "/api/reports/%lld/resolve", (long long)id);
  struct ctl_resp r;
  json_t *j = NULL;
  if (!(rc = call_json(c, "POST", path, body, &r, &j))) {
    if (c->json) {
      print_verbatim(&r);
    } else {
      char *cr = ctl_clean(res, 200);
      printf("resolved report %lld: %s\n", (long long)id, cr);
      free(cr);
    }
  }
  json_decref(body);
  json_decref(j);
  ctl_resp_free(&r);
  return rc;
}

static int cmd_audit(struct ctl *c, int argc, char **argv) {
  const char *limit = NULL;
  const struct opt own[] = {{"--limit", NULL, &limit, NULL}, {NULL, NULL, NULL, NULL}};
  size_t np;
  long long n = 100;
  int rc = ctl_parse_args(c, argc, argv, own, NULL, 0, &np);
  if (rc || (limit && (rc = ctl_parse_num(c, limit, "--limit", 1, 1000, &n))) || (rc = ctl_settle(c)))
    return rc;
  char path[64];
  snprintf(path, sizeof(path), "/api/audit?limit=%lld", n);
  struct ctl_gather g;
  rc = ctl_gather(c, path, "audit", (size_t)n, &g);
  json_t *list = g.list;
  if (!list) {
  } else if (c->json) {
    ctl_gather_print_json(&g);
  } else if (!json_array_size(list)) {
    printf("the audit log is empty%s\n", partial(&g, rc));
  } else {
    static const char *const heads[] = {"NODE",   "ID",     "TIME (UTC)", "ACTOR",
                                        "ACTION", "TARGET", "DETAILS"};
    struct ctl_table *t = table(&g, 7, heads);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
      char id[24], when[32];
      json_t *d = json_object_get(e, "details");
      char *ds = d ? json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
      const char *row[] = {NULL, ctl_jint(e, "id", id, sizeof(id)),
                           ctl_time(ctl_jint64(e, "time_ms"), when, sizeof(when)),
                           ctl_jstr(e, "actor"), ctl_jstr(e, "action"), ctl_jstr(e, "target"),
                           ds ? ds : "-"};
      add_row(t, &g, e, row);
      free(ds);
    }
    ctl_table_print(t);
    ctl_table_free(t);
    printf("%zu entr%s%s%s\n", json_array_size(list), json_array_size(list) == 1 ? "y" : "ies",
           partial(&g, rc),
           json_is_integer(json_object_get(g.answer, "next_before_id")) ||
                   json_is_true(json_object_get(g.answer, "more"))
               ? " (more: raise --limit)"
               : "");
  }
  ctl_gather_free(&g);
  return rc;
}

static const struct {
  const char *name;
  int (*fn)(struct ctl *, int, char **);
} commands[] = {
    {"nodes", cmd_nodes},     {"peers", cmd_peers},     {"pairs", cmd_pairs},
    {"snapshot", cmd_snapshot},
    {"kick", cmd_kick},       {"ban", cmd_ban},         {"unban", cmd_unban},
    {"bans", cmd_bans},       {"reports", cmd_reports}, {"report", cmd_report},
    {"resolve", cmd_resolve}, {"audit", cmd_audit},
};

int main(int argc, char **argv) {
  struct ctl c = {0};
  int i, rc0 = ctl_parse_globals(argc, argv, &i);
  if (rc0)
    return rc0;
  if (ctl_help_asked() || (i < argc && !strcmp(argv[i], "help"))) {
    fputs(ctl_usage_text, stdout);
    return CTL_OK;
  }
  if (i == argc)
    return ctl_usage(NULL, "no command given%s", "");
  int rc = -1;
  for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
    if (!strcmp(argv[i], commands[k].name)) {
      c.cmd = commands[k].name;
      if (curl_global_init(CURL_GLOBAL_DEFAULT))
        return ctl_fail(&c, CTL_FAILED, "cannot start libcurl");
      rc = commands[k].fn(&c, argc - i - 1, argv + i + 1);
      if (rc == CTL_HELP) {
        fputs(ctl_usage_text, stdout);
        rc = CTL_OK;
      }
      ctl_close(&c);
      ctl_cluster_free(&c);
      curl_global_cleanup();
      break;
    }
  ctl_args_free();
  if (rc < 0)
    return ctl_usage(NULL, "unknown command: %s", argv[i]);
  if (fflush(stdout) && rc == CTL_OK)
    return ctl_fail(&c, CTL_FAILED, "cannot write to stdout: %s", strerror(errno));
  return rc;
}
