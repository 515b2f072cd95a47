/* matcher.c -- matching as messages (matcher.h). */
#include "match/matcher.h"

#include <errno.h>
#include <string.h>

int matcher_cmd_start(struct matcher_cmd *c, match_id peer, const char *const *tags,
                      size_t ntags, const char *lang) {
  if (!c || (!tags && ntags) || ntags > MATCHER_TAGS_MAX)
    return -EINVAL;
  memset(c, 0, sizeof(*c));
  c->type = MATCHER_START;
  c->peer = peer;
  size_t n = 0;
  for (size_t i = 0; i < ntags; i++) {
    if (!tags[i])
      continue;
    size_t len = strlen(tags[i]);
    if (len > MATCHER_TAG_LEN_MAX)
      return -EINVAL;
    memcpy(c->tags[n++], tags[i], len + 1);
  }
  c->ntags = (uint8_t)n;
  if (lang) {
    size_t len = strlen(lang);
    if (len > MATCHER_TAG_LEN_MAX)
      return -EINVAL;
    memcpy(c->lang, lang, len + 1);
  }
  return 0;
}

const char *matcher_cmd_name(enum matcher_cmd_type t) {
  switch (t) {
  case MATCHER_ADD: return "add";
  case MATCHER_REMOVE: return "remove";
  case MATCHER_READY: return "ready";
  case MATCHER_AWAY: return "away";
  case MATCHER_START: return "start";
  case MATCHER_NEXT: return "next";
  case MATCHER_STOP: return "stop";
  case MATCHER_BLOCK: return "block";
  case MATCHER_REMEMBER: return "remember";
  case MATCHER_BAN: return "ban";
  case MATCHER_RESTORE: return "restore";
  case MATCHER_MOVE: return "move";
  }
  return "?";
}

void matcher_event_follow(const struct matcher_event *ev, enum match_state *state,
                          match_id *partner) {
  switch (ev->type) {
  case MATCHER_EV_PAIRED:
    *state = MATCH_PAIRED;
    *partner = ev->partner;
    break;
  case MATCHER_EV_WAITING:
    *state = MATCH_WAITING;
    *partner = 0;
    break;
  case MATCHER_EV_PARTNER_LEFT: /* a WAITING or PAIRED follows if it goes back in line */
  case MATCHER_EV_STOPPED:
  case MATCHER_EV_COOLDOWN:
    *state = MATCH_IDLE;
    *partner = 0;
    break;
  case MATCHER_EV_STATE:
    *state = ev->state;
    *partner = ev->partner;
    break;
  case MATCHER_EV_PARTNER_MOVED:
    *state = MATCH_PAIRED;
    *partner = ev->partner;
    break;
  case MATCHER_EV_REFUSED:
  case MATCHER_EV_BLOCKED_BY:
    break;
  }
}

/* The peers a command's events named, with the state those events imply, so that a change
 * the engine made silently can be told (MATCHER_EV_STATE). A command touches a handful of
 * peers (its own, its partner, their new partners); beyond the cap a peer goes unchecked, which
 * only the engine's silent changes to the commanding peer itself could need. */
#define TOUCHED_MAX 16
struct touched {
  size_t n;
  match_id id[TOUCHED_MAX];
  enum match_state state[TOUCHED_MAX];
  match_id partner[TOUCHED_MAX];
};

static int touched_find(struct touched *t, match_id id) {
  for (size_t i = 0; i < t->n; i++)
    if (t->id[i] == id)
      return (int)i;
  return -1;
}

static int touched_add(struct touched *t, match_id id, enum match_state s, match_id partner) {
  int i = touched_find(t, id);
  if (i >= 0 || t->n == TOUCHED_MAX)
    return i;
  t->id[t->n] = id;
  t->state[t->n] = s;
  t->partner[t->n] = partner;
  return (int)t->n++;
}

static bool drain(struct match_engine *e, struct touched *t, match_id self, matcher_emit_fn emit,
                  void *arg) {
  bool self_cooldown = false;
  struct match_event mev;
  while (match_poll(e, &mev) == 1) {
    struct matcher_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = (enum matcher_ev_type)mev.type;
    ev.peer = mev.peer;
    ev.partner = mev.partner;
    ev.until_ms = mev.until_ms;
    ev.n_shared = mev.n_shared < MATCHER_TAGS_MAX ? mev.n_shared : MATCHER_TAGS_MAX;
    for (size_t i = 0; i < ev.n_shared; i++)
      memcpy(ev.shared_tags[i], mev.shared_tags[i], sizeof(ev.shared_tags[i]));
    if (ev.type == MATCHER_EV_COOLDOWN && ev.peer == self)
      self_cooldown = true;
    if (t) {
      int i = touched_add(t, ev.peer, MATCH_IDLE, 0);
      if (i >= 0)
        matcher_event_follow(&ev, &t->state[i], &t->partner[i]);
    }
    emit(arg, &ev);
  }
  return self_cooldown;
}

static void refuse(match_id peer, enum matcher_cmd_type cmd, int code, uint64_t until,
                   matcher_emit_fn emit, void *arg) {
  struct matcher_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.type = MATCHER_EV_REFUSED;
  ev.peer = peer;
  ev.cmd = cmd;
  ev.code = code;
  ev.until_ms = until;
  emit(arg, &ev);
}

static void emit_state(match_id peer, enum match_state s, match_id partner, int code,
                       matcher_emit_fn emit, void *arg) {
  struct matcher_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.type = MATCHER_EV_STATE;
  ev.peer = peer;
  ev.state = s;
  ev.partner = partner;
  ev.code = code;
  emit(arg, &ev);
}

