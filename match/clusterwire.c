/* clusterwire.c -- the cluster's matching messages as bytes (clusterwire.h).
 *
 * Layout, little-endian: 'T', version 1, type, 0, node (u16), then per type:
 *   HELLO     epoch u64, acked seq u64
 *   CMD       seq u64, cmd: type u8, flag u8, ntags u8, 0, peer u64, other u64, for_ms u32,
 *             tags (len u8 + bytes each), lang (len u8 + bytes)
 *   SYNC      id u64, flags u8 (ready 1, away 2, banned 4, want 8), state u8, ntags u8, 0,
 *             partner u64, waited_ms u32, tags, lang, nblocks u8, blocks (u64 each),
 *             nrecent u8, recent (u64 each)
 *   SYNC_END  -
 *   EVENT     gen u64, type u8, state u8, cmd u8, n_shared u8, peer u64, partner u64,
 *             ms left of until u64, code i32, link u64, shared tags
 *   ACK       gen u64, seq u64, epoch u64
 *   RESYNC    gen u64
 *   PEER      to u64, from u64, kind u8, len u16, data
 *
 * A visit (cw_visit, carried as a PEER message's data): 'V', version 1, flags u8 (want 1,
 * ready 2), relay_base u64, relay_r u16, visit_age_ms u32, paired_age_ms u32, pairs u32,
 * nexts u32, ntags u8, tags, lang, nblocks u8, blocks, nrecent u8, recent, n_shared u8,
 * shared tags. */
#include "match/clusterwire.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define CW_MAGIC 'T'
#define CW_VERSION 1

struct wbuf {
  uint8_t *p;
  size_t n, cap;
  int err;
};

static void w_bytes(struct wbuf *w, const void *src, size_t len) {
  if (w->err || len > w->cap - w->n) {
    w->err = -EINVAL;
    return;
  }
  memcpy(w->p + w->n, src, len);
  w->n += len;
}

static void w_u(struct wbuf *w, uint64_t v, int bytes) {
  uint8_t b[8];
  for (int i = 0; i < bytes; i++)
    b[i] = (uint8_t)(v >> (8 * i));
  w_bytes(w, b, (size_t)bytes);
}

static void w_str(struct wbuf *w, const char *s, size_t max) {
  size_t len = strnlen(s, max + 1);
  if (len > max) {
    w->err = -EINVAL;
    return;
  }
  w_u(w, len, 1);
  w_bytes(w, s, len);
}

struct rbuf {
  const uint8_t *p;
  size_t n, len;
  int err;
};

static uint64_t r_u(struct rbuf *r, int bytes) {
  if (r->err || (size_t)bytes > r->len - r->n) {
    r->err = -EBADMSG;
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++)
    v |= (uint64_t)r->p[r->n + (size_t)i] << (8 * i);
  r->n += (size_t)bytes;
  return v;
}

/* A string of at most max bytes, no NUL, into out[max + 1]. */
static void r_str(struct rbuf *r, char *out, size_t max) {
  size_t len = (size_t)r_u(r, 1);
  out[0] = '\0';
  if (r->err || len > max || len > r->len - r->n || memchr(r->p + r->n, 0, len)) {
    r->err = -EBADMSG;
    return;
  }
  memcpy(out, r->p + r->n, len);
  out[len] = '\0';
  r->n += len;
}

static void w_tags(struct wbuf *w, uint8_t n, const char (*tags)[MATCHER_TAG_LEN_MAX + 1]) {
  for (uint8_t i = 0; i < n; i++)
    w_str(w, tags[i], MATCHER_TAG_LEN_MAX);
}

static void r_tags(struct rbuf *r, uint8_t n, char (*tags)[MATCHER_TAG_LEN_MAX + 1]) {
  for (uint8_t i = 0; i < n; i++)
    r_str(r, tags[i], MATCHER_TAG_LEN_MAX);
}

