/* fuzz_signal.c -- libFuzzer target: the signalling parser and validator (server/sigmsg.c). */
/*
 * Each input is one WebSocket text message, any bytes. A message is either accepted, with
 * the fields its type needs, or refused with a code and a message that can be sent: valid
 * UTF-8 (jansson's json_string is the oracle), ref at most SIGMSG_REF_MAX bytes. The same
 * bytes also go through sigmsg_utf8_copy at every capacity up to 80. ASan/LSan catch the rest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/sigmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(int cond) {
  if (!cond)
    abort();
}

static void must_be_utf8(const char *s) {
  json_t *j = json_string(s);
  must(j != NULL);
  json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct sigmsg m;
  struct sigmsg_error e;
  char out[81];
  size_t cap, n;
  if (sigmsg_parse((const char *)data, size, &m, &e) == 0) {
    must(m.root != NULL && m.type >= SIGMSG_HELLO && m.type <= SIGMSG_PING && m.type_name);
    must(m.n_tags <= SIGMSG_MAX_TAGS);
    for (n = 0; n < m.n_tags; n++)
      must(m.tags[n] != NULL);
    if (m.type == SIGMSG_OFFER)
      must(m.sdp != NULL);
    if (m.type == SIGMSG_CHAT)
      must(m.text && m.text_len >= 1 && m.text_len <= SIGMSG_CHAT_MAX);
    if (m.lang)
      must(*m.lang && strlen(m.lang) <= SIGMSG_LANG_MAX);
    sigmsg_clear(&m);
  } else {
    must(m.root == NULL && e.code != NULL && e.message[0] != '\0');
    must(strlen(e.ref) <= SIGMSG_REF_MAX);
    must_be_utf8(e.message);
    must_be_utf8(e.ref);
  }
  for (cap = 1; cap <= sizeof(out); cap++) {
    n = sigmsg_utf8_copy(out, cap, (const char *)data, size);
    must(n < cap && out[n] == '\0' && strlen(out) == n);
    must_be_utf8(out);
  }
  return 0;
}
