/* bpeer.h -- one simulated browser: signalling, ICE, DTLS-SRTP, media, and what it measures. */
#ifndef TANDEM_BENCH_BPEER_H
#define TANDEM_BENCH_BPEER_H

#include <stdbool.h>
#include <stdint.h>

#include "bench/bench.h"

/* A simulated browser tab (and, after a vanish, the next one on the same
 * seat). It belongs to the run's loop; every callback and bpeer_* call
 * happens on that thread. It reports into run->t, run->m and run->xt. */
struct bpeer;

/* A peer that has not started yet. NULL when out of memory. `index` is its
 * number in logs (0-based). run must outlive it. */
struct bpeer *bpeer_new(struct brun *run, uint32_t index, enum bench_behaviour b);

/* Opens the first visit: UDP socket, WebSocket, hello, offer, ICE, DTLS. */
void bpeer_start(struct bpeer *p);

/* Drives everything time-based: media frames that are due, ICE and DTLS
 * retransmissions, consent checks, RTCP reports, the behaviour's next step,
 * the READY deadline. Call often (every few ms) with brun_now_us(). */
void bpeer_tick(struct bpeer *p, uint64_t now_us);

/* The run is over: the pairing window closes, the WebSocket gets a close
 * frame and DTLS a close_notify, every handle is closed. Idempotent. */
void bpeer_finish(struct bpeer *p);

/* True once bpeer_finish was called and every handle of the peer closed;
 * only then may it be freed. */
bool bpeer_closed(const struct bpeer *p);
void bpeer_free(struct bpeer *p); /* NULL ok */

/* What main.c shows live and in the summary. */
struct bpeer_view {
  enum bench_behaviour behaviour;
  bool connected; /* a WebSocket is open */
  bool ready;     /* the current visit reached READY */
  bool paired;    /* a pairing window is open */
  bool ever_ready;
  bool ever_media; /* some visit completed ICE and DTLS (SRTP keys) */
  uint32_t visits, pairings;
};
void bpeer_view(const struct bpeer *p, struct bpeer_view *v);

#endif
