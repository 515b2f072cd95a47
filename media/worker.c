/* worker.c -- a media worker: one thread, one libuv loop, one UDP port; commands from the
 * control loop, the rings from other workers, timers, and shutdown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/worker_int.h"

static void add_session(struct worker *w, struct session_params *p) {
  struct session *s = session__create(w, p);
  free(p);
  if (!s)
    return;
  if (w->n_list == w->cap_list) {
    size_t ncap = w->cap_list ? w->cap_list * 2 : 64;
    struct session **nl = realloc(w->list, ncap * sizeof(*nl));
    if (!nl) {
      session__free(s);
      return;
    }
    w->list = nl;
    w->cap_list = ncap;
  }
  if (hmap_put(w->by_ufrag, s->ufrag, strlen(s->ufrag), s) ||
      hmap_put(w->by_sid, &s->id, sizeof(s->id), s)) {
    hmap_del(w->by_ufrag, s->ufrag, strlen(s->ufrag));
    session__free(s);
    return;
  }
  w->list[w->n_list++] = s;
  w->st.sessions++;
}

/* Carries out the commands from the control loop in the order they were posted. A command
 * may call this again (a handover that arrives before its LINK takes the LINK first): the
 * nested call goes on with the same list, so no later command ever overtakes an earlier one.
 * Closed sessions are only freed at the next tick, so a session an outer command is working
 * on stays valid even if a nested one closes it. */
static void drain_commands(struct worker *w) {
  uv_mutex_lock(&w->cmd_lock);
  if (w->cmd_head) {
    if (w->run_tail)
      w->run_tail->next = w->cmd_head;
    else
      w->run_head = w->cmd_head;
    w->run_tail = w->cmd_tail;
  }
  w->cmd_head = w->cmd_tail = NULL;
  uv_mutex_unlock(&w->cmd_lock);
  uint64_t now = uv_now(&w->loop);
  struct wcmd *c;
  while ((c = w->run_head) != NULL) {
    w->run_head = c->next;
    if (!w->run_head)
      w->run_tail = NULL;
    struct session *s = c->type == WCMD_NEW ? NULL : worker__session(w, c->sid);
    switch (c->type) {
    case WCMD_NEW:
      if (w->stopping)
        free(c->params);
      else
        add_session(w, c->params);
      break;
    case WCMD_CLOSE: if (s) wire__forget(w, s); break;
    case WCMD_LINK: if (s) router__link(s, c->other, c->other_worker, now); break;
    case WCMD_UNLINK: if (s) router__unlink(s); break;
    case WCMD_STOP: w->stopping = true; break;
    }
    free(c);
  }
}

static void drain_rings(struct worker *w) {
  uint64_t now = uv_now(&w->loop);
  for (unsigned i = 0; i < w->nworkers; i++) {
    if (i == w->index)
      continue;
    struct xring *r = mediaplane__ring(w->mp, i, w->index);
    const uint8_t *rec;
    size_t len;
    /* Bounded work per wakeup keeps the loop responsive; the rest waits for the next one. */
    for (int n = 0; n < 4096 && (rec = xring_peek(r, &len)) != NULL; n++) {
      if (len >= sizeof(struct xmsg)) {
        struct xmsg m;
        memcpy(&m, rec, sizeof(m));
        router__on_xmsg(w, &m, rec + sizeof(m), len - sizeof(m), now);
      }
      xring_release(r);
    }
  }
}

static void stop_now(struct worker *w);

static void async_cb(uv_async_t *a) {
  struct worker *w = a->data;
  drain_commands(w);
  if (w->stopping) {
    stop_now(w);
    return;
  }
  drain_rings(w);
}

/* After every loop iteration: send what was batched, publish what other workers should see. */
static void check_cb(uv_check_t *c) {
  struct worker *w = c->data;
  if (w->ntx)
    wire__tx_flush(w);
  for (unsigned i = 0; i < w->nworkers; i++) {
    if (!w->ring_dirty[i])
      continue;
    w->ring_dirty[i] = false;
    xring_commit(mediaplane__ring(w->mp, w->index, i));
    worker_wake(mediaplane__worker(w->mp, i));
  }
}

