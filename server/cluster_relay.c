/* cluster_relay.c -- media for a pair across nodes: each side links its visitor's session to a
 * relay session (media/relaywire.h) aimed at the other node's worker.
 *
 * The pair's link id comes with PAIRED (the matcher's, the same on both nodes); its low 12
 * bits number the relay's openings, since an opening may never reuse the keys of another.
 * Each side tells the other where its visitor's session is (CPM_RELAY: the pair's link, the
 * opening r, the side, a random salt, address and port) when the pair is made and whenever
 * its session changes (a refresh may land on another worker). A message that is not itself an
 * answer is always answered, with this side's address and salt under the same r (so one lost
 * message costs nothing: the other side's announcement brings the answer); a higher r closes
 * the relay; a side opens once it has sent and heard the same r. The relay's link id is the
 * pair's, with r, mixed with both salts: two openings never share keys and nonces, even if
 * Redis lost the matchers' generation counter. */
#include <arpa/inet.h>
#include <openssl/rand.h>
#include <string.h>

#include "server/app_int.h"
#include "server/cluster.h"
#include "server/log.h"

#define RELAY_R_MAX 0xfffu

struct relay_msg {
  uint64_t base, salt;
  uint16_t r;
  uint8_t side, answer;
  struct sockaddr_storage addr;
};

#define HDR 20

static size_t encode(const struct relay_msg *m, uint8_t *b) {
  for (int i = 0; i < 8; i++)
    b[i] = (uint8_t)(m->base >> (8 * i));
  for (int i = 0; i < 8; i++)
    b[8 + i] = (uint8_t)(m->salt >> (8 * i));
  b[16] = (uint8_t)m->r;
  b[17] = (uint8_t)(m->r >> 8);
  b[18] = (uint8_t)(m->side | m->answer << 1);
  if (m->addr.ss_family == AF_INET6) {
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&m->addr;
    b[19] = 6;
    memcpy(b + HDR, &s->sin6_port, 2);
    memcpy(b + HDR + 2, &s->sin6_addr, 16);
    return HDR + 18;
  }
  const struct sockaddr_in *s = (const struct sockaddr_in *)&m->addr;
  b[19] = 4;
  memcpy(b + HDR, &s->sin_port, 2);
  memcpy(b + HDR + 2, &s->sin_addr, 4);
  return HDR + 6;
}

static int decode(const uint8_t *b, size_t len, struct relay_msg *m) {
  memset(m, 0, sizeof(*m));
  if (len < HDR + 6 || b[18] > 3)
    return -1;
  for (int i = 0; i < 8; i++) {
    m->base |= (uint64_t)b[i] << (8 * i);
    m->salt |= (uint64_t)b[8 + i] << (8 * i);
  }
  m->r = (uint16_t)(b[16] | b[17] << 8);
  m->side = b[18] & 1;
  m->answer = b[18] >> 1;
  if (b[19] == 4 && len == HDR + 6) {
    struct sockaddr_in *s = (struct sockaddr_in *)&m->addr;
    s->sin_family = AF_INET;
    memcpy(&s->sin_port, b + HDR, 2);
    memcpy(&s->sin_addr, b + HDR + 2, 4);
  } else if (b[19] == 6 && len == HDR + 18) {
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&m->addr;
    s->sin6_family = AF_INET6;
    memcpy(&s->sin6_port, b + HDR, 2);
    memcpy(&s->sin6_addr, b + HDR + 2, 16);
  } else {
    return -1;
  }
  return m->r && m->r <= RELAY_R_MAX && m->base && !(m->base & RELAY_R_MAX) &&
                 ((struct sockaddr_in *)&m->addr)->sin_port
             ? 0
             : -1;
}

static uint64_t new_salt(void) {
  uint64_t s = 0;
  if (RAND_bytes((unsigned char *)&s, sizeof(s)) != 1)
    s = uv_hrtime() * 0x9e3779b97f4a7c15u;
  return s;
}

void relay_close(struct peer *p) {
  if (p->relay_sid) {
    mediaplane_relay_close(p->app->media, p->relay_sid);
    p->relay_sid = 0;
    p->relay_open_r = 0;
  }
}

static bool usable(struct peer *p) {
  struct app *a = p->app;
  return p->relay_base && p->sid && p->sess_ready && app_partner_remote(a, p->mq_partner) &&
         cluster_relay_secret(a->match);
}

