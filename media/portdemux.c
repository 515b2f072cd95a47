/* portdemux.c -- one TCP port for HTTPS and ICE-TCP: a stream's first bytes say which. */
#include "media/portdemux.h"

#include <stdbool.h>

#define STUN_HDR 20
#define STUN_USERNAME 0x0006
#define UFRAG_MIN 4
#define UFRAG_MAX 256

static bool ice_char(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '+' || c == '/';
}

/* The USERNAME of the Binding request msg[0..len) (a whole STUN message, its header checked by
 * framing_sniff): its part before ':' into *ice. false if there is none or it is malformed. */
static bool find_ufrag(const uint8_t *msg, size_t len, struct portdemux_ice *ice) {
  if (len % 4 != 0) /* STUN attributes are padded to 4 bytes, so is the message */
    return false;
  size_t off = STUN_HDR;
  while (len - off >= 4) {
    unsigned type = (unsigned)msg[off] << 8 | msg[off + 1];
    size_t alen = (size_t)msg[off + 2] << 8 | msg[off + 3];
    size_t padded = (alen + 3) & ~(size_t)3;
    off += 4;
    if (padded > len - off)
      return false;
    if (type == STUN_USERNAME) {
      const uint8_t *u = msg + off;
      size_t n = 0;
      while (n < alen && u[n] != ':') {
        if (!ice_char(u[n]))
          return false;
        n++;
      }
      /* "ours:theirs" (RFC 8445 7.2.2): both parts present. */
      if (n == alen || n + 1 == alen || n < UFRAG_MIN || n > UFRAG_MAX)
        return false;
      ice->ufrag = (const char *)u;
      ice->ufrag_len = n;
      return true;
    }
    off += padded;
  }
  return false;
}

enum portdemux_kind portdemux_classify(const uint8_t *buf, size_t len, struct portdemux_ice *ice) {
  switch (framing_sniff(buf, len)) {
  case FRAMING_MORE:
    /* A frame length no ICE check can have is garbage at once, not after 10 bytes. */
    if (len >= 2 && buf[0] <= (FRAMING_MAX >> 8)) {
      size_t flen = (size_t)buf[0] << 8 | buf[1];
      if (flen < STUN_HDR || flen > FRAMING_MAX)
        return PORTDEMUX_GARBAGE;
    }
    return PORTDEMUX_MORE;
  case FRAMING_TLS:
    return PORTDEMUX_TLS;
  case FRAMING_HTTP:
    return PORTDEMUX_HTTP;
  case FRAMING_UNKNOWN:
    return PORTDEMUX_GARBAGE;
  case FRAMING_ICE_TCP:
    break;
  }
  /* framing_sniff checked the frame length (20..FRAMING_MAX) against the STUN length. */
  size_t flen = (size_t)buf[0] << 8 | buf[1];
  if (len < 2 + flen)
    return PORTDEMUX_MORE;
  struct portdemux_ice got = {0};
  if (!find_ufrag(buf + 2, flen, &got))
    return PORTDEMUX_GARBAGE;
  got.frame_len = 2 + flen;
  if (ice)
    *ice = got;
  return PORTDEMUX_ICE;
}
