/* relay_floor.c -- the bare SRTP relay floor: recvmmsg, unprotect, protect, sendmmsg. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "media/srtp_ossl.h"
#include "media/srtpctx.h"

/* The denominator of the server's CPU target: what one relay thread spends
 * per packet when it does nothing but
 *
 *   recvmmsg -> srtpctx_unprotect_rtp -> srtpctx_protect_rtp -> sendmmsg
 *
 * on the same packets, over loopback. A sender thread produces SRTP packets
 * at a fixed rate to the relay's socket; the relay re-protects them with
 * its own key and sends them on to a sink thread, which counts them and
 * checks one in VERIFY_EVERY with the receiver's key. Each thread's CPU is
 * its getrusage(RUSAGE_THREAD) user+system time over the run divided by its
 * packets (the total is exact; the user/system split is tick-sampled and
 * unreliable in VMs, so it is not printed). The relay's figure depends on
 * how many packets each wakeup finds, so compare it with a server measured
 * at the same rate; packets per recvmmsg is printed to show it.
 *
 * On loopback the kernel delivers a datagram into the receiving socket
 * inside the sender's sendmmsg, so the relay's receive-side kernel work is
 * charged to the sender thread, and the sink's to the relay. The relay's
 * figure thus holds one receive path and one send path, as a server's does.
 * The sender's figure includes its own protect, printed apart.
 *
 *   relay_floor [-r pkts_per_s] [-d seconds] [-s rtp_bytes] [-b batch]
 *               [-t tick_us] [-p gcm|sha1|both]
 *   defaults:   -r 20000 -d 5 -s 1200 -b 32 -t 1000 -p both
 *
 * TANDEM_SRTP_BACKEND=libsrtp measures with stock libsrtp2 transforms.
 * Prints; never asserts. */

#define CAP 1600
#define MAX_BATCH 256
#define VERIFY_EVERY 64

struct cfg {
  long rate;
  double secs;
  size_t size;
  int batch;
  long tick_us;
};

struct usage {
  double user_s, sys_s;
};

struct thread_stats {
  long pkts;       /* sent (sender), relayed (relay), received (sink) */
  long calls;      /* recvmmsg calls that returned packets */
  long fails;      /* SRTP failures */
  long send_fails; /* datagrams sendmmsg did not take */
  long verified, verify_fail;
  double protect_s; /* sender: CPU spent in protect */
  struct usage cpu;
};

struct run {
  struct cfg cfg;
  enum srtpctx_profile profile;
  int relay_fd, sink_fd, send_fd;
  struct sockaddr_in relay_addr, sink_addr;
  atomic_int stop_relay, stop_sink;
  struct thread_stats snd, rel, snk;
};

static void keys(struct srtp_keys *k, enum srtpctx_profile p, uint8_t local, uint8_t remote) {
  memset(k, 0, sizeof(*k));
  k->profile = p;
  k->key_len = 16;
  k->salt_len = p == SRTPCTX_AES128_CM_SHA1_80 ? 14 : 12;
  for (size_t i = 0; i < sizeof(k->local); i++) {
    k->local[i] = (uint8_t)(local * 29 + i * 7);
    k->remote[i] = (uint8_t)(remote * 29 + i * 7);
  }
}

static struct usage usage_now(void) {
  struct rusage ru;
  struct usage u = {0, 0};
  if (getrusage(RUSAGE_THREAD, &ru) == 0) {
    u.user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
    u.sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
  }
  return u;
}

static struct usage usage_since(struct usage a) {
  struct usage b = usage_now();
  b.user_s -= a.user_s;
  b.sys_s -= a.sys_s;
  return b;
}

