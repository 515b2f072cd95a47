/* transport.c -- the send path under sessions and outbounds: UDP datagrams sent from any
 * worker, streams written only at home (see transport.h). */
#include "media/transport.h"

#include <string.h>

#include "media/session_int.h"
#include "media/worker_int.h"

uint8_t *transport__slot(struct worker *w, const struct tx_path *p, size_t *cap) {
  if (p->kind == TX_DGRAM)
    return udp__slot(w, p->home, p->addr.ss_family, cap);
  if (p->kind == TX_STREAM) {
    *cap = 1500;
    return w->scratch;
  }
  if (p->kind == TX_RELAY)
    return relay__slot(w, p, cap);
  return NULL;
}

void transport__commit(struct worker *w, const struct tx_path *p, size_t len) {
  if (p->kind == TX_DGRAM) {
    udp__commit(w, p->home, &p->addr, len);
    return;
  }
  if (p->kind == TX_RELAY) {
    relay__commit(w, p, len);
    return;
  }
  if (p->kind != TX_STREAM || len > 1500)
    return;
  if (p->home == w->index) {
    transport__on_tx(w, p->sid, w->scratch, len);
    return;
  }
  struct xmsg *m = worker__xmsg(w, p->home, XM_TX, len);
  if (!m)
    return;
  m->dst = p->sid;
  memcpy(m + 1, w->scratch, len);
}

void transport__on_tx(struct worker *w, uint64_t sid, const uint8_t *buf, size_t len) {
  struct session *s = worker__session(w, sid);
  if (!s || !s->stream_ops || s->stream_ops->write(s->stream, buf, len) != 0)
    return; /* a stream counts what it drops */
  w->st.tx_packets++;
  w->st.tx_bytes += len;
}