static void reap(struct worker *w) {
  size_t j = 0;
  for (size_t i = 0; i < w->n_list; i++) {
    struct session *s = w->list[i];
    if (s->closing)
      session__free(s);
    else
      w->list[j++] = s;
  }
  w->n_list = j;
}

static void tick_cb(uv_timer_t *t) {
  struct worker *w = t->data;
  uint64_t now = uv_now(&w->loop);
  reap(w);
  drain_rings(w); /* in case a wake-up raced with a commit */
  for (size_t i = 0; i < w->n_list; i++) {
    struct session *s = w->list[i];
    if (s->closing)
      continue;
    if (s->dtls && !s->dtls_done) {
      int ms = dtls_timeout_ms(s->dtls, now);
      if (ms == 0 && dtls_handle_timeout(s->dtls) < 0) {
        w->st.dtls_failed++;
        wire__fail(w, s, "DTLS handshake timed out");
        continue;
      }
    }
    if (!s->dtls_done && now - s->created_ms > w->cfg.connect_timeout_ms) {
      wire__fail(w, s, "media connection timed out (ICE/DTLS did not complete)");
      continue;
    }
    if (s->dtls_done && s->last_stun_ms && now - s->last_stun_ms > w->cfg.consent_timeout_ms) {
      wire__fail(w, s, "the browser stopped answering (ICE consent expired)");
      continue;
    }
    if (s->close_hint_ms && wire__check_closed(w, s, now))
      continue;
    if (s->ready)
      wire__check_ready(w, s, now);
    router__tick(s, now);
  }
  wire__adapt(w, now);
  w->st.sessions_live = w->n_list;
  w->st.workers_polling = w->polling_mode;
  uv_mutex_lock(&w->stat_lock);
  w->pub = w->st;
  uv_mutex_unlock(&w->stat_lock);
}

static void handle_closed(uv_handle_t *h) {
  struct worker *w = h->data;
  if (--w->open_handles == 0)
    uv_stop(&w->loop);
}

static void stop_now(struct worker *w) {
  if (w->open_handles <= 0 || uv_is_closing((uv_handle_t *)&w->tick))
    return;
  for (size_t i = 0; i < w->n_list; i++)
    wire__forget(w, w->list[i]);
  if (w->ntx)
    wire__tx_flush(w);
  reap(w);
  uv_close((uv_handle_t *)&w->udp, handle_closed);
  uv_close((uv_handle_t *)&w->tick, handle_closed);
  uv_close((uv_handle_t *)&w->check, handle_closed);
  uv_close((uv_handle_t *)&w->poll, handle_closed);
}

/* Frees what worker_new allocated (any of it may be NULL) and w itself. */
static void free_parts(struct worker *w) {
  dtls_ctx_free(w->dtls_ctx);
  ice_responder_free(w->ice);
  hmap_free(w->by_ufrag);
  hmap_free(w->by_addr);
  hmap_free(w->by_sid);
  free(w->list);
  free(w->rxbuf);
  free(w);
}

struct worker *worker_new(struct mediaplane *mp, unsigned index, uv_loop_t *control,
                          const struct mediaplane_config *cfg, const struct dtls_cert *cert) {
  (void)control;
  struct worker *w = calloc(1, sizeof(*w));
  if (!w)
    return NULL;
  w->mp = mp;
  w->index = index;
  w->nworkers = cfg->workers;
  w->cfg = *cfg;
  snprintf(w->bind_ip, sizeof(w->bind_ip), "%s", cfg->bind_ip ? cfg->bind_ip : "0.0.0.0");
  w->cfg.bind_ip = w->bind_ip;
  w->cfg.public_ip = NULL;
  w->rxbuf = malloc(RECV_SLOTS * DGRAM_SLOT);
  w->dtls_ctx = dtls_ctx_new(cert, DTLS_ROLE_SERVER, NULL);
  w->ice = ice_responder_new();
  w->by_ufrag = hmap_new();
  w->by_addr = hmap_new();
  w->by_sid = hmap_new();
  if (!w->rxbuf || !w->dtls_ctx || !w->ice || !w->by_ufrag || !w->by_addr || !w->by_sid ||
      uv_loop_init(&w->loop)) {
    free_parts(w);
    return NULL;
  }
  uv_mutex_init(&w->cmd_lock);
  uv_mutex_init(&w->stat_lock);
  uv_async_init(&w->loop, &w->async, async_cb);
  w->async.data = w;
  return w;
}

