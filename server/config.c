/* config.c -- table-driven configuration: every key is a file key, a flag and an env var. */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum type { T_STR, T_INT, T_BOOL };

struct key {
  const char *name;
  enum type type;
  size_t off, size;
  const char *def;
  const char *help;
};

#define S(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)
static const struct key keys[] = {
    {"http_addr", T_STR, S(http_addr), "0.0.0.0", "address for HTTP/WebSocket"},
    {"http_port", T_INT, S(http_port), "8080", "port for HTTP/WebSocket"},
    {"media_addr", T_STR, S(media_addr), "0.0.0.0", "address for the UDP media port"},
    {"media_port", T_INT, S(media_port), "40000", "UDP media port (0 = any)"},
    {"media_workers", T_INT, S(media_workers), "0", "media worker threads, each with its own UDP port media_port+i, 0-256 (0 = one per core, at most 256)"},
    {"media_poll_pps", T_INT, S(media_poll_pps), "3000", "above this many datagrams/s a worker polls its socket every media_poll_ms (0 = never)"},
    {"media_poll_ms", T_INT, S(media_poll_ms), "2", "the period of that polling, 1-20 ms: longer means fewer wake-ups and more latency"},
    {"public_ip", T_STR, S(public_ip), "", "IP advertised to browsers (empty = detect)"},
    {"data_dir", T_STR, S(data_dir), "./data", "where the server keeps its data"},
    {"log_level", T_STR, S(log_level), "info", "error, warn, info or debug"},
    {"web_dir", T_STR, S(web_dir), "", "serve the web client from here (empty = built in)"},
    {"silence_ms", T_INT, S(silence_ms), "3000", "media silent this long ends a pair"},
    {"grace_ms", T_INT, S(grace_ms), "10000", "a dropped WebSocket may resume within this"},
    {"connect_timeout_ms", T_INT, S(connect_timeout_ms), "20000", "ICE+DTLS deadline"},
    {"max_peers", T_INT, S(max_peers), "5000", "connections beyond this are refused"},
    {"drain_timeout_ms", T_INT, S(drain_timeout_ms), "600000", "on SIGTERM, wait this long for calls to end"},
    {"trust_proxy", T_BOOL, S(trust_proxy), "false", "trust X-Forwarded-For (behind a load balancer)"},
    {"match_widen_ms", T_INT, S(match_widen_ms), "5000", "wait before common-interest matching widens to anyone"},
    {"match_recent_k", T_INT, S(match_recent_k), "5", "how many last partners are not offered again"},
    {"match_rematch_cooldown_ms", T_INT, S(match_rematch_cooldown_ms), "600000", "... within this"},
    {"match_rematch_lonely_ms", T_INT, S(match_rematch_lonely_ms), "10000", "... unless nobody else came for this long"},
    {"match_next_limit", T_INT, S(match_next_limit), "20", "Nexts allowed per window (0 = no limit)"},
    {"match_next_window_ms", T_INT, S(match_next_window_ms), "60000", "the Next window"},
    {"match_next_cooldown_ms", T_INT, S(match_next_cooldown_ms), "10000", "cool-down earned by too many Nexts"},
    {"chat_burst", T_INT, S(chat_burst), "5", "chat messages allowed in a burst"},
    {"chat_per_sec", T_INT, S(chat_per_sec), "1", "chat messages per second after the burst"},
    {"config", T_STR, S(config_file), "", "configuration file of key = value lines"},
    /* Limits against hostile clients (docs/security.md). */
    {"ws_origins", T_STR, S(ws_origins), "", "origins whose pages may open /ws, e.g. https://chat.example (empty = the page's own; * = any)"},
    {"max_connections", T_INT, S(max_connections), "0", "HTTP/WebSocket connections at once (0 = as many as the descriptor limit allows, less a reserve for /healthz)"},
    {"max_conns_per_ip", T_INT, S(max_conns_per_ip), "64", "connections per client address, IPv6 per /64 (0 = no limit)"},
    {"max_visitors_per_ip", T_INT, S(max_visitors_per_ip), "32", "visitors per client address, connected or in grace (0 = no limit)"},
    {"hello_timeout_ms", T_INT, S(hello_timeout_ms), "10000", "a WebSocket that sends no hello within this is closed"},
    {"offer_timeout_ms", T_INT, S(offer_timeout_ms), "10000", "a visitor without media that sends no offer within this of its welcome is closed"},
    {"ready_timeout_ms", T_INT, S(ready_timeout_ms), "30000", "a visitor whose media is not flowing within this of its offer is closed"},
};
#undef S
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key *find_key(const char *name, size_t len) {
  for (size_t i = 0; i < NKEYS; i++) {
    if (strlen(keys[i].name) != len)
      continue;
    bool same = true;
    for (size_t j = 0; j < len && same; j++) {
      char c = name[j] == '-' ? '_' : (char)tolower((unsigned char)name[j]);
      same = c == keys[i].name[j];
    }
    if (same)
      return &keys[i];
  }
  return NULL;
}

static int set_value(struct config *c, const struct key *k, const char *v, char *err, size_t errlen,
                     const char *where) {
  char *dst = (char *)c + k->off;
  switch (k->type) {
  case T_STR:
    if (strlen(v) >= k->size) {
      snprintf(err, errlen, "%s: %s is too long", where, k->name);
      return -EINVAL;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
  case T_INT: {
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 0 || n > 100000000) {
      snprintf(err, errlen, "%s: %s: '%s' is not a number in range", where, k->name, v);
      return -EINVAL;
    }
    *(int *)dst = (int)n;
    return 0;
  }
  case T_BOOL:
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"))
      *(bool *)dst = true;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off"))
      *(bool *)dst = false;
    else {
      snprintf(err, errlen, "%s: %s: '%s' is not true/false", where, k->name, v);
      return -EINVAL;
    }
    return 0;
  }
  return -EINVAL;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = 0;
  return s;
}

