/* cluster_app.c -- the app's side of the cluster backend (server/cluster.h): events waiting,
 * the re-send of every visitor, messages from the other side of a cross-node pair, and peer
 * ids that name their node. */
#include <string.h>

#include "match/cluster.h"
#include "server/app_int.h"
#include "server/cluster.h"
#include "server/log.h"
#include "server/moderate.h"
#include "server/sigmsg.h"

uint64_t app_new_peer_id(struct app *a) {
  /* In a cluster the serials start at the clock (ms): a restarted node's new visitors never
   * take the ids of its previous run's, whose events may still be on their way. */
  if (a->node && !a->next_id)
    a->next_id = cluster_wall_ms() & MCLUSTER_SERIAL_MAX;
  uint64_t n = ++a->next_id;
  if (a->node)
    return (uint64_t)a->node << MCLUSTER_ID_SHIFT | (n & MCLUSTER_SERIAL_MAX);
  return n;
}

bool app_partner_remote(struct app *a, match_id partner) {
  return a->node && partner && MCLUSTER_NODE_OF(partner) != a->node;
}

void cluster_events(void *arg) {
  struct app *a = arg;
  if (!a->closing)
    app_dispatch_match(a);
}

/* Every visitor as this node sees it, for a matcher that must learn it (cluster.h); then the
 * never-again blocks and recent partners of their devices, as commands. */
void cluster_resync(void *arg) {
  struct app *a = arg;
  uint64_t now = uv_now(a->loop);
  for (struct peer *p = a->peers; p; p = p->next) {
    if (!p->in_matching && !p->move_got_state)
      continue; /* moving in: matching knows it under its old node's id, if at all */
    struct mcluster_peer r;
    memset(&r, 0, sizeof(r));
    r.id = p->id;
    r.ready = p->media_ready;
    r.away = !p->ws || p->media_lost_ms != 0;
    r.want = p->mq_want;
    r.state = p->mq_state;
    r.partner = p->mq_partner;
    if (p->mq_state == MATCH_WAITING && p->pool_ms && now > p->pool_ms)
      r.waited_ms = (uint32_t)(now - p->pool_ms);
    r.nblocks = p->mq_nblocks;
    memcpy(r.blocks, p->mq_blocks, sizeof(r.blocks));
    r.nrecent = p->mq_nrecent;
    memcpy(r.recent, p->mq_recent, sizeof(r.recent));
    if (p->mq_want) {
      r.ntags = p->mq_start.ntags;
      memcpy(r.tags, p->mq_start.tags, sizeof(r.tags));
      memcpy(r.lang, p->mq_start.lang, sizeof(r.lang));
    }
    cluster_record(a->match, &r);
  }
  for (struct peer *p = a->peers; p; p = p->next)
    if (p->in_matching)
      moderate_peer_rejoin(p);
}

void cluster_peer_msg(void *arg, match_id to, match_id from, uint8_t kind, const uint8_t *data,
                      size_t len) {
  struct app *a = arg;
  if (kind == CPM_MOVE_ASK || kind == CPM_MOVE_VISIT || kind == CPM_MOVE_NO) {
    move_on_msg(a, to, from, kind, data, len);
    return;
  }
  if (kind == CPM_REPORT || kind == CPM_REPORT_DONE) { /* a pair may have ended meanwhile */
    moderate_report_msg(a, to, from, kind, data, len);
    return;
  }
  struct peer *p = peer_by_id(a, to);
  /* Only from its partner of the moment: anything else is late (the pair ended). */
  if (!p || p->mq_partner != from)
    return;
  switch (kind) {
  case CPM_CHAT: {
    char text[SIGMSG_TEXT_MAX + 1];
    if (len > SIGMSG_TEXT_MAX)
      return;
    sigmsg_utf8_copy(text, sizeof(text), (const char *)data, len);
    a->n.chats++;
    peer_send(p, json_pack("{s:s, s:s}", "type", "chat", "text", text));
    return;
  }
  case CPM_PARTNER_RECONNECTED:
    peer_send(p, json_pack("{s:s}", "type", "partner_reconnected"));
    return;
  case CPM_RELAY:
    relay_on_msg(p, data, len);
    return;
  case CPM_DEVICE:
    moddevices_partner_msg(p, data, len);
    return;
  default:
    log_debug("cluster peer message of unknown kind %u", (unsigned)kind);
    return;
  }
}
