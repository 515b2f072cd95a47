/* store_sqlite_int.h -- the SQLite backend's insides, shared by its two files. */
#ifndef TANDEM_STORE_SQLITE_INT_H
#define TANDEM_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "moderation/store_backend.h"

/* Prepared once at open; used only by the store thread. */
enum sq_stmt {
  SQ_BEGIN,
  SQ_BEGIN_IMMEDIATE,
  SQ_COMMIT,
  SQ_ROLLBACK,
  SQ_SAVEPOINT,
  SQ_ROLLBACK_TO,
  SQ_RELEASE,
  SQ_REPORT_INSERT,
  SQ_REPORT_EVIDENCE,
  SQ_REPORT_RESOLVE,
  SQ_REPORT_STATE,
  SQ_AUDIT_INSERT,
  SQ_AUDIT_RESOLVE,
  SQ_AUDIT_BAN,
  SQ_AUDIT_UNBAN,
  SQ_BAN_INSERT,
  SQ_BAN_LIFT,
  SQ_BAN_STATE,
  SQ_DEVICE_SEEN,
  SQ_DEVICE_REPORTED,
  SQ_DEVICE_BANNED,
  SQ_REPORTS_NEWEST,
  SQ_REPORTS_OLDEST,
  SQ_REPORT_GET,
  SQ_BANS_LIST,
  SQ_AUDIT_LIST,
  SQ_DEVICE_GET,
  SQ_COUNT
};

struct sq {
  sqlite3 *db;
  sqlite3_stmt *stmt[SQ_COUNT];
};

extern const char *const store__sq_sql[SQ_COUNT];

/* A SQLite result code as a negative errno (0 for OK, ROW and DONE). */
int store__sq_errno(struct sq *q, int rc);
/* Runs a statement without results (reset first, bindings kept). 0 or -errno. */
int store__sq_exec(struct sq *q, enum sq_stmt s);
/* Carries out one operation inside the open transaction. 0 or -errno. */
int store__sq_op(struct sq *q, struct store_op *op);

#endif
