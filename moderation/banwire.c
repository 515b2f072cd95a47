/* banwire.c -- bans as JSON text between nodes (Redis), decoded as hostile input. */
#include "moderation/banwire.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define JSON_SAFE_MAX ((INT64_C(1) << 53) - 1)

int64_t banwire_id(unsigned node, int64_t local) {
  if (node < 1 || node > BANWIRE_NODE_MAX || local < 1 || local > BANWIRE_LOCAL_MAX)
    return -1;
  return ((int64_t)node << BANWIRE_LOCAL_BITS) | local;
}

unsigned banwire_node(int64_t id) {
  if (id <= 0 || id > JSON_SAFE_MAX)
    return 0;
  unsigned n = (unsigned)(id >> BANWIRE_LOCAL_BITS);
  return n <= BANWIRE_NODE_MAX && (id & BANWIRE_LOCAL_MAX) ? n : 0;
}

int64_t banwire_local(int64_t id) { return id > 0 ? (id & BANWIRE_LOCAL_MAX) : 0; }

void banwire_copy(struct banwire_ban *dst, const struct banwire_ban *src) {
  dst->b = src->b;
  memcpy(dst->reason, src->reason, sizeof(dst->reason));
  memcpy(dst->by, src->by, sizeof(dst->by));
  dst->b.reason = dst->reason;
  dst->b.by = dst->by;
}

static json_t *ban_object(const struct ban *b) {
  char tgt[BAN_TARGET_STRLEN];
  const char *reason = b->reason ? b->reason : "", *by = b->by ? b->by : "";
  if (!banwire_node(b->id) || ban_target_format(&b->target, tgt, sizeof(tgt)) ||
      strlen(reason) > BAN_TEXT_MAX || strlen(by) > BAN_TEXT_MAX ||
      b->created_ms > (uint64_t)JSON_SAFE_MAX || b->expires_ms > (uint64_t)JSON_SAFE_MAX)
    return NULL;
  return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I}", "id", (json_int_t)b->id, "kind",
                   ban_kind_name(b->target.kind), "target", tgt, "reason", reason, "by", by,
                   "created_ms", (json_int_t)b->created_ms, "expires_ms",
                   (json_int_t)b->expires_ms);
}

static char *dump(json_t *j) {
  char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  return s;
}

char *banwire_encode(const struct ban *b) { return dump(ban_object(b)); }

/* A non-negative integer field at most 2^53 - 1. */
static int uint_field(json_t *o, const char *name, uint64_t *out) {
  json_t *v = json_object_get(o, name);
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > JSON_SAFE_MAX)
    return -EBADMSG;
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

static int str_field(json_t *o, const char *name, char *out, size_t cap) {
  json_t *v = json_object_get(o, name);
  if (!json_is_string(v))
    return -EBADMSG;
  size_t n = json_string_length(v);
  const char *s = json_string_value(v);
  if (n >= cap || strlen(s) != n)
    return -EBADMSG;
  memcpy(out, s, n + 1);
  return 0;
}

static int ban_from(json_t *o, struct banwire_ban *out) {
  struct banwire_ban t;
  memset(&t.b, 0, sizeof(t.b));
  uint64_t id, created, expires;
  char kind[16], target[BAN_TARGET_STRLEN + 16];
  if (!json_is_object(o) || uint_field(o, "id", &id) || !banwire_node((int64_t)id) ||
      str_field(o, "kind", kind, sizeof(kind)) ||
      str_field(o, "target", target, sizeof(target)) ||
      str_field(o, "reason", t.reason, sizeof(t.reason)) ||
      str_field(o, "by", t.by, sizeof(t.by)) || uint_field(o, "created_ms", &created) ||
      uint_field(o, "expires_ms", &expires) || created == 0 ||
      (expires && expires <= created) || ban_kind_parse(kind, &t.b.target.kind) ||
      ban_target_parse(t.b.target.kind, target, &t.b.target))
    return -EBADMSG;
  t.b.id = (int64_t)id;
  t.b.created_ms = created;
  t.b.expires_ms = expires;
  t.b.lifted_ms = 0;
  banwire_copy(out, &t);
  return 0;
}

static json_t *parse(const char *text, size_t len) {
  if (!text || len == 0 || len > BANWIRE_TEXT_MAX)
    return NULL;
  json_error_t err;
  return json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
}

int banwire_decode(const char *text, size_t len, struct banwire_ban *out) {
  json_t *j = parse(text, len);
  int rc = j ? ban_from(j, out) : -EBADMSG;
  json_decref(j);
  return rc;
}

char *banwire_msg_ban(const struct ban *b) {
  json_t *o = ban_object(b);
  return o ? dump(json_pack("{s:s, s:o}", "op", "ban", "ban", o)) : NULL;
}

char *banwire_msg_unban(int64_t id, const char *by) {
  if (!banwire_node(id))
    return NULL;
  by = by ? by : "";
  if (strlen(by) > BAN_TEXT_MAX)
    return NULL;
  return dump(json_pack("{s:s, s:I, s:s}", "op", "unban", "id", (json_int_t)id, "by", by));
}

int banwire_msg_decode(const char *text, size_t len, enum banwire_op *op,
                       struct banwire_ban *out) {
  json_t *j = parse(text, len);
  int rc = -EBADMSG;
  json_t *jop = json_object_get(j, "op");
  const char *s = json_is_string(jop) ? json_string_value(jop) : "";
  if (!strcmp(s, "ban")) {
    rc = ban_from(json_object_get(j, "ban"), out);
    if (!rc)
      *op = BANWIRE_BAN;
  } else if (!strcmp(s, "unban")) {
    uint64_t id;
    char by[BAN_TEXT_MAX + 1];
    if (uint_field(j, "id", &id) == 0 && banwire_node((int64_t)id) &&
        str_field(j, "by", by, sizeof(by)) == 0) {
      memset(&out->b, 0, sizeof(out->b));
      out->b.id = (int64_t)id;
      memcpy(out->by, by, sizeof(by));
      out->reason[0] = 0;
      out->b.reason = out->reason;
      out->b.by = out->by;
      *op = BANWIRE_UNBAN;
      rc = 0;
    }
  }
  json_decref(j);
  return rc;
}
