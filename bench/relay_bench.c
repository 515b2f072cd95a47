/* relay_bench.c -- CPU cost per packet of the node-to-node relay's sealing and opening
 * (media/relaywire.c, AES-128-GCM), in place, as a media worker does it. Prints; never asserts.
 *
 *   relay_bench [-n packets] [-s rtp_bytes]   (defaults 200000, 1200)
 *
 * Each round seals a batch of packets in place (timed), then opens them in place at the other
 * end (timed), with this thread's CPU clock, so other processes on the machine do not inflate
 * the figures. The payload is re-filled between rounds (not timed). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "media/relaywire.h"

#define BATCH 256
#define CAP 1600

static uint8_t pkts[BATCH][CAP];
static size_t lens[BATCH];

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  long n = 200000;
  size_t size = 1200;
  int opt;
  while ((opt = getopt(argc, argv, "n:s:")) != -1) {
    if (opt == 'n')
      n = atol(optarg);
    else if (opt == 's')
      size = (size_t)atol(optarg);
    else {
      fprintf(stderr, "usage: relay_bench [-n packets] [-s rtp_bytes]\n");
      return 2;
    }
  }
  if (n < BATCH || size < 12 || size > CAP - RELAYWIRE_OVERHEAD) {
    fprintf(stderr, "relay_bench: -n >= %d, 12 <= -s <= %d\n", BATCH, CAP - RELAYWIRE_OVERHEAD);
    return 2;
  }
  uint8_t secret[RELAYWIRE_SECRET_LEN];
  for (size_t i = 0; i < sizeof(secret); i++)
    secret[i] = (uint8_t)(i * 7 + 1);
  struct relaywire *a = relaywire_new(secret, 12345, 0), *b = relaywire_new(secret, 12345, 1);
  if (!a || !b) {
    fprintf(stderr, "relay_bench: relaywire_new failed\n");
    return 1;
  }
  double seal_s = 0, open_s = 0;
  long done = 0, failures = 0;
  while (done < n) {
    for (int i = 0; i < BATCH; i++) {
      memset(pkts[i] + RELAYWIRE_HDR, (int)(done + i), size);
      pkts[i][RELAYWIRE_HDR] = 0x80;
      pkts[i][RELAYWIRE_HDR + 1] = 96;
    }
    double t0 = cpu_now();
    for (int i = 0; i < BATCH; i++)
      failures += relaywire_seal(a, RELAYWIRE_RTP, pkts[i] + RELAYWIRE_HDR, size, pkts[i], CAP,
                                 &lens[i]) != 0;
    double t1 = cpu_now();
    for (int i = 0; i < BATCH; i++) {
      struct relaywire_hdr h;
      size_t plen;
      failures += relaywire_open(b, pkts[i], lens[i], &h, pkts[i] + RELAYWIRE_HDR, CAP, &plen) != 0;
    }
    double t2 = cpu_now();
    seal_s += t1 - t0;
    open_s += t2 - t1;
    done += BATCH;
  }
  printf("relaywire AES-128-GCM, %zu-byte RTP (%zu on the wire), %ld packets:\n", size,
         size + RELAYWIRE_OVERHEAD, done);
  printf("  seal  %.3f us/packet\n  open  %.3f us/packet\n  seal+open  %.3f us/packet "
         "(%.0f packets/s of one core)\n  failures %ld\n",
         seal_s * 1e6 / (double)done, open_s * 1e6 / (double)done,
         (seal_s + open_s) * 1e6 / (double)done, (double)done / (seal_s + open_s), failures);
  relaywire_free(a);
  relaywire_free(b);
  return failures ? 1 : 0;
}
