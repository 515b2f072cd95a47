/* admin_int.h -- shared by admin.c (routing, peers, snapshots, kicks) and admin_store.c
 * (bans, reports, the audit log: the routes answered from the store). */
#ifndef TANDEM_ADMIN_INT_H
#define TANDEM_ADMIN_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/httpd.h"

struct app;

struct admin_req {
  struct app *a;
  const struct httpd_request *req;
  struct httpd_reply *rep;
  char actor[65];
};

void admin_json(struct httpd_reply *rep, int status, json_t *body); /* steals body */
void admin_error(struct httpd_reply *rep, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void admin_errno(struct httpd_reply *rep, int status, const char *what);
int admin_query(const char *query, const char *name, char *buf, size_t cap);
int admin_query_int(const char *query, const char *name, int64_t lo, int64_t hi, int64_t *out);
json_t *admin_body(const struct admin_req *r, bool empty_ok);
uint64_t admin_wall_of(struct app *a, uint64_t loop_ms);

/* admin_store.c */
void admin_get_bans(struct admin_req *r);
void admin_post_ban(struct admin_req *r);
void admin_delete_ban(struct admin_req *r, int64_t id);
void admin_get_reports(struct admin_req *r);
void admin_get_report(struct admin_req *r, int64_t id, const char *what);
void admin_resolve(struct admin_req *r, int64_t id);
void admin_get_audit(struct admin_req *r);

/* admin.c: routes a request (authorized, r->actor set) by r->req->path. */
void admin_route(struct admin_req *r);

/* admin_nodes.c */
void admin_get_nodes(struct admin_req *r);
struct nodewire;
/* status 0 with node's entry (borrowed for the call); -ENOENT: not a live node; -EBADMSG: its
 * entry in Redis is not valid (counted); -ECONNRESET or -ECANCELED: Redis went away. */
typedef void (*admin_node_fn)(void *arg, int status, const struct nodewire *n);
/* Looks up a live node of the cluster in Redis: 0 (cb runs once, later), -ENOENT (this node
 * is alone: no other node is live), -ENOTCONN (Redis is down), -EAGAIN or -ENOMEM. */
int admin_nodes_find(struct app *a, unsigned node, admin_node_fn cb, void *arg);

/* admin_proxy.c: /api/nodes/{node}/{rest}, `after` pointing past "nodes/". */
void admin_proxy(struct admin_req *r, const char *after);

#endif