/* MOVE: the peer goes on under its new id (matcher.h). */
static void apply_move(struct match_engine *e, const struct matcher_cmd *c, uint64_t now_ms,
                       matcher_emit_fn emit, void *arg) {
  int rc = c->other && c->other != c->peer ? match_rename(e, c->peer, c->other, now_ms) : -EINVAL;
  if (rc == -ENOENT) {
    rc = match_add(e, c->other, now_ms);
    if (rc == 0) {
      emit_state(c->other, MATCH_IDLE, 0, -ENOENT, emit, arg);
      return;
    }
  }
  if (rc < 0) {
    refuse(c->peer, MATCHER_MOVE, rc, 0, emit, arg);
    return;
  }
  enum match_state s = match_state_of(e, c->other);
  match_id q = s == MATCH_PAIRED ? match_partner(e, c->other) : 0;
  emit_state(c->other, s, q, 0, emit, arg);
  if (q) {
    struct matcher_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = MATCHER_EV_PARTNER_MOVED;
    ev.peer = q;
    ev.partner = c->other;
    emit(arg, &ev);
  }
}

int matcher_apply(struct match_engine *e, const struct matcher_cmd *c, uint64_t now_ms,
                  matcher_emit_fn emit, void *arg) {
  if (!e || !c || !c->peer || !emit || c->type < MATCHER_ADD || c->type > MATCHER_CMD_MAX_)
    return -EINVAL;
  if (c->type == MATCHER_MOVE) {
    apply_move(e, c, now_ms, emit, arg);
    return 0;
  }
  struct touched t = {0};
  match_id self = c->peer;
  enum match_state s0 = match_state_of(e, self);
  touched_add(&t, self, s0 == MATCH_UNKNOWN ? MATCH_IDLE : s0, match_partner(e, self));
  if (c->other && c->other != self) { /* a block or a restore changes the other's state too */
    enum match_state s1 = match_state_of(e, c->other);
    if (s1 != MATCH_UNKNOWN)
      touched_add(&t, c->other, s1, match_partner(e, c->other));
  }
  int rc = 0;
  switch (c->type) {
  case MATCHER_ADD: rc = match_add(e, self, now_ms); break;
  case MATCHER_REMOVE: rc = match_remove(e, self, now_ms); break;
  case MATCHER_READY: rc = match_set_ready(e, self, c->flag, now_ms); break;
  case MATCHER_AWAY: rc = match_set_away(e, self, c->flag, now_ms); break;
  case MATCHER_START: {
    /* A command may come from the wire: its strings are bounded here whatever they hold. */
    const char *tags[MATCHER_TAGS_MAX];
    char tagbuf[MATCHER_TAGS_MAX][MATCHER_TAG_LEN_MAX + 1], lang[MATCHER_TAG_LEN_MAX + 1];
    size_t n = c->ntags < MATCHER_TAGS_MAX ? c->ntags : MATCHER_TAGS_MAX;
    memcpy(lang, c->lang, sizeof(lang));
    lang[MATCHER_TAG_LEN_MAX] = '\0';
    for (size_t i = 0; i < n; i++) {
      memcpy(tagbuf[i], c->tags[i], sizeof(tagbuf[i]));
      tagbuf[i][MATCHER_TAG_LEN_MAX] = '\0';
      tags[i] = tagbuf[i];
    }
    rc = match_start(e, self, tags, n, lang, now_ms);
    break;
  }
  case MATCHER_NEXT: rc = match_next(e, self, now_ms); break;
  case MATCHER_STOP: rc = match_stop(e, self, now_ms); break;
  case MATCHER_BLOCK: rc = match_block(e, self, c->other, now_ms); break;
  case MATCHER_REMEMBER:
    rc = match_remember(e, self, c->other, now_ms + c->for_ms, now_ms);
    break;
  case MATCHER_BAN: rc = match_ban(e, self, c->flag, now_ms); break;
  case MATCHER_RESTORE: rc = match_restore_pair(e, self, c->other, now_ms); break;
  case MATCHER_MOVE: break; /* above */
  }
  bool self_cooldown = drain(e, &t, self, emit, arg);
  if (c->type == MATCHER_BLOCK && rc == 0) {
    struct matcher_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = MATCHER_EV_BLOCKED_BY;
    ev.peer = c->other;
    ev.partner = self;
    emit(arg, &ev);
  }
  if (rc < 0 && rc != -EALREADY && !(rc == -EBUSY && self_cooldown))
    refuse(self, c->type, rc, rc == -EBUSY ? match_cooldown_until(e, self, now_ms) : 0, emit,
           arg);
  /* What the engine changed without an event: tell it, so that a view built from events is
   * the engine's own. */
  for (size_t i = 0; i < t.n; i++) {
    enum match_state s = match_state_of(e, t.id[i]);
    if (s == MATCH_UNKNOWN)
      continue;
    match_id p = s == MATCH_PAIRED ? match_partner(e, t.id[i]) : 0;
    if (s == t.state[i] && p == t.partner[i])
      continue;
    struct matcher_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = MATCHER_EV_STATE;
    ev.peer = t.id[i];
    ev.state = s;
    ev.partner = p;
    emit(arg, &ev);
  }
  return 0;
}

int matcher_tick(struct match_engine *e, uint64_t now_ms, matcher_emit_fn emit, void *arg) {
  if (!e || !emit)
    return -EINVAL;
  int rc = match_tick(e, now_ms);
  drain(e, NULL, 0, emit, arg);
  return rc;
}
