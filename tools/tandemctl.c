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

static const char usage_text[] =
    "usage: tandemctl [--url URL] [--token TOKEN] [--json] [--actor NAME] [--timeout S]\n"
    "                 COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  peers                            live peers\n"
    "  pairs                            live pairs\n"
    "  snapshot ID -o FILE [--max-age MS] [--max-side N]\n"
    "                                   a peer's picture now, as JPEG (-o - for stdout)\n"
    "  kick ID [--reason TEXT]          ends a peer's visit\n"
    "  ban (--peer ID [--device-only] | --device HEX | --ip ADDR | --ip6-64 NET)\n"
    "      [--duration D] [--reason TEXT]\n"
    "                                   D: 30m, 24h, 7d, 3600 (seconds) or permanent\n"
    "                                   (the default); --peer bans its device and its\n"
    "                                   address (--device-only: the device alone)\n"
    "  unban BAN_ID                     lifts a ban\n"
    "  bans [--all] [--kind K]          bans in force (--all: every ban ever; K: device,\n"
    "                                   ip or ip6_64), every page\n"
    "  reports [--state open|resolved|any] [--limit N]\n"
    "                                   reports, newest first (open, 100 by default)\n"
    "  report ID [--jpeg FILE] [--clip FILE]\n"
    "                                   one report; saves its evidence picture or clip\n"
    "  resolve ID [--resolution TEXT]   resolves a report (default resolution: dismissed)\n"
    "  audit [--limit N]                the moderators' audit log, newest first\n"
    "  help                             this text\n"
    "\n"
    "  --url      the server (default $TANDEM_URL, else http://127.0.0.1:8080)\n"
    "  --token    the admin token (default $TANDEM_ADMIN_TOKEN; prefer the variable: a flag\n"
    "             shows in the process list)\n"
    "  --json     print the server's JSON instead of a table\n"
    "  --actor    your name in the audit log (default tandemctl)\n"
    "  --timeout  seconds a request may take (default 60)\n"
    "\n"
    "exit codes: 0 done; 1 the server refused (or answered nonsense, or a file could not be\n"
    "written); 2 usage; 3 the server cannot be reached; 4 the admin token was refused\n";

/* ---- the command line ---- */

/* One option of a command: a value (val) or a flag. */
struct opt {
  const char *name;  /* "--reason" */
  const char *alias; /* "-o", or NULL */
  const char **val;
  bool *flag;
};

#define CTL_HELP (-2) /* --help after the command: the usage, and nothing done */

static const char *g_url, *g_token, *g_actor, *g_timeout;
static bool g_json, g_help;
static char *g_url_buf;

static const struct opt globals[] = {
    {"--url", NULL, &g_url, NULL},         {"--token", NULL, &g_token, NULL},
    {"--actor", NULL, &g_actor, NULL},     {"--timeout", NULL, &g_timeout, NULL},
    {"--json", NULL, NULL, &g_json},       {"--help", "-h", NULL, &g_help},
    {NULL, NULL, NULL, NULL},
};

static int usage(const struct ctl *c, const char *fmt, const char *arg) {
  fputs("tandemctl: ", stderr);
  if (c && c->cmd)
    fprintf(stderr, "%s: ", c->cmd);
  fprintf(stderr, fmt, arg);
  fputs("\n\n", stderr);
  fputs(usage_text, stderr);
  return CTL_USAGE;
}

static const struct opt *find_opt(const struct opt *set, const char *name, size_t len) {
  for (; set && set->name; set++)
    if ((strlen(set->name) == len && !strncmp(set->name, name, len)) ||
        (set->alias && strlen(set->alias) == len && !strncmp(set->alias, name, len)))
      return set;
  return NULL;
}

/* Options (the command's and the global ones, anywhere) and up to maxpos positional arguments.
 * With stop_at_pos, returns at the first positional one (*npos = its index). CTL_OK or
 * CTL_USAGE with the message printed. */
