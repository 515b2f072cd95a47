/* tags.h -- interest tags: normalisation and the interned tag table. */
#ifndef TANDEM_MATCH_TAGS_H
#define TANDEM_MATCH_TAGS_H

#include <stddef.h>
#include <stdint.h>

#include "match/rbtree.h"

#define MATCH__TAGS_MAX 10    /* hard cap on tags per peer (struct match_event) */
#define MATCH__TAG_LEN_MAX 32 /* hard cap on bytes per tag (struct match_event) */

enum match__tag_kind { MATCH__TAG_USER = 1, MATCH__TAG_LANG = 2 };

/* One interned tag. Every peer that holds the tag owns one reference; the
 * waiting tree indexes the waiting peers holding it (struct match__memb nodes,
 * keyed by place in line). A language is interned as its own kind, so the user
 * tag "en" and the language "en" are different tags. */
struct match__tag {
  uint64_t hash;
  struct match__rbtree waiting;
  uint32_t refs;
  uint8_t kind;
  uint8_t len;
  char name[MATCH__TAG_LEN_MAX + 1];
};

struct match__tagtab {
  struct match__tag **slots;
  size_t mask;
  size_t n;
  uint64_t k0, k1; /* SipHash key, so crafted tags cannot pile into one run */
};

/* A normalised tag list, filled by match__tags_normalise. */
struct match__tagset {
  size_t n;
  uint8_t len[MATCH__TAGS_MAX];
  char name[MATCH__TAGS_MAX][MATCH__TAG_LEN_MAX + 1];
};

/* Lower-cases ASCII, trims ASCII white space, drops empty and NULL entries and
 * duplicates (keeping first-given order). Returns 0, or -EINVAL when more than
 * max_tags remain, one is longer than max_len bytes, or one contains a control
 * character. tags may be NULL only when ntags is 0. Reads the strings only
 * during the call. */
int match__tags_normalise(const char *const *tags, size_t ntags, size_t max_tags, size_t max_len,
                          struct match__tagset *out);
/* The same rules for one language code; lang NULL or blank gives *len = 0. */
int match__lang_normalise(const char *lang, size_t max_len, char out[MATCH__TAG_LEN_MAX + 1],
                          size_t *len);

int match__tagtab_init(struct match__tagtab *tt, uint64_t seed);
/* Frees the table and any tag still in it (the engine releases all first). */
void match__tagtab_free(struct match__tagtab *tt);
/* Returns the interned tag with one more reference (creating it), or NULL on
 * ENOMEM. The pointer stays valid until that reference is released. */
struct match__tag *match__tag_get(struct match__tagtab *tt, int kind, const char *name, size_t len);
/* Drops one reference; the tag is freed at zero (its waiting tree must be empty). */
void match__tag_release(struct match__tagtab *tt, struct match__tag *t);

#endif
