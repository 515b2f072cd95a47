/* pool.h -- the engine's internals: peers, the waiting pool index and history. */
#ifndef TANDEM_MATCH_POOL_H
#define TANDEM_MATCH_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "match/engine.h"
#include "match/htab.h"
#include "match/rbtree.h"
#include "match/tags.h"

#define MATCH__CONTAINER_OF(ptr, type, field)                                            \
  ((type *)(void *)((char *)(ptr)-offsetof(type, field)))

#define MATCH__SCAN_MAX 32     /* candidates examined per index list per decision */
#define MATCH__RECENT_MAX 64   /* cap on recent_k */
#define MATCH__BLOCKS_MAX 256  /* blocks remembered per peer (most recent) */
#define MATCH__TICK_WORK 4096  /* timer entries handled per match_tick */
#define MATCH__TICK_RETRY 1024 /* of which periodic re-scans */
#define MATCH__EV_PER_CALL 16  /* event slots reserved before any API call acts */
#define MATCH__EV_MAX (1u << 20) /* undrained events before calls fail with -ENOSPC */

/* Intrusive doubly-linked list; a list head is a sentinel link. An unlinked
 * element has next == NULL. */
struct match__link {
  struct match__link *prev;
  struct match__link *next;
};

static inline void match__list_init(struct match__link *head) {
  head->prev = head->next = head;
}

static inline int match__list_linked(const struct match__link *l) {
  return l->next != NULL;
}

static inline void match__list_append(struct match__link *head, struct match__link *l) {
  l->prev = head->prev;
  l->next = head;
  head->prev->next = l;
  head->prev = l;
}

static inline void match__list_unlink(struct match__link *l) {
  if (l->next == NULL)
    return;
  l->prev->next = l->next;
  l->next->prev = l->prev;
  l->next = l->prev = NULL;
}

struct match__peer;

/* A peer's membership in one tag's waiting tree. */
struct match__memb {
  struct match__rbnode node; /* key = the peer's place in line (seq) */
  struct match__peer *peer;
  struct match__tag *tag; /* one reference owned */
};

struct match__recent {
  uint64_t serial;   /* the partner's serial */
  uint64_t until_ms; /* pair end + rematch_cooldown_ms */
};

/* One peer. Owned by the engine from match_add to match_remove. Peers refer
 * to each other by pointer only through partner, which both sides clear at
 * once; history refers to serials (unique for the engine's life, unlike ids
 * a server might reuse), so nothing dangles after a remove. */
struct match__peer {
  /* Hot: the first two cache lines are all a pairing decision reads of a
   * candidate (the allocation is 64-byte aligned). */
  match_id id;
  uint64_t serial;
  struct match__peer *partner;
  uint64_t seq;        /* place in line: lower waits longer; 0: none (never in line, or
                          given up: Stop, ban, silence, ending its own pair) */
  uint64_t wait_start; /* when the current wait began (widening, loneliness) */
  struct match__memb *memb;
  uint32_t nblk;    /* serials this peer blocked, in blk */
  uint32_t nrecent; /* recent partners, in recent[] */
  uint8_t ready, want, banned, in_pool, open, cooling, away;
  uint8_t ntags;                 /* user tags: memb[0 .. ntags) */
  uint8_t nmemb;                 /* plus the language, if any, at memb[ntags] */
  struct match__link widen_link; /* in engine->widen while waiting, not open */
  struct match__link retry_link; /* in engine->retry while waiting */
  /* Cold. */
  uint64_t *blk; /* oldest first */
  uint64_t retry_due;
  uint64_t scan_from; /* re-scans resume after this place (0: from the head) */
  uint64_t cool_until;
  uint64_t next_win_start;
  struct match__rbnode open_node; /* in engine->open while waiting and open */
  struct match__link cool_link;   /* in engine->cool while cooling */
  uint32_t next_count;
  uint32_t blk_cap;
  struct match__recent recent[]; /* recent_k entries, oldest first */
};

struct match_engine {
  struct match_config cfg;
  uint64_t now; /* the newest now_ms seen */
  uint64_t next_seq;
  uint64_t next_serial;
  struct match__htab peers;  /* id -> struct match__peer * */
  struct match__htab blocks; /* (lower serial, higher serial) -> rings holding it */
  struct match__tagtab tags;
  struct match__rbtree open; /* waiting peers that accept anyone, by seq */
  struct match__link widen;  /* ordered by wait_start */
  struct match__link retry;  /* ordered by retry_due */
  struct match__link cool;   /* ordered by cool_until */
  size_t nwaiting;
  size_t npaired;
  struct match_event *evq; /* ring buffer */
  size_t ev_cap, ev_head, ev_n;
  size_t ev_pushed; /* total ever queued, for match_tick's count */
  struct match_event ev_scratch;
};

/* How a peer enters the pool: at the back (a new place) or at its old place. */
enum match__enter { MATCH__ENTER_NEW, MATCH__ENTER_KEEP };

/* engine.c: the event queue. Space is reserved before a call acts, so push
 * cannot fail; it returns the new event for the caller to finish. */
int match__ev_reserve(struct match_engine *e, size_t n);
struct match_event *match__ev_push(struct match_engine *e, enum match_ev_type type,
                                   match_id peer, match_id partner);

/* pool.c */
/* True when p may be in the pool: wants, ready, not banned, not cooling (an
 * expired cool-down is cleared here), not paired and not already waiting. */
int match__pool_eligible(struct match_engine *e, struct match__peer *p);
/* p enters the pool (at the back, or at its previous place): pairs at once
 * with the best waiting partner, or waits (WAITING). p must be eligible. */
void match__pool_enter(struct match_engine *e, struct match__peer *p, enum match__enter how);
/* Links p into every index as a waiting peer, without looking for a partner
 * and without an event: the last step of match__pool_enter once nobody fits.
 * p->seq, p->wait_start and p->open must be set, and p must be eligible. */
void match__pool_link(struct match_engine *e, struct match__peer *p);
/* Takes p out of the pool without an event. */
void match__pool_leave(struct match_engine *e, struct match__peer *p);
/* Replaces the memberships of a waiting or idle peer (the new array's tag
 * references pass to p; the old array is returned for the caller to release).
 * A waiting peer keeps its place and wait and may pair at once. */
struct match__memb *match__pool_retag(struct match_engine *e, struct match__peer *p,
                                      struct match__memb *memb, uint8_t ntags, uint8_t nmemb);
/* Ends p's pair: the partner gets PARTNER_LEFT and re-enters keeping its place.
 * p is left out of the pool. */
void match__pair_end(struct match_engine *e, struct match__peer *p);
/* Ends p's pair (if any) and takes p out of the line, giving up its place (seq 0): Stop, ban,
 * not ready, removal. Going away keeps the place (match__pool_leave alone). */
void match__pool_quit(struct match_engine *e, struct match__peer *p);
/* y becomes x's most recent partner until until_ms (an earlier entry of y moves up). */
void match__recent_note(const struct match_engine *e, struct match__peer *x,
                        const struct match__peer *y, uint64_t until_ms);
/* Tick work on one waiting peer: widening, and periodic re-scan. */
void match__pool_widen(struct match_engine *e, struct match__peer *p);
void match__pool_retry(struct match_engine *e, struct match__peer *p);
/* Blocks: -ENOMEM or 0. */
int match__block_add(struct match_engine *e, struct match__peer *p, struct match__peer *q);
int match__blocked(const struct match_engine *e, const struct match__peer *a,
                   const struct match__peer *b);
/* Forgets p's own blocks (before freeing p). */
void match__block_release(struct match_engine *e, struct match__peer *p);

#endif
