/* cluster_oracle.h -- longest wait first, checked at every decision a cluster's matcher makes.
 *
 * test_cluster.c feeds this every event its matcher emits, in the order emitted (causal order,
 * each engine call's events right after that call). The oracle keeps its own list of who is
 * waiting, from those events alone, and reads each peer's facts (place in line, when its wait
 * began, interests, blocks, recent partners) from the engine's private state (match/pool.h),
 * read only. At each decision it restates the rules of docs/matching.md and checks the engine
 * chose as they say:
 *
 *   - A decision is the first PAIRED of a pair (the engine tells the one who chose first) or a
 *     WAITING (the newcomer found nobody).
 *   - The candidates are the peers waiting at that moment, other than the chooser. A peer
 *     leaves the pool with an event (PAIRED, or a STATE after its own command), or silently
 *     with no id left (REMOVE); no peer leaves and comes back within one engine call, and the
 *     facts read here do not change within one after a decision, so reading them when its
 *     event is emitted reads them as they were when it was made (openness in a tick aside:
 *     below).
 *   - Readiness, away, bans and the Next cool-down decide who is in the pool: a peer not ready,
 *     away, banned or cooling down is not (the events say when it leaves and comes back), so
 *     it is never a candidate; the chosen partner must be one.
 *   - A candidate is compatible when neither blocked the other and neither excludes the other
 *     as a recent partner (one of its last recent_k partners, the cool-down not over, and its
 *     own wait shorter than rematch_lonely_ms).
 *   - Interest classes: the peers sharing a tag or the language with the chooser come first;
 *     only if none of them is compatible, and the chooser accepts anyone, the peers that accept
 *     anyone. A peer accepts anyone when it gave no interests or has widened (waited
 *     widen_after_ms, noticed by a tick, or by a change of tags).
 *   - Within the class the longest-waiting compatible peer (lowest place in line; a peer left
 *     behind keeps its place) is chosen, except for the same-node preference (home_shift): a
 *     partner on the chooser's node may be chosen instead when the longest-waiting one is not
 *     on it, if its own wait began at most home_window_ms after that one's, and then every
 *     compatible peer of the class passed over is on another node. The preference itself is
 *     not a rule of longest wait first: a decision that did not take a partner on the node
 *     that was as good is counted, not failed (the engine's scan for one stops at the first
 *     peer whose wait began too late, in place order, and a peer back at its old place began
 *     its wait late, so a good one behind it goes unseen).
 *   - Not bounded: every list has fewer peers than the engine's scan bound (MATCH__SCAN_MAX
 *     excluded candidates per list), so no partner is hidden behind it; a decision with more
 *     candidates than that is counted and not checked.
 *   - Places: a peer entering the pool takes the next place in line (one above every place
 *     given so far by this engine), or the one it holds: a peer holds the place it last
 *     entered at while it waits, is paired, is left behind by its partner, or is away; it
 *     gives it up when it ends its own pair, stops, is banned or leaves the pool for any
 *     other reason than being away. (A peer that gives its place up silently, while away,
 *     is let take either.)
 *
 * Openness within a tick: a tick puts back peers whose cool-down ended, then widens the due
 * waiting peers (longest waiting first), then re-scans. A candidate whose widening is due in a
 * tick is open for a decision of the tick exactly when its widening came first. */
#ifndef TANDEM_TESTS_MATCH_CLUSTER_ORACLE_H
#define TANDEM_TESTS_MATCH_CLUSTER_ORACLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "match/cluster.h"
#include "match/pool.h"

#define ORACLE_MAX 128
#define ORACLE_PLACES 4096

struct oracle_entry {
  uint64_t serial; /* the engine's, unique for its life (an id may be renamed) */
  match_id id;
  bool open;      /* accepting anyone, as last known outside a tick */
  uint64_t order; /* when it was linked into the pool, for the widening order */
};

struct oracle_place {
  uint64_t serial, seq;
  uint64_t partner; /* the serial of its partner (a pair this engine formed with events) */
};

/* What the checks met, to show the run covers the rules. */
struct oracle_counts {
  unsigned long decisions, waits, by_tags, by_open, home, older_blocked, older_recent,
      older_lonely, in_tick_decisions, unchecked, home_missed, keep_places;
};

