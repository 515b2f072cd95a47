/* summary.c -- tandem-bench's figures: the summary table and --json. */
#include "bench/summary.h"

#include <jansson.h>
#include <string.h>

#include "bench/shard.h"

static void print_metric_row(FILE *f, struct stats *s, const char *name, const char *unit) {
  if (!stats_count(s)) {
    fprintf(f, "  %-22s %7zu %9s %9s %9s %9s %9s\n", name, (size_t)0, "-", "-", "-", "-", "-");
    return;
  }
  fprintf(f, "  %-22s %7zu %9.2f %9.2f %9.2f %9.2f %9.2f  %s\n", name, stats_count(s),
          stats_pct(s, 0.5), stats_pct(s, 0.95), stats_pct(s, 0.99), stats_max(s), stats_mean(s),
          unit);
}

void summary_print_table(FILE *f, struct brun *r, const struct bench_result *res) {
  const struct bench_opts *o = r->o;
  const struct bench_totals *t = &r->t;
  fprintf(f, "\n== tandem-bench: %d peers, %.0f s, ramp %.0f/s against %s ==\n", o->peers,
          o->duration_s, o->ramp, o->url);
  if (res->merged)
    fprintf(f, "merged: %u shards of one run (%u peers); cross-talk audited across all of them; "
               "the server's figures are shard 1's\n",
            res->shard_n, res->peers);
  else if (res->shard_n)
    fprintf(f, "shard %u/%u: %u of the run's %d peers (seats %u, %u, ...; nonce %08x)\n",
            res->shard_k, res->shard_n, res->peers, o->peers, res->shard_k - 1,
            res->shard_k - 1 + res->shard_n, r->nonce);
  fprintf(f, "mix:");
  for (int b = 0; b < BH_COUNT; b++)
    fprintf(f, " %s=%d%%", bench_behaviour_names[b], o->mix[b]);
  fprintf(f, "; skips every %.1f-%.1f s; video %s (%d kbit/s asked, %.0f encoded), audio %s\n",
          o->skip_min_s, o->skip_max_s, o->video ? "on" : "off", o->video_kbps,
          res->video_kbps_encoded, o->audio ? "on" : "off");

  fprintf(f, "\n%-10s %6s %6s %7s %13s %12s %18s\n", "behaviour", "peers", "READY", "visits",
          "pairings>=3s", "with media", "peers with media");
  for (int b = 0; b < BH_COUNT; b++) {
    const struct behaviour_figures *x = &res->by[b];
    if (!x->peers)
      continue;
    fprintf(f, "%-10s %6u %6u %7u %13u %12u %18u\n", bench_behaviour_names[b], x->peers,
            x->ever_ready, x->visits, x->pairings_checked, x->pairings_ok, x->peers_with_media);
  }
  fprintf(f,
          "\nevents: %llu matched, %llu nexts, %llu partner_left, %llu cooldowns, %llu refreshes "
          "(%llu resumed), %llu vanished, %llu reports (%llu acknowledged, %llu refused)\n",
          (unsigned long long)t->matched, (unsigned long long)t->nexts,
          (unsigned long long)t->partner_left, (unsigned long long)t->cooldowns,
          (unsigned long long)t->refreshes, (unsigned long long)t->resumed,
          (unsigned long long)t->vanished, (unsigned long long)t->reports,
          (unsigned long long)t->reported, (unsigned long long)t->reports_limited);
  fprintf(f, "media: sent %llu packets (%.2f Mbit/s; %llu could not be sent), received %llu "
             "(%.2f Mbit/s); %llu PLI, %llu FIR, %llu NACK received; %llu keyframes sent\n",
          (unsigned long long)t->tx_packets, (double)t->tx_bytes * 8 / 1e6 / res->wall_s,
          (unsigned long long)t->tx_dropped,
          (unsigned long long)t->rx_packets, (double)t->rx_bytes * 8 / 1e6 / res->wall_s,
          (unsigned long long)t->plis, (unsigned long long)t->firs, (unsigned long long)t->nacks,
          (unsigned long long)t->keyframes_sent);
  if (r->o->tcp)
    fprintf(f, "transport: ICE-TCP, %llu of %llu connections established, %llu frames received "
               "(%.2f Mbit/s), %llu packets queued behind a full socket; %llu UDP datagrams "
               "received\n",
            (unsigned long long)t->tcp_connected, (unsigned long long)t->tcp_connects,
            (unsigned long long)t->tcp_rx_frames, (double)t->tcp_rx_bytes * 8 / 1e6 / res->wall_s,
            (unsigned long long)t->tcp_queued, (unsigned long long)t->udp_rx);
  else
    fprintf(f, "transport: UDP, %llu datagrams received\n", (unsigned long long)t->udp_rx);

  fprintf(f, "\n  %-22s %7s %9s %9s %9s %9s %9s\n", "figure", "n", "p50", "p95", "p99", "max",
          "mean");
  for (int m = 0; m < BM_COUNT; m++)
    print_metric_row(f, r->m[m], bench_metric_names[m], bench_metric_units[m]);

  fprintf(f, "\ncross-talk: %llu (order: audio %llu, video %llu; foreign sender %llu; outside "
             "pairings %llu; %llu runs audited)\n",
          (unsigned long long)res->xtalk_total, (unsigned long long)t->xtalk_order[0],
          (unsigned long long)t->xtalk_order[1], (unsigned long long)t->xtalk_foreign,
          (unsigned long long)t->xtalk_window, (unsigned long long)res->segments_checked);
  if (res->shard_n)
    fprintf(f, "shards: %llu runs came from a visitor of another shard%s\n",
            (unsigned long long)res->cross_shard,
            res->merged ? ""
            : res->xtalk_deferred ? ", checked on this side only: `tandem-bench --merge` with "
                                    "every shard's --json result checks the sender's side"
                                  : "");
  fprintf(f, "errors: %llu", (unsigned long long)res->errors_total);
  for (int e = 0; e < BE_COUNT; e++)
    if (t->err[e])
      fprintf(f, " %s=%llu", bench_err_names[e], (unsigned long long)t->err[e]);
  fputc('\n', f);
  if (t->pv_unseen)
    fprintf(f, "note: %llu partner_video timestamps never arrived before the pairing ended\n",
            (unsigned long long)t->pv_unseen);

  fprintf(f, "\nserver (pid %d):", res->server_pid);
  if (res->srv_valid)
    fprintf(f, " %.2f us CPU per forwarded packet (%.0f packets, %.2f CPU s over %.1f s, %.0f%% "
               "of a core)\n",
            res->srv_us_per_packet, res->srv_forwarded, res->srv_cpu_s, res->srv_window_s,
            res->srv_cpu_pct);
  else
    fprintf(f, " /metrics not read at full load\n");
  if (res->floor_valid)
    fprintf(f, "  relay floor on the same packets (%.0f pkt/s, %u streams, %.1f per recvmmsg), "
               "1 relay thread: %.2f us; server / floor = %.2fx\n",
            res->floor_rate, res->peers, res->floor_per_recvmmsg, res->floor_us, res->floor_ratio);
  if (res->floor_w_valid)
    fprintf(f, "  relay floor with %u relay threads, as the server's %u media workers: %.2f us; "
               "server / floor = %.2fx\n",
            res->srv_workers, res->srv_workers, res->floor_w_us, res->floor_w_ratio);
  if (res->rss_full_kib > 0)
    fprintf(f, "  memory: %.1f MiB before, %.1f MiB at full load: %.1f KiB per peer\n",
            res->rss_base_kib / 1024.0, res->rss_full_kib / 1024.0, res->rss_per_peer_kib);
  if (res->connect_valid)
    fprintf(f, "  connects during the ramp: %.0f DTLS handshakes, %.3f ms server CPU each "
               "(WebSocket, offer, ICE, DTLS, SRTP together)\n",
            res->ramp_handshakes, res->ramp_ms_per_connect);
  fprintf(f, "  counters: %.0f DTLS failures, %.0f SRTP errors, %.0f RTP dropped, %.0f keyframe "
             "requests, %.0f media failures\n",
          res->srv_dtls_failed, res->srv_srtp_errors, res->srv_dropped,
          res->srv_keyframe_requests, res->srv_media_failures);
  fprintf(f, "bench: %.2f CPU s over %.1f s (%.0f%% of a core)\n", res->bench_cpu_s, res->wall_s,
          res->bench_cpu_pct);
  fprintf(f, "\nRESULT: %s (%llu cross-talk, %llu errors)\n", res->ok ? "PASS" : "FAIL",
          (unsigned long long)res->xtalk_total, (unsigned long long)res->errors_total);
}

