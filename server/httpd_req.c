/* httpd_req.c -- HTTP request assembly: http-parser callbacks, header table, client IP. */
#include "server/httpd_int.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* Appends to hbuf, always leaving room for one more byte (a NUL). */
static int buf_add(struct httpd_conn *c, const char *at, size_t len) {
  if (httpd__grow(&c->hbuf, &c->hcap, c->hlen + len + 1) != 0) {
    c->err_status = 503;
    return -1;
  }
  memcpy(c->hbuf + c->hlen, at, len);
  c->hlen += len;
  return 0;
}

static int count_header(struct httpd_conn *c, size_t len) {
  c->header_bytes += len;
  if (c->header_bytes > c->srv->cfg.max_header_bytes) {
    c->err_status = 431;
    return -1;
  }
  return 0;
}

static void end_string(struct httpd_conn *c) {
  c->hbuf[c->hlen++] = '\0'; /* buf_add always leaves room for one byte */
}

/* Terminates the URL or the last header value. */
static int end_fields(struct httpd_conn *c) {
  if (!c->url_done) {
    if (buf_add(c, "", 0) != 0)
      return -1;
    end_string(c);
    c->url_done = true;
  }
  if (c->hstate == 2)
    end_string(c);
  c->hstate = 0;
  return 0;
}

static int on_message_begin(http_parser *p) {
  struct httpd_conn *c = p->data;
  c->hlen = c->url_len = c->header_bytes = c->body_len = 0;
  c->nhdr = 0;
  c->hstate = 0;
  c->url_done = false;
  c->err_status = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  struct httpd_conn *c = p->data;
  if (count_header(c, len) || buf_add(c, at, len))
    return -1;
  c->url_len += len;
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  struct httpd_conn *c = p->data;
  if (!c->url_done && end_fields(c) != 0)
    return -1;
  if (c->hstate != 1) {
    if (c->hstate == 2)
      end_string(c);
    if (c->nhdr == HTTPD__MAX_HEADERS) {
      c->err_status = 431;
      return -1;
    }
    c->hdr[c->nhdr].name = (uint32_t)c->hlen;
    c->hdr[c->nhdr].value = UINT32_MAX;
    c->nhdr++;
    c->hstate = 1;
    if (count_header(c, 4)) /* ": " and CRLF */
      return -1;
  }
  return count_header(c, len) || buf_add(c, at, len) ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  struct httpd_conn *c = p->data;
  if (c->hstate != 2) {
    if (c->hstate != 1)
      return -1;
    end_string(c);
    c->hdr[c->nhdr - 1].value = (uint32_t)c->hlen;
    c->hstate = 2;
  }
  return count_header(c, len) || buf_add(c, at, len) ? -1 : 0;
}

/* Copies hbuf[off, off+len) to the end of hbuf as a string; returns its offset. */
static int add_copy(struct httpd_conn *c, size_t off, size_t len, size_t *out) {
  if (buf_add(c, "", 0) != 0 || httpd__grow(&c->hbuf, &c->hcap, c->hlen + len + 1) != 0)
    return -1;
  memmove(c->hbuf + c->hlen, c->hbuf + off, len);
  *out = c->hlen;
  c->hlen += len;
  end_string(c);
  return 0;
}

static int on_headers_complete(http_parser *p) {
  struct httpd_conn *c = p->data;
  struct http_parser_url u;
  size_t po = 0, pl = 0, qo = 0, ql = 0;
  const char *expect;
  struct httpd_request fake = { .conn_ = c };
  if (end_fields(c) != 0)
    return -1;
  if (p->method == HTTP_CONNECT)
    goto bad;
  if (c->url_len == 1 && c->hbuf[0] == '*') {
    pl = 1;
  } else {
    http_parser_url_init(&u);
    if (c->url_len == 0 || http_parser_parse_url(c->hbuf, c->url_len, 0, &u) != 0)
      goto bad;
    if (u.field_set & (1 << UF_PATH)) {
      po = u.field_data[UF_PATH].off;
      pl = u.field_data[UF_PATH].len;
    }
    if (u.field_set & (1 << UF_QUERY)) {
      qo = u.field_data[UF_QUERY].off;
      ql = u.field_data[UF_QUERY].len;
    }
  }
  if (pl == 0) { /* "http://host" */
    if (buf_add(c, "/", 1))
      return -1;
    po = c->hlen - 1;
    pl = 1;
  }
  if (add_copy(c, po, pl, &c->path_off) || add_copy(c, qo, ql, &c->query_off))
    return -1;
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->srv->cfg.max_body_bytes) {
    c->err_status = 413;
    return -1;
  }
  expect = httpd_header(&fake, "expect");
  if (expect && !strcasecmp(expect, "100-continue") && p->http_major == 1 &&
      p->http_minor >= 1) {
    httpd__send_continue(c);
  }
  return 0;
bad:
  c->err_status = 400;
  return -1;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct httpd_conn *c = p->data;
  if (len > c->srv->cfg.max_body_bytes - c->body_len) {
    c->err_status = 413;
    return -1;
  }
  if (httpd__grow(&c->body, &c->body_cap, c->body_len + len + 1) != 0) {
    c->err_status = 503;
    return -1;
  }
  memcpy(c->body + c->body_len, at, len);
  c->body_len += len;
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct httpd_conn *c = p->data;
  if (end_fields(c) != 0) /* trailers */
    return -1;
  /* Dispatch outside the parser, with this request's buffers intact. */
  http_parser_pause(p, 1);
  return 0;
}

const http_parser_settings httpd__parser_settings = {
  .on_message_begin = on_message_begin,
  .on_url = on_url,
  .on_header_field = on_header_field,
  .on_header_value = on_header_value,
  .on_headers_complete = on_headers_complete,
  .on_body = on_body,
  .on_message_complete = on_message_complete,
};

const char *httpd_header(const struct httpd_request *r, const char *name) {
  const struct httpd_conn *c;
  unsigned i;
  if (!r || !r->conn_ || !name)
    return NULL;
  c = r->conn_;
  for (i = 0; i < c->nhdr; i++) {
    if (!strcasecmp(c->hbuf + c->hdr[i].name, name))
      return c->hdr[i].value == UINT32_MAX ? "" : c->hbuf + c->hdr[i].value;
  }
  return NULL;
}

/* remote_ip: the socket peer, or X-Forwarded-For's last hop behind a proxy. */
void httpd__set_client_ip(struct httpd_conn *c) {
  const char *xff = NULL, *p;
  char tmp[HTTPD__IP_LEN];
  unsigned char addr[sizeof(struct in6_addr)];
  size_t len;
  unsigned i;
  strcpy(c->client_ip, c->peer_ip);
  if (!c->srv->cfg.trust_proxy)
    return;
  for (i = 0; i < c->nhdr; i++) {
    if (!strcasecmp(c->hbuf + c->hdr[i].name, "x-forwarded-for") &&
        c->hdr[i].value != UINT32_MAX)
      xff = c->hbuf + c->hdr[i].value;
  }
  if (!xff)
    return;
  p = strrchr(xff, ',');
  p = p ? p + 1 : xff;
  p += strspn(p, " \t[");
  len = strcspn(p, " \t]");
  if (len == 0 || len >= sizeof(tmp))
    return;
  memcpy(tmp, p, len);
  tmp[len] = '\0';
  if (inet_pton(AF_INET, tmp, addr) == 1)
    inet_ntop(AF_INET, addr, c->client_ip, sizeof(c->client_ip));
  else if (inet_pton(AF_INET6, tmp, addr) == 1)
    inet_ntop(AF_INET6, addr, c->client_ip, sizeof(c->client_ip));
}
