/* engine.c -- the matchmaking engine's API: peers, commands, timers, events. */
#include "match/engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "match/pool.h"

void match_config_default(struct match_config *c) {
  memset(c, 0, sizeof(*c));
  c->widen_after_ms = 5000;
  c->recent_k = 5;
  c->rematch_cooldown_ms = 600000;
  c->rematch_lonely_ms = 10000;
  c->next_limit = 20;
  c->next_window_ms = 60000;
  c->next_cooldown_ms = 10000;
  c->max_tags = 10;
  c->max_tag_len = 32;
  c->hash_seed = 0;
  c->home_shift = 0;
  c->home_window_ms = 300;
}

struct match_engine *match_new(const struct match_config *c) {
  struct match_engine *e = calloc(1, sizeof(*e));

  if (e == NULL)
    return NULL;
  if (c != NULL)
    e->cfg = *c;
  else
    match_config_default(&e->cfg);
  if (e->cfg.recent_k > MATCH__RECENT_MAX)
    e->cfg.recent_k = MATCH__RECENT_MAX;
  if (e->cfg.max_tags > MATCH__TAGS_MAX)
    e->cfg.max_tags = MATCH__TAGS_MAX;
  if (e->cfg.max_tag_len > MATCH__TAG_LEN_MAX)
    e->cfg.max_tag_len = MATCH__TAG_LEN_MAX;
  if (e->cfg.home_shift >= 64)
    e->cfg.home_shift = 0;
  match__rb_init(&e->open);
  match__list_init(&e->widen);
  match__list_init(&e->retry);
  match__list_init(&e->cool);
  if (match__htab_init(&e->peers, e->cfg.hash_seed) < 0 ||
      match__htab_init(&e->blocks, e->cfg.hash_seed ^ 0x626c6f636b73ULL) < 0 ||
      match__tagtab_init(&e->tags, e->cfg.hash_seed) < 0) {
    match__htab_free(&e->peers);
    match__htab_free(&e->blocks);
    free(e);
    return NULL;
  }
  return e;
}

static struct match__peer *engine_peer(const struct match_engine *e, match_id id) {
  uint64_t *v;

  if (e == NULL || id == 0)
    return NULL;
  v = match__htab_find(&e->peers, id, 0);
  return v != NULL ? (struct match__peer *)(uintptr_t)*v : NULL;
}

static void engine_release_memb(struct match_engine *e, struct match__memb *memb, uint8_t n) {
  uint8_t i;

  for (i = 0; i < n; i++)
    match__tag_release(&e->tags, memb[i].tag);
  free(memb);
}

static void engine_peer_free(struct match_engine *e, struct match__peer *p) {
  engine_release_memb(e, p->memb, p->nmemb);
  match__block_release(e, p);
  free(p);
}

void match_free(struct match_engine *e) {
  size_t i;

  if (e == NULL)
    return;
  for (i = 0; i <= e->peers.mask; i++) {
    if (e->peers.slots[i].k1 != 0)
      engine_peer_free(e, (struct match__peer *)(uintptr_t)e->peers.slots[i].val);
  }
  match__htab_free(&e->peers);
  match__htab_free(&e->blocks);
  match__tagtab_free(&e->tags);
  free(e->evq);
  free(e);
}

int match__ev_reserve(struct match_engine *e, size_t n) {
  struct match_event *q;
  size_t cap, i;

  if (e->ev_cap - e->ev_n >= n)
    return 0;
  /* A caller that never drains the queue gets an error, not unbounded growth. */
  if (e->ev_n + n > MATCH__EV_MAX)
    return -ENOSPC;
  cap = e->ev_cap == 0 ? 32 : e->ev_cap;
  while (cap - e->ev_n < n)
    cap *= 2;
  q = malloc(cap * sizeof(*q));
  if (q == NULL)
    return -ENOMEM;
  for (i = 0; i < e->ev_n; i++)
    q[i] = e->evq[(e->ev_head + i) % e->ev_cap];
  free(e->evq);
  e->evq = q;
  e->ev_cap = cap;
  e->ev_head = 0;
  return 0;
}