static int parse_args(const struct ctl *c, int argc, char **argv, const struct opt *own,
                      const char **pos, size_t maxpos, size_t *npos) {
  bool only_pos = false;
  *npos = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!only_pos && !strcmp(a, "--")) {
      only_pos = true;
      continue;
    }
    if (only_pos || a[0] != '-' || !a[1]) {
      if (*npos == maxpos)
        return usage(c, "unexpected argument: %s", a);
      pos[(*npos)++] = a;
      continue;
    }
    const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    const struct opt *o = find_opt(own, a, len);
    if (!o)
      o = find_opt(globals, a, len);
    if (!o) {
      char name[64];
      snprintf(name, sizeof(name), "%.*s", (int)(len < 60 ? len : 60), a);
      return usage(c, "unknown option: %s", name);
    }
    if (o->flag) {
      if (eq)
        return usage(c, "%s takes no value", o->name);
      *o->flag = true;
    } else if (eq) {
      *o->val = eq + 1;
    } else if (i + 1 < argc) {
      *o->val = argv[++i];
    } else {
      return usage(c, "%s needs a value", o->name);
    }
  }
  return g_help ? CTL_HELP : CTL_OK;
}

/* The settings after parsing: defaults, then checks. */
static int settle(struct ctl *c) {
  const char *url = g_url ? g_url : getenv("TANDEM_URL");
  if (!url || !*url)
    url = "http://127.0.0.1:8080";
  if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
    return usage(c, "--url must start with http:// or https://, not %s", url);
  for (const char *s = url; *s; s++)
    if ((unsigned char)*s <= ' ' || *s == 0x7f)
      return usage(c, "--url must not contain spaces or control characters%s", "");
  if (strlen(url) > 2000)
    return usage(c, "--url is too long%s", "");
  free(g_url_buf);
  if (!(g_url_buf = strdup(url)))
    return ctl_fail(c, CTL_FAILED, "out of memory");
  size_t n = strlen(g_url_buf);
  while (n > 8 && g_url_buf[n - 1] == '/')
    g_url_buf[--n] = 0;
  c->url = g_url_buf;

  c->token = g_token ? g_token : getenv("TANDEM_ADMIN_TOKEN");
  if (c->token && strlen(c->token) > 4096)
    return usage(c, "the admin token is too long (at most 4096 characters)%s", "");
  for (const char *s = c->token; s && *s; s++)
    if (*s <= ' ' || *s > '~')
      return usage(c, "the admin token must be printable ASCII without spaces%s", "");

  c->actor = g_actor ? g_actor : "tandemctl";
  size_t al = strlen(c->actor);
  if (al == 0 || al > 64)
    return usage(c, "--actor is 1-64 printable ASCII characters%s", "");
  for (const char *s = c->actor; *s; s++)
    if (*s < ' ' || *s > '~')
      return usage(c, "--actor is 1-64 printable ASCII characters%s", "");

  c->timeout_ms = 60000;
  if (g_timeout) {
    char *end;
    errno = 0;
    long t = strtol(g_timeout, &end, 10);
    if (!*g_timeout || *end || errno || t < 1 || t > 3600)
      return usage(c, "--timeout is 1-3600 seconds, not %s", g_timeout);
    c->timeout_ms = t * 1000;
  }
  c->json = g_json;
  return CTL_OK;
}

/* A decimal id, 1 to 2^63-1. */
static int parse_id(const struct ctl *c, const char *s, const char *what, int64_t *out) {
  char *end;
  errno = 0;
  if (!s)
    return usage(c, "missing %s", what);
  long long v = strtoll(s, &end, 10);
  if (*s < '0' || *s > '9' || *end || errno || v <= 0)
    return usage(c, "not an id (a positive decimal number): %s", s);
  *out = v;
  return CTL_OK;
}

/* A number in [lo, hi]. */
static int parse_num(const struct ctl *c, const char *s, const char *opt, long long lo,
                     long long hi, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*s < '0' || *s > '9' || *end || errno || v < lo || v > hi) {
    char msg[160];
    snprintf(msg, sizeof(msg), "%s is a number from %lld to %lld, not %%s", opt, lo, hi);
    return usage(c, msg, s);
  }
  *out = v;
  return CTL_OK;
}

