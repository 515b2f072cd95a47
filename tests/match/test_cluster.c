/* test_cluster.c -- one matcher for many nodes (match/cluster.h), against a model of the nodes
 * and the messages between them: random visitors' commands on three nodes, messages delivered
 * late and interleaved, the matcher killed and replaced (its in-flight commands lost, the pool
 * rebuilt from what the nodes re-send), nodes restarted. Checked after every step: the engine
 * holds no peer in two pairs and no pair across a block; whenever the messages are all
 * delivered, every node's view of its peers is the engine's own. Checked at every decision
 * the matcher makes: longest wait first within each interest class (cluster_oracle.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "match/cluster.h"
#include "cluster_oracle.h"

#define NODES 3
#define SLOTS 6      /* visitor slots per node */
#define QMAX 20000
#define LOGMAX 4096
#define BLKMAX MCLUSTER_REC_BLOCKS

/* ---- the model of a node ---- */

struct vis {
  bool live;
  match_id id;
  bool ready, away, want, banned;
  int tag; /* -1 none */
  enum match_state vs; /* the view, from events */
  match_id vp;
  uint64_t wait_since;
  uint64_t link;           /* the relay link of its latest PAIRED */
  match_id blocks[BLKMAX]; /* whom it blocked */
  int nblocks;
};

struct logent {
  uint64_t seq;
  struct matcher_cmd c;
};

enum inkind { IN_EVENT, IN_ACK, IN_RESYNC };
struct inmsg {
  enum inkind kind;
  struct matcher_event ev;
  uint64_t ack, epoch;
};

struct node {
  uint64_t epoch, seq, serial, acked;
  struct vis v[SLOTS];
  struct logent log[LOGMAX]; /* sent and not acknowledged */
  size_t nlog;
  struct inmsg *in;
  size_t in_head, in_n;
};

/* ---- the messages to the matcher (one stream, in order) ---- */

enum outkind { OUT_HELLO, OUT_CMD, OUT_SYNC, OUT_SYNC_END };
struct outmsg {
  enum outkind kind;
  unsigned node;
  uint64_t seq, epoch;
  struct matcher_cmd c;
  struct mcluster_peer rec;
};

struct sim {
  struct match_config cfg;
  struct mcluster *m;
  struct node nodes[NODES + 1];
  struct outmsg *out;
  size_t out_head, out_n;
  bool sync_end[NODES + 1];
  uint64_t now;
  unsigned failovers, restarts, restored, rejoins, gaps, moves, fresh_moves;
  uint64_t gen;
  struct oracle oracle; /* of the current matcher's decisions */
};

static struct vis *vis_any(struct sim *s, match_id id);

static const char *const vocab[2] = {"x", "y"};
static unsigned cur_seed;

static void in_push(struct node *n, const struct inmsg *m) {
  assert_true(n->in_n < QMAX);
  n->in[(n->in_head + n->in_n++) % QMAX] = *m;
}

static void out_push(struct sim *s, const struct outmsg *m) {
  assert_true(s->out_n < QMAX);
  s->out[(s->out_head + s->out_n++) % QMAX] = *m;
}

static void emit(void *arg, unsigned node, const struct matcher_event *ev) {
  struct sim *s = arg;
  assert_true(node >= 1 && node <= NODES);
  oracle_event(&s->oracle, ev);
  struct inmsg m = {.kind = IN_EVENT, .ev = *ev};
  in_push(&s->nodes[node], &m);
}

static void emit_none(void *arg, unsigned node, const struct matcher_event *ev) {
  (void)arg;
  assert_true(node >= 1 && node <= MCLUSTER_NODE_MAX);
  assert_true(ev->peer != 0);
}

static struct vis *vis_of(struct node *n, match_id id) {
  for (int i = 0; i < SLOTS; i++)
    if (n->v[i].live && n->v[i].id == id)
      return &n->v[i];
  return NULL;
}

/* A node sends a command: logged until acknowledged. */
static void send_cmd(struct sim *s, unsigned k, const struct matcher_cmd *c) {
  struct node *n = &s->nodes[k];
  assert_true(n->nlog < LOGMAX);
  n->log[n->nlog].seq = ++n->seq;
  n->log[n->nlog++].c = *c;
  struct outmsg m = {.kind = OUT_CMD, .node = k, .seq = n->seq, .c = *c};
  out_push(s, &m);
}

