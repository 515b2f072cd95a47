/* store.c -- the store's machinery, whatever the backend: submissions copied into operations,
 * a bounded FIFO to the store thread, batches, completions back through a uv_async_t. */
#include "moderation/store_backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX_DEFAULT 4096
#define BATCH_MAX_DEFAULT 256
#define CHUNK_SIZE 4096

struct store_chunk {
  struct store_chunk *next;
  size_t used, cap;
  char data[];
};

struct store {
  uv_loop_t *loop;
  uv_async_t async;
  uv_thread_t thread;
  uv_mutex_t lock;
  uv_cond_t cond;
  const struct store_backend_ops *ops;
  void *be;
  struct store_op **batch; /* the store thread's */
  unsigned batch_max;

  /* Under lock. */
  struct store_op *q_head, *q_tail; /* submitted, not yet taken by the thread */
  struct store_op *d_head, *d_tail; /* carried out, callbacks not yet run */
  bool stop;                        /* exit once the queue is empty */
  bool exited;                      /* the thread will touch nothing but async any more */

  /* Loop thread only. */
  size_t outstanding;               /* submitted, callback not yet run */
  size_t queue_max;
  bool closing, joined;
  void (*close_done)(void *arg);
  void *close_arg;
};

/* ---- operations ---- */

char *store_op_strdup(struct store_op *op, const char *s, size_t len) {
  struct store_chunk *c = op->chunks;
  if (!c || c->cap - c->used < len + 1) {
    size_t cap = len + 1 > CHUNK_SIZE ? len + 1 : CHUNK_SIZE;
    c = malloc(sizeof(*c) + cap);
    if (!c)
      return NULL;
    c->used = 0;
    c->cap = cap;
    c->next = op->chunks;
    op->chunks = c;
  }
  char *p = c->data + c->used;
  memcpy(p, s, len);
  p[len] = '\0';
  c->used += len + 1;
  return p;
}

static void op_free(struct store_op *op) {
  struct store_chunk *c = op->chunks;
  while (c) {
    struct store_chunk *next = c->next;
    free(c);
    c = next;
  }
  free(op->rows);
  free(op);
}

/* Copies a string argument into the op. NULL stays NULL unless required. */
static int copy_str(struct store_op *op, const char **dst, const char *src, bool required) {
  if (!src) {
    *dst = NULL;
    return required ? -EINVAL : 0;
  }
  size_t len = strlen(src);
  if (len > STORE_TEXT_MAX || (required && len == 0))
    return -EINVAL;
  *dst = store_op_strdup(op, src, len);
  return *dst ? 0 : -ENOMEM;
}

static bool time_ok(uint64_t t) { return t <= (uint64_t)INT64_MAX; }

/* ---- the store thread ---- */

static void thread_main(void *arg) {
  struct store *st = arg;

  (void)pthread_setname_np(pthread_self(), "store");
  uv_mutex_lock(&st->lock);
  for (;;) {
    while (!st->q_head && !st->stop)
      uv_cond_wait(&st->cond, &st->lock);
    if (!st->q_head)
      break;
    size_t n = 0;
    while (st->q_head && n < st->batch_max) {
      st->batch[n++] = st->q_head;
      st->q_head = st->q_head->next;
    }
    if (!st->q_head)
      st->q_tail = NULL;
    uv_mutex_unlock(&st->lock);

    int rc = st->ops->run(st->be, st->batch, n);
    for (size_t i = 0; rc != 0 && i < n; i++)
      st->batch[i]->status = rc;

    uv_mutex_lock(&st->lock);
    for (size_t i = 0; i < n; i++) {
      st->batch[i]->next = NULL;
      if (st->d_tail)
        st->d_tail->next = st->batch[i];
      else
        st->d_head = st->batch[i];
      st->d_tail = st->batch[i];
    }
    uv_mutex_unlock(&st->lock);
    uv_async_send(&st->async);
    uv_mutex_lock(&st->lock);
  }
  uv_mutex_unlock(&st->lock);

  st->ops->close(st->be);
  uv_mutex_lock(&st->lock);
  st->exited = true;
  uv_mutex_unlock(&st->lock);
  /* The last thing this thread does; the loop joins it before closing the handle. */
  uv_async_send(&st->async);
}

