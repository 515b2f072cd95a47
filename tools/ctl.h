/* ctl.h -- what tandemctl's files share: the command line (ctl_args.c), the connection to the
 * admin API (ctl_http.c), the tables and the messages it prints (ctl_out.c). The commands are
 * in tandemctl.c; docs/admin-api.md is the contract. */
#ifndef TANDEM_TOOLS_CTL_H
#define TANDEM_TOOLS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Exit codes (docs/admin-api.md, "tandemctl"). */
enum {
  CTL_OK = 0,
  CTL_FAILED = 1,       /* the server refused, its answer was unusable, a file not written */
  CTL_USAGE = 2,        /* the command line is wrong */
  CTL_UNREACHABLE = 3,  /* no connection, a timeout, a broken transfer */
  CTL_UNAUTHORIZED = 4, /* 401: the admin token was refused */
};

#define CTL_JSON_MAX ((size_t)8 << 20)  /* bytes of a JSON answer */
#define CTL_MEDIA_MAX ((size_t)64 << 20) /* bytes of a JPEG or a clip */

/* One run's settings and its connection. */
struct ctl {
  const char *url;   /* base URL without a trailing slash */
  const char *token; /* never printed */
  const char *actor; /* X-Tandem-Actor */
  const char *cmd;   /* the command, for messages */
  bool json;         /* --json: the server's JSON as is */
  long timeout_ms;   /* the whole request */
  void *curl;        /* CURL *, made on first use */
  unsigned only_node; /* --node: that node alone (1-1023), 0 = every node */
  void *cluster;     /* the list of nodes (ctl_cluster.c), read on first use */
};

/* An answer: status and body (always NUL-terminated, body[len] == 0). */
struct ctl_resp {
  long status;
  char *body;
  size_t len;
  char ctype[64];
};

void ctl_resp_free(struct ctl_resp *r);

/* Sends METHOD url+path (path starts with "/api/"), with body (a JSON object, or NULL for none),
 * reading at most max bytes. CTL_OK with *out filled (any HTTP status), or, with the message
 * printed, CTL_UNREACHABLE (no connection) or CTL_FAILED (an answer larger than max). */
int ctl_request(struct ctl *c, const char *method, const char *path, json_t *body, size_t max,
                struct ctl_resp *out);

/* The common handling of an answer expected to be 2xx JSON: CTL_OK with *json set (an object);
 * else the server's refusal or the trouble printed and its exit code. */
int ctl_answer_json(struct ctl *c, const struct ctl_resp *r, json_t **json);

/* An error answer (status >= 300) printed as "tandemctl: CMD: 404 not_found: MESSAGE"; the exit
 * code (CTL_UNAUTHORIZED for 401, else CTL_FAILED). */
int ctl_refused(struct ctl *c, const struct ctl_resp *r);

void ctl_close(struct ctl *c);

/* ---- ctl_out.c ---- */

