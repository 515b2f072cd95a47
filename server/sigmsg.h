/* sigmsg.h -- a client's signalling message, parsed and validated: pure, no I/O (docs/protocol.md). */
#ifndef TANDEM_SIGMSG_H
#define TANDEM_SIGMSG_H

#include <jansson.h>
#include <stddef.h>

#define SIGMSG_MAX_TAGS 10
#define SIGMSG_CHAT_MAX 1000 /* bytes of a chat text */
#define SIGMSG_LANG_MAX 16   /* bytes of a lang tag */
#define SIGMSG_REF_MAX 64    /* bytes of a type echoed back in an error's ref */
#define SIGMSG_TEXT_MAX 200  /* bytes of an error's message */
#define SIGMSG_NOTE_MAX 500  /* bytes of a report's note */
#define SIGMSG_DEVICE_MAX 100 /* bytes of a device token (a valid one is 76) */

enum sigmsg_type {
  SIGMSG_HELLO = 1,
  SIGMSG_OFFER,
  SIGMSG_START,
  SIGMSG_NEXT,
  SIGMSG_STOP,
  SIGMSG_CHAT,
  SIGMSG_BLOCK,
  SIGMSG_PING,
  SIGMSG_REPORT,
};

/* A valid message. Every pointer is borrowed from `root` (owned by the message) and lives
 * until sigmsg_clear(); strings are NUL-terminated and hold no NUL of their own, except
 * sdp and text, which are given with their length. Fields a type does not have are NULL/0. */
struct sigmsg {
  enum sigmsg_type type;
  const char *type_name;            /* static: "hello", "offer", ... */
  const char *resume;               /* hello: the token, NULL if absent or null */
  const char *device;               /* hello: the device token, NULL if absent or null */
  size_t device_len;
  const char *reason;               /* report: static, one of nudity harassment minor spam other */
  const char *note;                 /* report: NULL if absent, null or "" */
  size_t note_len;
  const char *sdp;                  /* offer */
  size_t sdp_len;
  const char *tags[SIGMSG_MAX_TAGS]; /* start: the interests, as given */
  size_t n_tags;
  const char *lang;                 /* start: NULL if absent, null or "" */
  const char *text;                 /* chat: 1 to SIGMSG_CHAT_MAX bytes */
  size_t text_len;
  json_t *root;
};

/* Why a message was refused: the reply's fields. `code` is a static protocol error code
 * (bad_json, bad_message, unknown_type); `message` and `ref` are always valid UTF-8,
 * NUL-terminated, cut at a character boundary; ref is "" when the type is unknown. */
struct sigmsg_error {
  const char *code;
  char message[SIGMSG_TEXT_MAX + 1];
  char ref[SIGMSG_REF_MAX + 1];
};

/* Parses one text message of len bytes (any bytes; not NUL-terminated) and validates the
 * shape of its fields for its type. Returns 0 with *m filled (release it with
 * sigmsg_clear), or -EBADMSG with *err filled and *m empty. Does not allocate beyond the
 * JSON tree; never logs. State rules (hello first, one offer) are the caller's. */
int sigmsg_parse(const char *data, size_t len, struct sigmsg *m, struct sigmsg_error *err);

/* Frees what m holds and empties it; an empty m is fine. */
void sigmsg_clear(struct sigmsg *m);

/* Copies up to cap-1 bytes of s[0..len) into dst as valid UTF-8 (RFC 3629): a byte that
 * does not start a well-formed character becomes '?', and the copy ends before a character
 * that would not fit whole. Always NUL-terminates (cap >= 1). Returns the bytes written. */
size_t sigmsg_utf8_copy(char *dst, size_t cap, const char *s, size_t len);

#endif
