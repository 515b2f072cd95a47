/* bptcp.c -- a simulated browser's ICE-TCP connection (--transport=tcp): what Chromium does
 * when UDP is blocked. It connects to the passive TCP host candidate of the server's answer
 * (RFC 6544, the browser is the active side) and carries every STUN, DTLS, SRTP and SRTCP
 * packet of the session as an RFC 4571 frame (media/framing.c). The server is not trusted: a
 * frame it sends that is empty or over FRAMING_MAX, a connect or write that fails, or the
 * server closing the stream while the session is live is a counted `tcp` error, and the
 * session gives up (as after an ICE failure). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bpeer_int.h"

#define TCP_OUT_MAX (256 * 1024) /* unsent bytes before packets are dropped, as the server does */

struct bptcp_wreq {
  uv_write_t req;
  struct bptransport *t;
  size_t len;
  uint8_t data[];
};

/* The session cannot go on over this connection: stop reading and writing, close the handle,
 * and stop the session's timers (bptransport_tick does nothing without an answer). */
static void give_up(struct bptransport *t) {
  t->have_answer = false;
  bptcp_close(t);
}

void bptcp_close(struct bptransport *t) {
  if (t->tcp_state == BPT_NONE || t->tcp_state == BPT_DOWN)
    return;
  t->tcp_state = BPT_DOWN;
  /* Pending connect and write requests are called back with UV_ECANCELED before the close
   * callback, so t outlives them. */
  uv_close((uv_handle_t *)&t->tcp, bptransport__handle_closed);
}

int bptcp_init(struct bptransport *t) {
  int rc = uv_tcp_init(t->p->run->loop, &t->tcp);
  if (rc)
    return rc;
  t->tcp.data = t;
  t->handles++;
  t->tcp_state = BPT_IDLE;
  framing_reader_init(&t->rd);
  return 0;
}

static void write_done(uv_write_t *req, int status) {
  struct bptcp_wreq *w = (struct bptcp_wreq *)req;
  struct bptransport *t = w->t;
  t->tcp_queued -= w->len;
  free(w);
  if (status < 0 && status != UV_ECANCELED && t->tcp_state == BPT_UP && !t->closing) {
    brun_error(t->p->run, BE_TCP, t->p->index, "write to the media connection failed: %s",
               uv_strerror(status));
    give_up(t);
  }
}

void bptcp_send(struct bptransport *t, const uint8_t *buf, size_t len) {
  struct brun *r = t->p->run;
  uint8_t hdr[2];
  if (t->tcp_state != BPT_UP || framing_header(hdr, len) != 0) {
    r->t.tx_dropped++;
    return;
  }
  size_t total = len + 2, done = 0;
  if (t->tcp_queued == 0) {
    /* Nothing waiting: straight to the socket, header and packet in one call. */
    uv_buf_t b[2] = {uv_buf_init((char *)hdr, 2), uv_buf_init((char *)buf, (unsigned)len)};
    int n = uv_try_write((uv_stream_t *)&t->tcp, b, 2);
    if (n == (int)total) {
      r->t.tx_packets++;
      r->t.tx_bytes += len;
      return;
    }
    if (n < 0 && n != UV_EAGAIN) {
      brun_error(r, BE_TCP, t->p->index, "write to the media connection failed: %s",
                 uv_strerror(n));
      give_up(t);
      return;
    }
    done = n > 0 ? (size_t)n : 0;
  }
  if (t->tcp_queued + total - done > TCP_OUT_MAX) {
    /* The server reads too slowly: lost, as a full UDP socket buffer would lose it. Half a
     * frame already written cannot be taken back, so then the stream is out of step. */
    r->t.tx_dropped++;
    if (done) {
      brun_error(r, BE_TCP, t->p->index, "media connection blocked mid-frame");
      give_up(t);
    }
    return;
  }
  struct bptcp_wreq *w = malloc(sizeof(*w) + total - done);
  if (!w) {
    r->t.tx_dropped++;
    if (done)
      give_up(t);
    return;
  }
  /* The unwritten tail of [header][packet]. */
  size_t off = 0;
  if (done < 2) {
    memcpy(w->data, hdr + done, 2 - done);
    off = 2 - done;
  }
  memcpy(w->data + off, buf + (done > 2 ? done - 2 : 0), len - (done > 2 ? done - 2 : 0));
  w->t = t;
  w->len = total - done;
  uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
  int rc = uv_write(&w->req, (uv_stream_t *)&t->tcp, &b, 1, write_done);
  if (rc) {
    free(w);
    brun_error(r, BE_TCP, t->p->index, "write to the media connection failed: %s",
               uv_strerror(rc));
    give_up(t);
    return;
  }
  t->tcp_queued += w->len;
  r->t.tcp_queued++;
  r->t.tx_packets++;
  r->t.tx_bytes += len;
}

