/* test_engine_pairs.c -- ending pairs: rematch, block, Next, cool-down, silence, ban. */
#include "match_fixture.h"

static void test_no_rematch_within_cooldown(void **state) {
  struct fx *f = *state;

  assert_int_equal(join(f, 1, "", 0), 0);
  assert_int_equal(join(f, 2, "", 0), 0);
  assert_pair(f, 1, 2);
  assert_int_equal(match_next(f->e, 1, 100), 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_WAITING);
  assert_int_equal(match_state_of(f->e, 2), MATCH_WAITING);
  /* Periodic ticks before loneliness never re-pair them. */
  assert_int_equal(match_tick(f->e, 5000), 0);
  assert_int_equal(match_tick(f->e, 10099), 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_WAITING);
  /* A newcomer is fine for both: the skipped one (2) is ahead in line. */
  assert_int_equal(join(f, 3, "", 10099), 0);
  assert_pair(f, 3, 2);
}

static void test_rematch_after_cooldown(void **state) {
  struct fx *f;
  struct match_config c;

  match_config_default(&c);
  c.rematch_lonely_ms = 4000000000u; /* loneliness never helps here */
  c.rematch_cooldown_ms = 60000;
  fx_setup_cfg(state, &c);
  f = *state;
  assert_int_equal(join(f, 1, "", 0), 0);
  assert_int_equal(join(f, 2, "", 0), 0);
  assert_int_equal(match_next(f->e, 2, 1000), 0);
  assert_int_equal(match_stop(f->e, 1, 60999), 0);
  assert_int_equal(start_csv(f, 1, "", NULL, 60999), 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_WAITING);
  assert_int_equal(match_stop(f->e, 1, 61000), 0);
  assert_int_equal(start_csv(f, 1, "", NULL, 61000), 0);
  assert_pair(f, 1, 2);
  teardown(state);
}

#define AT(node, serial) ((match_id)(node) << 42 | (serial))

/* Two wait (they blocked each other, so they do not pair): a at `ta` on node 1, b at `tb` on
 * node 2 with tags tb_tags; c from node 2 comes at tc. Returns c's partner. */
static match_id home_case(uint32_t shift, uint64_t ta, uint64_t tb, const char *tb_tags,
                          uint64_t tc) {
  void *state;
  struct match_config c;
  match_config_default(&c);
  c.home_shift = shift;
  c.home_window_ms = 300;
  fx_setup_cfg(&state, &c);
  struct fx *f = state;
  match_id a = AT(1, 1), b = AT(2, 1), n = AT(2, 2);
  assert_int_equal(match_add(f->e, a, 0), 0);
  assert_int_equal(match_add(f->e, b, 0), 0);
  assert_int_equal(match_block(f->e, a, b, 0), 0);
  assert_int_equal(match_set_ready(f->e, a, true, ta), 0);
  assert_int_equal(start_csv(f, a, "x", NULL, ta), 0);
  assert_int_equal(match_set_ready(f->e, b, true, tb), 0);
  assert_int_equal(start_csv(f, b, tb_tags, NULL, tb), 0);
  assert_int_equal(join(f, n, "x", tc), 0);
  match_id partner = match_partner(f->e, n);
  teardown(&state);
  return partner;
}

/* A cluster prefers a partner on the same node when one is as good: the same interests, and
 * waiting since at most home_window_ms after the longest-waiting one. */
static void test_home_preferred_when_as_good(void **state) {
  (void)state;
  assert_int_equal(home_case(42, 0, 100, "x", 200), AT(2, 1));     /* at home, 100 ms later */
  assert_int_equal(home_case(0, 0, 100, "x", 200), AT(1, 1));      /* off: the longest wait */
  assert_int_equal(home_case(42, 0, 400, "x", 500), AT(1, 1));     /* beyond the window */
  assert_int_equal(home_case(42, 0, 100, "y", 200), AT(1, 1));     /* other interests */
  assert_int_equal(home_case(42, 0, 100, "y,x", 200), AT(2, 1));   /* sharing x too */
  assert_int_equal(home_case(42, 0, 100, "", 200), AT(1, 1));      /* open, c has tags */
}