/* Where the other node reaches this visitor's session: relay_addr (or the first public_ip)
 * and its worker's port. */
static bool my_addr(struct peer *p, struct sockaddr_storage *out) {
  struct app *a = p->app;
  char ip[64];
  const char *src = a->cfg.relay_addr[0] ? a->cfg.relay_addr : a->public_ip;
  size_t n = strcspn(src, ",");
  if (n >= sizeof(ip))
    return false;
  memcpy(ip, src, n);
  ip[n] = '\0';
  uint16_t port = htons(mediaplane_port(a->media, mediaplane_session_worker(p->sid)));
  memset(out, 0, sizeof(*out));
  struct sockaddr_in *s4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = port;
    return true;
  }
  if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = port;
    return true;
  }
  return false;
}

static void send_addr(struct peer *p, uint16_t r, bool answer) {
  struct relay_msg m = {.base = p->relay_base, .r = r, .side = p->id < p->mq_partner ? 0 : 1,
                        .salt = p->relay_salt_mine, .answer = answer};
  uint8_t buf[48];
  if (!my_addr(p, &m.addr))
    return;
  size_t n = encode(&m, buf);
  cluster_peer_send(p->app->match, p->mq_partner, p->id, CPM_RELAY, buf, n);
}

static void open_relay(struct peer *p) {
  if (!usable(p) || !p->relay_have_remote || p->relay_r_sent != p->relay_r_seen ||
      p->relay_open_r == p->relay_r_seen)
    return;
  relay_close(p);
  struct app *a = p->app;
  uint64_t mix = (p->relay_salt_mine ^ p->relay_salt_theirs) & ~(uint64_t)RELAY_R_MAX;
  uint64_t link = (p->relay_base | p->relay_r_seen) ^ mix;
  if (!link)
    link = p->relay_r_seen;
  struct mediaplane_relay r = {.link_id = link,
                               .side = p->id < p->mq_partner ? 0 : 1,
                               .remote = (const struct sockaddr *)&p->relay_remote,
                               .secret = cluster_relay_secret(a->match)};
  int rc = mediaplane_relay_open(a->media, p->sid, &r, &p->relay_sid);
  if (rc) {
    p->relay_sid = 0;
    log_event(LOG_WARN, "relay_open_failed", LF_UINT("peer", p->id), LF_INT("error", rc));
    return;
  }
  p->relay_open_r = p->relay_r_seen;
  p->linked = 0; /* linked to the relay session, which stands for the partner */
  log_debug("peer %llu relay %u open to its partner's node", (unsigned long long)p->id,
            (unsigned)p->relay_open_r);
}

/* This side's session is new or ready: a new opening, told to the other side. */
void relay_announce(struct peer *p) {
  if (!usable(p))
    return;
  uint16_t r = (uint16_t)((p->relay_r_sent > p->relay_r_seen ? p->relay_r_sent : p->relay_r_seen) + 1);
  if (r > RELAY_R_MAX)
    return;
  relay_close(p);
  p->relay_r_sent = r;
  p->relay_salt_mine = new_salt();
  send_addr(p, r, false);
  open_relay(p);
}

void relay_paired(struct peer *p, uint64_t link) {
  relay_close(p);
  p->relay_base = link & ~(uint64_t)RELAY_R_MAX;
  p->relay_r_sent = p->relay_r_seen = 0;
  p->relay_have_remote = false;
  relay_announce(p);
}

void relay_on_msg(struct peer *p, const uint8_t *data, size_t len) {
  struct relay_msg m;
  if (decode(data, len, &m) || m.base != p->relay_base ||
      m.side != (p->id < p->mq_partner ? 1 : 0) || m.r < p->relay_r_seen)
    return;
  if (m.r > p->relay_r_seen) {
    p->relay_r_seen = m.r;
    p->relay_salt_theirs = m.salt;
    p->relay_remote = m.addr;
    p->relay_have_remote = true;
    if (p->relay_open_r)
      relay_close(p);
  }
  if (!m.answer && usable(p) && p->relay_r_sent <= m.r) {
    if (p->relay_r_sent < m.r) { /* answered under the same opening */
      p->relay_r_sent = m.r;
      p->relay_salt_mine = new_salt();
    }
    send_addr(p, m.r, true);
  }
  open_relay(p);
}
