/* stats.h -- sample sets with percentiles and histograms for tandem-bench. */
#ifndef TANDEM_BENCH_STATS_H
#define TANDEM_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/* A growing set of samples (doubles, e.g. milliseconds). Not for a packet
 * path: stats_add may allocate. One owner, one thread. */
struct stats;

/* NULL when out of memory; stats_free(NULL) is a no-op. */
struct stats *stats_new(void);
void stats_free(struct stats *s);

/* Adds one sample; 0 or -ENOMEM (the sample is then dropped). */
int stats_add(struct stats *s, double v);

size_t stats_count(const struct stats *s);
/* The samples themselves, stats_count() of them, in no particular order
 * (valid until the next stats_add or stats_pct). */
const double *stats_values(const struct stats *s);
double stats_min(const struct stats *s);  /* 0 when empty */
double stats_max(const struct stats *s);  /* 0 when empty */
double stats_mean(const struct stats *s); /* 0 when empty */

/* The q-quantile (0 <= q <= 1) by nearest rank; 0 when empty. Sorts the set
 * in place on first use after an add (so it is not const). */
double stats_pct(struct stats *s, double q);

/* Counts the samples into n equal bins over [lo, hi); samples outside go to
 * the first or last bin. bins has n entries and is overwritten. Picks lo = 0
 * and hi = a rounded-up p99 (at least 1) when hi <= lo; returns hi. */
double stats_histogram(struct stats *s, double lo, double hi, uint32_t *bins, size_t n);

#endif
