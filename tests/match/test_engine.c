/* test_engine.c -- matchmaking rules: entering, pairing, interests, arguments. */
#include "match_fixture.h"

static void test_ready_gate(void **state) {
  struct fx *f = *state;

  assert_int_equal(match_add(f->e, 1, 0), 0);
  assert_int_equal(start_csv(f, 1, "", NULL, 0), 0);
  /* Remembered but not in the pool: nobody is matched with a black screen. */
  assert_int_equal(match_state_of(f->e, 1), MATCH_IDLE);
  assert_int_equal(match_waiting_count(f->e), 0);
  assert_int_equal(drain(f), 0);
  assert_int_equal(join(f, 2, "", 10), 0);
  assert_int_equal(match_state_of(f->e, 2), MATCH_WAITING);
  drain(f);
  assert_true(find_ev(f, MATCH_EV_WAITING, 2, 0) >= 0);
  /* Starting again while not ready just replaces the tags. */
  assert_int_equal(start_csv(f, 1, "x", NULL, 15), 0);
  assert_int_equal(start_csv(f, 1, "", NULL, 15), 0);
  assert_int_equal(match_set_ready(f->e, 1, true, 20), 0);
  assert_pair(f, 1, 2);
  /* A ready peer that never started stays idle. */
  assert_int_equal(match_add(f->e, 3, 30), 0);
  assert_int_equal(match_set_ready(f->e, 3, true, 30), 0);
  assert_int_equal(match_state_of(f->e, 3), MATCH_IDLE);
}

/* A peer whose connection dropped is nobody's new partner until it is back; a pair it is in
 * goes on, and when that pair ends it waits outside the pool. */
static void test_away(void **state) {
  struct fx *f = *state;

  assert_int_equal(join(f, 1, "", 0), 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_WAITING);
  assert_int_equal(match_set_away(f->e, 1, true, 5), 0);
  assert_int_equal(match_set_away(f->e, 1, true, 5), 0); /* again: nothing */
  assert_int_equal(match_state_of(f->e, 1), MATCH_IDLE);
  assert_int_equal(match_waiting_count(f->e), 0);
  assert_int_equal(join(f, 2, "", 10), 0);
  assert_int_equal(match_state_of(f->e, 2), MATCH_WAITING);
  drain(f);
  /* Back: it pairs at once with the one who waits. */
  assert_int_equal(match_set_away(f->e, 1, false, 20), 0);
  assert_pair(f, 1, 2);
  drain(f);
  /* Away while paired: the pair goes on ... */
  assert_int_equal(match_set_away(f->e, 2, true, 30), 0);
  assert_pair(f, 1, 2);
  /* ... and when it ends, 2 is told but stays out of the pool; 3 meets 1, not 2. */
  assert_int_equal(match_next(f->e, 1, 40), 0);
  drain(f);
  assert_true(find_ev(f, MATCH_EV_PARTNER_LEFT, 2, 1) >= 0);
  assert_int_equal(match_state_of(f->e, 2), MATCH_IDLE);
  assert_int_equal(join(f, 3, "", 50), 0);
  assert_pair(f, 1, 3);
  /* Back again: it waits, keeping what it wanted. */
  drain(f);
  assert_int_equal(match_set_away(f->e, 2, false, 60), 0);
  drain(f);
  assert_int_equal(match_state_of(f->e, 2), MATCH_WAITING);
  assert_true(find_ev(f, MATCH_EV_WAITING, 2, 0) >= 0);
  assert_int_equal(match_set_away(f->e, 99, true, 70), -ENOENT);
}

/* Back from away, a peer keeps the place it held when it went (or when its partner left it),
 * and only that: one that never had a place, or gave it up meanwhile (Stop, silence, its own
 * Next), goes to the back. Found by the cluster's longest-wait-first oracle: such a peer came
 * back at place 0, ahead of everyone. */
