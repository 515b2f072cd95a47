/* report.c -- a visitor reports its partner: the reporter moves on at once and the two never
 * meet again; the reported one's latest keyframe (as JPEG) and last seconds (as WebM) are
 * captured, written and fsync'd under data_dir/evidence, then the report is committed to the
 * store, and only then acknowledged; the report policy may ban automatically. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "moderation/clip.h"
#include "moderation/snapshot.h"
#include "server/app_int.h"
#include "server/cluster.h"
#include "server/log.h"
#include "server/moderate_int.h"
#include "server/sigmsg.h"

#define REPORT_PAST_PAIR_MS 60000 /* a partner may still be reported this long after Next */
#define REPORT_KEYFRAME_MS 1500   /* how long to wait for a fresh keyframe */
/* A keyframe the recording holds that is at most this old is the evidence picture: what the
 * reporter saw, had at once, and not dependent on the reported browser answering a PLI (the
 * recording asks for one every 4 s). */
#define REPORT_KEYFRAME_AGE_MS 5000
#define REPORT_JOBS_MAX 256       /* reports being captured at once */
#define REPORT_REASONS 5
/* A report's reason as stored: static strings (a reason from another node is one of these). */
static const char *const report_reasons_list[REPORT_REASONS + 1] = {
    "nudity", "harassment", "minor", "spam", "other", NULL};

struct report_job {
  struct app *a;
  uint64_t reporter;                /* peer ids: answered if still live */
  uint64_t reported;
  bool remote_reporter;             /* the reporter is on another node: answered there */
  struct store_report r;
  char note[SIGMSG_NOTE_MAX + 1];
  char name[48];                    /* evidence file names: <name>.jpg, <name>.webm */
  char jpeg_path[64], webm_path[64];
  uint64_t req_kf, req_clip;
  int pending;                      /* media replies still to come */
  uint8_t *vp8, *recs;
  size_t vp8_len, recs_len;
  bool have_jpeg, have_webm;
  char dir[300];
  uint32_t clip_ms;                 /* media_record_ms */
};

static int write_file(const char *dir, const char *name, const uint8_t *buf, size_t len) {
  char path[400];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0)
    return -errno;
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(fd, buf + off, len - off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int e = -errno;
      close(fd);
      unlink(path);
      return e;
    }
    off += (size_t)n;
  }
  /* The report that names the file is committed after this: the file must be there. */
  int rc = fsync(fd) ? -errno : 0;
  close(fd);
  if (rc)
    unlink(path);
  return rc;
}

/* On a pool thread: everything here is the job's own. */
static int evidence_work(void *arg) {
  struct report_job *j = arg;
  char file[64];
  if (j->vp8) {
    uint8_t *jpeg = NULL;
    size_t len = 0;
    snprintf(file, sizeof(file), "%s.jpg", j->name);
    if (snapshot_jpeg(j->vp8, j->vp8_len, 0, &jpeg, &len) == 0 &&
        write_file(j->dir, file, jpeg, len) == 0)
      j->have_jpeg = true;
    free(jpeg);
  }
  if (j->recs) {
    uint8_t *webm = NULL;
    size_t len = 0;
    struct clip_params cp;
    clip_params_default(&cp);
    cp.clip_ms = j->clip_ms;
    snprintf(file, sizeof(file), "%s.webm", j->name);
    if (clip_webm_records(j->recs, j->recs_len, &cp, &webm, &len, NULL) == 0 &&
        write_file(j->dir, file, webm, len) == 0)
      j->have_webm = true;
    free(webm);
  }
  if (j->have_jpeg || j->have_webm) {
    int fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      fsync(fd);
      close(fd);
    }
  }
  return 0;
}

static void job_free(struct report_job *j) {
  if (j->a->mod)
    j->a->mod->report_jobs--;
  free(j->vp8);
  free(j->recs);
  free(j);
}

/* The outcome, to a reporter on another node: the report's id (>0), 0 (failed, try again) or
 * -1 (the reported one has gone). */
static void tell_remote(struct app *a, uint64_t reporter, uint64_t reported, int64_t id) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (uint8_t)((uint64_t)id >> (8 * i));
  cluster_peer_send(a->match, reporter, reported, CPM_REPORT_DONE, b, sizeof(b));
}

static void reporter_error(struct report_job *j, const char *code, const char *text) {
  if (j->remote_reporter) {
    tell_remote(j->a, j->reporter, j->reported, 0);
    return;
  }
  struct peer *p = peer_by_id(j->a, j->reporter);
  if (p)
    peer_error(p, NULL, code, text, "report");
}

