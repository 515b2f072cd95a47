/* httpfetch.c -- HTTP requests on a libuv loop: libcurl's multi-socket API, a uv_poll_t per
 * socket curl opens, one uv_timer_t for curl's timeouts; bounded answers; kept connections
 * keep their watchers, finished requests' curl handles are reused. */
#include "moderation/httpfetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct httpfetch_job {
  struct httpfetch *f;
  CURL *easy;
  struct curl_slist *hdrs;
  char *req_body;           /* the request's body (copied, unless the caller keeps it), or NULL */
  uint8_t *body;            /* the answer so far, at most max bytes */
  size_t len, cap, max;
  bool over;                /* the answer was longer: the transfer was aborted */
  bool cancelled;           /* httpfetch_cancel while httpfetch_close answers the others */
  httpfetch_fn cb;
  void *arg;
  struct httpfetch_job *prev, *next;
};

/* One socket curl asked us to watch; freed from its handle's close callback.
 *
 * A connection's socket (one curl opened through on_opensocket, and so closes through
 * on_closesocket) keeps its watcher for as long as curl keeps the connection: between two
 * requests it is parked, still watching for readability, which is what curl asks for next on a
 * kept connection, so that a request on it costs no epoll_ctl, ioctl or watcher made and
 * closed. Whatever arrives on a parked socket (the server closing an idle connection) stops the
 * watcher; curl finds the connection dead when it next looks. Other sockets curl may hand us
 * (a resolver's) are watched only while curl asks. */
struct fsock {
  uv_poll_t poll;
  struct httpfetch *f;
  curl_socket_t fd;
  int events;               /* what the watcher is started with (UV_READABLE...), 0: stopped */
  bool conn;                /* a connection's socket, opened through on_opensocket */
  bool parked;              /* a connection between two requests */
  bool closing;
  struct fsock *prev, *next;
};

struct httpfetch {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  struct httpfetch_job *jobs; /* in flight */
  unsigned n_jobs, max_inflight;
  struct fsock *socks;
  bool closing;
  int pending_closes;
  void (*done)(void *arg);
  void *done_arg;
  /* Curl handles of finished requests, reset, for the next ones (a new handle per request
   * allocates and frees its buffers each time). At most max_inflight. */
  CURL **spare;
  unsigned n_spare;
};

static void job_unlink(struct httpfetch_job *j) {
  struct httpfetch *f = j->f;
  if (j->prev)
    j->prev->next = j->next;
  else if (f->jobs == j)
    f->jobs = j->next;
  if (j->next)
    j->next->prev = j->prev;
  j->prev = j->next = NULL;
  f->n_jobs--;
}

/* Frees j, which is on no list; its transfer is out of the multi handle (or it never was). */
static void job_free(struct httpfetch_job *j) {
  struct httpfetch *f = j->f;
  if (j->easy && !f->closing && f->spare && f->n_spare < f->max_inflight) {
    curl_easy_reset(j->easy);
    f->spare[f->n_spare++] = j->easy;
  } else if (j->easy) {
    curl_easy_cleanup(j->easy);
  }
  curl_slist_free_all(j->hdrs);
  free(j->req_body);
  free(j->body);
  free(j);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp) {
  struct httpfetch_job *j = userp;
  size_t n = size * nmemb;
  if (n > j->max - j->len) {
    /* Returning short makes curl abort the transfer with CURLE_WRITE_ERROR. */
    j->over = true;
    return 0;
  }
  if (j->len + n > j->cap) {
    size_t cap = j->cap ? j->cap : 4096;
    while (cap < j->len + n)
      cap *= 2;
    if (cap > j->max)
      cap = j->max;
    uint8_t *b = realloc(j->body, cap);
    if (!b)
      return 0;
    j->body = b;
    j->cap = cap;
  }
  memcpy(j->body + j->len, data, n);
  j->len += n;
  return n;
}

static int error_of(const struct httpfetch_job *j, CURLcode res) {
  switch (res) {
  case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST: return -ECONNREFUSED;
  case CURLE_FILESIZE_EXCEEDED: return -EFBIG;
  case CURLE_WRITE_ERROR: return j->over ? -EFBIG : -ENOMEM;
  case CURLE_OUT_OF_MEMORY: return -ENOMEM;
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE: return -EPROTO;
  default: return -EIO; /* sending, receiving, a connection closed early */
  }
}

