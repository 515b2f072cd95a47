/* ctl_http.c -- tandemctl's requests to the admin API (libcurl's easy interface, one handle
 * kept for the run so paging reuses the connection), and what it makes of the answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "tools/ctl.h"

#define CONNECT_TIMEOUT_MS 10000L

struct sink {
  char *buf;
  size_t len, cap, max;
  bool too_big, oom;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg) {
  struct sink *s = arg;
  size_t n = size * nmemb;
  if (n > s->max - s->len) {
    s->too_big = true;
    return 0; /* curl stops with CURLE_WRITE_ERROR */
  }
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 16384;
    while (cap < s->len + n + 1)
      cap *= 2;
    char *b = realloc(s->buf, cap);
    if (!b) {
      s->oom = true;
      return 0;
    }
    s->buf = b;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, data, n);
  s->len += n;
  s->buf[s->len] = 0;
  return n;
}

/* Appends header h (none for NULL): false when out of memory. */
static bool add_header(struct curl_slist **l, const char *h) {
  if (!h)
    return true;
  struct curl_slist *n = curl_slist_append(*l, h);
  if (n)
    *l = n;
  return n != NULL;
}

void ctl_resp_free(struct ctl_resp *r) {
  free(r->body);
  memset(r, 0, sizeof(*r));
}

void ctl_close(struct ctl *c) {
  if (c->curl)
    curl_easy_cleanup(c->curl);
  c->curl = NULL;
}

int ctl_request(struct ctl *c, const char *method, const char *path, json_t *body, size_t max,
                struct ctl_resp *out) {
  memset(out, 0, sizeof(*out));
  if (!c->curl && !(c->curl = curl_easy_init()))
    return ctl_fail(c, CTL_FAILED, "cannot start libcurl");
  CURL *h = c->curl;
  curl_easy_reset(h);

  size_t ul = strlen(c->url), pl = strlen(path);
  char *url = malloc(ul + pl + 1);
  char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
  /* The header carrying the token is built, handed to curl and wiped; the token is never
   * printed. */
  size_t tl = c->token ? strlen(c->token) : 0;
  char *auth = tl ? malloc(tl + 32) : NULL;
  char actor[128];
  struct curl_slist *hdrs = NULL;
  struct sink s = {.max = max};
  char err[CURL_ERROR_SIZE] = "";
  int rc = CTL_OK;
  if (!url || (body && !payload) || (tl && !auth)) {
    rc = ctl_fail(c, CTL_FAILED, "out of memory");
    goto out;
  }
  memcpy(url, c->url, ul);
  memcpy(url + ul, path, pl + 1);
  if (auth)
    snprintf(auth, tl + 32, "Authorization: Bearer %s", c->token);
  snprintf(actor, sizeof(actor), "X-Tandem-Actor: %s", c->actor);
  if (!add_header(&hdrs, auth) || !add_header(&hdrs, actor) ||
      !add_header(&hdrs, "Accept: application/json, image/jpeg, video/webm") ||
      !add_header(&hdrs, "Expect:") ||
      !add_header(&hdrs, payload ? "Content-Type: application/json" : NULL)) {
    rc = ctl_fail(c, CTL_FAILED, "out of memory");
    goto out;
  }

  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "tandemctl");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
  if (!strcmp(method, "POST")) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload ? payload : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(payload ? strlen(payload) : 0));
  } else if (strcmp(method, "GET")) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  }

  CURLcode cr = curl_easy_perform(h);
  if (cr == CURLE_WRITE_ERROR && s.too_big) {
    rc = ctl_fail(c, CTL_FAILED, "the answer from %s is larger than %zu MiB; refused", c->url,
                  max >> 20);
  } else if (cr == CURLE_WRITE_ERROR && s.oom) {
    rc = ctl_fail(c, CTL_FAILED, "out of memory reading the answer");
  } else if (cr == CURLE_OPERATION_TIMEDOUT) {
    rc = ctl_fail(c, CTL_UNREACHABLE, "no answer from %s within %ld s: %s", c->url,
                  c->timeout_ms / 1000, err[0] ? err : curl_easy_strerror(cr));
  } else if (cr != CURLE_OK) {
    rc = ctl_fail(c, CTL_UNREACHABLE, "cannot reach the server at %s: %s", c->url,
                  err[0] ? err : curl_easy_strerror(cr));
  } else {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    char *ct = NULL;
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
      snprintf(out->ctype, sizeof(out->ctype), "%s", ct);
    if (!s.buf && !(s.buf = calloc(1, 1))) {
      rc = ctl_fail(c, CTL_FAILED, "out of memory");
    } else {
      out->body = s.buf;
      out->len = s.len;
      s.buf = NULL;
    }
  }
out:
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(hdrs);
  if (auth) {
    explicit_bzero(auth, tl + 32);
    free(auth);
  }
  free(s.buf);
  free(payload);
  free(url);
  return rc;
}

int ctl_refused(struct ctl *c, const struct ctl_resp *r) {
  json_t *j = json_loadb(r->body, r->len, 0, NULL);
  const char *code = NULL, *msg = NULL;
  if (json_is_object(j)) {
    json_t *e = json_object_get(j, "error"), *m = json_object_get(j, "message");
    code = json_is_string(e) ? json_string_value(e) : NULL;
    msg = json_is_string(m) ? json_string_value(m) : NULL;
  }
  char *cc = ctl_clean(code, 64), *cm = ctl_clean(msg, 300);
  int rc;
  if (r->status == 401) {
    rc = ctl_fail(c, CTL_UNAUTHORIZED,
                  "%s; set TANDEM_ADMIN_TOKEN or --token%s%s%s",
                  c->token && c->token[0] ? "the admin token was refused"
                                          : "no admin token was given",
                  msg ? " (the server says: " : "", msg ? cm : "", msg ? ")" : "");
  } else if (code) {
    rc = ctl_fail(c, CTL_FAILED, "%ld %s: %s", r->status, cc, msg ? cm : "(no message)");
  } else {
    rc = ctl_fail(c, CTL_FAILED, "HTTP %ld from %s without an admin API error (%zu bytes%s%s); "
                  "is --url right?", r->status, c->url, r->len, r->ctype[0] ? " of " : "",
                  r->ctype);
  }
  free(cc);
  free(cm);
  json_decref(j);
  return rc;
}

int ctl_answer_json(struct ctl *c, const struct ctl_resp *r, json_t **json) {
  *json = NULL;
  if (r->status < 200 || r->status >= 300)
    return ctl_refused(c, r);
  json_error_t e;
  json_t *j = json_loadb(r->body, r->len, 0, &e);
  if (!json_is_object(j)) {
    json_decref(j);
    char *snip = ctl_clean(r->body, 40);
    int rc = ctl_fail(c, CTL_FAILED,
                      "unexpected answer from %s: HTTP %ld but not a JSON object (%zu bytes: %s)",
                      c->url, r->status, r->len, snip);
    free(snip);
    return rc;
  }
  *json = j;
  return CTL_OK;
}
