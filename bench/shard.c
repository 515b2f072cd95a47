/* shard.c -- tandem-bench --shard K/N and --merge: one run driven by several processes. */
#include "bench/shard.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/xtalk.h"

/* Every counter of struct bench_totals but err[], by name (err[] goes by bench_err_names). */
#define TOTAL(f) {#f, offsetof(struct bench_totals, f)}
static const struct {
  const char *name;
  size_t off;
} totals[] = {
    TOTAL(visits),         TOTAL(ready),          TOTAL(matched),        TOTAL(nexts),
    TOTAL(partner_left),   TOTAL(cooldowns),      TOTAL(refreshes),      TOTAL(resumed),
    TOTAL(vanished),       TOTAL(reports),        TOTAL(reported),       TOTAL(reports_limited),
    TOTAL(tx_packets),     TOTAL(tx_bytes),       TOTAL(tx_dropped),     TOTAL(rx_packets),
    TOTAL(rx_bytes),       TOTAL(rtp_packets[0]), TOTAL(rtp_packets[1]), TOTAL(rtp_bytes[0]),
    TOTAL(rtp_bytes[1]),   TOTAL(forged_alerts),  TOTAL(udp_rx),         TOTAL(tcp_connects),
    TOTAL(tcp_connected),  TOTAL(tcp_rx_frames),  TOTAL(tcp_rx_bytes),   TOTAL(tcp_queued),
    TOTAL(plis),           TOTAL(firs),           TOTAL(nacks),          TOTAL(keyframes_sent),
    TOTAL(xtalk_order[0]), TOTAL(xtalk_order[1]), TOTAL(xtalk_foreign),  TOTAL(xtalk_window),
    TOTAL(pv_unseen),      TOTAL(pairings_checked), TOTAL(pairings_ok),
};
#define N_TOTALS (sizeof(totals) / sizeof(totals[0]))
/* A counter added to struct bench_totals must be added above, or a merge would lose it. */
_Static_assert(sizeof(struct bench_totals) == (N_TOTALS + BE_COUNT) * sizeof(uint64_t),
               "struct bench_totals has a counter the shard JSON does not carry");

static uint64_t *total_at(struct bench_totals *t, size_t i) {
  return (uint64_t *)(void *)((char *)t + totals[i].off);
}

static json_t *id_json(uint64_t id) {
  char hex[17];
  snprintf(hex, sizeof(hex), "%016" PRIx64, id);
  return json_string(hex);
}

static bool id_parse(const json_t *j, uint64_t *id) {
  const char *s = json_string_value(j);
  char *end;
  if (!s || strlen(s) != 16)
    return false;
  *id = strtoull(s, &end, 16);
  return *end == 0;
}

json_t *shard_json(const struct brun *r, const struct bench_result *res) {
  json_t *tot = json_object(), *err = json_object(), *samples = json_object(),
         *ids = json_array();
  json_t *root = json_pack("{s:i, s:i, s:I, s:I, s:f}", "k", (int)r->o->shard_k, "n",
                           (int)r->o->shard_n, "nonce", (json_int_t)r->nonce, "t0_unix_us",
                           (json_int_t)r->t0_unix_us, "wall_s", res->wall_s);
  if (!tot || !err || !samples || !ids || !root)
    goto fail;
  struct bench_totals t = r->t;
  for (size_t i = 0; i < N_TOTALS; i++)
    json_object_set_new(tot, totals[i].name, json_integer((json_int_t)*total_at(&t, i)));
  for (int e = 0; e < BE_COUNT; e++)
    json_object_set_new(err, bench_err_names[e], json_integer((json_int_t)r->t.err[e]));
  json_object_set_new(tot, "err", err);
  err = NULL;
  for (int m = 0; m < BM_COUNT; m++) {
    json_t *a = json_array();
    const double *v = stats_values(r->m[m]);
    for (size_t i = 0; a && i < stats_count(r->m[m]); i++)
      json_array_append_new(a, json_real(v[i]));
    json_object_set_new(samples, bench_metric_names[m], a ? a : json_null());
  }
  for (size_t i = 0; i < xtalk_count(r->xt); i++) {
    uint64_t id;
    uint32_t peer;
    const struct xtalk_window *w;
    const struct xtalk_segment *s;
    size_t nw, ns;
    xtalk_get(r->xt, i, &id, &peer, &w, &nw, &s, &ns);
    json_t *jw = json_array(), *js = json_array();
    for (size_t k = 0; jw && k < nw; k++)
      json_array_append_new(jw, json_pack("[I, I]", (json_int_t)w[k].start,
                                          (json_int_t)w[k].end));
    for (size_t k = 0; js && k < ns; k++)
      json_array_append_new(js, json_pack("[o, I, I, I, i, i]", id_json(s[k].sender),
                                          (json_int_t)s[k].t_first, (json_int_t)s[k].t_last,
                                          (json_int_t)s[k].packets, (int)s[k].stream,
                                          s[k].kind));
    json_t *d = json_pack("{s:o, s:i, s:o, s:o}", "id", id_json(id), "peer", (int)peer, "w",
                          jw ? jw : json_null(), "s", js ? js : json_null());
    if (!d || json_array_append_new(ids, d) != 0)
      goto fail;
  }
  json_object_set_new(root, "totals", tot);
  json_object_set_new(root, "samples", samples);
  json_object_set_new(root, "visits", ids);
  return root;
fail:
  json_decref(tot);
  json_decref(err);
  json_decref(samples);
  json_decref(ids);
  json_decref(root);
  return NULL;
}

