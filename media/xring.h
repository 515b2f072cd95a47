/* xring.h -- a single-producer single-consumer ring of variable-length records, the only
 * channel that carries packets between media workers. */
#ifndef TANDEM_XRING_H
#define TANDEM_XRING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* One thread may push and one other thread may pop; nothing else is shared. Records are
 * copied in and read in place. */
struct xring {
  uint8_t *buf;
  size_t cap;                 /* a power of two */
  _Alignas(64) _Atomic size_t head; /* written by the consumer */
  _Alignas(64) _Atomic size_t tail; /* written by the producer */
  size_t tail_local;          /* producer's uncommitted tail */
};

int xring_init(struct xring *r, size_t cap);  /* cap rounded up to a power of two; 0 or -ENOMEM */
void xring_destroy(struct xring *r);

/* Producer: reserves room for a record of len bytes and returns where to write it, or NULL
 * when the ring is full (the caller drops and counts). Records become visible to the consumer
 * at xring_commit(), so a batch costs one release store. */
void *xring_reserve(struct xring *r, size_t len);
void xring_commit(struct xring *r);

/* Consumer: the next record (its length in *len), or NULL if none; then xring_release() to
 * free it. The pointer stays valid until xring_release(). */
const void *xring_peek(struct xring *r, size_t *len);
void xring_release(struct xring *r);

#endif
