/* store_sqlite.c -- the SQLite backend: opening data_dir/tandem.db, WAL and synchronous=FULL,
 * the schema and its migrations, one transaction per batch. */
#include "moderation/store_sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DB_FILE "tandem.db"

/* Migration i takes the schema from version i to i + 1; PRAGMA user_version holds the
 * version. Never edit a migration that has shipped: add the next one. */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
    /* 0 -> 1 */
    "CREATE TABLE reports ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " time_ms INTEGER NOT NULL,"
    " reporter_device TEXT NOT NULL, reporter_ip TEXT NOT NULL DEFAULT '',"
    " reported_device TEXT NOT NULL, reported_ip TEXT NOT NULL DEFAULT '',"
    " reason TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',"
    " state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),"
    " resolution TEXT, resolved_ms INTEGER, resolved_by TEXT,"
    " evidence_jpeg TEXT, evidence_webm TEXT);"
    "CREATE INDEX reports_by_state ON reports (state, id);"
    "CREATE INDEX reports_by_reported ON reports (reported_device, time_ms);"
    "CREATE TABLE bans ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " kind TEXT NOT NULL CHECK (kind IN ('device', 'ip', 'ip6_64')),"
    " value TEXT NOT NULL,"
    " reason TEXT NOT NULL DEFAULT '',"
    " created_ms INTEGER NOT NULL,"
    " expires_ms INTEGER," /* NULL = permanent */
    " created_by TEXT NOT NULL,"
    " lifted_ms INTEGER, lifted_by TEXT);"
    "CREATE INDEX bans_by_target ON bans (kind, value);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " time_ms INTEGER NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '',"
    " details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)));"
    "CREATE TABLE devices ("
    " id TEXT PRIMARY KEY,"
    " created_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,"
    " reports_against INTEGER NOT NULL DEFAULT 0, bans_count INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;",
};

int store__sq_errno(struct sq *q, int rc) {
  int sys;
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_ROW:
  case SQLITE_DONE:
    return 0;
  case SQLITE_CONSTRAINT:
  case SQLITE_MISMATCH:
  case SQLITE_RANGE:
  case SQLITE_TOOBIG:
    return -EINVAL;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return -EBUSY;
  case SQLITE_NOMEM:
    return -ENOMEM;
  case SQLITE_FULL:
    return -ENOSPC;
  case SQLITE_READONLY:
    return -EROFS;
  case SQLITE_PERM:
  case SQLITE_AUTH:
    return -EACCES;
  case SQLITE_NOTADB:
  case SQLITE_CORRUPT:
    return -EBADMSG;
  case SQLITE_CANTOPEN:
  case SQLITE_IOERR:
    sys = q && q->db ? sqlite3_system_errno(q->db) : 0;
    return sys > 0 ? -sys : -EIO;
  default:
    return -EIO;
  }
}

int store__sq_exec(struct sq *q, enum sq_stmt s) {
  sqlite3_stmt *st = q->stmt[s];
  sqlite3_reset(st);
  int rc = sqlite3_step(st);
  int err = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store__sq_errno(q, rc);
  sqlite3_reset(st);
  return err;
}

/* ---- batches ---- */

static int run(void *be, struct store_op **ops, size_t n) {
  struct sq *q = be;
  bool writes = false;
  int rc;

  for (size_t i = 0; i < n; i++)
    writes = writes || store_op_is_write(ops[i]->type);
  /* A write transaction takes the lock at BEGIN, so it cannot fail later on a lock that a
   * read-only start would have to upgrade. */
  if ((rc = store__sq_exec(q, writes ? SQ_BEGIN_IMMEDIATE : SQ_BEGIN)) != 0)
    return rc;
  for (size_t i = 0; i < n; i++) {
    struct store_op *op = ops[i];
    if (!writes) {
      op->status = store__sq_op(q, op);
      continue;
    }
    /* Each operation in its own savepoint: a failing one leaves no half-done change. */
    if ((op->status = store__sq_exec(q, SQ_SAVEPOINT)) != 0)
      continue;
    op->status = store__sq_op(q, op);
    if (op->status != 0)
      store__sq_exec(q, SQ_ROLLBACK_TO);
    store__sq_exec(q, SQ_RELEASE);
  }
  if ((rc = store__sq_exec(q, SQ_COMMIT)) != 0) {
    store__sq_exec(q, SQ_ROLLBACK);
    return rc;
  }
  return 0;
}

static void sq_close(void *be) {
  struct sq *q = be;
  if (!q)
    return;
  for (int i = 0; i < SQ_COUNT; i++)
    sqlite3_finalize(q->stmt[i]);
  /* Closing the last connection checkpoints the WAL into the database file. */
  sqlite3_close(q->db);
  free(q);
}

static const struct store_backend_ops sqlite_ops = {
    .name = "sqlite",
    .run = run,
    .close = sq_close,
};

/* ---- opening ---- */

static int exec_sql(struct sq *q, const char *sql) {
  return store__sq_errno(q, sqlite3_exec(q->db, sql, NULL, NULL, NULL));
}