static void test_lonely_rematch(void **state) {
  struct fx *f = *state;

  assert_int_equal(join(f, 1, "", 0), 0);
  assert_int_equal(join(f, 2, "", 0), 0);
  assert_int_equal(match_next(f->e, 1, 1000), 0);
  drain(f);
  assert_int_equal(match_tick(f->e, 10999), 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_WAITING);
  assert_int_equal(match_tick(f->e, 11000), 2);
  assert_pair(f, 1, 2);
}

/* A new visit told whom its device met (match_remember) is not paired with them again
 * within the cool-down, until loneliness; with a newcomer it is. */
static void test_remember_across_visits(void **state) {
  struct fx *f;
  struct match_config c;

  match_config_default(&c);
  c.rematch_lonely_ms = 20000;
  fx_setup_cfg(state, &c);
  f = *state;
  assert_int_equal(match_add(f->e, 1, 0), 0);
  assert_int_equal(match_add(f->e, 2, 0), 0);
  assert_int_equal(match_remember(f->e, 1, 2, 60000, 0), 0);
  assert_int_equal(match_remember(f->e, 1, 1, 60000, 0), -EINVAL);
  assert_int_equal(match_remember(f->e, 1, 9, 60000, 0), -ENOENT);
  assert_int_equal(match_set_ready(f->e, 1, true, 0), 0);
  assert_int_equal(start_csv(f, 1, "", NULL, 0), 0);
  assert_int_equal(match_set_ready(f->e, 2, true, 0), 0);
  assert_int_equal(start_csv(f, 2, "", NULL, 0), 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_WAITING);
  assert_int_equal(match_state_of(f->e, 2), MATCH_WAITING);
  assert_int_equal(match_tick(f->e, 19999), 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_WAITING);
  assert_int_equal(join(f, 3, "", 19999), 0);
  assert_int_equal(match_state_of(f->e, 3), MATCH_PAIRED);
  teardown(state);
}

static void test_lonely_needs_both(void **state) {
  struct fx *f = *state;

  assert_int_equal(join(f, 1, "", 0), 0);
  assert_int_equal(join(f, 2, "", 0), 0);
  assert_int_equal(match_next(f->e, 1, 1000), 0);
  /* 2 leaves the pool and comes back later: 1 is lonely, 2 is not yet. */
  assert_int_equal(match_set_ready(f->e, 2, false, 5000), 0);
  assert_int_equal(match_set_ready(f->e, 2, true, 6000), 0);
  assert_int_equal(match_tick(f->e, 11000), 0);
  assert_int_equal(match_tick(f->e, 15999), 0);
  assert_int_equal(match_state_of(f->e, 2), MATCH_WAITING);
  assert_int_equal(match_tick(f->e, 16000), 2);
  assert_pair(f, 1, 2);
}

static void test_block_never_again(void **state) {
  struct fx *f = *state;
  uint64_t t;

  assert_int_equal(join(f, 1, "", 0), 0);
  assert_int_equal(join(f, 2, "", 0), 0);
  assert_int_equal(match_block(f->e, 1, 2, 100), 0);
  drain(f);
  /* Like Next for the blocker, and the blocked one is told its partner left. */
  assert_true(find_ev(f, MATCH_EV_PARTNER_LEFT, 2, 1) >= 0);
  assert_int_equal(find_ev(f, MATCH_EV_PARTNER_LEFT, 1, 0), -1);
  assert_int_equal(match_state_of(f->e, 1), MATCH_WAITING);
  assert_int_equal(match_state_of(f->e, 2), MATCH_WAITING);
  for (t = 1000; t < 2000000; t += 50000)
    assert_int_equal(match_tick(f->e, t), 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_WAITING);
  /* Stopping and starting again does not help either side. */
  assert_int_equal(match_stop(f->e, 2, t), 0);
  assert_int_equal(start_csv(f, 2, "", NULL, t), 0);
  assert_int_equal(match_state_of(f->e, 2), MATCH_WAITING);
  /* Blocking again is harmless; the blocked side cannot undo it. */
  assert_int_equal(match_block(f->e, 1, 2, t), 0);
  assert_int_equal(match_block(f->e, 2, 1, t), 0);
  assert_int_equal(join(f, 3, "", t), 0);
  assert_pair(f, 3, 1);
  /* A removed id that comes back is a new person. */
  assert_int_equal(match_stop(f->e, 3, t), 0);
  assert_int_equal(match_remove(f->e, 1, t), 0);
  assert_int_equal(join(f, 1, "", t), 0);
  assert_pair(f, 1, 2);
}

