/* cluster.h -- one pool of strangers across nodes, through Redis: matchq's cluster backend.
 *
 * Every node sends its matching commands to one Redis stream (tandem:mq:in) and reads the
 * events for its peers from its own (tandem:mq:node:<node_id>). One node at a time, the
 * matcher (it holds the lease tandem:mq:lease, renewed every second, 3 s to live), reads the
 * commands, runs the pure cluster matcher (match/cluster.h) and writes the events. When the
 * matcher dies, another node takes the lease within ~3 s, with a new generation; it tells
 * every live node (tandem:mq:nodes, a sorted set of heartbeats) to re-send its peers, and
 * rebuilds the pool from that (docs/operations.md, "Many nodes").
 *
 * If Redis goes away for longer than CLUSTER_FALLBACK_MS, a node matches its own visitors
 * alone (the same pure matcher, in process) and joins the shared pool again when Redis is
 * back, re-sending its visitors under a new epoch.
 *
 * The two sides of a cross-node pair also talk node to node through the same streams
 * (CW_PEER messages: chat, partner events, relay set-up), with cluster_peer_send. */
#ifndef TANDEM_SERVER_CLUSTER_H
#define TANDEM_SERVER_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "match/cluster.h"
#include "server/matchq.h"

#define CLUSTER_FALLBACK_MS 3000

struct cluster_hooks {
  /* Events are waiting in the matchq (drain them with matchq_poll). */
  void (*events)(void *arg);
  /* Re-send every peer: cluster_record for each, then any BLOCK/REMEMBER commands. */
  void (*resync)(void *arg);
  /* A CW_PEER message for one of this node's peers (data borrowed for the call). */
  void (*peer_msg)(void *arg, match_id to, match_id from, uint8_t kind, const uint8_t *data,
                   size_t len);
  void *arg;
};

/* The cluster backend on loop, for node (1..MCLUSTER_NODE_MAX) and the Redis at url. NULL on
 * ENOMEM or a bad url. It starts connecting at once; until it is joined, commands wait. */
struct matchq *cluster_new(uv_loop_t *loop, const struct match_config *mc, const char *url,
                           unsigned node, const struct cluster_hooks *hooks);
/* Inside the resync hook: one peer as this node sees it. */
void cluster_record(struct matchq *q, const struct mcluster_peer *rec);
/* A message to a peer on another node: 0, or -ENOTCONN (Redis away: dropped), -EINVAL. */
int cluster_peer_send(struct matchq *q, match_id to, match_id from, uint8_t kind,
                      const void *data, size_t len);
unsigned cluster_node(const struct matchq *q);
/* In the shared pool (not joining, not matching alone): commands reach the matcher. */
bool cluster_up(const struct matchq *q);
/* node's heartbeat was alive at this node's latest one (within about a second). */
bool cluster_node_live(const struct matchq *q, unsigned node);
uint64_t cluster_wall_ms(void); /* unix ms */
/* The 32-byte relay secret the nodes share (from Redis), or NULL before it is known. */
const uint8_t *cluster_relay_secret(const struct matchq *q);
/* tandem_cluster_* metrics (file is a FILE *). */
void cluster_metrics(void *file, const struct matchq *q);

#endif