struct oracle {
  const struct match_engine *e; /* the engine its entries belong to */
  struct oracle_entry w[ORACLE_MAX];
  size_t n;
  struct oracle_place places[ORACLE_PLACES]; /* the place each peer holds */
  size_t nplaces;
  uint64_t order, max_seq;
  bool in_tick;
  match_id first_a, first_b; /* the pair whose second PAIRED is due */
  unsigned seed;
  struct oracle_counts n_; /* (n is the number of entries) */
};

static const struct match__peer *oracle_peer(const struct match_engine *e, match_id id) {
  const uint64_t *v = id ? match__htab_find(&e->peers, id, 0) : NULL;
  return v ? (const struct match__peer *)(uintptr_t)*v : NULL;
}

static struct oracle_entry *oracle_find(struct oracle *o, uint64_t serial) {
  for (size_t i = 0; i < o->n; i++)
    if (o->w[i].serial == serial)
      return &o->w[i];
  return NULL;
}

static void oracle_drop(struct oracle *o, uint64_t serial) {
  struct oracle_entry *x = oracle_find(o, serial);
  if (x)
    *x = o->w[--o->n];
}

/* A new engine (the first, or a failover's): it starts empty. Called before its first event
 * (a new engine may have the freed one's address). */
static void oracle_reset(struct oracle *o, const struct match_engine *e, unsigned seed) {
  o->e = e;
  o->seed = seed;
  o->in_tick = false;
  o->n = 0;
  o->nplaces = 0;
  o->max_seq = 0;
  o->first_a = o->first_b = 0;
}

static bool oracle_shares(const struct match__peer *a, const struct match__peer *b) {
  for (uint8_t i = 0; i < a->nmemb; i++)
    for (uint8_t j = 0; j < b->nmemb; j++)
      if (a->memb[i].tag == b->memb[j].tag) /* interned: the same interest, the same tag */
        return true;
  return false;
}

/* x refuses y as a recent partner now. */
static bool oracle_recent(const struct match_engine *e, const struct match__peer *x,
                          const struct match__peer *y, bool *lonely_saved) {
  for (uint32_t i = 0; i < x->nrecent; i++) {
    if (x->recent[i].serial != y->serial || x->recent[i].until_ms <= e->now)
      continue;
    if (e->now - x->wait_start >= e->cfg.rematch_lonely_ms) {
      *lonely_saved = true;
      return false;
    }
    return true;
  }
  return false;
}

enum oracle_why { ORACLE_OK, ORACLE_BLOCKED, ORACLE_RECENT };

static enum oracle_why oracle_compatible(const struct match_engine *e, const struct match__peer *a,
                                         const struct match__peer *b, bool *lonely_saved) {
  if (match__blocked(e, a, b))
    return ORACLE_BLOCKED;
  if (oracle_recent(e, a, b, lonely_saved) || oracle_recent(e, b, a, lonely_saved))
    return ORACLE_RECENT;
  return ORACLE_OK;
}

static bool oracle_home(const struct match_engine *e, const struct match__peer *a,
                        const struct match__peer *b) {
  return e->cfg.home_shift && (a->id >> e->cfg.home_shift) == (b->id >> e->cfg.home_shift);
}

/* The tick phase a decision of chooser p (not an entry) was made in: widening (true) or the
 * re-scan. A peer that pairs as it widens is left with open == 0 (pool.c: its open node was
 * never linked); one that widened and paired later, on its re-scan, is open. */
static bool oracle_widening(const struct match_engine *e, const struct match__peer *p,
                            const struct oracle_entry *pe) {
  return !pe->open && p->nmemb > 0 && e->now - p->wait_start >= e->cfg.widen_after_ms &&
         !p->open;
}

/* Whether a waiting peer accepted anyone before this decision: outside a tick, as the engine
 * says now (only a tick widens, and only the chooser's own change of tags opens it, before it
 * chooses); in a tick, as it was before the tick. */
static bool oracle_was_open(const struct oracle *o, const struct match__peer *d,
                            const struct oracle_entry *de) {
  return o->in_tick ? de->open : d->open;
}

/* Whether candidate d accepts anyone at the decision of chooser p (pe its entry, NULL for an
 * entry into the pool). */