/* ---- the loop side ---- */

static void deliver(struct store_op *op) {
  bool ok = op->status == 0;
  if (!op->cb)
    return;
  switch (op->type) {
  case STORE_OP_REPORTS_LIST:
  case STORE_OP_REPORT_GET:
    ((store_reports_fn)op->cb)(op->arg, op->status, ok ? op->rows : NULL, ok ? op->nrows : 0);
    break;
  case STORE_OP_BANS_LIST:
    ((store_bans_fn)op->cb)(op->arg, op->status, ok ? op->rows : NULL, ok ? op->nrows : 0);
    break;
  case STORE_OP_AUDIT_LIST:
    ((store_audit_fn)op->cb)(op->arg, op->status, ok ? op->rows : NULL, ok ? op->nrows : 0);
    break;
  case STORE_OP_DEVICE_GET:
    ((store_device_fn)op->cb)(op->arg, op->status, ok && op->nrows ? op->rows : NULL);
    break;
  default:
    ((store_id_fn)op->cb)(op->arg, op->status, ok ? op->new_id : 0);
    break;
  }
}

static void on_closed(uv_handle_t *h) {
  struct store *st = h->data;
  void (*done)(void *) = st->close_done;
  void *arg = st->close_arg;
  uv_mutex_destroy(&st->lock);
  uv_cond_destroy(&st->cond);
  free(st->batch);
  free(st);
  if (done)
    done(arg);
}

static void on_async(uv_async_t *h) {
  struct store *st = h->data;

  uv_mutex_lock(&st->lock);
  struct store_op *op = st->d_head;
  st->d_head = st->d_tail = NULL;
  bool exited = st->exited;
  uv_mutex_unlock(&st->lock);

  /* In the order the thread carried them out, which is the order of submission. */
  while (op) {
    struct store_op *next = op->next;
    /* Its slot is free before its callback runs, so the callback may submit in its place. */
    st->outstanding--;
    deliver(op);
    op_free(op);
    op = next;
  }
  /* exited was read with the list under one lock, and the thread finishes every operation
   * before it exits, so nothing is left to deliver. */
  if (exited && !st->joined) {
    st->joined = true;
    uv_thread_join(&st->thread);
    uv_close((uv_handle_t *)&st->async, on_closed);
  }
}

int store_open_backend(uv_loop_t *loop, const struct store_config *cfg,
                       const struct store_backend_ops *ops, void *be, struct store **out) {
  struct store *st;
  int rc;

  *out = NULL;
  st = calloc(1, sizeof(*st));
  if (!st) {
    ops->close(be);
    return -ENOMEM;
  }
  st->loop = loop;
  st->ops = ops;
  st->be = be;
  st->queue_max = cfg->queue_max ? cfg->queue_max : QUEUE_MAX_DEFAULT;
  st->batch_max = cfg->batch_max ? cfg->batch_max : BATCH_MAX_DEFAULT;
  st->batch = calloc(st->batch_max, sizeof(*st->batch));
  if (!st->batch) {
    rc = -ENOMEM;
    goto fail_free;
  }
  if ((rc = uv_mutex_init(&st->lock)) != 0)
    goto fail_free;
  if ((rc = uv_cond_init(&st->cond)) != 0)
    goto fail_mutex;
  if ((rc = uv_async_init(loop, &st->async, on_async)) != 0)
    goto fail_cond;
  st->async.data = st;
  if ((rc = uv_thread_create(&st->thread, thread_main, st)) != 0) {
    /* The handle must be closed through the loop; on_closed frees the rest. */
    st->close_done = NULL;
    ops->close(be);
    uv_close((uv_handle_t *)&st->async, on_closed);
    return rc;
  }
  *out = st;
  return 0;

fail_cond:
  uv_cond_destroy(&st->cond);
fail_mutex:
  uv_mutex_destroy(&st->lock);
fail_free:
  free(st->batch);
  free(st);
  ops->close(be);
  return rc;
}

