/* offer.c -- tandem-bench's Chrome-shaped SDP offer, and reading the server's answer. */
#include "bench/offer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SSRC_MAP 8

struct out {
  char *p;
  size_t len, cap;
  bool full;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...) {
  if (o->full)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= o->cap - o->len) {
    o->full = true;
    return;
  }
  o->len += (size_t)n;
}

static bool starts(const char *line, size_t n, const char *lit) {
  size_t l = strlen(lit);
  return n >= l && memcmp(line, lit, l) == 0;
}

/* The template's SSRCs in order of appearance, mapped to ours by section and rank. */
struct ssrc_map {
  uint32_t from[MAX_SSRC_MAP], to[MAX_SSRC_MAP];
  size_t n;
};

static uint32_t map_ssrc(struct ssrc_map *m, uint32_t v, int section, int *rank_in_video,
                         const struct offer_params *p) {
  for (size_t i = 0; i < m->n; i++)
    if (m->from[i] == v)
      return m->to[i];
  uint32_t to = p->audio_ssrc;
  if (section > 0)
    to = (*rank_in_video)++ == 0 ? p->video_ssrc : p->rtx_ssrc;
  if (m->n < MAX_SSRC_MAP) {
    m->from[m->n] = v;
    m->to[m->n++] = to;
  }
  return to;
}

/* Writes an a=ssrc or a=ssrc-group line with its numbers replaced and the cname ours. */
static void put_ssrc_line(struct out *o, const char *line, size_t n, struct ssrc_map *m,
                          int section, int *rank, const struct offer_params *p) {
  size_t i = 0;
  while (i < n) {
    if (line[i] >= '0' && line[i] <= '9' && i > 0 && (line[i - 1] == ':' || line[i - 1] == ' ')) {
      uint64_t v = 0;
      size_t j = i;
      while (j < n && line[j] >= '0' && line[j] <= '9' && v <= UINT32_MAX)
        v = v * 10 + (uint64_t)(line[j++] - '0');
      if (v <= UINT32_MAX && (j == n || line[j] == ' ')) {
        put(o, "%" PRIu32, map_ssrc(m, (uint32_t)v, section, rank, p));
        i = j;
        continue;
      }
    }
    if (starts(line + i, n - i, "cname:")) {
      put(o, "cname:%s", p->cname);
      return;
    }
    put(o, "%c", line[i++]);
  }
}

int offer_build(const char *tmpl, const struct offer_params *p, char *outbuf, size_t cap) {
  struct out o = {outbuf, 0, cap, cap == 0};
  struct ssrc_map m = {0};
  int section = -1, rank = 0;
  bool seen_audio = false, seen_video = false, cand_done = false;
  const char *s = tmpl;
  while (*s) {
    const char *e = strchr(s, '\n');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    const char *next = e ? e + 1 : s + n;
    size_t ln = n && s[n - 1] == '\r' ? n - 1 : n;
    if (ln == 0) {
      s = next;
      continue;
    }
    if (starts(s, ln, "o=")) {
      put(&o, "o=- %" PRIu64 " 2 IN IP4 127.0.0.1\r\n", p->session_id);
    } else if (starts(s, ln, "m=")) {
      section++;
      seen_audio |= starts(s, ln, "m=audio ");
      seen_video |= starts(s, ln, "m=video ");
      /* Chrome puts its gathered port in the first m-line and 9 in the bundled others. */
      const char *rest = memchr(s + 2, ' ', ln - 2);
      const char *fmts = rest ? memchr(rest + 1, ' ', ln - (size_t)(rest + 1 - s)) : NULL;
      if (!rest || !fmts)
        return -EBADMSG;
      put(&o, "%.*s %u%.*s\r\n", (int)(rest - s), s, section == 0 ? p->port : 9u,
          (int)(ln - (size_t)(fmts - s)), fmts);
    } else if (starts(s, ln, "c=")) {
      put(&o, "c=IN IP4 %s\r\n", section == 0 ? p->ip : "0.0.0.0");
    } else if (starts(s, ln, "a=candidate:")) {
      /* One host candidate, as Chrome has after gathering on a loopback-only machine. */
      if (section == 0 && !cand_done) {
        put(&o, "a=candidate:1 1 udp 2122260223 %s %u typ host generation 0 network-id 1\r\n",
            p->ip, p->port);
        if (p->tcp_active)
          put(&o, "a=candidate:2 1 tcp 1518280447 %s 9 typ host tcptype active generation 0 "
                  "network-id 1\r\n", p->ip);
      }
      cand_done = true;
    } else if (starts(s, ln, "a=ice-ufrag:")) {
      put(&o, "a=ice-ufrag:%s\r\n", p->ufrag);
    } else if (starts(s, ln, "a=ice-pwd:")) {
      put(&o, "a=ice-pwd:%s\r\n", p->pwd);
    } else if (starts(s, ln, "a=fingerprint:")) {
      put(&o, "a=fingerprint:sha-256 %s\r\n", p->fingerprint);
    } else if (starts(s, ln, "a=ssrc:") || starts(s, ln, "a=ssrc-group:")) {
      if (section < 0)
        return -EBADMSG;
      put_ssrc_line(&o, s, ln, &m, section, &rank, p);
      put(&o, "\r\n");
    } else {
      put(&o, "%.*s\r\n", (int)ln, s);
    }
    s = next;
  }
  if (!seen_audio || !seen_video)
    return -EBADMSG;
  return o.full ? -ENOSPC : (int)o.len;
}