static void send_simple(struct sim *s, unsigned k, enum matcher_cmd_type t, match_id peer,
                        match_id other, bool flag) {
  struct matcher_cmd c;
  memset(&c, 0, sizeof(c));
  c.type = t;
  c.peer = peer;
  c.other = other;
  c.flag = flag;
  send_cmd(s, k, &c);
}

/* Hello, every visitor as the node sees it, the end; then its blocks and what was not
 * acknowledged, again. */
static void node_sync(struct sim *s, unsigned k) {
  struct node *n = &s->nodes[k];
  struct outmsg h = {.kind = OUT_HELLO, .node = k, .epoch = n->epoch, .seq = n->acked};
  out_push(s, &h);
  for (int i = 0; i < SLOTS; i++) {
    struct vis *v = &n->v[i];
    if (!v->live)
      continue;
    struct outmsg m = {.kind = OUT_SYNC, .node = k};
    m.rec.id = v->id;
    m.rec.ready = v->ready;
    m.rec.away = v->away;
    m.rec.banned = v->banned;
    m.rec.want = v->want;
    m.rec.state = v->vs;
    m.rec.partner = v->vs == MATCH_PAIRED ? v->vp : 0;
    m.rec.waited_ms = v->vs == MATCH_WAITING ? (uint32_t)(s->now - v->wait_since) : 0;
    if (v->tag >= 0) {
      m.rec.ntags = 1;
      strcpy(m.rec.tags[0], vocab[v->tag]);
    }
    m.rec.nblocks = (uint8_t)v->nblocks; /* applied before anyone goes back in line */
    memcpy(m.rec.blocks, v->blocks, sizeof(m.rec.blocks));
    out_push(s, &m);
  }
  struct outmsg e = {.kind = OUT_SYNC_END, .node = k};
  out_push(s, &e);
  /* The unacknowledged commands, again, with their numbers. */
  for (size_t i = 0; i < n->nlog; i++) {
    struct outmsg m = {.kind = OUT_CMD, .node = k, .seq = n->log[i].seq, .c = n->log[i].c};
    out_push(s, &m);
  }
}

/* Everything a visitor wants, told again (a visitor the matcher added fresh on a MOVE). */
static void resend_visitor(struct sim *s, unsigned k, struct vis *v) {
  s->fresh_moves++;
  send_simple(s, k, MATCHER_READY, v->id, 0, v->ready);
  send_simple(s, k, MATCHER_AWAY, v->id, 0, v->away);
  for (int i = 0; i < v->nblocks; i++)
    send_simple(s, k, MATCHER_BLOCK, v->id, v->blocks[i], false);
  if (v->banned) {
    send_simple(s, k, MATCHER_BAN, v->id, 0, true);
  } else if (v->want) {
    struct matcher_cmd c;
    const char *t[1] = {v->tag >= 0 ? vocab[v->tag] : NULL};
    assert_int_equal(matcher_cmd_start(&c, v->id, t, v->tag >= 0 ? 1 : 0, NULL), 0);
    send_cmd(s, k, &c);
  }
}

