/* fuzz_stun.c -- libFuzzer target: demux, the ICE-lite responder and the check-response parser. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <netinet/in.h>

#include "media/demux.h"
#include "media/ice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int session_token;

/* Knows the ufrag "SrvUfrag" (remote "CliUfrag"), like a real session. */
static void *lookup(void *arg, const char *ufrag, size_t len, const char **pwd, const char **remote) {
  (void)arg;
  if (len != 8 || memcmp(ufrag, "SrvUfrag", 8) != 0)
    return NULL;
  *pwd = "server-password-24chars!";
  *remote = "CliUfrag";
  return &session_token;
}

static void respond(struct ice_responder *r, const uint8_t *buf, size_t len, bool v6) {
  struct sockaddr_in a4;
  struct sockaddr_in6 a6;
  memset(&a4, 0, sizeof(a4));
  memset(&a6, 0, sizeof(a6));
  a4.sin_family = AF_INET;
  a4.sin_port = htons(5000);
  a6.sin6_family = AF_INET6;
  a6.sin6_port = htons(6000);
  const struct sockaddr *from = v6 ? (const struct sockaddr *)&a6 : (const struct sockaddr *)&a4;
  socklen_t fl = v6 ? sizeof(a6) : sizeof(a4);
  uint8_t reply[1280];
  size_t rlen = sizeof(reply);
  struct ice_check chk;
  int rc = ice_responder_handle(r, buf, len, from, fl, lookup, NULL, &chk, reply, &rlen);
  if (rc == 0 && (rlen == 0 || rlen > sizeof(reply) || chk.session != &session_token))
    __builtin_trap();
  if (rc != 0 && rlen != 0)
    __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct ice_responder *r;
  if (!r)
    r = ice_responder_new();
  (void)demux_classify(data, size);

  /* The raw input as a datagram, and as a response to a transaction. */
  respond(r, data, size, size & 1);
  uint8_t tid[12] = {0};
  if (size >= 20)
    memcpy(tid, data + 8, 12);
  (void)ice_parse_check_response(data, size, "server-password-24chars!", tid);

  /* A valid check with one input-chosen mutation, so the fuzzer gets past
   * MESSAGE-INTEGRITY and FINGERPRINT into the attribute handling. */
  if (size >= 4) {
    uint8_t req[1280];
    size_t len = sizeof(req);
    uint32_t prio = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | data[2];
    if (ice_build_check(req, &len, "SrvUfrag", "CliUfrag", "server-password-24chars!", prio,
                        prio * 7919u, data[3] & 1, tid) != 0)
      __builtin_trap();
    respond(r, req, len, data[3] & 2);
    if (size >= 6) {
      size_t pos = ((size_t)data[4] << 8 | data[5]) % len;
      req[pos] ^= (uint8_t)(size > 6 ? data[6] : 0xff);
      respond(r, req, len, data[3] & 2);
      /* Splice the rest of the input onto the end. */
      size_t extra = size - 6 < sizeof(req) - len ? size - 6 : sizeof(req) - len;
      memcpy(req + len, data + 6, extra);
      respond(r, req, len + extra, false);
    }
  }
  return 0;
}
