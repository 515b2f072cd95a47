/* test_store.c -- the SQLite store through its asynchronous interface: round trips of reports,
 * bans, the audit log and devices, with the audit entries and device counters written in the
 * same transactions; paging. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_fixture.h"

/* ---- tests ---- */

static void test_report_roundtrip(void **state) {
  struct fx *f = *state;
  struct store_report in = report(1, 2, T0, "harassment");
  char tok[STORE_TEXT_MAX + 1];
  in.note = "said \"things\"; \xe2\x9c\x8b and 'quotes'";
  in.evidence_jpeg = "evidence/1.jpg";
  int64_t id = add_report(f, &in);

  struct rows *r = get_report(f, id);
  assert_int_equal(r->status, 0);
  assert_int_equal(r->n, 1);
  struct store_report *o = &r->rep[0];
  assert_int_equal(o->id, id);
  assert_true(o->time_ms == T0);
  assert_memory_equal(o->reporter.b, in.reporter.b, DEVICE_ID_LEN);
  assert_memory_equal(o->reported.b, in.reported.b, DEVICE_ID_LEN);
  assert_true(netaddr_equal(&o->reporter_ip, &in.reporter_ip));
  assert_true(netaddr_equal(&o->reported_ip, &in.reported_ip));
  assert_string_equal(o->reason, "harassment");
  assert_string_equal(o->note, in.note);
  assert_int_equal(o->state, STORE_REPORT_OPEN);
  assert_null(o->resolution);
  assert_null(o->resolved_by);
  assert_string_equal(o->evidence_jpeg, "evidence/1.jpg");
  assert_null(o->evidence_webm);
  rows_free(r);

  /* The clip arrives later: only the path given changes. */
  struct got g = WAIT_ID(f, store_report_evidence(f->st, id, NULL, "evidence/1.webm", on_id, &g_));
  assert_int_equal(g.status, 0);
  assert_int_equal(g.id, id);
  g = WAIT_ID(f, store_report_evidence(f->st, id + 100, "x.jpg", NULL, on_id, &g_));
  assert_int_equal(g.status, -ENOENT);
  r = get_report(f, id);
  assert_string_equal(r->rep[0].evidence_jpeg, "evidence/1.jpg");
  assert_string_equal(r->rep[0].evidence_webm, "evidence/1.webm");
  rows_free(r);

  /* Resolve once; again is -EALREADY; an unknown id -ENOENT. */
  g = WAIT_ID(f, store_report_resolve(f->st, id, "banned 24h", "alice", T0 + 5, on_id, &g_));
  assert_int_equal(g.status, 0);
  g = WAIT_ID(f, store_report_resolve(f->st, id, "again", "bob", T0 + 6, on_id, &g_));
  assert_int_equal(g.status, -EALREADY);
  g = WAIT_ID(f, store_report_resolve(f->st, 999, "x", "bob", T0 + 6, on_id, &g_));
  assert_int_equal(g.status, -ENOENT);
  r = get_report(f, id);
  assert_int_equal(r->rep[0].state, STORE_REPORT_RESOLVED);
  assert_string_equal(r->rep[0].resolution, "banned 24h");
  assert_string_equal(r->rep[0].resolved_by, "alice");
  assert_true(r->rep[0].resolved_ms == T0 + 5);
  rows_free(r);
  r = get_report(f, 12345);
  assert_int_equal(r->status, -ENOENT);
  assert_int_equal(r->n, 0);
  rows_free(r);

  /* The audit entry of the resolution, in the same transaction. */
  r = list_audit(f, 0, 10);
  assert_int_equal(r->n, 1);
  assert_string_equal(r->aud[0].actor, "alice");
  assert_string_equal(r->aud[0].action, "resolve");
  snprintf(tok, sizeof(tok), "report:%lld", (long long)id);
  assert_string_equal(r->aud[0].target, tok);
  assert_string_equal(r->aud[0].details_json, "{\"resolution\":\"banned 24h\"}");
  rows_free(r);

  /* Both devices are known; the reported one has a report against it. */
  r = get_device(f, 2);
  assert_int_equal(r->status, 0);
  assert_int_equal(r->dev.reports_against, 1);
  assert_int_equal(r->dev.bans_count, 0);
  assert_true(r->dev.created_ms == T0);
  rows_free(r);
  r = get_device(f, 1);
  assert_int_equal(r->status, 0);
  assert_int_equal(r->dev.reports_against, 0);
  rows_free(r);
  r = get_device(f, 77);
  assert_int_equal(r->status, -ENOENT);
  assert_int_equal(r->n, 0);
  rows_free(r);
}

