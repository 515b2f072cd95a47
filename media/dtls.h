/* dtls.h -- DTLS 1.2 for DTLS-SRTP with OpenSSL on memory BIOs. */
#ifndef TANDEM_MEDIA_DTLS_H
#define TANDEM_MEDIA_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/srtpctx.h"

/* Datagrams go in through dtls_feed and come out through a send callback,
 * never through a socket. Records written during one OpenSSL call are packed
 * into datagrams of at most DTLS_MTU bytes; a record is never split. */
#define DTLS_MTU 1200
#define DTLS_FP_LEN 32                 /* sha-256 */
#define DTLS_FP_STR_SIZE (3 * DTLS_FP_LEN) /* "AB:CD:...:EF" + NUL */

/* Makes OpenSSL parse and use ECDSA keys (the browsers' certificates) through its built-in
 * EC method instead of the 3.0 provider decoders: about 1.5x cheaper handshakes (dtls_ec.c).
 * Process-wide; call once at start-up before threads. TANDEM_DTLS_EC=provider skips it.
 * 0 or -EIO; idempotent. */
int dtls_fast_ec_install(void);
/* Whether the above is in effect. */
bool dtls_fast_ec_active(void);

/* The process-wide self-signed ECDSA P-256 certificate, made at start-up
 * (valid from a day ago for ten years, random serial and CN). Immutable
 * after dtls_cert_new, so worker threads may share it; it must outlive
 * every dtls_ctx made from it. NULL on failure; dtls_cert_free(NULL) ok. */
struct dtls_cert;
struct dtls_cert *dtls_cert_new(void);
void dtls_cert_free(struct dtls_cert *c);
/* sha-256 of the DER certificate as in SDP a=fingerprint:
 * "AB:CD:..." upper-case, borrowed, valid as long as c. */
const char *dtls_cert_fingerprint(const struct dtls_cert *c);
/* The same 32 bytes, raw. */
void dtls_cert_fingerprint_bytes(const struct dtls_cert *c, uint8_t fp[DTLS_FP_LEN]);

/* Parses an SDP fingerprint value ("AB:CD:...", 32 hex pairs, either case)
 * into 32 bytes. 0 or -EBADMSG. */
int dtls_fingerprint_parse(const char *s, size_t len, uint8_t fp[DTLS_FP_LEN]);

enum dtls_role { DTLS_ROLE_SERVER, DTLS_ROLE_CLIENT };

/* An SSL_CTX plus its BIO method; one per worker thread, and all dtls made
 * from it belong to that thread. srtp_profiles is an OpenSSL use_srtp list;
 * NULL = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80", which is also the
 * server's preference order (OpenSSL's server picks the first of its own
 * profiles that the client offers). Only the two profiles of
 * enum srtpctx_profile yield keys. NULL on failure. It must outlive every
 * dtls made from it; dtls_ctx_free(NULL) is a no-op. */
struct dtls_ctx;
struct dtls_ctx *dtls_ctx_new(const struct dtls_cert *c, enum dtls_role role,
                              const char *srtp_profiles);
void dtls_ctx_free(struct dtls_ctx *x);

/* Called with each outgoing datagram (at most DTLS_MTU bytes) synchronously
 * from inside dtls_start, dtls_feed, dtls_handle_timeout and dtls_close;
 * buf is valid only during the call. The callback must not call dtls_*
 * functions on the same object. */
typedef void (*dtls_send_fn)(void *arg, const uint8_t *buf, size_t len);

/* One DTLS association. peer_fp is the sha-256 of the peer's certificate
 * from its SDP a=fingerprint (DTLS_FP_LEN bytes, copied); the handshake
 * only completes for a peer whose certificate matches. NULL when out of
 * memory or when peer_fp is not DTLS_FP_LEN bytes. */
struct dtls;
struct dtls *dtls_new(struct dtls_ctx *x, const uint8_t *peer_fp, size_t peer_fp_len,
                      dtls_send_fn send, void *arg);

/* Client: sends the ClientHello; server: no-op. 0, -EPROTO, or -EINVAL if
 * called twice or after a failure. */
int dtls_start(struct dtls *d);

/* One received datagram. Returns 0 in progress / nothing happened (also
 * for garbage, which DTLS silently drops), 1 the handshake completed now
 * (fingerprint verified; happens once), -EACCES the peer certificate does
 * not match peer_fp (the session must end), -EPROTO a fatal handshake
 * error or alert, -ECONNRESET close_notify received. Application data
 * after the handshake is ignored. After an error every later call returns
 * the same error. */
int dtls_feed(struct dtls *d, const uint8_t *buf, size_t len);

/* Milliseconds until a retransmission is due (0 = due now), -1 when no
 * timer runs (handshake not started, or finished). OpenSSL keeps the
 * retransmission timer on its own monotonic clock; now_ms is accepted for
 * the caller's convenience and not needed. */
int dtls_timeout_ms(struct dtls *d, uint64_t now_ms);

/* Retransmits the last flight if its timer expired (doubling the timeout,
 * RFC 6347 section 4.2.4.1). 0; -ETIMEDOUT when OpenSSL gives up; after an
 * earlier failure, that failure's error. */
int dtls_handle_timeout(struct dtls *d);

bool dtls_done(const struct dtls *d);

/* The negotiated SRTP profile and keys, oriented by our role; valid after
 * completion. 0, or -EINVAL (not done, or a profile we have no enum for). */
int dtls_srtp_keys(struct dtls *d, struct srtp_keys *k);

/* "SRTP_AES128_CM_SHA1_80", "SRTP_AEAD_AES_128_GCM", or "unknown". */
const char *dtls_profile_name(enum srtpctx_profile p);

/* Sends close_notify if established (once). Afterwards dtls_feed ignores
 * input (returns 0), no timer runs, and only dtls_free is useful. */
void dtls_close(struct dtls *d);
void dtls_free(struct dtls *d); /* NULL ok */

#endif
