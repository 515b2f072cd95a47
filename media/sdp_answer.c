/* sdp_answer.c -- writes the SDP answer to an offer sdp_parse_offer() accepted (RFC 8829). */
#include "media/sdp_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/hex.h"

/* A bounded output buffer: once a write does not fit, nothing more is added. */
struct out {
  char *p;
  size_t cap, n;
  bool full;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *b, const char *fmt, ...) {
  if (b->full)
    return;
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
  va_end(ap);
  if (r < 0 || (size_t)r >= b->cap - b->n)
    b->full = true;
  else
    b->n += (size_t)r;
}

static bool ip_literal(const char *s) {
  if (!sdp__cword(s, 45, false))
    return false;
  for (; *s; s++)
    if (hex_digit(*s) < 0 && *s != '.' && *s != ':')
      return false;
  return true;
}

static bool more_ips_ok(const struct sdp_answer_params *p) {
  if (p->n_more_ips > SDP_MAX_MORE_IPS || (p->n_more_ips && !p->more_ips))
    return false;
  for (size_t i = 0; i < p->n_more_ips; i++)
    if (!ip_literal(p->more_ips[i]))
      return false;
  return true;
}

static const char *media_name(const struct sdp_media *m) {
  if (m->media[0])
    return m->media;
  return m->kind == SDP_AUDIO ? "audio" : m->kind == SDP_VIDEO ? "video" : "";
}

/* ICE-lite host candidates (RFC 8445 5.1.2.1): type preference 126 for UDP, 90 for TCP, so
 * every TCP candidate ranks below every UDP one; local preference 65535 for the first address,
 * one less for each next (the operator's order in public_ip). The HTTPS port's TCP candidates
 * (https_port) come last: local preference 8191 down, below every media port's. Foundations: 1,
 * 2 (and 3) for the first address (as with one address), 11, 12 (13)... for the next ones. */
static void host_candidates(struct out *b, const struct sdp_answer_params *p) {
  for (int kind = 0; kind < 3; kind++) {
    uint16_t port = kind == 2 ? p->https_port : kind ? p->tcp_port : p->udp_port;
    uint32_t local = kind == 2 ? 8191 : 65535;
    for (size_t i = 0; port && i <= p->n_more_ips; i++) {
      const char *ip = i ? p->more_ips[i - 1] : p->ip;
      uint32_t prio = (kind ? 90u : 126u) << 24 | (uint32_t)(local - i) << 8 | 255u;
      put(b, "a=candidate:%u 1 %s %" PRIu32 " %s %u typ host%s\r\n", (unsigned)(i * 10 + 1 + kind),
          kind ? "tcp" : "udp", prio, ip, (unsigned)port, kind ? " tcptype passive" : "");
    }
  }
}

static void used_section(struct out *b, const struct sdp_media *m, const struct sdp_answer_params *p,
                         const char *fp) {
  bool audio = m->kind == SDP_AUDIO;
  const char *track = audio ? "audio" : "video";
  const char *stream = audio || !p->video_stream_id ? p->stream_id : p->video_stream_id;
  uint32_t ssrc = audio ? p->audio_ssrc : p->video_ssrc;
  static const char *const dirs[] = {"sendrecv", "recvonly", "sendonly", "inactive"};
  bool send = m->dir == SDP_SENDRECV || m->dir == SDP_RECVONLY;
  put(b, "m=%s 9 %s %d\r\nc=IN IP4 0.0.0.0\r\n", track, m->proto, m->pt);
  put(b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\na=setup:passive\r\n",
      p->ice_ufrag, p->ice_pwd, fp);
  put(b, "a=mid:%s\r\n", m->mid);
  if (m->ext_mid)
    put(b, "a=extmap:%u urn:ietf:params:rtp-hdrext:sdes:mid\r\n", m->ext_mid);
  put(b, "a=%s\r\n", dirs[m->dir]);
  if (send)
    put(b, "a=msid:%s %s\r\n", stream, track);
  put(b, "a=rtcp-mux\r\n");
  if (audio) {
    put(b, "a=rtpmap:%d opus/48000/2\r\n", m->pt);
    put(b, "a=fmtp:%d minptime=10;useinbandfec=1\r\n", m->pt);
  } else {
    /* Feedback is answered only as offered (RFC 4585); browsers offer all four. */
    static const char *const fb[] = {"goog-remb", "ccm fir", "nack", "nack pli"};
    bool offered[] = {m->fb_remb, m->fb_fir, m->fb_nack, m->fb_pli};
    put(b, "a=rtpmap:%d VP8/90000\r\n", m->pt);
    for (int k = 0; k < 4; k++)
      if (offered[k])
        put(b, "a=rtcp-fb:%d %s\r\n", m->pt, fb[k]);
  }
  if (send) {
    put(b, "a=ssrc:%" PRIu32 " cname:%s\r\n", ssrc, p->cname);
    put(b, "a=ssrc:%" PRIu32 " msid:%s %s\r\n", ssrc, stream, track);
  }
  host_candidates(b, p);
  put(b, "a=end-of-candidates\r\n");
}