int worker_bind(struct worker *w) {
  struct sockaddr_storage ss;
  uint16_t port = w->cfg.port ? (uint16_t)(w->cfg.port + w->index) : 0;
  int rc = strchr(w->bind_ip, ':') ? uv_ip6_addr(w->bind_ip, port, (struct sockaddr_in6 *)&ss)
                                   : uv_ip4_addr(w->bind_ip, port, (struct sockaddr_in *)&ss);
  if (rc)
    return rc;
  rc = uv_udp_init_ex(&w->loop, &w->udp, ss.ss_family | UV_UDP_RECVMMSG);
  if (rc)
    return rc;
  w->udp.data = w;
  w->open_handles++;
  uv_timer_init(&w->loop, &w->tick);
  w->tick.data = w;
  w->open_handles++;
  uv_check_init(&w->loop, &w->check);
  w->check.data = w;
  w->open_handles++;
  uv_timer_init(&w->loop, &w->poll);
  w->poll.data = w;
  w->open_handles++;
  w->rx_bufs = malloc(32 * sizeof(*w->rx_bufs));
  rc = uv_udp_bind(&w->udp, (const struct sockaddr *)&ss, 0);
  if (rc)
    return rc;
  uv_os_fd_t fd;
  uv_fileno((uv_handle_t *)&w->udp, &fd);
  w->fd = fd;
  /* Large socket buffers absorb bursts of keyframes from many peers. */
  int sz = 4 * 1024 * 1024;
  uv_send_buffer_size((uv_handle_t *)&w->udp, &sz);
  sz = 4 * 1024 * 1024;
  uv_recv_buffer_size((uv_handle_t *)&w->udp, &sz);
  rc = wire__recv_start(w);
  if (rc)
    return rc;
  uv_timer_start(&w->tick, tick_cb, TICK_MS, TICK_MS);
  uv_check_start(&w->check, check_cb);
  return 0;
}

static void thread_main(void *arg) {
  struct worker *w = arg;
  uv_run(&w->loop, UV_RUN_DEFAULT);
}

int worker_run(struct worker *w) {
  int rc = uv_thread_create(&w->thread, thread_main, w);
  w->thread_started = rc == 0;
  return rc;
}

uint16_t worker_port(const struct worker *w) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_udp_getsockname(&w->udp, (struct sockaddr *)&ss, &len))
    return 0;
  if (ss.ss_family == AF_INET)
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

void worker__drain_commands(struct worker *w) { drain_commands(w); }

/* Queues two commands so that neither worker can see its own before the other is queued: a
 * link's handover must never overtake the other side's LINK. */
