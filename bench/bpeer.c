/* bpeer.c -- one simulated browser: the signalling state machine and its behaviour. */
#include "bench/bpeer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bpeer_int.h"
#include "bench/rxcheck.h"
#include "bench/wsclient.h"
#include "bench/xtalk.h"

#define OFFER_CAP 16384
#define RECONNECT_US 200000  /* a reload takes the page this long to come back */
#define REVISIT_US 2000000   /* a vanished seat is taken by a new visitor after this */
#define QUIET_END_US 3000000 /* no refresh or vanish starts this close to the end of the run */

static void visit_begin(struct bpeer *p, bool resume);

static uint64_t uniform_us(struct bpeer *p) {
  const struct bench_opts *o = p->run->o;
  return (uint64_t)(brun_uniform(p->run, o->skip_min_s, o->skip_max_s) * 1e6);
}

/* Microseconds from `from` to `to`, 0 when `to` is not later (timestamps taken in one loop
 * iteration may be a little out of order). */
static uint64_t since(uint64_t to, uint64_t from) { return to > from ? to - from : 0; }

static void sample(struct bpeer *p, enum bench_metric m, uint64_t from, uint64_t to) {
  stats_add(p->run->m[m], to > from ? (double)(to - from) / 1000.0 : 0.0);
}

static void trace(struct bpeer *p, const char *dir, const char *text, size_t len) {
  if ((int)p->index != p->run->o->trace_peer && p->run->o->trace_peer != -2)
    return;
  fprintf(stderr, "tandem-bench: peer %u (%s) %.3f s %s %.*s\n", p->index,
          bench_behaviour_names[p->behaviour],
          (double)brun_now_us(p->run) / 1e6, dir, (int)(len > 300 ? 300 : len), text);
}

static void send_json(struct bpeer *p, json_t *msg) {
  char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
  json_decref(msg);
  if (s)
    trace(p, p->ws ? "->" : "-> (no connection)", s, strlen(s));
  if (s && p->ws)
    wsclient_send_text(p->ws, s, strlen(s));
  free(s);
}

static bool pair_open(const struct bpeer *p) {
  return p->id && xtalk_pair_is_open(p->run->xt, p->id);
}

/* The pairing window ends now; `gap` starts the Next-to-first-frame clock. */
static void pair_end(struct bpeer *p, uint64_t now, bool gap) {
  if (pair_open(p)) {
    xtalk_pair_close(p->run->xt, p->id, now);
    if (p->tr)
      rxcheck_pairing_changed(p->tr);
  }
  p->measure_key = false;
  p->measure_resume = false; /* the pair did not survive a reload in progress */
  p->gap_for_pair = 0;
  if (gap) {
    p->t_gap = now;
    p->measure_gap = true;
  }
  if (p->action == ACT_NEXT)
    p->action = ACT_NONE;
}

static void send_next(struct bpeer *p, uint64_t now) {
  p->run->t.nexts++;
  send_json(p, json_pack("{s:s}", "type", "next"));
  pair_end(p, now, true);
}

static void send_start(struct bpeer *p, uint64_t now) {
  p->t_start_sent = now;
  p->measure_start = true;
  send_json(p, json_pack("{s:s, s:[], s:s}", "type", "start", "interests", "lang", "en"));
}

static void schedule(struct bpeer *p, enum bp_action a, uint64_t at) {
  p->action = a;
  p->action_us = at;
}

/* ---- server messages ---- */

static void on_welcome(struct bpeer *p, json_t *m) {
  struct brun *r = p->run;
  const char *tok = json_string_value(json_object_get(m, "resume"));
  bool resumed = json_is_true(json_object_get(m, "resumed"));
  if (tok)
    snprintf(p->token, sizeof(p->token), "%s", tok);
  if (p->resuming) {
    if (resumed)
      r->t.resumed++;
    else
      brun_error(r, BE_PROTOCOL, p->index, "the server did not resume the visit after a refresh");
  }
  char *offer = malloc(OFFER_CAP);
  int n = offer && p->tr ? bptransport_offer(p->tr, offer, OFFER_CAP) : -ENOMEM;
  if (n > 0)
    send_json(p, json_pack("{s:s, s:s%}", "type", "offer", "sdp", offer, (size_t)n));
  else
    brun_error(r, BE_PROTOCOL, p->index, "could not build an offer (%d)", n);
  free(offer);
}

