/* ctl_cluster.c -- tandemctl and the nodes of a cluster (docs/operations.md, "Seeing the whole
 * cluster"). The node --url names lists every live node and the URL of its admin API
 * (GET /api/nodes, from Redis); listings are gathered from every node and actions on a peer
 * or a report go to the node whose number is in its id (node << 42 | serial). A server
 * without /api/nodes (an older one) or alone (node 0) is talked to as before. Every entry of
 * the list is decoded strictly (server/nodewire.c): tandemctl sends the admin token only to
 * URLs of the form http(s)://HOST[:PORT]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/nodewire.h"
#include "tools/ctl.h"

struct cluster {
  bool known;    /* the server has /api/nodes */
  unsigned self; /* the node that answered (0: alone) */
  bool redis_up;
  size_t n;
  struct nodewire *v; /* sorted by node */
  json_t *answer;     /* as the server sent it */
  char *raw;
};

void ctl_cluster_free(struct ctl *c) {
  struct cluster *cl = c->cluster;
  if (!cl)
    return;
  free(cl->v);
  json_decref(cl->answer);
  free(cl->raw);
  free(cl);
  c->cluster = NULL;
}

static int cmp_nodes(const void *x, const void *y) {
  unsigned a = ((const struct nodewire *)x)->node, b = ((const struct nodewire *)y)->node;
  return a < b ? -1 : a > b;
}

/* GET /api/nodes from the node --url names, once a run: CTL_OK with c->cluster set (known is
 * false for a server without that route), or the exit code with the message printed. */
static int load(struct ctl *c, struct cluster **out) {
  if (c->cluster) {
    *out = c->cluster;
    return CTL_OK;
  }
  struct cluster *cl = calloc(1, sizeof(*cl));
  if (!cl)
    return ctl_fail(c, CTL_FAILED, "out of memory");
  struct ctl_resp r;
  json_t *j = NULL;
  int rc = ctl_request(c, "GET", "/api/nodes", NULL, CTL_JSON_MAX, &r);
  if (rc == CTL_OK && (r.status == 404 || r.status == 405)) {
    c->cluster = cl; /* an older server: one node */
    ctl_resp_free(&r);
    *out = cl;
    return CTL_OK;
  }
  if (rc == CTL_OK)
    rc = ctl_answer_json(c, &r, &j);
  json_t *self = json_object_get(j, "self"), *list = json_object_get(j, "nodes"),
         *up = json_object_get(j, "redis_up");
  if (rc == CTL_OK &&
      (!json_is_integer(self) || json_integer_value(self) < 0 ||
       json_integer_value(self) > NODEWIRE_NODE_MAX || !json_is_array(list) ||
       json_array_size(list) > NODEWIRE_NODE_MAX || !json_is_boolean(up)))
    rc = ctl_fail(c, CTL_FAILED, "unexpected answer from %s: not a list of nodes", c->url);
  if (rc == CTL_OK && !(cl->v = calloc(json_array_size(list) + 1, sizeof(*cl->v))))
    rc = ctl_fail(c, CTL_FAILED, "out of memory");
  size_t i;
  json_t *e;
  if (rc == CTL_OK) {
    json_array_foreach(list, i, e) {
      struct nodewire n;
      bool dup = false;
      if (nodewire_from_json(e, &n)) {
        ctl_fail(c, CTL_OK, "warning: %s lists a node entry that is not valid; skipped", c->url);
        continue;
      }
      size_t ul = strlen(n.admin_url);
      if (ul && n.admin_url[ul - 1] == '/')
        n.admin_url[ul - 1] = 0; /* paths are appended: "/api/..." */
      for (size_t k = 0; k < cl->n; k++)
        dup = dup || cl->v[k].node == n.node;
      if (dup) {
        ctl_fail(c, CTL_OK, "warning: %s lists node %u twice; the first is used", c->url, n.node);
        continue;
      }
      cl->v[cl->n++] = n;
    }
    qsort(cl->v, cl->n, sizeof(*cl->v), cmp_nodes);
    cl->known = true;
    cl->self = (unsigned)json_integer_value(self);
    cl->redis_up = json_is_true(up);
    cl->answer = j;
    cl->raw = strdup(r.body);
    j = NULL;
    if (cl->self && !cl->redis_up)
      ctl_fail(c, CTL_OK, "warning: node %u cannot reach Redis now: it lists only itself",
               cl->self);
  }
  json_decref(j);
  ctl_resp_free(&r);
  if (rc) {
    free(cl->v);
    free(cl);
    return rc;
  }
  c->cluster = cl;
  *out = cl;
  return CTL_OK;
}

static const struct nodewire *find(const struct cluster *cl, unsigned node) {
  for (size_t i = 0; i < cl->n; i++)
    if (cl->v[i].node == node)
      return &cl->v[i];
  return NULL;
}

