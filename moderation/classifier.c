/* classifier.c -- a webhook client on a libuv loop: libcurl's multi-socket API, a uv_poll_t
 * per socket, a bounded queue, retries with back-off. */
#include "moderation/classifier.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A job is on exactly one list: waiting (FIFO, for a slot), or active (holding a slot: its
 * transfer is in the multi handle, or it waits in `backoff` for its next attempt). Active jobs
 * are appended as they start, and they start in submission order, so active then waiting is
 * submission order. */
struct job {
  struct classifier *cl;
  uint64_t peer_id;
  char device[CLASSIFIER_MAX_DEVICE + 1];
  uint8_t *jpeg;
  size_t len;
  classifier_fn cb;
  void *arg;
  CURL *easy;               /* made at the first attempt, reused for the retries */
  struct curl_slist *hdrs;
  bool in_multi;            /* added to the multi handle, not removed yet */
  unsigned attempts;        /* started so far */
  uint64_t due_ms;          /* in backoff: when the next attempt starts */
  char *body;               /* the answer so far, at most CLASSIFIER_MAX_BODY bytes */
  size_t body_len, body_cap;
  bool body_over;           /* the answer was longer: the transfer was aborted */
  struct job *prev, *next;  /* waiting or active */
  struct job *bnext;        /* backoff, by due_ms */
};

struct jlist {
  struct job *head, *tail;
  unsigned n;
};

/* One socket curl asked us to watch. Freed from its handle's close callback.
 *
 * A connection's socket (one curl opened through on_opensocket, so that curl closes it through
 * on_closesocket) keeps its watcher for as long as curl keeps the connection: between two
 * transfers it is parked, still watching for readability (which is what curl asks for next on
 * a kept connection), so that a post on a kept connection costs no epoll_ctl, no ioctl and no
 * watcher made and closed. Anything that arrives on a parked socket (the classifier closing an
 * idle connection) stops the watcher; curl finds the connection dead when it next looks. Other
 * sockets curl may hand us (a resolver's) are watched only while curl asks. */
struct csock {
  uv_poll_t poll;
  struct classifier *cl;
  curl_socket_t fd;
  int events;               /* what the watcher is started with now (UV_READABLE...), 0: stopped */
  bool conn;                /* a connection's socket, opened through on_opensocket */
  bool parked;              /* a connection between two transfers */
  bool closing;
  struct csock *prev, *next;
};

struct classifier {
  uv_loop_t *loop;
  CURLM *multi;
  char *url;
  char *auth;               /* "Authorization: Bearer ..." or NULL */
  unsigned timeout_ms, max_queue, max_inflight, retries, backoff_ms;
  uv_timer_t curl_timer;    /* curl's own timeouts (CURLMOPT_TIMERFUNCTION) */
  uv_timer_t pump_timer;    /* starts waiting jobs and due retries */
  struct jlist waiting, active;
  struct job *backoff;      /* active jobs between attempts, soonest first */
  struct csock *socks;
  bool closing;
  int pending_closes;
  void (*done)(void *arg);
  void *done_arg;
  struct classifier_stats st;
  /* Easy handles of finished jobs, reset, for the next ones: a new handle per post allocated
   * and freed its buffers each time (tens of KiB, given back to the kernel and faulted in
   * again). At most max_inflight kept. */
  CURL **spare;
  unsigned n_spare;
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
  struct classifier *cl = j->cl;
  if (j->easy && !j->in_multi && !cl->closing && cl->spare && cl->n_spare < cl->max_inflight) {
    curl_easy_reset(j->easy);
    cl->spare[cl->n_spare++] = j->easy;
  } else if (j->easy) {
    curl_easy_cleanup(j->easy);
  }
  curl_slist_free_all(j->hdrs);
  free(j->jpeg);
  free(j->body);
  free(j);
}

static void on_pump(uv_timer_t *t);

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
  if (j->in_multi) {
    curl_multi_remove_handle(cl->multi, j->easy);
    j->in_multi = false;
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

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp) {
  struct job *j = userp;
  size_t n = size * nmemb;
  if (n > CLASSIFIER_MAX_BODY - j->body_len) {
    /* Returning short makes curl abort the transfer with CURLE_WRITE_ERROR. */
    j->body_over = true;
    return 0;
  }
  if (j->body_len + n > j->body_cap) {
    size_t cap = j->body_cap ? j->body_cap : 1024;
    while (cap < j->body_len + n)
      cap *= 2;
    if (cap > CLASSIFIER_MAX_BODY)
      cap = CLASSIFIER_MAX_BODY;
    char *b = realloc(j->body, cap);
    if (!b)
      return 0;
    j->body = b;
    j->body_cap = cap;
  }
  memcpy(j->body + j->body_len, data, n);
  j->body_len += n;
  return n;
}

