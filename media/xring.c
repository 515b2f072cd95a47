/* xring.c -- SPSC ring of length-prefixed records; a record never wraps (a skip marker pads
 * the end of the buffer instead). */
#include "media/xring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HDR 8            /* record header: uint32 length, padded for alignment */
#define SKIP 0xffffffffu /* "the rest of the buffer is padding" */

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

int xring_init(struct xring *r, size_t cap) {
  size_t c = 4096;
  while (c < cap)
    c <<= 1;
  memset(r, 0, sizeof(*r));
  r->buf = aligned_alloc(64, c);
  if (!r->buf)
    return -ENOMEM;
  r->cap = c;
  atomic_init(&r->head, 0);
  atomic_init(&r->tail, 0);
  return 0;
}

void xring_destroy(struct xring *r) {
  free(r->buf);
  r->buf = NULL;
}

void *xring_reserve(struct xring *r, size_t len) {
  size_t need = HDR + align8(len);
  if (need > r->cap / 2)
    return NULL;
  size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
  size_t t = r->tail_local;
  size_t off = t & (r->cap - 1);
  size_t room_to_end = r->cap - off;
  size_t pad = room_to_end < need ? room_to_end : 0;
  if (t + pad + need - head > r->cap)
    return NULL;
  if (pad) {
    uint32_t skip = SKIP;
    memcpy(r->buf + off, &skip, sizeof(skip));
    t += pad;
    off = 0;
  }
  uint32_t l32 = (uint32_t)len;
  memcpy(r->buf + off, &l32, sizeof(l32));
  r->tail_local = t + need;
  return r->buf + off + HDR;
}

void xring_commit(struct xring *r) {
  atomic_store_explicit(&r->tail, r->tail_local, memory_order_release);
}

const void *xring_peek(struct xring *r, size_t *len) {
  size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
  size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
  for (;;) {
    if (h == tail)
      return NULL;
    size_t off = h & (r->cap - 1);
    uint32_t l32;
    memcpy(&l32, r->buf + off, sizeof(l32));
    if (l32 == SKIP) {
      h += r->cap - off;
      atomic_store_explicit(&r->head, h, memory_order_release);
      continue;
    }
    *len = l32;
    return r->buf + off + HDR;
  }
}

void xring_release(struct xring *r) {
  size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
  size_t off = h & (r->cap - 1);
  uint32_t l32;
  memcpy(&l32, r->buf + off, sizeof(l32));
  atomic_store_explicit(&r->head, h + HDR + align8(l32), memory_order_release);
}
