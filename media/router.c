/* router.c -- forwarding RTP between linked sessions, with per-receiver rewriting. */
#include <errno.h>
#include <string.h>

#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/session_int.h"

#define KEYFRAME_RETRY_MS 300   /* repeat the request while a receiver waits for a keyframe */
#define KEYFRAME_MIN_GAP_MS 100 /* never ask one source more often than this */
#define FIR_AFTER 3             /* PLIs before falling back to FIR */
#define RTCP_BUF 1500

static void remove_sink(struct session *src, struct session *r) {
  for (size_t i = 0; i < src->n_sinks; i++) {
    if (src->sinks[i] == r) {
      src->sinks[i] = src->sinks[--src->n_sinks];
      src->sinks[src->n_sinks] = NULL;
      return;
    }
  }
}

/* Every outbound stream of r restarts its offsets at the next packet; video waits for a key. */
static void reanchor(struct session *r, uint64_t now) {
  for (int k = 0; k < 2; k++) {
    seqmap_switch(&r->out[k].seq);
  }
  vp8map_switch(&r->out[SESSION_VIDEO].vp8);
  r->out[SESSION_VIDEO].need_keyframe = true;
  r->out[SESSION_VIDEO].plis = 0;
  r->out[SESSION_VIDEO].last_pli_ms = 0;
  r->keyframe_wait_ms = now;
}

static void set_source(struct session *r, struct session *src, uint64_t now) {
  if (r->source)
    remove_sink(r->source, r);
  r->source = NULL;
  if (!src)
    return;
  if (src->n_sinks == SESSION_MAX_SINKS)
    return;
  src->sinks[src->n_sinks++] = r;
  r->source = src;
  reanchor(r, now);
  router__request_keyframe(src, now, false);
  r->out[SESSION_VIDEO].plis = 1;
  r->out[SESSION_VIDEO].last_pli_ms = now;
}

void router_unlink(struct session *s) {
  uint64_t now = worker__now(s->w);
  (void)now;
  set_source(s, NULL, 0);
  while (s->n_sinks > 0) {
    struct session *r = s->sinks[s->n_sinks - 1];
    s->sinks[--s->n_sinks] = NULL;
    r->source = NULL;
  }
}

int router_link(struct session *a, struct session *b) {
  if (a == b || a->closing || b->closing)
    return -EINVAL;
  router_unlink(a);
  router_unlink(b);
  uint64_t now = worker__now(a->w);
  set_source(a, b, now);
  set_source(b, a, now);
  return 0;
}

struct session *router_source(const struct session *s) { return s->source; }

void router__request_keyframe(struct session *src, uint64_t now, bool fir) {
  uint32_t media = src->in[SESSION_VIDEO].ssrc;
  if (!media || !src->srtp)
    return;
  if (src->last_kf_req_ms && now - src->last_kf_req_ms < KEYFRAME_MIN_GAP_MS)
    return;
  uint8_t buf[RTCP_BUF];
  int n;
  if (fir)
    n = rtcp_write_fir(buf, sizeof(buf) - SRTPCTX_TRAILER, src->out[SESSION_VIDEO].ssrc, media,
                       src->out[SESSION_VIDEO].fir_seq++);
  else
    n = rtcp_write_pli(buf, sizeof(buf) - SRTPCTX_TRAILER, src->out[SESSION_VIDEO].ssrc, media);
  if (n <= 0)
    return;
  src->last_kf_req_ms = now;
  worker__count(src->w, 2);
  worker__send_rtcp(src->w, src, buf, (size_t)n);
}

