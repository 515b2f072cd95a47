/* test_sdp_answer.c -- unit tests for media/sdp_answer.c (answers to parsed offers). */
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

/* ---- a tiny answer reader ---- */

struct lines {
  char l[160][256];
  int n;
};

/* Splits an answer, checking that every line is "<letter>=..." ended by \r\n. */
static void split(const char *a, struct lines *x) {
  x->n = 0;
  while (*a) {
    const char *e = strstr(a, "\r\n");
    assert_non_null(e);
    assert_true(e - a >= 2 && e - a < 256 && a[1] == '=' && a[0] >= 'a' && a[0] <= 'z');
    assert_null(memchr(a, '\n', (size_t)(e - a)));
    assert_true(x->n < 160);
    snprintf(x->l[x->n++], 256, "%.*s", (int)(e - a), a);
    a = e + 2;
  }
}

/* Index of `line` in section `sec` (-1 = session part), or -1. */
static int find_in(const struct lines *x, int sec, const char *line) {
  int s = -1;
  for (int i = 0; i < x->n; i++) {
    if (x->l[i][0] == 'm')
      s++;
    if (s == sec && !strcmp(x->l[i], line))
      return i;
  }
  return -1;
}

static int count_prefix(const struct lines *x, const char *prefix) {
  int c = 0;
  for (int i = 0; i < x->n; i++)
    c += !strncmp(x->l[i], prefix, strlen(prefix));
  return c;
}

static int answer(const struct sdp_offer *o, char *out, size_t cap) {
  int n = sdp_write_answer(o, &PARAMS, out, cap);
  assert_true(n > 0);
  assert_int_equal((size_t)n, strlen(out));
  return n;
}

/* ---- the fixtures ---- */

/* Our answers to both fixtures, line by line against the expected answers
 * in tests/data/sdp/ (written out and checked by hand once). */
static void test_golden_answers(void **state) {
  (void)state;
  static const char *const golden[2] = {"chromium-156-answer.sdp", "firefox-esr-153-answer.sdp"};
  static char out[4096], want[4096];
  static struct lines x, w;
  for (int f = 0; f < 2; f++) {
    struct sdp_offer o;
    assert_int_equal(parse_exact(fixture[f], fixture_len[f], &o, NULL), 0);
    answer(&o, out, sizeof(out));
    sdp_fixture_load(golden[f], want, sizeof(want));
    split(out, &x);
    split(want, &w);
    for (int i = 0; i < x.n && i < w.n; i++)
      if (strcmp(x.l[i], w.l[i]))
        fail_msg("%s line %d: got \"%s\", want \"%s\"", golden[f], i + 1, x.l[i], w.l[i]);
    assert_int_equal(x.n, w.n);
  }
}

/* Reads our own answer back with sdp_parse_offer (its setup flipped to
 * actpass, which an offer needs) and checks what it negotiated. */
static void roundtrip(const struct sdp_offer *o, const char *ans) {
  char *flipped = (char *)ans, *t;
  while ((t = strstr(flipped, "a=setup:passive")) != NULL)
    flipped = edit(flipped, "a=setup:passive", "a=setup:actpass");
  struct sdp_offer r;
  parse_ok(flipped, &r);
  assert_string_equal(r.ice_ufrag, PARAMS.ice_ufrag);
  assert_string_equal(r.ice_pwd, PARAMS.ice_pwd);
  uint8_t fp[32];
  size_t n;
  assert_int_equal(sdp_fingerprint_parse(SRV_FP, fp, sizeof(fp), &n), 0);
  assert_memory_equal(r.fp, fp, 32);
  assert_int_equal(r.n_media, o->n_media);
  assert_int_equal(r.audio, o->audio);
  assert_int_equal(r.video, o->video);
  for (size_t i = 0; i < o->n_media; i++) {
    const struct sdp_media *m = &o->media[i], *q = &r.media[i];
    assert_string_equal(q->mid, m->mid);
    assert_int_equal(q->kind, m->kind);
    if (!m->used) {
      assert_int_equal(q->port, 0);
      assert_string_equal(q->proto, m->proto);
      assert_string_equal(q->first_fmt, m->first_fmt);
      continue;
    }
    assert_int_equal(q->pt, m->pt);
    assert_int_equal(q->ext_mid, m->ext_mid);
    assert_int_equal(q->ext_abs_send_time + q->ext_transport_cc + q->ext_audio_level, 0);
    assert_false(q->fb_transport_cc);
    assert_int_equal(q->fb_nack + q->fb_pli + q->fb_fir + q->fb_remb,
                     m->kind == SDP_VIDEO ? 4 : 0);
    assert_int_equal(q->main_ssrc, m->kind == SDP_AUDIO ? PARAMS.audio_ssrc : PARAMS.video_ssrc);
    assert_int_equal(q->n_ssrc, 1);
  }
}

