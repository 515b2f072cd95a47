/* test_router.c -- what a session accepts from its browser's address and what its partner gets:
 * a spoofed check cannot take another session's address or move where we send; only
 * authenticated media moves it; garbage cannot take SSRC slots; sender reports carry our clock,
 * not the sender's; a retransmission passes only when a receiver asked for it. (docs/security.md
 * findings 6, 7 and 12.) */
#include <time.h>

#include "tests/media/media_world.h"

/* Session i sends through the datagram path (no stream): it gets addresses from checks. */
static void make_dgram(struct world *W, int i) {
  struct session *s = sess(W, i);
  s->path.kind = TX_NONE;
  handover__path_changed(s);
}

static struct sockaddr_storage addr4(uint16_t port) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  struct sockaddr_in *in = (struct sockaddr_in *)&ss;
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  in->sin_addr.s_addr = htonl(0x7f000001);
  return ss;
}

static uint16_t path_port(struct world *W, int i) {
  struct session *s = sess(W, i);
  assert_int_equal(s->path.kind, TX_DGRAM);
  return ntohs(((struct sockaddr_in *)&s->path.addr)->sin_port);
}

/* A valid ICE check for session i, from `port`, as its browser (who knows the password) sends. */
static void check_from(struct world *W, int i, uint16_t port, bool use_candidate) {
  struct session *s = sess(W, i);
  uint8_t buf[512], tid[12];
  size_t len = sizeof(buf);
  assert_int_equal(ice_build_check(buf, &len, s->ufrag, "abcd", s->pwd, 100, 42, use_candidate,
                                   tid),
                   0);
  struct sockaddr_storage from = addr4(port);
  session__on_datagram(s->w, buf, len, (struct sockaddr *)&from);
}

/* An audio packet from session i's browser, from `port`: protected with its keys, or garbage
 * that looks like RTP (authentication fails). */
static void rtp_from(struct world *W, int i, uint16_t port, uint32_t ssrc, bool authentic) {
  struct session *s = sess(W, i);
  uint8_t pkt[200 + SRTPCTX_TRAILER];
  struct rtp_header h = {.pt = (uint8_t)s->in[KIND_AUDIO].pt, .seq = W->seq[i]++,
                         .ts = (uint32_t)W->seq[i] * 960u, .ssrc = ssrc};
  int hl = rtp_write_header(pkt, sizeof(pkt), &h);
  memset(pkt + hl, 0x5a, 40);
  size_t len = (size_t)hl + 40;
  if (authentic)
    assert_int_equal(srtpctx_protect_rtp(W->br[i]->rx, pkt, &len, sizeof(pkt)), 0);
  else
    len += 16; /* an AEAD tag's worth of junk */
  struct sockaddr_storage from = addr4(port);
  session__on_datagram(s->w, pkt, len, (struct sockaddr *)&from);
}

static void test_spoofed_check_cannot_take_an_address(void **state) {
  (void)state;
  struct world W;
  open_world_n(&W, 1, 4 * 1024 * 1024, 1);
  add_session(&W); /* 0: the attacker, with its own valid credentials */
  add_session(&W); /* 1: the victim */
  make_dgram(&W, 0);
  make_dgram(&W, 1);
  struct worker *w = wk(&W, 0);
  check_from(&W, 1, 5001, true);
  check_from(&W, 0, 6001, false);
  assert_int_equal(path_port(&W, 1), 5001);
  assert_int_equal(path_port(&W, 0), 6001);
  /* The attacker's check, spoofed from the victim's address: not answered, not taken. */
  check_from(&W, 0, 5001, true);
  assert_int_equal(w->st.stun_conflicts, 1);
  rtp_from(&W, 1, 5001, 0x1111, true);
  assert_int_equal(sess(&W, 1)->in[KIND_AUDIO].packets, 1);
  assert_int_equal(w->st.srtp_errors, 0);
  /* A nomination from a new address does not move where we send... */
  check_from(&W, 0, 6002, true);
  assert_int_equal(path_port(&W, 0), 6001);
  /* ... garbage from it does not either ... */
  rtp_from(&W, 0, 6002, 0x2222, false);
  assert_int_equal(path_port(&W, 0), 6001);
  /* ... authenticated media does. */
  rtp_from(&W, 0, 6002, 0x2222, true);
  assert_int_equal(path_port(&W, 0), 6002);
  assert_int_equal(sess(&W, 0)->in[KIND_AUDIO].packets, 1);
  close_world(&W);
}