static void test_away_keeps_only_a_place_it_had(void **state) {
  struct fx *f = *state;

  /* 1 waits; 3 starts while away, so it never had a place, and blocks 1. */
  assert_int_equal(join(f, 1, "", 0), 0);
  assert_int_equal(match_add(f->e, 3, 5), 0);
  assert_int_equal(start_csv(f, 3, "", NULL, 5), 0);
  assert_int_equal(match_set_away(f->e, 3, true, 5), 0);
  assert_int_equal(match_set_ready(f->e, 3, true, 5), 0);
  assert_int_equal(match_block(f->e, 3, 1, 5), 0);
  assert_int_equal(match_set_away(f->e, 3, false, 10), 0);
  assert_int_equal(match_state_of(f->e, 3), MATCH_WAITING);
  /* Behind 1, who has waited longer. */
  assert_int_equal(join(f, 4, "", 20), 0);
  assert_pair(f, 4, 1);
  assert_int_equal(match_stop(f->e, 4, 20), 0);
  assert_int_equal(match_stop(f->e, 1, 20), 0);
  drain(f);

  /* 5 waits before 6 (they block each other); 5 goes away, stops and starts again while away:
   * back, it is behind 6. */
  assert_int_equal(join(f, 5, "q", 30), 0);
  assert_int_equal(join(f, 6, "q", 31), 0);
  assert_int_equal(match_state_of(f->e, 6), MATCH_PAIRED); /* with 5: end it, block */
  assert_int_equal(match_block(f->e, 6, 5, 31), 0);
  assert_int_equal(match_set_away(f->e, 5, true, 32), 0);
  assert_int_equal(match_stop(f->e, 5, 33), 0);
  assert_int_equal(start_csv(f, 5, "q", NULL, 34), 0);
  assert_int_equal(match_set_away(f->e, 5, false, 35), 0);
  assert_int_equal(match_state_of(f->e, 5), MATCH_WAITING);
  assert_int_equal(join(f, 7, "q", 40), 0);
  assert_pair(f, 7, 6);
  assert_int_equal(match_stop(f->e, 7, 41), 0);
  assert_int_equal(match_stop(f->e, 6, 41), 0);

  /* 8 waits before 5 now, so being away keeps 5's place: behind 8 still. Silent while away,
   * it too goes to the back. */
  assert_int_equal(join(f, 8, "q", 50), 0);
  assert_pair(f, 8, 5);
  assert_int_equal(match_stop(f->e, 8, 51), 0);
  assert_int_equal(match_state_of(f->e, 5), MATCH_WAITING); /* left behind, place kept */
  assert_int_equal(join(f, 9, "q", 52), 0);
  assert_pair(f, 9, 5);
  assert_int_equal(match_block(f->e, 9, 5, 53), 0); /* 5 keeps its place; 9 waits behind */
  assert_int_equal(match_set_away(f->e, 5, true, 54), 0);
  assert_int_equal(match_set_ready(f->e, 5, false, 55), 0);
  assert_int_equal(match_set_ready(f->e, 5, true, 56), 0);
  assert_int_equal(match_set_away(f->e, 5, false, 57), 0);
  assert_int_equal(join(f, 10, "q", 60), 0);
  assert_pair(f, 10, 9);
}

static void test_immediate_pairing(void **state) {
  struct fx *f = *state;

  assert_int_equal(join(f, 1, "", 0), 0);
  drain(f);
  assert_int_equal(f->nev, 1);
  assert_int_equal(f->ev[0].type, MATCH_EV_WAITING);
  assert_int_equal(join(f, 2, "", 1), 0);
  drain(f);
  /* PAIRED once for each side, and no WAITING for the one who never waited. */
  assert_int_equal(f->nev, 2);
  assert_true(find_ev(f, MATCH_EV_PAIRED, 1, 2) >= 0);
  assert_true(find_ev(f, MATCH_EV_PAIRED, 2, 1) >= 0);
  assert_pair(f, 1, 2);
  assert_int_equal(match_waiting_count(f->e), 0);
  assert_int_equal(match_paired_count(f->e), 2);
}