static double cpu_clock(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A bound UDP socket on 127.0.0.1 with large buffers and a short receive
 * timeout, so idle threads can notice the stop flag. */
static int udp_socket(struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0)
    return -1;
  int sz = 8 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
  struct timeval tv = {0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(*addr);
  if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
      getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Sends n prepared datagrams, retrying partial sends; returns the count. */
static int send_all(int fd, struct mmsghdr *m, int n) {
  int done = 0;
  while (done < n) {
    int k = sendmmsg(fd, m + done, (unsigned)(n - done), 0);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    done += k;
  }
  return done;
}

static void *relay_main(void *arg) {
  struct run *r = arg;
  static uint8_t bufs[MAX_BATCH][CAP];
  struct mmsghdr in[MAX_BATCH], out[MAX_BATCH];
  struct iovec iin[MAX_BATCH], iout[MAX_BATCH];
  struct srtp_keys k;
  keys(&k, r->profile, 2, 1); /* unprotect with the sender's key 1, protect with 2 */
  struct srtpctx *ctx = srtpctx_new(&k);
  memset(&k, 0, sizeof(k));
  memset(in, 0, sizeof(in));
  memset(out, 0, sizeof(out));
  for (int i = 0; i < MAX_BATCH; i++) {
    iin[i].iov_base = bufs[i];
    iin[i].iov_len = CAP;
    in[i].msg_hdr.msg_iov = &iin[i];
    in[i].msg_hdr.msg_iovlen = 1;
    out[i].msg_hdr.msg_name = &r->sink_addr;
    out[i].msg_hdr.msg_namelen = sizeof(r->sink_addr);
    out[i].msg_hdr.msg_iov = &iout[i];
    out[i].msg_hdr.msg_iovlen = 1;
  }
  struct usage u0 = usage_now();
  while (ctx) {
    int n = recvmmsg(r->relay_fd, in, (unsigned)r->cfg.batch, MSG_WAITFORONE, NULL);
    if (n <= 0) {
      if (atomic_load(&r->stop_relay))
        break;
      continue;
    }
    r->rel.calls++;
    int m = 0;
    for (int i = 0; i < n; i++) {
      size_t len = in[i].msg_len;
      if (srtpctx_unprotect_rtp(ctx, bufs[i], &len) != 0 ||
          srtpctx_protect_rtp(ctx, bufs[i], &len, CAP) != 0) {
        r->rel.fails++;
        continue;
      }
      iout[m].iov_base = bufs[i];
      iout[m].iov_len = len;
      m++;
    }
    int sent = send_all(r->relay_fd, out, m);
    r->rel.pkts += sent;
    r->rel.send_fails += m - sent;
  }
  r->rel.cpu = usage_since(u0);
  srtpctx_free(ctx);
  return NULL;
}

static void *sink_main(void *arg) {
  struct run *r = arg;
  static uint8_t bufs[MAX_BATCH][CAP];
  struct mmsghdr in[MAX_BATCH];
  struct iovec iin[MAX_BATCH];
  struct srtp_keys k;
  keys(&k, r->profile, 3, 2); /* the relay's key 2 */
  struct srtpctx *ctx = srtpctx_new(&k);
  memset(in, 0, sizeof(in));
  for (int i = 0; i < MAX_BATCH; i++) {
    iin[i].iov_base = bufs[i];
    iin[i].iov_len = CAP;
    in[i].msg_hdr.msg_iov = &iin[i];
    in[i].msg_hdr.msg_iovlen = 1;
  }
  struct usage u0 = usage_now();
  while (ctx) {
    int n = recvmmsg(r->sink_fd, in, MAX_BATCH, MSG_WAITFORONE, NULL);
    if (n <= 0) {
      if (atomic_load(&r->stop_sink))
        break;
      continue;
    }
    r->snk.calls++;
    for (int i = 0; i < n; i++) {
      if (r->snk.pkts++ % VERIFY_EVERY != 0)
        continue;
      size_t len = in[i].msg_len;
      if (srtpctx_unprotect_rtp(ctx, bufs[i], &len) == 0 && len == r->cfg.size)
        r->snk.verified++;
      else
        r->snk.verify_fail++;
    }
  }
  r->snk.cpu = usage_since(u0);
  srtpctx_free(ctx);
  return NULL;
}

/* Paces cfg.rate packets per second in bursts every tick_us. */
static void *sender_main(void *arg) {
  struct run *r = arg;
  static uint8_t bufs[MAX_BATCH][CAP];
  struct mmsghdr out[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  struct srtp_keys k;
  keys(&k, r->profile, 1, 9);
  struct srtpctx *ctx = srtpctx_new(&k);
  memset(out, 0, sizeof(out));
  for (int i = 0; i < MAX_BATCH; i++) {
    out[i].msg_hdr.msg_name = &r->relay_addr;
    out[i].msg_hdr.msg_namelen = sizeof(r->relay_addr);
    out[i].msg_hdr.msg_iov = &iov[i];
    out[i].msg_hdr.msg_iovlen = 1;
  }
  long total = (long)((double)r->cfg.rate * r->cfg.secs);
  uint16_t seq = 1;
  uint32_t ts = 0;
  struct usage u0 = usage_now();
  double t0 = mono();
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  while (ctx && r->snd.pkts < total) {
    long due = (long)((mono() - t0) * (double)r->cfg.rate) + 1;
    if (due > total)
      due = total;
    while (r->snd.pkts < due) {
      int n = (int)(due - r->snd.pkts < MAX_BATCH ? due - r->snd.pkts : MAX_BATCH);
      double c0 = cpu_clock();
      for (int i = 0; i < n; i++) {
        uint8_t *b = bufs[i];
        b[0] = 0x80, b[1] = 96;
        b[2] = (uint8_t)(seq >> 8), b[3] = (uint8_t)seq;
        b[4] = (uint8_t)(ts >> 24), b[5] = (uint8_t)(ts >> 16);
        b[6] = (uint8_t)(ts >> 8), b[7] = (uint8_t)ts;
        b[8] = 0x0a, b[9] = 0x0b, b[10] = 0x0c, b[11] = 0x0d;
        memset(b + 12, (uint8_t)seq, r->cfg.size - 12);
        seq++, ts += 30;
        size_t len = r->cfg.size;
        if (srtpctx_protect_rtp(ctx, b, &len, CAP) != 0)
          r->snd.fails++;
        iov[i].iov_base = b;
        iov[i].iov_len = len;
      }
      r->snd.protect_s += cpu_clock() - c0;
      int sent = send_all(r->send_fd, out, n);
      r->snd.send_fails += n - sent;
      r->snd.pkts += n;
    }
    next.tv_nsec += r->cfg.tick_us * 1000;
    while (next.tv_nsec >= 1000000000L) {
      next.tv_nsec -= 1000000000L;
      next.tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
  r->snd.cpu = usage_since(u0);
  srtpctx_free(ctx);
  return NULL;
}

static double per_pkt_us(double s, long pkts) {
  return pkts > 0 ? s / (double)pkts * 1e6 : 0;
}

static int run_profile(const struct cfg *cfg, enum srtpctx_profile p, const char *name) {
  static struct run r;
  memset(&r, 0, sizeof(r));
  r.cfg = *cfg;
  r.profile = p;
  struct sockaddr_in send_addr;
  r.relay_fd = udp_socket(&r.relay_addr);
  r.sink_fd = udp_socket(&r.sink_addr);
  r.send_fd = udp_socket(&send_addr);
  if (r.relay_fd < 0 || r.sink_fd < 0 || r.send_fd < 0) {
    perror("relay_floor: socket");
    return -1;
  }
  pthread_t ts, tr, tk;
  pthread_create(&tk, NULL, sink_main, &r);
  pthread_create(&tr, NULL, relay_main, &r);
  usleep(50000);
  pthread_create(&ts, NULL, sender_main, &r);
  pthread_join(ts, NULL);
  usleep(300000); /* let the queues drain */
  atomic_store(&r.stop_relay, 1);
  pthread_join(tr, NULL);
  usleep(100000);
  atomic_store(&r.stop_sink, 1);
  pthread_join(tk, NULL);
  close(r.relay_fd);
  close(r.sink_fd);
  close(r.send_fd);

  double rel = r.rel.cpu.user_s + r.rel.cpu.sys_s;
  double snd = r.snd.cpu.user_s + r.snd.cpu.sys_s;
  double snk = r.snk.cpu.user_s + r.snk.cpu.sys_s;
  printf("\n%s (backend %s): %ld pkt/s offered for %.1f s, %zu-byte RTP, batch %d, tick %ld us\n",
         name, srtp_ossl_backend(), cfg->rate, cfg->secs, cfg->size, cfg->batch, cfg->tick_us);
  printf("  sent %ld, relayed %ld, at sink %ld (verified %ld/%ld); failed: protect %ld,\n"
         "  relay SRTP %ld, sendmmsg %ld+%ld; the rest lost in full socket buffers\n",
         r.snd.pkts, r.rel.pkts, r.snk.pkts, r.snk.verified, r.snk.verified + r.snk.verify_fail,
         r.snd.fails, r.rel.fails, r.snd.send_fails, r.rel.send_fails);
  printf("  relay  CPU per packet: %6.2f us  (%.1f packets per recvmmsg)\n",
         per_pkt_us(rel, r.rel.pkts), r.rel.calls ? (double)r.rel.pkts / (double)r.rel.calls : 0.0);
  printf("  sender CPU per packet: %6.2f us  (of which its own protect %.2f; the rest is\n"
         "                                   sendmmsg plus delivery into the relay socket)\n",
         per_pkt_us(snd, r.snd.pkts), per_pkt_us(r.snd.protect_s, r.snd.pkts));
  printf("  sink   CPU per packet: %6.2f us  (recvmmsg; 1 in %d unprotected)\n",
         per_pkt_us(snk, r.snk.pkts), VERIFY_EVERY);
  return 0;
}

int main(int argc, char **argv) {
  struct cfg cfg = {20000, 5.0, 1200, 32, 1000};
  const char *which = "both";
  int opt;
  while ((opt = getopt(argc, argv, "r:d:s:b:t:p:")) != -1) {
    switch (opt) {
    case 'r':
      cfg.rate = atol(optarg);
      break;
    case 'd':
      cfg.secs = atof(optarg);
      break;
    case 's':
      cfg.size = (size_t)atol(optarg);
      break;
    case 'b':
      cfg.batch = atoi(optarg);
      break;
    case 't':
      cfg.tick_us = atol(optarg);
      break;
    case 'p':
      which = optarg;
      break;
    default:
      fprintf(stderr,
              "usage: %s [-r pkts_per_s] [-d seconds] [-s rtp_bytes] [-b batch] "
              "[-t tick_us] [-p gcm|sha1|both]\n",
              argv[0]);
      return 2;
    }
  }
  if (cfg.rate < 1)
    cfg.rate = 1;
  if (cfg.secs <= 0)
    cfg.secs = 1;
  if (cfg.size < 12)
    cfg.size = 12;
  if (cfg.size > CAP - SRTPCTX_TRAILER)
    cfg.size = CAP - SRTPCTX_TRAILER;
  if (cfg.batch < 1)
    cfg.batch = 1;
  if (cfg.batch > MAX_BATCH)
    cfg.batch = MAX_BATCH;
  if (cfg.tick_us < 1)
    cfg.tick_us = 1;
  if (srtpctx_global_init() != 0) {
    fprintf(stderr, "relay_floor: srtpctx_global_init failed\n");
    return 1;
  }
  char model[128] = "unknown", line[256];
  FILE *f = fopen("/proc/cpuinfo", "r");
  while (f && fgets(line, sizeof(line), f)) {
    char *c = strchr(line, ':');
    if (strncmp(line, "model name", 10) == 0 && c) {
      snprintf(model, sizeof(model), "%s", c + 2);
      model[strcspn(model, "\n")] = 0;
      break;
    }
  }
  if (f)
    fclose(f);
  printf("relay_floor: recvmmsg -> unprotect -> protect -> sendmmsg on loopback\n"
         "machine: %ld x %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
  int rc = 0;
  if (strcmp(which, "sha1") == 0 || strcmp(which, "both") == 0)
    rc |= run_profile(&cfg, SRTPCTX_AES128_CM_SHA1_80, "AES128_CM_HMAC_SHA1_80");
  if (strcmp(which, "gcm") == 0 || strcmp(which, "both") == 0)
    rc |= run_profile(&cfg, SRTPCTX_AEAD_AES_128_GCM, "AEAD_AES_128_GCM");
  return rc ? 1 : 0;
}