/* A session silent for silence_ms has lost its browser: the port number it held may be another
 * browser's now (a new RTCPeerConnection on a reused port, a NAT), whose valid checks then take
 * the address, and nothing more is sent there for the old session. */
static void test_silent_session_gives_its_address_up(void **state) {
  (void)state;
  struct world W;
  open_world_n(&W, 4, 4 * 1024 * 1024, 1);
  add_session(&W); /* 0: gone */
  add_session(&W); /* 1: the new browser on the same port */
  make_dgram(&W, 0);
  make_dgram(&W, 1);
  struct worker *w = wk(&W, 0);
  check_from(&W, 0, 5101, true);
  rtp_from(&W, 0, 5101, 0x3333, true);
  assert_int_equal(path_port(&W, 0), 5101);
  /* While 0 is heard from, the address is its own. */
  check_from(&W, 1, 5101, true);
  assert_int_equal(w->st.stun_conflicts, 1);
  assert_int_equal(sess(&W, 1)->path.kind, TX_NONE);
  /* Silent for longer than silence_ms: */
  struct session *s0 = sess(&W, 0);
  uint64_t long_ago = worker__now(w) - 10000;
  s0->last_media_ms = s0->last_stun_ms = s0->created_ms = long_ago;
  check_from(&W, 1, 5101, true);
  assert_int_equal(w->st.stun_conflicts, 1);
  assert_int_equal(path_port(&W, 1), 5101);
  assert_int_equal(s0->path.kind, TX_NONE);
  rtp_from(&W, 1, 5101, 0x4444, true);
  assert_int_equal(sess(&W, 1)->in[KIND_AUDIO].packets, 1);
  close_world(&W);
}

static void test_garbage_cannot_take_ssrc_slots(void **state) {
  (void)state;
  struct world W;
  open_world_n(&W, 2, 4 * 1024 * 1024, 1);
  add_session(&W);
  make_dgram(&W, 0);
  struct worker *w = wk(&W, 0);
  check_from(&W, 0, 7001, true);
  for (uint32_t k = 0; k < 2 * MAX_SSRCS; k++)
    rtp_from(&W, 0, 7001, 0x9000 + k, false);
  assert_int_equal(w->st.srtp_errors, 2 * MAX_SSRCS);
  assert_int_equal(sess(&W, 0)->n_ssrcs, 0);
  rtp_from(&W, 0, 7001, 0x1234, true);
  assert_int_equal(sess(&W, 0)->in[KIND_AUDIO].packets, 1);
  /* The bound still holds for a browser that has the keys. */
  for (uint32_t k = 1; k < MAX_SSRCS; k++)
    rtp_from(&W, 0, 7001, 0x1234 + k, true);
  assert_int_equal(sess(&W, 0)->n_ssrcs, MAX_SSRCS);
  uint64_t dropped = w->st.rx_dropped;
  rtp_from(&W, 0, 7001, 0xdead, true);
  assert_int_equal(w->st.rx_dropped, dropped + 1);
  assert_int_equal(sess(&W, 0)->in[KIND_AUDIO].packets, MAX_SSRCS);
  close_world(&W);
}

