/* worker.c -- a media worker: one thread and libuv loop; commands from the control loop carried
 * out in posted order; rings to and from the other workers; the 20 ms tick; shutdown. */
#include <errno.h>
#include <openssl/crypto.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/capture.h"
#include "media/hmap.h"
#include "media/record.h"
#include "media/router_int.h"

#define RING_BATCH 4096      /* records handled per ring per wake-up */
#define OUTBOX_MAX 4096      /* beyond this, feedback to a stuck worker is dropped (counted) */

uint64_t worker__now(struct worker *w) { return uv_now(&w->loop); }

struct session *worker__session(struct worker *w, uint64_t sid) {
  struct session *s = hmap_get(w->by_sid, &sid, sizeof(sid));
  return s && !s->closing ? s : NULL;
}

void worker__event(struct worker *w, int type, uint64_t id, int status, void *payload, size_t len) {
  mediaplane__event(w->mp, type, id, status, payload, len);
}

/* ---- commands ---- */

static void run_command(struct worker *w, struct wcmd *c) {
  struct session *s = c->type == WCMD_NEW ? NULL : worker__session(w, c->sid);
  switch (c->type) {
  case WCMD_NEW:
    if (!w->stopping)
      session__create(w, c->params);
    break;
  case WCMD_CLOSE:
    if (s)
      session__close(s);
    break;
  case WCMD_LINK:
    if (s)
      handover__link(s, c->other, c->seq, c->other_seq);
    break;
  case WCMD_UNLINK:
    if (s)
      handover__unlink(s);
    break;
  case WCMD_REQUEST:
    if (c->req_type == MEDIAPLANE_REQ_KEYFRAME) {
      uint32_t max_age = 0;
      if (c->payload && c->payload_len == sizeof(max_age))
        memcpy(&max_age, c->payload, sizeof(max_age));
      capture__request(w, c->req, c->sid, c->timeout_ms, max_age);
    }
    else if (c->req_type == MEDIAPLANE_REQ_CLIP)
      record__request(w, c->req, c->sid);
    else
      worker__event(w, WEV_REPLY, c->req, -ENOTSUP, NULL, 0);
    break;
  case WCMD_STOP:
    w->stopping = true;
    break;
  case WCMD_RELAY:
    if (!w->stopping && c->params && c->payload && c->payload_len == sizeof(struct relay_params) &&
        !relay__create(w, c->params, c->payload)) {
      char *why = strdup("could not open the relay (out of memory)");
      worker__event(w, WEV_FAILED, c->sid, 0, why, why ? strlen(why) + 1 : 0);
    }
    if (c->payload)
      OPENSSL_cleanse(c->payload, c->payload_len);
    break;
  case WCMD_ADOPT:
    tcp__adopt(w, c->fd, c->payload, c->payload_len); /* closes fd if it cannot take it */
    break;
  }
}

void worker__run_commands(struct worker *w) {
  uv_mutex_lock(&w->cmd_lock);
  struct wcmd *c = w->cmd_head;
  w->cmd_head = w->cmd_tail = NULL;
  uv_mutex_unlock(&w->cmd_lock);
  while (c) {
    struct wcmd *next = c->next;
    run_command(w, c);
    w->done_seq = c->seq;
    if (w->parked)
      handover__resolve_parked(w);
    free(c->params);
    free(c->payload);
    free(c);
    c = next;
  }
}

void worker_post(struct worker *w, struct wcmd *c) {
  c->next = NULL;
  uv_mutex_lock(&w->cmd_lock);
  if (w->cmd_tail)
    w->cmd_tail->next = c;
  else
    w->cmd_head = c;
  w->cmd_tail = c;
  uv_mutex_unlock(&w->cmd_lock);
  uv_async_send(&w->async);
}

/* ---- rings ---- */