/* ---- --merge ---- */

static double num(const json_t *o, const char *k) {
  return json_number_value(json_object_get(o, k));
}

static uint64_t u64(const json_t *o, const char *k) {
  json_int_t v = json_integer_value(json_object_get(o, k));
  return v > 0 ? (uint64_t)v : 0;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -EINVAL;
}

/* The options a shard ran with, from its "config". */
static void config_read(const json_t *c, struct bench_opts *o) {
  const char *url = json_string_value(json_object_get(c, "url"));
  snprintf(o->url, sizeof(o->url), "%s", url ? url : "");
  o->peers = (int)num(c, "peers");
  o->duration_s = num(c, "duration_s");
  o->ramp = num(c, "ramp");
  const json_t *mix = json_object_get(c, "mix");
  for (int b = 0; b < BH_COUNT; b++)
    o->mix[b] = (int)num(mix, bench_behaviour_names[b]);
  o->skip_min_s = num(c, "skip_min_s");
  o->skip_max_s = num(c, "skip_max_s");
  o->video_kbps = (int)num(c, "video_kbps");
  o->video = json_is_true(json_object_get(c, "video"));
  o->audio = json_is_true(json_object_get(c, "audio"));
  o->seed = u64(c, "seed");
  const char *tr = json_string_value(json_object_get(c, "transport"));
  o->tcp = tr && !strcmp(tr, "tcp");
  o->trace_peer = -1;
}

/* The server's figures as shard 1 measured them. */
static void server_read(const json_t *s, struct bench_result *res) {
  res->server_pid = (int)num(s, "pid");
  res->srv_valid = json_is_true(json_object_get(s, "valid"));
  res->srv_window_s = num(s, "window_s");
  res->srv_cpu_s = num(s, "cpu_s");
  res->srv_forwarded = num(s, "forwarded");
  res->srv_us_per_packet = num(s, "cpu_us_per_forwarded_packet");
  res->srv_cpu_pct = num(s, "cpu_pct");
  res->rss_base_kib = (long)num(s, "rss_base_kib");
  res->rss_full_kib = (long)num(s, "rss_full_kib");
  res->rss_per_peer_kib = num(s, "rss_per_peer_kib");
  res->connect_valid = json_is_true(json_object_get(s, "connect_valid"));
  res->ramp_handshakes = num(s, "ramp_handshakes");
  res->ramp_cpu_s = num(s, "ramp_cpu_s");
  res->ramp_ms_per_connect = num(s, "ramp_cpu_ms_per_connect");
  res->srv_dtls_failed = num(s, "dtls_failures");
  res->srv_srtp_errors = num(s, "srtp_errors");
  res->srv_dropped = num(s, "rtp_dropped");
  res->srv_keyframe_requests = num(s, "keyframe_requests");
  res->srv_media_failures = num(s, "media_failures");
}

