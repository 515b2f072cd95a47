/* srtp_bench.c -- CPU cost of SRTP unprotect+protect per packet, stock libsrtp2 vs OpenSSL. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "media/srtp_ossl.h"
#include "media/srtpctx.h"

/* What a relay does to each packet: unprotect with the sender's key, then
 * protect with the receiver's. Packets are protected ahead in batches by a
 * third context (not timed), then the relay context's unprotect and protect
 * are timed over the whole batch with this thread's CPU clock, so other
 * processes on the machine do not inflate the figures. The stock figures
 * come from a child forked before libsrtp2 is initialised in this process,
 * with TANDEM_SRTP_BACKEND=libsrtp. Prints; never asserts.
 *
 *   srtp_bench [-n packets] [-s rtp_bytes] [-o]   (defaults 200000, 1200;
 *                                                -o: skip the stock run) 
 */

#define BATCH 256
#define CAP 1600
#define NPROF 2

struct result {
  double unprotect_us, protect_us; /* per packet */
  long failures;
  char backend[16];
};

static const enum srtpctx_profile profiles[NPROF] = {SRTPCTX_AES128_CM_SHA1_80,
                                                     SRTPCTX_AEAD_AES_128_GCM};
static const char *const names[NPROF] = {"AES128_CM_HMAC_SHA1_80", "AEAD_AES_128_GCM"};

static uint8_t pkts[BATCH][CAP];
static size_t lens[BATCH];

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void fill_keys(struct srtp_keys *k, enum srtpctx_profile p, uint8_t a, uint8_t b) {
  memset(k, 0, sizeof(*k));
  k->profile = p;
  k->key_len = 16;
  k->salt_len = p == SRTPCTX_AES128_CM_SHA1_80 ? 14 : 12;
  for (size_t i = 0; i < sizeof(k->local); i++) {
    k->local[i] = (uint8_t)(a * 17 + i * 3);
    k->remote[i] = (uint8_t)(b * 17 + i * 3);
  }
}

/* One profile: n packets of rtp_len bytes through a relay context. */
static void run(enum srtpctx_profile p, long n, size_t rtp_len, struct result *r) {
  struct srtp_keys ks, kr;
  fill_keys(&ks, p, 1, 2);  /* sender: local key 1 */
  fill_keys(&kr, p, 3, 1);  /* relay: remote key 1, local key 3 */
  struct srtpctx *snd = srtpctx_new(&ks), *rel = srtpctx_new(&kr);
  memset(r, 0, sizeof(*r));
  snprintf(r->backend, sizeof(r->backend), "%s", srtp_ossl_backend());
  if (!snd || !rel) {
    r->failures = -1;
    srtpctx_free(snd);
    srtpctx_free(rel);
    return;
  }
  double t_un = 0, t_pr = 0;
  long done = 0, warm = n / 10;
  uint16_t seq = 1000;
  while (done < n + warm) {
    for (int i = 0; i < BATCH; i++) {
      uint8_t *b = pkts[i];
      memset(b, 0, 12);
      b[0] = 0x80, b[1] = 96;
      b[2] = (uint8_t)(seq >> 8), b[3] = (uint8_t)seq;
      b[4] = (uint8_t)(done >> 8), b[11] = 0x42;
      for (size_t j = 12; j < rtp_len; j++)
        b[j] = (uint8_t)(j + (size_t)seq);
      seq++;
      lens[i] = rtp_len;
      if (srtpctx_protect_rtp(snd, b, &lens[i], CAP) != 0)
        r->failures++;
    }
    double t0 = cpu_now();
    for (int i = 0; i < BATCH; i++)
      if (srtpctx_unprotect_rtp(rel, pkts[i], &lens[i]) != 0)
        r->failures++;
    double t1 = cpu_now();
    for (int i = 0; i < BATCH; i++)
      if (srtpctx_protect_rtp(rel, pkts[i], &lens[i], CAP) != 0)
        r->failures++;
    double t2 = cpu_now();
    if (done >= warm) {
      t_un += t1 - t0;
      t_pr += t2 - t1;
    }
    done += BATCH;
  }
  long timed = done - warm;
  r->unprotect_us = t_un / (double)timed * 1e6;
  r->protect_us = t_pr / (double)timed * 1e6;
  srtpctx_free(snd);
  srtpctx_free(rel);
}

