/* report_policy.c -- per-device report windows, distinct-reporter counting and escalation. */
#include "moderation/report_policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "moderation/modmap.h"

#define FOREVER UINT64_MAX

struct rp_report {
  uint64_t t;
  struct device_id reporter;
  struct netaddr net; /* the reporter's /24 or /64 */
};

struct rp_device {
  struct device_id id;
  unsigned offences;
  bool banned;            /* ever: last_ban_ms and last_until are set */
  uint64_t last_ban_ms;   /* when the last ban began; reports up to then never count */
  uint64_t last_until;    /* when it ends: FOREVER if permanent, 0 if none */
  unsigned n, cap;
  struct rp_report *r;    /* oldest first */
};

struct report_policy {
  struct report_policy_config c;
  struct modmap *devices; /* device id -> struct rp_device */
  size_t prune_cursor;
};

void report_policy_config_default(struct report_policy_config *c) {
  memset(c, 0, sizeof(*c));
  c->window_ms = 3600000;
  c->threshold = 3;
  c->nsteps = 4;
  c->steps_ms[0] = 3600000ULL;       /* 1 h */
  c->steps_ms[1] = 86400000ULL;      /* 24 h */
  c->steps_ms[2] = 7 * 86400000ULL;  /* 7 d */
  c->steps_ms[3] = 0;                /* permanent */
  c->forgive_ms = 30 * 86400000ULL;
  c->max_reports = 32;
  c->max_devices = 100000;
}

int report_policy_new(const struct report_policy_config *c, struct report_policy **out) {
  struct report_policy_config def;

  *out = NULL;
  if (!c) {
    report_policy_config_default(&def);
    c = &def;
  }
  if (c->window_ms == 0 || c->threshold == 0 ||
      c->threshold > REPORT_POLICY_MAX_THRESHOLD || c->nsteps == 0 ||
      c->nsteps > REPORT_POLICY_MAX_STEPS || c->max_reports < c->threshold ||
      c->max_reports > 65535 || c->max_devices == 0)
    return -EINVAL;
  struct report_policy *p = calloc(1, sizeof(*p));
  if (!p)
    return -ENOMEM;
  p->c = *c;
  p->devices = modmap_new(c->seed);
  if (!p->devices) {
    free(p);
    return -ENOMEM;
  }
  *out = p;
  return 0;
}

void report_policy_free(struct report_policy *p) {
  if (!p)
    return;
  size_t cur = 0, budget = SIZE_MAX;
  struct rp_device *d;
  while ((d = modmap_next(p->devices, &cur, &budget)) != NULL) {
    free(d->r);
    free(d);
  }
  modmap_free(p->devices);
  free(p);
}

size_t report_policy_devices(const struct report_policy *p) { return modmap_count(p->devices); }

/* Offences that still count at now: all of them until forgive_ms after the last ban ended. */
static unsigned offences(const struct report_policy *p, const struct rp_device *d,
                         uint64_t now_ms) {
  if (d->offences == 0 || p->c.forgive_ms == 0 || d->last_until == FOREVER)
    return d->offences;
  if (now_ms >= d->last_until && now_ms - d->last_until >= p->c.forgive_ms)
    return 0;
  return d->offences;
}

static struct rp_device *get_or_add(struct report_policy *p, const struct device_id *id,
                                    int *rc) {
  struct rp_device *d = modmap_get(p->devices, id->b, DEVICE_ID_LEN);
  *rc = 0;
  if (d)
    return d;
  if (modmap_count(p->devices) >= p->c.max_devices) {
    *rc = -ENOSPC;
    return NULL;
  }
  d = calloc(1, sizeof(*d));
  if (!d || modmap_put(p->devices, id->b, DEVICE_ID_LEN, d) != 0) {
    free(d);
    *rc = -ENOMEM;
    return NULL;
  }
  d->id = *id;
  return d;
}

/* Drops reports that left the window or predate the last ban (the array is in arrival order,
 * but replayed times need not be monotonic, so every entry is checked). */
static void trim(const struct report_policy *p, struct rp_device *d, uint64_t now_ms) {
  unsigned k = 0;
  for (unsigned i = 0; i < d->n; i++) {
    const struct rp_report *r = &d->r[i];
    bool in_window = r->t > now_ms || now_ms - r->t < p->c.window_ms;
    if (in_window && (!d->banned || r->t > d->last_ban_ms))
      d->r[k++] = *r;
  }
  d->n = k;
}