static json_t *metric_json(struct stats *s) {
  if (!stats_count(s))
    return json_pack("{s:i}", "n", 0);
  return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "n", (json_int_t)stats_count(s), "p50",
                   stats_pct(s, 0.5), "p95", stats_pct(s, 0.95), "p99", stats_pct(s, 0.99), "min",
                   stats_min(s), "max", stats_max(s), "mean", stats_mean(s));
}

#define U(x) ((json_int_t)(x))

void summary_print_json(FILE *f, struct brun *r, const struct bench_result *res) {
  const struct bench_opts *o = r->o;
  const struct bench_totals *t = &r->t;
  json_t *mix = json_object(), *by = json_object(), *err = json_object(), *lat = json_object();
  for (int b = 0; b < BH_COUNT; b++) {
    const struct behaviour_figures *x = &res->by[b];
    json_object_set_new(mix, bench_behaviour_names[b], json_integer(o->mix[b]));
    json_object_set_new(by, bench_behaviour_names[b],
                        json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "peers", x->peers,
                                  "ever_ready", x->ever_ready, "visits", x->visits,
                                  "pairings_checked", x->pairings_checked, "pairings_ok",
                                  x->pairings_ok, "peers_with_media", x->peers_with_media));
  }
  for (int e = 0; e < BE_COUNT; e++)
    json_object_set_new(err, bench_err_names[e], json_integer(U(t->err[e])));
  json_object_set_new(err, "total", json_integer(U(res->errors_total)));
  for (int m = 0; m < BM_COUNT; m++)
    json_object_set_new(lat, bench_metric_names[m], metric_json(r->m[m]));
  uint32_t peers_ready = 0, pairings_checked = 0, pairings_ok = 0;
  for (int b = 0; b < BH_COUNT; b++) {
    peers_ready += res->by[b].ever_ready;
    pairings_checked += res->by[b].pairings_checked;
    pairings_ok += res->by[b].pairings_ok;
  }
  json_t *root = json_pack(
      "{s:b, s:f,"
      " s:{s:s, s:i, s:f, s:f, s:o, s:f, s:f, s:i, s:b, s:b, s:I},"
      " s:{s:i, s:i, s:I, s:I, s:o},"
      " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I},"
      " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:I, s:f},"
      " s:{s:I, s:I, s:I, s:I, s:I, s:I},"
      " s:o, s:o}",
      "ok", res->ok, "wall_s", res->wall_s,
      "config", "url", o->url, "peers", o->peers, "duration_s", o->duration_s, "ramp", o->ramp,
      "mix", mix, "skip_min_s", o->skip_min_s, "skip_max_s", o->skip_max_s, "video_kbps",
      o->video_kbps, "video", o->video, "audio", o->audio, "seed", U(o->seed),
      "peers", "total", res->peers, "ever_ready", peers_ready, "visits", U(t->visits),
      "visits_ready", U(t->ready), "by_behaviour", by,
      "events", "matched", U(t->matched), "nexts", U(t->nexts), "partner_left",
      U(t->partner_left), "cooldowns", U(t->cooldowns), "refreshes", U(t->refreshes), "resumed",
      U(t->resumed), "vanished", U(t->vanished), "reports", U(t->reports), "reported",
      U(t->reported), "reports_refused", U(t->reports_limited),
      "media", "tx_packets", U(t->tx_packets), "tx_bytes", U(t->tx_bytes), "tx_dropped",
      U(t->tx_dropped), "rx_packets",
      U(t->rx_packets), "rx_bytes", U(t->rx_bytes), "plis", U(t->plis), "firs", U(t->firs),
      "nacks", U(t->nacks), "keyframes_sent", U(t->keyframes_sent), "pairings_checked",
      pairings_checked, "pairings_ok", pairings_ok, "partner_video_unseen", U(t->pv_unseen),
      "video_kbps_encoded", res->video_kbps_encoded,
      "crosstalk", "total", U(res->xtalk_total), "order_audio", U(t->xtalk_order[0]),
      "order_video", U(t->xtalk_order[1]), "foreign", U(t->xtalk_foreign), "outside_pairing",
      U(t->xtalk_window), "runs_audited", U(res->segments_checked),
      "errors", err, "latency", lat);
  if (!root) {
    fprintf(f, "{\"ok\": false, \"error\": \"could not build the JSON summary\"}\n");
    return;
  }
  json_t *srv = json_pack("{s:i, s:b, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:f, s:b, s:f, s:f, "
                          "s:f, s:f, s:f, s:f, s:f, s:f}",
                          "pid", res->server_pid, "valid", res->srv_valid, "window_s",
                          res->srv_window_s, "cpu_s", res->srv_cpu_s, "forwarded",
                          res->srv_forwarded, "cpu_us_per_forwarded_packet",
                          res->srv_us_per_packet, "cpu_pct", res->srv_cpu_pct, "rss_base_kib",
                          (json_int_t)res->rss_base_kib, "rss_full_kib",
                          (json_int_t)res->rss_full_kib, "rss_per_peer_kib",
                          res->rss_per_peer_kib, "connect_valid", res->connect_valid,
                          "ramp_handshakes", res->ramp_handshakes, "ramp_cpu_s", res->ramp_cpu_s,
                          "ramp_cpu_ms_per_connect", res->ramp_ms_per_connect, "dtls_failures",
                          res->srv_dtls_failed, "srtp_errors", res->srv_srtp_errors,
                          "rtp_dropped", res->srv_dropped, "keyframe_requests",
                          res->srv_keyframe_requests, "media_failures", res->srv_media_failures);
  json_t *media = json_object_get(root, "media");
  json_object_set_new(media, "forged_alerts", json_integer((json_int_t)t->forged_alerts));
  json_object_set_new(json_object_get(root, "config"), "transport",
                      json_string(o->tcp ? "tcp" : "udp"));
  json_object_set_new(media, "transport",
                      json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "kind",
                                o->tcp ? "tcp" : "udp", "udp_rx_datagrams", U(t->udp_rx),
                                "tcp_connects", U(t->tcp_connects), "tcp_connected",
                                U(t->tcp_connected), "tcp_rx_frames", U(t->tcp_rx_frames),
                                "tcp_rx_bytes", U(t->tcp_rx_bytes), "tcp_queued",
                                U(t->tcp_queued)));
  if (srv && res->floor_valid)
    json_object_set_new(srv, "floor", json_pack("{s:f, s:f, s:f, s:f}", "us_per_packet",
                                                res->floor_us, "rate", res->floor_rate,
                                                "per_recvmmsg", res->floor_per_recvmmsg,
                                                "server_over_floor", res->floor_ratio));
  if (srv && res->floor_w_valid)
    json_object_set_new(srv, "floor_per_worker",
                        json_pack("{s:i, s:f, s:f}", "relay_threads", (int)res->srv_workers,
                                  "us_per_packet", res->floor_w_us, "server_over_floor",
                                  res->floor_w_ratio));
  json_object_set_new(root, "server", srv ? srv : json_null());
  if (res->shard_n) {
    json_object_set_new(root, "shards",
                        json_pack("{s:i, s:i, s:b, s:I, s:I}", "k", (int)res->shard_k, "n",
                                  (int)res->shard_n, "merged", res->merged, "cross_shard_runs",
                                  U(res->cross_shard), "deferred_runs",
                                  U(res->xtalk_deferred)));
    if (!res->merged) {
      json_t *sh = shard_json(r, res);
      json_object_set_new(root, "shard", sh ? sh : json_null());
    }
  }
  json_object_set_new(root, "bench", json_pack("{s:f, s:f}", "cpu_s", res->bench_cpu_s, "cpu_pct",
                                               res->bench_cpu_pct));
  json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  fputc('\n', f);
  json_decref(root);
}