static void test_fifo_fairness(void **state) {
  struct fx *f = *state;

  /* Three waiters with nothing in common, oldest first. */
  assert_int_equal(join(f, 1, "a", 0), 0);
  assert_int_equal(join(f, 2, "b", 1), 0);
  assert_int_equal(join(f, 3, "c", 2), 0);
  assert_int_equal(match_waiting_count(f->e), 3);
  assert_int_equal(join(f, 4, "c,b,a", 3), 0);
  assert_pair(f, 4, 1);
  assert_int_equal(join(f, 5, "c,b", 4), 0);
  assert_pair(f, 5, 2);
  assert_int_equal(join(f, 6, "c", 5), 0);
  assert_pair(f, 6, 3);

  /* The same among peers who accept anyone: 10 and 11 blocked each other. */
  assert_int_equal(match_add(f->e, 10, 10), 0);
  assert_int_equal(match_add(f->e, 11, 10), 0);
  assert_int_equal(match_block(f->e, 10, 11, 10), 0);
  assert_int_equal(match_set_ready(f->e, 10, true, 10), 0);
  assert_int_equal(match_set_ready(f->e, 11, true, 10), 0);
  assert_int_equal(start_csv(f, 10, "", NULL, 10), 0);
  assert_int_equal(start_csv(f, 11, "", NULL, 11), 0);
  assert_int_equal(match_waiting_count(f->e), 2);
  assert_int_equal(join(f, 12, "", 12), 0);
  assert_pair(f, 12, 10);
  assert_int_equal(join(f, 13, "", 13), 0);
  assert_pair(f, 13, 11);
}

static void test_tags_then_widening(void **state) {
  struct fx *f = *state;

  assert_int_equal(join(f, 1, "music", 0), 0);
  assert_int_equal(join(f, 2, "sports", 1000), 0);
  assert_int_equal(match_waiting_count(f->e), 2);
  /* A common tag wins at once. */
  assert_int_equal(join(f, 3, "sports,chess", 2000), 0);
  assert_pair(f, 3, 2);
  assert_int_equal(join(f, 4, "films", 3000), 0);
  /* 1 widens at exactly 5000 ms, 4 at exactly 8000 ms. */
  assert_int_equal(match_tick(f->e, 4999), 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_WAITING);
  assert_int_equal(match_tick(f->e, 5000), 0);
  assert_int_equal(match_state_of(f->e, 1), MATCH_WAITING);
  assert_int_equal(match_tick(f->e, 7999), 0);
  assert_int_equal(match_state_of(f->e, 4), MATCH_WAITING);
  drain(f);
  assert_int_equal(match_tick(f->e, 8000), 2);
  assert_pair(f, 4, 1);
  drain(f);
  assert_int_equal(f->ev[0].n_shared, 0);
}

static void test_widened_accepts_untagged(void **state) {
  struct fx *f = *state;

  assert_int_equal(join(f, 1, "music", 0), 0);
  /* An untagged newcomer accepts anyone, but 1 still prefers music. */
  assert_int_equal(join(f, 2, "", 100), 0);
  assert_int_equal(match_waiting_count(f->e), 2);
  assert_int_equal(match_tick(f->e, 5000), 2);
  assert_pair(f, 1, 2);
  assert_int_equal(join(f, 3, "music", 6000), 0);
  assert_int_equal(match_tick(f->e, 11000), 0);
  assert_int_equal(join(f, 4, "", 11000), 0);
  assert_pair(f, 4, 3);
}