static void forward(struct session *r, int kind, const uint8_t *buf, const struct rtp_view *v,
                    uint64_t now) {
  struct out_track *t = &r->out[kind];
  const uint8_t *payload = buf + v->payload_off;
  size_t plen = v->payload_len;
  struct vp8_desc d;
  bool first_key = false;
  if (!r->srtp || plen == 0)
    goto drop;
  if (kind == SESSION_VIDEO) {
    if (vp8_parse(payload, plen, &d) != 0)
      goto drop;
    if (t->need_keyframe) {
      if (!d.keyframe)
        goto drop;
      t->need_keyframe = false;
      first_key = true;
    }
  }
  uint16_t oseq;
  uint32_t ots;
  if (seqmap_map(&t->seq, v->seq, v->ts, now, &oseq, &ots) != 0)
    goto drop;

  size_t cap;
  uint8_t *out = worker__scratch(r->w, &cap);
  struct rtp_ext ext;
  struct rtp_header h = {
      .marker = v->marker, .pt = (uint8_t)t->pt, .seq = oseq, .ts = ots, .ssrc = t->ssrc};
  if (r->ext_mid) {
    ext.id = r->ext_mid;
    ext.len = (uint8_t)strlen(r->mid[kind]);
    ext.data = (const uint8_t *)r->mid[kind];
    if (ext.len > 0) {
      h.ext = &ext;
      h.n_ext = 1;
    }
  }
  int hl = rtp_write_header(out, cap, &h);
  if (hl < 0 || (size_t)hl + plen > cap)
    goto drop;
  memcpy(out + hl, payload, plen);
  if (kind == SESSION_VIDEO) {
    uint16_t pid;
    uint8_t tl0;
    vp8map_map(&t->vp8, &d, &pid, &tl0);
    vp8_rewrite(out + hl, &d, pid, tl0);
  }
  size_t len = (size_t)hl + plen;
  if (srtpctx_protect_rtp(r->srtp, out, &len, cap + SRTPCTX_TRAILER) != 0)
    goto drop;
  t->packets++;
  t->bytes += plen;
  worker__send(r->w, r, out, len);
  worker__count(r->w, 0);
  if (first_key)
    worker__partner_video(r->w, r, ots);
  return;
drop:
  worker__count(r->w, 1);
}

void router__on_rtp(struct session *s, uint8_t *buf, size_t len, uint64_t now) {
  struct rtp_view v;
  if (rtp_parse(buf, len, &v) != 0) {
    worker__count(s->w, 1);
    return;
  }
  int kind;
  if (v.pt == s->in[SESSION_AUDIO].pt)
    kind = SESSION_AUDIO;
  else if (v.pt == s->in[SESSION_VIDEO].pt)
    kind = SESSION_VIDEO;
  else {
    worker__count(s->w, 1);
    return;
  }
  struct in_track *in = &s->in[kind];
  if (in->ssrc != v.ssrc) {
    /* The sender restarted its stream (new SSRC): receivers re-anchor on it. */
    if (in->packets > 0) {
      for (size_t i = 0; i < s->n_sinks; i++) {
        struct out_track *t = &s->sinks[i]->out[kind];
        seqmap_switch(&t->seq);
        if (kind == SESSION_VIDEO) {
          vp8map_switch(&t->vp8);
          t->need_keyframe = true;
        }
      }
    }
    in->ssrc = v.ssrc;
  }
  in->packets++;
  in->bytes += len;
  in->last_ms = now;
  for (size_t i = 0; i < s->n_sinks; i++)
    forward(s->sinks[i], kind, buf, &v, now);
}

/* A sender report from s about its own stream, rewritten for each receiver (lip sync). */
static void on_sr(struct session *s, const struct rtcp_item *it) {
  struct rtcp_sr sr;
  if (rtcp_parse_sr(it, &sr) != 0)
    return;
  int kind = sr.ssrc == s->in[SESSION_AUDIO].ssrc   ? SESSION_AUDIO
             : sr.ssrc == s->in[SESSION_VIDEO].ssrc ? SESSION_VIDEO
                                                    : -1;
  if (kind < 0)
    return;
  for (size_t i = 0; i < s->n_sinks; i++) {
    struct session *r = s->sinks[i];
    struct out_track *t = &r->out[kind];
    struct rtcp_sr o = sr;
    if ((kind == SESSION_VIDEO && t->need_keyframe) || !seqmap_in_to_out_ts(&t->seq, sr.rtp_ts, &o.rtp_ts))
      continue;
    o.ssrc = t->ssrc;
    o.packet_count = (uint32_t)t->packets;
    o.octet_count = (uint32_t)t->bytes;
    uint8_t buf[RTCP_BUF];
    int n = rtcp_write_sr(buf, sizeof(buf) - SRTPCTX_TRAILER, &o, NULL, 0);
    if (n > 0)
      worker__send_rtcp(r->w, r, buf, (size_t)n);
  }
}

