/* store.h -- the durable store: reports, bans, the moderators' audit log and devices.
 * Asynchronous: operations run in submission order on the store's own thread, and each one
 * completes with a callback on the caller's loop, in submission order. */
#ifndef TANDEM_STORE_H
#define TANDEM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "moderation/ban.h"
#include "moderation/device.h"
#include "moderation/netaddr.h"

/* Threads. A store belongs to the loop it was opened on (the control loop): every store_*
 * call is made on that loop's thread, and every callback runs there, from a uv_async_t, never
 * inside the call that submitted it. Callbacks may submit more operations and may call
 * store_close. The loop never waits for the disk: a submission copies its arguments, takes a
 * mutex for a pointer swap and wakes the store thread.
 *
 * Durability. A write's callback runs only after the transaction holding it has committed.
 * The SQLite backend runs in WAL mode with synchronous=FULL: COMMIT returns after the WAL
 * frames are written *and fsync'd*. The write() alone already puts them in the kernel's page
 * cache, which outlives the process, so a kill -9 right after a callback loses nothing (WAL
 * with synchronous=NORMAL would give that too); the fsync makes an acknowledged report
 * survive a power cut or kernel crash as well, which NORMAL does not (it may roll back the
 * last transactions). The cost, one fsync per transaction, is shared: the store thread
 * commits everything queued meanwhile (up to batch_max operations) in one transaction, each
 * operation in its own savepoint so one failing operation does not fail the others.
 *
 * Arguments are borrowed for the duration of the call (copied). Results passed to a
 * callback are borrowed for the duration of the callback. Times are unix milliseconds (the
 * wall clock: the store outlives the process), at most INT64_MAX; the store reads no clock,
 * the caller passes it.
 *
 * Submissions return 0 (the callback will run exactly once, if not NULL), or, with no
 * callback ever: -EAGAIN (queue_max operations are outstanding: back-pressure, retry later or
 * refuse the request), -EINVAL (bad arguments), -ENOMEM, -ESHUTDOWN (store_close was called).
 * Callback statuses: 0, -ENOENT (no such id), -EALREADY (already resolved / lifted), -EINVAL
 * (a constraint: e.g. details that are not JSON), -EBUSY (another process holds the
 * database), -ENOSPC (disk full), -EIO, -ENOMEM, -EBADMSG (a corrupt database or row). */

#define STORE_TEXT_MAX 8192 /* longest string argument, in bytes */
#define STORE_PAGE_MAX 1000 /* most rows one list returns */

struct store;

struct store_config {
  const char *data_dir;     /* must exist and be writable; the database is data_dir/tandem.db */
  size_t queue_max;         /* operations submitted whose callback has not started;
                               0 = 4096 */
  unsigned batch_max;       /* operations per transaction; 0 = 256 */
  unsigned busy_timeout_ms; /* how long to wait for another process's lock; 0 = 5000 */
};

/* Opens (creating if needed, mode 0600) data_dir/tandem.db, migrates its schema to this
 * build's version and starts the store thread. Blocking: call it at start-up, before the loop
 * runs. Returns 0 and *out, or a negative errno and, in *why (if why is not NULL), a static
 * sentence for the log:
 *   -ENOENT  "data_dir does not exist"          -ENOTDIR "data_dir is not a directory"
 *   -EACCES  "data_dir is not writable" / "cannot open tandem.db for writing" /
 *            "tandem.db is a symbolic link"
 *   -EBADMSG "tandem.db is not an SQLite database, or is corrupt"
 *   -ENOTSUP "tandem.db has a newer schema than this build understands"
 *   -EBUSY   "tandem.db is locked by another process"
 *   -EIO, -ENOMEM otherwise. */
int store_open_sqlite(uv_loop_t *loop, const struct store_config *cfg, struct store **out,
                      const char **why);

/* Stops taking submissions (-ESHUTDOWN), lets every operation already submitted complete
 * (their callbacks run as usual), stops the thread, closes the backend and the uv_async_t,
 * frees the store, then calls done(arg) on the loop. Call it once. */
void store_close(struct store *st, void (*done)(void *arg), void *arg);

/* Operations submitted whose callback has not started yet (what queue_max bounds). */
size_t store_pending(const struct store *st);

/* The schema version this build migrates tandem.db to (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 1

/* ---- records ---- */

enum store_report_state { STORE_REPORT_ANY = 0, STORE_REPORT_OPEN = 1, STORE_REPORT_RESOLVED = 2 };

struct store_report {
  int64_t id;                  /* chosen by the store */
  uint64_t time_ms;
  struct device_id reporter, reported;
  struct netaddr reporter_ip, reported_ip; /* family NONE if unknown */
  const char *reason;          /* required, e.g. "nudity", "harassment" (the server validates) */
  const char *note;            /* NULL = "" */
  const char *evidence_jpeg;   /* paths (relative to data_dir), or NULL */
  const char *evidence_webm;
  /* Set by store_report_resolve; ignored by store_report_add (a report starts open). */
  enum store_report_state state;
  const char *resolution;      /* NULL while open */
  const char *resolved_by;
  uint64_t resolved_ms;
};

