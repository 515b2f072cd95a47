/* classifier.h -- snapshots posted to a classifier webhook (libcurl's multi-socket API on a
 * libuv loop) and its verdicts, with timeouts, retries, back-off and a bounded queue. */
#ifndef TANDEM_CLASSIFIER_H
#define TANDEM_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Why libcurl's multi-socket API: every transfer runs on the caller's loop (a uv_poll_t per
 * socket, one uv_timer_t for curl's timeouts), so a slow or dead classifier costs a few idle
 * sockets and never a blocked loop or a thread. Memory is bounded: at most max_queue jobs wait
 * and max_inflight are being sent or wait to be sent again, each holding its JPEG and at most
 * CLASSIFIER_MAX_BODY bytes of answer.
 *
 * Every function here is called on the loop's thread, including from inside a callback. */

struct classifier;

/* Answers larger than this are refused (-EPROTO) without being read further. */
#define CLASSIFIER_MAX_BODY (64 * 1024)
/* Pictures larger than this are refused by classifier_submit (-EINVAL). */
#define CLASSIFIER_MAX_JPEG (8u * 1024 * 1024)
/* X-Tandem-Device carries at most this many characters of the device id. */
#define CLASSIFIER_MAX_DEVICE 128
/* A ban longer than this (ten years) is taken as permanent (duration_s 0). */
#define CLASSIFIER_MAX_DURATION_S (10ull * 365 * 24 * 3600)

struct classifier_config {
  const char *url;       /* http:// or https://; copied */
  unsigned timeout_ms;   /* per attempt, connecting included; 3000 */
  unsigned max_queue;    /* jobs waiting for a slot; 256 */
  unsigned max_inflight; /* jobs being sent, or waiting to be sent again; 8 */
  unsigned retries;      /* attempts after the first, for 5xx, timeouts, connection errors; 2 */
  unsigned backoff_ms;   /* before the first retry, doubling for each next one; 500 */
  const char *bearer;    /* NULL or "" = no Authorization header; copied */
};
void classifier_config_default(struct classifier_config *c);

enum classifier_action { CLASSIFIER_NONE = 0, CLASSIFIER_KICK, CLASSIFIER_BAN };

struct classifier_verdict {
  enum classifier_action action;
  char reason[256];    /* valid UTF-8, control characters replaced by spaces; may be "" */
  uint64_t duration_s; /* BAN: 0 = permanent */
};

/* Pure (no I/O, no shared state; safe on any thread): parses an answer's body,
 * {"action":"none"|"kick"|"ban","reason":"...","duration_s":N}. action is required; reason (a
 * string, cut to fit at a character boundary) and duration_s (an integer >= 0; above
 * CLASSIFIER_MAX_DURATION_S it becomes 0, permanent) are optional; other keys are ignored.
 * Returns 0 and *v; -EBADMSG for anything else (not JSON, not an object, an unknown action, a
 * key of the wrong type, duplicate keys, a body over CLASSIFIER_MAX_BODY). *v is untouched on
 * error. */
int classifier_verdict_parse(const char *body, size_t len, struct classifier_verdict *v);

/* One job's answer, on the loop: status 0 and the verdict (borrowed for the call), or NULL and
 * the last attempt's error: -ETIMEDOUT, -ECONNREFUSED, -EPROTO (an answer that is not a 2xx
 * with a verdict: 4xx are never retried, nor are bad bodies; 5xx are), -EIO (any other transfer
 * error), -ENOMEM; or -ECANCELED when the classifier was closed first. */
typedef void (*classifier_fn)(void *arg, int status, const struct classifier_verdict *v);

/* Returns 0 and *out; -EINVAL for a bad config (no http(s) URL, a 0 in a count or time, a
 * bearer with control characters); -ENOMEM; -EIO when libcurl cannot be set up. */
int classifier_new(uv_loop_t *loop, const struct classifier_config *c, struct classifier **out);

/* Takes ownership of jpeg (malloc'd) in every case. Queues it to be POSTed as image/jpeg with
 * the headers X-Tandem-Peer: <peer_id> and X-Tandem-Device: <device> (only its printable
 * ASCII, at most CLASSIFIER_MAX_DEVICE characters; NULL = ""). Returns 0: cb(arg, ...) runs
 * exactly once, on the loop, from a later loop iteration or from classifier_close. Returns
 * -EAGAIN when max_queue jobs are already waiting (dropped and counted), -EINVAL for a NULL or
 * empty jpeg, one over CLASSIFIER_MAX_JPEG, a NULL cb, or once closing; cb is never called
 * then. */
int classifier_submit(struct classifier *cl, uint64_t peer_id, const char *device, uint8_t *jpeg,
                      size_t len, classifier_fn cb, void *arg);

struct classifier_stats {
  uint64_t submitted; /* accepted by classifier_submit */
  uint64_t dropped;   /* refused with -EAGAIN */
  uint64_t ok;        /* answered with a verdict */
  uint64_t failed;    /* answered with an error, cancellations included */
  uint64_t retries;   /* attempts after a job's first */
  uint64_t flagged;   /* verdicts other than none */
  unsigned queued;    /* waiting for a slot */
  unsigned inflight;  /* being sent, or waiting to be sent again */
};
void classifier_get_stats(const struct classifier *cl, struct classifier_stats *st);

/* Stops everything: transfers are abandoned and every job not yet answered gets -ECANCELED,
 * from inside this call, in submission order. Then, once libuv has closed the handles (a later
 * loop iteration), frees the classifier and calls done(arg) (done may be NULL). Safe from
 * inside a job's callback; cl must not be used after this call. NULL is a no-op. */
void classifier_close(struct classifier *cl, void (*done)(void *arg), void *arg);

#endif
