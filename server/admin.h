/* admin.h -- the admin API under /api/ (docs/admin-api.md). */
#ifndef TANDEM_ADMIN_H
#define TANDEM_ADMIN_H

#include "server/httpd.h"

struct app;

/* Answers a request whose path starts with "/api/" (now, or deferred). */
void admin_request(struct app *a, const struct httpd_request *req, struct httpd_reply *rep);

#endif
