/* config.c -- table-driven configuration: every key is a file key, a flag and an env var. */
#include "server/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/addrlist.h"
#include "server/nodewire.h"
#include "server/redis_url.h"
#include "server/version.h"

enum type { T_STR, T_INT, T_BOOL };

/* A string key's rule: 0, or -EINVAL with the reason (what follows "'value' ") in why. */
typedef int (*check_fn)(const char *v, char *why, size_t len);

struct key {
  const char *name;
  enum type type;
  size_t off, size;
  const char *def;
  const char *help;
  long min, max;  /* T_INT: the range, named in errors and in --help */
  bool zero_ok;   /* T_INT: 0 (off) is allowed besides the range */
  check_fn check; /* T_STR: NULL = any text without control characters but \n and \t */
};

static int check_bind_ip(const char *v, char *why, size_t len);
static int check_bind_ip6(const char *v, char *why, size_t len);
static int check_http_addr(const char *v, char *why, size_t len);
static int check_public_ip(const char *v, char *why, size_t len);
static int check_log_level(const char *v, char *why, size_t len);
static int check_log_format(const char *v, char *why, size_t len);
static int check_transports(const char *v, char *why, size_t len);
static int check_metrics_addr(const char *v, char *why, size_t len);
static int check_admin_token(const char *v, char *why, size_t len);
static int check_autoban_steps(const char *v, char *why, size_t len);
static int check_classifier_url(const char *v, char *why, size_t len);
static int check_redis_url(const char *v, char *why, size_t len);
static int check_relay_addr(const char *v, char *why, size_t len);
static int check_admin_url(const char *v, char *why, size_t len);