static void test_sender_report_retimed(void **state) {
  (void)state;
  struct world W;
  open_world(&W, 3, 4 * 1024 * 1024);
  add_session(&W);
  add_session(&W);
  link_pair(&W, 0, 1);
  quiesce(&W);
  send_from(&W, 0); /* anchors the audio stream toward 1 */
  quiesce(&W);
  assert_int_equal(W.br[1]->got, 1);
  struct rtcp_sr sr = {.ssrc = 0x1000, .ntp_sec = 0x11111111, .ntp_frac = 0x22222222,
                       .rtp_ts = (uint32_t)W.seq[0] * 960u, .packet_count = 1, .octet_count = 8};
  uint8_t buf[200 + SRTPCTX_TRAILER];
  int n = rtcp_write_sr(buf, 200, &sr, NULL, 0);
  assert_true(n > 0);
  struct session *s0 = sess(&W, 0);
  router__on_rtcp(s0, buf, (size_t)n, worker__now(s0->w));
  quiesce(&W);
  uint32_t got = W.br[1]->last_sr_ntp_sec;
  assert_int_not_equal(got, 0);
  uint32_t ours = (uint32_t)time(NULL) + 2208988800u;
  if (got + 5 < ours || got > ours + 5)
    fail_msg("the SR's NTP seconds are %u, the server's clock says %u", got, ours);
  close_world(&W);
}

/* An audio packet of session i's browser with sequence number seq, protected with its keys and
 * carrying its session id (what the receiving browser checks). */
static size_t protected_audio(struct world *W, int i, uint16_t seq, uint8_t *pkt, size_t cap) {
  struct session *s = sess(W, i);
  struct rtp_header h = {.pt = (uint8_t)s->in[KIND_AUDIO].pt, .seq = seq, .ts = seq * 960u,
                         .ssrc = 0x4242};
  int hl = rtp_write_header(pkt, cap, &h);
  assert_true(hl > 0);
  memcpy(pkt + hl, &W->sids[i], sizeof(W->sids[i]));
  size_t len = (size_t)hl + sizeof(W->sids[i]);
  assert_int_equal(srtpctx_protect_rtp(W->br[i]->rx, pkt, &len, cap), 0);
  return len;
}

static void arrive(struct world *W, int i, const uint8_t *pkt, size_t len) {
  uint8_t copy[300];
  memcpy(copy, pkt, len);
  session__on_stream_packet(sess(W, i), copy, len);
  quiesce(W);
}

/* A packet lost between us and the receiver: the receiver's NACK reaches the sender, whose
 * resend (its first SRTP index again) is passed on once; a replay nobody asked for is not. */
static void test_retransmission_asked_for_passes_once(void **state) {
  (void)state;
  struct world W;
  open_world_n(&W, 5, 4 * 1024 * 1024, 1);
  add_session(&W);
  add_session(&W);
  link_pair(&W, 0, 1);
  quiesce(&W);
  uint8_t sent[6][300];
  size_t sent_len[6];
  for (uint16_t k = 1; k <= 5; k++) {
    sent_len[k] = protected_audio(&W, 0, (uint16_t)(100 + k), sent[k], sizeof(sent[k]));
    arrive(&W, 0, sent[k], sent_len[k]);
  }
  assert_int_equal(W.br[1]->got, 5);
  struct worker *w = wk(&W, 0);
  struct session *s0 = sess(&W, 0), *s1 = sess(&W, 1);
  /* A replay nobody asked for: refused. */
  arrive(&W, 0, sent[3], sent_len[3]);
  assert_int_equal(W.br[1]->got, 5);
  assert_int_equal(w->st.srtp_errors, 1);
  assert_null(s0->rtx);
  /* Browser 1 lost the third (its sequence number is two before the last it got) and asks. */
  uint16_t lost = (uint16_t)(seqmap_last_seq(&s0->sink_out->out[KIND_AUDIO].seq) - 2);
  uint8_t nack[100 + SRTPCTX_TRAILER];
  int n = rtcp_write_nack(nack, 100, 0x7777, s1->out_ssrc[KIND_AUDIO], &lost, 1);
  assert_true(n > 0);
  router__on_rtcp(s1, nack, (size_t)n, worker__now(w));
  quiesce(&W);
  assert_non_null(s0->rtx);
  /* Browser 1 never had it: here its SRTP starts again (a new replay window, same keys). */
  struct srtp_keys srv, brw;
  make_keys(W.sids[1], &srv, &brw);
  srtpctx_free(W.br[1]->rx);
  W.br[1]->rx = srtpctx_new(&brw);
  /* Browser 0 sends it again: passed on, once. */
  arrive(&W, 0, sent[3], sent_len[3]);
  assert_int_equal(W.br[1]->got, 6);
  assert_int_equal(w->st.rtp_retransmitted, 1);
  assert_int_equal(s0->in[KIND_AUDIO].packets, 5); /* not counted as the stream's */
  arrive(&W, 0, sent[3], sent_len[3]);
  arrive(&W, 0, sent[2], sent_len[2]); /* not asked for */
  assert_int_equal(W.br[1]->got, 6);
  assert_int_equal(w->st.rtp_retransmitted, 1);
  assert_int_equal(w->st.srtp_errors, 3);
  assert_int_equal(W.failures, 0);
  close_world(&W);
}

