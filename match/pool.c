/* pool.c -- the waiting pool index, pairing decisions and pair history. */
#include "match/pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A peer has waited long enough that its recent partners are acceptable again. */
static int pool_lonely(const struct match_engine *e, const struct match__peer *p) {
  return e->now - p->wait_start >= e->cfg.rematch_lonely_ms;
}

/* x does not want y again yet: y is one of x's last recent_k partners, the
 * cool-down has not run out and x has not waited long enough to be lonely. */
static int pool_recent_excludes(const struct match_engine *e, const struct match__peer *x,
                                const struct match__peer *y) {
  uint32_t i;

  if (x->nrecent == 0 || pool_lonely(e, x))
    return 0;
  for (i = 0; i < x->nrecent; i++) {
    if (x->recent[i].serial == y->serial && x->recent[i].until_ms > e->now)
      return 1;
  }
  return 0;
}

/* Everything but interests: the index the candidate came from already
 * guarantees a shared tag or that both accept anyone. */
static int pool_compatible(const struct match_engine *e, const struct match__peer *a,
                           const struct match__peer *b) {
  return !match__blocked(e, a, b) && !pool_recent_excludes(e, a, b) &&
         !pool_recent_excludes(e, b, a);
}

/* Walks one index list oldest first from the first place after `from` (0:
 * the head), skipping at most MATCH__SCAN_MAX excluded candidates, and
 * returns the oldest compatible one if it waited longer than best (else
 * best). When the bound cut the walk short, *stop is lowered to the last
 * place examined, so a later re-scan can resume there. */
static struct match__peer *pool_scan(const struct match_engine *e, const struct match__peer *p,
                                     const struct match__rbtree *t, int is_open,
                                     struct match__peer *best, uint64_t from, uint64_t *stop) {
  const struct match__rbnode *n = from == 0 ? t->first : match__rb_after(t, from);
  unsigned seen = 0;

  for (; n != NULL; n = match__rb_next(n)) {
    struct match__peer *c;
    if (best != NULL && n->key >= best->seq)
      break;
    if (seen == MATCH__SCAN_MAX) {
      if (n->key - 1 < *stop)
        *stop = n->key - 1;
      break;
    }
    if (is_open)
      c = MATCH__CONTAINER_OF(n, struct match__peer, open_node);
    else
      c = MATCH__CONTAINER_OF(n, struct match__memb, node)->peer;
    if (c == p)
      continue;
    seen++;
    if (pool_compatible(e, p, c))
      return c;
  }
  return best;
}

static int pool_home(const struct match_engine *e, const struct match__peer *a,
                     const struct match__peer *b) {
  return (a->id >> e->cfg.home_shift) == (b->id >> e->cfg.home_shift);
}

/* A peer at home with p (home_shift) in list t after best, as good as best: compatible, and
 * waiting since at most home_window_ms after it. At most MATCH__SCAN_MAX are looked at. */
static struct match__peer *pool_home_scan(const struct match_engine *e,
                                          const struct match__peer *p,
                                          const struct match__rbtree *t, int is_open,
                                          const struct match__peer *best) {
  const struct match__rbnode *n = match__rb_after(t, best->seq);
  unsigned seen = 0;

  for (; n != NULL && seen < MATCH__SCAN_MAX; n = match__rb_next(n)) {
    struct match__peer *c = is_open ? MATCH__CONTAINER_OF(n, struct match__peer, open_node)
                                    : MATCH__CONTAINER_OF(n, struct match__memb, node)->peer;
    if (c->wait_start > best->wait_start + e->cfg.home_window_ms)
      break;
    if (c == p)
      continue;
    seen++;
    if (pool_home(e, p, c) && pool_compatible(e, p, c))
      return c;
  }
  return NULL;
}

/* best (from a tag list, or the open list if open) is not at home with p: the oldest one as
 * good that is, if any. */
static struct match__peer *pool_prefer_home(const struct match_engine *e,
                                            const struct match__peer *p,
                                            struct match__peer *best, int open) {
  struct match__peer *home = NULL, *c;
  uint8_t i;

  if (best == NULL || e->cfg.home_shift == 0 || pool_home(e, p, best))
    return best;
  if (open)
    home = pool_home_scan(e, p, &e->open, 1, best);
  for (i = 0; !open && i < p->nmemb; i++) {
    c = pool_home_scan(e, p, &p->memb[i].tag->waiting, 0, best);
    if (c != NULL && (home == NULL || c->seq < home->seq))
      home = c;
  }
  return home != NULL ? home : best;
}

