/* rbtree.c -- intrusive red-black tree keyed by a unique uint64, for the pool. */
#include "match/rbtree.h"

#include <errno.h>

void match__rb_init(struct match__rbtree *t) {
  t->root = t->first = t->last = NULL;
  t->first_key = 0;
  t->n = 0;
}

static void rb_set_child(struct match__rbtree *t, struct match__rbnode *parent,
                         struct match__rbnode *old, struct match__rbnode *repl) {
  if (parent == NULL)
    t->root = repl;
  else if (parent->left == old)
    parent->left = repl;
  else
    parent->right = repl;
}

static void rb_rotate_left(struct match__rbtree *t, struct match__rbnode *x) {
  struct match__rbnode *y = x->right;

  x->right = y->left;
  if (y->left != NULL)
    y->left->parent = x;
  y->parent = x->parent;
  rb_set_child(t, x->parent, x, y);
  y->left = x;
  x->parent = y;
}

static void rb_rotate_right(struct match__rbtree *t, struct match__rbnode *x) {
  struct match__rbnode *y = x->left;

  x->left = y->right;
  if (y->right != NULL)
    y->right->parent = x;
  y->parent = x->parent;
  rb_set_child(t, x->parent, x, y);
  y->right = x;
  x->parent = y;
}

static int rb_is_red(const struct match__rbnode *n) {
  return n != NULL && n->red;
}

void match__rb_insert(struct match__rbtree *t, struct match__rbnode *z) {
  struct match__rbnode *y = NULL;
  struct match__rbnode *x = t->root;
  int left = 0;

  /* The pool mostly appends newcomers, so a key above the maximum hangs off the
   * cached last node (which has no right child) without a descent. */
  if (t->last != NULL && z->key > t->last->key) {
    y = t->last;
  } else {
    while (x != NULL) {
      y = x;
      left = z->key < x->key;
      x = left ? x->left : x->right;
    }
  }
  z->parent = y;
  z->left = z->right = NULL;
  z->red = 1;
  if (y == NULL)
    t->root = z;
  else if (left)
    y->left = z;
  else
    y->right = z;
  if (t->first == NULL || z->key < t->first_key) {
    t->first = z;
    t->first_key = z->key;
  }
  if (t->last == NULL || z->key > t->last->key)
    t->last = z;
  t->n++;

  while (rb_is_red(z->parent)) {
    struct match__rbnode *p = z->parent;
    struct match__rbnode *g = p->parent; /* exists: a red node is never the root */

    if (p == g->left) {
      struct match__rbnode *u = g->right;
      if (rb_is_red(u)) {
        p->red = 0;
        u->red = 0;
        g->red = 1;
        z = g;
      } else {
        if (z == p->right) {
          z = p;
          rb_rotate_left(t, z);
          p = z->parent;
        }
        p->red = 0;
        g->red = 1;
        rb_rotate_right(t, g);
      }
    } else {
      struct match__rbnode *u = g->left;
      if (rb_is_red(u)) {
        p->red = 0;
        u->red = 0;
        g->red = 1;
        z = g;
      } else {
        if (z == p->left) {
          z = p;
          rb_rotate_right(t, z);
          p = z->parent;
        }
        p->red = 0;
        g->red = 1;
        rb_rotate_left(t, g);
      }
    }
  }
  t->root->red = 0;
}

/* Restores the black height after removing a black node; x (maybe NULL) took
 * its place under xp. */
static void rb_erase_fixup(struct match__rbtree *t, struct match__rbnode *x,
                           struct match__rbnode *xp) {
  while (x != t->root && !rb_is_red(x)) {
    if (x == xp->left) {
      struct match__rbnode *w = xp->right;
      if (w->red) {
        w->red = 0;
        xp->red = 1;
        rb_rotate_left(t, xp);
        w = xp->right;
      }
      if (!rb_is_red(w->left) && !rb_is_red(w->right)) {
        w->red = 1;
        x = xp;
        xp = x->parent;
      } else {
        if (!rb_is_red(w->right)) {
          w->left->red = 0;
          w->red = 1;
          rb_rotate_right(t, w);
          w = xp->right;
        }
        w->red = xp->red;
        xp->red = 0;
        if (w->right != NULL)
          w->right->red = 0;
        rb_rotate_left(t, xp);
        x = t->root;
        xp = NULL;
      }
    } else {
      struct match__rbnode *w = xp->left;
      if (w->red) {
        w->red = 0;
        xp->red = 1;
        rb_rotate_right(t, xp);
        w = xp->left;
      }
      if (!rb_is_red(w->left) && !rb_is_red(w->right)) {
        w->red = 1;
        x = xp;
        xp = x->parent;
      } else {
        if (!rb_is_red(w->left)) {
          w->right->red = 0;
          w->red = 1;
          rb_rotate_left(t, w);
          w = xp->left;
        }
        w->red = xp->red;
        xp->red = 0;
        if (w->left != NULL)
          w->left->red = 0;
        rb_rotate_right(t, xp);
        x = t->root;
        xp = NULL;
      }
    }
  }
  if (x != NULL)
    x->red = 0;
}

