/* classify.c -- automated moderation: every live visitor's snapshot, once per interval, to the
 * classifier webhook (moderation/classifier.c); a kick or ban verdict goes through moderate.c
 * like a moderator's. */
#include "server/classify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moderation/classifier.h"
#include "moderation/device.h"
#include "server/app_int.h"
#include "server/log.h"
#include "server/moderate.h"

/* One visitor between its snapshot and its verdict. */
struct cjob {
  struct classify *cs;     /* NULL once classify_stop left it behind (it acts on nothing) */
  uint64_t peer_id;
  uint64_t pic;            /* the picture posted (moderate_snapshot_fn's pic) */
  struct cjob *prev, *next;
};

struct classify {
  struct app *a;
  struct classifier *cl;
  uv_timer_t timer;        /* the next turn, or the next round */
  uint64_t interval_ms;
  int max_side;            /* of the pictures posted; 0 = as sent */
  /* This round's visitors by id (taken at its start), turn i due at
   * round_start + i * interval_ms / n_turns. */
  uint64_t *turns;
  size_t n_turns, cap_turns, next_turn;
  uint64_t round_start;
  bool started;
  struct cjob *jobs;
  unsigned n_jobs;
  bool closing, down;
  int pending;
  void (*done)(void *arg);
  void *done_arg;
  struct {
    uint64_t rounds, turns, skipped, unchanged, snapshot_failures, kicks, bans;
  } n;
};

static void job_done(struct cjob *j) {
  struct classify *cs = j->cs;
  if (cs) {
    if (j->prev)
      j->prev->next = j->next;
    else
      cs->jobs = j->next;
    if (j->next)
      j->next->prev = j->prev;
    cs->n_jobs--;
  }
  free(j);
}

static bool busy(const struct classify *cs, uint64_t id) {
  for (const struct cjob *j = cs->jobs; j; j = j->next)
    if (j->peer_id == id)
      return true;
  return false;
}

/* A dead classifier would otherwise log once per visitor per interval: only the changes. */
static void note(struct classify *cs, int status) {
  if (status == -ECANCELED)
    return;
  if (status && !cs->down)
    log_event(LOG_WARN, "classifier_down", LF_STR("error", uv_strerror(status)),
              LF_STR("effect", "visitors are not classified until it answers again"));
  else if (!status && cs->down)
    log_event(LOG_INFO, "classifier_up", LF_STR("what", "the classifier answers again"));
  cs->down = status != 0;
}

static void on_verdict(void *arg, int status, const struct classifier_verdict *v) {
  struct cjob *j = arg;
  struct classify *cs = j->cs;
  if (!cs || cs->closing) {
    job_done(j);
    return;
  }
  note(cs, status);
  struct app *a = cs->a;
  if (status == 0) {
    /* Judged: the visitor's next turn does not send this picture again. */
    struct peer *p = peer_by_id(a, j->peer_id);
    if (p)
      p->classified_pic = j->pic;
  }
  if (status == 0 && v->action != CLASSIFIER_NONE) {
    const char *reason = v->reason[0] ? v->reason : "classifier";
    bool ban = v->action == CLASSIFIER_BAN;
    /* 0 or -ENOENT: a visitor who left meanwhile is not looked for by device here. */
    int rc = ban ? moderate_ban_peer(a, j->peer_id, v->duration_s * 1000, "classifier", reason)
                 : moderate_kick(a, j->peer_id, "classifier", reason);
    log_event(LOG_INFO, "classifier_verdict", LF_UINT("peer", j->peer_id),
              LF_STR("action", ban ? "ban" : "kick"), LF_STR("reason", v->reason),
              LF_UINT("duration_s", ban ? v->duration_s : 0),
              LF_STR("result", rc ? "gone" : "done"));
    if (rc == 0 && ban)
      cs->n.bans++;
    else if (rc == 0)
      cs->n.kicks++;
  }
  job_done(j);
}

static void on_snapshot(void *arg, int status, const uint8_t *jpeg, size_t len, uint64_t pic) {
  struct cjob *j = arg;
  struct classify *cs = j->cs;
  if (!cs || cs->closing) {
    job_done(j);
    return;
  }
  if (status) {
    /* A visitor gone or without video meanwhile is not a failure. */
    if (status != -ENOENT && status != -ENODATA)
      cs->n.snapshot_failures++;
    job_done(j);
    return;
  }
  struct peer *p = peer_by_id(cs->a, j->peer_id);
  if (p && pic == p->classified_pic) {
    /* Judged already (take_turn looked first; this keeps the rule whatever answered). */
    cs->n.unchanged++;
    job_done(j);
    return;
  }
  uint8_t *copy = malloc(len);
  if (!copy) {
    cs->n.snapshot_failures++;
    job_done(j);
    return;
  }
  memcpy(copy, jpeg, len); /* jpeg is borrowed; the classifier keeps its own */
  j->pic = pic;
  char dev[DEVICE_HEX_LEN + 1] = "";
  if (p && p->has_device)
    device_id_hex(&p->device, dev);
  if (classifier_submit(cs->cl, j->peer_id, dev, copy, len, on_verdict, j))
    job_done(j); /* dropped, and counted by the classifier */
}