static void node_receive(struct sim *s, unsigned k) {
  struct node *n = &s->nodes[k];
  if (!n->in_n)
    return;
  struct inmsg m = n->in[n->in_head];
  n->in_head = (n->in_head + 1) % QMAX;
  n->in_n--;
  if (m.kind == IN_RESYNC) {
    node_sync(s, k);
    return;
  }
  if (m.kind == IN_ACK) {
    if (m.epoch != n->epoch)
      return; /* for a previous run of this node */
    if (m.ack > n->acked)
      n->acked = m.ack;
    size_t j = 0;
    for (size_t i = 0; i < n->nlog; i++)
      if (n->log[i].seq > m.ack)
        n->log[j++] = n->log[i];
    n->nlog = j;
    return;
  }
  struct vis *v = vis_of(n, m.ev.peer);
  if (!v)
    return; /* gone */
  if (m.ev.type == MATCHER_EV_STOPPED || (m.ev.type == MATCHER_EV_REFUSED &&
                                          m.ev.cmd == MATCHER_START))
    v->want = m.ev.type == MATCHER_EV_STOPPED ? false : v->want;
  if (m.ev.type == MATCHER_EV_BLOCKED_BY && v->nblocks < BLKMAX)
    v->blocks[v->nblocks++] = m.ev.partner; /* kept to tell a new matcher */
  if (m.ev.type == MATCHER_EV_PAIRED) {
    assert_true(m.ev.link >> 44 >= 1 && m.ev.link >> 44 <= s->gen && !(m.ev.link & 0xfff)); /* a matcher's own */
    v->link = m.ev.link;
  }
  enum match_state before = v->vs;
  matcher_event_follow(&m.ev, &v->vs, &v->vp);
  if (v->vs == MATCH_WAITING && before != MATCH_WAITING)
    v->wait_since = s->now;
  if (m.ev.type == MATCHER_EV_STATE && m.ev.link)
    v->link = m.ev.link; /* a MOVE's answer: the pair's link (the old node may not have had it) */
  if (m.ev.type == MATCHER_EV_STATE && m.ev.code == -ENOENT)
    resend_visitor(s, k, v); /* moved in, but the matcher had lost it: it is new there */
}

/* ---- the matcher side ---- */

static void matcher_receive(struct sim *s) {
  if (!s->out_n)
    return;
  struct outmsg m = s->out[s->out_head];
  s->out_head = (s->out_head + 1) % QMAX;
  s->out_n--;
  switch (m.kind) {
  case OUT_HELLO:
    assert_true(mcluster_hello(s->m, m.node, m.epoch, m.seq, s->now, emit, s) >= 0);
    break;
  case OUT_SYNC: {
    int rc = mcluster_sync_peer(s->m, m.node, &m.rec, s->now);
    if (!(rc == 0 || rc == -EEXIST)) /* -EEXIST: a second RESYNC */
      fail_msg("sync_peer: %d", rc);
    break;
  }
  case OUT_SYNC_END:
    s->sync_end[m.node] = true;
    if (!mcluster_syncing(s->m)) { /* a node coming back into a running pool */
      assert_int_equal(mcluster_sync_done(s->m, m.node, s->now, emit, s), 0);
    } else {
      bool all = true;
      for (unsigned k = 1; k <= NODES; k++)
        all &= s->sync_end[k];
      if (all) {
        assert_int_equal(mcluster_sync_done(s->m, 0, s->now, emit, s), 0);
        s->restored++;
      }
    }
    break;
  case OUT_CMD: {
    int rc = mcluster_command(s->m, m.node, m.seq, &m.c, s->now, emit, s);
    /* A node the matcher has not heard hello from yet: the command is lost, and re-sent
     * after the node's sync. A gap (none is expected here): the node re-sends. */
    assert_true(rc == 0 || rc == 1 || rc == -EINVAL || rc == -EAGAIN);
    if (rc == -EAGAIN) {
      s->gaps++;
      struct inmsg r = {.kind = IN_RESYNC};
      in_push(&s->nodes[m.node], &r);
    }
    if (rc == 0) {
      struct inmsg a = {.kind = IN_ACK, .ack = mcluster_acked(s->m, m.node),
                        .epoch = mcluster_epoch(s->m, m.node)};
      in_push(&s->nodes[m.node], &a);
    }
    break;
  }
  }
}

/* The matcher dies: what was on its way to it is lost, a new one rebuilds. */
static void failover(struct sim *s) {
  mcluster_free(s->m);
  s->m = mcluster_new(&s->cfg);
  assert_non_null(s->m);
  oracle_reset(&s->oracle, mcluster_engine(s->m), cur_seed);
  mcluster_set_generation(s->m, ++s->gen);
  s->out_n = 0;
  for (unsigned k = 1; k <= NODES; k++) {
    s->sync_end[k] = false;
    struct inmsg r = {.kind = IN_RESYNC};
    in_push(&s->nodes[k], &r);
  }
  s->failovers++;
}

