/* httpd_int.h -- private structures shared by the httpd_*.c files and ws.c. */
#ifndef TANDEM_HTTPD_INT_H
#define TANDEM_HTTPD_INT_H

#include <http_parser.h>
#include <uv.h>

#include "server/httpd.h"
#include "server/iptab.h"

struct ssl_st;     /* OpenSSL's SSL, kept out of the other files */
struct ssl_ctx_st; /* and SSL_CTX */

#define HTTPD__MAX_HEADERS 64
#define HTTPD__IP_LEN 64
#define HTTPD__READ_BUF 65536
/* While a reply is deferred, input is held and reading stops once this much
 * is held; the one read that finished the deferred request may leave more
 * (below HTTPD__READ_BUF), so at most 64 KiB is held per connection. */
#define HTTPD__HOLD_MAX 16384
/* Responses queued on one connection and not yet taken by the kernel, each counted as its
 * bytes plus HTTPD__WRITE_COST (its uv_write_t and malloc headers). Past HTTPD__OUT_MAX a
 * pipelining client that does not read its answers gets no more answers: the server stops
 * parsing (holding the rest of the read, as behind a deferred reply) and stops reading
 * until half of it has drained. */
#define HTTPD__OUT_MAX (256 * 1024)
#define HTTPD__WRITE_COST 256

/* One accepted TCP connection: HTTP first, a WebSocket after the upgrade.
 * It owns two handles (tcp, timer); it is freed when both close callbacks
 * have run (STYLE rule 7). The timer serves one purpose at a time: the idle
 * timeout, a deferred reply's timeout, the resume after it, the linger
 * after our shutdown, or the WebSocket's pings and close. */
struct httpd_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_shutdown_t shutdown;
  struct httpd *srv;
  struct httpd_conn *prev, *next;
  int pending_closes;
  bool closing;     /* uv_close called; no more I/O */
  bool draining;    /* our side is done; waiting for the peer's EOF */
  bool close_after_write; /* stop parsing; shut down after the last reply */
  bool out_full;    /* over HTTPD__OUT_MAX queued: parsing and reading stop */
  bool peer_eof;    /* the peer half-closed */
  bool shutdown_done;
  bool reading;     /* uv_read_start is in effect */
  bool fd_open;     /* the socket is open: counted in srv->nfds */
  bool reserve;     /* accepted into the reserve (httpd_config.max_conns) */
  bool in_rfifo;    /* in srv's reserve FIFO: no complete request yet */
  struct httpd_conn *rprev, *rnext;
  char count_ip[HTTPD__IP_LEN]; /* counted in srv->per_ip under this; "" none */
  unsigned writes;  /* HTTP responses queued in libuv */
  size_t out_bytes; /* what they cost: bytes plus HTTPD__WRITE_COST each */
  char peer_ip[HTTPD__IP_LEN];   /* from the socket */
  char client_ip[HTTPD__IP_LEN]; /* per trust_proxy, for the current request */

  /* The request being assembled; all strings live in hbuf as offsets. */
  http_parser parser;
  char *hbuf;
  size_t hlen, hcap;
  size_t url_len, path_off, query_off; /* the URL is at offset 0 */
  struct { uint32_t name, value; } hdr[HTTPD__MAX_HEADERS];
  unsigned nhdr;
  int hstate; /* 0 none, 1 in a field name, 2 in a value */
  bool url_done;
  size_t header_bytes;
  char *body;
  size_t body_len, body_cap;
  int err_status; /* set by a parser callback that rejected the request */

  /* Deferred replies (httpd_defer.c) and output over HTTPD__OUT_MAX. While
   * `deferred` or `out_full` is set, and until the held input has been parsed
   * afterwards (resume_pending), input is appended to `held` instead of being
   * parsed, so that pipelined requests are answered in order. */
  struct httpd_deferred *deferred;
  char *held;
  size_t held_len, held_cap;
  bool held_full;     /* HTTPD__HOLD_MAX reached: reading stopped */
  bool resume_pending; /* the timer will parse `held` (httpd__conn_resume) */

  struct ws_conn *ws; /* non-NULL once upgraded */
  struct ssl_st *ssl; /* TLS (httpd_tls.c); NULL for plain HTTP */
  bool tls_started;   /* its first bytes have come (and, with a media handler, were TLS) */
  /* With a media handler (httpd_demux.c): the first bytes, while too few to tell what the
   * connection carries (at most PORTDEMUX_MAX, malloc'd; NULL none). */
  bool demux;         /* accepted with TLS and a media handler: first bytes to be told */
  unsigned char *first;
  size_t first_len;
};

