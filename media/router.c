/* router.c -- forwarding RTP between linked sessions. A receiver's outbound streams live with
 * the worker of the session feeding it, so a packet is received, rewritten, protected and sent
 * by one thread; only RTCP feedback and ownership changes cross between workers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/session_int.h"

#define KEYFRAME_RETRY_MS 300   /* repeat the request while a receiver waits for a keyframe */
#define KEYFRAME_MIN_GAP_MS 100 /* never ask one source more often than this */
#define FIR_AFTER 3             /* PLIs before falling back to FIR */
#define RTCP_BUF (1500 + SRTPCTX_TRAILER)
#define MAX_NACK 128

static bool is_local(struct worker *w, struct sref r) {
  return r.sid && r.worker == worker__index(w);
}

/* ---- outbound objects ---- */

struct outbound *router__outbound_new(struct session *s, const struct session_params *p, int fd) {
  struct outbound *o = calloc(1, sizeof(*o));
  if (!o)
    return NULL;
  o->sid = s->id;
  o->home = worker__index(s->w);
  o->fd = fd;
  o->ext_mid = p->ext_mid;
  memcpy(o->mid, p->mid, sizeof(o->mid));
  static const uint32_t clock[2] = {48000, 90000};
  for (int k = 0; k < 2; k++) {
    o->out[k].pt = p->out_pt[k];
    o->out[k].ssrc = p->out_ssrc[k];
    seqmap_init(&o->out[k].seq, clock[k], p->out_seq[k], p->out_ts[k]);
  }
  vp8map_init(&o->out[KIND_VIDEO].vp8, p->out_pid);
  return o;
}

void router__outbound_free(struct outbound *o) {
  if (!o)
    return;
  srtpctx_free(o->srtp);
  free(o);
}

void router__xmsg_discard(const struct xmsg *m) {
  if (m->type == XM_HANDOVER || m->type == XM_HANDBACK)
    router__outbound_free(m->outb);
}

/* Sends an outbound object to the worker `to` (or keeps it local) for session `dst` there. */
static void send_outb(struct worker *w, int type, struct outbound *o, uint64_t dst, unsigned to,
                      uint64_t src, uint64_t now);

static void attach(struct session *src, struct outbound *o, uint64_t now);

/* The outbound comes back home (or to its next feeder, if its session was relinked). */
static void give_back(struct worker *w, struct outbound *o, uint64_t now) {
  send_outb(w, XM_HANDBACK, o, o->sid, o->home, 0, now);
}

static void on_handback(struct worker *w, struct outbound *o, uint64_t now) {
  struct session *s = worker__session(w, o->sid);
  if (!s) {
    router__outbound_free(o); /* its session is gone */
    return;
  }
  s->outb = o;
  if (s->sink.sid && s->link_gen != s->outb_gen) {
    /* Linked anew while it was away: send it on to the new feeder. */
    s->outb = NULL;
    s->outb_at = s->sink;
    s->outb_gen = s->link_gen;
    send_outb(w, XM_HANDOVER, o, s->sink.sid, s->sink.worker, s->id, now);
  }
}

static void on_handover(struct worker *w, struct outbound *o, uint64_t src_sid, uint64_t dst,
                        uint64_t now) {
  struct session *src = worker__session(w, dst);
  if (!src || src->sink.sid != o->sid || src->sink_out) {
    /* The LINK that goes with this handover was queued before it was sent: take it first. */
    worker__drain_commands(w);
    src = worker__session(w, dst);
  }
  if (!src || src->sink.sid != o->sid || src->sink_out) {
    give_back(w, o, now); /* stale: the link changed while it travelled */
    return;
  }
  (void)src_sid;
  attach(src, o, now);
}

static void send_outb(struct worker *w, int type, struct outbound *o, uint64_t dst, unsigned to,
                      uint64_t src, uint64_t now) {
  if (to == worker__index(w)) {
    if (type == XM_HANDBACK)
      on_handback(w, o, now);
    else
      on_handover(w, o, src, dst, now);
    return;
  }
  struct xmsg *m = worker__xmsg(w, to, 0);
  if (!m) {
    /* A full ring loses the object; its session then receives nothing until relinked. */
    router__outbound_free(o);
    return;
  }
  m->type = (uint8_t)type;
  m->dst = dst;
  m->src = src;
  m->outb = o;
}

/* ---- keyframes ---- */

