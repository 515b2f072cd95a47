/* relay_floor.c -- the bare SRTP relay floor: recvmmsg, unprotect, protect, sendmmsg. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/epoll.h>
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
 *               [-t tick_us] [-p gcm|sha1|both] [-n streams] [-w relays]
 *   defaults:   -r 20000 -d 5 -s 1200 -b 32 -t 1000 -p both -n 1 -w 1
 *
 * -w N runs N relay threads, each with its own socket, as the server runs one media worker
 * per core: browser i is connected to relay relay_of(i), and a packet for browser j leaves
 * from relay_of(j)'s socket, whichever thread relays it; the relay figure is their summed
 * CPU over their summed packets.
 *
 * TANDEM_SRTP_BACKEND=libsrtp measures with stock libsrtp2 transforms.
 * Prints; never asserts. */

#define CAP 1600
#define MAX_BATCH 256
#define VERIFY_EVERY 64
#define MAX_STREAMS 4096
#define MAX_RELAYS 16

struct cfg {
  long rate;
  double secs;
  size_t size;       /* video (or only) RTP size */
  size_t audio_size; /* RTP size of the audio share */
  int audio_pct;     /* percent of packets that are audio-sized */
  int batch;
  long tick_us;
  int streams;       /* simulated browsers: one sending and one receiving socket each */
  long poll_us;      /* 0: block in recvmmsg; else drain the socket every poll_us (the
                        server's timer-driven receive under load) */
  bool quiet;        /* -q: one machine-readable line per profile */
  int relays;        /* relay threads, each with its own socket, as the server's workers */
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

/* Stream i is a browser: it sends from send_fd[i] to the relay; the relay unprotects with
 * browser i's context, protects with its partner's (i ^ 1) and sends to sink_fd[i ^ 1]. With
 * one stream, i ^ 1 is taken as i. */
struct run {
  struct cfg cfg;
  enum srtpctx_profile profile;
  int relay_fd[MAX_RELAYS];
  struct sockaddr_in relay_addr[MAX_RELAYS];
  int *send_fd, *sink_fd;
  struct sockaddr_in *sink_addr;
  int16_t by_port[65536]; /* sender's source port -> stream, -1 none */
  atomic_int stop_relay, stop_sink;
  struct thread_stats snd, rel[MAX_RELAYS], snk;
};

struct relay_arg {
  struct run *r;
  int idx;
};

/* The relay (server worker) browser i is connected to: spread like a hash, so with several
 * relays about half the pairs span two of them, as the server's pairs span its workers. */
static int relay_of(const struct run *r, int i) {
  return (int)(((uint32_t)i * 2654435761u) >> 16) % r->cfg.relays;
}

static int partner(const struct run *r, int i) {
  return r->cfg.streams == 1 ? i : (i ^ 1) < r->cfg.streams ? i ^ 1 : i;
}

/* Key material: the sender of stream i protects with key 100+i; the relay protects towards
 * stream j with key 5000+j. */
static void keys(struct srtp_keys *k, enum srtpctx_profile p, int local, int remote) {
  memset(k, 0, sizeof(*k));
  k->profile = p;
  k->key_len = 16;
  k->salt_len = p == SRTPCTX_AES128_CM_SHA1_80 ? 14 : 12;
  for (size_t i = 0; i < sizeof(k->local); i++) {
    k->local[i] = (uint8_t)(local * 29 + (local >> 8) * 13 + (int)i * 7);
    k->remote[i] = (uint8_t)(remote * 29 + (remote >> 8) * 13 + (int)i * 7);
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

/* A bound UDP socket on 127.0.0.1. `big`: large buffers (the relay's and a lone sink's). A
 * short receive timeout lets idle threads notice the stop flag. */
static int udp_socket(struct sockaddr_in *addr, bool big) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0)
    return -1;
  int sz = big ? 8 << 20 : 1 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
  struct timeval tv = {0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  struct sockaddr_in a;
  if (!addr)
    addr = &a;
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
  struct relay_arg *ra = arg;
  struct run *r = ra->r;
  struct thread_stats *st = &r->rel[ra->idx];
  int fd = r->relay_fd[ra->idx];
  uint8_t(*bufs)[CAP] = malloc(sizeof(uint8_t[MAX_BATCH][CAP]));
  struct sockaddr_in from[MAX_BATCH];
  struct mmsghdr in[MAX_BATCH], out[MAX_BATCH];
  struct iovec iin[MAX_BATCH], iout[MAX_BATCH];
  int out_fd[MAX_BATCH];
  int n_streams = r->cfg.streams;
  /* One context per browser, as the server's session: it unprotects what browser i sent
   * (remote key 100+i) and protects what goes to it (local key 5000+i). */
  struct srtpctx **ctx = calloc((size_t)n_streams, sizeof(*ctx));
  bool ok = ctx != NULL && bufs != NULL;
  for (int i = 0; ok && i < n_streams; i++) {
    struct srtp_keys k;
    keys(&k, r->profile, 5000 + i, 100 + i);
    ctx[i] = srtpctx_new(&k);
    ok = ctx[i] != NULL;
  }
  memset(in, 0, sizeof(in));
  memset(out, 0, sizeof(out));
  for (int i = 0; i < MAX_BATCH; i++) {
    iin[i].iov_base = bufs[i];
    iin[i].iov_len = CAP;
    in[i].msg_hdr.msg_iov = &iin[i];
    in[i].msg_hdr.msg_iovlen = 1;
    in[i].msg_hdr.msg_name = &from[i];
    in[i].msg_hdr.msg_namelen = sizeof(from[i]);
    out[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
    out[i].msg_hdr.msg_iov = &iout[i];
    out[i].msg_hdr.msg_iovlen = 1;
  }
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  struct usage u0 = usage_now();
  while (ok) {
    for (int i = 0; i < r->cfg.batch; i++)
      in[i].msg_hdr.msg_namelen = sizeof(from[i]);
    int n;
    if (r->cfg.poll_us) {
      n = recvmmsg(fd, in, (unsigned)r->cfg.batch, MSG_DONTWAIT, NULL);
      if (n <= 0) {
        if (atomic_load(&r->stop_relay))
          break;
        next.tv_nsec += r->cfg.poll_us * 1000;
        while (next.tv_nsec >= 1000000000L) {
          next.tv_nsec -= 1000000000L;
          next.tv_sec++;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
          next = now; /* fell behind: no catch-up burst of wakeups */
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        continue;
      }
    } else {
      n = recvmmsg(fd, in, (unsigned)r->cfg.batch, MSG_WAITFORONE, NULL);
      if (n <= 0) {
        if (atomic_load(&r->stop_relay))
          break;
        continue;
      }
    }
    st->calls++;
    int m = 0;
    for (int i = 0; i < n; i++) {
      int s = r->by_port[ntohs(from[i].sin_port)];
      size_t len = in[i].msg_len;
      if (s < 0) {
        st->fails++;
        continue;
      }
      int d = partner(r, s);
      if (srtpctx_unprotect_rtp(ctx[s], bufs[i], &len) != 0 ||
          srtpctx_protect_rtp(ctx[d], bufs[i], &len, CAP) != 0) {
        st->fails++;
        continue;
      }
      iout[m].iov_base = bufs[i];
      iout[m].iov_len = len;
      out[m].msg_hdr.msg_name = &r->sink_addr[d];
      out_fd[m] = r->relay_fd[relay_of(r, d)];
      m++;
    }
    /* Each packet leaves from the socket its receiver is connected to (as the server sends
     * on the receiver's worker's socket): runs of one socket go in one sendmmsg. */
    for (int i = 0; i < m;) {
      int j = i + 1;
      while (j < m && out_fd[j] == out_fd[i])
        j++;
      int sent = send_all(out_fd[i], out + i, j - i);
      st->pkts += sent;
      st->send_fails += (j - i) - sent;
      i = j;
    }
  }
  st->cpu = usage_since(u0);
  for (int i = 0; ctx && i < n_streams; i++)
    srtpctx_free(ctx[i]);
  free(ctx);
  free(bufs);
  return NULL;
}

/* Reads every sink socket (epoll), counts, and unprotects 1 in VERIFY_EVERY with the key of
 * the browser that socket belongs to. */
static void *sink_main(void *arg) {
  struct run *r = arg;
  static uint8_t bufs[MAX_BATCH][CAP];
  struct mmsghdr in[MAX_BATCH];
  struct iovec iin[MAX_BATCH];
  int n_streams = r->cfg.streams;
  struct srtpctx **ctx = calloc((size_t)n_streams, sizeof(*ctx));
  int ep = epoll_create1(0);
  bool ok = ctx && ep >= 0;
  for (int i = 0; ok && i < n_streams; i++) {
    struct srtp_keys k;
    keys(&k, r->profile, 9000 + i, 5000 + i);
    ctx[i] = srtpctx_new(&k);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    ok = ctx[i] && epoll_ctl(ep, EPOLL_CTL_ADD, r->sink_fd[i], &ev) == 0;
  }
  memset(in, 0, sizeof(in));
  for (int i = 0; i < MAX_BATCH; i++) {
    iin[i].iov_base = bufs[i];
    iin[i].iov_len = CAP;
    in[i].msg_hdr.msg_iov = &iin[i];
    in[i].msg_hdr.msg_iovlen = 1;
  }
  struct usage u0 = usage_now();
  struct epoll_event evs[256];
  while (ok) {
    int ne = epoll_wait(ep, evs, 256, 100);
    if (ne <= 0) {
      if (atomic_load(&r->stop_sink))
        break;
      continue;
    }
    for (int e = 0; e < ne; e++) {
      int s = (int)evs[e].data.u32;
      int n = recvmmsg(r->sink_fd[s], in, MAX_BATCH, MSG_DONTWAIT, NULL);
      if (n <= 0)
        continue;
      r->snk.calls++;
      for (int i = 0; i < n; i++) {
        if (r->snk.pkts++ % VERIFY_EVERY != 0)
          continue;
        size_t len = in[i].msg_len;
        if (srtpctx_unprotect_rtp(ctx[s], bufs[i], &len) == 0 &&
            (len == r->cfg.size || len == r->cfg.audio_size))
          r->snk.verified++;
        else
          r->snk.verify_fail++;
      }
    }
  }
  r->snk.cpu = usage_since(u0);
  for (int i = 0; ctx && i < n_streams; i++)
    srtpctx_free(ctx[i]);
  free(ctx);
  if (ep >= 0)
    close(ep);
  return NULL;
}

/* Paces cfg.rate packets per second in bursts every tick_us, spread over the streams in turn;
 * each browser's packets leave from its own socket, as they would. */
static void *sender_main(void *arg) {
  struct run *r = arg;
  static uint8_t bufs[MAX_BATCH][CAP];
  struct mmsghdr out[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  int stream_of[MAX_BATCH];
  int n_streams = r->cfg.streams;
  struct srtpctx **ctx = calloc((size_t)n_streams, sizeof(*ctx));
  uint16_t *seq = calloc((size_t)n_streams, sizeof(*seq));
  uint32_t *ts = calloc((size_t)n_streams, sizeof(*ts));
  long *count = calloc((size_t)n_streams, sizeof(*count));
  bool ok = ctx && seq && ts && count;
  for (int i = 0; ok && i < n_streams; i++) {
    struct srtp_keys k;
    keys(&k, r->profile, 100 + i, 9000 + i);
    ctx[i] = srtpctx_new(&k);
    ok = ctx[i] != NULL;
    seq[i] = (uint16_t)(1 + (i * 977) % 30000); /* no wrap before the sink's first sample */
  }
  memset(out, 0, sizeof(out));
  for (int i = 0; i < MAX_BATCH; i++) {
    out[i].msg_hdr.msg_namelen = sizeof(r->relay_addr[0]);
    out[i].msg_hdr.msg_iov = &iov[i];
    out[i].msg_hdr.msg_iovlen = 1;
  }
  long total = (long)((double)r->cfg.rate * r->cfg.secs);
  int next_stream = 0;
  struct usage u0 = usage_now();
  double t0 = mono();
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  while (ok && r->snd.pkts < total) {
    long due = (long)((mono() - t0) * (double)r->cfg.rate) + 1;
    if (due > total)
      due = total;
    while (r->snd.pkts < due) {
      int n = (int)(due - r->snd.pkts < MAX_BATCH ? due - r->snd.pkts : MAX_BATCH);
      double c0 = cpu_clock();
      for (int i = 0; i < n; i++) {
        int s = next_stream;
        next_stream = (next_stream + 1) % n_streams;
        bool audio = (count[s] * r->cfg.audio_pct) % 100 < r->cfg.audio_pct && r->cfg.audio_pct;
        count[s]++;
        size_t size = audio ? r->cfg.audio_size : r->cfg.size;
        uint8_t *b = bufs[i];
        uint32_t ssrc = 0x0a0b0000u + (uint32_t)s;
        b[0] = 0x80, b[1] = audio ? 111 : 96;
        b[2] = (uint8_t)(seq[s] >> 8), b[3] = (uint8_t)seq[s];
        b[4] = (uint8_t)(ts[s] >> 24), b[5] = (uint8_t)(ts[s] >> 16);
        b[6] = (uint8_t)(ts[s] >> 8), b[7] = (uint8_t)ts[s];
        b[8] = (uint8_t)(ssrc >> 24), b[9] = (uint8_t)(ssrc >> 16);
        b[10] = (uint8_t)(ssrc >> 8), b[11] = (uint8_t)ssrc;
        memset(b + 12, (uint8_t)seq[s], size - 12);
        seq[s]++, ts[s] += 30;
        size_t len = size;
        if (srtpctx_protect_rtp(ctx[s], b, &len, CAP) != 0)
          r->snd.fails++;
        iov[i].iov_base = b;
        iov[i].iov_len = len;
        out[i].msg_hdr.msg_name = &r->relay_addr[relay_of(r, s)];
        stream_of[i] = s;
      }
      r->snd.protect_s += cpu_clock() - c0;
      /* Consecutive packets of one stream go in one sendmmsg; one stream: the whole burst. */
      for (int i = 0; i < n;) {
        int j = i + 1;
        while (j < n && stream_of[j] == stream_of[i])
          j++;
        int sent = send_all(r->send_fd[stream_of[i]], out + i, j - i);
        r->snd.send_fails += (j - i) - sent;
        i = j;
      }
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
  for (int i = 0; ctx && i < n_streams; i++)
    srtpctx_free(ctx[i]);
  free(ctx);
  free(seq);
  free(ts);
  free(count);
  return NULL;
}

static double per_pkt_us(double s, long pkts) {
  return pkts > 0 ? s / (double)pkts * 1e6 : 0;
}

static void close_all(struct run *r) {
  for (int i = 0; i < r->cfg.streams; i++) {
    if (r->send_fd && r->send_fd[i] >= 0)
      close(r->send_fd[i]);
    if (r->sink_fd && r->sink_fd[i] >= 0)
      close(r->sink_fd[i]);
  }
  for (int w = 0; w < r->cfg.relays; w++)
    if (r->relay_fd[w] >= 0)
      close(r->relay_fd[w]);
  free(r->send_fd);
  free(r->sink_fd);
  free(r->sink_addr);
}

static int run_profile(const struct cfg *cfg, enum srtpctx_profile p, const char *name) {
  static struct run r;
  memset(&r, 0, sizeof(r));
  r.cfg = *cfg;
  r.profile = p;
  int n = cfg->streams;
  memset(r.by_port, 0xff, sizeof(r.by_port));
  r.send_fd = malloc((size_t)n * sizeof(int));
  r.sink_fd = malloc((size_t)n * sizeof(int));
  r.sink_addr = calloc((size_t)n, sizeof(*r.sink_addr));
  bool ok = r.send_fd && r.sink_fd && r.sink_addr;
  for (int w = 0; w < MAX_RELAYS; w++)
    r.relay_fd[w] = -1;
  for (int w = 0; w < cfg->relays; w++) {
    r.relay_fd[w] = udp_socket(&r.relay_addr[w], true);
    ok = ok && r.relay_fd[w] >= 0;
  }
  for (int i = 0; r.send_fd && r.sink_fd && i < n; i++)
    r.send_fd[i] = r.sink_fd[i] = -1;
  for (int i = 0; ok && i < n; i++) {
    struct sockaddr_in a;
    r.send_fd[i] = udp_socket(&a, n == 1);
    r.sink_fd[i] = udp_socket(&r.sink_addr[i], n == 1);
    ok = r.send_fd[i] >= 0 && r.sink_fd[i] >= 0;
    if (ok)
      r.by_port[ntohs(a.sin_port)] = (int16_t)i;
    /* A sink hears only its relay: a server of an earlier run may still send media to a port
     * number this run reuses (until its silence_ms), and that must not count as a failure. */
    if (ok && connect(r.sink_fd[i], (const struct sockaddr *)&r.relay_addr[relay_of(&r, i)],
                      sizeof(r.relay_addr[0])) != 0)
      ok = false;
  }
  if (!ok) {
    perror("relay_floor: socket (raise the open-file limit for many streams)");
    close_all(&r);
    return -1;
  }
  pthread_t ts, tr[MAX_RELAYS], tk;
  struct relay_arg ra[MAX_RELAYS];
  pthread_create(&tk, NULL, sink_main, &r);
  pthread_setname_np(tk, "floor-sink");
  for (int w = 0; w < cfg->relays; w++) {
    ra[w] = (struct relay_arg){&r, w};
    pthread_create(&tr[w], NULL, relay_main, &ra[w]);
    pthread_setname_np(tr[w], "floor-relay");
  }
  usleep(50000);
  pthread_create(&ts, NULL, sender_main, &r);
  pthread_setname_np(ts, "floor-sender");
  pthread_join(ts, NULL);
  usleep(300000); /* let the queues drain */
  atomic_store(&r.stop_relay, 1);
  for (int w = 0; w < cfg->relays; w++)
    pthread_join(tr[w], NULL);
  usleep(100000);
  atomic_store(&r.stop_sink, 1);
  pthread_join(tk, NULL);
  close_all(&r);

  struct thread_stats rs = {0};
  for (int w = 0; w < cfg->relays; w++) {
    rs.pkts += r.rel[w].pkts;
    rs.calls += r.rel[w].calls;
    rs.fails += r.rel[w].fails;
    rs.send_fails += r.rel[w].send_fails;
    rs.cpu.user_s += r.rel[w].cpu.user_s;
    rs.cpu.sys_s += r.rel[w].cpu.sys_s;
  }
  double rel = rs.cpu.user_s + rs.cpu.sys_s;
  double snd = r.snd.cpu.user_s + r.snd.cpu.sys_s;
  double snk = r.snk.cpu.user_s + r.snk.cpu.sys_s;
  double ppc = rs.calls ? (double)rs.pkts / (double)rs.calls : 0.0;
  if (cfg->quiet) {
    printf("floor profile=%s streams=%d relays=%d poll_us=%ld rate=%ld relay_us=%.3f per_recvmmsg=%.1f relayed=%ld "
           "sent=%ld verified=%ld verify_fail=%ld\n",
           name, n, cfg->relays, cfg->poll_us, cfg->rate, per_pkt_us(rel, rs.pkts), ppc, rs.pkts, r.snd.pkts,
           r.snk.verified, r.snk.verify_fail);
    return r.snk.verify_fail ? 1 : 0;
  }
  printf("\n%s (backend %s): %ld pkt/s offered for %.1f s over %d stream%s, %zu-byte RTP",
         name, srtp_ossl_backend(), cfg->rate, cfg->secs, n, n == 1 ? "" : "s", cfg->size);
  if (cfg->audio_pct)
    printf(" (%d%% of them %zu bytes)", cfg->audio_pct, cfg->audio_size);
  printf(", batch %d, tick %ld us, %d relay thread%s that %s\n", cfg->batch, cfg->tick_us,
         cfg->relays, cfg->relays == 1 ? "" : "s",
         cfg->poll_us ? "drain their sockets on a timer" : "block in recvmmsg");
  printf("  sent %ld, relayed %ld, at sink %ld (verified %ld/%ld); failed: protect %ld,\n"
         "  relay SRTP %ld, sendmmsg %ld+%ld; the rest lost in full socket buffers\n",
         r.snd.pkts, rs.pkts, r.snk.pkts, r.snk.verified, r.snk.verified + r.snk.verify_fail,
         r.snd.fails, rs.fails, r.snd.send_fails, rs.send_fails);
  printf("  relay  CPU per packet: %6.2f us  (%.1f packets per recvmmsg)\n",
         per_pkt_us(rel, rs.pkts), ppc);
  printf("  sender CPU per packet: %6.2f us  (of which its own protect %.2f; the rest is\n"
         "                                   sendmmsg plus delivery into the relay socket)\n",
         per_pkt_us(snd, r.snd.pkts), per_pkt_us(r.snd.protect_s, r.snd.pkts));
  printf("  sink   CPU per packet: %6.2f us  (recvmmsg; 1 in %d unprotected)\n",
         per_pkt_us(snk, r.snk.pkts), VERIFY_EVERY);
  return r.snk.verify_fail ? 1 : 0;
}

int main(int argc, char **argv) {
  struct cfg cfg = {20000, 5.0, 1200, 160, 0, 32, 1000, 1, 0, false, 1};
  const char *which = "both";
  int opt;
  while ((opt = getopt(argc, argv, "r:d:s:S:A:b:t:p:n:P:w:q")) != -1) {
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
    case 'n':
      cfg.streams = atoi(optarg);
      break;
    case 'S':
      cfg.audio_size = (size_t)atol(optarg);
      break;
    case 'A':
      cfg.audio_pct = atoi(optarg);
      break;
    case 'w':
      cfg.relays = atoi(optarg);
      break;
    case 'q':
      cfg.quiet = true;
      break;
    case 'P':
      cfg.poll_us = atol(optarg);
      break;
    default:
      fprintf(stderr,
              "usage: %s [-r pkts_per_s] [-d seconds] [-s rtp_bytes] [-n streams] "
              "[-A audio_percent] [-S audio_rtp_bytes] [-b batch] [-t tick_us] [-P poll_us] "
              "[-p gcm|sha1|both] [-w relay_threads] [-q]\n",
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
  if (cfg.audio_size < 12)
    cfg.audio_size = 12;
  if (cfg.audio_size > CAP - SRTPCTX_TRAILER)
    cfg.audio_size = CAP - SRTPCTX_TRAILER;
  if (cfg.audio_pct < 0 || cfg.audio_pct > 100)
    cfg.audio_pct = 0;
  if (cfg.poll_us < 0)
    cfg.poll_us = 0;
  if (cfg.streams < 1)
    cfg.streams = 1;
  if (cfg.relays < 1)
    cfg.relays = 1;
  if (cfg.relays > MAX_RELAYS)
    cfg.relays = MAX_RELAYS;
  if (cfg.streams > MAX_STREAMS)
    cfg.streams = MAX_STREAMS;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max; /* two sockets per stream */
    setrlimit(RLIMIT_NOFILE, &rl);
  }
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
  if (!cfg.quiet)
    printf("relay_floor: recvmmsg -> unprotect -> protect -> sendmmsg on loopback\n"
           "machine: %ld x %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
  int rc = 0;
  if (strcmp(which, "sha1") == 0 || strcmp(which, "both") == 0)
    rc |= run_profile(&cfg, SRTPCTX_AES128_CM_SHA1_80, "AES128_CM_HMAC_SHA1_80");
  if (strcmp(which, "gcm") == 0 || strcmp(which, "both") == 0)
    rc |= run_profile(&cfg, SRTPCTX_AEAD_AES_128_GCM, "AEAD_AES_128_GCM");
  return rc ? 1 : 0;
}