#define S(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define R(lo, hi) .min = (lo), .max = (hi)
#define R0(lo, hi) .min = (lo), .max = (hi), .zero_ok = true
#define DAY_MS 86400000L
/* Entries give only the fields they use: a range for numbers, a rule for some strings. A
 * number without a range (min = max = 0) takes 0 to 100000000. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct key keys[] = {
    {"http_addr", T_STR, S(http_addr), "0.0.0.0", "address for HTTP/WebSocket (an IP address or localhost)", .check = check_http_addr},
    {"http_port", T_INT, S(http_port), "8080", "port for HTTP/WebSocket (0 = any free port)", R(0, 65535)},
    {"tls_cert", T_STR, S(tls_cert), "", "PEM certificate (chain) file: http_port serves HTTPS and WSS; reloaded on SIGHUP (empty = plain HTTP)"},
    {"tls_key", T_STR, S(tls_key), "", "PEM private key file of tls_cert (both or neither)"},
    {"http_redirect_port", T_INT, S(http_redirect_port), "0", "with TLS: a plain-HTTP port answering 308 to https:// on http_port (0 = off)", R(0, 65535)},
    {"media_addr", T_STR, S(media_addr), "0.0.0.0", "address for the media ports, UDP and ICE-TCP (an IP address)", .check = check_bind_ip},
    {"media_addr6", T_STR, S(media_addr6), "::", "IPv6 address for the media ports when public_ip lists an IPv6 address and media_addr is IPv4 (same port numbers, IPv6-only sockets)", .check = check_bind_ip6},
    {"media_port", T_INT, S(media_port), "40000", "UDP port of the first media worker; worker i uses media_port+i (0 = any)", R(0, 65535)},
    {"media_workers", T_INT, S(media_workers), "0", "media worker threads, each with its own UDP port (0 = one per core, at most 256)", R(0, 256)},
    {"media_poll_pps", T_INT, S(media_poll_pps), "3000", "above this many datagrams/s a worker polls its socket every media_poll_ms (0 = never)", R(0, 100000000)},
    {"media_transports", T_STR, S(media_transports), "both", "media transports offered to browsers: udp, tcp (ICE-TCP on the same port numbers) or both", .check = check_transports},
    {"media_av_sync", T_BOOL, S(media_av_sync), "true", "answers put a visitor's audio and video in one stream, so browsers keep them in lip sync, holding video back to the audio's jitter buffer; false = separate streams: a new partner's face shows sooner (bench/README.md: Next-to-face p95 287 -> 206 ms) and lip sync is left to chance"},
    {"media_on_https_port", T_BOOL, S(media_on_https_port), "true", "with tls_cert: http_port also takes ICE-TCP media, told from HTTPS by its first bytes, and is offered to browsers as a last-resort TCP candidate, so a network that lets only TCP to that port through still gets a call; below port 1024 Chromium takes such a candidate only on 80 or 443 at a public address, Firefox on any port (false = HTTPS only)"},
    {"media_poll_ms", T_INT, S(media_poll_ms), "2", "the period of that polling: longer means fewer wake-ups and more latency", R(1, 20)},
    {"media_record_ms", T_INT, S(media_record_ms), "10000", "evidence clips: ms of each session's recent media its worker keeps (0.45 MiB a peer at 10 s and 300 kbit/s, at most 1.5 MiB; 0 = off)", R0(2000, 60000)},
    {"public_ip", T_STR, S(public_ip), "", "IP addresses advertised to browsers in ICE candidates, comma-separated, the preferred first (at most 4, IPv4 and IPv6; empty = the first non-loopback IPv4 and the first global IPv6)", .check = check_public_ip},
    {"data_dir", T_STR, S(data_dir), "./data", "where the server keeps its data"},
    {"log_level", T_STR, S(log_level), "info", "error, warn, info or debug", .check = check_log_level},
    {"log_format", T_STR, S(log_format), "text", "text (one line per event) or json (one object per line)", .check = check_log_format},
    {"log_ips", T_BOOL, S(log_ips), "false", "write visitors' IP addresses in the logs"},
    {"metrics_addr", T_STR, S(metrics_addr), "", "serve /metrics on this ip:port instead of the public port (empty = public port)", .check = check_metrics_addr},
    {"web_dir", T_STR, S(web_dir), "", "serve the web client from here (empty = built in)"},
    {"silence_ms", T_INT, S(silence_ms), "3000", "media silent this long ends a pair", R(500, 600000)},
    {"grace_ms", T_INT, S(grace_ms), "10000", "a dropped WebSocket may resume within this", R(0, 3600000)},
    {"connect_timeout_ms", T_INT, S(connect_timeout_ms), "20000", "ICE+DTLS deadline", R(1000, 600000)},
    {"max_peers", T_INT, S(max_peers), "5000", "connections beyond this are refused", R(1, 1000000)},
    {"drain_timeout_ms", T_INT, S(drain_timeout_ms), "600000", "on SIGTERM, wait this long for calls to end", R(0, DAY_MS)},
    {"trust_proxy", T_BOOL, S(trust_proxy), "false", "take the visitor's address from the last X-Forwarded-For hop (behind a load balancer)"},
    {"match_widen_ms", T_INT, S(match_widen_ms), "5000", "wait before common-interest matching widens to anyone", R(0, DAY_MS)},
    {"match_recent_k", T_INT, S(match_recent_k), "5", "how many last partners are not offered again", R(0, 64)},
    {"match_rematch_cooldown_ms", T_INT, S(match_rematch_cooldown_ms), "600000", "a remembered partner is not offered again for this long ...", R(0, DAY_MS)},
    {"match_rematch_lonely_ms", T_INT, S(match_rematch_lonely_ms), "10000", "... unless nobody else came for this long", R(0, DAY_MS)},
    {"match_same_node_ms", T_INT, S(match_same_node_ms), "300", "with redis_url: a partner on the same node is as good as one who waited up to this much longer (0 = off)", R(0, 60000)},
    {"match_next_limit", T_INT, S(match_next_limit), "20", "Nexts allowed per window (0 = no limit)", R(0, 1000000)},
    {"match_next_window_ms", T_INT, S(match_next_window_ms), "60000", "the Next window", R(1, DAY_MS)},
    {"match_next_cooldown_ms", T_INT, S(match_next_cooldown_ms), "10000", "cool-down earned by too many Nexts", R(0, DAY_MS)},
    {"chat_burst", T_INT, S(chat_burst), "5", "chat messages allowed in a burst", R(1, 1000)},
    {"chat_per_sec", T_INT, S(chat_per_sec), "1", "chat messages per second after the burst (0 = only the burst, once)", R(0, 1000)},
    {"terms_text", T_STR, S(terms_text), "", "the terms/18+ notice shown before a visitor's first Start (empty = the page's default)"},
    {"config", T_STR, S(config_file), "", "configuration file of key = value lines"},
    /* Limits against hostile clients (docs/security.md). */
    {"ws_origins", T_STR, S(ws_origins), "", "origins whose pages may open /ws, e.g. https://chat.example (empty = the page's own; * = any)"},
    {"max_connections", T_INT, S(max_connections), "0", "HTTP/WebSocket connections at once (0 = as many as the descriptor limit allows, less a reserve for /healthz)", R(0, 1000000)},
    {"max_conns_per_ip", T_INT, S(max_conns_per_ip), "64", "connections per client address, IPv6 per /64 (0 = no limit)", R(0, 1000000)},
    {"max_visitors_per_ip", T_INT, S(max_visitors_per_ip), "32", "visitors per client address, connected or in grace (0 = no limit)", R(0, 1000000)},
    {"hello_timeout_ms", T_INT, S(hello_timeout_ms), "10000", "a WebSocket that sends no hello within this is closed (0 = never)", R(0, 600000)},
    {"offer_timeout_ms", T_INT, S(offer_timeout_ms), "10000", "a visitor without media that sends no offer within this of its welcome is closed (0 = never)", R(0, 600000)},
    {"ready_timeout_ms", T_INT, S(ready_timeout_ms), "30000", "a visitor whose media is not flowing within this of its offer is closed (0 = never)", R(0, 600000)},
    {"offers_per_min", T_INT, S(offers_per_min), "10", "offers (each a media session and a DTLS handshake) one visitor may make a minute, half of them at once (0 = no limit)", R(0, 100000)},
    {"resumes_per_min", T_INT, S(resumes_per_min), "20", "resumes of one visit a minute, half of them at once (0 = no limit)", R(0, 100000)},
    {"offers_per_min_per_ip", T_INT, S(offers_per_min_per_ip), "120", "offers from one client address (IPv6: /64) a minute, half of them at once (0 = no limit; load tests from one machine need 0)", R(0, 1000000)},
    /* Moderation (docs/admin-api.md, docs/moderation.md). */
    {"admin_token", T_STR, S(admin_token), "", "bearer token of the admin API (/api/) and the console (/admin); empty = both off", .check = check_admin_token},
    {"snapshot_max_age_ms", T_INT, S(snapshot_max_age_ms), "5000", "a snapshot this recent is answered from the cache; older ones ask the browser for a fresh keyframe", R(0, 600000)},
    {"snapshot_timeout_ms", T_INT, S(snapshot_timeout_ms), "2000", "how long a snapshot waits for that keyframe", R(100, 60000)},
    {"snapshot_threads", T_INT, S(snapshot_threads), "1", "low-priority threads that decode and encode snapshots and evidence", R(1, 64)},
    {"snapshot_max_jobs", T_INT, S(snapshot_max_jobs), "64", "snapshots in progress at once (more are refused with 503)", R(1, 100000)},
    {"report_max", T_INT, S(report_max), "5", "reports one visitor may send within report_window_ms", R(1, 8)},
    {"report_window_ms", T_INT, S(report_window_ms), "600000", "the report window", R(1000, DAY_MS)},
    {"autoban_threshold", T_INT, S(autoban_threshold), "3", "reports from this many distinct people (devices and networks) within autoban_window_ms ban a device", R(1, 64)},
    {"autoban_window_ms", T_INT, S(autoban_window_ms), "3600000", "the automatic ban window", R(60000, 30 * DAY_MS)},
    {"autoban_steps", T_STR, S(autoban_steps), "1h,24h,7d,permanent", "length of the 1st, 2nd, ... automatic ban of a device (s, m, h, d or permanent; the last repeats)", .check = check_autoban_steps},
    {"classifier_url", T_STR, S(classifier_url), "", "POST a JPEG snapshot of every live visitor to this http(s) URL each classifier_interval_ms; its answer may kick or ban (empty = off)", .check = check_classifier_url},
    {"classifier_interval_ms", T_INT, S(classifier_interval_ms), "10000", "how often each live visitor is sent to the classifier (spread over the interval)", R(1000, 3600000)},
    {"classifier_token", T_STR, S(classifier_token), "", "bearer token sent to the classifier (empty = no Authorization header)", .check = check_admin_token},
    {"classifier_timeout_ms", T_INT, S(classifier_timeout_ms), "3000", "how long one request to the classifier may take (it is tried 3 times)", R(100, 60000)},
    {"classifier_max_side", T_INT, S(classifier_max_side), "320", "the longer side of the pictures sent to the classifier, in pixels: larger ones are scaled down (0 = as the browser sent them)", R0(16, 1920)},
    /* Many nodes (docs/operations.md). */
    {"redis_url", T_STR, S(redis_url), "", "Redis shared by the nodes of a cluster: redis://[[user]:password@]host[:port][/db] or unix:/path; bans and the device key then hold on every node (empty = this node alone)", .check = check_redis_url},
    {"relay_addr", T_STR, S(relay_addr), "", "in a cluster: the IP address other nodes send this node's media to, for pairs across nodes (its media ports; empty = the first public_ip)", .check = check_relay_addr},
    {"node_id", T_INT, S(node_id), "0", "this node's number in the cluster, unique per node and kept with its data_dir; needed with redis_url (0 = standalone)", R0(1, 1023)},
    {"admin_url", T_STR, S(admin_url), "", "in a cluster: the URL at which tandemctl (and operators) reach this node's admin API, registered in Redis so that any node lists it, e.g. http://10.0.0.5:8080 (empty = http:// or https://, relay_addr or the first public_ip, :http_port)", .check = check_admin_url},
    {"admin_proxy_timeout_ms", T_INT, S(admin_proxy_timeout_ms), "10000", "in a cluster: how long a request to another node's admin API through this one (/api/nodes/N/...) may take before 504", R(1000, 120000)},
};
#pragma GCC diagnostic pop
#undef S
#undef R
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* ---- rules for string keys ---- */