struct httpd {
  uv_loop_t *loop;
  struct httpd_config cfg;
  struct httpd_handlers h;
  char host[64];
  char *ws_path;
  char *ws_origins; /* NULL: same host only */
  char *reserve_paths;
  struct iptab *per_ip;  /* connections per address */
  size_t nfds;           /* accepted sockets still open */
  struct httpd_conn *rhead, *rtail; /* reserve connections awaiting a request, oldest first */
  uv_tcp_t listener;
  bool listening, closing, listener_closed;
  struct httpd_conn *conns;
  size_t nconns;
  void (*done)(void *arg);
  void *done_arg;
  struct ssl_ctx_st *tls_ctx; /* new connections speak TLS; NULL = plain */
  httpd_media_fn media_fn;    /* ICE-TCP on the TLS port (httpd_demux.c); NULL = off */
  void *media_arg;
  struct httpd_demux_stats demux;
  char rbuf[HTTPD__READ_BUF]; /* shared: every read is consumed at once */
  char tbuf[16384];           /* shared: one decrypted TLS record at a time */
};

/* The response under construction (see httpd_reply_* in httpd.h). */
struct httpd_reply {
  int status;
  char *hdrs; /* "Name: value\r\n" lines */
  size_t hlen, hcap;
  char ctype[128];
  const void *body;
  size_t body_len;
  void *owned; /* body copy, freed with the write */
  bool has_body, conn_hdr, conn_close, oom;
  struct httpd_conn *conn; /* on_request's reply only: httpd_defer may take it */
  bool moved;              /* taken by httpd_defer: the setters ignore it */
};

/* httpd.c, for ws.c and httpd_demux.c */
void httpd__conn_close(struct httpd_conn *c);  /* drop now (idempotent) */
void httpd__conn_finish(struct httpd_conn *c); /* shut down, await EOF */
/* The first bytes were TLS: from now the idle timeout (not the first-bytes one) runs. */
void httpd__conn_idle(struct httpd_conn *c);

/* httpd.c, for httpd_tls.c */
/* Bytes read (decrypted with TLS) for the HTTP parser or the WebSocket, or
 * held behind a deferred reply; ignored once c is closing or draining. */
void httpd__conn_input(struct httpd_conn *c, const char *data, size_t len);

/* httpd_tls.c, for httpd.c, httpd_reply.c and ws.c */
/* On accept: c speaks TLS if its server has a certificate. 0 or -ENOMEM. */
int httpd__tls_accept(struct httpd_conn *c);
/* Ciphertext read from the socket: runs the handshake, passes the plaintext
 * to httpd__conn_input and sends what TLS has to say. A failure closes c. */
void httpd__tls_read(struct httpd_conn *c, const char *data, size_t len);
/* Every write on c: uv_write as is, or with TLS encrypted first. cb gets req
 * (its data untouched) with the status of the write. 0 or a negative errno
 * (cb is then not called). */
int httpd__write(struct httpd_conn *c, uv_write_t *req, const uv_buf_t *bufs, unsigned n,
                 uv_write_cb cb);
/* Before our FIN: queues TLS's close_notify (nothing for plain HTTP). */
void httpd__tls_shutdown(struct httpd_conn *c);
/* From conn_free, and from httpd_close for the server's context. */
void httpd__tls_conn_free(struct httpd_conn *c);

/* httpd_tls.c, for httpd_demux.c */
/* Answers plain HTTP on the TLS port with a plain 400 and closes. */
void httpd__tls_refuse_plain(struct httpd_conn *c);

/* httpd_demux.c, for httpd_tls.c */
/* Whether c's first bytes are still to be told apart (TLS on, a media handler set). */
bool httpd__demux_pending(const struct httpd_conn *c);
/* c's bytes while httpd__demux_pending: returns true when they are TLS, with *held / *held_len
 * the bytes kept from earlier reads, to be given to TLS before data (c->first, freed by the
 * caller with httpd__demux_done); false when c was dealt with (waiting for more, handed to
 * the media handler, refused or closed). */
bool httpd__demux(struct httpd_conn *c, const char *data, size_t len,
                  const unsigned char **held, size_t *held_len);