static void on_stored(void *arg, int status, int64_t id) {
  struct report_job *j = arg;
  struct app *a = j->a;
  if (status) {
    a->n.reports_failed++;
    log_event(LOG_ERROR, "report_not_stored", LF_STR("error", strerror(-status)));
    reporter_error(j, "report_failed", "Your report could not be saved; please try again.");
    job_free(j);
    return;
  }
  a->n.reports++;
  id = a->mod ? moderate_ban_id(a->mod, id) : id; /* with redis_url: node_id * 2^42 + id */
  log_event(LOG_INFO, "report", LF_INT("report", id), LF_STR("reason", j->r.reason),
            LF_UINT("reporter", j->reporter), LF_UINT("reported", j->reported),
            LF_STR("jpeg", j->have_jpeg ? "yes" : "no"),
            LF_STR("clip", j->have_webm ? "yes" : "no"));
  struct peer *p = j->remote_reporter ? NULL : peer_by_id(a, j->reporter);
  if (p)
    peer_send(p, json_pack("{s:s, s:I}", "type", "reported", "id", (json_int_t)id));
  else if (j->remote_reporter)
    tell_remote(a, j->reporter, j->reported, id);
  struct moderate *m = a->mod;
  struct report_verdict v;
  if (m && j->r.reporter_ip.family != NETADDR_NONE &&
      report_policy_add(m->policy, &j->r.reported, &j->r.reporter, &j->r.reporter_ip,
                        j->r.time_ms, &v) == 0 &&
      v.ban) {
    char reason[96];
    snprintf(reason, sizeof(reason), "reported by %u people (offence %u)", v.reporters,
             v.offence);
    struct ban b = {.target = {.kind = BAN_DEVICE, .device = j->r.reported}, .reason = reason,
                    .by = "auto", .expires_ms = v.expires_ms};
    int rc = moderate_ban(a, &b, NULL, NULL);
    if (rc)
      log_event(LOG_ERROR, "autoban_failed", LF_STR("error", strerror(-rc)));
  }
  job_free(j);
}

static void store_it(struct report_job *j) {
  struct moderate *m = j->a->mod;
  if (!m) {
    job_free(j);
    return;
  }
  j->r.evidence_jpeg = j->have_jpeg ? j->jpeg_path : NULL;
  j->r.evidence_webm = j->have_webm ? j->webm_path : NULL;
  int rc = store_report_add(m->store, &j->r, on_stored, j);
  if (rc)
    on_stored(j, rc, 0);
}

static void evidence_done(void *arg, int status) {
  struct report_job *j = arg;
  (void)status;
  free(j->vp8);
  free(j->recs);
  j->vp8 = j->recs = NULL;
  store_it(j);
}

static void evidence_start(struct report_job *j) {
  struct moderate *m = j->a->mod;
  if (!m || (!j->vp8 && !j->recs)) {
    store_it(j);
    return;
  }
  int rc = workpool_submit(m->pool, evidence_work, evidence_done, j);
  if (rc) {
    log_event(LOG_WARN, "report_evidence_skipped", LF_STR("error", strerror(-rc)));
    evidence_done(j, rc);
  }
}

static void on_media_reply(struct report_job *j, int status, void *payload, size_t len,
                           bool keyframe) {
  if (keyframe) {
    j->req_kf = 0;
    if (status == 0) {
      j->vp8 = payload;
      j->vp8_len = len;
    }
  } else {
    j->req_clip = 0;
    if (status == 0) {
      j->recs = payload;
      j->recs_len = len;
    }
  }
  if (status)
    free(payload);
  if (--j->pending == 0)
    evidence_start(j);
}

static void on_keyframe(void *arg, int status, void *payload, size_t len) {
  on_media_reply(arg, status, payload, len, true);
}

static void on_clip(void *arg, int status, void *payload, size_t len) {
  on_media_reply(arg, status, payload, len, false);
}

/* Reports per reporter: at most report_max within report_window_ms. */
static bool rate_ok(struct app *a, struct peer *p, uint64_t now, uint64_t *retry_ms) {
  unsigned max = (unsigned)a->cfg.report_max;
  if (max > 8)
    max = 8;
  uint64_t window = (uint64_t)a->cfg.report_window_ms;
  unsigned in_window = 0;
  uint64_t oldest = UINT64_MAX;
  for (unsigned i = 0; i < 8; i++) {
    uint64_t t = p->report_times[i];
    if (t && now - t < window) {
      in_window++;
      if (t < oldest)
        oldest = t;
    }
  }
  if (in_window >= max) {
    *retry_ms = oldest + window - now;
    return false;
  }
  p->report_times[p->report_next] = now;
  p->report_next = (p->report_next + 1) % 8;
  return true;
}

