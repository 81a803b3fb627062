/* Compiled by gcc in tests/programs, once without zalloc and once with cc1, as, collect2 and ld
 * all running under it; the two binaries must be identical and behave the same. The unused
 * variable in main is deliberate: gcc -Wall warns about it on stderr both times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
  int key;
  struct node *left, *right;
};

static struct node *insert(struct node *n, int key) {
  if (!n) {
    n = calloc(1, sizeof *n);
    if (!n) exit(99);
    n->key = key;
    return n;
  }
  if (key < n->key) n->left = insert(n->left, key);
  else if (key > n->key) n->right = insert(n->right, key);
  return n;
}

static long depth_sum(const struct node *n, int d) {
  return n ? d + depth_sum(n->left, d + 1) + depth_sum(n->right, d + 1) : 0;
}

static void free_tree(struct node *n) {
  if (!n) return;
  free_tree(n->left);
  free_tree(n->right);
  free(n);
}

static unsigned fnv1a(const char *s) {
  unsigned h = 2166136261u;
  while (*s) h = (h ^ (unsigned char)*s++) * 16777619u;
  return h;
}

static int compare_ints(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int unused;
  struct node *root = NULL;
  unsigned x = 1;
  int *v = malloc(20000 * sizeof *v);
  for (int i = 0; i < 20000; i++) {
    x = x * 1664525u + 1013904223u;
    v[i] = (int)(x % 100000);
    root = insert(root, v[i]);
  }
  qsort(v, 20000, sizeof *v, compare_ints);
  char buf[64];
  unsigned h = 0;
  for (int i = 0; i < 1000; i++) {
    snprintf(buf, sizeof buf, "item-%d-%s", i, argc > 1 ? argv[1] : "none");
    h ^= fnv1a(buf);
  }
  char *s = strdup("zalloc");
  printf("depth sum %ld, median %d, hash %08x, %s\n", depth_sum(root, 0), v[10000], h, s);
  free(s);
  free(v);
  free_tree(root);
  return (int)(h % 7) + 1;
}
