/* cluster.c -- one matcher for many nodes (cluster.h). */
#include "match/cluster.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "match/htab.h"

#define HELD_MAX 16384 /* commands held during a rebuild */

struct node {
  bool known;
  uint64_t epoch;
  uint64_t last_seq;
  size_t npeers;
};

struct held {
  unsigned node;
  struct matcher_cmd cmd;
};

struct mcluster {
  struct match_engine *e;
  struct match_config cfg;
  struct match__htab live; /* (peer id, 0): every peer the engine holds */
  /* Blocks by id, which outlive a node's peers being removed and re-sent (a node that comes
   * back): (id, 0..7) the other ids, newest at (id, 8) - 1 mod 8. The engine's own blocks go
   * with its peers. And the ids removed by a new epoch, until their node has re-sent. */
  struct match__htab blocks;
  struct match__htab limbo;
  /* (peer id, 0): the link id of its latest PAIRED, so that a MOVE's answer can carry it (the
   * visit's old node may not have heard that PAIRED before handing the visit over). */
  struct match__htab links;
  match_id moving_from, moving_to; /* the MOVE being applied */
  struct node nodes[MCLUSTER_NODE_MAX + 1];
  bool syncing;
  struct mcluster_peer *sync;    /* a rebuild's records ... */
  size_t nsync, capsync;
  struct match__htab syncidx;    /* ... by (peer id, 0): index + 1 */
  struct held *held;
  size_t nheld, capheld;
  uint64_t gen, pairs, link; /* link ids: gen << 32 | pairs */
  match_id link_a, link_b;   /* the pair whose second PAIRED is due */
};

void mcluster_set_generation(struct mcluster *m, uint64_t gen) { m->gen = gen; }

/* Routes each event to the owner of its peer. During a rebuild (rebuild set) every event also
 * moves the belief in its peer's record, so what is left over can be corrected at the end. */
struct route {
  mcluster_emit_fn emit;
  void *arg;
  struct mcluster *m;
  bool rebuild;
};

static void route(void *arg, const struct matcher_event *in) {
  struct route *r = arg;
  struct mcluster *m = r->m;
  struct matcher_event copy;
  const struct matcher_event *ev = in;
  if (in->type == MATCHER_EV_PAIRED) {
    /* The engine tells both sides of a pair one after the other: one link id for the two. */
    copy = *in;
    if (m->link_a == in->partner && m->link_b == in->peer) {
      copy.link = m->link;
      m->link_a = m->link_b = 0;
    } else {
      copy.link = m->link = m->gen << 44 | (++m->pairs & 0xffffffffu) << 12;
      m->link_a = in->peer;
      m->link_b = in->partner;
    }
    ev = &copy;
    match__htab_put(&m->links, ev->peer, 0, copy.link); /* lost on ENOMEM: 0 is told then */
  } else if (in->type == MATCHER_EV_STATE && in->peer == m->moving_to && m->moving_to) {
    const uint64_t *l = match__htab_find(&m->links, m->moving_from, 0);
    copy = *in;
    copy.link = l && in->state == MATCH_PAIRED ? *l : 0;
    ev = &copy;
  }
  if (r->rebuild) {
    const uint64_t *i = match__htab_find(&m->syncidx, ev->peer, 0);
    if (i) {
      struct mcluster_peer *p = &m->sync[*i - 1];
      matcher_event_follow(ev, &p->state, &p->partner);
    }
  }
  unsigned node = MCLUSTER_NODE_OF(ev->peer);
  if (node >= 1 && node <= MCLUSTER_NODE_MAX)
    r->emit(r->arg, node, ev);
}

struct mcluster *mcluster_new(const struct match_config *c) {
  struct mcluster *m = calloc(1, sizeof(*m));
  if (!m)
    return NULL;
  if (c)
    m->cfg = *c;
  else
    match_config_default(&m->cfg);
  m->e = match_new(&m->cfg);
  uint64_t seed = c ? c->hash_seed : 0;
  if (!m->e || match__htab_init(&m->live, seed ^ 0x9e3779b97f4a7c15u) < 0) {
    match_free(m->e);
    free(m);
    return NULL;
  }
  if (match__htab_init(&m->syncidx, seed ^ 0x6a09e667f3bcc909u) < 0 ||
      match__htab_init(&m->blocks, seed ^ 0xbb67ae8584caa73bu) < 0 ||
      match__htab_init(&m->limbo, seed ^ 0x3c6ef372fe94f82bu) < 0 ||
      match__htab_init(&m->links, seed ^ 0xa54ff53a5f1d36f1u) < 0) {
    match__htab_free(&m->limbo);
    match__htab_free(&m->live);
    match__htab_free(&m->syncidx);
    match__htab_free(&m->blocks);
    match_free(m->e);
    free(m);
    return NULL;
  }
  m->syncing = true;
  return m;
}

