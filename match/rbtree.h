/* rbtree.h -- intrusive red-black tree keyed by a unique uint64, for the pool. */
#ifndef TANDEM_MATCH_RBTREE_H
#define TANDEM_MATCH_RBTREE_H

#include <stddef.h>
#include <stdint.h>

/* A node is embedded in its owner (container_of style) and carries its own key.
 * Keys within one tree must be unique; the tree never allocates, so every call
 * here is O(log n) pointer work and cannot fail. The caller owns the nodes and
 * must erase a node before freeing or re-keying it. */
struct match__rbnode {
  struct match__rbnode *parent;
  struct match__rbnode *left;
  struct match__rbnode *right;
  uint64_t key;
  int red;
};

/* first/last cache the minimum and maximum so the oldest entry is found in
 * O(1) and appends (a key above every other) skip the descent; first_key
 * copies first->key so the heads of many trees can be compared without
 * touching (and missing the cache on) each head node. */
struct match__rbtree {
  struct match__rbnode *root;
  struct match__rbnode *first;
  struct match__rbnode *last;
  uint64_t first_key; /* valid while first != NULL */
  size_t n;
};

void match__rb_init(struct match__rbtree *t);
/* Inserts n with n->key already set; n must not be in any tree. */
void match__rb_insert(struct match__rbtree *t, struct match__rbnode *n);
/* Removes n, which must be in t. */
void match__rb_erase(struct match__rbtree *t, struct match__rbnode *n);
/* In-order neighbours; NULL past either end. */
struct match__rbnode *match__rb_next(const struct match__rbnode *n);
struct match__rbnode *match__rb_prev(const struct match__rbnode *n);
/* The first node whose key is greater than key, or NULL. O(log n). */
struct match__rbnode *match__rb_after(const struct match__rbtree *t, uint64_t key);
/* Checks every red-black and ordering invariant; returns 0 or -EINVAL. For tests. */
int match__rb_check(const struct match__rbtree *t);

#endif