/* The transfer of j finished with res: answers and frees it. */
static void job_done(struct httpfetch_job *j, CURLcode res) {
  struct httpfetch *f = j->f;
  long code = 0;
  char *ct = NULL;
  int err = res == CURLE_OK ? 0 : error_of(j, res);
  if (!err) {
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(j->easy, CURLINFO_CONTENT_TYPE, &ct);
    if (code < 100 || code > 599)
      err = -EPROTO;
  }
  char ctype[128];
  snprintf(ctype, sizeof(ctype), "%s", ct ? ct : "");
  curl_multi_remove_handle(f->multi, j->easy);
  job_unlink(j);
  struct httpfetch_resp r = {.status = (int)code, .ctype = ctype,
                             .body = j->body ? j->body : (const uint8_t *)"", .len = j->len};
  httpfetch_fn cb = j->cb;
  void *arg = j->arg;
  /* The body stays ours until the callback returns. */
  uint8_t *body = j->body;
  j->body = NULL;
  job_free(j);
  cb(arg, err, err ? NULL : &r);
  free(body);
}

static void check_done(struct httpfetch *f) {
  CURLMsg *m;
  int left;
  while (!f->closing && (m = curl_multi_info_read(f->multi, &left))) {
    if (m->msg != CURLMSG_DONE)
      continue;
    char *priv = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
    job_done((struct httpfetch_job *)priv, m->data.result);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  struct fsock *s = h->data;
  struct httpfetch *f = s->f;
  if (status < 0)
    s->events = 0; /* libuv stopped the watcher itself (POLLERR) */
  if (s->parked) {
    /* Not curl's to hear now: an idle connection closed or written to by the other side. */
    uv_poll_stop(&s->poll);
    s->events = 0;
    return;
  }
  int flags = 0, running;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(f->multi, s->fd, flags, &running);
  check_done(f);
}

static void on_timer(uv_timer_t *t) {
  struct httpfetch *f = t->data;
  int running;
  curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(f);
}

/* pending_closes counts the handles closing and, while httpfetch_close runs, itself; the last
 * one out frees a closing client. */
static void part_closed(struct httpfetch *f) {
  if (--f->pending_closes > 0 || !f->closing)
    return;
  void (*done)(void *) = f->done;
  void *arg = f->done_arg;
  free(f->spare);
  free(f);
  curl_global_cleanup();
  if (done)
    done(arg);
}

static void sock_closed(uv_handle_t *h) {
  struct fsock *s = h->data;
  struct httpfetch *f = s->f;
  free(s);
  part_closed(f);
}

static void sock_close(struct httpfetch *f, struct fsock *s) {
  if (s->closing)
    return;
  s->closing = true;
  if (s->prev)
    s->prev->next = s->next;
  else
    f->socks = s->next;
  if (s->next)
    s->next->prev = s->prev;
  /* Stopped now: curl may hand us a new socket with this number before the close ends. */
  uv_poll_stop(&s->poll);
  f->pending_closes++;
  uv_close((uv_handle_t *)&s->poll, sock_closed);
}

static struct fsock *sock_find(struct httpfetch *f, curl_socket_t fd) {
  for (struct fsock *s = f->socks; s; s = s->next)
    if (s->fd == fd)
      return s;
  return NULL;
}

/* curl closes a socket. It does not always say CURL_POLL_REMOVE first (a connection found
 * dead in its cache is closed without a word), and a uv_poll_t left on the number would keep
 * libuv from ever watching the next socket given it: the watcher goes before the descriptor. */
static int on_closesocket(void *clientp, curl_socket_t fd) {
  struct httpfetch *f = clientp;
  struct fsock *s = sock_find(f, fd);
  if (s) {
    sock_close(f, s);
    if (!f->closing)
      curl_multi_assign(f->multi, fd, NULL);
  }
  return close(fd);
}

/* A watcher for fd, not started, on the list; NULL when it cannot be made. */
static struct fsock *sock_new(struct httpfetch *f, curl_socket_t fd, bool conn) {
  struct fsock *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  if (uv_poll_init_socket(f->loop, &s->poll, fd)) {
    free(s);
    return NULL;
  }
  s->f = f;
  s->fd = fd;
  s->conn = conn;
  s->poll.data = s;
  s->next = f->socks;
  if (f->socks)
    f->socks->prev = s;
  f->socks = s;
  return s;
}

/* Starts (or stops, ev 0) s's watcher, with no system call when that is what it does now. */
static int sock_watch(struct fsock *s, int ev) {
  if (ev == s->events)
    return 0;
  int rc = ev ? uv_poll_start(&s->poll, ev, on_poll) : uv_poll_stop(&s->poll);
  s->events = rc ? 0 : ev;
  return rc;
}

/* curl opens a connection's socket: its watcher is made now and lives until on_closesocket,
 * which curl calls for every socket opened here. */
static curl_socket_t on_opensocket(void *clientp, curlsocktype purpose,
                                   struct curl_sockaddr *addr) {
  struct httpfetch *f = clientp;
  if (purpose != CURLSOCKTYPE_IPCXN)
    return CURL_SOCKET_BAD;
  curl_socket_t fd = socket(addr->family, addr->socktype, addr->protocol);
  if (fd == CURL_SOCKET_BAD)
    return fd;
  struct fsock *stale = sock_find(f, fd); /* a watcher of a socket gone */
  if (stale) {
    sock_close(f, stale);
    curl_multi_assign(f->multi, fd, NULL); /* no stale socketp for the new socket */
  }
  if (!sock_new(f, fd, true)) {
    close(fd);
    return CURL_SOCKET_BAD;
  }
  return fd;
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp) {
  struct httpfetch *f = userp;
  struct fsock *s = socketp;
  (void)e;
  if (what == CURL_POLL_REMOVE) {
    if (!s)
      return 0;
    if (!f->closing) /* not from inside curl_multi_cleanup */
      curl_multi_assign(f->multi, fd, NULL);
    if (s->conn && !f->closing) {
      /* Parked until curl uses the connection again or closes it. */
      s->parked = true;
      sock_watch(s, UV_READABLE);
      return 0;
    }
    sock_close(f, s);
    return 0;
  }
  if (!s) {
    /* A connection's parked watcher, or a new one for a socket of curl's own. */
    s = sock_find(f, fd);
    if (s && !s->conn) {
      sock_close(f, s); /* a watcher of a socket gone */
      s = NULL;
    }
    /* No watcher (no memory): this transfer times out. -1 would mark the whole multi handle
     * dead, and every later request with it. */
    if (!s && !(s = sock_new(f, fd, false)))
      return 0;
    curl_multi_assign(f->multi, fd, s);
  }
  s->parked = false;
  int ev = 0;
  if (what & CURL_POLL_IN)
    ev |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    ev |= UV_WRITABLE;
  sock_watch(s, ev); /* cannot fail in libuv 1.44; if it did, the transfer would time out */
  return 0;
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *userp) {
  struct httpfetch *f = userp;
  (void)m;
  if (timeout_ms < 0)
    uv_timer_stop(&f->timer);
  else /* 0 too: from the next loop iteration, never inside the caller's call */
    uv_timer_start(&f->timer, on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

int httpfetch_new(uv_loop_t *loop, unsigned max_inflight, struct httpfetch **out) {
  if (!loop || !out || !max_inflight || max_inflight > 1024)
    return -EINVAL;
  struct httpfetch *f = calloc(1, sizeof(*f));
  if (!f)
    return -ENOMEM;
  /* Reference-counted and thread-safe in the libcurl we require (7.84 and later). */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    free(f);
    return -EIO;
  }
  if (!(f->multi = curl_multi_init())) {
    curl_global_cleanup();
    free(f);
    return -EIO;
  }
  f->loop = loop;
  f->max_inflight = max_inflight;
  /* Without this array (no memory) handles are simply not kept. */
  f->spare = calloc(max_inflight, sizeof(*f->spare));
  curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
  curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
  curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)(max_inflight < 64 ? max_inflight : 64));
  curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)HTTPFETCH_HOST_CONNS);
  uv_timer_init(loop, &f->timer);
  f->timer.data = f;
  *out = f;
  return 0;
}

