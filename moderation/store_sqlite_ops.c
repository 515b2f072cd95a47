/* store_sqlite_ops.c -- the SQLite backend's statements: each operation's writes and reads. */
#include "moderation/store_sqlite_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_COLS                                                                        \
  "id, time_ms, reporter_device, reporter_ip, reported_device, reported_ip, reason, note, " \
  "state, resolution, resolved_ms, resolved_by, evidence_jpeg, evidence_webm"
#define BAN_COLS "id, kind, value, reason, created_ms, expires_ms, created_by, lifted_ms"

const char *const store__sq_sql[SQ_COUNT] = {
    [SQ_BEGIN] = "BEGIN",
    [SQ_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_SAVEPOINT] = "SAVEPOINT op",
    [SQ_ROLLBACK_TO] = "ROLLBACK TO op",
    [SQ_RELEASE] = "RELEASE op",
    [SQ_REPORT_INSERT] =
        "INSERT INTO reports (time_ms, reporter_device, reporter_ip, reported_device,"
        " reported_ip, reason, note, evidence_jpeg, evidence_webm)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [SQ_REPORT_EVIDENCE] =
        "UPDATE reports SET evidence_jpeg = coalesce(?2, evidence_jpeg),"
        " evidence_webm = coalesce(?3, evidence_webm) WHERE id = ?1",
    [SQ_REPORT_RESOLVE] =
        "UPDATE reports SET state = 'resolved', resolution = ?2, resolved_ms = ?3,"
        " resolved_by = ?4 WHERE id = ?1 AND state = 'open'",
    [SQ_REPORT_STATE] = "SELECT state FROM reports WHERE id = ?1",
    [SQ_AUDIT_INSERT] = "INSERT INTO audit (time_ms, actor, action, target, details)"
                        " VALUES (?1, ?2, ?3, ?4, ?5)",
    [SQ_AUDIT_RESOLVE] =
        "INSERT INTO audit (time_ms, actor, action, target, details)"
        " VALUES (?1, ?2, 'resolve', 'report:' || ?3, json_object('resolution', ?4))",
    [SQ_AUDIT_BAN] =
        "INSERT INTO audit (time_ms, actor, action, target, details)"
        " VALUES (?1, ?2, 'ban', ?3, json_object('ban', ?4, 'reason', ?5, 'expires_ms', ?6))",
    [SQ_AUDIT_UNBAN] =
        "INSERT INTO audit (time_ms, actor, action, target, details)"
        " VALUES (?1, ?2, 'unban', 'ban:' || ?3, json_object('ban', ?3))",
    [SQ_BAN_INSERT] = "INSERT INTO bans (kind, value, reason, created_ms, expires_ms,"
                      " created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQ_BAN_LIFT] = "UPDATE bans SET lifted_ms = ?2, lifted_by = ?3"
                    " WHERE id = ?1 AND lifted_ms IS NULL",
    [SQ_BAN_STATE] = "SELECT lifted_ms FROM bans WHERE id = ?1",
    [SQ_DEVICE_SEEN] =
        "INSERT INTO devices (id, created_ms, last_seen_ms) VALUES (?1, ?2, ?2)"
        " ON CONFLICT (id) DO UPDATE SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)",
    [SQ_DEVICE_REPORTED] =
        "INSERT INTO devices (id, created_ms, last_seen_ms, reports_against)"
        " VALUES (?1, ?2, ?2, 1) ON CONFLICT (id) DO UPDATE SET"
        " reports_against = reports_against + 1,"
        " last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)",
    [SQ_DEVICE_BANNED] =
        "INSERT INTO devices (id, created_ms, last_seen_ms, bans_count) VALUES (?1, ?2, ?2, 1)"
        " ON CONFLICT (id) DO UPDATE SET bans_count = bans_count + 1",
    [SQ_REPORTS_NEWEST] = "SELECT " REPORT_COLS " FROM reports"
                          " WHERE (?1 = '' OR state = ?1) AND (?2 = 0 OR id < ?2)"
                          " AND time_ms >= ?3 ORDER BY id DESC LIMIT ?4",
    [SQ_REPORTS_OLDEST] = "SELECT " REPORT_COLS " FROM reports"
                          " WHERE (?1 = '' OR state = ?1) AND id > ?2"
                          " AND time_ms >= ?3 ORDER BY id ASC LIMIT ?4",
    [SQ_REPORT_GET] = "SELECT " REPORT_COLS " FROM reports WHERE id = ?1",
    [SQ_BANS_LIST] =
        "SELECT " BAN_COLS " FROM bans WHERE (?1 = 0 OR (lifted_ms IS NULL AND"
        " (expires_ms IS NULL OR expires_ms > ?2))) AND (?3 = '' OR kind = ?3)"
        " AND created_ms >= ?4 AND id > ?5 ORDER BY id LIMIT ?6",
    [SQ_AUDIT_LIST] = "SELECT id, time_ms, actor, action, target, details FROM audit"
                      " WHERE (?1 = 0 OR id < ?1) ORDER BY id DESC LIMIT ?2",
    [SQ_DEVICE_GET] = "SELECT created_ms, last_seen_ms, reports_against, bans_count"
                      " FROM devices WHERE id = ?1",
};

