/* test_relay.c -- two media planes in one process, two "nodes", each with a browser's session,
 * joined by relay sessions (media/relay.c) over real loopback UDP: the workers' sockets are
 * bound and their loops run by hand. Media crosses both ways rewritten for each receiver, a
 * browser's PLI reaches the other node's sender, forged, replayed and malformed datagrams are
 * refused and counted, and closing a relay stops forwarding. */
#include <arpa/inet.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "media/relaywire.h"
#include "tests/media/media_world.h"

static const uint8_t SECRET[RELAYWIRE_SECRET_LEN] = {0x42, 0x17, 0x99, 1, 2, 3};
#define LINK 0xfeedbeef0001ull

/* What one browser receives, decrypted and checked against what its session negotiated. */
struct rxb {
  struct srtpctx *rx;
  uint32_t ssrc[2];          /* the server's SSRCs toward this browser */
  uint8_t pt[2];             /* the payload types it negotiated */
  unsigned got[2];
  uint16_t last_seq[2];
  uint32_t last_ts[2];
  unsigned seq_breaks, strangers, keyframes, plis;
  uint16_t nacked;           /* the first sequence number of the last NACK */
  unsigned nacks;
  uint64_t remb;             /* the bitrate of the last REMB */
  uint64_t from;             /* the sid in the last audio payload */
};

static int rxb_write(void *impl, const uint8_t *buf, size_t len) {
  struct rxb *b = impl;
  uint8_t pkt[1600];
  size_t n = len;
  if (len < 12 || len > sizeof(pkt))
    return 0;
  memcpy(pkt, buf, len);
  if (rtp_is_rtcp(buf, len)) {
    struct rtcp_iter it;
    struct rtcp_item item;
    if (srtpctx_unprotect_rtcp(b->rx, pkt, &n) != 0)
      return 0;
    rtcp_iter_init(&it, pkt, n);
    while (rtcp_iter_next(&it, &item) == 1) {
      uint16_t seqs[16];
      uint32_t ssrcs[4];
      size_t k;
      if (item.pt == RTCP_PSFB && (item.fmt == RTCP_FB_PLI || item.fmt == RTCP_FB_FIR))
        b->plis++;
      else if (item.pt == RTCP_RTPFB && item.fmt == RTCP_FB_NACK &&
               rtcp_parse_nack(&item, seqs, 16, &k) == 0 && k > 0) {
        b->nacks++;
        b->nacked = seqs[0];
      } else if (item.pt == RTCP_PSFB && item.fmt == RTCP_FB_AFB)
        (void)rtcp_parse_remb(&item, &b->remb, ssrcs, 4, &k);
    }
    return 0;
  }
  struct rtp_view v;
  if (srtpctx_unprotect_rtp(b->rx, pkt, &n) != 0 || rtp_parse(pkt, n, &v) != 0) {
    b->strangers++;
    return 0;
  }
  int k = v.ssrc == b->ssrc[KIND_AUDIO] ? KIND_AUDIO : v.ssrc == b->ssrc[KIND_VIDEO] ? KIND_VIDEO : -1;
  if (k < 0 || v.pt != b->pt[k]) {
    b->strangers++;
    return 0;
  }
  if (b->got[k] && v.seq != (uint16_t)(b->last_seq[k] + 1))
    b->seq_breaks++;
  b->got[k]++;
  b->last_seq[k] = v.seq;
  b->last_ts[k] = v.ts;
  if (k == KIND_AUDIO && v.payload_len >= sizeof(b->from))
    memcpy(&b->from, pkt + v.payload_off, sizeof(b->from));
  if (k == KIND_VIDEO && v.payload_len > 1 && pkt[v.payload_off] == 0x10 &&
      !(pkt[v.payload_off + 1] & 1))
    b->keyframes++;
  return 0;
}

static void rxb_close(void *impl) {
  struct rxb *b = impl;
  srtpctx_free(b->rx);
  b->rx = NULL;
}

static const struct stream_ops RXB = {rxb_write, rxb_close};