/* Shard k's visits into the merged registry, its times moved by off_us. */
static int visits_read(const json_t *visits, unsigned k, uint64_t off_us, struct xtalk *x,
                       uint64_t *end_us, char *err, size_t errlen) {
  size_t i;
  const json_t *v;
  json_array_foreach(visits, i, v) {
    uint64_t id;
    const json_t *jw = json_object_get(v, "w"), *js = json_object_get(v, "s");
    if (!id_parse(json_object_get(v, "id"), &id) || xtalk_id_shard(id) != k ||
        !json_is_array(jw) || !json_is_array(js))
      return fail(err, errlen, "shard %u: visit %zu is not one of this shard's", k, i);
    size_t nw = json_array_size(jw), ns = json_array_size(js);
    struct xtalk_window *w = calloc(nw ? nw : 1, sizeof(*w));
    struct xtalk_segment *s = calloc(ns ? ns : 1, sizeof(*s));
    int rc = w && s ? 0 : -ENOMEM;
    for (size_t q = 0; rc == 0 && q < nw; q++) {
      const json_t *a = json_array_get(jw, q);
      w[q].start = (uint64_t)json_integer_value(json_array_get(a, 0)) + off_us;
      w[q].end = (uint64_t)json_integer_value(json_array_get(a, 1)) + off_us;
      *end_us = w[q].end > *end_us ? w[q].end : *end_us;
    }
    for (size_t q = 0; rc == 0 && q < ns; q++) {
      const json_t *a = json_array_get(js, q);
      if (!id_parse(json_array_get(a, 0), &s[q].sender))
        rc = fail(err, errlen, "shard %u: a run of media without a sender id", k);
      s[q].t_first = (uint64_t)json_integer_value(json_array_get(a, 1)) + off_us;
      s[q].t_last = (uint64_t)json_integer_value(json_array_get(a, 2)) + off_us;
      s[q].packets = (uint64_t)json_integer_value(json_array_get(a, 3));
      s[q].stream = (uint32_t)json_integer_value(json_array_get(a, 4));
      s[q].kind = json_integer_value(json_array_get(a, 5)) ? 1 : 0;
    }
    if (rc == 0)
      rc = xtalk_import(x, id, (uint32_t)num(v, "peer"), w, nw, s, ns);
    free(w);
    free(s);
    if (rc == -EEXIST || rc == -EINVAL)
      return fail(err, errlen, "shard %u: visit id %016" PRIx64 " twice or not of this run", k,
                  id);
    if (rc)
      return rc;
  }
  return 0;
}

void shard_merged_free(struct shard_merged *m) {
  xtalk_free(m->run.xt);
  for (int k = 0; k < BM_COUNT; k++)
    stats_free(m->run.m[k]);
  memset(m, 0, sizeof(*m));
}

/* Checks that docs are the N shards of one run; *first gets shard 1. */
static int check_shards(json_t *const *docs, size_t n, const json_t **first, char *err,
                        size_t errlen) {
  bool seen[XTALK_MAX_SHARDS + 1] = {false};
  json_t *cfg0 = NULL;
  uint64_t nonce0 = 0;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const json_t *sh = json_object_get(docs[i], "shard");
    json_int_t k = json_integer_value(json_object_get(sh, "k"));
    json_int_t nn = json_integer_value(json_object_get(sh, "n"));
    json_t *cfg = json_deep_copy(json_object_get(docs[i], "config"));
    if (!json_is_object(sh) || !cfg || !json_is_array(json_object_get(sh, "visits")))
      rc = fail(err, errlen, "result %zu is not a --shard K/N --json result", i + 1);
    else if (nn != (json_int_t)n || k < 1 || k > nn || seen[k])
      rc = fail(err, errlen, "result %zu is shard %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
                             ": give every shard of the run once (%zu given)", i + 1, k, nn, n);
    else {
      seen[k] = true;
      json_object_del(cfg, "url"); /* each shard may have come in through its own address */
      if (k == 1)
        *first = docs[i];
      if (!cfg0) {
        cfg0 = json_incref(cfg);
        nonce0 = u64(sh, "nonce");
      } else if (!json_equal(cfg, cfg0) || u64(sh, "nonce") != nonce0) {
        rc = fail(err, errlen, "result %zu is not of the same run as result 1 (options or "
                               "--seed differ)", i + 1);
      }
    }
    json_decref(cfg);
  }
  json_decref(cfg0);
  return rc;
}

