/* sigmsg.c -- parse and validate a client's signalling message; safe UTF-8 for the replies. */
#include "server/sigmsg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct {
  const char *name;
  enum sigmsg_type type;
} types[] = {
    {"hello", SIGMSG_HELLO}, {"offer", SIGMSG_OFFER}, {"start", SIGMSG_START},
    {"next", SIGMSG_NEXT},   {"stop", SIGMSG_STOP},   {"chat", SIGMSG_CHAT},
    {"block", SIGMSG_BLOCK}, {"ping", SIGMSG_PING}, {"report", SIGMSG_REPORT},
};

/* The length of the well-formed UTF-8 character at s (RFC 3629, Unicode table 3-7: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0. NUL counts as malformed:
 * the copies made here are C strings. */
static size_t utf8_char(const unsigned char *s, size_t n) {
  unsigned char lo = 0x80, hi = 0xBF;
  size_t len, i;
  if (n == 0 || s[0] == 0)
    return 0;
  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xC2 && s[0] <= 0xDF)
    len = 2;
  else if (s[0] >= 0xE0 && s[0] <= 0xEF)
    len = 3;
  else if (s[0] >= 0xF0 && s[0] <= 0xF4)
    len = 4;
  else
    return 0;
  if (s[0] == 0xE0)
    lo = 0xA0;
  else if (s[0] == 0xED)
    hi = 0x9F;
  else if (s[0] == 0xF0)
    lo = 0x90;
  else if (s[0] == 0xF4)
    hi = 0x8F;
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xBF)
      return 0;
  return len;
}

size_t sigmsg_utf8_copy(char *dst, size_t cap, const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  size_t in = 0, out = 0, n;
  if (cap == 0)
    return 0;
  while (in < len) {
    n = utf8_char(u + in, len - in);
    if (out + (n ? n : 1) > cap - 1)
      break;
    if (n) {
      memcpy(dst + out, u + in, n);
      out += n;
      in += n;
    } else {
      dst[out++] = '?';
      in++;
    }
  }
  dst[out] = '\0';
  return out;
}

static int fail(struct sigmsg *m, struct sigmsg_error *err, const char *code, const char *ref,
                const char *message) {
  json_decref(m->root);
  memset(m, 0, sizeof(*m));
  err->code = code;
  sigmsg_utf8_copy(err->message, sizeof(err->message), message, strlen(message));
  sigmsg_utf8_copy(err->ref, sizeof(err->ref), ref ? ref : "", ref ? strlen(ref) : 0);
  return -EBADMSG;
}

/* A string field without a NUL of its own (those would cut it short as a C string). */
static bool plain_string(const json_t *j) {
  return json_is_string(j) && strlen(json_string_value(j)) == json_string_length(j);
}

static int parse_start(struct sigmsg *m, struct sigmsg_error *err) {
  json_t *ji = json_object_get(m->root, "interests");
  json_t *jl = json_object_get(m->root, "lang");
  json_t *t;
  size_t i;
  if (ji && !json_is_null(ji)) {
    if (!json_is_array(ji))
      return fail(m, err, "bad_message", "start", "interests must be an array of strings");
    if (json_array_size(ji) > SIGMSG_MAX_TAGS)
      return fail(m, err, "bad_message", "start", "at most 10 interests");
    json_array_foreach(ji, i, t) {
      if (!plain_string(t))
        return fail(m, err, "bad_message", "start", "interests must be an array of strings");
      m->tags[m->n_tags++] = json_string_value(t);
    }
  }
  if (jl && !json_is_null(jl)) {
    if (!plain_string(jl) || json_string_length(jl) > SIGMSG_LANG_MAX)
      return fail(m, err, "bad_message", "start", "lang must be a short string such as \"en\"");
    m->lang = json_string_value(jl);
    if (!*m->lang)
      m->lang = NULL;
  }
  return 0;
}

static const char *const report_reasons[] = {"nudity", "harassment", "minor", "spam", "other",
                                             NULL};

