/* httpd.h -- HTTP/1.1 and WebSocket server on libuv (http-parser, wslay). */
#ifndef TANDEM_HTTPD_H
#define TANDEM_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/*
 * Threading: every function below is called on the thread running the loop
 * given to httpd_new(), and every callback runs on that thread.
 *
 * Re-entrancy: from inside any handler callback it is safe to call
 * ws_send_text(), ws_close() (on any connection), httpd_deferred_send() and
 * httpd_close(). Objects are never freed synchronously: a connection that is
 * dropped or closed stays valid until its libuv close callbacks run in a
 * later loop iteration, and on_ws_close() and a deferred reply's on_cancel()
 * are delivered from there (or from a timer), never from inside another API
 * call.
 *
 * Output: answers to pipelined requests queue at most about 256 KiB per
 * connection beyond what the kernel has taken; past that the server stops
 * parsing and reading that connection until half has drained, so a client
 * that never reads its answers holds a bounded amount of memory (until the
 * idle timeout closes it).
 */

struct httpd;
struct ws_conn;
struct httpd_conn; /* private */

struct httpd_config {
  const char *host;        /* IP literal or "localhost"; copied by httpd_new */
  int port;                /* 0 = ephemeral (see httpd_port) */
  size_t max_header_bytes; /* request line + headers; over it -> 431, close */
  size_t max_body_bytes;   /* over it -> 413, close */
  size_t max_ws_message;   /* assembled message; over it -> close 1009 */
  unsigned max_ws_fragments; /* frames in one message; over it -> close 1008 */
  size_t max_ws_outbuf;    /* queued unsent bytes, each queued message (a pong
                              too) counted with a fixed overhead; over it while
                              sending -> -ENOBUFS, while reading -> drop */
  unsigned idle_timeout_ms; /* whole request must arrive within this long of
                               the accept or the previous request (or its
                               deferred answer); 0 = off */
  unsigned ws_ping_ms;     /* ping period; no traffic for 2x -> drop; 0 = off */
  unsigned ws_claim_ms;    /* a WebSocket its owner has not claimed (given
                              non-NULL data with ws_set_data) within this of
                              on_ws_open is closed, 1008 "timeout"; 0 = off */
  bool trust_proxy;        /* remote_ip = last hop of X-Forwarded-For */
  /* Who may open a WebSocket, by the handshake's Origin header (browsers
   * always send it; other clients need not, and are let in without one).
   * NULL or "": the page's own origin only, i.e. Origin's host and port equal
   * the Host header's. Otherwise a list of origins separated by commas or
   * spaces, each "scheme://host[:port]" compared without regard to case, or
   * "*" for any; the Host rule then no longer applies. A refused Origin gets
   * 403. Copied by httpd_new. */
  const char *ws_origins;
  /* Connections open at once (each is a descriptor). 0: computed by
   * httpd_listen from RLIMIT_NOFILE, less the descriptors already open then
   * and HTTPD_FD_HEADROOM for the rest of the process. Past it a new
   * connection is closed at once, with no reply, unless a reserve connection
   * that has sent no complete request yet can be closed to make room (the
   * oldest such). */
  unsigned max_conns;
  /* The last reserve_conns of max_conns (at most half of it) are the reserve:
   * they must send a request within 2 s, are answered once and closed, and
   * only for reserve_paths (exact paths, separated by commas or spaces, copied
   * by httpd_new; e.g. "/healthz"); anything else there gets 503, a WebSocket
   * too. So a flood of idle connections cannot starve health checks. */
  unsigned reserve_conns;
  const char *reserve_paths;
  /* Connections per client address (an IPv6 client: per /64); a new one over
   * it is closed at once. They are counted by the socket's peer, or with
   * trust_proxy (the peer is the proxy) WebSockets only, by X-Forwarded-For at
   * the upgrade, which gets 429 over it. UINT_MAX = no limit. */
  unsigned max_conns_per_ip;
};

#define HTTPD_FD_HEADROOM 64 /* descriptors left to the rest of the process */

/* Fills the defaults: "0.0.0.0":8080, 16 KiB, 64 KiB, 64 KiB, 64 fragments,
 * 1 MiB, 30000 ms, 20000 ms, no proxy, any origin of the same host, max_conns
 * from the descriptor limit, a reserve of 16 with no paths, 64 connections per
 * address. In a config given to httpd_new, a max_* (and reserve_conns) of 0
 * means its default (never "unlimited"). A WebSocket message begun and not
 * finished within idle_timeout_ms closes its connection (1008). */
