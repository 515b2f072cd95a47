/* worker_int.h -- the layout of a media worker, shared by worker.c and wire.c. */
#ifndef TANDEM_WORKER_INT_H
#define TANDEM_WORKER_INT_H

#include "media/hmap.h"
#include "media/session_int.h"

#define RECV_SLOTS 32                 /* datagrams per recvmmsg */
#define DGRAM_SLOT (64 * 1024)        /* libuv hands recvmmsg 64 KiB per datagram slot */
#define TX_BATCH 64                   /* datagrams per sendmmsg */
#define TX_SLOT (1500 + SRTPCTX_TRAILER)
#define TICK_MS 20

struct wcmd {
  int type;
  uint64_t sid, other;
  unsigned other_worker;
  struct session_params *params;
  struct wcmd *next;
};

struct worker {
  struct mediaplane *mp;
  unsigned index, nworkers;
  uv_loop_t loop;
  uv_udp_t udp;
  uv_timer_t tick;
  uv_check_t check;
  uv_async_t async;
  uv_thread_t thread;
  bool thread_started;
  int open_handles;                   /* udp, tick, check: the loop stops when they are closed */
  bool stopping;
  struct mediaplane_config cfg;
  char bind_ip[64];
  struct dtls_ctx *dtls_ctx;
  struct ice_responder *ice;
  struct hmap *by_ufrag, *by_addr, *by_sid;
  struct session **list;              /* live sessions and closed ones awaiting the next tick */
  size_t n_list, cap_list;
  uint8_t *rxbuf;
  int fd;
  /* Receive mode: event-driven (libuv wakes us per datagram burst) at low rates; under load
   * a timer (media_poll_ms, 2 ms) drains the socket with recvmmsg, so each wake-up handles many
   * datagrams. */
  uv_timer_t poll;
  bool polling_mode;
  uint64_t rate_window_ms, rate_window_rx;
  struct mmsghdr rx_msgs[32];
  struct iovec rx_iov[32];
  struct sockaddr_storage rx_addr[32];
  uint8_t (*rx_bufs)[2048];
  /* Transmit batches, one per socket sent on (ours and those of workers whose browsers we
   * feed), allocated on first use and flushed with sendmmsg after every loop iteration. */
  struct txbatch *tx[MAX_WORKERS];
  unsigned ntx;                       /* datagrams waiting in all batches */
  bool ring_dirty[MAX_WORKERS];
  /* Commands from the control loop. */
  uv_mutex_t cmd_lock;
  struct wcmd *cmd_head, *cmd_tail;   /* posted, under cmd_lock */
  struct wcmd *run_head, *run_tail;   /* taken by this thread, in order, not yet carried out */
  /* Counters: written by this thread only, published every tick for the control loop. */
  struct mediaplane_stats st;
  uv_mutex_t stat_lock;
  struct mediaplane_stats pub;
};


struct txbatch {
  int fd;
  unsigned n;
  struct mmsghdr msgs[TX_BATCH];
  struct iovec iov[TX_BATCH];
  struct sockaddr_storage addr[TX_BATCH];
  uint8_t buf[TX_BATCH][TX_SLOT];
};

/* wire.c */
int wire__recv_start(struct worker *w);
void wire__tx_flush(struct worker *w);
void wire__forget(struct worker *w, struct session *s); /* unlinks and removes from every table */
void wire__fail(struct worker *w, struct session *s, const char *why);
void wire__check_ready(struct worker *w, struct session *s, uint64_t now);
bool wire__check_closed(struct worker *w, struct session *s, uint64_t now);
void wire__adapt(struct worker *w, uint64_t now); /* from the tick: switch receive mode */

#endif