void worker_post_pair(struct worker *a, int ta, uint64_t sa, uint64_t oa, unsigned owa,
                      struct worker *b, int tb, uint64_t sb, uint64_t ob, unsigned owb) {
  struct wcmd *ca = calloc(1, sizeof(*ca)), *cb = calloc(1, sizeof(*cb));
  if (!ca || !cb) {
    free(ca);
    free(cb);
    return;
  }
  *ca = (struct wcmd){.type = ta, .sid = sa, .other = oa, .other_worker = owa};
  *cb = (struct wcmd){.type = tb, .sid = sb, .other = ob, .other_worker = owb};
  struct worker *first = a->index <= b->index ? a : b, *second = first == a ? b : a;
  uv_mutex_lock(&first->cmd_lock);
  if (second != first)
    uv_mutex_lock(&second->cmd_lock);
  struct worker *ws[2] = {a, b};
  struct wcmd *cs[2] = {ca, cb};
  for (int i = 0; i < 2; i++) {
    if (ws[i]->cmd_tail)
      ws[i]->cmd_tail->next = cs[i];
    else
      ws[i]->cmd_head = cs[i];
    ws[i]->cmd_tail = cs[i];
  }
  if (second != first)
    uv_mutex_unlock(&second->cmd_lock);
  uv_mutex_unlock(&first->cmd_lock);
  uv_async_send(&a->async);
  if (b != a)
    uv_async_send(&b->async);
}

static void post(struct worker *w, struct wcmd *c) {
  uv_mutex_lock(&w->cmd_lock);
  if (w->cmd_tail)
    w->cmd_tail->next = c;
  else
    w->cmd_head = c;
  w->cmd_tail = c;
  uv_mutex_unlock(&w->cmd_lock);
  uv_async_send(&w->async);
}

void worker_post_new(struct worker *w, struct session_params *p) {
  struct wcmd *c = calloc(1, sizeof(*c));
  if (!c) {
    free(p);
    return;
  }
  c->type = WCMD_NEW;
  c->sid = p->sid;
  c->params = p;
  post(w, c);
}

void worker_post(struct worker *w, int type, uint64_t sid, uint64_t other, unsigned other_worker) {
  struct wcmd *c = calloc(1, sizeof(*c));
  if (!c)
    return;
  c->type = type;
  c->sid = sid;
  c->other = other;
  c->other_worker = other_worker;
  post(w, c);
}

void worker_wake(struct worker *w) { uv_async_send(&w->async); }

void worker_read_stats(struct worker *w, struct mediaplane_stats *st) {
  uv_mutex_lock(&w->stat_lock);
  const uint64_t *src = (const uint64_t *)&w->pub;
  uint64_t *dst = (uint64_t *)st;
  for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
    dst[i] += src[i];
  uv_mutex_unlock(&w->stat_lock);
}

/* Stops the thread (if it runs) and joins it. The async handle stays open, so other workers
 * may still wake this one safely until worker_free(). */
void worker_stop(struct worker *w) {
  if (w->thread_started) {
    worker_post(w, WCMD_STOP, 0, 0, 0);
    uv_thread_join(&w->thread);
    w->thread_started = false;
  } else {
    w->stopping = true;
    drain_commands(w);
    stop_now(w);
    if (w->open_handles > 0)
      uv_run(&w->loop, UV_RUN_DEFAULT);
  }
}

/* Closes what is left, on the calling thread, and frees w: every worker must be stopped. */
void worker_free(struct worker *w) {
  w->stopping = true;
  drain_commands(w);
  /* Records still in our rings may own objects (outbounds changing hands): free them. */
  for (unsigned i = 0; i < w->nworkers; i++) {
    if (i == w->index)
      continue;
    struct xring *r = mediaplane__ring(w->mp, i, w->index);
    const uint8_t *rec;
    size_t len;
    /* Every thread has stopped: publish what a producer reserved but never committed. */
    xring_commit(r);
    while ((rec = xring_peek(r, &len)) != NULL) {
      if (len >= sizeof(struct xmsg)) {
        struct xmsg m;
        memcpy(&m, rec, sizeof(m));
        router__xmsg_discard(&m);
      }
      xring_release(r);
    }
  }
  for (size_t i = 0; i < w->n_list; i++)
    session__free(w->list[i]);
  w->n_list = 0;
  for (unsigned i = 0; i < MAX_WORKERS; i++)
    free(w->tx[i]);
  free(w->rx_bufs);
  uv_close((uv_handle_t *)&w->async, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
  uv_mutex_destroy(&w->cmd_lock);
  uv_mutex_destroy(&w->stat_lock);
  free_parts(w);
}