static int load_file(struct config *c, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
    return -EINVAL;
  }
  char line[1024];
  int lineno = 0, rc = 0;
  while (rc == 0 && fgets(line, sizeof(line), f)) {
    lineno++;
    char *l = trim(line);
    if (*l == 0 || *l == '#')
      continue;
    char *eq = strchr(l, '=');
    char where[300];
    snprintf(where, sizeof(where), "%s:%d", path, lineno);
    if (!eq) {
      snprintf(err, errlen, "%s: expected key = value", where);
      rc = -EINVAL;
      break;
    }
    *eq = 0;
    char *name = trim(l), *val = trim(eq + 1);
    size_t vl = strlen(val);
    if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
      val[vl - 1] = 0;
      val++;
    }
    const struct key *k = find_key(name, strlen(name));
    if (!k || !strcmp(k->name, "config")) {
      snprintf(err, errlen, "%s: unknown key '%s'", where, name);
      rc = -EINVAL;
      break;
    }
    rc = set_value(c, k, val, err, errlen, where);
  }
  fclose(f);
  return rc;
}

static void usage(void) {
  printf("usage: tandem [--key=value ...]\n\nEvery key is also a config-file key and an "
         "environment variable TANDEM_KEY.\n\n");
  for (size_t i = 0; i < NKEYS; i++) {
    char flag[64];
    snprintf(flag, sizeof(flag), "--%s", keys[i].name);
    for (char *p = flag + 2; *p; p++)
      if (*p == '_')
        *p = '-';
    printf("  %-24s %s (default: %s)\n", flag, keys[i].help, *keys[i].def ? keys[i].def : "\"\"");
  }
  printf("  %-24s %s\n", "--print-config", "print the effective configuration and exit");
}

int config_load(struct config *c, int argc, char **argv, char *err, size_t errlen) {
  memset(c, 0, sizeof(*c));
  for (size_t i = 0; i < NKEYS; i++)
    set_value(c, &keys[i], keys[i].def, err, errlen, "default");

  /* The file comes first so environment and flags override it; find its name early. */
  const char *file = getenv("TANDEM_CONFIG");
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--config=", 9))
      file = argv[i] + 9;
    else if (!strcmp(argv[i], "--config") && i + 1 < argc)
      file = argv[i + 1];
  }
  if (file && *file) {
    snprintf(c->config_file, sizeof(c->config_file), "%s", file);
    int rc = load_file(c, file, err, errlen);
    if (rc)
      return rc;
  }
  for (size_t i = 0; i < NKEYS; i++) {
    char env[64] = "TANDEM_";
    size_t n = strlen(env);
    for (const char *p = keys[i].name; *p && n < sizeof(env) - 1; p++)
      env[n++] = (char)toupper((unsigned char)*p);
    env[n] = 0;
    const char *v = getenv(env);
    if (v && strcmp(keys[i].name, "config") != 0) {
      int rc = set_value(c, &keys[i], v, err, errlen, env);
      if (rc)
        return rc;
    }
  }
  bool print = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage();
      return 1;
    }
    if (!strcmp(a, "--print-config")) {
      print = true;
      continue;
    }
    if (strncmp(a, "--", 2) != 0) {
      snprintf(err, errlen, "unexpected argument '%s' (flags look like --key=value)", a);
      return -EINVAL;
    }
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t nl = eq ? (size_t)(eq - name) : strlen(name);
    const struct key *k = find_key(name, nl);
    if (!k) {
      snprintf(err, errlen, "unknown flag '%.*s' (see --help)", (int)(nl + 2), a);
      return -EINVAL;
    }
    const char *v = eq ? eq + 1 : NULL;
    if (!v) {
      if (k->type == T_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0))
        v = "true";
      else if (i + 1 < argc)
        v = argv[++i];
      else {
        snprintf(err, errlen, "flag --%s needs a value", k->name);
        return -EINVAL;
      }
    }
    if (!strcmp(k->name, "config"))
      continue;
    int rc = set_value(c, k, v, err, errlen, "flag");
    if (rc)
      return rc;
  }
  if (c->http_port > 65535 || c->media_port > 65535) {
    snprintf(err, errlen, "ports must be at most 65535");
    return -EINVAL;
  }
  if (c->media_workers < 0 || c->media_workers > 256) {
    snprintf(err, errlen, "media_workers must be 0 (one per core) to 256");
    return -EINVAL;
  }
  if (c->media_poll_ms < 1 || c->media_poll_ms > 20) {
    snprintf(err, errlen, "media_poll_ms must be 1 to 20 (milliseconds)");
    return -EINVAL;
  }
  if (print) {
    config_print(c, stdout);
    return 1;
  }
  return 0;
}

void config_print(const struct config *c, void *file) {
  FILE *f = file;
  for (size_t i = 0; i < NKEYS; i++) {
    const char *p = (const char *)c + keys[i].off;
    switch (keys[i].type) {
    case T_STR: fprintf(f, "%s = \"%s\"\n", keys[i].name, p); break;
    case T_INT: fprintf(f, "%s = %d\n", keys[i].name, *(const int *)p); break;
    case T_BOOL: fprintf(f, "%s = %s\n", keys[i].name, *(const bool *)p ? "true" : "false"); break;
    }
  }
}