static void test_shared_tags(void **state) {
  struct fx *f = *state;
  int i, j;

  assert_int_equal(join(f, 1, "Music, Art ,music,,  ,x", 0), 0);
  assert_int_equal(join(f, 2, "ART,music,y", 1), 0);
  drain(f);
  i = find_ev(f, MATCH_EV_PAIRED, 1, 2);
  j = find_ev(f, MATCH_EV_PAIRED, 2, 1);
  assert_true(i >= 0 && j >= 0);
  assert_int_equal(f->ev[i].n_shared, 2);
  assert_string_equal(f->ev[i].shared_tags[0], "music");
  assert_string_equal(f->ev[i].shared_tags[1], "art");
  assert_int_equal(f->ev[j].n_shared, 2);
  assert_string_equal(f->ev[j].shared_tags[0], "art");
  assert_string_equal(f->ev[j].shared_tags[1], "music");
}

static void test_language_preference(void **state) {
  struct fx *f = *state;
  int i;

  assert_int_equal(match_add(f->e, 1, 0), 0);
  assert_int_equal(match_set_ready(f->e, 1, true, 0), 0);
  assert_int_equal(start_csv(f, 1, "en", "EN", 0), 0);
  assert_int_equal(match_add(f->e, 2, 0), 0);
  assert_int_equal(match_set_ready(f->e, 2, true, 0), 0);
  assert_int_equal(start_csv(f, 2, "", "fr", 1), 0);
  /* The user tag "en" is not the language "en", and the languages differ. */
  assert_int_equal(match_waiting_count(f->e), 2);
  assert_int_equal(match_add(f->e, 3, 0), 0);
  assert_int_equal(match_set_ready(f->e, 3, true, 0), 0);
  assert_int_equal(start_csv(f, 3, "", " en ", 2), 0);
  assert_pair(f, 3, 1);
  drain(f);
  i = find_ev(f, MATCH_EV_PAIRED, 3, 1);
  assert_true(i >= 0);
  assert_int_equal(f->ev[i].n_shared, 0); /* the language is not a listed tag */
  /* After widening, language is no barrier. */
  assert_int_equal(join(f, 4, "", 10), 0);
  assert_int_equal(match_state_of(f->e, 4), MATCH_WAITING);
  assert_int_equal(match_tick(f->e, 5001), 2);
  assert_pair(f, 2, 4);
}

static void test_retag_while_waiting(void **state) {
  struct fx *f = *state;

  assert_int_equal(join(f, 1, "a", 0), 0);
  assert_int_equal(join(f, 2, "b", 1), 0);
  assert_int_equal(join(f, 3, "c", 2), 0);
  /* New tags keep the place in line and pair at once if they fit. */
  assert_int_equal(start_csv(f, 1, "z", NULL, 3), -EALREADY);
  assert_int_equal(match_state_of(f->e, 1), MATCH_WAITING);
  assert_int_equal(start_csv(f, 3, "q,b", NULL, 4), -EALREADY);
  assert_pair(f, 3, 2);
  assert_int_equal(start_csv(f, 3, "", NULL, 5), -EALREADY);
  assert_int_equal(join(f, 4, "z,a", 6), 0);
  assert_pair(f, 4, 1);
  /* Dropping every tag means accepting anyone. */
  assert_int_equal(join(f, 5, "m", 7), 0);
  assert_int_equal(join(f, 6, "", 8), 0);
  assert_int_equal(start_csv(f, 5, "", NULL, 9), -EALREADY);
  assert_pair(f, 5, 6);
}

