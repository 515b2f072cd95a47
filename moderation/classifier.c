/* classifier.c -- a webhook client on a libuv loop: the posts go through httpfetch.c
 * (libcurl's multi-socket API on the loop); a bounded queue, retries with back-off. */
#include "moderation/classifier.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moderation/httpfetch.h"

/* A job is on exactly one list: waiting (FIFO, for a slot), or active (holding a slot: its
 * attempt is in flight, or it waits in `backoff` for its next one). Active jobs are appended
 * as they start, and they start in submission order, so active then waiting is submission
 * order. */
struct job {
  struct classifier *cl;
  uint64_t peer_id;
  char device[CLASSIFIER_MAX_DEVICE + 1];
  uint8_t *jpeg;
  size_t len;
  classifier_fn cb;
  void *arg;
  struct httpfetch_job *fj; /* the attempt in flight, or NULL */
  unsigned attempts;        /* started so far */
  uint64_t due_ms;          /* in backoff: when the next attempt starts */
  struct job *prev, *next;  /* waiting or active */
  struct job *bnext;        /* backoff, by due_ms */
};

struct jlist {
  struct job *head, *tail;
  unsigned n;
};

struct classifier {
  uv_loop_t *loop;
  struct httpfetch *fetch;
  char *url;
  char *auth;               /* "Authorization: Bearer ..." or NULL */
  unsigned timeout_ms, max_queue, max_inflight, retries, backoff_ms;
  uv_timer_t pump_timer;    /* starts waiting jobs and due retries */
  struct jlist waiting, active;
  struct job *backoff;      /* active jobs between attempts, soonest first */
  bool closing;
  int pending_closes;
  void (*done)(void *arg);
  void *done_arg;
  struct classifier_stats st;
};

void classifier_config_default(struct classifier_config *c) {
  c->url = NULL;
  c->timeout_ms = 3000;
  c->max_queue = 256;
  c->max_inflight = 8;
  c->retries = 2;
  c->backoff_ms = 500;
  c->bearer = NULL;
}

static void jlist_append(struct jlist *l, struct job *j) {
  j->next = NULL;
  j->prev = l->tail;
  if (l->tail)
    l->tail->next = j;
  else
    l->head = j;
  l->tail = j;
  l->n++;
}

static void jlist_remove(struct jlist *l, struct job *j) {
  if (j->prev)
    j->prev->next = j->next;
  else
    l->head = j->next;
  if (j->next)
    j->next->prev = j->prev;
  else
    l->tail = j->prev;
  j->prev = j->next = NULL;
  l->n--;
}

static void job_free(struct job *j) {
  free(j->jpeg);
  free(j);
}

static void on_pump(uv_timer_t *t);
static void job_start(struct job *j);

static void schedule_pump(struct classifier *cl, uint64_t delay_ms) {
  if (cl->closing)
    return;
  /* Keep an earlier wake-up: uv_timer_get_due_in() is 0 for a stopped timer. */
  if (uv_is_active((uv_handle_t *)&cl->pump_timer) &&
      uv_timer_get_due_in(&cl->pump_timer) <= delay_ms)
    return;
  uv_timer_start(&cl->pump_timer, on_pump, delay_ms, 0);
}

/* Answers j, which is on no list but `active` (or, when closing, on none). The callback may
 * close the classifier or submit more; the caller checks cl->closing afterwards. */
static void job_finish(struct job *j, int status, const struct classifier_verdict *v) {
  struct classifier *cl = j->cl;
  if (j->fj) {
    httpfetch_cancel(j->fj);
    j->fj = NULL;
  }
  if (!cl->closing)
    jlist_remove(&cl->active, j);
  if (status == 0) {
    cl->st.ok++;
    if (v->action != CLASSIFIER_NONE)
      cl->st.flagged++;
  } else {
    cl->st.failed++;
  }
  classifier_fn cb = j->cb;
  void *arg = j->arg;
  job_free(j);
  cb(arg, status, v);
  schedule_pump(cl, 0);
}

/* Copies the printable ASCII of s (no spaces, nothing a header could be split on). */
static void copy_device(char *out, const char *s) {
  size_t n = 0;
  for (; s && *s && n < CLASSIFIER_MAX_DEVICE; s++)
    if (*s > 0x20 && *s < 0x7f)
      out[n++] = *s;
  out[n] = '\0';
}

