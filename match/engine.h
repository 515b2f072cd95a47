/* engine.h -- the matchmaking engine: a pure, I/O-free pairing state machine. */
#ifndef TANDEM_MATCH_ENGINE_H
#define TANDEM_MATCH_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The engine decides who talks to whom. It never reads a clock, touches a
 * socket, logs or uses global state: every call is handed now_ms (any
 * monotonic millisecond clock; a value older than one already seen is treated
 * as that newer one), and every decision is reported as an event the caller
 * drains with match_poll() after each call. One engine belongs to one thread.
 * No call keeps a pointer to caller memory after it returns.
 *
 * Errors are 0 or a negative errno. Every call returns -EINVAL for a NULL
 * engine or a zero id; every call that acts on a peer returns -ENOMEM, or
 * -ENOSPC when over a million events wait undrained, without changing
 * anything. The full rules are in docs/matching.md. */

typedef uint64_t match_id; /* never 0 */

struct match_config {
  uint32_t widen_after_ms;      /* 5000: a peer with tags (or a language) accepts anyone
                                   after waiting this long; until then only partners
                                   sharing a tag or the language */
  uint32_t recent_k;            /* 5: how many last partners are remembered (max 64) */
  uint32_t rematch_cooldown_ms; /* 600000: a remembered partner is not offered again
                                   for this long after the pair ended ... */
  uint32_t rematch_lonely_ms;   /* 10000: ... unless both have waited this long with
                                   nobody else compatible */
  uint32_t next_limit;          /* 20 Nexts ... (0 disables the limit) */
  uint32_t next_window_ms;      /* ... per 60000 ms ... */
  uint32_t next_cooldown_ms;    /* ... earn 10000 ms of cool-down */
  uint32_t max_tags;            /* 10 (values above 10 are treated as 10) */
  uint32_t max_tag_len;         /* 32 bytes (values above 32 are treated as 32) */
  uint64_t hash_seed;           /* 0; set it from a random source so crafted tags
                                   cannot flood the tag table (added field) */
  uint32_t home_shift;          /* 0 = off. Ids whose bits above this shift are equal are
                                   at home together (a cluster's ids name their node:
                                   match/cluster.h) ... (added field) */
  uint32_t home_window_ms;      /* ... 300: and a partner at home is as good as one who has
                                   waited up to this much longer, with the same interests
                                   (or both open to anyone): longest wait first, waits that
                                   close counting as equal (added field) */
};

/* Fills c with the defaults shown above. */
void match_config_default(struct match_config *c);
/* Creates an engine with a copy of *c (NULL: defaults). NULL on ENOMEM. */
struct match_engine *match_new(const struct match_config *c);
/* Frees the engine, every peer and every queued event. NULL is a no-op. */
void match_free(struct match_engine *e);

/* Adds a peer: IDLE, not ready, not banned, wanting nothing. -EEXIST. */
int match_add(struct match_engine *e, match_id id, uint64_t now_ms);
/* The peer leaves for good: if paired, the partner gets PARTNER_LEFT and goes
 * back to the pool keeping its place; everything held for id is freed (blocks
 * others recorded against id lapse when they age out, see docs). No event for
 * id itself; events already queued for it stay queued. -ENOENT. */
int match_remove(struct match_engine *e, match_id id, uint64_t now_ms);
/* READY = media is arriving. Only ready peers wait or pair. Becoming ready
 * while wanting a partner enters the pool at the back. Becoming not ready ends
 * a pair (partner gets PARTNER_LEFT and keeps its place in line) or leaves the
 * pool, but the peer keeps wanting and re-enters when ready again. No event
 * for id itself on the way out. Repeating the current value changes nothing
 * (except that a cool-down already over lets the peer back in). -ENOENT. */
int match_set_ready(struct match_engine *e, match_id id, bool ready, uint64_t now_ms);
/* AWAY = nobody can tell the peer anything (its connection dropped; it may come back). An away
 * peer keeps its pair, and all it wants, but never enters the pool: a waiting one leaves it, and
 * one whose pair ends while away stays out. Coming back puts it in line as before (its place
 * kept). No event for id on the way out. Repeating the current value changes nothing. -ENOENT. */
int match_set_away(struct match_engine *e, match_id id, bool away, uint64_t now_ms);
/* The peer wants a partner. tags are normalised (ASCII lower-case, trimmed,
 * deduplicated, NULL and empty dropped); lang (NULL or "" for none) is
 * normalised the same way and acts as one more preferred tag. -EINVAL: more
 * than max_tags tags, a tag or lang longer than max_tag_len bytes or with a
 * control character, or tags NULL with ntags > 0. -ENOENT, -EPERM banned,
 * -EBUSY in a Next cool-down, -EALREADY waiting or paired (a no-op, except
 * that a waiting peer's tags and lang are replaced, keeping its place, and it
 * may pair at once). A peer that is not ready is remembered (returns 0) and
 * enters the pool when ready; calling again then just replaces the tags.
 * On entry the peer gets PAIRED at once if a partner fits, else WAITING. */
int match_start(struct match_engine *e, match_id id, const char *const *tags, size_t ntags,
                const char *lang, uint64_t now_ms);
