/* opts.c -- tandem-bench's command line. */
#include "bench/opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

void opts_usage(FILE *f) {
  fputs(
      "usage: tandem-bench [options]\n"
      "       tandem-bench --merge [--json] [--report FILE] SHARD.json ...\n"
      "Plays many browsers against a Tandem server on this machine and checks that every\n"
      "receiver only ever gets its current partner's media.\n\n"
      "  --url URL            the server (default http://127.0.0.1:8080), on this machine\n"
      "  --remote             let --url name another machine: your own staging host or load\n"
      "                       balancer (media then goes to whatever address the answers name)\n"
      "  --peers N            simulated browsers (default 20)\n"
      "  --duration S         length of the run in seconds, ramp included (default 20)\n"
      "  --ramp R             browsers started per second (default 50; 0 = all at once)\n"
      "  --mix LIST           behaviours in percent, e.g. stay=50,skip=30,skipnow=5,refresh=10,\n"
      "                       vanish=5 (the default); report=N reports each partner (reason spam)\n"
      "                       instead of Next; must add up to 100\n"
      "  --skip-min S         shortest pairing before skip/refresh/vanish (default 5)\n"
      "  --skip-max S         longest (default 15)\n"
      "  --video-kbps K       VP8 bitrate of the synthetic camera (default 300)\n"
      "  --no-video           send no video (the server then never reports READY)\n"
      "  --no-audio           send no audio\n"
      "  --hold-media         until every seat is READY, each sends only its first keyframe\n"
      "                       (what READY needs): the ramp's server CPU is then connects alone\n"
      "  --forge-alert        2 s into its media, each browser sends a forged DTLS alert (a test:\n"
      "                       the server must keep the session, since media continues)\n"
      "  --floor              after the run, measure the bare relay floor (relay_floor, next to\n"
      "                       this program) on the same packets: rate, sizes, one stream per peer\n"
      "  --transport=udp|tcp  how media reaches the server (default udp); tcp connects over ICE-TCP\n"
      "                       to the answer's passive TCP host candidate, as Chromium does when\n"
      "                       UDP is blocked: STUN, DTLS, SRTP and SRTCP in RFC 4571 frames, one\n"
      "                       connection per media session (the server must offer tcp or both)\n"
      "  --ready-timeout S    a visit must be READY within this (default 30)\n"
      "  --server-pid PID     the server's process, for memory (default: found by the port)\n"
      "  --seed N             seed for behaviours and timings (default 1)\n"
      "  --trace-peer N|all   print peer N's (or every peer's) signalling to stderr\n"
      "  --json               print the summary as JSON on stdout (the table goes to stderr)\n"
      "  --shard K/N          be shard K (1..N) of a run that N processes, perhaps on N machines,\n"
      "                       drive together with the same options: this one drives seats K-1,\n"
      "                       K-1+N, ... of --peers, with visit ids no other shard issues; media\n"
      "                       from another shard's visitor is checked on this side only. With\n"
      "                       --json, the result carries what --merge needs (samples, pairings,\n"
      "                       runs of received media); start the shards within a second or two\n"
      "                       of each other, on machines whose clocks agree (NTP)\n"
      "  --merge FILE...      run nothing: sum up the --json results of the N shards of one run\n"
      "                       into the summary one process would have printed (counts summed,\n"
      "                       percentiles over every sample) and audit cross-talk across all of\n"
      "                       them; exit status as for a run\n"
      "  --report FILE        write a self-contained HTML report\n"
      "  --help               this text\n"
      "Exit status: 0 when the run had no cross-talk and no errors, 1 otherwise, 2 for bad\n"
      "options. See bench/README.md for what every figure means.\n",
      f);
}

static const char *const names[BH_COUNT] = {"stay", "skip", "skipnow", "refresh", "vanish",
                                                "report"};

static int parse_mix(const char *s, int mix[BH_COUNT]) {
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", s);
  for (int b = 0; b < BH_COUNT; b++)
    mix[b] = 0;
  char *save = NULL;
  int sum = 0;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(t, '=');
    if (!eq)
      return -EINVAL;
    *eq = 0;
    int b = 0;
    while (b < BH_COUNT && strcmp(t, names[b]) != 0)
      b++;
    char *end;
    long v = strtol(eq + 1, &end, 10);
    if (b == BH_COUNT || *end || v < 0 || v > 100)
      return -EINVAL;
    mix[b] = (int)v;
    sum += (int)v;
  }
  return sum == 100 ? 0 : -EINVAL;
}

