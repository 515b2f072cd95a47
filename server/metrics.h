/* metrics.h -- the Prometheus text exposition of the server's counters and histograms. */
#ifndef TANDEM_METRICS_H
#define TANDEM_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct app;

#define METRICS_HIST_MAX 16

/* A Prometheus histogram: fixed upper bounds (seconds, ascending, at most METRICS_HIST_MAX;
 * +Inf is implicit). Embedded in its owner, used on one thread. */
struct metrics_hist {
  const double *bounds; /* borrowed; static */
  size_t n;
  uint64_t counts[METRICS_HIST_MAX + 1]; /* per bucket, the last one +Inf; not cumulative */
  uint64_t count;
  double sum;
};

void metrics_hist_init(struct metrics_hist *h, const double *bounds, size_t n);
void metrics_hist_observe(struct metrics_hist *h, double seconds);

/* One metric: its HELP and TYPE lines, then its value (counters exact up to 2^53). */
void metrics_put(FILE *f, const char *name, const char *type, const char *help, double v);
/* Renders /metrics into a malloc'd string (*out, caller frees); returns its length. */
size_t metrics_render(struct app *a, char **out);

#endif