/* Who reports: a visitor here, or one on another node (its id, device and address). */
struct reporter {
  uint64_t id;
  bool remote, has_device, has_addr;
  struct device_id device;
  struct netaddr addr;
};

/* Files a report of q (a visitor here): its evidence captured, then stored, then answered.
 * false: refused at once (busy, out of memory), the reporter not told. */
static bool report_file(struct app *a, const struct reporter *who, struct peer *q,
                        const char *reason, const char *note, size_t note_len) {
  struct moderate *m = a->mod;
  if (!m || m->report_jobs >= REPORT_JOBS_MAX)
    return false;
  struct report_job *j = calloc(1, sizeof(*j));
  if (!j)
    return false;
  m->report_jobs++;
  j->a = a;
  j->reporter = who->id;
  j->remote_reporter = who->remote;
  j->reported = q->id;
  j->r.time_ms = moderate_wall_ms();
  j->r.reporter = who->device;
  j->r.reported = q->device;
  if (who->has_addr)
    j->r.reporter_ip = who->addr;
  if (q->has_addr)
    j->r.reported_ip = q->addr;
  j->r.reason = reason;
  if (note) {
    memcpy(j->note, note, note_len);
    j->note[note_len] = 0;
    j->r.note = j->note;
  }
  unsigned char rnd[6];
  if (RAND_bytes(rnd, sizeof(rnd)) != 1)
    memset(rnd, 0, sizeof(rnd));
  snprintf(j->name, sizeof(j->name), "%llu-%02x%02x%02x%02x%02x%02x",
           (unsigned long long)j->r.time_ms, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
  snprintf(j->jpeg_path, sizeof(j->jpeg_path), "evidence/%s.jpg", j->name);
  snprintf(j->webm_path, sizeof(j->webm_path), "evidence/%s.webm", j->name);
  snprintf(j->dir, sizeof(j->dir), "%s", m->evidence_dir);
  j->clip_ms = a->cfg.media_record_ms ? (uint32_t)a->cfg.media_record_ms : 10000;
  /* The evidence: a recent keyframe and the recorded seconds of the reported session. */
  j->pending = 2;
  uint32_t kf_age = REPORT_KEYFRAME_AGE_MS;
  if (q->sid)
    j->req_kf = mediaplane_request(a->media, q->sid, MEDIAPLANE_REQ_KEYFRAME,
                                   REPORT_KEYFRAME_MS, &kf_age, sizeof(kf_age), on_keyframe, j);
  if (!j->req_kf)
    j->pending--;
  if (q->sid)
    j->req_clip = mediaplane_request(a->media, q->sid, MEDIAPLANE_REQ_CLIP, 1000, NULL, 0,
                                     on_clip, j);
  if (!j->req_clip)
    j->pending--;
  if (j->pending == 0)
    evidence_start(j);
  return true;
}

/* A report of a partner on another node goes there, where its media is: reason u8 (index),
 * flags u8 (device 1, address 2), device (16), address (family u8, 16 bytes), note. */
#define REMOTE_REPORT_HDR (2 + DEVICE_ID_LEN + 17)

static size_t reason_index(const char *reason) {
  for (size_t i = 0; report_reasons_list[i]; i++)
    if (!strcmp(reason, report_reasons_list[i]))
      return i;
  return SIZE_MAX;
}

static bool report_remote(struct app *a, struct peer *p, match_id target,
                          const struct sigmsg *msg) {
  uint8_t b[REMOTE_REPORT_HDR + SIGMSG_NOTE_MAX];
  size_t r = reason_index(msg->reason);
  if (r == SIZE_MAX || msg->note_len > SIGMSG_NOTE_MAX)
    return false;
  memset(b, 0, REMOTE_REPORT_HDR);
  b[0] = (uint8_t)r;
  b[1] = (uint8_t)((p->has_device ? 1 : 0) | (p->has_addr ? 2 : 0));
  memcpy(b + 2, &p->device, DEVICE_ID_LEN);
  b[2 + DEVICE_ID_LEN] = p->has_addr ? p->addr.family : 0;
  memcpy(b + 3 + DEVICE_ID_LEN, p->addr.b, 16);
  size_t n = REMOTE_REPORT_HDR;
  if (msg->note) {
    memcpy(b + n, msg->note, msg->note_len);
    n += msg->note_len;
  }
  return cluster_peer_send(a->match, target, p->id, CPM_REPORT, b, n) == 0;
}

void moderate_report(struct app *a, struct peer *p, const struct sigmsg *msg) {
  uint64_t now = uv_now(a->loop);
  match_id partner = p->mq_partner;
  uint64_t target = partner ? partner : p->last_partner;
  if (!partner && (!target || !p->last_partner_ms ||
                   now - p->last_partner_ms > REPORT_PAST_PAIR_MS)) {
    peer_error(p, NULL, "bad_state", "there is nobody to report right now", "report");
    return;
  }
  struct peer *q = peer_by_id(a, target);
  bool remote = !q && app_partner_remote(a, target);
  if (!remote && (!q || !q->has_device)) {
    peer_error(p, NULL, "bad_state", "that stranger has already left", "report");
    return;
  }
  uint64_t retry = 0;
  if (!rate_ok(a, p, now, &retry)) {
    json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "error", "code", "rate_limited",
                          "message", "You have sent many reports: please wait a while.", "ref",
                          "report", "retry_ms", (json_int_t)retry);
    peer_send(p, e);
    return;
  }
  struct reporter who = {.id = p->id, .has_device = p->has_device, .has_addr = p->has_addr,
                         .device = p->device, .addr = p->addr};
  /* Filed where the reported one is: here, or its node (the answer comes back from there). */
  bool ok = remote ? report_remote(a, p, target, msg)
                   : report_file(a, &who, q, msg->reason, msg->note, msg->note_len);
  if (!ok) {
    peer_error(p, NULL, "report_failed", "Reports are busy; please try again in a moment.",
               "report");
    return;
  }
  /* The reporter moves on now; the two (and their devices) never meet again. */
  moderate_block(a, p, q);
  if (peer_block(p, target, now) < 0)
    log_event(LOG_WARN, "report_block_failed", LF_UINT("peer", p->id));
  app_dispatch_match(a);
}

