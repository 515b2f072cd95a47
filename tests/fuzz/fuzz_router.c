/* fuzz_router.c -- libFuzzer target: the router's RTP rewriting and RTCP termination fed
 * synthetic, linked sessions on two hand-driven workers (no sockets, no threads). The input is
 * a run of records [op:1][len:1][bytes:len]: op picks the session and RTP or RTCP, a link
 * change, or moving the workers' rings along. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/router_int.h"
#include "media/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char OFFER[] = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                            "a=group:BUNDLE a v\r\n"
                            "a=fingerprint:sha-256 C6:04:75:69:16:4D:D9:89:51:31:14:B6:F2:12:52:"
                            "56:B4:35:95:F5:52:66:43:44:15:DA:88:68:B9:4F:D0:5A\r\n"
                            "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
                            "a=setup:actpass\r\n"
                            "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\n"
                            "a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"
                            "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
                            "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:v\r\n"
                            "a=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n"
                            "a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n"
                            "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n";

#define NS 3

static struct {
  uv_loop_t loop;
  struct dtls_cert *cert;
  struct mediaplane *mp;
  uint64_t sid[NS];
} F;

static struct worker *wk(uint64_t sid) { return mediaplane__worker(F.mp, (unsigned)(sid & 0xff)); }
static struct session *sess(int i) { return worker__session(wk(F.sid[i]), F.sid[i]); }

static void pump(void) {
  for (int round = 0; round < 3; round++)
    for (unsigned i = 0; i < 2; i++) {
      struct worker *w = mediaplane__worker(F.mp, i);
      worker__run_commands(w);
      worker__drain_rings(w);
      worker__flush(w);
    }
}

static void setup(void) {
  srtpctx_global_init();
  uv_loop_init(&F.loop);
  F.cert = dtls_cert_new();
  struct mediaplane_config cfg;
  mediaplane_config_default(&cfg);
  cfg.workers = 2;
  if (!F.cert || mediaplane__new(&F.loop, &cfg, NULL, F.cert, false, &F.mp) != 0)
    abort();
  for (int i = 0; i < NS; i++) {
    struct sdp_offer o;
    const char *err;
    static char answer[8192];
    if (sdp_parse_offer(OFFER, strlen(OFFER), &o, &err) != 0 ||
        mediaplane_new_session(F.mp, &o, answer, sizeof(answer), &F.sid[i]) != 0)
      abort();
    pump();
    struct session *s = sess(i);
    struct srtp_keys k = {.profile = SRTPCTX_AEAD_AES_128_GCM, .key_len = 16, .salt_len = 12};
    memset(k.local, i + 1, sizeof(k.local));
    memset(k.remote, i + 7, sizeof(k.remote));
    s->keys = k;
    s->srtp = srtpctx_new(&k);
    s->dtls_done = true;
    handover__srtp_ready(s);
    /* A datagram path: packets are built and protected, then not sent (no socket). */
    struct sockaddr_in *in = (struct sockaddr_in *)&s->path.addr;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)(5000 + i));
    s->path.kind = TX_DGRAM;
    handover__path_changed(s);
  }
  mediaplane_link(F.mp, F.sid[0], F.sid[1]);
  pump();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool ready;
  if (!ready) {
    setup();
    ready = true;
  }
  uint8_t pkt[256 + SRTPCTX_TRAILER];
  while (size >= 2) {
    uint8_t op = data[0];
    size_t len = data[1];
    data += 2;
    size -= 2;
    if (len > size)
      len = size;
    int who = op % NS;
    struct session *s = sess(who);
    switch ((op / NS) % 5) {
    case 0:
    case 1:
      /* An RTP packet, made to carry one of the session's payload types often enough. */
      if (s && len >= 12) {
        memcpy(pkt, data, len);
        pkt[0] = (uint8_t)(0x80 | (pkt[0] & 0x1f));
        if (op & 0x40)
          pkt[1] = (uint8_t)((pkt[1] & 0x80) | (op & 0x20 ? 96 : 111));
        router__on_rtp(s, pkt, len, worker__now(s->w) + op);
      }
      break;
    case 2:
      if (s && len) {
        memcpy(pkt, data, len);
        router__on_rtcp(s, pkt, len, worker__now(s->w));
      }
      break;
    case 3:
      if (op & 0x80)
        mediaplane_unlink(F.mp, F.sid[who]);
      else
        mediaplane_link(F.mp, F.sid[who], F.sid[(who + 1 + (op >> 6 & 1)) % NS]);
      break;
    default:
      pump();
      break;
    }
    data += len;
    size -= len;
  }
  pump();
  return 0;
}