struct match_event *match__ev_push(struct match_engine *e, enum match_ev_type type,
                                   match_id peer, match_id partner) {
  struct match_event *ev;

  /* Every caller reserved room first, so the scratch slot (an event lost
   * rather than a crash) is a backstop that is never reached. */
  if (e->ev_n == e->ev_cap && match__ev_reserve(e, 1) < 0) {
    ev = &e->ev_scratch;
  } else {
    ev = &e->evq[(e->ev_head + e->ev_n) % e->ev_cap];
    e->ev_n++;
    e->ev_pushed++;
  }
  ev->type = type;
  ev->peer = peer;
  ev->partner = partner;
  ev->until_ms = 0;
  ev->n_shared = 0;
  return ev;
}

int match_poll(struct match_engine *e, struct match_event *ev) {
  struct match_event *src;

  if (e == NULL || ev == NULL)
    return -EINVAL;
  if (e->ev_n == 0) {
    /* Give a burst's memory back once drained. */
    if (e->ev_cap > 1024) {
      free(e->evq);
      e->evq = NULL;
      e->ev_cap = e->ev_head = 0;
    }
    return 0;
  }
  src = &e->evq[e->ev_head];
  ev->type = src->type;
  ev->peer = src->peer;
  ev->partner = src->partner;
  ev->until_ms = src->until_ms;
  ev->n_shared = src->n_shared;
  memcpy(ev->shared_tags, src->shared_tags, sizeof(ev->shared_tags[0]) * src->n_shared);
  e->ev_head = (e->ev_head + 1) % e->ev_cap;
  e->ev_n--;
  return 1;
}

/* The common prologue: advance the clock, find the peer, reserve event room. */
static int engine_begin(struct match_engine *e, match_id id, uint64_t now_ms,
                        struct match__peer **pp) {
  if (e == NULL || id == 0)
    return -EINVAL;
  if (now_ms > e->now)
    e->now = now_ms;
  *pp = engine_peer(e, id);
  if (*pp == NULL)
    return -ENOENT;
  return match__ev_reserve(e, MATCH__EV_PER_CALL);
}

int match_add(struct match_engine *e, match_id id, uint64_t now_ms) {
  struct match__peer *p;
  size_t size;
  int rc;

  if (e == NULL || id == 0)
    return -EINVAL;
  if (now_ms > e->now)
    e->now = now_ms;
  if (engine_peer(e, id) != NULL)
    return -EEXIST;
  /* Cache-line aligned, so the hot fields share the first two lines. */
  size = (sizeof(*p) + e->cfg.recent_k * sizeof(p->recent[0]) + 63) & ~(size_t)63;
  p = aligned_alloc(64, size);
  if (p == NULL)
    return -ENOMEM;
  memset(p, 0, size);
  p->id = id;
  p->serial = ++e->next_serial;
  rc = match__htab_put(&e->peers, id, 0, (uint64_t)(uintptr_t)p);
  if (rc < 0) {
    free(p);
    return rc;
  }
  return 0;
}

int match_remove(struct match_engine *e, match_id id, uint64_t now_ms) {
  struct match__peer *p;
  int rc = engine_begin(e, id, now_ms, &p);

  if (rc < 0)
    return rc;
  match__pool_quit(e, p);
  match__list_unlink(&p->cool_link);
  (void)match__htab_del(&e->peers, id, 0);
  engine_peer_free(e, p);
  return 0;
}