/* ---- binding ---- */

/* Strings bound SQLITE_STATIC: they live in the op until after the statement is reset. */
static void bind_text(sqlite3_stmt *st, int i, const char *s) {
  if (s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

static void bind_time(sqlite3_stmt *st, int i, uint64_t t) { sqlite3_bind_int64(st, i, (int64_t)t); }

static void bind_ip(sqlite3_stmt *st, int i, const struct netaddr *a, char *buf) {
  if (netaddr_format(a, buf, NETADDR_STRLEN) != 0)
    buf[0] = '\0';
  sqlite3_bind_text(st, i, buf, -1, SQLITE_TRANSIENT);
}

static void bind_device(sqlite3_stmt *st, int i, const struct device_id *d) {
  char hex[DEVICE_HEX_LEN + 1];
  device_id_hex(d, hex);
  sqlite3_bind_text(st, i, hex, DEVICE_HEX_LEN, SQLITE_TRANSIENT);
}

static sqlite3_stmt *stmt(struct sq *q, enum sq_stmt s) {
  sqlite3_stmt *st = q->stmt[s];
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return st;
}

/* Steps a write; *changes gets how many rows it changed. */
static int step_write(struct sq *q, sqlite3_stmt *st, int *changes) {
  int rc = sqlite3_step(st);
  int err = rc == SQLITE_DONE ? 0 : store__sq_errno(q, rc);
  if (err == 0 && rc != SQLITE_DONE)
    err = -EIO;
  if (changes)
    *changes = sqlite3_changes(q->db);
  sqlite3_reset(st);
  return err;
}

/* ---- writes ---- */

static int device_upsert(struct sq *q, enum sq_stmt s, const struct device_id *d, uint64_t t) {
  sqlite3_stmt *st = stmt(q, s);
  bind_device(st, 1, d);
  bind_time(st, 2, t);
  return step_write(q, st, NULL);
}

static int audit(struct sq *q, uint64_t t, const char *actor, const char *action,
                 const char *target, const char *details, int64_t *id) {
  sqlite3_stmt *st = stmt(q, SQ_AUDIT_INSERT);
  bind_time(st, 1, t);
  bind_text(st, 2, actor);
  bind_text(st, 3, action);
  bind_text(st, 4, target);
  bind_text(st, 5, details);
  int rc = step_write(q, st, NULL);
  if (rc == 0 && id)
    *id = sqlite3_last_insert_rowid(q->db);
  return rc;
}

static int report_add(struct sq *q, struct store_op *op) {
  const struct store_report *r = &op->in.report;
  char ip1[NETADDR_STRLEN], ip2[NETADDR_STRLEN];
  sqlite3_stmt *st = stmt(q, SQ_REPORT_INSERT);
  int rc;

  bind_time(st, 1, r->time_ms);
  bind_device(st, 2, &r->reporter);
  bind_ip(st, 3, &r->reporter_ip, ip1);
  bind_device(st, 4, &r->reported);
  bind_ip(st, 5, &r->reported_ip, ip2);
  bind_text(st, 6, r->reason);
  bind_text(st, 7, r->note);
  bind_text(st, 8, r->evidence_jpeg);
  bind_text(st, 9, r->evidence_webm);
  if ((rc = step_write(q, st, NULL)) != 0)
    return rc;
  op->new_id = sqlite3_last_insert_rowid(q->db);
  if ((rc = device_upsert(q, SQ_DEVICE_SEEN, &r->reporter, r->time_ms)) != 0)
    return rc;
  return device_upsert(q, SQ_DEVICE_REPORTED, &r->reported, r->time_ms);
}

/* After an UPDATE ... WHERE id = ? AND <still changeable> changed nothing: -ENOENT if the row
 * does not exist, else -EALREADY. */
static int why_unchanged(struct sq *q, enum sq_stmt s, int64_t id) {
  sqlite3_stmt *st = stmt(q, s);
  sqlite3_bind_int64(st, 1, id);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW)
    return -EALREADY;
  return rc == SQLITE_DONE ? -ENOENT : store__sq_errno(q, rc);
}

static int report_evidence(struct sq *q, struct store_op *op) {
  sqlite3_stmt *st = stmt(q, SQ_REPORT_EVIDENCE);
  int changes, rc;
  sqlite3_bind_int64(st, 1, op->id);
  bind_text(st, 2, op->in.report.evidence_jpeg);
  bind_text(st, 3, op->in.report.evidence_webm);
  if ((rc = step_write(q, st, &changes)) != 0)
    return rc;
  op->new_id = op->id;
  return changes ? 0 : -ENOENT;
}

static int report_resolve(struct sq *q, struct store_op *op) {
  sqlite3_stmt *st = stmt(q, SQ_REPORT_RESOLVE);
  int changes, rc;

  sqlite3_bind_int64(st, 1, op->id);
  bind_text(st, 2, op->text);
  bind_time(st, 3, op->now_ms);
  bind_text(st, 4, op->actor);
  if ((rc = step_write(q, st, &changes)) != 0)
    return rc;
  if (!changes)
    return why_unchanged(q, SQ_REPORT_STATE, op->id);
  op->new_id = op->id;
  st = stmt(q, SQ_AUDIT_RESOLVE);
  bind_time(st, 1, op->now_ms);
  bind_text(st, 2, op->actor);
  sqlite3_bind_int64(st, 3, op->id);
  bind_text(st, 4, op->text);
  return step_write(q, st, NULL);
}

static int ban_add(struct sq *q, struct store_op *op) {
  const struct ban *b = &op->in.ban;
  char value[BAN_TARGET_STRLEN], target[BAN_TARGET_STRLEN + 16];
  sqlite3_stmt *st = stmt(q, SQ_BAN_INSERT);
  int rc;

  if (ban_target_format(&b->target, value, sizeof(value)) != 0)
    return -EINVAL;
  bind_text(st, 1, ban_kind_name(b->target.kind));
  bind_text(st, 2, value);
  bind_text(st, 3, b->reason);
  bind_time(st, 4, b->created_ms);
  if (b->expires_ms)
    bind_time(st, 5, b->expires_ms);
  bind_text(st, 6, b->by);
  if ((rc = step_write(q, st, NULL)) != 0)
    return rc;
  op->new_id = sqlite3_last_insert_rowid(q->db);
  if (b->target.kind == BAN_DEVICE &&
      (rc = device_upsert(q, SQ_DEVICE_BANNED, &b->target.device, b->created_ms)) != 0)
    return rc;
  snprintf(target, sizeof(target), "%s:%s", ban_kind_name(b->target.kind), value);
  st = stmt(q, SQ_AUDIT_BAN);
  bind_time(st, 1, b->created_ms);
  bind_text(st, 2, b->by);
  bind_text(st, 3, target);
  sqlite3_bind_int64(st, 4, op->new_id);
  bind_text(st, 5, b->reason);
  if (b->expires_ms)
    bind_time(st, 6, b->expires_ms);
  return step_write(q, st, NULL);
}

static int ban_lift(struct sq *q, struct store_op *op) {
  sqlite3_stmt *st = stmt(q, SQ_BAN_LIFT);
  int changes, rc;

  sqlite3_bind_int64(st, 1, op->id);
  bind_time(st, 2, op->now_ms);
  bind_text(st, 3, op->actor);
  if ((rc = step_write(q, st, &changes)) != 0)
    return rc;
  if (!changes)
    return why_unchanged(q, SQ_BAN_STATE, op->id);
  op->new_id = op->id;
  st = stmt(q, SQ_AUDIT_UNBAN);
  bind_time(st, 1, op->now_ms);
  bind_text(st, 2, op->actor);
  sqlite3_bind_int64(st, 3, op->id);
  return step_write(q, st, NULL);
}

/* ---- reads ---- */

/* A text column copied into the op's memory ("" for NULL when want_empty, else NULL). */
static const char *col_text(struct store_op *op, sqlite3_stmt *st, int i, bool want_empty,
                            int *err) {
  const unsigned char *s = sqlite3_column_text(st, i);
  if (!s)
    return want_empty ? "" : NULL;
  const char *copy = store_op_strdup(op, (const char *)s, (size_t)sqlite3_column_bytes(st, i));
  if (!copy)
    *err = -ENOMEM;
  return copy;
}

static uint64_t col_time(sqlite3_stmt *st, int i) {
  int64_t v = sqlite3_column_int64(st, i);
  return v > 0 ? (uint64_t)v : 0;
}

static int col_device(sqlite3_stmt *st, int i, struct device_id *d) {
  return device_id_parse_hex((const char *)sqlite3_column_text(st, i), d) ? -EBADMSG : 0;
}

static int col_ip(sqlite3_stmt *st, int i, struct netaddr *a) {
  const char *s = (const char *)sqlite3_column_text(st, i);
  if (!s || !*s) {
    memset(a, 0, sizeof(*a));
    return 0;
  }
  return netaddr_parse(s, a) ? -EBADMSG : 0;
}

static int read_report(struct store_op *op, sqlite3_stmt *st, void *row) {
  struct store_report *r = row;
  int err = 0;
  r->id = sqlite3_column_int64(st, 0);
  r->time_ms = col_time(st, 1);
  if (col_device(st, 2, &r->reporter) || col_ip(st, 3, &r->reporter_ip) ||
      col_device(st, 4, &r->reported) || col_ip(st, 5, &r->reported_ip))
    return -EBADMSG;
  r->reason = col_text(op, st, 6, true, &err);
  r->note = col_text(op, st, 7, true, &err);
  const char *state = (const char *)sqlite3_column_text(st, 8);
  r->state = state && strcmp(state, "resolved") == 0 ? STORE_REPORT_RESOLVED : STORE_REPORT_OPEN;
  r->resolution = col_text(op, st, 9, false, &err);
  r->resolved_ms = col_time(st, 10);
  r->resolved_by = col_text(op, st, 11, false, &err);
  r->evidence_jpeg = col_text(op, st, 12, false, &err);
  r->evidence_webm = col_text(op, st, 13, false, &err);
  return err;
}

static int read_ban(struct store_op *op, sqlite3_stmt *st, void *row) {
  struct ban *b = row;
  enum ban_kind kind;
  int err = 0;
  b->id = sqlite3_column_int64(st, 0);
  if (ban_kind_parse((const char *)sqlite3_column_text(st, 1), &kind) ||
      ban_target_parse(kind, (const char *)sqlite3_column_text(st, 2), &b->target))
    return -EBADMSG;
  b->reason = col_text(op, st, 3, true, &err);
  b->created_ms = col_time(st, 4);
  b->expires_ms = col_time(st, 5);
  b->by = col_text(op, st, 6, true, &err);
  b->lifted_ms = col_time(st, 7);
  return err;
}

static int read_audit(struct store_op *op, sqlite3_stmt *st, void *row) {
  struct store_audit *a = row;
  int err = 0;
  a->id = sqlite3_column_int64(st, 0);
  a->time_ms = col_time(st, 1);
  a->actor = col_text(op, st, 2, true, &err);
  a->action = col_text(op, st, 3, true, &err);
  a->target = col_text(op, st, 4, true, &err);
  a->details_json = col_text(op, st, 5, true, &err);
  return err;
}

typedef int (*read_row_fn)(struct store_op *op, sqlite3_stmt *st, void *row);

/* Steps a query into op->rows, at most `max` rows of `size` bytes. */
static int read_rows(struct sq *q, struct store_op *op, sqlite3_stmt *st, size_t max,
                     size_t size, read_row_fn read) {
  int rc, err = 0;
  op->rows = calloc(max, size);
  if (!op->rows) {
    sqlite3_reset(st);
    return -ENOMEM;
  }
  while (err == 0 && op->nrows < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
    if ((err = read(op, st, (char *)op->rows + op->nrows * size)) == 0)
      op->nrows++;
  if (err == 0 && op->nrows < max && rc != SQLITE_DONE)
    err = store__sq_errno(q, rc);
  sqlite3_reset(st);
  return err;
}

static const char *state_name(enum store_report_state s) {
  return s == STORE_REPORT_OPEN ? "open" : s == STORE_REPORT_RESOLVED ? "resolved" : "";
}

static int reports_list(struct sq *q, struct store_op *op) {
  const struct store_report_query *rq = &op->in.reports;
  sqlite3_stmt *st = stmt(q, rq->oldest_first ? SQ_REPORTS_OLDEST : SQ_REPORTS_NEWEST);
  bind_text(st, 1, state_name(rq->state));
  sqlite3_bind_int64(st, 2, rq->oldest_first ? rq->after_id : rq->before_id);
  bind_time(st, 3, rq->since_ms);
  sqlite3_bind_int64(st, 4, (int64_t)rq->limit);
  return read_rows(q, op, st, rq->limit, sizeof(struct store_report), read_report);
}

static int report_get(struct sq *q, struct store_op *op) {
  sqlite3_stmt *st = stmt(q, SQ_REPORT_GET);
  sqlite3_bind_int64(st, 1, op->id);
  int rc = read_rows(q, op, st, 1, sizeof(struct store_report), read_report);
  return rc ? rc : op->nrows ? 0 : -ENOENT;
}

static int bans_list(struct sq *q, struct store_op *op) {
  const struct store_ban_query *bq = &op->in.bans;
  sqlite3_stmt *st = stmt(q, SQ_BANS_LIST);
  sqlite3_bind_int(st, 1, bq->active_only);
  bind_time(st, 2, bq->now_ms);
  bind_text(st, 3, bq->kind ? ban_kind_name(bq->kind) : "");
  bind_time(st, 4, bq->since_ms);
  sqlite3_bind_int64(st, 5, bq->after_id);
  sqlite3_bind_int64(st, 6, (int64_t)bq->limit);
  return read_rows(q, op, st, bq->limit, sizeof(struct ban), read_ban);
}

static int audit_list(struct sq *q, struct store_op *op) {
  sqlite3_stmt *st = stmt(q, SQ_AUDIT_LIST);
  sqlite3_bind_int64(st, 1, op->in.audit.id);
  sqlite3_bind_int64(st, 2, (int64_t)op->limit);
  return read_rows(q, op, st, op->limit, sizeof(struct store_audit), read_audit);
}

static int device_get(struct sq *q, struct store_op *op) {
  sqlite3_stmt *st = stmt(q, SQ_DEVICE_GET);
  struct store_device *d;
  bind_device(st, 1, &op->in.device);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? -ENOENT : store__sq_errno(q, rc);
  }
  op->rows = d = calloc(1, sizeof(*d));
  if (d) {
    d->id = op->in.device;
    d->created_ms = col_time(st, 0);
    d->last_seen_ms = col_time(st, 1);
    d->reports_against = (uint32_t)sqlite3_column_int64(st, 2);
    d->bans_count = (uint32_t)sqlite3_column_int64(st, 3);
    op->nrows = 1;
  }
  sqlite3_reset(st);
  return d ? 0 : -ENOMEM;
}

int store__sq_op(struct sq *q, struct store_op *op) {
  switch (op->type) {
  case STORE_OP_REPORT_ADD:
    return report_add(q, op);
  case STORE_OP_REPORT_EVIDENCE:
    return report_evidence(q, op);
  case STORE_OP_REPORT_RESOLVE:
    return report_resolve(q, op);
  case STORE_OP_BAN_ADD:
    return ban_add(q, op);
  case STORE_OP_BAN_LIFT:
    return ban_lift(q, op);
  case STORE_OP_AUDIT_ADD: {
    const struct store_audit *a = &op->in.audit;
    return audit(q, a->time_ms, a->actor, a->action, a->target, a->details_json, &op->new_id);
  }
  case STORE_OP_DEVICE_SEEN:
    return device_upsert(q, SQ_DEVICE_SEEN, &op->in.device, op->now_ms);
  case STORE_OP_REPORTS_LIST:
    return reports_list(q, op);
  case STORE_OP_REPORT_GET:
    return report_get(q, op);
  case STORE_OP_BANS_LIST:
    return bans_list(q, op);
  case STORE_OP_AUDIT_LIST:
    return audit_list(q, op);
  case STORE_OP_DEVICE_GET:
    return device_get(q, op);
  }
  return -EINVAL;
}