static void take_turn(struct classify *cs, uint64_t id) {
  struct app *a = cs->a;
  struct peer *p = peer_by_id(a, id);
  if (!p || !p->sid || !p->sess_ready)
    return; /* left, or lost its media, since the round began */
  if (busy(cs, id) || cs->n_jobs >= CLASSIFY_MAX_INFLIGHT) {
    cs->n.skipped++;
    return;
  }
  /* Each turn judges a picture made since the visitor's previous turn: one at most half an
   * interval old (the cached picture, or the keyframe the recording holds, or a fresh one asked
   * for). The previous turn's picture is about one interval old by now, so it is never taken
   * again in its place; were turns to come closer together (a visitor whose place in the round
   * moved up), a picture already judged is still not posted twice. */
  uint64_t fresh_ms = cs->interval_ms / 2;
  uint64_t cached = moderate_snapshot_cached(a, id, fresh_ms, cs->max_side);
  if (cached && cached == p->classified_pic) {
    cs->n.unchanged++;
    return;
  }
  struct cjob *j = calloc(1, sizeof(*j));
  if (!j) {
    cs->n.skipped++;
    return;
  }
  j->cs = cs;
  j->peer_id = id;
  j->next = cs->jobs;
  if (cs->jobs)
    cs->jobs->prev = j;
  cs->jobs = j;
  cs->n_jobs++;
  cs->n.turns++;
  /* The answer may come from inside this call (a cached picture). */
  int rc = moderate_snapshot(a, id, fresh_ms, cs->max_side, on_snapshot, j);
  if (rc) {
    if (rc != -ENOENT && rc != -ENODATA)
      cs->n.snapshot_failures++;
    job_done(j);
  }
}

/* Who gets a turn this round: every peer attached with a READY session, now. */
static void new_round(struct classify *cs, uint64_t now) {
  struct app *a = cs->a;
  if (a->n_peers > cs->cap_turns) {
    uint64_t *t = realloc(cs->turns, a->n_peers * sizeof(*t));
    if (t) {
      cs->turns = t;
      cs->cap_turns = a->n_peers;
    }
  }
  cs->n_turns = 0;
  for (struct peer *p = a->peers; p && cs->n_turns < cs->cap_turns; p = p->next)
    if (p->ws && p->sid && p->sess_ready)
      cs->turns[cs->n_turns++] = p->id;
  cs->next_turn = 0;
  cs->round_start = now;
  cs->started = true;
  cs->n.rounds++;
}

static uint64_t turn_due(const struct classify *cs, size_t i) {
  return cs->round_start + (uint64_t)i * cs->interval_ms / cs->n_turns;
}

/* Turns due within this much of now are taken early, together, while fewer than half of
 * CLASSIFY_MAX_INFLIGHT are out: their media replies, pool results and posts then share the
 * control loop's wake-ups (four a turn when each went alone). */
#define CLASSIFY_BATCH_MS 250

static void on_timer(uv_timer_t *t) {
  struct classify *cs = t->data;
  uint64_t now = uv_now(cs->a->loop);
  if (!cs->started || now >= cs->round_start + cs->interval_ms)
    new_round(cs, now);
  while (!cs->closing && cs->next_turn < cs->n_turns) {
    uint64_t due = turn_due(cs, cs->next_turn);
    if (due > now && (due > now + CLASSIFY_BATCH_MS || cs->n_jobs >= CLASSIFY_MAX_INFLIGHT / 2))
      break;
    take_turn(cs, cs->turns[cs->next_turn++]);
  }
  if (cs->closing)
    return;
  uint64_t next = cs->next_turn < cs->n_turns ? turn_due(cs, cs->next_turn)
                                               : cs->round_start + cs->interval_ms;
  uv_timer_start(&cs->timer, on_timer, next > now ? next - now : 0, 0);
}

