/* mediaplane.c -- the control loop's side of the media workers: session ids, answers,
 * commands, the rings between workers, and events back to the control loop. */
#include "media/mediaplane.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media/addrlist.h"
#include "media/hmap.h"
#include "media/sdp.h"
#include "media/session_int.h"
#include "media/udp_int.h"
#include "moderation/recorder.h"

#define SID_WORKER_BITS 8

/* An event from a worker; payload (malloc'd or NULL) is owned by it. */
struct wev {
  int type;
  uint64_t id;                  /* a session id, or a request id for WEV_REPLY */
  int status;
  void *payload;
  size_t len;
  struct wev *next;
};

/* A session the control side knows: by id in `live`, by its ICE ufrag in `by_ufrag`. */
struct live {
  uint64_t sid;
  char ufrag[ICE_UFRAG_SIZE];   /* "" for a relay session (not in by_ufrag) */
  uint64_t link_id;             /* a relay session's link, else 0 */
};

/* A request waiting for its worker's reply. */
struct preq {
  mediaplane_reply_fn cb;
  void *arg;
};

struct mediaplane {
  uv_loop_t *control;
  struct mediaplane_config cfg;
  struct addrlist public_ips;   /* what answers advertise, parsed from cfg.public_ip */
  const char *more_ips[SDP_MAX_MORE_IPS]; /* public_ips' texts after the first */
  struct mediaplane_events ev;
  char fingerprint[200];
  unsigned n;
  struct worker **workers;
  unsigned *load;               /* sessions per worker, as the control side counts them */
  struct xring *rings;          /* n x n, [from * n + to] */
  struct hmap *live;            /* sid -> struct live (owned) */
  struct hmap *by_ufrag;        /* our ICE ufrag -> the same struct live */
  struct hmap *by_link;         /* a relay session's link id -> the same struct live */
  uint16_t https_port;          /* the HTTPS port's TCP candidate (mediaplane_set_https_port) */
  struct hmap *requests;        /* request id -> struct preq */
  uint64_t next_sid, next_req;
  uint64_t seq;                 /* numbers every command to every worker (worker_int.h) */
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
  c->bind_ip6 = "::";
  c->workers = 1;
  c->silence_ms = 3000;
  c->connect_timeout_ms = 20000;
  c->consent_timeout_ms = 30000;
  c->poll_pps = 3000;
  c->poll_ms = 2;
  c->ring_bytes = 4 * 1024 * 1024;
  c->transports = MEDIAPLANE_UDP | MEDIAPLANE_TCP;
}

struct xring *mediaplane__ring(struct mediaplane *mp, unsigned from, unsigned to) {
  return &mp->rings[from * mp->n + to];
}

struct worker *mediaplane__worker(struct mediaplane *mp, unsigned i) { return mp->workers[i]; }

int mediaplane__fd(struct mediaplane *mp, unsigned i, int family) {
  return i < mp->n && mp->workers[i] ? udp__fd_for(mp->workers[i], family) : -1;
}

static unsigned sid_worker(uint64_t sid) { return (unsigned)(sid & ((1u << SID_WORKER_BITS) - 1)); }

/* Called on worker threads. */
void mediaplane__event(struct mediaplane *mp, int type, uint64_t id, int status, void *payload,
                       size_t len) {
  struct wev *e = calloc(1, sizeof(*e));
  if (!e) {
    free(payload);
    return;
  }
  *e = (struct wev){.type = type, .id = id, .status = status, .payload = payload, .len = len};
  uv_mutex_lock(&mp->ev_lock);
  if (mp->ev_tail)
    mp->ev_tail->next = e;
  else
    mp->ev_head = e;
  mp->ev_tail = e;
  uv_mutex_unlock(&mp->ev_lock);
  uv_async_send(&mp->ev_async);
}

/* Hands the reply to its request's callback (which then owns the payload), or drops it if the
 * request was cancelled. */
static void deliver_reply(struct mediaplane *mp, struct wev *e) {
  struct preq *r = hmap_del(mp->requests, &e->id, sizeof(e->id));
  if (!r)
    return;
  mediaplane_reply_fn cb = r->cb;
  void *arg = r->arg;
  free(r);
  cb(arg, e->status, e->payload, e->len);
  e->payload = NULL;
}

