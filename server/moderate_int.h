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
  struct device_signer *signer;
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
void modblock_add(struct moderate *m, const struct device_id *a, const struct device_id *b);
void modblock_apply(struct app *a, struct peer *p);
struct peer *moderate_peers_of_device(struct app *a, const struct device_id *d);
void modrecent_add(struct peer *p, struct peer *q);
void modrecent_apply(struct app *a, struct peer *p);
void modrecent_prune(struct moderate *m, uint64_t wall, size_t budget);

/* modsnap.c */
void modsnap_peer_gone(struct peer *p);
void modsnap_cancel_all(struct moderate *m);

#endif