static bool is_local(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
    if ((ntohl(in->sin_addr.s_addr) >> 24) == 127)
      return true;
  } else {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
      return true;
  }
  uv_interface_address_t *ifs;
  int n;
  bool found = false;
  if (uv_interface_addresses(&ifs, &n) != 0)
    return false;
  for (int i = 0; i < n && !found; i++) {
    const struct sockaddr *a = (const struct sockaddr *)&ifs[i].address;
    if (a->sa_family != ss->ss_family)
      continue;
    if (a->sa_family == AF_INET)
      found = ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
              ((const struct sockaddr_in *)ss)->sin_addr.s_addr;
    else
      found = !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
  }
  uv_free_interface_addresses(ifs, n);
  return found;
}

/* http://HOST[:PORT][/] with HOST an IPv4 literal, [IPv6] literal or localhost. */
static int parse_url(struct bench_opts *o, struct sockaddr_storage *addr) {
  const char *p = o->url;
  if (strncmp(p, "http://", 7) != 0)
    return -EINVAL;
  p += 7;
  char host[64];
  size_t n;
  if (*p == '[') {
    const char *e = strchr(p, ']');
    if (!e || (size_t)(e - p - 1) >= sizeof(host))
      return -EINVAL;
    n = (size_t)(e - p - 1);
    memcpy(host, p + 1, n);
    p = e + 1;
  } else {
    n = strcspn(p, ":/");
    if (n == 0 || n >= sizeof(host))
      return -EINVAL;
    memcpy(host, p, n);
    p += n;
  }
  host[n] = 0;
  long port = 80;
  if (*p == ':') {
    char *end;
    port = strtol(p + 1, &end, 10);
    if (port <= 0 || port > 65535)
      return -EINVAL;
    p = end;
  }
  if (*p && strcmp(p, "/") != 0)
    return -EINVAL;
  if (!strcmp(host, "localhost"))
    snprintf(host, sizeof(host), "127.0.0.1");
  memset(addr, 0, sizeof(*addr));
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)addr) != 0 &&
      uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)addr) != 0)
    return -EINVAL;
  snprintf(o->host, sizeof(o->host), "%s", host);
  o->port = (int)port;
  return 0;
}

static bool num(const char *s, double lo, double hi, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (!*s || *end || !(v >= lo && v <= hi))
    return false;
  *out = v;
  return true;
}

/* K/N with 1 <= K <= N <= 255. */
static bool parse_shard(const char *s, struct bench_opts *o) {
  char *end;
  long k = strtol(s, &end, 10);
  if (end == s || *end != '/')
    return false;
  const char *ns = end + 1;
  long n = strtol(ns, &end, 10);
  if (end == ns || *end || k < 1 || n < k || n > 255)
    return false;
  o->shard_k = (unsigned)k;
  o->shard_n = (unsigned)n;
  return true;
}

