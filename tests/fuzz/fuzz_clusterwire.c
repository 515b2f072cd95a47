/* fuzz_clusterwire.c -- libFuzzer target: arbitrary bytes as the cluster's matching messages
 * (match/clusterwire.c), and what decodes driven into a cluster matcher (match/cluster.c).
 * The input is cut into messages by a length byte. Each one that decodes must encode and
 * decode back to the same message; messages for the matcher are then applied, as if from
 * Redis. Each message is also decoded as a moving visit (cw_visit). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "match/cluster.h"
#include "match/clusterwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void emit(void *arg, unsigned node, const struct matcher_event *ev) {
  (void)arg;
  if (node < 1 || node > MCLUSTER_NODE_MAX || !ev->peer)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mcluster *m = mcluster_new(NULL);
  if (!m)
    return 0;
  uint64_t now = 1000;
  struct cw_visit whole;
  uint8_t vbuf[CW_MAX];
  if (cw_visit_decode(data, size, &whole) == 0 &&
      (cw_visit_encode(&whole, vbuf, sizeof(vbuf)) != (int)size || memcmp(vbuf, data, size)))
    abort();
  while (size > 0) {
    size_t len = data[0];
    data++;
    size--;
    if (len > size)
      len = size;
    struct cw_msg a, b;
    uint8_t buf[CW_MAX];
    /* The same bytes as a moving visit: what decodes encodes back to the same. */
    struct cw_visit va, vb;
    if (cw_visit_decode(data, len, &va) == 0) {
      int n = cw_visit_encode(&va, buf, sizeof(buf));
      if (n < 0 || n > CW_VISIT_MAX || cw_visit_decode(buf, (size_t)n, &vb) != 0 ||
          memcmp(&va, &vb, sizeof(va)) != 0)
        abort();
    }
    if (cw_decode(data, len, now, &a) == 0) {
      int n = cw_encode(&a, now, buf, sizeof(buf));
      if (n < 0 || cw_decode(buf, (size_t)n, now, &b) != 0 || memcmp(&a, &b, sizeof(a)) != 0)
        abort();
      switch (a.type) {
      case CW_HELLO: mcluster_hello(m, a.node, a.epoch, a.seq, now, emit, NULL); break;
      case CW_CMD: mcluster_command(m, a.node, a.seq, &a.cmd, now, emit, NULL); break;
      case CW_SYNC: mcluster_sync_peer(m, a.node, &a.rec, now); break;
      case CW_SYNC_END: mcluster_sync_done(m, a.node, now, emit, NULL); break;
      default: mcluster_tick(m, now, emit, NULL); break;
      }
    }
    data += len;
    size -= len;
    now += 37;
  }
  mcluster_free(m);
  return 0;
}
