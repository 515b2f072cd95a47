/* router.c -- forwarding RTP between linked sessions, with per-receiver rewriting; partners
 * on other workers are reached through the workers' rings. */
#include <errno.h>
#include <string.h>

#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/session_int.h"

#define KEYFRAME_RETRY_MS 300   /* repeat the request while a receiver waits for a keyframe */
#define KEYFRAME_MIN_GAP_MS 100 /* never ask one source more often than this */
#define FIR_AFTER 3             /* PLIs before falling back to FIR */
#define RTCP_BUF (1500 + SRTPCTX_TRAILER)
#define MAX_NACK 128

/* The session a reference names, if it lives on this worker. */
static struct session *local(struct worker *w, struct sref r) {
  if (!r.sid || r.worker != worker__index(w))
    return NULL;
  return worker__session(w, r.sid);
}

/* Every outbound stream of r restarts its offsets at the next packet; video waits for a key. */
static void reanchor(struct session *r, int kind, uint64_t now) {
  struct out_track *t = &r->out[kind];
  seqmap_switch(&t->seq);
  t->src_ssrc = 0;
  if (kind == KIND_VIDEO) {
    vp8map_switch(&t->vp8);
    t->need_keyframe = true;
    t->plis = 0;
    t->last_pli_ms = 0;
  }
  (void)now;
}

static void keyframe_local(struct session *src, uint64_t now, bool fir) {
  uint32_t media = src->in[KIND_VIDEO].ssrc;
  if (!media || !src->srtp)
    return;
  if (src->last_kf_req_ms && now - src->last_kf_req_ms < KEYFRAME_MIN_GAP_MS)
    return;
  uint8_t buf[RTCP_BUF];
  int n = fir ? rtcp_write_fir(buf, 1500, src->out[KIND_VIDEO].ssrc, media,
                               src->out[KIND_VIDEO].fir_seq++)
              : rtcp_write_pli(buf, 1500, src->out[KIND_VIDEO].ssrc, media);
  if (n <= 0)
    return;
  src->last_kf_req_ms = now;
  worker__count(src->w, WSTAT_KEYREQ);
  worker__send_rtcp(src->w, src, buf, (size_t)n);
}

/* Receiver r asks its source for a keyframe, wherever the source lives. */
static void ask_keyframe(struct session *r, uint64_t now, bool fir) {
  struct worker *w = r->w;
  if (!r->source.sid)
    return;
  if (r->source.worker == worker__index(w)) {
    struct session *src = worker__session(w, r->source.sid);
    if (src)
      keyframe_local(src, now, fir);
    return;
  }
  struct xmsg *m = worker__xmsg(w, r->source.worker, 0);
  if (m) {
    m->type = XM_KEYFRAME;
    m->fir = fir;
    m->dst = r->source.sid;
    m->src = r->id;
  }
}

void router__link(struct session *s, uint64_t partner, unsigned partner_worker, uint64_t now) {
  s->source = (struct sref){partner, partner_worker};
  s->sink = (struct sref){partner, partner_worker};
  reanchor(s, KIND_AUDIO, now);
  reanchor(s, KIND_VIDEO, now);
  struct out_track *t = &s->out[KIND_VIDEO];
  t->plis = 1;
  t->last_pli_ms = now;
  ask_keyframe(s, now, false);
}

void router__unlink(struct session *s) {
  s->source = (struct sref){0, 0};
  s->sink = (struct sref){0, 0};
}

