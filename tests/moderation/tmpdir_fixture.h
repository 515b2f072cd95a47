/* tmpdir_fixture.h -- a fresh directory per test under $TMPDIR (or /tmp), removed after. */
#ifndef TANDEM_TEST_TMPDIR_FIXTURE_H
#define TANDEM_TEST_TMPDIR_FIXTURE_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int tmpdir__rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* Makes a directory and returns its path in buf (PATH_MAX), or NULL. */
static inline char *tmpdir_make(char *buf) {
  const char *base = getenv("TMPDIR");
  snprintf(buf, PATH_MAX, "%s/tandem-mod-XXXXXX", base && *base ? base : "/tmp");
  return mkdtemp(buf);
}

static inline void tmpdir_remove(const char *dir) {
  nftw(dir, tmpdir__rm, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