static void test_next_keeps_place(void **state) {
  struct fx *f = *state;

  assert_int_equal(join(f, 2, "b", 0), 0);  /* 2 waits first */
  assert_int_equal(join(f, 1, "b", 10), 0); /* 1 pairs with 2 */
  assert_pair(f, 1, 2);
  assert_int_equal(join(f, 5, "e", 20), 0); /* 5 waits after 2 began waiting */
  drain(f);
  assert_int_equal(match_next(f->e, 1, 30), 0);
  drain(f);
  assert_int_equal(f->nev, 3);
  assert_int_equal(f->ev[0].type, MATCH_EV_PARTNER_LEFT);
  assert_int_equal(f->ev[0].peer, 2);
  assert_int_equal(f->ev[0].partner, 1);
  assert_true(find_ev(f, MATCH_EV_WAITING, 2, 0) > 0);
  assert_true(find_ev(f, MATCH_EV_WAITING, 1, 0) > 0);
  /* 6 likes both b and e: 2 kept its place ahead of 5, and the Nexter 1
   * went to the back behind 5. */
  assert_int_equal(join(f, 6, "b,e", 40), 0);
  assert_pair(f, 6, 2);
  assert_int_equal(join(f, 7, "e,b", 50), 0);
  assert_pair(f, 7, 5);
  assert_int_equal(join(f, 8, "b", 60), 0);
  assert_pair(f, 8, 1);
}

static void test_next_rate_limit(void **state) {
  struct fx *f;
  struct match_config c;
  int i, k;

  match_config_default(&c);
  c.recent_k = 0; /* 1 and 2 re-pair at once, so every Next counts */
  c.next_limit = 3;
  c.next_window_ms = 60000;
  c.next_cooldown_ms = 10000;
  fx_setup_cfg(state, &c);
  f = *state;
  assert_int_equal(join(f, 1, "", 0), 0);
  assert_int_equal(join(f, 2, "", 0), 0);
  for (i = 0; i < 3; i++) {
    assert_int_equal(match_next(f->e, 1, 100 + i), 0);
    assert_pair(f, 1, 2);
  }
  drain(f);
  assert_int_equal(match_next(f->e, 1, 200), -EBUSY);
  drain(f);
  k = find_ev(f, MATCH_EV_COOLDOWN, 1, 0);
  assert_true(k >= 0);
  assert_int_equal(f->ev[k].until_ms, 10200);
  assert_true(find_ev(f, MATCH_EV_PARTNER_LEFT, 2, 1) >= 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_IDLE);
  assert_int_equal(match_state_of(f->e, 2), MATCH_WAITING);
  assert_int_equal(match_cooldown_until(f->e, 1, 300), 10200);
  assert_int_equal(start_csv(f, 1, "", NULL, 300), -EBUSY);
  assert_int_equal(match_next(f->e, 1, 300), -EBUSY);
  assert_int_equal(match_tick(f->e, 10199), 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_IDLE);
  drain(f);
  /* Back automatically when the cool-down ends. */
  assert_int_equal(match_tick(f->e, 10200), 2);
  assert_pair(f, 1, 2);
  assert_int_equal(match_cooldown_until(f->e, 1, 10200), 0);
  /* Still over the limit within the same window ... */
  assert_int_equal(match_next(f->e, 1, 20000), -EBUSY);
  assert_int_equal(match_tick(f->e, 30000), 2);
  /* ... and a fresh allowance once it closes. */
  for (i = 0; i < 3; i++)
    assert_int_equal(match_next(f->e, 1, 60100 + i), 0);
  /* The skipped side is never limited. */
  for (i = 0; i < 10; i++)
    assert_int_equal(match_next(f->e, 2, 60200 + i), i < 3 ? 0 : -EBUSY) ;
  teardown(state);
}