static int check_admin_token(const char *v, char *why, size_t len) {
  for (const char *c = v; *c; c++)
    if (*c <= ' ' || *c > '~') {
      snprintf(why, len, "must be printable ASCII without spaces (it is sent in an HTTP header)");
      return -EINVAL;
    }
  return 0;
}

static int check_classifier_url(const char *v, char *why, size_t len) {
  if (*v && strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) {
    snprintf(why, len, "is not an http:// or https:// URL");
    return -EINVAL;
  }
  for (const char *c = v; *c; c++)
    if (*c <= ' ' || *c > '~') {
      snprintf(why, len, "must be printable ASCII without spaces");
      return -EINVAL;
    }
  return 0;
}

static int check_redis_url(const char *v, char *why, size_t len) {
  struct redis_url u;
  const char *reason = NULL;
  if (!*v || redis_url_parse(v, &u, &reason) == 0)
    return 0;
  snprintf(why, len, "%s (expected redis://[[user]:password@]host[:port][/db] or unix:/path)",
           reason ? reason : "is not a Redis URL");
  return -EINVAL;
}

static int check_autoban_steps(const char *v, char *why, size_t len) {
  int n = 0;
  const char *s = v;
  while (*s) {
    while (*s == ',' || *s == ' ')
      s++;
    if (!*s)
      break;
    if (!strncmp(s, "permanent", 9)) {
      s += 9;
    } else {
      char *end;
      unsigned long long x = strtoull(s, &end, 10);
      if (end == s || x == 0 || !strchr("smhd", *end) || !*end || x > 3153600000ull)
        goto bad;
      s = end + 1;
    }
    if (*s && *s != ',' && *s != ' ')
      goto bad;
    if (++n > 8)
      goto bad;
  }
  if (n)
    return 0;
bad:
  snprintf(why, len, "is not 1 to 8 durations such as 1h,24h,7d,permanent (s, m, h or d)");
  return -EINVAL;
}

