/* test_shardmerge.c -- tandem-bench --shard/--merge: sender ids of shards never collide, a
 * shard audits another shard's visitor on the receiver's side only, and the merge sums two
 * shards' --json results and audits cross-talk across them (on one time axis). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "bench/shard.h"
#include "bench/summary.h"
#include "bench/xtalk.h"

#define NONCE 0x1234abcdu
#define S 1000000ull /* one second in microseconds */
#define T0 1700000000000000ull

/* One shard of a 4-seat run: seats k-1 and k+1 (peer numbers), its registry, counters and
 * samples; what main.c would have before printing its --json summary. */
struct fake_shard {
  struct bench_opts o;
  struct brun r;
  struct bench_result res;
  uint64_t id[2];
};

static void shard_init(struct fake_shard *f, unsigned k, uint64_t t0_unix_us) {
  memset(f, 0, sizeof(*f));
  snprintf(f->o.url, sizeof(f->o.url), "http://127.0.0.1:%u", 8000 + k);
  f->o.peers = 4;
  f->o.duration_s = 10;
  f->o.ramp = 50;
  f->o.mix[BH_STAY] = 100;
  f->o.skip_min_s = 5;
  f->o.skip_max_s = 15;
  f->o.video_kbps = 300;
  f->o.video = f->o.audio = true;
  f->o.seed = 9;
  f->o.shard_k = k;
  f->o.shard_n = 2;
  f->r.o = &f->o;
  f->r.nonce = NONCE;
  f->r.t0_unix_us = t0_unix_us;
  f->r.xt = xtalk_new(NONCE);
  assert_non_null(f->r.xt);
  xtalk_set_shard(f->r.xt, k, 2);
  for (int m = 0; m < BM_COUNT; m++)
    assert_non_null(f->r.m[m] = stats_new());
  for (int i = 0; i < 2; i++)
    f->id[i] = xtalk_identity_new(f->r.xt, (uint32_t)(k - 1 + 2 * i));
  f->res.wall_s = 10;
  f->res.peers = 2;
  f->res.by[BH_STAY].peers = 2;
  f->res.by[BH_STAY].ever_ready = 2;
  f->res.by[BH_STAY].visits = 2;
  f->res.shard_k = k;
  f->res.shard_n = 2;
  f->res.bench_cpu_s = 1;
}

static void shard_free(struct fake_shard *f) {
  xtalk_free(f->r.xt);
  for (int m = 0; m < BM_COUNT; m++)
    stats_free(f->r.m[m]);
}

/* self received audio and video from sender over [a, b] (local microseconds) on stream st. */
static void receive(struct fake_shard *f, uint64_t self, uint64_t sender, uint32_t st, uint64_t a,
                    uint64_t b) {
  for (int kind = 0; kind < 2; kind++) {
    int seg = xtalk_seg_begin(f->r.xt, self, st, kind, sender, a);
    assert_true(seg >= 0);
    xtalk_seg_touch(f->r.xt, self, seg, b);
  }
}

/* The shard's own audit (as main.c's gather) and its --json summary, parsed. */
static json_t *shard_doc(struct fake_shard *f, uint64_t end_us) {
  struct xtalk_result xr;
  xtalk_audit(f->r.xt, end_us, BENCH_XTALK_TOL_US, BENCH_MIN_PAIR_US, 3, 0, NULL, NULL, 0, &xr);
  f->r.t.xtalk_window = xr.bad_segments;
  f->r.t.pairings_checked = xr.pairings;
  f->r.t.pairings_ok = xr.pairings_ok;
  f->res.segments_checked = xr.segments;
  f->res.cross_shard = xr.cross_shard;
  f->res.xtalk_deferred = xr.deferred;
  f->res.xtalk_total = xr.bad_segments;
  f->res.by[BH_STAY].pairings_checked = (uint32_t)xr.pairings;
  f->res.by[BH_STAY].pairings_ok = (uint32_t)xr.pairings_ok;
  f->res.ok = xr.bad_segments == 0;
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  assert_non_null(mem);
  summary_print_json(mem, &f->r, &f->res);
  fclose(mem);
  json_error_t je;
  json_t *doc = json_loads(text, 0, &je);
  free(text);
  assert_non_null(doc);
  return doc;
}

