/* webassets.h -- the web client, compiled into the binary by tools/embed_web.cmake. */
#ifndef TANDEM_WEBASSETS_H
#define TANDEM_WEBASSETS_H

#include <stddef.h>

struct webasset {
  const char *path; /* "/index.html" */
  const unsigned char *data;
  size_t len;
};

/* Terminated by an entry whose path is NULL. */
extern const struct webasset webassets[];

#endif