int match_rename(struct match_engine *e, match_id id, match_id new_id, uint64_t now_ms) {
  struct match__peer *p;
  int rc;

  if (e == NULL || id == 0 || new_id == 0 || new_id == id)
    return -EINVAL;
  if (now_ms > e->now)
    e->now = now_ms;
  p = engine_peer(e, id);
  if (p == NULL)
    return -ENOENT;
  if (engine_peer(e, new_id) != NULL)
    return -EEXIST;
  /* Everything else names the peer by pointer or serial: only the id table changes. */
  rc = match__htab_put(&e->peers, new_id, 0, (uint64_t)(uintptr_t)p);
  if (rc < 0)
    return rc;
  (void)match__htab_del(&e->peers, id, 0);
  p->id = new_id;
  return 0;
}

int match_remember(struct match_engine *e, match_id id, match_id other, uint64_t until_ms,
                   uint64_t now_ms) {
  struct match__peer *p, *q;
  int rc;

  if (other == 0 || other == id)
    return -EINVAL;
  rc = engine_begin(e, id, now_ms, &p);
  if (rc < 0)
    return rc;
  q = engine_peer(e, other);
  if (q == NULL)
    return -ENOENT;
  match__recent_note(e, p, q, until_ms);
  match__recent_note(e, q, p, until_ms);
  return 0;
}

int match_set_ready(struct match_engine *e, match_id id, bool ready, uint64_t now_ms) {
  struct match__peer *p;
  int rc = engine_begin(e, id, now_ms, &p);

  if (rc < 0)
    return rc;
  if (!ready && !p->ready)
    return 0;
  /* Setting ready again is harmless, and puts back a peer whose cool-down
   * has run out before the tick noticed. */
  p->ready = ready;
  if (ready) {
    if (match__pool_eligible(e, p))
      match__pool_enter(e, p, MATCH__ENTER_NEW);
  } else {
    match__pool_quit(e, p);
  }
  return 0;
}

int match_set_away(struct match_engine *e, match_id id, bool away, uint64_t now_ms) {
  struct match__peer *p;
  int rc = engine_begin(e, id, now_ms, &p);

  if (rc < 0)
    return rc;
  if (p->away == away)
    return 0;
  p->away = away;
  if (away)
    match__pool_leave(e, p);
  else if (match__pool_eligible(e, p))
    match__pool_enter(e, p, MATCH__ENTER_KEEP);
  return 0;
}

/* Builds the membership array for normalised tags and a language, taking one
 * reference per tag. *out is NULL when there are none. */
static int engine_make_memb(struct match_engine *e, const struct match__tagset *ts,
                            const char *lang, size_t lang_len, struct match__memb **out,
                            uint8_t *nmemb) {
  size_t n = ts->n + (lang_len > 0 ? 1 : 0);
  struct match__memb *m;
  size_t i;

  *out = NULL;
  *nmemb = 0;
  if (n == 0)
    return 0;
  m = calloc(n, sizeof(*m));
  if (m == NULL)
    return -ENOMEM;
  for (i = 0; i < n; i++) {
    if (i < ts->n)
      m[i].tag = match__tag_get(&e->tags, MATCH__TAG_USER, ts->name[i], ts->len[i]);
    else
      m[i].tag = match__tag_get(&e->tags, MATCH__TAG_LANG, lang, lang_len);
    if (m[i].tag == NULL) {
      engine_release_memb(e, m, (uint8_t)i);
      return -ENOMEM;
    }
  }
  *out = m;
  *nmemb = (uint8_t)n;
  return 0;
}

