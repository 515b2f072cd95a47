/* udp_int.h -- a worker's datagram transport: its UDP socket, batched receive (per wake-up, or
 * from a timer under load) and batched transmit (sendmmsg per socket). Private to media/. */
#ifndef TANDEM_UDP_INT_H
#define TANDEM_UDP_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "media/srtpctx.h"

#define UDP_RECV_SLOTS 32            /* datagrams per recvmmsg */
#define UDP_TX_BATCH 64              /* datagrams per sendmmsg */
#define UDP_TX_SLOT (1500 + SRTPCTX_TRAILER)

struct worker;
struct udp_txbatch;

struct udp {
  bool open;                         /* handle and poll are initialised (udp__close closes them) */
  uv_udp_t handle;
  uv_timer_t poll;
  int fd;
  /* IPv6 beside an IPv4 socket (w->bind_ip6 set: public_ip lists an IPv6 address): a second
   * socket, IPv6-only, on the same port number. The IPv4 socket and its path stay as they are. */
  bool open6;
  uv_udp_t handle6;
  int fd6;                           /* -1 if none */
  uint8_t *rxbuf;                    /* event mode: libuv's recvmmsg area (64 KiB a slot) */
  /* Receive mode: event-driven at low rates; above poll_pps a timer (poll_ms) drains the
   * socket with recvmmsg, so each wake-up handles many datagrams. */
  bool polling;
  uint64_t rate_window_ms, rate_window_rx;
  uint64_t rx_bundled;               /* packets that came in relay bundles, beyond one a bundle
                                        (relay.c): the rate counts packets, not datagrams */
  struct mmsghdr rx_msgs[UDP_RECV_SLOTS];
  struct iovec rx_iov[UDP_RECV_SLOTS];
  struct sockaddr_storage rx_addr[UDP_RECV_SLOTS];
  uint8_t (*rx_bufs)[2048];
  /* Transmit batches, one per socket sent on (ours and those of workers whose browsers we
   * feed), made on first use and flushed after every loop iteration. */
  struct udp_txbatch **tx;           /* [2 * nworkers]: worker i's main socket at 2i, the
                                        socket it sends IPv6 on at 2i + 1 */
  unsigned ntx;                      /* datagrams waiting in all batches */
};

/* A port number free for UDP and TCP on ip, and (ip6 not NULL) for IPv6-only UDP and TCP on
 * ip6, for a worker to bind. Probed with plain sockets, closed again before libuv binds them
 * (another program may take it in between: the bind then fails). 0 or a negative errno. */
int udp__shared_port(const char *ip, const char *ip6, uint16_t *port);
/* Binds `port` (0 = any) on w->bind_ip, starts receiving. Adds its two handles to
 * w->open_handles (closed by udp__close, also after a failure). 0 or a negative errno. */
int udp__bind(struct worker *w, uint16_t port);
/* Binds the IPv6-only socket on w->bind_ip6, port `port` (the main socket's), starts receiving.
 * Adds its handle to w->open_handles. 0 or a negative errno. */
int udp__bind6(struct worker *w, uint16_t port);
void udp__close(struct worker *w, uv_close_cb cb);   /* closes every handle */
void udp__free(struct worker *w);                    /* after the loop is done */
uint16_t udp__port(struct worker *w);
int udp__fd(struct worker *w);
int udp__fd_for(struct worker *w, int family);       /* the socket that sends to that family */
/* A slot of *cap (1500) bytes, plus SRTPCTX_TRAILER of room, for one datagram to an address of
 * `family` sent on worker `via`'s socket for it; NULL when none can be had (out of memory): the
 * caller drops the packet. udp__commit (to an address of that family) queues it; nothing else
 * may be slotted in between. */
uint8_t *udp__slot(struct worker *w, unsigned via, int family, size_t *cap);
void udp__commit(struct worker *w, unsigned via, const struct sockaddr_storage *to, size_t len);
void udp__flush(struct worker *w);                   /* sendmmsg of every batch */
void udp__adapt(struct worker *w, uint64_t now);     /* from the tick: pick the receive mode */
socklen_t udp__addr_len(const struct sockaddr *sa);

#endif