static bool oracle_open(const struct oracle *o, const struct match__peer *d,
                        const struct oracle_entry *de, const struct match__peer *p,
                        const struct oracle_entry *pe) {
  const struct match_engine *e = o->e;
  if (d->nmemb == 0 || e->cfg.widen_after_ms == 0 || oracle_was_open(o, d, de))
    return true;
  if (!o->in_tick || e->now - d->wait_start < e->cfg.widen_after_ms)
    return false;
  /* Widened in this tick: before a decision of the re-scan phase, or before p's own
   * widening (the widen list is in order of linking); after every return from a cool-down. */
  if (!pe)
    return false;
  if (oracle_widening(e, p, pe))
    return de->order < pe->order;
  return true;
}

/* What the events tell of serial: the place in line it holds (0: none) and its partner. */
static struct oracle_place *oracle_of(struct oracle *o, uint64_t serial) {
  for (size_t i = 0; i < o->nplaces; i++)
    if (o->places[i].serial == serial)
      return &o->places[i];
  if (o->nplaces == ORACLE_PLACES) { /* no place and no partner say no more than no entry */
    size_t k = 0;
    for (size_t i = 0; i < o->nplaces; i++)
      if (o->places[i].seq || o->places[i].partner)
        o->places[k++] = o->places[i];
    o->nplaces = k;
  }
  assert_true(o->nplaces < ORACLE_PLACES);
  o->places[o->nplaces] = (struct oracle_place){serial, 0, 0};
  return &o->places[o->nplaces++];
}

static uint64_t *oracle_held(struct oracle *o, uint64_t serial) {
  return &oracle_of(o, serial)->seq;
}

/* x enters the pool: at a new place, or at the one it holds. */
static void oracle_place(struct oracle *o, const struct match__peer *x) {
  uint64_t *held = oracle_held(o, x->serial);
  if (x->seq == o->max_seq + 1) {
    o->max_seq = x->seq;
  } else if (*held == 0 || *held != x->seq) {
    fail_msg("seed %u: peer %llx entered the pool at place %llu: neither a new place (%llu) nor "
             "one it holds (%llu)",
             o->seed, (unsigned long long)x->id, (unsigned long long)x->seq,
             (unsigned long long)o->max_seq + 1, (unsigned long long)*held);
  } else {
    o->n_.keep_places++;
  }
  *held = x->seq;
}

/* x is out of the pool and of any pair now: it keeps its place if it went away (from the pool,
 * or left behind while away), and gives it up otherwise (Stop, a ban, silence, a cool-down). */
static void oracle_out(struct oracle *o, const struct match__peer *x) {
  if (x && !x->away)
    *oracle_held(o, x->serial) = 0;
}

