/* test_clusterwire.c -- the cluster's matching messages as bytes: every kind round-trips,
 * times travel as time left, and malformed bytes are refused whole. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "match/clusterwire.h"

static const uint64_t NOW = 5000;

static void roundtrip(const struct cw_msg *m, struct cw_msg *out, uint64_t now_rx) {
  uint8_t buf[CW_MAX];
  int n = cw_encode(m, NOW, buf, sizeof(buf));
  assert_true(n > 0);
  assert_int_equal(cw_decode(buf, (size_t)n, now_rx, out), 0);
  /* Every shorter prefix, and one more byte, are refused. */
  struct cw_msg junk;
  for (int i = 0; i < n; i++)
    assert_int_equal(cw_decode(buf, (size_t)i, now_rx, &junk), -EBADMSG);
  buf[n] = 0;
  assert_int_equal(cw_decode(buf, (size_t)n + 1, now_rx, &junk), -EBADMSG);
}

static void test_command_and_sync(void **state) {
  (void)state;
  struct cw_msg m, out;
  memset(&m, 0, sizeof(m));
  m.type = CW_CMD;
  m.node = 7;
  m.seq = 123456789012ull;
  const char *tags[2] = {"music", "chess"};
  assert_int_equal(matcher_cmd_start(&m.cmd, (7ull << MCLUSTER_ID_SHIFT) | 5, tags, 2, "en"), 0);
  roundtrip(&m, &out, NOW);
  assert_memory_equal(&m, &out, sizeof(m));

  memset(&m, 0, sizeof(m));
  m.type = CW_SYNC;
  m.node = 1023;
  m.rec.id = (1023ull << MCLUSTER_ID_SHIFT) | 9;
  m.rec.ready = m.rec.want = true;
  m.rec.state = MATCH_PAIRED;
  m.rec.partner = (3ull << MCLUSTER_ID_SHIFT) | 1;
  m.rec.waited_ms = 0;
  m.rec.ntags = 1;
  strcpy(m.rec.tags[0], "01234567890123456789012345678901"); /* 32 bytes, the most */
  roundtrip(&m, &out, NOW);
  assert_memory_equal(&m, &out, sizeof(m));

  m.type = CW_HELLO;
  m.epoch = 0xfeedfacecafebeefull;
  memset(&m.rec, 0, sizeof(m.rec));
  roundtrip(&m, &out, NOW);
  assert_int_equal(out.epoch, m.epoch);
  m.type = CW_SYNC_END;
  roundtrip(&m, &out, NOW);
  assert_int_equal(out.type, CW_SYNC_END);
}

/* A cool-down's end crosses as the time left: the receiver's clock may be anything. */
static void test_event_times_are_relative(void **state) {
  (void)state;
  struct cw_msg m, out;
  memset(&m, 0, sizeof(m));
  m.type = CW_EVENT;
  m.node = 2;
  m.gen = 77;
  m.ev.type = MATCHER_EV_COOLDOWN;
  m.ev.peer = (2ull << MCLUSTER_ID_SHIFT) | 1;
  m.ev.until_ms = NOW + 8000;
  roundtrip(&m, &out, 1000000);
  assert_int_equal(out.ev.until_ms, 1000000 + 8000);
  assert_int_equal(out.gen, 77);
  m.ev.type = MATCHER_EV_PAIRED;
  m.ev.partner = 44;
  m.ev.link = (77ull << 44) | (3ull << 12);
  m.ev.n_shared = 1;
  strcpy(m.ev.shared_tags[0], "cats");
  m.ev.until_ms = 0;
  roundtrip(&m, &out, NOW);
  assert_memory_equal(&m.ev, &out.ev, sizeof(m.ev));
  m.ev.type = MATCHER_EV_REFUSED;
  m.ev.cmd = MATCHER_NEXT;
  m.ev.code = -EBUSY;
  roundtrip(&m, &out, NOW);
  assert_int_equal(out.ev.code, -EBUSY);
}

static void test_peer_message(void **state) {
  (void)state;
  struct cw_msg m, out;
  memset(&m, 0, sizeof(m));
  m.type = CW_PEER;
  m.node = 3;
  m.to = (3ull << MCLUSTER_ID_SHIFT) | 1;
  m.from = (1ull << MCLUSTER_ID_SHIFT) | 2;
  m.kind = 4;
  m.len = 5;
  memcpy(m.data, "h\0llo", 5); /* any bytes */
  roundtrip(&m, &out, NOW);
  assert_memory_equal(&m, &out, sizeof(m));
  m.len = CW_PEER_DATA_MAX + 1;
  uint8_t buf[CW_MAX];
  assert_int_equal(cw_encode(&m, NOW, buf, sizeof(buf)), -EINVAL);
  m.len = CW_PEER_DATA_MAX;
  assert_true(cw_encode(&m, NOW, buf, sizeof(buf)) > 0);
}