/* ---- the answer ---- */

static void copy_value(char *dst, size_t cap, const char *v, size_t n) {
  n = n < cap - 1 ? n : cap - 1;
  memcpy(dst, v, n);
  dst[n] = 0;
}

/* "foundation comp transport priority ip port typ host [tcptype passive] ..." -> the address
 * of a UDP host candidate into a->cand, or of a passive TCP one into a->tcp_cand (the first of
 * each, unless a later one is of `family` and that one is not). Anything else is skipped. */
static int parse_candidate(const char *v, size_t n, int family, struct answer_info *a) {
  char buf[256], *tok[10], *save = NULL;
  copy_value(buf, sizeof(buf), v, n);
  int k = 0;
  for (char *t = strtok_r(buf, " ", &save); t && k < 10; t = strtok_r(NULL, " ", &save))
    tok[k++] = t;
  if (k < 8 || strcmp(tok[6], "typ") != 0 || strcmp(tok[7], "host") != 0)
    return -EBADMSG;
  bool udp = strcasecmp(tok[2], "udp") == 0;
  bool tcp = strcasecmp(tok[2], "tcp") == 0 && k >= 10 && strcmp(tok[8], "tcptype") == 0 &&
             strcmp(tok[9], "passive") == 0;
  bool keep_udp = a->cand_len && a->cand.ss_family == family;
  bool keep_tcp = a->tcp_cand_len && a->tcp_cand.ss_family == family;
  if ((!udp || keep_udp) && (!tcp || keep_tcp))
    return -EBADMSG;
  char *end;
  long port = strtol(tok[5], &end, 10);
  if (*end || port <= 0 || port > 65535)
    return -EBADMSG;
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  socklen_t len;
  struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, tok[4], &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    len = sizeof(*in4);
  } else if (inet_pton(AF_INET6, tok[4], &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    len = sizeof(*in6);
  } else {
    return -EBADMSG;
  }
  if (ss.ss_family != family && (udp ? a->cand_len : a->tcp_cand_len))
    return 0; /* the first of another family stays until one of ours comes */
  if (udp) {
    a->cand = ss;
    a->cand_len = len;
  } else {
    a->tcp_cand = ss;
    a->tcp_cand_len = len;
  }
  return 0;
}

int offer_parse_answer(const char *sdp, size_t len, bool tcp, int family, struct answer_info *a,
                       const char **err) {
  memset(a, 0, sizeof(*a));
  a->pt[0] = a->pt[1] = -1;
  int kind = -1;
  bool fp = false, passive = false;
  const char *s = sdp, *end = sdp + len;
  *err = NULL;
  while (s < end) {
    const char *e = memchr(s, '\n', (size_t)(end - s));
    size_t n = e ? (size_t)(e - s) : (size_t)(end - s);
    const char *next = e ? e + 1 : end;
    size_t ln = n && s[n - 1] == '\r' ? n - 1 : n;
    if (starts(s, ln, "m=")) {
      kind = starts(s, ln, "m=audio ") ? 0 : starts(s, ln, "m=video ") ? 1 : -1;
      /* "m=video 9 UDP/TLS/RTP/SAVPF 96": the answered payload type is the first format. */
      const char *p = s;
      int spaces = 0;
      while (p < s + ln && spaces < 3)
        spaces += *p++ == ' ';
      if (kind >= 0 && spaces == 3 && a->pt[kind] < 0)
        a->pt[kind] = atoi(p);
    } else if (starts(s, ln, "a=ice-ufrag:") && !a->ufrag[0]) {
      copy_value(a->ufrag, sizeof(a->ufrag), s + 12, ln - 12);
    } else if (starts(s, ln, "a=ice-pwd:") && !a->pwd[0]) {
      copy_value(a->pwd, sizeof(a->pwd), s + 10, ln - 10);
    } else if (starts(s, ln, "a=fingerprint:sha-256 ") && !fp) {
      fp = dtls_fingerprint_parse(s + 22, ln - 22, a->fp) == 0;
    } else if (starts(s, ln, "a=setup:")) {
      passive = ln == 15 && starts(s, ln, "a=setup:passive");
    } else if (starts(s, ln, "a=candidate:")) {
      parse_candidate(s + 12, ln - 12, family, a);
    } else if (starts(s, ln, "a=ssrc:") && kind >= 0 && !a->ssrc[kind]) {
      a->ssrc[kind] = (uint32_t)strtoul(s + 7, NULL, 10);
    }
    s = next;
  }
  if (!a->ufrag[0] || !a->pwd[0])
    *err = "answer has no ICE credentials";
  else if (!fp)
    *err = "answer has no usable sha-256 fingerprint";
  else if (!passive)
    *err = "answer is not a=setup:passive";
  else if (!tcp && !a->cand_len)
    *err = "answer has no UDP host candidate";
  else if (tcp && !a->tcp_cand_len)
    *err = "answer has no passive TCP host candidate (is the server's media_transports udp?)";
  else if (a->pt[0] < 0 || a->pt[1] < 0 || !a->ssrc[0] || !a->ssrc[1])
    *err = "answer lacks an audio or video section with an SSRC";
  return *err ? -EBADMSG : 0;
}