/* Every request from now on goes to node (0: the node --url names). */
static int route_node(struct ctl *c, unsigned node) {
  struct cluster *cl;
  int rc = node ? load(c, &cl) : CTL_OK;
  if (rc || !node)
    return rc;
  if (!cl->known || !cl->self) {
    if (c->only_node)
      return ctl_fail(c, CTL_FAILED, "%s is not part of a cluster: --node does not apply",
                      c->url);
    return CTL_OK; /* alone: the server says whether it knows the id */
  }
  /* To the node's own URL even when it is the one that answered: --url may be a load
   * balancer, which would send the next request anywhere. */
  const struct nodewire *n = find(cl, node);
  if (!n && cl->self == node)
    return CTL_OK;
  if (!n)
    return ctl_fail(c, CTL_FAILED, "node %u is not among the live nodes %s lists (see "
                                   "tandemctl nodes)", node, c->url);
  if (!strcmp(n->admin_url, c->url))
    return CTL_OK;
  c->url = n->admin_url;
  ctl_close(c); /* a new connection for the new server */
  return CTL_OK;
}

int ctl_route(struct ctl *c, int64_t id) {
  unsigned node = CTL_NODE_OF(id);
  if (c->only_node && node && node != c->only_node)
    return ctl_fail(c, CTL_USAGE, "id %lld belongs to node %u, not to --node %u", (long long)id,
                    node, c->only_node);
  return route_node(c, node ? node : c->only_node);
}

int ctl_each_node(struct ctl *c, int (*fn)(struct ctl *sub, void *arg), void *arg) {
  struct cluster *cl;
  int rc = c->only_node ? route_node(c, c->only_node) : load(c, &cl);
  if (rc)
    return rc;
  if (c->only_node || !cl->known || !cl->self || cl->n < 2)
    return fn(c, arg);
  for (size_t i = 0; i < cl->n; i++) {
    struct ctl sub = *c;
    sub.url = cl->v[i].admin_url;
    sub.curl = NULL;
    int r1 = fn(&sub, arg);
    ctl_close(&sub);
    if (r1 && !rc)
      rc = r1;
  }
  return rc;
}

/* ---- gathering a listing from every node ---- */

static int cmp_desc(const void *x, const void *y, const char *key) {
  json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
  json_int_t va = json_integer_value(json_object_get(a, key)),
             vb = json_integer_value(json_object_get(b, key));
  if (va != vb)
    return va > vb ? -1 : 1;
  va = json_integer_value(json_object_get(a, "node"));
  vb = json_integer_value(json_object_get(b, "node"));
  return va < vb ? -1 : va > vb;
}
static int cmp_time(const void *x, const void *y) { return cmp_desc(x, y, "time_ms"); }

/* One node's answer into the merged list: CTL_OK, or the exit code with the message printed. */
static int one(struct ctl *sub, unsigned node, const char *path, const char *key, json_t *all,
               bool *more) {
  struct ctl_resp r;
  json_t *j = NULL, *list;
  int rc = ctl_request(sub, "GET", path, NULL, CTL_JSON_MAX, &r);
  if (rc == CTL_OK)
    rc = ctl_answer_json(sub, &r, &j);
  if (rc == CTL_OK && !json_is_array(list = json_object_get(j, key)))
    rc = ctl_fail(sub, CTL_FAILED, "unexpected answer from %s: no \"%s\" list", sub->url, key);
  if (rc == CTL_OK) {
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
      if (!json_is_object(e))
        continue;
      json_object_set_new(e, "node", json_integer(node));
      json_array_append(all, e);
    }
    *more = *more || json_is_integer(json_object_get(j, "next_before_id"));
  }
  json_decref(j);
  ctl_resp_free(&r);
  return rc;
}

