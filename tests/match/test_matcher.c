/* test_matcher.c -- matching as messages: the events alone tell every change of state, and
 * refusals come as events. The property: a view built only from matcher_apply's events equals
 * the engine's own state for every peer, after every command of long random sequences. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "match/matcher.h"

#define NPEERS 16
#define MAXEV 512

struct world {
  struct match_engine *e;
  struct matcher_event ev[MAXEV];
  size_t nev;
  /* The view, from events only (index = id). */
  enum match_state state[NPEERS + 1];
  match_id partner[NPEERS + 1];
  uint64_t now;
};

static void emit(void *arg, const struct matcher_event *ev) {
  struct world *w = arg;
  assert_true(w->nev < MAXEV);
  w->ev[w->nev++] = *ev;
  if (ev->peer >= 1 && ev->peer <= NPEERS)
    matcher_event_follow(ev, &w->state[ev->peer], &w->partner[ev->peer]);
}

static struct world *world_new(void) {
  struct world *w = test_calloc(1, sizeof(*w));
  struct match_config c;
  match_config_default(&c);
  c.next_limit = 3;
  c.next_window_ms = 10000;
  c.next_cooldown_ms = 2000;
  w->e = match_new(&c);
  assert_non_null(w->e);
  w->now = 1000;
  for (int i = 0; i <= NPEERS; i++)
    w->state[i] = MATCH_IDLE;
  return w;
}

static void world_free(struct world *w) {
  match_free(w->e);
  test_free(w);
}

static void cmd(struct world *w, enum matcher_cmd_type t, match_id peer, match_id other,
                bool flag) {
  struct matcher_cmd c;
  memset(&c, 0, sizeof(c));
  c.type = t;
  c.peer = peer;
  c.other = other;
  c.flag = flag;
  c.for_ms = 60000;
  w->nev = 0;
  assert_int_equal(matcher_apply(w->e, &c, w->now, emit, w), 0);
}

static void start(struct world *w, match_id peer, const char *tag) {
  struct matcher_cmd c;
  const char *tags[1] = {tag};
  assert_int_equal(matcher_cmd_start(&c, peer, tags, tag ? 1 : 0, NULL), 0);
  w->nev = 0;
  assert_int_equal(matcher_apply(w->e, &c, w->now, emit, w), 0);
}

static int find(const struct world *w, enum matcher_ev_type t, match_id peer) {
  for (size_t i = 0; i < w->nev; i++)
    if (w->ev[i].type == t && w->ev[i].peer == peer)
      return (int)i;
  return -1;
}

/* The view equals the engine for every known peer. */
static void check_view(const struct world *w) {
  for (match_id id = 1; id <= NPEERS; id++) {
    enum match_state s = match_state_of(w->e, id);
    if (s == MATCH_UNKNOWN)
      continue;
    if (w->state[id] != s || w->partner[id] != match_partner(w->e, id)) {
      fail_msg("peer %llu: view %d/%llu, engine %d/%llu", (unsigned long long)id,
               (int)w->state[id], (unsigned long long)w->partner[id], (int)s,
               (unsigned long long)match_partner(w->e, id));
    }
  }
}

static void ready_pair(struct world *w) {
  cmd(w, MATCHER_ADD, 1, 0, false);
  cmd(w, MATCHER_ADD, 2, 0, false);
  cmd(w, MATCHER_READY, 1, 0, true);
  cmd(w, MATCHER_READY, 2, 0, true);
  start(w, 1, NULL);
  assert_true(find(w, MATCHER_EV_WAITING, 1) >= 0);
  start(w, 2, NULL);
  assert_true(find(w, MATCHER_EV_PAIRED, 1) >= 0);
  assert_true(find(w, MATCHER_EV_PAIRED, 2) >= 0);
  assert_int_equal(w->state[1], MATCH_PAIRED);
  assert_int_equal(w->partner[1], 2);
  check_view(w);
}

static void test_pairing_needs_no_extra_events(void **state) {
  (void)state;
  struct world *w = world_new();
  ready_pair(w);
  assert_int_equal(find(w, MATCHER_EV_STATE, 1), -1);
  assert_int_equal(find(w, MATCHER_EV_STATE, 2), -1);
  world_free(w);
}

/* The engine ends a pair without a word to the peer that stopped being ready: the matcher
 * tells it (STATE IDLE), and the partner hears PARTNER_LEFT as before. */
