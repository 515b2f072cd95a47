/* relay.c -- relay sessions: a remote node's browser as this worker sees it. A relay session has
 * no ICE, DTLS or SRTP; what the router sends it is sealed with relaywire and sent to the remote
 * node's worker, and what that node sends arrives here, is opened and enters the router as the
 * session's own RTP and RTCP, so forwarding, rewriting and feedback work as between browsers. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "media/hmap.h"
#include "media/relaywire.h"
#include "media/router_int.h"
#include "media/rtp.h"

uint32_t relay__ssrc(uint64_t link_id, int side, int kind) {
  /* splitmix64 of the link, side and kind: distinct streams get distinct SSRCs. */
  uint64_t z = link_id + (uint64_t)(2 * side + kind + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  uint32_t v = (uint32_t)z ^ (uint32_t)(z >> 32);
  return v ? v : 1;
}

struct session *relay__create(struct worker *w, const struct session_params *p,
                              const struct relay_params *r) {
  if (hmap_get(w->by_link, &r->link_id, sizeof(r->link_id)))
    return NULL; /* one session per link here */
  struct session *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->w = w;
  s->id = p->sid;
  s->created_ms = worker__now(w);
  s->path = (struct tx_path){.kind = TX_RELAY, .home = w->index, .sid = p->sid};
  memcpy(&s->path.addr, &r->remote, sizeof(r->remote));
  for (int k = 0; k < 2; k++) {
    s->in[k].pt = p->in_pt[k];
    s->in[k].ssrc = p->in_ssrc[k];
    s->out_ssrc[k] = p->out_ssrc[k];
  }
  s->relay = relaywire_new(r->secret, r->link_id, r->side);
  s->outb = handover__outbound_new(s, p);
  if (!s->relay || !s->outb || hmap_put(w->by_sid, &s->id, sizeof(s->id), s)) {
    session__free(s);
    return NULL;
  }
  if (hmap_put(w->by_link, &r->link_id, sizeof(r->link_id), s) || session__list_add(w, s)) {
    hmap_del(w->by_sid, &s->id, sizeof(s->id));
    hmap_del(w->by_link, &r->link_id, sizeof(r->link_id));
    session__free(s);
    return NULL;
  }
  w->st.sessions++;
  return s;
}

void relay__forget(struct session *s) {
  uint64_t link = relaywire_link_id(s->relay);
  if (hmap_get(s->w->by_link, &link, sizeof(link)) == s)
    hmap_del(s->w->by_link, &link, sizeof(link));
  if (s->w->relay_tx == s)
    s->w->relay_tx = NULL;
}

/* ---- sending: one bundle per remote worker per loop turn ---- */

#define RELAY_PLAIN_MAX (1500 - RELAYWIRE_OVERHEAD) /* a datagram alone stays within 1500 */
#define RELAY_DESTS 16              /* remote workers with a bundle open in one turn */
#define RELAY_BUF (RELAYWIRE_BUNDLE_HDR + RELAYWIRE_BUNDLE_LEN + 1500)

/* The datagrams bound for one remote worker in this loop turn, sealed into its bundle. */
struct relay_dest {
  struct sockaddr_storage addr;
  struct relaywire_bundle b;
  uint8_t buf[RELAY_BUF];
};

struct relay_out {
  unsigned n;                       /* d[0..n) are in use this turn */
  struct relay_dest d[RELAY_DESTS];
};

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family)
    return false;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
         memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* Queues d's bundle (or its one datagram) on the worker's socket and starts it again. */
static void emit(struct worker *w, struct relay_dest *d) {
  size_t len, c;
  const uint8_t *dg = relaywire_bundle_datagram(&d->b, &len);
  if (!dg)
    return;
  uint8_t *u = udp__slot(w, w->index, d->addr.ss_family, &c);
  if (!u || len > c) {
    w->st.relay_dropped += d->b.n;
  } else {
    memcpy(u, dg, len);
    udp__commit(w, w->index, &d->addr, len);
    w->st.relay_tx_datagrams++;
    w->st.relay_tx_bytes += len;
  }
  relaywire_bundle_init(&d->b, d->buf, sizeof(d->buf));
}

void relay__flush(struct worker *w) {
  struct relay_out *o = w->relay_out;
  if (!o)
    return;
  for (unsigned i = 0; i < o->n; i++)
    emit(w, &o->d[i]);
  o->n = 0;
}

void relay__free(struct worker *w) {
  free(w->relay_out);
  w->relay_out = NULL;
}

