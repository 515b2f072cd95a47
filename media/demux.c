/* demux.c -- RFC 7983 classification of datagrams on the shared media port. */
#include "media/demux.h"

#define DEMUX_STUN_HEADER 20

enum demux_kind demux_classify(const uint8_t *buf, size_t len) {
  if (!buf || len == 0)
    return DEMUX_UNKNOWN;
  uint8_t b = buf[0];
  if (b <= 3)
    return len >= DEMUX_STUN_HEADER ? DEMUX_STUN : DEMUX_UNKNOWN;
  if (b >= 20 && b <= 63)
    return DEMUX_DTLS;
  if (b >= 128 && b <= 191) {
    if (len < 2)
      return DEMUX_UNKNOWN;
    /* RTCP packet types 192..223 occupy the byte where RTP has M|PT, which
     * is why RTP payload types 64..95 are not used with rtcp-mux. */
    return buf[1] >= 192 && buf[1] <= 223 ? DEMUX_RTCP : DEMUX_RTP;
  }
  return DEMUX_UNKNOWN;
}