#define TEN_YEARS_S (10LL * 366 * 86400) /* the server's bound (docs/admin-api.md) */

/* "30m", "24h", "7d", "3600", "90s" or "permanent" (0) as seconds. */
static int parse_duration(const struct ctl *c, const char *s, long long *out) {
  if (!strcmp(s, "permanent")) {
    *out = 0;
    return CTL_OK;
  }
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  long long mul = 1;
  if (*end && !end[1]) {
    switch (*end) {
    case 's': mul = 1; end++; break;
    case 'm': mul = 60; end++; break;
    case 'h': mul = 3600; end++; break;
    case 'd': mul = 86400; end++; break;
    default: break;
    }
  }
  if (*s < '0' || *s > '9' || *end || errno || v <= 0 || v > TEN_YEARS_S / mul)
    return usage(c, "--duration is like 30m, 24h, 7d, 3600 (seconds) or permanent, at most "
                    "10 years; not %s", s);
  *out = v * mul;
  return CTL_OK;
}

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
    return usage(c, "refusing to write %s to a terminal: redirect stdout or give a file", what);
  return CTL_OK;
}

static const char JPEG_MAGIC[] = "\xff\xd8\xff";
static const char WEBM_MAGIC[] = "\x1a\x45\xdf\xa3";

/* ---- commands ---- */

static int cmd_peers(struct ctl *c, int argc, char **argv) {
  size_t np;
  int rc = parse_args(c, argc, argv, NULL, NULL, 0, &np);
  if (rc || (rc = settle(c)))
    return rc;
  struct ctl_resp r;
  json_t *j = NULL, *list;
  if (!(rc = call_json(c, "GET", "/api/peers", NULL, &r, &j))) {
    if (!(list = jarray(j, "peers"))) {
      rc = no_array(c, "peers");
    } else if (c->json) {
      print_verbatim(&r);
    } else if (!json_array_size(list)) {
      printf("no live peers\n");
    } else {
      static const char *const heads[] = {"ID", "STATE", "PARTNER", "DEVICE", "IP", "MEDIA"};
      struct ctl_table *t = ctl_table_new(6, heads);
      size_t i;
      json_t *p;
      json_array_foreach(list, i, p) {
        char id[24], partner[24], dev[9];
        snprintf(dev, sizeof(dev), "%s", ctl_jstr(p, "device"));
        json_t *m = json_object_get(p, "media");
        const char *row[] = {ctl_jint(p, "id", id, sizeof(id)), ctl_jstr(p, "state"),
                             ctl_jint(p, "partner", partner, sizeof(partner)), dev,
                             ctl_jstr(p, "ip"), json_is_true(m) ? "yes" : "no"};
        ctl_table_add(t, row);
      }
      ctl_table_print(t);
      ctl_table_free(t);
      printf("%zu peer%s\n", json_array_size(list), json_array_size(list) == 1 ? "" : "s");
    }
  }
  json_decref(j);
  ctl_resp_free(&r);
  return rc;
}

