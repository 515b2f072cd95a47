/* summary.h -- tandem-bench's figures: the summary table and --json. */
#ifndef TANDEM_BENCH_SUMMARY_H
#define TANDEM_BENCH_SUMMARY_H

#include <stdio.h>

#include "bench/bench.h"

/* One second of the run, for the live line and the report's time series. */
struct tpoint {
  double t_s;
  uint32_t connected, ready, paired;
  double tx_pps, rx_pps, fwd_pps; /* bench sent / bench received / server forwarded */
  double srv_cpu_pct, bench_cpu_pct, srv_rss_mib;
  uint64_t xtalk, errors;
};

struct behaviour_figures {
  uint32_t peers, ever_ready, visits;
  uint32_t pairings_checked, pairings_ok; /* pairings >= 3 s, and those with partner media */
  uint32_t peers_with_media;              /* peers with at least one such pairing, all ok */
};

/* Everything the run found, gathered by main.c at the end. */
struct bench_result {
  double wall_s;
  uint32_t peers;
  struct behaviour_figures by[BH_COUNT];
  uint64_t xtalk_total, segments_checked;
  uint64_t errors_total;
  bool ok;
  /* The server under test. */
  int server_pid;
  bool srv_valid;                 /* /metrics was read at full load and at the end */
  double srv_window_s;            /* full load .. last scrape */
  double srv_cpu_s, srv_forwarded, srv_us_per_packet;
  double srv_cpu_pct;
  long rss_base_kib, rss_full_kib;
  double rss_per_peer_kib;
  bool connect_valid;             /* the ramp's DTLS handshakes were measured */
  double ramp_handshakes, ramp_cpu_s, ramp_ms_per_connect;
  /* --floor: relay_floor on the same packets after the run. */
  bool floor_valid;
  double floor_us, floor_rate, floor_per_recvmmsg, floor_ratio; /* one relay thread */
  /* The same relay with one thread per media worker of the server (its shape); valid when
   * the server has more than one worker. */
  unsigned srv_workers;
  bool floor_w_valid;
  double floor_w_us, floor_w_ratio;
  double srv_dtls_failed, srv_srtp_errors, srv_dropped, srv_keyframe_requests,
      srv_media_failures;
  /* The bench itself. */
  double bench_cpu_s, bench_cpu_pct;
  double video_kbps_encoded;
  const struct tpoint *ts;
  size_t n_ts;
  /* --shard K/N (shard_n 0: not sharded) and --merge (merged: the sum of shard_n shards). */
  unsigned shard_k, shard_n;
  bool merged;
  uint64_t cross_shard;    /* runs of media received from a visitor of another shard */
  uint64_t xtalk_deferred; /* a shard: of those, the ones only --merge can audit in full */
};

/* The human summary: a table of every figure, and the verdict. */
void summary_print_table(FILE *f, struct brun *r, const struct bench_result *res);

/* The same figures as one JSON object (bench/README.md lists its fields). */
void summary_print_json(FILE *f, struct brun *r, const struct bench_result *res);

#endif