static bool is_ip(const char *v) {
  unsigned char buf[16];
  return inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1;
}

static int check_bind_ip(const char *v, char *why, size_t len) {
  if (is_ip(v))
    return 0;
  snprintf(why, len, "is not an IP address (e.g. 0.0.0.0, 127.0.0.1 or ::)");
  return -EINVAL;
}

static int check_bind_ip6(const char *v, char *why, size_t len) {
  unsigned char buf[16];
  if (inet_pton(AF_INET6, v, buf) == 1)
    return 0;
  snprintf(why, len, "is not an IPv6 address (e.g. :: or 2001:db8::5)");
  return -EINVAL;
}

static int check_http_addr(const char *v, char *why, size_t len) {
  if (!strcmp(v, "localhost") || is_ip(v))
    return 0;
  snprintf(why, len, "is not an IP address or localhost (e.g. 0.0.0.0, 127.0.0.1 or ::)");
  return -EINVAL;
}

/* Browsers get public_ip in ICE candidates; a name there fails every call silently, so a name
 * is refused rather than resolved once (the address behind it may change). A list names the
 * entry at fault. */
static int check_relay_addr(const char *v, char *why, size_t len) {
  unsigned char buf[16];
  if (!v[0] || inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1)
    return 0;
  snprintf(why, len, "is not an IP address (e.g. 10.0.0.5 or fd00::5), or empty for the first "
                     "public_ip");
  return -EINVAL;
}