void httpd_config_default(struct httpd_config *c);

/* A parsed request. Borrowed: it and every string in it are valid only during
 * the callback it is passed to. Strings are NUL-terminated. `path` is the raw
 * (not percent-decoded) path without the query; `query` is the raw text after
 * '?', "" if none. `body` is NUL-terminated too (body_len excludes the NUL);
 * it is "" with body_len 0 when there is no body. */
struct httpd_request {
  const char *method, *path, *query;
  const char *body;
  size_t body_len;
  const char *remote_ip; /* text form; X-Forwarded-For aware per trust_proxy */
  const struct httpd_conn *conn_; /* private; NULL in hand-made requests */
};

/* Value of the first header named `name` (case-insensitive), borrowed like
 * the request, or NULL if absent (always NULL when r->conn_ is NULL). */
const char *httpd_header(const struct httpd_request *r, const char *name);

/* The response, filled in by on_request. Opaque; valid during the callback
 * (a deferred one: see httpd_deferred_reply). Status defaults to 404.
 * Content-Length and (when needed) Connection are added by the server; an
 * error status with no body gets a one-line text body. HEAD replies carry
 * the headers of the matching GET without body. */
struct httpd_reply;
void httpd_reply_status(struct httpd_reply *rep, int status);
/* Adds a header; name and value are copied. Headers whose name or value
 * contain CR or LF, and Content-Length / Transfer-Encoding (the server owns
 * framing), are ignored. "Connection: close" makes the server close the
 * connection after this reply. */
void httpd_reply_header(struct httpd_reply *rep, const char *name,
                        const char *value);
/* Sets the body (replacing any previous one). ctype may be NULL (no
 * Content-Type) and is copied. copy=true copies body now; copy=false borrows
 * it until the response is written, so it must be static/immortal. Returns
 * nothing: on allocation failure the reply becomes a 500. */
void httpd_reply_body(struct httpd_reply *rep, const char *ctype,
                      const void *body, size_t len, bool copy);

struct httpd_handlers {
  /* Every request not taken by ws_path. The reply is sent when it returns,
   * unless it called httpd_defer(). */
  void (*on_request)(void *arg, const struct httpd_request *req,
                     struct httpd_reply *rep);
  /* Path (exact match, query ignored) where GET + Upgrade: websocket becomes
   * a WebSocket; NULL = none. Copied by httpd_new. Any other method there ->
   * 400; a GET without a valid handshake -> 400, or 426 for a missing
   * Upgrade or a Sec-WebSocket-Version other than 13; an Origin that
   * ws_origins does not allow -> 403. */
  const char *ws_path;
  /* After the 101 has been queued; c may be used at once. */
  void (*on_ws_open)(void *arg, struct ws_conn *c,
                     const struct httpd_request *req);
  /* A complete (reassembled) message; data is borrowed for the call only.
   * Text messages are valid UTF-8 (wslay checks it; invalid -> close 1007)
   * but not NUL-terminated. Not called after ws_close() on c. */
  void (*on_ws_message)(void *arg, struct ws_conn *c, const char *data,
                        size_t len, bool binary);
  /* Exactly once per connection that got on_ws_open, whatever the cause
   * (close handshake, drop, error, httpd_close). c is valid during the call
   * only; sends on it return -EPIPE. */
  void (*on_ws_close)(void *arg, struct ws_conn *c);
  void *arg;
};

/* ---- deferred replies ----
 *
 * A route that must wait for its answer (from a worker thread, say) defers
 * it inside on_request and answers later, on the loop thread:
 *
 *   on_request:  job->d = httpd_defer(rep, 0, job_cancelled, job);
 *                if (!job->d) answer on rep now, as usual;
 *   later:       struct httpd_reply *r = httpd_deferred_reply(job->d);
 *                httpd_reply_status(r, 200); httpd_reply_body(r, ...);
 *                httpd_deferred_send(job->d); job->d = NULL;
 *   job_cancelled(job): job->d = NULL;  (d is already gone)
 *
 * Ownership: the handle d belongs to the route and ends exactly once, by
 * whichever comes first:
 *  - the route calls httpd_deferred_send(d): the reply is sent (or dropped
 *    if the connection has gone meanwhile) and on_cancel is never called;
 *  - httpd calls on_cancel(arg): d was freed just before, so the route must
 *    not pass it to any httpd function again.
 * on_cancel runs from a libuv callback (the timeout's timer or the
 * connection's close callback), never from inside an httpd_* or ws_* call;
 * it may call any of them, httpd_close() included.
 *
 * Cancellation happens when the timeout expires (httpd has then answered
 * "504 Gateway Timeout" itself and keeps the connection as the request
 * allowed), when the connection is dropped or the client closes or
 * half-closes its side (TCP cannot tell these apart, so a FIN counts as a
 * client that has gone), or on httpd_close() (each on_cancel comes before
 * its done callback).
 *
 * Order: while a reply is deferred the connection parses nothing more.
 * Requests pipelined behind it are held (at most 64 KiB; past 16 KiB the
 * server stops reading the socket) and handled, in order, from a loop
 * iteration after the answer, never from inside httpd_deferred_send().
 * HEAD, keep-alive, Connection: close and the HTTP version apply as for a
 * reply given at once.
 */
