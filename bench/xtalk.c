/* xtalk.c -- who sent what to whom: sender identities, pairings, and the cross-talk audit. */
#include "bench/xtalk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define OPEN_END UINT64_MAX

struct window {
  uint64_t start, end;
};

struct segment {
  uint64_t sender, t_first, t_last, packets;
  uint32_t stream;
  int kind;
};

struct ident {
  uint32_t peer;
  struct window *w;
  size_t nw, capw;
  struct segment *s;
  size_t ns, caps;
};

struct xtalk {
  uint32_t nonce;
  struct ident *id;
  size_t n, cap;
};

struct xtalk *xtalk_new(uint32_t nonce) {
  struct xtalk *x = calloc(1, sizeof(*x));
  if (x)
    x->nonce = nonce;
  return x;
}

void xtalk_free(struct xtalk *x) {
  if (!x)
    return;
  for (size_t i = 0; i < x->n; i++) {
    free(x->id[i].w);
    free(x->id[i].s);
  }
  free(x->id);
  free(x);
}

static struct ident *find(const struct xtalk *x, uint64_t id) {
  uint64_t idx = id & 0xffffffffu;
  if ((uint32_t)(id >> 32) != x->nonce || idx == 0 || idx > x->n)
    return NULL;
  return &x->id[idx - 1];
}

uint64_t xtalk_identity_new(struct xtalk *x, uint32_t peer) {
  if (x->n == x->cap) {
    size_t cap = x->cap ? x->cap * 2 : 256;
    struct ident *ni = realloc(x->id, cap * sizeof(*ni));
    if (!ni)
      return 0;
    x->id = ni;
    x->cap = cap;
  }
  x->id[x->n] = (struct ident){.peer = peer};
  x->n++;
  return ((uint64_t)x->nonce << 32) | x->n;
}

bool xtalk_known(const struct xtalk *x, uint64_t id) { return find(x, id) != NULL; }

uint32_t xtalk_peer(const struct xtalk *x, uint64_t id) {
  const struct ident *d = find(x, id);
  return d ? d->peer : UINT32_MAX;
}

void xtalk_pair_open(struct xtalk *x, uint64_t self, uint64_t t_us) {
  struct ident *d = find(x, self);
  if (!d)
    return;
  if (d->nw && d->w[d->nw - 1].end == OPEN_END)
    d->w[d->nw - 1].end = t_us; /* a matched without an end: the old pairing is over */
  if (d->nw == d->capw) {
    size_t cap = d->capw ? d->capw * 2 : 8;
    struct window *nw = realloc(d->w, cap * sizeof(*nw));
    if (!nw)
      return;
    d->w = nw;
    d->capw = cap;
  }
  d->w[d->nw++] = (struct window){t_us, OPEN_END};
}

void xtalk_pair_close(struct xtalk *x, uint64_t self, uint64_t t_us) {
  struct ident *d = find(x, self);
  if (d && d->nw && d->w[d->nw - 1].end == OPEN_END)
    d->w[d->nw - 1].end = t_us;
}

bool xtalk_pair_is_open(const struct xtalk *x, uint64_t self) {
  struct ident *d = find(x, self);
  return d && d->nw && d->w[d->nw - 1].end == OPEN_END;
}

int xtalk_seg_begin(struct xtalk *x, uint64_t self, uint32_t stream, int kind, uint64_t sender,
                    uint64_t t_us) {
  struct ident *d = find(x, self);
  if (!d)
    return -ENOENT;
  if (d->ns == d->caps) {
    size_t cap = d->caps ? d->caps * 2 : 16;
    struct segment *ns = realloc(d->s, cap * sizeof(*ns));
    if (!ns)
      return -ENOMEM;
    d->s = ns;
    d->caps = cap;
  }
  d->s[d->ns] = (struct segment){sender, t_us, t_us, 1, stream, kind};
  return (int)d->ns++;
}

void xtalk_seg_touch(struct xtalk *x, uint64_t self, int seg, uint64_t t_us) {
  struct ident *d = find(x, self);
  if (!d || seg < 0 || (size_t)seg >= d->ns)
    return;
  d->s[seg].t_last = t_us;
  d->s[seg].packets++;
}

static uint64_t sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

/* A window of d that contains [a, b] give or take tol. */
static bool inside_window(const struct ident *d, uint64_t a, uint64_t b, uint64_t tol) {
  for (size_t i = 0; i < d->nw; i++)
    if (sub(d->w[i].start, tol) <= a && b <= d->w[i].end + tol)
      return true;
  return false;
}