/* A node restarts: its visitors are gone. */
static void restart(struct sim *s, unsigned k) {
  struct node *n = &s->nodes[k];
  memset(n->v, 0, sizeof(n->v));
  n->nlog = 0;
  n->in_n = 0;
  n->epoch++;
  n->seq = 0;
  n->acked = 0;
  struct outmsg h = {.kind = OUT_HELLO, .node = k, .epoch = n->epoch, .seq = 0};
  out_push(s, &h);
  /* A matcher still rebuilding waits for this node's (empty) re-send. */
  struct outmsg e = {.kind = OUT_SYNC_END, .node = k};
  out_push(s, &e);
  s->restarts++;
}

/* A node cut off from the others for a while (Redis away) comes back with its visitors: a new
 * epoch (the matcher forgets what it knew of the node), then everything re-sent. What it
 * sent meanwhile went nowhere; the events on their way to it still arrive. */
static void rejoin(struct sim *s, unsigned k) {
  struct node *n = &s->nodes[k];
  n->epoch++;
  n->nlog = 0;
  n->acked = n->seq; /* what it sent before went nowhere: numbering goes on from here */
  node_sync(s, k);
  s->rejoins++;
}

/* ---- what visitors do ---- */

static void visitor_step(struct sim *s, unsigned k) {
  struct node *n = &s->nodes[k];
  struct vis *v = &n->v[rand() % SLOTS];
  if (!v->live) {
    memset(v, 0, sizeof(*v));
    v->live = true;
    v->id = ((match_id)k << MCLUSTER_ID_SHIFT) | ++n->serial;
    v->vs = MATCH_IDLE;
    v->tag = -1;
    send_simple(s, k, MATCHER_ADD, v->id, 0, false);
    return;
  }
  switch (rand() % 11) {
  case 10: {
    /* Its page reloads onto another node (server/cluster_move.c): the old node hands the
     * visit over and sends MOVE; the new node has it under a new id at once. */
    unsigned j = 1 + (k + (unsigned)(rand() % (NODES - 1))) % NODES;
    struct node *nj = &s->nodes[j];
    struct vis *w = NULL;
    for (int i = 0; i < SLOTS && !w; i++)
      if (!nj->v[i].live)
        w = &nj->v[i];
    if (!w || rand() % 3)
      break;
    *w = *v;
    w->id = ((match_id)j << MCLUSTER_ID_SHIFT) | ++nj->serial;
    send_simple(s, k, MATCHER_MOVE, v->id, w->id, false);
    v->live = false;
    s->moves++;
    break;
  }
  case 0:
    if (rand() % 3 == 0) {
      send_simple(s, k, MATCHER_REMOVE, v->id, 0, false);
      v->live = false;
    }
    break;
  case 1: v->ready = rand() % 4 != 0; send_simple(s, k, MATCHER_READY, v->id, 0, v->ready); break;
  case 2: v->away = rand() % 4 == 0; send_simple(s, k, MATCHER_AWAY, v->id, 0, v->away); break;
  case 3:
  case 4: {
    if (v->banned)
      break;
    struct matcher_cmd c;
    v->tag = rand() % 3 - 1;
    const char *t[1] = {v->tag >= 0 ? vocab[v->tag] : NULL};
    assert_int_equal(matcher_cmd_start(&c, v->id, t, v->tag >= 0 ? 1 : 0, NULL), 0);
    v->want = true;
    send_cmd(s, k, &c);
    break;
  }
  case 5:
  case 6: send_simple(s, k, MATCHER_NEXT, v->id, 0, false); break;
  case 7: v->want = false; send_simple(s, k, MATCHER_STOP, v->id, 0, false); break;
  case 8:
    if (v->vs == MATCH_PAIRED && v->nblocks < BLKMAX) {
      v->blocks[v->nblocks++] = v->vp;
      send_simple(s, k, MATCHER_BLOCK, v->id, v->vp, false);
    }
    break;
  default:
    if (rand() % 8 == 0) {
      v->banned = true;
      v->want = false;
      send_simple(s, k, MATCHER_BAN, v->id, 0, true);
    }
    break;
  }
}

/* ---- the checks ---- */

static bool blocked(struct sim *s, match_id a, match_id b) {
  for (unsigned k = 1; k <= NODES; k++)
    for (int i = 0; i < SLOTS; i++) {
      struct vis *v = &s->nodes[k].v[i];
      if (!v->live || (v->id != a && v->id != b))
        continue;
      for (int j = 0; j < v->nblocks; j++)
        if (v->blocks[j] == (v->id == a ? b : a))
          return true;
    }
  return false;
}

