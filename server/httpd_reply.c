/* httpd_reply.c -- HTTP responses: status, headers and body, serialized and queued. */
#include "server/httpd_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One queued response: the head lives after the struct, the body is either
 * static or `owned`. */
struct out_req {
  uv_write_t req;
  void *owned;
  size_t cost; /* added to the connection's out_bytes while queued */
  char head[];
};

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

void httpd_reply_status(struct httpd_reply *rep, int status) {
  if (rep && !rep->moved)
    rep->status = status;
}

void httpd_reply_header(struct httpd_reply *rep, const char *name, const char *value) {
  size_t nl, vl;
  if (!rep || rep->moved || !name || !value || !*name || strpbrk(name, "\r\n: \t") ||
      strpbrk(value, "\r\n"))
    return;
  if (!strcasecmp(name, "content-length") || !strcasecmp(name, "transfer-encoding"))
    return;
  if (!strcasecmp(name, "connection")) {
    rep->conn_hdr = true;
    if (strcasestr(value, "close"))
      rep->conn_close = true;
  }
  nl = strlen(name);
  vl = strlen(value);
  if (httpd__grow(&rep->hdrs, &rep->hcap, rep->hlen + nl + vl + 4) != 0) {
    rep->oom = true;
    return;
  }
  memcpy(rep->hdrs + rep->hlen, name, nl);
  memcpy(rep->hdrs + rep->hlen + nl, ": ", 2);
  memcpy(rep->hdrs + rep->hlen + nl + 2, value, vl);
  memcpy(rep->hdrs + rep->hlen + nl + 2 + vl, "\r\n", 2);
  rep->hlen += nl + vl + 4;
}

void httpd_reply_body(struct httpd_reply *rep, const char *ctype, const void *body,
                      size_t len, bool copy) {
  if (!rep || rep->moved)
    return;
  free(rep->owned);
  rep->owned = NULL;
  if (!body)
    len = 0;
  rep->ctype[0] = '\0';
  if (ctype && !strpbrk(ctype, "\r\n") && strlen(ctype) < sizeof(rep->ctype))
    strcpy(rep->ctype, ctype);
  rep->has_body = true;
  rep->body = body;
  rep->body_len = len;
  if (copy && len) {
    rep->owned = malloc(len);
    if (!rep->owned) {
      rep->oom = true;
      rep->body_len = 0;
      return;
    }
    memcpy(rep->owned, body, len);
    rep->body = rep->owned;
  }
}

static void on_write(uv_write_t *req, int status) {
  struct out_req *w = (struct out_req *)req;
  struct httpd_conn *c = req->data;
  c->out_bytes -= w->cost;
  free(w->owned);
  free(w);
  httpd__conn_written(c, status);
}

static int raw_write(struct httpd_conn *c, struct out_req *w, uv_buf_t *bufs, unsigned n) {
  unsigned i;
  w->req.data = c;
  w->cost = HTTPD__WRITE_COST;
  for (i = 0; i < n; i++)
    w->cost += bufs[i].len;
  if (httpd__write(c, &w->req, bufs, n, on_write) != 0) {
    free(w->owned);
    free(w);
    httpd__conn_close(c);
    return -EPIPE;
  }
  c->writes++;
  c->out_bytes += w->cost;
  return 0;
}

void httpd__reply_send(struct httpd_conn *c, struct httpd_reply *rep, bool head_only,
                       bool keep) {
  int st = rep->status;
  const char *reason;
  struct out_req *w;
  size_t cap, n, blen;
  bool no_body;
  uv_buf_t bufs[2];
  if (st < 100 || st > 999 || rep->oom) {
    st = 500;
    rep->hlen = 0;
    rep->has_body = rep->conn_hdr = false;
  }
  reason = http_status_str((enum http_status)st);
  if (!strcmp(reason, "<unknown>"))
    reason = "Unknown";
  if (!rep->has_body && st >= 400) {
    rep->body = reason; /* a static string from http-parser */
    rep->body_len = strlen(reason);
    strcpy(rep->ctype, "text/plain; charset=utf-8");
  }
  no_body = st < 200 || st == 204 || st == 304;
  blen = no_body ? 0 : rep->body_len;
  cap = 64 + strlen(reason) + rep->hlen + sizeof(rep->ctype) + 96;
  w = malloc(sizeof(*w) + cap);
  if (!w) {
    httpd__conn_close(c);
    return;
  }
  n = (size_t)snprintf(w->head, cap, "HTTP/1.1 %d %s\r\n", st, reason);
  if (rep->hlen)
    memcpy(w->head + n, rep->hdrs, rep->hlen);
  n += rep->hlen;
  if (!no_body && rep->ctype[0])
    n += (size_t)snprintf(w->head + n, cap - n, "Content-Type: %s\r\n", rep->ctype);
  if (st >= 200 && st != 204 && st != 304)
    n += (size_t)snprintf(w->head + n, cap - n, "Content-Length: %zu\r\n", blen);
  if (!rep->conn_hdr && st != 101) {
    if (!keep)
      n += (size_t)snprintf(w->head + n, cap - n, "Connection: close\r\n");
    else if (c->parser.http_major == 1 && c->parser.http_minor == 0)
      n += (size_t)snprintf(w->head + n, cap - n, "Connection: keep-alive\r\n");
  }
  n += (size_t)snprintf(w->head + n, cap - n, "\r\n");
  w->owned = rep->owned;
  rep->owned = NULL;
  bufs[0] = uv_buf_init(w->head, (unsigned)n);
  bufs[1] = uv_buf_init((char *)rep->body, (unsigned)blen);
  raw_write(c, w, bufs, (head_only || blen == 0) ? 1 : 2);
}

void httpd__send_continue(struct httpd_conn *c) {
  struct out_req *w = malloc(sizeof(*w));
  uv_buf_t b = uv_buf_init((char *)continue_100, sizeof(continue_100) - 1);
  if (w) {
    w->owned = NULL;
    raw_write(c, w, &b, 1);
  }
}

void httpd__reply_clear(struct httpd_reply *rep) {
  free(rep->hdrs);
  free(rep->owned);
  rep->hdrs = NULL;
  rep->owned = NULL;
  rep->hlen = rep->hcap = 0;
}
