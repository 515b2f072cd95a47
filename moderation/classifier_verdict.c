/* classifier_verdict.c -- a classifier's answer as a verdict: hostile JSON, checked strictly. */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "moderation/classifier.h"

/* Copies s into out (size n), cut at a character boundary so it stays valid UTF-8 (jansson
 * gives valid UTF-8 only), with control characters (C0 and DEL) replaced by spaces so a
 * reason cannot forge log lines. */
static void copy_reason(char *out, size_t n, const char *s, size_t len) {
  if (len > n - 1) {
    len = n - 1;
    /* Back up over continuation bytes to the start of the character that did not fit. */
    while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
      len--;
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    out[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
  }
  out[len] = '\0';
}

int classifier_verdict_parse(const char *body, size_t len, struct classifier_verdict *v) {
  if (!body || len > CLASSIFIER_MAX_BODY)
    return -EBADMSG;
  json_error_t err;
  /* No \u0000 in strings (the default), and a key given twice is an error, not the last one
   * winning: two readers of the same answer must not disagree. */
  json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
  if (!root)
    return -EBADMSG;
  int rc = -EBADMSG;
  struct classifier_verdict out = {.action = CLASSIFIER_NONE};
  if (!json_is_object(root))
    goto done;
  json_t *action = json_object_get(root, "action");
  if (!json_is_string(action))
    goto done;
  const char *a = json_string_value(action);
  size_t alen = json_string_length(action);
  if (alen == 4 && !memcmp(a, "none", 4))
    out.action = CLASSIFIER_NONE;
  else if (alen == 4 && !memcmp(a, "kick", 4))
    out.action = CLASSIFIER_KICK;
  else if (alen == 3 && !memcmp(a, "ban", 3))
    out.action = CLASSIFIER_BAN;
  else
    goto done;
  json_t *reason = json_object_get(root, "reason");
  if (reason && !json_is_null(reason)) {
    if (!json_is_string(reason))
      goto done;
    copy_reason(out.reason, sizeof(out.reason), json_string_value(reason),
                json_string_length(reason));
  }
  json_t *dur = json_object_get(root, "duration_s");
  if (dur && !json_is_null(dur)) {
    if (!json_is_integer(dur) || json_integer_value(dur) < 0)
      goto done;
    uint64_t d = (uint64_t)json_integer_value(dur);
    out.duration_s = d > CLASSIFIER_MAX_DURATION_S ? 0 : d;
  }
  *v = out;
  rc = 0;
done:
  json_decref(root);
  return rc;
}