/* d received something from `from` at a time overlapping [a, b]. */
static bool received_from(const struct ident *d, uint64_t from, uint64_t a, uint64_t b) {
  for (size_t i = 0; i < d->ns; i++)
    if (d->s[i].sender == from && d->s[i].t_first <= b && d->s[i].t_last >= a)
      return true;
  return false;
}

/* A window of d opened or closed within [a, b]. */
static bool pairing_changed(const struct ident *d, uint64_t a, uint64_t b) {
  for (size_t i = 0; i < d->nw; i++)
    if ((d->w[i].start >= a && d->w[i].start <= b) || (d->w[i].end >= a && d->w[i].end <= b))
      return true;
  return false;
}

/* The segment before s->[k] on the same stream and track, or NULL. */
static const struct segment *previous(const struct ident *d, size_t k) {
  for (size_t j = k; j-- > 0;)
    if (d->s[j].stream == d->s[k].stream && d->s[j].kind == d->s[k].kind)
      return &d->s[j];
  return NULL;
}

static double sec(uint64_t us) { return (double)us / 1e6; }

void xtalk_audit(struct xtalk *x, uint64_t end_us, uint64_t tol_us, uint64_t min_pair_us,
                 unsigned need_kinds, unsigned max_log, uint32_t *peer_checked,
                 uint32_t *peer_ok, size_t n_peers, struct xtalk_result *res) {
  *res = (struct xtalk_result){0};
  unsigned logged = 0;
  for (size_t i = 0; i < x->n; i++)
    xtalk_pair_close(x, ((uint64_t)x->nonce << 32) | (i + 1), end_us);
  for (size_t i = 0; i < x->n; i++) {
    struct ident *r = &x->id[i];
    uint64_t self = ((uint64_t)x->nonce << 32) | (i + 1);
    for (size_t k = 0; k < r->ns; k++) {
      const struct segment *s = &r->s[k];
      const struct segment *prev = previous(r, k);
      const struct ident *snd = find(x, s->sender);
      res->segments++;
      const char *why = NULL;
      if (!snd || snd == r)
        why = "not a peer it could be paired with";
      else if (prev && prev->sender != s->sender &&
               !pairing_changed(r, sub(prev->t_last, tol_us), s->t_first + tol_us))
        why = "the sender changed while the receiver's pairing did not";
      else if (!inside_window(r, s->t_first, s->t_last, tol_us))
        why = "outside the receiver's pairings";
      else if (!inside_window(snd, s->t_first, s->t_last, tol_us))
        why = "outside the sender's pairings";
      else if (s->t_last - s->t_first >= 1000000 &&
               !received_from(snd, self, sub(s->t_first, tol_us), s->t_last + tol_us))
        why = "the sender never received this receiver";
      if (!why)
        continue;
      res->bad_segments++;
      if (logged++ >= max_log)
        continue;
      fprintf(stderr,
              "tandem-bench: CROSS-TALK peer %u received %s from peer %u (%" PRIu64
              " packets, %.3f-%.3f s): %s;",
              r->peer, s->kind ? "video" : "audio", snd ? snd->peer : 0, s->packets,
              sec(s->t_first), sec(s->t_last), why);
      for (int who = 0; who < 2; who++) {
        const struct ident *d = who ? snd : r;
        fprintf(stderr, " %s pairings:", who ? "sender" : "receiver");
        for (size_t w = 0; d && w < d->nw && w < 6; w++)
          fprintf(stderr, " %.3f-%.3f", sec(d->w[w].start), sec(d->w[w].end));
      }
      fputc('\n', stderr);
    }
    for (size_t k = 0; k < r->nw; k++) {
      const struct window *w = &r->w[k];
      if (w->end - w->start < min_pair_us)
        continue;
      res->pairings++;
      if (r->peer < n_peers)
        peer_checked[r->peer]++;
      /* Some sender must have fed every needed kind during this window. */
      bool ok = false;
      for (size_t a = 0; a < r->ns && !ok; a++) {
        unsigned got = 0;
        for (size_t b = 0; b < r->ns; b++)
          if (r->s[b].sender == r->s[a].sender && r->s[b].t_first <= w->end &&
              r->s[b].t_last + tol_us >= w->start)
            got |= 1u << r->s[b].kind;
        ok = (got & need_kinds) == need_kinds;
      }
      if (need_kinds == 0)
        ok = true;
      if (ok) {
        res->pairings_ok++;
        if (r->peer < n_peers)
          peer_ok[r->peer]++;
      } else if (logged++ < max_log) {
        fprintf(stderr,
                "tandem-bench: MISSING MEDIA peer %u was paired %.3f-%.3f s without its "
                "partner's audio and video\n",
                r->peer, sec(w->start), sec(w->end));
      }
    }
  }
}
