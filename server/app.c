/* app.c -- wiring: HTTP routes, WebSocket lifecycle, the media worker, timers and shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "media/addrlist.h"
#include "media/dtls.h"
#include "media/ice.h"
#include "media/srtpctx.h"
#include "server/admin.h"
#include "server/app_int.h"
#include "server/cluster.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/classify.h"
#include "server/moderate.h"
#include "server/version.h"
#include "server/webassets.h"

#define TICK_MS 100

static const char *content_type(const char *path) {
  const char *dot = strrchr(path, '.');
  if (!dot)
    return "application/octet-stream";
  if (!strcmp(dot, ".html"))
    return "text/html; charset=utf-8";
  if (!strcmp(dot, ".js") || !strcmp(dot, ".mjs"))
    return "text/javascript; charset=utf-8";
  if (!strcmp(dot, ".css"))
    return "text/css; charset=utf-8";
  if (!strcmp(dot, ".svg"))
    return "image/svg+xml";
  if (!strcmp(dot, ".png"))
    return "image/png";
  if (!strcmp(dot, ".ico"))
    return "image/x-icon";
  if (!strcmp(dot, ".json"))
    return "application/json";
  return "application/octet-stream";
}

/* Serves web/ from the binary, or from web_dir when set (development). */
static bool serve_static(struct app *a, const char *path, struct httpd_reply *rep) {
  if (!strcmp(path, "/"))
    path = "/index.html";
  if (strstr(path, "..") || strlen(path) > 200)
    return false;
  if (a->cfg.web_dir[0]) {
    char full[512];
    snprintf(full, sizeof(full), "%s%s", a->cfg.web_dir, path);
    int fd = open(full, O_RDONLY);
    if (fd < 0)
      return false;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > 8 * 1024 * 1024) {
      close(fd);
      return false;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (n < 0) {
      free(buf);
      return false;
    }
    httpd_reply_status(rep, 200);
    httpd_reply_header(rep, "Cache-Control", "no-cache");
    httpd_reply_body(rep, content_type(path), buf, (size_t)n, true);
    free(buf);
    return true;
  }
  for (const struct webasset *w = webassets; w->path; w++) {
    if (!strcmp(w->path, path)) {
      httpd_reply_status(rep, 200);
      httpd_reply_header(rep, "Cache-Control", "no-cache");
      httpd_reply_body(rep, content_type(path), w->data, w->len, false);
      return true;
    }
  }
  return false;
}

/* /healthz, /readyz and (when asked) /metrics: the routes of both listeners. */
static bool serve_ops(struct app *a, const struct httpd_request *req, struct httpd_reply *rep,
                      bool metrics) {
  if (!strcmp(req->path, "/healthz")) {
    httpd_reply_status(rep, 200);
    httpd_reply_body(rep, "text/plain", "ok\n", 3, false);
    return true;
  }
  if (!strcmp(req->path, "/readyz")) {
    httpd_reply_status(rep, a->draining ? 503 : 200);
    const char *b = a->draining ? "draining\n" : "ready\n";
    httpd_reply_body(rep, "text/plain", b, strlen(b), false);
    return true;
  }
  if (metrics && !strcmp(req->path, "/metrics")) {
    char *text = NULL;
    size_t len = metrics_render(a, &text);
    httpd_reply_status(rep, 200);
    httpd_reply_body(rep, "text/plain; version=0.0.4", text ? text : "", len, true);
    free(text);
    return true;
  }
  return false;
}

/* metrics_addr's listener: /metrics, /healthz, /readyz and nothing else. */
static void on_metrics_request(void *arg, const struct httpd_request *req,
                               struct httpd_reply *rep) {
  if (serve_ops(arg, req, rep, true))
    return;
  httpd_reply_status(rep, 404);
  httpd_reply_body(rep, "text/plain", "not found\n", 10, false);
}