/* Checks one decision: chooser p chose c (NULL: it found nobody and waits). */
static void oracle_decide(struct oracle *o, const struct match__peer *p,
                          const struct match__peer *c) {
  const struct match_engine *e = o->e;
  struct oracle_entry *pe;
  const struct match__peer *cand[ORACLE_MAX];
  const struct oracle_entry *cande[ORACLE_MAX];
  size_t ncand = 0;
  bool c_waiting = c == NULL;

  for (size_t i = 0; i < o->n;) {
    const struct match__peer *d = oracle_peer(e, o->w[i].id);
    if (!d || d->serial != o->w[i].serial || (!d->in_pool && !d->partner)) {
      o->w[i] = o->w[--o->n]; /* it left before this decision */
      continue;
    }
    if (d != p) {
      cand[ncand] = d;
      cande[ncand++] = &o->w[i];
    }
    c_waiting |= d == c;
    i++;
  }
  pe = oracle_find(o, p->serial); /* NULL: p enters the pool */
  if (!c_waiting)
    fail_msg("seed %u: %llx chose %llx, who was not waiting", o->seed,
             (unsigned long long)p->id, (unsigned long long)c->id);
  if (!pe)
    oracle_place(o, p);
  if (ncand >= MATCH__SCAN_MAX || p->scan_from != 0) {
    o->n_.unchecked++;
    return;
  }
  /* The chooser's class: p accepts anyone if it gave nothing, or its wait is long enough
   * (a tick widens it before its re-scan; a change of tags widens it at once). */
  bool p_open = p->nmemb == 0 || e->cfg.widen_after_ms == 0 || (pe && oracle_was_open(o, p, pe)) ||
                (pe && e->now - p->wait_start >= e->cfg.widen_after_ms);
  const struct match__peer *best = NULL, *oldest = NULL;
  enum oracle_why oldest_why = ORACLE_OK;
  bool by_tags = false, lonely_saved = false;
  for (int pass = 0; pass < 2 && !best; pass++) {
    if (pass == 0 ? p->nmemb == 0 : !p_open)
      continue;
    for (size_t i = 0; i < ncand; i++) {
      const struct match__peer *d = cand[i];
      bool in = pass == 0 ? oracle_shares(p, d) : oracle_open(o, d, cande[i], p, pe);
      if (!in)
        continue;
      enum oracle_why why = oracle_compatible(e, p, d, &lonely_saved);
      if (why == ORACLE_OK && (!best || d->seq < best->seq))
        best = d;
      if (why != ORACLE_OK && (!oldest || d->seq < oldest->seq)) {
        oldest = d;
        oldest_why = why;
      }
    }
    by_tags = pass == 0;
  }
  if (!c) {
    o->n_.waits++;
    if (best)
      fail_msg("seed %u: %llx waits, but %llx (place %llu) was compatible in its class", o->seed,
               (unsigned long long)p->id, (unsigned long long)best->id,
               (unsigned long long)best->seq);
    return;
  }
  o->n_.decisions++;
  o->n_.in_tick_decisions += o->in_tick;
  if (!best)
    fail_msg("seed %u: %llx chose %llx, who is not compatible with it in its class", o->seed,
             (unsigned long long)p->id, (unsigned long long)c->id);
  if (by_tags ? !oracle_shares(p, c) : !oracle_open(o, c, oracle_find(o, c->serial), p, pe))
    fail_msg("seed %u: %llx chose %llx from outside its class (%s)", o->seed,
             (unsigned long long)p->id, (unsigned long long)c->id,
             by_tags ? "a shared interest" : "open to anyone");
  bool saved = false;
  if (oracle_compatible(e, p, c, &saved) != ORACLE_OK)
    fail_msg("seed %u: %llx chose %llx, a blocked or recent partner", o->seed,
             (unsigned long long)p->id, (unsigned long long)c->id);
  o->n_.by_tags += by_tags;
  o->n_.by_open += !by_tags;
  o->n_.older_lonely += lonely_saved;
  if (oldest && oldest->seq < c->seq) {
    o->n_.older_blocked += oldest_why == ORACLE_BLOCKED;
    o->n_.older_recent += oldest_why == ORACLE_RECENT;
  }
  if (c != best) {
    /* Only the same-node preference may pass over the longest-waiting compatible peer. */
    if (!oracle_home(e, p, c) || oracle_home(e, p, best) ||
        c->wait_start > best->wait_start + e->cfg.home_window_ms)
      fail_msg("seed %u: %llx (place %llu) chose %llx (place %llu, waiting since %llu) over "
               "%llx (place %llu, waiting since %llu), longer in line in its class",
               o->seed, (unsigned long long)p->id, (unsigned long long)p->seq,
               (unsigned long long)c->id, (unsigned long long)c->seq,
               (unsigned long long)c->wait_start, (unsigned long long)best->id,
               (unsigned long long)best->seq, (unsigned long long)best->wait_start);
    for (size_t i = 0; i < ncand; i++) {
      const struct match__peer *d = cand[i];
      bool in = by_tags ? oracle_shares(p, d) : oracle_open(o, d, cande[i], p, pe);
      bool ok = oracle_compatible(e, p, d, &saved) == ORACLE_OK;
      if (in && ok && d->seq < c->seq && oracle_home(e, p, d))
        fail_msg("seed %u: %llx chose %llx on its node over %llx, on its node and longer in "
                 "line", o->seed, (unsigned long long)p->id, (unsigned long long)c->id,
                 (unsigned long long)d->id);
    }
    o->n_.home++;
  } else if (e->cfg.home_shift && !oracle_home(e, p, c)) {
    /* The preference is not a rule of longest wait first: a miss is counted, not failed. */
    for (size_t i = 0; i < ncand; i++) {
      const struct match__peer *d = cand[i];
      bool in = by_tags ? oracle_shares(p, d) : oracle_open(o, d, cande[i], p, pe);
      if (in && oracle_home(e, p, d) && oracle_compatible(e, p, d, &saved) == ORACLE_OK &&
          d->wait_start <= c->wait_start + e->cfg.home_window_ms) {
        o->n_.home_missed++;
        break;
      }
    }
  }
}