void mcluster_free(struct mcluster *m) {
  if (!m)
    return;
  match_free(m->e);
  match__htab_free(&m->live);
  match__htab_free(&m->syncidx);
  match__htab_free(&m->blocks);
  match__htab_free(&m->limbo);
  match__htab_free(&m->links);
  free(m->sync);
  free(m->held);
  free(m);
}

bool mcluster_syncing(const struct mcluster *m) { return m->syncing; }
const struct match_engine *mcluster_engine(const struct mcluster *m) { return m->e; }
size_t mcluster_waiting(const struct mcluster *m) { return match_waiting_count(m->e); }
size_t mcluster_paired(const struct mcluster *m) { return match_paired_count(m->e); }

size_t mcluster_peers(const struct mcluster *m, unsigned node) {
  if (node == 0)
    return m->live.n;
  return node <= MCLUSTER_NODE_MAX ? m->nodes[node].npeers : 0;
}

bool mcluster_node_known(const struct mcluster *m, unsigned node) {
  return node >= 1 && node <= MCLUSTER_NODE_MAX && m->nodes[node].known;
}

uint64_t mcluster_epoch(const struct mcluster *m, unsigned node) {
  return node >= 1 && node <= MCLUSTER_NODE_MAX ? m->nodes[node].epoch : 0;
}

uint64_t mcluster_acked(const struct mcluster *m, unsigned node) {
  return node >= 1 && node <= MCLUSTER_NODE_MAX ? m->nodes[node].last_seq : 0;
}

#define BLOCK_SLOTS 8

static void note_one(struct mcluster *m, match_id a, match_id b) {
  for (uint64_t k = 0; k < BLOCK_SLOTS; k++) {
    const uint64_t *v = match__htab_find(&m->blocks, a, k);
    if (v && *v == b)
      return;
  }
  const uint64_t *next = match__htab_find(&m->blocks, a, BLOCK_SLOTS);
  uint64_t slot = next ? *next : 0;
  if (match__htab_put(&m->blocks, a, slot, b) == 0)
    match__htab_put(&m->blocks, a, BLOCK_SLOTS, (slot + 1) % BLOCK_SLOTS);
}

static void blocks_note(struct mcluster *m, match_id a, match_id b) {
  if (a && b && a != b) {
    note_one(m, a, b);
    note_one(m, b, a);
  }
}

static void blocks_forget(struct mcluster *m, match_id id) {
  for (uint64_t k = 0; k <= BLOCK_SLOTS; k++)
    match__htab_del(&m->blocks, id, k);
}

/* id is back in the engine: the blocks remembered for it hold again (with the live ones). */
static void blocks_apply(struct mcluster *m, match_id id, uint64_t now) {
  for (uint64_t k = 0; k < BLOCK_SLOTS; k++) {
    const uint64_t *v = match__htab_find(&m->blocks, id, k);
    if (v && match__htab_find(&m->live, *v, 0))
      match_block(m->e, id, *v, now);
  }
}

/* After a MOVE: the new id is live (on its node), and the blocks remembered for the old id
 * hold for the new one. */
static void moved(struct mcluster *m, const struct matcher_cmd *c, uint64_t now,
                  struct route *r) {
  unsigned to = MCLUSTER_NODE_OF(c->other);
  if (match_state_of(m->e, c->other) == MATCH_UNKNOWN || match__htab_find(&m->live, c->other, 0))
    return;
  if (match__htab_put(&m->live, c->other, 0, 1) < 0) {
    struct matcher_cmd rm = {.type = MATCHER_REMOVE, .peer = c->other};
    matcher_apply(m->e, &rm, now, route, r);
    return;
  }
  m->nodes[to].npeers++;
  const uint64_t *l = match__htab_find(&m->links, c->peer, 0);
  if (l)
    match__htab_put(&m->links, c->other, 0, *l);
  for (uint64_t k = 0; k < BLOCK_SLOTS; k++) {
    const uint64_t *v = match__htab_find(&m->blocks, c->peer, k);
    if (v) {
      match_id other = *v;
      blocks_note(m, c->other, other);
    }
  }
  blocks_forget(m, c->peer);
}

