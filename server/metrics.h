/* metrics.h -- the Prometheus text exposition of the server's counters. */
#ifndef TANDEM_METRICS_H
#define TANDEM_METRICS_H

#include <stddef.h>

struct app;

/* Renders /metrics into a malloc'd string (*out, caller frees); returns its length. */
size_t metrics_render(struct app *a, char **out);

#endif