static void check_engine(struct sim *s, bool quiet) {
  const struct match_engine *e = mcluster_engine(s->m);
  for (unsigned k = 1; k <= NODES; k++)
    for (int i = 0; i < SLOTS; i++) {
      struct vis *v = &s->nodes[k].v[i];
      if (!v->live || match_state_of(e, v->id) == MATCH_UNKNOWN)
        continue;
      match_id p = match_partner(e, v->id);
      if (p) {
        /* No peer in two pairs. */
        assert_int_equal(match_partner(e, p), v->id);
        /* No pair across a block the matcher has heard of (all of them, once quiet). */
        if (quiet && blocked(s, v->id, p))
          fail_msg("seed %u: pair %llx-%llx across a block", cur_seed, (unsigned long long)v->id,
                   (unsigned long long)p);
      }
      struct vis *w = p ? vis_any(s, p) : NULL;
      if (quiet && w && v->link != w->link) /* both sides' relay link is the same */
        fail_msg("pair %llx-%llx: links %llx and %llx", (unsigned long long)v->id,
                 (unsigned long long)p, (unsigned long long)v->link,
                 (unsigned long long)w->link);
      if (quiet && (v->vs != match_state_of(e, v->id) || v->vp != p))
        fail_msg("node %u peer %llx: view %d/%llx, matcher %d/%llx", k,
                 (unsigned long long)v->id, (int)v->vs, (unsigned long long)v->vp,
                 (int)match_state_of(e, v->id), (unsigned long long)p);
    }
}

static struct vis *vis_any(struct sim *s, match_id id) {
  unsigned k = MCLUSTER_NODE_OF(id);
  return k >= 1 && k <= NODES ? vis_of(&s->nodes[k], id) : NULL;
}

static bool quiet(const struct sim *s) {
  if (s->out_n || mcluster_syncing(s->m))
    return false;
  for (unsigned k = 1; k <= NODES; k++)
    if (s->nodes[k].in_n)
      return false;
  return true;
}

static void drain_all(struct sim *s) {
  for (int guard = 0; guard < 100000 && !quiet(s); guard++) {
    matcher_receive(s);
    for (unsigned k = 1; k <= NODES; k++)
      while (s->nodes[k].in_n)
        node_receive(s, k);
  }
  assert_true(quiet(s));
}

static struct sim *sim_new(void) {
  struct sim *s = test_calloc(1, sizeof(*s));
  match_config_default(&s->cfg);
  s->cfg.widen_after_ms = 2000;
  s->cfg.rematch_lonely_ms = 3000;
  s->cfg.home_shift = MCLUSTER_ID_SHIFT; /* as the server sets it: same-node partners first */
  s->out = test_calloc(QMAX, sizeof(*s->out));
  for (unsigned k = 1; k <= NODES; k++) {
    s->nodes[k].in = test_calloc(QMAX, sizeof(struct inmsg));
    s->nodes[k].epoch = 100 * k;
  }
  s->m = mcluster_new(&s->cfg);
  assert_non_null(s->m);
  oracle_reset(&s->oracle, mcluster_engine(s->m), cur_seed);
  mcluster_set_generation(s->m, s->gen = 1);
  s->now = 1000;
  /* The first matcher: every node says hello and has nothing to re-send. */
  for (unsigned k = 1; k <= NODES; k++)
    node_sync(s, k);
  drain_all(s);
  return s;
}

static void sim_free(struct sim *s) {
  mcluster_free(s->m);
  for (unsigned k = 1; k <= NODES; k++)
    test_free(s->nodes[k].in);
  test_free(s->out);
  test_free(s);
}

