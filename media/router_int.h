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

/* Retransmissions. A receiver's NACK is passed on to the source's browser, which sends those
 * packets again with their first index; inbound SRTP refuses them as replays (we had them: the
 * loss was after us). So the source remembers what it was asked for (each index once, for
 * about a second), and such a packet is checked with srtpctx_unprotect_rtp_again and only
 * forwarded (not recorded, not counted as the stream's).
 * router__rtx_expected: is this still-protected RTP packet of s one we asked s's browser for?
 * router__on_rtp_again: forwards an authenticated retransmission and forgets its index. */
bool router__rtx_expected(const struct session *s, const uint8_t *buf, size_t len, uint64_t now);
void router__on_rtp_again(struct session *s, uint8_t *buf, size_t len, uint64_t now);

#endif