static int cmd_pairs(struct ctl *c, int argc, char **argv) {
  size_t np;
  int rc = parse_args(c, argc, argv, NULL, NULL, 0, &np);
  if (rc || (rc = settle(c)))
    return rc;
  struct ctl_resp r;
  json_t *j = NULL, *list;
  if (!(rc = call_json(c, "GET", "/api/pairs", NULL, &r, &j))) {
    if (!(list = jarray(j, "pairs"))) {
      rc = no_array(c, "pairs");
    } else if (c->json) {
      print_verbatim(&r);
    } else if (!json_array_size(list)) {
      printf("no live pairs\n");
    } else {
      static const char *const heads[] = {"A", "B", "SINCE (UTC)", "FOR"};
      struct ctl_table *t = ctl_table_new(4, heads);
      int64_t now = (int64_t)time(NULL) * 1000;
      size_t i;
      json_t *p;
      json_array_foreach(list, i, p) {
        char a[24], b[24], since[32], span[32];
        int64_t ms = ctl_jint64(p, "since_ms");
        const char *row[] = {ctl_jint(p, "a", a, sizeof(a)), ctl_jint(p, "b", b, sizeof(b)),
                             ctl_time(ms, since, sizeof(since)),
                             ms ? ctl_span((now - ms) / 1000, span, sizeof(span)) : "-"};
        ctl_table_add(t, row);
      }
      ctl_table_print(t);
      ctl_table_free(t);
      printf("%zu pair%s\n", json_array_size(list), json_array_size(list) == 1 ? "" : "s");
    }
  }
  json_decref(j);
  ctl_resp_free(&r);
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
  int rc = parse_args(c, argc, argv, own, pos, 1, &np);
  if (rc || (rc = parse_id(c, np ? pos[0] : NULL, "the peer's ID", &id)))
    return rc;
  if (!file)
    return usage(c, "give -o FILE (or -o - for stdout)%s", "");
  if ((age && (rc = parse_num(c, age, "--max-age", 0, 86400000, &vage))) ||
      (side && (rc = parse_num(c, side, "--max-side", 0, 4096, &vside))))
    return rc;
  if (vside > 0 && vside < 16)
    return usage(c, "--max-side is 0 (as sent) or 16-4096, not %s", side);
  if ((rc = settle(c)) || (rc = refuse_terminal(c, file, "a JPEG")))
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
  int rc = parse_args(c, argc, argv, own, pos, 1, &np);
  if (rc || (rc = parse_id(c, np ? pos[0] : NULL, "the peer's ID", &id)) || (rc = settle(c)))
    return rc;
  json_t *body = reason ? json_pack("{s:s}", "reason", reason) : json_object();
  if (!body)
    return usage(c, "--reason must be UTF-8 text%s", "");
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
  int rc = parse_args(c, argc, argv, own, NULL, 0, &np);
  if (rc)
    return rc;
  if (!!peer + !!device + !!ip + !!net != 1)
    return usage(c, "give exactly one of --peer ID, --device HEX, --ip ADDR, --ip6-64 NET%s", "");
  if (device_only && !peer)
    return usage(c, "--device-only goes with --peer%s", "");
  long long secs = 0;
  if (dur && (rc = parse_duration(c, dur, &secs)))
    return rc;
  if (reason && strlen(reason) > 1000)
    return usage(c, "--reason is at most 1000 bytes%s", "");
  json_t *body = json_pack("{s:I}", "duration_s", (json_int_t)secs);
  if (!body)
    return ctl_fail(c, CTL_FAILED, "out of memory");
  if (reason && json_object_set_new(body, "reason", json_string(reason))) {
    json_decref(body);
    return usage(c, "--reason must be UTF-8 text%s", "");
  }
  int64_t pid;
  unsigned char tmp[16];
  if (peer) {
    if ((rc = parse_id(c, peer, "--peer", &pid))) {
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
      return usage(c, device ? "--device is 32 hex digits, not %s"
                      : ip   ? "--ip is an IPv4 or IPv6 address, not %s"
                             : "--ip6-64 is an IPv6 /64 (2001:db8:1:2::/64) or an address "
                               "in it, not %s",
                   target);
    }
    json_object_set_new(body, "kind", json_string(kind));
    json_object_set_new(body, "target", json_string(target));
  }
  if ((rc = settle(c))) {
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
  int rc = parse_args(c, argc, argv, NULL, pos, 1, &np);
  if (rc || (rc = parse_id(c, np ? pos[0] : NULL, "the ban's ID", &id)) || (rc = settle(c)))
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

static int cmd_bans(struct ctl *c, int argc, char **argv) {
  const char *kind = NULL;
  bool all = false;
  const struct opt own[] = {{"--all", NULL, NULL, &all}, {"--kind", NULL, &kind, NULL},
                            {NULL, NULL, NULL, NULL}};
  size_t np;
  int rc = parse_args(c, argc, argv, own, NULL, 0, &np);
  if (rc)
    return rc;
  if (kind && strcmp(kind, "device") && strcmp(kind, "ip") && strcmp(kind, "ip6_64"))
    return usage(c, "--kind is device, ip or ip6_64, not %s", kind);
  if ((rc = settle(c)))
    return rc;
  json_t *acc = json_array();
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
  int rc = parse_args(c, argc, argv, own, NULL, 0, &np);
  if (rc || (limit && (rc = parse_num(c, limit, "--limit", 1, 1000, &n))))
    return rc;
  if (state && strcmp(state, "open") && strcmp(state, "resolved") && strcmp(state, "any"))
    return usage(c, "--state is open, resolved or any, not %s", state);
  if ((rc = settle(c)))
    return rc;
  char path[96];
  snprintf(path, sizeof(path), "/api/reports?state=%s&limit=%lld", state ? state : "open", n);
  struct ctl_resp r;
  json_t *j = NULL, *list;
  if (!(rc = call_json(c, "GET", path, NULL, &r, &j))) {
    if (!(list = jarray(j, "reports"))) {
      rc = no_array(c, "reports");
    } else if (c->json) {
      print_verbatim(&r);
    } else if (!json_array_size(list)) {
      printf("no %s reports\n", state && !strcmp(state, "any") ? "" : state ? state : "open");
    } else {
      static const char *const heads[] = {"ID",       "TIME (UTC)", "STATE", "REASON",
                                          "REPORTED", "EVIDENCE",   "NOTE"};
      struct ctl_table *t = ctl_table_new(7, heads);
      size_t i;
      json_t *p;
      json_array_foreach(list, i, p) {
        char id[24], when[32], who[48];
        json_t *ev = json_object_get(p, "evidence");
        bool jpg = json_is_string(json_object_get(ev, "jpeg")),
             webm = json_is_string(json_object_get(ev, "webm"));
        side_text(json_object_get(p, "reported"), who, sizeof(who));
        const char *row[] = {ctl_jint(p, "id", id, sizeof(id)),
                             ctl_time(ctl_jint64(p, "time_ms"), when, sizeof(when)),
                             ctl_jstr(p, "state"), ctl_jstr(p, "reason"), who,
                             jpg && webm ? "jpeg+webm" : jpg ? "jpeg" : webm ? "webm" : "-",
                             ctl_jstr(p, "note")};
        ctl_table_add(t, row);
      }
      ctl_table_print(t);
      ctl_table_free(t);
      printf("%zu report%s%s\n", json_array_size(list), json_array_size(list) == 1 ? "" : "s",
             json_is_integer(json_object_get(j, "next_before_id")) ? " (more: raise --limit)"
                                                                   : "");
    }
  }
  json_decref(j);
  ctl_resp_free(&r);
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
  int rc = parse_args(c, argc, argv, own, pos, 1, &np);
  if (rc || (rc = parse_id(c, np ? pos[0] : NULL, "the report's ID", &id)))
    return rc;
  if (jpeg && clip && !strcmp(jpeg, "-") && !strcmp(clip, "-"))
    return usage(c, "only one of --jpeg and --clip may be - (stdout)%s", "");
  if ((rc = settle(c)) || (rc = refuse_terminal(c, jpeg, "a JPEG")) ||
      (rc = refuse_terminal(c, clip, "a clip")))
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
  int rc = parse_args(c, argc, argv, own, pos, 1, &np);
  if (rc || (rc = parse_id(c, np ? pos[0] : NULL, "the report's ID", &id)))
    return rc;
  if (!res)
    res = "dismissed";
  if (!*res || strlen(res) > 200)
    return usage(c, "--resolution is 1-200 bytes of text%s", "");
  if ((rc = settle(c)))
    return rc;
  json_t *body = json_pack("{s:s}", "resolution", res);
  if (!body)
    return usage(c, "--resolution must be UTF-8 text%s", "");
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
  int rc = parse_args(c, argc, argv, own, NULL, 0, &np);
  if (rc || (limit && (rc = parse_num(c, limit, "--limit", 1, 1000, &n))) || (rc = settle(c)))
    return rc;
  char path[64];
  snprintf(path, sizeof(path), "/api/audit?limit=%lld", n);
  struct ctl_resp r;
  json_t *j = NULL, *list;
  if (!(rc = call_json(c, "GET", path, NULL, &r, &j))) {
    if (!(list = jarray(j, "audit"))) {
      rc = no_array(c, "audit");
    } else if (c->json) {
      print_verbatim(&r);
    } else if (!json_array_size(list)) {
      printf("the audit log is empty\n");
    } else {
      static const char *const heads[] = {"ID",     "TIME (UTC)", "ACTOR",
                                          "ACTION", "TARGET",     "DETAILS"};
      struct ctl_table *t = ctl_table_new(6, heads);
      size_t i;
      json_t *e;
      json_array_foreach(list, i, e) {
        char id[24], when[32];
        json_t *d = json_object_get(e, "details");
        char *ds = d ? json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        const char *row[] = {ctl_jint(e, "id", id, sizeof(id)),
                             ctl_time(ctl_jint64(e, "time_ms"), when, sizeof(when)),
                             ctl_jstr(e, "actor"), ctl_jstr(e, "action"), ctl_jstr(e, "target"),
                             ds ? ds : "-"};
        ctl_table_add(t, row);
        free(ds);
      }
      ctl_table_print(t);
      ctl_table_free(t);
      printf("%zu entr%s%s\n", json_array_size(list), json_array_size(list) == 1 ? "y" : "ies",
             json_is_integer(json_object_get(j, "next_before_id")) ? " (more: raise --limit)"
                                                                   : "");
    }
  }
  json_decref(j);
  ctl_resp_free(&r);
  return rc;
}

static const struct {
  const char *name;
  int (*fn)(struct ctl *, int, char **);
} commands[] = {
    {"peers", cmd_peers},     {"pairs", cmd_pairs},     {"snapshot", cmd_snapshot},
    {"kick", cmd_kick},       {"ban", cmd_ban},         {"unban", cmd_unban},
    {"bans", cmd_bans},       {"reports", cmd_reports}, {"report", cmd_report},
    {"resolve", cmd_resolve}, {"audit", cmd_audit},
};

int main(int argc, char **argv) {
  struct ctl c = {0};
  /* The global options before the command. */
  int i = 1;
  for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
    const char *a = argv[i];
    const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    const struct opt *o = find_opt(globals, a, len);
    if (!o) {
      char name[64];
      snprintf(name, sizeof(name), "%.*s", (int)(len < 60 ? len : 60), a);
      return usage(NULL, "unknown option: %s", name);
    }
    if (o->flag && eq)
      return usage(NULL, "%s takes no value", o->name);
    if (o->flag)
      *o->flag = true;
    else if (eq)
      *o->val = eq + 1;
    else if (i + 1 < argc)
      *o->val = argv[++i];
    else
      return usage(NULL, "%s needs a value", o->name);
  }
  if (g_help || (i < argc && !strcmp(argv[i], "help"))) {
    fputs(usage_text, stdout);
    return CTL_OK;
  }
  if (i == argc)
    return usage(NULL, "no command given%s", "");
  int rc = -1;
  for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
    if (!strcmp(argv[i], commands[k].name)) {
      c.cmd = commands[k].name;
      if (curl_global_init(CURL_GLOBAL_DEFAULT))
        return ctl_fail(&c, CTL_FAILED, "cannot start libcurl");
      rc = commands[k].fn(&c, argc - i - 1, argv + i + 1);
      if (rc == CTL_HELP) {
        fputs(usage_text, stdout);
        rc = CTL_OK;
      }
      ctl_close(&c);
      curl_global_cleanup();
      break;
    }
  free(g_url_buf);
  if (rc < 0)
    return usage(NULL, "unknown command: %s", argv[i]);
  if (fflush(stdout) && rc == CTL_OK)
    return ctl_fail(&c, CTL_FAILED, "cannot write to stdout: %s", strerror(errno));
  return rc;
}
