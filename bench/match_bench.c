/* match_bench.c -- cost of one matchmaking decision against pools of 10k to 1M waiters. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/matchpark.h"
#include "match/engine.h"

/* A decision is one match_start by a newcomer with random interests: the
 * engine searches the pool, pairs and unlinks the partner from its indexes.
 * After each timed decision the pair leaves and a fresh waiter is parked in
 * the pool (untimed, bench/matchpark.c), so the pool size stays put. Figures
 * are printed, never asserted (STYLE.md rule 9). */

#define VOCAB 300
#define LANGS 12

static char vocab[VOCAB][16];
static const char *const langs[LANGS] = {"en", "es", "pt", "fr", "de", "it",
                                         "ru", "tr", "ar", "hi", "ja", "ko"};
static uint64_t rng = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void) {
  uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Interests skewed like real ones: a few tags are very popular. */
static const char *pick_tag(void) {
  uint64_t r = rnd() % 1000;
  if (r < 300)
    return vocab[rnd() % 10];
  if (r < 600)
    return vocab[10 + rnd() % 40];
  return vocab[50 + rnd() % (VOCAB - 50)];
}

/* Fills tags (0-5 of them, 10% none) and maybe a language. */
static size_t random_interests(const char **tags, const char **lang) {
  size_t n = rnd() % 10 == 0 ? 0 : 1 + rnd() % 5;
  size_t i;

  for (i = 0; i < n; i++)
    tags[i] = pick_tag();
  *lang = rnd() % 2 ? langs[rnd() % LANGS] : NULL;
  return n;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

struct result {
  size_t pool;
  size_t decisions;
  size_t paired;
  double per_sec;
  double p50_us, p99_us, max_us;
  double build_s;
};

#define ROUNDS 5

static double median(double *v, size_t n) {
  size_t i, j;
  for (i = 1; i < n; i++) {
    for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
      double t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  }
  return v[n / 2];
}

/* One timed decision plus the untimed upkeep that keeps the pool at its size.
 * Returns the decision's wall time in ns. */
static uint64_t decide(struct match_engine *e, match_id *next_id, uint64_t clock_ms,
                       size_t *paired) {
  struct match_event ev;
  const char *tags[8], *lang;
  match_id id = (*next_id)++;
  uint64_t a, b;
  size_t n = random_interests(tags, &lang);

  (void)match_add(e, id, clock_ms);
  (void)match_set_ready(e, id, true, clock_ms);
  a = now_ns();
  (void)match_start(e, id, tags, n, lang, clock_ms);
  b = now_ns();
  while (match_poll(e, &ev) == 1) {
  }
  /* The pair leaves and a new waiter takes the partner's place; a newcomer
   * that found nobody just leaves. */
  if (match_partner(e, id) != 0) {
    ++*paired;
    (void)matchpark_remove_pair(e, id, clock_ms);
    n = random_interests(tags, &lang);
    (void)matchpark_add(e, (*next_id)++, tags, n, lang, clock_ms);
  } else {
    (void)match_remove(e, id, clock_ms);
  }
  return b - a;
}

struct pool {
  struct match_engine *e;
  match_id next_id;
  double rate[ROUNDS], p50[ROUNDS], p99[ROUNDS];
};

/* Builds a pool of `size` parked waiters and warms it up. */
static void pool_build(struct pool *pl, size_t size, size_t warm, struct result *r) {
  struct match_config cfg;
  const char *tags[8], *lang;
  uint64_t t0;
  size_t i, n, dummy = 0;

  memset(r, 0, sizeof(*r));
  r->pool = size;
  match_config_default(&cfg);
  cfg.hash_seed = rnd();
  pl->e = match_new(&cfg);
  pl->next_id = 1;
  if (pl->e == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  t0 = now_ns();
  for (i = 0; i < size; i++) {
    n = random_interests(tags, &lang);
    if (matchpark_add(pl->e, pl->next_id++, tags, n, lang, 1000) < 0) {
      fprintf(stderr, "park failed\n");
      exit(1);
    }
  }
  r->build_s = (double)(now_ns() - t0) / 1e9;
  for (i = 0; i < warm; i++)
    (void)decide(pl->e, &pl->next_id, 1000, &dummy);
}

/* One round of decisions on one pool. */
static void pool_round(struct pool *pl, size_t k, uint64_t *lat, size_t count, struct result *r) {
  uint64_t total = 0;
  size_t i;

  for (i = 0; i < count; i++) {
    lat[i] = decide(pl->e, &pl->next_id, 1000, &r->paired);
    total += lat[i];
  }
  qsort(lat, count, sizeof(*lat), cmp_u64);
  pl->rate[k] = (double)count / ((double)total / 1e9);
  pl->p50[k] = (double)lat[count / 2] / 1000.0;
  pl->p99[k] = (double)lat[count * 99 / 100] / 1000.0;
  if ((double)lat[count - 1] / 1000.0 > r->max_us)
    r->max_us = (double)lat[count - 1] / 1000.0;
  r->decisions += count;
}

int main(int argc, char **argv) {
  size_t sizes[3] = {10000, 100000, 1000000};
  const char *sz = getenv("MATCH_BENCH_SMALL");
  size_t decisions = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
  struct result res[3];
  struct pool pools[3];
  struct rusage ru;
  uint64_t *lat;
  size_t i, k, per_round;

  if (sz != NULL && *sz == '1') {
    sizes[1] = 20000;
    sizes[2] = 40000;
  }
  if (decisions < 100 * ROUNDS)
    decisions = 100 * ROUNDS;
  per_round = decisions / ROUNDS;
  lat = malloc(per_round * sizeof(*lat));
  if (lat == NULL)
    return 1;
  for (i = 0; i < VOCAB; i++)
    snprintf(vocab[i], sizeof(vocab[i]), "tag%zu", i);
  printf("match engine: %zu timed decisions per pool size (match_start of a newcomer with\n"
         "0-5 of %d skewed tags, half with one of %d languages; pool peers alike);\n"
         "rounds alternate between the pools and figures are medians of %d rounds,\n"
         "so other load on the machine hits every size alike; max is the worst one\n\n",
         per_round * ROUNDS, VOCAB, LANGS, ROUNDS);
  for (i = 0; i < 3; i++)
    pool_build(&pools[i], sizes[i], per_round / 5, &res[i]);
  for (k = 0; k < ROUNDS; k++) {
    for (i = 0; i < 3; i++)
      pool_round(&pools[i], k, lat, per_round, &res[i]);
  }
  printf("%10s %12s %10s %10s %10s %8s %9s\n", "waiting", "decisions/s", "p50 us", "p99 us",
         "max us", "paired", "build s");
  for (i = 0; i < 3; i++) {
    res[i].per_sec = median(pools[i].rate, ROUNDS);
    res[i].p50_us = median(pools[i].p50, ROUNDS);
    res[i].p99_us = median(pools[i].p99, ROUNDS);
    printf("%10zu %12.0f %10.2f %10.2f %10.1f %7.1f%% %9.2f\n", res[i].pool, res[i].per_sec,
           res[i].p50_us, res[i].p99_us, res[i].max_us,
           100.0 * (double)res[i].paired / (double)res[i].decisions, res[i].build_s);
    match_free(pools[i].e);
  }
  printf("\nlargest / smallest pool: mean cost %.2fx, p50 %.2fx, p99 %.2fx\n",
         res[0].per_sec / res[2].per_sec, res[2].p50_us / res[0].p50_us,
         res[2].p99_us / res[0].p99_us);
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    printf("peak RSS %.0f MiB\n", (double)ru.ru_maxrss / 1024.0);
  free(lat);
  return 0;
}