static int check_admin_url(const char *v, char *why, size_t len) {
  if (!v[0] || !nodewire_url_check(v))
    return 0;
  snprintf(why, len, "is not http(s)://HOST[:PORT] (an IP address, [an IPv6 address] or a "
                     "name; no path), e.g. http://10.0.0.5:8080");
  return -EINVAL;
}

static int check_public_ip(const char *v, char *why, size_t len) {
  struct addrlist l;
  size_t off = 0, n = 0;
  int rc = addrlist_parse(v, &l, &off, &n);
  if (!rc)
    return 0;
  int w = 0;
  if (strchr(v, ','))
    w = snprintf(why, len, "lists '%.*s', which ", (int)(n > 64 ? 64 : n), v + off);
  if (w < 0 || (size_t)w >= len)
    w = 0;
  char *p = why + w;
  size_t left = len - (size_t)w;
  switch (rc) {
  case -EADDRNOTAVAIL:
    snprintf(p, left, "is not an address browsers can reach (unspecified, multicast, broadcast, "
                      "or IPv4-mapped IPv6: write the IPv4 form): give the public addresses of "
                      "this machine (or leave it empty to detect them)");
    break;
  case -EEXIST:
    snprintf(p, left, "is listed twice");
    break;
  case -E2BIG:
    snprintf(p, left, "is one address too many (at most %d)", ADDRLIST_MAX);
    break;
  default:
    snprintf(p, left, "is not an IP address: browsers are sent it in the ICE candidate, "
                      "which must be an IP literal; resolve the name yourself (e.g. "
                      "--public-ip=$(getent ahostsv4 NAME | head -1 | cut -d' ' -f1))");
    break;
  }
  return -EINVAL;
}

static int check_one_of(const char *v, const char *const *ok, char *why, size_t len) {
  for (size_t i = 0; ok[i]; i++)
    if (!strcmp(v, ok[i]))
      return 0;
  int n = snprintf(why, len, "is not one of");
  for (size_t i = 0; ok[i] && n > 0 && (size_t)n < len; i++)
    n += snprintf(why + n, len - (size_t)n, "%s %s", i ? "," : "", ok[i]);
  return -EINVAL;
}

static int check_log_level(const char *v, char *why, size_t len) {
  static const char *const ok[] = {"error", "warn", "info", "debug", NULL};
  return check_one_of(v, ok, why, len);
}

