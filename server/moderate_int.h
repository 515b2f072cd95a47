/* moderate_int.h -- moderation's private state, shared by moderate.c, modsnap.c, report.c and
 * admin.c. */
#ifndef TANDEM_MODERATE_INT_H
#define TANDEM_MODERATE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "media/hmap.h"
#include "moderation/ban.h"
#include "moderation/device.h"
#include "moderation/modmap.h"
#include "moderation/report_policy.h"
#include "moderation/store.h"
#include "moderation/workpool.h"
#include "server/moderate.h"

struct modsnap_job;

struct moderate {
  struct app *a;
  struct device_signer *signer;     /* signs new tokens, verifies */
  struct device_signer *signer_old; /* this node's own key once it took the cluster's: verifies
                                       the tokens it issued before (modcluster.c), or NULL */
  unsigned node;                /* node_id with redis_url (ban ids are cluster ids), else 0 */
  struct modcluster *cluster;   /* bans across nodes (modcluster.c), NULL without redis_url */
  struct store *store;
  struct ban_set *bans;
  struct report_policy *policy;
  uint64_t policy_window_ms;
  struct workpool *pool;        /* snapshots and evidence, off the media threads and the loop */
  struct hmap *by_device;       /* device id -> its live peers (peer.dev_next) */
  struct hmap *blocks;          /* device id -> struct devblock: never paired again */
  struct modmap *recents;       /* device id -> struct devrecent: not again for a while */
  size_t recents_cursor;        /* where the tick's pruning walk resumes */
  int64_t next_temp_id;         /* a ban's id until the store gives it one (counts down) */
  char evidence_dir[300];       /* data_dir/evidence */
  unsigned snap_jobs;           /* snapshot jobs in progress (media request or pool) */
  struct modsnap_job *jobs;     /* every snapshot job, for shutdown */
  uint64_t last_pic;            /* the latest picture id given (modsnap.c) */
  unsigned report_jobs;         /* reports being captured and stored */
  bool closing;
};

/* moderate.c */
/* The ban id of the store's id: the cluster id with redis_url (banwire.h), else itself. */
int64_t moderate_ban_id(struct moderate *m, int64_t local);
/* Adds a ban learnt from another node and cuts off every live peer it covers, in this loop
 * turn (told `banned`). 0, -EEXIST (known already), or ban_set_add's error. */
int moderate_enforce(struct app *a, const struct ban *b);
/* A device token: 0 (this key), 1 (the node's previous key: p's token is re-signed), or
 * -EACCES. */
int moderate_device_verify(struct moderate *m, const char *tok, size_t len,
                           struct device_id *dev);

/* modcluster.c: bans across nodes through Redis (docs/moderation.md). All are no-ops, or
 * answer as if standalone, without redis_url. */
int modcluster_open(struct app *a);  /* at start, after the store's bans are loaded */
void modcluster_close(struct moderate *m, void (*done)(void *), void *arg);
void modcluster_tick(struct app *a);
struct redis *modcluster_redis(struct app *a); /* its link to Redis, or NULL (alone) */
/* admin_nodes.c: this node's entry in the cluster's list of nodes, every second. */
void admin_nodes_tick(struct app *a);
uint64_t admin_nodes_bad_input(void); /* entries of that list that did not decode */
void modcluster_ban_stored(struct app *a, const struct ban *b); /* publish this node's ban */
void modcluster_ban_lifted(struct app *a, int64_t id, const char *actor); /* ... its unban */
/* Lifts another node's ban through Redis: cb(arg, 0 / -ENOENT / -EALREADY / -ENOTCONN).
 * Returns 0 (cb will run) or -ENOTCONN / -ENOMEM (it will not). */
int modcluster_unban(struct app *a, int64_t id, const char *actor, moderate_done_fn cb,
                     void *arg);
void modcluster_metrics(void *f, struct app *a);
void modblock_add(struct moderate *m, const struct device_id *a, const struct device_id *b);
void modblock_apply(struct app *a, struct peer *p);
struct peer *moderate_peers_of_device(struct app *a, const struct device_id *d);
void modrecent_add(struct peer *p, struct peer *q);
void modrecent_add_device(struct peer *p, const struct device_id *d); /* q's device only */
/* moddevices.c: blocks and recent partners by device across nodes, through Redis. */
#define MODDEVICES_CHANNEL "tandem:devices"
void moddevices_relate(struct app *a, const struct device_id *x, const struct device_id *y,
                       uint64_t until); /* until 0: never again */
void moddevices_visit(struct app *a, struct peer *p);          /* a new visit of p's device */
void moddevices_on_message(struct app *a, const char *msg, size_t len);
void modrecent_apply(struct app *a, struct peer *p);
/* p and q count as recent partners in matching for for_ms from now (REMEMBER). */
void modrecent_remember(struct app *a, match_id p, match_id q, uint64_t for_ms, uint64_t now);
void modrecent_prune(struct moderate *m, uint64_t wall, size_t budget);

/* modsnap.c */
void modsnap_peer_gone(struct peer *p);
void modsnap_cancel_all(struct moderate *m);

#endif