/* The partner for p: the longest-waiting compatible peer sharing a tag (or
 * the language); failing that, if p accepts anyone, the longest-waiting
 * compatible peer that accepts anyone; either way one at home with p if
 * one is as good (home_shift). Only places after `from` are looked at;
 * *stop (UINT64_MAX when every list was walked to its end) tells where a
 * later re-scan should resume. NULL if none. */
static struct match__peer *pool_find_from(const struct match_engine *e,
                                          const struct match__peer *p, uint64_t from,
                                          uint64_t *stop) {
  const struct match__rbtree *head = NULL;
  struct match__peer *best = NULL;
  uint8_t i;

  *stop = UINT64_MAX;
  /* Fast path: the oldest head among p's tag lists, found from the cached
   * head keys, is the answer whenever it is compatible, and usually it is. */
  for (i = 0; from == 0 && i < p->nmemb; i++) {
    const struct match__rbtree *t = &p->memb[i].tag->waiting;
    if (t->first != NULL && (head == NULL || t->first_key < head->first_key))
      head = t;
  }
  if (head != NULL) {
    const struct match__memb *m = MATCH__CONTAINER_OF(head->first, struct match__memb, node);
    if (m->peer != p && pool_compatible(e, p, m->peer))
      return pool_prefer_home(e, p, m->peer, 0);
  }
  for (i = 0; i < p->nmemb; i++)
    best = pool_scan(e, p, &p->memb[i].tag->waiting, 0, best, from, stop);
  if (best != NULL)
    return pool_prefer_home(e, p, best, 0);
  if (p->open)
    best = pool_prefer_home(e, p, pool_scan(e, p, &e->open, 1, NULL, from, stop), 1);
  return best;
}

static struct match__peer *pool_find(const struct match_engine *e, const struct match__peer *p) {
  uint64_t stop;

  return pool_find_from(e, p, 0, &stop);
}

static void pool_link_trees(struct match_engine *e, struct match__peer *p) {
  uint8_t i;

  for (i = 0; i < p->nmemb; i++) {
    p->memb[i].node.key = p->seq;
    match__rb_insert(&p->memb[i].tag->waiting, &p->memb[i].node);
  }
  if (p->open) {
    p->open_node.key = p->seq;
    match__rb_insert(&e->open, &p->open_node);
  }
}

static void pool_unlink_trees(struct match_engine *e, struct match__peer *p) {
  uint8_t i;

#if defined(__GNUC__)
  /* Each erase walks up from its node; start all those walks' first misses
   * together. */
  for (i = 0; i < p->nmemb; i++)
    __builtin_prefetch(p->memb[i].node.parent, 1);
#endif
  for (i = 0; i < p->nmemb; i++)
    match__rb_erase(&p->memb[i].tag->waiting, &p->memb[i].node);
  if (p->open)
    match__rb_erase(&e->open, &p->open_node);
}

static void pool_fill_shared(struct match_event *ev, const struct match__peer *a,
                             const struct match__peer *b) {
  uint8_t i, j;

  ev->n_shared = 0;
  for (i = 0; i < a->ntags; i++) {
    for (j = 0; j < b->ntags; j++) {
      if (a->memb[i].tag == b->memb[j].tag) {
        struct match__tag *t = a->memb[i].tag;
        memcpy(ev->shared_tags[ev->n_shared], t->name, (size_t)t->len + 1);
        ev->n_shared++;
        break;
      }
    }
  }
}

/* Pairs two peers that are both out of the pool. */
static void pool_pair(struct match_engine *e, struct match__peer *a, struct match__peer *b) {
  a->partner = b;
  b->partner = a;
  e->npaired += 2;
  pool_fill_shared(match__ev_push(e, MATCH_EV_PAIRED, a->id, b->id), a, b);
  pool_fill_shared(match__ev_push(e, MATCH_EV_PAIRED, b->id, a->id), b, a);
}

int match__pool_eligible(struct match_engine *e, struct match__peer *p) {
  if (p->cooling && p->cool_until <= e->now) {
    p->cooling = 0;
    match__list_unlink(&p->cool_link);
  }
  return p->want && p->ready && !p->away && !p->banned && !p->cooling && p->partner == NULL &&
         !p->in_pool;
}

void match__pool_link(struct match_engine *e, struct match__peer *p) {
  pool_link_trees(e, p);
  if (!p->open)
    match__list_append(&e->widen, &p->widen_link);
  p->retry_due = p->wait_start + e->cfg.rematch_lonely_ms;
  p->scan_from = 0;
  match__list_append(&e->retry, &p->retry_link);
  p->in_pool = 1;
  e->nwaiting++;
}