static void on_frame(void *arg, uint8_t *pkt, size_t n) {
  struct bptransport *t = arg;
  if (t->closing || t->tcp_state != BPT_UP)
    return;
  struct brun *r = t->p->run;
  r->t.tcp_rx_frames++;
  r->t.tcp_rx_bytes += n;
  bptransport__on_packet(t, pkt, n, brun_now_us(r));
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct bptransport *t = h->data;
  (void)suggested;
  *buf = uv_buf_init((char *)t->p->run->rxbuf, sizeof(t->p->run->rxbuf));
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  struct bptransport *t = st->data;
  struct brun *r = t->p->run;
  if (nread == 0 || t->closing || t->tcp_state != BPT_UP)
    return;
  if (nread < 0) {
    /* We close first at every planned end (refresh, vanish, the run's end); the server
     * closing a live session's stream is a failure. */
    if (!r->ending)
      brun_error(r, BE_TCP, t->p->index, "the media connection ended: %s",
                 uv_strerror((int)nread));
    give_up(t);
    return;
  }
  if (framing_feed(&t->rd, (const uint8_t *)buf->base, (size_t)nread, on_frame, t) != 0) {
    brun_error(r, BE_TCP, t->p->index, "the server sent a frame that is empty or over %d bytes",
               FRAMING_MAX);
    give_up(t);
  }
}

static void connect_cb(uv_connect_t *req, int status) {
  struct bptransport *t = req->data;
  if (status == UV_ECANCELED || t->closing || t->tcp_state != BPT_CONNECTING)
    return;
  struct brun *r = t->p->run;
  if (status < 0) {
    brun_error(r, BE_TCP, t->p->index, "could not connect to the TCP candidate: %s",
               uv_strerror(status));
    give_up(t);
    return;
  }
  t->tcp_state = BPT_UP;
  r->t.tcp_connected++;
  uv_tcp_nodelay(&t->tcp, 1); /* as Chromium's ICE-TCP sockets: packets, not a byte stream */
  int rc = uv_read_start((uv_stream_t *)&t->tcp, alloc_cb, read_cb);
  if (rc) {
    brun_error(r, BE_TCP, t->p->index, "could not read the media connection: %s",
               uv_strerror(rc));
    give_up(t);
    return;
  }
  t->ice_next_us = brun_now_us(r); /* the first check goes out at the next tick */
}

void bptcp_connect(struct bptransport *t) {
  struct brun *r = t->p->run;
  if (t->tcp_state != BPT_IDLE)
    return;
  t->tcp_state = BPT_CONNECTING;
  t->connect_req.data = t;
  r->t.tcp_connects++;
  int rc = uv_tcp_connect(&t->connect_req, &t->tcp, (const struct sockaddr *)&t->ans.tcp_cand,
                          connect_cb);
  if (rc) {
    brun_error(r, BE_TCP, t->p->index, "could not connect to the TCP candidate: %s",
               uv_strerror(rc));
    give_up(t);
  }
}
