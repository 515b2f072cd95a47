/* handover.c -- who holds the outbound of each session (what its browser receives), and how
 * it moves between workers so that a packet is forwarded by the thread that received it.
 *
 * Five rules:
 * 1. An outbound is held by exactly one party: its session at home (s->outb), a feeder
 *    (f->sink_out), a parking slot on the feeder's worker, or one message in flight.
 * 2. Home sends it out at most once per link: when its session is linked and it has not been
 *    sent for that link yet, stamped with the seq of the partner's LINK command.
 * 3. A worker that receives it before carrying out the command of its stamp parks it (that LINK
 *    is already queued: seqs increase in posting order). Once the stamp is carried out, it is
 *    attached if the feeder is linked by exactly that LINK to its session, else sent home.
 * 4. A feeder sends it home when its link ends (UNLINK, another LINK, close).
 * 5. At home it is kept, sent on by rule 2 if its session was linked anew meanwhile, or freed if
 *    its session is gone.
 * Messages never get lost (a full ring queues them in the worker's outbox), commands never run
 * nested, and no timer is needed. tests/media/test_handover.c checks these rules under random
 * interleavings. */
#include <stdlib.h>
#include <string.h>

#include "media/router_int.h"

struct parked {
  struct parked *next;
  struct outbound *o;
  uint64_t feeder;             /* the session it is to be attached to */
  uint64_t stamp;              /* the seq of that session's LINK */
};

struct outbound *handover__outbound_new(struct session *s, const struct session_params *p) {
  struct outbound *o = calloc(1, sizeof(*o));
  if (!o)
    return NULL;
  o->sid = s->id;
  o->path = s->path;
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

void handover__outbound_free(struct outbound *o) {
  if (!o)
    return;
  srtpctx_free(o->srtp);
  free(o);
}

void handover__xmsg_discard(const struct xmsg *m) {
  if (m->type == XM_HANDOVER || m->type == XM_HANDBACK)
    handover__outbound_free(m->outb);
}

static void arrive(struct worker *w, int type, struct outbound *o, uint64_t feeder,
                   uint64_t stamp);

/* Hands o to worker `to`: at once if that is this worker, else in a ring record. */
static void move(struct worker *w, int type, struct outbound *o, uint64_t feeder, unsigned to,
                 uint64_t stamp) {
  if (to == w->index) {
    arrive(w, type, o, feeder, stamp);
    return;
  }
  struct xmsg *m = worker__xmsg(w, to, type, 0);
  if (!m) {
    handover__outbound_free(o); /* out of memory: its browser receives nothing until relinked */
    return;
  }
  m->dst = feeder;
  m->stamp = stamp;
  m->outb = o;
}

static void send_home(struct worker *w, struct outbound *o) {
  move(w, XM_HANDBACK, o, 0, o->path.home, 0);
}

/* Rule 2. */
static void dispatch(struct session *s) {
  struct link *l = &s->link;
  if (!s->outb || !l->partner.sid || s->outb_sent == l->partner_seq)
    return;
  struct outbound *o = s->outb;
  s->outb = NULL;
  s->outb_sent = l->partner_seq;
  move(s->w, XM_HANDOVER, o, l->partner.sid, l->partner.worker, l->partner_seq);
}

/* Rule 3, once the stamp is carried out. */
static void resolve(struct worker *w, struct outbound *o, uint64_t feeder, uint64_t stamp) {
  struct session *f = worker__session(w, feeder);
  if (f && f->link.seq == stamp && f->link.partner.sid == o->sid && !f->sink_out) {
    f->sink_out = o;
    router__attach(f, o, worker__now(w));
    return;
  }
  send_home(w, o);
}

/* Rule 5. */
static void come_home(struct worker *w, struct outbound *o) {
  struct session *s = worker__session(w, o->sid);
  if (!s || s->outb) {
    handover__outbound_free(o); /* its session is gone */
    return;
  }
  o->path = s->path;
  if (!o->srtp && s->dtls_done)
    o->srtp = srtpctx_new(&s->keys);
  s->outb = o;
  dispatch(s);
}

static void arrive(struct worker *w, int type, struct outbound *o, uint64_t feeder,
                   uint64_t stamp) {
  if (type == XM_HANDBACK) {
    come_home(w, o);
    return;
  }
  if (stamp <= w->done_seq) {
    resolve(w, o, feeder, stamp);
    return;
  }
  struct parked *p = malloc(sizeof(*p));
  if (!p) {
    send_home(w, o);
    return;
  }
  *p = (struct parked){.next = w->parked, .o = o, .feeder = feeder, .stamp = stamp};
  w->parked = p;
  w->st.handovers_parked++;
}

void handover__resolve_parked(struct worker *w) {
  struct parked **pp = &w->parked;
  while (*pp) {
    struct parked *p = *pp;
    if (p->stamp > w->done_seq) {
      pp = &p->next;
      continue;
    }
    *pp = p->next;
    struct outbound *o = p->o;
    uint64_t feeder = p->feeder, stamp = p->stamp;
    free(p);
    resolve(w, o, feeder, stamp);
    pp = &w->parked; /* resolving may have parked or unparked others: look again */
  }
}

void handover__discard_parked(struct worker *w) {
  while (w->parked) {
    struct parked *p = w->parked;
    w->parked = p->next;
    handover__outbound_free(p->o);
    free(p);
  }
}

/* Rule 4. */
static void detach(struct session *s) {
  struct outbound *o = s->sink_out;
  if (!o)
    return;
  s->sink_out = NULL;
  send_home(s->w, o);
}

void handover__link(struct session *s, struct sref partner, uint64_t seq, uint64_t partner_seq) {
  detach(s);
  s->link = (struct link){.partner = partner, .seq = seq, .partner_seq = partner_seq};
  dispatch(s);
}

void handover__unlink(struct session *s) {
  detach(s);
  s->link = (struct link){{0, 0}, 0, 0};
}

void handover__srtp_ready(struct session *s) {
  if (s->outb && !s->outb->srtp)
    s->outb->srtp = srtpctx_new(&s->keys);
}

/* The feeder of sid's outbound (on this worker) learns its new path; if the outbound is parked
 * here, it is updated there; if it is on its way home, home refreshes it on arrival. */
static void apply_path(struct worker *w, uint64_t feeder, uint64_t sid, const struct tx_path *p) {
  struct session *f = worker__session(w, feeder);
  if (f && f->sink_out && f->sink_out->sid == sid) {
    f->sink_out->path = *p;
    return;
  }
  for (struct parked *k = w->parked; k; k = k->next)
    if (k->o->sid == sid)
      k->o->path = *p;
}

void handover__path_changed(struct session *s) {
  if (s->outb) {
    s->outb->path = s->path;
    return;
  }
  struct link *l = &s->link;
  if (!l->partner.sid || s->outb_sent != l->partner_seq)
    return; /* not sent for this link: it comes home first and gets the path there */
  if (l->partner.worker == s->w->index) {
    apply_path(s->w, l->partner.sid, s->id, &s->path);
    return;
  }
  struct xmsg *m = worker__xmsg(s->w, l->partner.worker, XM_ADDR, 0);
  if (m) {
    m->dst = l->partner.sid;
    m->src = s->id;
    m->path = s->path;
  }
}

void handover__on_xmsg(struct worker *w, const struct xmsg *m) {
  if (m->type == XM_ADDR)
    apply_path(w, m->dst, m->src, &m->path);
  else
    arrive(w, m->type, m->outb, m->dst, m->stamp);
}
