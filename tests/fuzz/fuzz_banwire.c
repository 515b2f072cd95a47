/* fuzz_banwire.c -- libFuzzer target: bans as other nodes send them through Redis
 * (moderation/banwire.c). Whatever the bytes, decoding answers 0 or -EBADMSG; what it accepts
 * is a cluster id, a target that formats, strings within bounds, and encodes back to text that
 * decodes to the same ban. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moderation/banwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct banwire_ban *w) {
  char tgt[BAN_TARGET_STRLEN];
  if (!banwire_node(w->b.id) || ban_target_format(&w->b.target, tgt, sizeof(tgt)) ||
      strnlen(w->reason, sizeof(w->reason)) > BAN_TEXT_MAX ||
      strnlen(w->by, sizeof(w->by)) > BAN_TEXT_MAX || w->b.lifted_ms ||
      (w->b.expires_ms && w->b.expires_ms <= w->b.created_ms))
    abort();
  char *s = banwire_encode(&w->b);
  if (!s)
    abort();
  struct banwire_ban again;
  if (banwire_decode(s, strlen(s), &again) || again.b.id != w->b.id ||
      strcmp(again.reason, w->reason) || strcmp(again.by, w->by) ||
      again.b.expires_ms != w->b.expires_ms || again.b.created_ms != w->b.created_ms)
    abort();
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct banwire_ban w;
  int rc = banwire_decode((const char *)data, size, &w);
  if (rc == 0)
    check(&w);
  else if (rc != -EBADMSG)
    abort();
  enum banwire_op op;
  rc = banwire_msg_decode((const char *)data, size, &op, &w);
  if (rc == 0 && op == BANWIRE_BAN)
    check(&w);
  else if (rc == 0 && (op != BANWIRE_UNBAN || !banwire_node(w.b.id)))
    abort();
  else if (rc && rc != -EBADMSG)
    abort();
  return 0;
}
