/* test_sdp.c -- unit tests for media/sdp.c (offer parsing, fingerprints). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/sdp.h"
#include "tests/media/sdp_fixture.h"

static void expect_fail(const char *sdp, size_t len, int want, const char *msg) {
  struct sdp_offer o, before;
  memset(&o, 0xa5, sizeof(o));
  memcpy(&before, &o, sizeof(o));
  const char *err = NULL;
  int rc = parse_exact(sdp, len, &o, &err);
  if (rc != want || !err || strcmp(err, msg))
    fail_msg("want %d \"%s\", got %d \"%s\"", want, msg, rc, err ? err : "(null)");
  assert_memory_equal(&o, &before, sizeof(o)); /* a failed parse changes nothing */
}

static void expect_fail_s(const char *sdp, int want, const char *msg) {
  expect_fail(sdp, strlen(sdp), want, msg);
}

/* ---- the fixtures ---- */

/* Everything expected of one parsed m-section. */
struct want_media {
  enum sdp_kind kind;
  const char *media, *mid, *first_fmt;
  int port;
  bool bundle_only;
  int pt;
  const char *fmtp;
  const char *fb; /* nack, pli, fir, remb, transport-cc as "01..." */
  uint8_t ext[5]; /* mid, abs-send-time, audio-level, transport-cc, toffset */
  size_t n_ssrc;
  uint32_t ssrcs[2], main_ssrc, rtx_ssrc;
};

static void check_media(const struct sdp_media *m, const struct want_media *w) {
  assert_int_equal(m->kind, w->kind);
  assert_string_equal(m->media, w->media);
  assert_string_equal(m->mid, w->mid);
  assert_string_equal(m->proto, "UDP/TLS/RTP/SAVPF");
  assert_string_equal(m->first_fmt, w->first_fmt);
  assert_int_equal(m->port, w->port);
  assert_int_equal(m->bundle_only, w->bundle_only);
  assert_true(m->rtcp_mux && m->used);
  assert_int_equal(m->dir, SDP_SENDRECV);
  assert_int_equal(m->pt, w->pt);
  assert_string_equal(m->fmtp, w->fmtp);
  char fb[6];
  snprintf(fb, sizeof(fb), "%d%d%d%d%d", m->fb_nack, m->fb_pli, m->fb_fir, m->fb_remb,
           m->fb_transport_cc);
  assert_string_equal(fb, w->fb);
  uint8_t ext[5] = {m->ext_mid, m->ext_abs_send_time, m->ext_audio_level, m->ext_transport_cc,
                    m->ext_toffset};
  assert_memory_equal(ext, w->ext, 5);
  assert_int_equal(m->n_ssrc, w->n_ssrc);
  for (size_t i = 0; i < w->n_ssrc; i++)
    assert_int_equal(m->ssrcs[i], w->ssrcs[i]);
  assert_int_equal(m->main_ssrc, w->main_ssrc);
  assert_int_equal(m->rtx_ssrc, w->rtx_ssrc);
}

static void test_chromium_offer(void **state) {
  (void)state;
  static const struct want_media want[2] = {
      {SDP_AUDIO, "audio", "0", "111", 55278, false, 111, "minptime=10;useinbandfec=1", "00001",
       {4, 2, 1, 3, 0}, 1, {754692767u}, 754692767u, 0},
      {SDP_VIDEO, "video", "1", "96", 9, false, 96, "", "11111", {4, 2, 0, 3, 14}, 2,
       {1839024907u, 3996123211u}, 1839024907u, 3996123211u},
  };
  static const uint8_t fp[32] = {0xC6, 0x04, 0x75, 0x69, 0x16, 0x4D, 0xD9, 0x89, 0x51, 0x31, 0x14,
                                 0xB6, 0xF2, 0x12, 0x52, 0x56, 0xB4, 0x35, 0x95, 0xF5, 0x52, 0x66,
                                 0x43, 0x44, 0x15, 0xDA, 0x88, 0x68, 0xB9, 0x4F, 0xD0, 0x5A};
  struct sdp_offer o;
  const char *err = "unset";
  assert_int_equal(parse_exact(fixture[0], fixture_len[0], &o, &err), 0);
  assert_null(err);
  assert_string_equal(o.ice_ufrag, "vZqm");
  assert_string_equal(o.ice_pwd, "juay1soXNSnkaE8K6up5FDya");
  assert_string_equal(o.fp_alg, "sha-256");
  assert_int_equal(o.fp_len, 32);
  assert_memory_equal(o.fp, fp, 32);
  assert_string_equal(o.setup, "actpass");
  assert_true(o.ice_trickle);
  assert_int_equal(o.n_media, 2);
  assert_int_equal(o.audio, 0);
  assert_int_equal(o.video, 1);
  assert_int_equal(o.bundle_tag, 0);
  check_media(&o.media[0], &want[0]);
  check_media(&o.media[1], &want[1]);

  /* The same offer with \n line ends parses to exactly the same struct. */
  char lf[8192];
  size_t n = 0;
  for (size_t i = 0; i < fixture_len[0]; i++)
    if (fixture[0][i] != '\r')
      lf[n++] = fixture[0][i];
  struct sdp_offer o2;
  memset(&o2, 0, sizeof(o2));
  memset(&o, 0, sizeof(o));
  assert_int_equal(parse_exact(fixture[0], fixture_len[0], &o, NULL), 0);
  assert_int_equal(parse_exact(lf, n, &o2, NULL), 0);
  assert_memory_equal(&o, &o2, sizeof(o));
}

