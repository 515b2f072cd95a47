/* test_engine_random.c -- random command sequences against the engine's invariants. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "match/engine.h"

/* The small population has fewer ids than the engine's scan bound (32), so
 * bounded skipping never hides a partner and the liveness checks ("compatible
 * peers never both wait") hold exactly. The large one, with many blocks,
 * exercises the bounded skipping with the safety checks only. */
#define SMALL_IDS 24
#define LARGE_IDS 200
#define NVOCAB 6
#define STEPS 3000
#define SEEDS 150
#define LARGE_SEEDS 20
#define NIDS (m->nids)

static const char *const vocab[NVOCAB] = {"a", "b", "c", "d", "e", "f"};
static const char *const many[11] = {"t0", "t1", "t2", "t3", "t4", "t5",
                                     "t6", "t7", "t8", "t9", "t10"};
static const char *const spelled[NVOCAB] = {" A", "b ", "C", " d\t", "E", "f"};

struct mpeer {
  int exists, ready, banned, want;
  int cooling;
  uint64_t cool_until;
  unsigned tags; /* bit per vocab word */
  int lang;      /* 0 none, 1 en, 2 fr */
  uint64_t wait_start;
  int open;
  uint64_t next_win_start;
  uint32_t next_count;
  match_id view; /* partner as told by events */
  int waiting;    /* since its WAITING event */
  uint32_t nrecent;
  struct {
    int id;
    uint64_t until;
  } recent[8]; /* last recent_k partners, oldest first */
};

struct model {
  struct match_config cfg;
  struct match_engine *e;
  uint64_t rng;
  uint64_t now;
  uint64_t seed;
  int step;
  const char *op;
  int nids;
  int block_pct; /* share of operations that are blocks */
  struct mpeer p[LARGE_IDS + 1];
  unsigned char blocked[LARGE_IDS + 1][LARGE_IDS + 1]; /* [a][b]: a blocked b */
  unsigned char paired_ever[LARGE_IDS + 1][LARGE_IDS + 1];
};

static unsigned long ev_count[5]; /* by type, to show what the run covered */

static uint64_t rnd(struct model *m) {
  uint64_t z = (m->rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint32_t rnd_below(struct model *m, uint32_t n) {
  return (uint32_t)(rnd(m) % n);
}

#define CHECK(m, cond)                                                                   \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      print_error("invariant failed: %s\nreplay with TANDEM_SEED=%" PRIu64                \
                  " (%d ids, step %d, op %s)\n",                                        \
                  #cond, (m)->seed, (m)->nids, (m)->step, (m)->op);                      \
      fail();                                                                            \
    }                                                                                    \
  } while (0)

static int is_blocked(const struct model *m, int a, int b) {
  return m->blocked[a][b] || m->blocked[b][a];
}

static int shares(const struct model *m, int a, int b) {
  return (m->p[a].tags & m->p[b].tags) != 0 || (m->p[a].lang != 0 && m->p[a].lang == m->p[b].lang);
}

static void recent_add(struct model *m, int x, int y) {
  struct mpeer *p = &m->p[x];
  uint32_t k;

  if (m->cfg.recent_k == 0)
    return;
  for (k = 0; k < p->nrecent; k++) {
    if (p->recent[k].id == y)
      break;
  }
  if (k == p->nrecent && p->nrecent == m->cfg.recent_k)
    k = 0;
  if (k < p->nrecent) {
    memmove(&p->recent[k], &p->recent[k + 1], (p->nrecent - k - 1) * sizeof(p->recent[0]));
    p->nrecent--;
  }
  p->recent[p->nrecent].id = y;
  p->recent[p->nrecent].until = m->now + m->cfg.rematch_cooldown_ms;
  p->nrecent++;
}

/* x would refuse y as a partner right now because of a recent pair. */
static int recent_excludes(const struct model *m, int x, int y) {
  const struct mpeer *p = &m->p[x];
  uint64_t since = p->waiting ? p->wait_start : m->now;
  uint32_t k;

  if (m->now - since >= m->cfg.rematch_lonely_ms)
    return 0;
  for (k = 0; k < p->nrecent; k++) {
    if (p->recent[k].id == y && p->recent[k].until > m->now)
      return 1;
  }
  return 0;
}

