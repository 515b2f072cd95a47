/* ctl_args.c -- tandemctl's command line: the usage, options (a command's own and the global
 * ones), the settings from flags and the environment, and the checks of ids, numbers and
 * durations made before anything is sent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tools/ctl.h"

const char ctl_usage_text[] =
    "usage: tandemctl [--url URL] [--token TOKEN] [--json] [--actor NAME] [--timeout S]\n"
    "                 [--node N] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  nodes                            the live nodes of the cluster: admin URL, version,\n"
    "                                   visitors, pairs, the matcher, draining\n"
    "  peers                            live peers (of every node)\n"
    "  pairs                            live pairs (of every node)\n"
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
    "                                   reports of every node, newest first (open, 100 by\n"
    "                                   default)\n"
    "  report ID [--jpeg FILE] [--clip FILE]\n"
    "                                   one report; saves its evidence picture or clip\n"
    "  resolve ID [--resolution TEXT]   resolves a report (default resolution: dismissed)\n"
    "  audit [--limit N]                every node's audit log, newest first\n"
    "  help                             this text\n"
    "\n"
    "  --url      the server (default $TANDEM_URL, else http://127.0.0.1:8080)\n"
    "  --token    the admin token (default $TANDEM_ADMIN_TOKEN; prefer the variable: a flag\n"
    "             shows in the process list)\n"
    "  --json     print the server's JSON instead of a table\n"
    "  --actor    your name in the audit log (default tandemctl)\n"
    "  --timeout  seconds a request may take (default 60)\n"
    "  --node     in a cluster: that node alone (its node_id) for peers, pairs, reports,\n"
    "             audit and bans --all\n"
    "\n"
    "In a cluster (redis_url), --url may name any node (or the load balancer): it lists\n"
    "every live node and its admin URL, listings come from every node (a NODE column), and\n"
    "kick, snapshot, ban --peer, report and resolve go to the node in the id (node << 42).\n"
    "Every node must accept the same admin token.\n"
    "\n"
    "exit codes: 0 done; 1 the server refused (or answered nonsense, or a file could not be\n"
    "written); 2 usage; 3 the server cannot be reached; 4 the admin token was refused\n";

/* ---- the command line ---- */

static const char *g_url, *g_token, *g_actor, *g_timeout, *g_node;
static bool g_json, g_help;
static char *g_url_buf;

static const struct opt globals[] = {
    {"--url", NULL, &g_url, NULL},         {"--token", NULL, &g_token, NULL},
    {"--actor", NULL, &g_actor, NULL},     {"--timeout", NULL, &g_timeout, NULL},
    {"--json", NULL, NULL, &g_json},       {"--help", "-h", NULL, &g_help},
    {"--node", NULL, &g_node, NULL},
    {NULL, NULL, NULL, NULL},
};

int ctl_usage(const struct ctl *c, const char *fmt, const char *arg) {
  fputs("tandemctl: ", stderr);
  if (c && c->cmd)
    fprintf(stderr, "%s: ", c->cmd);
  fprintf(stderr, fmt, arg);
  fputs("\n\n", stderr);
  fputs(ctl_usage_text, stderr);
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
int ctl_parse_args(const struct ctl *c, int argc, char **argv, const struct opt *own,
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
        return ctl_usage(c, "unexpected argument: %s", a);
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
      return ctl_usage(c, "unknown option: %s", name);
    }
    if (o->flag) {
      if (eq)
        return ctl_usage(c, "%s takes no value", o->name);
      *o->flag = true;
    } else if (eq) {
      *o->val = eq + 1;
    } else if (i + 1 < argc) {
      *o->val = argv[++i];
    } else {
      return ctl_usage(c, "%s needs a value", o->name);
    }
  }
  return g_help ? CTL_HELP : CTL_OK;
}