static void on_nack(struct session *r, const struct rtcp_item *it) {
  struct session *src = r->source;
  int kind = it->media_ssrc == r->out[SESSION_AUDIO].ssrc   ? SESSION_AUDIO
             : it->media_ssrc == r->out[SESSION_VIDEO].ssrc ? SESSION_VIDEO
                                                            : -1;
  if (!src || kind < 0 || !src->in[kind].ssrc)
    return;
  uint16_t seqs[128], in[128];
  size_t n = 0, m = 0;
  if (rtcp_parse_nack(it, seqs, 128, &n) != 0)
    return;
  for (size_t i = 0; i < n; i++)
    if (seqmap_unmap_seq(&r->out[kind].seq, seqs[i], &in[m]) == 0)
      m++;
  if (m == 0)
    return;
  uint8_t buf[RTCP_BUF];
  int len = rtcp_write_nack(buf, sizeof(buf) - SRTPCTX_TRAILER, src->out[kind].ssrc,
                            src->in[kind].ssrc, in, m);
  if (len > 0)
    worker__send_rtcp(src->w, src, buf, (size_t)len);
}

static void on_remb(struct session *r, const struct rtcp_item *it) {
  uint64_t bps;
  uint32_t ssrcs[4];
  size_t n;
  if (rtcp_parse_remb(it, &bps, ssrcs, 4, &n) != 0)
    return;
  r->remb_bps = bps;
  struct session *src = r->source;
  if (!src || !src->in[SESSION_VIDEO].ssrc)
    return;
  uint8_t buf[RTCP_BUF];
  uint32_t media = src->in[SESSION_VIDEO].ssrc;
  int len = rtcp_write_remb(buf, sizeof(buf) - SRTPCTX_TRAILER, src->out[SESSION_VIDEO].ssrc, bps,
                            &media, 1);
  if (len > 0)
    worker__send_rtcp(src->w, src, buf, (size_t)len);
}

void router__on_rtcp(struct session *s, uint8_t *buf, size_t len, uint64_t now) {
  struct rtcp_iter it;
  struct rtcp_item item;
  rtcp_iter_init(&it, buf, len);
  while (rtcp_iter_next(&it, &item) == 1) {
    if (s->closing)
      return;
    switch (item.pt) {
    case RTCP_SR:
      on_sr(s, &item);
      break;
    case RTCP_RTPFB:
      if (item.fmt == RTCP_FB_NACK)
        on_nack(s, &item);
      break;
    case RTCP_PSFB: {
      /* A FIR names its stream in the FCI entry, a PLI in the header (RFC 5104, 4585). */
      uint32_t media = item.media_ssrc;
      uint8_t fir_seq;
      if (item.fmt == RTCP_FB_FIR && rtcp_parse_fir(&item, &media, &fir_seq) != 0)
        break;
      if ((item.fmt == RTCP_FB_PLI || item.fmt == RTCP_FB_FIR) &&
          media == s->out[SESSION_VIDEO].ssrc && s->source)
        router__request_keyframe(s->source, now, item.fmt == RTCP_FB_FIR);
      else if (item.fmt == RTCP_FB_AFB)
        on_remb(s, &item);
      break;
    }
    default:
      break;
    }
  }
}

void router__tick(struct session *s, uint64_t now) {
  struct out_track *t = &s->out[SESSION_VIDEO];
  if (!s->source || !t->need_keyframe)
    return;
  if (now - t->last_pli_ms < KEYFRAME_RETRY_MS)
    return;
  t->last_pli_ms = now;
  router__request_keyframe(s->source, now, ++t->plis > FIR_AFTER);
}