static void deliver(struct mediaplane *mp, struct wev *e) {
  const struct mediaplane_events *ev = &mp->ev;
  if (e->type == WEV_REPLY) {
    deliver_reply(mp, e);
    return;
  }
  /* Events of sessions the control side already closed are stale: drop them. */
  if (!hmap_get(mp->live, &e->id, sizeof(e->id)))
    return;
  switch (e->type) {
  case WEV_READY:
    if (ev->on_ready)
      ev->on_ready(ev->arg, e->id, dtls_profile_name((enum srtpctx_profile)e->status));
    break;
  case WEV_MEDIA:
    if (ev->on_media)
      ev->on_media(ev->arg, e->id, e->status != 0);
    break;
  case WEV_FAILED:
    if (ev->on_failed)
      ev->on_failed(ev->arg, e->id, e->payload && e->len ? (const char *)e->payload : "failed");
    break;
  case WEV_PARTNER_VIDEO:
    if (ev->on_partner_video)
      ev->on_partner_video(ev->arg, e->id, (uint32_t)e->status);
    break;
  }
}

static void ev_async_cb(uv_async_t *a) {
  struct mediaplane *mp = a->data;
  uv_mutex_lock(&mp->ev_lock);
  struct wev *e = mp->ev_head;
  mp->ev_head = mp->ev_tail = NULL;
  uv_mutex_unlock(&mp->ev_lock);
  while (e) {
    struct wev *next = e->next;
    deliver(mp, e);
    free(e->payload);
    free(e);
    e = next;
  }
}

static void cancel_request(void *arg, void *val) {
  (void)arg;
  struct preq *r = val;
  r->cb(r->arg, -ECANCELED, NULL, 0);
  free(r);
}