struct node {
  struct world W;
  struct rxb b;
  uint64_t relay;
};

static struct worker *w0(struct node *n) { return wk(&n->W, 0); }
static struct session *browser(struct node *n) { return sess(&n->W, 0); }

/* A node: one worker with a real UDP socket on 127.0.0.1, run by hand; one browser's session
 * (keys as if DTLS completed) receiving into n->b. pt_shift makes its negotiated payload types
 * differ from the relay's, so the rewriting of payload types shows. */
static void open_node(struct node *n, unsigned seed, int pt_shift) {
  struct mediaplane_config cfg;
  mediaplane_config_default(&cfg);
  cfg.workers = 1;
  cfg.port = 0;
  cfg.bind_ip = "127.0.0.1";
  cfg.public_ip = "127.0.0.1";
  cfg.transports = MEDIAPLANE_UDP;
  cfg.poll_pps = 0;
  memset(n, 0, sizeof(*n));
  open_world_cfg(&n->W, seed, &cfg);
  assert_int_equal(worker_bind(w0(n)), 0);
  add_session(&n->W);
  struct session *s = browser(n);
  n->b.rx = n->W.br[0]->rx;
  n->W.br[0]->rx = NULL;
  for (int k = 0; k < 2; k++) {
    s->outb->out[k].pt += pt_shift;
    n->b.pt[k] = (uint8_t)s->outb->out[k].pt;
    n->b.ssrc[k] = s->out_ssrc[k];
  }
  s->stream = &n->b;
  s->stream_ops = &RXB;
}

static void close_node(struct node *n) { close_world(&n->W); }

static uint64_t ms_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Runs both nodes' workers (commands, sockets, timers, flushes) for about ms, and at least a
 * few rounds whatever the clock says (on a loaded machine one round may take longer than ms: a
 * datagram B flushes in a round is read by A only in the next). */
static void pump(struct node *a, struct node *b, unsigned ms) {
  uint64_t end = ms_now() + ms;
  int rounds = 0;
  do {
    struct node *ns[2] = {a, b};
    for (int i = 0; i < 2; i++) {
      worker__run_commands(w0(ns[i]));
      uv_run(&w0(ns[i])->loop, UV_RUN_NOWAIT);
      worker__flush(w0(ns[i]));
    }
    usleep(500);
  } while (++rounds < 4 || ms_now() < end);
}

static struct sockaddr_in loopback(uint16_t port) {
  struct sockaddr_in in;
  memset(&in, 0, sizeof(in));
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return in;
}

/* Opens the relay on node `n` toward `peer`'s worker. */
static int relay_open(struct node *n, struct node *peer, int side, uint64_t link) {
  struct sockaddr_in to = loopback(mediaplane_port(peer->W.mp, 0));
  struct mediaplane_relay r = {.link_id = link, .side = side,
                               .remote = (const struct sockaddr *)&to, .secret = SECRET};
  return mediaplane_relay_open(n->W.mp, n->W.sids[0], &r, &n->relay);
}

static void audio_from_i(struct node *n, int i, uint16_t seq) {
  struct session *s = sess(&n->W, i);
  uint8_t pkt[1200 + SRTPCTX_TRAILER];
  struct rtp_header h = {.pt = (uint8_t)s->in[KIND_AUDIO].pt, .seq = seq, .ts = seq * 960u,
                         .ssrc = 0xa0d10u};
  int hl = rtp_write_header(pkt, sizeof(pkt), &h);
  assert_true(hl > 0);
  memset(pkt + hl, 0x33, 1100);
  memcpy(pkt + hl, &n->W.sids[i], sizeof(n->W.sids[i]));
  router__on_rtp(s, pkt, (size_t)hl + 1100, worker__now(s->w));
}

static void audio_from(struct node *n, uint16_t seq) { audio_from_i(n, 0, seq); }

