/* admin_proxy.c -- /api/nodes/{node}/{rest}: the admin API of any live node of a cluster,
 * reached through this one (docs/admin-api.md, "The other nodes"), so that the console, served
 * by any node behind a load balancer, can read and act on every node.
 *
 * The request (its method, query, body, Authorization and X-Tandem-Actor) goes to
 * {admin_url of node}/api/{rest}, the node's entry read from Redis (admin_nodes.c) at each
 * request; this node's own number is answered here, with no HTTP. Requests are authorized
 * here first (admin.c), marked with X-Tandem-Proxied, and a marked request is never proxied
 * again, so no request can go round. The answer (status, Content-Type, body up to
 * PROXY_MAX_RESPONSE) is passed back as it came, but for a 401 (the other node refused the
 * token: every node needs the same admin_token), which becomes a 502 so that the console
 * does not take it for its own token. The HTTP client (httpfetch.c) is made at the first
 * proxied request: a node alone never makes one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/admin.h"
#include "server/admin_int.h"
#include "server/app_int.h"
#include "moderation/httpfetch.h"
#include "server/log.h"
#include "server/nodewire.h"
#include "server/proxypath.h"

#define PROXIED_HEADER "X-Tandem-Proxied"
#define PROXY_MAX_RESPONSE (8u << 20) /* an evidence clip is up to ~1.5 MiB, lists 1000 rows */
/* Requests to other nodes at once; more get 503. Well below a node's max_conns_per_ip (64 by
 * default), which counts another node's connections too. */
#define PROXY_INFLIGHT 32
#define PROXY_CONNECT_MS 3000

enum stage { LOOKUP, FETCH };

/* What became of the requests (tandem_admin_proxy_requests_total{result}). */
enum outcome { ANSWERED, LOCAL, FAILED, REFUSED, N_OUTCOMES };
static uint64_t outcomes[N_OUTCOMES];
static const char *const outcome_names[N_OUTCOMES] = {"answered", "local", "failed", "refused"};

struct proxy_job {
  struct app *a;
  struct httpd_deferred *d;      /* NULL once cancelled */
  struct httpfetch_job *fj;      /* in FETCH */
  enum stage stage;
  unsigned node;
  char method[8];
  char target[PROXYPATH_TARGET_MAX]; /* "/api/{rest}[?query]" */
  char auth[300], actor[100], ctype[160];
  char *body;
  size_t body_len;
};

static void job_free(struct proxy_job *j) {
  free(j->body);
  free(j);
}

/* A header value to pass on: printable ASCII, bounded. NULL when absent; "" when unusable. */
static const char *header_copy(const struct httpd_request *req, const char *name, char *buf,
                               size_t cap) {
  const char *h = httpd_header(req, name);
  if (!h)
    return NULL;
  size_t n = strlen(h);
  buf[0] = 0;
  if (n >= cap - strlen(name) - 3)
    return buf;
  for (size_t i = 0; i < n; i++)
    if (h[i] < ' ' || h[i] > '~')
      return buf;
  snprintf(buf, cap, "%s: %s", name, h);
  return buf;
}

static struct httpfetch *client(struct app *a) {
  if (!a->fetch && !a->closing) {
    int rc = httpfetch_new(a->loop, PROXY_INFLIGHT, &a->fetch);
    if (rc) {
      log_event(LOG_WARN, "admin_proxy_failed", LF_STR("what", "HTTP client"),
                LF_STR("error", uv_strerror(rc)));
      a->fetch = NULL;
    }
  }
  return a->fetch;
}

static void on_cancel(void *arg) {
  struct proxy_job *j = arg;
  j->d = NULL;
  if (j->stage == FETCH) { /* a lookup still answers: the job is freed there */
    httpfetch_cancel(j->fj);
    job_free(j);
  }
}

/* Sends the answer (the job stays the caller's to free). */
static void finish(struct proxy_job *j) {
  httpd_deferred_send(j->d);
  j->d = NULL;
}