static void free_val(void *arg, void *val) {
  (void)arg;
  free(val);
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
  if (mp->live)
    hmap_each(mp->live, free_val, NULL);
  hmap_free(mp->live);
  hmap_free(mp->by_ufrag);
  hmap_free(mp->by_link);
  if (mp->requests)
    hmap_each(mp->requests, cancel_request, NULL);
  hmap_free(mp->requests);
  struct wev *e = mp->ev_head;
  while (e) {
    struct wev *next = e->next;
    free(e->payload);
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

/* Creates the workers; with bind, binds their sockets and starts their threads. */
static int start(struct mediaplane *mp, const struct dtls_cert *cert, bool bind) {
  for (unsigned i = 0; i < mp->n * mp->n; i++)
    if (i / mp->n != i % mp->n && xring_init(&mp->rings[i], mp->cfg.ring_bytes))
      return -ENOMEM;
  for (unsigned i = 0; i < mp->n; i++) {
    mp->workers[i] = worker_new(mp, i, &mp->cfg, cert);
    if (!mp->workers[i])
      return -ENOMEM;
    int rc = bind ? worker_bind(mp->workers[i]) : 0;
    if (rc)
      return rc;
  }
  for (unsigned i = 0; bind && i < mp->n; i++) {
    int rc = worker_run(mp->workers[i]);
    if (rc)
      return rc;
  }
  return 0;
}

int mediaplane__new(uv_loop_t *loop, const struct mediaplane_config *cfg,
                    const struct mediaplane_events *ev, const struct dtls_cert *cert, bool bind,
                    struct mediaplane **out) {
  struct addrlist ips;
  if (cfg->workers < 1 || cfg->workers > MEDIAPLANE_MAX_WORKERS ||
      (cfg->record_max_bytes && cfg->record_max_bytes < 2 * RECORDER_CHUNK) ||
      addrlist_parse(cfg->public_ip ? cfg->public_ip : "127.0.0.1", &ips, NULL, NULL) ||
      ips.n == 0)
    return -EINVAL;
  struct mediaplane *mp = calloc(1, sizeof(*mp));
  if (!mp)
    return -ENOMEM;
  mp->control = loop;
  mp->cfg = *cfg;
  if (!mp->cfg.ring_bytes)
    mp->cfg.ring_bytes = 4 * 1024 * 1024;
  mp->public_ips = ips;
  for (unsigned i = 1; i < ips.n; i++)
    mp->more_ips[i - 1] = mp->public_ips.a[i].text;
  mp->cfg.public_ip = mp->public_ips.a[0].text;
  /* IPv6 sockets of their own only beside an IPv4 bind_ip (mediaplane.h). */
  const char *bip = cfg->bind_ip ? cfg->bind_ip : "0.0.0.0";
  mp->cfg.bind_ip6 = addrlist_has(&ips, AF_INET6) && !strchr(bip, ':')
                         ? (cfg->bind_ip6 && cfg->bind_ip6[0] ? cfg->bind_ip6 : "::")
                         : NULL;
  if (ev)
    mp->ev = *ev;
  if (cert)
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
  mp->by_ufrag = hmap_new();
  mp->by_link = hmap_new();
  mp->requests = hmap_new();
  if (mp->workers && mp->load && mp->rings && mp->live && mp->by_ufrag && mp->by_link && mp->requests)
    rc = start(mp, cert, bind);
  if (rc) {
    free_all(mp);
    uv_close((uv_handle_t *)&mp->ev_async, closed_cb);
    return rc;
  }
  *out = mp;
  return 0;
}

int mediaplane_new(uv_loop_t *loop, const struct mediaplane_config *cfg,
                   const struct mediaplane_events *ev, const struct dtls_cert *cert,
                   struct mediaplane **out) {
  return mediaplane__new(loop, cfg, ev, cert, true, out);
}

unsigned mediaplane_workers(const struct mediaplane *mp) { return mp->n; }
unsigned mediaplane_session_worker(uint64_t sid) { return sid_worker(sid); }
uint16_t mediaplane_port(const struct mediaplane *mp, unsigned i) { return udp__port(mp->workers[i]); }

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
  /* A ufrag names one live session here (the HTTPS port finds a session's worker by it). */
  int tries = 0;
  do {
    if (ice_gen_credentials(p->ufrag, p->pwd) || ++tries > 8) {
      free(p);
      return -EIO;
    }
  } while (hmap_get(mp->by_ufrag, p->ufrag, ICE_UFRAG_SIZE - 1));
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

  char msid[24], vmsid[32];
  snprintf(msid, sizeof(msid), "tandem-%08x", rand32());
  snprintf(vmsid, sizeof(vmsid), "%s-v", msid);
  struct sdp_answer_params ap = {
      .ice_ufrag = p->ufrag,
      .ice_pwd = p->pwd,
      .fingerprint = mp->fingerprint,
      .ip = mp->public_ips.a[0].text,
      .more_ips = mp->more_ips,
      .n_more_ips = mp->public_ips.n - 1,
      .udp_port = (mp->cfg.transports & MEDIAPLANE_UDP) ? udp__port(mp->workers[wi]) : 0,
      .tcp_port = (mp->cfg.transports & MEDIAPLANE_TCP) ? udp__port(mp->workers[wi]) : 0,
      .https_port = mp->https_port,
      .audio_ssrc = p->out_ssrc[KIND_AUDIO],
      .video_ssrc = p->out_ssrc[KIND_VIDEO],
      .cname = "tandem",
      .stream_id = msid,
      .video_stream_id = mp->cfg.av_unsynced ? vmsid : NULL,
      .session_id = ((uint64_t)rand32() << 20) ^ rand32(),
  };
  int n = sdp_write_answer(o, &ap, answer, cap);
  if (n < 0) {
    free(p);
    return n;
  }
  struct live *l = calloc(1, sizeof(*l));
  struct wcmd *c = calloc(1, sizeof(*c));
  if (l) {
    l->sid = p->sid;
    memcpy(l->ufrag, p->ufrag, sizeof(l->ufrag));
  }
  if (!l || !c || hmap_put(mp->live, &l->sid, sizeof(l->sid), l)) {
    free(l);
    free(c);
    free(p);
    return -ENOMEM;
  }
  if (hmap_put(mp->by_ufrag, l->ufrag, ICE_UFRAG_SIZE - 1, l)) {
    hmap_del(mp->live, &l->sid, sizeof(l->sid));
    free(l);
    free(c);
    free(p);
    return -ENOMEM;
  }
  *c = (struct wcmd){.type = WCMD_NEW, .seq = ++mp->seq, .sid = p->sid, .params = p};
  *sid_out = p->sid;
  mp->load[wi]++;
  worker_post(mp->workers[wi], c);
  return 0;
}

/* Posts one command for session sid to its worker; false when it cannot (out of memory). */
static bool post(struct mediaplane *mp, int type, uint64_t sid, struct wcmd *fill) {
  unsigned wi = sid_worker(sid);
  struct wcmd *c = calloc(1, sizeof(*c));
  if (wi >= mp->n || !c) {
    free(c);
    return false;
  }
  if (fill)
    *c = *fill;
  c->type = type;
  c->sid = sid;
  c->seq = ++mp->seq;
  worker_post(mp->workers[wi], c);
  return true;
}

void mediaplane_close_session(struct mediaplane *mp, uint64_t sid) {
  struct live *l = hmap_del(mp->live, &sid, sizeof(sid));
  if (!l)
    return;
  if (l->link_id)
    hmap_del(mp->by_link, &l->link_id, sizeof(l->link_id));
  else
    hmap_del(mp->by_ufrag, l->ufrag, ICE_UFRAG_SIZE - 1);
  free(l);
  unsigned wi = sid_worker(sid);
  if (wi >= mp->n)
    return;
  mp->load[wi]--;
  post(mp, WCMD_CLOSE, sid, NULL);
}

/* Each side's LINK names the seq of the other's: the stamp its outbound travels with. Neither
 * needs to be queued before the other (handover.c parks an outbound that arrives early). */
void mediaplane_link(struct mediaplane *mp, uint64_t a, uint64_t b) {
  unsigned wa = sid_worker(a), wb = sid_worker(b);
  struct live *la = hmap_get(mp->live, &a, sizeof(a)), *lb = hmap_get(mp->live, &b, sizeof(b));
  if (wa >= mp->n || wb >= mp->n || a == b || !la || !lb)
    return;
  /* A relay session's link lives on its worker: its partner must live there too. */
  if ((la->link_id || lb->link_id) && wa != wb)
    return;
  uint64_t sa = mp->seq + 1, sb = mp->seq + 2;
  struct wcmd ca = {.other = {b, wb}, .other_seq = sb};
  struct wcmd cb = {.other = {a, wa}, .other_seq = sa};
  if (!post(mp, WCMD_LINK, a, &ca))
    return;
  if (!post(mp, WCMD_LINK, b, &cb))
    post(mp, WCMD_UNLINK, a, NULL); /* out of memory: leave neither half linked */
}

void mediaplane_unlink(struct mediaplane *mp, uint64_t sid) { post(mp, WCMD_UNLINK, sid, NULL); }

int mediaplane_relay_open(struct mediaplane *mp, uint64_t local_sid,
                          const struct mediaplane_relay *r, uint64_t *relay_sid) {
  struct live *local = hmap_get(mp->live, &local_sid, sizeof(local_sid));
  unsigned wi = sid_worker(local_sid);
  if (!local || local->link_id || wi >= mp->n)
    return -ENOENT;
  int fam = r->remote ? r->remote->sa_family : AF_UNSPEC;
  if ((r->side != 0 && r->side != 1) || !r->link_id || !r->secret ||
      (fam != AF_INET && fam != AF_INET6) ||
      (fam == AF_INET ? ((const struct sockaddr_in *)r->remote)->sin_port
                      : ((const struct sockaddr_in6 *)r->remote)->sin6_port) == 0)
    return -EINVAL;
  if (hmap_get(mp->by_link, &r->link_id, sizeof(r->link_id)))
    return -EEXIST;
  struct session_params *p = calloc(1, sizeof(*p));
  struct relay_params *rp = calloc(1, sizeof(*rp));
  struct live *l = calloc(1, sizeof(*l));
  struct wcmd *c = calloc(1, sizeof(*c));
  if (!p || !rp || !l || !c)
    goto nomem;
  /* On the local session's worker: no packet of the pair crosses threads. */
  p->sid = (++mp->next_sid << SID_WORKER_BITS) | wi;
  for (int k = 0; k < 2; k++) {
    p->in_pt[k] = p->out_pt[k] = k == KIND_AUDIO ? RELAY_PT_AUDIO : RELAY_PT_VIDEO;
    p->out_ssrc[k] = relay__ssrc(r->link_id, r->side, k);
    p->in_ssrc[k] = relay__ssrc(r->link_id, 1 - r->side, k);
    p->out_seq[k] = (uint16_t)(rand32() & 0x7fff);
    p->out_ts[k] = rand32();
  }
  p->out_pid = (uint16_t)(rand32() & 0x3fff);
  rp->link_id = r->link_id;
  rp->side = r->side;
  memcpy(&rp->remote, r->remote, udp__addr_len(r->remote));
  memcpy(rp->secret, r->secret, sizeof(rp->secret));
  l->sid = p->sid;
  l->link_id = r->link_id;
  if (hmap_put(mp->live, &l->sid, sizeof(l->sid), l))
    goto nomem;
  if (hmap_put(mp->by_link, &l->link_id, sizeof(l->link_id), l)) {
    hmap_del(mp->live, &l->sid, sizeof(l->sid));
    goto nomem;
  }
  *c = (struct wcmd){.type = WCMD_RELAY, .seq = ++mp->seq, .sid = p->sid, .params = p,
                     .payload = rp, .payload_len = sizeof(*rp)};
  mp->load[wi]++;
  worker_post(mp->workers[wi], c);
  *relay_sid = l->sid;
  mediaplane_link(mp, local_sid, l->sid);
  return 0;
nomem:
  if (rp)
    OPENSSL_cleanse(rp, sizeof(*rp));
  free(p);
  free(rp);
  free(l);
  free(c);
  return -ENOMEM;
}

void mediaplane_relay_close(struct mediaplane *mp, uint64_t relay_sid) {
  struct live *l = hmap_get(mp->live, &relay_sid, sizeof(relay_sid));
  if (l && l->link_id)
    mediaplane_close_session(mp, relay_sid);
}

void mediaplane_set_https_port(struct mediaplane *mp, uint16_t port) { mp->https_port = port; }

int mediaplane_adopt_tcp(struct mediaplane *mp, const char *ufrag, size_t ufrag_len, int fd,
                         const uint8_t *data, size_t len) {
  struct live *l = ufrag_len == ICE_UFRAG_SIZE - 1 ? hmap_get(mp->by_ufrag, ufrag, ufrag_len)
                                                   : NULL;
  if (!l) {
    close(fd);
    return -ENOENT;
  }
  void *copy = len ? malloc(len) : NULL;
  if (len && !copy) {
    close(fd);
    return -ENOMEM;
  }
  if (len)
    memcpy(copy, data, len);
  /* The worker checks the request's integrity as for any ICE-TCP connection: a ufrag alone
   * (it travels in clear) binds nothing. */
  struct wcmd c = {.fd = fd, .payload = copy, .payload_len = len};
  if (!post(mp, WCMD_ADOPT, l->sid, &c)) {
    free(copy);
    close(fd);
    return -ENOMEM;
  }
  return 0;
}

uint64_t mediaplane_request(struct mediaplane *mp, uint64_t sid, int type, uint32_t timeout_ms,
                            const void *payload, size_t len, mediaplane_reply_fn cb, void *arg) {
  if (!cb || !hmap_get(mp->live, &sid, sizeof(sid)))
    return 0;
  struct preq *r = malloc(sizeof(*r));
  void *copy = len ? malloc(len) : NULL;
  uint64_t id = ++mp->next_req;
  if (!r || (len && !copy) || hmap_put(mp->requests, &id, sizeof(id), r)) {
    free(r);
    free(copy);
    return 0;
  }
  if (len)
    memcpy(copy, payload, len);
  *r = (struct preq){cb, arg};
  struct wcmd c = {.req = id, .req_type = type, .timeout_ms = timeout_ms, .payload = copy,
                   .payload_len = len};
  if (!post(mp, WCMD_REQUEST, sid, &c)) {
    free(copy);
    free(hmap_del(mp->requests, &id, sizeof(id)));
    return 0;
  }
  return id;
}

void mediaplane_cancel(struct mediaplane *mp, uint64_t req) {
  free(hmap_del(mp->requests, &req, sizeof(req)));
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