static void test_random_cluster(void **state) {
  (void)state;
  unsigned failovers = 0, restarts = 0, restored = 0, rejoins = 0, gaps = 0, quiet_checks = 0;
  unsigned moves = 0, fresh_moves = 0;
  struct oracle_counts checked = {0};
  for (unsigned seed = 1; seed <= 40; seed++) {
    srand(seed);
    cur_seed = seed;
    struct sim *s = sim_new();
    for (int step = 0; step < 3000; step++) {
      s->now += (uint64_t)(rand() % 60);
      int r = rand() % 100;
      if (r < 40) {
        visitor_step(s, 1 + (unsigned)(rand() % NODES));
      } else if (r < 70) {
        for (int i = rand() % 4; i >= 0; i--)
          matcher_receive(s);
      } else if (r < 96) {
        unsigned k = 1 + (unsigned)(rand() % NODES);
        for (int i = rand() % 4; i >= 0; i--)
          node_receive(s, k);
      } else if (r < 97) {
        if (rand() % 6 == 0)
          failover(s);
      } else if (r < 98) {
        if (rand() % 8 == 0)
          restart(s, 1 + (unsigned)(rand() % NODES));
        else if (rand() % 8 == 0)
          rejoin(s, 1 + (unsigned)(rand() % NODES));
      } else {
        oracle_tick(&s->oracle, true);
        assert_true(mcluster_tick(s->m, s->now, emit, s) >= 0);
        oracle_tick(&s->oracle, false);
      }
      check_engine(s, false);
      if (step % 250 == 249) {
        drain_all(s);
        check_engine(s, true);
        quiet_checks++;
      }
    }
    drain_all(s);
    check_engine(s, true);
    failovers += s->failovers;
    restarts += s->restarts;
    restored += s->restored;
    rejoins += s->rejoins;
    gaps += s->gaps;
    moves += s->moves;
    fresh_moves += s->fresh_moves;
    oracle_add(&checked, &s->oracle.n_);
    sim_free(s);
  }
  printf("# %u failovers, %u rebuilds, %u node restarts, %u rejoins, %u gaps, %u moves (%u "
         "fresh), %u quiet checks\n",
         failovers, restored, restarts, rejoins, gaps, moves, fresh_moves, quiet_checks);
  oracle_report(&checked);
  assert_true(checked.decisions > 1000);
  assert_true(checked.home > 0 && checked.by_open > 0 && checked.in_tick_decisions > 0);
  assert_true(checked.older_blocked > 0 && checked.older_recent > 0 && checked.keep_places > 0);
  assert_true(checked.unchecked * 100 <= checked.decisions);
  assert_true(moves > 100);
  assert_true(failovers > 10);
  assert_true(restarts > 5);
  assert_true(rejoins > 5);
}

/* The matcher is replaced by a new one that has heard every node's hello (each saying acked
 * was its last command taken) and nothing else: it is rebuilding, and the test re-sends. */
static void sim_new_matcher(struct sim *s, uint64_t acked) {
  mcluster_free(s->m);
  s->m = mcluster_new(&s->cfg);
  assert_non_null(s->m);
  oracle_reset(&s->oracle, mcluster_engine(s->m), 0);
  for (unsigned k = 1; k <= NODES; k++)
    assert_int_equal(mcluster_hello(s->m, k, s->nodes[k].epoch, acked, s->now, emit, s), 1);
}

/* Longest wait first survives a rebuild: the new matcher puts the waiting back in line by how
 * long each had waited, whatever node they are on and whatever order they are re-sent in. */