static void test_cooldown_stop_and_start(void **state) {
  struct fx *f;
  struct match_config c;

  match_config_default(&c);
  c.recent_k = 0;
  c.next_limit = 1;
  fx_setup_cfg(state, &c);
  f = *state;
  assert_int_equal(join(f, 1, "", 0), 0);
  assert_int_equal(join(f, 2, "", 0), 0);
  assert_int_equal(match_next(f->e, 1, 1), 0);
  assert_int_equal(match_next(f->e, 1, 2), -EBUSY);
  drain(f);
  /* Stopping during the cool-down: no automatic return. */
  assert_int_equal(match_stop(f->e, 1, 3), 0);
  drain(f);
  assert_true(find_ev(f, MATCH_EV_STOPPED, 1, 0) >= 0);
  assert_int_equal(match_tick(f->e, 20000), 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_IDLE);
  /* Starting after it ended works even before a tick noticed. */
  assert_int_equal(match_next(f->e, 2, 20001), 0); /* waiting: no-op */
  assert_int_equal(start_csv(f, 1, "", NULL, 20001), 0);
  assert_pair(f, 1, 2);
  teardown(state);
}

static void test_not_ready_while_paired(void **state) {
  struct fx *f = *state;

  assert_int_equal(join(f, 1, "", 0), 0);
  assert_int_equal(join(f, 2, "", 0), 0);
  drain(f);
  assert_int_equal(match_set_ready(f->e, 1, false, 10), 0);
  drain(f);
  assert_int_equal(f->nev, 2);
  assert_int_equal(f->ev[0].type, MATCH_EV_PARTNER_LEFT);
  assert_int_equal(f->ev[0].peer, 2);
  assert_int_equal(f->ev[1].type, MATCH_EV_WAITING);
  assert_int_equal(f->ev[1].peer, 2);
  assert_int_equal(match_state_of(f->e, 1), MATCH_IDLE);
  assert_int_equal(match_paired_count(f->e), 0);
  /* 2 keeps its place ahead of a later waiter. */
  assert_int_equal(match_add(f->e, 3, 20), 0);
  assert_int_equal(match_set_ready(f->e, 3, true, 20), 0);
  assert_int_equal(match_block(f->e, 3, 2, 20), 0);
  assert_int_equal(start_csv(f, 3, "", NULL, 20), 0);
  assert_int_equal(join(f, 4, "", 30), 0);
  assert_pair(f, 4, 2);
  /* The silent peer still wants a partner and comes back when ready. */
  assert_int_equal(match_set_ready(f->e, 1, true, 40), 0);
  assert_pair(f, 1, 3);
  /* Not ready while waiting leaves the pool quietly. */
  assert_int_equal(join(f, 5, "z", 50), 0);
  drain(f);
  assert_int_equal(match_set_ready(f->e, 5, false, 60), 0);
  assert_int_equal(match_set_ready(f->e, 5, false, 60), 0);
  assert_int_equal(drain(f), 0);
  assert_int_equal(match_state_of(f->e, 5), MATCH_IDLE);
  assert_int_equal(match_waiting_count(f->e), 0);
}

