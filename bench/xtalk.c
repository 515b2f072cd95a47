/* xtalk.c -- who sent what to whom: sender identities, pairings, and the cross-talk audit. */
#include "bench/xtalk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPEN_END UINT64_MAX
#define VISIT_BITS 24
#define VISIT_MASK ((1u << VISIT_BITS) - 1)

struct ident {
  uint32_t peer;
  bool issued; /* false: a gap left by xtalk_import */
  struct xtalk_window *w;
  size_t nw, capw;
  struct xtalk_segment *s;
  size_t ns, caps;
};

/* One shard's identities, by visit number - 1. */
struct shardreg {
  struct ident *id;
  size_t n, cap;
};

struct xtalk {
  uint32_t nonce;
  unsigned own, nshards; /* --shard own/nshards; 0, 0 when not a shard's registry */
  struct shardreg sh[XTALK_MAX_SHARDS + 1];
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
  for (size_t k = 0; k <= XTALK_MAX_SHARDS; k++) {
    for (size_t i = 0; i < x->sh[k].n; i++) {
      free(x->sh[k].id[i].w);
      free(x->sh[k].id[i].s);
    }
    free(x->sh[k].id);
  }
  free(x);
}

void xtalk_set_shard(struct xtalk *x, unsigned k, unsigned n) {
  x->own = k;
  x->nshards = n;
}

unsigned xtalk_id_shard(uint64_t id) { return (unsigned)(id >> VISIT_BITS) & 0xffu; }

static uint64_t make_id(uint32_t nonce, unsigned shard, size_t visit) {
  return ((uint64_t)nonce << 32) | ((uint64_t)shard << VISIT_BITS) | (uint64_t)visit;
}

static struct ident *find(const struct xtalk *x, uint64_t id) {
  uint64_t idx = id & VISIT_MASK;
  const struct shardreg *sr = &x->sh[xtalk_id_shard(id)];
  if ((uint32_t)(id >> 32) != x->nonce || idx == 0 || idx > sr->n || !sr->id[idx - 1].issued)
    return NULL;
  return &sr->id[idx - 1];
}

/* Makes room for visit number `visit` in shard k's registry (gaps zeroed). */
static int reserve(struct shardreg *sr, size_t visit) {
  if (visit > sr->cap) {
    size_t cap = sr->cap ? sr->cap : 256;
    while (cap < visit)
      cap *= 2;
    struct ident *ni = realloc(sr->id, cap * sizeof(*ni));
    if (!ni)
      return -ENOMEM;
    sr->id = ni;
    sr->cap = cap;
  }
  for (; sr->n < visit; sr->n++)
    sr->id[sr->n] = (struct ident){0};
  return 0;
}

uint64_t xtalk_identity_new(struct xtalk *x, uint32_t peer) {
  struct shardreg *sr = &x->sh[x->own];
  if (sr->n >= VISIT_MASK || reserve(sr, sr->n + 1) != 0)
    return 0;
  sr->id[sr->n - 1] = (struct ident){.peer = peer, .issued = true};
  return make_id(x->nonce, x->own, sr->n);
}

size_t xtalk_count(const struct xtalk *x) {
  size_t n = 0;
  for (size_t k = 0; k <= XTALK_MAX_SHARDS; k++)
    for (size_t i = 0; i < x->sh[k].n; i++)
      n += x->sh[k].id[i].issued;
  return n;
}

void xtalk_get(const struct xtalk *x, size_t i, uint64_t *id, uint32_t *peer,
               const struct xtalk_window **w, size_t *nw, const struct xtalk_segment **s,
               size_t *ns) {
  for (size_t k = 0; k <= XTALK_MAX_SHARDS; k++)
    for (size_t j = 0; j < x->sh[k].n; j++) {
      const struct ident *d = &x->sh[k].id[j];
      if (!d->issued || i-- > 0)
        continue;
      *id = make_id(x->nonce, (unsigned)k, j + 1);
      *peer = d->peer;
      *w = d->w;
      *nw = d->nw;
      *s = d->s;
      *ns = d->ns;
      return;
    }
  *id = 0;
  *peer = UINT32_MAX;
  *w = NULL;
  *s = NULL;
  *nw = *ns = 0;
}

int xtalk_import(struct xtalk *x, uint64_t id, uint32_t peer, const struct xtalk_window *w,
                 size_t nw, const struct xtalk_segment *s, size_t ns) {
  size_t visit = id & VISIT_MASK;
  struct shardreg *sr = &x->sh[xtalk_id_shard(id)];
  if ((uint32_t)(id >> 32) != x->nonce || visit == 0)
    return -EINVAL;
  if (find(x, id))
    return -EEXIST;
  if (reserve(sr, visit) != 0)
    return -ENOMEM;
  struct ident d = {.peer = peer, .issued = true, .nw = nw, .capw = nw, .ns = ns, .caps = ns};
  d.w = nw ? malloc(nw * sizeof(*w)) : NULL;
  d.s = ns ? malloc(ns * sizeof(*s)) : NULL;
  if ((nw && !d.w) || (ns && !d.s)) {
    free(d.w);
    free(d.s);
    return -ENOMEM;
  }
  if (nw)
    memcpy(d.w, w, nw * sizeof(*w));
  if (ns)
    memcpy(d.s, s, ns * sizeof(*s));
  sr->id[visit - 1] = d;
  return 0;
}