/* A VP8 packet of session i's browser (its first, with the keyframe bit as asked), protected. */
static void video_from(struct world *W, int i, uint16_t seq, bool keyframe) {
  struct session *s = sess(W, i);
  uint8_t pkt[200 + SRTPCTX_TRAILER];
  struct rtp_header h = {.pt = (uint8_t)s->in[KIND_VIDEO].pt, .seq = seq, .ts = seq * 3000u,
                         .ssrc = 0x5151, .marker = true};
  int hl = rtp_write_header(pkt, sizeof(pkt), &h);
  assert_true(hl > 0);
  uint8_t vp8[] = {0x10, keyframe ? 0x00 : 0x01, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00};
  memcpy(pkt + hl, vp8, sizeof(vp8));
  memcpy(pkt + hl + sizeof(vp8), &W->sids[i], sizeof(W->sids[i]));
  size_t len = (size_t)hl + sizeof(vp8) + sizeof(W->sids[i]);
  assert_int_equal(srtpctx_protect_rtp(W->br[i]->rx, pkt, &len, sizeof(pkt)), 0);
  session__on_stream_packet(s, pkt, len);
}

/* A browser's encoder acts on one keyframe request per 300 ms: a request inside that window
 * (a new partner right after the last one) is sent again once the window is over, unless a
 * keyframe came meanwhile; outside it nothing extra is sent. */
static void test_keyframe_request_inside_the_browsers_gap_is_repeated(void **state) {
  (void)state;
  struct world W;
  open_world_n(&W, 6, 4 * 1024 * 1024, 1);
  add_session(&W);
  add_session(&W);
  quiesce(&W);
  struct session *s0 = sess(&W, 0);
  video_from(&W, 0, 1, false); /* the source's video SSRC is known */
  quiesce(&W);
  uint64_t t = worker__now(s0->w) + 10000;
  router__keyframe(s0, t, false); /* heard: the encoder acts */
  quiesce(&W);
  assert_int_equal(W.br[0]->plis, 1);
  router__keyframe(s0, t + 150, false); /* inside the window: sent, and owed */
  quiesce(&W);
  assert_int_equal(W.br[0]->plis, 2);
  router__tick(s0, t + 250);
  quiesce(&W);
  assert_int_equal(W.br[0]->plis, 2); /* the window is not over */
  router__tick(s0, t + 330);
  quiesce(&W);
  assert_int_equal(W.br[0]->plis, 3); /* sent again, heard */
  router__tick(s0, t + 700);
  quiesce(&W);
  assert_int_equal(W.br[0]->plis, 3); /* once */

  /* Owed again, but a keyframe arrives first: nothing more is sent. */
  router__keyframe(s0, t + 800, false);
  quiesce(&W);
  assert_int_equal(W.br[0]->plis, 4);
  video_from(&W, 0, 2, true);
  quiesce(&W);
  router__tick(s0, t + 1000);
  quiesce(&W);
  assert_int_equal(W.br[0]->plis, 4);
  assert_int_equal(W.failures, 0);
  close_world(&W);
}

int main(void) {
  srtpctx_global_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spoofed_check_cannot_take_an_address),
      cmocka_unit_test(test_garbage_cannot_take_ssrc_slots),
      cmocka_unit_test(test_sender_report_retimed),
      cmocka_unit_test(test_retransmission_asked_for_passes_once),
      cmocka_unit_test(test_silent_session_gives_its_address_up),
      cmocka_unit_test(test_keyframe_request_inside_the_browsers_gap_is_repeated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