int cw_encode(const struct cw_msg *m, uint64_t now_ms, uint8_t *buf, size_t cap) {
  if (!m || !buf || m->node < 1 || m->node > MCLUSTER_NODE_MAX)
    return -EINVAL;
  struct wbuf w = {buf, 0, cap, 0};
  uint8_t head[4] = {CW_MAGIC, CW_VERSION, (uint8_t)m->type, 0};
  w_bytes(&w, head, 4);
  w_u(&w, m->node, 2);
  switch (m->type) {
  case CW_HELLO:
    w_u(&w, m->epoch, 8);
    w_u(&w, m->seq, 8);
    break;
  case CW_CMD: {
    const struct matcher_cmd *c = &m->cmd;
    if (c->type < MATCHER_ADD || c->type > MATCHER_CMD_MAX_ || c->ntags > MATCHER_TAGS_MAX)
      return -EINVAL;
    w_u(&w, m->seq, 8);
    w_u(&w, (uint64_t)c->type, 1);
    w_u(&w, c->flag, 1);
    w_u(&w, c->ntags, 1);
    w_u(&w, 0, 1);
    w_u(&w, c->peer, 8);
    w_u(&w, c->other, 8);
    w_u(&w, c->for_ms, 4);
    w_tags(&w, c->ntags, c->tags);
    w_str(&w, c->lang, MATCHER_TAG_LEN_MAX);
    break;
  }
  case CW_SYNC: {
    const struct mcluster_peer *p = &m->rec;
    if (p->ntags > MATCHER_TAGS_MAX || p->state == MATCH_UNKNOWN ||
        (unsigned)p->state > MATCH_PAIRED || p->nblocks > MCLUSTER_REC_BLOCKS ||
        p->nrecent > MCLUSTER_REC_RECENT)
      return -EINVAL;
    w_u(&w, p->id, 8);
    w_u(&w, (uint64_t)(p->ready | p->away << 1 | p->banned << 2 | p->want << 3), 1);
    w_u(&w, (uint64_t)p->state, 1);
    w_u(&w, p->ntags, 1);
    w_u(&w, 0, 1);
    w_u(&w, p->partner, 8);
    w_u(&w, p->waited_ms, 4);
    w_tags(&w, p->ntags, p->tags);
    w_str(&w, p->lang, MATCHER_TAG_LEN_MAX);
    w_u(&w, p->nblocks, 1);
    for (unsigned i = 0; i < p->nblocks; i++)
      w_u(&w, p->blocks[i], 8);
    w_u(&w, p->nrecent, 1);
    for (unsigned i = 0; i < p->nrecent; i++)
      w_u(&w, p->recent[i], 8);
    break;
  }
  case CW_SYNC_END:
    break;
  case CW_EVENT: {
    const struct matcher_event *e = &m->ev;
    if (e->n_shared > MATCHER_TAGS_MAX || (unsigned)e->state > MATCH_PAIRED)
      return -EINVAL;
    w_u(&w, m->gen, 8);
    w_u(&w, (uint64_t)e->type, 1);
    w_u(&w, (uint64_t)e->state, 1);
    w_u(&w, (uint64_t)e->cmd, 1);
    w_u(&w, e->n_shared, 1);
    w_u(&w, e->peer, 8);
    w_u(&w, e->partner, 8);
    w_u(&w, e->until_ms > now_ms ? e->until_ms - now_ms : 0, 8);
    w_u(&w, (uint32_t)e->code, 4);
    w_u(&w, e->link, 8);
    w_tags(&w, (uint8_t)e->n_shared, e->shared_tags);
    break;
  }
  case CW_ACK:
    w_u(&w, m->gen, 8);
    w_u(&w, m->seq, 8);
    w_u(&w, m->epoch, 8);
    break;
  case CW_RESYNC:
    w_u(&w, m->gen, 8);
    break;
  case CW_PEER:
    if (m->len > CW_PEER_DATA_MAX || !m->to)
      return -EINVAL;
    w_u(&w, m->to, 8);
    w_u(&w, m->from, 8);
    w_u(&w, m->kind, 1);
    w_u(&w, m->len, 2);
    w_bytes(&w, m->data, m->len);
    break;
  default:
    return -EINVAL;
  }
  return w.err ? w.err : (int)w.n;
}

static bool ev_type_ok(uint64_t t) {
  switch (t) {
  case MATCHER_EV_PAIRED:
  case MATCHER_EV_PARTNER_LEFT:
  case MATCHER_EV_WAITING:
  case MATCHER_EV_STOPPED:
  case MATCHER_EV_COOLDOWN:
  case MATCHER_EV_STATE:
  case MATCHER_EV_REFUSED:
  case MATCHER_EV_BLOCKED_BY:
  case MATCHER_EV_PARTNER_MOVED: return true;
  default: return false;
  }
}