static int check_log_format(const char *v, char *why, size_t len) {
  static const char *const ok[] = {"text", "json", NULL};
  return check_one_of(v, ok, why, len);
}

static int check_transports(const char *v, char *why, size_t len) {
  static const char *const ok[] = {"udp", "tcp", "both", NULL};
  return check_one_of(v, ok, why, len);
}

int config_parse_hostport(const char *s, char *host, size_t hostlen, int *port) {
  const char *colon, *h = s;
  size_t hl;
  if (*s == '[') {
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':')
      return -EINVAL;
    h = s + 1;
    hl = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon || memchr(s, ':', (size_t)(colon - s)))
      return -EINVAL; /* none, or an IPv6 address without brackets */
    hl = (size_t)(colon - s);
  }
  if (hl == 0 || hl >= hostlen)
    return -EINVAL;
  memcpy(host, h, hl);
  host[hl] = 0;
  char *end;
  errno = 0;
  long p = strtol(colon + 1, &end, 10);
  if (errno || end == colon + 1 || *end || p < 1 || p > 65535)
    return -EINVAL;
  if (strcmp(host, "localhost") != 0 && !is_ip(host))
    return -EINVAL;
  *port = (int)p;
  return 0;
}

static int check_metrics_addr(const char *v, char *why, size_t len) {
  char host[64];
  int port;
  if (!*v || config_parse_hostport(v, host, sizeof(host), &port) == 0)
    return 0;
  snprintf(why, len, "is not ip:port (e.g. 127.0.0.1:9090 or [::1]:9090; port 1 to 65535)");
  return -EINVAL;
}

/* ---- reading values ---- */

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

static void range_of(const struct key *k, long *lo, long *hi) {
  *lo = k->min;
  *hi = k->min == 0 && k->max == 0 ? 100000000 : k->max;
}

/* Checks v against k's type and rule and stores it. where names the source ("flag --x",
 * "TANDEM_X", "file:line"); every error says where, which key, the value and the rule. */
static int set_value(struct config *c, const struct key *k, const char *v, char *err, size_t errlen,
                     const char *where) {
  char *dst = (char *)c + k->off;
  char why[320] = "";
  switch (k->type) {
  case T_STR: {
    size_t n = strlen(v);
    const char *p = v;
    while (*p && ((unsigned char)*p >= 0x20 || *p == '\n' || *p == '\t') && *p != 0x7f)
      p++;
    if (*p)
      snprintf(why, sizeof(why), "contains a control character");
    else if (n >= k->size)
      snprintf(why, sizeof(why), "is too long (at most %zu bytes)", k->size - 1);
    else if (k->check)
      k->check(v, why, sizeof(why));
    if (!why[0]) {
      memset(dst, 0, k->size); /* so that equal configurations compare equal byte for byte */
      memcpy(dst, v, n + 1);
      return 0;
    }
    break;
  }
  case T_INT: {
    char *end;
    long lo, hi;
    range_of(k, &lo, &hi);
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || isspace((unsigned char)*v))
      snprintf(why, sizeof(why), "is not a whole number (range %ld to %ld)", lo, hi);
    else if ((n < lo || n > hi) && !(k->zero_ok && n == 0))
      snprintf(why, sizeof(why), "is out of range (%s%ld to %ld)", k->zero_ok ? "0, or " : "",
               lo, hi);
    else {
      *(int *)dst = (int)n;
      return 0;
    }
    break;
  }
  case T_BOOL:
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on")) {
      *(bool *)dst = true;
      return 0;
    }
    if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off")) {
      *(bool *)dst = false;
      return 0;
    }
    snprintf(why, sizeof(why), "is not true or false (also yes/no, on/off, 1/0)");
    break;
  }
  snprintf(err, errlen, "%s: %s: '%.64s%s' %s", where, k->name, v, strlen(v) > 64 ? "..." : "",
           why);
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