void match__pool_enter(struct match_engine *e, struct match__peer *p, enum match__enter how) {
  struct match__peer *c;

  /* Place 0 is no place: a peer keeping its place must have one (a new matcher's restored
   * pair never had one in this engine), else it would go ahead of everyone. */
  if (how != MATCH__ENTER_KEEP || p->seq == 0)
    p->seq = ++e->next_seq;
  p->wait_start = e->now;
  p->open = p->nmemb == 0 || e->cfg.widen_after_ms == 0;
  c = pool_find(e, p);
  if (c != NULL) {
    match__pool_leave(e, c);
    pool_pair(e, p, c);
    return;
  }
  match__pool_link(e, p);
  match__ev_push(e, MATCH_EV_WAITING, p->id, 0);
}

void match__pool_leave(struct match_engine *e, struct match__peer *p) {
  if (!p->in_pool)
    return;
#if defined(__GNUC__)
  /* The list neighbours are other peers, likely cold in a big pool: start
   * fetching them now so the misses overlap the tree work below. */
  if (match__list_linked(&p->widen_link)) {
    __builtin_prefetch(p->widen_link.prev, 1);
    __builtin_prefetch(p->widen_link.next, 1);
  }
  __builtin_prefetch(p->retry_link.prev, 1);
  __builtin_prefetch(p->retry_link.next, 1);
#endif
  pool_unlink_trees(e, p);
  match__list_unlink(&p->widen_link);
  match__list_unlink(&p->retry_link);
  p->in_pool = 0;
  e->nwaiting--;
}

struct match__memb *match__pool_retag(struct match_engine *e, struct match__peer *p,
                                      struct match__memb *memb, uint8_t ntags, uint8_t nmemb) {
  struct match__memb *old = p->memb;
  struct match__peer *c;
  uint8_t i;

  if (p->in_pool)
    pool_unlink_trees(e, p);
  p->memb = memb;
  p->ntags = ntags;
  p->nmemb = nmemb;
  for (i = 0; i < nmemb; i++)
    memb[i].peer = p;
  if (!p->in_pool)
    return old;
  /* Openness only ever grows during one wait, so the widen list stays sorted:
   * a peer that accepted anyone keeps doing so whatever tags it adds. */
  if (!p->open && (nmemb == 0 || e->now - p->wait_start >= e->cfg.widen_after_ms)) {
    p->open = 1;
    match__list_unlink(&p->widen_link);
  }
  c = pool_find(e, p);
  if (c != NULL) {
    /* Still counted as waiting with no trees linked; leave() must not unlink
     * them, so account for it by hand. */
    match__list_unlink(&p->widen_link);
    match__list_unlink(&p->retry_link);
    p->in_pool = 0;
    e->nwaiting--;
    match__pool_leave(e, c);
    pool_pair(e, p, c);
    return old;
  }
  pool_link_trees(e, p);
  return old;
}

void match__recent_note(const struct match_engine *e, struct match__peer *x,
                        const struct match__peer *y, uint64_t until_ms) {
  uint32_t k = e->cfg.recent_k;
  uint32_t i;

  if (k == 0)
    return;
  for (i = 0; i < x->nrecent; i++) {
    if (x->recent[i].serial == y->serial)
      break;
  }
  if (i == x->nrecent && x->nrecent == k)
    i = 0; /* evict the oldest */
  if (i < x->nrecent) {
    memmove(&x->recent[i], &x->recent[i + 1], (x->nrecent - i - 1) * sizeof(x->recent[0]));
    x->nrecent--;
  }
  x->recent[x->nrecent].serial = y->serial;
  x->recent[x->nrecent].until_ms = until_ms;
  x->nrecent++;
}

static void pool_recent_add(const struct match_engine *e, struct match__peer *x,
                            const struct match__peer *y) {
  match__recent_note(e, x, y, e->now + e->cfg.rematch_cooldown_ms);
}

void match__pool_quit(struct match_engine *e, struct match__peer *p) {
  match__pair_end(e, p);
  match__pool_leave(e, p);
  p->seq = 0;
}

void match__pair_end(struct match_engine *e, struct match__peer *p) {
  struct match__peer *q = p->partner;

  if (q == NULL)
    return;
  p->partner = NULL;
  q->partner = NULL;
  p->seq = 0; /* the one who ended it gives up its place; q keeps its own */
  e->npaired -= 2;
  pool_recent_add(e, p, q);
  pool_recent_add(e, q, p);
  match__ev_push(e, MATCH_EV_PARTNER_LEFT, q->id, p->id);
  if (match__pool_eligible(e, q))
    match__pool_enter(e, q, MATCH__ENTER_KEEP);
}

