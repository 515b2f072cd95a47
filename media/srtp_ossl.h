/* srtp_ossl.h -- OpenSSL-backed AES-ICM, HMAC-SHA1 and AES-GCM for libsrtp2. */
#ifndef TANDEM_MEDIA_SRTP_OSSL_H
#define TANDEM_MEDIA_SRTP_OSSL_H

#include <srtp2/auth.h>
#include <srtp2/cipher.h>

/* Debian's libsrtp2 is built on NSS, which sets up a fresh cipher context
 * for every packet. This module registers OpenSSL implementations of the
 * transforms WebRTC uses in libsrtp2's crypto kernel, so srtp_protect()
 * and srtp_unprotect() keep working unchanged but run on contexts that are
 * keyed once per session and only re-IVed per packet:
 *
 *   SRTP_AES_ICM_128  AES-128-CTR, libsrtp's 16-byte IV (salt XOR
 *                     SSRC/index, block counter in the low 16 bits); also
 *                     the SRTP key derivation function.
 *   SRTP_HMAC_SHA1    HMAC-SHA1 with the inner and outer pad states
 *                     precomputed per key; a packet costs one state copy
 *                     and the hash of its own bytes.
 *   SRTP_AES_GCM_128  AEAD_AES_128_GCM and AEAD_AES_256_GCM (RFC 7714),
 *   SRTP_AES_GCM_256  8- or 16-byte tags.
 *
 * Nothing is allocated per packet: contexts are created by libsrtp's
 * alloc/init when a session is created, and freed with it. */

/* Replaces the stock implementations in libsrtp2's crypto kernel. Call
 * after srtp_init() (the kernel must already hold the stock types, whose
 * test vectors are run against ours) and before any srtp_create(), from one
 * thread: libsrtp's kernel has no locks. srtpctx_global_init() does this.
 * Each replacement is accepted by libsrtp only if it passes libsrtp's own
 * self-test vectors and ours; a type that fails stays stock. Calling it
 * again re-registers the same types, which is harmless.
 * 0 when all four are installed; -EINVAL if srtp_init() has not run; -EIO
 * if any self-test failed (the others stay installed). */
int srtp_ossl_install(void);

/* "openssl" when all four transforms are ours, "libsrtp" when none is (not
 * installed, or TANDEM_SRTP_BACKEND=libsrtp), "mixed" otherwise. A static
 * string. Reflects srtp_ossl_install() calls only: srtp_shutdown() brings
 * back the stock types without this module knowing. */
const char *srtp_ossl_backend(void);

/* Our type for a libsrtp id (SRTP_AES_ICM_128, SRTP_AES_GCM_128,
 * SRTP_AES_GCM_256 / SRTP_HMAC_SHA1), else NULL. Static objects, valid for
 * the life of the process, usable with srtp_cipher_type_alloc() and
 * srtp_auth_type_alloc() whether or not they are installed (the vector tests use
 * them directly). */
const srtp_cipher_type_t *srtp_ossl_cipher_type(srtp_cipher_type_id_t id);
const srtp_auth_type_t *srtp_ossl_auth_type(srtp_auth_type_id_t id);

#endif