/* A quoted value: "..." with \" \\ \n \t \r; any other backslash is kept as it is. Unquotes
 * in place (a \r is then refused, like any control character but \n and \t). 0, or -EINVAL
 * with the reason in *why. */
static int unquote(char *v, const char **why) {
  char *in = v + 1, *out = v;
  for (;;) {
    if (!*in) {
      *why = "missing closing quote";
      return -EINVAL;
    }
    if (*in == '"')
      break;
    if (*in == '\\' && in[1]) {
      char e = in[1];
      char r = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == '"' || e == '\\' ? e : 0;
      if (r) {
        *out++ = r;
        in += 2;
        continue;
      }
    }
    *out++ = *in++;
  }
  *out = 0;
  for (in++; *in; in++) {
    if (!isspace((unsigned char)*in)) {
      *why = "text after the closing quote (comments go on lines of their own)";
      return -EINVAL;
    }
  }
  return 0;
}

#define MAX_LINE 65536

static int load_file(struct config *c, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
    return -EINVAL;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t got;
  int lineno = 0, rc = 0;
  while (rc == 0 && (got = getline(&line, &cap, f)) >= 0) {
    lineno++;
    char where[300];
    snprintf(where, sizeof(where), "%s:%d", path, lineno);
    if (got > MAX_LINE || memchr(line, 0, (size_t)got)) {
      snprintf(err, errlen, "%s: line too long or not text", where);
      rc = -EINVAL;
      break;
    }
    char *l = trim(line);
    if (*l == 0 || *l == '#')
      continue;
    char *eq = strchr(l, '=');
    if (!eq) {
      snprintf(err, errlen, "%s: expected key = value", where);
      rc = -EINVAL;
      break;
    }
    *eq = 0;
    char *name = trim(l), *val = trim(eq + 1);
    const struct key *k = find_key(name, strlen(name));
    if (!k) {
      snprintf(err, errlen, "%s: unknown key '%.64s' (see tandem --help)", where, name);
      rc = -EINVAL;
      break;
    }
    if (!strcmp(k->name, "config")) {
      snprintf(err, errlen, "%s: config cannot be set inside a config file", where);
      rc = -EINVAL;
      break;
    }
    const char *why = NULL;
    if (*val == '"' && unquote(val, &why)) {
      snprintf(err, errlen, "%s: %s: %s", where, k->name, why);
      rc = -EINVAL;
      break;
    }
    rc = set_value(c, k, val, err, errlen, where);
  }
  if (rc == 0 && ferror(f)) {
    snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
    rc = -EINVAL;
  }
  free(line);
  fclose(f);
  return rc;
}

/* ---- output ---- */

static void flag_name(const struct key *k, char *out, size_t len) {
  snprintf(out, len, "--%s", k->name);
  for (char *p = out + 2; *p; p++)
    if (*p == '_')
      *p = '-';
}

static void usage(void) {
  printf("usage: tandem [--key=value ...]\n\nEvery key is also a config-file key and an "
         "environment variable TANDEM_KEY\n(defaults < config file < environment < flags).\n\n");
  for (size_t i = 0; i < NKEYS; i++) {
    char flag[64];
    flag_name(&keys[i], flag, sizeof(flag));
    printf("  %-28s %s", flag, keys[i].help);
    long lo, hi;
    range_of(&keys[i], &lo, &hi);
    if (keys[i].type == T_INT)
      printf(", %ld to %ld", lo, hi);
    printf(" (default: %s)\n", *keys[i].def ? keys[i].def : "\"\"");
  }
  printf("  %-28s %s\n", "--print-config",
         "print the effective configuration as a config file and exit");
  printf("  %-28s %s\n", "--version", "print the version and exit");
  printf("  %-28s %s\n", "--help", "print this and exit");
}

static void print_quoted(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    switch (*s) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\t': fputs("\\t", f); break;
    case '\r': fputs("\\r", f); break;
    default: fputc(*s, f);
    }
  }
  fputc('"', f);
}