int opts_parse(int argc, char **argv, struct bench_opts *o, struct sockaddr_storage *addr) {
  memset(o, 0, sizeof(*o));
  snprintf(o->url, sizeof(o->url), "http://127.0.0.1:8080");
  o->peers = 20;
  o->duration_s = 20;
  o->ramp = 50;
  parse_mix("stay=50,skip=30,skipnow=5,refresh=10,vanish=5", o->mix);
  o->skip_min_s = 5;
  o->skip_max_s = 15;
  o->video_kbps = 300;
  o->video = o->audio = true;
  o->seed = 1;
  o->ready_timeout_s = 30;
  o->trace_peer = -1;
  enum { O_URL = 256, O_PEERS, O_DUR, O_RAMP, O_MIX, O_SMIN, O_SMAX, O_KBPS, O_NOV, O_NOA, O_HOLD, O_FLOOR, O_FORGE,
         O_TRANSPORT, O_JSON, O_REPORT, O_SEED, O_PID, O_RTO, O_TRACE, O_HELP, O_SHARD, O_MERGE,
         O_REMOTE };
  static const struct option lo[] = {
      {"url", required_argument, 0, O_URL},       {"peers", required_argument, 0, O_PEERS},
      {"duration", required_argument, 0, O_DUR},  {"ramp", required_argument, 0, O_RAMP},
      {"mix", required_argument, 0, O_MIX},       {"skip-min", required_argument, 0, O_SMIN},
      {"skip-max", required_argument, 0, O_SMAX}, {"video-kbps", required_argument, 0, O_KBPS},
      {"no-video", no_argument, 0, O_NOV},        {"no-audio", no_argument, 0, O_NOA},
      {"json", no_argument, 0, O_JSON},           {"report", required_argument, 0, O_REPORT},
      {"seed", required_argument, 0, O_SEED},     {"server-pid", required_argument, 0, O_PID},
      {"ready-timeout", required_argument, 0, O_RTO}, {"help", no_argument, 0, O_HELP},
      {"trace-peer", required_argument, 0, O_TRACE}, {"hold-media", no_argument, 0, O_HOLD},
      {"floor", no_argument, 0, O_FLOOR}, {"forge-alert", no_argument, 0, O_FORGE},
      {"transport", required_argument, 0, O_TRANSPORT},
      {"shard", required_argument, 0, O_SHARD}, {"merge", no_argument, 0, O_MERGE},
      {"remote", no_argument, 0, O_REMOTE},
      {0, 0, 0, 0}};
  int c;
  double v = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    bool ok = true;
    switch (c) {
    case O_URL:
      snprintf(o->url, sizeof(o->url), "%s", optarg);
      break;
    case O_PEERS:
      ok = num(optarg, 1, 20000, &v) && v == (int)v;
      o->peers = (int)v;
      break;
    case O_DUR: ok = num(optarg, 1, 86400, &o->duration_s); break;
    case O_RAMP: ok = num(optarg, 0, 100000, &o->ramp); break;
    case O_MIX: ok = parse_mix(optarg, o->mix) == 0; break;
    case O_SMIN: ok = num(optarg, 0, 86400, &o->skip_min_s); break;
    case O_SMAX: ok = num(optarg, 0, 86400, &o->skip_max_s); break;
    case O_KBPS:
      ok = num(optarg, 30, 20000, &v);
      o->video_kbps = (int)v;
      break;
    case O_NOV: o->video = false; break;
    case O_NOA: o->audio = false; break;
    case O_HOLD: o->hold_media = true; break;
    case O_FLOOR: o->floor = true; break;
    case O_FORGE: o->forge_alert = true; break;
    case O_TRANSPORT:
      ok = !strcmp(optarg, "udp") || !strcmp(optarg, "tcp");
      o->tcp = !strcmp(optarg, "tcp");
      break;
    case O_JSON: o->json = true; break;
    case O_REPORT: o->report = optarg; break;
    case O_SEED:
      ok = num(optarg, 0, 1e15, &v);
      o->seed = (uint64_t)v;
      break;
    case O_PID:
      ok = num(optarg, 1, 1 << 30, &v);
      o->server_pid = (int)v;
      break;
    case O_RTO: ok = num(optarg, 1, 3600, &o->ready_timeout_s); break;
    case O_TRACE:
      ok = !strcmp(optarg, "all") || num(optarg, 0, 20000, &v);
      o->trace_peer = strcmp(optarg, "all") ? (int)v : -2;
      break;
    case O_SHARD: ok = parse_shard(optarg, o); break;
    case O_MERGE: o->merge = true; break;
    case O_REMOTE: o->remote = true; break;
    case O_HELP: opts_usage(stdout); return 1;
    default: ok = false; break;
    }
    if (!ok) {
      fprintf(stderr, "tandem-bench: bad value for an option%s%s\n", optarg ? ": " : "",
              optarg ? optarg : "");
      opts_usage(stderr);
      return -EINVAL;
    }
  }
  if (o->merge) {
    o->merge_files = argv + optind;
    o->n_merge = argc - optind;
    if (o->n_merge < 1 || o->shard_n || o->floor) {
      fprintf(stderr, "tandem-bench: --merge takes one --json result per shard (and no --shard "
                      "or --floor)\n");
      return -EINVAL;
    }
    return 0;
  }
  if (optind < argc) {
    fprintf(stderr, "tandem-bench: unexpected argument %s\n", argv[optind]);
    return -EINVAL;
  }
  if (o->shard_n && (int)o->shard_n > o->peers) {
    fprintf(stderr, "tandem-bench: --shard %u/%u: fewer --peers than shards\n", o->shard_k,
            o->shard_n);
    return -EINVAL;
  }
  if (o->shard_n && o->floor) {
    fprintf(stderr, "tandem-bench: --floor measures one process's run; not with --shard\n");
    return -EINVAL;
  }
  if (o->skip_max_s < o->skip_min_s) {
    fprintf(stderr, "tandem-bench: --skip-max must not be below --skip-min\n");
    return -EINVAL;
  }
  if (o->hold_media && !o->video) {
    fprintf(stderr, "tandem-bench: --hold-media needs video (READY waits for it)\n");
    return -EINVAL;
  }
  if (parse_url(o, addr) != 0) {
    fprintf(stderr, "tandem-bench: --url must look like http://127.0.0.1:8080 (a numeric host or "
                    "localhost)\n");
    return -EINVAL;
  }
  if (!o->remote && !is_local(addr)) {
    fprintf(stderr, "tandem-bench: %s is not this machine; the bench only talks to local "
                    "servers unless --remote says it is your own staging host\n", o->host);
    return -EINVAL;
  }
  return 0;
}
