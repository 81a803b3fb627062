/* Helper for test_sweep.c: a small program that reads a list of names from its arguments and
 * builds a table of them, handling out-of-memory correctly everywhere but in three planted
 * places, each a classic mishandled failure:
 *   - capitalize: strdup's result used without a check (a NULL dereference, SIGSEGV);
 *   - pair_new: the second allocation's failure returns without freeing the first (a leak);
 *   - pair_copy: the error path frees a block that the common exit frees again (a double free).
 * Every other allocation's failure ends the program cleanly: a message and status 1. The OOM
 * sweep must report exactly those three stacks. Output goes through write(2) (stdio would
 * allocate); built with -g -O0 so each function is its own frame. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static void say(const char *s) {
  if (write(1, s, strlen(s)) < 0) _exit(3);
}

static int out_of_memory(const char *where) {
  say("out of memory in ");
  say(where);
  say("\n");
  return 1;
}

typedef struct pair { char *key, *value; } pair_t;

/* Planted bug 1: strdup's NULL is written through. */
static NOINLINE char *capitalize(const char *s) {
  char *c = strdup(s);
  c[0] = (char)toupper((unsigned char)c[0]);
  return c;
}

/* Planted bug 2: when the value cannot be allocated, the key leaks. */
static NOINLINE pair_t *pair_new(const char *key) {
  pair_t *p = malloc(sizeof *p);
  if (!p) return NULL;
  p->key = malloc(strlen(key) + 1);
  if (!p->key) {
    free(p);
    return NULL;
  }
  strcpy(p->key, key);
  p->value = malloc(32);
  if (!p->value) return NULL;   /* p and p->key are lost */
  strcpy(p->value, "(none)");
  return p;
}

static void pair_free(pair_t *p) {
  if (!p) return;
  free(p->key);
  free(p->value);
  free(p);
}

/* Planted bug 3: the copy's error path frees `key`, and so does the common exit. */
static NOINLINE int pair_copy(const pair_t *from, pair_t **to) {
  int rc = 1;
  char *key = malloc(strlen(from->key) + 1), *value = NULL;
  pair_t *p = NULL;
  if (!key) return 1;
  strcpy(key, from->key);
  value = malloc(strlen(from->value) + 1);
  if (!value) {
    free(key);     /* ... and again below */
    goto out;
  }
  strcpy(value, from->value);
  p = malloc(sizeof *p);
  if (!p) goto out;
  p->key = key;
  p->value = value;
  *to = p;
  return 0;
out:
  free(key);
  free(value);
  return rc;
}

/* Correct: a growing table. */
static NOINLINE int table_add(pair_t ***table, size_t *n, pair_t *p) {
  pair_t **t = realloc(*table, (*n + 1) * sizeof **table);
  if (!t) return 1;
  t[(*n)++] = p;
  *table = t;
  return 0;
}

int main(int argc, char **argv) {
  pair_t **table = NULL, **copies = NULL;
  size_t n = 0, ncopies = 0;
  int rc = 0;
  for (int i = 1; i < argc && rc == 0; i++) {
    char *name = capitalize(argv[i]);
    pair_t *p = pair_new(name);
    free(name);
    if (!p) {
      rc = out_of_memory("pair_new");
      break;
    }
    if (table_add(&table, &n, p)) {
      pair_free(p);
      rc = out_of_memory("table_add");
      break;
    }
    pair_t *c = NULL;
    if (pair_copy(p, &c) || table_add(&copies, &ncopies, c)) {
      pair_free(c);
      rc = out_of_memory("pair_copy");
      break;
    }
  }
  if (rc == 0) {
    for (size_t i = 0; i < n; i++) {
      say(table[i]->key);
      say("\n");
    }
  }
  for (size_t i = 0; i < n; i++) pair_free(table[i]);
  for (size_t i = 0; i < ncopies; i++) pair_free(copies[i]);
  free(table);
  free(copies);
  return rc;
}
