/* modblock.c -- who a device must not meet again (blocks and reports: never; recent partners:
 * not within match_rematch_cooldown_ms), kept across visits and told to the match engine for
 * every new visit of that device (docs/security.md, finding 8). */
#include <stdlib.h>
#include <string.h>

#include "server/app_int.h"
#include "server/moderate_int.h"

/* ---- never again, by device ---- */

#define BLOCKS_PER_DEVICE 64
#define BLOCK_DEVICES_MAX 200000

struct devblock {
  struct device_id ids[BLOCKS_PER_DEVICE];
  unsigned n, next; /* a ring: the oldest is forgotten first */
};

static void block_one(struct moderate *m, const struct device_id *a, const struct device_id *b) {
  struct devblock *d = hmap_get(m->blocks, a, sizeof(*a));
  if (!d) {
    if (hmap_count(m->blocks) >= BLOCK_DEVICES_MAX || !(d = calloc(1, sizeof(*d))))
      return;
    if (hmap_put(m->blocks, a, sizeof(*a), d)) {
      free(d);
      return;
    }
  }
  for (unsigned i = 0; i < d->n; i++)
    if (!memcmp(&d->ids[i], b, sizeof(*b)))
      return;
  d->ids[d->next] = *b;
  d->next = (d->next + 1) % BLOCKS_PER_DEVICE;
  if (d->n < BLOCKS_PER_DEVICE)
    d->n++;
}

void modblock_add(struct moderate *m, const struct device_id *a, const struct device_id *b) {
  if (!memcmp(a, b, sizeof(*a)))
    return;
  block_one(m, a, b);
  block_one(m, b, a);
}

/* A new visit of a device meets none of the devices it blocked or reported (or that blocked
 * or reported it), whatever their visits are now: the match engine is told per visit. */
void modblock_apply(struct app *a, struct peer *p) {
  struct moderate *m = a->mod;
  struct devblock *d = hmap_get(m->blocks, &p->device, sizeof(p->device));
  if (!d)
    return;
  uint64_t now = uv_now(a->loop);
  for (unsigned i = 0; i < d->n; i++)
    for (struct peer *q = hmap_get(m->by_device, &d->ids[i], sizeof(d->ids[i])); q;
         q = q->dev_next)
      if (q != p)
        peer_block(p, q->id, now);
}

/* p blocked (or reported) its partner q: their devices never meet again either. */
void moderate_block(struct app *a, struct peer *p, struct peer *q) {
  const struct device_id *d = q && q->has_device ? &q->device : NULL;
  /* A partner on another node: its device, if its node told us (moddevices.c). */
  if (!q && p->partner_dev_of &&
      (p->partner_dev_of == p->mq_partner || p->partner_dev_of == p->last_partner))
    d = &p->partner_dev;
  if (!a->mod || !p->has_device || !d)
    return;
  modblock_add(a->mod, &p->device, d);
  moddevices_relate(a, &p->device, d, 0); /* for later visits on any node */
}

/* ---- recent partners, by device ---- */

#define RECENT_PER_DEVICE 8

struct devrecent {
  struct device_id owner;            /* its key */
  struct device_id dev[RECENT_PER_DEVICE];
  uint64_t until[RECENT_PER_DEVICE]; /* unix ms; 0 = empty slot */
};

/* p was just paired with q: their devices count as recent partners of each other for
 * match_rematch_cooldown_ms, across visits (each side records its own). */
void modrecent_add_device(struct peer *p, const struct device_id *d) {
  struct moderate *m = p->app->mod;
  if (!m || !p->has_device || !p->app->cfg.match_recent_k)
    return;
  struct devrecent *r = modmap_get(m->recents, &p->device, sizeof(p->device));
  if (!r) {
    if (modmap_count(m->recents) >= BLOCK_DEVICES_MAX || !(r = calloc(1, sizeof(*r))))
      return;
    r->owner = p->device;
    if (modmap_put(m->recents, &p->device, sizeof(p->device), r)) {
      free(r);
      return;
    }
  }
  /* The same device again, or else the slot that ends first. */
  unsigned slot = 0;
  for (unsigned i = 0; i < RECENT_PER_DEVICE; i++) {
    if (r->until[i] && !memcmp(&r->dev[i], d, sizeof(*d))) {
      slot = i;
      break;
    }
    if (r->until[i] < r->until[slot])
      slot = i;
  }
  r->dev[slot] = *d;
  r->until[slot] = moderate_wall_ms() + (uint64_t)p->app->cfg.match_rematch_cooldown_ms;
}

void modrecent_add(struct peer *p, struct peer *q) {
  if (!q || !q->has_device)
    return;
  modrecent_add_device(p, &q->device);
  /* For later visits on any node (each pair written once). */
  if (p->has_device && p->id < q->id && p->app->cfg.match_recent_k)
    moddevices_relate(p->app, &p->device, &q->device,
                      moderate_wall_ms() + (uint64_t)p->app->cfg.match_rematch_cooldown_ms);
}

void modrecent_remember(struct app *a, match_id p, match_id q, uint64_t for_ms, uint64_t now) {
  struct matcher_cmd c = {.type = MATCHER_REMEMBER, .peer = p, .other = q};
  c.for_ms = for_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)for_ms;
  matchq_submit(a->match, &c, now);
}

/* A new visit of p's device: the live visits of the devices it met recently are its recent
 * partners in the match engine too, until the same time. */
void modrecent_apply(struct app *a, struct peer *p) {
  struct moderate *m = a->mod;
  struct devrecent *r = modmap_get(m->recents, &p->device, sizeof(p->device));
  if (!r)
    return;
  uint64_t wall = moderate_wall_ms(), now = uv_now(a->loop);
  for (unsigned i = 0; i < RECENT_PER_DEVICE; i++) {
    if (r->until[i] <= wall)
      continue;
    for (struct peer *q = hmap_get(m->by_device, &r->dev[i], sizeof(r->dev[i])); q;
         q = q->dev_next)
      if (q != p)
        modrecent_remember(a, p->id, q->id, r->until[i] - wall, now);
  }
}

void modrecent_prune(struct moderate *m, uint64_t wall, size_t budget) {
  struct devrecent *r;
  while ((r = modmap_next(m->recents, &m->recents_cursor, &budget)) != NULL) {
    bool live = false;
    for (unsigned i = 0; i < RECENT_PER_DEVICE; i++)
      live |= r->until[i] > wall;
    if (live)
      continue;
    modmap_del(m->recents, &r->owner, sizeof(r->owner));
    free(r);
    if (m->recents_cursor)
      m->recents_cursor--;
  }
}