static bool valid_offer(const struct sdp_offer *o) {
  if (o->n_media > SDP_MAX_MEDIA || o->audio < 0 || o->video < 0 ||
      (size_t)o->audio >= o->n_media || (size_t)o->video >= o->n_media)
    return false;
  const struct sdp_media *ma = &o->media[o->audio], *mv = &o->media[o->video];
  if (ma->kind != SDP_AUDIO || mv->kind != SDP_VIDEO || ma->pt < 0 || ma->pt > 127 ||
      mv->pt < 0 || mv->pt > 127 || !ma->mid[0] || !mv->mid[0])
    return false;
  for (size_t i = 0; i < o->n_media; i++) {
    const struct sdp_media *m = &o->media[i];
    if ((unsigned)m->dir > SDP_INACTIVE || !sdp__cword(media_name(m), 15, false) ||
        !sdp__cword(m->proto, 47, false) || !sdp__cword(m->first_fmt, 31, false) ||
        (m->mid[0] && !sdp__cword(m->mid, 32, true)))
      return false;
  }
  return true;
}

int sdp_write_answer(const struct sdp_offer *o, const struct sdp_answer_params *p, char *out,
                     size_t cap) {
  if (!o || !p || !valid_offer(o) || !p->ice_ufrag || !p->ice_pwd ||
      !sdp__ice_chars(p->ice_ufrag, strnlen(p->ice_ufrag, 257), 4, 256) ||
      !sdp__ice_chars(p->ice_pwd, strnlen(p->ice_pwd, 257), 22, 256) ||
      !ip_literal(p->ip) || !more_ips_ok(p) || !sdp__cword(p->cname, 255, false) ||
      !sdp__cword(p->stream_id, 64, true) || !p->fingerprint ||
      (p->video_stream_id && (!sdp__cword(p->video_stream_id, 64, true) ||
                              !strcmp(p->video_stream_id, p->stream_id))))
    return -EINVAL;
  const char *text = p->fingerprint + (strncmp(p->fingerprint, "sha-256 ", 8) ? 0 : 8);
  uint8_t bytes[32];
  char fp[96];
  size_t n = 0;
  if (sdp__fp_parse(text, strnlen(text, 96), bytes, sizeof(bytes), &n) || n != 32)
    return -EINVAL;
  sdp_fingerprint_format(bytes, n, fp, sizeof(fp));
  if (!out || cap == 0)
    return -ENOSPC;

  struct out b = {out, cap, 0, false};
  const struct sdp_media *tag = &o->media[o->bundle_tag == o->video ? o->video : o->audio];
  const struct sdp_media *other = &o->media[tag == &o->media[o->audio] ? o->video : o->audio];
  put(&b, "v=0\r\no=- %" PRIu64 " 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", p->session_id);
  put(&b, "a=ice-lite\r\na=group:BUNDLE %s %s\r\n", tag->mid, other->mid);
  if (p->video_stream_id)
    put(&b, "a=msid-semantic: WMS %s %s\r\n", p->stream_id, p->video_stream_id);
  else
    put(&b, "a=msid-semantic: WMS %s\r\n", p->stream_id);
  for (size_t i = 0; i < o->n_media; i++) {
    const struct sdp_media *m = &o->media[i];
    if ((int)i == o->audio || (int)i == o->video) {
      used_section(&b, m, p, fp);
      continue;
    }
    /* Rejected (RFC 8829 5.3.1): port 0, same proto and a format, its mid. */
    put(&b, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\n", media_name(m), m->proto, m->first_fmt);
    if (m->kind != SDP_OTHER)
      put(&b, "a=inactive\r\n");
    if (m->mid[0])
      put(&b, "a=mid:%s\r\n", m->mid);
  }
  if (b.full || b.n > INT32_MAX)
    return -ENOSPC;
  return (int)b.n;
}
