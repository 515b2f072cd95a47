/* httpd_limit.c -- the connection budget: descriptors, the reserve for health checks, connections per address. */
#include "server/httpd_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#define MAX_CONNS_CAP (1u << 20) /* when the descriptor limit is unlimited */

void httpd__rfifo_del(struct httpd_conn *c) {
  struct httpd *s = c->srv;
  if (!c->in_rfifo)
    return;
  c->in_rfifo = false;
  if (c->rprev)
    c->rprev->rnext = c->rnext;
  else
    s->rhead = c->rnext;
  if (c->rnext)
    c->rnext->rprev = c->rprev;
  else
    s->rtail = c->rprev;
  c->rprev = c->rnext = NULL;
}

void httpd__rfifo_add(struct httpd_conn *c) {
  struct httpd *s = c->srv;
  c->in_rfifo = true;
  c->rprev = s->rtail;
  c->rnext = NULL;
  if (s->rtail)
    s->rtail->rnext = c;
  else
    s->rhead = c;
  s->rtail = c;
}

/* Counts c under ip; false (nothing counted) when ip is at its cap or out of memory. */
bool httpd__ip_count(struct httpd_conn *c, const char *ip) {
  struct httpd *s = c->srv;
  struct iptab_entry *e;
  if (s->cfg.max_conns_per_ip == UINT_MAX || c->count_ip[0])
    return true;
  if (!(e = iptab_ref(s->per_ip, ip)))
    return false;
  if (e->n >= s->cfg.max_conns_per_ip) {
    iptab_release(s->per_ip, ip);
    return false;
  }
  e->n++;
  snprintf(c->count_ip, sizeof(c->count_ip), "%s", ip);
  return true;
}

void httpd__ip_uncount(struct httpd_conn *c) {
  struct httpd *s = c->srv;
  struct iptab_entry *e;
  if (!c->count_ip[0])
    return;
  if ((e = iptab_get(s->per_ip, c->count_ip)) && e->n > 0)
    e->n--;
  iptab_release(s->per_ip, c->count_ip);
  c->count_ip[0] = '\0';
}

/* Whether path is one of reserve_paths. */
bool httpd__reserve_path(const struct httpd *s, const char *path) {
  const char *l = s->reserve_paths;
  size_t pl = strlen(path), n;
  while (l && *l) {
    l += strspn(l, " \t,");
    n = strcspn(l, " \t,");
    if (n && n == pl && !memcmp(l, path, n))
      return true;
    l += n;
  }
  return false;
}

/* Descriptors open in this process now (/proc/self/fd), or a guess. */
static size_t fds_open(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  size_t n = 0;
  if (!d)
    return 32;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n > 0 ? n - 1 : 0; /* less the directory's own */
}

unsigned httpd__conn_budget(void) {
  struct rlimit rl;
  rlim_t lim;
  size_t used = fds_open() + HTTPD_FD_HEADROOM;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 256;
  lim = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > MAX_CONNS_CAP ? MAX_CONNS_CAP : rl.rlim_cur;
  return lim > used + 8 ? (unsigned)(lim - used) : 8;
}

long httpd_raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return -errno;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      return -errno;
  }
  return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > LONG_MAX ? LONG_MAX : (long)rl.rlim_cur;
}
