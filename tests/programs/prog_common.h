/* Helpers shared by the tests of tests/programs (header-only: static functions, so each test
 * binary gets its own copy). Include it after <criterion/criterion.h>. */
#ifndef ZA_PROG_COMMON_H
#define ZA_PROG_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spawn.h"

#define PC_UNUSED __attribute__((unused))

/* ---- small helpers ----------------------------------------------------------------------- */

typedef struct strlist {
  char *v[64];
  size_t n;
} strlist_t;

static void sl_add(strlist_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
PC_UNUSED static void sl_add(strlist_t *l, const char *fmt, ...) {
  va_list ap;
  char *s = NULL;
  va_start(ap, fmt);
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  cr_assert(s != NULL && l->n + 1 < sizeof l->v / sizeof l->v[0], "string list full");
  l->v[l->n++] = s;
  l->v[l->n] = NULL;
}

PC_UNUSED static void sl_free(strlist_t *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  l->n = 0;
  l->v[0] = NULL;
}

PC_UNUSED static const char *const *sl_argv(const strlist_t *l) { return (const char *const *)l->v; }

PC_UNUSED static char *path_join(const char *dir, const char *name) {
  char *p;
  cr_assert(asprintf(&p, "%s/%s", dir, name) >= 0);
  return p;
}

PC_UNUSED static void write_file(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  cr_assert(f != NULL, "cannot create %s: %s", path, strerror(errno));
  cr_assert(fwrite(data, 1, len, f) == len && fclose(f) == 0, "cannot write %s", path);
}

PC_UNUSED static void write_str(const char *path, const char *s) { write_file(path, s, strlen(s)); }

PC_UNUSED static void make_dir(const char *path) {
  cr_assert(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path, strerror(errno));
}

PC_UNUSED static void copy_file(const char *from, const char *to) {
  size_t len;
  char *data = slurp(from, &len);
  cr_assert(data != NULL, "cannot read %s", from);
  write_file(to, data, len);
  free(data);
}

/* A file of the source tree's tests/programs/scripts/. */
PC_UNUSED static char *script_path(const char *name) {
  char *p;
  cr_assert(asprintf(&p, "%s/programs/scripts/%s", test_src_dir(), name) >= 0);
  cr_assert(access(p, R_OK) == 0, "missing test script %s", p);
  return p;
}

/* The test's program, or a clear failure naming what to install. */
PC_UNUSED static void require(const char *path, const char *package) {
  if (access(path, X_OK) != 0)
    cr_assert_fail("%s is not installed: install the Debian package '%s' "
                   "(scripts/deps.sh test installs everything this suite needs)",
                   path, package);
}

PC_UNUSED static void cleanup(char *dir) {
  const char *keep = getenv("ZA_KEEP_TMP");
  if (keep && *keep && strcmp(keep, "0") != 0) {
    cr_log_info("kept %s", dir);
  } else {
    remove_tree(dir);
  }
  free(dir);
}

/* Deterministic pseudo-random numbers (a 64-bit LCG; the high bits are good enough here). */
PC_UNUSED static uint32_t lcg_next(uint64_t *state) {
  *state = *state * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(*state >> 33);
}

/* `lines` lines "<number> <word> <word>": numbers below 50,000 and words from a small
 * vocabulary, so -n has real keys to compare and -u real duplicates to drop. */
PC_UNUSED static void make_sort_input(const char *path, int lines) {
  static const char *const syll[] = {"ka", "lo", "mi", "nu", "ze", "ra", "tho", "qu",
                                     "ix", "bel", "dor", "fen", "gul", "hap", "jin", "vox"};
  char words[64][16];
  uint64_t st = 20240601;
  for (int w = 0; w < 64; w++) {
    words[w][0] = '\0';
    int parts = 1 + (int)(lcg_next(&st) % 3);
    for (int k = 0; k < parts; k++) strcat(words[w], syll[lcg_next(&st) % 16]);
  }
  FILE *f = fopen(path, "w");
  cr_assert(f != NULL);
  for (int i = 0; i < lines; i++) {
    uint32_t a = lcg_next(&st), b = lcg_next(&st), c = lcg_next(&st);
    fprintf(f, "%u %s %s\n", a % 50000, words[b % 64], words[c % 8]);
  }
  cr_assert(fclose(f) == 0);
}

/* git with an empty configuration in `home`, fixed names and dates: the same object ids every
 * time, and no pager. */
PC_UNUSED static void git_env(strlist_t *env, const char *home) {
  sl_add(env, "HOME=%s", home);
  sl_add(env, "XDG_CONFIG_HOME=%s", home);
  sl_add(env, "GIT_CONFIG_NOSYSTEM=1");
  sl_add(env, "GIT_AUTHOR_NAME=Ada Author");
  sl_add(env, "GIT_AUTHOR_EMAIL=ada@example.org");
  sl_add(env, "GIT_AUTHOR_DATE=2020-01-02T03:04:05+0000");
  sl_add(env, "GIT_COMMITTER_NAME=Carl Committer");
  sl_add(env, "GIT_COMMITTER_EMAIL=carl@example.org");
  sl_add(env, "GIT_COMMITTER_DATE=2020-01-02T03:04:05+0000");
  sl_add(env, "GIT_PAGER=cat");
  sl_add(env, "PAGER=cat");
  sl_add(env, "GIT_TERMINAL_PROMPT=0");
  sl_add(env, "LC_ALL=C");
  sl_add(env, "TZ=UTC");
}

#endif
