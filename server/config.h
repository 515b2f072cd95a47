/* config.h -- the server's configuration: embedded defaults < file < environment < flags. */
#ifndef TANDEM_CONFIG_H
#define TANDEM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config {
  char http_addr[64];
  int http_port;
  char tls_cert[256];     /* PEM certificate chain: http_port speaks HTTPS; "" = plain HTTP */
  char tls_key[256];      /* its PEM private key (both or neither) */
  int http_redirect_port; /* plain HTTP here answers 308 to https://; 0 = off */
  char media_addr[64];
  char media_addr6[64];   /* the IPv6 media sockets' address beside an IPv4 media_addr: "::" */
  int media_port;
  int media_workers;      /* 0 = one per core */
  int media_poll_pps;     /* timer-driven receive above this rate per worker; 0 = never */
  int media_poll_ms;      /* its period */
  int media_record_ms;    /* evidence recording per session; 0 = off, else 2000-60000 */
  char media_transports[8]; /* udp, tcp or both: what browsers are offered */
  bool media_av_sync;     /* browsers hold video for lip sync with audio (sdp_answer.c) */
  bool media_on_https_port; /* with TLS: http_port takes ICE-TCP too (server/httpd_demux.c) */
  char public_ip[256];    /* IP literals, comma-separated, the preferred first (at most 4);
                             "" = detect: the first non-loopback IPv4 (else 127.0.0.1) and
                             the first global IPv6 */
  char data_dir[256];
  char log_level[16];     /* error, warn, info or debug */
  char log_format[8];     /* text or json (one object per line) */
  bool log_ips;           /* visitors' IP addresses appear in logs */
  char metrics_addr[80];  /* "ip:port" of a separate /metrics listener; "" = the public port */
  char web_dir[256];      /* "" = the web client compiled into the binary */
  int silence_ms;         /* media silent this long: the peer leaves its pair */
  int grace_ms;           /* a dropped WebSocket may resume within this */
  int connect_timeout_ms; /* ICE + DTLS must complete within this */
  int max_peers;          /* connections refused beyond this */
  int drain_timeout_ms;   /* SIGTERM: wait this long for calls to end, then exit */
  bool trust_proxy;       /* X-Forwarded-For from a load balancer names the client */
  /* Matching (docs/matching.md). */
  int match_widen_ms, match_recent_k, match_rematch_cooldown_ms, match_rematch_lonely_ms;
  int match_next_limit, match_next_window_ms, match_next_cooldown_ms;
  int match_same_node_ms; /* a cluster prefers a same-node partner within this wait */
  int chat_burst, chat_per_sec;
  char terms_text[1024];  /* the page's terms/18+ notice; "" = the page's own default */
  char config_file[256];
  /* Limits against hostile clients (docs/security.md). */
  char ws_origins[512];   /* pages allowed to open /ws; "" = the page's own origin */
  int max_connections;    /* HTTP/WebSocket connections at once; 0 = from the descriptor limit */
  int max_conns_per_ip;   /* connections per client address (IPv6: /64); 0 = no limit */
  int max_visitors_per_ip; /* visitors (attached or in grace) per address; 0 = no limit */
  int hello_timeout_ms;   /* a WebSocket must send hello within this */
  int offer_timeout_ms;   /* a visitor without media must send an offer within this of welcome */
  int ready_timeout_ms;   /* an offer's media must be flowing within this */
  int offers_per_min;     /* offers per visitor a minute (a burst of half); 0 = no limit */
  int resumes_per_min;    /* resumes per visit a minute (a burst of half); 0 = no limit */
  int offers_per_min_per_ip; /* offers per client address a minute (burst half); 0 = none */
  /* Moderation (docs/admin-api.md, docs/moderation.md). */
  char admin_token[256];  /* bearer token of /api/ and /admin; "" = the admin API is off */
  int snapshot_max_age_ms; /* a cached snapshot this young is answered as is */
  int snapshot_timeout_ms; /* how long to wait for a fresh keyframe */
  int snapshot_threads;   /* threads decoding and encoding snapshots and evidence */
  int snapshot_max_jobs;  /* snapshots in progress at once; more get 503 */
  int report_max;         /* reports per visitor within report_window_ms (1-8) */
  int report_window_ms;
  int autoban_threshold;  /* distinct reporters within autoban_window_ms that ban */
  int autoban_window_ms;
  char autoban_steps[128]; /* ban lengths of the 1st, 2nd... offence: "1h,24h,7d,permanent" */
  /* Automated moderation: snapshots to a classifier webhook (server/classify.c). */
  char classifier_url[512];   /* "" = off */
  int classifier_interval_ms; /* each live peer is sent once per interval */
  char classifier_token[256]; /* bearer token sent to the classifier; "" = none */
  int classifier_timeout_ms;  /* per attempt */
  /* Many nodes (docs/operations.md): Redis shares bans and the device key between them. */
  char redis_url[512];    /* redis://[[user]:password@]host[:port][/db] or unix:/path; "" = alone */
  char relay_addr[64];    /* where other nodes send media for cross-node pairs; "" = public_ip */
  int node_id;            /* 1-1023, unique per node, with redis_url; 0 = none (standalone) */
  char admin_url[256];    /* this node's admin API for tandemctl, in Redis; "" = derived */
  int admin_proxy_timeout_ms; /* a request to another node's admin API through this one */
  int classifier_max_side;    /* longer side of the pictures sent, px; 0 = as sent */
};

/* Fills c from defaults, then the file named by --config / TANDEM_CONFIG (if any), then
 * TANDEM_* environment variables, then the command-line flags. Every value is checked where
 * it is read, so an error names its source and the rule broken, e.g.
 * "/etc/tandem.conf:7: http_port: '70000' is out of range (0 to 65535)" or
 * "flag --public-ip: public_ip: 'tandem.example.com' is not an IP address ...".
 * Returns 0; -EINVAL with that message in err; or 1 when the command was answered and the
 * process should exit with success (--help, --version, --print-config printed to stdout). */
int config_load(struct config *c, int argc, char **argv, char *err, size_t errlen);

/* Writes every key (but `config`) as a config file that config_load reads back to the same
 * values: a comment with the key's meaning and range, then "key = value", strings quoted
 * with \" \\ \n \t escaped. file is a FILE *. */
void config_print(const struct config *c, void *file);

/* Splits "ip:port", "[ipv6]:port" or "localhost:port" into host (without brackets) and port
 * (1-65535). 0, or -EINVAL. */
int config_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

#endif
