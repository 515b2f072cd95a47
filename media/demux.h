/* demux.h -- RFC 7983 classification of datagrams on the shared media port. */
#ifndef TANDEM_MEDIA_DEMUX_H
#define TANDEM_MEDIA_DEMUX_H

#include <stddef.h>
#include <stdint.h>

enum demux_kind { DEMUX_UNKNOWN, DEMUX_STUN, DEMUX_DTLS, DEMUX_RTP, DEMUX_RTCP };

/* Classifies one datagram by its first byte (RFC 7983 section 7):
 *   0..3 STUN (only if len >= 20, the STUN header size), 20..63 DTLS,
 *   128..191 RTP or RTCP, everything else (ZRTP 16..19, TURN channels
 *   64..79, the rest) DEMUX_UNKNOWN.
 * RTP and RTCP are told apart by the second byte as RFC 5761 section 4
 * says: 192..223 (RTCP packet types SR..) is RTCP, anything else RTP; a
 * one-byte datagram in the RTP range is DEMUX_UNKNOWN.
 * Pure: reads at most buf[0] and buf[1], never past len; buf may be NULL
 * when len is 0. It does not validate the packet; the parsers do. */
enum demux_kind demux_classify(const uint8_t *buf, size_t len);

#endif
