/* transport.h -- how packets reach a browser, from any media worker. Private to media/.
 *
 * A session's path is a small value (copied into the outbound that travels between
 * workers), never a pointer to another thread's object:
 *  - TX_DGRAM (UDP): the home worker's socket and the browser's address. Any worker may send
 *    on it (sendmmsg on another thread's socket is safe in the kernel), so a feeder sends a
 *    forwarded packet itself: no copy, no cross-thread hop.
 *  - TX_STREAM (ICE-TCP, RFC 4571 framing): a byte stream only its home worker may write. A
 *    feeder on another worker copies the protected packet into an XM_TX ring record; the home
 *    writes it with the session's stream_ops. On the home worker it is written at once.
 *  - TX_RELAY (node-to-node, media/relay.c): the packet is a relay session's, sealed with
 *    relaywire into a datagram to the remote node's address, on the home worker's socket. Only
 *    the home worker holds the link's keys and counter: a slot elsewhere is refused (dropped).
 * The UDP path pays one predictable branch for this. */
#ifndef TANDEM_TRANSPORT_H
#define TANDEM_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct worker;

enum tx_kind { TX_NONE = 0, TX_DGRAM, TX_STREAM, TX_RELAY };

struct tx_path {
  uint8_t kind;                 /* TX_NONE until the browser's address is known */
  unsigned home;                /* the worker that owns the session and its socket/stream */
  uint64_t sid;                 /* the receiving session (a stream is looked up by it) */
  struct sockaddr_storage addr; /* TX_DGRAM: where to send; TX_RELAY: the remote node */
};

/* A stream transport (one per session, owned by its home worker). write() queues one
 * RTP/RTCP/DTLS/STUN packet, framed by the transport; it may drop (and count) what a slow
 * reader cannot take. close() releases it; both run on the home worker only. */
struct stream_ops {
  int (*write)(void *impl, const uint8_t *buf, size_t len);
  void (*close)(void *impl);
};

/* A buffer for one packet to `p` of at most *cap bytes, with SRTPCTX_TRAILER bytes of room
 * after it for protection, or NULL (drop: no path yet, out of memory, a relay session gone or
 * not at home). transport__commit sends what was built there (a relay path: in plain, sealed
 * by the commit); nothing else may take a slot in between. */
uint8_t *transport__slot(struct worker *w, const struct tx_path *p, size_t *cap);
void transport__commit(struct worker *w, const struct tx_path *p, size_t len);
/* On the home worker: an XM_TX record's packet for session sid, written to its stream. */
void transport__on_tx(struct worker *w, uint64_t sid, const uint8_t *buf, size_t len);

#endif