static void on_state(struct bpeer *p, const char *s, uint64_t now) {
  struct brun *r = p->run;
  bool was = p->ready;
  if (!strcmp(s, "connecting"))
    return;
  p->ready = true;
  if (!was && !p->resuming) {
    r->t.ready++;
    p->ever_ready = true;
    sample(p, BM_READY, p->t_visit, now);
  }
  if (!strcmp(s, "ready")) {
    pair_end(p, now, false);
    /* The user presses Start as soon as the camera shows (again, after a lost pair). */
    if (!r->ending)
      send_start(p, now);
  } else if (!strcmp(s, "waiting")) {
    pair_end(p, now, false);
  } else if (!strcmp(s, "paired") && !pair_open(p)) {
    xtalk_pair_open(r->xt, p->id, now);
  }
}

static void on_matched(struct bpeer *p, json_t *m, uint64_t now) {
  struct brun *r = p->run;
  p->ready = true; /* only READY peers are matched; after a resume this is the state message */
  if (json_is_true(json_object_get(m, "resumed"))) {
    /* The pair survived our reload. The partner_video that follows repeats the old page's
     * timestamp, which this page never saw; a fresh one comes with the partner's keyframe. */
    if (!pair_open(p))
      xtalk_pair_open(r->xt, p->id, now);
    p->skip_pv = p->have_pv;
    return;
  }
  r->t.matched++;
  p->pairings++;
  xtalk_pair_open(r->xt, p->id, now);
  if (p->tr)
    rxcheck_pairing_changed(p->tr);
  if (p->measure_start) {
    sample(p, BM_START_MATCH, p->t_start_sent, now);
    p->measure_start = false;
  }
  p->t_matched = now;
  p->measure_key = true;
  if (p->measure_gap)
    sample(p, BM_NEXT_MATCH, p->t_gap, now);
  p->gap_for_pair = p->measure_gap ? p->t_gap : 0;
  p->measure_gap = false;
  switch (p->behaviour) {
  case BH_SKIP: schedule(p, ACT_NEXT, now + uniform_us(p)); break;
  case BH_REPORT: schedule(p, ACT_REPORT, now + uniform_us(p)); break;
  case BH_SKIPNOW: send_next(p, now); break;
  case BH_REFRESH:
  case BH_VANISH:
    /* One already due (from the last pairing) still comes, but not before --skip-min of this
     * one: a partner who reloads or vanishes a moment after meeting leaves the other side
     * without media for silence_ms (the server keeps the pair for a reload), which the check
     * rightly counts as missing media; --skip-min says no pairing ends that early. */
    if (p->action == ACT_NONE)
      schedule(p, p->behaviour == BH_REFRESH ? ACT_REFRESH : ACT_VANISH, now + uniform_us(p));
    else if (p->action_us < now + (uint64_t)(p->run->o->skip_min_s * 1e6))
      p->action_us = now + (uint64_t)(p->run->o->skip_min_s * 1e6);
    break;
  default: break;
  }
}

static void on_error_msg(struct bpeer *p, json_t *m) {
  const char *code = json_string_value(json_object_get(m, "code"));
  const char *msg = json_string_value(json_object_get(m, "message"));
  const char *ref = json_string_value(json_object_get(m, "ref"));
  if (code && ref && !strcmp(ref, "report") &&
      (!strcmp(code, "rate_limited") || !strcmp(code, "bad_state"))) {
    p->run->t.reports_limited++; /* over report_max, or the partner left first */
    return;
  }
  if (code && !strcmp(code, "cooldown")) {
    p->run->t.cooldowns++; /* the expected answer to too many Nexts */
    return;
  }
  if (code && !strcmp(code, "media_failed"))
    brun_error(p->run, BE_MEDIA_FAILED, p->index, "media_failed: %s", msg ? msg : "");
  else
    brun_error(p->run, BE_PROTOCOL, p->index, "server error %s: %s", code ? code : "?",
               msg ? msg : "");
}