static void test_rebuild_keeps_the_longest_wait_first(void **state) {
  (void)state;
  struct sim *s = sim_new();
  sim_new_matcher(s, 49);
  uint32_t waited[NODES + 1] = {0, 300, 900, 600};
  for (unsigned k = 1; k <= NODES; k++) {
    struct mcluster_peer p = {.id = ((match_id)k << MCLUSTER_ID_SHIFT) | 1, .ready = true,
                              .want = true, .state = MATCH_WAITING, .waited_ms = waited[k]};
    assert_int_equal(mcluster_sync_peer(s->m, k, &p, s->now), 0);
  }
  /* A pair both sides confirm, and one only one side claims. */
  struct mcluster_peer a = {.id = ((match_id)1 << MCLUSTER_ID_SHIFT) | 2, .ready = true,
                            .want = true, .state = MATCH_PAIRED, .partner = ((match_id)2 << MCLUSTER_ID_SHIFT) | 2};
  struct mcluster_peer b = {.id = ((match_id)2 << MCLUSTER_ID_SHIFT) | 2, .ready = true,
                            .want = true, .state = MATCH_PAIRED, .partner = a.id};
  struct mcluster_peer c = {.id = ((match_id)3 << MCLUSTER_ID_SHIFT) | 2, .ready = false,
                            .want = true, .state = MATCH_PAIRED, .partner = ((match_id)1 << MCLUSTER_ID_SHIFT) | 9};
  assert_int_equal(mcluster_sync_peer(s->m, 1, &a, s->now), 0);
  assert_int_equal(mcluster_sync_peer(s->m, 2, &b, s->now), 0);
  assert_int_equal(mcluster_sync_peer(s->m, 3, &c, s->now), 0);
  assert_int_equal(mcluster_sync_peer(s->m, 2, &b, s->now), -EEXIST);
  assert_int_equal(mcluster_sync_peer(s->m, 1, &b, s->now), -EINVAL); /* not node 1's */
  /* A command during the rebuild waits for its end. */
  struct matcher_cmd add = {.type = MATCHER_ADD, .peer = ((match_id)1 << MCLUSTER_ID_SHIFT) | 7};
  assert_int_equal(mcluster_command(s->m, 1, 50, &add, s->now, emit, s), 0);
  assert_int_equal(mcluster_peers(s->m, 0), 0);
  for (unsigned k = 1; k <= NODES; k++)
    s->nodes[k].in_n = 0;
  struct matcher_cmd gap = {.type = MATCHER_ADD, .peer = ((match_id)1 << MCLUSTER_ID_SHIFT) | 8};
  assert_int_equal(mcluster_command(s->m, 1, 52, &gap, s->now, emit, s), -EAGAIN); /* 51 lost */
  assert_int_equal(mcluster_sync_done(s->m, 0, s->now, emit, s), 0);
  const struct match_engine *e = mcluster_engine(s->m);
  assert_int_equal(match_partner(e, a.id), b.id); /* restored, silently: */
  for (unsigned k = 1; k <= NODES; k++)
    for (size_t i = 0; i < s->nodes[k].in_n; i++) {
      const struct matcher_event *ev = &s->nodes[k].in[(s->nodes[k].in_head + i) % QMAX].ev;
      assert_false(ev->peer == a.id || ev->peer == b.id);
    }
  /* c's pair was one-sided: it hears PARTNER_LEFT. */
  struct inmsg *first3 = &s->nodes[3].in[s->nodes[3].in_head];
  assert_int_equal(first3->ev.type, MATCHER_EV_PARTNER_LEFT);
  assert_int_equal(first3->ev.peer, c.id);
  /* The three waiting paired in line: node 2's (900 ms) with node 3's (600 ms); node 1's
   * (300 ms) waits. */
  match_id w1 = ((match_id)1 << MCLUSTER_ID_SHIFT) | 1, w2 = ((match_id)2 << MCLUSTER_ID_SHIFT) | 1,
           w3 = ((match_id)3 << MCLUSTER_ID_SHIFT) | 1;
  assert_int_equal(match_partner(e, w2), w3);
  assert_int_equal(match_state_of(e, w1), MATCH_WAITING);
  assert_int_equal(mcluster_peers(s->m, 1), 3); /* w1, a and the held add */
  assert_int_equal(mcluster_acked(s->m, 1), 50);
  /* A re-sent command is ignored; a command for another node's peer is refused. */
  assert_int_equal(mcluster_command(s->m, 1, 50, &add, s->now, emit, s), 1);
  struct matcher_cmd nx = {.type = MATCHER_NEXT, .peer = w2};
  s->nodes[1].in_n = 0;
  assert_int_equal(mcluster_command(s->m, 1, 51, &nx, s->now, emit, s), 0);
  assert_int_equal(s->nodes[1].in_n, 1);
  assert_int_equal(s->nodes[1].in[s->nodes[1].in_head].ev.code, -EPERM);
  assert_int_equal(match_partner(e, w2), w3);
  /* Node 3 restarts: its peers go, their partners hear it. */
  s->nodes[2].in_n = 0;
  assert_int_equal(mcluster_hello(s->m, 3, 999, 0, s->now, emit, s), 1);
  assert_int_equal(mcluster_peers(s->m, 3), 0);
  assert_true(s->nodes[2].in_n >= 1);
  assert_int_equal(s->nodes[2].in[s->nodes[2].in_head].ev.type, MATCHER_EV_PARTNER_LEFT);
  sim_free(s);
}

