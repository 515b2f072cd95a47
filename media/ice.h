/* ice.h -- ICE-lite STUN responder and the ICE client checks of the load harness. */
#ifndef TANDEM_MEDIA_ICE_H
#define TANDEM_MEDIA_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Built on libnice's STUN library (StunAgent, stun_agent_validate with a
 * validater callback, stun_usage_ice_conncheck_create_reply). No sockets,
 * no clock, no logging, no allocation per message. */

#define ICE_UFRAG_SIZE 9 /* 8 ice-chars + NUL */
#define ICE_PWD_SIZE 25  /* 24 ice-chars + NUL */

/* Fills fresh random ICE credentials (ice-chars: ALPHA DIGIT + /) from
 * OpenSSL's RAND_bytes, NUL-terminated. 0, or -EIO if the RNG failed. */
int ice_gen_credentials(char ufrag[ICE_UFRAG_SIZE], char pwd[ICE_PWD_SIZE]);

/* One per media worker; it holds no per-session state. ice_responder_new
 * returns NULL only when out of memory; ice_responder_free(NULL) is a no-op. */
struct ice_responder;
struct ice_responder *ice_responder_new(void);
void ice_responder_free(struct ice_responder *r);

/* Looks up our ufrag (the USERNAME before ':', local_len bytes, not
 * NUL-terminated) and returns the session's local pwd and expected remote
 * ufrag (after ':'); returns NULL if unknown. The returned pointers must stay
 * valid during the ice_responder_handle call. *remote_ufrag may be set to
 * NULL to accept any remote ufrag (not recommended). */
typedef void *(*ice_lookup_fn)(void *arg, const char *local_ufrag, size_t local_len,
                               const char **local_pwd, const char **remote_ufrag);

/* What a valid check said. session: the lookup's return value.
 * use_candidate: USE-CANDIDATE present (the controlling peer nominates).
 * priority: the PRIORITY attribute (0 if absent).
 * controlling: the peer sent ICE-CONTROLLING (a browser always does with us). */
struct ice_check {
  void *session;
  bool use_candidate;
  uint32_t priority;
  bool controlling;
};

/* Handles one datagram classified as STUN. Returns
 *   0: a valid Binding request from a known session: *check is filled, and
 *      reply (capacity *reply_len on input, length on output; 1280 bytes is
 *      enough) holds the success response to send back to `from`
 *      (XOR-MAPPED-ADDRESS of `from`, MESSAGE-INTEGRITY with the local pwd,
 *      FINGERPRINT).
 *   -EBADMSG not STUN, malformed, bad FINGERPRINT, or an unknown
 *      comprehension-required attribute;
 *   -EACCES unknown username, remote-ufrag mismatch, missing or bad
 *      MESSAGE-INTEGRITY (send nothing);
 *   -ENOTSUP a STUN message we don't answer (indications, responses, other
 *      methods);
 *   -EINVAL `from` is not an AF_INET/AF_INET6 address of fromlen bytes;
 *   -ENOSPC the reply does not fit.
 * On every error *reply_len is 0 and *check is untouched. We are ICE-lite,
 * hence controlled: a request carrying ICE-CONTROLLED (a confused or lite
 * peer) is answered too; roles are never switched. lookup is called at most
 * once, synchronously. buf is only read. */
int ice_responder_handle(struct ice_responder *r, const uint8_t *buf, size_t len,
                         const struct sockaddr *from, socklen_t fromlen,
                         ice_lookup_fn lookup, void *arg,
                         struct ice_check *check, uint8_t *reply, size_t *reply_len);

/* The client side, used by the load harness that plays a browser (full ICE,
 * controlling). Builds a Binding request into out (capacity *len in, length
 * out) with USERNAME "remote_ufrag:local_ufrag", PRIORITY, ICE-CONTROLLING
 * tie_breaker, USE-CANDIDATE if asked, MESSAGE-INTEGRITY keyed by
 * remote_pwd and FINGERPRINT, and stores its random transaction id in
 * transaction_id. 0, -EINVAL (NULL or over-long strings), -ENOSPC. */
int ice_build_check(uint8_t *out, size_t *len, const char *remote_ufrag, const char *local_ufrag,
                    const char *remote_pwd, uint32_t priority, uint64_t tie_breaker,
                    bool use_candidate, uint8_t transaction_id[12]);

/* 0 if buf is a Binding success response to the transaction
 * transaction_id, integrity-protected with remote_pwd and with a valid
 * FINGERPRINT. -EBADMSG: not STUN, malformed, not a Binding response, another
 * transaction, or no XOR-MAPPED-ADDRESS. -EACCES: bad or missing
 * MESSAGE-INTEGRITY, or an error response (e.g. 487 role conflict). */
int ice_parse_check_response(const uint8_t *buf, size_t len, const char *remote_pwd,
                             const uint8_t transaction_id[12]);

/* ice_parse_check_response that also returns the XOR-MAPPED-ADDRESS (our
 * address as the responder saw it) in *mapped / *mapped_len (capacity in,
 * length out) when it returns 0. mapped may be NULL. */
int ice_parse_check_response_addr(const uint8_t *buf, size_t len, const char *remote_pwd,
                                  const uint8_t transaction_id[12],
                                  struct sockaddr_storage *mapped, socklen_t *mapped_len);

#endif
