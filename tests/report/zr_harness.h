/* Shared by the report, config and pitfalls integration tests: run a helper program with
 * libzalloc.so preloaded and its log in a fresh directory (ZALLOC_LOG=<dir>/r.%p, so every
 * process of the run writes its own file), then look at the program's output and the reports.
 *
 * Header-only (static functions) so each test binary gets its own copy; include it after
 * <criterion/criterion.h>. */
#ifndef ZR_HARNESS_H
#define ZR_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spawn.h"

#define ZR_UNUSED __attribute__((unused))

typedef struct zr_run {
  run_result_t r;   /* the program's status, stdout and stderr */
  char *dir;        /* the directory its reports went to */
} zr_run_t;

/* asprintf that cannot return NULL unnoticed. */
ZR_UNUSED __attribute__((format(printf, 1, 2))) static char *zr_fmt(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  cr_assert(n >= 0 && s, "out of memory");
  return s;
}

/* Run `argv` under libzalloc.so. `extra` (NULL-terminated "NAME=value", may be NULL) is applied
 * after the defaults, so it can override ZALLOC_LOG or add ZALLOC_ABORT; "NAME=" removes NAME.
 * Stray ZALLOC_MODE / ZALLOC_ABORT from the test's own environment are removed. */
ZR_UNUSED static void zr_start(zr_run_t *z, const char *const *argv, const char *const *extra,
                               int timeout_s) {
  memset(z, 0, sizeof *z);
  z->dir = make_temp_dir("zr");
  cr_assert_not_null(z->dir, "cannot make a temporary directory");
  const char *env[40];
  size_t n = 0;
  env[n++] = "ZALLOC_MODE=";
  env[n++] = "ZALLOC_ABORT=";
  env[n++] = zr_fmt("LD_PRELOAD=%s", zalloc_library());
  env[n++] = zr_fmt("ZALLOC_LOG=%s/r.%%p", z->dir);
  for (const char *const *e = extra; e && *e && n < 39; e++) env[n++] = *e;
  env[n] = NULL;
  cr_assert(run_program(&z->r, argv, env, NULL, NULL, timeout_s), "cannot start %s", argv[0]);
  cr_assert_not(z->r.timed_out, "%s did not finish within %d s (hang?)\nstdout:\n%s\nstderr:\n%s",
                argv[0], timeout_s, z->r.out, z->r.err);
  free((char *)env[2]);
  free((char *)env[3]);
}

ZR_UNUSED static void zr_end(zr_run_t *z) {
  run_free(&z->r);
  remove_tree(z->dir);
  free(z->dir);
  z->dir = NULL;
}

static int zr_cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

/* The pids that have a log file (r.<pid>) in the run's directory, ascending; returns how many. */
ZR_UNUSED static size_t zr_log_pids(const zr_run_t *z, long *pids, size_t max) {
  DIR *d = opendir(z->dir);
  cr_assert_not_null(d, "cannot read %s", z->dir);
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    char *end;
    if (strncmp(e->d_name, "r.", 2) != 0) continue;
    long pid = strtol(e->d_name + 2, &end, 10);
    cr_assert(*end == '\0' && pid > 0, "unexpected file %s in %s", e->d_name, z->dir);
    if (n < max) pids[n] = pid;
    n++;
  }
  closedir(d);
  qsort(pids, n < max ? n : max, sizeof *pids, zr_cmp_long);
  return n;
}

/* The log of process `pid` (malloc'ed), or NULL if it has none. */
ZR_UNUSED static char *zr_log(const zr_run_t *z, long pid) {
  char *path = zr_fmt("%s/r.%ld", z->dir, pid);
  char *text = slurp(path, NULL);
  free(path);
  return text;
}

/* The one log the run wrote (a single process); sets *pid. */
ZR_UNUSED static char *zr_only_log(const zr_run_t *z, long *pid) {
  long pids[8];
  size_t n = zr_log_pids(z, pids, 8);
  cr_assert_eq(n, 1, "expected exactly one log file, found %zu\nstdout:\n%s\nstderr:\n%s", n,
               z->r.out, z->r.err);
  *pid = pids[0];
  char *text = zr_log(z, pids[0]);
  cr_assert_not_null(text);
  return text;
}

/* Whether `text` has a line equal to `line` (no newline in `line`). */
ZR_UNUSED static bool zr_has_line(const char *text, const char *line) {
  size_t len = strlen(line);
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    if (n == len && memcmp(p, line, n) == 0) return true;
    p = nl ? nl + 1 : NULL;
  }
  return false;
}