/* Copies the printable ASCII of s (no spaces, nothing a header could be split on). */
static void copy_device(char *out, const char *s) {
  size_t n = 0;
  for (; s && *s && n < CLASSIFIER_MAX_DEVICE; s++)
    if (*s > 0x20 && *s < 0x7f)
      out[n++] = *s;
  out[n] = '\0';
}

static int on_closesocket(void *clientp, curl_socket_t fd);
static curl_socket_t on_opensocket(void *clientp, curlsocktype purpose,
                                   struct curl_sockaddr *addr);

static int job_setup(struct job *j) {
  struct classifier *cl = j->cl;
  char peer[64], device[32 + CLASSIFIER_MAX_DEVICE];
  snprintf(peer, sizeof(peer), "X-Tandem-Peer: %" PRIu64, j->peer_id);
  /* curl drops a header with nothing after its colon; "Name;" sends it empty. */
  if (j->device[0])
    snprintf(device, sizeof(device), "X-Tandem-Device: %s", j->device);
  else
    snprintf(device, sizeof(device), "X-Tandem-Device;");
  const char *h[] = {"Content-Type: image/jpeg", peer, device, "Expect:", cl->auth};
  for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
    if (!h[i])
      continue;
    struct curl_slist *l = curl_slist_append(j->hdrs, h[i]);
    if (!l)
      return -ENOMEM;
    j->hdrs = l;
  }
  CURL *e = j->easy = cl->n_spare ? cl->spare[--cl->n_spare] : curl_easy_init();
  if (!e)
    return -ENOMEM;
  long t = (long)cl->timeout_ms;
  int bad = 0;
  bad |= curl_easy_setopt(e, CURLOPT_URL, cl->url);
  bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  bad |= curl_easy_setopt(e, CURLOPT_POST, 1L);
  bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)j->jpeg);
  bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
  bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->hdrs);
  bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "tandem-classifier");
  bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t);
  bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, t);
  /* A Content-Length over the bound is refused before the body is read; a body without one
   * is cut off by on_body. */
  bad |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CLASSIFIER_MAX_BODY);
  bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
  bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, j);
  bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
  bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, cl);
  bad |= curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_closesocket);
  bad |= curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, cl);
  return bad ? -EIO : 0;
}

/* Starts j's next attempt. On failure j is answered (and freed). */
static void job_start(struct job *j) {
  struct classifier *cl = j->cl;
  int rc = j->easy ? 0 : job_setup(j);
  if (rc == 0) {
    j->body_len = 0;
    j->body_over = false;
    if (curl_multi_add_handle(cl->multi, j->easy) != CURLM_OK)
      rc = -EIO;
  }
  if (rc) {
    job_finish(j, rc, NULL);
    return;
  }
  j->in_multi = true;
  if (j->attempts++ > 0)
    cl->st.retries++;
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

/* What a finished attempt means: 0 and a verdict, or an error and whether to try again. */
static int attempt_result(struct job *j, CURLcode res, struct classifier_verdict *v,
                          bool *retry) {
  *retry = false;
  switch (res) {
  case CURLE_OK:
    break;
  case CURLE_OPERATION_TIMEDOUT:
    *retry = true;
    return -ETIMEDOUT;
  case CURLE_COULDNT_CONNECT:
    *retry = true;
    return -ECONNREFUSED;
  case CURLE_FILESIZE_EXCEEDED:
    return -EPROTO;
  case CURLE_WRITE_ERROR:
    if (j->body_over)
      return -EPROTO;
    return -ENOMEM; /* on_body could not grow its buffer */
  case CURLE_OUT_OF_MEMORY:
    return -ENOMEM;
  default:
    /* Resolving, sending, receiving, a connection closed early: the network's fault. */
    *retry = true;
    return -EIO;
  }
  long code = 0;
  curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code >= 500 && code <= 599) {
    *retry = true;
    return -EPROTO;
  }
  if (code < 200 || code > 299)
    return -EPROTO;
  return classifier_verdict_parse(j->body ? j->body : "", j->body_len, v) ? -EPROTO : 0;
}