static void test_firefox_offer(void **state) {
  (void)state;
  /* Firefox: session-level fingerprint, video bundle-only with port 0, and
   * the FID group after the a=ssrc lines. */
  static const struct want_media want[2] = {
      {SDP_AUDIO, "audio", "0", "109", 44449, false, 109,
       "maxplaybackrate=48000;stereo=1;useinbandfec=1", "00001", {3, 0, 1, 7, 0}, 1,
       {4004040195u}, 4004040195u, 0},
      {SDP_VIDEO, "video", "1", "120", 0, true, 120, "max-fs=12288;max-fr=60", "11111",
       {3, 4, 0, 7, 5}, 2, {3486383197u, 3517079014u}, 3486383197u, 3517079014u},
  };
  struct sdp_offer o;
  assert_int_equal(parse_exact(fixture[1], fixture_len[1], &o, NULL), 0);
  assert_string_equal(o.ice_ufrag, "5fe04bcd");
  assert_string_equal(o.ice_pwd, "4509f20bd7e7c3759a8bac5043689fc2");
  assert_string_equal(o.fp_alg, "sha-256");
  assert_int_equal(o.fp_len, 32);
  assert_int_equal(o.fp[0], 0x01);
  assert_int_equal(o.fp[1], 0x60);
  assert_int_equal(o.fp[31], 0x74);
  assert_string_equal(o.setup, "actpass");
  assert_true(o.ice_trickle);
  assert_int_equal(o.n_media, 2);
  assert_int_equal(o.audio, 0);
  assert_int_equal(o.video, 1);
  assert_int_equal(o.bundle_tag, 0);
  check_media(&o.media[0], &want[0]);
  check_media(&o.media[1], &want[1]);
}

/* ---- semantics ---- */

static void test_session_direction(void **state) {
  (void)state;
  /* A session-level direction applies where a section has none. */
  struct sdp_offer o;
  parse_ok(edit(BASE, "t=0 0\n", "t=0 0\na=sendonly\n"), &o);
  assert_int_equal(o.media[0].dir, SDP_SENDONLY);
  assert_int_equal(o.media[1].dir, SDP_SENDONLY);
  assert_null(strstr(BASE, "sendrecv"));
  struct sdp_offer d;
  parse_ok(BASE, &d);
  assert_int_equal(d.media[0].dir, SDP_SENDRECV);
}

