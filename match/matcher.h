/* matcher.h -- matching as messages: a command goes in, a complete account of what it changed
 * comes out as events. Pure, like the engine it drives: no clock, socket or global.
 *
 * The server never reads the engine's state. It sends commands and keeps its own view of each
 * peer (waiting, paired with whom, idle) from the events alone, so the engine may run in this
 * process (server/matchq.c, the local backend) or on another node (one matcher for a whole
 * cluster) with the same server code. For that the events here say more than the engine's:
 *   - every change of a peer's state is told to that peer, including the ones the engine makes
 *     silently (a peer that stops being ready leaves its pair or the pool with no event of its
 *     own): MATCHER_EV_STATE carries the state and partner it now has;
 *   - a command the engine refuses is answered with MATCHER_EV_REFUSED (the engine's error
 *     code, and for a cool-down its end), instead of a return value the caller must be there
 *     to read.
 * A command is plain data (fixed-size, no pointers), so it can be copied into a message. */
#ifndef TANDEM_MATCH_MATCHER_H
#define TANDEM_MATCH_MATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "match/engine.h"

enum matcher_cmd_type {
  MATCHER_ADD = 1, /* peer */
  MATCHER_REMOVE,  /* peer */
  MATCHER_READY,   /* peer, flag */
  MATCHER_AWAY,    /* peer, flag */
  MATCHER_START,   /* peer, tags, lang */
  MATCHER_NEXT,    /* peer */
  MATCHER_STOP,    /* peer */
  MATCHER_BLOCK,   /* peer, other */
  MATCHER_REMEMBER,/* peer, other, for_ms */
  MATCHER_BAN,     /* peer, flag */
  MATCHER_RESTORE, /* peer, other: a pair a new matcher takes over (match_restore_pair) */
  MATCHER_MOVE,    /* peer, other: peer is called other from now on (match_rename): a visit
                      that moved to another node of a cluster (docs/operations.md) */
  MATCHER_CMD_MAX_ = MATCHER_MOVE
};

#define MATCHER_TAGS_MAX 10
#define MATCHER_TAG_LEN_MAX 32

struct matcher_cmd {
  enum matcher_cmd_type type;
  match_id peer;
  match_id other;  /* BLOCK, REMEMBER, RESTORE, MOVE */
  bool flag;       /* READY, AWAY, BAN */
  uint32_t for_ms; /* REMEMBER: they count as recent partners for this long from now (a
                      duration, not a time: the matcher's clock need not be the sender's) */
  uint8_t ntags;   /* START */
  char tags[MATCHER_TAGS_MAX][MATCHER_TAG_LEN_MAX + 1];
  char lang[MATCHER_TAG_LEN_MAX + 1];
};

/* Fills a START command from the caller's tag list. -EINVAL (more than MATCHER_TAGS_MAX tags,
 * one or the language longer than MATCHER_TAG_LEN_MAX bytes, or tags NULL with ntags > 0);
 * the engine checks the rest (control characters, its configured limits). */
int matcher_cmd_start(struct matcher_cmd *c, match_id peer, const char *const *tags,
                      size_t ntags, const char *lang);

enum matcher_ev_type {
  /* The engine's own events, with its meaning (engine.h). */
  MATCHER_EV_PAIRED = MATCH_EV_PAIRED,
  MATCHER_EV_PARTNER_LEFT = MATCH_EV_PARTNER_LEFT,
  MATCHER_EV_WAITING = MATCH_EV_WAITING,
  MATCHER_EV_STOPPED = MATCH_EV_STOPPED,
  MATCHER_EV_COOLDOWN = MATCH_EV_COOLDOWN,
  /* The peer's state changed with none of the above saying so: it is now `state` (IDLE or
   * PAIRED), with `partner` (0 unless PAIRED). */
  MATCHER_EV_STATE = 16,
  /* The peer's command `cmd` was refused: `code` is the engine's negative errno (-EINVAL,
   * -EBUSY with `until_ms` the end of the cool-down, -EPERM banned, -ENOENT, -ENOMEM, ...). */
  MATCHER_EV_REFUSED = 17,
  /* `partner` blocked (or reported) the peer: the two never meet again. Changes nothing in
   * the peer's state; its server keeps it, to tell a new matcher of a cluster (cluster.h). */
  MATCHER_EV_BLOCKED_BY = 18,
  /* The peer's partner is called `partner` from now on (a MOVE): the pair goes on. */
  MATCHER_EV_PARTNER_MOVED = 19,
};
/* A MOVE is answered with MATCHER_EV_STATE to the new id, always: its state and partner, with
 * `code` 0; or, if the matcher did not know the old id (it left meanwhile), `code` -ENOENT
 * and the new id added fresh (IDLE, not ready, wanting nothing: its server tells it the rest).
 * A paired peer's partner hears MATCHER_EV_PARTNER_MOVED. */

struct matcher_event {
  enum matcher_ev_type type;
  match_id peer;
  match_id partner;             /* PAIRED, PARTNER_LEFT, STATE */
  uint64_t until_ms;            /* COOLDOWN, REFUSED with -EBUSY (the engine's clock) */
  enum match_state state;       /* STATE */
  enum matcher_cmd_type cmd;    /* REFUSED */
  int code;                     /* REFUSED; STATE answering a MOVE (above) */
  uint64_t link;                /* PAIRED, from a cluster's matcher: the pair's relay link id
                                   (the same on both sides, never reused, low 12 bits zero;
                                   0 otherwise); STATE answering a MOVE to a paired peer: the
                                   same, if the matcher knows it (0 if not) */
  size_t n_shared;              /* PAIRED: tags both gave */
  char shared_tags[MATCHER_TAGS_MAX][MATCHER_TAG_LEN_MAX + 1];
};

/* What a peer's state is after an event, given what it was before (the server's view follows
 * this rule; so does matcher_apply's check). REFUSED changes nothing. */
void matcher_event_follow(const struct matcher_event *ev, enum match_state *state,
                          match_id *partner);

typedef void (*matcher_emit_fn)(void *arg, const struct matcher_event *ev);

/* Applies c to the engine at now_ms and emits, in causal order, every event it caused. The
 * engine's queue must be empty on entry (every call here drains it). Returns 0, or -EINVAL for
 * a malformed command (unknown type, zero peer; nothing is emitted); an engine refusal is an
 * event, not a return value. */
int matcher_apply(struct match_engine *e, const struct matcher_cmd *c, uint64_t now_ms,
                  matcher_emit_fn emit, void *arg);
/* match_tick, with its events emitted the same way. Returns match_tick's value. */
int matcher_tick(struct match_engine *e, uint64_t now_ms, matcher_emit_fn emit, void *arg);

const char *matcher_cmd_name(enum matcher_cmd_type t); /* "start", ...; "?" if unknown */

#endif