void store_close(struct store *st, void (*done)(void *arg), void *arg) {
  if (st->closing)
    return;
  st->closing = true;
  st->close_done = done;
  st->close_arg = arg;
  uv_mutex_lock(&st->lock);
  st->stop = true;
  uv_cond_signal(&st->cond);
  uv_mutex_unlock(&st->lock);
}

size_t store_pending(const struct store *st) { return st->outstanding; }

/* ---- submissions ---- */

static int op_new(struct store *st, enum store_op_type type, void (*cb)(void), void *arg,
                  struct store_op **out) {
  *out = NULL;
  if (st->closing)
    return -ESHUTDOWN;
  if (st->outstanding >= st->queue_max)
    return -EAGAIN;
  struct store_op *op = calloc(1, sizeof(*op));
  if (!op)
    return -ENOMEM;
  op->type = type;
  op->cb = cb;
  op->arg = arg;
  *out = op;
  return 0;
}

/* Queues op, or frees it if building it failed (rc != 0). */
static int submit(struct store *st, struct store_op *op, int rc) {
  if (rc != 0) {
    op_free(op);
    return rc;
  }
  op->next = NULL;
  uv_mutex_lock(&st->lock);
  if (st->q_tail)
    st->q_tail->next = op;
  else
    st->q_head = op;
  st->q_tail = op;
  uv_cond_signal(&st->cond);
  uv_mutex_unlock(&st->lock);
  st->outstanding++;
  return 0;
}

#define NEW_OP(type, cb)                                                                   \
  struct store_op *op;                                                                     \
  int rc = op_new(st, type, (void (*)(void))(cb), arg, &op);                               \
  if (rc)                                                                                  \
    return rc

int store_report_add(struct store *st, const struct store_report *r, store_id_fn cb,
                     void *arg) {
  if (!time_ok(r->time_ms))
    return -EINVAL;
  NEW_OP(STORE_OP_REPORT_ADD, cb);
  struct store_report *c = &op->in.report;
  *c = *r;
  c->state = STORE_REPORT_OPEN;
  c->resolution = c->resolved_by = NULL;
  c->resolved_ms = 0;
  rc = copy_str(op, &c->reason, r->reason, true);
  if (!rc)
    rc = copy_str(op, &c->note, r->note ? r->note : "", false);
  if (!rc)
    rc = copy_str(op, &c->evidence_jpeg, r->evidence_jpeg, false);
  if (!rc)
    rc = copy_str(op, &c->evidence_webm, r->evidence_webm, false);
  return submit(st, op, rc);
}

int store_report_evidence(struct store *st, int64_t id, const char *jpeg, const char *webm,
                          store_id_fn cb, void *arg) {
  if (id <= 0 || (!jpeg && !webm))
    return -EINVAL;
  NEW_OP(STORE_OP_REPORT_EVIDENCE, cb);
  op->id = id;
  rc = copy_str(op, &op->in.report.evidence_jpeg, jpeg, false);
  if (!rc)
    rc = copy_str(op, &op->in.report.evidence_webm, webm, false);
  return submit(st, op, rc);
}

int store_report_resolve(struct store *st, int64_t id, const char *resolution,
                         const char *actor, uint64_t now_ms, store_id_fn cb, void *arg) {
  if (id <= 0 || !time_ok(now_ms))
    return -EINVAL;
  NEW_OP(STORE_OP_REPORT_RESOLVE, cb);
  op->id = id;
  op->now_ms = now_ms;
  rc = copy_str(op, &op->text, resolution, true);
  if (!rc)
    rc = copy_str(op, &op->actor, actor, true);
  return submit(st, op, rc);
}

int store_ban_add(struct store *st, const struct ban *b, store_id_fn cb, void *arg) {
  char target[BAN_TARGET_STRLEN];
  /* The ban set's limits, so that every stored ban loads back into it at start-up. */
  if (!time_ok(b->created_ms) || !time_ok(b->expires_ms) ||
      ban_target_format(&b->target, target, sizeof(target)) != 0 ||
      (b->expires_ms && b->expires_ms <= b->created_ms) ||
      (b->reason && strlen(b->reason) > BAN_TEXT_MAX) || (b->by && strlen(b->by) > BAN_TEXT_MAX))
    return -EINVAL;
  NEW_OP(STORE_OP_BAN_ADD, cb);
  struct ban *c = &op->in.ban;
  *c = *b;
  c->id = 0;
  c->lifted_ms = 0;
  rc = copy_str(op, &c->reason, b->reason ? b->reason : "", false);
  if (!rc)
    rc = copy_str(op, &c->by, b->by, true);
  return submit(st, op, rc);
}