int cw_decode(const uint8_t *buf, size_t len, uint64_t now_ms, struct cw_msg *m) {
  if (!buf || !m)
    return -EBADMSG;
  memset(m, 0, sizeof(*m));
  if (len < 6 || buf[0] != CW_MAGIC)
    return -EBADMSG;
  if (buf[1] != CW_VERSION)
    return -EPROTONOSUPPORT;
  struct rbuf r = {buf, 4, len, 0};
  m->type = (enum cw_type)buf[2];
  m->node = (unsigned)r_u(&r, 2);
  if (buf[3] || m->node < 1 || m->node > MCLUSTER_NODE_MAX)
    return -EBADMSG;
  switch (m->type) {
  case CW_HELLO:
    m->epoch = r_u(&r, 8);
    m->seq = r_u(&r, 8);
    break;
  case CW_CMD: {
    struct matcher_cmd *c = &m->cmd;
    m->seq = r_u(&r, 8);
    uint64_t t = r_u(&r, 1), flag = r_u(&r, 1), ntags = r_u(&r, 1), zero = r_u(&r, 1);
    if (t < MATCHER_ADD || t > MATCHER_CMD_MAX_ || flag > 1 || ntags > MATCHER_TAGS_MAX || zero)
      return -EBADMSG;
    c->type = (enum matcher_cmd_type)t;
    c->flag = flag;
    c->ntags = (uint8_t)ntags;
    c->peer = r_u(&r, 8);
    c->other = r_u(&r, 8);
    c->for_ms = (uint32_t)r_u(&r, 4);
    r_tags(&r, c->ntags, c->tags);
    r_str(&r, c->lang, MATCHER_TAG_LEN_MAX);
    if (!c->peer)
      return -EBADMSG;
    break;
  }
  case CW_SYNC: {
    struct mcluster_peer *p = &m->rec;
    p->id = r_u(&r, 8);
    uint64_t flags = r_u(&r, 1), state = r_u(&r, 1), ntags = r_u(&r, 1), zero = r_u(&r, 1);
    if (flags > 15 || state < MATCH_IDLE || state > MATCH_PAIRED || ntags > MATCHER_TAGS_MAX ||
        zero)
      return -EBADMSG;
    p->ready = flags & 1;
    p->away = flags & 2;
    p->banned = flags & 4;
    p->want = flags & 8;
    p->state = (enum match_state)state;
    p->ntags = (uint8_t)ntags;
    p->partner = r_u(&r, 8);
    p->waited_ms = (uint32_t)r_u(&r, 4);
    r_tags(&r, p->ntags, p->tags);
    r_str(&r, p->lang, MATCHER_TAG_LEN_MAX);
    uint64_t nb = r_u(&r, 1);
    if (nb > MCLUSTER_REC_BLOCKS)
      return -EBADMSG;
    p->nblocks = (uint8_t)nb;
    for (unsigned i = 0; i < p->nblocks; i++)
      p->blocks[i] = r_u(&r, 8);
    uint64_t nr = r_u(&r, 1);
    if (nr > MCLUSTER_REC_RECENT)
      return -EBADMSG;
    p->nrecent = (uint8_t)nr;
    for (unsigned i = 0; i < p->nrecent; i++)
      p->recent[i] = r_u(&r, 8);
    if (!p->id)
      return -EBADMSG;
    break;
  }
  case CW_SYNC_END:
    break;
  case CW_EVENT: {
    struct matcher_event *e = &m->ev;
    m->gen = r_u(&r, 8);
    uint64_t t = r_u(&r, 1), state = r_u(&r, 1), cmd = r_u(&r, 1), ns = r_u(&r, 1);
    if (!ev_type_ok(t) || state > MATCH_PAIRED || cmd > MATCHER_CMD_MAX_ ||
        ns > MATCHER_TAGS_MAX)
      return -EBADMSG;
    e->type = (enum matcher_ev_type)t;
    e->state = (enum match_state)state;
    e->cmd = (enum matcher_cmd_type)cmd;
    e->n_shared = ns;
    e->peer = r_u(&r, 8);
    e->partner = r_u(&r, 8);
    uint64_t left = r_u(&r, 8);
    e->until_ms = left ? now_ms + (left < UINT32_MAX ? left : UINT32_MAX) : 0;
    e->code = (int)(int32_t)(uint32_t)r_u(&r, 4);
    e->link = r_u(&r, 8);
    r_tags(&r, (uint8_t)ns, e->shared_tags);
    if (!e->peer)
      return -EBADMSG;
    break;
  }
  case CW_ACK:
    m->gen = r_u(&r, 8);
    m->seq = r_u(&r, 8);
    m->epoch = r_u(&r, 8);
    break;
  case CW_RESYNC:
    m->gen = r_u(&r, 8);
    break;
  case CW_PEER:
    m->to = r_u(&r, 8);
    m->from = r_u(&r, 8);
    m->kind = (uint8_t)r_u(&r, 1);
    m->len = (uint16_t)r_u(&r, 2);
    if (r.err || !m->to || m->len > CW_PEER_DATA_MAX || m->len > r.len - r.n)
      return -EBADMSG;
    memcpy(m->data, r.p + r.n, m->len);
    r.n += m->len;
    break;
  default:
    return -EBADMSG;
  }
  if (r.err || r.n != len)
    return -EBADMSG;
  return 0;
}

