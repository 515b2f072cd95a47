/* version.h -- what this binary is: the project version and the commit it was built from. */
#ifndef TANDEM_VERSION_H
#define TANDEM_VERSION_H

/* Both return static strings. The version is CMake's project version ("0.1.0"); the commit is
 * `git describe --always --dirty` at build time ("5be1d00", "v0.2.0-3-g5be1d00-dirty"), or
 * "unknown" when the source was not a git checkout or the build did not go through CMake. */
const char *tandem_version(void);
const char *tandem_commit(void);

#endif
