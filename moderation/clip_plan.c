/* clip_plan.c -- which RTP packets make a clip: VP8 frames reassembled, Opus packets, times. */
#include "moderation/clip_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* RTP and the VP8 payload descriptor are parsed here rather than with media/rtp.h and
 * media/vp8.h: moderation does not link media, so that media may link moderation (its workers
 * will keep a moderation/recorder.h per session) without a cycle. Only what a clip needs is
 * read: no header extension contents, no picture IDs. */
struct rtp_min {
  uint8_t pt;
  bool marker;
  uint16_t seq;
  uint32_t ts, ssrc;
  const uint8_t *pl;
  size_t pl_len;
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int rtp_min_parse(const uint8_t *b, size_t len, struct rtp_min *v) {
  if (len < 12 || (b[0] >> 6) != 2)
    return -EBADMSG;
  v->marker = (b[1] & 0x80) != 0;
  v->pt = b[1] & 0x7f;
  v->seq = get16(b + 2);
  v->ts = get32(b + 4);
  v->ssrc = get32(b + 8);
  size_t off = 12 + 4u * (b[0] & 0x0f);
  if (off > len)
    return -EBADMSG;
  if (b[0] & 0x10) {
    if (len - off < 4)
      return -EBADMSG;
    size_t ext = 4u * get16(b + off + 2);
    off += 4;
    if (len - off < ext)
      return -EBADMSG;
    off += ext;
  }
  size_t pad = 0;
  if (b[0] & 0x20) {
    pad = b[len - 1];
    if (pad == 0 || pad > len - off)
      return -EBADMSG;
  }
  v->pl = b + off;
  v->pl_len = len - off - pad;
  return 0;
}

/* RFC 7741 4.2: the descriptor's length, and whether this packet starts partition 0 (S=1,
 * PID=0), i.e. a frame. -EBADMSG when it runs past len or no payload byte follows. */
static int vp8_desc(const uint8_t *p, size_t len, size_t *dlen, bool *start0) {
  size_t off = 1;
  if (len < 1)
    return -EBADMSG;
  if (p[0] & 0x80) {
    if (len < 2)
      return -EBADMSG;
    uint8_t x = p[1];
    off = 2;
    if (x & 0x80) {
      if (off >= len)
        return -EBADMSG;
      off += (p[off] & 0x80) ? 2 : 1;
    }
    if (x & 0x40)
      off++;
    if (x & 0x30)
      off++;
  }
  if (off >= len)
    return -EBADMSG;
  *dlen = off;
  *start0 = (p[0] & 0x10) && (p[0] & 0x07) == 0;
  return 0;
}

uint32_t clip__opus_samples(const uint8_t *p, size_t len) {
  static const uint16_t silk[4] = {480, 960, 1920, 2880}, celt[4] = {120, 240, 480, 960};
  if (len < 1)
    return 0;
  unsigned config = p[0] >> 3, frames;
  uint32_t size = config < 12 ? silk[config & 3] : config < 16 ? silk[config & 1] : celt[config & 3];
  switch (p[0] & 3) {
  case 0:
    frames = 1;
    break;
  case 1:
  case 2:
    frames = 2;
    break;
  default:
    if (len < 2)
      return 0;
    frames = p[1] & 0x3f;
    break;
  }
  uint32_t n = frames * size;
  return n == 0 || n > 5760 ? 0 : n;
}

/* Later arrival times are ignored: 2^44 ms is 557 years after 1970, and below it the
 * arithmetic in microseconds of 90 kHz ticks cannot overflow. */
#define ARRIVAL_MAX (UINT64_C(1) << 44)

/* One packet of a stream, its sequence number and timestamp unwrapped. */
struct spkt {
  int64_t seq, ts;
  uint64_t arrival;
  size_t idx; /* input order, so sorting is stable */
  const uint8_t *pl;
  size_t pl_len;
  bool marker, start0;
};

static int by_seq(const void *a, const void *b) {
  const struct spkt *x = a, *y = b;
  if (x->seq != y->seq)
    return x->seq < y->seq ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int by_ts(const void *a, const void *b) {
  const struct spkt *x = a, *y = b;
  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* A VP8 frame: packets [first, last] of the sorted video list. */
struct frame {
  size_t first, last;
  int64_t ts;
  bool key, whole;
  size_t bytes;
};

/* The packets of one payload type and SSRC, in input order, unwrapped against the packet
 * before (so reordering within half the number space is fine). */
static size_t collect(const struct clip_pkt *pkts, size_t n, uint8_t pt, bool video,
                      struct spkt *out, uint64_t *newest) {
  struct rtp_min v;
  bool have = false;
  uint32_t ssrc = 0;
  for (size_t i = n; i-- > 0;)
    if (rtp_min_parse(pkts[i].rtp, pkts[i].len, &v) == 0 && v.pt == pt) {
      ssrc = v.ssrc;
      have = true;
      break;
    }
  size_t k = 0;
  int64_t seq = 0, ts = 0;
  for (size_t i = 0; have && i < n; i++) {
    if (rtp_min_parse(pkts[i].rtp, pkts[i].len, &v) != 0 || v.pt != pt || v.ssrc != ssrc ||
        pkts[i].arrival_ms > ARRIVAL_MAX)
      continue;
    if (pkts[i].arrival_ms > *newest)
      *newest = pkts[i].arrival_ms;
    if (v.pl_len == 0)
      continue; /* padding only (bandwidth probes) */
    struct spkt *s = &out[k];
    s->seq = k ? seq + (int16_t)(v.seq - (uint16_t)seq) : v.seq;
    s->ts = k ? ts + (int32_t)(v.ts - (uint32_t)ts) : v.ts;
    seq = s->seq;
    ts = s->ts;
    s->arrival = pkts[i].arrival_ms;
    s->idx = i;
    s->marker = v.marker;
    s->pl = v.pl;
    s->pl_len = v.pl_len;
    s->start0 = false;
    if (video) {
      size_t dlen;
      if (vp8_desc(v.pl, v.pl_len, &dlen, &s->start0) != 0)
        continue;
      s->pl += dlen;
      s->pl_len -= dlen;
    } else if (clip__opus_samples(v.pl, v.pl_len) == 0) {
      continue;
    }
    k++;
  }
  return k;
}

/* Least (arrival - media time) over a stream, in its clock's ticks: where its timestamps sit
 * on the arrival clock. */
static int64_t clock_offset(const struct spkt *s, size_t n, int64_t ticks_per_ms) {
  int64_t off = INT64_MAX;
  for (size_t i = 0; i < n; i++) {
    int64_t o = (int64_t)s[i].arrival * ticks_per_ms - s[i].ts;
    if (o < off)
      off = o;
  }
  return off;
}

/* The frames of the sorted, de-duplicated video packets, a run of one timestamp each. A frame
 * is whole when its sequence numbers are consecutive, it starts at S=1 PID=0 and ends at the
 * marker (RFC 7741 4.4, 4.5). */
static size_t find_frames(const struct spkt *v, size_t n, struct frame *fr) {
  size_t k = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    bool whole = v[i].start0;
    size_t bytes = v[i].pl_len;
    while (j + 1 < n && v[j + 1].ts == v[i].ts) {
      if (v[j + 1].seq != v[j].seq + 1 || v[j].marker)
        whole = false;
      bytes += v[++j].pl_len;
    }
    whole = whole && v[j].marker;
    fr[k++] = (struct frame){i, j, v[i].ts, whole && (v[i].pl[0] & 1) == 0, whole, bytes};
    i = j + 1;
  }
  return k;
}

static int64_t us_of(int64_t ts, int64_t off, int64_t ticks_per_ms) {
  return (ts + off) * 1000 / ticks_per_ms;
}

static void key_size(const uint8_t *p, size_t len, struct clip_stats *st) {
  if (len >= 10 && p[3] == 0x9d && p[4] == 0x01 && p[5] == 0x2a) {
    st->width = (uint16_t)((p[6] | p[7] << 8) & 0x3fff);
    st->height = (uint16_t)((p[8] | p[9] << 8) & 0x3fff);
  }
}

/* Merges the video units (already in order) and audio units (already in order) by time. */
static void merge(struct clip__plan *pl, const struct clip__unit *vu, size_t nv,
                  const struct clip__unit *au, size_t na) {
  size_t i = 0, j = 0;
  while (i < nv || j < na) {
    bool take_v = j >= na || (i < nv && vu[i].pts * 48 <= au[j].pts * 90);
    pl->units[pl->n++] = take_v ? vu[i++] : au[j++];
  }
}

int clip__plan(const struct clip_pkt *pkts, size_t n, const struct clip_params *p,
               struct clip__plan *pl) {
  memset(pl, 0, sizeof(*pl));
  if ((!pkts && n) || !p || p->video_pt > 127 || p->audio_pt > 127 || p->video_pt == p->audio_pt)
    return -EINVAL;
  size_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += pkts[i].len;
  struct spkt *v = malloc((n ? n : 1) * sizeof(*v));
  struct spkt *a = malloc((n ? n : 1) * sizeof(*a));
  struct frame *fr = malloc((n ? n : 1) * sizeof(*fr));
  struct clip__unit *vu = malloc((n ? n : 1) * sizeof(*vu));
  struct clip__unit *au = malloc((n ? n : 1) * sizeof(*au));
  pl->units = malloc((n ? n : 1) * sizeof(*pl->units));
  pl->data = malloc(total ? total : 1);
  int rc = -ENOMEM;
  if (!v || !a || !fr || !vu || !au || !pl->units || !pl->data)
    goto out;

  uint64_t newest = 0;
  size_t nv = collect(pkts, n, p->video_pt, true, v, &newest);
  size_t na = collect(pkts, n, p->audio_pt, false, a, &newest);
  int64_t from_us = ((int64_t)newest - (int64_t)p->clip_ms) * 1000;

  /* Video: sorted by sequence number, retransmitted copies dropped, whole frames found. */
  qsort(v, nv, sizeof(*v), by_seq);
  size_t w = 0;
  for (size_t i = 0; i < nv; i++)
    if (w == 0 || v[i].seq != v[w - 1].seq)
      v[w++] = v[i];
  nv = w;
  size_t nf = find_frames(v, nv, fr);
  int64_t voff = clock_offset(v, nv, 90);
  /* The keyframe nearest the window's start, before or after it: the clip is then as close
   * to clip_ms long as the keyframes allow (the media worker asks for one every few
   * seconds and keeps a little more than the window). */
  size_t start = nf;
  int64_t best = INT64_MAX;
  for (size_t i = 0; i < nf; i++) {
    if (!fr[i].key || !fr[i].whole)
      continue;
    int64_t d = us_of(fr[i].ts, voff, 90) - from_us;
    if (d < 0)
      d = -d;
    if (d < best) {
      best = d;
      start = i;
    }
  }
  int64_t t0_us = from_us;
  size_t nvu = 0, off = 0;
  if (start < nf) {
    int64_t ts0 = fr[start].ts, last = -1;
    t0_us = us_of(ts0, voff, 90);
    key_size(v[fr[start].first].pl, v[fr[start].first].pl_len, &pl->st);
    for (size_t i = start; i < nf; i++) {
      if (!fr[i].whole) {
        pl->st.video_dropped++;
        continue;
      }
      if (fr[i].ts - ts0 <= last)
        continue; /* timestamps must grow */
      last = fr[i].ts - ts0;
      vu[nvu] = (struct clip__unit){off, fr[i].bytes, last, 0, true, fr[i].key};
      for (size_t k = fr[i].first; k <= fr[i].last; k++) {
        memcpy(pl->data + off, v[k].pl, v[k].pl_len);
        off += v[k].pl_len;
      }
      if (nvu > 0)
        vu[nvu - 1].dur = (uint32_t)(last - vu[nvu - 1].pts);
      nvu++;
    }
    /* The last frame lasts as long as the one before it (or a 30 fps frame). */
    vu[nvu - 1].dur = nvu > 1 ? vu[nvu - 2].dur : 3000;
    pl->st.video_frames = (unsigned)nvu;
    pl->has_video = true;
  }

  /* Audio: by timestamp, copies dropped, from the clip's start on. */
  qsort(a, na, sizeof(*a), by_ts);
  int64_t aoff = clock_offset(a, na, 48);
  size_t nau = 0;
  for (size_t i = 0; i < na; i++) {
    if (i > 0 && a[i].ts == a[i - 1].ts)
      continue;
    int64_t us = us_of(a[i].ts, aoff, 48);
    if (us < t0_us)
      continue;
    au[nau++] = (struct clip__unit){off, a[i].pl_len, (us - t0_us) * 48 / 1000,
                                    clip__opus_samples(a[i].pl, a[i].pl_len), false, true};
    memcpy(pl->data + off, a[i].pl, a[i].pl_len);
    off += a[i].pl_len;
  }
  /* Two packets must not land on one tick after rounding. */
  for (size_t i = 1; i < nau; i++)
    if (au[i].pts <= au[i - 1].pts)
      au[i].pts = au[i - 1].pts + 1;
  pl->has_audio = nau > 0;
  pl->st.audio_packets = (unsigned)nau;
  if (nvu == 0 && nau == 0) {
    rc = -ENOENT;
    goto out;
  }
  merge(pl, vu, nvu, au, nau);
  int64_t end_us = 0;
  if (nvu)
    end_us = (vu[nvu - 1].pts + vu[nvu - 1].dur) * 1000 / 90;
  if (nau && (au[nau - 1].pts + au[nau - 1].dur) * 1000 / 48 > end_us)
    end_us = (au[nau - 1].pts + au[nau - 1].dur) * 1000 / 48;
  pl->st.duration_ms = (uint32_t)(end_us / 1000);
  rc = 0;
out:
  free(v);
  free(a);
  free(fr);
  free(vu);
  free(au);
  if (rc)
    clip__plan_free(pl);
  return rc;
}

void clip__plan_free(struct clip__plan *pl) {
  free(pl->units);
  free(pl->data);
  memset(pl, 0, sizeof(*pl));
}