static void test_transport_levels(void **state) {
  (void)state;
  struct sdp_offer o;
  /* Media-level credentials win over session-level ones. */
  const char *s = edit(BASE, "a=mid:a\n", "a=mid:a\na=ice-ufrag:MEDIA\na=ice-pwd:mediamediamediamediamedia\n");
  s = edit(s, "a=mid:v\n", "a=mid:v\na=ice-ufrag:MEDIA\na=ice-pwd:mediamediamediamediamedia\n");
  parse_ok(s, &o);
  assert_string_equal(o.ice_ufrag, "MEDIA");
  assert_string_equal(o.ice_pwd, "mediamediamediamediamedia");
  /* A bundled section without credentials borrows the other's. */
  s = edit(BASE, "a=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuv\n", "");
  s = edit(s, "a=mid:a\n", "a=mid:a\na=ice-ufrag:onlyA\na=ice-pwd:abcdefghijklmnopqrstuv+/\n");
  parse_ok(s, &o);
  assert_string_equal(o.ice_ufrag, "onlyA");
  /* ... and so does the fingerprint; a second, sha-1 one is ignored. */
  s = edit(BASE, "a=fingerprint:sha-256 " FP_HEX "\n", "");
  s = edit(s, "a=mid:v\n", "a=mid:v\na=fingerprint:sha-1 00:11\na=fingerprint:SHA-256 " FP_HEX "\n");
  parse_ok(s, &o);
  assert_int_equal(o.fp[0], 0xC6);
  assert_false(o.ice_trickle);
  /* No a=setup means active (RFC 4145); trickle at media level counts. */
  s = edit(BASE, "a=setup:actpass\n", "");
  parse_ok(edit(s, "a=mid:v\n", "a=mid:v\na=ice-options:renomination trickle\n"), &o);
  assert_string_equal(o.setup, "active");
  assert_true(o.ice_trickle);
  parse_ok(edit(BASE, "a=setup:actpass", "a=setup:active"), &o);
  assert_string_equal(o.setup, "active");
}

static void test_codec_choice(void **state) {
  (void)state;
  struct sdp_offer o;
  /* The offerer's first Opus PT in m-line order wins; an rtpmap not in the m-line is ignored. */
  const char *s = codec_choice_offer();
  parse_ok(s, &o);
  assert_int_equal(o.media[0].pt, 112);
  assert_string_equal(o.media[0].fmtp, "useinbandfec=1");
  assert_false(o.media[0].fb_nack);
  assert_true(o.media[1].fb_nack && o.media[1].fb_fir);
  assert_false(o.media[1].fb_pli || o.media[1].fb_remb);
  /* A disabled (port 0, not bundle-only) audio section is skipped for the next one. */
  s = edit(BASE, "m=audio 9 UDP/TLS/RTP/SAVPF 111\n",
           "m=audio 0 UDP/TLS/RTP/SAVPF 111\na=rtpmap:111 opus/48000/2\na=mid:x\n"
           "m=audio 9 UDP/TLS/RTP/SAVPF 111\n");
  parse_ok(s, &o);
  assert_int_equal(o.audio, 1);
  assert_false(o.media[0].used);
  assert_int_equal(o.media[0].pt, 111);
  /* BUNDLE order, not the section order, decides which section is the tag. */
  parse_ok(edit(BASE, "BUNDLE a v", "BUNDLE v a"), &o);
  assert_int_equal(o.bundle_tag, o.video);
}