static void test_answer_roundtrip(void **state) {
  (void)state;
  static char out[4096];
  for (int f = 0; f < 2; f++) {
    struct sdp_offer o;
    assert_int_equal(parse_exact(fixture[f], fixture_len[f], &o, NULL), 0);
    answer(&o, out, sizeof(out));
    roundtrip(&o, out);
  }
}

static void test_extra_sections_rejected(void **state) {
  (void)state;
  /* Chromium's offer with a data channel, a second video and a disabled audio added. */
  static char sdp[16384];
  snprintf(sdp, sizeof(sdp), "%s%s", fixture[0],
           "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
           "a=ice-ufrag:vZqm\r\na=ice-pwd:juay1soXNSnkaE8K6up5FDya\r\na=mid:2\r\n"
           "a=sctp-port:5000\r\na=max-message-size:262144\r\n"
           "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:3\r\na=rtcp-mux\r\n"
           "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=ssrc:5 cname:x\r\n"
           "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=mid:4\r\na=rtpmap:111 opus/48000/2\r\n");
  struct sdp_offer o;
  parse_ok(sdp, &o);
  assert_int_equal(o.n_media, 5);
  assert_int_equal(o.audio, 0);
  assert_int_equal(o.video, 1);
  assert_int_equal(o.media[2].kind, SDP_OTHER);
  assert_string_equal(o.media[2].media, "application");
  assert_string_equal(o.media[2].first_fmt, "webrtc-datachannel");
  assert_int_equal(o.media[2].pt, -1);
  assert_false(o.media[2].used || o.media[3].used || o.media[4].used);
  assert_int_equal(o.media[3].pt, 96);
  assert_int_equal(o.media[3].main_ssrc, 5);
  static char out[4096];
  static struct lines x;
  answer(&o, out, sizeof(out));
  split(out, &x);
  assert_true(find_in(&x, -1, "a=group:BUNDLE 0 1") > 0);
  int m2 = find_in(&x, 2, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel");
  int m3 = find_in(&x, 3, "m=video 0 UDP/TLS/RTP/SAVPF 96");
  int m4 = find_in(&x, 4, "m=audio 0 UDP/TLS/RTP/SAVPF 111");
  assert_true(m2 > 0 && m3 > m2 && m4 > m3);
  assert_int_equal(find_in(&x, 2, "a=mid:2"), m2 + 2);
  assert_true(find_in(&x, 3, "a=mid:3") > m3 && find_in(&x, 3, "a=inactive") > m3);
  assert_true(find_in(&x, 4, "a=mid:4") > m4);
  assert_int_equal(count_prefix(&x, "m="), 5);
  assert_int_equal(count_prefix(&x, "a=candidate:1 "), 2);
  assert_int_equal(count_prefix(&x, "a=ssrc:"), 4);
  roundtrip(&o, out);
}

/* ---- semantics ---- */

static void test_directions(void **state) {
  (void)state;
  static const struct {
    const char *offer, *ans;
    int ssrc_lines;
  } c[] = {{"a=sendonly", "a=recvonly", 0}, {"a=recvonly", "a=sendonly", 2},
           {"a=inactive", "a=inactive", 0}, {"a=sendrecv", "a=sendrecv", 2}};
  static char out[4096];
  static struct lines x;
  for (size_t i = 0; i < 4; i++) {
    struct sdp_offer o;
    parse_ok(edit(BASE, "a=mid:a\n", edit("a=mid:a\nX\n", "X", c[i].offer)), &o);
    answer(&o, out, sizeof(out));
    split(out, &x);
    assert_true(find_in(&x, 0, c[i].ans) > 0);
    assert_true(find_in(&x, 1, "a=sendrecv") > 0);
    assert_int_equal(count_prefix(&x, "a=ssrc:1111 "), c[i].ssrc_lines);
    assert_int_equal(count_prefix(&x, "a=msid:tandem-stream audio"), c[i].ssrc_lines / 2);
  }
}

static void test_answer_codec(void **state) {
  (void)state;
  struct sdp_offer o;
  /* The offer of test_codec_choice (test_sdp.c): VP8 offers only nack and ccm fir. */
  const char *s = codec_choice_offer();
  parse_ok(s, &o);
  /* Feedback is answered only as offered. */
  static char out[4096];
  answer(&o, out, sizeof(out));
  assert_non_null(strstr(out, "a=rtcp-fb:96 nack\r\n"));
  assert_null(strstr(out, "nack pli"));
  assert_null(strstr(out, "goog-remb"));
  /* BUNDLE order decides the answer's group order, not the section order. */
  parse_ok(edit(BASE, "BUNDLE a v", "BUNDLE v a"), &o);
  assert_int_equal(o.bundle_tag, o.video);
  answer(&o, out, sizeof(out));
  assert_non_null(strstr(out, "a=group:BUNDLE v a\r\n"));
  assert_true(strstr(out, "m=audio") < strstr(out, "m=video"));
}

/* With video_stream_id, video is its own stream (no lip sync in the browser): both ids in the
 * msid-semantic line, each track's msid naming its own; the same id twice is refused. */
static void test_answer_separate_streams(void **state) {
  (void)state;
  struct sdp_offer o;
  parse_ok(BASE, &o);
  struct sdp_answer_params p = PARAMS;
  static char out[4096];
  assert_true(sdp_write_answer(&o, &p, out, sizeof(out)) > 0);
  char one[160];
  snprintf(one, sizeof(one), "a=msid:%s video\r\n", p.stream_id);
  assert_non_null(strstr(out, one)); /* by default one stream */
  p.video_stream_id = "vid-1";
  assert_true(sdp_write_answer(&o, &p, out, sizeof(out)) > 0);
  char sem[160], a[160];
  snprintf(sem, sizeof(sem), "a=msid-semantic: WMS %s vid-1\r\n", p.stream_id);
  snprintf(a, sizeof(a), "a=msid:%s audio\r\n", p.stream_id);
  assert_non_null(strstr(out, sem));
  assert_non_null(strstr(out, a));
  assert_non_null(strstr(out, "a=msid:vid-1 video\r\n"));
  assert_null(strstr(out, one));
  p.video_stream_id = p.stream_id;
  assert_int_equal(sdp_write_answer(&o, &p, out, sizeof(out)), -EINVAL);
  p.video_stream_id = "bad id";
  assert_int_equal(sdp_write_answer(&o, &p, out, sizeof(out)), -EINVAL);
}

/* ---- answer edge cases ---- */

static void test_answer_space(void **state) {
  (void)state;
  struct sdp_offer o;
  static char out[4096], small[4096];
  assert_int_equal(parse_exact(fixture[1], fixture_len[1], &o, NULL), 0);
  int n = answer(&o, out, sizeof(out));
  for (size_t cap = 0; cap <= (size_t)n; cap++) {
    char *buf = malloc(cap ? cap : 1);
    assert_int_equal(sdp_write_answer(&o, &PARAMS, cap ? buf : NULL, cap), -ENOSPC);
    if (cap) {
      assert_int_equal(strlen(buf), cap - 1);
      assert_memory_equal(buf, out, cap - 1);
    }
    free(buf);
  }
  assert_int_equal(sdp_write_answer(&o, &PARAMS, small, (size_t)n + 1), n);
  assert_string_equal(small, out);
  /* Without a TCP port there is no TCP candidate; the "sha-256 " prefix is tolerated. */
  struct sdp_answer_params p = PARAMS;
  p.tcp_port = 0;
  p.fingerprint = "sha-256 " SRV_FP;
  assert_true(sdp_write_answer(&o, &p, small, sizeof(small)) > 0);
  assert_null(strstr(small, " tcp "));
  assert_non_null(strstr(small, "a=fingerprint:sha-256 " SRV_FP "\r\n"));
  p.fingerprint = "0a:1b:2c:3d:4e:5f:60:71:82:93:a4:b5:c6:d7:e8:f9:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff";
  assert_true(sdp_write_answer(&o, &p, small, sizeof(small)) > 0);
  assert_non_null(strstr(small, "a=fingerprint:sha-256 " SRV_FP "\r\n"));
  p.ip = "2001:db8::1";
  assert_true(sdp_write_answer(&o, &p, small, sizeof(small)) > 0);
  assert_non_null(strstr(small, "a=candidate:1 1 udp 2130706431 2001:db8::1 40000 typ host\r\n"));
  /* The HTTPS port's candidate: TCP passive, its priority below the media port's TCP one,
   * which is below UDP. */
  p = PARAMS;
  p.https_port = 443;
  assert_true(sdp_write_answer(&o, &p, small, sizeof(small)) > 0);
  unsigned long prio[3];
  const char *c1 = strstr(small, "a=candidate:1 1 udp "), *c2 = strstr(small, "a=candidate:2 1 tcp ");
  const char *c3 = strstr(small, "a=candidate:3 1 tcp ");
  assert_non_null(c1);
  assert_non_null(c2);
  assert_non_null(c3);
  prio[0] = strtoul(c1 + 20, NULL, 10);
  prio[1] = strtoul(c2 + 20, NULL, 10);
  prio[2] = strtoul(c3 + 20, NULL, 10);
  assert_true(prio[0] > prio[1] && prio[1] > prio[2]);
  assert_non_null(strstr(c3, " 443 typ host tcptype passive\r\n"));
  assert_int_equal(prio[2] >> 24, 90); /* a host TCP candidate's type preference */
}

static void test_answer_invalid(void **state) {
  (void)state;
  struct sdp_offer o, failed;
  static char out[4096];
  assert_int_equal(parse_exact(fixture[0], fixture_len[0], &o, NULL), 0);
  /* The struct a failed parse leaves behind (zeroed here) cannot be answered. */
  memset(&failed, 0, sizeof(failed));
  failed.audio = failed.video = -1;
  assert_int_equal(sdp_parse_offer("v=0\n", 4, &failed, NULL), -ENOTSUP);
  assert_int_equal(sdp_write_answer(&failed, &PARAMS, out, sizeof(out)), -EINVAL);
  assert_int_equal(sdp_write_answer(NULL, &PARAMS, out, sizeof(out)), -EINVAL);
  assert_int_equal(sdp_write_answer(&o, NULL, out, sizeof(out)), -EINVAL);
  static const struct {
    size_t off;
    const char *bad;
  } c[] = {
      {offsetof(struct sdp_answer_params, ice_ufrag), "abc"},
      {offsetof(struct sdp_answer_params, ice_ufrag), NULL},
      {offsetof(struct sdp_answer_params, ice_pwd), "short"},
      {offsetof(struct sdp_answer_params, fingerprint), "AB:CD"},
      {offsetof(struct sdp_answer_params, fingerprint), SRV_FP ":00"},
      {offsetof(struct sdp_answer_params, fingerprint), NULL},
      {offsetof(struct sdp_answer_params, ip), "1.2.3.4\r\na=x"},
      {offsetof(struct sdp_answer_params, ip), ""},
      {offsetof(struct sdp_answer_params, cname), "a b"},
      {offsetof(struct sdp_answer_params, cname), NULL},
      {offsetof(struct sdp_answer_params, stream_id), "s/1"},
      {offsetof(struct sdp_answer_params, stream_id),
       "0123456789012345678901234567890123456789012345678901234567890123x"},
  };
  for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
    struct sdp_answer_params p = PARAMS;
    const char **field = (const char **)(void *)((char *)&p + c[i].off);
    *field = c[i].bad;
    assert_int_equal(sdp_write_answer(&o, &p, out, sizeof(out)), -EINVAL);
  }
  /* A hand-made offer with a mid that would break the SDP is refused too. */
  struct sdp_offer h = o;
  strcpy(h.media[0].mid, "a\r\nb");
  assert_int_equal(sdp_write_answer(&h, &PARAMS, out, sizeof(out)), -EINVAL);
  h = o;
  h.video = 5;
  assert_int_equal(sdp_write_answer(&h, &PARAMS, out, sizeof(out)), -EINVAL);
}