/* The bundle for remote address a, opened if need be; NULL when out of memory. */
static struct relay_dest *dest_for(struct worker *w, const struct sockaddr_storage *a) {
  struct relay_out *o = w->relay_out;
  if (!o && !(o = w->relay_out = calloc(1, sizeof(*o))))
    return NULL;
  for (unsigned i = 0; i < o->n; i++)
    if (same_addr(&o->d[i].addr, a))
      return &o->d[i];
  if (o->n == RELAY_DESTS)
    relay__flush(w); /* more remote workers than bundles in one turn: send what there is */
  struct relay_dest *d = &o->d[o->n++];
  memcpy(&d->addr, a, sizeof(*a));
  relaywire_bundle_init(&d->b, d->buf, sizeof(d->buf));
  return d;
}

/* The plain packet is built in the worker's scratch buffer and sealed from there straight into
 * its remote worker's bundle. Only the home worker holds the link's counter. */
uint8_t *relay__slot(struct worker *w, const struct tx_path *p, size_t *cap) {
  struct session *s = p->home == w->index ? worker__session(w, p->sid) : NULL;
  w->relay_tx = NULL;
  if (!s || !s->relay) {
    w->st.relay_dropped++;
    return NULL;
  }
  w->relay_tx = s;
  *cap = RELAY_PLAIN_MAX;
  return w->scratch;
}

void relay__commit(struct worker *w, const struct tx_path *p, size_t len) {
  struct session *s = w->relay_tx;
  w->relay_tx = NULL;
  struct relay_dest *d = s && s->id == p->sid && len && len <= RELAY_PLAIN_MAX
                             ? dest_for(w, &p->addr) : NULL;
  if (!d) {
    w->st.relay_dropped++;
    return;
  }
  if (!relaywire_bundle_fits(&d->b, len + RELAYWIRE_OVERHEAD, RELAYWIRE_BUNDLE_MAX))
    emit(w, d);
  size_t room, n;
  uint8_t *at = relaywire_bundle_room(&d->b, &room);
  int kind = rtp_is_rtcp(w->scratch, len) ? RELAYWIRE_RTCP : RELAYWIRE_RTP;
  if (!at || relaywire_seal(s->relay, kind, w->scratch, len, at, room, &n) != 0 ||
      relaywire_bundle_add(&d->b, n) != 0) {
    w->st.relay_dropped++;
    return;
  }
  w->st.relay_tx_packets++;
}

/* ---- receiving ---- */

/* The source address is not checked: the datagram's authentication under the link's key is the
 * proof (a node may send from another address than the one it is reached at, behind NAT). A
 * refused datagram is counted as dropped (rx_dropped) like any other, and by its reason. */
static void on_one(struct worker *w, uint8_t *buf, size_t len) {
  struct relaywire_hdr h;
  if (relaywire_peek(buf, len, &h) != 0) {
    w->st.relay_malformed++;
    w->st.rx_dropped++;
    return;
  }
  struct session *s = hmap_get(w->by_link, &h.link_id, sizeof(h.link_id));
  if (!s || s->closing) {
    w->st.relay_unknown++;
    w->st.rx_dropped++;
    return;
  }
  uint8_t *pkt = buf + RELAYWIRE_HDR;
  size_t n;
  int rc = relaywire_open(s->relay, buf, len, &h, pkt, len - RELAYWIRE_HDR, &n);
  if (rc != 0) {
    if (rc == -EACCES)
      w->st.relay_auth_failed++;
    else if (rc == -EALREADY || rc == -ESTALE)
      w->st.relay_replayed++;
    else
      w->st.relay_malformed++;
    w->st.rx_dropped++;
    return;
  }
  w->st.relay_rx_packets++;
  w->st.relay_rx_bytes += len;
  uint64_t now = worker__now(w);
  s->last_media_ms = now;
  /* The kind is authenticated; the packet must agree with it (the parsers check the rest). */
  bool rtcp = rtp_is_rtcp(pkt, n);
  if (h.kind == RELAYWIRE_RTCP && rtcp)
    router__on_rtcp(s, pkt, n, now);
  else if (h.kind == RELAYWIRE_RTP && !rtcp)
    router__on_rtp(s, pkt, n, now);
  else
    w->st.relay_malformed++;
}

/* A bundle is checked whole first (relaywire_bundle_parse): a malformed one is refused without
 * opening anything in it. Each datagram inside then stands alone: one that does not open is
 * refused and counted, and the others are not affected. */
void relay__on_datagram(struct worker *w, uint8_t *buf, size_t len) {
  w->st.relay_rx_datagrams++;
  if (!relaywire_is_bundle(buf, len)) {
    on_one(w, buf, len);
    return;
  }
  struct relaywire_bundle_iter it;
  if (relaywire_bundle_parse(buf, len, &it) != 0) {
    w->st.relay_malformed++;
    w->st.rx_dropped++;
    return;
  }
  w->udp.rx_bundled += it.left - 1;
  uint8_t *dg;
  size_t n;
  while (relaywire_bundle_next(&it, &dg, &n))
    on_one(w, dg, n);
}
