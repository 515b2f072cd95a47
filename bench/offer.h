/* offer.h -- tandem-bench's Chrome-shaped SDP offer, and reading the server's answer. */
#ifndef TANDEM_BENCH_OFFER_H
#define TANDEM_BENCH_OFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "media/dtls.h"

/* tests/data/sdp/chromium-156-offer.sdp, NUL-terminated, compiled in by
 * bench/CMakeLists.txt. */
extern const char offer_chrome_template[];

/* What makes one peer's offer its own. Strings are borrowed for the call. */
struct offer_params {
  const char *ufrag, *pwd;  /* ice-chars */
  const char *fingerprint;  /* "AB:CD:..." of the process's certificate */
  const char *ip;           /* our host candidate */
  uint16_t port;
  bool tcp_active;          /* also an active TCP host candidate (port 9), as Chromium gathers */
  uint32_t audio_ssrc, video_ssrc, rtx_ssrc;
  const char *cname;
  uint64_t session_id;
};

/* Rewrites the Chrome offer `tmpl` (tests/data/sdp/chromium-156-offer.sdp,
 * NUL-terminated) for one peer: the o= session id, every ice-ufrag/ice-pwd
 * and fingerprint, the candidates (one UDP host candidate in the first
 * section, as Chrome gathers them; connection lines to match), the SSRCs
 * (audio, video, video RTX in the FID group, in the template's order) and the
 * cname. Everything else -- codecs, extmaps, rtcp-fb, BUNDLE, rtcp-mux,
 * a=setup:actpass -- stays as Chrome wrote it. Writes \r\n line ends and a
 * NUL into out[0..cap). Returns the length, -ENOSPC, or -EBADMSG when the
 * template lacks an audio and a video section. Pure. */
int offer_build(const char *tmpl, const struct offer_params *p, char *out, size_t cap);

/* What the bench needs from the server's answer. */
struct answer_info {
  char ufrag[257], pwd[257];
  uint8_t fp[DTLS_FP_LEN];
  struct sockaddr_storage cand; /* the first UDP host candidate */
  socklen_t cand_len;
  struct sockaddr_storage tcp_cand; /* the first TCP host candidate with tcptype passive */
  socklen_t tcp_cand_len;
  uint32_t ssrc[2];             /* the server's SSRC per kind (audio, video), 0 if absent */
  int pt[2];                    /* the payload type the server answered per kind, -1 if none */
};

/* Reads an answer (no NUL needed; \r\n or \n). 0, or -EBADMSG with *err set
 * to a static description (missing ICE credentials, fingerprint, candidate of
 * the wanted transport -- a UDP one, or with `tcp` a passive TCP one --, a
 * section, or not a=setup:passive). Of several candidates of a transport the first of
 * `family` (AF_INET or AF_INET6: the bench's own socket's) is taken, else the first. Pure. */
int offer_parse_answer(const char *sdp, size_t len, bool tcp, int family, struct answer_info *a,
                       const char **err);

#endif