struct httpd_deferred;

#define HTTPD_DEFER_TIMEOUT_MS 10000 /* what a timeout_ms of 0 means */

/* Only inside on_request, with the rep it was given. Moves rep (the status,
 * headers and body set so far) into a new handle d, owned by the caller as
 * described above; rep is ignored from then on. The request is not kept:
 * copy what you need from req before on_request returns. on_cancel is
 * required. Returns NULL, changing nothing (answer on rep), when out of
 * memory, when on_cancel is NULL, when rep is not on_request's or is
 * already deferred, or when the connection is already closing. */
struct httpd_deferred *httpd_defer(struct httpd_reply *rep, unsigned timeout_ms,
                                   void (*on_cancel)(void *arg), void *arg);
/* The reply to fill in with httpd_reply_status/header/body, owned by d and
 * valid as long as d; NULL if d is NULL. */
struct httpd_reply *httpd_deferred_reply(struct httpd_deferred *d);
/* Sends d's reply and frees d. Callable anywhere on the loop thread,
 * including inside on_request just after httpd_defer() (the reply then goes
 * out when on_request returns) and inside any callback. If the connection
 * was dropped and on_cancel is still to come, the reply is discarded and
 * on_cancel is no longer called. NULL is ignored. */
void httpd_deferred_send(struct httpd_deferred *d);

/* A server on `loop`; cfg and h are copied (NULL cfg = defaults). Not yet
 * listening. Returns NULL only when out of memory. Must be released with
 * httpd_close(), even if httpd_listen() failed. */
struct httpd *httpd_new(uv_loop_t *loop, const struct httpd_config *cfg,
                        const struct httpd_handlers *h);
/* Binds and listens: 0 or a negative errno (-EADDRINUSE, -EINVAL for a bad
 * host, -EALREADY if already listening). */
int httpd_listen(struct httpd *s);
/* The bound port (useful with port 0), or a negative errno if not bound. */
int httpd_port(const struct httpd *s);
/* Stops listening and closes every connection (WebSocket ones get a
 * best-effort close frame 1001, and their on_ws_close; deferred replies
 * their on_cancel), frees everything, then calls done(arg) (if done is not
 * NULL) from a close callback. s must not be used after this call. Safe
 * inside any handler callback. A second call is ignored. */
void httpd_close(struct httpd *s, void (*done)(void *arg), void *arg);
/* Connections accepted and not yet freed (HTTP and WebSocket). */
size_t httpd_connection_count(const struct httpd *s);
/* max_conns as in effect (after httpd_listen when computed). */
unsigned httpd_max_conns(const struct httpd *s);
/* Raises this process's soft RLIMIT_NOFILE to its hard limit, so that the
 * connection budget is as large as the system allows; call it before
 * httpd_listen. Returns the soft limit now, or a negative errno. */
long httpd_raise_nofile(void);

/* ---- TLS (httpd_tls.c) ----
 *
 * With a certificate set, every connection accepted afterwards speaks TLS
 * (1.2 or 1.3, ALPN http/1.1, no renegotiation); all the limits above apply
 * to the decrypted stream unchanged, and the handshake counts in
 * idle_timeout_ms. A client speaking plain HTTP there gets a 400 and is
 * closed. Connections keep the certificate they were accepted with, so a
 * new one never disturbs them. */
struct httpd_tls;

/* Loads a PEM certificate chain and its private key. Returns 0 and *out (free
 * with httpd_tls_free); or, with *bad_file set to cert_file or key_file (the
 * one at fault): a negative errno from opening it (-ENOENT, -EACCES...),
 * -EBADMSG when it holds no usable PEM certificate (key), -EINVAL when the key
 * does not match the certificate (bad_file = key_file), -ENOMEM. */
int httpd_tls_new(const char *cert_file, const char *key_file, struct httpd_tls **out,
                  const char **bad_file);