/* Applies one command, keeping the set of live peers and the per-node counts. */
static int apply(struct mcluster *m, const struct matcher_cmd *c, uint64_t now,
                 struct route *r) {
  bool had = match__htab_find(&m->live, c->peer, 0) != NULL;
  if (c->type == MATCHER_MOVE) {
    m->moving_from = c->peer;
    m->moving_to = c->other;
  }
  int rc = matcher_apply(m->e, c, now, route, r);
  m->moving_from = m->moving_to = 0;
  if (rc < 0)
    return rc;
  bool has = match_state_of(m->e, c->peer) != MATCH_UNKNOWN;
  unsigned node = MCLUSTER_NODE_OF(c->peer);
  if (c->type == MATCHER_BLOCK && has && match__htab_find(&m->live, c->other, 0))
    blocks_note(m, c->peer, c->other);
  if (has && !had) {
    if (match__htab_put(&m->live, c->peer, 0, 1) < 0) {
      /* Out of memory: undo, so the set stays the truth. */
      struct matcher_cmd rm = {.type = MATCHER_REMOVE, .peer = c->peer};
      matcher_apply(m->e, &rm, now, route, r);
      return -ENOMEM;
    }
    m->nodes[node].npeers++;
  } else if (had && !has) {
    match__htab_del(&m->live, c->peer, 0);
    m->nodes[node].npeers--;
  }
  if (c->type == MATCHER_MOVE)
    moved(m, c, now, r);
  if (had && !has)
    match__htab_del(&m->links, c->peer, 0);
  return 0;
}

static void remove_node_peers(struct mcluster *m, unsigned node, uint64_t now, struct route *r,
                              bool keep) {
  size_t n = m->nodes[node].npeers, k = 0;
  if (!n)
    return;
  match_id *ids = malloc(n * sizeof(*ids));
  if (ids) {
    for (size_t i = 0; i <= m->live.mask && k < n; i++) {
      uint64_t id = m->live.slots[i].k1;
      if (id && MCLUSTER_NODE_OF(id) == node)
        ids[k++] = id;
    }
  }
  /* Without memory for the list, one pass at a time (each removal may shrink the table). */
  for (;;) {
    match_id id = 0;
    if (ids) {
      if (!k)
        break;
      id = ids[--k];
    } else {
      for (size_t i = 0; i <= m->live.mask && !id; i++)
        if (m->live.slots[i].k1 && MCLUSTER_NODE_OF(m->live.slots[i].k1) == node)
          id = m->live.slots[i].k1;
      if (!id)
        break;
    }
    struct matcher_cmd c = {.type = MATCHER_REMOVE, .peer = id};
    apply(m, &c, now, r);
    if (!keep || match__htab_put(&m->limbo, id, 0, 1) < 0)
      blocks_forget(m, id);
  }
  free(ids);
}

/* The ids a new epoch of node removed that its re-send did not bring back are gone: their
 * blocks are forgotten. */
static void limbo_end(struct mcluster *m, unsigned node) {
  for (;;) {
    match_id id = 0;
    for (size_t i = 0; i <= m->limbo.mask && !id; i++) {
      uint64_t k = m->limbo.slots[i].k1;
      if (k && (node == 0 || MCLUSTER_NODE_OF(k) == node))
        id = k;
    }
    if (!id)
      return;
    match__htab_del(&m->limbo, id, 0);
    if (!match__htab_find(&m->live, id, 0))
      blocks_forget(m, id);
  }
}

