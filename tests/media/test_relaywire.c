/* test_relaywire.c -- unit tests for media/relaywire.c: the node-to-node datagrams (format,
 * keys, sealing and opening, the replay window, and every way a datagram is refused). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "media/demux.h"
#include "media/relaywire.h"

static const uint8_t SECRET[RELAYWIRE_SECRET_LEN] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
#define LINK 0x0102030405060708ull

struct pair {
  struct relaywire *a, *b; /* the two ends of one link: sides 0 and 1 */
};

static void open_pair(struct pair *p) {
  p->a = relaywire_new(SECRET, LINK, 0);
  p->b = relaywire_new(SECRET, LINK, 1);
  assert_non_null(p->a);
  assert_non_null(p->b);
}

static void close_pair(struct pair *p) {
  relaywire_free(p->a);
  relaywire_free(p->b);
}

/* A fake RTP packet of len bytes (len >= 12). */
static void rtp(uint8_t *buf, size_t len, uint8_t fill) {
  memset(buf, fill, len);
  buf[0] = 0x80;
  buf[1] = 96;
}

static size_t seal(struct relaywire *r, int kind, const uint8_t *plain, size_t len, uint8_t *out) {
  size_t n = 0;
  assert_int_equal(relaywire_seal(r, kind, plain, len, out, 1600, &n), 0);
  assert_int_equal(n, len + RELAYWIRE_OVERHEAD);
  return n;
}

static int open_(struct relaywire *r, const uint8_t *buf, size_t len, size_t *plen,
                 uint8_t *plain) {
  struct relaywire_hdr h;
  return relaywire_open(r, buf, len, &h, plain, 1600, plen);
}

