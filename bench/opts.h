/* opts.h -- tandem-bench's command line. */
#ifndef TANDEM_BENCH_OPTS_H
#define TANDEM_BENCH_OPTS_H

#include <stdio.h>
#include <sys/socket.h>

#include "bench/bench.h"

/* Parses argv into *o (defaults first) and resolves --url into *addr. The
 * --url host must be a numeric address or "localhost" and belong to this
 * machine (loopback or a local interface) unless --remote. With --merge,
 * only the merge's options and files are read (*addr is untouched).
 * Returns 0, 1 when --help was printed, or -EINVAL after printing what is
 * wrong to stderr. */
int opts_parse(int argc, char **argv, struct bench_opts *o, struct sockaddr_storage *addr);

void opts_usage(FILE *f);

#endif