static int cooling_active(const struct model *m, int i) {
  return m->p[i].cooling && m->now < m->p[i].cool_until;
}

/* Applies the events of one step to the model's view of who is paired. */
static void apply_events(struct model *m) {
  struct match_event ev;

  while (match_poll(m->e, &ev) == 1) {
    int x = (int)ev.peer, y = (int)ev.partner;
    if ((unsigned)ev.type < 5)
      ev_count[ev.type]++;
    CHECK(m, x >= 1 && x <= NIDS);
    switch (ev.type) {
    case MATCH_EV_PAIRED:
      CHECK(m, y >= 1 && y <= NIDS && x != y);
      CHECK(m, m->p[x].exists && m->p[y].exists);
      CHECK(m, m->p[x].view == 0);
      CHECK(m, !is_blocked(m, x, y));
      CHECK(m, m->p[x].ready && !m->p[x].banned && m->p[x].want);
      CHECK(m, ev.n_shared <= 10);
      CHECK(m, !recent_excludes(m, x, y) && !recent_excludes(m, y, x));
      m->p[x].view = (match_id)y; /* waiting is cleared after the step, as y's
                                     PAIRED still needs x's wait */
      m->p[x].open = 0;
      m->paired_ever[x][y] = m->paired_ever[y][x] = 1;
      break;
    case MATCH_EV_PARTNER_LEFT:
      CHECK(m, m->p[x].view == (match_id)y);
      m->p[x].view = 0;
      recent_add(m, x, y);
      recent_add(m, y, x);
      break;
    case MATCH_EV_WAITING:
      CHECK(m, m->p[x].view == 0);
      m->p[x].waiting = 1;
      m->p[x].wait_start = m->now;
      m->p[x].open = (m->p[x].tags == 0 && m->p[x].lang == 0) || m->cfg.widen_after_ms == 0;
      break;
    case MATCH_EV_STOPPED:
      CHECK(m, m->p[x].view == 0);
      break;
    case MATCH_EV_COOLDOWN:
      CHECK(m, m->p[x].view == 0);
      CHECK(m, ev.until_ms == m->now + m->cfg.next_cooldown_ms);
      m->p[x].cooling = 1;
      m->p[x].cool_until = ev.until_ms;
      break;
    default:
      CHECK(m, 0);
    }
  }
}

static void check_invariants(struct model *m) {
  size_t nwait = 0, npair = 0;
  int i, j;

  for (i = 1; i <= NIDS; i++) {
    enum match_state st = match_state_of(m->e, (match_id)i);
    match_id q = match_partner(m->e, (match_id)i);
    const struct mpeer *p = &m->p[i];

    if (!p->exists) {
      CHECK(m, st == MATCH_UNKNOWN && q == 0);
      continue;
    }
    CHECK(m, st != MATCH_UNKNOWN);
    CHECK(m, (st == MATCH_PAIRED) == (q != 0));
    CHECK(m, q != (match_id)i);
    CHECK(m, p->view == q); /* every PAIRED/PARTNER_LEFT matched the state */
    if (q != 0) {
      CHECK(m, q <= (match_id)NIDS && m->p[q].exists);
      CHECK(m, match_partner(m->e, q) == (match_id)i);
      CHECK(m, !is_blocked(m, i, (int)q));
      npair++;
    }
    if (st == MATCH_WAITING)
      nwait++;
    if (st != MATCH_IDLE) {
      CHECK(m, p->ready && !p->banned && p->want && !cooling_active(m, i));
    } else if (p->want && p->ready && !p->banned && !p->cooling) {
      CHECK(m, st != MATCH_IDLE); /* should be waiting or paired */
    }
  }
  CHECK(m, match_waiting_count(m->e) == nwait);
  CHECK(m, match_paired_count(m->e) == npair);
  if (m->nids > SMALL_IDS)
    return;

  /* Immediate pairing: two waiting peers who could pair never both wait. */
  for (i = 1; i <= NIDS; i++) {
    if (match_state_of(m->e, (match_id)i) != MATCH_WAITING)
      continue;
    for (j = i + 1; j <= NIDS; j++) {
      if (match_state_of(m->e, (match_id)j) != MATCH_WAITING)
        continue;
      if (m->paired_ever[i][j] || is_blocked(m, i, j))
        continue;
      CHECK(m, !shares(m, i, j));
      CHECK(m, !(m->p[i].open && m->p[j].open));
    }
  }
}

