/* recorder.c -- a ring of chunks holding one session's last seconds of RTP. */
#include "moderation/recorder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct chunk {
  uint8_t *mem;     /* RECORDER_CHUNK bytes */
  size_t used;
  uint64_t last_ms; /* arrival of its newest record */
  uint64_t gen;     /* which chunk this is: a memory reused gets a new number */
};

struct recorder {
  uint32_t window_ms;
  unsigned max_chunks;   /* ring and spare together */
  struct chunk *ring;    /* max_chunks entries; head is the oldest, count are in use */
  unsigned head, count;
  uint8_t *spare;        /* an aged-out chunk kept for the next one needed */
  bool have_key;
  uint64_t last_key_ms;
  uint64_t next_gen;
  uint64_t key_gen;      /* the chunk holding the newest keyframe's first packet */
  size_t key_off;        /* and where in it */
};

void recorder_config_default(struct recorder_config *c) {
  c->window_ms = 10000;
  c->max_bytes = 1536 * 1024;
}

static size_t rec_size(size_t len) { return (RECORDER_REC_HDR + len + 3) & ~(size_t)3; }

struct recorder *recorder_new(const struct recorder_config *c) {
  if (!c || c->window_ms == 0 || c->max_bytes / RECORDER_CHUNK < 2 ||
      c->max_bytes / RECORDER_CHUNK > 65536)
    return NULL;
  struct recorder *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  r->window_ms = c->window_ms;
  r->max_chunks = (unsigned)(c->max_bytes / RECORDER_CHUNK);
  r->ring = calloc(r->max_chunks, sizeof(*r->ring));
  if (!r->ring) {
    free(r);
    return NULL;
  }
  return r;
}

void recorder_free(struct recorder *r) {
  if (!r)
    return;
  for (unsigned i = 0; i < r->count; i++)
    free(r->ring[(r->head + i) % r->max_chunks].mem);
  free(r->spare);
  free(r->ring);
  free(r);
}

/* Takes the oldest chunk off the ring and returns its memory. */
static uint8_t *pop_oldest(struct recorder *r) {
  uint8_t *mem = r->ring[r->head].mem;
  r->ring[r->head] = (struct chunk){0};
  r->head = (r->head + 1) % r->max_chunks;
  r->count--;
  return mem;
}

/* Chunks whose newest record is older than the window go, all but the one being written. The
 * first becomes the spare; with a spare already kept, the memory is given back. */
static void age_out(struct recorder *r, uint64_t now_ms) {
  while (r->count > 1 && r->ring[r->head].last_ms + r->window_ms < now_ms) {
    uint8_t *mem = pop_oldest(r);
    if (!r->spare)
      r->spare = mem;
    else
      free(mem);
  }
}

/* A chunk for the next record: the spare, a new one while under max_chunks, else the oldest. */
static uint8_t *take_chunk(struct recorder *r) {
  uint8_t *mem = r->spare;
  if (mem) {
    r->spare = NULL;
    return mem;
  }
  if (r->count < r->max_chunks) {
    mem = malloc(RECORDER_CHUNK);
    if (mem)
      return mem;
  }
  return r->count > 0 ? pop_oldest(r) : NULL;
}

int recorder_add(struct recorder *r, const uint8_t *rtp, size_t len, uint64_t now_ms,
                 unsigned flags) {
  if (len == 0 || len > RECORDER_MAX_PACKET)
    return -EMSGSIZE;
  size_t need = rec_size(len);
  age_out(r, now_ms);
  struct chunk *tail = r->count ? &r->ring[(r->head + r->count - 1) % r->max_chunks] : NULL;
  if (!tail || tail->used + need > RECORDER_CHUNK) {
    uint8_t *mem = take_chunk(r);
    if (!mem)
      return -ENOMEM;
    tail = &r->ring[(r->head + r->count) % r->max_chunks];
    *tail = (struct chunk){.mem = mem, .gen = ++r->next_gen};
    r->count++;
  }
  uint8_t *p = tail->mem + tail->used;
  if (flags & RECORDER_KEYFRAME) {
    r->key_gen = tail->gen;
    r->key_off = tail->used;
  }
  uint16_t len16 = (uint16_t)len;
  memcpy(p, &now_ms, 8);
  memcpy(p + 8, &len16, 2);
  p[10] = (uint8_t)flags;
  p[11] = 0;
  memcpy(p + RECORDER_REC_HDR, rtp, len);
  memset(p + RECORDER_REC_HDR + len, 0, need - RECORDER_REC_HDR - len);
  tail->used += need;
  tail->last_ms = now_ms;
  if (flags & RECORDER_KEYFRAME) {
    r->have_key = true;
    r->last_key_ms = now_ms;
  }
  return 0;
}

size_t recorder_bytes(const struct recorder *r) {
  size_t chunks = r->count + (r->spare ? 1u : 0u);
  return sizeof(*r) + r->max_chunks * sizeof(*r->ring) + chunks * RECORDER_CHUNK;
}

uint64_t recorder_keyframe_age_ms(const struct recorder *r, uint64_t now_ms) {
  if (!r->have_key)
    return UINT64_MAX;
  return now_ms > r->last_key_ms ? now_ms - r->last_key_ms : 0;
}

int recorder_walk_keyframe(const struct recorder *r,
                           int (*fn)(void *arg, const uint8_t *rtp, size_t len), void *arg) {
  unsigned i = 0;
  while (i < r->count && r->ring[(r->head + i) % r->max_chunks].gen != r->key_gen)
    i++;
  if (!r->have_key || i == r->count)
    return -ENOENT;
  size_t off = r->key_off;
  for (; i < r->count; i++, off = 0) {
    const struct chunk *c = &r->ring[(r->head + i) % r->max_chunks];
    struct recorder_rec rec;
    while (recorder_rec_next(c->mem, c->used, &off, &rec) == 1) {
      if (!(rec.flags & RECORDER_VIDEO))
        continue;
      int rc = fn(arg, rec.rtp, rec.len);
      if (rc)
        return rc;
    }
  }
  return 0;
}

int recorder_export(const struct recorder *r, uint8_t **out, size_t *len) {
  size_t total = 0;
  for (unsigned i = 0; i < r->count; i++)
    total += r->ring[(r->head + i) % r->max_chunks].used;
  *out = NULL;
  *len = 0;
  if (total == 0)
    return 0;
  uint8_t *buf = malloc(total);
  if (!buf)
    return -ENOMEM;
  size_t off = 0;
  for (unsigned i = 0; i < r->count; i++) {
    const struct chunk *c = &r->ring[(r->head + i) % r->max_chunks];
    memcpy(buf + off, c->mem, c->used);
    off += c->used;
  }
  *out = buf;
  *len = total;
  return 0;
}

int recorder_rec_next(const uint8_t *buf, size_t len, size_t *off, struct recorder_rec *rec) {
  if (*off >= len)
    return 0;
  if (len - *off < RECORDER_REC_HDR)
    return -EBADMSG;
  const uint8_t *p = buf + *off;
  uint16_t n;
  memcpy(&rec->arrival_ms, p, 8);
  memcpy(&n, p + 8, 2);
  size_t sz = rec_size(n);
  if (n == 0 || sz > len - *off)
    return -EBADMSG;
  rec->flags = p[10];
  rec->rtp = p + RECORDER_REC_HDR;
  rec->len = n;
  *off += sz;
  return 1;
}
