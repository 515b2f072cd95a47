/* moderate.h -- moderation on the control loop: device identity, bans, kicks, snapshots and
 * reports, over the pieces in moderation/ (docs/architecture.md, docs/admin-api.md). */
#ifndef TANDEM_MODERATE_H
#define TANDEM_MODERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moderation/ban.h"

struct app;
struct peer;
struct ws_conn;
struct sigmsg;

/* Opens what moderation keeps under data_dir (device.key, tandem.db, evidence/), loads the
 * bans in force and the report history of the policy's window, and starts the snapshot pool.
 * Blocking: at start-up only (it runs the loop until the store has answered). 0, or a
 * negative errno with the reason logged. */
int moderate_open(struct app *a);
/* Stops taking work, answers everything waiting with -ECANCELED, closes the store and the
 * pool; done(arg) once all is closed. */
void moderate_close(struct app *a, void (*done)(void *arg), void *arg);
/* Periodic upkeep from the app's tick (prunes ended bans and the policy's memory). */
void moderate_tick(struct app *a);

/* ---- visitors ---- */

/* A hello that starts a visit from c: checks the device token (tok, len; NULL = none) and
 * fills the peer's identity once made. Returns false when the visitor is banned: c has been
 * told (error `banned`) and is closing. */
bool moderate_admit(struct app *a, struct ws_conn *c, const char *tok, size_t len);
/* The peer p was just made for c's hello with that token: p's device (the token's, or a new
 * one), its address, and the never-again blocks of its device applied to live peers. */
void moderate_peer_new(struct peer *p, const char *tok, size_t len);
/* p's blocks and recent partners told to matching again (a new cluster matcher knows none). */
void moderate_peer_rejoin(struct peer *p);
/* p's pair with partner ended or began (peer.c): remembered for a report just after Next. */
void moderate_pair_changed(struct peer *p, uint64_t partner);
void moderate_peer_free(struct peer *p);  /* before p is freed: drops its cached picture */
/* p blocked or reported its partner q (NULL ok): their devices never meet again either. */
void moderate_block(struct app *a, struct peer *p, struct peer *q);
/* A report across nodes (report.c): CPM_REPORT for one of ours, or CPM_REPORT_DONE. */
/* A partner on another node: tell it p's device; its device arrived (moddevices.c). */
void moddevices_tell_partner(struct peer *p);
void moddevices_partner_msg(struct peer *p, const uint8_t *data, size_t len);
void moderate_report_msg(struct app *a, uint64_t to, uint64_t from, uint8_t kind,
                         const uint8_t *data, size_t len);

/* ---- what moderators (and the classifier) do ---- */

/* JPEG of a peer's latest keyframe, at most max_age_ms old (else a fresh keyframe is asked
 * for, PLI, within snapshot_timeout_ms); max_side 0 = as sent, else the longer side is
 * scaled down to it. cb(arg, status, jpeg, len) runs on the control loop -- from inside this
 * call when the cached picture will do, else later -- with jpeg borrowed during the call;
 * status 0, -ENOENT (no such peer), -ENODATA (no media), -ETIMEDOUT, -EAGAIN (too many
 * snapshots in progress), -ECANCELED (shutting down). With status 0, pic is the picture's id:
 * non-zero, and the same id only for the same picture (one capture of one keyframe, answered
 * again from the cache). Returns 0 (cb will run exactly once) or that status (cb never runs). */
typedef void (*moderate_snapshot_fn)(void *arg, int status, const uint8_t *jpeg, size_t len,
                                     uint64_t pic);
int moderate_snapshot(struct app *a, uint64_t peer_id, uint64_t max_age_ms, int max_side,
                      moderate_snapshot_fn cb, void *arg);
/* The id of the picture moderate_snapshot(a, peer_id, max_age_ms, max_side, ...) would answer
 * from the cache at once if called now, or 0 when it would take a new one (or cannot). */
uint64_t moderate_snapshot_cached(struct app *a, uint64_t peer_id, uint64_t max_age_ms,
                                  int max_side);

/* Ends a live peer's visit now: told `kicked` (4004), its session closed in this loop turn,
 * its partner moves on; audited with actor and reason (NULL = ""). 0 or -ENOENT. */
int moderate_kick(struct app *a, uint64_t peer_id, const char *actor, const char *reason);

/* A new ban: every live peer it applies to is cut off at once (told `banned`, 4003), and it
 * is enforced from now on; then stored (with its audit entry). cb(arg, status, ban) runs on
 * the control loop once stored (status 0, ban with its id; or a store error: the ban is then
 * still enforced until restart); cut_off[] lists the peers cut off (borrowed during the
 * call). b->id, created_ms and lifted_ms are set here. Returns 0 or -EINVAL / -EAGAIN /
 * -ENOMEM (nothing changed, cb never runs). */
typedef void (*moderate_ban_fn)(void *arg, int status, const struct ban *b,
                                const uint64_t *cut_off, size_t n_cut);
int moderate_ban(struct app *a, const struct ban *b, moderate_ban_fn cb, void *arg);
/* Bans a live peer's device (if it has one) and its address (IPv6: its /64) for duration_ms
 * (0 = permanent) and cuts off everyone they cover. 0 or -ENOENT. Fire and forget. */
int moderate_ban_peer(struct app *a, uint64_t peer_id, uint64_t duration_ms, const char *actor,
                      const char *reason);
/* Lifts a ban: cb(arg, status) with 0, -ENOENT, -EALREADY. */
typedef void (*moderate_done_fn)(void *arg, int status);
int moderate_unban(struct app *a, int64_t id, const char *actor, moderate_done_fn cb, void *arg);

/* ---- reports (report.c) ---- */

/* A `report` message from p (signal.c): validated, rate-limited, p moves on at once and
 * never meets the reported one again; acknowledged with `reported` once stored with its
 * evidence. */
void moderate_report(struct app *a, struct peer *p, const struct sigmsg *m);

/* Gauges of the bans in force, the store's queue and the snapshot pool (f is a FILE *). */
void moderate_metrics(void *f, struct app *a);

/* The store, the pool and the signer, for admin.c and report.c. */
struct store *moderate_store(struct app *a);
uint64_t moderate_wall_ms(void); /* unix ms */

#endif
