/* sdp_fixture.h -- shared by the SDP tests: a minimal offer, answer parameters, the recorded
 * browser offers, and helpers to parse and edit offers. */
#ifndef TANDEM_TESTS_SDP_FIXTURE_H
#define TANDEM_TESTS_SDP_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/sdp.h"
#include "tests/media/testdata.h"

#define FP_HEX                                                                                    \
  "C6:04:75:69:16:4D:D9:89:51:31:14:B6:F2:12:52:56:B4:35:95:F5:52:66:43:44:15:DA:88:68:B9:4F:D0:" \
  "5A"
#define SRV_FP                                                                                    \
  "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:" \
  "FF"

/* A minimal offer the parser accepts, with \n line ends; tests edit it. */
static const char BASE[] = "v=0\n"
                           "o=- 1 2 IN IP4 127.0.0.1\n"
                           "s=-\n"
                           "t=0 0\n"
                           "a=group:BUNDLE a v\n"
                           "a=fingerprint:sha-256 " FP_HEX "\n"
                           "a=ice-ufrag:abcd\n"
                           "a=ice-pwd:abcdefghijklmnopqrstuv\n"
                           "a=setup:actpass\n"
                           "m=audio 9 UDP/TLS/RTP/SAVPF 111\n"
                           "c=IN IP4 0.0.0.0\n"
                           "a=mid:a\n"
                           "a=rtcp-mux\n"
                           "a=rtpmap:111 opus/48000/2\n"
                           "m=video 9 UDP/TLS/RTP/SAVPF 96\n"
                           "c=IN IP4 0.0.0.0\n"
                           "a=mid:v\n"
                           "a=rtcp-mux\n"
                           "a=rtpmap:96 VP8/90000\n";

static const struct sdp_answer_params PARAMS = {
    .ice_ufrag = "srvU",
    .ice_pwd = "serverpassword0123456789",
    .fingerprint = SRV_FP,
    .ip = "203.0.113.5",
    .udp_port = 40000,
    .tcp_port = 40001,
    .audio_ssrc = 1111,
    .video_ssrc = 2222,
    .cname = "tandemcname",
    .stream_id = "tandem-stream",
    .session_id = 4242,
};

static char fixture[2][8192];
static size_t fixture_len[2];

/* Reads tests/data/sdp/<name> into buf as a NUL-terminated string; returns its length. */
static inline size_t sdp_fixture_load(const char *name, char *buf, size_t cap) {
  char rel[256];
  snprintf(rel, sizeof(rel), "sdp/%s", name);
  size_t n = testdata_load(rel, (uint8_t *)buf, cap - 1);
  buf[n] = '\0';
  return n;
}

static inline int setup_fixtures(void **state) {
  (void)state;
  fixture_len[0] = sdp_fixture_load("chromium-156-offer.sdp", fixture[0], sizeof(fixture[0]));
  fixture_len[1] = sdp_fixture_load("firefox-esr-153-offer.sdp", fixture[1], sizeof(fixture[1]));
  return 0;
}

/* Parses a heap copy of exactly len bytes (no NUL), so ASan sees any overread. */
static inline int parse_exact(const char *src, size_t len, struct sdp_offer *o, const char **err) {
  char *copy = (char *)testdata_copy((const uint8_t *)src, len);
  int rc = sdp_parse_offer(copy, len, o, err);
  free(copy);
  return rc;
}

static inline void parse_ok(const char *sdp, struct sdp_offer *o) {
  const char *err = "unset";
  int rc = parse_exact(sdp, strlen(sdp), o, &err);
  if (rc)
    fail_msg("parse failed: %d %s", rc, err);
  assert_null(err);
}

/* Returns a copy of `base` with the first `from` replaced by `to` (from must occur).
 * Not `inline`: inlined into nested calls, GCC's -Wrestrict cannot see that the output
 * buffer is never the input. */
__attribute__((unused)) static char *edit(const char *base, const char *from, const char *to) {
  static char bufs[4][80000];
  static int k;
  char *out = bufs[k++ & 3];
  const char *at = strstr(base, from);
  assert_non_null(at);
  assert_true(strlen(base) + strlen(to) < sizeof(bufs[0]));
  snprintf(out, sizeof(bufs[0]), "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
  return out;
}

/* BASE with several Opus PTs (112 is the first in m-line order) and VP8 offering only
 * nack and ccm fir. Returns one of edit()'s buffers. */
static inline const char *codec_choice_offer(void) {
  const char *s = edit(BASE, "SAVPF 111\n", "SAVPF 0 112 111\n");
  s = edit(s, "a=rtpmap:111 opus/48000/2\n",
           "a=rtpmap:100 opus/48000/2\na=rtpmap:111 opus/48000/2\na=rtpmap:112 OPUS/48000/2\n"
           "a=fmtp:111 x=1\na=fmtp:112 useinbandfec=1\na=rtcp-fb:111 nack\n");
  s = edit(s, "a=rtpmap:96 VP8/90000\n", "a=rtpmap:96 VP8/90000\na=rtcp-fb:* nack\na=rtcp-fb:96 ccm fir\n");
  return s;
}

#endif
