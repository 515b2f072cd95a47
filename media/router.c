/* router.c -- forwarding RTP between linked sessions and terminating RTCP. A receiver's
 * outbound lives with the worker of the session feeding it (handover.c), so a packet is
 * received, rewritten, protected and sent by one thread; only RTCP feedback crosses workers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/capture.h"
#include "media/record.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/router_int.h"

#define KEYFRAME_RETRY_MS 300   /* repeat the request while a receiver waits for a keyframe */
#define KEYFRAME_MIN_GAP_MS 100 /* never ask one source more often than this */
#define FIR_AFTER 3             /* PLIs before falling back to FIR */
/* libwebrtc's encoder (Chromium, Firefox, Safari) acts on one keyframe request per 300 ms and
 * silently drops the others (EncoderRtcpFeedback's minimum keyframe send interval). A request
 * that falls inside that window, as a new partner's often does right after another one's, is
 * sent again as soon as the window is over, plus a margin for the two requests' transit. */
#define BROWSER_KF_GAP_MS 300
#define BROWSER_KF_MARGIN_MS 25
#define RTCP_BUF (1500 + SRTPCTX_TRAILER)
#define MAX_NACK 128
#define RTX_SLOTS 64            /* retransmissions a source may owe at once */
#define RTX_WAIT_MS 1000        /* how long one is awaited */

static bool is_local(struct worker *w, struct sref r) { return r.sid && r.worker == w->index; }

/* ---- keyframes ---- */

void router__keyframe(struct session *src, uint64_t now, bool fir) {
  uint32_t media = src->in[KIND_VIDEO].ssrc;
  if (!media || (!src->srtp && !src->relay))
    return;
  if (src->last_kf_req_ms && now - src->last_kf_req_ms < KEYFRAME_MIN_GAP_MS)
    return;
  bool heard = !src->kf_heard_ms || now - src->kf_heard_ms >= BROWSER_KF_GAP_MS;
  if (!heard) {
    /* Sent anyway (an encoder that does not drop it answers at once); owed until heard. */
    src->kf_owed = true;
    src->kf_owed_fir |= fir;
  }
  uint8_t buf[RTCP_BUF];
  int n = fir ? rtcp_write_fir(buf, 1500, src->out_ssrc[KIND_VIDEO], media, src->fir_seq++)
              : rtcp_write_pli(buf, 1500, src->out_ssrc[KIND_VIDEO], media);
  if (n <= 0)
    return;
  src->last_kf_req_ms = now;
  if (heard) {
    src->kf_heard_ms = now;
    src->kf_owed = false;
    src->kf_owed_fir = false;
  }
  src->w->st.keyframe_requests++;
  session__send_rtcp(src, buf, (size_t)n);
}

/* Receiver r (at home) asks its source for a keyframe, wherever the source lives. */
static void ask_keyframe(struct session *r, uint64_t now, bool fir) {
  struct worker *w = r->w;
  if (!r->link.partner.sid)
    return;
  if (is_local(w, r->link.partner)) {
    struct session *src = worker__session(w, r->link.partner.sid);
    if (src)
      router__keyframe(src, now, fir);
    return;
  }
  struct xmsg *m = worker__xmsg(w, r->link.partner.worker, XM_KEYFRAME, 0);
  if (m) {
    m->fir = fir;
    m->dst = r->link.partner.sid;
    m->src = r->id;
  }
}

/* ---- the packet path ---- */

/* One packet of src, rewritten for the receiver o and sent (true) or dropped and counted. buf
 * is not modified. For video, d is its VP8 descriptor (NULL when it did not parse). */
