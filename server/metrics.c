/* metrics.c -- the Prometheus text exposition of the server's counters and histograms. */
#include "server/metrics.h"

#include <dirent.h>
#include <openssl/crypto.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "server/admin.h"
#include "server/app_int.h"
#include "server/cluster.h"
#include "server/classify.h"
#include "server/moderate.h"
#include "server/version.h"

void metrics_hist_init(struct metrics_hist *h, const double *bounds, size_t n) {
  memset(h, 0, sizeof(*h));
  h->bounds = bounds;
  h->n = n < METRICS_HIST_MAX ? n : METRICS_HIST_MAX;
}

void metrics_hist_observe(struct metrics_hist *h, double seconds) {
  size_t i = 0;
  while (i < h->n && seconds > h->bounds[i])
    i++;
  h->counts[i]++;
  h->count++;
  h->sum += seconds;
}

void metrics_put(FILE *f, const char *name, const char *type, const char *help, double v) {
  fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

#define metric metrics_put

static void hist(FILE *f, const char *name, const char *help, const struct metrics_hist *h) {
  fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  uint64_t cum = 0;
  for (size_t i = 0; i < h->n; i++) {
    cum += h->counts[i];
    fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long)cum);
  }
  fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
  fprintf(f, "%s_sum %.17g\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

/* Label values are ours (versions), but escape them as the format asks anyway. */
static void label(FILE *f, const char *key, const char *v, bool first) {
  fprintf(f, "%s%s=\"", first ? "" : ",", key);
  for (; *v; v++) {
    if (*v == '"' || *v == '\\')
      fputc('\\', f);
    if (*v == '\n')
      fputs("\\n", f);
    else
      fputc(*v, f);
  }
  fputc('"', f);
}

/* The standard process_* metrics, as the Prometheus client libraries export them. */
static void process_metrics(FILE *f, struct app *a) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  metric(f, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpu);
  long size = 0, rss = 0, page = sysconf(_SC_PAGESIZE);
  FILE *sf = fopen("/proc/self/statm", "r");
  if (sf) {
    if (fscanf(sf, "%ld %ld", &size, &rss) != 2)
      size = rss = 0;
    fclose(sf);
  }
  metric(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", (double)rss * (double)page);
  metric(f, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", (double)size * (double)page);
  metric(f, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", a->started_wall);
  int fds = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    for (struct dirent *e; (e = readdir(d)) != NULL;)
      if (e->d_name[0] != '.')
        fds++;
    closedir(d);
    fds--; /* the directory's own descriptor */
  }
  metric(f, "process_open_fds", "gauge", "Number of open file descriptors.", fds);
  struct rlimit rl;
  double maxfds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (double)rl.rlim_cur : 0;
  metric(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.", maxfds);
}

size_t metrics_render(struct app *a, char **out) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) {
    *out = NULL;
    return 0;
  }
  fprintf(f, "# HELP tandem_build_info The running build: version, commit and libraries.\n"
             "# TYPE tandem_build_info gauge\ntandem_build_info{");
  label(f, "version", tandem_version(), true);
  label(f, "commit", tandem_commit(), false);
  label(f, "libuv", uv_version_string(), false);
  label(f, "openssl", OpenSSL_version(OPENSSL_VERSION_STRING), false);
  fprintf(f, "} 1\n");
  struct mediaplane_stats ws;
  mediaplane_get_stats(a->media, &ws);
  metric(f, "tandem_peers", "gauge", "Connected peers (including those in grace).", (double)a->n_peers);
  metric(f, "tandem_peers_waiting", "gauge", "Peers in the waiting pool.",
         (double)a->n_waiting);
  metric(f, "tandem_peers_paired", "gauge", "Peers in a pair.", (double)a->n_paired);
  metric(f, "tandem_draining", "gauge", "1 while the node drains.", a->draining ? 1 : 0);
  metric(f, "tandem_visits_total", "counter", "Visits begun (a hello without a resumable token).", (double)a->n.visits);
  metric(f, "tandem_moved_total", "counter", "Visitors told to move to another node (draining).", (double)a->n.moved);
  metric(f, "tandem_ws_connections_total", "counter", "WebSocket connections opened.", (double)a->n.ws_opened);
  metric(f, "tandem_ws_messages_total", "counter", "Signalling messages received.", (double)a->n.ws_messages);
  metric(f, "tandem_ws_errors_total", "counter", "Error replies sent.", (double)a->n.ws_errors);
  metric(f, "tandem_offers_total", "counter", "SDP offers received.", (double)a->n.offers);
  metric(f, "tandem_offers_rejected_total", "counter", "SDP offers rejected.", (double)a->n.offers_rejected);
  metric(f, "tandem_matches_total", "counter", "Pairs made.", (double)a->n.matches);
  metric(f, "tandem_nexts_total", "counter", "Next presses.", (double)a->n.nexts);
  metric(f, "tandem_resumes_total", "counter", "Resumed visits.", (double)a->n.resumes);
  metric(f, "tandem_visits_moved_in_total", "counter",
         "Visits resumed here from another node (included in resumes).", (double)a->n.moved_in);
  metric(f, "tandem_visits_moved_out_total", "counter",
         "Visits handed over to another node on a refresh.", (double)a->n.moved_out);
  metric(f, "tandem_media_failures_total", "counter", "Media sessions that failed.", (double)a->n.media_failures);
  metric(f, "tandem_chats_total", "counter", "Chat messages relayed.", (double)a->n.chats);
  metric(f, "tandem_chats_dropped_total", "counter", "Chat messages refused (rate, no partner).", (double)a->n.chats_dropped);
  metric(f, "tandem_blocks_total", "counter", "Blocks.", (double)a->n.blocks);
  metric(f, "tandem_rate_limited_total", "counter", "Offers and resumes refused by offers_per_min, offers_per_min_per_ip or resumes_per_min.", (double)a->n.rate_limited);
  metric(f, "tandem_reports_total", "counter", "Reports stored (with their evidence) and acknowledged.", (double)a->n.reports);
  metric(f, "tandem_reports_failed_total", "counter", "Reports that could not be stored.", (double)a->n.reports_failed);
  metric(f, "tandem_bans_total", "counter", "Bans made (by moderators, the report policy or the classifier).", (double)a->n.bans);
  metric(f, "tandem_banned_refused_total", "counter", "Hellos and live visitors turned away by a ban.", (double)a->n.banned_refused);
  metric(f, "tandem_kicks_total", "counter", "Visits ended by a moderator or the classifier.", (double)a->n.kicks);
  metric(f, "tandem_device_tokens_refused_total", "counter", "Device tokens refused (forged, tampered with, another key): a new device was issued.", (double)a->n.device_refused);
  metric(f, "tandem_snapshots_total", "counter", "Snapshots taken (keyframe decoded and encoded as JPEG).", (double)a->n.snapshots);
  metric(f, "tandem_snapshots_failed_total", "counter", "Snapshots that failed (no keyframe in time, busy, undecodable).", (double)a->n.snapshots_failed);
  moderate_metrics(f, a);
  classify_metrics(f, a);
  admin_proxy_metrics(f);
  if (a->node && a->match)
    cluster_metrics(f, a->match);
  hist(f, "tandem_connect_seconds", "From a visit's hello to its media flowing (ICE, DTLS, SRTP: ready).", &a->h_connect);
  hist(f, "tandem_match_wait_seconds", "From entering the pool (Start, Next, a partner leaving) to being paired.", &a->h_wait);
  hist(f, "tandem_first_frame_seconds", "From a pair being made to the partner's first keyframe being forwarded, per receiver.", &a->h_first_frame);
  metric(f, "tandem_udp_rx_packets_total", "counter", "Datagrams received on the media port.", (double)ws.rx_packets);
  metric(f, "tandem_udp_rx_bytes_total", "counter", "Bytes received on the media port.", (double)ws.rx_bytes);
  metric(f, "tandem_udp_tx_packets_total", "counter", "Datagrams sent from the media port.", (double)ws.tx_packets);
  metric(f, "tandem_udp_tx_bytes_total", "counter", "Bytes sent from the media port.", (double)ws.tx_bytes);
  metric(f, "tandem_udp_rx_dropped_total", "counter", "Datagrams dropped: unknown sender, not STUN/DTLS/RTP, or a refused relay datagram.", (double)ws.rx_dropped);
  struct httpd_demux_stats hd;
  httpd_get_demux_stats(a->httpd, &hd);
  metric(f, "tandem_https_media_total", "counter",
         "ICE-TCP connections on the HTTPS port handed to their session's media worker.", (double)hd.media);
  metric(f, "tandem_https_refused_total", "counter",
         "Connections on the HTTPS port closed by the first-bytes test: nothing within 5 s, neither TLS, HTTP nor ICE-TCP, or ICE-TCP for no live session.", (double)hd.refused);
  metric(f, "tandem_tcp_dropped_total", "counter",
         "Packets dropped because an ICE-TCP connection's reader was too slow.", (double)ws.tcp_dropped);
  metric(f, "tandem_stun_ok_total", "counter", "Valid ICE connectivity checks answered.", (double)ws.stun_ok);
  metric(f, "tandem_stun_rejected_total", "counter", "STUN requests ignored: unknown user or bad integrity.", (double)ws.stun_rejected);
  metric(f, "tandem_stun_malformed_total", "counter", "Malformed STUN messages.", (double)ws.stun_malformed);
  metric(f, "tandem_stun_conflicts_total", "counter",
         "Valid checks not answered: another live session holds that address.", (double)ws.stun_conflicts);
  metric(f, "tandem_dtls_handshakes_total", "counter", "DTLS handshakes completed.", (double)ws.dtls_ok);
  metric(f, "tandem_dtls_released_total", "counter",
         "DTLS objects freed once the browser's first SRTP packet proved its handshake complete.",
         (double)ws.dtls_released);
  metric(f, "tandem_dtls_failures_total", "counter", "DTLS handshakes failed.", (double)ws.dtls_failed);
  metric(f, "tandem_srtp_errors_total", "counter", "Packets failing SRTP authentication.", (double)ws.srtp_errors);
  metric(f, "tandem_rtp_forwarded_total", "counter", "RTP packets forwarded to a receiver.", (double)ws.rtp_forwarded);
  metric(f, "tandem_rtp_retransmitted_total", "counter", "Of those forwarded, packets a receiver asked for again (NACK) that the sender resent.", (double)ws.rtp_retransmitted);
  metric(f, "tandem_rtp_dropped_total", "counter", "RTP packets not forwarded (waiting for a keyframe, malformed, late).", (double)ws.rtp_dropped);
  metric(f, "tandem_keyframe_requests_total", "counter", "PLI/FIR sent to senders.", (double)ws.keyframe_requests);
  metric(f, "tandem_snapshot_keyframes_recorded_total", "counter", "Snapshot keyframes taken from the recording, without asking the browser.", (double)ws.keyframes_recorded);
  metric(f, "tandem_xworker_packets_total", "counter", "Packets handed between media workers.", (double)ws.xworker_packets);
  metric(f, "tandem_xworker_dropped_total", "counter", "Packets dropped because a ring between workers was full.", (double)ws.xworker_dropped);
  metric(f, "tandem_media_workers", "gauge", "Media worker threads.", (double)mediaplane_workers(a->media));
  metric(f, "tandem_media_workers_polling", "gauge", "Media workers draining their socket on a timer (high load).", (double)ws.workers_polling);
  metric(f, "tandem_sessions_live", "gauge", "Media sessions alive.", (double)ws.sessions_live);
  metric(f, "tandem_sessions_total", "counter", "Media sessions created.", (double)ws.sessions);
  metric(f, "tandem_recorder_bytes", "gauge",
         "Memory the media sessions' evidence recorders hold (media_record_ms).",
         (double)ws.recorder_bytes);
  /* The node-to-node relay (media/relay.c): zero until the control plane opens relays. */
  metric(f, "tandem_relay_rx_packets_total", "counter", "Relayed packets (each sealed on its own) from other nodes accepted.", (double)ws.relay_rx_packets);
  metric(f, "tandem_relay_rx_bytes_total", "counter", "Bytes of the relayed packets accepted, as sealed.", (double)ws.relay_rx_bytes);
  metric(f, "tandem_relay_rx_datagrams_total", "counter", "UDP datagrams from other nodes' relays (a bundle carries several packets).", (double)ws.relay_rx_datagrams);
  metric(f, "tandem_relay_tx_packets_total", "counter", "Relayed packets sealed for other nodes.", (double)ws.relay_tx_packets);
  metric(f, "tandem_relay_tx_datagrams_total", "counter", "UDP datagrams queued to other nodes' relays (a bundle carries several packets).", (double)ws.relay_tx_datagrams);
  metric(f, "tandem_relay_tx_bytes_total", "counter", "Bytes of those datagrams.", (double)ws.relay_tx_bytes);
  metric(f, "tandem_relay_auth_failures_total", "counter", "Relay datagrams refused: they did not authenticate.", (double)ws.relay_auth_failed);
  metric(f, "tandem_relay_replays_total", "counter", "Relay datagrams refused: a counter already seen or too old.", (double)ws.relay_replayed);
  metric(f, "tandem_relay_malformed_total", "counter", "Relay datagrams refused: malformed or of an unknown version.", (double)ws.relay_malformed);
  metric(f, "tandem_relay_unknown_total", "counter", "Relay datagrams for no open relay on this node.", (double)ws.relay_unknown);
  metric(f, "tandem_relay_dropped_total", "counter", "Relay packets not sent (relay closed, sealing failed).", (double)ws.relay_dropped);
  process_metrics(f, a);
  fclose(f);
  *out = buf;
  return len;
}
