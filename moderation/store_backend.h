/* store_backend.h -- what a store backend implements (SQLite today; a Redis backend for a
 * cluster later), and the operations it is handed. Only backends include this. */
#ifndef TANDEM_STORE_BACKEND_H
#define TANDEM_STORE_BACKEND_H

#include "moderation/store.h"

/* store.c owns the queue, the thread, the wake-ups and the callbacks; a backend only carries
 * out batches of operations, synchronously, on the store thread. A Redis backend would use a
 * blocking hiredis connection there and MULTI/EXEC (or a Lua script) in place of the SQLite
 * transaction; its "durable" is whatever its appendfsync setting promises. */

enum store_op_type {
  STORE_OP_REPORT_ADD = 1,
  STORE_OP_REPORT_EVIDENCE,
  STORE_OP_REPORT_RESOLVE,
  STORE_OP_BAN_ADD,
  STORE_OP_BAN_LIFT,
  STORE_OP_AUDIT_ADD,
  STORE_OP_DEVICE_SEEN,
  STORE_OP_REPORTS_LIST, /* reads from here on */
  STORE_OP_REPORT_GET,
  STORE_OP_BANS_LIST,
  STORE_OP_AUDIT_LIST,
  STORE_OP_DEVICE_GET,
};

static inline bool store_op_is_write(int type) { return type < STORE_OP_REPORTS_LIST; }

struct store_chunk; /* result memory; see store_op_strdup */

struct store_op {
  struct store_op *next;   /* store.c's queues */
  enum store_op_type type;

  /* In: copied at submission. Strings point into the op's own memory and stay valid until
   * the op is freed after its callback. */
  int64_t id;              /* EVIDENCE, RESOLVE, LIFT, GET: the target */
  uint64_t now_ms;         /* RESOLVE, LIFT, DEVICE_SEEN */
  const char *actor;       /* RESOLVE, LIFT */
  const char *text;        /* RESOLVE: the resolution */
  size_t limit;            /* AUDIT_LIST */
  union {
    struct store_report report;       /* REPORT_ADD; EVIDENCE: evidence_* only */
    struct ban ban;                   /* BAN_ADD */
    struct store_audit audit;         /* AUDIT_ADD; AUDIT_LIST: id = before_id */
    struct device_id device;          /* DEVICE_SEEN, DEVICE_GET */
    struct store_report_query reports;
    struct store_ban_query bans;
  } in;

  /* Out: set by the backend. rows is a malloc'd array of the read's record type (struct
   * store_report, struct ban, struct store_audit or struct store_device) whose strings come
   * from store_op_strdup; store.c frees both after the callback. */
  int status;
  int64_t new_id;
  void *rows;
  size_t nrows;
  struct store_chunk *chunks;

  /* Completion (store.c). */
  void (*cb)(void);
  void *arg;
};

/* A copy of s (len bytes, then a NUL) that lives as long as op: for the strings of rows. NULL
 * on ENOMEM. Store thread. */
char *store_op_strdup(struct store_op *op, const char *s, size_t len);

struct store_backend_ops {
  const char *name;
  /* Carries out ops[0..n) in order on the store thread, setting each op's status and results;
   * writes must be durable before it returns (every write then fails if they cannot be).
   * A nonzero return fails every op of the batch with that status (the store frees rows). */
  int (*run)(void *be, struct store_op **ops, size_t n);
  /* After the last batch, on the store thread. */
  void (*close)(void *be);
};

/* Starts the thread over an opened backend. On error the backend is closed. 0 or -ENOMEM
 * (or -EINVAL for a bad config). */
int store_open_backend(uv_loop_t *loop, const struct store_config *cfg,
                       const struct store_backend_ops *ops, void *be, struct store **out);

#endif