static void on_fetch(void *arg, int err, const struct httpfetch_resp *resp) {
  struct proxy_job *j = arg;
  struct httpd_reply *rep = httpd_deferred_reply(j->d);
  j->fj = NULL;
  if (!rep) {
    job_free(j);
    return;
  }
  unsigned tmo = (unsigned)j->a->cfg.admin_proxy_timeout_ms;
  outcomes[err || resp->status == 401 ? FAILED : ANSWERED]++;
  if (err == -ETIMEDOUT) {
    admin_error(rep, 504, "node_timeout", "node %u did not answer within %u ms", j->node, tmo);
  } else if (err == -ECANCELED) {
    admin_error(rep, 503, "busy", "shutting down");
  } else if (err == -EFBIG) {
    admin_error(rep, 502, "node_bad_answer", "node %u answered with more than %u bytes", j->node,
                PROXY_MAX_RESPONSE);
  } else if (err) {
    admin_error(rep, 502, "node_unreachable", "node %u could not be reached: %s", j->node,
                err == -ECONNREFUSED ? "connection refused" : strerror(-err));
  } else if (resp->status == 401) {
    admin_error(rep, 502, "node_refused",
                "node %u refused the admin token: every node needs the same admin_token",
                j->node);
  } else {
    bool plain = resp->ctype[0] && strlen(resp->ctype) < 128;
    for (const char *c = resp->ctype; plain && *c; c++)
      plain = *c >= ' ' && *c <= '~';
    httpd_reply_status(rep, resp->status);
    httpd_reply_header(rep, "Cache-Control", "no-store");
    httpd_reply_body(rep, plain ? resp->ctype : "application/octet-stream", resp->body, resp->len,
                     true);
  }
  finish(j);
  job_free(j);
}

static void on_node(void *arg, int status, const struct nodewire *n) {
  struct proxy_job *j = arg;
  struct httpd_reply *rep = httpd_deferred_reply(j->d);
  if (!rep) {
    job_free(j);
    return;
  }
  if (status)
    outcomes[status == -ENOENT ? REFUSED : FAILED]++;
  if (status == -ENOENT) {
    admin_error(rep, 404, "not_found", "node %u is not among the live nodes (GET /api/nodes)",
                j->node);
  } else if (status == -EBADMSG) {
    admin_error(rep, 502, "node_bad_entry", "node %u's entry in Redis is not valid", j->node);
  } else if (status || !client(j->a)) {
    if (!status)
      outcomes[FAILED]++;
    admin_error(rep, 503, status ? "cluster_unreachable" : "busy", "%s",
                status ? "Redis went away; retry once it is back" : "shutting down");
  } else {
    char url[NODEWIRE_URL_MAX + sizeof(j->target) + 2], mark[48];
    snprintf(url, sizeof(url), "%s", n->admin_url);
    size_t ul = strlen(url);
    if (ul && url[ul - 1] == '/')
      url[--ul] = 0;
    snprintf(url + ul, sizeof(url) - ul, "%s", j->target);
    snprintf(mark, sizeof(mark), PROXIED_HEADER ": %u", j->a->node);
    const char *hdrs[5] = {mark};
    size_t k = 1;
    if (j->auth[0])
      hdrs[k++] = j->auth;
    if (j->actor[0])
      hdrs[k++] = j->actor;
    if (j->ctype[0])
      hdrs[k++] = j->ctype;
    struct httpfetch_req q = {
        .method = j->method, .url = url, .headers = hdrs, .body = j->body,
        .body_len = j->body_len, .timeout_ms = (unsigned)j->a->cfg.admin_proxy_timeout_ms,
        .connect_timeout_ms = PROXY_CONNECT_MS, .max_response = PROXY_MAX_RESPONSE,
    };
    int rc = httpfetch_start(j->a->fetch, &q, on_fetch, j, &j->fj);
    if (!rc) {
      j->stage = FETCH;
      return;
    }
    outcomes[FAILED]++;
    if (rc == -EAGAIN)
      admin_error(rep, 503, "busy", "too many requests to other nodes in progress; retry shortly");
    else
      admin_errno(rep, rc, "request to another node");
  }
  finish(j);
  job_free(j);
}

