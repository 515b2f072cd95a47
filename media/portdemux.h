/* portdemux.h -- what a connection on the HTTPS port carries, told by its first bytes: TLS,
 * plain HTTP, or ICE-TCP media (RFC 6544, RFC 4571 framing) and then the session it is for. */
#ifndef TANDEM_MEDIA_PORTDEMUX_H
#define TANDEM_MEDIA_PORTDEMUX_H

#include <stddef.h>
#include <stdint.h>

#include "media/framing.h"

/* Pure: no allocation, no clock, no logging. */

/* The most bytes a decision ever needs: one whole frame (an ICE-TCP stream's first, whose
 * USERNAME names the session). Fewer always suffice for TLS, HTTP and garbage. */
#define PORTDEMUX_MAX (FRAMING_MAX + 2)

enum portdemux_kind {
  PORTDEMUX_MORE = 0, /* too few bytes to tell: wait for more (never past PORTDEMUX_MAX) */
  PORTDEMUX_TLS,      /* a TLS handshake record: 0x16 0x03 0x00-0x04 */
  PORTDEMUX_HTTP,     /* a plain HTTP/1.x request line */
  PORTDEMUX_ICE,      /* a whole RFC 4571 frame holding a STUN Binding request with a USERNAME
                         "ufrag:remote" (the ICE check every ICE-TCP stream opens with) */
  PORTDEMUX_GARBAGE,  /* none of these: close */
};

/* The session an ICE-TCP stream asks for. */
struct portdemux_ice {
  const char *ufrag;  /* our (the server's) ufrag: the USERNAME before ':', borrowed from buf,
                         not NUL-terminated; 4..256 ice-chars (RFC 8839) */
  size_t ufrag_len;
  size_t frame_len;   /* the first frame's length with its 2-byte header */
};

/* Classifies a stream's first len bytes. For PORTDEMUX_ICE fills *ice (may be NULL
 * otherwise; its pointers are valid as long as buf). Only the USERNAME's form is checked
 * here: MESSAGE-INTEGRITY is the media worker's business, which gets the same bytes. A
 * PORTDEMUX_MORE with len >= PORTDEMUX_MAX never happens. */
enum portdemux_kind portdemux_classify(const uint8_t *buf, size_t len, struct portdemux_ice *ice);

#endif