static void test_not_ready_ends_the_pair_with_a_state_event(void **state) {
  (void)state;
  struct world *w = world_new();
  ready_pair(w);
  cmd(w, MATCHER_READY, 1, 0, false);
  int i = find(w, MATCHER_EV_STATE, 1);
  assert_true(i >= 0);
  assert_int_equal(w->ev[i].state, MATCH_IDLE);
  assert_int_equal(w->ev[i].partner, 0);
  assert_true(find(w, MATCHER_EV_PARTNER_LEFT, 2) >= 0);
  assert_int_equal(w->state[2], MATCH_WAITING);
  check_view(w);
  world_free(w);
}

static void test_away_leaves_the_pool_with_a_state_event(void **state) {
  (void)state;
  struct world *w = world_new();
  cmd(w, MATCHER_ADD, 1, 0, false);
  cmd(w, MATCHER_READY, 1, 0, true);
  start(w, 1, "x");
  assert_int_equal(w->state[1], MATCH_WAITING);
  cmd(w, MATCHER_AWAY, 1, 0, true);
  assert_true(find(w, MATCHER_EV_STATE, 1) >= 0);
  assert_int_equal(w->state[1], MATCH_IDLE);
  cmd(w, MATCHER_AWAY, 1, 0, false);
  assert_int_equal(w->state[1], MATCH_WAITING);
  check_view(w);
  world_free(w);
}

static void test_refusals_are_events(void **state) {
  (void)state;
  struct world *w = world_new();
  cmd(w, MATCHER_ADD, 1, 0, false);
  cmd(w, MATCHER_NEXT, 1, 0, false); /* never started */
  int i = find(w, MATCHER_EV_REFUSED, 1);
  assert_true(i >= 0);
  assert_int_equal(w->ev[i].cmd, MATCHER_NEXT);
  assert_int_equal(w->ev[i].code, -EINVAL);
  cmd(w, MATCHER_BAN, 1, 0, true);
  start(w, 1, NULL);
  i = find(w, MATCHER_EV_REFUSED, 1);
  assert_true(i >= 0);
  assert_int_equal(w->ev[i].cmd, MATCHER_START);
  assert_int_equal(w->ev[i].code, -EPERM);
  cmd(w, MATCHER_REMOVE, 9, 0, false); /* unknown */
  i = find(w, MATCHER_EV_REFUSED, 9);
  assert_true(i >= 0);
  assert_int_equal(w->ev[i].code, -ENOENT);
  /* A control character is the engine's to refuse. */
  struct matcher_cmd c;
  const char *bad[1] = {"a\x01"};
  cmd(w, MATCHER_BAN, 1, 0, false);
  assert_int_equal(matcher_cmd_start(&c, 1, bad, 1, NULL), 0);
  w->nev = 0;
  assert_int_equal(matcher_apply(w->e, &c, w->now, emit, w), 0);
  i = find(w, MATCHER_EV_REFUSED, 1);
  assert_true(i >= 0);
  assert_int_equal(w->ev[i].code, -EINVAL);
  world_free(w);
}

/* Over the Next limit while paired: COOLDOWN, and no REFUSED on top; a Next while cooling
 * down: REFUSED -EBUSY with the cool-down's end. */
static void test_cooldown(void **state) {
  (void)state;
  struct world *w = world_new();
  ready_pair(w);
  int cooled = 0;
  match_id k = 3;
  for (int round = 0; round < 6 && !cooled; round++) {
    while (w->state[1] != MATCH_PAIRED && k <= NPEERS) { /* newcomers, until 1 has one */
      cmd(w, MATCHER_ADD, k, 0, false);
      cmd(w, MATCHER_READY, k, 0, true);
      start(w, k++, NULL);
    }
    assert_int_equal(w->state[1], MATCH_PAIRED);
    w->now += 10;
    cmd(w, MATCHER_NEXT, 1, 0, false);
    if (find(w, MATCHER_EV_COOLDOWN, 1) >= 0) {
      cooled = 1;
      assert_int_equal(find(w, MATCHER_EV_REFUSED, 1), -1);
    }
    check_view(w);
  }
  assert_true(cooled);
  assert_int_equal(w->state[1], MATCH_IDLE);
  cmd(w, MATCHER_NEXT, 1, 0, false);
  int i = find(w, MATCHER_EV_REFUSED, 1);
  assert_true(i >= 0);
  assert_int_equal(w->ev[i].code, -EBUSY);
  assert_true(w->ev[i].until_ms > w->now);
  world_free(w);
}