void httpd__demux_done(struct httpd_conn *c); /* frees c->first; from conn_free too */

/* httpd.c, for httpd_req.c and httpd_reply.c */
/* Grows *buf (realloc, doubling from 256) to at least need bytes: 0 or -ENOMEM. */
int httpd__grow(char **buf, size_t *cap, size_t need);
/* A write queued by httpd_reply.c completed (status as uv_write_cb's; its
 * cost already taken off out_bytes): closes c on error, resumes parsing and
 * reading once the output has drained. */
void httpd__conn_written(struct httpd_conn *c, int status);

/* httpd.c, for httpd_defer.c */
/* After a deferred answer with keep-alive: from a later loop iteration,
 * restarts the idle timer and parses the input held meanwhile. */
void httpd__conn_resume(struct httpd_conn *c);

/* httpd_reply.c, for httpd.c, httpd_req.c and ws.c */
/* Queues rep on c: the status line, rep's headers, Content-Type,
 * Content-Length and Connection as needed, then the body unless head_only.
 * Takes rep->owned (the write frees it); rep's headers stay rep's. A
 * malformed or out-of-memory rep becomes a 500. Failure closes c. */
void httpd__reply_send(struct httpd_conn *c, struct httpd_reply *rep, bool head_only,
                       bool keep);
/* Frees what rep holds (headers, owned body), leaving it empty. */
void httpd__reply_clear(struct httpd_reply *rep);
/* Queues "HTTP/1.1 100 Continue"; a failed write closes c. */
void httpd__send_continue(struct httpd_conn *c);

/* httpd_req.c, for httpd.c */
/* The http-parser callbacks (parser.data is the connection). They assemble
 * the request into hbuf/hdr/body, set err_status when they reject it, and
 * pause the parser at the end of each message for dispatch. */
extern const http_parser_settings httpd__parser_settings;
/* Sets client_ip for the assembled request: the peer, or with trust_proxy
 * the last hop of X-Forwarded-For when it is a valid IP literal. */
void httpd__set_client_ip(struct httpd_conn *c);

/* httpd_limit.c, for httpd.c */
/* The reserve's FIFO of connections that have sent no complete request yet
 * (the oldest is closed to make room at the limit). del is idempotent. */
void httpd__rfifo_add(struct httpd_conn *c);
void httpd__rfifo_del(struct httpd_conn *c);
/* Counts c under ip (once): false, counting nothing, when ip is at
 * max_conns_per_ip or out of memory. uncount is idempotent. */
bool httpd__ip_count(struct httpd_conn *c, const char *ip);
void httpd__ip_uncount(struct httpd_conn *c);
/* Whether path is one of reserve_paths. */
bool httpd__reserve_path(const struct httpd *s, const char *path);
/* max_conns from RLIMIT_NOFILE, less the descriptors open now and
 * HTTPD_FD_HEADROOM. */
unsigned httpd__conn_budget(void);

/* ws_origin.c, for ws.c */
/* Whether a handshake with this Origin header (NULL: none) may proceed: no
 * header, or s's ws_origins list, or else Origin's host and port are Host's. */
bool ws__origin_ok(const struct httpd *s, const char *origin, const char *hosthdr);

/* httpd_defer.c, for httpd.c */
/* After on_request returned having deferred c's request: sends the reply if
 * the owner already answered, else starts the timeout on c->timer. */
void httpd__defer_dispatched(struct httpd_conn *c);
/* From the connection's last close callback: if a reply is still deferred,
 * frees it and calls its on_cancel. */
void httpd__defer_conn_freed(struct httpd_conn *c);

/* ws.c, for httpd.c */
/* Validates the handshake of a request on ws_path. On success allocates
 * c->ws and fills rep with the 101; otherwise fills rep with 400/426.
 * Returns true when upgraded. */
bool ws__handshake(struct httpd_conn *c, const struct httpd_request *req,
                   struct httpd_reply *rep);
/* After the 101 is queued: starts the ping timer, calls on_ws_open. */
void ws__opened(struct httpd_conn *c, const struct httpd_request *req);
/* Bytes read from the socket after the upgrade. */
void ws__on_read(struct httpd_conn *c, const char *data, size_t len);
/* httpd_close: best-effort close frame 1001 before the handle closes. */
void ws__going_away(struct httpd_conn *c);
/* From the connection's last close callback: on_ws_close, then free. */
void ws__free(struct httpd_conn *c);

#endif