/* A method is an HTTP token; a URL and a header are printable ASCII (no CR, LF or NUL). */
static bool plain(const char *s, bool token) {
  if (!s || !*s)
    return false;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c < 0x20 || c > 0x7e || (token && !(c >= 'A' && c <= 'Z')))
      return false;
  }
  return true;
}

static int job_setup(struct httpfetch *f, struct httpfetch_job *j, const struct httpfetch_req *q) {
  CURL *e = j->easy;
  bool bad = false;
  /* Without this, curl waits a second for "100 Continue" before sending a body. */
  struct curl_slist *l = curl_slist_append(NULL, "Expect:");
  if (!l)
    return -ENOMEM;
  j->hdrs = l;
  for (const char *const *h = q->headers; h && *h; h++) {
    /* "Name: value", or "Name;" for a header sent empty (curl's way). */
    if (!plain(*h, false) || (!strchr(*h, ':') && (*h)[strlen(*h) - 1] != ';'))
      return -EINVAL;
    if (!(l = curl_slist_append(j->hdrs, *h)))
      return -ENOMEM;
    j->hdrs = l;
  }
  bool get = !strcmp(q->method, "GET"), head = !strcmp(q->method, "HEAD"),
       post = !strcmp(q->method, "POST");
  bad |= curl_easy_setopt(e, CURLOPT_URL, q->url) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->hdrs) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, q->user_agent ? q->user_agent : "tandem") !=
         CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)q->timeout_ms) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                          (long)(q->connect_timeout_ms ? q->connect_timeout_ms
                                                       : q->timeout_ms)) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)q->max_response) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, j) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, j) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_opensocket) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, f) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_closesocket) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, f) != CURLE_OK;
  if (q->body_len || post) {
    const char *body = "";
    if (q->body_len && q->body_kept) {
      body = q->body;
    } else if (q->body_len) {
      if (!(j->req_body = malloc(q->body_len)))
        return -ENOMEM;
      memcpy(j->req_body, q->body, q->body_len);
      body = j->req_body;
    }
    bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, body) != CURLE_OK;
    if (!post)
      bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method) != CURLE_OK;
  } else if (head) {
    bad |= curl_easy_setopt(e, CURLOPT_NOBODY, 1L) != CURLE_OK;
  } else if (!get) {
    bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method) != CURLE_OK;
  }
  return bad ? -EINVAL : 0;
}

