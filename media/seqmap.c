/* seqmap.c -- continuous SSRC/seq/ts across source switches. */
#include "media/seqmap.h"

#include <errno.h>
#include <string.h>

/* The signed distance from b to a modulo 2^16, in -32768..32767, computed
 * without relying on implementation-defined narrowing conversions. */
static int32_t seq_delta(uint16_t a, uint16_t b) {
  uint16_t d = (uint16_t)(a - b);
  return d < 0x8000 ? (int32_t)d : (int32_t)d - 0x10000;
}

void seqmap_init(struct seqmap *m, uint32_t clock_rate, uint16_t first_seq,
                 uint32_t first_ts) {
  memset(m, 0, sizeof(*m));
  m->clock_rate = clock_rate;
  m->first_seq = first_seq;
  m->first_ts = first_ts;
  m->high_out_seq = (uint16_t)(first_seq - 1);
  m->last_out_ts = first_ts;
}

void seqmap_switch(struct seqmap *m) {
  m->anchored = false;
}

/* Timestamp units of `ms` milliseconds at `rate` Hz. Splitting the product
 * keeps it exact for any realistic elapsed time, and modulo 2^32 (all that
 * matters for RTP timestamps) for any other. */
static uint64_t ms_to_ticks(uint64_t ms, uint32_t rate) {
  return (ms / 1000) * rate + (ms % 1000) * rate / 1000;
}

static void anchor(struct seqmap *m, uint16_t in_seq, uint32_t in_ts,
                   uint64_t now_ms) {
  uint16_t out_seq;
  uint32_t out_ts;

  if (!m->started) {
    out_seq = m->first_seq;
    out_ts = m->first_ts;
  } else {
    uint64_t elapsed = now_ms > m->last_out_ms ? now_ms - m->last_out_ms : 0;
    uint64_t ticks = ms_to_ticks(elapsed, m->clock_rate);
    out_seq = (uint16_t)(m->high_out_seq + 1);
    out_ts = m->last_out_ts + (uint32_t)(ticks > 0 ? ticks : 1);
  }
  m->seq_off = (uint16_t)(out_seq - in_seq);
  m->ts_off = out_ts - in_ts;
  m->ext_anchor = in_seq;
  /* One below, so the anchor packet itself counts as the newest. */
  m->ext_high = (int64_t)in_seq - 1;
  m->high_in_seq = (uint16_t)(in_seq - 1);
  m->anchored = true;
  m->started = true;
}

int seqmap_map(struct seqmap *m, uint16_t in_seq, uint32_t in_ts,
               uint64_t now_ms, uint16_t *out_seq, uint32_t *out_ts) {
  int64_t ext;
  uint16_t oseq;
  uint32_t ots;

  if (!m->anchored)
    anchor(m, in_seq, in_ts, now_ms);
  ext = m->ext_high + seq_delta(in_seq, m->high_in_seq);
  if (ext < m->ext_anchor)
    return -EAGAIN;
  oseq = (uint16_t)(in_seq + m->seq_off);
  ots = in_ts + m->ts_off;
  if (ext > m->ext_high) {
    m->ext_high = ext;
    m->high_in_seq = in_seq;
    m->high_out_seq = oseq;
    m->last_out_ts = ots;
    m->last_out_ms = now_ms;
  }
  *out_seq = oseq;
  *out_ts = ots;
  return 0;
}

int seqmap_unmap_seq(const struct seqmap *m, uint16_t out_seq,
                     uint16_t *in_seq) {
  uint16_t in;
  int64_t ext;

  if (!m->anchored)
    return -ENOENT;
  in = (uint16_t)(out_seq - m->seq_off);
  ext = m->ext_high + seq_delta(in, m->high_in_seq);
  if (ext < m->ext_anchor || ext > m->ext_high)
    return -ENOENT;
  *in_seq = in;
  return 0;
}

uint16_t seqmap_last_seq(const struct seqmap *m) {
  return m->high_out_seq;
}

uint32_t seqmap_last_ts(const struct seqmap *m) {
  return m->last_out_ts;
}

uint64_t seqmap_last_ms(const struct seqmap *m) {
  return m->last_out_ms;
}

bool seqmap_in_to_out_ts(const struct seqmap *m, uint32_t in_ts,
                         uint32_t *out_ts) {
  if (!m->anchored)
    return false;
  *out_ts = in_ts + m->ts_off;
  return true;
}
