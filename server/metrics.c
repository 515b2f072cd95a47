/* metrics.c -- the Prometheus text exposition of the server's counters. */
#include "server/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "server/app_int.h"

static void metric(FILE *f, const char *name, const char *type, const char *help, double v) {
  fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

size_t metrics_render(struct app *a, char **out) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) {
    *out = NULL;
    return 0;
  }
  struct mediaplane_stats ws;
  mediaplane_get_stats(a->media, &ws);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  metric(f, "tandem_peers", "gauge", "Connected peers (including those in grace).", (double)a->n_peers);
  metric(f, "tandem_peers_waiting", "gauge", "Peers in the waiting pool.",
         (double)match_waiting_count(a->match));
  metric(f, "tandem_peers_paired", "gauge", "Peers in a pair.", (double)match_paired_count(a->match));
  metric(f, "tandem_draining", "gauge", "1 while the node drains.", a->draining ? 1 : 0);
  metric(f, "tandem_ws_connections_total", "counter", "WebSocket connections opened.", (double)a->n.ws_opened);
  metric(f, "tandem_ws_messages_total", "counter", "Signalling messages received.", (double)a->n.ws_messages);
  metric(f, "tandem_ws_errors_total", "counter", "Error replies sent.", (double)a->n.ws_errors);
  metric(f, "tandem_offers_total", "counter", "SDP offers received.", (double)a->n.offers);
  metric(f, "tandem_offers_rejected_total", "counter", "SDP offers rejected.", (double)a->n.offers_rejected);
  metric(f, "tandem_matches_total", "counter", "Pairs made.", (double)a->n.matches);
  metric(f, "tandem_nexts_total", "counter", "Next presses.", (double)a->n.nexts);
  metric(f, "tandem_resumes_total", "counter", "Resumed visits.", (double)a->n.resumes);
  metric(f, "tandem_media_failures_total", "counter", "Media sessions that failed.", (double)a->n.media_failures);
  metric(f, "tandem_chats_total", "counter", "Chat messages relayed.", (double)a->n.chats);
  metric(f, "tandem_chats_dropped_total", "counter", "Chat messages refused (rate, no partner).", (double)a->n.chats_dropped);
  metric(f, "tandem_blocks_total", "counter", "Blocks.", (double)a->n.blocks);
  metric(f, "tandem_udp_rx_packets_total", "counter", "Datagrams received on the media port.", (double)ws.rx_packets);
  metric(f, "tandem_udp_rx_bytes_total", "counter", "Bytes received on the media port.", (double)ws.rx_bytes);
  metric(f, "tandem_udp_tx_packets_total", "counter", "Datagrams sent from the media port.", (double)ws.tx_packets);
  metric(f, "tandem_udp_tx_bytes_total", "counter", "Bytes sent from the media port.", (double)ws.tx_bytes);
  metric(f, "tandem_udp_rx_dropped_total", "counter", "Datagrams dropped: unknown sender or not STUN/DTLS/RTP.", (double)ws.rx_dropped);
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
  metric(f, "tandem_rtp_dropped_total", "counter", "RTP packets not forwarded (waiting for a keyframe, malformed, late).", (double)ws.rtp_dropped);
  metric(f, "tandem_keyframe_requests_total", "counter", "PLI/FIR sent to senders.", (double)ws.keyframe_requests);
  metric(f, "tandem_xworker_packets_total", "counter", "Packets handed between media workers.", (double)ws.xworker_packets);
  metric(f, "tandem_xworker_dropped_total", "counter", "Packets dropped because a ring between workers was full.", (double)ws.xworker_dropped);
  metric(f, "tandem_media_workers", "gauge", "Media worker threads.", (double)mediaplane_workers(a->media));
  metric(f, "tandem_media_workers_polling", "gauge", "Media workers draining their socket on a timer (high load).", (double)ws.workers_polling);
  metric(f, "tandem_sessions_live", "gauge", "Media sessions alive.", (double)ws.sessions_live);
  metric(f, "tandem_sessions_total", "counter", "Media sessions created.", (double)ws.sessions);
  metric(f, "tandem_process_cpu_seconds_total", "counter", "User+system CPU time of the server.", cpu);
  metric(f, "tandem_process_max_rss_bytes", "gauge", "Peak resident memory.", (double)ru.ru_maxrss * 1024.0);
  long pages = 0, rss = 0;
  FILE *sf = fopen("/proc/self/statm", "r");
  if (sf) {
    if (fscanf(sf, "%ld %ld", &pages, &rss) != 2)
      rss = 0;
    fclose(sf);
  }
  metric(f, "tandem_process_resident_memory_bytes", "gauge", "Resident memory now.", (double)rss * 4096.0);
  fclose(f);
  *out = buf;
  return len;
}