static void test_errors(void **state) {
  (void)state;
  const char *fpl = "a=fingerprint:sha-256 " FP_HEX "\n";
  expect_fail_s(edit(BASE, fpl, ""), -EBADMSG, "offer has no a=fingerprint");
  expect_fail_s(edit(BASE, fpl, "a=fingerprint:sha-1 00:11:22\n"), -ENOTSUP,
                "fingerprint must be sha-256");
  expect_fail_s(edit(BASE, ":D0:5A\n", ":D0:5\n"), -EBADMSG,
                "malformed a=fingerprint (need 32 hex bytes)");
  expect_fail_s(edit(BASE, ":D0:5A\n", ":D0:5A:\n"), -EBADMSG,
                "malformed a=fingerprint (need 32 hex bytes)");
  expect_fail_s(edit(BASE, "a=ice-ufrag:abcd\n", ""), -EBADMSG, "offer has no ICE credentials");
  expect_fail_s(edit(BASE, "a=ice-pwd:abcdefghijklmnopqrstuv\n", ""), -EBADMSG,
                "offer has no ICE credentials");
  const char *bad_ufrag = "invalid a=ice-ufrag (must be 4..256 ice-chars)";
  const char *bad_pwd = "invalid a=ice-pwd (must be 22..256 ice-chars)";
  expect_fail_s(edit(BASE, "ufrag:abcd", "ufrag:abc"), -EBADMSG, bad_ufrag);
  expect_fail_s(edit(BASE, "ufrag:abcd", "ufrag:ab-cd"), -EBADMSG, bad_ufrag);
  expect_fail_s(edit(BASE, "pwd:abcdefghijklmnopqrstuv", "pwd:abcdefghijklmnopqrstu"), -EBADMSG,
                bad_pwd);
  char longpwd[300] = "pwd:";
  memset(longpwd + 4, 'x', 257);
  expect_fail_s(edit(BASE, "pwd:abcdefghijklmnopqrstuv", longpwd), -EBADMSG, bad_pwd);
  expect_fail_s(edit(BASE, "a=mid:v\n", "a=mid:v\na=ice-ufrag:other\n"), -EBADMSG,
                "bundled sections have different ICE credentials");
  expect_fail_s(edit(BASE, "a=mid:v\n", "a=mid:v\na=fingerprint:sha-256 " SRV_FP "\n"), -EBADMSG,
                "bundled sections have different fingerprints");
  expect_fail_s(edit(BASE, "a=mid:v\n", "a=mid:v\na=setup:active\n"), -EBADMSG,
                "bundled sections have different a=setup");
  expect_fail_s(edit(BASE, "opus/48000/2", "PCMU/8000"), -ENOTSUP, "no audio section with Opus");
  expect_fail_s(edit(BASE, "opus/48000/2", "opus/48000/1"), -ENOTSUP, "no audio section with Opus");
  expect_fail_s(edit(BASE, "96 VP8/90000", "96 H264/90000"), -ENOTSUP, "no video section with VP8");
  expect_fail_s(edit(BASE, "m=video 9", "m=video 0"), -ENOTSUP, "no video section with VP8");
  expect_fail_s(edit(BASE, "a=mid:v\na=rtcp-mux\n", "a=mid:v\n"), -ENOTSUP, "rtcp-mux is required");
  const char *bundle = "BUNDLE is required (a=group:BUNDLE with the audio and video mids)";
  expect_fail_s(edit(BASE, "a=group:BUNDLE a v\n", ""), -ENOTSUP, bundle);
  expect_fail_s(edit(BASE, "BUNDLE a v", "BUNDLE a"), -ENOTSUP, bundle);
  expect_fail_s(edit(BASE, "a=group:BUNDLE a v\n", "a=group:BUNDLE a\na=group:BUNDLE v\n"), -ENOTSUP,
                bundle);
  expect_fail_s(edit(BASE, "a=mid:v\n", ""), -ENOTSUP, bundle);
  expect_fail_s(edit(BASE, "a=setup:actpass", "a=setup:passive"), -ENOTSUP,
                "setup must be actpass or active");
  expect_fail_s(edit(BASE, "m=video 9 UDP/TLS/RTP/SAVPF", "m=video 9 RTP/AVP"), -ENOTSUP,
                "audio and video must use UDP/TLS/RTP/SAVPF");
  expect_fail_s(edit(BASE, "a=mid:v", "a=mid:a"), -EBADMSG, "duplicate a=mid");
  expect_fail_s(edit(BASE, "a=mid:v", "a=mid:v w"), -EBADMSG, "invalid a=mid");
  expect_fail_s(edit(BASE, "a=mid:v", "a=mid:0123456789012345678901234567890123"), -EBADMSG,
                "invalid a=mid");
  expect_fail_s(edit(BASE, "a=mid:v\n", "a=mid:v\na=ssrc:4294967296 cname:x\n"), -EBADMSG,
                "malformed a=ssrc");
  expect_fail_s(edit(BASE, "a=mid:v\n", "a=mid:v\na=ssrc-group:FID 1\n"), -EBADMSG,
                "malformed a=ssrc-group:FID");
  expect_fail_s(edit(BASE, "m=video 9 ", "m=video x "), -EBADMSG, "malformed m-line");
  expect_fail_s(edit(BASE, "m=video 9 UDP/TLS/RTP/SAVPF 96", "m=video 9 UDP/TLS/RTP/SAVPF"),
                -EBADMSG, "malformed m-line");
  expect_fail_s(edit(BASE, "v=0", "v=1"), -EBADMSG, "offer must start with v=0");
  expect_fail_s(edit(BASE, "s=-\n", "garbage\n"), -EBADMSG,
                "malformed line (expected <type>=<value>)");
  expect_fail_s("", -EBADMSG, "offer must start with v=0");
  expect_fail_s("\r\n\n", -EBADMSG, "offer must start with v=0");
  char nul[sizeof(BASE)];
  memcpy(nul, BASE, sizeof(BASE));
  nul[20] = '\0';
  expect_fail(nul, sizeof(BASE) - 1, -EBADMSG, "offer contains control characters");
  expect_fail_s(edit(BASE, "s=-", "s=\x01"), -EBADMSG, "offer contains control characters");
}

