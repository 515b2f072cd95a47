/* sdp.h -- WebRTC SDP offer parsing and answer building (RFC 8866, 8829, 8843). */
#ifndef TANDEM_MEDIA_SDP_H
#define TANDEM_MEDIA_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* All functions here are pure: they allocate nothing beyond the caller's
 * structs, never log, take no clock, and are safe to call from any callback
 * and from any thread on distinct structs.
 *
 * The server is ICE-lite, DTLS passive, BUNDLE + rtcp-mux only, and uses
 * exactly one audio (Opus) and one video (VP8) m-section. Any other
 * m-section is kept in the offer's order and rejected (port 0) in the answer. */

#define SDP_MAX_MEDIA 8
#define SDP_MAX_SSRC 8
#define SDP_MAX_LINE 4096  /* longest accepted line, without its line end */
#define SDP_MAX_OFFER 65536 /* largest accepted offer, in bytes */

enum sdp_kind { SDP_AUDIO, SDP_VIDEO, SDP_OTHER };
enum sdp_dir { SDP_SENDRECV, SDP_SENDONLY, SDP_RECVONLY, SDP_INACTIVE };

/* One m-section of an offer. Every string is NUL-terminated. */
struct sdp_media {
  enum sdp_kind kind;
  char media[16];      /* the m-line's media token: "audio", "video", "application", ... */
  char mid[33];        /* a=mid, "" if the section has none */
  char proto[48];      /* e.g. "UDP/TLS/RTP/SAVPF" */
  char first_fmt[32];  /* the first format of the m-line, e.g. "111", "webrtc-datachannel" */
  int port;
  bool bundle_only, rtcp_mux, used; /* used = the one audio / one video section we accept */
  enum sdp_dir dir;    /* the offerer's direction (media-level, else session-level, else sendrecv) */
  int pt;              /* Opus PT for audio, VP8 PT for video, -1 if absent */
  char fmtp[256];      /* fmtp of that pt, "" if none */
  bool fb_nack, fb_pli, fb_fir, fb_remb, fb_transport_cc; /* rtcp-fb offered for that pt (or "*") */
  uint8_t ext_mid, ext_abs_send_time, ext_audio_level, ext_transport_cc,
      ext_toffset;     /* extmap ids, 0 = absent */
  uint32_t ssrcs[SDP_MAX_SSRC];
  size_t n_ssrc;       /* from a=ssrc lines, in order, no duplicates */
  uint32_t main_ssrc;  /* the media SSRC (first of an a=ssrc-group:FID, else first a=ssrc), 0 if none */
  uint32_t rtx_ssrc;   /* second of ssrc-group FID, 0 if none */
};

/* A parsed offer. Transparent and caller-allocated; holds no pointers, so it
 * can be copied freely and outlives the offer text. */
struct sdp_offer {
  char ice_ufrag[257], ice_pwd[257]; /* of the bundled transport */
  char fp_alg[16];     /* "sha-256" (lower-case) */
  uint8_t fp[64];
  size_t fp_len;       /* 32 */
  char setup[16];      /* "actpass" / "active" (absent = "active", RFC 4145) */
  bool ice_trickle;
  struct sdp_media media[SDP_MAX_MEDIA];
  size_t n_media;
  int audio, video;    /* index in media[] of the used audio / video section, -1 none */
  int bundle_tag;      /* audio or video: the used section named first in the offer's
                          a=group:BUNDLE; the answer's group starts with it */
};

/* Parses the offer sdp[0..len) (no NUL terminator needed; \r\n or \n line
 * ends) into *o. Returns 0 on success, with o->audio and o->video >= 0.
 * Otherwise returns -EBADMSG (malformed or missing mandatory attributes) or
 * -ENOTSUP (well-formed but not something this server does) and sets *err
 * (if err is not NULL) to a static, human-readable message such as
 * "offer has no a=fingerprint" or "rtcp-mux is required". On failure *o is
 * left exactly as it was. sdp is only read during the call. */
