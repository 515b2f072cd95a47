/* fuzz_sdp.c -- libFuzzer target: sdp_parse_offer, then sdp_write_answer on what it accepts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The most addresses public_ip can give, each of the longest text, so that "8 KiB always
 * suffices" is checked against the largest answers. */
static const char *const more_ips[SDP_MAX_MORE_IPS] = {
    "1111:2222:3333:4444:5555:6666:255.255.255.255", "1111:2222:3333:4444:5555:6666:255.255.255.254",
    "1111:2222:3333:4444:5555:6666:255.255.255.253"};

static const struct sdp_answer_params params = {
    .ice_ufrag = "fUzZ",
    .ice_pwd = "fuzzfuzzfuzzfuzzfuzzfuzz",
    .fingerprint = "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:00:11:22:33:44:55:66:77:88:99:AA:"
                   "BB:CC:DD:EE:FF",
    .ip = "192.0.2.1",
    .more_ips = more_ips,
    .n_more_ips = SDP_MAX_MORE_IPS,
    .udp_port = 40000,
    .tcp_port = 40000,
    .audio_ssrc = 1,
    .video_ssrc = 2,
    .cname = "fuzz",
    .stream_id = "fuzz-stream",
    .session_id = 1,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct sdp_offer o;
  const char *err = NULL;
  static char out[8192];

  int rc = sdp_parse_offer((const char *)data, size, &o, &err);
  if (rc) {
    /* Every rejection explains itself and is one of the documented codes. */
    if (!err || (rc != -EBADMSG && rc != -ENOTSUP))
      abort();
  } else {
    /* Whatever the parser accepted must be answerable, completely or not at all. */
    int n = sdp_write_answer(&o, &params, out, sizeof(out));
    if (n <= 0 || (size_t)n != strlen(out))
      abort();
    if (sdp_write_answer(&o, &params, out, (size_t)n) != -ENOSPC || strlen(out) != (size_t)n - 1)
      abort();
    /* Our answer, with its setup flipped, is itself an acceptable offer. */
    sdp_write_answer(&o, &params, out, sizeof(out));
    char *s;
    while ((s = strstr(out, "a=setup:passive")) != NULL)
      memcpy(s + 8, "actpass", 7);
    struct sdp_offer back;
    if (sdp_parse_offer(out, (size_t)n, &back, &err) || back.n_media != o.n_media ||
        back.audio != o.audio || back.video != o.video)
      abort();
  }

  /* The fingerprint parser on the same bytes, NUL-terminated. */
  char text[256];
  uint8_t fp[64];
  size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
  memcpy(text, data, n);
  text[n] = '\0';
  size_t len = 0;
  if (sdp_fingerprint_parse(text, fp, sizeof(fp), &len) == 0) {
    char again[200];
    if (sdp_fingerprint_format(fp, len, again, sizeof(again)) != (int)(len ? 3 * len - 1 : 0))
      abort();
  }
  return 0;
}