static void test_invalid_args(void **state) {
  struct fx *f = *state;
  struct match_event ev;
  const char *eleven[11] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"};
  const char *ten_dups[12] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "A", " j "};
  const char *nulls[3] = {NULL, "", "x"};
  char long_tag[40];
  const char *one[1] = {long_tag};

  assert_int_equal(match_add(NULL, 1, 0), -EINVAL);
  assert_int_equal(match_add(f->e, 0, 0), -EINVAL);
  assert_int_equal(match_add(f->e, 1, 0), 0);
  assert_int_equal(match_add(f->e, 1, 0), -EEXIST);
  assert_int_equal(match_remove(f->e, 9, 0), -ENOENT);
  assert_int_equal(match_set_ready(f->e, 9, true, 0), -ENOENT);
  assert_int_equal(match_start(f->e, 9, NULL, 0, NULL, 0), -ENOENT);
  assert_int_equal(match_next(f->e, 9, 0), -ENOENT);
  assert_int_equal(match_stop(f->e, 9, 0), -ENOENT);
  assert_int_equal(match_ban(f->e, 9, true, 0), -ENOENT);
  assert_int_equal(match_block(f->e, 9, 1, 0), -ENOENT);
  assert_int_equal(match_block(f->e, 1, 1, 0), -EINVAL);
  assert_int_equal(match_block(f->e, 1, 0, 0), -EINVAL);
  assert_int_equal(match_start(NULL, 1, NULL, 0, NULL, 0), -EINVAL);
  assert_int_equal(match_start(f->e, 1, NULL, 1, NULL, 0), -EINVAL);
  assert_int_equal(match_start(f->e, 1, eleven, 11, NULL, 0), -EINVAL);
  assert_int_equal(match_start(f->e, 1, ten_dups, 12, NULL, 0), 0);
  assert_int_equal(match_stop(f->e, 1, 0), 0);
  assert_int_equal(match_start(f->e, 1, nulls, 3, "", 0), 0);
  assert_int_equal(match_stop(f->e, 1, 0), 0);
  memset(long_tag, 'x', 33);
  long_tag[33] = '\0';
  assert_int_equal(match_start(f->e, 1, one, 1, NULL, 0), -EINVAL);
  assert_int_equal(match_start(f->e, 1, NULL, 0, long_tag, 0), -EINVAL);
  long_tag[32] = '\0';
  assert_int_equal(match_start(f->e, 1, one, 1, long_tag, 0), 0);
  assert_int_equal(match_stop(f->e, 1, 0), 0);
  strcpy(long_tag, "bad\ttag");
  assert_int_equal(match_start(f->e, 1, one, 1, NULL, 0), -EINVAL);
  assert_int_equal(match_state_of(f->e, 1), MATCH_IDLE);
  assert_int_equal(match_tick(NULL, 0), -EINVAL);
  assert_int_equal(match_poll(NULL, &ev), -EINVAL);
  assert_int_equal(match_poll(f->e, NULL), -EINVAL);
  assert_int_equal(match_state_of(NULL, 1), MATCH_UNKNOWN);
  assert_int_equal(match_state_of(f->e, 0), MATCH_UNKNOWN);
  assert_int_equal(match_partner(NULL, 1), 0);
  assert_int_equal(match_waiting_count(NULL), 0);
  assert_int_equal(match_paired_count(NULL), 0);
  match_free(NULL);
  /* Start twice while paired. */
  assert_int_equal(match_set_ready(f->e, 1, true, 0), 0);
  assert_int_equal(match_start(f->e, 1, NULL, 0, NULL, 0), 0);
  assert_int_equal(match_start(f->e, 1, NULL, 0, NULL, 0), -EALREADY);
  assert_int_equal(join(f, 2, "", 0), 0);
  assert_int_equal(match_start(f->e, 2, NULL, 0, NULL, 0), -EALREADY);
  assert_pair(f, 1, 2);
}

static void test_config_limits(void **state) {
  struct fx *f;
  struct match_config c;
  const char *three[3] = {"abcd", "b", "c"};

  match_config_default(&c);
  c.max_tags = 2;
  c.max_tag_len = 3;
  c.recent_k = 1000; /* clamped */
  fx_setup_cfg(state, &c);
  f = *state;
  assert_int_equal(match_add(f->e, 1, 0), 0);
  assert_int_equal(match_start(f->e, 1, three, 3, NULL, 0), -EINVAL);
  assert_int_equal(match_start(f->e, 1, three + 1, 2, NULL, 0), 0);
  assert_int_equal(match_start(f->e, 1, three + 2, 1, NULL, 0), 0); /* not ready: replaces */
  teardown(state);
}