static int pragma_text(struct sq *q, const char *sql, char *out, size_t cap) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    return store__sq_errno(q, rc);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
  int err = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store__sq_errno(q, rc);
  sqlite3_finalize(st);
  return err;
}

static int migrate(struct sq *q, const char **why) {
  char text[32];
  int rc = pragma_text(q, "PRAGMA user_version", text, sizeof(text));
  if (rc)
    return rc;
  long version = strtol(text, NULL, 10);
  if (version > STORE_SCHEMA_VERSION || version < 0) {
    *why = "tandem.db has a newer schema than this build understands";
    return -ENOTSUP;
  }
  for (long v = version; v < STORE_SCHEMA_VERSION; v++) {
    char set[64];
    snprintf(set, sizeof(set), "PRAGMA user_version = %ld", v + 1);
    if ((rc = exec_sql(q, "BEGIN IMMEDIATE")) != 0)
      return rc;
    rc = exec_sql(q, migrations[v]);
    if (!rc)
      rc = exec_sql(q, set);
    if (!rc)
      rc = exec_sql(q, "COMMIT");
    if (rc) {
      exec_sql(q, "ROLLBACK");
      *why = "migrating the schema of tandem.db failed";
      return rc;
    }
  }
  return 0;
}

static int check_dir(const char *dir, const char **why) {
  struct stat st;
  if (!dir || !*dir || stat(dir, &st) != 0) {
    *why = "data_dir does not exist";
    return dir && *dir && errno != ENOENT ? -errno : -ENOENT;
  }
  if (!S_ISDIR(st.st_mode)) {
    *why = "data_dir is not a directory";
    return -ENOTDIR;
  }
  if (access(dir, W_OK | X_OK) != 0) {
    *why = "data_dir is not writable";
    return -EACCES;
  }
  return 0;
}

/* Creates the file before SQLite does, so it gets mode 0600 (reports hold IP addresses);
 * SQLite gives the -wal and -shm files the database file's mode. */
static int precreate(const char *path, const char **why) {
  int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    *why = err == ELOOP ? "tandem.db is a symbolic link" : "cannot open tandem.db for writing";
    return err == ELOOP ? -EACCES : -err;
  }
  close(fd);
  return 0;
}

static int open_db(struct sq *q, const char *path, const struct store_config *cfg,
                   const char **why) {
  char mode[16];
  int rc = sqlite3_open_v2(path, &q->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW,
                           NULL);
  if (rc != SQLITE_OK) {
    *why = "cannot open tandem.db";
    return q->db ? store__sq_errno(q, rc) : -ENOMEM;
  }
  sqlite3_extended_result_codes(q->db, 1);
  sqlite3_busy_timeout(q->db, cfg->busy_timeout_ms ? (int)cfg->busy_timeout_ms : 5000);
  /* The first statement that reads the file: a file that is not a database fails here. */
  rc = pragma_text(q, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
  if (rc == -EBADMSG) {
    *why = "tandem.db is not an SQLite database, or is corrupt";
    return rc;
  }
  if (rc == -EBUSY) {
    *why = "tandem.db is locked by another process";
    return rc;
  }
  if (rc || strcmp(mode, "wal") != 0) {
    *why = "cannot put tandem.db in WAL mode";
    return rc ? rc : -EIO;
  }
  if ((rc = exec_sql(q, "PRAGMA synchronous = FULL")) != 0) {
    *why = "cannot set synchronous = FULL on tandem.db";
    return rc;
  }
  if ((rc = migrate(q, why)) != 0) {
    if (rc == -EBADMSG)
      *why = "tandem.db is not an SQLite database, or is corrupt";
    return rc;
  }
  for (int i = 0; i < SQ_COUNT; i++) {
    rc = sqlite3_prepare_v3(q->db, store__sq_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                            &q->stmt[i], NULL);
    if (rc != SQLITE_OK) {
      *why = "tandem.db does not have the expected tables";
      return store__sq_errno(q, rc);
    }
  }
  return 0;
}

int store_open_sqlite(uv_loop_t *loop, const struct store_config *cfg, struct store **out,
                      const char **why) {
  const char *dummy;
  char path[PATH_MAX];
  int rc;

  *out = NULL;
  if (!why)
    why = &dummy;
  *why = "";
  if ((rc = check_dir(cfg->data_dir, why)) != 0)
    return rc;
  if (snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, DB_FILE) >= (int)sizeof(path)) {
    *why = "data_dir is too long a path";
    return -ENAMETOOLONG;
  }
  if ((rc = precreate(path, why)) != 0)
    return rc;
  struct sq *q = calloc(1, sizeof(*q));
  if (!q) {
    *why = "out of memory";
    return -ENOMEM;
  }
  if ((rc = open_db(q, path, cfg, why)) != 0) {
    sq_close(q);
    return rc;
  }
  rc = store_open_backend(loop, cfg, &sqlite_ops, q, out);
  if (rc)
    *why = "cannot start the store thread";
  return rc;
}