struct store_audit {
  int64_t id;
  uint64_t time_ms;
  const char *actor;           /* a moderator's name, "auto", "tandemctl"... */
  const char *action;          /* "kick", "ban", "unban", "resolve", "snapshot"... */
  const char *target;          /* "peer:...", "device:<hex>", "report:<id>"... */
  const char *details_json;    /* a JSON text (checked by the store); NULL = "{}" */
};

struct store_device {
  struct device_id id;
  uint64_t created_ms;         /* when the store first heard of it */
  uint64_t last_seen_ms;
  uint32_t reports_against;    /* reports naming it as the reported device */
  uint32_t bans_count;         /* device bans ever recorded against it */
};

/* ---- writes ---- */

/* id: what the write created (report, ban, audit entry) or changed (the id it was given);
 * 0 for store_device_seen. */
typedef void (*store_id_fn)(void *arg, int status, int64_t id);

/* A new open report. In the same transaction: both devices are recorded (store_device_seen)
 * and the reported device's reports_against grows by one. */
int store_report_add(struct store *st, const struct store_report *r, store_id_fn cb,
                     void *arg);
/* Sets a report's evidence paths (a NULL path leaves that one unchanged). -ENOENT. */
int store_report_evidence(struct store *st, int64_t id, const char *jpeg, const char *webm,
                          store_id_fn cb, void *arg);
/* Resolves an open report, with an audit entry (action "resolve", target "report:<id>") in the
 * same transaction. -ENOENT, -EALREADY. */
int store_report_resolve(struct store *st, int64_t id, const char *resolution,
                         const char *actor, uint64_t now_ms, store_id_fn cb, void *arg);
/* Records a ban (b->id and b->lifted_ms are ignored; the callback's id is the new ban's id;
 * reason and by at most BAN_TEXT_MAX bytes, so that it loads back into a ban set),
 * with an audit entry (actor b->by, action "ban", target "<kind>:<value>") and, for a device
 * ban, the device's bans_count + 1, in the same transaction. */
int store_ban_add(struct store *st, const struct ban *b, store_id_fn cb, void *arg);
/* Lifts a ban, with an audit entry (action "unban", target "ban:<id>"). -ENOENT, -EALREADY. */
int store_ban_lift(struct store *st, int64_t id, const char *actor, uint64_t now_ms,
                   store_id_fn cb, void *arg);
/* Any other moderator action (a->id is ignored). */
int store_audit_add(struct store *st, const struct store_audit *a, store_id_fn cb, void *arg);
/* A device presented a valid token: created if new, last_seen_ms moved forward. */
int store_device_seen(struct store *st, const struct device_id *d, uint64_t now_ms,
                      store_id_fn cb, void *arg);

/* ---- reads (for the admin API, and for loading state at start-up) ---- */

struct store_report_query {
  enum store_report_state state; /* ANY, OPEN or RESOLVED */
  bool oldest_first;             /* false: newest first, paging with before_id;
                                    true: oldest first, paging with after_id */
  int64_t before_id;             /* 0 = from the newest */
  int64_t after_id;              /* 0 = from the oldest */
  uint64_t since_ms;             /* only reports with time_ms >= since_ms */
  size_t limit;                  /* 1..STORE_PAGE_MAX */
};
typedef void (*store_reports_fn)(void *arg, int status, const struct store_report *rows,
                                 size_t n);
int store_reports_list(struct store *st, const struct store_report_query *q,
                       store_reports_fn cb, void *arg);
/* One report: n = 1, or status -ENOENT and n = 0. */
int store_report_get(struct store *st, int64_t id, store_reports_fn cb, void *arg);

struct store_ban_query {
  bool active_only;              /* not lifted and not ended at now_ms */
  uint64_t now_ms;
  enum ban_kind kind;            /* 0 = every kind */
  uint64_t since_ms;             /* only bans with created_ms >= since_ms */
  int64_t after_id;              /* oldest first; page on with the last row's id */
  size_t limit;                  /* 1..STORE_PAGE_MAX */
};
typedef void (*store_bans_fn)(void *arg, int status, const struct ban *rows, size_t n);
int store_bans_list(struct store *st, const struct store_ban_query *q, store_bans_fn cb,
                    void *arg);

/* Newest first; before_id 0 = from the newest; limit 1..STORE_PAGE_MAX. */
typedef void (*store_audit_fn)(void *arg, int status, const struct store_audit *rows,
                               size_t n);
int store_audit_list(struct store *st, int64_t before_id, size_t limit, store_audit_fn cb,
                     void *arg);

/* status -ENOENT and d NULL for an unknown device. */
typedef void (*store_device_fn)(void *arg, int status, const struct store_device *d);
int store_device_get(struct store *st, const struct device_id *d, store_device_fn cb,
                     void *arg);

#endif