void match__rb_erase(struct match__rbtree *t, struct match__rbnode *z) {
  struct match__rbnode *x, *xp;
  int removed_red;

  if (t->first == z) {
    t->first = match__rb_next(z);
    t->first_key = t->first != NULL ? t->first->key : 0;
  }
  if (t->last == z)
    t->last = match__rb_prev(z);
  t->n--;

  if (z->left == NULL || z->right == NULL) {
    x = z->left != NULL ? z->left : z->right;
    xp = z->parent;
    removed_red = z->red;
    rb_set_child(t, z->parent, z, x);
    if (x != NULL)
      x->parent = xp;
  } else {
    /* Two children: the successor y (leftmost of the right subtree) takes
     * z's place and colour; the fix-up starts where y used to be. */
    struct match__rbnode *y = z->right;
    while (y->left != NULL)
      y = y->left;
    removed_red = y->red;
    x = y->right;
    if (y->parent == z) {
      xp = y;
    } else {
      xp = y->parent;
      xp->left = x;
      if (x != NULL)
        x->parent = xp;
      y->right = z->right;
      y->right->parent = y;
    }
    rb_set_child(t, z->parent, z, y);
    y->parent = z->parent;
    y->left = z->left;
    y->left->parent = y;
    y->red = z->red;
  }
  if (!removed_red)
    rb_erase_fixup(t, x, xp);
  z->parent = z->left = z->right = NULL;
}

struct match__rbnode *match__rb_next(const struct match__rbnode *n) {
  if (n->right != NULL) {
    n = n->right;
    while (n->left != NULL)
      n = n->left;
    return (struct match__rbnode *)n;
  }
  while (n->parent != NULL && n == n->parent->right)
    n = n->parent;
  return n->parent;
}

struct match__rbnode *match__rb_prev(const struct match__rbnode *n) {
  if (n->left != NULL) {
    n = n->left;
    while (n->right != NULL)
      n = n->right;
    return (struct match__rbnode *)n;
  }
  while (n->parent != NULL && n == n->parent->left)
    n = n->parent;
  return n->parent;
}

struct match__rbnode *match__rb_after(const struct match__rbtree *t, uint64_t key) {
  struct match__rbnode *n = t->root, *res = NULL;

  while (n != NULL) {
    if (n->key > key) {
      res = n;
      n = n->left;
    } else {
      n = n->right;
    }
  }
  return res;
}

/* Returns the black height of the subtree, or -1 on any violation. */
static int rb_check_sub(const struct match__rbnode *n, const struct match__rbnode *parent,
                        size_t *count, size_t limit) {
  int hl, hr;

  if (n == NULL)
    return 1;
  if (++*count > limit || n->parent != parent)
    return -1;
  if (n->red && (rb_is_red(n->left) || rb_is_red(n->right)))
    return -1;
  if (n->left != NULL && n->left->key >= n->key)
    return -1;
  if (n->right != NULL && n->right->key <= n->key)
    return -1;
  hl = rb_check_sub(n->left, n, count, limit);
  hr = rb_check_sub(n->right, n, count, limit);
  if (hl < 0 || hr < 0 || hl != hr)
    return -1;
  return hl + (n->red ? 0 : 1);
}

int match__rb_check(const struct match__rbtree *t) {
  size_t count = 0;
  const struct match__rbnode *n;

  if (t->root == NULL)
    return (t->n == 0 && t->first == NULL && t->last == NULL) ? 0 : -EINVAL;
  if (t->root->red || t->root->parent != NULL)
    return -EINVAL;
  if (rb_check_sub(t->root, NULL, &count, t->n) < 0 || count != t->n)
    return -EINVAL;
  for (n = t->root; n->left != NULL; n = n->left) {
  }
  if (n != t->first || t->first_key != n->key)
    return -EINVAL;
  for (n = t->root; n->right != NULL; n = n->right) {
  }
  if (n != t->last)
    return -EINVAL;
  /* Child-parent ordering alone misses a key out of place two levels down,
   * so also walk the whole tree in order. */
  count = 1;
  for (n = t->first; match__rb_next(n) != NULL; n = match__rb_next(n)) {
    if (match__rb_next(n)->key <= n->key)
      return -EINVAL;
    count++;
  }
  return count == t->n ? 0 : -EINVAL;
}
