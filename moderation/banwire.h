/* banwire.h -- bans as they travel between nodes through Redis: cluster-wide ban ids, a ban
 * as JSON text (the value in the hash of bans in force), and the change messages of the bans
 * channel. Pure: encoding and decoding only; decoding treats its input as hostile. */
#ifndef TANDEM_BANWIRE_H
#define TANDEM_BANWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "moderation/ban.h"

/* A cluster ban id is node_id * 2^42 + the node's own store id: unique across nodes without
 * asking anyone (a node makes bans while Redis is away too), and below 2^53, so that it is
 * exact in JSON and JavaScript numbers. node_id is 1 to 1023; store ids below 2^42. */
#define BANWIRE_NODE_MAX 1023
#define BANWIRE_LOCAL_BITS 42
#define BANWIRE_LOCAL_MAX ((INT64_C(1) << BANWIRE_LOCAL_BITS) - 1)
#define BANWIRE_TEXT_MAX 8192 /* longest ban or message text accepted */

/* The cluster id of node's local ban id: > 0, or -1 when either is out of range. */
int64_t banwire_id(unsigned node, int64_t local);
/* Its parts: the node (0 if id is no cluster id) and the local id. */
unsigned banwire_node(int64_t id);
int64_t banwire_local(int64_t id);

/* A decoded ban with room for its strings (b.reason and b.by point into this struct: copy it
 * with banwire_copy, not by assignment). */
struct banwire_ban {
  struct ban b;
  char reason[BAN_TEXT_MAX + 1];
  char by[BAN_TEXT_MAX + 1];
};
void banwire_copy(struct banwire_ban *dst, const struct banwire_ban *src);

/* {"id":N,"kind":"device","target":"...","reason":"...","by":"...","created_ms":N,
 *  "expires_ms":N}: a malloc'd NUL-terminated string, or NULL (ENOMEM, or a ban that could
 * not be decoded back: bad id, target or strings). */
char *banwire_encode(const struct ban *b);
/* The inverse, from len bytes of untrusted text: 0, or -EBADMSG (not that object: not JSON,
 * a missing or ill-typed field, an id that is not a cluster id, a bad target, strings too long
 * or with a NUL, expires_ms not after created_ms). *out is untouched on error. */
int banwire_decode(const char *text, size_t len, struct banwire_ban *out);

/* The bans channel's messages: {"op":"ban","ban":{...}} and {"op":"unban","id":N,"by":"..."}. */
enum banwire_op { BANWIRE_BAN = 1, BANWIRE_UNBAN = 2 };
char *banwire_msg_ban(const struct ban *b);
char *banwire_msg_unban(int64_t id, const char *by);
/* Decodes a message: 0 with *op, and for a ban out->b (all of it), for an unban out->b.id and
 * out->by; or -EBADMSG. */
int banwire_msg_decode(const char *text, size_t len, enum banwire_op *op,
                       struct banwire_ban *out);

#endif