static void on_request(void *arg, const struct httpd_request *req, struct httpd_reply *rep) {
  struct app *a = arg;
  /* With metrics_addr set, /metrics is a 404 here like any unknown path. */
  if (serve_ops(a, req, rep, a->metrics_httpd == NULL))
    return;
  if (!strcmp(req->path, "/terms.json")) {
    /* The operator's terms text for the page (docs: README, terms_text). */
    json_t *j = json_pack("{s:s}", "text", a->cfg.terms_text);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    httpd_reply_status(rep, 200);
    httpd_reply_header(rep, "Cache-Control", "no-cache");
    httpd_reply_body(rep, "application/json", s ? s : "{\"text\":\"\"}", s ? strlen(s) : 11, true);
    free(s);
    return;
  }
  if (!strncmp(req->path, "/api/", 5)) {
    admin_request(a, req, rep);
    return;
  }
  if (!strcmp(req->path, "/admin") || !strcmp(req->path, "/admin/")) {
    /* The moderation console: the page itself holds nothing secret; every API call it
     * makes needs the token. */
    if ((!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD")) &&
        serve_static(a, "/admin.html", rep))
      return;
  }
  if ((!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD")) && serve_static(a, req->path, rep))
    return;
  httpd_reply_status(rep, 404);
  httpd_reply_body(rep, "text/plain", "not found\n", 10, false);
}

static void on_ws_open(void *arg, struct ws_conn *c, const struct httpd_request *req) {
  struct app *a = arg;
  (void)req;
  a->n.ws_opened++;
  ws_set_data(c, NULL);
}

static void on_ws_message(void *arg, struct ws_conn *c, const char *data, size_t len, bool binary) {
  struct app *a = arg;
  if (binary) {
    struct peer *p = ws_get_data(c);
    peer_error(p, c, "bad_message", "binary messages are not part of the protocol", NULL);
    return;
  }
  /* Pairs ended by this message are logged once its type is known (visitlog.c). */
  struct peer *before = ws_get_data(c);
  a->in_message = true;
  signal_on_message(a, c, data, len);
  a->in_message = false;
  visitlog_message_done(a, c, before, data, len);
}

static void on_ws_close(void *arg, struct ws_conn *c) {
  struct app *a = arg;
  if (drain_ws_closed(a, c))
    return;
  struct peer *p = ws_get_data(c);
  if (p)
    peer_ws_closed(p, c); /* p's WebSocket, or a resume waiting for it */
}

void app_on_match_event(struct app *a, struct peer *p, const struct matcher_event *ev) {
  visitlog_match_event(a, p, ev);
  drain_match_event(a, p, ev);
}

void app_on_error(struct peer *p, const char *code, const char *message, const char *ref) {
  visitlog_error(p, code, message, ref);
}

/* The media plane's events go to peer.c; around them, the reason for any pair they end and
 * what operators see. */
static struct peer *peer_of_sid(struct app *a, uint64_t sid) {
  return hmap_get(a->by_sid, &sid, sizeof(sid));
}

static void on_media_ready(void *arg, uint64_t sid, const char *profile) {
  struct app *a = arg;
  peer_media_events.on_ready(arg, sid, profile);
  struct peer *p = peer_of_sid(a, sid);
  if (p)
    visitlog_ready(a, p, profile);
}

static void on_media_flow(void *arg, uint64_t sid, bool flowing) {
  struct app *a = arg;
  a->cause = "media_silent";
  peer_media_events.on_media(arg, sid, flowing);
  a->cause = NULL;
}

static void on_media_failed(void *arg, uint64_t sid, const char *why) {
  struct app *a = arg;
  a->cause = "media_failed";
  peer_media_events.on_failed(arg, sid, why);
  a->cause = NULL;
}

static void on_partner_video(void *arg, uint64_t sid, uint32_t ts) {
  struct app *a = arg;
  peer_media_events.on_partner_video(arg, sid, ts);
  struct peer *p = peer_of_sid(a, sid);
  if (p)
    visitlog_partner_video(a, p);
}

static void tick_cb(uv_timer_t *t) {
  struct app *a = t->data;
  uint64_t now = uv_now(a->loop);
  if (a->drain != DRAIN_NONE) {
    drain_tick(a, now);
    if (a->closing)
      return;
  }
  a->cause = "timer";
  matchq_tick(a->match, now);
  app_dispatch_match(a);
  peer_tick(a, now); /* limits against hostile clients: the offer and READY deadlines */
  moderate_tick(a);
  struct peer *p = a->peers, *next;
  for (; p; p = next) {
    next = p->next;
    /* A replaced or failed session must bring media back within silence_ms to keep the pair. */
    if (p->media_lost_ms && now - p->media_lost_ms > (uint64_t)a->cfg.silence_ms) {
      p->media_lost_ms = 0;
      a->cause = "media_lost";
      if (!p->sid || !p->sess_ready)
        peer_set_media(p, false);
      peer_update_away(p);
    }
    if (!p->ws && p->ws_lost_ms && now - p->ws_lost_ms > (uint64_t)a->cfg.grace_ms) {
      /* The partner (if any) is told; next stays valid, as only p is freed. */
      a->cause = "left";
      visitlog_end(a, p, "left");
      next = p->next;
      peer_free(p);
    }
  }
  a->cause = NULL;
}

/* public_ip as configured (written canonically), or detected: the first non-loopback IPv4
 * (else 127.0.0.1), then the first global IPv6 (2000::/3, addrlist_global6) if there is one.
 * IPv4 first: an IPv4-only machine answers exactly as before; a dual-stack browser still
 * picks by its own candidates' priorities (docs/operations.md). */
static void detect_public_ip(struct app *a) {
  struct addrlist l;
  if (addrlist_parse(a->cfg.public_ip, &l, NULL, NULL) == 0 && l.n > 0 &&
      addrlist_format(&l, a->public_ip, sizeof(a->public_ip)) == 0)
    return;
  char v4[ADDRLIST_TEXT] = "127.0.0.1", v6[ADDRLIST_TEXT] = "";
  bool have4 = false;
  uv_interface_address_t *ifs;
  int n;
  if (uv_interface_addresses(&ifs, &n) == 0) {
    for (int i = 0; i < n; i++) {
      if (ifs[i].is_internal)
        continue;
      if (!have4 && ifs[i].address.address4.sin_family == AF_INET) {
        uv_ip4_name(&ifs[i].address.address4, v4, sizeof(v4));
        have4 = true;
      } else if (!v6[0] && ifs[i].address.address6.sin6_family == AF_INET6 &&
                 addrlist_global6(ifs[i].address.address6.sin6_addr.s6_addr)) {
        uv_ip6_name(&ifs[i].address.address6, v6, sizeof(v6));
      }
    }
    uv_free_interface_addresses(ifs, n);
  }
  a->public_ip6_detected = v6[0] != 0;
  snprintf(a->public_ip, sizeof(a->public_ip), "%s%s%s", v4, v6[0] ? "," : "", v6);
}

static int listen_metrics(struct app *a) {
  char host[64];
  int port;
  if (config_parse_hostport(a->cfg.metrics_addr, host, sizeof(host), &port))
    return -EINVAL; /* config_load checked it */
  struct httpd_config hc;
  httpd_config_default(&hc);
  hc.host = host;
  hc.port = port;
  /* Limits against hostile clients (docs/security.md): a few scrapers, within the public
   * listener's descriptor headroom; the last 8 of 32 answer once each. */
  hc.max_conns = 32;
  hc.reserve_paths = "/metrics /healthz /readyz";
  struct httpd_handlers hh = {.on_request = on_metrics_request, .arg = a};
  a->metrics_httpd = httpd_new(a->loop, &hc, &hh);
  if (!a->metrics_httpd)
    return -ENOMEM;
  int rc = httpd_listen(a->metrics_httpd);
  if (rc)
    log_event(LOG_ERROR, "listen_failed", LF_STR("what", "metrics"),
              LF_STR("addr", a->cfg.metrics_addr), LF_STR("error", uv_strerror(rc)));
  return rc;
}

int app_new(uv_loop_t *loop, const struct config *cfg, struct app **out) {
  struct app *a = calloc(1, sizeof(*a));
  if (!a)
    return -ENOMEM;
  a->loop = loop;
  a->cfg = *cfg;
  a->started_ms = uv_now(loop);
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  a->started_wall = (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
  visitlog_init(a);
  detect_public_ip(a);
  int rc = -ENOMEM;
  if (srtpctx_global_init()) {
    log_event(LOG_ERROR, "init_failed", LF_STR("what", "libsrtp2"));
    rc = -EIO;
    goto fail;
  }
  if (dtls_fast_ec_install())
    log_event(LOG_WARN, "dtls_fast_ec_unavailable",
              LF_STR("effect", "DTLS handshakes use OpenSSL's providers (slower)"));
  a->cert = dtls_cert_new();
  if (!a->cert) {
    log_event(LOG_ERROR, "init_failed", LF_STR("what", "DTLS certificate"));
    rc = -EIO;
    goto fail;
  }
  struct match_config mc;
  match_config_default(&mc);
  mc.widen_after_ms = (uint32_t)cfg->match_widen_ms;
  mc.recent_k = (uint32_t)cfg->match_recent_k;
  mc.rematch_cooldown_ms = (uint32_t)cfg->match_rematch_cooldown_ms;
  mc.rematch_lonely_ms = (uint32_t)cfg->match_rematch_lonely_ms;
  mc.next_limit = (uint32_t)cfg->match_next_limit;
  mc.next_window_ms = (uint32_t)cfg->match_next_window_ms;
  mc.next_cooldown_ms = (uint32_t)cfg->match_next_cooldown_ms;
  /* A secret seed keeps crafted interests from colliding in the engine's tag table. */
  if (RAND_bytes((unsigned char *)&mc.hash_seed, sizeof(mc.hash_seed)) != 1)
    mc.hash_seed = (uint64_t)uv_hrtime();
  if (cfg->redis_url[0]) {
    /* Peer ids name their node: a partner on the same node spares the relay (the CPU of a
     * pair across nodes is about twice that of a pair on one). */
    mc.home_shift = cfg->match_same_node_ms ? MCLUSTER_ID_SHIFT : 0;
    mc.home_window_ms = (uint32_t)cfg->match_same_node_ms;
    struct cluster_hooks ch = {.events = cluster_events, .resync = cluster_resync,
                               .peer_msg = cluster_peer_msg, .arg = a};
    a->match = cluster_new(a->loop, &mc, cfg->redis_url, (unsigned)cfg->node_id, &ch);
    a->node = (unsigned)cfg->node_id;
  } else {
    a->match = matchq_local_new(&mc);
  }
  a->by_token = hmap_new();
  a->by_id = hmap_new();
  a->by_sid = hmap_new();
  a->by_ip = iptab_new();
  if (!a->match || !a->by_token || !a->by_id || !a->by_sid || !a->by_ip)
    goto fail;

  struct mediaplane_config mc2;
  mediaplane_config_default(&mc2);
  mc2.bind_ip = cfg->media_addr;
  mc2.bind_ip6 = cfg->media_addr6;
  mc2.port = (uint16_t)cfg->media_port;
  mc2.public_ip = a->public_ip;
  /* One per core, up to what session ids can name (a larger host uses that many). */
  mc2.workers = cfg->media_workers > 0 ? (unsigned)cfg->media_workers : uv_available_parallelism();
  if (cfg->media_workers <= 0 && mc2.workers > MEDIAPLANE_MAX_WORKERS)
    mc2.workers = MEDIAPLANE_MAX_WORKERS;
  mc2.silence_ms = (uint32_t)cfg->silence_ms;
  mc2.connect_timeout_ms = (uint32_t)cfg->connect_timeout_ms;
  mc2.poll_pps = (uint32_t)cfg->media_poll_pps;
  mc2.poll_ms = (uint32_t)cfg->media_poll_ms;
  mc2.record_ms = (uint32_t)cfg->media_record_ms;
  mc2.av_unsynced = !cfg->media_av_sync;
  mc2.transports = !strcmp(cfg->media_transports, "udp")   ? MEDIAPLANE_UDP
                   : !strcmp(cfg->media_transports, "tcp") ? MEDIAPLANE_TCP
                                                           : MEDIAPLANE_UDP | MEDIAPLANE_TCP;
  struct mediaplane_events ev = {
      .on_ready = on_media_ready,
      .on_media = on_media_flow,
      .on_failed = on_media_failed,
      .on_partner_video = on_partner_video,
      .arg = a,
  };
  rc = mediaplane_new(loop, &mc2, &ev, a->cert, &a->media);
  if (rc && a->public_ip6_detected) {
    /* A detected IPv6 address must not stop a server that ran on IPv4 before: say why, and
     * advertise the IPv4 address alone. */
    log_event(LOG_WARN, "media_ipv6_unavailable", LF_STR("public_ip", a->public_ip),
              LF_STR("media_addr6", cfg->media_addr6), LF_STR("error", uv_strerror(rc)),
              LF_STR("effect", "IPv4 only; set public_ip to choose"));
    *strchr(a->public_ip, ',') = 0;
    a->public_ip6_detected = false;
    rc = mediaplane_new(loop, &mc2, &ev, a->cert, &a->media);
  }
  if (rc) {
    log_event(LOG_ERROR, "listen_failed", LF_STR("what", "media"),
              LF_STR("transports", cfg->media_transports),
              LF_STR("addr", cfg->media_addr), LF_STR("public_ip", a->public_ip),
              LF_INT("port", cfg->media_port),
              LF_STR("error", uv_strerror(rc)));
    a->media = NULL;
    goto fail;
  }

  /* Moderation before the first visitor: the bans in force are loaded here. */
  rc = moderate_open(a);
  if (rc)
    goto fail;
  if ((rc = classify_start(a)))
    goto fail;

  struct httpd_config hc;
  httpd_config_default(&hc);
  hc.host = cfg->http_addr;
  hc.port = cfg->http_port;
  hc.trust_proxy = cfg->trust_proxy;
  /* Limits against hostile clients (docs/security.md). */
  hc.ws_origins = cfg->ws_origins;
  hc.max_conns = (unsigned)cfg->max_connections;
  hc.max_conns_per_ip = cfg->max_conns_per_ip ? (unsigned)cfg->max_conns_per_ip : UINT_MAX;
  hc.reserve_paths = "/healthz /readyz";
  hc.ws_claim_ms = (unsigned)cfg->hello_timeout_ms; /* claimed by a welcome */
  long nofile = httpd_raise_nofile();
  struct httpd_handlers hh = {
      .on_request = on_request,
      .ws_path = "/ws",
      .on_ws_open = on_ws_open,
      .on_ws_message = on_ws_message,
      .on_ws_close = on_ws_close,
      .arg = a,
  };
  a->httpd = httpd_new(loop, &hc, &hh);
  if (!a->httpd)
    goto fail;
  if ((rc = app_tls_load(a)) != 0)
    goto fail;
  rc = httpd_listen(a->httpd);
  if (rc) {
    log_event(LOG_ERROR, "listen_failed", LF_STR("what", "http"), LF_STR("addr", cfg->http_addr),
              LF_INT("port", cfg->http_port), LF_STR("error", uv_strerror(rc)));
    goto fail;
  }
  app_tls_media(a);
  log_info("connection budget: %u HTTP/WebSocket connections (descriptor limit %ld)",
           httpd_max_conns(a->httpd), nofile);
  if (cfg->metrics_addr[0]) {
    rc = listen_metrics(a);
    if (rc)
      goto fail;
  }
  if ((rc = app_tls_listen_redirect(a)) != 0)
    goto fail;
  uv_timer_init(loop, &a->tick);
  a->tick.data = a;
  uv_timer_start(&a->tick, tick_cb, TICK_MS, TICK_MS);
  char ports[256] = "";
  for (unsigned i = 0; i < mediaplane_workers(a->media) && strlen(ports) < 200; i++)
    snprintf(ports + strlen(ports), sizeof(ports) - strlen(ports), "%s%u", i ? "," : "",
             mediaplane_port(a->media, i));
  char http[128];
  snprintf(http, sizeof(http), "%s:%d", cfg->http_addr, httpd_port(a->httpd));
  log_event(LOG_INFO, "start", LF_STR("version", tandem_version()),
            LF_STR("commit", tandem_commit()), LF_STR("http", http),
            LF_STR("scheme", a->tls ? "https" : "http"),
            LF_BOOL("media_on_https_port", a->tls && cfg->media_on_https_port),
            LF_STR("metrics", cfg->metrics_addr[0] ? cfg->metrics_addr : http),
            LF_UINT("media_workers", mediaplane_workers(a->media)),
            LF_STR("media_addr", cfg->media_addr), LF_STR("media_ports", ports),
            LF_STR("public_ip", a->public_ip),
            LF_STR("public_ip_from", strspn(cfg->public_ip, " \t") < strlen(cfg->public_ip)
                                         ? "config" : "detected"),
            LF_STR("dtls_fingerprint", dtls_cert_fingerprint(a->cert)));
  *out = a;
  return 0;
fail:
  /* Close what was built; the loop finishes the handle closes. */
  app_close(a, NULL, NULL);
  return rc;
}

void app_drain(struct app *a, void (*done)(void *), void *arg) {
  if (a->draining || a->closing)
    return;
  a->drained = done;
  a->drained_arg = arg;
  drain_start(a);
}

static void part_closed(void *arg) {
  struct app *a = arg;
  if (--a->pending_closes > 0)
    return;
  dtls_cert_free(a->cert);
  hmap_free(a->by_token);
  hmap_free(a->by_id);
  hmap_free(a->by_sid);
  iptab_free(a->by_ip);
  httpd_tls_free(a->tls);
  void (*done)(void *) = a->done;
  void *darg = a->done_arg;
  free(a);
  if (done)
    done(darg);
}

static void tick_closed(uv_handle_t *h) { part_closed(h->data); }

void app_close(struct app *a, void (*done)(void *), void *arg) {
  if (a->closing)
    return;
  a->closing = true;
  a->done = done;
  a->done_arg = arg;
  a->pending_closes = 1; /* released at the end of this function */
  if (a->tick.data == a) {
    a->pending_closes++;
    uv_close((uv_handle_t *)&a->tick, tick_closed);
  }
  /* Closing without a finished drain: tell whoever is still here, best effort. */
  if (a->drain != DRAIN_FLUSHING && a->n_peers) {
    log_event(LOG_INFO, "shutdown", LF_UINT("visitors", a->n_peers),
              LF_UINT("paired", a->n_paired));
    drain_tell_all(a, "shutdown");
  }
  while (a->peers) {
    visitlog_end(a, a->peers, "shutdown");
    peer_free(a->peers);
  }
  if (a->match) {
    a->pending_closes++;
    matchq_close(a->match, part_closed, a);
    a->match = NULL;
  }
  if (a->httpd) {
    a->pending_closes++;
    httpd_close(a->httpd, part_closed, a);
  }
  if (a->metrics_httpd) {
    a->pending_closes++;
    httpd_close(a->metrics_httpd, part_closed, a);
  }
  if (a->redirect_httpd) {
    a->pending_closes++;
    httpd_close(a->redirect_httpd, part_closed, a);
  }
  if (a->classify) {
    a->pending_closes++;
    classify_stop(a, part_closed, a);
  }
  if (a->fetch) {
    /* After httpd: the answers of requests still out are dropped with their connections. */
    a->pending_closes++;
    admin_proxy_close(a, part_closed, a);
  }
  if (a->mod) {
    /* Before the media plane: its requests waiting on workers are withdrawn first. */
    a->pending_closes++;
    moderate_close(a, part_closed, a);
  }
  if (a->media) {
    a->pending_closes++;
    mediaplane_close(a->media, part_closed, a);
  }
  part_closed(a);
}