static void forget(struct model *m, int i) {
  int j;
  uint32_t k;
  memset(&m->p[i], 0, sizeof(m->p[i]));
  for (j = 0; j <= NIDS; j++) {
    for (k = 0; k < m->p[j].nrecent; k++) {
      if (m->p[j].recent[k].id == i)
        m->p[j].recent[k].id = -1; /* a new peer with the same id is a stranger */
    }
    m->blocked[i][j] = m->blocked[j][i] = 0;
    m->paired_ever[i][j] = m->paired_ever[j][i] = 0;
  }
}

/* The caller ended its own pair: no event tells it, so the view follows the call. */
static void self_unpaired(struct model *m, int i, match_id before) {
  if (before != 0)
    m->p[i].view = 0;
}

static void op_start(struct model *m, int i) {
  const char *tags[12];
  char bad[40];
  size_t n = 0;
  unsigned mask = 0;
  int lang = (int)rnd_below(m, 3), invalid = 0, rc, expect;
  const char *langs[3] = {NULL, "en", " FR "};
  enum match_state st = match_state_of(m->e, (match_id)i);
  uint32_t k, r = rnd_below(m, 30);

  if (r == 0) {
    /* One more distinct tag than allowed. */
    for (k = 0; k <= m->cfg.max_tags && k < 11; k++)
      tags[n++] = many[k];
    invalid = 1;
  } else if (r == 1) {
    memset(bad, 'q', 33);
    bad[33] = '\0';
    tags[n++] = bad;
    invalid = 1;
  } else {
    uint32_t want_n = rnd_below(m, 4);
    for (k = 0; k < want_n; k++) {
      uint32_t w = rnd_below(m, NVOCAB);
      tags[n++] = rnd_below(m, 2) ? vocab[w] : spelled[w];
      mask |= 1u << w;
    }
    if (rnd_below(m, 8) == 0)
      tags[n++] = "   ";
  }
  rc = match_start(m->e, (match_id)i, tags, n, langs[lang], m->now);
  if (invalid)
    expect = -EINVAL;
  else if (!m->p[i].exists)
    expect = -ENOENT;
  else if (m->p[i].banned)
    expect = -EPERM;
  else if (st == MATCH_PAIRED)
    expect = -EALREADY;
  else if (cooling_active(m, i))
    expect = -EBUSY;
  else if (st == MATCH_WAITING)
    expect = -EALREADY;
  else
    expect = 0;
  if (rc != expect)
    print_error("start(%d) = %d, expected %d\n", i, rc, expect);
  CHECK(m, rc == expect);
  if (rc == 0 || (rc == -EALREADY && st == MATCH_WAITING)) {
    m->p[i].tags = mask;
    m->p[i].lang = lang;
    if (rc == 0) {
      m->p[i].want = 1;
      m->p[i].cooling = 0;
    } else if (!m->p[i].open && ((mask == 0 && lang == 0) ||
                                 m->now - m->p[i].wait_start >= m->cfg.widen_after_ms)) {
      m->p[i].open = 1;
    }
  }
}

static void op_next(struct model *m, int i) {
  match_id before = match_partner(m->e, (match_id)i);
  int rc = match_next(m->e, (match_id)i, m->now);
  struct mpeer *p = &m->p[i];

  if (!p->exists) {
    CHECK(m, rc == -ENOENT);
    return;
  }
  if (before != 0) {
    int over = 0;
    if (m->cfg.next_limit > 0 && m->cfg.next_window_ms > 0) {
      if (p->next_count == 0 || m->now - p->next_win_start >= m->cfg.next_window_ms) {
        p->next_win_start = m->now;
        p->next_count = 0;
      }
      p->next_count++;
      over = p->next_count > m->cfg.next_limit;
    }
    CHECK(m, rc == (over ? -EBUSY : 0));
    self_unpaired(m, i, before);
    return;
  }
  if (cooling_active(m, i))
    CHECK(m, rc == -EBUSY);
  else
    CHECK(m, rc == (p->want ? 0 : -EINVAL));
  if (p->cooling && !cooling_active(m, i))
    p->cooling = 0; /* the engine noticed the end and put the peer back */
}