static bool forward(struct session *src, struct outbound *o, int kind, const uint8_t *buf,
                    const struct rtp_view *v, const struct vp8_desc *d, uint64_t now) {
  struct worker *w = src->w;
  struct out_track *t = &o->out[kind];
  const uint8_t *payload = buf + v->payload_off;
  size_t plen = v->payload_len;
  bool first_key = false;
  bool relay = o->path.kind == TX_RELAY; /* sealed by the commit, not SRTP */
  if ((!o->srtp && !relay) || o->path.kind == TX_NONE || plen == 0)
    goto drop;
  if (t->src_ssrc != v->ssrc) {
    /* The source restarted its stream (a new SSRC): continue our numbering from here. */
    if (t->src_ssrc) {
      seqmap_switch(&t->seq);
      if (kind == KIND_VIDEO) {
        vp8map_switch(&t->vp8);
        t->need_keyframe = true;
        router__keyframe(src, now, false);
      }
    }
    t->src_ssrc = v->ssrc;
  }
  if (kind == KIND_VIDEO) {
    if (!d)
      goto drop;
    if (t->need_keyframe) {
      if (!d->keyframe)
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
  uint8_t *out = transport__slot(w, &o->path, &cap);
  if (!out)
    goto drop;
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
    vp8map_map(&t->vp8, d, &pid, &tl0);
    vp8_rewrite(out + hl, d, pid, tl0);
  }
  size_t len = (size_t)hl + plen;
  if (!relay && srtpctx_protect_rtp(o->srtp, out, &len, cap + SRTPCTX_TRAILER) != 0)
    goto drop;
  t->packets++;
  t->bytes += plen;
  transport__commit(w, &o->path, len);
  w->st.rtp_forwarded++;
  if (first_key && !relay) /* the remote node tells its own control plane */
    worker__event(w, WEV_PARTNER_VIDEO, o->sid, (int)ots, NULL, 0);
  return true;
drop:
  w->st.rtp_dropped++;
  return false;
}

void router__on_rtp(struct session *s, uint8_t *buf, size_t len, uint64_t now) {
  struct rtp_view v;
  struct worker *w = s->w;
  if (rtp_parse(buf, len, &v) != 0) {
    w->st.rtp_dropped++;
    return;
  }
  int kind;
  if (v.pt == s->in[KIND_AUDIO].pt)
    kind = KIND_AUDIO;
  else if (v.pt == s->in[KIND_VIDEO].pt)
    kind = KIND_VIDEO;
  else {
    w->st.rtp_dropped++;
    return;
  }
  struct in_track *in = &s->in[kind];
  in->ssrc = v.ssrc;
  in->packets++;
  in->bytes += len;
  in->last_ms = now;
  /* The VP8 descriptor is parsed once, for the recording's keyframe flag and the rewrite. */
  struct vp8_desc d;
  bool vp8_ok = kind == KIND_VIDEO && (s->rec || s->sink_out || s->kf_owed) &&
                vp8_parse(buf + v.payload_off, v.payload_len, &d) == 0;
  if (vp8_ok && d.keyframe)
    s->kf_owed = false; /* whoever wanted one has it */
  if (s->rec)
    record__rtp(s, buf, len, kind == KIND_VIDEO, vp8_ok && d.keyframe, now);
  if (kind == KIND_VIDEO && s->captures)
    capture__on_video(s, buf, &v);
  if (s->sink_out)
    forward(s, s->sink_out, kind, buf, &v, vp8_ok ? &d : NULL, now);
}

/* ---- retransmissions ---- */

struct rtx_wait {
  struct {
    uint64_t until;             /* 0 = free */
    uint16_t seq;
    uint8_t kind;
  } e[RTX_SLOTS];
  unsigned next;                /* the slot taken next (the oldest when all are in use) */
};

static void rtx_expect(struct session *src, int kind, const uint16_t *seqs, size_t n, uint64_t now) {
  if (!src->rtx && !(src->rtx = calloc(1, sizeof(*src->rtx))))
    return;
  struct rtx_wait *r = src->rtx;
  for (size_t i = 0; i < n; i++) {
    r->e[r->next].until = now + RTX_WAIT_MS;
    r->e[r->next].seq = seqs[i];
    r->e[r->next].kind = (uint8_t)kind;
    r->next = (r->next + 1) % RTX_SLOTS;
  }
}

/* The slot awaiting (kind, seq), or -1. */
static int rtx_find(const struct rtx_wait *r, int kind, uint16_t seq, uint64_t now) {
  for (int i = 0; r && i < RTX_SLOTS; i++)
    if (r->e[i].until >= now && r->e[i].until && r->e[i].seq == seq && r->e[i].kind == kind)
      return i;
  return -1;
}

static int kind_of_ssrc(const struct session *s, uint32_t ssrc) {
  return ssrc && ssrc == s->in[KIND_VIDEO].ssrc   ? KIND_VIDEO
         : ssrc && ssrc == s->in[KIND_AUDIO].ssrc ? KIND_AUDIO
                                                  : -1;
}

bool router__rtx_expected(const struct session *s, const uint8_t *buf, size_t len, uint64_t now) {
  if (!s->rtx || len < 12)
    return false;
  int kind = kind_of_ssrc(s, (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 |
                                 (uint32_t)buf[10] << 8 | buf[11]);
  return kind >= 0 && rtx_find(s->rtx, kind, (uint16_t)(buf[2] << 8 | buf[3]), now) >= 0;
}

void router__on_rtp_again(struct session *s, uint8_t *buf, size_t len, uint64_t now) {
  struct rtp_view v;
  struct worker *w = s->w;
  int kind, slot;
  if (rtp_parse(buf, len, &v) != 0 || (kind = kind_of_ssrc(s, v.ssrc)) < 0 ||
      v.pt != s->in[kind].pt || (slot = rtx_find(s->rtx, kind, v.seq, now)) < 0 || !s->sink_out) {
    w->st.rtp_dropped++;
    return;
  }
  s->rtx->e[slot].until = 0; /* once */
  struct vp8_desc d;
  bool vp8_ok = kind == KIND_VIDEO && vp8_parse(buf + v.payload_off, v.payload_len, &d) == 0;
  if (forward(s, s->sink_out, kind, buf, &v, vp8_ok ? &d : NULL, now))
    w->st.rtp_retransmitted++;
}

/* ---- RTCP ---- */

/* RTCP for a browser is protected and sent by its home worker (one SRTCP context, one index). */
static void rtcp_to(struct worker *w, uint64_t sid, unsigned home, uint8_t *buf, size_t len) {
  if (home == w->index) {
    struct session *r = worker__session(w, sid);
    if (r)
      session__send_rtcp(r, buf, len);
    return;
  }
  struct xmsg *m = worker__xmsg(w, home, XM_RTCP_OUT, len);
  if (m) {
    m->dst = sid;
    memcpy(m + 1, buf, len);
  }
}

/* A sender report of s about its own stream, rewritten for the receiver it feeds. Its NTP time
 * is replaced by ours at arrival (the sender's clock would fingerprint it to the partner); lip
 * sync only needs audio and video to agree, and both get the same one-way delay. */
static void on_sr(struct session *s, const struct rtcp_item *it, uint64_t now) {
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
  uint64_t wall_ms = (uint64_t)((int64_t)now + s->w->wall_offset_ms);
  out.ntp_sec = (uint32_t)(wall_ms / 1000 + 2208988800u); /* NTP counts from 1900 */
  out.ntp_frac = (uint32_t)(((wall_ms % 1000) << 32) / 1000);
  out.ssrc = t->ssrc;
  out.packet_count = (uint32_t)t->packets;
  out.octet_count = (uint32_t)t->bytes;
  uint8_t buf[RTCP_BUF];
  int n = rtcp_write_sr(buf, 1500, &out, NULL, 0);
  if (n > 0)
    rtcp_to(s->w, o->sid, o->path.home, buf, (size_t)n);
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
  if (len > 0) {
    rtx_expect(src, kind, in, m, worker__now(src->w));
    session__send_rtcp(src, buf, (size_t)len);
  }
}

static void on_nack(struct session *r, const struct rtcp_item *it) {
  int kind = it->media_ssrc == r->out_ssrc[KIND_AUDIO]   ? KIND_AUDIO
             : it->media_ssrc == r->out_ssrc[KIND_VIDEO] ? KIND_VIDEO
                                                         : -1;
  if (kind < 0 || !r->link.partner.sid)
    return;
  uint16_t seqs[MAX_NACK];
  size_t n = 0;
  if (rtcp_parse_nack(it, seqs, MAX_NACK, &n) != 0 || n == 0)
    return;
  struct worker *w = r->w;
  if (is_local(w, r->link.partner)) {
    struct session *src = worker__session(w, r->link.partner.sid);
    if (src)
      nack_translate(src, r->id, kind, seqs, n);
    return;
  }
  struct xmsg *x = worker__xmsg(w, r->link.partner.worker, XM_NACK, n * sizeof(uint16_t));
  if (x) {
    x->kind = (uint8_t)kind;
    x->n = (uint16_t)n;
    x->dst = r->link.partner.sid;
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
    session__send_rtcp(src, buf, (size_t)len);
}

static void on_remb(struct session *r, const struct rtcp_item *it) {
  uint64_t bps;
  uint32_t ssrcs[4];
  size_t n;
  if (rtcp_parse_remb(it, &bps, ssrcs, 4, &n) != 0 || !r->link.partner.sid)
    return;
  struct worker *w = r->w;
  if (is_local(w, r->link.partner)) {
    struct session *src = worker__session(w, r->link.partner.sid);
    if (src)
      remb_to(src, bps);
    return;
  }
  struct xmsg *x = worker__xmsg(w, r->link.partner.worker, XM_REMB, 0);
  if (x) {
    x->value = bps;
    x->dst = r->link.partner.sid;
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
      on_sr(s, &item, now);
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
  struct session *s = worker__session(w, m->dst);
  if (!s)
    return;
  switch (m->type) {
  case XM_KEYFRAME:
    router__keyframe(s, now, m->fir);
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
    session__send_rtcp(s, buf, extra_len);
    break;
  }
  default:
    break;
  }
}


/* As a source: keep asking for a keyframe while the receiver it feeds waits for one. */
void router__tick(struct session *s, uint64_t now) {
  if (s->kf_owed && now - s->kf_heard_ms >= BROWSER_KF_GAP_MS + BROWSER_KF_MARGIN_MS) {
    s->last_kf_req_ms = 0; /* past the router's own minimum gap: this one is due */
    router__keyframe(s, now, s->kf_owed_fir);
  }
  struct outbound *o = s->sink_out;
  if (!o)
    return;
  struct out_track *t = &o->out[KIND_VIDEO];
  if (!t->need_keyframe || now - t->last_pli_ms < KEYFRAME_RETRY_MS)
    return;
  t->last_pli_ms = now;
  router__keyframe(s, now, ++t->plis > FIR_AFTER);
}

void router__attach(struct session *src, struct outbound *o, uint64_t now) {
  for (int k = 0; k < 2; k++) {
    seqmap_switch(&o->out[k].seq);
    o->out[k].src_ssrc = 0;
  }
  vp8map_switch(&o->out[KIND_VIDEO].vp8);
  struct out_track *t = &o->out[KIND_VIDEO];
  t->need_keyframe = true;
  t->plis = 1;
  t->last_pli_ms = now;
  router__keyframe(src, now, false);
}