int httpfetch_start(struct httpfetch *f, const struct httpfetch_req *q, httpfetch_fn cb,
                    void *arg, struct httpfetch_job **out) {
  if (!f || !q || !cb || !plain(q->method, true) || !plain(q->url, false) || !q->timeout_ms ||
      !q->max_response || (q->body_len && !q->body) ||
      (strncmp(q->url, "http://", 7) && strncmp(q->url, "https://", 8)))
    return -EINVAL;
  if (f->closing)
    return -ESHUTDOWN;
  if (f->n_jobs >= f->max_inflight)
    return -EAGAIN;
  struct httpfetch_job *j = calloc(1, sizeof(*j));
  if (!j)
    return -ENOMEM;
  j->f = f;
  j->cb = cb;
  j->arg = arg;
  j->max = q->max_response;
  j->easy = f->n_spare ? f->spare[--f->n_spare] : curl_easy_init();
  int rc = j->easy ? job_setup(f, j, q) : -ENOMEM;
  if (!rc && curl_multi_add_handle(f->multi, j->easy) != CURLM_OK)
    rc = -ENOMEM;
  if (rc) {
    job_free(j);
    return rc;
  }
  j->next = f->jobs;
  if (f->jobs)
    f->jobs->prev = j;
  f->jobs = j;
  f->n_jobs++;
  if (out)
    *out = j;
  return 0;
}

void httpfetch_cancel(struct httpfetch_job *j) {
  if (!j)
    return;
  struct httpfetch *f = j->f;
  if (f->closing) { /* httpfetch_close is answering the jobs: it drops this one */
    j->cancelled = true;
    return;
  }
  curl_multi_remove_handle(f->multi, j->easy);
  job_unlink(j);
  job_free(j);
}

unsigned httpfetch_inflight(const struct httpfetch *f) { return f ? f->n_jobs : 0; }

static void timer_closed(uv_handle_t *h) { part_closed(h->data); }

void httpfetch_close(struct httpfetch *f, void (*done)(void *arg), void *arg) {
  if (!f || f->closing)
    return;
  f->closing = true;
  f->done = done;
  f->done_arg = arg;
  f->pending_closes++; /* released at the end of this function */
  /* Every job off the multi handle first, so that a callback calling in finds nothing live. */
  struct httpfetch_job *all = f->jobs;
  f->jobs = NULL;
  f->n_jobs = 0;
  for (struct httpfetch_job *j = all; j; j = j->next)
    curl_multi_remove_handle(f->multi, j->easy);
  while (f->n_spare)
    curl_easy_cleanup(f->spare[--f->n_spare]);
  /* Closes the connections it keeps; their sockets are reported removed (or closed below). */
  curl_multi_cleanup(f->multi);
  f->multi = NULL;
  while (f->socks)
    sock_close(f, f->socks);
  uv_timer_stop(&f->timer);
  f->pending_closes++;
  uv_close((uv_handle_t *)&f->timer, timer_closed);
  for (struct httpfetch_job *j = all, *next; j; j = next) {
    next = j->next;
    if (!j->cancelled)
      j->cb(j->arg, -ECANCELED, NULL);
    job_free(j);
  }
  part_closed(f);
}
