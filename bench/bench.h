/* bench.h -- what the parts of tandem-bench share: options, the run, counters. */
#ifndef TANDEM_BENCH_BENCH_H
#define TANDEM_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "bench/stats.h"

/* How a simulated visitor behaves once it is paired (bench/README.md). */
enum bench_behaviour { BH_STAY, BH_SKIP, BH_SKIPNOW, BH_REFRESH, BH_VANISH, BH_REPORT, BH_COUNT };

/* Command-line options; filled by main.c, read-only afterwards. */
struct bench_opts {
  char url[256];
  char host[64]; /* numeric address of the --url host */
  int port;
  int peers;
  double duration_s, ramp;
  int mix[BH_COUNT]; /* percentages, summing to 100 */
  double skip_min_s, skip_max_s;
  int video_kbps;
  bool video, audio, json;
  bool hold_media;         /* until every seat is READY, send only the first keyframe */
  bool floor;              /* after the run, the bare relay floor on the same packets */
  bool forge_alert;        /* 2 s into media, each session sends a forged DTLS alert record */
  bool tcp;                /* --transport=tcp: media over ICE-TCP (RFC 6544/4571), not UDP */
  const char *report;
  uint64_t seed;
  int server_pid;          /* 0: find it by the --url port */
  double ready_timeout_s;  /* a visit must reach READY within this */
  int trace_peer;          /* print this peer's signalling to stderr; -1 none, -2 all */
  unsigned shard_k, shard_n; /* --shard K/N: this process drives seats K-1, K-1+N, ...; 0 0 */
  bool remote;             /* --remote: the --url host need not be this machine */
  bool merge;              /* --merge: sum up shards' --json results, run nothing */
  char **merge_files;      /* the files named after --merge, n_merge of them */
  int n_merge;
};

/* The cross-talk audit's slack (WebSocket and UDP race each other) and the shortest pairing
 * that must carry the partner's audio and video (main.c and the shard merge, shard.c). */
#define BENCH_XTALK_TOL_US 1500000
#define BENCH_MIN_PAIR_US 3000000

/* Failures. Any of them makes the run fail (exit status 1). */
enum bench_err {
  BE_WS_CONNECT,     /* TCP connect or WebSocket upgrade failed */
  BE_WS_CLOSED,      /* the server closed a WebSocket we did not close */
  BE_PROTOCOL,       /* an `error` from the server (other than cooldown), or a bad message */
  BE_BAD_ANSWER,     /* an answer we could not use */
  BE_ICE,            /* no ICE check succeeded in time */
  BE_DTLS,           /* DTLS handshake failed or timed out */
  BE_SRTP,           /* SRTP/SRTCP authentication failures */
  BE_READY_TIMEOUT,  /* no state ready within --ready-timeout */
  BE_MEDIA_FAILED,   /* the server said media_failed */
  BE_RTP,            /* a received packet without a valid identity trailer or VP8 header */
  BE_PARTNER_VIDEO,  /* partner_video named a timestamp whose packet is not a keyframe start */
  BE_MISSING_MEDIA,  /* a pairing of >= 3 s without both the partner's audio and video */
  BE_TCP,            /* --transport=tcp: connect failed, a bad frame, the server closed it */
  BE_COUNT
};

/* Latency and quality samples (histograms). */
enum bench_metric {
  BM_READY,        /* connect -> state ready, ms */
  BM_START_MATCH,  /* start sent -> matched, ms */
  BM_MATCH_KEY,    /* matched -> first packet of the partner's keyframe, ms */
  BM_NEXT_MATCH,   /* next sent (or partner_left) -> matched again (time in the pool), ms */
  BM_NEXT_FRAME,   /* the same -> first keyframe packet of the next partner, ms */
  BM_RESUME,       /* refresh: reconnect -> partner media again, ms */
  BM_LOSS_AUDIO,   /* per received stream, percent */
  BM_LOSS_VIDEO,
  BM_JITTER_AUDIO, /* per received stream, RFC 3550 interarrival jitter, ms */
  BM_JITTER_VIDEO,
  BM_COUNT
};

