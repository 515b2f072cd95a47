/* tcp_int.h -- a worker's ICE-TCP listener and connections (tcp.c). Private to media/. */
#ifndef TANDEM_TCP_INT_H
#define TANDEM_TCP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct worker;
struct tcp_conn;

struct tcp {
  uv_tcp_t listener;
  bool listening;
  uv_tcp_t listener6;          /* IPv6-only, on w->bind_ip6, when the worker has one */
  bool listening6;
  struct tcp_conn *conns;      /* every open connection */
  size_t n_conns;
  uint8_t *rbuf;               /* one read buffer: reads are handled as they come */
  struct tcp_conn *dirty;      /* connections with frames gathered this loop turn */
};

/* Listens on the worker's address, port `port` (the worker's UDP port number), and on
 * w->bind_ip6 too when set (IPv6 only). Adds the listeners to w->open_handles. 0 or a negative
 * errno. */
int tcp__listen(struct worker *w, uint16_t port);
/* Takes over a connection accepted elsewhere (the HTTPS port, server/httpd_demux.c): fd, an
 * open TCP socket, is the worker's from the call on (closed on failure), and data[0..len) are
 * the bytes already read from it, handled as if they had just arrived. Then it is one of this
 * worker's ICE-TCP connections like any other. 0 or a negative errno. */
int tcp__adopt(struct worker *w, int fd, const uint8_t *data, size_t len);
void tcp__tick(struct worker *w, uint64_t now);   /* closes connections no check bound */
/* Writes the frames each connection gathered this loop turn, in one write per connection
 * (worker__flush calls it once per loop iteration, beside the UDP batch). */
void tcp__flush(struct worker *w);
void tcp__close(struct worker *w, uv_close_cb cb); /* every connection, then the listener */
void tcp__free(struct worker *w);

#endif