void match__pool_widen(struct match_engine *e, struct match__peer *p) {
  struct match__peer *c;

  match__list_unlink(&p->widen_link);
  if (!p->in_pool || p->open)
    return;
  p->open = 1;
  c = pool_find(e, p);
  if (c != NULL) {
    p->open = 0; /* its open node was never linked */
    match__pool_leave(e, p);
    match__pool_leave(e, c);
    pool_pair(e, p, c);
    return;
  }
  p->open_node.key = p->seq;
  match__rb_insert(&e->open, &p->open_node);
}

void match__pool_retry(struct match_engine *e, struct match__peer *p) {
  struct match__peer *c;
  uint64_t period = e->cfg.rematch_lonely_ms > 0 ? e->cfg.rematch_lonely_ms : 1;
  uint64_t stop;

  match__list_unlink(&p->retry_link);
  if (!p->in_pool)
    return;
  c = pool_find_from(e, p, p->scan_from, &stop);
  if (c != NULL) {
    match__pool_leave(e, p);
    match__pool_leave(e, c);
    pool_pair(e, p, c);
    return;
  }
  /* Re-scan now and then: a rematch cool-down may have run out, and when
   * bounded skipping cut this scan short the next one resumes where it
   * stopped, so a partner deep in a list of excluded peers is found too. */
  p->scan_from = stop == UINT64_MAX ? 0 : stop;
  p->retry_due = e->now + period;
  match__list_append(&e->retry, &p->retry_link);
}

static uint64_t pool_lo(const struct match__peer *a, const struct match__peer *b) {
  return a->serial < b->serial ? a->serial : b->serial;
}

static uint64_t pool_hi(const struct match__peer *a, const struct match__peer *b) {
  return a->serial < b->serial ? b->serial : a->serial;
}

static void block_unref(struct match_engine *e, uint64_t s1, uint64_t s2) {
  uint64_t lo = s1 < s2 ? s1 : s2, hi = s1 < s2 ? s2 : s1;
  uint64_t *v = match__htab_find(&e->blocks, lo, hi);

  if (v != NULL && --*v == 0)
    (void)match__htab_del(&e->blocks, lo, hi);
}

int match__block_add(struct match_engine *e, struct match__peer *p, struct match__peer *q) {
  uint64_t *v;
  uint32_t i;
  int rc;

  for (i = 0; i < p->nblk; i++) {
    if (p->blk[i] == q->serial)
      return 0;
  }
  if (p->nblk == p->blk_cap && p->blk_cap < MATCH__BLOCKS_MAX) {
    uint32_t cap = p->blk_cap == 0 ? 4 : p->blk_cap * 2;
    uint64_t *blk;
    if (cap > MATCH__BLOCKS_MAX)
      cap = MATCH__BLOCKS_MAX;
    blk = realloc(p->blk, cap * sizeof(*blk));
    if (blk == NULL)
      return -ENOMEM;
    p->blk = blk;
    p->blk_cap = cap;
  }
  v = match__htab_find(&e->blocks, pool_lo(p, q), pool_hi(p, q));
  if (v != NULL) {
    ++*v;
  } else {
    rc = match__htab_put(&e->blocks, pool_lo(p, q), pool_hi(p, q), 1);
    if (rc < 0)
      return rc;
  }
  /* Only the most recent blocks are kept, so one peer's memory stays bounded. */
  if (p->nblk == MATCH__BLOCKS_MAX) {
    block_unref(e, p->serial, p->blk[0]);
    memmove(&p->blk[0], &p->blk[1], (p->nblk - 1) * sizeof(p->blk[0]));
    p->nblk--;
  }
  p->blk[p->nblk++] = q->serial;
  return 0;
}

int match__blocked(const struct match_engine *e, const struct match__peer *a,
                   const struct match__peer *b) {
  /* A block lives in the blocker's ring, so two peers who never blocked
   * anyone skip the table lookup (and its cache miss). */
  if (a->nblk == 0 && b->nblk == 0)
    return 0;
  return match__htab_find(&e->blocks, pool_lo(a, b), pool_hi(a, b)) != NULL;
}

void match__block_release(struct match_engine *e, struct match__peer *p) {
  uint32_t i;

  for (i = 0; i < p->nblk; i++)
    block_unref(e, p->serial, p->blk[i]);
  free(p->blk);
  p->blk = NULL;
  p->nblk = p->blk_cap = 0;
}