static void test_bans_roundtrip(void **state) {
  struct fx *f = *state;
  struct ban b;
  char hex[DEVICE_HEX_LEN + 1];
  struct device_id d = dev(9);
  int64_t ids[3];

  device_id_hex(&d, hex);
  memset(&b, 0, sizeof(b));
  assert_int_equal(ban_target_parse(BAN_DEVICE, hex, &b.target), 0);
  b.reason = "nudity \"on camera\"";
  b.by = "auto";
  b.created_ms = T0;
  b.expires_ms = T0 + 3600000;
  struct got g = WAIT_ID(f, store_ban_add(f->st, &b, on_id, &g_));
  assert_int_equal(g.status, 0);
  ids[0] = g.id;
  assert_int_equal(ban_target_parse(BAN_IP, "::ffff:203.0.113.9", &b.target), 0);
  b.reason = "spam";
  b.by = "alice";
  b.expires_ms = 0;
  g = WAIT_ID(f, store_ban_add(f->st, &b, on_id, &g_));
  ids[1] = g.id;
  assert_int_equal(ban_target_parse(BAN_IP6_64, "2001:db8:7:8::1", &b.target), 0);
  b.expires_ms = T0 + 10;
  g = WAIT_ID(f, store_ban_add(f->st, &b, on_id, &g_));
  ids[2] = g.id;
  assert_true(ids[0] < ids[1] && ids[1] < ids[2]);

  /* Active now: all three, oldest first, targets parsed back to bytes. */
  struct store_ban_query q = {.active_only = true, .now_ms = T0 + 1, .limit = 100};
  struct rows *r = list_bans(f, &q);
  assert_int_equal(r->n, 3);
  assert_int_equal(r->ban[0].id, ids[0]);
  assert_int_equal(r->ban[0].target.kind, BAN_DEVICE);
  assert_memory_equal(r->ban[0].target.device.b, d.b, DEVICE_ID_LEN);
  assert_string_equal(r->ban[0].reason, "nudity \"on camera\"");
  assert_string_equal(r->ban[0].by, "auto");
  assert_true(r->ban[0].expires_ms == T0 + 3600000);
  assert_int_equal(r->ban[1].target.kind, BAN_IP);
  assert_int_equal(r->ban[1].target.ip.family, NETADDR_V4);
  assert_true(r->ban[1].expires_ms == 0);
  assert_int_equal(r->ban[2].target.kind, BAN_IP6_64);

  /* They load into a ban set as they are. */
  struct ban_set *set = ban_set_new(1);
  for (size_t i = 0; i < r->n; i++)
    assert_int_equal(ban_set_add(set, &r->ban[i]), 0);
  struct netaddr a;
  assert_int_equal(netaddr_parse("2001:db8:7:8:ffff::", &a), 0);
  assert_int_equal(ban_check(set, NULL, &a, T0 + 1)->id, ids[2]);
  assert_int_equal(ban_check(set, &d, NULL, T0 + 1)->id, ids[0]);
  ban_set_free(set);
  rows_free(r);

  /* At T0 + 10 the /64 ban has ended (exactly at its end). */
  q.now_ms = T0 + 10;
  r = list_bans(f, &q);
  assert_int_equal(r->n, 2);
  rows_free(r);

  /* Lifting: once; again is -EALREADY; unknown -ENOENT. */
  g = WAIT_ID(f, store_ban_lift(f->st, ids[1], "bob", T0 + 20, on_id, &g_));
  assert_int_equal(g.status, 0);
  g = WAIT_ID(f, store_ban_lift(f->st, ids[1], "bob", T0 + 21, on_id, &g_));
  assert_int_equal(g.status, -EALREADY);
  g = WAIT_ID(f, store_ban_lift(f->st, 999, "bob", T0 + 21, on_id, &g_));
  assert_int_equal(g.status, -ENOENT);
  r = list_bans(f, &q);
  assert_int_equal(r->n, 1);
  assert_int_equal(r->ban[0].id, ids[0]);
  rows_free(r);

  /* History: every ban, with lifted_ms; by kind; since a time; paging by after_id. */
  struct store_ban_query all = {.limit = 100};
  r = list_bans(f, &all);
  assert_int_equal(r->n, 3);
  assert_true(r->ban[1].lifted_ms == T0 + 20);
  rows_free(r);
  all.kind = BAN_DEVICE;
  r = list_bans(f, &all);
  assert_int_equal(r->n, 1);
  rows_free(r);
  all.kind = 0;
  all.after_id = ids[0];
  all.limit = 1;
  r = list_bans(f, &all);
  assert_int_equal(r->n, 1);
  assert_int_equal(r->ban[0].id, ids[1]);
  rows_free(r);

  /* The device's ban count, and the audit log: ban, ban, ban, unban (newest first). */
  r = get_device(f, 9);
  assert_int_equal(r->status, 0);
  assert_int_equal(r->dev.bans_count, 1);
  rows_free(r);
  r = list_audit(f, 0, 10);
  assert_int_equal(r->n, 4);
  assert_string_equal(r->aud[0].action, "unban");
  assert_string_equal(r->aud[0].actor, "bob");
  assert_string_equal(r->aud[3].action, "ban");
  assert_string_equal(r->aud[3].actor, "auto");
  char want[128];
  snprintf(want, sizeof(want), "device:%s", hex);
  assert_string_equal(r->aud[3].target, want);
  snprintf(want, sizeof(want),
           "{\"ban\":%lld,\"reason\":\"nudity \\\"on camera\\\"\",\"expires_ms\":%llu}",
           (long long)ids[0], (unsigned long long)(T0 + 3600000));
  assert_string_equal(r->aud[3].details_json, want);
  assert_string_equal(r->aud[2].target, "ip:203.0.113.9");
  assert_string_equal(r->aud[1].target, "ip6_64:2001:db8:7:8::/64");
  assert_true(strstr(r->aud[2].details_json, "\"expires_ms\":null") != NULL);
  rows_free(r);
}

