/* match_fixture.h -- shared set-up and helpers for the match engine tests. */
#ifndef TANDEM_TESTS_MATCH_FIXTURE_H
#define TANDEM_TESTS_MATCH_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "match/engine.h"

#define MAX_EV 256

struct fx {
  struct match_engine *e;
  struct match_event ev[MAX_EV];
  size_t nev;
};

static inline int fx_setup_cfg(void **state, const struct match_config *c) {
  struct fx *f = test_calloc(1, sizeof(*f));
  f->e = match_new(c);
  assert_non_null(f->e);
  *state = f;
  return 0;
}

static inline int setup(void **state) {
  return fx_setup_cfg(state, NULL);
}

static inline int teardown(void **state) {
  struct fx *f = *state;
  match_free(f->e);
  test_free(f);
  return 0;
}

/* Drains every queued event into f->ev. */
static inline size_t drain(struct fx *f) {
  f->nev = 0;
  while (f->nev < MAX_EV && match_poll(f->e, &f->ev[f->nev]) == 1)
    f->nev++;
  assert_true(f->nev < MAX_EV);
  return f->nev;
}

/* Index of the first drained event matching, or -1. partner 0 = any. */
static inline int find_ev(const struct fx *f, enum match_ev_type type, match_id peer,
                          match_id partner) {
  size_t i;
  for (i = 0; i < f->nev; i++) {
    if (f->ev[i].type == type && f->ev[i].peer == peer &&
        (partner == 0 || f->ev[i].partner == partner))
      return (int)i;
  }
  return -1;
}

/* Splits a comma-separated list (empty = no tags) and starts id. */
static inline int start_csv(struct fx *f, match_id id, const char *csv, const char *lang,
                            uint64_t now) {
  char buf[512];
  const char *tags[16];
  size_t n = 0;
  char *s, *save = NULL;

  if (csv == NULL || *csv == '\0')
    return match_start(f->e, id, NULL, 0, lang, now);
  assert_true(strlen(csv) < sizeof(buf));
  strcpy(buf, csv);
  for (s = strtok_r(buf, ",", &save); s != NULL && n < 16; s = strtok_r(NULL, ",", &save))
    tags[n++] = s;
  return match_start(f->e, id, tags, n, lang, now);
}

/* Adds a ready peer and starts it. */
static inline int join(struct fx *f, match_id id, const char *csv, uint64_t now) {
  assert_int_equal(match_add(f->e, id, now), 0);
  assert_int_equal(match_set_ready(f->e, id, true, now), 0);
  return start_csv(f, id, csv, NULL, now);
}

static inline void assert_pair(struct fx *f, match_id a, match_id b) {
  assert_int_equal(match_state_of(f->e, a), MATCH_PAIRED);
  assert_int_equal(match_state_of(f->e, b), MATCH_PAIRED);
  assert_int_equal(match_partner(f->e, a), b);
  assert_int_equal(match_partner(f->e, b), a);
}

#endif