static void video_from(struct node *n, uint16_t seq, bool keyframe) {
  struct session *s = browser(n);
  uint8_t pkt[200 + SRTPCTX_TRAILER];
  struct rtp_header h = {.pt = (uint8_t)s->in[KIND_VIDEO].pt, .seq = seq, .ts = seq * 3000u,
                         .ssrc = 0x5151, .marker = true};
  int hl = rtp_write_header(pkt, sizeof(pkt), &h);
  assert_true(hl > 0);
  uint8_t vp8[] = {0x10, keyframe ? 0x00 : 0x01, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00};
  memcpy(pkt + hl, vp8, sizeof(vp8));
  router__on_rtp(s, pkt, (size_t)hl + sizeof(vp8), worker__now(s->w));
}

static void pli_from(struct node *n) {
  struct session *s = browser(n);
  uint8_t pkt[64];
  int len = rtcp_write_pli(pkt, sizeof(pkt), 0x1234, s->out_ssrc[KIND_VIDEO]);
  assert_true(len > 0);
  router__on_rtcp(s, pkt, (size_t)len, worker__now(s->w));
}

/* A raw datagram to node n's worker, as an attacker (or a confused node) would send it. */
static void inject(struct node *n, const uint8_t *buf, size_t len) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in to = loopback(mediaplane_port(n->W.mp, 0));
  assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)len);
  close(fd);
}