/* What an attempt's answer means: 0 and a verdict, or an error and whether to try again. */
static int attempt_result(int err, const struct httpfetch_resp *r, struct classifier_verdict *v,
                          bool *retry) {
  *retry = false;
  switch (err) {
  case 0:
    break;
  case -ETIMEDOUT:
  case -ECONNREFUSED:
  case -EIO:
    *retry = true;
    return err;
  case -EPROTO: /* not HTTP, or TLS failed: the network's fault as far as we can tell */
    *retry = true;
    return -EIO;
  case -EFBIG: /* an answer over CLASSIFIER_MAX_BODY */
    return -EPROTO;
  default:
    return err; /* -ENOMEM */
  }
  if (r->status >= 500 && r->status <= 599) {
    *retry = true;
    return -EPROTO;
  }
  if (r->status < 200 || r->status > 299)
    return -EPROTO;
  return classifier_verdict_parse((const char *)r->body, r->len, v) ? -EPROTO : 0;
}

static void backoff_insert(struct classifier *cl, struct job *j) {
  struct job **pp = &cl->backoff;
  while (*pp && (*pp)->due_ms <= j->due_ms)
    pp = &(*pp)->bnext;
  j->bnext = *pp;
  *pp = j;
}

/* Due retries first (they hold slots already), then waiting jobs into free slots. */
static void on_pump(uv_timer_t *t) {
  struct classifier *cl = t->data;
  uint64_t now = uv_now(cl->loop);
  while (!cl->closing && cl->backoff && cl->backoff->due_ms <= now) {
    struct job *j = cl->backoff;
    cl->backoff = j->bnext;
    j->bnext = NULL;
    job_start(j);
  }
  while (!cl->closing && cl->waiting.head && cl->active.n < cl->max_inflight) {
    struct job *j = cl->waiting.head;
    jlist_remove(&cl->waiting, j);
    jlist_append(&cl->active, j);
    job_start(j);
  }
  if (!cl->closing && cl->backoff)
    schedule_pump(cl, cl->backoff->due_ms - now);
}

static void on_answer(void *arg, int err, const struct httpfetch_resp *r) {
  struct job *j = arg;
  struct classifier *cl = j->cl;
  j->fj = NULL;
  if (cl->closing)
    return; /* classifier_close answers it */
  struct classifier_verdict v;
  bool retry;
  int rc = attempt_result(err, r, &v, &retry);
  if (rc && retry && j->attempts <= cl->retries) {
    unsigned shift = j->attempts - 1 < 16 ? j->attempts - 1 : 16;
    j->due_ms = uv_now(cl->loop) + ((uint64_t)cl->backoff_ms << shift);
    backoff_insert(cl, j);
    schedule_pump(cl, j->due_ms - uv_now(cl->loop));
    return;
  }
  job_finish(j, rc, rc ? NULL : &v);
}

/* Starts j's next attempt. On failure j is answered (and freed). */
static void job_start(struct job *j) {
  struct classifier *cl = j->cl;
  char peer[64], device[32 + CLASSIFIER_MAX_DEVICE];
  snprintf(peer, sizeof(peer), "X-Tandem-Peer: %" PRIu64, j->peer_id);
  /* curl drops a header with nothing after its colon; "Name;" sends it empty. */
  if (j->device[0])
    snprintf(device, sizeof(device), "X-Tandem-Device: %s", j->device);
  else
    snprintf(device, sizeof(device), "X-Tandem-Device;");
  const char *h[] = {"Content-Type: image/jpeg", peer, device, cl->auth, NULL};
  struct httpfetch_req req = {
      .method = "POST",
      .url = cl->url,
      .headers = h,
      .body = j->jpeg,
      .body_len = j->len,
      .body_kept = true, /* the job keeps its picture until it is answered */
      .user_agent = "tandem-classifier",
      .timeout_ms = cl->timeout_ms,
      .connect_timeout_ms = cl->timeout_ms,
      /* A Content-Length over the bound is refused before the body is read. */
      .max_response = CLASSIFIER_MAX_BODY,
  };
  int rc = httpfetch_start(cl->fetch, &req, on_answer, j, &j->fj);
  if (rc) {
    job_finish(j, rc == -ENOMEM ? -ENOMEM : -EIO, NULL);
    return;
  }
  if (j->attempts++ > 0)
    cl->st.retries++;
}

/* pending_closes counts the parts closing (the HTTP client, the timer) and, while
 * classifier_close runs, itself; the last one out frees a closing classifier. */
static void part_closed(void *arg) {
  struct classifier *cl = arg;
  if (--cl->pending_closes > 0 || !cl->closing)
    return;
  void (*done)(void *) = cl->done;
  void *done_arg = cl->done_arg;
  free(cl->url);
  free(cl->auth);
  free(cl);
  if (done)
    done(done_arg);
}