/* "tandemctl: CMD: " and the message on stderr. Returns code. */
int ctl_fail(const struct ctl *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A copy of s safe for a terminal (control characters and C1 controls become '?', at most max
 * characters, "..." when cut). Never NULL: "-" for NULL. free() it. */
char *ctl_clean(const char *s, size_t max);

/* Unix ms as "2026-12-04 06:30:00" (UTC) into buf; "-" for 0. */
const char *ctl_time(int64_t ms, char *buf, size_t cap);

/* A number of seconds as "3d4h", "12m5s", "40s". */
const char *ctl_span(int64_t s, char *buf, size_t cap);

/* A table printed with aligned columns. Cells are copied (and cleaned). */
struct ctl_table;
struct ctl_table *ctl_table_new(size_t ncols, const char *const *heads);
void ctl_table_add(struct ctl_table *t, const char *const *cells);
void ctl_table_print(struct ctl_table *t);
void ctl_table_free(struct ctl_table *t);

/* Fields of the server's JSON, tolerant of what is missing or ill-typed: an integer as text
 * ("-" when null or absent), a string ("-" when null or absent, fallback when ill-typed). */
const char *ctl_jint(json_t *o, const char *key, char *buf, size_t cap);
const char *ctl_jstr(json_t *o, const char *key);
int64_t ctl_jint64(json_t *o, const char *key);

/* Writes len bytes to path ("-": stdout). CTL_OK or CTL_FAILED with the message printed. */
int ctl_write_file(const struct ctl *c, const char *path, const char *data, size_t len);

/* ---- ctl_cluster.c: the nodes of a cluster ---- */

/* The node a peer's or a report's id belongs to (node << 42 | serial; 0: a node alone). */
#define CTL_NODE_OF(id) ((unsigned)((uint64_t)(id) >> 42))

/* Sends every request from now on to the node id belongs to (as listed by GET /api/nodes on
 * the node --url names), or to --node. CTL_OK (also for a node alone, or an older server),
 * or the exit code with the message printed. */
int ctl_route(struct ctl *c, int64_t id);

/* A listing (GET path, its array under key) from every node of the cluster, each entry with
 * "node" added, or from the one node alone / --node (the answer as it came, in raw). With
 * limit, the merged entries newest first (time_ms) and at most limit of them. CTL_OK or the
 * exit code with the message printed: a node that fails leaves the others' entries in g. */
struct ctl_gather {
  json_t *answer; /* {key: [...], "count": N, "more": bool, "nodes": [...]} when multi */
  json_t *list;   /* answer[key] (borrowed) */
  char *raw;      /* one node: its answer as sent */
  bool multi;
};
int ctl_gather(struct ctl *c, const char *path, const char *key, size_t limit,
               struct ctl_gather *g);
void ctl_gather_free(struct ctl_gather *g);
void ctl_gather_print_json(const struct ctl_gather *g);
/* fn on every node of the cluster in turn (with a ctl whose url is that node's), or once on c
 * (one node, or --node). Every node is tried; the first failure's exit code. */
int ctl_each_node(struct ctl *c, int (*fn)(struct ctl *sub, void *arg), void *arg);
int cmd_nodes(struct ctl *c, int argc, char **argv);
void ctl_cluster_free(struct ctl *c);

/* ctl_args.c: the command line. */
extern const char ctl_usage_text[];

/* One option of a command: a value (val) or a flag. */
struct opt {
  const char *name;  /* "--reason" */
  const char *alias; /* "-o", or NULL */
  const char **val;
  bool *flag;
};

#define CTL_HELP (-2) /* --help after the command: the usage, and nothing done */

/* Prints "tandemctl: CMD: " fmt (with arg), then the usage, on stderr: CTL_USAGE. */
int ctl_usage(const struct ctl *c, const char *fmt, const char *arg);
/* The global options before the command; *next is the command's index. CTL_OK or CTL_USAGE. */
int ctl_parse_globals(int argc, char **argv, int *next);
bool ctl_help_asked(void);
/* A command's options (its own and the global ones, anywhere) and up to maxpos positional
 * arguments. CTL_OK, CTL_HELP, or CTL_USAGE with the message printed. */
int ctl_parse_args(const struct ctl *c, int argc, char **argv, const struct opt *own,
                   const char **pos, size_t maxpos, size_t *npos);
/* The settings after parsing: defaults ($TANDEM_URL, $TANDEM_ADMIN_TOKEN), then checks. */
int ctl_settle(struct ctl *c);
void ctl_args_free(void);
/* A decimal id (1 to 2^63-1), a number in [lo, hi], a ban duration ("permanent" is 0). */
int ctl_parse_id(const struct ctl *c, const char *s, const char *what, int64_t *out);
int ctl_parse_num(const struct ctl *c, const char *s, const char *opt, long long lo,
                  long long hi, long long *out);
int ctl_parse_duration(const struct ctl *c, const char *s, long long *out);

#endif