/* Number of lines of `text` that contain `needle`. */
ZR_UNUSED static size_t zr_count_lines_with(const char *text, const char *needle) {
  size_t count = 0;
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    char *line = strndup(p, n);
    if (strstr(line, needle)) count++;
    free(line);
    p = nl ? nl + 1 : NULL;
  }
  return count;
}

/* The first line of `text` that starts with `prefix`, without its newline (malloc'ed), or NULL. */
ZR_UNUSED static char *zr_line_starting(const char *text, const char *prefix) {
  size_t plen = strlen(prefix);
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    if (n >= plen && memcmp(p, prefix, plen) == 0) return strndup(p, n);
    p = nl ? nl + 1 : NULL;
  }
  return NULL;
}

/* The value of "key=value" on a line of its own in a program's output (malloc'ed), or fails. */
ZR_UNUSED static char *zr_value(const char *out, const char *key) {
  char *prefix = zr_fmt("%s=", key);
  char *line = zr_line_starting(out, prefix);
  cr_assert_not_null(line, "the program did not print %s\noutput:\n%s", prefix, out);
  char *v = strdup(line + strlen(prefix));
  free(line);
  free(prefix);
  return v;
}

ZR_UNUSED static long zr_value_long(const char *out, const char *key) {
  char *v = zr_value(out, key), *end;
  long n = strtol(v, &end, 0);
  cr_assert(*v && *end == '\0', "%s=%s is not a number", key, v);
  free(v);
  return n;
}

/* Assert that `text` has the line built from fmt; shows the whole text if not. */
#define zr_assert_line(text, ...)                                                               \
  do {                                                                                          \
    char *zr_l_ = zr_fmt(__VA_ARGS__);                                                          \
    cr_assert(zr_has_line((text), zr_l_), "missing line:\n%s\nin:\n%s", zr_l_, (text));         \
    free(zr_l_);                                                                                \
  } while (0)

/* Assert that the program exited normally with `status` and printed "done" last. */
#define zr_assert_ran_to_end(z)                                                                 \
  do {                                                                                          \
    cr_assert_eq((z)->r.status, 0, "exit status %d\nstdout:\n%s\nstderr:\n%s", (z)->r.status,    \
                 (z)->r.out, (z)->r.err);                                                       \
    cr_assert(zr_has_line((z)->r.out, "done"), "the program did not get to its end\nstdout:\n%s" \
              "\nstderr:\n%s", (z)->r.out, (z)->r.err);                                         \
  } while (0)

/* Every line of `log` starts with pid's "==PID== " prefix. */
#define zr_assert_all_lines_of(log, pid)                                                         \
  do {                                                                                          \
    char *zr_p_ = zr_fmt("==%ld== ", (long)(pid));                                              \
    cr_assert_eq(zr_count_lines_with((log), ""), zr_count_lines_with((log), zr_p_),              \
                 "not every line is pid %ld's:\n%s", (long)(pid), (log));                       \
    free(zr_p_);                                                                                \
  } while (0)

/* A report's fixed lines (pid prefix included). */
#define zr_assert_no_errors(log, pid) zr_assert_line(log, "==%ld==   heap errors: none", (long)(pid))
#define zr_assert_no_leaks(log, pid)                                                            \
  zr_assert_line(log, "==%ld==   leaked:      nothing: every block was freed", (long)(pid))

/* A number from the report's summary line starting with `prefix` ("calls:"), the one right
 * before `word` (" calloc"). */
ZR_UNUSED static long zr_report_number(const char *log, long pid, const char *prefix,
                                       const char *word) {
  char *start = zr_fmt("==%ld==   %s", pid, prefix);
  char *line = zr_line_starting(log, start);
  cr_assert_not_null(line, "no line starting \"%s\" in:\n%s", start, log);
  char *w = strstr(line, word);
  cr_assert_not_null(w, "no \"%s\" in \"%s\"", word, line);
  char *p = w;
  while (p > line && p[-1] == ' ') p--;
  while (p > line && (p[-1] == ',' || (p[-1] >= '0' && p[-1] <= '9'))) p--;
  long v = 0;
  bool any = false;
  for (; p < w; p++)
    if (*p >= '0' && *p <= '9') {
      v = v * 10 + (*p - '0');
      any = true;
    }
  cr_assert(any, "no number before \"%s\" in \"%s\"", word, line);
  free(line);
  free(start);
  return v;
}
#endif