/* An id of this run from a shard this registry does not hold (a shard's registry only). */
static bool other_shard(const struct xtalk *x, uint64_t id) {
  unsigned k = xtalk_id_shard(id);
  return x->own && (uint32_t)(id >> 32) == x->nonce && (id & VISIT_MASK) != 0 && k >= 1 &&
         k <= x->nshards && k != x->own;
}

bool xtalk_known(const struct xtalk *x, uint64_t id) {
  return find(x, id) != NULL || other_shard(x, id);
}

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
    struct xtalk_window *nw = realloc(d->w, cap * sizeof(*nw));
    if (!nw)
      return;
    d->w = nw;
    d->capw = cap;
  }
  d->w[d->nw++] = (struct xtalk_window){t_us, OPEN_END};
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
    struct xtalk_segment *ns = realloc(d->s, cap * sizeof(*ns));
    if (!ns)
      return -ENOMEM;
    d->s = ns;
    d->caps = cap;
  }
  d->s[d->ns] = (struct xtalk_segment){sender, t_us, t_us, 1, stream, kind};
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
static const struct xtalk_segment *previous(const struct ident *d, size_t k) {
  for (size_t j = k; j-- > 0;)
    if (d->s[j].stream == d->s[k].stream && d->s[j].kind == d->s[k].kind)
      return &d->s[j];
  return NULL;
}

static double sec(uint64_t us) { return (double)us / 1e6; }

/* The audit of one receiver, identity `self` of shard sk (xtalk_audit). */
static void audit_one(const struct xtalk *x, const struct ident *r, uint64_t self, size_t sk,
                      uint64_t tol_us, uint64_t min_pair_us, unsigned need_kinds,
                      unsigned max_log, unsigned *logged_p, uint32_t *peer_checked,
                      uint32_t *peer_ok, size_t n_peers, struct xtalk_result *res) {
  unsigned logged = *logged_p;
  for (size_t k = 0; k < r->ns; k++) {
    const struct xtalk_segment *s = &r->s[k];
    const struct xtalk_segment *prev = previous(r, k);
    const struct ident *snd = find(x, s->sender);
    /* A sender of another shard of this run, whose windows and media another process
     * holds: only the receiver's side can be checked here (the merge checks the rest). */
    bool deferred = !snd && other_shard(x, s->sender);
    res->segments++;
    if (sk && (uint32_t)(s->sender >> 32) == x->nonce && xtalk_id_shard(s->sender) != sk &&
        xtalk_id_shard(s->sender) != 0)
      res->cross_shard++;
    res->deferred += deferred;
    const char *why = NULL;
    if ((!snd && !deferred) || snd == r)
      why = "not a peer it could be paired with";
    else if (prev && prev->sender != s->sender &&
             !pairing_changed(r, sub(prev->t_last, tol_us), s->t_first + tol_us))
      why = "the sender changed while the receiver's pairing did not";
    else if (!inside_window(r, s->t_first, s->t_last, tol_us))
      why = "outside the receiver's pairings";
    else if (deferred)
      why = NULL;
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
            "tandem-bench: CROSS-TALK peer %u received %s from peer %u (id %016" PRIx64
            ", %" PRIu64 " packets, %.3f-%.3f s): %s;",
            r->peer, s->kind ? "video" : "audio", snd ? snd->peer : UINT32_MAX, s->sender,
            s->packets, sec(s->t_first), sec(s->t_last), why);
    for (int who = 0; who < 2; who++) {
      const struct ident *d = who ? snd : r;
      fprintf(stderr, " %s pairings:", who ? "sender" : "receiver");
      for (size_t w = 0; d && w < d->nw && w < 6; w++)
        fprintf(stderr, " %.3f-%.3f", sec(d->w[w].start), sec(d->w[w].end));
    }
    fputc('\n', stderr);
  }
  for (size_t k = 0; k < r->nw; k++) {
    const struct xtalk_window *w = &r->w[k];
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
  *logged_p = logged;
}

void xtalk_audit(struct xtalk *x, uint64_t end_us, uint64_t tol_us, uint64_t min_pair_us,
                 unsigned need_kinds, unsigned max_log, uint32_t *peer_checked,
                 uint32_t *peer_ok, size_t n_peers, struct xtalk_result *res) {
  *res = (struct xtalk_result){0};
  unsigned logged = 0;
  for (size_t sk = 0; sk <= XTALK_MAX_SHARDS; sk++)
    for (size_t i = 0; i < x->sh[sk].n; i++)
      if (x->sh[sk].id[i].issued)
        xtalk_pair_close(x, make_id(x->nonce, (unsigned)sk, i + 1), end_us);
  for (size_t sk = 0; sk <= XTALK_MAX_SHARDS; sk++)
    for (size_t i = 0; i < x->sh[sk].n; i++)
      if (x->sh[sk].id[i].issued)
        audit_one(x, &x->sh[sk].id[i], make_id(x->nonce, (unsigned)sk, i + 1), sk, tol_us,
                  min_pair_us, need_kinds, max_log, &logged, peer_checked, peer_ok, n_peers,
                  res);
}
