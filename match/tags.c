/* tags.c -- interest tags: normalisation and the interned tag table. */
#include "match/tags.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "match/htab.h"

static int tag_is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Normalises one string into out; returns its length (0 = drop) or -EINVAL. */
static int tag_normalise_one(const char *s, size_t max_len, char out[MATCH__TAG_LEN_MAX + 1]) {
  size_t len, i;

  if (s == NULL)
    return 0;
  while (tag_is_space((unsigned char)*s))
    s++;
  len = strlen(s);
  while (len > 0 && tag_is_space((unsigned char)s[len - 1]))
    len--;
  if (len > max_len)
    return -EINVAL;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    /* Bytes >= 0x80 pass through untouched: UTF-8 stays valid (no case
     * folding beyond ASCII), and a tag never carries a control character. */
    if (c < 0x20 || c == 0x7f)
      return -EINVAL;
    out[i] = (char)((c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c);
  }
  out[len] = '\0';
  return (int)len;
}

int match__tags_normalise(const char *const *tags, size_t ntags, size_t max_tags, size_t max_len,
                          struct match__tagset *out) {
  char buf[MATCH__TAG_LEN_MAX + 1];
  size_t i, j;

  out->n = 0;
  if (ntags > 0 && tags == NULL)
    return -EINVAL;
  if (max_tags > MATCH__TAGS_MAX)
    max_tags = MATCH__TAGS_MAX;
  if (max_len > MATCH__TAG_LEN_MAX)
    max_len = MATCH__TAG_LEN_MAX;
  for (i = 0; i < ntags; i++) {
    int len = tag_normalise_one(tags[i], max_len, buf);
    if (len < 0)
      return len;
    if (len == 0)
      continue;
    for (j = 0; j < out->n; j++) {
      if (out->len[j] == (size_t)len && memcmp(out->name[j], buf, (size_t)len) == 0)
        break;
    }
    if (j < out->n)
      continue;
    if (out->n == max_tags)
      return -EINVAL;
    memcpy(out->name[out->n], buf, (size_t)len + 1);
    out->len[out->n] = (uint8_t)len;
    out->n++;
  }
  return 0;
}

int match__lang_normalise(const char *lang, size_t max_len, char out[MATCH__TAG_LEN_MAX + 1],
                          size_t *len) {
  int rc;

  if (max_len > MATCH__TAG_LEN_MAX)
    max_len = MATCH__TAG_LEN_MAX;
  rc = tag_normalise_one(lang, max_len, out);
  if (rc < 0) {
    *len = 0;
    return rc;
  }
  *len = (size_t)rc;
  return 0;
}

static uint64_t tag_hash(const struct match__tagtab *tt, int kind, const char *name, size_t len) {
  return match__siphash(tt->k0 ^ (uint64_t)kind, tt->k1, name, len);
}

int match__tagtab_init(struct match__tagtab *tt, uint64_t seed) {
  tt->slots = calloc(16, sizeof(*tt->slots));
  if (tt->slots == NULL)
    return -ENOMEM;
  tt->mask = 15;
  tt->n = 0;
  tt->k0 = seed ^ 0x7461676b65793031ULL;
  tt->k1 = (seed * 0x9e3779b97f4a7c15ULL) ^ 0x7461676b65793032ULL;
  return 0;
}

void match__tagtab_free(struct match__tagtab *tt) {
  size_t i;

  if (tt->slots == NULL)
    return;
  for (i = 0; i <= tt->mask; i++)
    free(tt->slots[i]);
  free(tt->slots);
  tt->slots = NULL;
  tt->n = 0;
}

static int tagtab_resize(struct match__tagtab *tt, size_t cap) {
  struct match__tag **old = tt->slots;
  size_t oldcap = tt->mask + 1;
  size_t i;

  tt->slots = calloc(cap, sizeof(*tt->slots));
  if (tt->slots == NULL) {
    tt->slots = old;
    return -ENOMEM;
  }
  tt->mask = cap - 1;
  for (i = 0; i < oldcap; i++) {
    size_t j;
    if (old[i] == NULL)
      continue;
    for (j = old[i]->hash & tt->mask; tt->slots[j] != NULL; j = (j + 1) & tt->mask) {
    }
    tt->slots[j] = old[i];
  }
  free(old);
  return 0;
}

struct match__tag *match__tag_get(struct match__tagtab *tt, int kind, const char *name,
                                  size_t len) {
  uint64_t h;
  size_t i;
  struct match__tag *t;

  if (len == 0 || len > MATCH__TAG_LEN_MAX)
    return NULL;
  h = tag_hash(tt, kind, name, len);
  for (i = h & tt->mask; tt->slots[i] != NULL; i = (i + 1) & tt->mask) {
    t = tt->slots[i];
    if (t->hash == h && t->kind == kind && t->len == len && memcmp(t->name, name, len) == 0) {
      t->refs++;
      return t;
    }
  }
  if ((tt->n + 1) * 2 > tt->mask + 1) {
    if (tagtab_resize(tt, (tt->mask + 1) * 2) < 0)
      return NULL;
    for (i = h & tt->mask; tt->slots[i] != NULL; i = (i + 1) & tt->mask) {
    }
  }
  t = calloc(1, sizeof(*t));
  if (t == NULL)
    return NULL;
  t->hash = h;
  t->kind = (uint8_t)kind;
  t->len = (uint8_t)len;
  memcpy(t->name, name, len);
  t->name[len] = '\0';
  t->refs = 1;
  match__rb_init(&t->waiting);
  tt->slots[i] = t;
  tt->n++;
  return t;
}

void match__tag_release(struct match__tagtab *tt, struct match__tag *t) {
  size_t i, j;

  if (--t->refs > 0)
    return;
  for (i = t->hash & tt->mask; tt->slots[i] != t; i = (i + 1) & tt->mask) {
  }
  /* Backward-shift deletion, as in htab.c. */
  for (j = (i + 1) & tt->mask; tt->slots[j] != NULL; j = (j + 1) & tt->mask) {
    size_t home = tt->slots[j]->hash & tt->mask;
    if (((j - home) & tt->mask) >= ((j - i) & tt->mask)) {
      tt->slots[i] = tt->slots[j];
      i = j;
    }
  }
  tt->slots[i] = NULL;
  tt->n--;
  free(t);
  if (tt->mask + 1 > 16 && tt->n * 8 < tt->mask + 1)
    (void)tagtab_resize(tt, (tt->mask + 1) / 2);
}