/* One event the matcher emitted, as it is emitted. */
static void oracle_event(struct oracle *o, const struct matcher_event *ev) {
  const struct match_engine *e = o->e;
  const struct match__peer *x = oracle_peer(e, ev->peer);
  switch (ev->type) {
  case MATCHER_EV_PAIRED: {
    if (o->first_a == ev->partner && o->first_b == ev->peer) {
      o->first_a = o->first_b = 0; /* the chosen one's PAIRED */
      break;
    }
    const struct match__peer *c = oracle_peer(e, ev->partner);
    assert_non_null(x);
    assert_non_null(c);
    oracle_decide(o, x, c);
    oracle_drop(o, x->serial);
    oracle_drop(o, c->serial);
    oracle_of(o, x->serial)->partner = c->serial;
    oracle_of(o, c->serial)->partner = x->serial;
    o->first_a = ev->peer;
    o->first_b = ev->partner;
    break;
  }
  case MATCHER_EV_WAITING:
    assert_non_null(x);
    if (oracle_find(o, x->serial))
      fail_msg("seed %u: %llx entered the pool twice", o->seed, (unsigned long long)x->id);
    oracle_decide(o, x, NULL);
    assert_true(o->n < ORACLE_MAX);
    o->w[o->n++] = (struct oracle_entry){x->serial, x->id, x->open, ++o->order};
    break;
  case MATCHER_EV_STATE:
    if (x && ev->state == MATCH_WAITING) {
      /* A MOVE's answer: the same peer under its new id, keeping its place. */
      struct oracle_entry *w = oracle_find(o, x->serial);
      if (w)
        w->id = x->id;
      else if (o->n < ORACLE_MAX)
        o->w[o->n++] = (struct oracle_entry){x->serial, x->id, x->open, ++o->order};
    } else if (x) {
      oracle_drop(o, x->serial);
      if (ev->state == MATCH_IDLE)
        oracle_out(o, x);
    }
    break;
  case MATCHER_EV_PARTNER_LEFT: {
    /* x was left behind and keeps its place; the one who left gives its up. (A new matcher
     * also tells a peer its partner left when the two disagree on their pair: nobody left a
     * pair of this engine then.) */
    const struct match__peer *leaver = oracle_peer(e, ev->partner);
    if (x) {
      struct oracle_place *xp = oracle_of(o, x->serial);
      if (leaver && xp->partner == leaver->serial) {
        struct oracle_place *lp = oracle_of(o, leaver->serial);
        lp->seq = lp->partner = 0;
      }
      xp->partner = 0;
      oracle_drop(o, x->serial);
    }
    break;
  }
  case MATCHER_EV_STOPPED:
  case MATCHER_EV_COOLDOWN:
    if (x) {
      oracle_drop(o, x->serial);
      *oracle_held(o, x->serial) = 0;
    }
    break;
  default:
    break;
  }
}

/* A tick is about to run (true: who accepts anyone is noted as it is before the tick) or has
 * run (false). */
static void oracle_tick(struct oracle *o, bool running) {
  o->in_tick = running;
  for (size_t i = 0; running && i < o->n; i++) {
    const struct match__peer *d = oracle_peer(o->e, o->w[i].id);
    if (d && d->serial == o->w[i].serial && d->in_pool)
      o->w[i].open = d->open;
  }
}

static void oracle_add(struct oracle_counts *t, const struct oracle_counts *o) {
  t->decisions += o->decisions;
  t->waits += o->waits;
  t->by_tags += o->by_tags;
  t->by_open += o->by_open;
  t->home += o->home;
  t->older_blocked += o->older_blocked;
  t->older_recent += o->older_recent;
  t->older_lonely += o->older_lonely;
  t->in_tick_decisions += o->in_tick_decisions;
  t->unchecked += o->unchecked;
  t->home_missed += o->home_missed;
  t->keep_places += o->keep_places;
}

static void oracle_report(const struct oracle_counts *o) {
  printf("# oracle: %lu decisions (%lu by a shared interest, %lu open to anyone, %lu in ticks), "
         "%lu waits, %lu same-node choices over a longer wait, %lu same-node partners not "
         "taken, %lu with an older peer blocked, %lu recent, %lu rematches of the lonely, %lu "
         "places kept, %lu unchecked\n",
         o->decisions, o->by_tags, o->by_open, o->in_tick_decisions, o->waits, o->home,
         o->home_missed, o->older_blocked, o->older_recent, o->older_lonely, o->keep_places,
         o->unchecked);
}

#endif
