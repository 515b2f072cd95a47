/* relay.c -- relay sessions: a remote node's browser as this worker sees it. A relay session has
 * no ICE, DTLS or SRTP; what the router sends it is sealed with relaywire and sent to the remote
 * node's worker, and what that node sends arrives here, is opened and enters the router as the
 * session's own RTP and RTCP, so forwarding, rewriting and feedback work as between browsers. */
#include <errno.h>
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

/* The plain packet is built where it will be sealed in place: after the header's room in the
 * datagram's own slot (no copy). Only the home worker holds the link's counter. */
uint8_t *relay__slot(struct worker *w, const struct tx_path *p, size_t *cap) {
  struct session *s = p->home == w->index ? worker__session(w, p->sid) : NULL;
  size_t c;
  uint8_t *u = s && s->relay ? udp__slot(w, w->index, p->addr.ss_family, &c) : NULL;
  w->relay_tx = NULL;
  if (!u || c < RELAYWIRE_OVERHEAD + 12) {
    w->st.relay_dropped++;
    return NULL;
  }
  w->relay_tx = s;
  *cap = c - RELAYWIRE_OVERHEAD;
  return u + RELAYWIRE_HDR;
}

void relay__commit(struct worker *w, const struct tx_path *p, size_t len) {
  struct session *s = w->relay_tx;
  w->relay_tx = NULL;
  size_t c, n;
  /* The same slot as relay__slot's: nothing was slotted in between. */
  uint8_t *u = s && s->id == p->sid ? udp__slot(w, w->index, p->addr.ss_family, &c) : NULL;
  if (!u || len > c - RELAYWIRE_OVERHEAD) {
    w->st.relay_dropped++;
    return;
  }
  uint8_t *plain = u + RELAYWIRE_HDR;
  int kind = rtp_is_rtcp(plain, len) ? RELAYWIRE_RTCP : RELAYWIRE_RTP;
  if (relaywire_seal(s->relay, kind, plain, len, u, c, &n) != 0) {
    w->st.relay_dropped++;
    return;
  }
  udp__commit(w, w->index, &p->addr, n);
  w->st.relay_tx_packets++;
  w->st.relay_tx_bytes += n;
}

/* The source address is not checked: the datagram's authentication under the link's key is the
 * proof (a node may send from another address than the one it is reached at, behind NAT). A
 * refused datagram is counted as dropped (rx_dropped) like any other, and by its reason. */
void relay__on_datagram(struct worker *w, uint8_t *buf, size_t len) {
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
