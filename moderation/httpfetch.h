/* httpfetch.h -- HTTP requests from a libuv loop without blocking it: libcurl's multi-socket
 * API, a uv_poll_t per socket, one timer. Generic: a method, a URL, headers and a body in; a
 * status, a content type and a body (bounded) out. Used by the classifier webhook
 * (classifier.c) and by the admin API's proxy to the other nodes of a cluster
 * (server/admin_proxy.c).
 *
 * Connections are kept between requests, and so is the watcher of a kept connection's socket,
 * and the curl handles of finished requests are reused: a request on a kept connection costs
 * the loop no new watcher, no epoll_ctl and no curl handle made and freed.
 *
 * One client belongs to one loop's thread; every callback runs on it. */
#ifndef TANDEM_HTTPFETCH_H
#define TANDEM_HTTPFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct httpfetch;
struct httpfetch_job;

struct httpfetch_req {
  const char *method;          /* "GET", "HEAD", "POST", "DELETE", ... (an HTTP token) */
  const char *url;             /* http:// or https:// only; nothing is followed (no redirects) */
  const char *const *headers;  /* "Name: value" lines ("Name;": sent empty), NULL-terminated
                                  (NULL: none); copied */
  const void *body;            /* sent when body_len > 0; copied unless body_kept */
  size_t body_len;
  bool body_kept;              /* the caller keeps body as it is until the callback runs or
                                  the job is cancelled: it is not copied */
  const char *user_agent;      /* NULL: "tandem" */
  unsigned timeout_ms;         /* the whole exchange; required */
  unsigned connect_timeout_ms; /* the connection (0: timeout_ms) */
  size_t max_response;         /* body bytes accepted; more: -EFBIG; required */
};

/* The answer, borrowed for the callback only. ctype is "" when the server sent none. */
struct httpfetch_resp {
  int status; /* 100-599 */
  const char *ctype;
  const uint8_t *body;
  size_t len;
};

/* err 0 with resp; or resp NULL with -ETIMEDOUT (no answer in time), -ECONNREFUSED (nothing
 * listens there, or the host could not be reached or resolved), -EFBIG (the answer is larger
 * than max_response), -EPROTO (not HTTP, or TLS failed), -EIO (the connection broke),
 * -ENOMEM, or -ECANCELED (httpfetch_close). The job is gone when it runs. The callback may
 * call any httpfetch function, httpfetch_close included. */
typedef void (*httpfetch_fn)(void *arg, int err, const struct httpfetch_resp *resp);

/* Connections open to one host at once; more requests to it wait for one (their timeout
 * runs meanwhile). Idle connections are kept for the next requests. */
#define HTTPFETCH_HOST_CONNS 16

/* A client doing at most max_inflight requests at once (1-1024). 0 and *out, -EINVAL,
 * -ENOMEM, or -EIO (libcurl would not start). */
int httpfetch_new(uv_loop_t *loop, unsigned max_inflight, struct httpfetch **out);

/* Starts a request: 0 (cb runs exactly once, from a later loop iteration, never inside this
 * call; *out, if out is not NULL, names the job until then), -EINVAL (a missing or bad
 * field: a method or URL that is not plain, a header with CR or LF), -EAGAIN (max_inflight
 * requests are in flight), -ENOMEM, or -ESHUTDOWN (closing). */
int httpfetch_start(struct httpfetch *f, const struct httpfetch_req *req, httpfetch_fn cb,
                    void *arg, struct httpfetch_job **out);

/* Drops a job whose callback has not run: it never will. NULL is ignored. */
void httpfetch_cancel(struct httpfetch_job *j);

/* Requests in flight now. */
unsigned httpfetch_inflight(const struct httpfetch *f);

/* Answers every job still in flight with -ECANCELED (from inside this call), then closes the
 * sockets and the timer; done(arg), if not NULL, runs from a later loop iteration once every
 * handle is closed. f must not be used after this call. NULL: nothing (done is not called). */
void httpfetch_close(struct httpfetch *f, void (*done)(void *arg), void *arg);

#endif
