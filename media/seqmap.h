/* seqmap.h -- continuous SSRC/seq/ts across source switches. */
#ifndef TANDEM_MEDIA_SEQMAP_H
#define TANDEM_MEDIA_SEQMAP_H

#include <stdbool.h>
#include <stdint.h>

/* One outbound RTP stream keeps its own sequence numbers and timestamps while
 * the inbound stream feeding it changes. Each source gets offsets, anchored at
 * its first forwarded packet, so that sequence numbers continue by one and
 * timestamps advance by the wall time elapsed since the previous packet.
 * Pure: no allocation, no clock (the caller hands now_ms), no logging. */

/* Transparent so it can be embedded; the fields are private to seqmap.c. */
struct seqmap {
  uint32_t clock_rate;
  uint16_t first_seq;
  uint32_t first_ts;
  bool started;        /* a packet has been mapped since init */
  bool anchored;       /* the current source has offsets */
  uint16_t seq_off;    /* out_seq = in_seq + seq_off (mod 2^16) */
  uint32_t ts_off;     /* out_ts = in_ts + ts_off (mod 2^32) */
  uint16_t high_in_seq;
  int64_t ext_high;    /* high_in_seq extended past wrap-arounds */
  int64_t ext_anchor;  /* the anchor's in_seq in the same extended space */
  uint16_t high_out_seq;
  uint32_t last_out_ts;
  uint64_t last_out_ms;
};

/* clock_rate is the stream's RTP clock in Hz (e.g. 90000, 48000); first_* are
 * the random starting values of the outbound stream. */
void seqmap_init(struct seqmap *m, uint32_t clock_rate, uint16_t first_seq,
                 uint32_t first_ts);

/* The source changes: the next seqmap_map() anchors new offsets. Calling it
 * again before any packet, or before the first packet ever, changes nothing. */
void seqmap_switch(struct seqmap *m);

/* Maps one packet of the current source. Returns 0 and sets *out_seq and
 * *out_ts to forward it, or -EAGAIN to drop it: the packet precedes the
 * current source's anchor, so its numbers would collide with those already
 * used by the previous source.
 * The first packet after init gets first_seq/first_ts. The first packet after
 * a switch gets out_seq = highest out seq + 1 and out_ts = last_out_ts +
 * max(1, (now_ms - last_out_ms) * clock_rate / 1000), where last_out_* belong
 * to the newest (highest sequence number) packet mapped so far. Later packets
 * get in + offset; reordered ones map normally. Sequence numbers are compared
 * modulo 2^16 and tracked past any number of wrap-arounds. */
int seqmap_map(struct seqmap *m, uint16_t in_seq, uint32_t in_ts,
               uint64_t now_ms, uint16_t *out_seq, uint32_t *out_ts);

/* For NACK translation: sets *in_seq to the current source's sequence number
 * that was sent as out_seq and returns 0, or -ENOENT when nothing is anchored
 * or out_seq lies before the current source's anchor or after the highest
 * sequence number sent. */
int seqmap_unmap_seq(const struct seqmap *m, uint16_t out_seq,
                     uint16_t *in_seq);

/* The highest sequence number sent (first_seq - 1 before any packet). */
uint16_t seqmap_last_seq(const struct seqmap *m);

/* The timestamp of the newest packet sent (first_ts before any packet). */
uint32_t seqmap_last_ts(const struct seqmap *m);

/* The now_ms at which the newest packet was mapped (0 before any packet);
 * with seqmap_last_ts() it lets the caller extrapolate an SR rtp_ts. */
uint64_t seqmap_last_ms(const struct seqmap *m);

/* For rewriting a source's SR rtp_ts: sets *out_ts to in_ts + the current
 * source's offset and returns true, or returns false when not anchored. */
bool seqmap_in_to_out_ts(const struct seqmap *m, uint32_t in_ts,
                         uint32_t *out_ts);

#endif