static void test_media_crosses_both_ways(void **state) {
  (void)state;
  static struct node A, B;
  open_node(&A, 1, 0);
  open_node(&B, 2, 3);
  assert_int_equal(relay_open(&A, &B, 0, LINK), 0);
  assert_int_equal(relay_open(&B, &A, 1, LINK), 0);
  /* Refusals of the API. */
  uint64_t x;
  assert_int_equal(relay_open(&A, &B, 0, LINK), -EEXIST);
  assert_int_equal(relay_open(&A, &B, 2, LINK + 1), -EINVAL);
  assert_int_equal(relay_open(&A, &B, 0, 0), -EINVAL);
  struct mediaplane_relay bad = {.link_id = 9, .side = 0, .remote = NULL, .secret = SECRET};
  assert_int_equal(mediaplane_relay_open(A.W.mp, 424242, &bad, &x), -ENOENT);
  assert_int_equal(mediaplane_relay_open(A.W.mp, A.relay, &bad, &x), -ENOENT);
  pump(&A, &B, 30);
  assert_non_null(worker__session(w0(&A), A.relay));
  assert_non_null(worker__session(w0(&B), B.relay));

  /* Audio both ways: every packet arrives, with the receiver's own SSRC and payload type,
   * consecutive sequence numbers and the sender's payload. */
  for (uint16_t i = 0; i < 50; i++) {
    audio_from(&A, (uint16_t)(1000 + i));
    audio_from(&B, (uint16_t)(7000 + i));
    pump(&A, &B, 1);
  }
  pump(&A, &B, 30);
  assert_int_equal(B.b.got[KIND_AUDIO], 50);
  assert_int_equal(A.b.got[KIND_AUDIO], 50);
  assert_true(B.b.from == A.W.sids[0]);
  assert_true(A.b.from == B.W.sids[0]);
  assert_int_equal(A.b.seq_breaks + B.b.seq_breaks, 0);
  assert_int_equal(A.b.strangers + B.b.strangers, 0);

  /* Video waits for a keyframe at each receiver, then flows. */
  video_from(&A, 1, false);
  pump(&A, &B, 20);
  assert_int_equal(B.b.got[KIND_VIDEO], 0);
  video_from(&A, 2, true);
  video_from(&A, 3, false);
  pump(&A, &B, 20);
  assert_int_equal(B.b.got[KIND_VIDEO], 2);
  assert_int_equal(B.b.keyframes, 1);
  /* A lost packet of the sender shows as the same gap at the receiver, not a new one. */
  video_from(&A, 5, false);
  pump(&A, &B, 20);
  assert_int_equal(B.b.got[KIND_VIDEO], 3);
  assert_int_equal(B.b.seq_breaks, 1);
  /* B's camera too: once A's browser has its keyframe, nobody asks for one any more. */
  video_from(&B, 1, true);
  pump(&A, &B, 20);
  assert_int_equal(A.b.got[KIND_VIDEO], 1);
  /* A's browser asks for a keyframe of what it receives (B's camera): the PLI crosses the
   * relay and reaches B's browser. Past the sender's 300 ms window of the link's own PLIs. */
  pump(&A, &B, 400);
  unsigned before = B.b.plis;
  pli_from(&A);
  pump(&A, &B, 30);
  assert_int_equal(B.b.plis, before + 1);

  /* B's browser lost the packet A's browser never sent (A's seq 4): its NACK is translated
   * through B's rewriting, crosses the relay, is translated through A's and reaches A's browser
   * as seq 4. */
  uint8_t fb[64];
  uint16_t lost = (uint16_t)(B.b.last_seq[KIND_VIDEO] - 1);
  int fl = rtcp_write_nack(fb, sizeof(fb), 0x1234, B.b.ssrc[KIND_VIDEO], &lost, 1);
  assert_true(fl > 0);
  router__on_rtcp(browser(&B), fb, (size_t)fl, worker__now(w0(&B)));
  /* Its REMB reaches A's browser too. */
  uint32_t media = B.b.ssrc[KIND_VIDEO];
  fl = rtcp_write_remb(fb, sizeof(fb), 0x1234, 500000, &media, 1);
  assert_true(fl > 0);
  router__on_rtcp(browser(&B), fb, (size_t)fl, worker__now(w0(&B)));
  pump(&A, &B, 30);
  assert_int_equal(A.b.nacks, 1);
  assert_int_equal(A.b.nacked, 4);
  assert_true(A.b.remb == 500000);

  struct mediaplane_stats sa, sb;
  mediaplane_get_stats(A.W.mp, &sa);
  mediaplane_get_stats(B.W.mp, &sb);
  assert_true(sb.relay_rx_packets >= 50 + 4 && sb.relay_rx_packets <= sa.relay_tx_packets);
  assert_true(sa.relay_rx_packets >= 50 + 2 && sa.relay_rx_packets <= sb.relay_tx_packets);
  assert_true(sa.relay_tx_bytes > 50 * 1100);
  assert_true(sa.relay_tx_datagrams > 0 && sa.relay_tx_datagrams < sa.relay_tx_packets);
  assert_true(sb.relay_rx_datagrams <= sa.relay_tx_datagrams);
  assert_int_equal(sa.relay_auth_failed + sa.relay_replayed + sa.relay_malformed, 0);
  /* Packets for the same remote worker in one loop turn cross in one datagram (a bundle). */
  struct mediaplane_stats s0, s1;
  unsigned vgot = B.b.got[KIND_VIDEO];
  mediaplane_get_stats(B.W.mp, &s0);
  for (uint16_t i = 6; i < 9; i++)
    video_from(&A, i, false);
  pump(&A, &B, 30);
  mediaplane_get_stats(B.W.mp, &s1);
  assert_int_equal(B.b.got[KIND_VIDEO], vgot + 3);
  assert_true(s1.relay_rx_packets - s0.relay_rx_packets >= 3);
  assert_true(s1.relay_rx_datagrams - s0.relay_rx_datagrams < 3);


  /* B's visitor meets a local stranger c for a while, then the relay again: what b receives
   * keeps its SSRC and continues its sequence numbers across the three sources. */
  add_session(&B.W);
  mediaplane_unlink(B.W.mp, B.relay);
  mediaplane_link(B.W.mp, B.W.sids[0], B.W.sids[1]);
  pump(&A, &B, 20);
  unsigned got = B.b.got[KIND_AUDIO];
  for (uint16_t i = 0; i < 5; i++)
    audio_from_i(&B, 1, (uint16_t)(30000 + i * 7)); /* another numbering entirely */
  pump(&A, &B, 20);
  assert_int_equal(B.b.got[KIND_AUDIO], got + 5);
  assert_true(B.b.from == B.W.sids[1]);
  mediaplane_unlink(B.W.mp, B.W.sids[1]);
  mediaplane_link(B.W.mp, B.W.sids[0], B.relay);
  pump(&A, &B, 20);
  for (uint16_t i = 0; i < 5; i++)
    audio_from(&A, (uint16_t)(2000 + i));
  pump(&A, &B, 30);
  assert_int_equal(B.b.got[KIND_AUDIO], got + 10);
  assert_true(B.b.from == A.W.sids[0]);
  /* c's own numbering jumped by 7 each time: the one break of B's video above plus those. */
  assert_int_equal(B.b.seq_breaks, 1 + 4);
  assert_int_equal(B.b.strangers, 0);
  close_node(&A);
  close_node(&B);
}