int cw_visit_encode(const struct cw_visit *v, uint8_t *buf, size_t cap) {
  if (!v || !buf || v->ntags > MATCHER_TAGS_MAX || v->n_shared > MATCHER_TAGS_MAX ||
      v->nblocks > MCLUSTER_REC_BLOCKS || v->nrecent > MCLUSTER_REC_RECENT ||
      (v->relay_base & 0xfff))
    return -EINVAL;
  struct wbuf w = {buf, 0, cap, 0};
  w_u(&w, 'V', 1);
  w_u(&w, 1, 1);
  w_u(&w, (uint64_t)v->want | (uint64_t)v->ready << 1, 1);
  w_u(&w, v->relay_base, 8);
  w_u(&w, v->relay_r, 2);
  w_u(&w, v->visit_age_ms, 4);
  w_u(&w, v->paired_age_ms, 4);
  w_u(&w, v->pairs, 4);
  w_u(&w, v->nexts, 4);
  w_u(&w, v->ntags, 1);
  w_tags(&w, v->ntags, v->tags);
  w_str(&w, v->lang, MATCHER_TAG_LEN_MAX);
  w_u(&w, v->nblocks, 1);
  for (unsigned i = 0; i < v->nblocks; i++)
    w_u(&w, v->blocks[i], 8);
  w_u(&w, v->nrecent, 1);
  for (unsigned i = 0; i < v->nrecent; i++)
    w_u(&w, v->recent[i], 8);
  w_u(&w, v->n_shared, 1);
  w_tags(&w, v->n_shared, v->shared);
  return w.err ? w.err : (int)w.n;
}

int cw_visit_decode(const uint8_t *buf, size_t len, struct cw_visit *v) {
  if (!buf || !v)
    return -EBADMSG;
  memset(v, 0, sizeof(*v));
  struct rbuf r = {buf, 0, len, 0};
  uint64_t magic = r_u(&r, 1), version = r_u(&r, 1), flags = r_u(&r, 1);
  if (r.err || magic != 'V' || version != 1 || flags > 3)
    return -EBADMSG;
  v->want = flags & 1;
  v->ready = flags & 2;
  v->relay_base = r_u(&r, 8);
  v->relay_r = (uint16_t)r_u(&r, 2);
  v->visit_age_ms = (uint32_t)r_u(&r, 4);
  v->paired_age_ms = (uint32_t)r_u(&r, 4);
  v->pairs = (uint32_t)r_u(&r, 4);
  v->nexts = (uint32_t)r_u(&r, 4);
  uint64_t n = r_u(&r, 1);
  if (n > MATCHER_TAGS_MAX || (v->relay_base & 0xfff) || v->relay_r > 0xfff)
    return -EBADMSG;
  v->ntags = (uint8_t)n;
  r_tags(&r, v->ntags, v->tags);
  r_str(&r, v->lang, MATCHER_TAG_LEN_MAX);
  n = r_u(&r, 1);
  if (n > MCLUSTER_REC_BLOCKS)
    return -EBADMSG;
  v->nblocks = (uint8_t)n;
  for (unsigned i = 0; i < v->nblocks; i++)
    v->blocks[i] = r_u(&r, 8);
  n = r_u(&r, 1);
  if (n > MCLUSTER_REC_RECENT)
    return -EBADMSG;
  v->nrecent = (uint8_t)n;
  for (unsigned i = 0; i < v->nrecent; i++)
    v->recent[i] = r_u(&r, 8);
  n = r_u(&r, 1);
  if (n > MATCHER_TAGS_MAX)
    return -EBADMSG;
  v->n_shared = (uint8_t)n;
  r_tags(&r, v->n_shared, v->shared);
  if (r.err || r.n != len)
    return -EBADMSG;
  return 0;
}