/* A new matcher takes over a pair: no PAIRED (the servers know already); both are paired in
 * the engine, a Next ends it as usual; a restore that breaks a rule changes nothing. */
static void test_restore_pair(void **state) {
  (void)state;
  struct world *w = world_new();
  for (match_id id = 1; id <= 4; id++) {
    cmd(w, MATCHER_ADD, id, 0, false);
    start(w, id, NULL); /* not ready yet: remembered */
  }
  w->state[1] = w->state[2] = MATCH_PAIRED; /* what the servers' views say */
  w->partner[1] = 2;
  w->partner[2] = 1;
  cmd(w, MATCHER_RESTORE, 1, 2, false);
  assert_int_equal(find(w, MATCHER_EV_PAIRED, 1), -1);
  assert_int_equal(match_partner(w->e, 1), 2);
  assert_int_equal(match_partner(w->e, 2), 1);
  cmd(w, MATCHER_READY, 1, 0, true);
  cmd(w, MATCHER_READY, 2, 0, true);
  assert_int_equal(w->nev, 0); /* paired: nothing to enter */
  check_view(w);
  cmd(w, MATCHER_RESTORE, 1, 3, false); /* 1 is taken */
  assert_int_equal(w->ev[0].type, MATCHER_EV_REFUSED);
  assert_int_equal(w->ev[0].code, -EBUSY);
  cmd(w, MATCHER_BLOCK, 3, 4, false);
  cmd(w, MATCHER_RESTORE, 3, 4, false); /* blocked */
  assert_int_equal(w->ev[0].code, -EBUSY);
  cmd(w, MATCHER_READY, 3, 0, true);
  cmd(w, MATCHER_NEXT, 1, 0, false);
  assert_true(find(w, MATCHER_EV_PARTNER_LEFT, 2) >= 0);
  /* 2 keeps its place, ahead of everyone (a restored pair's first entry): 3 is its partner. */
  assert_int_equal(match_partner(w->e, 2), 3);
  assert_int_equal(w->state[1], MATCH_WAITING);
  check_view(w);
  world_free(w);
}

static void test_malformed_commands(void **state) {
  (void)state;
  struct world *w = world_new();
  struct matcher_cmd c;
  memset(&c, 0, sizeof(c));
  c.type = (enum matcher_cmd_type)99;
  c.peer = 1;
  assert_int_equal(matcher_apply(w->e, &c, 1, emit, w), -EINVAL);
  c.type = MATCHER_ADD;
  c.peer = 0;
  assert_int_equal(matcher_apply(w->e, &c, 1, emit, w), -EINVAL);
  /* Strings from the wire with no terminator are cut, not overrun. */
  memset(&c, 'a', sizeof(c));
  c.type = MATCHER_START;
  c.peer = 1;
  c.ntags = 200;
  cmd(w, MATCHER_ADD, 1, 0, false);
  w->nev = 0;
  assert_int_equal(matcher_apply(w->e, &c, 1, emit, w), 0);
  const char *toolong[1] = {"0123456789012345678901234567890123"};
  assert_int_equal(matcher_cmd_start(&c, 1, toolong, 1, NULL), -EINVAL);
  assert_int_equal(matcher_cmd_start(&c, 1, NULL, 1, NULL), -EINVAL);
  world_free(w);
}

/* A visit that moved to another node goes on under its new id: its pair (the partner is told),
 * its place in line; an unknown old id gives a fresh new one; a taken new id is refused. */