int match_start(struct match_engine *e, match_id id, const char *const *tags, size_t ntags,
                const char *lang, uint64_t now_ms) {
  struct match__tagset ts;
  char lang_buf[MATCH__TAG_LEN_MAX + 1];
  size_t lang_len;
  struct match__peer *p;
  struct match__memb *memb, *old;
  uint8_t nmemb, old_n;
  int rc, already;

  if (e == NULL || id == 0)
    return -EINVAL;
  rc = match__tags_normalise(tags, ntags, e->cfg.max_tags, e->cfg.max_tag_len, &ts);
  if (rc < 0)
    return rc;
  rc = match__lang_normalise(lang, e->cfg.max_tag_len, lang_buf, &lang_len);
  if (rc < 0)
    return rc;
  rc = engine_begin(e, id, now_ms, &p);
  if (rc < 0)
    return rc;
  if (p->banned)
    return -EPERM;
  if (p->partner != NULL)
    return -EALREADY;
  if (p->cooling && p->cool_until > e->now)
    return -EBUSY;
  rc = engine_make_memb(e, &ts, lang_buf, lang_len, &memb, &nmemb);
  if (rc < 0)
    return rc;
  already = p->in_pool;
  old_n = p->nmemb;
  old = match__pool_retag(e, p, memb, (uint8_t)ts.n, nmemb);
  engine_release_memb(e, old, old_n);
  if (already)
    return -EALREADY;
  p->want = 1;
  if (match__pool_eligible(e, p))
    match__pool_enter(e, p, MATCH__ENTER_NEW);
  return 0;
}

int match_next(struct match_engine *e, match_id id, uint64_t now_ms) {
  struct match__peer *p;
  int rc = engine_begin(e, id, now_ms, &p);
  int over = 0;

  if (rc < 0)
    return rc;
  if (p->partner == NULL) {
    /* An ended cool-down is cleared here, so the peer must re-enter now: the
     * tick that would have put it back no longer knows about it. */
    if (match__pool_eligible(e, p))
      match__pool_enter(e, p, MATCH__ENTER_NEW);
    if (p->cooling)
      return -EBUSY;
    return p->want ? 0 : -EINVAL;
  }
  if (e->cfg.next_limit > 0 && e->cfg.next_window_ms > 0) {
    /* A fixed window opened by the first Next after the previous one closed. */
    if (p->next_count == 0 || e->now - p->next_win_start >= e->cfg.next_window_ms) {
      p->next_win_start = e->now;
      p->next_count = 0;
    }
    if (p->next_count < UINT32_MAX)
      p->next_count++;
    over = p->next_count > e->cfg.next_limit;
  }
  match__pair_end(e, p);
  if (over && e->cfg.next_cooldown_ms > 0) {
    struct match_event *ev;
    p->cooling = 1;
    p->cool_until = e->now + e->cfg.next_cooldown_ms;
    match__list_append(&e->cool, &p->cool_link);
    ev = match__ev_push(e, MATCH_EV_COOLDOWN, p->id, 0);
    ev->until_ms = p->cool_until;
    return -EBUSY;
  }
  if (match__pool_eligible(e, p))
    match__pool_enter(e, p, MATCH__ENTER_NEW);
  return over ? -EBUSY : 0;
}

int match_stop(struct match_engine *e, match_id id, uint64_t now_ms) {
  struct match__peer *p;
  int rc = engine_begin(e, id, now_ms, &p);

  if (rc < 0)
    return rc;
  match__pool_quit(e, p);
  if (p->want) {
    p->want = 0;
    match__ev_push(e, MATCH_EV_STOPPED, p->id, 0);
  }
  return 0;
}

int match_block(struct match_engine *e, match_id id, match_id other, uint64_t now_ms) {
  struct match__peer *p, *q;
  int rc;

  if (e == NULL || id == 0 || other == 0 || other == id)
    return -EINVAL;
  rc = engine_begin(e, id, now_ms, &p);
  if (rc < 0)
    return rc;
  q = engine_peer(e, other);
  if (q == NULL)
    return -ENOENT;
  rc = match__block_add(e, p, q);
  if (rc < 0)
    return rc;
  if (p->partner == q) {
    match__pair_end(e, p);
    if (match__pool_eligible(e, p))
      match__pool_enter(e, p, MATCH__ENTER_NEW);
  }
  return 0;
}