/* What an httpd_tls_new error means, for a message after the file name. */
const char *httpd_tls_strerror(int err);
/* For logs: the certificate's SHA-256 fingerprint ("AB:CD:..." into fp, at least 96 bytes)
 * and the days until it expires (negative once expired). */
void httpd_tls_info(const struct httpd_tls *t, char *fp, size_t fplen, int *days_left);
/* Drops the caller's reference; servers and connections using it keep theirs.
 * NULL is ignored. */
void httpd_tls_free(struct httpd_tls *t);
/* Connections accepted from now on use t (s takes its own reference; the
 * caller keeps its own), or plain HTTP when t is NULL. Existing connections
 * are untouched. Callable at any time on the loop thread. */
void httpd_set_tls(struct httpd *s, struct httpd_tls *t);
/* Whether connections accepted now speak TLS. */
bool httpd_tls_on(const struct httpd *s);

/* ---- ICE-TCP on the TLS port (httpd_demux.c) ----
 *
 * With TLS on and a media handler set, each connection accepted is told by its first bytes
 * (media/portdemux.h): a TLS ClientHello goes on as HTTPS; plain HTTP gets the 400 as without
 * a handler; an RFC 4571 frame holding a STUN Binding request (ICE-TCP, RFC 6544) is handed
 * to the handler; anything else is closed without a word. A connection must show what it is
 * within HTTPD_FIRST_BYTES_MS of its accept (or idle_timeout_ms, if shorter), or it is closed.
 * Closed connections are counted in `refused`.
 *
 * The handler gets a duplicate of the socket's descriptor, its own from the call on whatever
 * it returns (it must close it on failure), the bytes read so far (the whole first frame at
 * least; borrowed for the call) and the first check's ufrag, ours (the USERNAME before ':',
 * borrowed, not NUL-terminated). httpd then closes its own handle, which neither sends a FIN
 * nor a reset while the duplicate is open. It returns 0 when it took the connection (counted in
 * `media`), else a negative errno (counted in `refused`). */
#define HTTPD_FIRST_BYTES_MS 5000
typedef int (*httpd_media_fn)(void *arg, int fd, const uint8_t *data, size_t len,
                              const char *ufrag, size_t ufrag_len);
/* Sets (or with fn NULL clears) the handler, for connections accepted from now on. */
void httpd_set_media(struct httpd *s, httpd_media_fn fn, void *arg);
struct httpd_demux_stats {
  uint64_t media;   /* connections handed to the media handler */
  uint64_t refused; /* closed by the first-bytes test: late, garbage, or refused by the handler */
};
void httpd_get_demux_stats(const struct httpd *s, struct httpd_demux_stats *st);

/* Opaque per-connection user pointer; NULL initially; never freed by us. */
void ws_set_data(struct ws_conn *c, void *data);
void *ws_get_data(const struct ws_conn *c);
/* Queues a text (or binary) message; data is copied. 0; -EPIPE if the
 * connection is closing (ws_close called, close received, dropped); -ENOBUFS
 * if the queued unsent bytes would exceed max_ws_outbuf, in which case the
 * connection is dropped (on_ws_close follows later); -ENOMEM. The caller
 * must send valid UTF-8 as text. */
int ws_send_text(struct ws_conn *c, const char *data, size_t len);
int ws_send_binary(struct ws_conn *c, const void *data, size_t len);
/* Graceful close: the close frame (code, reason truncated to 123 bytes at a
 * UTF-8 boundary; NULL = "") is sent after the messages already queued; the
 * connection closes when the peer answers or after 5 s. on_ws_close follows
 * later. code 0 sends no code; codes that may not be sent (outside 1000-1003,
 * 1007-1014, 3000-4999) become 1000. Calling it again, or on a closing
 * connection, does nothing. */
void ws_close(struct ws_conn *c, uint16_t code, const char *reason);
/* Queues a ping now: a liveness probe, see ws_rx_bytes. 0, or -EPIPE if the
 * connection is closing. */
int ws_ping(struct ws_conn *c);
/* Bytes received on c since the upgrade: a change after ws_ping() shows the
 * peer is there. */
uint64_t ws_rx_bytes(const struct ws_conn *c);
/* Client address (text, X-Forwarded-For aware), valid as long as c. */
const char *ws_remote_ip(const struct ws_conn *c);
/* Bytes queued and not yet handed to the kernel, each queued message counted
 * with a fixed overhead (what max_ws_outbuf limits). */
size_t ws_outbuf_bytes(const struct ws_conn *c);

#endif