static void test_limits(void **state) {
  (void)state;
  static char big[SDP_MAX_OFFER + 64];
  /* A line of SDP_MAX_LINE is fine, one more byte is not. */
  char *line = big;
  memcpy(line, "a=x:", 4);
  memset(line + 4, 'y', SDP_MAX_LINE - 4);
  strcpy(line + SDP_MAX_LINE, "\n");
  struct sdp_offer o;
  parse_ok(edit(BASE, "t=0 0\n", edit("t=0 0\nL", "L", line)), &o);
  line[SDP_MAX_LINE] = 'y';
  strcpy(line + SDP_MAX_LINE + 1, "\n");
  expect_fail_s(edit(BASE, "t=0 0\n", edit("t=0 0\nL", "L", line)), -EBADMSG, "line too long");
  /* Nine m-sections. */
  char *s = (char *)BASE;
  for (int i = 0; i < 6; i++)
    s = edit(s, "a=rtpmap:96 VP8/90000\n", "a=rtpmap:96 VP8/90000\nm=application 0 X y\n");
  parse_ok(s, &o);
  assert_int_equal(o.n_media, SDP_MAX_MEDIA);
  s = edit(s, "a=rtpmap:96 VP8/90000\n", "a=rtpmap:96 VP8/90000\nm=application 0 X y\n");
  expect_fail_s(s, -ENOTSUP, "too many m-sections");
  /* SDP_MAX_SSRC distinct SSRCs, repeated, are fine; one more is not. */
  s = (char *)BASE;
  for (int i = 1; i <= SDP_MAX_SSRC; i++) {
    char l[64];
    snprintf(l, sizeof(l), "a=mid:v\na=ssrc:%d cname:c\na=ssrc:%d msid:m t\n", i, i);
    s = edit(s, "a=mid:v\n", l);
  }
  parse_ok(s, &o);
  assert_int_equal(o.media[1].n_ssrc, SDP_MAX_SSRC);
  assert_int_equal(o.media[1].main_ssrc, SDP_MAX_SSRC); /* the first line, inserted last */
  expect_fail_s(edit(s, "a=mid:v\n", "a=mid:v\na=ssrc:99 x\n"), -EBADMSG,
                "too many a=ssrc in one m-section");
  /* An fmtp for our PT that does not fit; for another PT it does not matter. */
  char fmtp[320] = "a=rtpmap:111 opus/48000/2\na=fmtp:111 ";
  memset(fmtp + strlen(fmtp), 'f', 256);
  strcat(fmtp, "\n");
  expect_fail_s(edit(BASE, "a=rtpmap:111 opus/48000/2\n", fmtp), -EBADMSG, "a=fmtp too long");
  strstr(fmtp, "fmtp:111")[7] = '2';
  parse_ok(edit(BASE, "a=rtpmap:111 opus/48000/2\n", fmtp), &o);
  /* Just over the size limit, and a large offer just under it. */
  memset(big, '\n', sizeof(big));
  memcpy(big, BASE, strlen(BASE));
  expect_fail(big, SDP_MAX_OFFER + 1, -EBADMSG, "offer too large");
  assert_int_equal(parse_exact(big, SDP_MAX_OFFER, &o, NULL), 0);
  size_t n = strlen(BASE);
  while (n + 40 < SDP_MAX_OFFER) {
    memcpy(big + n, "a=unknown-attribute:0123456789abcdef\r\n", 38);
    n += 38;
  }
  assert_int_equal(parse_exact(big, n, &o, NULL), 0);
  assert_int_equal(sdp_parse_offer(NULL, 0, &o, NULL), -EBADMSG);
  assert_int_equal(sdp_parse_offer(NULL, 1, &o, NULL), -EINVAL);
  assert_int_equal(sdp_parse_offer(BASE, strlen(BASE), NULL, NULL), -EINVAL);
}

/* ---- hostile input ---- */

static uint32_t rng = 12345;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