/* Paired: the pair ends; the partner gets PARTNER_LEFT and goes back to the
 * pool keeping its original place; the caller goes to the back of the pool.
 * Waiting, or not ready but wanting: a no-op returning 0. Over the rate limit
 * (more than next_limit Nexts in one next_window_ms window): the pair still
 * ends, the caller gets MATCH_EV_COOLDOWN, stays out of the pool until the
 * cool-down ends (match_tick then puts it back) and -EBUSY is returned; -EBUSY
 * also while already cooling down. -EINVAL if the peer never started (or
 * stopped). -ENOENT. */
int match_next(struct match_engine *e, match_id id, uint64_t now_ms);
/* Leaves pool or pair (a partner gets PARTNER_LEFT and keeps its place) and
 * stops wanting. STOPPED is emitted if the peer was wanting, else it is a
 * no-op. A running cool-down still applies to the next match_start. -ENOENT. */
int match_stop(struct match_engine *e, match_id id, uint64_t now_ms);
/* id blocks or reports other: the two are never paired again while both are
 * known to the engine (each peer remembers its 256 most recent blocks). If
 * they are paired now, this acts like match_next by id without the rate
 * limit. -EINVAL other == id or 0, -ENOENT either unknown, -ENOMEM. */
int match_block(struct match_engine *e, match_id id, match_id other, uint64_t now_ms);
/* id and other count as each other's recent partners until until_ms, as if they had
 * just been paired (a new visit of someone's device remembers whom that device met: the
 * rematch rules then apply across visits). Nothing else changes. -EINVAL, -ENOENT. */
int match_remember(struct match_engine *e, match_id id, match_id other, uint64_t until_ms,
                   uint64_t now_ms);
/* Makes id and other a pair again, with no event: for a matcher rebuilding its state from what
 * the peers' servers say (a new matcher of a cluster). Both must want a partner (match_start),
 * neither be paired, banned, cooling down or blocked by the other; a waiting one leaves the
 * pool. Readiness is not needed: a pair survives a refresh. -EINVAL, -ENOENT, -EALREADY (each
 * other's partners already), -EBUSY (any other condition unmet; nothing changes). (Added
 * function.) */
int match_restore_pair(struct match_engine *e, match_id id, match_id other, uint64_t now_ms);
/* id is called new_id from now on, keeping everything: its pair, its place in line, its wishes,
 * blocks and recent partners (a visit that moved to another server of a cluster, whose ids
 * name their server). No event; events already queued keep the old id. -EINVAL (a zero id,
 * or new_id == id), -ENOENT, -EEXIST (new_id is taken), -ENOMEM. (Added function.) */
int match_rename(struct match_engine *e, match_id id, match_id new_id, uint64_t now_ms);
/* Banning ends a pair (partner gets PARTNER_LEFT, keeps its place) or leaves
 * the pool, stops wanting (STOPPED if it was) and makes match_start fail
 * with -EPERM until unbanned. Unbanning changes nothing else. -ENOENT. */
int match_ban(struct match_engine *e, match_id id, bool banned, uint64_t now_ms);
/* Widening, lonely rematch, retries and cool-down expiry. Call every
 * ~100-500 ms. Work per call is bounded (a backlog carries over). Returns how
 * many events this call queued, or -ENOMEM / -ENOSPC (work done before the
 * failure stands; its events are queued). */
int match_tick(struct match_engine *e, uint64_t now_ms);

enum match_ev_type {
  MATCH_EV_PAIRED,       /* peer is now paired with partner */
  MATCH_EV_PARTNER_LEFT, /* partner ended peer's pair (next, stop, block, leave,
                            not ready, ban); peer is about to re-enter the pool,
                            and a WAITING or PAIRED event for it follows */
  MATCH_EV_WAITING,      /* peer entered the pool */
  MATCH_EV_STOPPED,      /* peer no longer wants a partner (stop or ban) */
  MATCH_EV_COOLDOWN      /* peer Nexted too often: out of the pool until until_ms */
};

struct match_event {
  enum match_ev_type type;
  match_id peer;                   /* who the event is for */
  match_id partner;                /* PAIRED / PARTNER_LEFT */
  uint64_t until_ms;               /* COOLDOWN */
  char shared_tags[10][33];        /* PAIRED: tags both gave (not the language), */
  size_t n_shared;                 /* NUL-terminated, in peer's order */
};

/* Copies the oldest queued event into *ev and returns 1, or returns 0 when
 * none is queued (-EINVAL for NULL arguments). Events come in causal order;
 * PAIRED is emitted once for each side. Drain after every call: events name
 * ids that may since have been removed, so ignore ids you no longer know. */
int match_poll(struct match_engine *e, struct match_event *ev);

enum match_state { MATCH_UNKNOWN, MATCH_IDLE, MATCH_WAITING, MATCH_PAIRED };
/* IDLE covers not started, not ready, banned and cooling down. */
enum match_state match_state_of(const struct match_engine *e, match_id id);
match_id match_partner(const struct match_engine *e, match_id id); /* 0 if none */
size_t match_waiting_count(const struct match_engine *e);
size_t match_paired_count(const struct match_engine *e); /* peers, not pairs */
/* The end of id's Next cool-down, or 0 if none is running (added function). */
uint64_t match_cooldown_until(const struct match_engine *e, match_id id, uint64_t now_ms);

#endif
