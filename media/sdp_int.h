/* sdp_int.h -- helpers shared by the offer parser (sdp.c) and the answer writer (sdp_answer.c). */
#ifndef TANDEM_MEDIA_SDP_INT_H
#define TANDEM_MEDIA_SDP_INT_H

#include "media/sdp.h"

/* Private to media/sdp*.c. Pure like the public API: no allocation, no
 * logging, and every pointer is only read during the call. */

/* True if s is not NULL and is 1..max printable, space-free ASCII characters
 * (with token_only, only RFC 8866 token-chars), so it can be echoed safely in
 * an SDP line. s must be NUL-terminated or at least max + 1 bytes long. */
bool sdp__cword(const char *s, size_t max, bool token_only);

/* True if s[0..n) is min..max RFC 8839 ice-chars (ALPHA / DIGIT / "+" / "/"). */
bool sdp__ice_chars(const char *s, size_t n, size_t min, size_t max);

/* Parses the fingerprint "AB:CD:..." in s[0..len) (no NUL needed) into
 * out[0..cap) and sets *n to its length. Returns 0, -EBADMSG or -ENOSPC,
 * exactly as sdp_fingerprint_parse() does. */
int sdp__fp_parse(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n);

#endif
