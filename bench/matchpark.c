/* matchpark.c -- for tandem-bench-match only: waiting peers parked without pairing. */
#include "bench/matchpark.h"

#include <errno.h>
#include <stdbool.h>

#include "match/pool.h"

static struct match__peer *park_peer(const struct match_engine *e, match_id id) {
  uint64_t *v = match__htab_find(&e->peers, id, 0);

  return v != NULL ? (struct match__peer *)(uintptr_t)*v : NULL;
}

int matchpark_add(struct match_engine *e, match_id id, const char *const *tags, size_t ntags,
                  const char *lang, uint64_t now_ms) {
  struct match__peer *p;
  int rc;

  /* A peer that is not ready yet only remembers its start: the engine checks
   * and interns the tags but looks for nobody. */
  rc = match_add(e, id, now_ms);
  if (rc < 0)
    return rc;
  rc = match_start(e, id, tags, ntags, lang, now_ms);
  if (rc < 0) {
    (void)match_remove(e, id, now_ms);
    return rc;
  }
  /* Then it becomes ready and waits the way match__pool_enter makes a peer
   * wait when nobody fits, minus the search and the WAITING event. */
  p = park_peer(e, id);
  p->ready = 1;
  p->seq = ++e->next_seq;
  p->wait_start = e->now;
  p->open = p->nmemb == 0 || e->cfg.widen_after_ms == 0;
  match__pool_link(e, p);
  return 0;
}

int matchpark_remove_pair(struct match_engine *e, match_id id, uint64_t now_ms) {
  struct match__peer *p = park_peer(e, id), *q;

  if (p == NULL)
    return -ENOENT;
  q = p->partner;
  if (q != NULL) {
    /* Unpaired by hand, so match_remove ends no pair and re-queues nobody. */
    p->partner = q->partner = NULL;
    e->npaired -= 2;
    (void)match_remove(e, q->id, now_ms);
  }
  return match_remove(e, id, now_ms);
}