static int append(const struct report_policy *p, struct rp_device *d, const struct rp_report *r) {
  if (d->n == p->c.max_reports) {
    memmove(d->r, d->r + 1, (d->n - 1) * sizeof(*d->r));
    d->n--;
  }
  if (d->n == d->cap) {
    unsigned cap = d->cap ? d->cap * 2 : 4;
    if (cap > p->c.max_reports)
      cap = p->c.max_reports;
    struct rp_report *nr = realloc(d->r, cap * sizeof(*nr));
    if (!nr)
      return -ENOMEM;
    d->r = nr;
    d->cap = cap;
  }
  d->r[d->n++] = *r;
  return 0;
}

/* Greedy: a report counts if neither its device nor its network was counted before it. Stops
 * at the threshold, so the work is O(n x threshold). */
static unsigned distinct(const struct report_policy *p, const struct rp_device *d) {
  unsigned counted = 0;
  unsigned idx[REPORT_POLICY_MAX_THRESHOLD]; /* indexes of the counted reports */

  for (unsigned i = 0; i < d->n && counted < p->c.threshold; i++) {
    bool fresh = true;
    for (unsigned j = 0; j < counted && fresh; j++) {
      const struct rp_report *c = &d->r[idx[j]];
      if (memcmp(c->reporter.b, d->r[i].reporter.b, DEVICE_ID_LEN) == 0 ||
          netaddr_equal(&c->net, &d->r[i].net))
        fresh = false;
    }
    if (fresh)
      idx[counted++] = i;
  }
  return counted;
}

static void record_ban(struct rp_device *d, uint64_t created_ms, uint64_t until) {
  d->banned = true;
  if (created_ms > d->last_ban_ms)
    d->last_ban_ms = created_ms;
  if (until > d->last_until)
    d->last_until = until;
}

int report_policy_add(struct report_policy *p, const struct device_id *reported,
                      const struct device_id *reporter, const struct netaddr *reporter_ip,
                      uint64_t now_ms, struct report_verdict *v) {
  struct rp_report r;
  int rc;

  memset(v, 0, sizeof(*v));
  if (memcmp(reported->b, reporter->b, DEVICE_ID_LEN) == 0 ||
      reporter_ip->family == NETADDR_NONE)
    return -EINVAL;
  struct rp_device *d = get_or_add(p, reported, &rc);
  if (!d)
    return rc;
  if (offences(p, d, now_ms) == 0)
    d->offences = 0;
  trim(p, d, now_ms);
  if (!d->banned || now_ms > d->last_ban_ms) {
    memset(&r, 0, sizeof(r));
    r.t = now_ms;
    r.reporter = *reporter;
    netaddr_network(reporter_ip, &r.net);
    if ((rc = append(p, d, &r)) != 0)
      return rc;
  }
  v->reporters = distinct(p, d);
  if (v->reporters < p->c.threshold)
    return 0;

  unsigned step = d->offences < p->c.nsteps ? d->offences : p->c.nsteps - 1;
  uint64_t len = p->c.steps_ms[step];
  v->ban = true;
  v->offence = ++d->offences;
  v->expires_ms = len ? now_ms + len : 0;
  record_ban(d, now_ms, len ? now_ms + len : FOREVER);
  d->n = 0;
  return 0;
}

int report_policy_note_ban(struct report_policy *p, const struct device_id *device,
                           uint64_t created_ms, uint64_t expires_ms) {
  int rc;
  struct rp_device *d = get_or_add(p, device, &rc);
  if (!d)
    return rc;
  if (offences(p, d, created_ms) == 0)
    d->offences = 0;
  d->offences++;
  record_ban(d, created_ms, expires_ms ? expires_ms : FOREVER);
  trim(p, d, created_ms);
  return 0;
}

unsigned report_policy_offences(const struct report_policy *p, const struct device_id *device,
                                uint64_t now_ms) {
  const struct rp_device *d = modmap_get(p->devices, device->b, DEVICE_ID_LEN);
  return d ? offences(p, d, now_ms) : 0;
}

size_t report_policy_prune(struct report_policy *p, uint64_t now_ms, size_t budget) {
  size_t freed = 0;
  struct rp_device *d;

  while (budget > 0) {
    d = modmap_next(p->devices, &p->prune_cursor, &budget);
    if (!d) {
      if (p->prune_cursor == 0)
        break; /* a whole pass ended */
      continue;
    }
    trim(p, d, now_ms);
    if (d->n == 0 && offences(p, d, now_ms) == 0) {
      modmap_del(p->devices, d->id.b, DEVICE_ID_LEN);
      free(d->r);
      free(d);
      p->prune_cursor--; /* the delete may have pulled a later entry into that slot */
      freed++;
    }
  }
  return freed;
}
