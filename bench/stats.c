/* stats.c -- sample sets with percentiles and histograms for tandem-bench. */
#include "bench/stats.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

struct stats {
  double *v;
  size_t n, cap;
  bool sorted;
  double sum;
};

struct stats *stats_new(void) { return calloc(1, sizeof(struct stats)); }

void stats_free(struct stats *s) {
  if (!s)
    return;
  free(s->v);
  free(s);
}

int stats_add(struct stats *s, double v) {
  if (!isfinite(v))
    return -EINVAL;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    double *nv = realloc(s->v, cap * sizeof(*nv));
    if (!nv)
      return -ENOMEM;
    s->v = nv;
    s->cap = cap;
  }
  s->v[s->n++] = v;
  s->sum += v;
  s->sorted = false;
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void sort(struct stats *s) {
  if (!s->sorted && s->n > 1)
    qsort(s->v, s->n, sizeof(*s->v), cmp_double);
  s->sorted = true;
}

size_t stats_count(const struct stats *s) { return s->n; }

const double *stats_values(const struct stats *s) { return s->v; }

double stats_min(const struct stats *s) {
  double m = s->n ? s->v[0] : 0;
  for (size_t i = 1; i < s->n; i++)
    m = s->v[i] < m ? s->v[i] : m;
  return m;
}

double stats_max(const struct stats *s) {
  double m = s->n ? s->v[0] : 0;
  for (size_t i = 1; i < s->n; i++)
    m = s->v[i] > m ? s->v[i] : m;
  return m;
}

double stats_mean(const struct stats *s) { return s->n ? s->sum / (double)s->n : 0; }

double stats_pct(struct stats *s, double q) {
  if (!s->n)
    return 0;
  sort(s);
  if (q <= 0)
    return s->v[0];
  if (q >= 1)
    return s->v[s->n - 1];
  size_t rank = (size_t)ceil(q * (double)s->n);
  return s->v[rank ? rank - 1 : 0];
}

/* 1, 2 or 5 times a power of ten, at least v. */
static double nice_ceil(double v) {
  if (v <= 1)
    return 1;
  double p = pow(10, floor(log10(v)));
  for (int m = 1; m <= 10; m++)
    if ((m == 1 || m == 2 || m == 5 || m == 10) && m * p >= v)
      return m * p;
  return 10 * p;
}

double stats_histogram(struct stats *s, double lo, double hi, uint32_t *bins, size_t n) {
  for (size_t i = 0; i < n; i++)
    bins[i] = 0;
  if (hi <= lo) {
    lo = 0;
    hi = nice_ceil(stats_pct(s, 0.99));
  }
  if (!n)
    return hi;
  double w = (hi - lo) / (double)n;
  for (size_t i = 0; i < s->n; i++) {
    double b = (s->v[i] - lo) / w;
    size_t k = b < 0 ? 0 : b >= (double)n ? n - 1 : (size_t)b;
    bins[k]++;
  }
  return hi;
}