/* The settings after parsing: defaults, then checks. */
int ctl_settle(struct ctl *c) {
  const char *url = g_url ? g_url : getenv("TANDEM_URL");
  if (!url || !*url)
    url = "http://127.0.0.1:8080";
  if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
    return ctl_usage(c, "--url must start with http:// or https://, not %s", url);
  for (const char *s = url; *s; s++)
    if ((unsigned char)*s <= ' ' || *s == 0x7f)
      return ctl_usage(c, "--url must not contain spaces or control characters%s", "");
  if (strlen(url) > 2000)
    return ctl_usage(c, "--url is too long%s", "");
  free(g_url_buf);
  if (!(g_url_buf = strdup(url)))
    return ctl_fail(c, CTL_FAILED, "out of memory");
  size_t n = strlen(g_url_buf);
  while (n > 8 && g_url_buf[n - 1] == '/')
    g_url_buf[--n] = 0;
  c->url = g_url_buf;

  c->token = g_token ? g_token : getenv("TANDEM_ADMIN_TOKEN");
  if (c->token && strlen(c->token) > 4096)
    return ctl_usage(c, "the admin token is too long (at most 4096 characters)%s", "");
  for (const char *s = c->token; s && *s; s++)
    if (*s <= ' ' || *s > '~')
      return ctl_usage(c, "the admin token must be printable ASCII without spaces%s", "");

  c->actor = g_actor ? g_actor : "tandemctl";
  size_t al = strlen(c->actor);
  if (al == 0 || al > 64)
    return ctl_usage(c, "--actor is 1-64 printable ASCII characters%s", "");
  for (const char *s = c->actor; *s; s++)
    if (*s < ' ' || *s > '~')
      return ctl_usage(c, "--actor is 1-64 printable ASCII characters%s", "");

  c->timeout_ms = 60000;
  if (g_timeout) {
    char *end;
    errno = 0;
    long t = strtol(g_timeout, &end, 10);
    if (!*g_timeout || *end || errno || t < 1 || t > 3600)
      return ctl_usage(c, "--timeout is 1-3600 seconds, not %s", g_timeout);
    c->timeout_ms = t * 1000;
  }
  c->json = g_json;
  c->only_node = 0;
  if (g_node) {
    char *end;
    errno = 0;
    long nv = strtol(g_node, &end, 10);
    if (*g_node < '1' || *g_node > '9' || *end || errno || nv < 1 || nv > 1023)
      return ctl_usage(c, "--node is a node_id, 1-1023, not %s", g_node);
    c->only_node = (unsigned)nv;
  }
  return CTL_OK;
}

/* A decimal id, 1 to 2^63-1. */
int ctl_parse_id(const struct ctl *c, const char *s, const char *what, int64_t *out) {
  char *end;
  errno = 0;
  if (!s)
    return ctl_usage(c, "missing %s", what);
  long long v = strtoll(s, &end, 10);
  if (*s < '0' || *s > '9' || *end || errno || v <= 0)
    return ctl_usage(c, "not an id (a positive decimal number): %s", s);
  *out = v;
  return CTL_OK;
}

/* A number in [lo, hi]. */
int ctl_parse_num(const struct ctl *c, const char *s, const char *opt, long long lo,
                     long long hi, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*s < '0' || *s > '9' || *end || errno || v < lo || v > hi) {
    char msg[160];
    snprintf(msg, sizeof(msg), "%s is a number from %lld to %lld, not %%s", opt, lo, hi);
    return ctl_usage(c, msg, s);
  }
  *out = v;
  return CTL_OK;
}

#define TEN_YEARS_S (10LL * 366 * 86400) /* the server's bound (docs/admin-api.md) */

/* "30m", "24h", "7d", "3600", "90s" or "permanent" (0) as seconds. */
int ctl_parse_duration(const struct ctl *c, const char *s, long long *out) {
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
    return ctl_usage(c, "--duration is like 30m, 24h, 7d, 3600 (seconds) or permanent, at most "
                    "10 years; not %s", s);
  *out = v * mul;
  return CTL_OK;
}

int ctl_parse_globals(int argc, char **argv, int *next) {
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
      return ctl_usage(NULL, "unknown option: %s", name);
    }
    if (o->flag && eq)
      return ctl_usage(NULL, "%s takes no value", o->name);
    if (o->flag)
      *o->flag = true;
    else if (eq)
      *o->val = eq + 1;
    else if (i + 1 < argc)
      *o->val = argv[++i];
    else
      return ctl_usage(NULL, "%s needs a value", o->name);
  }
  *next = i;
  return CTL_OK;
}

bool ctl_help_asked(void) { return g_help; }

void ctl_args_free(void) {
  free(g_url_buf);
  g_url_buf = NULL;
}