static int parse_report(struct sigmsg *m, struct sigmsg_error *err) {
  json_t *j = json_object_get(m->root, "reason");
  if (!json_is_string(j))
    return fail(m, err, "bad_message", "report",
                "report needs a reason: nudity, harassment, minor, spam or other");
  for (size_t i = 0; report_reasons[i]; i++)
    if (!strcmp(json_string_value(j), report_reasons[i]) &&
        json_string_length(j) == strlen(report_reasons[i]))
      m->reason = report_reasons[i];
  if (!m->reason)
    return fail(m, err, "bad_message", "report",
                "reason must be one of nudity, harassment, minor, spam, other");
  j = json_object_get(m->root, "note");
  if (j && !json_is_null(j)) {
    if (!plain_string(j) || json_string_length(j) > SIGMSG_NOTE_MAX)
      return fail(m, err, "bad_message", "report", "note must be a string of at most 500 bytes");
    if (json_string_length(j)) {
      m->note = json_string_value(j);
      m->note_len = json_string_length(j);
    }
  }
  return 0;
}

static int parse_fields(struct sigmsg *m, struct sigmsg_error *err) {
  json_t *j;
  switch (m->type) {
  case SIGMSG_HELLO:
    j = json_object_get(m->root, "resume");
    if (j && !json_is_null(j) && !plain_string(j))
      return fail(m, err, "bad_message", "hello", "resume must be a string");
    m->resume = json_is_string(j) ? json_string_value(j) : NULL;
    j = json_object_get(m->root, "device");
    if (j && !json_is_null(j) && (!plain_string(j) || json_string_length(j) > SIGMSG_DEVICE_MAX))
      return fail(m, err, "bad_message", "hello", "device must be the device token of a welcome");
    if (json_is_string(j)) {
      m->device = json_string_value(j);
      m->device_len = json_string_length(j);
    }
    return 0;
  case SIGMSG_OFFER:
    j = json_object_get(m->root, "sdp");
    if (!json_is_string(j))
      return fail(m, err, "bad_message", "offer", "offer needs a string field sdp");
    m->sdp = json_string_value(j);
    m->sdp_len = json_string_length(j);
    return 0;
  case SIGMSG_START:
    return parse_start(m, err);
  case SIGMSG_CHAT:
    j = json_object_get(m->root, "text");
    if (!json_is_string(j) || json_string_length(j) == 0)
      return fail(m, err, "bad_message", "chat", "chat needs a non-empty string field text");
    if (json_string_length(j) > SIGMSG_CHAT_MAX)
      return fail(m, err, "bad_message", "chat", "chat messages are at most 1000 bytes");
    m->text = json_string_value(j);
    m->text_len = json_string_length(j);
    return 0;
  case SIGMSG_REPORT:
    return parse_report(m, err);
  default:
    return 0; /* next, stop, block, ping: no fields */
  }
}

int sigmsg_parse(const char *data, size_t len, struct sigmsg *m, struct sigmsg_error *err) {
  char text[SIGMSG_TEXT_MAX + 1], cut[SIGMSG_REF_MAX + 1];
  json_error_t jerr;
  json_t *jt;
  const char *type;
  size_t tlen, i;
  memset(m, 0, sizeof(*m));
  m->root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (!m->root) {
    /* jansson's text may quote the input, cut anywhere: fail() makes it valid UTF-8. */
    snprintf(text, sizeof(text), "invalid JSON: %s", jerr.text);
    return fail(m, err, "bad_json", NULL, text);
  }
  jt = json_object_get(m->root, "type");
  if (!json_is_object(m->root) || !json_is_string(jt))
    return fail(m, err, "bad_message", NULL, "a message is a JSON object with a string field type");
  type = json_string_value(jt);
  tlen = json_string_length(jt);
  for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    if (strlen(types[i].name) == tlen && !memcmp(types[i].name, type, tlen)) {
      m->type = types[i].type;
      m->type_name = types[i].name;
      return parse_fields(m, err);
    }
  }
  /* The type is echoed back at most SIGMSG_REF_MAX bytes long, cut between characters:
   * a reply that is not valid UTF-8 could not be sent at all. */
  sigmsg_utf8_copy(cut, sizeof(cut), type, tlen);
  snprintf(text, sizeof(text), "unknown message type '%s'", cut);
  return fail(m, err, "unknown_type", cut, text);
}

void sigmsg_clear(struct sigmsg *m) {
  json_decref(m->root);
  memset(m, 0, sizeof(*m));
}
