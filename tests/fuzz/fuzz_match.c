/* fuzz_match.c -- libFuzzer target: arbitrary command streams against the match engine. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "match/engine.h"

#define IDS 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct cursor {
  const uint8_t *p;
  size_t n;
};

static uint8_t take(struct cursor *c) {
  uint8_t b;
  if (c->n == 0)
    return 0;
  b = *c->p++;
  c->n--;
  return b;
}

/* Cuts up to 12 tags of arbitrary bytes (NUL-terminated copies) from the input. */
static size_t take_tags(struct cursor *c, char buf[12][48], const char **tags) {
  size_t n = take(c) % 13, i;
  for (i = 0; i < n; i++) {
    size_t len = take(c) % 47, j;
    for (j = 0; j < len; j++)
      buf[i][j] = (char)take(c);
    buf[i][len] = '\0';
    tags[i] = (take(c) & 7) == 0 ? NULL : buf[i];
  }
  return n;
}

static void check(struct match_engine *e) {
  size_t waiting = 0, paired = 0;
  match_id id;
  struct match_event ev;

  while (match_poll(e, &ev) == 1) {
    if (ev.n_shared > 10)
      abort();
  }
  for (id = 1; id <= IDS; id++) {
    enum match_state st = match_state_of(e, id);
    match_id q = match_partner(e, id);
    if ((st == MATCH_PAIRED) != (q != 0) || q == id)
      abort();
    if (q != 0 && match_partner(e, q) != id)
      abort();
    waiting += st == MATCH_WAITING;
    paired += st == MATCH_PAIRED;
  }
  if (waiting != match_waiting_count(e) || paired != match_paired_count(e))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct cursor c = {data, size};
  struct match_config cfg;
  struct match_engine *e;
  uint64_t now = 0;
  char buf[12][48], lang[8];
  const char *tags[12];

  match_config_default(&cfg);
  cfg.widen_after_ms = take(&c) * 20u;
  cfg.recent_k = take(&c) % 8;
  cfg.rematch_cooldown_ms = take(&c) * 100u;
  cfg.rematch_lonely_ms = take(&c) * 50u;
  cfg.next_limit = take(&c) % 5;
  cfg.next_window_ms = take(&c) * 100u;
  cfg.next_cooldown_ms = take(&c) * 50u;
  cfg.max_tags = take(&c) % 14;
  cfg.max_tag_len = take(&c) % 40;
  e = match_new(&cfg);
  if (e == NULL)
    return 0;
  while (c.n > 0) {
    uint8_t op = take(&c);
    match_id id = take(&c) % (IDS + 1); /* 0 is invalid on purpose */
    match_id other = take(&c) % (IDS + 1);
    size_t n;

    now += take(&c) * 37u;
    switch (op % 11) {
    case 0: (void)match_add(e, id, now); break;
    case 1: (void)match_remove(e, id, now); break;
    case 2: (void)match_set_ready(e, id, op & 0x80, now); break;
    case 3:
      n = take_tags(&c, buf, tags);
      memset(lang, 0, sizeof(lang));
      lang[0] = (char)take(&c);
      lang[1] = (char)take(&c);
      (void)match_start(e, id, tags, n, (op & 0x40) ? lang : NULL, now);
      break;
    case 4: (void)match_next(e, id, now); break;
    case 5: (void)match_stop(e, id, now); break;
    case 6: (void)match_block(e, id, other, now); break;
    case 7: (void)match_ban(e, id, op & 0x80, now); break;
    case 8: (void)match_tick(e, now); break;
    case 9: (void)match_set_away(e, id, op & 0x80, now); break;
    default: (void)match_cooldown_until(e, id, now); break;
    }
    check(e);
  }
  match_free(e);
  return 0;
}
