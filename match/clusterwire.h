/* clusterwire.h -- the cluster's matching messages as bytes (pure: no clock it is not given).
 *
 * Nodes and the matcher talk through Redis streams (server/cluster.c); what travels is one
 * of these messages, encoded here. Decoding is the first thing done to bytes from Redis: any
 * malformed message is refused whole (-EBADMSG) and nothing else happens.
 *
 * Times never cross the wire as times: a cool-down's end goes as the milliseconds left, and
 * the receiver adds its own clock (nodes' clocks need not agree). */
#ifndef TANDEM_MATCH_CLUSTERWIRE_H
#define TANDEM_MATCH_CLUSTERWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "match/cluster.h"
#include "match/matcher.h"

enum cw_type {
  /* node -> matcher */
  CW_HELLO = 1,    /* node, epoch */
  CW_CMD = 2,      /* node, seq, cmd */
  CW_SYNC = 3,     /* node, rec */
  CW_SYNC_END = 4, /* node */
  /* matcher -> node */
  CW_EVENT = 5,    /* gen, ev */
  CW_ACK = 6,      /* gen, seq: the node's commands up to seq are taken */
  CW_RESYNC = 7,   /* gen: a new matcher; say hello and re-send everything */
  /* node -> node */
  CW_PEER = 8,     /* node (the receiver), to, from, kind, data: a message between the two
                      sides of a pair on different nodes (chat, partner events, relay set-up);
                      kind and data are the server's (server/cluster.c) */
};

#define CW_PEER_DATA_MAX 900

struct cw_msg {
  enum cw_type type;
  unsigned node;   /* sender (to the matcher) or receiver (from it) */
  uint64_t epoch;  /* HELLO, ACK (the node's run the acknowledgement is for) */
  uint64_t seq;    /* CMD, ACK */
  uint64_t gen;    /* EVENT, ACK, RESYNC: the matcher's generation */
  struct matcher_cmd cmd;   /* CMD */
  struct mcluster_peer rec; /* SYNC */
  struct matcher_event ev;  /* EVENT */
  match_id to, from;        /* PEER */
  uint8_t kind;             /* PEER */
  uint16_t len;             /* PEER: bytes in data */
  uint8_t data[CW_PEER_DATA_MAX];
};

#define CW_MAX 1024 /* no message is longer */

/* Encodes m into buf (cap bytes, CW_MAX is always enough) at now_ms. Returns the length, or
 * -EINVAL (a field out of range: node 0 or above MCLUSTER_NODE_MAX, an unknown type, a string
 * too long). */
int cw_encode(const struct cw_msg *m, uint64_t now_ms, uint8_t *buf, size_t cap);
/* Decodes len bytes at now_ms into *m. 0, or -EBADMSG (malformed: truncated, trailing bytes,
 * a value out of range, a string with a NUL) or -EPROTONOSUPPORT (another version). */
int cw_decode(const uint8_t *buf, size_t len, uint64_t now_ms, struct cw_msg *m);

#endif
