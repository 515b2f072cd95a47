/* worker.h -- a media worker: one UDP port, its sessions, their ICE/DTLS/SRTP and forwarding. */
#ifndef TANDEM_WORKER_H
#define TANDEM_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct worker;
struct session;
struct dtls_cert;

struct worker_config {
  const char *bind_ip;          /* "0.0.0.0" */
  uint16_t port;                /* 40000; 0 = ephemeral (tests) */
  const char *public_ip;        /* advertised in candidates */
  uint32_t silence_ms;          /* media silent this long -> on_media(false); 3000 */
  uint32_t connect_timeout_ms;  /* ICE+DTLS must complete within; 20000 */
  uint32_t consent_timeout_ms;  /* no STUN from the peer this long -> failed; 30000 */
};
void worker_config_default(struct worker_config *c);

/* Events to the owner (the signalling side). They run on the worker's loop; the owner may
 * call session_close() on the session from inside any of them. */
struct worker_events {
  void (*on_ready)(void *arg, struct session *s);  /* media flows; after on_ready, on_media tells changes */
  void (*on_media)(void *arg, struct session *s, bool flowing);
  void (*on_failed)(void *arg, struct session *s, const char *why);
  /* The first keyframe of s's current source was forwarded to s with this RTP timestamp. */
  void (*on_partner_video)(void *arg, struct session *s, uint32_t rtp_ts);
  void *arg;
};

struct worker_stats {
  uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
  uint64_t rx_dropped;          /* unknown source, bad demux, not for us */
  uint64_t stun_ok, stun_rejected, stun_malformed;
  uint64_t dtls_ok, dtls_failed;
  uint64_t srtp_errors;
  uint64_t rtp_forwarded, rtp_dropped;
  uint64_t keyframe_requests;
  uint64_t sessions;
};

/* Borrows cert until worker_close's callback. Returns NULL on ENOMEM. */
struct worker *worker_new(uv_loop_t *loop, const struct worker_config *cfg,
                          const struct worker_events *ev, const struct dtls_cert *cert);
int worker_start(struct worker *w);            /* binds the UDP port; 0 or -errno */
uint16_t worker_port(const struct worker *w);  /* the bound port */
void worker_get_stats(const struct worker *w, struct worker_stats *st);
/* Closes every session (without callbacks), the socket and timers, frees w, then done(arg). */
void worker_close(struct worker *w, void (*done)(void *arg), void *arg);

#endif