static void op_tick(struct model *m) {
  int i;
  CHECK(m, match_tick(m->e, m->now) >= 0);
  for (i = 1; i <= NIDS; i++) {
    struct mpeer *p = &m->p[i];
    if (p->cooling && p->cool_until <= m->now)
      p->cooling = 0;
  }
}

/* After a tick, two waiting peers who are not blocked have certainly met if
 * both have waited long enough to be lonely (forgiving recent partners) and,
 * unless they share a tag, to have widened. */
static void check_tick_liveness(struct model *m) {
  int i, j;
  uint64_t lonely = m->cfg.rematch_lonely_ms, widen = m->cfg.widen_after_ms;

  if (m->nids > SMALL_IDS)
    return;
  for (i = 1; i <= NIDS; i++) {
    const struct mpeer *a = &m->p[i];
    if (!a->waiting)
      continue;
    for (j = i + 1; j <= NIDS; j++) {
      const struct mpeer *b = &m->p[j];
      uint64_t since;
      if (!b->waiting || is_blocked(m, i, j))
        continue;
      since = a->wait_start > b->wait_start ? a->wait_start : b->wait_start;
      if (shares(m, i, j))
        CHECK(m, m->now < since + lonely);
      else
        CHECK(m, m->now < since + (lonely > widen ? lonely : widen));
    }
  }
}

/* Widening happens in the tick, after events were applied; mark it then. */
static void tick_widen(struct model *m) {
  int i;
  for (i = 1; i <= NIDS; i++) {
    struct mpeer *p = &m->p[i];
    if (match_state_of(m->e, (match_id)i) == MATCH_WAITING && !p->open &&
        m->now - p->wait_start >= m->cfg.widen_after_ms)
      p->open = 1;
  }
}

