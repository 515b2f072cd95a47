/* app_tls.c -- HTTPS on the public listener (tls_cert/tls_key, SIGHUP reload) and the
 * plain-HTTP redirect listener (http_redirect_port). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "media/addrlist.h"
#include "server/app_int.h"
#include "server/log.h"

/* Loads the configured pair: the new context, or NULL with the reason logged. */
static struct httpd_tls *load(const struct app *a, const char *event) {
  struct httpd_tls *t = NULL;
  const char *bad = NULL;
  char fp[128];
  int days;
  int rc = httpd_tls_new(a->cfg.tls_cert, a->cfg.tls_key, &t, &bad);
  if (rc == 0) {
    httpd_tls_info(t, fp, sizeof(fp), &days);
    log_event(days < 14 ? LOG_WARN : LOG_INFO, "tls_cert", LF_STR("file", a->cfg.tls_cert),
              LF_STR("sha256", fp), LF_INT("days_left", days));
    return t;
  }
  log_event(LOG_ERROR, event,
            LF_STR("key", bad == a->cfg.tls_key ? "tls_key" : "tls_cert"),
            LF_STR("file", bad ? bad : ""), LF_STR("error", httpd_tls_strerror(rc)));
  return NULL;
}

int app_tls_load(struct app *a) {
  if (!a->cfg.tls_cert[0])
    return 0;
  if (!(a->tls = load(a, "tls_failed")))
    return -EINVAL;
  httpd_set_tls(a->httpd, a->tls);
  return 0;
}

void app_reload_tls(struct app *a) {
  struct httpd_tls *t;
  if (!a || a->closing || !a->httpd || !a->cfg.tls_cert[0]) {
    log_event(LOG_INFO, "sighup", LF_STR("effect", "nothing to reload (no tls_cert)"));
    return;
  }
  if (!(t = load(a, "tls_reload_failed"))) {
    log_event(LOG_WARN, "tls_reload_kept", LF_STR("effect", "the old certificate stays"));
    return;
  }
  httpd_set_tls(a->httpd, t);
  httpd_tls_free(a->tls);
  a->tls = t;
  log_event(LOG_INFO, "tls_reloaded", LF_STR("cert", a->cfg.tls_cert),
            LF_STR("effect", "new connections use the new certificate"));
}

/* An ICE-TCP connection on the HTTPS port (server/httpd_demux.c): to its session's worker. */
static int on_https_media(void *arg, int fd, const uint8_t *data, size_t len, const char *ufrag,
                          size_t ufrag_len) {
  struct app *a = arg;
  int rc;
  if (!a->media || a->closing) {
    close(fd);
    return -ESHUTDOWN;
  }
  rc = mediaplane_adopt_tcp(a->media, ufrag, ufrag_len, fd, data, len);
  if (rc)
    log_event(LOG_DEBUG, "https_media_refused", LF_STR("error", uv_strerror(rc)));
  return rc;
}

void app_tls_media(struct app *a) {
  int port;
  if (!a->tls || !a->cfg.media_on_https_port || (port = httpd_port(a->httpd)) <= 0)
    return;
  httpd_set_media(a->httpd, on_https_media, a);
  mediaplane_set_https_port(a->media, (uint16_t)port);
  /* libwebrtc takes a candidate below port 1024 only on 80 or 443 of a public address. */
  struct addrlist l;
  const char *priv = NULL;
  if (addrlist_parse(a->public_ip, &l, NULL, NULL) == 0)
    for (unsigned i = 0; i < l.n && !priv; i++)
      if (addrlist_private(l.a[i].family, l.a[i].bytes))
        priv = l.a[i].text;
  if (port < 1024 && port != 80 && port != 443)
    log_event(LOG_WARN, "https_media_low_port", LF_INT("port", port),
              LF_STR("effect", "Chromium ignores ICE-TCP candidates below port 1024 other "
                               "than 80 and 443: only Firefox will use media on this port "
                               "(see docs/operations.md)"));
  else if (port < 1024 && priv)
    log_event(LOG_WARN, "https_media_low_port", LF_INT("port", port), LF_STR("address", priv),
              LF_STR("effect", "Chromium takes ICE-TCP on port 80 or 443 only at a public "
                               "address: on this private one only Firefox will use it "
                               "(see docs/operations.md)"));
}

/* The Host header's host without its port, if it is a plausible host name or IP literal
 * (so nothing odd reaches the Location header); else NULL. */
static const char *host_of(const char *hdr, char *buf, size_t len) {
  size_t n;
  if (!hdr || !*hdr)
    return NULL;
  if (hdr[0] == '[') {
    const char *e = strchr(hdr, ']');
    n = e ? (size_t)(e - hdr) + 1 : 0;
  } else {
    n = strcspn(hdr, ":");
  }
  if (n == 0 || n >= len)
    return NULL;
  memcpy(buf, hdr, n);
  buf[n] = '\0';
  if (strspn(buf, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-[]:") != n)
    return NULL;
  return buf;
}

static void on_redirect_request(void *arg, const struct httpd_request *req,
                                struct httpd_reply *rep) {
  struct app *a = arg;
  char hbuf[256], loc[2048], port[16] = "";
  const char *host = host_of(httpd_header(req, "Host"), hbuf, sizeof(hbuf));
  int p = a->httpd ? httpd_port(a->httpd) : a->cfg.http_port;
  int n;
  if (!host) {
    httpd_reply_status(rep, 400);
    return;
  }
  if (p != 443)
    snprintf(port, sizeof(port), ":%d", p);
  n = snprintf(loc, sizeof(loc), "https://%s%s%s%s%s", host, port, req->path,
               req->query[0] ? "?" : "", req->query);
  if (n < 0 || (size_t)n >= sizeof(loc)) {
    httpd_reply_status(rep, 414);
    return;
  }
  httpd_reply_status(rep, 308);
  httpd_reply_header(rep, "Location", loc);
  httpd_reply_body(rep, "text/plain; charset=utf-8", "This site is served over HTTPS.\n", 32,
                   false);
}

int app_tls_listen_redirect(struct app *a) {
  struct httpd_config hc;
  struct httpd_handlers hh = {.on_request = on_redirect_request, .arg = a};
  int rc;
  if (!a->cfg.http_redirect_port)
    return 0;
  httpd_config_default(&hc);
  hc.host = a->cfg.http_addr;
  hc.port = a->cfg.http_redirect_port;
  hc.trust_proxy = a->cfg.trust_proxy;
  hc.max_conns_per_ip = a->cfg.max_conns_per_ip ? (unsigned)a->cfg.max_conns_per_ip : UINT_MAX;
  /* A small share of the descriptors: browsers come here once, then stay on HTTPS. */
  hc.max_conns = 256;
  hc.reserve_paths = "/healthz";
  if (!(a->redirect_httpd = httpd_new(a->loop, &hc, &hh)))
    return -ENOMEM;
  if ((rc = httpd_listen(a->redirect_httpd)) != 0)
    log_event(LOG_ERROR, "listen_failed", LF_STR("what", "http_redirect"),
              LF_STR("addr", a->cfg.http_addr), LF_INT("port", a->cfg.http_redirect_port),
              LF_STR("error", uv_strerror(rc)));
  return rc;
}
