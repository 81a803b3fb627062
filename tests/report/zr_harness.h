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
 * Stray ZALLOC_* settings from the test's own environment are removed: the default mode (gpa)
 * runs unless `extra` names another. */
ZR_UNUSED static void zr_start(zr_run_t *z, const char *const *argv, const char *const *extra,
                               int timeout_s) {
  memset(z, 0, sizeof *z);
  z->dir = make_temp_dir("zr");
  cr_assert_not_null(z->dir, "cannot make a temporary directory");
  const char *env[48];
  size_t n = 0;
  static const char *const stray[] = {"ZALLOC_MODE=", "ZALLOC_ABORT=", "ZALLOC_STACK_DEPTH=",
                                      "ZALLOC_QUARANTINE=", "ZALLOC_GUARD=", "ZALLOC_LEAKS=",
                                      "ZALLOC_SAMPLE=", "ZALLOC_LIMIT=", "ZALLOC_FAIL_AT=",
                                      "ZALLOC_FAIL_EVERY=", "ZALLOC_FAIL_RATE=", "ZALLOC_FAIL_MATCH="};
  for (size_t i = 0; i < sizeof stray / sizeof stray[0]; i++) env[n++] = stray[i];
  char *preload = zr_fmt("LD_PRELOAD=%s", zalloc_library()), *log = zr_fmt("ZALLOC_LOG=%s/r.%%p", z->dir);
  env[n++] = preload;
  env[n++] = log;
  for (const char *const *e = extra; e && *e && n < 47; e++) env[n++] = *e;
  env[n] = NULL;
  cr_assert(run_program(&z->r, argv, env, NULL, NULL, timeout_s), "cannot start %s", argv[0]);
  cr_assert_not(z->r.timed_out, "%s did not finish within %d s (hang?)\nstdout:\n%s\nstderr:\n%s",
                argv[0], timeout_s, z->r.out, z->r.err);
  free(preload);
  free(log);
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

/* The number ("1,024" reads as 1024) right before `word` in `line`, the first time `word`
 * occurs at or after `from` (NULL: the start of the line). */
ZR_UNUSED static long zr_number_before(const char *line, const char *from, const char *word) {
  const char *w = strstr(from ? from : line, word);
  cr_assert_not_null(w, "no \"%s\" in \"%s\"", word, line);
  const char *p = w;
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
  return v;
}

/* A number from the report's summary line starting with `prefix` ("calls:"), the one right
 * before `word` (" calloc"). */
ZR_UNUSED static long zr_report_number(const char *log, long pid, const char *prefix,
                                       const char *word) {
  char *start = zr_fmt("==%ld==   %s", pid, prefix);
  char *line = zr_line_starting(log, start);
  cr_assert_not_null(line, "no line starting \"%s\" in:\n%s", start, log);
  long v = zr_number_before(line, NULL, word);
  free(line);
  free(start);
  return v;
}

/* ---- what was left at exit, in either mode ------------------------------------------------------
 * The arena (and the GPA with ZALLOC_LEAKS=off) counts the blocks still allocated:
 *   "  leaked:      N blocks, M bytes still allocated at exit" or "  leaked:      nothing: ..."
 * the GPA's leak check classifies them:
 *   "  leaks:       none lost (still reachable: M bytes in N blocks)" or
 *   "  leaks:       definitely lost M bytes in N blocks, indirectly lost ..., still reachable ..." */
typedef struct zr_leaks {
  bool checked;       /* the GPA's leak check ran (else: the arena's count) */
  long lost_blocks, lost_bytes;   /* definitely + indirectly lost; the arena: every live block */
  long live_blocks, live_bytes;   /* every block still allocated at exit, reachable or not */
} zr_leaks_t;

ZR_UNUSED static zr_leaks_t zr_leaks(const char *log, long pid) {
  zr_leaks_t k = {0};
  char *arena = zr_fmt("==%ld==   leaked:      ", pid), *gpa = zr_fmt("==%ld==   leaks:       ", pid);
  char *line = zr_line_starting(log, arena);
  if (line) {
    const char *rest = line + strlen(arena);
    if (strcmp(rest, "nothing: every block was freed") != 0) {
      k.live_blocks = zr_number_before(line, rest, " blocks");
      k.live_bytes = zr_number_before(line, rest, " bytes still allocated at exit");
    }
    k.lost_blocks = k.live_blocks;
    k.lost_bytes = k.live_bytes;
  } else {
    line = zr_line_starting(log, gpa);
    cr_assert_not_null(line, "neither a leaked: nor a leaks: line for pid %ld in:\n%s", pid, log);
    const char *rest = line + strlen(gpa);
    k.checked = true;
    if (strncmp(rest, "none lost (still reachable: ", 28) == 0) {
      k.live_bytes = zr_number_before(line, rest, " byte");
      k.live_blocks = zr_number_before(line, rest, " block");
    } else {
      cr_assert(strncmp(rest, "definitely lost ", 16) == 0, "unexpected leaks: line \"%s\"", line);
      static const char *const classes[] = {"definitely lost ", "indirectly lost ", "still reachable "};
      for (size_t c = 0; c < 3; c++) {
        const char *at = strstr(rest, classes[c]);
        cr_assert_not_null(at, "no \"%s\" in \"%s\"", classes[c], line);
        long bytes = zr_number_before(line, at, " byte"), blocks = zr_number_before(line, at, " block");
        k.live_bytes += bytes;
        k.live_blocks += blocks;
        if (c < 2) {
          k.lost_bytes += bytes;
          k.lost_blocks += blocks;
        }
      }
    }
  }
  free(line);
  free(arena);
  free(gpa);
  return k;
}

/* Nothing leaked: the arena saw every block freed; the GPA's leak check found nothing lost
 * (still-reachable blocks, such as stdio's buffers, are allowed there). */
#define zr_assert_no_leaks(log, pid)                                                            \
  do {                                                                                          \
    zr_leaks_t zr_k_ = zr_leaks((log), (pid));                                                  \
    cr_assert(zr_k_.lost_blocks == 0 && zr_k_.lost_bytes == 0,                                  \
              "%ld blocks, %ld bytes leaked:\n%s", zr_k_.lost_blocks, zr_k_.lost_bytes, (log));   \
  } while (0)

/* The mode the report's header names ("gpa", "arena", "page"): a static string. */
ZR_UNUSED static const char *zr_report_mode(const char *log, long pid) {
  char *prefix = zr_fmt("==%ld== zalloc report for ", pid);
  char *line = zr_line_starting(log, prefix);
  cr_assert_not_null(line, "no report header for pid %ld in:\n%s", pid, log);
  const char *mode = strstr(line, ", mode arena") ? "arena" : strstr(line, ", mode gpa") ? "gpa"
                     : strstr(line, ", mode page") ? "page" : NULL;
  cr_assert_not_null(mode, "no mode in \"%s\"", line);
  free(line);
  free(prefix);
  return mode;
}
#endif
