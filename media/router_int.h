/* router_int.h -- forwarding between linked sessions and RTCP termination (router.c). Private
 * to media/. */
#ifndef TANDEM_ROUTER_INT_H
#define TANDEM_ROUTER_INT_H

#include "media/handover_int.h"

/* router.c -- the packet path and RTCP termination. */
void router__on_rtp(struct session *s, uint8_t *buf, size_t len, uint64_t now);
void router__on_rtcp(struct session *s, uint8_t *buf, size_t len, uint64_t now);
/* Feedback from another worker: XM_KEYFRAME, XM_NACK, XM_REMB, XM_RTCP_OUT. */
void router__on_xmsg(struct worker *w, const struct xmsg *m, const uint8_t *extra, size_t extra_len,
                     uint64_t now);
void router__tick(struct session *s, uint64_t now);  /* keyframe retries while one is awaited */
/* src starts feeding o: every stream continues its numbering at the next packet, and video
 * waits for a keyframe, asked for at once. */
void router__attach(struct session *src, struct outbound *o, uint64_t now);
/* Asks src's browser for a keyframe (PLI, or FIR), at most every 100 ms. */
void router__keyframe(struct session *src, uint64_t now, bool fir);

#endif
