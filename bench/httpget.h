/* httpget.h -- one HTTP/1.1 GET on libuv TCP, parsed with http-parser (for /metrics). */
#ifndef TANDEM_BENCH_HTTPGET_H
#define TANDEM_BENCH_HTTPGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

/* Called exactly once, on the loop thread: status is the HTTP status code, or
 * a negative errno (-ETIMEDOUT, -EPROTO, a libuv error). body/len hold the
 * response body (NUL-terminated, len without the NUL), valid only during
 * the call. */
typedef void (*httpget_done_fn)(void *arg, int status, const char *body, size_t len);

/* Starts GET `path` on a new connection to addr (Connection: close), with a
 * deadline of timeout_ms. The request frees itself after `done` returns.
 * Returns 0, or a negative errno when it cannot start (no callback then). */
int httpget_start(uv_loop_t *loop, const struct sockaddr *addr, const char *host,
                  const char *path, uint64_t timeout_ms, httpget_done_fn done, void *arg);

#endif
