/* framing.c -- RFC 4571 frames in a byte stream, and the first-bytes test of a stream. */
#include "media/framing.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

void framing_reader_init(struct framing_reader *r) { r->have = 0; }

int framing_header(uint8_t hdr[2], size_t len) {
  if (len == 0 || len > FRAMING_MAX)
    return -EMSGSIZE;
  hdr[0] = (uint8_t)(len >> 8);
  hdr[1] = (uint8_t)len;
  return 0;
}

int framing_feed(struct framing_reader *r, const uint8_t *data, size_t len,
                 void (*cb)(void *arg, uint8_t *pkt, size_t n), void *arg) {
  while (len > 0) {
    /* The header first, then exactly the frame: never more than one frame is held. */
    size_t need = 2;
    if (r->have >= 2) {
      size_t flen = (size_t)r->buf[0] << 8 | r->buf[1];
      if (flen == 0 || flen > FRAMING_MAX)
        return -EMSGSIZE;
      need = 2 + flen;
    }
    size_t take = need - r->have < len ? need - r->have : len;
    memcpy(r->buf + r->have, data, take);
    r->have += take;
    data += take;
    len -= take;
    if (r->have < 2 || r->have < need)
      continue;
    if (need == 2) {
      size_t flen = (size_t)r->buf[0] << 8 | r->buf[1];
      if (flen == 0 || flen > FRAMING_MAX)
        return -EMSGSIZE;
      continue;
    }
    r->have = 0;
    cb(arg, r->buf + 2, need - 2);
  }
  return 0;
}

static bool is_upper(uint8_t c) { return c >= 'A' && c <= 'Z'; }

enum framing_kind framing_sniff(const uint8_t *buf, size_t len) {
  if (len == 0)
    return FRAMING_MORE;
  if (buf[0] == 0x16) {
    if (len < 3)
      return FRAMING_MORE;
    return buf[1] == 0x03 && buf[2] <= 0x04 ? FRAMING_TLS : FRAMING_UNKNOWN;
  }
  if (is_upper(buf[0])) {
    /* A method of up to 7 uppercase letters, then a space (GET, POST, OPTIONS...). */
    for (size_t i = 1; i < len && i < 8; i++) {
      if (buf[i] == ' ')
        return FRAMING_HTTP;
      if (!is_upper(buf[i]))
        return FRAMING_UNKNOWN;
    }
    return len < 8 ? FRAMING_MORE : FRAMING_UNKNOWN;
  }
  if (buf[0] > (FRAMING_MAX >> 8))
    return FRAMING_UNKNOWN;
  /* [frame length:2][STUN type 0x0001][STUN length:2][magic cookie 0x2112A442] */
  static const uint8_t want[10] = {0, 0, 0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42};
  static const bool fixed[10] = {false, false, true, true, false, false, true, true, true, true};
  for (size_t i = 0; i < len && i < 10; i++)
    if (fixed[i] && buf[i] != want[i])
      return FRAMING_UNKNOWN;
  if (len < 10)
    return FRAMING_MORE;
  size_t flen = (size_t)buf[0] << 8 | buf[1];
  size_t slen = (size_t)buf[4] << 8 | buf[5];
  return flen >= 20 && flen <= FRAMING_MAX && slen + 20 == flen ? FRAMING_ICE_TCP
                                                                 : FRAMING_UNKNOWN;
}
