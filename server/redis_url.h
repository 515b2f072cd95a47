/* redis_url.h -- parsing redis_url: where a node's Redis is and how to log in. Pure. */
#ifndef TANDEM_REDIS_URL_H
#define TANDEM_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>

#define REDIS_URL_MAX 512

/* A parsed redis_url. Transparent value, caller-allocated; strings are NUL-terminated copies. */
struct redis_url {
  bool unix_socket;        /* unix:/path */
  char host[256];          /* TCP: an IP literal (without brackets) or a host name */
  int port;                /* TCP: 1-65535 (default 6379) */
  char path[108];          /* unix: the socket's path (sun_path's size) */
  char user[128];          /* "" = the default user (AUTH password) */
  char password[256];      /* "" = no AUTH */
  int db;                  /* SELECT db, 0-15... up to 9999 (0 = the default) */
};

/* Accepts
 *   redis://[[user]:password@]host[:port][/db]     (host: name, IPv4, or [IPv6])
 *   unix:/path/to/redis.sock
 * The password may hold any printable character but '@' and '/'; %XX escapes are decoded in
 * user and password. 0, or -EINVAL with a reason (a static string) in *why when why is not
 * NULL. Nothing in *out is meaningful on error. */
int redis_url_parse(const char *s, struct redis_url *out, const char **why);

/* The URL without its password ("redis://:***@host:port/db"), for logs. */
void redis_url_redacted(const struct redis_url *u, char *buf, size_t cap);

#endif