int classify_start(struct app *a) {
  if (!a->cfg.classifier_url[0])
    return 0;
  struct classify *cs = calloc(1, sizeof(*cs));
  if (!cs)
    return -ENOMEM;
  cs->a = a;
  cs->interval_ms = (uint64_t)a->cfg.classifier_interval_ms;
  cs->max_side = a->cfg.classifier_max_side;
  struct classifier_config c;
  classifier_config_default(&c);
  c.url = a->cfg.classifier_url;
  c.bearer = a->cfg.classifier_token;
  c.timeout_ms = (unsigned)a->cfg.classifier_timeout_ms;
  c.max_queue = CLASSIFY_MAX_INFLIGHT; /* never reached: our own cap comes first */
  int rc = classifier_new(a->loop, &c, &cs->cl);
  if (rc) {
    log_event(LOG_ERROR, "init_failed", LF_STR("what", "classifier"),
              LF_STR("error", uv_strerror(rc)));
    free(cs);
    return rc;
  }
  uv_timer_init(a->loop, &cs->timer);
  cs->timer.data = cs;
  /* The first round starts after one interval: visitors are new then anyway. */
  cs->round_start = uv_now(a->loop);
  cs->started = true;
  uv_timer_start(&cs->timer, on_timer, cs->interval_ms, 0);
  a->classify = cs;
  log_event(LOG_INFO, "classifier_on", LF_UINT("interval_ms", cs->interval_ms),
            LF_UINT("max_side", (uint64_t)cs->max_side),
            LF_UINT("timeout_ms", c.timeout_ms), LF_UINT("retries", c.retries),
            LF_BOOL("token", c.bearer[0] != '\0'));
  return 0;
}

static void part_closed(void *arg) {
  struct classify *cs = arg;
  if (--cs->pending > 0)
    return;
  void (*done)(void *) = cs->done;
  void *darg = cs->done_arg;
  free(cs->turns);
  free(cs);
  if (done)
    done(darg);
}

static void timer_closed(uv_handle_t *h) { part_closed(h->data); }

void classify_stop(struct app *a, void (*done)(void *arg), void *arg) {
  struct classify *cs = a->classify;
  if (!cs || cs->closing)
    return;
  a->classify = NULL;
  cs->closing = true;
  cs->done = done;
  cs->done_arg = arg;
  cs->pending = 3; /* the classifier, the timer, and this function */
  /* Answers what it holds with -ECANCELED from inside this call (on_verdict frees those). */
  classifier_close(cs->cl, part_closed, cs);
  cs->cl = NULL;
  /* What still waits for a snapshot is left behind: freed when moderate.c answers it. */
  for (struct cjob *j = cs->jobs, *next; j; j = next) {
    next = j->next;
    j->cs = NULL;
    j->prev = j->next = NULL;
  }
  cs->jobs = NULL;
  cs->n_jobs = 0;
  uv_close((uv_handle_t *)&cs->timer, timer_closed);
  part_closed(cs);
}

static void metric(FILE *f, const char *name, const char *type, const char *help, double v) {
  fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

void classify_metrics(void *file, struct app *a) {
  FILE *f = file;
  struct classify *cs = a->classify;
  struct classifier_stats st = {0};
  if (cs)
    classifier_get_stats(cs->cl, &st);
  metric(f, "tandem_classifier_on", "gauge", "1 when snapshots are sent to a classifier.", cs ? 1 : 0);
  metric(f, "tandem_classifier_turns_total", "counter", "Visitors whose snapshot was asked for.",
         cs ? (double)cs->n.turns : 0);
  fprintf(f,
          "# HELP tandem_classifier_skipped_total Turns skipped: busy, the visitor's previous "
          "one still in flight or too many in flight; unchanged, its picture judged already.\n"
          "# TYPE tandem_classifier_skipped_total counter\n"
          "tandem_classifier_skipped_total{reason=\"busy\"} %.17g\n"
          "tandem_classifier_skipped_total{reason=\"unchanged\"} %.17g\n",
          cs ? (double)cs->n.skipped : 0, cs ? (double)cs->n.unchanged : 0);
  metric(f, "tandem_classifier_snapshot_failures_total", "counter", "Snapshots that could not be taken.",
         cs ? (double)cs->n.snapshot_failures : 0);
  metric(f, "tandem_classifier_submitted_total", "counter", "Snapshots queued for the classifier.", (double)st.submitted);
  metric(f, "tandem_classifier_dropped_total", "counter", "Snapshots dropped: the classifier's queue was full.", (double)st.dropped);
  metric(f, "tandem_classifier_ok_total", "counter", "Verdicts received.", (double)st.ok);
  metric(f, "tandem_classifier_failed_total", "counter",
         "Snapshots without a verdict: timeouts, refused connections, bad answers (after retries).", (double)st.failed);
  metric(f, "tandem_classifier_retries_total", "counter", "Requests to the classifier tried again.", (double)st.retries);
  metric(f, "tandem_classifier_flagged_total", "counter", "Verdicts other than none.", (double)st.flagged);
  metric(f, "tandem_classifier_kicks_total", "counter", "Visitors kicked by a verdict.", cs ? (double)cs->n.kicks : 0);
  metric(f, "tandem_classifier_bans_total", "counter", "Visitors banned by a verdict.", cs ? (double)cs->n.bans : 0);
  metric(f, "tandem_classifier_inflight", "gauge", "Requests to the classifier being sent or waiting to be retried.", (double)st.inflight);
}