void admin_proxy(struct admin_req *r, const char *after) {
  struct app *a = r->a;
  const struct httpd_request *req = r->req;
  unsigned node;
  const char *rest;
  enum proxypath_result pr = proxypath_parse(after, req->query, NODEWIRE_NODE_MAX, &node, &rest);
  if (pr != PROXYPATH_OK || httpd_header(req, PROXIED_HEADER))
    outcomes[REFUSED]++;
  if (pr == PROXYPATH_BAD_NODE) {
    admin_error(r->rep, 400, "bad_node", "the node is a number 0-%u, then a path: "
                "/api/nodes/{node}/{path under /api/}", NODEWIRE_NODE_MAX);
    return;
  }
  if (pr == PROXYPATH_BAD_PATH) {
    admin_error(r->rep, 400, "bad_path", "the path after /api/nodes/%u/ must be a path under "
                "/api/ (segments of letters, digits, '_', '-', '.'; no '.' or '..')", node);
    return;
  }
  if (pr == PROXYPATH_LOOP || httpd_header(req, PROXIED_HEADER)) {
    admin_error(r->rep, 400, "proxy_loop", "a request through /api/nodes/ is not sent on again");
    return;
  }
  const char *m = req->method;
  if (strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "POST") && strcmp(m, "DELETE")) {
    outcomes[REFUSED]++;
    admin_error(r->rep, 405, "method_not_allowed", "%s is not allowed on %.100s", m, req->path);
    return;
  }
  char nodes[16];
  snprintf(nodes, sizeof(nodes), "%u", node);
  httpd_reply_header(r->rep, "X-Tandem-Node", nodes);
  struct proxy_job *j = calloc(1, sizeof(*j));
  if (!j) {
    admin_errno(r->rep, -ENOMEM, "request");
    return;
  }
  size_t path_len = proxypath_target(j->target, rest, req->query);
  if (node == a->node) {
    /* This node: routed here, as if it had come as /api/{rest}. */
    struct httpd_request local = *req;
    j->target[path_len] = 0;
    local.path = j->target;
    struct admin_req lr = *r;
    lr.req = &local;
    outcomes[LOCAL]++;
    admin_route(&lr);
    free(j);
    return;
  }
  j->a = a;
  j->node = node;
  snprintf(j->method, sizeof(j->method), "%s", m);
  const char *h;
  if ((h = header_copy(req, "Authorization", j->auth, sizeof(j->auth))) && !h[0]) {
    outcomes[REFUSED]++;
    admin_error(r->rep, 400, "bad_request", "the Authorization header is too long");
    free(j);
    return;
  }
  if ((h = header_copy(req, "X-Tandem-Actor", j->actor, sizeof(j->actor))) && !h[0]) {
    outcomes[REFUSED]++;
    admin_error(r->rep, 400, "bad_request", "X-Tandem-Actor must be 1-64 printable characters");
    free(j);
    return;
  }
  header_copy(req, "Content-Type", j->ctype, sizeof(j->ctype)); /* unusable: not sent */
  if (req->body_len && !(j->body = malloc(req->body_len))) {
    admin_errno(r->rep, -ENOMEM, "request");
    free(j);
    return;
  }
  if (req->body_len)
    memcpy(j->body, req->body, req->body_len);
  j->body_len = req->body_len;
  /* Past the fetch's own timeout, the lookup's and a margin: the answer is always ours. */
  j->d = httpd_defer(r->rep, (unsigned)a->cfg.admin_proxy_timeout_ms + 5000, on_cancel, j);
  if (!j->d) {
    admin_errno(r->rep, -ENOMEM, "request");
    job_free(j);
    return;
  }
  int rc = admin_nodes_find(a, node, on_node, j);
  if (rc) {
    outcomes[rc == -ENOENT ? REFUSED : FAILED]++;
    struct httpd_reply *rep = httpd_deferred_reply(j->d);
    if (rc == -ENOENT)
      admin_error(rep, 404, "not_found", "node %u is not a live node: this node (%u) is alone",
                  node, a->node);
    else if (rc == -EAGAIN)
      admin_error(rep, 503, "busy", "too much in progress; retry shortly");
    else if (rc == -ENOTCONN)
      admin_error(rep, 503, "cluster_unreachable",
                  "Redis is unreachable: the live nodes are not known; retry once it is back");
    else
      admin_errno(rep, rc, "node");
    finish(j);
    job_free(j);
  }
}

void admin_proxy_close(struct app *a, void (*done)(void *arg), void *arg) {
  struct httpfetch *f = a->fetch;
  a->fetch = NULL;
  if (f)
    httpfetch_close(f, done, arg);
  else if (done)
    done(arg);
}

void admin_proxy_metrics(FILE *f) {
  fprintf(f, "# HELP tandem_admin_proxy_requests_total Requests to /api/nodes/{node}/...: "
             "another node's answer passed back, answered here (this node's own number), "
             "failed (the node unreachable, slow, refusing the token or answering too much; "
             "Redis away), refused (a bad node or path, a loop, an unknown node).\n"
             "# TYPE tandem_admin_proxy_requests_total counter\n");
  for (int i = 0; i < N_OUTCOMES; i++)
    fprintf(f, "tandem_admin_proxy_requests_total{result=\"%s\"} %llu\n", outcome_names[i],
            (unsigned long long)outcomes[i]);
}
