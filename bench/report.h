/* report.h -- tandem-bench --report: one self-contained HTML page with inline SVG charts. */
#ifndef TANDEM_BENCH_REPORT_H
#define TANDEM_BENCH_REPORT_H

#include "bench/summary.h"

/* Writes the page to path: the options, the summary figures, a histogram of
 * every latency and quality sample set, and the time series (peers, packet
 * rates, CPU, server memory, cross-talk and errors). No scripts, no external
 * files. 0, or a negative errno when the file cannot be written. */
int report_write(const char *path, struct brun *r, const struct bench_result *res);

#endif