/* public_ip with several addresses: candidates for each, UDP above TCP, in the given order. */
static void test_answer_addresses(void **state) {
  (void)state;
  struct sdp_offer o;
  static char out[8192];
  static struct lines x;
  assert_int_equal(parse_exact(fixture[0], fixture_len[0], &o, NULL), 0);
  static const char *const more[] = {"2001:db8::5", "198.51.100.7"};
  struct sdp_answer_params p = PARAMS;
  p.more_ips = more;
  p.n_more_ips = 2;
  int n = sdp_write_answer(&o, &p, out, sizeof(out));
  assert_true(n > 0);
  split(out, &x);
  static const char *const want[] = {
      "a=candidate:1 1 udp 2130706431 203.0.113.5 40000 typ host",
      "a=candidate:11 1 udp 2130706175 2001:db8::5 40000 typ host",
      "a=candidate:21 1 udp 2130705919 198.51.100.7 40000 typ host",
      "a=candidate:2 1 tcp 1526726655 203.0.113.5 40001 typ host tcptype passive",
      "a=candidate:12 1 tcp 1526726399 2001:db8::5 40001 typ host tcptype passive",
      "a=candidate:22 1 tcp 1526726143 198.51.100.7 40001 typ host tcptype passive",
      "a=end-of-candidates",
  };
  for (int sec = 0; sec < 2; sec++) {
    int at = find_in(&x, sec, want[0]);
    assert_true(at > 0);
    for (size_t i = 1; i < sizeof(want) / sizeof(want[0]); i++)
      assert_string_equal(x.l[at + (int)i], want[i]);
  }
  assert_int_equal(count_prefix(&x, "a=candidate:"), 12);
  roundtrip(&o, out);

  /* Only IPv6, UDP only: one candidate a section. */
  p = PARAMS;
  p.ip = "fd00::1";
  p.tcp_port = 0;
  assert_true(sdp_write_answer(&o, &p, out, sizeof(out)) > 0);
  split(out, &x);
  assert_int_equal(count_prefix(&x, "a=candidate:"), 2);
  assert_true(find_in(&x, 0, "a=candidate:1 1 udp 2130706431 fd00::1 40000 typ host") > 0);
  assert_true(find_in(&x, 1, "a=candidate:1 1 udp 2130706431 fd00::1 40000 typ host") > 0);

  /* Four of the longest addresses still fit well within 8 KiB. */
  static const char *const longest[] = {"1111:2222:3333:4444:5555:6666:255.255.255.255",
                                        "1111:2222:3333:4444:5555:6666:255.255.255.254",
                                        "1111:2222:3333:4444:5555:6666:255.255.255.253"};
  p = PARAMS;
  p.ip = "1111:2222:3333:4444:5555:6666:255.255.255.252";
  p.more_ips = longest;
  p.n_more_ips = SDP_MAX_MORE_IPS;
  n = sdp_write_answer(&o, &p, out, sizeof(out));
  assert_true(n > 0 && n < 6144);

  /* Bad extra addresses are refused like a bad first one. */
  static const char *const bad[] = {"2001:db8::5", "1.2.3.4\r\na=x"};
  p = PARAMS;
  p.more_ips = bad;
  p.n_more_ips = 2;
  assert_int_equal(sdp_write_answer(&o, &p, out, sizeof(out)), -EINVAL);
  p.n_more_ips = 1;
  assert_true(sdp_write_answer(&o, &p, out, sizeof(out)) > 0);
  p.more_ips = NULL;
  assert_int_equal(sdp_write_answer(&o, &p, out, sizeof(out)), -EINVAL);
  p.more_ips = longest;
  p.n_more_ips = SDP_MAX_MORE_IPS + 1;
  assert_int_equal(sdp_write_answer(&o, &p, out, sizeof(out)), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden_answers),
      cmocka_unit_test(test_answer_roundtrip),
      cmocka_unit_test(test_extra_sections_rejected),
      cmocka_unit_test(test_directions),
      cmocka_unit_test(test_answer_codec),
      cmocka_unit_test(test_answer_space),
      cmocka_unit_test(test_answer_invalid),
      cmocka_unit_test(test_answer_addresses),
      cmocka_unit_test(test_answer_separate_streams),
  };
  return cmocka_run_group_tests(tests, setup_fixtures, NULL);
}
