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

#include <stdbool.h>
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

/* A visit moving to another node (a refreshed page that the load balancer sent elsewhere):
 * what its old node hands over in a CW_PEER message, beyond what the matcher keeps. Its state
 * and partner come from the matcher (the MOVE's answer), never from here. */
struct cw_visit {
  bool want, ready;          /* it has started and not stopped; its media was flowing */
  uint8_t ntags;             /* its latest start */
  char tags[MATCHER_TAGS_MAX][MATCHER_TAG_LEN_MAX + 1];
  char lang[MATCHER_TAG_LEN_MAX + 1];
  uint8_t nblocks, nrecent;  /* as in struct mcluster_peer */
  match_id blocks[MCLUSTER_REC_BLOCKS];
  match_id recent[MCLUSTER_REC_RECENT];
  uint8_t n_shared;          /* the current pair's shared tags */
  char shared[MATCHER_TAGS_MAX][MATCHER_TAG_LEN_MAX + 1];
  uint64_t relay_base;       /* the current pair's link id (low 12 bits zero), 0 none */
  uint16_t relay_r;          /* the relay's highest opening so far */
  uint32_t visit_age_ms, paired_age_ms, pairs, nexts;
};

#define CW_VISIT_MAX 832 /* no encoded visit is longer (it fits in a CW_PEER message) */

/* Encodes v into buf (cap bytes). The length, or -EINVAL (a count or string out of range). */
int cw_visit_encode(const struct cw_visit *v, uint8_t *buf, size_t cap);
/* Decodes len bytes into *v: 0, or -EBADMSG (malformed: truncated, trailing bytes, a count or
 * string out of range, a NUL in a string, a link id with low bits set). */
int cw_visit_decode(const uint8_t *buf, size_t len, struct cw_visit *v);

#endif
