/* srtpctx.h -- SRTP/SRTCP protection of one transport with libsrtp2. */
#ifndef TANDEM_MEDIA_SRTPCTX_H
#define TANDEM_MEDIA_SRTPCTX_H

#include <stddef.h>
#include <stdint.h>

#define SRTPCTX_MAX_KEY 32
/* Room callers must leave after a packet for protect (libsrtp2 assumes it
 * may write SRTP_MAX_TRAILER_LEN, +4 for SRTCP's index word). */
#define SRTPCTX_TRAILER 148

/* DTLS-SRTP protection profiles (RFC 5764 / RFC 7714 ids). */
enum srtpctx_profile { SRTPCTX_AES128_CM_SHA1_80 = 1, SRTPCTX_AEAD_AES_128_GCM = 7 };

/* Keying material from DTLS-SRTP. local = key||salt we protect with; remote
 * = key||salt we unprotect with (RFC 5764 exporter layout client_write_key |
 * server_write_key | client_salt | server_salt, oriented by our role).
 * key_len + salt_len bytes of each are used: 16+14 for AES128_CM_SHA1_80,
 * 16+12 for AEAD_AES_128_GCM. Plain data; callers should wipe it after use. */
struct srtp_keys {
  enum srtpctx_profile profile;
  uint8_t local[SRTPCTX_MAX_KEY + 14];
  uint8_t remote[SRTPCTX_MAX_KEY + 14];
  size_t key_len, salt_len;
};

/* Initialises libsrtp2 (srtp_init) once per process; safe to call again and
 * from several threads. 0 or -EIO. */
int srtpctx_global_init(void);

/* One transport's SRTP state: an inbound session (ssrc_any_inbound, remote
 * key, replay protection) and an outbound one (ssrc_any_outbound, local key,
 * allow_repeat_tx so a NACKed packet can be protected again). Copies the
 * keys; k may be wiped afterwards. NULL on failure (bad profile or key
 * lengths, out of memory, srtpctx_global_init not called). Each srtpctx
 * belongs to one thread. srtpctx_free(NULL) is a no-op. */
struct srtpctx;
struct srtpctx *srtpctx_new(const struct srtp_keys *k);
void srtpctx_free(struct srtpctx *s);

/* Unprotect in place: *len in, plaintext length out. 0; -EACCES
 * authentication failed; -EALREADY a replayed (or too old) packet;
 * -EBADMSG malformed. On error the buffer contents are unspecified and *len
 * is unchanged. */
int srtpctx_unprotect_rtp(struct srtpctx *s, uint8_t *buf, size_t *len);
int srtpctx_unprotect_rtcp(struct srtpctx *s, uint8_t *buf, size_t *len);

/* Unprotects a retransmission: an RTP packet srtpctx_unprotect_rtp refused as a replay
 * (-EALREADY, which leaves buf as it was) because the sender sent that index again -- what a
 * browser does when a receiver asks (NACK) for a packet lost after us. It is checked by a
 * one-off session of the same key at the stream's rollover counter, so the inbound replay
 * window is neither bypassed nor changed; which indices may come again, and how often (once
 * each), is the caller's to decide. Returns as srtpctx_unprotect_rtp (-ENOENT: no stream of
 * that SSRC has been received). */
int srtpctx_unprotect_rtp_again(struct srtpctx *s, uint8_t *buf, size_t *len);

/* Protect in place: buf holds *len bytes of RTP/RTCP inside cap bytes of
 * writable memory; *len out is the SRTP/SRTCP length. -ENOSPC if cap cannot
 * hold the tag (leaving SRTPCTX_TRAILER bytes always suffices), -EBADMSG for
 * a malformed header, -EIO for any other libsrtp failure. */
int srtpctx_protect_rtp(struct srtpctx *s, uint8_t *buf, size_t *len, size_t cap);
int srtpctx_protect_rtcp(struct srtpctx *s, uint8_t *buf, size_t *len, size_t cap);

#endif
