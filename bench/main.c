/* main.c -- tandem-bench: many simulated browsers against one Tandem server, live and summed up. */
#include <errno.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/bpeer.h"
#include "bench/media.h"
#include "bench/offer.h"
#include "bench/opts.h"
#include "bench/report.h"
#include "bench/shard.h"
#include "bench/srvmon.h"
#include "bench/summary.h"
#include "bench/xtalk.h"
#include "media/dtls.h"
#include "media/sdp.h"
#include "media/srtpctx.h"

#define TICK_MS 2
#define CLOSE_LIMIT_US 10000000 /* handles must close within this after the run */
#define PROGRESS_EVERY 5        /* seconds between progress lines when stderr is not a tty */

enum phase { PH_PROBE, PH_RUN, PH_CLOSING };

struct bench {
  struct bench_opts o;
  struct brun run;
  uv_loop_t loop;
  uv_timer_t tick, second;
  uv_signal_t sigint;
  enum phase phase;
  struct bpeer **peers; /* this process's seats: all of them, or --shard K/N's share */
  size_t n_peers, started;
  struct srvmon *mon;
  struct dtls_cert *cert;
  struct media_set *media;
  uint64_t t_run_us, t_closing_us;
  /* Server samples: before any peer, when every peer had first completed DTLS, when every
   * peer was first READY (full load; without video: = s_conn). */
  struct srvmon_sample s_pre, s_conn, s_full;
  bool want_conn, want_full;
  long rss_base, rss_full;
  /* Time series and rate bookkeeping. */
  struct tpoint *ts;
  size_t n_ts, cap_ts;
  uint64_t last_tx, last_rx, last_us;
  double last_fwd, last_srv_cpu, last_bench_cpu;
  uint64_t last_fwd_us;
  bool tty;
  unsigned seconds;
  int exit_code;
  struct bench_result res; /* gathered when the run ends */
  bool reported;           /* summary printed */
};

/* ---- the run's shared helpers (bench.h) ---- */

uint64_t brun_now_us(const struct brun *r) { return uv_hrtime() / 1000 - r->t0_us; }

static uint64_t now_cb(void *arg) { return brun_now_us(arg); }

