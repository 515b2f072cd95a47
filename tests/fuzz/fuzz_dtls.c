/* fuzz_dtls.c -- libFuzzer target: hostile datagrams into DTLS servers and clients mid-handshake. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "media/dtls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink(void *arg, const uint8_t *buf, size_t len) {
  (void)arg;
  if (len == 0 || len > DTLS_MTU)
    __builtin_trap();
  (void)buf;
}

/* The input is a list of datagrams, each prefixed by a two-byte length. */
static void feed(struct dtls *d, const uint8_t *data, size_t size) {
  while (size >= 2) {
    size_t n = (size_t)data[0] << 8 | data[1];
    data += 2;
    size -= 2;
    if (n > size)
      n = size;
    int rc = dtls_feed(d, data, n);
    if (rc == 1)
      __builtin_trap(); /* nobody can complete without our peer's key */
    data += n;
    size -= n;
  }
  (void)dtls_timeout_ms(d, 0);
  (void)dtls_handle_timeout(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct dtls_cert *cert;
  static struct dtls_ctx *server, *client;
  if (!cert) {
    cert = dtls_cert_new();
    server = dtls_ctx_new(cert, DTLS_ROLE_SERVER, NULL);
    client = dtls_ctx_new(cert, DTLS_ROLE_CLIENT, NULL);
    if (!cert || !server || !client)
      __builtin_trap();
  }
  uint8_t fp[DTLS_FP_LEN];
  memset(fp, 0xab, sizeof(fp));
  struct dtls *s = dtls_new(server, fp, sizeof(fp), sink, NULL);
  struct dtls *c = dtls_new(client, fp, sizeof(fp), sink, NULL);
  if (!s || !c)
    __builtin_trap();
  (void)dtls_start(c);
  feed(s, data, size);
  feed(c, data, size);
  struct srtp_keys k;
  if (dtls_srtp_keys(s, &k) == 0 || dtls_srtp_keys(c, &k) == 0)
    __builtin_trap();
  dtls_close(s);
  dtls_free(s);
  dtls_free(c);
  return 0;
}