int ctl_gather(struct ctl *c, const char *path, const char *key, size_t limit,
               struct ctl_gather *g) {
  memset(g, 0, sizeof(*g));
  struct cluster *cl;
  int rc = c->only_node ? route_node(c, c->only_node) : load(c, &cl);
  if (rc)
    return rc;
  if (c->only_node || !cl->known || !cl->self || cl->n < 2) {
    struct ctl_resp r;
    rc = ctl_request(c, "GET", path, NULL, CTL_JSON_MAX, &r);
    if (rc == CTL_OK)
      rc = ctl_answer_json(c, &r, &g->answer);
    if (rc == CTL_OK && !json_is_array(json_object_get(g->answer, key)))
      rc = ctl_fail(c, CTL_FAILED, "unexpected answer from %s: no \"%s\" list", c->url, key);
    if (rc == CTL_OK && !(g->raw = strdup(r.body)))
      rc = ctl_fail(c, CTL_FAILED, "out of memory");
    ctl_resp_free(&r);
    g->list = json_object_get(g->answer, key);
    return rc;
  }
  json_t *all = json_array(), *nodes = json_array();
  bool more = false;
  for (size_t i = 0; i < cl->n; i++) {
    struct ctl sub = *c;
    sub.url = cl->v[i].admin_url;
    sub.curl = NULL;
    int r1 = one(&sub, cl->v[i].node, path, key, all, &more);
    ctl_close(&sub);
    json_array_append_new(nodes, json_pack("{s:I, s:s, s:b}", "node", (json_int_t)cl->v[i].node,
                                           "admin_url", cl->v[i].admin_url, "ok", r1 == CTL_OK));
    if (r1 && !rc)
      rc = r1;
  }
  size_t n = json_array_size(all);
  if (limit) {
    json_t **v = malloc((n ? n : 1) * sizeof(*v));
    if (v) {
      for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(all, i));
      qsort(v, n, sizeof(*v), cmp_time);
      json_array_clear(all);
      for (size_t i = 0; i < n && i < limit; i++)
        json_array_append(all, v[i]);
      for (size_t i = 0; i < n; i++)
        json_decref(v[i]);
      free(v);
    }
    more = more || n > limit;
    n = json_array_size(all);
  }
  g->multi = true;
  g->answer = json_pack("{s:o, s:I, s:b, s:o}", key, all, "count", (json_int_t)n, "more", more,
                        "nodes", nodes);
  g->list = json_object_get(g->answer, key);
  if (!g->answer)
    return ctl_fail(c, CTL_FAILED, "out of memory");
  return rc;
}

void ctl_gather_free(struct ctl_gather *g) {
  json_decref(g->answer);
  free(g->raw);
  memset(g, 0, sizeof(*g));
}

void ctl_gather_print_json(const struct ctl_gather *g) {
  if (g->raw) {
    fputs(g->raw, stdout);
    size_t n = strlen(g->raw);
    if (!n || g->raw[n - 1] != '\n')
      putchar('\n');
    return;
  }
  char *s = json_dumps(g->answer, JSON_COMPACT);
  if (s)
    printf("%s\n", s);
  free(s);
}

/* ---- tandemctl nodes ---- */

int cmd_nodes(struct ctl *c, int argc, char **argv) {
  size_t np;
  int rc = ctl_parse_args(c, argc, argv, NULL, NULL, 0, &np);
  if (rc || (rc = ctl_settle(c)))
    return rc;
  struct cluster *cl;
  if ((rc = load(c, &cl)))
    return rc;
  if (!cl->known)
    return ctl_fail(c, CTL_FAILED, "%s has no list of nodes (GET /api/nodes): an older "
                                   "server?", c->url);
  if (c->json) {
    fputs(cl->raw, stdout);
    putchar('\n');
    return CTL_OK;
  }
  json_t *list = json_object_get(cl->answer, "nodes");
  static const char *const heads[] = {"NODE", "ADMIN URL", "VERSION", "UP",
                                      "VISITORS", "PAIRS", "ROLE"};
  struct ctl_table *t = ctl_table_new(7, heads);
  int64_t now = (int64_t)time(NULL) * 1000;
  unsigned visitors = 0, pairs = 0;
  for (size_t i = 0; i < cl->n; i++) {
    const struct nodewire *n = &cl->v[i];
    bool matcher = false, self = n->node == cl->self;
    size_t k;
    json_t *e;
    json_array_foreach(list, k, e) if (json_integer_value(json_object_get(e, "node")) == n->node)
        matcher = json_is_true(json_object_get(e, "matcher"));
    char node[24], up[32], vis[16], prs[16], role[64];
    snprintf(node, sizeof(node), "%u%s", n->node, self ? "*" : "");
    snprintf(vis, sizeof(vis), "%u", n->visitors);
    snprintf(prs, sizeof(prs), "%u", n->pairs);
    snprintf(role, sizeof(role), "%s%s%s", matcher ? "matcher" : "",
             matcher && n->draining ? ", " : "", n->draining ? "draining" : "");
    int64_t s = n->started_ms && (int64_t)n->started_ms < now
                    ? (now - (int64_t)n->started_ms) / 1000 : 0;
    const char *row[] = {node, n->admin_url, n->version, ctl_span(s, up, sizeof(up)), vis, prs,
                         role[0] ? role : "-"};
    ctl_table_add(t, row);
    visitors += n->visitors;
    pairs += n->pairs;
  }
  ctl_table_print(t);
  ctl_table_free(t);
  printf("%zu node%s, %u visitor%s, %u pair%s (* answered: %s)\n", cl->n, cl->n == 1 ? "" : "s",
         visitors, visitors == 1 ? "" : "s", pairs, pairs == 1 ? "" : "s", c->url);
  return CTL_OK;
}