/* Parses, and if accepted, answers: neither may crash, overread or leak. */
static void poke(const char *sdp, size_t len) {
  struct sdp_offer o;
  const char *err = NULL;
  int rc = parse_exact(sdp, len, &o, &err);
  if (rc) {
    assert_true(rc == -EBADMSG || rc == -ENOTSUP);
    assert_non_null(err);
    return;
  }
  char out[4096];
  int n = sdp_write_answer(&o, &PARAMS, out, sizeof(out));
  assert_true(n > 0 && (size_t)n == strlen(out));
  assert_int_equal(sdp_write_answer(&o, &PARAMS, out, 100), -ENOSPC);
}

static void test_truncated(void **state) {
  (void)state;
  int ok = 0;
  for (int f = 0; f < 2; f++)
    for (size_t n = 0; n <= fixture_len[f]; n++) {
      struct sdp_offer o;
      int rc = parse_exact(fixture[f], n, &o, NULL);
      ok += rc == 0;
      poke(fixture[f], n);
    }
  assert_true(ok > 10); /* cuts inside the last a=ssrc lines still parse */
}

static void test_garbage(void **state) {
  (void)state;
  static char buf[8192];
  for (int it = 0; it < 3000; it++) {
    int f = it & 1;
    size_t n = fixture_len[f];
    memcpy(buf, fixture[f], n);
    int flips = 1 + (int)(rnd() % 8);
    for (int k = 0; k < flips; k++) {
      size_t at = rnd() % n;
      switch (rnd() % 4) {
      case 0: buf[at] = (char)rnd(); break;
      case 1: buf[at] = " :/\r\n=0"[rnd() % 7]; break;
      case 2: memmove(buf + at, buf + at + 1, n - at - 1), n--; break;
      default: buf[at] = (char)(buf[at] ^ 0x20); break;
      }
    }
    poke(buf, n);
  }
  for (int it = 0; it < 500; it++) {
    size_t n = rnd() % 600;
    for (size_t k = 0; k < n; k++)
      buf[k] = rnd() % 4 ? "v=0\nma:  /19"[rnd() % 12] : (char)rnd();
    poke(buf, n);
  }
}

/* ---- fingerprints ---- */

static void test_fingerprint(void **state) {
  (void)state;
  uint8_t fp[64];
  size_t n = 0;
  char text[200];
  assert_int_equal(sdp_fingerprint_parse(SRV_FP, fp, sizeof(fp), &n), 0);
  assert_int_equal(n, 32);
  assert_int_equal(fp[0], 0x0a);
  assert_int_equal(fp[31], 0xff);
  assert_int_equal(sdp_fingerprint_format(fp, n, text, sizeof(text)), 95);
  assert_string_equal(text, SRV_FP);
  assert_int_equal(sdp_fingerprint_format(fp, n, text, 96), 95);
  assert_int_equal(sdp_fingerprint_format(fp, n, text, 95), -ENOSPC);
  assert_int_equal(sdp_fingerprint_format(fp, 0, text, 1), 0);
  assert_string_equal(text, "");
  assert_int_equal(sdp_fingerprint_format(fp, 0, text, 0), -ENOSPC);
  assert_int_equal(sdp_fingerprint_parse("ab:Cd:0f", fp, sizeof(fp), &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(fp[1], 0xcd);
  assert_int_equal(sdp_fingerprint_format(fp, n, text, sizeof(text)), 8);
  assert_string_equal(text, "AB:CD:0F");
  static const char *const bad[] = {"", "A", "AB:", ":AB", "AB::CD", "GG", "ABC", "AB CD",
                                    "AB:CD:", " AB", "AB:C", "0x:12"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(sdp_fingerprint_parse(bad[i], fp, sizeof(fp), &n), -EBADMSG);
  assert_int_equal(sdp_fingerprint_parse("AB:CD:EF", fp, 2, &n), -ENOSPC);
  assert_int_equal(sdp_fingerprint_parse(NULL, fp, 2, &n), -EBADMSG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chromium_offer),
      cmocka_unit_test(test_firefox_offer),
      cmocka_unit_test(test_session_direction),
      cmocka_unit_test(test_transport_levels),
      cmocka_unit_test(test_codec_choice),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_fingerprint),
  };
  return cmocka_run_group_tests(tests, setup_fixtures, NULL);
}