struct xmsg *worker__xmsg(struct worker *w, unsigned to, int type, size_t extra) {
  if (to >= w->nworkers || to == w->index)
    return NULL;
  size_t len = sizeof(struct xmsg) + extra;
  struct xmsg *m = NULL;
  if (!w->outbox[to])
    m = xring_reserve(mediaplane__ring(w->mp, w->index, to), len);
  if (!m) {
    /* The ring is full (or older messages wait): queue in order. Ownership must never be lost;
     * feedback (keyframe requests, NACKs...) may be, once the outbox is long. */
    bool owns = type == XM_HANDOVER || type == XM_HANDBACK || type == XM_ADDR;
    struct pending_msg *p = NULL;
    if (owns || w->outbox_len < OUTBOX_MAX)
      p = malloc(sizeof(*p) + extra);
    if (!p) {
      w->st.xworker_dropped++;
      return NULL;
    }
    p->next = NULL;
    p->len = len;
    if (w->outbox[to])
      w->outbox_tail[to]->next = p;
    else
      w->outbox[to] = p;
    w->outbox_tail[to] = p;
    w->outbox_len++;
    w->st.xworker_queued++;
    m = &p->m;
  }
  memset(m, 0, sizeof(*m));
  m->type = (uint8_t)type;
  w->ring_dirty[to] = true;
  w->st.xworker_packets++;
  return m;
}

static void on_record(struct worker *w, const uint8_t *rec, size_t len, uint64_t now) {
  struct xmsg m;
  if (len < sizeof(m))
    return;
  memcpy(&m, rec, sizeof(m));
  const uint8_t *extra = rec + sizeof(m);
  size_t extra_len = len - sizeof(m);
  switch (m.type) {
  case XM_HANDOVER:
  case XM_HANDBACK:
  case XM_ADDR:
    handover__on_xmsg(w, &m);
    break;
  case XM_TX:
    transport__on_tx(w, m.dst, extra, extra_len);
    break;
  default:
    router__on_xmsg(w, &m, extra, extra_len, now);
    break;
  }
}

void worker__drain_rings(struct worker *w) {
  uint64_t now = worker__now(w);
  for (unsigned i = 0; i < w->nworkers; i++) {
    if (i == w->index)
      continue;
    struct xring *r = mediaplane__ring(w->mp, i, w->index);
    const uint8_t *rec;
    size_t len;
    /* Bounded work per wake-up keeps the loop responsive; the rest waits for the next one. */
    for (int n = 0; n < RING_BATCH && (rec = xring_peek(r, &len)) != NULL; n++) {
      on_record(w, rec, len, now);
      xring_release(r);
    }
  }
}

/* Moves what waits in the outbox for `to` into its ring, in order, as far as it fits. */
static void flush_outbox(struct worker *w, unsigned to) {
  struct xring *r = mediaplane__ring(w->mp, w->index, to);
  struct pending_msg *p;
  while ((p = w->outbox[to]) != NULL) {
    void *m = xring_reserve(r, p->len);
    if (!m)
      break;
    memcpy(m, &p->m, p->len);
    w->outbox[to] = p->next;
    w->outbox_len--;
    free(p);
    w->ring_dirty[to] = true;
  }
}

void worker__flush(struct worker *w) {
  if (w->relay_out)
    relay__flush(w);
  if (w->udp.ntx)
    udp__flush(w);
  if (w->tcp.dirty)
    tcp__flush(w);
  for (unsigned i = 0; i < w->nworkers; i++) {
    if (w->outbox[i])
      flush_outbox(w, i);
    if (!w->ring_dirty[i])
      continue;
    w->ring_dirty[i] = false;
    xring_commit(mediaplane__ring(w->mp, w->index, i));
    worker_wake(mediaplane__worker(w->mp, i));
    if (w->outbox[i])
      w->ring_dirty[i] = true; /* try again after the next iteration */
  }
}

/* ---- the loop ---- */

static void stop_now(struct worker *w);

static void async_cb(uv_async_t *a) {
  struct worker *w = a->data;
  worker__run_commands(w);
  if (w->stopping) {
    stop_now(w);
    return;
  }
  worker__drain_rings(w);
}

