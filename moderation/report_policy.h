/* report_policy.h -- automatic temporary bans: reports against a device from distinct
 * reporters within a window cross a threshold; repeat offenders get longer bans. Pure. */
#ifndef TANDEM_REPORT_POLICY_H
#define TANDEM_REPORT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moderation/device.h"
#include "moderation/netaddr.h"

/* Distinct reporters: two reports count as two only if they come from different devices AND
 * different networks (the reporter's /24 for IPv4, /64 for IPv6), so one person with many
 * devices, or many devices behind one home router, counts once. The policy counts greedily in
 * arrival order a set of reports whose devices are pairwise distinct and whose networks are
 * pairwise distinct: never more reporters than there really are.
 *
 * A device's offences: every auto ban the policy decides is one, plus whatever the server
 * tells it with report_policy_note_ban. The n-th offence gets steps_ms[n-1] (the last step
 * repeats). Reports made before a device's last ban never count again: counting starts over
 * after each ban.
 *
 * Times are unix milliseconds, the same clock as the store's, so the server can replay
 * history at start-up (see report_policy_add). */
#define REPORT_POLICY_MAX_STEPS 8
#define REPORT_POLICY_MAX_THRESHOLD 64

struct report_policy_config {
  uint64_t window_ms;     /* a report counts while now < its time + window_ms; 3600000 */
  unsigned threshold;     /* distinct reporters that trigger a ban; 3 (1..64) */
  unsigned nsteps;        /* steps used, 1..REPORT_POLICY_MAX_STEPS; 4 */
  uint64_t steps_ms[REPORT_POLICY_MAX_STEPS]; /* ban length per offence, 0 = permanent:
                                                 1 h, 24 h, 7 d, permanent */
  uint64_t forgive_ms;    /* an offender whose last ban ended this long ago starts again at
                             the first step; 0 = never; 30 days */
  unsigned max_reports;   /* reports kept per device (the oldest goes first); 32 (>= threshold) */
  size_t max_devices;     /* devices tracked at once; 100000 */
  uint64_t seed;          /* keys the hash table: pass random bytes */
};

void report_policy_config_default(struct report_policy_config *c);

struct report_verdict {
  bool ban;               /* ban the reported device now */
  unsigned reporters;     /* distinct reporters counted in the window, this report included */
  unsigned offence;       /* with ban: 1 for a first offence, 2 for the next... */
  uint64_t expires_ms;    /* with ban: when it ends, 0 = permanent */
};

/* One policy belongs to one thread (the control loop). */
struct report_policy;

/* Copies *c (NULL: defaults). -EINVAL for a config out of range, -ENOMEM. */
int report_policy_new(const struct report_policy_config *c, struct report_policy **out);
void report_policy_free(struct report_policy *p); /* NULL ok */

/* A committed report by reporter (from reporter_ip) against reported, at now_ms (the report's
 * time). Fills *v. When v->ban is set the policy has already counted the offence and cleared
 * the device's reports: the server stores and enforces the ban (kind device, by "auto").
 * Returns 0, -EINVAL (self-report, reporter_ip without an address), -ENOSPC (max_devices
 * tracked; the report is not counted -- report_policy_prune frees room), -ENOMEM.
 * Bounded work: O(max_reports x threshold).
 * At start-up, replay the reports of the last window_ms from the store, oldest first, after
 * report_policy_note_ban for the device bans of history: a report older than the device's
 * last ban is ignored, so a replay bans only if a ban was decided but not stored. */
int report_policy_add(struct report_policy *p, const struct device_id *reported,
                      const struct device_id *reporter, const struct netaddr *reporter_ip,
                      uint64_t now_ms, struct report_verdict *v);

/* Counts a ban the policy did not decide itself as an offence of device: at start-up for
 * each device ban in the store that was not lifted (oldest first), at run time for a
 * moderator's ban if it should make the next automatic one longer. expires_ms 0 = permanent.
 * Reports up to created_ms are dropped. 0, -ENOSPC (max_devices devices are remembered:
 * offenders stay until forgiven, so size max_devices above the offenders of forgive_ms),
 * -ENOMEM. */
int report_policy_note_ban(struct report_policy *p, const struct device_id *device,
                           uint64_t created_ms, uint64_t expires_ms);

/* Offences on record for a device (0 if unknown or forgiven by now_ms). */
unsigned report_policy_offences(const struct report_policy *p, const struct device_id *device,
                                uint64_t now_ms);

/* Looks at no more than `budget` table slots, resuming where the last call stopped, and frees
 * devices with nothing left to remember: no report in the window and no offence (or only
 * forgiven ones). Call it from a periodic tick. Returns how many devices it freed. */
size_t report_policy_prune(struct report_policy *p, uint64_t now_ms, size_t budget);

size_t report_policy_devices(const struct report_policy *p);

#endif
