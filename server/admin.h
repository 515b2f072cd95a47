/* admin.h -- the admin API under /api/ (docs/admin-api.md). */
#ifndef TANDEM_ADMIN_H
#define TANDEM_ADMIN_H

#include <stdio.h>

#include "server/httpd.h"

struct app;

/* Answers a request whose path starts with "/api/" (now, or deferred). */
void admin_request(struct app *a, const struct httpd_request *req, struct httpd_reply *rep);

/* Closes the HTTP client of /api/nodes/{node}/... (admin_proxy.c; from app_close, after
 * httpd_close): requests in flight are answered 503 and a->fetch becomes NULL; done(arg) once
 * it is closed, from a later loop iteration, or at once (inside this call) when there was no
 * client. */
void admin_proxy_close(struct app *a, void (*done)(void *arg), void *arg);

/* tandem_admin_proxy_requests_total{result}, for /metrics. */
void admin_proxy_metrics(FILE *f);

#endif