int store_ban_lift(struct store *st, int64_t id, const char *actor, uint64_t now_ms,
                   store_id_fn cb, void *arg) {
  if (id <= 0 || !time_ok(now_ms))
    return -EINVAL;
  NEW_OP(STORE_OP_BAN_LIFT, cb);
  op->id = id;
  op->now_ms = now_ms;
  rc = copy_str(op, &op->actor, actor, true);
  return submit(st, op, rc);
}

int store_audit_add(struct store *st, const struct store_audit *a, store_id_fn cb, void *arg) {
  if (!time_ok(a->time_ms))
    return -EINVAL;
  NEW_OP(STORE_OP_AUDIT_ADD, cb);
  struct store_audit *c = &op->in.audit;
  c->time_ms = a->time_ms;
  rc = copy_str(op, &c->actor, a->actor, true);
  if (!rc)
    rc = copy_str(op, &c->action, a->action, true);
  if (!rc)
    rc = copy_str(op, &c->target, a->target ? a->target : "", false);
  if (!rc)
    rc = copy_str(op, &c->details_json, a->details_json ? a->details_json : "{}", false);
  return submit(st, op, rc);
}

int store_device_seen(struct store *st, const struct device_id *d, uint64_t now_ms,
                      store_id_fn cb, void *arg) {
  if (!time_ok(now_ms))
    return -EINVAL;
  NEW_OP(STORE_OP_DEVICE_SEEN, cb);
  op->in.device = *d;
  op->now_ms = now_ms;
  return submit(st, op, 0);
}

static bool limit_ok(size_t limit) { return limit >= 1 && limit <= STORE_PAGE_MAX; }

int store_reports_list(struct store *st, const struct store_report_query *q,
                       store_reports_fn cb, void *arg) {
  if (!cb || !limit_ok(q->limit) || !time_ok(q->since_ms) || q->before_id < 0 ||
      q->after_id < 0 || q->state < STORE_REPORT_ANY || q->state > STORE_REPORT_RESOLVED)
    return -EINVAL;
  NEW_OP(STORE_OP_REPORTS_LIST, cb);
  op->in.reports = *q;
  return submit(st, op, 0);
}

int store_report_get(struct store *st, int64_t id, store_reports_fn cb, void *arg) {
  if (!cb || id <= 0)
    return -EINVAL;
  NEW_OP(STORE_OP_REPORT_GET, cb);
  op->id = id;
  return submit(st, op, 0);
}

int store_bans_list(struct store *st, const struct store_ban_query *q, store_bans_fn cb,
                    void *arg) {
  if (!cb || !limit_ok(q->limit) || !time_ok(q->now_ms) || !time_ok(q->since_ms) ||
      q->after_id < 0 ||
      (q->kind != 0 && q->kind != BAN_DEVICE && q->kind != BAN_IP && q->kind != BAN_IP6_64))
    return -EINVAL;
  NEW_OP(STORE_OP_BANS_LIST, cb);
  op->in.bans = *q;
  return submit(st, op, 0);
}

int store_audit_list(struct store *st, int64_t before_id, size_t limit, store_audit_fn cb,
                     void *arg) {
  if (!cb || !limit_ok(limit) || before_id < 0)
    return -EINVAL;
  NEW_OP(STORE_OP_AUDIT_LIST, cb);
  op->in.audit.id = before_id;
  op->limit = limit;
  return submit(st, op, 0);
}

int store_device_get(struct store *st, const struct device_id *d, store_device_fn cb,
                     void *arg) {
  if (!cb)
    return -EINVAL;
  NEW_OP(STORE_OP_DEVICE_GET, cb);
  op->in.device = *d;
  return submit(st, op, 0);
}
