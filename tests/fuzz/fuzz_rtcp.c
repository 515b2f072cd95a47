/* fuzz_rtcp.c -- libFuzzer target: RTCP iteration and every item parser. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "media/rtcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct rtcp_iter it;
  struct rtcp_item item;
  int r, guard = 0;

  rtcp_iter_init(&it, data, size);
  while ((r = rtcp_iter_next(&it, &item)) == 1) {
    struct rtcp_sr sr;
    struct rtcp_report_block b[31];
    uint16_t seqs[128];
    uint32_t ssrcs[16], ssrc;
    uint64_t br;
    uint8_t nr;
    size_t n;
    uint8_t out[1500];

    if (item.data < data || item.data + item.len > data + size ||
        ++guard > (int)(size / 4) + 1)
      abort();
    (void)rtcp_parse_sr(&item, &sr);
    if (rtcp_parse_report_blocks(&item, b, 31, &n) == 0) {
      /* Re-encode what was read: it must iterate again. */
      if (n <= 31) {
        int w = item.pt == 200 ? rtcp_write_sr(out, sizeof(out), &sr, b, n)
                               : rtcp_write_rr(out, sizeof(out), 1, b, n);
        if (w < 0)
          abort();
      }
    }
    if (rtcp_parse_nack(&item, seqs, 128, &n) == 0 && n > 0) {
      if (rtcp_write_nack(out, sizeof(out), 1, 2, seqs, n) < 0)
        abort();
    }
    if (rtcp_parse_remb(&item, &br, ssrcs, 16, &n) == 0) {
      if (rtcp_write_remb(out, sizeof(out), 1, br, ssrcs, n) < 0)
        abort();
    }
    (void)rtcp_parse_fir(&item, &ssrc, &nr);
  }
  if (r != 0 && r != -EBADMSG)
    abort();
  return 0;
}
