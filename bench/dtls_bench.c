/* dtls_bench.c -- the server side of a browser's connect, alone: DTLS handshakes (ECDHE-ECDSA,
 * use_srtp) against an in-memory client, then the SRTP contexts. Prints server CPU per handshake
 * and handshakes per second per core. Never asserts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media/dtls.h"
#include "media/srtpctx.h"

/* Datagrams in flight between the two ends, one queue each way. */
struct wire {
  uint8_t buf[16][1500];
  size_t len[16];
  int n;
};

static void send_cb(void *arg, const uint8_t *buf, size_t len) {
  struct wire *q = arg;
  if (q->n < 16 && len <= 1500) {
    memcpy(q->buf[q->n], buf, len);
    q->len[q->n++] = len;
  }
}

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 500;
  if (srtpctx_global_init() || dtls_fast_ec_install())
    return 1;
  struct dtls_cert *scert = dtls_cert_new(), *ccert = dtls_cert_new();
  struct dtls_ctx *sctx = dtls_ctx_new(scert, DTLS_ROLE_SERVER, NULL);
  struct dtls_ctx *cctx = dtls_ctx_new(ccert, DTLS_ROLE_CLIENT, NULL);
  if (!scert || !ccert || !sctx || !cctx)
    return 1;
  uint8_t sfp[DTLS_FP_LEN], cfp[DTLS_FP_LEN];
  dtls_cert_fingerprint_bytes(scert, sfp);
  dtls_cert_fingerprint_bytes(ccert, cfp);
  double server_cpu = 0, client_cpu = 0;
  int ok = 0;
  const char *profile = "";
  for (int i = 0; i < n; i++) {
    struct wire to_server = {0}, to_client = {0};
    double t0 = thread_cpu();
    struct dtls *c = dtls_new(cctx, sfp, sizeof(sfp), send_cb, &to_server);
    dtls_start(c);
    double t1 = thread_cpu();
    client_cpu += t1 - t0;
    struct dtls *s = NULL;
    int done = 0;
    for (int round = 0; round < 10 && done != 2; round++) {
      /* Server side: what a worker does for this browser. */
      t0 = thread_cpu();
      if (!s)
        s = dtls_new(sctx, cfp, sizeof(cfp), send_cb, &to_client);
      for (int k = 0; k < to_server.n; k++) {
        if (dtls_feed(s, to_server.buf[k], to_server.len[k]) == 1) {
          struct srtp_keys keys;
          struct srtpctx *rx = NULL, *tx = NULL;
          if (dtls_srtp_keys(s, &keys) == 0) {
            rx = srtpctx_new(&keys); /* the session's own context */
            tx = srtpctx_new(&keys); /* its outbound's RTP context */
            profile = dtls_profile_name(keys.profile);
          }
          if (rx && tx)
            done |= 2;
          srtpctx_free(rx);
          srtpctx_free(tx);
        }
      }
      to_server.n = 0;
      t1 = thread_cpu();
      server_cpu += t1 - t0;
      /* Client side. */
      for (int k = 0; k < to_client.n; k++)
        dtls_feed(c, to_client.buf[k], to_client.len[k]);
      to_client.n = 0;
      client_cpu += thread_cpu() - t1;
    }
    ok += done == 2;
    t0 = thread_cpu();
    dtls_free(s);
    server_cpu += thread_cpu() - t0;
    dtls_free(c);
  }
  printf("dtls_bench: %d of %d handshakes completed (%s, ECDSA P-256 both ends, EC keys through %s)\n",
         ok, n, profile, dtls_fast_ec_active() ? "the built-in EC method" : "the providers");
  printf("  server side (dtls_new, feed, keys, two SRTP contexts, free): %.0f us CPU each, "
         "%.0f per second per core\n", server_cpu / n * 1e6, n / server_cpu);
  printf("  client side (the simulated browser):                          %.0f us CPU each\n",
         client_cpu / n * 1e6);
  dtls_ctx_free(sctx);
  dtls_ctx_free(cctx);
  dtls_cert_free(scert);
  dtls_cert_free(ccert);
  return ok == n ? 0 : 1;
}