/* One packet of r's source, rewritten for r and sent. buf is not modified. */
static void forward(struct session *r, int kind, const uint8_t *buf, const struct rtp_view *v,
                    uint64_t now) {
  struct out_track *t = &r->out[kind];
  const uint8_t *payload = buf + v->payload_off;
  size_t plen = v->payload_len;
  struct vp8_desc d;
  bool first_key = false;
  if (!r->srtp || !r->have_addr || plen == 0)
    goto drop;
  if (t->src_ssrc != v->ssrc) {
    /* The source restarted its stream (a new SSRC): continue our numbering from here. */
    if (t->src_ssrc) {
      reanchor(r, kind, now);
      if (kind == KIND_VIDEO)
        ask_keyframe(r, now, false);
    }
    t->src_ssrc = v->ssrc;
  }
  if (kind == KIND_VIDEO) {
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
  uint8_t *out = worker__tx_slot(r->w, &cap);
  struct rtp_ext ext;
  struct rtp_header h = {
      .marker = v->marker, .pt = (uint8_t)t->pt, .seq = oseq, .ts = ots, .ssrc = t->ssrc};
  if (r->ext_mid && r->mid[kind][0]) {
    ext.id = r->ext_mid;
    ext.len = (uint8_t)strlen(r->mid[kind]);
    ext.data = (const uint8_t *)r->mid[kind];
    h.ext = &ext;
    h.n_ext = 1;
  }
  int hl = rtp_write_header(out, cap, &h);
  if (hl < 0 || (size_t)hl + plen > cap)
    goto drop;
  memcpy(out + hl, payload, plen);
  if (kind == KIND_VIDEO) {
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
  worker__tx_commit(r->w, r, len);
  worker__count(r->w, WSTAT_FWD);
  if (first_key)
    worker__partner_video(r->w, r, ots);
  return;
drop:
  worker__count(r->w, WSTAT_DROP);
}

void router__on_rtp(struct session *s, uint8_t *buf, size_t len, uint64_t now) {
  struct rtp_view v;
  struct worker *w = s->w;
  if (rtp_parse(buf, len, &v) != 0) {
    worker__count(w, WSTAT_DROP);
    return;
  }
  int kind;
  if (v.pt == s->in[KIND_AUDIO].pt)
    kind = KIND_AUDIO;
  else if (v.pt == s->in[KIND_VIDEO].pt)
    kind = KIND_VIDEO;
  else {
    worker__count(w, WSTAT_DROP);
    return;
  }
  struct in_track *in = &s->in[kind];
  in->ssrc = v.ssrc;
  in->packets++;
  in->bytes += len;
  in->last_ms = now;
  if (!s->sink.sid)
    return;
  if (s->sink.worker == worker__index(w)) {
    struct session *r = worker__session(w, s->sink.sid);
    if (r && r->source.sid == s->id)
      forward(r, kind, buf, &v, now);
    return;
  }
  struct xmsg *m = worker__xmsg(w, s->sink.worker, len);
  if (!m) {
    worker__count(w, WSTAT_DROP);
    return;
  }
  m->type = XM_RTP;
  m->kind = (uint8_t)kind;
  m->dst = s->sink.sid;
  m->src = s->id;
  memcpy(m + 1, buf, len);
}

/* A sender report of r's source, rewritten for r (lip sync needs the receiver's timestamps). */
static void sr_to(struct session *r, int kind, const struct rtcp_sr *sr) {
  struct out_track *t = &r->out[kind];
  struct rtcp_sr o = *sr;
  if ((kind == KIND_VIDEO && t->need_keyframe) || !seqmap_in_to_out_ts(&t->seq, sr->rtp_ts, &o.rtp_ts))
    return;
  o.ssrc = t->ssrc;
  o.packet_count = (uint32_t)t->packets;
  o.octet_count = (uint32_t)t->bytes;
  uint8_t buf[RTCP_BUF];
  int n = rtcp_write_sr(buf, 1500, &o, NULL, 0);
  if (n > 0)
    worker__send_rtcp(r->w, r, buf, (size_t)n);
}

static void nack_to(struct session *src, int kind, const uint16_t *seqs, size_t n) {
  if (!src->in[kind].ssrc)
    return;
  uint8_t buf[RTCP_BUF];
  int len = rtcp_write_nack(buf, 1500, src->out[kind].ssrc, src->in[kind].ssrc, seqs, n);
  if (len > 0)
    worker__send_rtcp(src->w, src, buf, (size_t)len);
}

static void remb_to(struct session *src, uint64_t bps) {
  uint32_t media = src->in[KIND_VIDEO].ssrc;
  if (!media)
    return;
  uint8_t buf[RTCP_BUF];
  int len = rtcp_write_remb(buf, 1500, src->out[KIND_VIDEO].ssrc, bps, &media, 1);
  if (len > 0)
    worker__send_rtcp(src->w, src, buf, (size_t)len);
}

void router__on_xmsg(struct worker *w, const struct xmsg *m, const uint8_t *extra, size_t extra_len,
                     uint64_t now) {
  struct session *s = worker__session(w, m->dst);
  if (!s || s->closing)
    return;
  switch (m->type) {
  case XM_RTP: {
    struct rtp_view v;
    if (s->source.sid != m->src || m->kind > KIND_VIDEO || rtp_parse(extra, extra_len, &v) != 0) {
      worker__count(w, WSTAT_DROP);
      return;
    }
    forward(s, m->kind, extra, &v, now);
    break;
  }
  case XM_KEYFRAME:
    keyframe_local(s, now, m->fir);
    break;
  case XM_NACK: {
    uint16_t seqs[MAX_NACK];
    size_t n = m->n < MAX_NACK ? m->n : MAX_NACK;
    if (m->kind > KIND_VIDEO || extra_len < n * sizeof(uint16_t))
      return;
    memcpy(seqs, extra, n * sizeof(uint16_t));
    nack_to(s, m->kind, seqs, n);
    break;
  }
  case XM_REMB:
    remb_to(s, m->value);
    break;
  case XM_SR:
    if (s->source.sid == m->src && m->kind <= KIND_VIDEO) {
      struct rtcp_sr sr = {m->sr[0], m->sr[1], m->sr[2], m->sr[3], m->sr[4], m->sr[5]};
      sr_to(s, m->kind, &sr);
    }
    break;
  default:
    break;
  }
}

static void on_sr(struct session *s, const struct rtcp_item *it) {
  struct rtcp_sr sr;
  if (rtcp_parse_sr(it, &sr) != 0 || !s->sink.sid)
    return;
  int kind = sr.ssrc == s->in[KIND_AUDIO].ssrc   ? KIND_AUDIO
             : sr.ssrc == s->in[KIND_VIDEO].ssrc ? KIND_VIDEO
                                                 : -1;
  if (kind < 0)
    return;
  struct worker *w = s->w;
  if (s->sink.worker == worker__index(w)) {
    struct session *r = worker__session(w, s->sink.sid);
    if (r && r->source.sid == s->id)
      sr_to(r, kind, &sr);
    return;
  }
  struct xmsg *m = worker__xmsg(w, s->sink.worker, 0);
  if (m) {
    m->type = XM_SR;
    m->kind = (uint8_t)kind;
    m->dst = s->sink.sid;
    m->src = s->id;
    uint32_t f[6] = {sr.ssrc, sr.ntp_sec, sr.ntp_frac, sr.rtp_ts, sr.packet_count, sr.octet_count};
    memcpy(m->sr, f, sizeof(f));
  }
}

/* A NACK from receiver r, translated to its source's sequence numbers. */
static void on_nack(struct session *r, const struct rtcp_item *it) {
  int kind = it->media_ssrc == r->out[KIND_AUDIO].ssrc   ? KIND_AUDIO
             : it->media_ssrc == r->out[KIND_VIDEO].ssrc ? KIND_VIDEO
                                                         : -1;
  if (kind < 0 || !r->source.sid)
    return;
  uint16_t seqs[MAX_NACK], in[MAX_NACK];
  size_t n = 0, m = 0;
  if (rtcp_parse_nack(it, seqs, MAX_NACK, &n) != 0)
    return;
  for (size_t i = 0; i < n; i++)
    if (seqmap_unmap_seq(&r->out[kind].seq, seqs[i], &in[m]) == 0)
      m++;
  if (m == 0)
    return;
  struct session *src = local(r->w, r->source);
  if (src) {
    nack_to(src, kind, in, m);
    return;
  }
  if (r->source.worker == worker__index(r->w))
    return;
  struct xmsg *x = worker__xmsg(r->w, r->source.worker, m * sizeof(uint16_t));
  if (x) {
    x->type = XM_NACK;
    x->kind = (uint8_t)kind;
    x->n = (uint16_t)m;
    x->dst = r->source.sid;
    x->src = r->id;
    memcpy(x + 1, in, m * sizeof(uint16_t));
  }
}

static void on_remb(struct session *r, const struct rtcp_item *it) {
  uint64_t bps;
  uint32_t ssrcs[4];
  size_t n;
  if (rtcp_parse_remb(it, &bps, ssrcs, 4, &n) != 0 || !r->source.sid)
    return;
  struct session *src = local(r->w, r->source);
  if (src) {
    remb_to(src, bps);
    return;
  }
  if (r->source.worker == worker__index(r->w))
    return;
  struct xmsg *x = worker__xmsg(r->w, r->source.worker, 0);
  if (x) {
    x->type = XM_REMB;
    x->value = bps;
    x->dst = r->source.sid;
    x->src = r->id;
  }
}

void router__on_rtcp(struct session *s, uint8_t *buf, size_t len, uint64_t now) {
  struct rtcp_iter it;
  struct rtcp_item item;
  rtcp_iter_init(&it, buf, len);
  while (rtcp_iter_next(&it, &item) == 1) {
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
      if ((item.fmt == RTCP_FB_PLI || item.fmt == RTCP_FB_FIR) && media == s->out[KIND_VIDEO].ssrc)
        ask_keyframe(s, now, item.fmt == RTCP_FB_FIR);
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
  struct out_track *t = &s->out[KIND_VIDEO];
  if (!s->source.sid || !t->need_keyframe || now - t->last_pli_ms < KEYFRAME_RETRY_MS)
    return;
  t->last_pli_ms = now;
  ask_keyframe(s, now, ++t->plis > FIR_AFTER);
}