void brun_error(struct brun *r, enum bench_err e, uint32_t peer, const char *fmt, ...) {
  r->t.err[e]++;
  if (r->logged[e]++ >= 5)
    return;
  char msg[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fprintf(stderr, "tandem-bench: peer %u: %s: %s\n", peer, bench_err_names[e], msg);
}

uint64_t brun_rand(struct brun *r) {
  uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double brun_uniform(struct brun *r, double lo, double hi) {
  return lo + (hi - lo) * (double)(brun_rand(r) >> 11) / (double)(1ull << 53);
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

/* ---- set-up ---- */

/* Builds one offer from the template and reads it back with the server's own parser, so the
 * bench sends what it thinks it sends: payload types, mids and the mid extension id. */
static int check_offer(struct brun *r) {
  char buf[16384];
  struct offer_params op = {"abcd", "abcdefghijklmnopqrstuvwx", r->fingerprint, r->media_ip, 9,
                            r->o->tcp, 1, 2, 3, "cname", 1};
  int n = offer_build(r->offer_template, &op, buf, sizeof(buf));
  static struct sdp_offer so;
  const char *err = "cannot build";
  if (n <= 0 || sdp_parse_offer(buf, (size_t)n, &so, &err) != 0) {
    fprintf(stderr, "tandem-bench: the Chrome offer template is not usable: %s\n", err);
    return -EINVAL;
  }
  const struct sdp_media *a = &so.media[so.audio], *v = &so.media[so.video];
  r->pt[0] = a->pt;
  r->pt[1] = v->pt;
  r->ext_mid = a->ext_mid == v->ext_mid ? a->ext_mid : 0;
  snprintf(r->mid[0], sizeof(r->mid[0]), "%s", a->mid);
  snprintf(r->mid[1], sizeof(r->mid[1]), "%s", v->mid);
  return 0;
}

/* Behaviours by the mix (largest remainder), shuffled with the seed. */
static int make_peers(struct bench *b) {
  int n = b->o.peers, counts[BH_COUNT], given = 0;
  double rem[BH_COUNT];
  for (int k = 0; k < BH_COUNT; k++) {
    double exact = (double)n * b->o.mix[k] / 100.0;
    counts[k] = (int)exact;
    rem[k] = exact - counts[k];
    given += counts[k];
  }
  while (given < n) {
    int best = 0;
    for (int k = 1; k < BH_COUNT; k++)
      best = rem[k] > rem[best] ? k : best;
    counts[best]++;
    rem[best] = -1;
    given++;
  }
  enum bench_behaviour *bh = malloc((size_t)n * sizeof(*bh));
  b->peers = calloc((size_t)n, sizeof(*b->peers));
  if (!bh || !b->peers) {
    free(bh);
    return -ENOMEM;
  }
  int i = 0;
  for (int k = 0; k < BH_COUNT; k++)
    for (int c = 0; c < counts[k]; c++)
      bh[i++] = (enum bench_behaviour)k;
  for (int j = n - 1; j > 0; j--) {
    int x = (int)(brun_rand(&b->run) % (uint64_t)(j + 1));
    enum bench_behaviour t = bh[j];
    bh[j] = bh[x];
    bh[x] = t;
  }
  /* Every shard draws the whole run's behaviours from the same seed and takes every N-th seat
   * (from K-1), so the shards together are the run one process would have made; each then
   * draws its timings from its own stream. */
  int rc = 0, k = b->o.shard_n ? (int)b->o.shard_k - 1 : 0;
  int step = b->o.shard_n ? (int)b->o.shard_n : 1;
  for (int j = k; j < n && rc == 0; j += step)
    if (!(b->peers[b->n_peers++] = bpeer_new(&b->run, (uint32_t)j, bh[j])))
      rc = -ENOMEM;
  free(bh);
  if (b->o.shard_n)
    b->run.rng ^= 0x9e3779b97f4a7c15ull * b->o.shard_k;
  return rc;
}

/* ---- live progress and the time series ---- */

static void on_sample(void *arg, const struct srvmon_sample *s) {
  struct bench *b = arg;
  if (b->phase == PH_PROBE && !b->s_pre.valid)
    b->s_pre = *s;
  if (b->want_conn) {
    b->s_conn = *s;
    b->want_conn = false;
    b->run.media_held = false; /* --hold-media: everyone is READY; media flows from now */
  }
  if (b->want_full) {
    b->s_full = *s;
    b->want_full = false;
  }
  if (b->s_full.valid && s->rss_kib > b->rss_full)
    b->rss_full = s->rss_kib;
}

static void progress(struct bench *b, uint64_t now) {
  struct brun *r = &b->run;
  struct tpoint p = {.t_s = (double)now / 1e6};
  for (size_t i = 0; i < b->started; i++) {
    struct bpeer_view v;
    bpeer_view(b->peers[i], &v);
    p.connected += v.connected;
    p.ready += v.ready;
    p.paired += v.paired;
  }
  double dt = b->last_us ? (double)(now - b->last_us) / 1e6 : 0;
  double cpu = cpu_seconds();
  if (dt > 0) {
    p.tx_pps = (double)(r->t.tx_packets - b->last_tx) / dt;
    p.rx_pps = (double)(r->t.rx_packets - b->last_rx) / dt;
    p.bench_cpu_pct = 100 * (cpu - b->last_bench_cpu) / dt;
  }
  const struct srvmon_sample *s = srvmon_latest(b->mon);
  if (s->valid && b->last_fwd_us && s->t_us > b->last_fwd_us) {
    double sdt = (double)(s->t_us - b->last_fwd_us) / 1e6;
    p.fwd_pps = (s->forwarded - b->last_fwd) / sdt;
    p.srv_cpu_pct = 100 * (s->cpu_s - b->last_srv_cpu) / sdt;
  } else if (b->n_ts) {
    p.fwd_pps = b->ts[b->n_ts - 1].fwd_pps;
    p.srv_cpu_pct = b->ts[b->n_ts - 1].srv_cpu_pct;
  }
  if (s->valid) {
    b->last_fwd = s->forwarded;
    b->last_srv_cpu = s->cpu_s;
    b->last_fwd_us = s->t_us;
    p.srv_rss_mib = s->rss_kib > 0 ? s->rss_kib / 1024.0 : 0;
  }
  uint64_t err = 0;
  for (int e = 0; e < BE_COUNT; e++)
    err += r->t.err[e];
  p.errors = err;
  p.xtalk = r->t.xtalk_order[0] + r->t.xtalk_order[1] + r->t.xtalk_foreign;
  b->last_tx = r->t.tx_packets;
  b->last_rx = r->t.rx_packets;
  b->last_us = now;
  b->last_bench_cpu = cpu;
  if (b->n_ts == b->cap_ts) {
    size_t cap = b->cap_ts ? b->cap_ts * 2 : 128;
    struct tpoint *nt = realloc(b->ts, cap * sizeof(*nt));
    if (nt) {
      b->ts = nt;
      b->cap_ts = cap;
    }
  }
  if (b->n_ts < b->cap_ts)
    b->ts[b->n_ts++] = p;
  if (!b->tty && ++b->seconds % PROGRESS_EVERY)
    return;
  fprintf(stderr,
          "%s[%4.0fs] peers %zu/%d ready %u paired %u | matched %llu next %llu | tx %.0f/s rx "
          "%.0f/s fwd %.0f/s | server cpu %.0f%% rss %.0fMiB | xtalk %llu err %llu%s",
          b->tty ? "\r" : "", p.t_s, b->started, (int)b->n_peers, p.ready, p.paired,
          (unsigned long long)r->t.matched, (unsigned long long)r->t.nexts, p.tx_pps, p.rx_pps,
          p.fwd_pps, p.srv_cpu_pct, p.srv_rss_mib, (unsigned long long)p.xtalk,
          (unsigned long long)err, b->tty ? "\x1b[K" : "\n");
}

/* ---- the end ---- */

static void gather(struct bench *b, struct bench_result *res, uint64_t now) {
  struct brun *r = &b->run;
  memset(res, 0, sizeof(*res));
  res->wall_s = (double)now / 1e6;
  res->peers = (uint32_t)b->n_peers;
  size_t n = (size_t)b->o.peers; /* peer numbers are the run's, up to --peers */
  uint32_t *checked = calloc(n, sizeof(uint32_t)), *okp = calloc(n, sizeof(uint32_t));
  struct xtalk_result xr;
  unsigned kinds = (b->o.audio ? 1u : 0u) | (b->o.video ? 2u : 0u);
  xtalk_audit(r->xt, now, BENCH_XTALK_TOL_US, BENCH_MIN_PAIR_US, kinds, 20, checked, okp,
              checked && okp ? n : 0, &xr);
  r->t.xtalk_window = xr.bad_segments;
  r->t.pairings_checked = xr.pairings;
  r->t.pairings_ok = xr.pairings_ok;
  r->t.err[BE_MISSING_MEDIA] += xr.pairings - xr.pairings_ok;
  res->segments_checked = xr.segments;
  res->shard_k = b->o.shard_k;
  res->shard_n = b->o.shard_n;
  res->cross_shard = xr.cross_shard;
  res->xtalk_deferred = xr.deferred;
  for (size_t i = 0; i < b->n_peers; i++) {
    struct bpeer_view v;
    bpeer_view(b->peers[i], &v);
    struct behaviour_figures *f = &res->by[v.behaviour];
    f->peers++;
    f->ever_ready += v.ever_ready;
    f->visits += v.visits;
    if (checked && okp) {
      uint32_t g = b->o.shard_n ? (uint32_t)(i * b->o.shard_n + b->o.shard_k - 1) : (uint32_t)i;
      f->pairings_checked += checked[g];
      f->pairings_ok += okp[g];
      f->peers_with_media += checked[g] > 0 && okp[g] == checked[g];
    }
  }
  free(checked);
  free(okp);
  res->xtalk_total = r->t.xtalk_order[0] + r->t.xtalk_order[1] + r->t.xtalk_foreign +
                     r->t.xtalk_window;
  for (int e = 0; e < BE_COUNT; e++)
    res->errors_total += r->t.err[e];
  res->ok = res->xtalk_total == 0 && res->errors_total == 0;

  const struct srvmon_sample *last = srvmon_latest(b->mon);
  res->server_pid = srvmon_pid(b->mon);
  if (b->s_full.valid && last->valid && last->t_us > b->s_full.t_us) {
    res->srv_valid = true;
    res->srv_window_s = (double)(last->t_us - b->s_full.t_us) / 1e6;
    res->srv_cpu_s = last->cpu_s - b->s_full.cpu_s;
    res->srv_forwarded = last->forwarded - b->s_full.forwarded;
    res->srv_us_per_packet = res->srv_forwarded > 0 ? 1e6 * res->srv_cpu_s / res->srv_forwarded : 0;
    res->srv_cpu_pct = 100 * res->srv_cpu_s / res->srv_window_s;
    res->srv_workers = last->workers >= 1 && last->workers <= 16 ? (unsigned)last->workers : 1;
  }
  if (b->s_pre.valid && b->s_conn.valid && b->s_conn.dtls_ok > b->s_pre.dtls_ok) {
    res->connect_valid = true;
    res->ramp_handshakes = b->s_conn.dtls_ok - b->s_pre.dtls_ok;
    res->ramp_cpu_s = b->s_conn.cpu_s - b->s_pre.cpu_s;
    res->ramp_ms_per_connect = 1000 * res->ramp_cpu_s / res->ramp_handshakes;
  }
  res->rss_base_kib = b->rss_base;
  res->rss_full_kib = b->rss_full;
  if (b->rss_base > 0 && b->rss_full > 0)
    res->rss_per_peer_kib = (double)(b->rss_full - b->rss_base) / b->o.peers;
  if (last->valid) {
    res->srv_dtls_failed = last->dtls_failed - b->s_pre.dtls_failed;
    res->srv_srtp_errors = last->srtp_errors - b->s_pre.srtp_errors;
    res->srv_dropped = last->dropped - b->s_pre.dropped;
    res->srv_keyframe_requests = last->keyframe_requests - b->s_pre.keyframe_requests;
    res->srv_media_failures = last->media_failures - b->s_pre.media_failures;
  }
  res->bench_cpu_s = cpu_seconds();
  res->bench_cpu_pct = 100 * res->bench_cpu_s / (res->wall_s > 0 ? res->wall_s : 1);
  res->video_kbps_encoded = b->media->video_kbps_real;
  res->ts = b->ts;
  res->n_ts = b->n_ts;
}

/* The median of three runs of relay_floor command `base` with `relays` relay threads (one
 * run's figure moves with how its threads get scheduled): relay us per packet and packets
 * per recvmmsg. 0 on failure. */
static int floor_median(const char *base, unsigned relays, double *us_out, double *per_out) {
  char cmd[4700];
  snprintf(cmd, sizeof(cmd), "%s -w %u", base, relays);
  fprintf(stderr, "tandem-bench: the relay floor on the same packets, 3 times: %s\n", cmd);
  double us[3] = {0, 0, 0}, per[3] = {0, 0, 0};
  int got = 0;
  for (int k = 0; k < 3; k++) {
    FILE *f = popen(cmd, "r");
    char line[512];
    double u_k = 0, c_k = 0;
    while (f && fgets(line, sizeof(line), f)) {
      const char *u = strstr(line, "relay_us="), *c = strstr(line, "per_recvmmsg=");
      if (u && c) {
        u_k = atof(u + 9);
        c_k = atof(c + 13);
      }
    }
    int rc = f ? pclose(f) : -1;
    if (rc != 0 || u_k <= 0) {
      fprintf(stderr, "tandem-bench: relay_floor failed (status %d)\n", rc);
      return 0;
    }
    int i = got++;
    while (i > 0 && us[i - 1] > u_k) {
      us[i] = us[i - 1];
      per[i] = per[i - 1];
      i--;
    }
    us[i] = u_k;
    per[i] = c_k;
  }
  fprintf(stderr, "tandem-bench: floor runs %.2f, %.2f, %.2f us\n", us[0], us[1], us[2]);
  *us_out = us[1];
  *per_out = per[1];
  return 1;
}

/* --floor: relay_floor (next to this program) on the packets of this run: the server's
 * forwarded rate, one stream per peer, the audio share and the mean sizes the peers sent,
 * GCM, 1 ms sender bursts; once with one relay thread, and once with one per
 * media worker of the server, as it runs. The server is idle by then (the run is over). */
static void run_floor(struct bench *b, struct bench_result *res) {
  const struct bench_totals *t = &b->run.t;
  uint64_t pk = t->rtp_packets[0] + t->rtp_packets[1];
  if (!res->srv_valid || res->srv_window_s <= 0 || res->srv_forwarded <= 0 || !pk)
    return;
  char exe[4096], cmd[4600];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0)
    return;
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash)
    return;
  *slash = 0;
  int audio_pct = (int)(100.0 * (double)t->rtp_packets[0] / (double)pk + 0.5);
  long audio_sz = t->rtp_packets[0] ? (long)(t->rtp_bytes[0] / t->rtp_packets[0]) : 160;
  long video_sz = t->rtp_packets[1] ? (long)(t->rtp_bytes[1] / t->rtp_packets[1]) : 1200;
  res->floor_rate = res->srv_forwarded / res->srv_window_s;
  snprintf(cmd, sizeof(cmd), "'%s/relay_floor' -q -p gcm -d 3 -t 1000 -b 32 -r %ld -n %d "
           "-A %d -S %ld -s %ld", exe, (long)res->floor_rate, b->o.peers, audio_pct, audio_sz,
           video_sz);
  double us, per;
  if (!floor_median(cmd, 1, &res->floor_us, &res->floor_per_recvmmsg))
    return;
  res->floor_valid = true;
  res->floor_ratio = res->srv_us_per_packet / res->floor_us;
  if (res->srv_workers > 1 && floor_median(cmd, res->srv_workers, &us, &per)) {
    res->floor_w_us = us;
    res->floor_w_valid = true;
    res->floor_w_ratio = res->srv_us_per_packet / us;
  }
}

static void print_results(struct bench *b) {
  if (b->reported)
    return;
  b->reported = true;
  struct brun *r = &b->run;
  summary_print_table(b->o.json ? stderr : stdout, r, &b->res);
  if (b->o.json)
    summary_print_json(stdout, r, &b->res);
  if (b->o.report) {
    int rc = report_write(b->o.report, r, &b->res);
    if (rc)
      fprintf(stderr, "tandem-bench: cannot write %s: %s\n", b->o.report, strerror(-rc));
  }
  fflush(stdout);
}

static void finish_run(struct bench *b) {
  struct brun *r = &b->run;
  uint64_t now = brun_now_us(r);
  if (b->tty)
    fputc('\n', stderr);
  r->ending = true;
  for (size_t i = 0; i < b->n_peers; i++)
    bpeer_finish(b->peers[i]); /* closes pairing windows and flushes receive statistics */
  gather(b, &b->res, now);
  b->exit_code = b->res.ok ? 0 : 1;
  /* With --floor the summary waits until every browser has closed and the floor has run on an
   * idle machine (main, after the loop). */
  if (!b->o.floor)
    print_results(b);
  b->phase = PH_CLOSING;
  b->t_closing_us = now;
  uv_timer_stop(&b->second);
  uv_signal_stop(&b->sigint);
}

static void tick_cb(uv_timer_t *t) {
  struct bench *b = t->data;
  struct brun *r = &b->run;
  uint64_t now = brun_now_us(r);
  if (b->phase == PH_CLOSING) {
    bool all = true;
    for (size_t i = 0; i < b->n_peers && all; i++)
      all = bpeer_closed(b->peers[i]);
    if (all) {
      uv_close((uv_handle_t *)&b->tick, NULL);
      uv_close((uv_handle_t *)&b->second, NULL);
      uv_close((uv_handle_t *)&b->sigint, NULL);
    } else if (now - b->t_closing_us > CLOSE_LIMIT_US) {
      fprintf(stderr, "tandem-bench: connections did not close in time; exiting anyway\n");
      print_results(b);
      exit(b->exit_code ? b->exit_code : 1);
    }
    return;
  }
  if (b->phase != PH_RUN)
    return;
  uint64_t elapsed = now - b->t_run_us;
  /* Seats start in order of their number at --ramp per second, across the shards too. */
  size_t want = (size_t)b->o.peers;
  if (b->o.ramp > 0)
    want = (size_t)(1 + (double)elapsed / 1e6 * b->o.ramp);
  size_t k = b->o.shard_n ? b->o.shard_k - 1 : 0, step = b->o.shard_n ? b->o.shard_n : 1;
  while (b->started < b->n_peers && k + b->started * step < want)
    bpeer_start(b->peers[b->started++]);
  for (size_t i = 0; i < b->started; i++)
    bpeer_tick(b->peers[i], now);
  if (!b->s_full.valid && !b->want_full && b->started == b->n_peers) {
    bool media = true, ready = true;
    for (size_t i = 0; i < b->started && (media || ready); i++) {
      struct bpeer_view v;
      bpeer_view(b->peers[i], &v);
      media = media && v.ever_media;
      ready = ready && v.ever_ready;
    }
    /* The next scrape ends the ramp (everyone connected) and, once everyone is READY (or has
     * media, when there is no video to be READY with), starts the full-load window. */
    if (b->run.media_held)
      media = ready; /* held media: the ramp ends when every seat is READY */
    if (media && !b->s_conn.valid && !b->want_conn) {
      b->want_conn = true;
      srvmon_poll(b->mon, on_sample, b);
    }
    if (b->s_conn.valid && (ready || !b->o.video)) {
      b->want_full = true;
      srvmon_poll(b->mon, on_sample, b);
    }
  }
  if (now >= r->end_us)
    finish_run(b);
}

static void second_cb(uv_timer_t *t) {
  struct bench *b = t->data;
  uint64_t now = brun_now_us(&b->run);
  srvmon_poll(b->mon, on_sample, b);
  if (b->phase == PH_PROBE) {
    /* Start once the server's idle figures are in (or after 3 s without them). */
    if (!b->s_pre.valid && now < 3000000)
      return;
    b->rss_base = b->s_pre.valid ? b->s_pre.rss_kib : srvmon_rss_kib(b->mon);
    b->phase = PH_RUN;
    b->t_run_us = now;
    b->run.end_us = now + (uint64_t)(b->o.duration_s * 1e6);
    return;
  }
  progress(b, now);
}

static void sigint_cb(uv_signal_t *s, int sig) {
  struct bench *b = s->data;
  (void)sig;
  fprintf(stderr, "\ntandem-bench: interrupted; summing up\n");
  if (b->phase == PH_RUN)
    finish_run(b);
  else if (b->phase == PH_PROBE)
    exit(1);
}

static void cleanup(struct bench *b) {
  for (size_t i = 0; b->peers && i < b->n_peers; i++)
    bpeer_free(b->peers[i]);
  free(b->peers);
  srvmon_free(b->mon);
  xtalk_free(b->run.xt);
  for (int m = 0; m < BM_COUNT; m++)
    stats_free(b->run.m[m]);
  dtls_ctx_free(b->run.dtls);
  dtls_cert_free(b->cert);
  media_set_free(b->media);
  free(b->ts);
}

/* --merge: the shards' --json results summed up and audited together. 0 when the merged run
 * passed, 1 when it did not, 2 when the files are not the shards of one run. */
static int merge_main(const struct bench_opts *o) {
  json_t **docs = calloc((size_t)o->n_merge, sizeof(*docs));
  int rc = docs ? 0 : 2;
  for (int i = 0; i < o->n_merge && rc == 0; i++) {
    json_error_t je;
    if (!(docs[i] = json_load_file(o->merge_files[i], 0, &je))) {
      fprintf(stderr, "tandem-bench: %s: %s (line %d)\n", o->merge_files[i], je.text, je.line);
      rc = 2;
    }
  }
  static struct shard_merged m;
  char err[256] = "";
  int mrc = rc ? 0 : shard_merge(docs, (size_t)o->n_merge, &m, err, sizeof(err));
  if (mrc) {
    fprintf(stderr, "tandem-bench: --merge: %s\n", mrc == -EINVAL ? err : strerror(-mrc));
    rc = 2;
  }
  if (rc == 0) {
    m.o.json = o->json;
    summary_print_table(o->json ? stderr : stdout, &m.run, &m.res);
    if (o->json)
      summary_print_json(stdout, &m.run, &m.res);
    if (o->report && (mrc = report_write(o->report, &m.run, &m.res)) != 0)
      fprintf(stderr, "tandem-bench: cannot write %s: %s\n", o->report, strerror(-mrc));
    rc = m.res.ok ? 0 : 1;
    shard_merged_free(&m);
  }
  for (int i = 0; docs && i < o->n_merge; i++)
    json_decref(docs[i]);
  free(docs);
  return rc;
}

/* --remote: the address this machine reaches the --url host from (what the kernel's route
 * picks), for the media sockets and the offers' candidates. */
static int local_address(struct brun *r) {
  int fd = socket(r->http_addr.ss_family, SOCK_DGRAM, 0);
  socklen_t len = sizeof(r->media_addr);
  socklen_t alen = r->http_addr.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                     : sizeof(struct sockaddr_in6);
  int rc = fd >= 0 && connect(fd, (const struct sockaddr *)&r->http_addr, alen) == 0 &&
                   getsockname(fd, (struct sockaddr *)&r->media_addr, &len) == 0
               ? 0
               : -errno;
  if (fd >= 0)
    close(fd);
  if (rc == 0 && r->media_addr.ss_family == AF_INET)
    uv_ip4_name((const struct sockaddr_in *)&r->media_addr, r->media_ip, sizeof(r->media_ip));
  else if (rc == 0)
    uv_ip6_name((const struct sockaddr_in6 *)&r->media_addr, r->media_ip, sizeof(r->media_ip));
  return rc;
}

int main(int argc, char **argv) {
  static struct bench bench;
  struct bench *b = &bench;
  struct brun *r = &b->run;
  int rc = opts_parse(argc, argv, &b->o, &r->http_addr);
  if (rc)
    return rc > 0 ? 0 : 2;
  if (b->o.merge)
    return merge_main(&b->o);
  /* The media sockets and the offers' candidates: the --url host's own address (this
   * machine), or with --remote the address the route to it leaves from. */
  r->media_addr = r->http_addr;
  snprintf(r->media_ip, sizeof(r->media_ip), "%.63s", b->o.host);
  if (b->o.remote && (rc = local_address(r)) != 0) {
    fprintf(stderr, "tandem-bench: no route to %s: %s\n", b->o.host, strerror(-rc));
    return 1;
  }
  /* Each peer holds two sockets; make room for them. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  uv_loop_init(&b->loop);
  r->loop = &b->loop;
  r->o = &b->o;
  r->media_held = b->o.hold_media;
  r->t0_us = uv_hrtime() / 1000;
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  r->t0_unix_us = (uint64_t)wall.tv_sec * 1000000u + (uint64_t)wall.tv_nsec / 1000u;
  r->rng = b->o.seed * 0x2545f4914f6cdd1dull + 1;
  b->tty = isatty(STDERR_FILENO);
  snprintf(r->host_hdr, sizeof(r->host_hdr), "%s%.63s%s:%d", strchr(b->o.host, ':') ? "[" : "",
           b->o.host, strchr(b->o.host, ':') ? "]" : "", b->o.port);
  r->offer_template = offer_chrome_template;
  if (b->o.shard_n) {
    /* The shards of a run share the nonce, so each can tell another shard's visitor from a
     * stranger: it comes from what they share, the seed (splitmix64). */
    uint64_t z = b->o.seed + 0x5348415244ull * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    r->nonce = (uint32_t)(z ^ (z >> 31)) | 1u;
  } else if (RAND_bytes((unsigned char *)&r->nonce, sizeof(r->nonce)) != 1) {
    r->nonce = (uint32_t)getpid();
  }
  rc = srtpctx_global_init();
  if (rc == 0)
    rc = dtls_fast_ec_install(); /* the simulated browsers pay less for their handshakes too */
  if (rc == 0 && !(b->cert = dtls_cert_new()))
    rc = -EIO;
  if (rc == 0) {
    r->fingerprint = dtls_cert_fingerprint(b->cert);
    r->dtls = dtls_ctx_new(b->cert, DTLS_ROLE_CLIENT, NULL);
    rc = r->dtls ? check_offer(r) : -EIO;
  }
  if (rc == 0)
    rc = media_set_new(b->o.video_kbps, b->o.video, b->o.audio, &b->media);
  r->media = b->media;
  r->xt = xtalk_new(r->nonce);
  if (r->xt && b->o.shard_n)
    xtalk_set_shard(r->xt, b->o.shard_k, b->o.shard_n);
  for (int m = 0; m < BM_COUNT; m++)
    if (!(r->m[m] = stats_new()))
      rc = -ENOMEM;
  if (rc == 0 && !r->xt)
    rc = -ENOMEM;
  if (rc == 0)
    rc = make_peers(b);
  if (rc == 0) {
    b->mon = srvmon_new(&b->loop, (const struct sockaddr *)&r->http_addr, r->host_hdr,
                        b->o.server_pid, (uint16_t)(b->o.remote ? 0 : b->o.port), now_cb, r);
    if (!b->mon)
      rc = -ENOMEM;
  }
  if (rc) {
    fprintf(stderr, "tandem-bench: set-up failed: %s\n", strerror(-rc));
    cleanup(b);
    uv_loop_close(&b->loop);
    return 1;
  }
  fprintf(stderr, "tandem-bench: %d peers against %s for %.0f s (server pid %d, video %.0f "
                  "kbit/s encoded, %zu packets per 2 s loop)\n",
          b->o.peers, b->o.url, b->o.duration_s, srvmon_pid(b->mon), b->media->video_kbps_real,
          b->media->video_packets);
  uv_timer_init(&b->loop, &b->tick);
  uv_timer_init(&b->loop, &b->second);
  uv_signal_init(&b->loop, &b->sigint);
  b->tick.data = b->second.data = b->sigint.data = b;
  uv_timer_start(&b->tick, tick_cb, TICK_MS, TICK_MS);
  uv_timer_start(&b->second, second_cb, 0, 1000);
  uv_signal_start(&b->sigint, sigint_cb, SIGINT);
  srvmon_poll(b->mon, on_sample, b);
  uv_run(&b->loop, UV_RUN_DEFAULT);
  if (b->phase == PH_CLOSING && !b->reported) {
    run_floor(b, &b->res);
    print_results(b);
  }
  cleanup(b);
  if (uv_loop_close(&b->loop) != 0)
    fprintf(stderr, "tandem-bench: some handles were still open at exit\n");
  return b->exit_code;
}