int sdp_parse_offer(const char *sdp, size_t len, struct sdp_offer *o, const char **err);

/* Addresses beyond the first that an answer may advertise (public_ip holds at most 4). */
#define SDP_MAX_MORE_IPS 3

/* What the server puts in its answer. All strings are borrowed for the call. */
struct sdp_answer_params {
  const char *ice_ufrag, *ice_pwd;     /* ice-chars, 4..256 / 22..256 */
  const char *fingerprint;    /* "sha-256" value "AB:CD:...", upper-case hex
                                 (a leading "sha-256 " is tolerated) */
  const char *ip;             /* the host candidates' IPv4/IPv6 literal: the preferred one */
  const char *const *more_ips; /* n_more_ips further literals (public_ip lists several), each
                                 with its own candidates, in decreasing preference; may be NULL
                                 when n_more_ips is 0 */
  size_t n_more_ips;          /* 0..SDP_MAX_MORE_IPS */
  uint16_t udp_port;          /* 0 = no UDP candidate */
  uint16_t tcp_port;          /* 0 = no TCP candidate; else also a passive TCP candidate (tcptype passive) */
  uint16_t https_port;        /* 0 = none; else a passive TCP candidate on the HTTPS port too, below
                                 tcp_port's (server/httpd_demux.c hands its connections over) */
  uint32_t audio_ssrc, video_ssrc;     /* the server's outbound SSRCs for this receiver */
  const char *cname;          /* a=ssrc cname: 1..255 printable non-space chars */
  const char *stream_id;      /* msid stream id: 1..64 token chars; the tracks are
                                 "audio" and "video" */
  const char *video_stream_id; /* NULL: video in stream_id too (browsers keep the two in lip
                                 sync); else video's own stream (1..64 token chars, not the
                                 same), which browsers play without waiting for audio */
  uint64_t session_id;
};

/* Writes the answer to an offer that sdp_parse_offer() accepted into
 * out[0..cap), NUL-terminated, with \r\n line ends. Returns the number of
 * bytes written (without the NUL), -ENOSPC if cap is too small (out then
 * holds a truncated, NUL-terminated prefix when cap > 0), or -EINVAL if the
 * offer has no used audio/video section or a parameter is missing or
 * invalid. The answer has a=ice-lite, a=group:BUNDLE of the used mids, and
 * per used section: port 9, the offer's codec PT only, a=setup:passive, the
 * ICE credentials, fingerprint, host candidates (for each address, in the order given, a UDP
 * candidate if udp_port and a passive TCP one if tcp_port: every UDP candidate above every TCP
 * one, and the first address above the next) and a=end-of-candidates, the
 * sdes:mid extmap if offered, the complement of the offer's direction and,
 * when the server sends, a=msid and a=ssrc cname/msid. Unused sections are
 * answered with port 0 and their a=mid. A typical answer is about 1.5 KiB;
 * 8 KiB always suffices. Any offer sdp_parse_offer() accepted can be answered. */
int sdp_write_answer(const struct sdp_offer *o, const struct sdp_answer_params *p, char *out,
                     size_t cap);

/* Parses a NUL-terminated fingerprint "AB:CD:..." (hex case-insensitive) into
 * out[0..cap) and sets *n to its length. Returns 0, -EBADMSG if malformed
 * (empty, not two hex digits per byte, stray ':' or other characters) or
 * -ENOSPC if it has more than cap bytes. */
int sdp_fingerprint_parse(const char *text, uint8_t *out, size_t cap, size_t *n);

/* Formats fp[0..n) as "AB:CD:..." (upper-case) into out[0..cap), NUL-terminated.
 * Returns the string length (3n - 1, or 0 when n is 0) or -ENOSPC. */
int sdp_fingerprint_format(const uint8_t *fp, size_t n, char *out, size_t cap);

#endif
