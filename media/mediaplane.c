/* mediaplane.c -- the control loop's side of the media workers: session ids, answers,
 * commands, the rings between workers, and events back to the control loop. */
#include "media/mediaplane.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "media/hmap.h"
#include "media/sdp.h"
#include "media/session_int.h"

#define RING_BYTES (4 * 1024 * 1024)
#define SID_WORKER_BITS 8

struct wev {
  int type;
  uint64_t sid;
  bool flag;
  uint32_t ts;
  char text[128];
  struct wev *next;
};

struct mediaplane {
  uv_loop_t *control;
  struct mediaplane_config cfg;
  char public_ip[64];
  struct mediaplane_events ev;
  char fingerprint[200];
  unsigned n;
  struct worker **workers;
  unsigned *load;               /* sessions per worker, as the control side counts them */
  struct xring *rings;          /* n x n, [from * n + to] */
  struct hmap *live;            /* sid -> (void *)1 for sessions the control side knows */
  uint64_t next_sid;
  uv_async_t ev_async;
  uv_mutex_t ev_lock;
  struct wev *ev_head, *ev_tail;
  void (*done)(void *);
  void *done_arg;
};

void mediaplane_config_default(struct mediaplane_config *c) {
  memset(c, 0, sizeof(*c));
  c->bind_ip = "0.0.0.0";
  c->port = 40000;
  c->public_ip = "127.0.0.1";
  c->workers = 1;
  c->silence_ms = 3000;
  c->connect_timeout_ms = 20000;
  c->consent_timeout_ms = 30000;
  c->poll_pps = 3000;
  c->poll_ms = 2;
}

struct xring *mediaplane__ring(struct mediaplane *mp, unsigned from, unsigned to) {
  return &mp->rings[from * mp->n + to];
}

struct worker *mediaplane__worker(struct mediaplane *mp, unsigned i) { return mp->workers[i]; }

static unsigned sid_worker(uint64_t sid) { return (unsigned)(sid & ((1u << SID_WORKER_BITS) - 1)); }

/* Called on worker threads. */
void mediaplane__event(struct mediaplane *mp, int type, uint64_t sid, bool flag, uint32_t ts,
                       const char *text) {
  struct wev *e = calloc(1, sizeof(*e));
  if (!e)
    return;
  e->type = type;
  e->sid = sid;
  e->flag = flag;
  e->ts = ts;
  if (text)
    snprintf(e->text, sizeof(e->text), "%s", text);
  uv_mutex_lock(&mp->ev_lock);
  if (mp->ev_tail)
    mp->ev_tail->next = e;
  else
    mp->ev_head = e;
  mp->ev_tail = e;
  uv_mutex_unlock(&mp->ev_lock);
  uv_async_send(&mp->ev_async);
}

static void ev_async_cb(uv_async_t *a) {
  struct mediaplane *mp = a->data;
  uv_mutex_lock(&mp->ev_lock);
  struct wev *e = mp->ev_head;
  mp->ev_head = mp->ev_tail = NULL;
  uv_mutex_unlock(&mp->ev_lock);
  while (e) {
    struct wev *next = e->next;
    /* Events of sessions the control side already closed are stale: drop them. */
    if (hmap_get(mp->live, &e->sid, sizeof(e->sid))) {
      switch (e->type) {
      case WEV_READY:
        if (mp->ev.on_ready)
          mp->ev.on_ready(mp->ev.arg, e->sid, e->text);
        break;
      case WEV_MEDIA:
        if (mp->ev.on_media)
          mp->ev.on_media(mp->ev.arg, e->sid, e->flag);
        break;
      case WEV_FAILED:
        if (mp->ev.on_failed)
          mp->ev.on_failed(mp->ev.arg, e->sid, e->text);
        break;
      case WEV_PARTNER_VIDEO:
        if (mp->ev.on_partner_video)
          mp->ev.on_partner_video(mp->ev.arg, e->sid, e->ts);
        break;
      }
    }
    free(e);
    e = next;
  }
}