static void test_time_going_back(void **state) {
  struct fx *f = *state;

  assert_int_equal(join(f, 1, "a", 10000), 0);
  /* An older now_ms counts as the newest seen, so nothing widens early or late. */
  assert_int_equal(match_tick(f->e, 0), 0);
  assert_int_equal(match_tick(f->e, 14999), 0);
  assert_int_equal(join(f, 2, "", 1), 0);
  assert_int_equal(match_state_of(f->e, 2), MATCH_WAITING);
  assert_int_equal(match_tick(f->e, 15000), 2);
  assert_pair(f, 1, 2);
}

static void test_bounded_skipping(void **state) {
  struct fx *f = *state;
  match_id a, b, p;

  /* 40 waiters who all blocked each other, and a newcomer blocked by the
   * first 35: its scan gives up after 32 excluded candidates ... */
  for (a = 1; a <= 40; a++) {
    assert_int_equal(match_add(f->e, a, 0), 0);
    assert_int_equal(match_set_ready(f->e, a, true, 0), 0);
    for (b = 1; b < a; b++)
      assert_int_equal(match_block(f->e, a, b, 0), 0);
  }
  for (a = 1; a <= 40; a++)
    assert_int_equal(start_csv(f, a, "", NULL, 0), 0);
  assert_int_equal(match_waiting_count(f->e), 40);
  assert_int_equal(match_add(f->e, 100, 0), 0);
  for (a = 1; a <= 35; a++)
    assert_int_equal(match_block(f->e, a, 100, 0), 0);
  assert_int_equal(match_set_ready(f->e, 100, true, 0), 0);
  assert_int_equal(start_csv(f, 100, "", NULL, 0), 0);
  assert_int_equal(match_state_of(f->e, 100), MATCH_WAITING);
  /* ... but periodic re-scans resume where the last one stopped. */
  assert_int_equal(match_tick(f->e, 10000), 0);
  assert_int_equal(match_tick(f->e, 20000), 2);
  p = match_partner(f->e, 100);
  assert_true(p >= 36 && p <= 40);
}

static void test_free_with_everything_live(void **state) {
  struct fx *f = *state;
  match_id id;

  for (id = 1; id <= 50; id++) {
    assert_int_equal(join(f, id, id % 3 ? "a,b" : "c", id), 0);
    if (id > 1)
      assert_int_equal(match_block(f->e, id, id - 1, id), 0);
  }
  /* teardown frees an engine with pairs, waiters, blocks and queued events. */
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_ready_gate, setup, teardown),
    cmocka_unit_test_setup_teardown(test_away, setup, teardown),
    cmocka_unit_test_setup_teardown(test_away_keeps_only_a_place_it_had, setup, teardown),
    cmocka_unit_test_setup_teardown(test_immediate_pairing, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fifo_fairness, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tags_then_widening, setup, teardown),
    cmocka_unit_test_setup_teardown(test_widened_accepts_untagged, setup, teardown),
    cmocka_unit_test_setup_teardown(test_shared_tags, setup, teardown),
    cmocka_unit_test_setup_teardown(test_language_preference, setup, teardown),
    cmocka_unit_test_setup_teardown(test_retag_while_waiting, setup, teardown),
    cmocka_unit_test_setup_teardown(test_invalid_args, setup, teardown),
    cmocka_unit_test(test_config_limits),
    cmocka_unit_test_setup_teardown(test_time_going_back, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bounded_skipping, setup, teardown),
    cmocka_unit_test_setup_teardown(test_free_with_everything_live, setup, teardown),
  };
  return cmocka_run_group_tests_name("match_engine", tests, NULL, NULL);
}