/* A rebuild's records of node, dropped (it restarted meanwhile). */
static void drop_records(struct mcluster *m, unsigned node) {
  size_t k = 0;
  for (size_t i = 0; i < m->nsync; i++) {
    if (MCLUSTER_NODE_OF(m->sync[i].id) == node) {
      match__htab_del(&m->syncidx, m->sync[i].id, 0);
      continue;
    }
    if (k != i) {
      m->sync[k] = m->sync[i];
      *match__htab_find(&m->syncidx, m->sync[k].id, 0) = k + 1; /* present: no allocation */
    }
    k++;
  }
  m->nsync = k;
}

int mcluster_hello(struct mcluster *m, unsigned node, uint64_t epoch, uint64_t acked,
                   uint64_t now_ms, mcluster_emit_fn emit, void *arg) {
  if (!m || node < 1 || node > MCLUSTER_NODE_MAX || !emit)
    return -EINVAL;
  struct node *n = &m->nodes[node];
  if (n->known && n->epoch == epoch) {
    if (acked > n->last_seq)
      n->last_seq = acked;
    return 0;
  }
  /* A restarted node, or one this matcher declared gone: what it had is gone. */
  struct route r = {emit, arg, m, false};
  remove_node_peers(m, node, now_ms, &r, true);
  drop_records(m, node);
  n->known = true;
  n->epoch = epoch;
  n->last_seq = acked;
  return 1;
}

int mcluster_node_gone(struct mcluster *m, unsigned node, uint64_t now_ms, mcluster_emit_fn emit,
                       void *arg) {
  if (!m || node < 1 || node > MCLUSTER_NODE_MAX || !emit)
    return -EINVAL;
  struct route r = {emit, arg, m, false};
  remove_node_peers(m, node, now_ms, &r, false);
  drop_records(m, node);
  limbo_end(m, node);
  memset(&m->nodes[node], 0, sizeof(m->nodes[node]));
  return 0;
}

/* A peer record's wishes, as commands: added, banned, wanting with its tags, away. Not ready
 * yet: readiness is what puts it in line, in the order the caller chooses. */
static int add_record(struct mcluster *m, const struct mcluster_peer *p, uint64_t now,
                      struct route *r) {
  struct matcher_cmd c = {.type = MATCHER_ADD, .peer = p->id};
  int rc = apply(m, &c, now, r);
  if (rc < 0)
    return rc;
  blocks_apply(m, p->id, now);
  if (p->banned) {
    c.type = MATCHER_BAN;
    c.flag = true;
    apply(m, &c, now, r);
  } else if (p->want) {
    struct matcher_cmd s;
    memset(&s, 0, sizeof(s));
    s.type = MATCHER_START;
    s.peer = p->id;
    s.ntags = p->ntags;
    memcpy(s.tags, p->tags, sizeof(s.tags));
    memcpy(s.lang, p->lang, sizeof(s.lang));
    apply(m, &s, now, r);
  }
  if (p->away) {
    c.type = MATCHER_AWAY;
    c.flag = true;
    apply(m, &c, now, r);
  }
  return 0;
}

static void partner_left(match_id peer, match_id partner, struct route *r) {
  struct matcher_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.type = MATCHER_EV_PARTNER_LEFT;
  ev.peer = peer;
  ev.partner = partner;
  route(r, &ev);
}

static void set_ready(struct mcluster *m, match_id id, uint64_t now, struct route *r) {
  struct matcher_cmd c = {.type = MATCHER_READY, .peer = id, .flag = true};
  apply(m, &c, now, r);
}

int mcluster_sync_peer(struct mcluster *m, unsigned node, const struct mcluster_peer *p,
                       uint64_t now_ms) {
  if (!m || !p || node < 1 || node > MCLUSTER_NODE_MAX || !m->nodes[node].known || !p->id ||
      MCLUSTER_NODE_OF(p->id) != node)
    return -EINVAL;
  (void)now_ms;
  if (match__htab_find(&m->live, p->id, 0) || match__htab_find(&m->syncidx, p->id, 0))
    return -EEXIST;
  if (match__htab_reserve(&m->syncidx, 1) < 0)
    return -ENOMEM;
  if (m->nsync == m->capsync) {
    size_t cap = m->capsync ? m->capsync * 2 : 256;
    struct mcluster_peer *ns = realloc(m->sync, cap * sizeof(*ns));
    if (!ns)
      return -ENOMEM;
    m->sync = ns;
    m->capsync = cap;
  }
  struct mcluster_peer *s = &m->sync[m->nsync];
  match__htab_put(&m->syncidx, p->id, 0, ++m->nsync); /* reserved: cannot fail */
  *s = *p;
  s->ntags = s->ntags > MATCHER_TAGS_MAX ? MATCHER_TAGS_MAX : s->ntags;
  return 0;
}