int match_restore_pair(struct match_engine *e, match_id id, match_id other, uint64_t now_ms) {
  struct match__peer *p, *q;
  int rc;

  if (e == NULL || id == 0 || other == 0 || other == id)
    return -EINVAL;
  rc = engine_begin(e, id, now_ms, &p);
  if (rc < 0)
    return rc;
  q = engine_peer(e, other);
  if (q == NULL)
    return -ENOENT;
  if (p->partner == q)
    return -EALREADY;
  if (p->partner != NULL || q->partner != NULL || !p->want || !q->want || p->banned ||
      q->banned || p->cooling || q->cooling || match__blocked(e, p, q))
    return -EBUSY;
  match__pool_leave(e, p);
  match__pool_leave(e, q);
  p->partner = q;
  q->partner = p;
  e->npaired += 2;
  return 0;
}

int match_ban(struct match_engine *e, match_id id, bool banned, uint64_t now_ms) {
  struct match__peer *p;
  int rc = engine_begin(e, id, now_ms, &p);

  if (rc < 0)
    return rc;
  if (!banned) {
    p->banned = 0;
    return 0;
  }
  if (p->banned)
    return 0;
  p->banned = 1;
  match__pool_quit(e, p);
  if (p->want) {
    p->want = 0;
    match__ev_push(e, MATCH_EV_STOPPED, p->id, 0);
  }
  return 0;
}

#define ENGINE_HEAD(list, field)                                                                   \
  ((list)->next == (list) ? NULL : MATCH__CONTAINER_OF((list)->next, struct match__peer, field))

int match_tick(struct match_engine *e, uint64_t now_ms) {
  size_t before, work = 0, retries = 0;
  struct match__peer *p;
  int rc;

  if (e == NULL)
    return -EINVAL;
  if (now_ms > e->now)
    e->now = now_ms;
  before = e->ev_pushed;
  /* Cool-downs first, so a peer coming back takes part in this tick. */
  while (work < MATCH__TICK_WORK && (p = ENGINE_HEAD(&e->cool, cool_link)) != NULL &&
         p->cool_until <= e->now) {
    if ((rc = match__ev_reserve(e, MATCH__EV_PER_CALL)) < 0)
      return rc;
    work++;
    if (match__pool_eligible(e, p)) /* also ends the cool-down */
      match__pool_enter(e, p, MATCH__ENTER_NEW);
  }
  while (work < MATCH__TICK_WORK && (p = ENGINE_HEAD(&e->widen, widen_link)) != NULL &&
         e->now - p->wait_start >= e->cfg.widen_after_ms) {
    if ((rc = match__ev_reserve(e, MATCH__EV_PER_CALL)) < 0)
      return rc;
    work++;
    match__pool_widen(e, p);
  }
  while (work < MATCH__TICK_WORK && retries < MATCH__TICK_RETRY &&
         (p = ENGINE_HEAD(&e->retry, retry_link)) != NULL && p->retry_due <= e->now) {
    if ((rc = match__ev_reserve(e, MATCH__EV_PER_CALL)) < 0)
      return rc;
    work++;
    retries++;
    match__pool_retry(e, p);
  }
  return (int)(e->ev_pushed - before);
}

enum match_state match_state_of(const struct match_engine *e, match_id id) {
  const struct match__peer *p = engine_peer(e, id);

  if (p == NULL)
    return MATCH_UNKNOWN;
  if (p->partner != NULL)
    return MATCH_PAIRED;
  return p->in_pool ? MATCH_WAITING : MATCH_IDLE;
}

match_id match_partner(const struct match_engine *e, match_id id) {
  const struct match__peer *p = engine_peer(e, id);

  return p != NULL && p->partner != NULL ? p->partner->id : 0;
}

size_t match_waiting_count(const struct match_engine *e) {
  return e != NULL ? e->nwaiting : 0;
}

size_t match_paired_count(const struct match_engine *e) {
  return e != NULL ? e->npaired : 0;
}

uint64_t match_cooldown_until(const struct match_engine *e, match_id id, uint64_t now_ms) {
  const struct match__peer *p = engine_peer(e, id);

  if (p == NULL || !p->cooling || p->cool_until <= now_ms || p->cool_until <= e->now)
    return 0;
  return p->cool_until;
}