/* Anything but printable ASCII: what an HTTP request line or header may not carry as is (the
 * same rule httpfetch applies to every request). */
static bool has_ctl(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
      return true;
  return false;
}

int classifier_new(uv_loop_t *loop, const struct classifier_config *c, struct classifier **out) {
  if (!loop || !c || !c->url || has_ctl(c->url) ||
      (strncmp(c->url, "http://", 7) && strncmp(c->url, "https://", 8)) || !c->timeout_ms ||
      !c->max_queue || !c->max_inflight || c->max_inflight > 1024 || !c->backoff_ms ||
      (c->bearer && has_ctl(c->bearer)))
    return -EINVAL;
  struct classifier *cl = calloc(1, sizeof(*cl));
  if (!cl)
    return -ENOMEM;
  cl->loop = loop;
  cl->timeout_ms = c->timeout_ms;
  cl->max_queue = c->max_queue;
  cl->max_inflight = c->max_inflight;
  cl->retries = c->retries;
  cl->backoff_ms = c->backoff_ms;
  cl->url = strdup(c->url);
  if (c->bearer && c->bearer[0]) {
    size_t n = strlen(c->bearer) + 32;
    cl->auth = malloc(n);
    if (cl->auth)
      snprintf(cl->auth, n, "Authorization: Bearer %s", c->bearer);
  }
  int rc = !cl->url || (c->bearer && c->bearer[0] && !cl->auth)
               ? -ENOMEM
               : httpfetch_new(loop, cl->max_inflight, &cl->fetch);
  if (rc) {
    free(cl->url);
    free(cl->auth);
    free(cl);
    return rc;
  }
  uv_timer_init(loop, &cl->pump_timer);
  cl->pump_timer.data = cl;
  *out = cl;
  return 0;
}

int classifier_submit(struct classifier *cl, uint64_t peer_id, const char *device, uint8_t *jpeg,
                      size_t len, classifier_fn cb, void *arg) {
  if (!cl || cl->closing || !jpeg || !len || len > CLASSIFIER_MAX_JPEG || !cb) {
    free(jpeg);
    return -EINVAL;
  }
  if (cl->waiting.n >= cl->max_queue) {
    free(jpeg);
    cl->st.dropped++;
    return -EAGAIN;
  }
  struct job *j = calloc(1, sizeof(*j));
  if (!j) {
    free(jpeg);
    return -ENOMEM;
  }
  j->cl = cl;
  j->peer_id = peer_id;
  copy_device(j->device, device);
  j->jpeg = jpeg;
  j->len = len;
  j->cb = cb;
  j->arg = arg;
  jlist_append(&cl->waiting, j);
  cl->st.submitted++;
  /* Started from the pump, so cb never runs inside this call even when starting fails. */
  schedule_pump(cl, 0);
  return 0;
}

void classifier_get_stats(const struct classifier *cl, struct classifier_stats *st) {
  *st = cl->st;
  st->queued = cl->waiting.n;
  st->inflight = cl->active.n;
}

static void timer_closed(uv_handle_t *h) { part_closed(h->data); }

void classifier_close(struct classifier *cl, void (*done)(void *arg), void *arg) {
  if (!cl || cl->closing)
    return;
  cl->closing = true;
  cl->done = done;
  cl->done_arg = arg;
  cl->pending_closes++; /* released at the end of this function */
  /* Take every job off the lists first (active, then waiting: submission order), so that a
   * callback calling in again finds nothing to answer twice. */
  struct jlist all = cl->active;
  if (cl->waiting.head) {
    if (all.tail) {
      all.tail->next = cl->waiting.head;
      cl->waiting.head->prev = all.tail;
    } else {
      all.head = cl->waiting.head;
    }
  }
  cl->active = cl->waiting = (struct jlist){0};
  cl->backoff = NULL;
  for (struct job *j = all.head; j; j = j->next)
    if (j->fj) {
      httpfetch_cancel(j->fj);
      j->fj = NULL;
    }
  cl->pending_closes += 2;
  httpfetch_close(cl->fetch, part_closed, cl);
  cl->fetch = NULL;
  uv_timer_stop(&cl->pump_timer);
  uv_close((uv_handle_t *)&cl->pump_timer, timer_closed);
  for (struct job *j = all.head, *next; j; j = next) {
    next = j->next;
    job_finish(j, -ECANCELED, NULL);
  }
  part_closed(cl);
}
