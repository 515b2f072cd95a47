/* wsclient.h -- a WebSocket client (RFC 6455) on libuv TCP, http-parser and wslay. */
#ifndef TANDEM_BENCH_WSCLIENT_H
#define TANDEM_BENCH_WSCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

/* Callbacks run on the loop thread. Inside any of them the owner may call
 * wsclient_send_text, wsclient_close or wsclient_abort. data/len are valid
 * only during the call and are not NUL-terminated. */
struct wsclient_events {
  void (*on_open)(void *arg);                           /* the upgrade succeeded */
  void (*on_text)(void *arg, const char *data, size_t len); /* one text message */
  /* The connection ended without the owner asking: err is 0 after the
   * server's close frame (code = its status code, 1005 if none), or a
   * negative errno (-ECONNREFUSED, -ECONNRESET when the server went away
   * without a close frame, -EPROTO for a refused upgrade or a protocol
   * error). Called at most once; the client frees itself after it returns,
   * so the owner must drop its pointer. */
  void (*on_close)(void *arg, int err, uint16_t code);
};

struct wsclient;

/* Connects to addr and upgrades GET `path` with Host: host (both copied).
 * Returns 0 and *out, or a negative errno (-ENOMEM, or libuv's error when
 * the connect cannot even start; no callback follows then). */
int wsclient_open(uv_loop_t *loop, const struct sockaddr *addr, const char *host,
                  const char *path, const struct wsclient_events *ev, void *arg,
                  struct wsclient **out);

/* Queues one text message. 0, -EINVAL (not open, or closing), -ENOMEM. */
int wsclient_send_text(struct wsclient *c, const char *data, size_t len);

/* Ends the connection as a page would: a close frame with `code`, the queued
 * data flushed, then the TCP connection closed. No callback follows; the
 * client frees itself once its handle is closed. */
void wsclient_close(struct wsclient *c, uint16_t code);

/* Drops the TCP connection at once, without a close frame (a vanished
 * browser). No callback follows; the client frees itself. */
void wsclient_abort(struct wsclient *c);

#endif