static void run_all(long n, size_t rtp_len, struct result *res) {
  if (srtpctx_global_init() != 0) {
    for (int i = 0; i < NPROF; i++)
      res[i].failures = -1;
    return;
  }
  for (int i = 0; i < NPROF; i++)
    run(profiles[i], n, rtp_len, &res[i]);
}

/* The stock backend in a child that has not touched libsrtp2 yet. */
static int run_stock(long n, size_t rtp_len, struct result *res) {
  int fds[2];
  if (pipe(fds) != 0)
    return -errno;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0)
    return -errno;
  if (pid == 0) {
    close(fds[0]);
    setenv("TANDEM_SRTP_BACKEND", "libsrtp", 1);
    struct result r[NPROF];
    run_all(n, rtp_len, r);
    ssize_t w = write(fds[1], r, sizeof(r));
    _exit(w == (ssize_t)sizeof(r) ? 0 : 1);
  }
  close(fds[1]);
  size_t got = 0;
  while (got < sizeof(struct result) * NPROF) {
    ssize_t k = read(fds[0], (char *)res + got, sizeof(struct result) * NPROF - got);
    if (k <= 0)
      break;
    got += (size_t)k;
  }
  close(fds[0]);
  int st;
  waitpid(pid, &st, 0);
  return got == sizeof(struct result) * NPROF ? 0 : -EIO;
}

static void machine(void) {
  char model[128] = "unknown", line[256];
  FILE *f = fopen("/proc/cpuinfo", "r");
  while (f && fgets(line, sizeof(line), f)) {
    if (strncmp(line, "model name", 10) == 0) {
      char *c = strchr(line, ':');
      if (c) {
        snprintf(model, sizeof(model), "%s", c + 2);
        model[strcspn(model, "\n")] = 0;
      }
      break;
    }
  }
  if (f)
    fclose(f);
  printf("machine: %ld x %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
}

int main(int argc, char **argv) {
  long n = 200000;
  size_t rtp_len = 1200;
  int opt, only_ours = 0;
  while ((opt = getopt(argc, argv, "n:s:o")) != -1) {
    if (opt == 'o')
      only_ours = 1;
    else if (opt == 'n')
      n = atol(optarg);
    else if (opt == 's')
      rtp_len = (size_t)atol(optarg);
    else {
      fprintf(stderr, "usage: %s [-n packets] [-s rtp_bytes] [-o]\n", argv[0]);
      return 2;
    }
  }
  if (n < BATCH)
    n = BATCH;
  if (rtp_len < 12)
    rtp_len = 12;
  if (rtp_len > CAP - SRTPCTX_TRAILER)
    rtp_len = CAP - SRTPCTX_TRAILER;

  struct result stock[NPROF], ours[NPROF];
  memset(stock, 0, sizeof(stock));
  if (!only_ours && run_stock(n, rtp_len, stock) != 0)
    memset(stock, 0, sizeof(stock));
  run_all(n, rtp_len, ours);

  printf("srtp_bench: relay unprotect + protect of a %zu-byte RTP packet, %ld packets,\n"
         "CPU time of the working thread (us per packet)\n", rtp_len, n);
  machine();
  printf("%-24s %-8s %10s %10s %10s\n", "profile", "backend", "unprotect", "protect", "total");
  for (int i = 0; i < NPROF; i++) {
    const struct result *rs[2] = {&stock[i], &ours[i]};
    for (int j = only_ours; j < 2; j++) {
      const struct result *r = rs[j];
      if (r->failures)
        printf("%-24s %-8s  (%ld failures)\n", names[i], r->backend, r->failures);
      else
        printf("%-24s %-8s %10.3f %10.3f %10.3f\n", names[i], r->backend, r->unprotect_us,
               r->protect_us, r->unprotect_us + r->protect_us);
    }
    double a = stock[i].unprotect_us + stock[i].protect_us;
    double b = ours[i].unprotect_us + ours[i].protect_us;
    if (a > 0 && b > 0)
      printf("%-24s speed-up %s/%s: %.2fx\n", names[i], stock[i].backend, ours[i].backend,
             a / b);
  }
  double gs = ours[1].unprotect_us + ours[1].protect_us;
  double cs = ours[0].unprotect_us + ours[0].protect_us;
  if (gs > 0 && cs > 0)
    printf("%s: SHA1 suite / GCM suite: %.2fx\n", ours[0].backend, cs / gs);
  return 0;
}