static void keyframe_local(struct session *src, uint64_t now, bool fir) {
  uint32_t media = src->in[KIND_VIDEO].ssrc;
  if (!media || !src->srtp)
    return;
  if (src->last_kf_req_ms && now - src->last_kf_req_ms < KEYFRAME_MIN_GAP_MS)
    return;
  uint8_t buf[RTCP_BUF];
  int n = fir ? rtcp_write_fir(buf, 1500, src->out_ssrc[KIND_VIDEO], media, src->fir_seq++)
              : rtcp_write_pli(buf, 1500, src->out_ssrc[KIND_VIDEO], media);
  if (n <= 0)
    return;
  src->last_kf_req_ms = now;
  worker__count(src->w, WSTAT_KEYREQ);
  worker__send_rtcp(src->w, src, buf, (size_t)n);
}

/* Receiver r (at home) asks its source for a keyframe, wherever the source lives. */
static void ask_keyframe(struct session *r, uint64_t now, bool fir) {
  struct worker *w = r->w;
  if (!r->source.sid)
    return;
  if (is_local(w, r->source)) {
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

/* ---- linking ---- */

/* src starts feeding o: every stream continues its numbering at the next packet and video
 * waits for a keyframe, which is asked for at once. */
static void attach(struct session *src, struct outbound *o, uint64_t now) {
  src->sink_out = o;
  for (int k = 0; k < 2; k++) {
    seqmap_switch(&o->out[k].seq);
    o->out[k].src_ssrc = 0;
  }
  vp8map_switch(&o->out[KIND_VIDEO].vp8);
  struct out_track *t = &o->out[KIND_VIDEO];
  t->need_keyframe = true;
  t->plis = 1;
  t->last_pli_ms = now;
  keyframe_local(src, now, false);
}

static void detach(struct session *s, uint64_t now) {
  if (s->sink_out) {
    struct outbound *o = s->sink_out;
    s->sink_out = NULL;
    give_back(s->w, o, now);
  }
}

void router__link(struct session *s, uint64_t partner, unsigned partner_worker, uint64_t now) {
  if (s->closing)
    return;
  detach(s, now);
  s->source = (struct sref){partner, partner_worker};
  s->sink = (struct sref){partner, partner_worker};
  s->link_gen++;
  if (s->outb) {
    struct outbound *o = s->outb;
    s->outb = NULL;
    s->outb_at = s->sink;
    s->outb_gen = s->link_gen;
    send_outb(s->w, XM_HANDOVER, o, partner, partner_worker, s->id, now);
  }
  /* else: it is away and comes home first (on_handback sends it on). */

  /* A partner on this worker that linked first found us not linked yet and kept its outbound
   * at home: now that we are, take it. */
  struct session *p = is_local(s->w, s->source) ? worker__session(s->w, partner) : NULL;
  if (p && p->outb && p->sink.sid == s->id && !s->sink_out && !s->closing) {
    struct outbound *o = p->outb;
    p->outb = NULL;
    p->outb_at = p->sink;
    p->outb_gen = p->link_gen;
    attach(s, o, now);
  }
}

void router__unlink(struct session *s) {
  detach(s, worker__now(s->w));
  s->source = (struct sref){0, 0};
  s->sink = (struct sref){0, 0};
}

void router__srtp_ready(struct session *s) {
  if (s->outb && !s->outb->srtp)
    s->outb->srtp = srtpctx_new(&s->keys);
}

void router__addr_changed(struct session *s) {
  if (s->outb) {
    s->outb->addr = s->addr;
    s->outb->have_addr = s->have_addr;
    return;
  }
  if (!s->outb_at.sid || !s->have_addr)
    return;
  struct worker *w = s->w;
  if (is_local(w, s->outb_at)) {
    struct session *f = worker__session(w, s->outb_at.sid);
    if (f && f->sink_out && f->sink_out->sid == s->id) {
      f->sink_out->addr = s->addr;
      f->sink_out->have_addr = true;
    }
    return;
  }
  struct xmsg *m = worker__xmsg(w, s->outb_at.worker, 0);
  if (m) {
    m->type = XM_ADDR;
    m->dst = s->outb_at.sid;
    m->src = s->id;
    m->addr = s->addr;
  }
}

/* ---- the packet path ---- */

/* One packet of src, rewritten for the receiver o and sent. buf is not modified. */
static void forward(struct session *src, struct outbound *o, int kind, const uint8_t *buf,
                    const struct rtp_view *v, uint64_t now) {
  struct worker *w = src->w;
  struct out_track *t = &o->out[kind];
  const uint8_t *payload = buf + v->payload_off;
  size_t plen = v->payload_len;
  struct vp8_desc d;
  bool first_key = false;
  if (!o->srtp || !o->have_addr || plen == 0)
    goto drop;
  if (t->src_ssrc != v->ssrc) {
    /* The source restarted its stream (a new SSRC): continue our numbering from here. */
    if (t->src_ssrc) {
      seqmap_switch(&t->seq);
      if (kind == KIND_VIDEO) {
        vp8map_switch(&t->vp8);
        t->need_keyframe = true;
        keyframe_local(src, now, false);
      }
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
  uint8_t *out = worker__tx_slot(w, o->home, &cap);
  struct rtp_ext ext;
  struct rtp_header h = {
      .marker = v->marker, .pt = (uint8_t)t->pt, .seq = oseq, .ts = ots, .ssrc = t->ssrc};
  if (o->ext_mid && o->mid[kind][0]) {
    ext.id = o->ext_mid;
    ext.len = (uint8_t)strlen(o->mid[kind]);
    ext.data = (const uint8_t *)o->mid[kind];
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
  if (srtpctx_protect_rtp(o->srtp, out, &len, cap + SRTPCTX_TRAILER) != 0)
    goto drop;
  t->packets++;
  t->bytes += plen;
  worker__tx_commit(w, o->home, &o->addr, len);
  worker__count(w, WSTAT_FWD);
  if (first_key)
    worker__partner_video(w, o->sid, ots);
  return;
drop:
  worker__count(w, WSTAT_DROP);
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
  if (s->sink_out)
    forward(s, s->sink_out, kind, buf, &v, now);
}

/* ---- RTCP ---- */

/* RTCP for a browser is protected and sent by its home worker (one SRTCP context, one index). */
static void rtcp_to(struct worker *w, uint64_t sid, unsigned home, uint8_t *buf, size_t len) {
  if (home == worker__index(w)) {
    struct session *r = worker__session(w, sid);
    if (r)
      worker__send_rtcp(w, r, buf, len);
    return;
  }
  struct xmsg *m = worker__xmsg(w, home, len);
  if (m) {
    m->type = XM_RTCP_OUT;
    m->dst = sid;
    memcpy(m + 1, buf, len);
  }
}

/* A sender report of s about its own stream, rewritten for the receiver it feeds. */
static void on_sr(struct session *s, const struct rtcp_item *it) {
  struct rtcp_sr sr;
  struct outbound *o = s->sink_out;
  if (!o || rtcp_parse_sr(it, &sr) != 0)
    return;
  int kind = sr.ssrc == s->in[KIND_AUDIO].ssrc   ? KIND_AUDIO
             : sr.ssrc == s->in[KIND_VIDEO].ssrc ? KIND_VIDEO
                                                 : -1;
  if (kind < 0)
    return;
  struct out_track *t = &o->out[kind];
  struct rtcp_sr out = sr;
  if ((kind == KIND_VIDEO && t->need_keyframe) || !seqmap_in_to_out_ts(&t->seq, sr.rtp_ts, &out.rtp_ts))
    return;
  out.ssrc = t->ssrc;
  out.packet_count = (uint32_t)t->packets;
  out.octet_count = (uint32_t)t->bytes;
  uint8_t buf[RTCP_BUF];
  int n = rtcp_write_sr(buf, 1500, &out, NULL, 0);
  if (n > 0)
    rtcp_to(s->w, o->sid, o->home, buf, (size_t)n);
}

/* NACKed sequence numbers of receiver `rsid`, translated through its outbound (held by src). */
static void nack_translate(struct session *src, uint64_t rsid, int kind, const uint16_t *seqs,
                           size_t n) {
  struct outbound *o = src->sink_out;
  if (!o || o->sid != rsid || !src->in[kind].ssrc)
    return;
  uint16_t in[MAX_NACK];
  size_t m = 0;
  for (size_t i = 0; i < n && m < MAX_NACK; i++)
    if (seqmap_unmap_seq(&o->out[kind].seq, seqs[i], &in[m]) == 0)
      m++;
  if (m == 0)
    return;
  uint8_t buf[RTCP_BUF];
  int len = rtcp_write_nack(buf, 1500, src->out_ssrc[kind], src->in[kind].ssrc, in, m);
  if (len > 0)
    worker__send_rtcp(src->w, src, buf, (size_t)len);
}

static void on_nack(struct session *r, const struct rtcp_item *it) {
  int kind = it->media_ssrc == r->out_ssrc[KIND_AUDIO]   ? KIND_AUDIO
             : it->media_ssrc == r->out_ssrc[KIND_VIDEO] ? KIND_VIDEO
                                                         : -1;
  if (kind < 0 || !r->source.sid)
    return;
  uint16_t seqs[MAX_NACK];
  size_t n = 0;
  if (rtcp_parse_nack(it, seqs, MAX_NACK, &n) != 0 || n == 0)
    return;
  struct worker *w = r->w;
  if (is_local(w, r->source)) {
    struct session *src = worker__session(w, r->source.sid);
    if (src)
      nack_translate(src, r->id, kind, seqs, n);
    return;
  }
  struct xmsg *x = worker__xmsg(w, r->source.worker, n * sizeof(uint16_t));
  if (x) {
    x->type = XM_NACK;
    x->kind = (uint8_t)kind;
    x->n = (uint16_t)n;
    x->dst = r->source.sid;
    x->src = r->id;
    memcpy(x + 1, seqs, n * sizeof(uint16_t));
  }
}

static void remb_to(struct session *src, uint64_t bps) {
  uint32_t media = src->in[KIND_VIDEO].ssrc;
  if (!media)
    return;
  uint8_t buf[RTCP_BUF];
  int len = rtcp_write_remb(buf, 1500, src->out_ssrc[KIND_VIDEO], bps, &media, 1);
  if (len > 0)
    worker__send_rtcp(src->w, src, buf, (size_t)len);
}

static void on_remb(struct session *r, const struct rtcp_item *it) {
  uint64_t bps;
  uint32_t ssrcs[4];
  size_t n;
  if (rtcp_parse_remb(it, &bps, ssrcs, 4, &n) != 0 || !r->source.sid)
    return;
  struct worker *w = r->w;
  if (is_local(w, r->source)) {
    struct session *src = worker__session(w, r->source.sid);
    if (src)
      remb_to(src, bps);
    return;
  }
  struct xmsg *x = worker__xmsg(w, r->source.worker, 0);
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
      if ((item.fmt == RTCP_FB_PLI || item.fmt == RTCP_FB_FIR) && media == s->out_ssrc[KIND_VIDEO])
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

void router__on_xmsg(struct worker *w, const struct xmsg *m, const uint8_t *extra, size_t extra_len,
                     uint64_t now) {
  if (m->type == XM_HANDBACK) {
    on_handback(w, m->outb, now);
    return;
  }
  if (m->type == XM_HANDOVER) {
    on_handover(w, m->outb, m->src, m->dst, now);
    return;
  }
  struct session *s = worker__session(w, m->dst);
  if (!s)
    return;
  switch (m->type) {
  case XM_KEYFRAME:
    keyframe_local(s, now, m->fir);
    break;
  case XM_NACK: {
    uint16_t seqs[MAX_NACK];
    size_t n = m->n < MAX_NACK ? m->n : MAX_NACK;
    if (m->kind > KIND_VIDEO || extra_len < n * sizeof(uint16_t))
      return;
    memcpy(seqs, extra, n * sizeof(uint16_t));
    nack_translate(s, m->src, m->kind, seqs, n);
    break;
  }
  case XM_REMB:
    remb_to(s, m->value);
    break;
  case XM_RTCP_OUT: {
    uint8_t buf[RTCP_BUF];
    if (extra_len > 1500)
      return;
    memcpy(buf, extra, extra_len);
    worker__send_rtcp(w, s, buf, extra_len);
    break;
  }
  case XM_ADDR:
    if (s->sink_out && s->sink_out->sid == m->src) {
      s->sink_out->addr = m->addr;
      s->sink_out->have_addr = true;
    }
    break;
  default:
    break;
  }
}

#define OUTB_RETRY_MS 100

/* A linked session's outbound belongs with its feeder. It can only be at home for a moment
 * (the feeder had not taken its LINK yet and handed it back); if it stays, send it again: the
 * feeder attaches it if linked, or hands it back if the link is gone. */
static void retry_handover(struct session *s, uint64_t now) {
  if (!s->outb || !s->sink.sid) {
    s->outb_home_since = 0;
    return;
  }
  if (!s->outb_home_since) {
    s->outb_home_since = now;
    return;
  }
  if (now - s->outb_home_since < OUTB_RETRY_MS)
    return;
  s->outb_home_since = 0;
  struct outbound *o = s->outb;
  s->outb = NULL;
  s->outb_at = s->sink;
  s->outb_gen = s->link_gen;
  send_outb(s->w, XM_HANDOVER, o, s->sink.sid, s->sink.worker, s->id, now);
}

/* As a receiver: keep its outbound with its feeder. As a source: keep asking for a keyframe
 * while the receiver it feeds waits for one. */
void router__tick(struct session *s, uint64_t now) {
  retry_handover(s, now);
  struct outbound *o = s->sink_out;
  if (!o)
    return;
  struct out_track *t = &o->out[KIND_VIDEO];
  if (!t->need_keyframe || now - t->last_pli_ms < KEYFRAME_RETRY_MS)
    return;
  t->last_pli_ms = now;
  keyframe_local(s, now, ++t->plis > FIR_AFTER);
}