void config_print(const struct config *c, void *file) {
  FILE *f = file;
  fprintf(f, "# Tandem configuration (tandem --print-config); read it back with --config=FILE.\n"
             "# Strings are quoted, with \\\" \\\\ \\n \\t escaped.\n");
  for (size_t i = 0; i < NKEYS; i++) {
    const struct key *k = &keys[i];
    if (!strcmp(k->name, "config"))
      continue;
    const char *p = (const char *)c + k->off;
    fprintf(f, "\n# %s", k->help);
    long lo, hi;
    range_of(k, &lo, &hi);
    if (k->type == T_INT)
      fprintf(f, "; %ld to %ld", lo, hi);
    fprintf(f, "\n%s = ", k->name);
    switch (k->type) {
    case T_STR: print_quoted(f, p); break;
    case T_INT: fprintf(f, "%d", *(const int *)p); break;
    case T_BOOL: fputs(*(const bool *)p ? "true" : "false", f); break;
    }
    fputc('\n', f);
  }
}

/* ---- loading ---- */

int config_load(struct config *c, int argc, char **argv, char *err, size_t errlen) {
  memset(c, 0, sizeof(*c));
  /* These answer at once, whatever the rest of the configuration says. */
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage();
      return 1;
    }
    if (!strcmp(argv[i], "--version")) {
      printf("tandem %s (%s)\n", tandem_version(), tandem_commit());
      return 1;
    }
  }
  for (size_t i = 0; i < NKEYS; i++)
    if (set_value(c, &keys[i], keys[i].def, err, errlen, "default"))
      return -EINVAL; /* a default outside its own rule: a bug in the table */

  /* The file comes first so environment and flags override it; find its name early. */
  const char *file = getenv("TANDEM_CONFIG");
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--config=", 9))
      file = argv[i] + 9;
    else if (!strcmp(argv[i], "--config") && i + 1 < argc)
      file = argv[i + 1];
  }
  if (file && *file) {
    if (strlen(file) >= sizeof(c->config_file)) {
      snprintf(err, errlen, "config: the file name is too long");
      return -EINVAL;
    }
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
    if (!strcmp(a, "--print-config")) {
      print = true;
      continue;
    }
    if (strncmp(a, "--", 2) != 0) {
      snprintf(err, errlen, "unexpected argument '%.64s' (flags look like --key=value)", a);
      return -EINVAL;
    }
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t nl = eq ? (size_t)(eq - name) : strlen(name);
    const struct key *k = find_key(name, nl);
    if (!k) {
      snprintf(err, errlen, "unknown flag '%.*s' (see --help)", (int)(nl + 2 > 66 ? 66 : nl + 2),
               a);
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
    char where[80];
    flag_name(k, where + 5, sizeof(where) - 5);
    memcpy(where, "flag ", 5);
    int rc = set_value(c, k, v, err, errlen, where);
    if (rc)
      return rc;
  }
  char mhost[64];
  int mport;
  if (c->metrics_addr[0] && c->http_port &&
      config_parse_hostport(c->metrics_addr, mhost, sizeof(mhost), &mport) == 0 &&
      mport == c->http_port) {
    snprintf(err, errlen, "metrics_addr: port %d is also http_port; give /metrics a port of "
             "its own", mport);
    return -EINVAL;
  }
  if (!c->tls_cert[0] != !c->tls_key[0]) {
    snprintf(err, errlen, "tls_cert and tls_key: give both (HTTPS) or neither (plain HTTP)");
    return -EINVAL;
  }
  if (c->http_redirect_port && (!c->tls_cert[0] || c->http_redirect_port == c->http_port)) {
    snprintf(err, errlen, "http_redirect_port: %d needs tls_cert and tls_key, and a port other "
             "than http_port", c->http_redirect_port);
    return -EINVAL;
  }
  if (c->redis_url[0] && c->node_id == 0) {
    snprintf(err, errlen, "node_id: redis_url is set, so give this node a number from 1 to "
             "1023, different on every node of the cluster (ban ids are made of it)");
    return -EINVAL;
  }
  if (print) {
    config_print(c, stdout);
    return 1;
  }
  return 0;
}
