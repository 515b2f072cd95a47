/* httpd_demux.c -- one TCP port for HTTPS and ICE-TCP media: a connection on the TLS port is
 * told by its first bytes (media/portdemux.c), and ICE-TCP is handed to the media handler. */
#include "server/httpd_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media/portdemux.h"

void httpd_set_media(struct httpd *s, httpd_media_fn fn, void *arg) {
  s->media_fn = fn;
  s->media_arg = arg;
}

void httpd_get_demux_stats(const struct httpd *s, struct httpd_demux_stats *st) {
  *st = s ? s->demux : (struct httpd_demux_stats){0};
}

bool httpd__demux_pending(const struct httpd_conn *c) {
  return c->demux && !c->tls_started;
}

void httpd__demux_done(struct httpd_conn *c) {
  free(c->first);
  c->first = NULL;
  c->first_len = 0;
}

static void refuse(struct httpd_conn *c) {
  c->srv->demux.refused++;
  httpd__conn_close(c);
}

/* The connection is ICE-TCP: a duplicate of its socket goes to the media handler with every
 * byte read so far, and our handle closes (the duplicate keeps the connection open). */
static void hand_over(struct httpd_conn *c, const uint8_t *bytes, size_t n,
                      const struct portdemux_ice *ice) {
  struct httpd *s = c->srv;
  uv_os_fd_t fd;
  int dup_fd = -1;
  if (s->media_fn && uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
    dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) {
    refuse(c);
    return;
  }
  /* Nothing more is read here: the media worker reads what follows. */
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
  if (s->media_fn(s->media_arg, dup_fd, bytes, n, ice->ufrag, ice->ufrag_len) == 0)
    s->demux.media++;
  else
    s->demux.refused++;
  httpd__conn_close(c);
}

bool httpd__demux(struct httpd_conn *c, const char *data, size_t len,
                  const unsigned char **held, size_t *held_len) {
  const uint8_t *view = (const uint8_t *)data;
  size_t n = len, take = 0;
  *held = NULL;
  *held_len = 0;
  if (c->first_len) {
    /* Earlier bytes wait in c->first: the decision is made on them and the new ones, of
     * which at most what fits PORTDEMUX_MAX is needed (the buffer is that large). */
    take = PORTDEMUX_MAX - c->first_len < len ? PORTDEMUX_MAX - c->first_len : len;
    memcpy(c->first + c->first_len, data, take);
    view = c->first;
    n = c->first_len + take;
  }
  struct portdemux_ice ice;
  switch (portdemux_classify(view, n, &ice)) {
  case PORTDEMUX_TLS:
    *held = c->first;
    *held_len = c->first_len; /* the new bytes follow as data */
    return true;
  case PORTDEMUX_HTTP:
    c->tls_started = true;
    httpd__tls_refuse_plain(c);
    return false;
  case PORTDEMUX_ICE:
    if (!c->first_len) {
      hand_over(c, view, n, &ice);
    } else {
      /* All of it, in order: what was kept, then everything this read brought. */
      uint8_t *all = malloc(c->first_len + len);
      if (!all) {
        refuse(c);
        return false;
      }
      memcpy(all, c->first, c->first_len);
      memcpy(all + c->first_len, data, len);
      ice.ufrag = (const char *)all + (ice.ufrag - (const char *)c->first);
      hand_over(c, all, c->first_len + len, &ice);
      free(all);
    }
    return false;
  case PORTDEMUX_GARBAGE:
    refuse(c);
    return false;
  case PORTDEMUX_MORE:
    break;
  }
  if (n >= PORTDEMUX_MAX || (c->first_len && take < len)) {
    refuse(c); /* cannot happen: a decision never needs more than PORTDEMUX_MAX bytes */
    return false;
  }
  if (!c->first && !(c->first = malloc(PORTDEMUX_MAX))) {
    refuse(c);
    return false;
  }
  if (!c->first_len)
    memcpy(c->first, data, len);
  c->first_len = n;
  return false;
}
