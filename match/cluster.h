/* cluster.h -- one matcher for many nodes, as pure state (no clock, socket or global).
 *
 * A cluster of Tandem nodes has one pool of strangers. One node at a time, the matcher (it
 * holds a lease; the Redis side is in server/), runs this: the nodes' commands come in, each
 * tagged with the node and a sequence number, and every event goes out to the node that owns
 * its peer. Peer ids say which node owns them (MCLUSTER_NODE_OF). All of matching's rules
 * hold cluster-wide because one engine decides everything.
 *
 * Failures:
 *   - A node that restarts says hello with a new epoch: the peers of its old epoch are
 *     removed (their partners hear PARTNER_LEFT). A node declared gone loses its peers too.
 *   - A new matcher starts empty and rebuilds the pool from what the nodes re-send
 *     (mcluster_sync_*): every peer with its wishes, the pair it believes it is in, and how
 *     long it has waited. Pairs both sides agree on are taken over silently; a pair only one
 *     side claims ends (PARTNER_LEFT to the claimant); the waiting re-enter longest wait first.
 *     Whatever else a node believes that the rebuilt pool does not bear out is corrected
 *     with MATCHER_EV_STATE. A pair taken over has no place in the new line: if it ends, the
 *     one left behind goes to the back. Commands that come during the rebuild wait for its end.
 *   - Commands a node sent to a matcher that died before answering are re-sent after the sync
 *     (the node keeps those beyond mcluster_acked); a command whose sequence number was seen
 *     already is ignored, so re-sending is harmless. */
#ifndef TANDEM_MATCH_CLUSTER_H
#define TANDEM_MATCH_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "match/matcher.h"

#define MCLUSTER_NODE_MAX 1023u   /* node ids 1 .. 1023 */
#define MCLUSTER_ID_SHIFT 42      /* peer id = node << 42 | serial: below 2^52, exact in JSON */
#define MCLUSTER_NODE_OF(id) ((unsigned)((uint64_t)(id) >> MCLUSTER_ID_SHIFT))
#define MCLUSTER_SERIAL_MAX ((UINT64_C(1) << MCLUSTER_ID_SHIFT) - 1)

#define MCLUSTER_REC_BLOCKS 8
#define MCLUSTER_REC_RECENT 4

/* What a node re-sends of one of its peers to a new matcher. */
struct mcluster_peer {
  match_id id;
  bool ready, away, banned, want;
  enum match_state state; /* what its node believes: IDLE, WAITING or PAIRED ... */
  match_id partner;       /* ... with whom (0 unless PAIRED) */
  uint32_t waited_ms;     /* waiting: for how long so far (else 0) */
  uint8_t ntags;
  char tags[MATCHER_TAGS_MAX][MATCHER_TAG_LEN_MAX + 1];
  char lang[MATCHER_TAG_LEN_MAX + 1];
  /* Peers it must not meet (it blocked or reported them, or they it: any node's), and its
   * recent partners (no quick rematch), applied before anyone goes back in line. */
  uint8_t nblocks, nrecent;
  match_id blocks[MCLUSTER_REC_BLOCKS];
  match_id recent[MCLUSTER_REC_RECENT];
};

/* ev for node (the owner of ev->peer). */
typedef void (*mcluster_emit_fn)(void *arg, unsigned node, const struct matcher_event *ev);

struct mcluster;

/* NULL on ENOMEM. A new one is syncing (below) until mcluster_sync_done. */
struct mcluster *mcluster_new(const struct match_config *c);
void mcluster_free(struct mcluster *m);
/* This matcher's generation (from its lease): PAIRED events carry link ids gen << 44 | n << 12,
 * so no two pairs ever share one, across matchers too (relay keys derive from them); the low
 * 12 bits are free for the two nodes to number their relay's re-openings (server/). */
void mcluster_set_generation(struct mcluster *m, uint64_t gen);

/* node (1..MCLUSTER_NODE_MAX) speaks with epoch (any value identifying this run of it) and
 * acked, the highest sequence number it knows taken (its next command is acked + 1). A new
 * epoch, or a node unknown here, removes every peer the node had first. Returns 1 if the node
 * must re-send its peers (the first hello this matcher hears from it), 0 if not, -EINVAL. */
int mcluster_hello(struct mcluster *m, unsigned node, uint64_t epoch, uint64_t acked,
                   uint64_t now_ms, mcluster_emit_fn emit, void *arg);
/* One peer of a node's re-send, kept until the next mcluster_sync_done. -EINVAL (not the
 * node's peer, or unknown node), -EEXIST (known already), -ENOMEM. */
int mcluster_sync_peer(struct mcluster *m, unsigned node, const struct mcluster_peer *p,
                       uint64_t now_ms);
/* Applies the records re-sent so far: blocks and recent partners, pairs restored, one-sided
 * claims ended, the waiting back in line longest first. The first call ends the matcher's
 * rebuild and takes every node's records (node is ignored; the commands held meanwhile are
 * then applied in order); later ones take node's records only (a node coming back into the
 * running pool): call it at that node's end of re-send, before its next command. 0, or -ENOMEM
 * (nothing changed: try again). */
int mcluster_sync_done(struct mcluster *m, unsigned node, uint64_t now_ms, mcluster_emit_fn emit,
                       void *arg);
bool mcluster_syncing(const struct mcluster *m);

/* A node's command with its sequence number (each the last + 1). A command for a peer of
 * another node is refused (MATCHER_EV_REFUSED -EPERM to the sender); one whose seq is not
 * above the node's last is ignored (a re-send). Returns 0, 1 when ignored, -EAGAIN (a gap: a
 * command before it was lost; nothing happens, the node should re-send from mcluster_acked +
 * 1), -EINVAL (an unknown node: nothing happens; or a malformed command: its number is taken
 * and nothing else happens), -ENOSPC (held during the rebuild, too many held: its number is
 * taken and it is lost). So a command whose seq is mcluster_acked + 1 of a known node is
 * always taken: its acknowledgement may be sent before its events. */
int mcluster_command(struct mcluster *m, unsigned node, uint64_t seq,
                     const struct matcher_cmd *c, uint64_t now_ms, mcluster_emit_fn emit,
                     void *arg);
/* Whether node has said hello to this matcher (its commands are refused until it has). */
bool mcluster_node_known(const struct mcluster *m, unsigned node);
/* The epoch node said hello with (0 if unknown): acknowledgements name it, so that a node
 * that restarted ignores those meant for its previous run. */
uint64_t mcluster_epoch(const struct mcluster *m, unsigned node);
/* The last seq taken from node (0 none). */
uint64_t mcluster_acked(const struct mcluster *m, unsigned node);

/* node is gone (its lease lapsed): its peers are removed. 0 or -EINVAL. */
int mcluster_node_gone(struct mcluster *m, unsigned node, uint64_t now_ms, mcluster_emit_fn emit,
                       void *arg);
int mcluster_tick(struct mcluster *m, uint64_t now_ms, mcluster_emit_fn emit, void *arg);

size_t mcluster_peers(const struct mcluster *m, unsigned node); /* a node's peers, 0 = all */
size_t mcluster_waiting(const struct mcluster *m);
size_t mcluster_paired(const struct mcluster *m);
/* The engine, for tests and metrics: read only. */
const struct match_engine *mcluster_engine(const struct mcluster *m);

#endif