/* Two shards: seat 0 (shard 1) paired with seat 1 (shard 2) from 5 s to 10 s of the run, and
 * seat 2 (shard 1) with seat 3 (shard 2) from 6 s to 11 s. Shard 2 started 3 s after shard 1
 * on the wall clock (more than the audit's slack), so its local times are 3 s less.
 * `doctor`: seat 1 also "received" 1.5 s of seat 2's media on a stream of its own while
 * paired with seat 0 (what only the merge can see). */
static void make_run(json_t *docs[2], bool doctor, uint64_t *shard2_local_bad) {
  struct fake_shard a, b;
  const uint64_t off = 3 * S; /* shard 2's local time = run time - off */
  shard_init(&a, 1, T0);
  shard_init(&b, 2, T0 + off);
  /* Ids never collide across shards, and each shard takes the other's as plausible, but not
   * an id of a shard the run does not have or of another run. */
  assert_int_not_equal(a.id[0], b.id[0]);
  assert_int_equal(xtalk_id_shard(a.id[0]), 1);
  assert_int_equal(xtalk_id_shard(b.id[0]), 2);
  assert_true(xtalk_known(a.r.xt, b.id[1]));
  assert_false(xtalk_known(a.r.xt, (b.id[1] & ~(0xffull << 24)) | (3ull << 24)));
  assert_false(xtalk_known(a.r.xt, b.id[1] ^ (1ull << 40)));
  xtalk_pair_open(a.r.xt, a.id[0], 5 * S);
  xtalk_pair_close(a.r.xt, a.id[0], 10 * S);
  xtalk_pair_open(b.r.xt, b.id[0], 5 * S - off + 50000);
  xtalk_pair_close(b.r.xt, b.id[0], 10 * S - off);
  receive(&a, a.id[0], b.id[0], 1, 5 * S + 100000, 10 * S - 100000);
  receive(&b, b.id[0], a.id[0], 1, 5 * S - off + 100000, 10 * S - off - 100000);
  xtalk_pair_open(a.r.xt, a.id[1], 6 * S);
  xtalk_pair_close(a.r.xt, a.id[1], 11 * S);
  xtalk_pair_open(b.r.xt, b.id[1], 6 * S - off);
  xtalk_pair_close(b.r.xt, b.id[1], 11 * S - off);
  receive(&a, a.id[1], b.id[1], 2, 6 * S + 100000, 11 * S - 100000);
  receive(&b, b.id[1], a.id[1], 2, 6 * S - off + 100000, 11 * S - off - 100000);
  if (doctor) {
    int seg = xtalk_seg_begin(b.r.xt, b.id[0], 9, 0, a.id[1], 6 * S - off);
    xtalk_seg_touch(b.r.xt, b.id[0], seg, 7 * S + S / 2 - off);
  }
  /* Counters and samples to be summed and pooled. */
  a.r.t.matched = 2;
  b.r.t.matched = 3;
  a.r.t.rx_packets = 100;
  b.r.t.rx_packets = 250;
  for (int i = 1; i <= 10; i++)
    stats_add(a.r.m[BM_READY], i);
  for (int i = 11; i <= 30; i++)
    stats_add(b.r.m[BM_READY], i);
  docs[0] = shard_doc(&a, 12 * S);
  docs[1] = shard_doc(&b, 12 * S - off);
  *shard2_local_bad = b.r.t.xtalk_window;
  json_t *sh = json_object_get(docs[1], "shards");
  assert_int_equal(json_integer_value(json_object_get(sh, "cross_shard_runs")), doctor ? 5 : 4);
  assert_int_equal(json_integer_value(json_object_get(sh, "deferred_runs")), doctor ? 5 : 4);
  shard_free(&a);
  shard_free(&b);
}

