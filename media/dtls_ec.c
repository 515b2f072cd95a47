/* dtls_ec.c -- browsers' ECDSA keys through OpenSSL's built-in EC method.
 *
 * OpenSSL 3.0 (Debian 12's) turns the public key of every certificate it parses into an
 * EVP_PKEY through its provider decoders, and it builds that decoder chain afresh for each key
 * (openssl/openssl#17950, cached only from 3.1 on). For a browser's P-256 certificate that is
 * about 110 us of a handshake's 375 us on this machine. When an ENGINE is registered for the EC
 * key type, d2i takes the 1.1.1 path instead (about 14 us), and EC key operations use
 * OpenSSL's own legacy EC method: the same ECDSA and ECDH code underneath, minus the provider
 * plumbing. This file registers such an ENGINE; it implements nothing itself, it hands back
 * the method OpenSSL already has (EVP_PKEY_meth_find).
 *
 * Process-wide and one-way, so it is called once at start-up, before threads. Everything else
 * (X25519, RSA, ciphers, digests) stays on the providers. TANDEM_DTLS_EC=provider skips it. */
#define OPENSSL_SUPPRESS_DEPRECATED /* the ENGINE API is deprecated in 3.0, not removed */
#include "media/dtls.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>

static const int dtls_ec__nids[] = {EVP_PKEY_EC};
static pthread_once_t dtls_ec__once = PTHREAD_ONCE_INIT;
static int dtls_ec__rc = -EIO;
static bool dtls_ec__on;

static int dtls_ec__pkey_meths(ENGINE *e, EVP_PKEY_METHOD **m, const int **nids, int nid) {
  (void)e;
  if (!m) {
    *nids = dtls_ec__nids;
    return 1;
  }
  *m = nid == EVP_PKEY_EC ? (EVP_PKEY_METHOD *)EVP_PKEY_meth_find(EVP_PKEY_EC) : NULL;
  return *m != NULL;
}

static void dtls_ec__init_once(void) {
  const char *want = getenv("TANDEM_DTLS_EC");
  if (want && strcmp(want, "provider") == 0) {
    dtls_ec__rc = 0;
    return;
  }
  if (!EVP_PKEY_meth_find(EVP_PKEY_EC))
    return;
  /* Lives as long as the process: the ENGINE table points at it without a reference. */
  static ENGINE *e;
  e = ENGINE_new();
  if (!e)
    return;
  if (ENGINE_set_id(e, "tandem-ec") && ENGINE_set_name(e, "OpenSSL's built-in EC method") &&
      ENGINE_set_pkey_meths(e, dtls_ec__pkey_meths) && ENGINE_register_pkey_meths(e)) {
    dtls_ec__on = true;
    dtls_ec__rc = 0;
  }
  ERR_clear_error();
}

int dtls_fast_ec_install(void) {
  if (pthread_once(&dtls_ec__once, dtls_ec__init_once) != 0)
    return -EIO;
  return dtls_ec__rc;
}

bool dtls_fast_ec_active(void) {
  return dtls_ec__on;
}