static void test_move(void **state) {
  (void)state;
  struct world *w = world_new();
  ready_pair(w);
  cmd(w, MATCHER_MOVE, 1, 5, false);
  int i = find(w, MATCHER_EV_STATE, 5);
  assert_true(i >= 0);
  assert_int_equal(w->ev[i].state, MATCH_PAIRED);
  assert_int_equal(w->ev[i].partner, 2);
  assert_int_equal(w->ev[i].code, 0);
  i = find(w, MATCHER_EV_PARTNER_MOVED, 2);
  assert_true(i >= 0);
  assert_int_equal(w->ev[i].partner, 5);
  assert_int_equal(match_state_of(w->e, 1), MATCH_UNKNOWN);
  assert_int_equal(match_partner(w->e, 2), 5);
  w->state[1] = MATCH_IDLE;
  w->partner[1] = 0;
  check_view(w);
  /* Two wait (they blocked each other), the first moves: it is still first in line. */
  cmd(w, MATCHER_ADD, 3, 0, false);
  cmd(w, MATCHER_ADD, 4, 0, false);
  cmd(w, MATCHER_BLOCK, 3, 4, false);
  for (match_id id = 3; id <= 4; id++) {
    cmd(w, MATCHER_READY, id, 0, true);
    start(w, id, NULL);
    w->now += 10;
  }
  cmd(w, MATCHER_MOVE, 3, 7, false);
  assert_int_equal(w->state[7], MATCH_WAITING);
  w->state[3] = MATCH_IDLE;
  cmd(w, MATCHER_ADD, 6, 0, false);
  cmd(w, MATCHER_READY, 6, 0, true);
  start(w, 6, NULL);
  assert_int_equal(match_partner(w->e, 6), 7);
  check_view(w);
  /* The old id is unknown: the new one is added, and told so. */
  cmd(w, MATCHER_MOVE, 9, 10, false);
  i = find(w, MATCHER_EV_STATE, 10);
  assert_true(i >= 0);
  assert_int_equal(w->ev[i].code, -ENOENT);
  assert_int_equal(match_state_of(w->e, 10), MATCH_IDLE);
  /* The new id is taken: refused, nothing changes. */
  cmd(w, MATCHER_MOVE, 4, 10, false);
  i = find(w, MATCHER_EV_REFUSED, 4);
  assert_true(i >= 0);
  assert_int_equal(w->ev[i].code, -EEXIST);
  assert_int_equal(match_state_of(w->e, 4), MATCH_WAITING);
  check_view(w);
  world_free(w);
}

/* The property, over random commands and ticks. */
static void test_random_view_equals_engine(void **state) {
  (void)state;
  static const char *const vocab[3] = {"a", "b", "c"};
  for (unsigned seed = 1; seed <= 60; seed++) {
    srand(seed);
    struct world *w = world_new();
    for (int step = 0; step < 2000; step++) {
      match_id id = (match_id)(1 + rand() % NPEERS);
      match_id other = (match_id)(1 + rand() % NPEERS);
      w->now += (uint64_t)(rand() % 400);
      switch (rand() % 14) {
      case 13: {
        bool renames = match_state_of(w->e, id) != MATCH_UNKNOWN &&
                       match_state_of(w->e, other) == MATCH_UNKNOWN && other != id;
        cmd(w, MATCHER_MOVE, id, other, false);
        if (renames) {
          w->state[id] = MATCH_IDLE; /* now called other: the view forgets the old id */
          w->partner[id] = 0;
        }
        break;
      }
      case 12: cmd(w, MATCHER_RESTORE, id, other, false); break;
      case 0: cmd(w, MATCHER_ADD, id, 0, false); break;
      case 1:
        if (rand() % 4 == 0) {
          cmd(w, MATCHER_REMOVE, id, 0, false);
          w->state[id] = MATCH_IDLE; /* gone: the view forgets it */
          w->partner[id] = 0;
        }
        break;
      case 2: cmd(w, MATCHER_READY, id, 0, rand() % 3 != 0); break;
      case 3: cmd(w, MATCHER_AWAY, id, 0, rand() % 3 == 0); break;
      case 4:
      case 5: start(w, id, rand() % 2 ? vocab[rand() % 3] : NULL); break;
      case 6:
      case 7: cmd(w, MATCHER_NEXT, id, 0, false); break;
      case 8: cmd(w, MATCHER_STOP, id, 0, false); break;
      case 9: cmd(w, other == id ? MATCHER_NEXT : MATCHER_BLOCK, id, other, false); break;
      case 10: cmd(w, MATCHER_BAN, id, 0, rand() % 4 == 0); break;
      default:
        w->nev = 0;
        assert_true(matcher_tick(w->e, w->now, emit, w) >= 0);
        break;
      }
      check_view(w);
    }
    world_free(w);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pairing_needs_no_extra_events),
      cmocka_unit_test(test_not_ready_ends_the_pair_with_a_state_event),
      cmocka_unit_test(test_away_leaves_the_pool_with_a_state_event),
      cmocka_unit_test(test_refusals_are_events),
      cmocka_unit_test(test_cooldown),
      cmocka_unit_test(test_restore_pair),
      cmocka_unit_test(test_malformed_commands),
      cmocka_unit_test(test_move),
      cmocka_unit_test(test_random_view_equals_engine),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