static void check_done(struct classifier *cl) {
  CURLMsg *m;
  int left;
  while (!cl->closing && (m = curl_multi_info_read(cl->multi, &left))) {
    if (m->msg != CURLMSG_DONE)
      continue;
    char *priv = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
    struct job *j = (struct job *)priv;
    CURLcode res = m->data.result; /* m is invalid once the handle is removed */
    struct classifier_verdict v;
    bool retry;
    int rc = attempt_result(j, res, &v, &retry);
    if (rc && retry && j->attempts <= cl->retries) {
      curl_multi_remove_handle(cl->multi, j->easy);
      j->in_multi = false;
      unsigned shift = j->attempts - 1 < 16 ? j->attempts - 1 : 16;
      j->due_ms = uv_now(cl->loop) + ((uint64_t)cl->backoff_ms << shift);
      backoff_insert(cl, j);
      schedule_pump(cl, j->due_ms - uv_now(cl->loop));
      continue;
    }
    job_finish(j, rc, rc ? NULL : &v);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  struct csock *cs = h->data;
  struct classifier *cl = cs->cl;
  if (cs->parked) {
    /* Not curl's to hear now: an idle connection closed or written to by the other side. */
    uv_poll_stop(&cs->poll);
    cs->events = 0;
    return;
  }
  int flags = 0;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  int running;
  curl_multi_socket_action(cl->multi, cs->fd, flags, &running);
  check_done(cl);
}

static void on_curl_timer(uv_timer_t *t) {
  struct classifier *cl = t->data;
  int running;
  curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(cl);
}

/* pending_closes counts the handles closing (sockets may close at any time) and, while
 * classifier_close runs, itself; the last one out frees a closing classifier. */
static void part_closed(struct classifier *cl) {
  if (--cl->pending_closes > 0 || !cl->closing)
    return;
  void (*done)(void *) = cl->done;
  void *arg = cl->done_arg;
  free(cl->url);
  free(cl->auth);
  free(cl->spare);
  free(cl);
  curl_global_cleanup();
  if (done)
    done(arg);
}

static void sock_closed(uv_handle_t *h) {
  struct csock *cs = h->data;
  struct classifier *cl = cs->cl;
  free(cs);
  part_closed(cl);
}

static void csock_close(struct classifier *cl, struct csock *cs) {
  if (cs->closing)
    return;
  cs->closing = true;
  if (cs->prev)
    cs->prev->next = cs->next;
  else
    cl->socks = cs->next;
  if (cs->next)
    cs->next->prev = cs->prev;
  /* Stopping now frees the descriptor's slot in the loop at once, so curl may hand us a new
   * socket with the same number before this handle has finished closing. */
  uv_poll_stop(&cs->poll);
  cl->pending_closes++;
  uv_close((uv_handle_t *)&cs->poll, sock_closed);
}

/* Our watcher of fd, if any. */
static struct csock *csock_find(struct classifier *cl, curl_socket_t fd) {
  for (struct csock *cs = cl->socks; cs; cs = cs->next)
    if (cs->fd == fd)
      return cs;
  return NULL;
}

/* curl closes a socket (CURLOPT_CLOSESOCKETFUNCTION). It does not always say CURL_POLL_REMOVE
 * first: a connection found dead in its cache is closed without a word. A uv_poll_t left
 * watching the number would then be handed the next socket that gets it, and libuv, thinking
 * that descriptor registered already, would never watch the new one: every later transfer on
 * it would time out. So the watcher goes here, before the descriptor does. */
static int on_closesocket(void *clientp, curl_socket_t fd) {
  struct classifier *cl = clientp;
  struct csock *cs = csock_find(cl, fd);
  if (cs) {
    csock_close(cl, cs);
    if (!cl->closing) /* no stale socketp for the next socket with this number */
      curl_multi_assign(cl->multi, fd, NULL);
  }
  return close(fd);
}

/* A watcher for fd, not started, on the list; NULL when it cannot be made. */
static struct csock *csock_new(struct classifier *cl, curl_socket_t fd, bool conn) {
  struct csock *cs = calloc(1, sizeof(*cs));
  if (!cs)
    return NULL;
  if (uv_poll_init_socket(cl->loop, &cs->poll, fd)) {
    free(cs);
    return NULL;
  }
  cs->cl = cl;
  cs->fd = fd;
  cs->conn = conn;
  cs->poll.data = cs;
  cs->next = cl->socks;
  if (cl->socks)
    cl->socks->prev = cs;
  cl->socks = cs;
  return cs;
}

/* Starts (or stops, ev 0) cs's watcher, with no system call when that is what it does now. */
static int csock_watch(struct csock *cs, int ev) {
  if (ev == cs->events)
    return 0;
  int rc = ev ? uv_poll_start(&cs->poll, ev, on_poll) : uv_poll_stop(&cs->poll);
  cs->events = rc ? 0 : ev;
  return rc;
}

/* curl opens a connection's socket (CURLOPT_OPENSOCKETFUNCTION): its watcher is made now and
 * lives until on_closesocket, which curl calls for every socket opened here. */
static curl_socket_t on_opensocket(void *clientp, curlsocktype purpose,
                                   struct curl_sockaddr *addr) {
  struct classifier *cl = clientp;
  if (purpose != CURLSOCKTYPE_IPCXN)
    return CURL_SOCKET_BAD;
  curl_socket_t fd = socket(addr->family, addr->socktype, addr->protocol);
  if (fd == CURL_SOCKET_BAD)
    return fd;
  struct csock *stale = csock_find(cl, fd);
  if (stale) /* belt and braces: a watcher still on this number belongs to a socket gone */
    csock_close(cl, stale);
  if (!csock_new(cl, fd, true)) {
    close(fd);
    return CURL_SOCKET_BAD;
  }
  return fd;
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)e;
  struct classifier *cl = userp;
  struct csock *cs = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (!cs)
      return 0;
    if (!cl->closing) /* not from inside curl_multi_cleanup */
      curl_multi_assign(cl->multi, fd, NULL);
    if (cs->conn && !cl->closing) {
      /* Parked until curl uses the connection again or closes it. */
      cs->parked = true;
      return csock_watch(cs, UV_READABLE) ? -1 : 0;
    }
    csock_close(cl, cs);
    return 0;
  }
  if (!cs) {
    /* A connection's parked watcher, or a new watcher for a socket of curl's own. */
    cs = csock_find(cl, fd);
    if (cs && !cs->conn) {
      csock_close(cl, cs); /* belongs to a socket gone */
      cs = NULL;
    }
    if (!cs && !(cs = csock_new(cl, fd, false)))
      return -1;
    curl_multi_assign(cl->multi, fd, cs);
  }
  cs->parked = false;
  int ev = 0;
  if (what & CURL_POLL_IN)
    ev |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    ev |= UV_WRITABLE;
  return csock_watch(cs, ev) ? -1 : 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp) {
  struct classifier *cl = userp;
  if (timeout_ms < 0)
    uv_timer_stop(&cl->curl_timer);
  else
    uv_timer_start(&cl->curl_timer, on_curl_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

static bool has_ctl(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return true;
  return false;
}

int classifier_new(uv_loop_t *loop, const struct classifier_config *c, struct classifier **out) {
  if (!loop || !c || !c->url || has_ctl(c->url) ||
      (strncmp(c->url, "http://", 7) && strncmp(c->url, "https://", 8)) || !c->timeout_ms ||
      !c->max_queue || !c->max_inflight || !c->backoff_ms || (c->bearer && has_ctl(c->bearer)))
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
  if (!cl->url || (c->bearer && c->bearer[0] && !cl->auth)) {
    free(cl->url);
    free(cl->auth);
    free(cl);
    return -ENOMEM;
  }
  /* Reference-counted and thread-safe in the libcurl we require (7.84 and later). */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(cl->multi = curl_multi_init())) {
    free(cl->url);
    free(cl->auth);
    free(cl);
    return -EIO;
  }
  /* Without this array (no memory) handles are simply not kept. */
  cl->spare = calloc(cl->max_inflight ? cl->max_inflight : 1, sizeof(*cl->spare));
  curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
  curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
  curl_multi_setopt(cl->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)cl->max_inflight);
  curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS, (long)cl->max_inflight);
  uv_timer_init(loop, &cl->curl_timer);
  cl->curl_timer.data = cl;
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
    if (j->in_multi) {
      curl_multi_remove_handle(cl->multi, j->easy);
      j->in_multi = false;
    }
  while (cl->n_spare)
    curl_easy_cleanup(cl->spare[--cl->n_spare]);
  /* Closes the connections it keeps; their sockets are reported removed (or closed below). */
  curl_multi_cleanup(cl->multi);
  cl->multi = NULL;
  while (cl->socks)
    csock_close(cl, cl->socks);
  uv_timer_stop(&cl->curl_timer);
  uv_timer_stop(&cl->pump_timer);
  cl->pending_closes += 2;
  uv_close((uv_handle_t *)&cl->curl_timer, timer_closed);
  uv_close((uv_handle_t *)&cl->pump_timer, timer_closed);
  for (struct job *j = all.head, *next; j; j = next) {
    next = j->next;
    job_finish(j, -ECANCELED, NULL);
  }
  part_closed(cl);
}