static void free_all(struct mediaplane *mp) {
  if (mp->workers) {
    for (unsigned i = 0; i < mp->n; i++)
      if (mp->workers[i])
        worker_stop(mp->workers[i]);
    for (unsigned i = 0; i < mp->n; i++)
      if (mp->workers[i])
        worker_free(mp->workers[i]);
  }
  if (mp->rings)
    for (unsigned i = 0; i < mp->n * mp->n; i++)
      xring_destroy(&mp->rings[i]);
  free(mp->rings);
  free(mp->workers);
  free(mp->load);
  hmap_free(mp->live);
  struct wev *e = mp->ev_head;
  while (e) {
    struct wev *next = e->next;
    free(e);
    e = next;
  }
  uv_mutex_destroy(&mp->ev_lock);
}

static void closed_cb(uv_handle_t *h) {
  struct mediaplane *mp = h->data;
  void (*done)(void *) = mp->done;
  void *arg = mp->done_arg;
  free(mp);
  if (done)
    done(arg);
}

int mediaplane_new(uv_loop_t *loop, const struct mediaplane_config *cfg,
                   const struct mediaplane_events *ev, const struct dtls_cert *cert,
                   struct mediaplane **out) {
  if (cfg->workers < 1 || cfg->workers > MAX_WORKERS)
    return -EINVAL;
  struct mediaplane *mp = calloc(1, sizeof(*mp));
  if (!mp)
    return -ENOMEM;
  mp->control = loop;
  mp->cfg = *cfg;
  snprintf(mp->public_ip, sizeof(mp->public_ip), "%s", cfg->public_ip ? cfg->public_ip : "127.0.0.1");
  mp->cfg.public_ip = mp->public_ip;
  if (ev)
    mp->ev = *ev;
  snprintf(mp->fingerprint, sizeof(mp->fingerprint), "%s", dtls_cert_fingerprint(cert));
  mp->n = cfg->workers;
  uv_mutex_init(&mp->ev_lock);
  uv_async_init(loop, &mp->ev_async, ev_async_cb);
  mp->ev_async.data = mp;
  int rc = -ENOMEM;
  mp->workers = calloc(mp->n, sizeof(*mp->workers));
  mp->load = calloc(mp->n, sizeof(*mp->load));
  mp->rings = calloc((size_t)mp->n * mp->n, sizeof(*mp->rings));
  mp->live = hmap_new();
  if (!mp->workers || !mp->load || !mp->rings || !mp->live)
    goto fail;
  for (unsigned i = 0; i < mp->n * mp->n; i++)
    if (i / mp->n != i % mp->n && xring_init(&mp->rings[i], RING_BYTES))
      goto fail;
  for (unsigned i = 0; i < mp->n; i++) {
    mp->workers[i] = worker_new(mp, i, loop, &mp->cfg, cert);
    if (!mp->workers[i])
      goto fail;
    rc = worker_bind(mp->workers[i]);
    if (rc)
      goto fail;
  }
  for (unsigned i = 0; i < mp->n; i++) {
    rc = worker_run(mp->workers[i]);
    if (rc)
      goto fail;
  }
  *out = mp;
  return 0;
fail:
  free_all(mp);
  uv_close((uv_handle_t *)&mp->ev_async, closed_cb);
  return rc ? rc : -ENOMEM;
}

unsigned mediaplane_workers(const struct mediaplane *mp) { return mp->n; }
uint16_t mediaplane_port(const struct mediaplane *mp, unsigned i) { return worker_port(mp->workers[i]); }

static uint32_t rand32(void) {
  uint32_t v = 0;
  while (v == 0)
    if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
      v = (uint32_t)random();
  return v;
}

