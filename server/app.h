/* app.h -- the tandem server: HTTP/WebSocket signalling, matching and the media worker. */
#ifndef TANDEM_APP_H
#define TANDEM_APP_H

#include <uv.h>

#include "server/config.h"

struct app;

/* Builds everything (certificate, media worker, match engine, HTTP server) and starts
 * listening. Returns 0 and *out, or a negative errno with a message already logged. */
int app_new(uv_loop_t *loop, const struct config *cfg, struct app **out);

/* Starts a graceful drain: /readyz turns 503, new visitors are refused, the pool stops
 * existing visitors keep chatting (and being matched); when none is left (or after
 * drain_timeout_ms) the app closes itself and calls done(arg). */
void app_drain(struct app *a, void (*done)(void *arg), void *arg);

/* Closes every connection and session, frees the app, then calls done(arg). */
void app_close(struct app *a, void (*done)(void *arg), void *arg);

/* SIGHUP: reloads tls_cert and tls_key for new connections (existing ones and their calls
 * keep the old certificate); a failure is logged and the old certificate stays. */
void app_reload_tls(struct app *a);

#endif
