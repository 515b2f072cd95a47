/* xtalk.h -- who sent what to whom: sender identities, pairings, and the cross-talk audit. */
#ifndef TANDEM_BENCH_XTALK_H
#define TANDEM_BENCH_XTALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every visit of a simulated browser has a 64-bit sender id: the run's
 * 32-bit nonce, the shard's number (8 bits: 0 when the run is not sharded,
 * K of --shard K/N otherwise), then the visit's number in that shard's
 * registry (24 bits, from 1); so the shards of one run, which share the
 * nonce, never issue the same id. Its media carries
 * the id (media.h trailer). The registry keeps, per id, the pairing windows
 * its signalling reported (matched .. next/stop/partner_left/state) and the
 * runs of media it received from each sender ("segments"). Times are the
 * bench's microseconds. Pure bookkeeping: no I/O, allocation only when a
 * window or segment starts (never per packet). */
struct xtalk;

#define XTALK_MAX_SHARDS 255

/* A pairing window, and a run of media one stream received from one sender. */
struct xtalk_window {
  uint64_t start, end;
};
struct xtalk_segment {
  uint64_t sender, t_first, t_last, packets;
  uint32_t stream;
  int kind;
};

struct xtalk *xtalk_new(uint32_t nonce); /* NULL when out of memory */
void xtalk_free(struct xtalk *x);        /* NULL ok */

/* This registry belongs to shard k of n (1 <= k <= n <= XTALK_MAX_SHARDS):
 * it issues ids of shard k, takes ids of this run's other shards as
 * plausible senders (xtalk_known), and its audit checks their runs only on
 * the receiver's side (the sender's windows and media are in another
 * process; xtalk_result.deferred counts them). Call before any identity. */
void xtalk_set_shard(struct xtalk *x, unsigned k, unsigned n);

/* The shard number in a sender id (0 for an unsharded run). */
unsigned xtalk_id_shard(uint64_t id);

/* Export and import, for merging shards: the number of identities held,
 * the i-th (0 <= i < count, in no particular order across shards), and an
 * identity added with its windows and segments as they are (copied; its
 * shard's registry is created on demand). xtalk_import returns 0,
 * -EEXIST (the id is held already), -EINVAL (not an id of this nonce, or
 * visit number 0) or -ENOMEM. Any order; a visit number never imported
 * stays unknown (its media is cross-talk: not a peer of the run). */
size_t xtalk_count(const struct xtalk *x);
void xtalk_get(const struct xtalk *x, size_t i, uint64_t *id, uint32_t *peer,
               const struct xtalk_window **w, size_t *nw, const struct xtalk_segment **s,
               size_t *ns);
int xtalk_import(struct xtalk *x, uint64_t id, uint32_t peer, const struct xtalk_window *w,
                 size_t nw, const struct xtalk_segment *s, size_t ns);

/* A new visit of peer number `peer`; returns its sender id, 0 when out of
 * memory. */
uint64_t xtalk_identity_new(struct xtalk *x, uint32_t peer);

/* True when id is a sender id this registry issued or, for a shard, one
 * that another shard of the run may have issued. */
bool xtalk_known(const struct xtalk *x, uint64_t id);

/* The peer number of a sender id, or UINT32_MAX when unknown (for logs). */
uint32_t xtalk_peer(const struct xtalk *x, uint64_t id);

/* The visit `self` was matched (window opens) / its pairing ended (window
 * closes; a no-op when none is open). */
void xtalk_pair_open(struct xtalk *x, uint64_t self, uint64_t t_us);
void xtalk_pair_close(struct xtalk *x, uint64_t self, uint64_t t_us);
bool xtalk_pair_is_open(const struct xtalk *x, uint64_t self);

/* `self` starts receiving track `kind` (0 audio, 1 video) of its media
 * session `stream` from `sender`, in sequence order after the stream's
 * previous segment of that kind; returns a handle for xtalk_seg_touch, or
 * -ENOMEM / -ENOENT (unknown self). */
int xtalk_seg_begin(struct xtalk *x, uint64_t self, uint32_t stream, int kind, uint64_t sender,
                    uint64_t t_us);
/* One more packet in segment `seg` of `self` at t_us. */
void xtalk_seg_touch(struct xtalk *x, uint64_t self, int seg, uint64_t t_us);

struct xtalk_result {
  uint64_t segments, bad_segments;  /* checked, and not explained by a pairing */
  uint64_t cross_shard;             /* segments from a sender of another shard than the receiver */
  uint64_t deferred;                /* of those, the ones whose sender this registry does not hold
                                       (a shard's own audit: checked on the receiver's side only) */
  uint64_t pairings, pairings_ok;   /* windows >= min_pair_us, and those with the partner's media */
};

/* Closes open windows at end_us and audits every segment: it must lie (give
 * or take tol_us) inside a window of the receiver and a window of the
 * sender; if it lasted a second or more, the sender must have received the
 * receiver's media at an overlapping time; and where a stream's sender
 * changes, the receiver's pairing must have changed (a window opened or
 * closed) between the old sender's last packet and the new one's first,
 * give or take tol_us. Every window of at least
 * min_pair_us must contain a segment of each kind in need_kinds (bit 0
 * audio, bit 1 video) from one sender. Prints up to `max_log` findings to
 * stderr (peer numbers, times). When n_peers > 0, peer_checked[i] and
 * peer_ok[i] count those windows for peer number i (arrays of n_peers,
 * zeroed by the caller). */
void xtalk_audit(struct xtalk *x, uint64_t end_us, uint64_t tol_us, uint64_t min_pair_us,
                 unsigned need_kinds, unsigned max_log, uint32_t *peer_checked,
                 uint32_t *peer_ok, size_t n_peers, struct xtalk_result *res);

#endif