int shard_merge(json_t *const *docs, size_t n, struct shard_merged *m, char *err, size_t errlen) {
  memset(m, 0, sizeof(*m));
  if (n < 1 || n > XTALK_MAX_SHARDS)
    return fail(err, errlen, "--merge takes the results of 1 to %d shards", XTALK_MAX_SHARDS);
  const json_t *first = NULL;
  int rc = check_shards(docs, n, &first, err, errlen);
  if (rc)
    return rc;
  struct brun *r = &m->run;
  struct bench_result *res = &m->res;
  const json_t *sh1 = json_object_get(first, "shard");
  config_read(json_object_get(first, "config"), &m->o);
  m->o.shard_n = (unsigned)n;
  r->o = &m->o;
  r->nonce = (uint32_t)u64(sh1, "nonce");
  r->xt = xtalk_new(r->nonce);
  rc = r->xt ? 0 : -ENOMEM;
  for (int k = 0; k < BM_COUNT && rc == 0; k++)
    if (!(r->m[k] = stats_new()))
      rc = -ENOMEM;
  uint64_t t0 = UINT64_MAX, end_us = 0;
  for (size_t i = 0; i < n; i++)
    t0 = u64(json_object_get(docs[i], "shard"), "t0_unix_us") < t0
             ? u64(json_object_get(docs[i], "shard"), "t0_unix_us")
             : t0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const json_t *d = docs[i], *sh = json_object_get(d, "shard");
    const json_t *tot = json_object_get(sh, "totals"), *samples = json_object_get(sh, "samples");
    for (size_t q = 0; q < N_TOTALS; q++)
      *total_at(&r->t, q) += u64(tot, totals[q].name);
    for (int e = 0; e < BE_COUNT; e++)
      r->t.err[e] += u64(json_object_get(tot, "err"), bench_err_names[e]);
    for (int k = 0; k < BM_COUNT && rc == 0; k++) {
      size_t q;
      const json_t *v;
      json_array_foreach(json_object_get(samples, bench_metric_names[k]), q, v) {
        if (stats_add(r->m[k], json_number_value(v)) == -ENOMEM)
          rc = -ENOMEM;
      }
    }
    const json_t *by = json_object_get(json_object_get(d, "peers"), "by_behaviour");
    for (int b = 0; b < BH_COUNT; b++) {
      const json_t *x = json_object_get(by, bench_behaviour_names[b]);
      res->by[b].peers += (uint32_t)u64(x, "peers");
      res->by[b].ever_ready += (uint32_t)u64(x, "ever_ready");
      res->by[b].visits += (uint32_t)u64(x, "visits");
      res->by[b].pairings_checked += (uint32_t)u64(x, "pairings_checked");
      res->by[b].pairings_ok += (uint32_t)u64(x, "pairings_ok");
      res->by[b].peers_with_media += (uint32_t)u64(x, "peers_with_media");
    }
    res->peers += (uint32_t)u64(json_object_get(d, "peers"), "total");
    res->wall_s = num(d, "wall_s") > res->wall_s ? num(d, "wall_s") : res->wall_s;
    res->bench_cpu_s += num(json_object_get(d, "bench"), "cpu_s");
    res->bench_cpu_pct += num(json_object_get(d, "bench"), "cpu_pct");
    if (rc == 0)
      rc = visits_read(json_object_get(sh, "visits"), (unsigned)u64(sh, "k"),
                       u64(sh, "t0_unix_us") - t0, r->xt, &end_us, err, errlen);
  }
  if (rc) {
    shard_merged_free(m);
    return rc;
  }
  /* The audit again, over every shard's visits on one time axis: now every sender's windows
   * and media are at hand, so runs from another shard's visitors are checked in full. */
  struct xtalk_result xr;
  unsigned kinds = (m->o.audio ? 1u : 0u) | (m->o.video ? 2u : 0u);
  xtalk_audit(r->xt, end_us, BENCH_XTALK_TOL_US, BENCH_MIN_PAIR_US, kinds, 20, NULL, NULL, 0,
              &xr);
  /* As in one process: missing_media counts the pairings >= 3 s without the partner's media
   * by this audit (the shards' own counts of them give way to it). */
  uint64_t shards_missing = r->t.pairings_checked - r->t.pairings_ok;
  r->t.err[BE_MISSING_MEDIA] = r->t.err[BE_MISSING_MEDIA] > shards_missing
                                   ? r->t.err[BE_MISSING_MEDIA] - shards_missing
                                   : 0;
  r->t.err[BE_MISSING_MEDIA] += xr.pairings - xr.pairings_ok;
  r->t.xtalk_window = xr.bad_segments;
  r->t.pairings_checked = xr.pairings;
  r->t.pairings_ok = xr.pairings_ok;
  res->segments_checked = xr.segments;
  res->cross_shard = xr.cross_shard;
  res->xtalk_deferred = xr.deferred; /* 0: every shard is here */
  res->xtalk_total = r->t.xtalk_order[0] + r->t.xtalk_order[1] + r->t.xtalk_foreign +
                     r->t.xtalk_window;
  for (int e = 0; e < BE_COUNT; e++)
    res->errors_total += r->t.err[e];
  res->ok = res->xtalk_total == 0 && res->errors_total == 0;
  res->shard_n = (unsigned)n;
  res->merged = true;
  res->video_kbps_encoded = num(json_object_get(first, "media"), "video_kbps_encoded");
  server_read(json_object_get(first, "server"), res);
  return 0;
}
