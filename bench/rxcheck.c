/* rxcheck.c -- what a simulated browser checks and measures in the media it receives. */
#include "bench/rxcheck.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/bpeer_int.h"
#include "bench/media.h"
#include "bench/xtalk.h"
#include "media/rtp.h"
#include "media/vp8.h"

#define XTALK_LOG_MAX 20

static void xtalk_note(struct brun *r, uint32_t peer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void xtalk_note(struct brun *r, uint32_t peer, const char *fmt, ...) {
  if (r->xtalk_logged++ >= XTALK_LOG_MAX)
    return;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fprintf(stderr, "tandem-bench: CROSS-TALK peer %u at %.3f s: %s\n", peer,
          (double)brun_now_us(r) / 1e6, msg);
}


/* Extends a 16-bit sequence number around the newest one seen. */
static uint64_t unwrap(struct bp_rx *rx, uint16_t seq) {
  if (!rx->any) {
    rx->any = true;
    rx->first_ext = rx->max_ext = (1u << 20) + seq;
    return rx->max_ext;
  }
  uint64_t ext = rx->max_ext + (uint64_t)(int64_t)(int16_t)(uint16_t)(seq - (uint16_t)rx->max_ext);
  if (ext > rx->max_ext)
    rx->max_ext = ext;
  if (ext < rx->first_ext)
    rx->first_ext = ext;
  return ext;
}

static void jitter(struct bp_rx *rx, uint32_t ts, uint64_t now, bool restart) {
  int64_t arrival = (int64_t)(now * rx->clock / 1000000);
  int64_t transit = (int64_t)(int32_t)((uint32_t)arrival - ts);
  if (rx->have_transit && !restart) {
    int64_t d = (int64_t)(int32_t)(uint32_t)(transit - rx->last_transit);
    rx->jitter += ((double)(d < 0 ? -d : d) - rx->jitter) / 16.0;
  }
  rx->last_transit = transit;
  rx->have_transit = true;
}

/* Sender runs in sequence order; returns true when the packet opened a new run. */
static bool account(struct bptransport *t, int k, uint64_t sender, uint64_t ext, uint64_t now) {
  struct bpeer *p = t->p;
  struct brun *r = p->run;
  struct bp_rx *rx = &t->rx[k];
  const char *kind = k ? "video" : "audio";
  if (!xtalk_known(r->xt, sender) || sender == p->id) {
    r->t.xtalk_foreign++;
    xtalk_note(r, p->index, "%s from %s (id %016" PRIx64 ")", kind,
               sender == p->id ? "itself" : "a sender that is no peer of this run", sender);
    return false;
  }
  bool opened = false;
  struct bp_seg *last = rx->nseg ? &rx->seg[rx->nseg - 1] : NULL;
  if (!last || ext > last->max) {
    if (last && last->sender == sender && !rx->split) {
      last->max = ext;
      xtalk_seg_touch(r->xt, p->id, last->xt, now);
    } else {
      if (rx->nseg == BP_SEGS) {
        for (int i = 1; i < BP_SEGS; i++)
          rx->seg[i - 1] = rx->seg[i];
        rx->nseg--;
      }
      rx->seg[rx->nseg++] = (struct bp_seg){sender, ext, ext,
                                            xtalk_seg_begin(r->xt, p->id, t->stream, k, sender,
                                                            now)};
      rx->split = false;
      opened = true;
    }
  } else {
    /* An older number: it belongs to the newest run that began at or before it. */
    int j = rx->nseg - 1;
    while (j >= 0 && rx->seg[j].first > ext)
      j--;
    if (j >= 0 && rx->seg[j].sender != sender) {
      r->t.xtalk_order[k]++;
      xtalk_note(r, p->index, "%s packet of peer %u (visit %u) numbered inside the run of peer %u "
                 "(visit %u)", kind, xtalk_peer(r->xt, sender), (uint32_t)(sender & 0xffffff),
                 xtalk_peer(r->xt, rx->seg[j].sender), (uint32_t)(rx->seg[j].sender & 0xffffff));
      return false;
    }
    if (j >= 0)
      xtalk_seg_touch(r->xt, p->id, rx->seg[j].xt, now);
  }
  return opened;
}

/* partner_video named frame f: it must be the start of a keyframe (when its first packet came),
 * and its arrival is the moment the partner became visible. */
static void establish(struct bptransport *t, const struct bp_frame *f) {
  struct bpeer *p = t->p;
  t->pv_pending = false;
  if (f->start && !f->key_start)
    brun_error(p->run, BE_PARTNER_VIDEO, p->index, "partner_video ts %u names a delta frame",
               f->ts);
  bpeer__on_partner_keyframe(p, f->t_us);
}

/* Remembers the first packet of each recent video frame, for partner_video. */
static void note_frame(struct bptransport *t, const struct rtp_view *v, const struct vp8_desc *d,
                       uint64_t sender, uint64_t ext, uint64_t now) {
  bool start = d->start && d->part_id == 0;
  struct bp_frame *f = NULL;
  for (int i = 0; i < t->nframes && !f; i++) {
    struct bp_frame *c = &t->frames[(t->frame_head - 1 - i + BP_FRAMES) % BP_FRAMES];
    if (c->ts == v->ts)
      f = c;
  }
  if (!f) {
    f = &t->frames[t->frame_head];
    t->frame_head = (t->frame_head + 1) % BP_FRAMES;
    if (t->nframes < BP_FRAMES)
      t->nframes++;
    *f = (struct bp_frame){v->ts, now, sender, ext, d->keyframe, start};
  } else if (start && !f->start) {
    f->start = true; /* the frame's first packet came late */
    f->key_start = d->keyframe;
    f->ext = ext;
    f->sender = sender;
  }
  if (t->pv_pending && v->ts == t->pv_ts)
    establish(t, f);
}

void rxcheck_packet(struct bptransport *t, const uint8_t *buf, size_t len, uint64_t now) {
  struct bpeer *p = t->p;
  struct brun *r = p->run;
  struct rtp_view v;
  if (rtp_parse(buf, len, &v) != 0) {
    brun_error(r, BE_RTP, p->index, "unparsable RTP after SRTP");
    return;
  }
  int k = v.ssrc == t->rx[0].ssrc ? 0 : v.ssrc == t->rx[1].ssrc ? 1 : -1;
  if (k < 0 || v.pt != t->ans.pt[k]) {
    brun_error(r, BE_RTP, p->index, "RTP with SSRC %" PRIu32 " / PT %u not in the answer", v.ssrc,
               v.pt);
    return;
  }
  const uint8_t *pl = buf + v.payload_off;
  uint64_t sender;
  struct vp8_desc d;
  if (media_trailer_read(pl, v.payload_len, &sender) != 0) {
    brun_error(r, BE_RTP, p->index, "%s payload without an identity trailer",
               k ? "video" : "audio");
    return;
  }
  if (k == 1 && vp8_parse(pl, v.payload_len - MEDIA_TRAILER_LEN, &d) != 0) {
    brun_error(r, BE_RTP, p->index, "video payload with a bad VP8 descriptor");
    return;
  }
  struct bp_rx *rx = &t->rx[k];
  uint64_t ext = unwrap(rx, v.seq);
  rx->received++;
  bool opened = account(t, k, sender, ext, now);
  jitter(rx, v.ts, now, opened);
  if (k == 1)
    note_frame(t, &v, &d, sender, ext, now);
  if (!t->got_partner_media && xtalk_pair_is_open(r->xt, p->id)) {
    t->got_partner_media = true;
    bpeer__on_media(p, now);
  }
}

void rxcheck_partner_video(struct bptransport *t, uint32_t ts) {
  for (int i = 0; i < t->nframes; i++) {
    struct bp_frame *f = &t->frames[(t->frame_head - 1 - i + BP_FRAMES) % BP_FRAMES];
    if (f->ts == ts) {
      establish(t, f);
      return;
    }
  }
  if (t->pv_pending)
    t->p->run->t.pv_unseen++;
  t->pv_pending = true;
  t->pv_ts = ts;
}

void rxcheck_pairing_changed(struct bptransport *t) {
  for (int k = 0; k < 2; k++)
    t->rx[k].split = true;
  if (t->pv_pending)
    t->p->run->t.pv_unseen++;
  t->pv_pending = false;
}

void rxcheck_flush(struct bptransport *t) {
  struct brun *r = t->p->run;
  for (int k = 0; k < 2; k++) {
    const struct bp_rx *rx = &t->rx[k];
    if (rx->received < 25)
      continue; /* too short to say anything */
    double expected = (double)(rx->max_ext - rx->first_ext + 1);
    double lost = expected - (double)rx->received;
    stats_add(r->m[k ? BM_LOSS_VIDEO : BM_LOSS_AUDIO], lost > 0 ? 100.0 * lost / expected : 0);
    stats_add(r->m[k ? BM_JITTER_VIDEO : BM_JITTER_AUDIO], rx->jitter * 1000.0 / rx->clock);
  }
  if (t->pv_pending)
    r->t.pv_unseen++;
  t->pv_pending = false;
}