static void test_roundtrip_both_ways(void **state) {
  (void)state;
  struct pair p;
  open_pair(&p);
  uint8_t plain[1200], wire[1600], out[1600];
  rtp(plain, sizeof(plain), 0x33);
  size_t n = seal(p.a, RELAYWIRE_RTP, plain, sizeof(plain), wire);
  /* The header is in clear, the payload is not. */
  assert_int_equal(wire[0], RELAYWIRE_MAGIC);
  assert_int_equal(wire[1], RELAYWIRE_VERSION);
  assert_int_equal(wire[2], RELAYWIRE_RTP);
  assert_int_equal(wire[3], 0);
  assert_memory_not_equal(wire + RELAYWIRE_HDR, plain, 64);
  struct relaywire_hdr h;
  size_t plen = 0;
  assert_int_equal(relaywire_open(p.b, wire, n, &h, out, sizeof(out), &plen), 0);
  assert_int_equal(plen, sizeof(plain));
  assert_memory_equal(out, plain, plen);
  assert_int_equal(h.kind, RELAYWIRE_RTP);
  assert_true(h.link_id == LINK);
  assert_true(h.counter == 0);
  /* And back, RTCP. */
  uint8_t rtcp[12] = {0x81, 206, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
  n = seal(p.b, RELAYWIRE_RTCP, rtcp, sizeof(rtcp), wire);
  assert_int_equal(relaywire_open(p.a, wire, n, &h, out, sizeof(out), &plen), 0);
  assert_int_equal(h.kind, RELAYWIRE_RTCP);
  assert_int_equal(plen, sizeof(rtcp));
  assert_memory_equal(out, rtcp, sizeof(rtcp));
  close_pair(&p);
}

static void test_in_place(void **state) {
  (void)state;
  struct pair p;
  open_pair(&p);
  uint8_t buf[1600], ref[1000];
  rtp(ref, sizeof(ref), 0x5a);
  memcpy(buf + RELAYWIRE_HDR, ref, sizeof(ref));
  size_t n = 0, plen = 0;
  assert_int_equal(relaywire_seal(p.a, RELAYWIRE_RTP, buf + RELAYWIRE_HDR, sizeof(ref), buf,
                                  sizeof(buf), &n), 0);
  struct relaywire_hdr h;
  assert_int_equal(relaywire_open(p.b, buf, n, &h, buf + RELAYWIRE_HDR, sizeof(buf), &plen), 0);
  assert_int_equal(plen, sizeof(ref));
  assert_memory_equal(buf + RELAYWIRE_HDR, ref, sizeof(ref));
  close_pair(&p);
}

/* RFC 7983: a relay datagram is none of STUN, DTLS, RTP/RTCP on the shared port. */
static void test_demux_apart(void **state) {
  (void)state;
  struct pair p;
  open_pair(&p);
  uint8_t plain[100], wire[1600];
  rtp(plain, sizeof(plain), 1);
  size_t n = seal(p.a, RELAYWIRE_RTP, plain, sizeof(plain), wire);
  assert_int_equal(demux_classify(wire, n), DEMUX_UNKNOWN);
  assert_true(relaywire_is(wire, n));
  assert_false(relaywire_is(plain, sizeof(plain)));
  assert_false(relaywire_is(wire, 0));
  close_pair(&p);
}

static void test_keys_differ(void **state) {
  (void)state;
  uint8_t k[4][RELAYWIRE_KEY_LEN], again[RELAYWIRE_KEY_LEN];
  assert_int_equal(relaywire_derive_key(SECRET, LINK, 0, k[0]), 0);
  assert_int_equal(relaywire_derive_key(SECRET, LINK, 1, k[1]), 0);
  assert_int_equal(relaywire_derive_key(SECRET, LINK + 1, 0, k[2]), 0);
  uint8_t other[RELAYWIRE_SECRET_LEN];
  memcpy(other, SECRET, sizeof(other));
  other[31] ^= 1;
  assert_int_equal(relaywire_derive_key(other, LINK, 0, k[3]), 0);
  for (int i = 0; i < 4; i++)
    for (int j = i + 1; j < 4; j++)
      assert_memory_not_equal(k[i], k[j], RELAYWIRE_KEY_LEN);
  assert_int_equal(relaywire_derive_key(SECRET, LINK, 0, again), 0);
  assert_memory_equal(k[0], again, RELAYWIRE_KEY_LEN); /* deterministic: no exchange needed */
  assert_int_equal(relaywire_derive_key(SECRET, LINK, 2, again), -EINVAL);
  assert_null(relaywire_new(SECRET, LINK, 2));
  assert_null(relaywire_new(SECRET, LINK, -1));
}

/* A datagram sealed by side 0 does not open at side 0 (reflected back to its sender), nor under
 * another link's keys, nor under another cluster secret. */
static void test_wrong_keys_refused(void **state) {
  (void)state;
  struct pair p;
  open_pair(&p);
  uint8_t plain[200], wire[1600], out[1600];
  size_t plen;
  rtp(plain, sizeof(plain), 7);
  size_t n = seal(p.a, RELAYWIRE_RTP, plain, sizeof(plain), wire);
  assert_int_equal(open_(p.a, wire, n, &plen, out), -EACCES);
  struct relaywire *other_link = relaywire_new(SECRET, LINK + 1, 1);
  assert_int_equal(open_(other_link, wire, n, &plen, out), -ENOENT);
  relaywire_free(other_link);
  uint8_t s2[RELAYWIRE_SECRET_LEN] = {0};
  struct relaywire *other_cluster = relaywire_new(s2, LINK, 1);
  assert_int_equal(open_(other_cluster, wire, n, &plen, out), -EACCES);
  relaywire_free(other_cluster);
  /* The right end still opens it: the refusals changed nothing. */
  assert_int_equal(open_(p.b, wire, n, &plen, out), 0);
  close_pair(&p);
}

/* Every bit of the datagram is covered: flipping any one is refused, and the genuine one still
 * opens afterwards. */
static void test_every_bit_flip_refused(void **state) {
  (void)state;
  struct pair p;
  open_pair(&p);
  uint8_t plain[40], wire[1600], bad[1600], out[1600];
  size_t plen;
  rtp(plain, sizeof(plain), 9);
  size_t n = seal(p.a, RELAYWIRE_RTP, plain, sizeof(plain), wire);
  for (size_t i = 0; i < n; i++)
    for (int b = 0; b < 8; b++) {
      memcpy(bad, wire, n);
      bad[i] ^= (uint8_t)(1 << b);
      int rc = open_(p.b, bad, n, &plen, out);
      if (rc == 0)
        fail_msg("byte %zu bit %d flipped: accepted", i, b);
    }
  assert_int_equal(open_(p.b, wire, n, &plen, out), 0);
  close_pair(&p);
}

static void test_malformed(void **state) {
  (void)state;
  struct pair p;
  open_pair(&p);
  uint8_t plain[40], wire[1600], bad[1600], out[1600];
  size_t plen;
  struct relaywire_hdr h;
  rtp(plain, sizeof(plain), 9);
  size_t n = seal(p.a, RELAYWIRE_RTP, plain, sizeof(plain), wire);
  /* Truncated anywhere: refused, never read past len. */
  for (size_t len = 0; len < n; len++) {
    int rc = open_(p.b, wire, len, &plen, out);
    assert_true(rc == -EBADMSG || rc == -EACCES);
    if (len <= RELAYWIRE_OVERHEAD)
      assert_int_equal(rc, -EBADMSG);
  }
  assert_int_equal(relaywire_peek(NULL, 0, &h), -EBADMSG);
  memcpy(bad, wire, n);
  bad[0] = 0x80;
  assert_int_equal(relaywire_peek(bad, n, &h), -EBADMSG);
  memcpy(bad, wire, n);
  bad[1] = 2;
  assert_int_equal(relaywire_peek(bad, n, &h), -EPROTONOSUPPORT);
  assert_int_equal(open_(p.b, bad, n, &plen, out), -EPROTONOSUPPORT);
  memcpy(bad, wire, n);
  bad[2] = 3;
  assert_int_equal(open_(p.b, bad, n, &plen, out), -EBADMSG);
  memcpy(bad, wire, n);
  bad[3] = 1;
  assert_int_equal(open_(p.b, bad, n, &plen, out), -EBADMSG);
  /* Too small an output: refused, and the datagram still opens later. */
  assert_int_equal(relaywire_open(p.b, wire, n, &h, out, sizeof(plain) - 1, &plen), -EMSGSIZE);
  assert_int_equal(relaywire_peek(wire, n, &h), 0);
  assert_true(h.link_id == LINK && h.counter == 0 && h.kind == RELAYWIRE_RTP);
  assert_int_equal(open_(p.b, wire, n, &plen, out), 0);
  /* Sealing: bad kind, empty payload, too little room; the counter is not consumed. */
  size_t m;
  assert_int_equal(relaywire_seal(p.a, 0, plain, 10, wire, sizeof(wire), &m), -EINVAL);
  assert_int_equal(relaywire_seal(p.a, RELAYWIRE_RTP, plain, 0, wire, sizeof(wire), &m), -EINVAL);
  assert_int_equal(relaywire_seal(p.a, RELAYWIRE_RTP, plain, 10, wire, 10 + RELAYWIRE_OVERHEAD - 1,
                                  &m), -EMSGSIZE);
  n = seal(p.a, RELAYWIRE_RTP, plain, 10, wire);
  assert_int_equal(relaywire_peek(wire, n, &h), 0);
  assert_true(h.counter == 1);
  close_pair(&p);
}

static void test_replay_window(void **state) {
  (void)state;
  struct pair p;
  open_pair(&p);
  enum { N = 600 };
  static uint8_t wire[N][64];
  size_t len[N];
  uint8_t plain[20], out[1600];
  size_t plen;
  rtp(plain, sizeof(plain), 1);
  for (int i = 0; i < N; i++)
    len[i] = seal(p.a, RELAYWIRE_RTP, plain, sizeof(plain), wire[i]);
  /* In order, then a duplicate. */
  assert_int_equal(open_(p.b, wire[0], len[0], &plen, out), 0);
  assert_int_equal(open_(p.b, wire[0], len[0], &plen, out), -EALREADY);
  /* Reordered within the window: accepted once each. */
  assert_int_equal(open_(p.b, wire[10], len[10], &plen, out), 0);
  for (int i = 9; i >= 1; i--)
    assert_int_equal(open_(p.b, wire[i], len[i], &plen, out), 0);
  for (int i = 0; i <= 10; i++)
    assert_int_equal(open_(p.b, wire[i], len[i], &plen, out), -EALREADY);
  /* A jump: 300 is accepted; 44 is exactly RELAYWIRE_WINDOW behind (stale), 45 is the oldest
   * still in the window and never seen. */
  assert_int_equal(open_(p.b, wire[300], len[300], &plen, out), 0);
  assert_int_equal(open_(p.b, wire[44], len[44], &plen, out), -ESTALE);
  assert_int_equal(open_(p.b, wire[5], len[5], &plen, out), -ESTALE);
  assert_int_equal(open_(p.b, wire[45], len[45], &plen, out), 0);
  assert_int_equal(open_(p.b, wire[45], len[45], &plen, out), -EALREADY);
  /* A forged datagram with a far-ahead counter does not move the window. */
  uint8_t forged[64];
  memcpy(forged, wire[599], len[599]);
  forged[RELAYWIRE_HDR] ^= 1;
  assert_int_equal(open_(p.b, forged, len[599], &plen, out), -EACCES);
  for (int i = 46; i < 300; i++)
    assert_int_equal(open_(p.b, wire[i], len[i], &plen, out), 0);
  /* A jump by more than the window clears it; everything after the jump is new. */
  assert_int_equal(open_(p.b, wire[599], len[599], &plen, out), 0);
  for (int i = 344; i < 599; i++)
    assert_int_equal(open_(p.b, wire[i], len[i], &plen, out), 0);
  assert_int_equal(open_(p.b, wire[343], len[343], &plen, out), -ESTALE);
  close_pair(&p);
}


/* ---- bundles ---- */

/* Seals k packets of the given sizes (alternately on links a->b of pairs p and q) into a
 * bundle in buf; returns the datagram's length and where it starts in *dg. */
static size_t bundle_of(struct relaywire *x, struct relaywire *y, const size_t *sizes, unsigned k,
                        uint8_t *buf, size_t cap, const uint8_t **dg) {
  struct relaywire_bundle b;
  relaywire_bundle_init(&b, buf, cap);
  for (unsigned i = 0; i < k; i++) {
    uint8_t plain[1500];
    rtp(plain, sizes[i], (uint8_t)(i + 1));
    size_t room, n;
    assert_true(relaywire_bundle_fits(&b, sizes[i] + RELAYWIRE_OVERHEAD, RELAYWIRE_BUNDLE_MAX));
    uint8_t *at = relaywire_bundle_room(&b, &room);
    assert_non_null(at);
    assert_int_equal(relaywire_seal(i % 2 ? y : x, RELAYWIRE_RTP, plain, sizes[i], at, room, &n), 0);
    assert_int_equal(relaywire_bundle_add(&b, n), 0);
  }
  size_t len = 0;
  *dg = relaywire_bundle_datagram(&b, &len);
  return len;
}

static void test_bundle_roundtrip(void **state) {
  (void)state;
  struct pair p, q;
  open_pair(&p);
  q.a = relaywire_new(SECRET, LINK + 1, 0);
  q.b = relaywire_new(SECRET, LINK + 1, 1);
  assert_non_null(q.a);
  assert_non_null(q.b);
  uint8_t buf[2000];
  const uint8_t *dg;
  /* Nothing, then one datagram alone: the bare datagram, not a bundle. */
  struct relaywire_bundle b;
  relaywire_bundle_init(&b, buf, sizeof(buf));
  size_t len = 0;
  assert_null(relaywire_bundle_datagram(&b, &len));
  size_t one[] = {100};
  len = bundle_of(p.a, q.a, one, 1, buf, sizeof(buf), &dg);
  assert_int_equal(len, 100 + RELAYWIRE_OVERHEAD);
  assert_false(relaywire_is_bundle(dg, len));
  struct relaywire_hdr h;
  assert_int_equal(relaywire_peek(dg, len, &h), 0);
  uint8_t out[1600];
  size_t plen;
  assert_int_equal(open_(p.b, dg, len, &plen, out), 0);
  /* Four datagrams of two links: count 4, each opens with its own link's key, in order. */
  size_t sizes[] = {120, 40, 700, 12};
  len = bundle_of(p.a, q.a, sizes, 4, buf, sizeof(buf), &dg);
  assert_ptr_equal(dg, buf);
  assert_int_equal(len, RELAYWIRE_BUNDLE_HDR + 4 * (RELAYWIRE_BUNDLE_LEN + RELAYWIRE_OVERHEAD) +
                            120 + 40 + 700 + 12);
  assert_true(relaywire_is_bundle(dg, len));
  assert_int_equal(buf[3], 4);
  /* relaywire_peek and relaywire_open refuse a bundle: it is not one datagram. */
  assert_int_equal(relaywire_peek(buf, len, &h), -EBADMSG);
  assert_int_equal(open_(p.b, buf, len, &plen, out), -EBADMSG);
  struct relaywire_bundle_iter it;
  assert_int_equal(relaywire_bundle_parse(buf, len, &it), 0);
  uint8_t *d;
  size_t n;
  unsigned i = 0;
  while (relaywire_bundle_next(&it, &d, &n)) {
    assert_true(i < 4);
    /* In place, as a worker opens them. */
    assert_int_equal(relaywire_open(i % 2 ? q.b : p.b, d, n, &h, d + RELAYWIRE_HDR,
                                    n - RELAYWIRE_HDR, &plen), 0);
    assert_int_equal(plen, sizes[i]);
    assert_int_equal(d[RELAYWIRE_HDR + 5], i + 1);
    i++;
  }
  assert_int_equal(i, 4);
  assert_false(relaywire_bundle_next(&it, &d, &n));
  close_pair(&q);
  close_pair(&p);
}

static void test_bundle_limits(void **state) {
  (void)state;
  struct pair p;
  open_pair(&p);
  /* A sender's limit: what RELAYWIRE_BUNDLE_MAX takes, and no more. */
  static uint8_t buf[RELAYWIRE_BUNDLE_HDR + 300 * 64];
  struct relaywire_bundle b;
  relaywire_bundle_init(&b, buf, sizeof(buf));
  assert_true(relaywire_bundle_fits(&b, 1500, RELAYWIRE_BUNDLE_MAX)); /* empty: goes alone */
  size_t per = RELAYWIRE_BUNDLE_LEN + 600 + RELAYWIRE_OVERHEAD;
  uint8_t plain[600];
  rtp(plain, sizeof(plain), 3);
  size_t room, n;
  for (int k = 0; k < 2; k++) {
    uint8_t *at = relaywire_bundle_room(&b, &room);
    assert_int_equal(relaywire_seal(p.a, RELAYWIRE_RTP, plain, 600, at, room, &n), 0);
    assert_int_equal(relaywire_bundle_add(&b, n), 0);
  }
  assert_int_equal(b.len, RELAYWIRE_BUNDLE_HDR + 2 * per);
  assert_false(relaywire_bundle_fits(&b, 600 + RELAYWIRE_OVERHEAD, RELAYWIRE_BUNDLE_MAX));
  assert_true(relaywire_bundle_fits(&b, RELAYWIRE_BUNDLE_MAX - b.len - RELAYWIRE_BUNDLE_LEN,
                                    RELAYWIRE_BUNDLE_MAX));
  assert_false(relaywire_bundle_fits(&b, RELAYWIRE_BUNDLE_MAX - b.len - RELAYWIRE_BUNDLE_LEN + 1,
                                     RELAYWIRE_BUNDLE_MAX));
  /* add refuses what is too short to be a datagram or longer than the room. */
  assert_int_equal(relaywire_bundle_add(&b, RELAYWIRE_OVERHEAD), -EINVAL);
  assert_non_null(relaywire_bundle_room(&b, &room));
  assert_int_equal(relaywire_bundle_add(&b, room + 1), -EINVAL);
  /* At most 255 datagrams, however much room there is. */
  relaywire_bundle_init(&b, buf, sizeof(buf));
  for (int k = 0; k < RELAYWIRE_BUNDLE_COUNT; k++) {
    uint8_t *at = relaywire_bundle_room(&b, &room);
    assert_non_null(at);
    assert_int_equal(relaywire_seal(p.a, RELAYWIRE_RTP, plain, 12, at, room, &n), 0);
    assert_int_equal(relaywire_bundle_add(&b, n), 0);
  }
  assert_null(relaywire_bundle_room(&b, &room));
  assert_false(relaywire_bundle_fits(&b, 48, sizeof(buf)));
  size_t len;
  const uint8_t *dg = relaywire_bundle_datagram(&b, &len);
  assert_int_equal(dg[3], 255);
  struct relaywire_bundle_iter it;
  assert_int_equal(relaywire_bundle_parse(buf, len, &it), 0);
  /* A buffer too small for even one datagram has no room. */
  uint8_t tiny[RELAYWIRE_BUNDLE_HDR + RELAYWIRE_BUNDLE_LEN + RELAYWIRE_OVERHEAD];
  relaywire_bundle_init(&b, tiny, sizeof(tiny));
  assert_null(relaywire_bundle_room(&b, &room));
  close_pair(&p);
}

static void test_bundle_malformed(void **state) {
  (void)state;
  struct pair p;
  open_pair(&p);
  uint8_t buf[2000], bad[2000];
  const uint8_t *dg;
  size_t sizes[] = {30, 50, 20};
  size_t len = bundle_of(p.a, p.a, sizes, 3, buf, sizeof(buf), &dg);
  struct relaywire_bundle_iter it;
  assert_int_equal(relaywire_bundle_parse(buf, len, &it), 0);
  /* Truncated anywhere, or one byte too long: refused whole. */
  for (size_t l = 0; l < len; l++) {
    memcpy(bad, buf, len);
    assert_int_equal(relaywire_bundle_parse(bad, l, &it), -EBADMSG);
  }
  memcpy(bad, buf, len);
  bad[len] = 0;
  assert_int_equal(relaywire_bundle_parse(bad, len + 1, &it), -EBADMSG);
  assert_int_equal(relaywire_bundle_parse(NULL, 0, &it), -EBADMSG);
  /* Header: magic, version, kind, a count of 0, 1, or one that differs from what follows. */
  struct { size_t at; uint8_t v; int rc; } cases[] = {
      {0, 0x80, -EBADMSG}, {1, 2, -EPROTONOSUPPORT}, {2, RELAYWIRE_RTP, -EBADMSG},
      {3, 0, -EBADMSG}, {3, 1, -EBADMSG}, {3, 2, -EBADMSG}, {3, 4, -EBADMSG}, {3, 255, -EBADMSG},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    memcpy(bad, buf, len);
    bad[cases[i].at] = cases[i].v;
    assert_int_equal(relaywire_bundle_parse(bad, len, &it), cases[i].rc);
  }
  /* Lengths: shorter than a datagram, running past the end, or off by one either way. */
  size_t l0 = RELAYWIRE_BUNDLE_HDR; /* the first length */
  uint16_t first = (uint16_t)(30 + RELAYWIRE_OVERHEAD);
  uint16_t lens[] = {0, 1, RELAYWIRE_OVERHEAD, (uint16_t)(first - 1), (uint16_t)(first + 1),
                     0xffff};
  for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    memcpy(bad, buf, len);
    bad[l0] = (uint8_t)(lens[i] >> 8);
    bad[l0 + 1] = (uint8_t)lens[i];
    assert_int_equal(relaywire_bundle_parse(bad, len, &it), -EBADMSG);
  }
  /* A datagram inside with a bad clear header, or itself a bundle: refused whole. */
  size_t d0 = l0 + RELAYWIRE_BUNDLE_LEN;
  uint8_t inner[][2] = {{0, 0x80}, {1, 2}, {2, RELAYWIRE_BUNDLE}, {2, 0}, {3, 1}};
  for (size_t i = 0; i < sizeof(inner) / sizeof(inner[0]); i++) {
    memcpy(bad, buf, len);
    bad[d0 + inner[i][0]] = inner[i][1];
    assert_int_equal(relaywire_bundle_parse(bad, len, &it), -EBADMSG);
  }
  /* A corrupted ciphertext inside parses (the parse does not open); that datagram alone then
   * fails to open, and the others open. */
  memcpy(bad, buf, len);
  bad[d0 + RELAYWIRE_HDR + 3] ^= 0x40;
  assert_int_equal(relaywire_bundle_parse(bad, len, &it), 0);
  uint8_t *d;
  size_t n, plen;
  uint8_t out[1600];
  int ok = 0, refused = 0;
  while (relaywire_bundle_next(&it, &d, &n)) {
    int rc = open_(p.b, d, n, &plen, out);
    ok += rc == 0;
    refused += rc == -EACCES;
  }
  assert_int_equal(ok, 2);
  assert_int_equal(refused, 1);
  /* The same bundle again: its two good datagrams are replays now; the first opens at last. */
  assert_int_equal(relaywire_bundle_parse(buf, len, &it), 0);
  ok = refused = 0;
  while (relaywire_bundle_next(&it, &d, &n)) {
    int rc = open_(p.b, d, n, &plen, out);
    ok += rc == 0;
    refused += rc == -EALREADY;
  }
  assert_int_equal(ok, 1);
  assert_int_equal(refused, 2);
  /* Only a bundle's first four bytes make relaywire_is_bundle true. */
  assert_false(relaywire_is_bundle(buf, 3));
  assert_true(relaywire_is_bundle(buf, 4));
  close_pair(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_both_ways),
      cmocka_unit_test(test_in_place),
      cmocka_unit_test(test_demux_apart),
      cmocka_unit_test(test_keys_differ),
      cmocka_unit_test(test_wrong_keys_refused),
      cmocka_unit_test(test_every_bit_flip_refused),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_replay_window),
      cmocka_unit_test(test_bundle_roundtrip),
      cmocka_unit_test(test_bundle_limits),
      cmocka_unit_test(test_bundle_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
