/* version.c -- the version and commit written by tools/version.cmake at build time. */
#include "server/version.h"

#if defined(__has_include)
#if __has_include("tandem_version.h")
#include "tandem_version.h"
#endif
#endif

/* Fallbacks for a build that did not generate the header. */
#ifndef TANDEM_VERSION
#define TANDEM_VERSION "0.1.0"
#endif
#ifndef TANDEM_COMMIT
#define TANDEM_COMMIT "unknown"
#endif

const char *tandem_version(void) { return TANDEM_VERSION; }
const char *tandem_commit(void) { return TANDEM_COMMIT; }