/* A pair a new matcher takes over has no place in its line: when it ends, the one left behind
 * goes to the back (before, it came back at place 0, ahead of everyone). */
static void test_restored_pair_left_behind_goes_to_the_back(void **state) {
  (void)state;
  struct sim *s = sim_new();
  sim_new_matcher(s, 0);
  match_id a = ((match_id)1 << MCLUSTER_ID_SHIFT) | 1, b = ((match_id)2 << MCLUSTER_ID_SHIFT) | 1;
  match_id w = ((match_id)3 << MCLUSTER_ID_SHIFT) | 1, n = ((match_id)3 << MCLUSTER_ID_SHIFT) | 2;
  struct mcluster_peer pa = {.id = a, .ready = true, .want = true, .state = MATCH_PAIRED,
                             .partner = b};
  struct mcluster_peer pb = {.id = b, .ready = true, .want = true, .state = MATCH_PAIRED,
                             .partner = a, .nblocks = 1, .blocks = {w}};
  struct mcluster_peer pw = {.id = w, .ready = true, .want = true, .state = MATCH_WAITING,
                             .waited_ms = 500};
  assert_int_equal(mcluster_sync_peer(s->m, 1, &pa, s->now), 0);
  assert_int_equal(mcluster_sync_peer(s->m, 2, &pb, s->now), 0);
  assert_int_equal(mcluster_sync_peer(s->m, 3, &pw, s->now), 0);
  assert_int_equal(mcluster_sync_done(s->m, 0, s->now, emit, s), 0);
  const struct match_engine *e = mcluster_engine(s->m);
  assert_int_equal(match_partner(e, a), b);
  assert_int_equal(match_state_of(e, w), MATCH_WAITING);
  /* a stops: b waits (it blocked w), behind w. */
  struct matcher_cmd stop = {.type = MATCHER_STOP, .peer = a};
  assert_int_equal(mcluster_command(s->m, 1, 1, &stop, s->now + 10, emit, s), 0);
  assert_int_equal(match_state_of(e, b), MATCH_WAITING);
  /* A newcomer meets w, who has waited longer. */
  struct matcher_cmd c = {.type = MATCHER_ADD, .peer = n};
  assert_int_equal(mcluster_command(s->m, 3, 1, &c, s->now + 20, emit, s), 0);
  c.type = MATCHER_READY;
  c.flag = true;
  assert_int_equal(mcluster_command(s->m, 3, 2, &c, s->now + 20, emit, s), 0);
  assert_int_equal(matcher_cmd_start(&c, n, NULL, 0, NULL), 0);
  assert_int_equal(mcluster_command(s->m, 3, 3, &c, s->now + 20, emit, s), 0);
  assert_int_equal(match_partner(e, n), w);
  assert_int_equal(match_state_of(e, b), MATCH_WAITING);
  sim_free(s);
}

/* Found by fuzz_clusterwire: a record claiming itself as its partner was put back in line
 * twice, past the end of the array. */
static void test_self_claim(void **state) {
  (void)state;
  struct mcluster *m = mcluster_new(NULL);
  assert_non_null(m);
  assert_int_equal(mcluster_hello(m, 1, 1, 0, 0, emit_none, NULL), 1);
  struct mcluster_peer p = {.id = ((match_id)1 << MCLUSTER_ID_SHIFT) | 1, .ready = true,
                            .want = true, .state = MATCH_PAIRED};
  p.partner = p.id;
  assert_int_equal(mcluster_sync_peer(m, 1, &p, 0), 0);
  assert_int_equal(mcluster_sync_done(m, 0, 0, emit_none, NULL), 0);
  assert_int_equal(match_state_of(mcluster_engine(m), p.id), MATCH_WAITING);
  mcluster_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_self_claim),
      cmocka_unit_test(test_restored_pair_left_behind_goes_to_the_back),
      cmocka_unit_test(test_rebuild_keeps_the_longest_wait_first),
      cmocka_unit_test(test_random_cluster),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
