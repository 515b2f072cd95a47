/* srvmon.c -- watching the server under test: its /metrics, and its memory from /proc. */
#include "bench/srvmon.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/httpget.h"

#define SCRAPE_TIMEOUT_MS 2000
#define MAX_PROC_SCAN 100000 /* fds looked at when searching for the listening process */

struct srvmon {
  uv_loop_t *loop;
  struct sockaddr_storage addr;
  char host[96];
  int pid;
  uint64_t (*clock)(void *);
  void *clock_arg;
  bool in_flight, dying;
  unsigned failures;
  void (*on_sample)(void *, const struct srvmon_sample *);
  void *cb_arg;
  struct srvmon_sample latest;
};

/* ---- finding the server's process ---- */

/* The inode of the socket listening on `port` in /proc/net/tcp or tcp6, or 0. */
static unsigned long listen_inode(const char *file, uint16_t port) {
  FILE *f = fopen(file, "r");
  if (!f)
    return 0;
  char line[512];
  unsigned long found = 0;
  if (!fgets(line, sizeof(line), f)) { /* header */
    fclose(f);
    return 0;
  }
  while (!found && fgets(line, sizeof(line), f)) {
    char local[128], remote[128];
    unsigned st, lport;
    unsigned long inode;
    /* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode */
    if (sscanf(line, "%*d: %127s %127s %x %*s %*s %*s %*u %*u %lu", local, remote, &st,
               &inode) != 4)
      continue;
    char *colon = strrchr(local, ':');
    if (!colon || sscanf(colon + 1, "%x", &lport) != 1)
      continue;
    if (st == 0x0A && lport == port)
      found = inode;
  }
  fclose(f);
  return found;
}

static int pid_of_inode(unsigned long inode) {
  char want[64];
  snprintf(want, sizeof(want), "socket:[%lu]", inode);
  DIR *proc = opendir("/proc");
  if (!proc)
    return 0;
  int pid = 0;
  long budget = MAX_PROC_SCAN;
  struct dirent *d;
  while (!pid && budget > 0 && (d = readdir(proc)) != NULL) {
    char *end;
    long p = strtol(d->d_name, &end, 10);
    if (*end || p <= 0 || p == getpid())
      continue;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/fd", p);
    DIR *fds = opendir(path);
    if (!fds)
      continue; /* another user's process */
    struct dirent *e;
    while (!pid && budget-- > 0 && (e = readdir(fds)) != NULL) {
      char link[352], target[128];
      snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
      ssize_t n = readlink(link, target, sizeof(target) - 1);
      if (n > 0) {
        target[n] = 0;
        if (!strcmp(target, want))
          pid = (int)p;
      }
    }
    closedir(fds);
  }
  closedir(proc);
  return pid;
}

static int find_pid(uint16_t port) {
  if (!port)
    return 0; /* --remote: the server is not on this machine */
  unsigned long ino = listen_inode("/proc/net/tcp", port);
  if (!ino)
    ino = listen_inode("/proc/net/tcp6", port);
  return ino ? pid_of_inode(ino) : 0;
}

/* ---- the monitor ---- */

