/* srvmon.h -- watching the server under test: its /metrics, and its memory from /proc. */
#ifndef TANDEM_BENCH_SRVMON_H
#define TANDEM_BENCH_SRVMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

/* The counters of one /metrics scrape (Prometheus text), at t_us. */
struct srvmon_sample {
  bool valid;
  uint64_t t_us;
  double cpu_s, forwarded, dropped, peers, paired, waiting, matches, dtls_ok, dtls_failed,
      srtp_errors, keyframe_requests, media_failures, udp_rx, udp_tx, stun_ok, workers;
  long rss_kib; /* VmRSS from /proc at the same moment, -1 if unknown */
};

struct srvmon;

/* Watches the server at http (Host: host). pid 0 means: find the process
 * that listens on TCP `port` through /proc/net/tcp{,6} and /proc/<pid>/fd
 * (only processes of our own user are visible). clock() returns the run's
 * microseconds. NULL when out of memory. */
struct srvmon *srvmon_new(uv_loop_t *loop, const struct sockaddr *http, const char *host,
                          int pid, uint16_t port, uint64_t (*clock)(void *), void *clock_arg);

/* Lets go: a scrape in flight finishes on its own (within its timeout) and
 * then frees the monitor. NULL ok. */
void srvmon_free(struct srvmon *m);

int srvmon_pid(const struct srvmon *m); /* 0 when unknown */

/* VmRSS of the server now, in KiB; -1 when unknown. */
long srvmon_rss_kib(const struct srvmon *m);

/* Starts a scrape unless one is in flight; the result becomes srvmon_latest
 * when it arrives. on_sample (may be NULL) is called with each new sample. */
void srvmon_poll(struct srvmon *m, void (*on_sample)(void *arg, const struct srvmon_sample *s),
                 void *arg);

/* The newest good sample (valid is false before the first). Borrowed; valid
 * until the next scrape completes. */
const struct srvmon_sample *srvmon_latest(const struct srvmon *m);

/* Scrapes that failed (connection, timeout, HTTP status). */
unsigned srvmon_failures(const struct srvmon *m);

#endif