static void check_cb(uv_check_t *c) { worker__flush(c->data); }

static void tick_cb(uv_timer_t *t) {
  struct worker *w = t->data;
  uint64_t now = worker__now(w);
  session__reap(w);
  worker__drain_rings(w); /* in case a wake-up raced with a commit */
  uint64_t rec_bytes = 0;
  for (size_t i = 0; i < w->n_list; i++) {
    if (!w->list[i]->closing)
      session__tick(w->list[i], now);
    rec_bytes += record__bytes(w->list[i]);
  }
  capture__tick(w, now);
  udp__adapt(w, now);
  tcp__tick(w, now);
  w->st.sessions_live = w->n_list;
  w->st.recorder_bytes = rec_bytes;
  w->st.workers_polling = w->udp.polling;
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
  for (size_t i = 0; i < w->n_list; i++)
    session__close(w->list[i]);
  worker__flush(w);
  session__reap(w);
  if (!w->bound || uv_is_closing((uv_handle_t *)&w->tick))
    return;
  udp__close(w, handle_closed);
  tcp__close(w, handle_closed);
  uv_close((uv_handle_t *)&w->tick, handle_closed);
  uv_close((uv_handle_t *)&w->check, handle_closed);
}

/* ---- life ---- */

/* Frees what worker_new allocated (any of it may be NULL) and w itself. */
static void free_parts(struct worker *w) {
  dtls_ctx_free(w->dtls_ctx);
  ice_responder_free(w->ice);
  hmap_free(w->by_ufrag);
  hmap_free(w->by_addr);
  hmap_free(w->by_sid);
  hmap_free(w->by_link);
  relay__free(w);
  udp__free(w);
  tcp__free(w);
  free(w->list);
  free(w->ring_dirty);
  free(w->outbox);
  free(w->outbox_tail);
  free(w->scratch);
  free(w);
}

struct worker *worker_new(struct mediaplane *mp, unsigned index, const struct mediaplane_config *cfg,
                          const struct dtls_cert *cert) {
  struct worker *w = calloc(1, sizeof(*w));
  if (!w)
    return NULL;
  w->mp = mp;
  w->index = index;
  w->nworkers = cfg->workers;
  w->cfg = *cfg;
  snprintf(w->bind_ip, sizeof(w->bind_ip), "%s", cfg->bind_ip ? cfg->bind_ip : "0.0.0.0");
  w->cfg.bind_ip = w->bind_ip;
  snprintf(w->bind_ip6, sizeof(w->bind_ip6), "%s", cfg->bind_ip6 ? cfg->bind_ip6 : "");
  w->cfg.bind_ip6 = w->bind_ip6;
  w->cfg.public_ip = NULL;
  w->udp.fd = -1;
  w->udp.fd6 = -1;
  w->udp.tx = calloc(2 * (size_t)w->nworkers, sizeof(*w->udp.tx));
  w->ring_dirty = calloc(w->nworkers, sizeof(*w->ring_dirty));
  w->outbox = calloc(w->nworkers, sizeof(*w->outbox));
  w->outbox_tail = calloc(w->nworkers, sizeof(*w->outbox_tail));
  w->scratch = malloc(UDP_TX_SLOT);
  w->dtls_ctx = cert ? dtls_ctx_new(cert, DTLS_ROLE_SERVER, NULL) : NULL;
  w->ice = ice_responder_new();
  w->by_ufrag = hmap_new();
  w->by_addr = hmap_new();
  w->by_sid = hmap_new();
  w->by_link = hmap_new();
  if (!w->udp.tx || !w->ring_dirty || !w->outbox || !w->outbox_tail || !w->scratch ||
      (cert && !w->dtls_ctx) || !w->ice || !w->by_ufrag || !w->by_addr || !w->by_sid || !w->by_link ||
      uv_loop_init(&w->loop)) {
    free_parts(w);
    return NULL;
  }
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  w->wall_offset_ms = tv.tv_sec * 1000 + tv.tv_usec / 1000 - (int64_t)uv_now(&w->loop);
  uv_mutex_init(&w->cmd_lock);
  uv_mutex_init(&w->stat_lock);
  uv_async_init(&w->loop, &w->async, async_cb);
  w->async.data = w;
  return w;
}

