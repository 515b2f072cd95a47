/* ice.c -- ICE-lite STUN responder and client checks on libnice's STUN usages. */
#include "media/ice.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#define ICE_STUN_HEADER 20
#define ICE_MAX_UFRAG 256 /* RFC 8839: ice-ufrag is 4..256 ice-chars */
#define ICE_MAX_PWD 256

/* RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/"; 64 of them, so a random byte
 * masked to 6 bits picks one without bias. */
static const char ice_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct ice_responder {
  StunAgent agent;
};

/* The validater's state for one ice_responder_handle call. */
struct ice_lookup_ctx {
  ice_lookup_fn lookup;
  void *arg;
  void *session;
};

static void ice__agent_init(StunAgent *agent) {
  /* RFC 5389 framing (magic cookie), short-term credentials, FINGERPRINT
   * required on what we receive and added to what we send. */
  stun_agent_init(agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                  STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
}

int ice_gen_credentials(char ufrag[ICE_UFRAG_SIZE], char pwd[ICE_PWD_SIZE]) {
  uint8_t rnd[ICE_UFRAG_SIZE - 1 + ICE_PWD_SIZE - 1];
  if (RAND_bytes(rnd, (int)sizeof(rnd)) != 1)
    return -EIO;
  size_t i = 0;
  for (size_t j = 0; j < ICE_UFRAG_SIZE - 1; j++)
    ufrag[j] = ice_chars[rnd[i++] & 63];
  ufrag[ICE_UFRAG_SIZE - 1] = '\0';
  for (size_t j = 0; j < ICE_PWD_SIZE - 1; j++)
    pwd[j] = ice_chars[rnd[i++] & 63];
  pwd[ICE_PWD_SIZE - 1] = '\0';
  OPENSSL_cleanse(rnd, sizeof(rnd));
  return 0;
}

struct ice_responder *ice_responder_new(void) {
  struct ice_responder *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  ice__agent_init(&r->agent);
  return r;
}

void ice_responder_free(struct ice_responder *r) {
  free(r);
}

/* libnice calls this with the USERNAME of a request carrying
 * MESSAGE-INTEGRITY; it wants the key (our local pwd) to check it with. */
static bool ice__validater(StunAgent *agent, StunMessage *msg, uint8_t *username,
                           uint16_t username_len, uint8_t **password, size_t *password_len,
                           void *user_data) {
  struct ice_lookup_ctx *ctx = user_data;
  (void)agent;
  (void)msg;
  if (!username || username_len == 0)
    return false;
  const uint8_t *colon = memchr(username, ':', username_len);
  if (!colon || colon == username)
    return false;
  size_t local_len = (size_t)(colon - username);
  const char *remote = (const char *)colon + 1;
  size_t remote_len = username_len - local_len - 1;

  const char *local_pwd = NULL, *remote_ufrag = NULL;
  void *session = ctx->lookup(ctx->arg, (const char *)username, local_len, &local_pwd,
                              &remote_ufrag);
  if (!session || !local_pwd || local_pwd[0] == '\0')
    return false;
  if (remote_ufrag) {
    size_t want = strlen(remote_ufrag);
    if (want != remote_len || memcmp(remote_ufrag, remote, want) != 0)
      return false;
  }
  ctx->session = session;
  /* libnice keeps the key pointer in the request and reuses it for the
   * reply's MESSAGE-INTEGRITY; the lookup guarantees it outlives the call. */
  *password = (uint8_t *)local_pwd;
  *password_len = strlen(local_pwd);
  return true;
}

static int ice__copy_addr(const struct sockaddr *from, socklen_t fromlen,
                          struct sockaddr_storage *ss) {
  if (!from)
    return -EINVAL;
  memset(ss, 0, sizeof(*ss));
  if (from->sa_family == AF_INET && fromlen >= (socklen_t)sizeof(struct sockaddr_in)) {
    memcpy(ss, from, sizeof(struct sockaddr_in));
    return (int)sizeof(struct sockaddr_in);
  }
  if (from->sa_family == AF_INET6 && fromlen >= (socklen_t)sizeof(struct sockaddr_in6)) {
    memcpy(ss, from, sizeof(struct sockaddr_in6));
    return (int)sizeof(struct sockaddr_in6);
  }
  return -EINVAL;
}

static int ice__status_errno(StunValidationStatus st) {
  switch (st) {
  case STUN_VALIDATION_SUCCESS:
    return 0;
  case STUN_VALIDATION_UNAUTHORIZED:
  case STUN_VALIDATION_UNAUTHORIZED_BAD_REQUEST:
  case STUN_VALIDATION_FORBIDDEN:
    return -EACCES;
  case STUN_VALIDATION_UNMATCHED_RESPONSE:
  case STUN_VALIDATION_NOT_STUN:
  case STUN_VALIDATION_INCOMPLETE_STUN:
  case STUN_VALIDATION_BAD_REQUEST:
  case STUN_VALIDATION_UNKNOWN_REQUEST_ATTRIBUTE:
  case STUN_VALIDATION_UNKNOWN_ATTRIBUTE:
  default:
    return -EBADMSG;
  }
}

/* Checks the framing libnice trusts: a valid STUN length and attribute walk,
 * a MESSAGE-INTEGRITY of exactly 20 bytes and a FINGERPRINT of exactly 4
 * (libnice reads 20 and 4 bytes whatever the attribute length says). */
static bool ice__framing_ok(const uint8_t *buf, size_t len) {
  if (!buf || len < ICE_STUN_HEADER || len > STUN_MAX_MESSAGE_SIZE)
    return false;
  int fl = stun_message_validate_buffer_length(buf, len, true);
  if (fl <= 0 || (size_t)fl != len)
    return false;
  size_t off = ICE_STUN_HEADER;
  while (off + 4 <= len) {
    unsigned type = (unsigned)buf[off] << 8 | buf[off + 1];
    size_t alen = (size_t)buf[off + 2] << 8 | buf[off + 3];
    if ((type == STUN_ATTRIBUTE_MESSAGE_INTEGRITY && alen != 20) ||
        (type == STUN_ATTRIBUTE_FINGERPRINT && alen != 4))
      return false;
    off += 4 + ((alen + 3) & ~(size_t)3);
  }
  return off == len;
}

/* Class and method from the header's message type (RFC 5389 section 6). */
static unsigned ice__class(const uint8_t *buf) {
  return ((buf[0] & 0x01u) << 1) | ((buf[1] & 0x10u) >> 4);
}

static unsigned ice__method(const uint8_t *buf) {
  unsigned t = ((unsigned)buf[0] << 8) | buf[1];
  return (t & 0x000fu) | ((t & 0x00e0u) >> 1) | ((t & 0x3e00u) >> 2);
}

int ice_responder_handle(struct ice_responder *r, const uint8_t *buf, size_t len,
                         const struct sockaddr *from, socklen_t fromlen,
                         ice_lookup_fn lookup, void *arg,
                         struct ice_check *check, uint8_t *reply, size_t *reply_len) {
  size_t cap = reply_len ? *reply_len : 0;
  if (reply_len)
    *reply_len = 0;
  if (!r || !lookup || !check || !reply || !reply_len)
    return -EINVAL;
  if (!ice__framing_ok(buf, len))
    return -EBADMSG;
  /* Only Binding requests are answered. Indications (consent keepalives)
   * and stray responses are not errors, and carry no credentials we check. */
  if (ice__class(buf) != STUN_REQUEST || ice__method(buf) != STUN_BINDING)
    return -ENOTSUP;

  struct sockaddr_storage src;
  int srclen = ice__copy_addr(from, fromlen, &src);
  if (srclen < 0)
    return srclen;

  StunMessage req;
  struct ice_lookup_ctx ctx = {.lookup = lookup, .arg = arg, .session = NULL};
  StunValidationStatus st = stun_agent_validate(&r->agent, &req, buf, len, ice__validater, &ctx);
  int rc = ice__status_errno(st);
  if (rc < 0)
    return rc;
  if (!ctx.session || !req.key)
    return -EACCES;

  bool peer_controlling = stun_message_has_attribute(&req, STUN_ATTRIBUTE_ICE_CONTROLLING);
  bool peer_controlled = stun_message_has_attribute(&req, STUN_ATTRIBUTE_ICE_CONTROLLED);
  /* libnice resolves role conflicts by looking for the attribute that
   * matches our own role. An ICE-lite agent never switches roles, so we
   * present the role the peer did not claim: no conflict is ever raised.
   * A request claiming both roles is nonsense. */
  if (peer_controlling && peer_controlled)
    return -EBADMSG;
  bool control = peer_controlled;

  StunMessage msg;
  size_t rlen = cap;
  StunUsageIceReturn ur = stun_usage_ice_conncheck_create_reply(
      &r->agent, &req, &msg, reply, &rlen, &src, (socklen_t)srclen, &control, 0,
      STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  switch (ur) {
  case STUN_USAGE_ICE_RETURN_SUCCESS:
    break;
  case STUN_USAGE_ICE_RETURN_MEMORY_ERROR:
    return -ENOSPC;
  case STUN_USAGE_ICE_RETURN_INVALID_ADDRESS:
    return -EINVAL;
  default:
    return -EBADMSG;
  }
  /* Never send anything but a success response, nor anything that does not
   * fit what we were given. */
  if (rlen < ICE_STUN_HEADER || rlen > cap || ice__class(reply) != STUN_RESPONSE)
    return -ENOSPC;

  check->session = ctx.session;
  check->use_candidate = stun_usage_ice_conncheck_use_candidate(&req);
  check->priority = stun_usage_ice_conncheck_priority(&req);
  check->controlling = peer_controlling;
  *reply_len = rlen;
  return 0;
}

int ice_build_check(uint8_t *out, size_t *len, const char *remote_ufrag, const char *local_ufrag,
                    const char *remote_pwd, uint32_t priority, uint64_t tie_breaker,
                    bool use_candidate, uint8_t transaction_id[12]) {
  if (!out || !len || !remote_ufrag || !local_ufrag || !remote_pwd || !transaction_id)
    return -EINVAL;
  size_t cap = *len;
  *len = 0;
  size_t rl = strlen(remote_ufrag), ll = strlen(local_ufrag), pl = strlen(remote_pwd);
  if (rl == 0 || ll == 0 || pl == 0 || rl > ICE_MAX_UFRAG || ll > ICE_MAX_UFRAG ||
      pl > ICE_MAX_PWD)
    return -EINVAL;
  char username[2 * ICE_MAX_UFRAG + 2];
  memcpy(username, remote_ufrag, rl);
  username[rl] = ':';
  memcpy(username + rl + 1, local_ufrag, ll);

  StunAgent agent;
  StunMessage msg;
  ice__agent_init(&agent);
  size_t n = stun_usage_ice_conncheck_create(
      &agent, &msg, out, cap, (const uint8_t *)username, rl + 1 + ll,
      (const uint8_t *)remote_pwd, pl, use_candidate, true, priority, tie_breaker, NULL,
      STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  if (n == 0 || n > cap)
    return -ENOSPC;
  /* libnice's transaction id includes the magic cookie in front. */
  StunTransactionId id;
  stun_message_id(&msg, id);
  memcpy(transaction_id, id + 4, 12);
  *len = n;
  return 0;
}

int ice_parse_check_response_addr(const uint8_t *buf, size_t len, const char *remote_pwd,
                                  const uint8_t transaction_id[12],
                                  struct sockaddr_storage *mapped, socklen_t *mapped_len) {
  if (!remote_pwd || !transaction_id || (mapped && !mapped_len))
    return -EINVAL;
  size_t pl = strlen(remote_pwd);
  if (pl == 0 || pl > ICE_MAX_PWD)
    return -EINVAL;
  if (!ice__framing_ok(buf, len))
    return -EBADMSG;
  if (ice__method(buf) != STUN_BINDING)
    return -EBADMSG;
  unsigned cls = ice__class(buf);
  if (cls != STUN_RESPONSE && cls != STUN_ERROR)
    return -EBADMSG;

  /* libnice only accepts responses to transactions its agent sent, and takes
   * the key from that record; recreate the record for this one transaction. */
  StunAgent agent;
  ice__agent_init(&agent);
  memcpy(agent.sent_ids[0].id, buf + 4, 4); /* the magic cookie */
  memcpy(agent.sent_ids[0].id + 4, transaction_id, 12);
  agent.sent_ids[0].method = STUN_BINDING;
  agent.sent_ids[0].key = (uint8_t *)remote_pwd;
  agent.sent_ids[0].key_len = pl;
  agent.sent_ids[0].long_term_valid = false;
  agent.sent_ids[0].valid = true;

  StunMessage msg;
  StunValidationStatus st = stun_agent_validate(&agent, &msg, buf, len, NULL, NULL);
  int rc = ice__status_errno(st);
  if (rc < 0)
    return rc;
  /* An error response may legitimately lack MESSAGE-INTEGRITY (400, 401);
   * either way the check failed. */
  if (cls == STUN_ERROR)
    return -EACCES;
  if (!msg.key)
    return -EACCES;

  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  if (stun_message_find_xor_addr(&msg, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, &ss, &sl) !=
      STUN_MESSAGE_RETURN_SUCCESS)
    return -EBADMSG;
  if (mapped) {
    if (*mapped_len < sl)
      return -ENOSPC;
    memcpy(mapped, &ss, sl);
    *mapped_len = sl;
  }
  return 0;
}

int ice_parse_check_response(const uint8_t *buf, size_t len, const char *remote_pwd,
                             const uint8_t transaction_id[12]) {
  return ice_parse_check_response_addr(buf, len, remote_pwd, transaction_id, NULL, NULL);
}