void moderate_report_msg(struct app *a, match_id to, match_id from, uint8_t kind,
                         const uint8_t *data, size_t len) {
  if (kind == CPM_REPORT_DONE) {
    struct peer *p = peer_by_id(a, to);
    if (!p || len != 8)
      return;
    int64_t id = 0;
    for (int i = 0; i < 8; i++)
      id |= (int64_t)((uint64_t)data[i] << (8 * i));
    if (id > 0)
      peer_send(p, json_pack("{s:s, s:I}", "type", "reported", "id", (json_int_t)id));
    else if (id < 0)
      peer_error(p, NULL, "bad_state", "that stranger has already left", "report");
    else
      peer_error(p, NULL, "report_failed", "Your report could not be saved; please try again.",
                 "report");
    return;
  }
  /* CPM_REPORT: from the partner of one of ours (or its partner within the last minute). */
  struct peer *q = peer_by_id(a, to);
  uint64_t now = uv_now(a->loop);
  bool partner = q && (q->mq_partner == from ||
                       (q->last_partner == from &&
                        (!q->last_partner_ms || now - q->last_partner_ms <= REPORT_PAST_PAIR_MS)));
  if (len < REMOTE_REPORT_HDR || len > REMOTE_REPORT_HDR + SIGMSG_NOTE_MAX ||
      data[0] >= REPORT_REASONS || data[1] > 3 ||
      (data[2 + DEVICE_ID_LEN] != NETADDR_NONE && data[2 + DEVICE_ID_LEN] != NETADDR_V4 &&
       data[2 + DEVICE_ID_LEN] != NETADDR_V6) ||
      memchr(data + REMOTE_REPORT_HDR, 0, len - REMOTE_REPORT_HDR)) {
    log_event(LOG_WARN, "cluster_bad_input", LF_STR("what", "report"), LF_UINT("from", from));
    return;
  }
  if (!partner || !q->has_device) {
    tell_remote(a, from, to, -1);
    return;
  }
  struct reporter who = {.id = from, .remote = true, .has_device = data[1] & 1,
                         .has_addr = (data[1] & 2) && data[2 + DEVICE_ID_LEN] != NETADDR_NONE};
  memcpy(&who.device, data + 2, DEVICE_ID_LEN);
  if (who.has_addr) {
    who.addr.family = data[2 + DEVICE_ID_LEN];
    memcpy(who.addr.b, data + 3 + DEVICE_ID_LEN, 16);
  }
  char note[SIGMSG_NOTE_MAX + 1];
  size_t nl = len - REMOTE_REPORT_HDR;
  sigmsg_utf8_copy(note, sizeof(note), (const char *)data + REMOTE_REPORT_HDR, nl);
  if (!report_file(a, &who, q, report_reasons_list[data[0]], nl ? note : NULL, strlen(note)))
    tell_remote(a, from, to, 0);
}
