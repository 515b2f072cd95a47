/* nodewire.h -- what a node of a cluster says about itself in Redis, for the admin API's
 * GET /api/nodes and tandemctl (docs/operations.md, "Seeing the whole cluster"): its number,
 * the URL of its admin API, its version, and its visitors and pairs a second ago. Pure:
 * encoding and decoding only; decoding treats its input as hostile (a node's entry in Redis,
 * or another node's answer as tandemctl reads it). Used by the server and by tandemctl. */
#ifndef TANDEM_NODEWIRE_H
#define TANDEM_NODEWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define NODEWIRE_NODE_MAX 1023u
#define NODEWIRE_URL_MAX 200      /* bytes of an admin URL */
#define NODEWIRE_VERSION_MAX 63   /* bytes of a version string */
#define NODEWIRE_TEXT_MAX 4096    /* bytes of an entry as JSON */
#define NODEWIRE_COUNT_MAX 100000000u

struct nodewire {
  unsigned node;                           /* 1..NODEWIRE_NODE_MAX; 0 = a node alone */
  char admin_url[NODEWIRE_URL_MAX + 1];    /* nodewire_url_check holds */
  char version[NODEWIRE_VERSION_MAX + 1];  /* printable ASCII */
  uint64_t started_ms;                     /* unix ms, below 2^53 */
  uint32_t visitors, pairs;                /* <= NODEWIRE_COUNT_MAX */
  bool draining;
};

/* An admin URL: "http://" or "https://", a host (an IPv4 address, a DNS name of letters,
 * digits, '-' and '.', or an IPv6 address in brackets), an optional ":port" (1-65535) and an
 * optional "/" -- nothing else (no user, path, query or fragment). 0 or -EINVAL. */
int nodewire_url_check(const char *url);

/* {"node":1,"admin_url":"...","version":"...","started_ms":N,"visitors":N,"pairs":N,
 *  "draining":false}: malloc'd, or NULL (ENOMEM, or fields out of range). */
char *nodewire_encode(const struct nodewire *n);
/* From a JSON object: 0, or -EBADMSG (a field missing, ill-typed or out of range; unknown
 * fields are ignored, so that nodes of two versions can run side by side). *out is untouched
 * on error. */
int nodewire_from_json(const json_t *o, struct nodewire *out);
/* From len bytes of untrusted text (at most NODEWIRE_TEXT_MAX, one JSON object, no duplicate
 * keys): 0 or -EBADMSG. */
int nodewire_decode(const char *text, size_t len, struct nodewire *out);

/* The node holding the matcher's lease, from its value "<node>:<epoch>" (the node in decimal,
 * the epoch 1-16 hex digits): 1..1023, or 0 when it is anything else. */
unsigned nodewire_lease_node(const char *s, size_t len);

#endif