static void ws_text(void *arg, const char *data, size_t len) {
  struct bpeer *p = arg;
  struct brun *r = p->run;
  uint64_t now = brun_now_us(r);
  trace(p, "<-", data, len);
  json_t *m = json_loadb(data, len, 0, NULL);
  const char *type = json_string_value(json_object_get(m, "type"));
  if (!type) {
    brun_error(r, BE_PROTOCOL, p->index, "a server message without a type");
  } else if (!strcmp(type, "welcome")) {
    on_welcome(p, m);
  } else if (!strcmp(type, "answer")) {
    const char *sdp = json_string_value(json_object_get(m, "sdp"));
    if (!sdp)
      brun_error(r, BE_BAD_ANSWER, p->index, "answer without sdp");
    else if (p->tr)
      bptransport_answer(p->tr, sdp, strlen(sdp));
  } else if (!strcmp(type, "state")) {
    const char *s = json_string_value(json_object_get(m, "state"));
    if (s)
      on_state(p, s, now);
  } else if (!strcmp(type, "matched")) {
    on_matched(p, m, now);
  } else if (!strcmp(type, "partner_video")) {
    json_t *jts = json_object_get(m, "ts");
    uint32_t ts = (uint32_t)json_integer_value(jts);
    bool stale = p->skip_pv && ts == p->last_pv_ts;
    p->skip_pv = false;
    if (json_is_integer(jts) && p->tr && pair_open(p) && !stale) {
      p->have_pv = true;
      p->last_pv_ts = ts;
      rxcheck_partner_video(p->tr, ts);
    }
  } else if (!strcmp(type, "reported")) {
    r->t.reported++;
  } else if (!strcmp(type, "partner_left")) {
    r->t.partner_left++;
    pair_end(p, now, true);
  } else if (!strcmp(type, "error")) {
    on_error_msg(p, m);
  }
  json_decref(m);
}

static void ws_open(void *arg) {
  struct bpeer *p = arg;
  p->connected = true;
  if (p->resuming && p->token[0])
    send_json(p, json_pack("{s:s, s:s}", "type", "hello", "resume", p->token));
  else
    send_json(p, json_pack("{s:s, s:n}", "type", "hello", "resume"));
}

static void ws_closed(void *arg, int err, uint16_t code) {
  struct bpeer *p = arg;
  struct brun *r = p->run;
  p->ws = NULL;
  p->connected = false;
  if (p->finished)
    return;
  if (err && !p->ready)
    brun_error(r, BE_WS_CONNECT, p->index, "WebSocket failed: %s", uv_strerror(err));
  else
    brun_error(r, BE_WS_CLOSED, p->index, "the server closed the WebSocket (%d, code %u)", err,
               code);
  /* This visit is over; the seat stays empty (the error fails the run anyway). */
  pair_end(p, brun_now_us(r), false);
  if (p->tr) {
    bptransport_close(p->tr, true);
    p->tr = NULL;
  }
  p->action = ACT_NONE;
}

static const struct wsclient_events ws_events = {ws_open, ws_text, ws_closed};

/* ---- visits ---- */

static void visit_begin(struct bpeer *p, bool resume) {
  struct brun *r = p->run;
  uint64_t now = brun_now_us(r);
  if (!resume) {
    p->id = xtalk_identity_new(r->xt, p->index);
    p->token[0] = 0;
    r->t.visits++;
  }
  p->resuming = resume;
  p->visits++;
  p->t_visit = now;
  p->ready = p->ready_late = false;
  p->measure_start = p->measure_key = false;
  p->tr = bptransport_new(p);
  if (!p->tr) {
    brun_error(r, BE_WS_CONNECT, p->index, "could not open a UDP socket");
    return;
  }
  int rc = wsclient_open(r->loop, (const struct sockaddr *)&r->http_addr, r->host_hdr, "/ws",
                         &ws_events, p, &p->ws);
  if (rc) {
    p->ws = NULL;
    brun_error(r, BE_WS_CONNECT, p->index, "cannot connect: %s", uv_strerror(rc));
  }
}

/* Drops the page: the WebSocket (politely or not) and the media session, without close_notify,
 * as a tab that reloads or dies does. */
static void drop_page(struct bpeer *p, bool polite_ws) {
  if (p->ws) {
    if (polite_ws)
      wsclient_close(p->ws, 1001);
    else
      wsclient_abort(p->ws);
    p->ws = NULL;
  }
  p->connected = false;
  if (p->tr) {
    bptransport_close(p->tr, false);
    p->tr = NULL;
  }
}