struct srvmon *srvmon_new(uv_loop_t *loop, const struct sockaddr *http, const char *host,
                          int pid, uint16_t port, uint64_t (*clock)(void *), void *clock_arg) {
  struct srvmon *m = calloc(1, sizeof(*m));
  if (!m)
    return NULL;
  m->loop = loop;
  memcpy(&m->addr, http,
         http->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
  snprintf(m->host, sizeof(m->host), "%s", host);
  m->pid = pid > 0 ? pid : find_pid(port);
  m->clock = clock;
  m->clock_arg = clock_arg;
  m->latest.rss_kib = -1;
  return m;
}

void srvmon_free(struct srvmon *m) {
  if (!m)
    return;
  if (m->in_flight)
    m->dying = true;
  else
    free(m);
}

int srvmon_pid(const struct srvmon *m) { return m->pid; }

long srvmon_rss_kib(const struct srvmon *m) {
  if (m->pid <= 0)
    return -1;
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/status", m->pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  long kib = -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
      break;
  fclose(f);
  return kib;
}

static const struct {
  const char *name;
  size_t off;
} fields[] = {
    {"process_cpu_seconds_total", offsetof(struct srvmon_sample, cpu_s)},
    {"tandem_process_cpu_seconds_total", offsetof(struct srvmon_sample, cpu_s)}, /* until 0.1 */
    {"tandem_rtp_forwarded_total", offsetof(struct srvmon_sample, forwarded)},
    {"tandem_rtp_dropped_total", offsetof(struct srvmon_sample, dropped)},
    {"tandem_peers", offsetof(struct srvmon_sample, peers)},
    {"tandem_peers_paired", offsetof(struct srvmon_sample, paired)},
    {"tandem_peers_waiting", offsetof(struct srvmon_sample, waiting)},
    {"tandem_matches_total", offsetof(struct srvmon_sample, matches)},
    {"tandem_dtls_handshakes_total", offsetof(struct srvmon_sample, dtls_ok)},
    {"tandem_dtls_failures_total", offsetof(struct srvmon_sample, dtls_failed)},
    {"tandem_srtp_errors_total", offsetof(struct srvmon_sample, srtp_errors)},
    {"tandem_keyframe_requests_total", offsetof(struct srvmon_sample, keyframe_requests)},
    {"tandem_media_failures_total", offsetof(struct srvmon_sample, media_failures)},
    {"tandem_udp_rx_packets_total", offsetof(struct srvmon_sample, udp_rx)},
    {"tandem_udp_tx_packets_total", offsetof(struct srvmon_sample, udp_tx)},
    {"tandem_stun_ok_total", offsetof(struct srvmon_sample, stun_ok)},
    {"tandem_media_workers", offsetof(struct srvmon_sample, workers)},
};

/* Reads "name value" lines; returns how many known names were found. */
static int parse_metrics(const char *text, struct srvmon_sample *s) {
  int found = 0;
  const char *line = text;
  while (*line) {
    const char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    if (n && line[0] != '#') {
      const char *sp = memchr(line, ' ', n);
      for (size_t i = 0; sp && i < sizeof(fields) / sizeof(fields[0]); i++) {
        size_t nl = strlen(fields[i].name);
        if ((size_t)(sp - line) == nl && !memcmp(line, fields[i].name, nl)) {
          *(double *)((char *)s + fields[i].off) = strtod(sp + 1, NULL);
          found++;
        }
      }
    }
    line += n + (end ? 1 : 0);
  }
  return found;
}

static void scraped(void *arg, int status, const char *body, size_t len) {
  struct srvmon *m = arg;
  (void)len;
  m->in_flight = false;
  if (m->dying) {
    free(m);
    return;
  }
  struct srvmon_sample s = {0};
  if (status != 200 || parse_metrics(body, &s) < 2) {
    m->failures++;
    return;
  }
  s.valid = true;
  s.t_us = m->clock(m->clock_arg);
  s.rss_kib = srvmon_rss_kib(m);
  m->latest = s;
  if (m->on_sample)
    m->on_sample(m->cb_arg, &m->latest);
}

void srvmon_poll(struct srvmon *m, void (*on_sample)(void *, const struct srvmon_sample *),
                 void *arg) {
  if (m->in_flight || m->dying)
    return;
  m->on_sample = on_sample;
  m->cb_arg = arg;
  if (httpget_start(m->loop, (const struct sockaddr *)&m->addr, m->host, "/metrics",
                    SCRAPE_TIMEOUT_MS, scraped, m) == 0)
    m->in_flight = true;
  else
    m->failures++;
}

const struct srvmon_sample *srvmon_latest(const struct srvmon *m) { return &m->latest; }

unsigned srvmon_failures(const struct srvmon *m) { return m->failures; }