static void test_malformed(void **state) {
  (void)state;
  struct cw_msg m, out;
  uint8_t buf[CW_MAX];
  memset(&m, 0, sizeof(m));
  m.type = CW_CMD;
  m.node = 1;
  m.seq = 1;
  const char *tags[1] = {"ab"};
  assert_int_equal(matcher_cmd_start(&m.cmd, 1, tags, 1, NULL), 0);
  int n = cw_encode(&m, NOW, buf, sizeof(buf));
  assert_true(n > 0);
  uint8_t bad[CW_MAX];
  memcpy(bad, buf, (size_t)n);
  bad[1] = 2;
  assert_int_equal(cw_decode(bad, (size_t)n, NOW, &out), -EPROTONOSUPPORT);
  memcpy(bad, buf, (size_t)n);
  bad[0] = 'X';
  assert_int_equal(cw_decode(bad, (size_t)n, NOW, &out), -EBADMSG);
  memcpy(bad, buf, (size_t)n);
  bad[4] = 0; /* node 0 */
  assert_int_equal(cw_decode(bad, (size_t)n, NOW, &out), -EBADMSG);
  /* A NUL inside a tag. */
  memcpy(bad, buf, (size_t)n);
  for (int i = 0; i + 2 < n; i++)
    if (bad[i] == 2 && bad[i + 1] == 'a' && bad[i + 2] == 'b')
      bad[i + 2] = 0;
  assert_int_equal(cw_decode(bad, (size_t)n, NOW, &out), -EBADMSG);
  /* An unknown command type, too many tags. */
  memcpy(bad, buf, (size_t)n);
  bad[14] = 99;
  assert_int_equal(cw_decode(bad, (size_t)n, NOW, &out), -EBADMSG);
  memcpy(bad, buf, (size_t)n);
  bad[16] = 11;
  assert_int_equal(cw_decode(bad, (size_t)n, NOW, &out), -EBADMSG);
  /* Nothing out of range is encoded either. */
  m.node = 0;
  assert_int_equal(cw_encode(&m, NOW, buf, sizeof(buf)), -EINVAL);
  m.node = MCLUSTER_NODE_MAX + 1;
  assert_int_equal(cw_encode(&m, NOW, buf, sizeof(buf)), -EINVAL);
  m.node = 1;
  assert_int_equal(cw_encode(&m, NOW, buf, 10), -EINVAL); /* no room */
  m.type = (enum cw_type)42;
  assert_int_equal(cw_encode(&m, NOW, buf, sizeof(buf)), -EINVAL);
}

/* A moving visit: the largest one round-trips and fits; every truncation, a trailing byte, a
 * count out of range, a NUL in a string and a link id with low bits are refused. */
static void test_visit(void **state) {
  (void)state;
  struct cw_visit v, w;
  memset(&v, 0, sizeof(v));
  v.want = v.ready = true;
  v.ntags = v.n_shared = MATCHER_TAGS_MAX;
  for (int i = 0; i < MATCHER_TAGS_MAX; i++) {
    memset(v.tags[i], 'a' + i, MATCHER_TAG_LEN_MAX);
    memset(v.shared[i], 'k' + i, MATCHER_TAG_LEN_MAX);
  }
  memset(v.lang, 'z', MATCHER_TAG_LEN_MAX);
  v.nblocks = MCLUSTER_REC_BLOCKS;
  v.nrecent = MCLUSTER_REC_RECENT;
  for (int i = 0; i < MCLUSTER_REC_BLOCKS; i++)
    v.blocks[i] = (UINT64_C(3) << MCLUSTER_ID_SHIFT) + (uint64_t)i;
  for (int i = 0; i < MCLUSTER_REC_RECENT; i++)
    v.recent[i] = UINT64_C(77) + (uint64_t)i;
  v.relay_base = UINT64_C(5) << 44 | UINT64_C(9) << 12;
  v.relay_r = 4095;
  v.visit_age_ms = 123456;
  v.paired_age_ms = 789;
  v.pairs = 12;
  v.nexts = 11;
  uint8_t buf[CW_MAX];
  int n = cw_visit_encode(&v, buf, sizeof(buf));
  assert_true(n > 0 && n <= CW_VISIT_MAX && n <= CW_PEER_DATA_MAX);
  assert_int_equal(cw_visit_decode(buf, (size_t)n, &w), 0);
  assert_memory_equal(&v, &w, sizeof(v));
  for (int k = 0; k < n; k++)
    assert_int_equal(cw_visit_decode(buf, (size_t)k, &w), -EBADMSG);
  buf[n] = 0;
  assert_int_equal(cw_visit_decode(buf, (size_t)n + 1, &w), -EBADMSG);
  uint8_t bad[CW_MAX];
  memcpy(bad, buf, (size_t)n);
  bad[2] = 4; /* an unknown flag */
  assert_int_equal(cw_visit_decode(bad, (size_t)n, &w), -EBADMSG);
  memcpy(bad, buf, (size_t)n);
  bad[3] = 1; /* the link id's low bits */
  assert_int_equal(cw_visit_decode(bad, (size_t)n, &w), -EBADMSG);
  memcpy(bad, buf, (size_t)n);
  bad[29] = MATCHER_TAGS_MAX + 1; /* ntags */
  assert_int_equal(cw_visit_decode(bad, (size_t)n, &w), -EBADMSG);
  memcpy(bad, buf, (size_t)n);
  bad[31] = 0; /* a NUL inside the first tag */
  assert_int_equal(cw_visit_decode(bad, (size_t)n, &w), -EBADMSG);
  v.relay_base |= 1;
  assert_int_equal(cw_visit_encode(&v, buf, sizeof(buf)), -EINVAL);
  v.relay_base &= ~UINT64_C(0xfff);
  v.ntags = MATCHER_TAGS_MAX + 1;
  assert_int_equal(cw_visit_encode(&v, buf, sizeof(buf)), -EINVAL);
  /* The smallest one. */
  memset(&v, 0, sizeof(v));
  n = cw_visit_encode(&v, buf, sizeof(buf));
  assert_true(n > 0);
  assert_int_equal(cw_visit_decode(buf, (size_t)n, &w), 0);
  assert_memory_equal(&v, &w, sizeof(v));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_command_and_sync),
      cmocka_unit_test(test_event_times_are_relative),
      cmocka_unit_test(test_peer_message),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_visit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