static void test_audit_and_devices(void **state) {
  struct fx *f = *state;
  struct store_audit a = {.time_ms = T0, .actor = "alice", .action = "kick",
                          .target = "peer:17", .details_json = "{\"why\":\"test\"}"};
  int64_t last = 0;
  for (int i = 0; i < 25; i++) {
    a.time_ms = T0 + (uint64_t)i;
    struct got g = WAIT_ID(f, store_audit_add(f->st, &a, on_id, &g_));
    assert_int_equal(g.status, 0);
    assert_true(g.id > last);
    last = g.id;
  }
  /* Details that are not JSON are refused by the database, and change nothing. */
  a.details_json = "{not json";
  struct got g = WAIT_ID(f, store_audit_add(f->st, &a, on_id, &g_));
  assert_int_equal(g.status, -EINVAL);
  a.details_json = NULL; /* "{}" */
  g = WAIT_ID(f, store_audit_add(f->st, &a, on_id, &g_));
  assert_int_equal(g.status, 0);
  last = g.id;

  /* Pages of 10, newest first. */
  struct rows *r = list_audit(f, 0, 10);
  assert_int_equal(r->n, 10);
  assert_int_equal(r->aud[0].id, last);
  assert_string_equal(r->aud[0].details_json, "{}");
  int64_t before = r->aud[9].id;
  rows_free(r);
  size_t total = 10;
  while (before) {
    r = list_audit(f, before, 10);
    total += r->n;
    for (size_t i = 0; i < r->n; i++)
      assert_true(r->aud[i].id < before);
    before = r->n == 10 ? r->aud[9].id : 0;
    rows_free(r);
  }
  assert_int_equal(total, 26);

  /* Devices: created once, last_seen only moves forward. */
  struct device_id d = dev(5);
  g = WAIT_ID(f, store_device_seen(f->st, &d, T0 + 100, on_id, &g_));
  assert_int_equal(g.status, 0);
  g = WAIT_ID(f, store_device_seen(f->st, &d, T0 + 300, on_id, &g_));
  g = WAIT_ID(f, store_device_seen(f->st, &d, T0 + 200, on_id, &g_));
  r = get_device(f, 5);
  assert_int_equal(r->status, 0);
  assert_true(r->dev.created_ms == T0 + 100);
  assert_true(r->dev.last_seen_ms == T0 + 300);
  rows_free(r);
}

static void test_report_paging(void **state) {
  struct fx *f = *state;
  int64_t ids[25];
  for (int i = 0; i < 25; i++) {
    struct store_report in = report(1, (uint8_t)(10 + i % 3), T0 + (uint64_t)i * 1000, "spam");
    ids[i] = add_report(f, &in);
  }
  for (int i = 0; i < 25; i += 5) {
    struct got g = WAIT_ID(f, store_report_resolve(f->st, ids[i], "ok", "m", T0, on_id, &g_));
    assert_int_equal(g.status, 0);
  }
  /* Open reports, newest first, in pages of 7. */
  struct store_report_query q = {.state = STORE_REPORT_OPEN, .limit = 7};
  size_t seen = 0;
  int64_t prev = INT64_MAX;
  for (;;) {
    struct rows *r = list_reports(f, &q);
    for (size_t i = 0; i < r->n; i++) {
      assert_true(r->rep[i].id < prev);
      assert_int_equal(r->rep[i].state, STORE_REPORT_OPEN);
      prev = r->rep[i].id;
    }
    seen += r->n;
    size_t n = r->n;
    rows_free(r);
    if (n < q.limit)
      break;
    q.before_id = prev;
  }
  assert_int_equal(seen, 20);
  /* The start-up replay: every report since a time, oldest first. */
  struct store_report_query since = {.oldest_first = true, .since_ms = T0 + 20000, .limit = 100};
  struct rows *r = list_reports(f, &since);
  assert_int_equal(r->n, 5);
  assert_int_equal(r->rep[0].id, ids[20]);
  assert_int_equal(r->rep[4].id, ids[24]);
  rows_free(r);
  struct store_report_query resolved = {.state = STORE_REPORT_RESOLVED, .oldest_first = true,
                                        .after_id = ids[5], .limit = 2};
  r = list_reports(f, &resolved);
  assert_int_equal(r->n, 2);
  assert_int_equal(r->rep[0].id, ids[10]);
  assert_int_equal(r->rep[1].id, ids[15]);
  rows_free(r);
  r = get_device(f, 10);
  assert_int_equal(r->dev.reports_against, 9);
  rows_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_report_roundtrip, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_bans_roundtrip, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_audit_and_devices, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_report_paging, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