static int by_wait(const void *a, const void *b) {
  const struct mcluster_peer *x = *(const struct mcluster_peer *const *)a;
  const struct mcluster_peer *y = *(const struct mcluster_peer *const *)b;
  if (x->waited_ms != y->waited_ms)
    return x->waited_ms > y->waited_ms ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

int mcluster_sync_done(struct mcluster *m, unsigned node, uint64_t now_ms, mcluster_emit_fn emit,
                       void *arg) {
  if (!m || !emit)
    return -EINVAL;
  bool first = m->syncing;
  struct route r = {emit, arg, m, true};
  /* The records taken now: all of them at the end of the rebuild, else node's. */
#define TAKEN(i) (first || MCLUSTER_NODE_OF(m->sync[i].id) == node)
  /* What each record claimed, before the rebuild's events move the beliefs; and the order in
   * which the ready ones go back in line. */
  size_t n = m->nsync ? m->nsync : 1;
  match_id *claim = malloc(n * sizeof(*claim));
  const struct mcluster_peer **order = malloc(n * sizeof(*order));
  if (!claim || !order) {
    free(claim);
    free(order);
    return -ENOMEM; /* nothing changed: try again */
  }
  m->syncing = false;
  for (size_t i = 0; i < m->nsync; i++) {
    const struct mcluster_peer *p = &m->sync[i];
    claim[i] = TAKEN(i) && p->state == MATCH_PAIRED && p->partner != p->id ? p->partner : 0;
    if (TAKEN(i))
      add_record(m, p, now_ms, &r);
  }
  /* Blocks and recent partners before anyone can meet anyone. */
  for (size_t i = 0; i < m->nsync; i++) {
    const struct mcluster_peer *p = &m->sync[i];
    if (!TAKEN(i) || match_state_of(m->e, p->id) == MATCH_UNKNOWN)
      continue;
    for (unsigned k = 0; k < p->nblocks && k < MCLUSTER_REC_BLOCKS; k++)
      if (p->blocks[k] != p->id && match_state_of(m->e, p->blocks[k]) != MATCH_UNKNOWN) {
        match_block(m->e, p->id, p->blocks[k], now_ms);
        blocks_note(m, p->id, p->blocks[k]);
      }
    for (unsigned k = 0; k < p->nrecent && k < MCLUSTER_REC_RECENT; k++)
      if (p->recent[k] != p->id && match_state_of(m->e, p->recent[k]) != MATCH_UNKNOWN)
        match_remember(m->e, p->id, p->recent[k], now_ms + m->cfg.rematch_cooldown_ms, now_ms);
  }
  size_t nord = 0;
  for (size_t i = 0; i < m->nsync; i++) {
    const struct mcluster_peer *p = &m->sync[i];
    if (!TAKEN(i) || match_state_of(m->e, p->id) == MATCH_UNKNOWN)
      continue;
    if (claim[i]) {
      const uint64_t *j = match__htab_find(&m->syncidx, claim[i], 0);
      const struct mcluster_peer *q = j ? &m->sync[*j - 1] : NULL;
      if (q && claim[*j - 1] == p->id) {
        if (p->id > q->id)
          continue; /* the pair is handled once, from its lower id */
        if (match_restore_pair(m->e, p->id, q->id, now_ms) == 0) {
          if (p->ready)
            match_set_ready(m->e, p->id, true, now_ms);
          if (q->ready)
            match_set_ready(m->e, q->id, true, now_ms);
          continue;
        }
        partner_left(q->id, p->id, &r); /* restore refused: both sides end it */
        if (q->ready)
          order[nord++] = q;
      }
      partner_left(p->id, claim[i], &r); /* only p believes in it */
    }
    if (p->ready)
      order[nord++] = p;
  }
  /* Drain anything the direct engine calls queued (none is expected). */
  struct match_event mev;
  while (match_poll(m->e, &mev) == 1) {
    struct matcher_event e1;
    memset(&e1, 0, sizeof(e1));
    e1.type = (enum matcher_ev_type)mev.type;
    e1.peer = mev.peer;
    e1.partner = mev.partner;
    route(&r, &e1);
  }
  qsort(order, nord, sizeof(*order), by_wait);
  for (size_t i = 0; i < nord; i++)
    set_ready(m, order[i]->id, now_ms, &r);
  free(claim);
  free(order);
  /* What a node still believes that the pool does not bear out. */
  for (size_t i = 0; i < m->nsync; i++) {
    const struct mcluster_peer *p = &m->sync[i];
    enum match_state s = match_state_of(m->e, p->id);
    match_id q = s == MATCH_PAIRED ? match_partner(m->e, p->id) : 0;
    if (!TAKEN(i) || s == MATCH_UNKNOWN || (s == p->state && q == p->partner))
      continue;
    struct matcher_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = MATCHER_EV_STATE;
    ev.peer = p->id;
    ev.state = s;
    ev.partner = q;
    route(&r, &ev);
  }
  r.rebuild = false;
  /* The records taken go; the others wait for their node's end of re-send. */
  size_t k = 0;
  for (size_t i = 0; i < m->nsync; i++) {
    if (TAKEN(i)) {
      match__htab_del(&m->syncidx, m->sync[i].id, 0);
      continue;
    }
    if (k != i) {
      m->sync[k] = m->sync[i];
      *match__htab_find(&m->syncidx, m->sync[k].id, 0) = k + 1;
    }
    k++;
  }
#undef TAKEN
  m->nsync = k;
  limbo_end(m, first ? 0 : node);
  if (!k) {
    free(m->sync);
    m->sync = NULL;
    m->capsync = 0;
  }
  if (!first)
    return 0;
  for (size_t i = 0; i < m->nheld; i++)
    apply(m, &m->held[i].cmd, now_ms, &r);
  free(m->held);
  m->held = NULL;
  m->nheld = m->capheld = 0;
  return 0;
}

int mcluster_command(struct mcluster *m, unsigned node, uint64_t seq,
                     const struct matcher_cmd *c, uint64_t now_ms, mcluster_emit_fn emit,
                     void *arg) {
  if (!m || !c || !emit || node < 1 || node > MCLUSTER_NODE_MAX || !m->nodes[node].known)
    return -EINVAL;
  struct node *n = &m->nodes[node];
  if (seq <= n->last_seq)
    return 1;
  if (seq != n->last_seq + 1)
    return -EAGAIN;
  /* The number is taken whatever follows, so that the node's next command is no gap. */
  n->last_seq = seq;
  if (!c->peer || c->type < MATCHER_ADD || c->type > MATCHER_CMD_MAX_)
    return -EINVAL;
  struct route r = {emit, arg, m, false};
  unsigned to = c->type == MATCHER_MOVE ? MCLUSTER_NODE_OF(c->other) : node;
  if (MCLUSTER_NODE_OF(c->peer) != node || to < 1 || to > MCLUSTER_NODE_MAX) {
    struct matcher_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = MATCHER_EV_REFUSED;
    ev.peer = c->peer;
    ev.cmd = c->type;
    ev.code = -EPERM;
    emit(arg, node, &ev);
    return 0;
  }
  if (m->syncing) {
    if (m->nheld == HELD_MAX)
      return -ENOSPC;
    if (m->nheld == m->capheld) {
      size_t cap = m->capheld ? m->capheld * 2 : 64;
      struct held *nh = realloc(m->held, cap * sizeof(*nh));
      if (!nh)
        return -ENOSPC;
      m->held = nh;
      m->capheld = cap;
    }
    m->held[m->nheld].node = node;
    m->held[m->nheld++].cmd = *c;
    return 0;
  }
  int rc = apply(m, c, now_ms, &r);
  if (rc == 0 && c->type == MATCHER_REMOVE)
    blocks_forget(m, c->peer);
  return rc;
}

int mcluster_tick(struct mcluster *m, uint64_t now_ms, mcluster_emit_fn emit, void *arg) {
  if (!m || !emit)
    return -EINVAL;
  if (m->syncing)
    return 0;
  struct route r = {emit, arg, m, false};
  return matcher_tick(m->e, now_ms, route, &r);
}