int mediaplane_new_session(struct mediaplane *mp, const struct sdp_offer *o, char *answer,
                           size_t cap, uint64_t *sid_out) {
  if (o->audio < 0 || o->video < 0)
    return -EINVAL;
  struct session_params *p = calloc(1, sizeof(*p));
  if (!p)
    return -ENOMEM;
  /* The least loaded worker takes the session; its id carries the worker's index. */
  unsigned wi = 0;
  for (unsigned i = 1; i < mp->n; i++)
    if (mp->load[i] < mp->load[wi])
      wi = i;
  p->sid = (++mp->next_sid << SID_WORKER_BITS) | wi;
  if (ice_gen_credentials(p->ufrag, p->pwd)) {
    free(p);
    return -EIO;
  }
  snprintf(p->remote_ufrag, sizeof(p->remote_ufrag), "%s", o->ice_ufrag);
  p->peer_fp_len = o->fp_len > sizeof(p->peer_fp) ? sizeof(p->peer_fp) : o->fp_len;
  memcpy(p->peer_fp, o->fp, p->peer_fp_len);
  const struct sdp_media *m[2] = {&o->media[o->audio], &o->media[o->video]};
  p->ext_mid = m[KIND_AUDIO]->ext_mid == m[KIND_VIDEO]->ext_mid ? m[KIND_AUDIO]->ext_mid : 0;
  for (int k = 0; k < 2; k++) {
    snprintf(p->mid[k], sizeof(p->mid[k]), "%s", m[k]->mid);
    p->in_pt[k] = p->out_pt[k] = m[k]->pt;
    p->in_ssrc[k] = m[k]->main_ssrc;
    p->out_ssrc[k] = rand32();
    p->out_seq[k] = (uint16_t)(rand32() & 0x7fff);
    p->out_ts[k] = rand32();
  }
  if (p->out_ssrc[0] == p->out_ssrc[1])
    p->out_ssrc[1] ^= 0x5a5a5a5a;
  p->out_pid = (uint16_t)(rand32() & 0x3fff);

  char msid[24];
  snprintf(msid, sizeof(msid), "tandem-%08x", rand32());
  struct sdp_answer_params ap = {
      .ice_ufrag = p->ufrag,
      .ice_pwd = p->pwd,
      .fingerprint = mp->fingerprint,
      .ip = mp->public_ip,
      .udp_port = worker_port(mp->workers[wi]),
      .tcp_port = 0,
      .audio_ssrc = p->out_ssrc[KIND_AUDIO],
      .video_ssrc = p->out_ssrc[KIND_VIDEO],
      .cname = "tandem",
      .stream_id = msid,
      .session_id = ((uint64_t)rand32() << 20) ^ rand32(),
  };
  int n = sdp_write_answer(o, &ap, answer, cap);
  if (n < 0) {
    free(p);
    return n;
  }
  if (hmap_put(mp->live, &p->sid, sizeof(p->sid), (void *)1)) {
    free(p);
    return -ENOMEM;
  }
  *sid_out = p->sid;
  mp->load[wi]++;
  worker_post_new(mp->workers[wi], p);
  return 0;
}

void mediaplane_close_session(struct mediaplane *mp, uint64_t sid) {
  if (!hmap_del(mp->live, &sid, sizeof(sid)))
    return;
  unsigned wi = sid_worker(sid);
  if (wi >= mp->n)
    return;
  mp->load[wi]--;
  worker_post(mp->workers[wi], WCMD_CLOSE, sid, 0, 0);
}

void mediaplane_link(struct mediaplane *mp, uint64_t a, uint64_t b) {
  unsigned wa = sid_worker(a), wb = sid_worker(b);
  if (wa >= mp->n || wb >= mp->n || a == b)
    return;
  worker_post_pair(mp->workers[wa], WCMD_LINK, a, b, wb, mp->workers[wb], WCMD_LINK, b, a, wa);
}

void mediaplane_unlink(struct mediaplane *mp, uint64_t sid) {
  unsigned wi = sid_worker(sid);
  if (wi < mp->n)
    worker_post(mp->workers[wi], WCMD_UNLINK, sid, 0, 0);
}

void mediaplane_get_stats(struct mediaplane *mp, struct mediaplane_stats *st) {
  memset(st, 0, sizeof(*st));
  for (unsigned i = 0; i < mp->n; i++)
    worker_read_stats(mp->workers[i], st);
}

void mediaplane_close(struct mediaplane *mp, void (*done)(void *), void *arg) {
  mp->done = done;
  mp->done_arg = arg;
  free_all(mp);
  uv_close((uv_handle_t *)&mp->ev_async, closed_cb);
}