static void run_action(struct bpeer *p, uint64_t now) {
  struct brun *r = p->run;
  enum bp_action a = p->action;
  p->action = ACT_NONE;
  /* A reload or a vanish needs time to play out; near the end it would only be cut short. */
  if ((a == ACT_REFRESH || a == ACT_VANISH) &&
      now + QUIET_END_US > r->end_us)
    return;
  switch (a) {
  case ACT_NEXT:
    if (pair_open(p))
      send_next(p, now);
    break;
  case ACT_REPORT:
    /* The server moves a reporter on at once, as for Next. */
    if (pair_open(p)) {
      r->t.reports++;
      send_json(p, json_pack("{s:s, s:s}", "type", "report", "reason", "spam"));
      pair_end(p, now, true);
    }
    break;
  case ACT_REFRESH:
    r->t.refreshes++;
    drop_page(p, true);
    p->ready = false;
    p->t_visit = now; /* the READY deadline restarts with the reload */
    schedule(p, ACT_REVISIT, now + RECONNECT_US);
    p->measure_resume = true;
    p->t_reconnect = now;
    break;
  case ACT_VANISH:
    r->t.vanished++;
    pair_end(p, now, false);
    drop_page(p, false);
    p->measure_resume = false;
    schedule(p, ACT_REVISIT, now + REVISIT_US);
    p->id = 0; /* this visitor is gone for good */
    break;
  case ACT_REVISIT:
    visit_begin(p, p->id != 0);
    if (p->behaviour == BH_REFRESH && p->id)
      schedule(p, ACT_REFRESH, now + uniform_us(p));
    break;
  default: break;
  }
}

void bpeer__on_partner_keyframe(struct bpeer *p, uint64_t t_us) {
  if (p->measure_key) {
    sample(p, BM_MATCH_KEY, p->t_matched, t_us);
    p->measure_key = false;
  }
  if (p->gap_for_pair) {
    sample(p, BM_NEXT_FRAME, p->gap_for_pair, t_us);
    p->gap_for_pair = 0;
  }
}

void bpeer__on_media(struct bpeer *p, uint64_t t_us) {
  if (p->measure_resume && p->resuming) {
    sample(p, BM_RESUME, p->t_reconnect, t_us);
    p->measure_resume = false;
  }
}

void bpeer__on_transport_closed(struct bpeer *p) { p->closing_transports--; }

/* ---- public ---- */

struct bpeer *bpeer_new(struct brun *run, uint32_t index, enum bench_behaviour b) {
  struct bpeer *p = calloc(1, sizeof(*p));
  if (!p)
    return NULL;
  p->run = run;
  p->index = index;
  p->behaviour = b;
  return p;
}

void bpeer_start(struct bpeer *p) { visit_begin(p, false); }

void bpeer_tick(struct bpeer *p, uint64_t now) {
  if (p->finished)
    return;
  if (p->tr) {
    bptransport_tick(p->tr, now);
    p->ever_media |= p->tr->srtp != NULL;
  }
  /* Without video the server never reports READY (it waits for video), so nobody waits. */
  if (p->run->o->video && p->id && !p->ready_late && !(p->ready && p->tr && p->tr->srtp) &&
      since(now, p->t_visit) > (uint64_t)(p->run->o->ready_timeout_s * 1e6)) {
    p->ready_late = true;
    brun_error(p->run, BE_READY_TIMEOUT, p->index, "not READY %.0f s after connecting",
               p->run->o->ready_timeout_s);
  }
  if (p->action != ACT_NONE && now >= p->action_us)
    run_action(p, now);
}

void bpeer_finish(struct bpeer *p) {
  if (p->finished)
    return;
  uint64_t now = brun_now_us(p->run);
  pair_end(p, now, false);
  p->finished = true;
  p->action = ACT_NONE;
  if (p->ws) {
    wsclient_close(p->ws, 1000);
    p->ws = NULL;
  }
  if (p->tr) {
    bptransport_close(p->tr, true);
    p->tr = NULL;
  }
}

bool bpeer_closed(const struct bpeer *p) { return p->finished && p->closing_transports == 0; }

void bpeer_free(struct bpeer *p) { free(p); }

void bpeer_view(const struct bpeer *p, struct bpeer_view *v) {
  bool media = p->tr && p->tr->srtp;
  *v = (struct bpeer_view){
      .behaviour = p->behaviour,
      .connected = p->connected,
      .ready = p->ready && media,
      .paired = pair_open(p),
      .ever_ready = p->ever_ready,
      .ever_media = p->ever_media,
      .visits = p->visits,
      .pairings = p->pairings,
  };
}