static void test_merge_clean(void **state) {
  (void)state;
  json_t *docs[2];
  uint64_t bad;
  make_run(docs, false, &bad);
  assert_int_equal(bad, 0);
  struct shard_merged m;
  char err[256];
  assert_int_equal(shard_merge(docs, 2, &m, err, sizeof(err)), 0);
  assert_true(m.res.merged);
  assert_true(m.res.ok);
  assert_int_equal(m.res.xtalk_total, 0);
  assert_int_equal(m.res.segments_checked, 8);
  assert_int_equal(m.res.cross_shard, 8);
  assert_int_equal(m.res.xtalk_deferred, 0);
  assert_int_equal(m.res.peers, 4);
  assert_int_equal(m.res.by[BH_STAY].peers, 4);
  assert_int_equal(m.run.t.matched, 5);
  assert_int_equal(m.run.t.rx_packets, 350);
  assert_int_equal(m.run.t.pairings_checked, 4);
  assert_int_equal(m.run.t.pairings_ok, 4);
  /* Percentiles over the pooled samples 1..30, not an average of the shards' percentiles. */
  assert_int_equal(stats_count(m.run.m[BM_READY]), 30);
  assert_true(stats_pct(m.run.m[BM_READY], 0.5) == 15);
  assert_true(stats_pct(m.run.m[BM_READY], 0.95) == 29);
  assert_int_equal(m.o.peers, 4);
  shard_merged_free(&m);
  json_decref(docs[0]);
  json_decref(docs[1]);
}

static void test_merge_finds_cross_talk(void **state) {
  (void)state;
  json_t *docs[2];
  uint64_t bad;
  make_run(docs, true, &bad);
  /* Shard 2 alone cannot tell: the sender's windows and media are in shard 1's process. */
  assert_int_equal(bad, 0);
  struct shard_merged m;
  char err[256];
  assert_int_equal(shard_merge(docs, 2, &m, err, sizeof(err)), 0);
  assert_false(m.res.ok);
  assert_int_equal(m.run.t.xtalk_window, 1);
  assert_int_equal(m.res.xtalk_total, 1);
  shard_merged_free(&m);
  json_decref(docs[0]);
  json_decref(docs[1]);
}

/* Without the wall-clock offset, shard 2's pairings would sit 3 s early: the merge must move
 * them. Doctoring the offset away shows the audit does look at the times. */
static void test_merge_time_axis(void **state) {
  (void)state;
  json_t *docs[2];
  uint64_t bad;
  make_run(docs, false, &bad);
  json_object_set_new(json_object_get(docs[1], "shard"), "t0_unix_us",
                      json_integer((json_int_t)T0));
  struct shard_merged m;
  char err[256];
  assert_int_equal(shard_merge(docs, 2, &m, err, sizeof(err)), 0);
  assert_false(m.res.ok);
  assert_true(m.run.t.xtalk_window > 0);
  shard_merged_free(&m);
  json_decref(docs[0]);
  json_decref(docs[1]);
}

static void test_merge_refuses(void **state) {
  (void)state;
  json_t *docs[2], *two[2];
  uint64_t bad;
  make_run(docs, false, &bad);
  struct shard_merged m;
  char err[256];
  /* Shard 1 twice, shard 1 alone of two, and a shard of another run. */
  two[0] = two[1] = docs[0];
  assert_int_equal(shard_merge(two, 2, &m, err, sizeof(err)), -EINVAL);
  assert_int_equal(shard_merge(docs, 1, &m, err, sizeof(err)), -EINVAL);
  json_object_set_new(json_object_get(docs[1], "config"), "seed", json_integer(10));
  assert_int_equal(shard_merge(docs, 2, &m, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "same run"));
  /* A different --url is fine: each machine may reach the run through its own address. */
  json_object_set_new(json_object_get(docs[1], "config"), "seed", json_integer(9));
  assert_int_equal(shard_merge(docs, 2, &m, err, sizeof(err)), 0);
  shard_merged_free(&m);
  /* A visit that claims to be of the other shard. */
  json_t *v = json_array_get(json_object_get(json_object_get(docs[1], "shard"), "visits"), 0);
  json_object_set(v, "id", json_object_get(json_array_get(json_object_get(
                                                json_object_get(docs[0], "shard"), "visits"), 0),
                                            "id"));
  assert_int_equal(shard_merge(docs, 2, &m, err, sizeof(err)), -EINVAL);
  json_decref(docs[0]);
  json_decref(docs[1]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_merge_clean),
      cmocka_unit_test(test_merge_finds_cross_talk),
      cmocka_unit_test(test_merge_time_axis),
      cmocka_unit_test(test_merge_refuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