/* Seals with a counter well ahead of what the link used: so a refusal is for its key or its
 * bytes, not for the replay window (which is checked first). */
static void seal_ahead(struct relaywire *r, const uint8_t *plain, size_t len, uint8_t *wire,
                       size_t cap, size_t *n) {
  for (int i = 0; i < 3000; i++)
    assert_int_equal(relaywire_seal(r, RELAYWIRE_RTP, plain, len, wire, cap, n), 0);
}

static void test_forged_replayed_refused(void **state) {
  (void)state;
  static struct node A, B;
  open_node(&A, 3, 0);
  open_node(&B, 4, 0);
  assert_int_equal(relay_open(&A, &B, 0, LINK), 0);
  assert_int_equal(relay_open(&B, &A, 1, LINK), 0);
  pump(&A, &B, 30);
  audio_from(&A, 1);
  pump(&A, &B, 30);
  assert_int_equal(B.b.got[KIND_AUDIO], 1);
  struct mediaplane_stats st;

  /* An attacker's copy of side 0's key state would seal counter 0 again: a replay. */
  uint8_t plain[100], wire[200];
  struct rtp_header h = {.pt = RELAY_PT_AUDIO, .seq = 2, .ts = 1920,
                         .ssrc = relay__ssrc(LINK, 0, KIND_AUDIO)};
  int hl = rtp_write_header(plain, sizeof(plain), &h);
  memset(plain + hl, 0, sizeof(plain) - (size_t)hl);
  struct relaywire *mine = relaywire_new(SECRET, LINK, 0);
  size_t n;
  assert_int_equal(relaywire_seal(mine, RELAYWIRE_RTP, plain, sizeof(plain), wire, sizeof(wire), &n), 0);
  inject(&B, wire, n);
  /* The same packet under another cluster secret, and a bit flipped in a genuine one. */
  uint8_t other[RELAYWIRE_SECRET_LEN] = {9};
  struct relaywire *theirs = relaywire_new(other, LINK, 0);
  seal_ahead(theirs, plain, sizeof(plain), wire, sizeof(wire), &n);
  inject(&B, wire, n);
  seal_ahead(mine, plain, sizeof(plain), wire, sizeof(wire), &n);
  wire[n - 1] ^= 0x80;
  inject(&B, wire, n);
  /* Reflected: side 1's own datagram sent back to it. */
  struct relaywire *side1 = relaywire_new(SECRET, LINK, 1);
  seal_ahead(side1, plain, sizeof(plain), wire, sizeof(wire), &n);
  inject(&B, wire, n);
  /* Malformed, and for a link nobody opened. */
  const uint8_t junk[] = {RELAYWIRE_MAGIC, 7, 1, 0, 1, 2, 3};
  inject(&B, junk, sizeof(junk));
  struct relaywire *stranger = relaywire_new(SECRET, LINK + 5, 0);
  assert_int_equal(relaywire_seal(stranger, RELAYWIRE_RTP, plain, sizeof(plain), wire, sizeof(wire), &n), 0);
  inject(&B, wire, n);
  pump(&A, &B, 40);
  mediaplane_get_stats(B.W.mp, &st);
  assert_int_equal(st.relay_replayed, 1);
  assert_int_equal(st.relay_auth_failed, 3);
  assert_int_equal(st.relay_malformed, 1);
  assert_int_equal(st.relay_unknown, 1);
  assert_int_equal(B.b.got[KIND_AUDIO], 1);
  assert_int_equal(B.b.strangers, 0);

  /* The genuine link still works after all that. */
  audio_from(&A, 2);
  pump(&A, &B, 30);
  assert_int_equal(B.b.got[KIND_AUDIO], 2);
  assert_int_equal(B.b.seq_breaks, 0);

  /* Closing the relay on A stops forwarding: nothing more is sent (not even A's periodic
   * datagrams, which would otherwise reach B during the bundles below), B receives nothing. */
  mediaplane_relay_close(A.W.mp, A.relay);
  pump(&A, &B, 30);
  assert_null(worker__session(w0(&A), A.relay));

  /* Bundles: a forged datagram inside one is refused alone, the genuine ones beside it are
   * delivered; a malformed bundle is refused whole. (Sealed with `mine`, whose counter is past
   * A's; A's relay is closed, so every datagram B gets here is one of these.) */
  uint8_t bundle[1400];
  struct relaywire_bundle bb;
  mediaplane_get_stats(B.W.mp, &st);
  uint64_t accepted = st.relay_rx_packets;
  for (int round = 0; round < 2; round++) {
    relaywire_bundle_init(&bb, bundle, sizeof(bundle));
    for (int i = 0; i < 3; i++) {
      h.seq = (uint16_t)(3 + 3 * round + i);
      h.ts = h.seq * 960u;
      assert_true(rtp_write_header(plain, sizeof(plain), &h) == hl);
      size_t room;
      uint8_t *at = relaywire_bundle_room(&bb, &room);
      assert_non_null(at);
      assert_int_equal(relaywire_seal(mine, RELAYWIRE_RTP, plain, sizeof(plain), at, room, &n), 0);
      if (i == 1)
        at[RELAYWIRE_HDR + 20] ^= 1; /* forged */
      assert_int_equal(relaywire_bundle_add(&bb, n), 0);
    }
    size_t blen;
    uint8_t *dg = (uint8_t *)relaywire_bundle_datagram(&bb, &blen);
    if (round == 1)
      dg[3] = 2; /* the count disagrees with what follows */
    inject(&B, dg, blen);
    pump(&A, &B, 30);
  }
  mediaplane_get_stats(B.W.mp, &st);
  assert_int_equal(st.relay_auth_failed, 3 + 1);
  assert_int_equal(st.relay_malformed, 1 + 1);
  assert_true(st.relay_rx_packets == accepted + 2);
  assert_int_equal(B.b.strangers, 0);
  unsigned b_got = B.b.got[KIND_AUDIO];

  struct mediaplane_stats sa;
  mediaplane_get_stats(A.W.mp, &sa);
  uint64_t tx = sa.relay_tx_packets;
  for (uint16_t i = 3; i < 10; i++)
    audio_from(&A, i);
  pump(&A, &B, 30);
  mediaplane_get_stats(A.W.mp, &sa);
  assert_true(sa.relay_tx_packets == tx);
  assert_true(sa.relay_dropped >= 7);
  assert_int_equal(B.b.got[KIND_AUDIO], b_got);
  /* What B still sends toward the closed end is refused there as for no link. */
  audio_from(&B, 100);
  pump(&A, &B, 30);
  mediaplane_get_stats(A.W.mp, &sa);
  assert_true(sa.relay_unknown >= 1);
  assert_int_equal(A.b.got[KIND_AUDIO], 0);
  /* The link id can be opened again once closed. */
  assert_int_equal(relay_open(&A, &B, 0, LINK), 0);
  relaywire_free(mine);
  relaywire_free(theirs);
  relaywire_free(side1);
  relaywire_free(stranger);
  close_node(&A);
  close_node(&B);
}

int main(void) {
  srtpctx_global_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_media_crosses_both_ways),
      cmocka_unit_test(test_forged_replayed_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