static void test_ban(void **state) {
  struct fx *f = *state;

  assert_int_equal(join(f, 1, "", 0), 0);
  assert_int_equal(match_ban(f->e, 1, true, 10), 0);
  drain(f);
  assert_true(find_ev(f, MATCH_EV_STOPPED, 1, 0) >= 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_IDLE);
  assert_int_equal(start_csv(f, 1, "", NULL, 20), -EPERM);
  assert_int_equal(join(f, 2, "", 30), 0);
  assert_int_equal(match_state_of(f->e, 2), MATCH_WAITING);
  /* Banning a paired peer frees the partner, who keeps its place. */
  assert_int_equal(join(f, 3, "", 40), 0);
  assert_pair(f, 3, 2);
  drain(f);
  assert_int_equal(match_ban(f->e, 2, true, 50), 0);
  drain(f);
  assert_true(find_ev(f, MATCH_EV_PARTNER_LEFT, 3, 2) >= 0);
  assert_true(find_ev(f, MATCH_EV_STOPPED, 2, 0) >= 0);
  assert_int_equal(match_state_of(f->e, 3), MATCH_WAITING);
  assert_int_equal(match_ban(f->e, 2, true, 50), 0);
  /* Unbanned, a peer must start again. */
  assert_int_equal(match_ban(f->e, 1, false, 60), 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_IDLE);
  assert_int_equal(start_csv(f, 1, "", NULL, 60), 0);
  assert_pair(f, 1, 3);
}

static void test_remove_while_paired(void **state) {
  struct fx *f = *state;

  assert_int_equal(join(f, 1, "a,b", 0), 0);
  assert_int_equal(join(f, 2, "b", 0), 0);
  assert_int_equal(match_block(f->e, 1, 7, 0), -ENOENT);
  assert_int_equal(match_add(f->e, 7, 0), 0);
  assert_int_equal(match_block(f->e, 1, 7, 0), 0);
  drain(f);
  assert_int_equal(match_remove(f->e, 1, 10), 0);
  drain(f);
  assert_int_equal(f->ev[0].type, MATCH_EV_PARTNER_LEFT);
  assert_int_equal(f->ev[0].peer, 2);
  assert_int_equal(f->ev[0].partner, 1);
  assert_int_equal(match_state_of(f->e, 1), MATCH_UNKNOWN);
  assert_int_equal(match_partner(f->e, 2), 0);
  assert_int_equal(match_state_of(f->e, 2), MATCH_WAITING);
  assert_int_equal(match_paired_count(f->e), 0);
  assert_int_equal(match_remove(f->e, 1, 10), -ENOENT);
  assert_int_equal(match_remove(f->e, 2, 10), 0);
  assert_int_equal(match_waiting_count(f->e), 0);
}

static void test_stop(void **state) {
  struct fx *f = *state;

  assert_int_equal(join(f, 1, "", 0), 0);
  assert_int_equal(join(f, 2, "", 0), 0);
  drain(f);
  assert_int_equal(match_stop(f->e, 1, 10), 0);
  drain(f);
  assert_true(find_ev(f, MATCH_EV_PARTNER_LEFT, 2, 1) >= 0);
  assert_true(find_ev(f, MATCH_EV_STOPPED, 1, 0) >= 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_IDLE);
  assert_int_equal(match_state_of(f->e, 2), MATCH_WAITING);
  assert_int_equal(match_stop(f->e, 1, 10), 0);
  assert_int_equal(drain(f), 0);
  assert_int_equal(match_next(f->e, 1, 10), -EINVAL);
  assert_int_equal(match_stop(f->e, 2, 10), 0);
  assert_int_equal(match_waiting_count(f->e), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_no_rematch_within_cooldown, setup, teardown),
    cmocka_unit_test(test_rematch_after_cooldown),
    cmocka_unit_test(test_home_preferred_when_as_good),
    cmocka_unit_test_setup_teardown(test_lonely_rematch, setup, teardown),
    cmocka_unit_test(test_remember_across_visits),
    cmocka_unit_test_setup_teardown(test_lonely_needs_both, setup, teardown),
    cmocka_unit_test_setup_teardown(test_block_never_again, setup, teardown),
    cmocka_unit_test_setup_teardown(test_next_keeps_place, setup, teardown),
    cmocka_unit_test(test_next_rate_limit),
    cmocka_unit_test(test_cooldown_stop_and_start),
    cmocka_unit_test_setup_teardown(test_not_ready_while_paired, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ban, setup, teardown),
    cmocka_unit_test_setup_teardown(test_remove_while_paired, setup, teardown),
    cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
  };
  return cmocka_run_group_tests_name("match_engine_pairs", tests, NULL, NULL);
}