static void run_seed(uint64_t seed, int nids) {
  struct model *m = calloc(1, sizeof(*m));
  int step;

  assert_non_null(m);
  m->nids = nids;
  m->block_pct = nids > SMALL_IDS ? 15 : 5;
  m->seed = seed;
  m->rng = seed;
  match_config_default(&m->cfg);
  m->cfg.widen_after_ms = rnd_below(m, 4) * 1000;
  m->cfg.recent_k = rnd_below(m, 4);
  m->cfg.rematch_cooldown_ms = rnd_below(m, 3) * 10000;
  m->cfg.rematch_lonely_ms = rnd_below(m, 3) * 4000;
  m->cfg.next_limit = rnd_below(m, 5);
  m->cfg.next_window_ms = rnd_below(m, 3) * 5000;
  m->cfg.next_cooldown_ms = rnd_below(m, 3) * 3000;
  m->cfg.max_tags = 3 + rnd_below(m, 8);
  m->cfg.hash_seed = seed;
  m->e = match_new(&m->cfg);
  assert_non_null(m->e);
  m->now = 1000;

  for (step = 0; step < STEPS; step++) {
    int i = 1 + (int)rnd_below(m, NIDS);
    int j = 1 + (int)rnd_below(m, NIDS);
    uint32_t op = rnd_below(m, 100);
    match_id before = match_partner(m->e, (match_id)i);
    int rc, ticked = 0;

    m->step = step;
    m->now += rnd_below(m, 8) == 0 ? rnd_below(m, 6000) : rnd_below(m, 50);
    if (op < 12) {
      m->op = "add";
      rc = match_add(m->e, (match_id)i, m->now);
      CHECK(m, rc == (m->p[i].exists ? -EEXIST : 0));
      if (rc == 0)
        m->p[i].exists = 1;
    } else if (op < 17) {
      m->op = "remove";
      rc = match_remove(m->e, (match_id)i, m->now);
      CHECK(m, rc == (m->p[i].exists ? 0 : -ENOENT));
      if (rc == 0) {
        m->p[i].view = 0;
        apply_events(m);
        forget(m, i);
      }
    } else if (op < 32) {
      int ready = rnd_below(m, 3) != 0;
      m->op = ready ? "ready" : "unready";
      rc = match_set_ready(m->e, (match_id)i, ready, m->now);
      CHECK(m, rc == (m->p[i].exists ? 0 : -ENOENT));
      if (rc == 0) {
        m->p[i].ready = ready;
        if (!ready)
          self_unpaired(m, i, before);
        if (m->p[i].cooling && !cooling_active(m, i))
          m->p[i].cooling = 0;
      }
    } else if (op < 52) {
      m->op = "start";
      op_start(m, i);
    } else if (op < 64) {
      /* Half the Nexts come from paired peers 1-4, to reach the rate limit. */
      int k, eager = i;
      for (k = 1; k <= 4; k++) {
        if (match_partner(m->e, (match_id)k) != 0)
          eager = k;
      }
      m->op = "next";
      op_next(m, rnd_below(m, 2) ? i : eager);
    } else if (op < 69) {
      m->op = "stop";
      rc = match_stop(m->e, (match_id)i, m->now);
      CHECK(m, rc == (m->p[i].exists ? 0 : -ENOENT));
      if (rc == 0) {
        m->p[i].want = 0;
        self_unpaired(m, i, before);
      }
    } else if (op < 69 + (uint32_t)m->block_pct) {
      m->op = "block";
      rc = match_block(m->e, (match_id)i, (match_id)j, m->now);
      if (i == j)
        CHECK(m, rc == -EINVAL);
      else if (!m->p[i].exists || !m->p[j].exists)
        CHECK(m, rc == -ENOENT);
      else
        CHECK(m, rc == 0);
      if (rc == 0) {
        m->blocked[i][j] = 1;
        if (before == (match_id)j)
          self_unpaired(m, i, before);
      }
    } else if (op < 73 + (uint32_t)m->block_pct) {
      int banned = rnd_below(m, 2);
      m->op = banned ? "ban" : "unban";
      rc = match_ban(m->e, (match_id)i, banned, m->now);
      CHECK(m, rc == (m->p[i].exists ? 0 : -ENOENT));
      if (rc == 0) {
        m->p[i].banned = banned;
        if (banned) {
          m->p[i].want = 0;
          self_unpaired(m, i, before);
        }
      }
    } else {
      m->op = "tick";
      op_tick(m);
      ticked = 1;
    }
    apply_events(m);
    if (ticked)
      tick_widen(m);
    for (j = 1; j <= NIDS; j++) {
      if (match_state_of(m->e, (match_id)j) != MATCH_WAITING)
        m->p[j].waiting = 0;
    }
    check_invariants(m);
    if (ticked)
      check_tick_liveness(m);
  }
  match_free(m->e);
  free(m);
}

static void test_random_sequences(void **state) {
  const char *env = getenv("TANDEM_SEED");
  uint64_t base;
  int s;

  (void)state;
  if (env != NULL && *env != '\0') {
    base = strtoull(env, NULL, 0);
    print_message("TANDEM_SEED=%" PRIu64 " (one seed, small and large population)\n", base);
    run_seed(base, SMALL_IDS);
    run_seed(base, LARGE_IDS);
    return;
  }
  base = (uint64_t)time(NULL) * 1000;
  print_message("seeds %" PRIu64 " .. %" PRIu64 " (TANDEM_SEED=n replays one)\n", base,
                base + SEEDS - 1);
  for (s = 0; s < SEEDS; s++)
    run_seed(base + (uint64_t)s, SMALL_IDS);
  for (s = 0; s < LARGE_SEEDS; s++)
    run_seed(base + (uint64_t)s, LARGE_IDS);
  print_message("events: %lu paired, %lu partner-left, %lu waiting, %lu stopped, %lu cooldown\n",
                ev_count[0], ev_count[1], ev_count[2], ev_count[3], ev_count[4]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_random_sequences),
  };
  return cmocka_run_group_tests_name("match_engine_random", tests, NULL, NULL);
}