/* Totals across all peers, updated as things happen. */
struct bench_totals {
  uint64_t visits, ready, matched, nexts, partner_left, cooldowns, refreshes, resumed, vanished;
  uint64_t reports, reported, reports_limited; /* report behaviour: sent, acknowledged, refused */
  uint64_t tx_packets, tx_bytes, tx_dropped, rx_packets, rx_bytes;
  uint64_t rtp_packets[2], rtp_bytes[2]; /* audio, video RTP sent, sizes before SRTP */
  uint64_t forged_alerts;    /* --forge-alert records sent */
  uint64_t udp_rx;           /* datagrams received from the server's media address */
  uint64_t tcp_connects, tcp_connected; /* ICE-TCP connections attempted / established */
  uint64_t tcp_rx_frames, tcp_rx_bytes;  /* RFC 4571 frames received (payload bytes) */
  uint64_t tcp_queued;       /* packets the socket did not take at once (written later) */
  uint64_t plis, firs, nacks, keyframes_sent;
  uint64_t xtalk_order[2];  /* audio, video: a packet numbered inside another sender's run */
  uint64_t xtalk_foreign;   /* a sender id that is not a bench peer of this run, or ourselves */
  uint64_t xtalk_window;    /* found after the run: a sender change or media not explained by
                               the pairings both sides saw */
  uint64_t pv_unseen;       /* partner_video for a timestamp never received (pairing ended) */
  uint64_t pairings_checked, pairings_ok; /* >= 3 s pairings with both partner tracks */
  uint64_t err[BE_COUNT];
};

struct media_set;
struct dtls_ctx;
struct xtalk;

/* The run: one per process, owned by main.c; peers hold a borrowed pointer. */
struct brun {
  uv_loop_t *loop;
  const struct bench_opts *o;
  struct sockaddr_storage http_addr; /* the --url host and port */
  struct sockaddr_storage media_addr; /* where media sockets bind (port ignored): the --url
                                         host, or with --remote this machine's address to it */
  char media_ip[64];                  /* that address, for the offers' candidates */
  char host_hdr[96];                 /* Host: header value */
  const struct media_set *media;
  struct dtls_ctx *dtls;             /* client role, one per process */
  const char *fingerprint;           /* of the process's dtls_cert */
  const char *offer_template;        /* the Chrome offer text, NUL-terminated */
  uint8_t ext_mid;                   /* the offer's sdes:mid extmap id (0 none) */
  int pt[2];                         /* the offer's Opus and VP8 payload types */
  char mid[2][33];                   /* the offer's audio and video mids */
  struct xtalk *xt;
  uint32_t nonce;                    /* upper half of every sender id of this run */
  uint32_t streams;                  /* media sessions opened so far */
  uint64_t t0_us;                    /* uv_hrtime() / 1000 at the start */
  uint64_t t0_unix_us;               /* the wall clock then (microseconds since 1970), which
                                        puts shards' times on one axis when they are merged */
  uint64_t end_us;                   /* when the run ends (brun_now_us time) */
  uint64_t rng;
  bool ending;                       /* the run is over: peers stop and close */
  bool media_held;                   /* --hold-media and not every seat READY yet */
  struct stats *m[BM_COUNT];
  struct bench_totals t;
  unsigned logged[BE_COUNT];         /* lines printed per error kind (bounded) */
  unsigned xtalk_logged;
  uint8_t rxbuf[65536];              /* every UDP and TCP socket reads here (one thread) */
};

/* Microseconds since the run started. */
uint64_t brun_now_us(const struct brun *r);

/* Counts one failure of kind e for peer index `peer` and prints the first
 * few of each kind to stderr with the peer's index. */
void brun_error(struct brun *r, enum bench_err e, uint32_t peer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Deterministic pseudo-random numbers from --seed (splitmix64). */
uint64_t brun_rand(struct brun *r);
/* Uniform in [lo, hi]. */
double brun_uniform(struct brun *r, double lo, double hi);

/* Short names, for tables and JSON. */
extern const char *const bench_behaviour_names[BH_COUNT];
extern const char *const bench_err_names[BE_COUNT];
extern const char *const bench_metric_names[BM_COUNT];
extern const char *const bench_metric_units[BM_COUNT];

#endif
