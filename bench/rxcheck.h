/* rxcheck.h -- what a simulated browser checks and measures in the media it receives. */
#ifndef TANDEM_BENCH_RXCHECK_H
#define TANDEM_BENCH_RXCHECK_H

#include <stddef.h>
#include <stdint.h>

struct bptransport;

/* One decrypted RTP packet of t (only read). Reads the sender trailer and,
 * for video, the VP8 descriptor; keeps loss and jitter; records runs of
 * senders in sequence order in the run's xtalk registry (which audits them
 * against the pairings at the end); counts cross-talk found at once: a
 * sender that is not a peer of this run (or is ourselves), or a packet
 * numbered inside another sender's run. */
void rxcheck_packet(struct bptransport *t, const uint8_t *buf, size_t len, uint64_t now_us);

/* The server's partner_video {ts}: the frame at ts must start with a
 * keyframe, and the arrival of its first packet goes to the peer's
 * measurements. If the frame has not arrived yet, the next packet with that
 * timestamp does this. */
void rxcheck_partner_video(struct bptransport *t, uint32_t ts);

/* The pairing window opened or closed: the next packet of each track starts
 * a new run (so a run never spans two pairings). */
void rxcheck_pairing_changed(struct bptransport *t);

/* Adds this session's per-stream loss (percent) and jitter (ms) to the run's
 * samples. Called once, when the session ends. */
void rxcheck_flush(struct bptransport *t);

#endif