int worker_bind(struct worker *w) {
  /* Handles first: whatever fails below, stop_now closes what was opened. */
  uv_timer_init(&w->loop, &w->tick);
  w->tick.data = w;
  w->open_handles++;
  uv_check_init(&w->loop, &w->check);
  w->check.data = w;
  w->open_handles++;
  w->bound = true;
  uint16_t port = w->cfg.port ? (uint16_t)(w->cfg.port + w->index) : 0;
  int rc = 0;
  const char *ip6 = w->bind_ip6[0] ? w->bind_ip6 : NULL;
  if (!port && ((w->cfg.transports & MEDIAPLANE_TCP) || ip6))
    rc = udp__shared_port(w->bind_ip, ip6, &port);
  if (!rc)
    rc = udp__bind(w, port);
  /* IPv6 beside IPv4: the same port number, on sockets of their own (mediaplane.h). */
  if (!rc && ip6)
    rc = udp__bind6(w, udp__port(w));
  if (!rc && (w->cfg.transports & MEDIAPLANE_TCP))
    rc = tcp__listen(w, udp__port(w));
  if (rc)
    return rc;
  uv_timer_start(&w->tick, tick_cb, TICK_MS, TICK_MS);
  uv_check_start(&w->check, check_cb);
  return 0;
}

static void thread_main(void *arg) {
  struct worker *w = arg;
  /* Named for top -H, perf and the benchmarks' per-thread CPU (at most 15 characters). */
  char name[16];
  snprintf(name, sizeof(name), "media-%u", w->index);
  (void)pthread_setname_np(pthread_self(), name);
  uv_run(&w->loop, UV_RUN_DEFAULT);
}

int worker_run(struct worker *w) {
  int rc = uv_thread_create(&w->thread, thread_main, w);
  w->thread_started = rc == 0;
  return rc;
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
    struct wcmd *c = calloc(1, sizeof(*c));
    if (c) {
      c->type = WCMD_STOP;
      worker_post(w, c);
    } else {
      w->stopping = true; /* best effort: the next wake-up sees it */
      uv_async_send(&w->async);
    }
    uv_thread_join(&w->thread);
    w->thread_started = false;
  } else {
    w->stopping = true;
    worker__run_commands(w);
    stop_now(w);
    if (w->open_handles > 0)
      uv_run(&w->loop, UV_RUN_DEFAULT);
  }
}

/* Closes what is left, on the calling thread, and frees w: every worker must be stopped. */
void worker_free(struct worker *w) {
  w->stopping = true;
  worker__run_commands(w);
  /* Records still in our rings, and messages in outboxes, may own objects: free them. */
  for (unsigned i = 0; i < w->nworkers; i++) {
    if (i == w->index)
      continue;
    struct xring *r = mediaplane__ring(w->mp, i, w->index);
    const uint8_t *rec;
    size_t len;
    /* Every thread has stopped: publish what a producer reserved but never committed. */
    xring_commit(r);
    while ((rec = xring_peek(r, &len)) != NULL) {
      struct xmsg m;
      if (len >= sizeof(m)) {
        memcpy(&m, rec, sizeof(m));
        handover__xmsg_discard(&m);
      }
      xring_release(r);
    }
    while (w->outbox[i]) {
      struct pending_msg *p = w->outbox[i];
      w->outbox[i] = p->next;
      handover__xmsg_discard(&p->m);
      free(p);
    }
  }
  handover__discard_parked(w);
  capture__discard(w);
  for (size_t i = 0; i < w->n_list; i++)
    session__free(w->list[i]);
  w->n_list = 0;
  uv_close((uv_handle_t *)&w->async, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
  uv_mutex_destroy(&w->cmd_lock);
  uv_mutex_destroy(&w->stat_lock);
  free_parts(w);
}
