/* Test support: run a program (optionally under libzalloc.so) and capture what it did. */
#ifndef ZA_TEST_SPAWN_H
#define ZA_TEST_SPAWN_H
#include <stdbool.h>
#include <stddef.h>

typedef struct run_result {
  int status;        /* exit status, or 128 + signal number if killed */
  bool timed_out;    /* killed after the timeout */
  char *out;         /* stdout, NUL-terminated (malloc'ed) */
  size_t out_len;
  char *err;         /* stderr, NUL-terminated (malloc'ed) */
  size_t err_len;
} run_result_t;

/* Run argv[0] (searched in PATH) with the current environment plus `env` (NULL-terminated
 * "NAME=value" list, may be NULL; a "NAME=" entry with nothing after '=' removes NAME),
 * stdin from `stdin_path` (NULL: /dev/null), in directory `cwd` (NULL: current).
 * Killed after `timeout_s` seconds. Returns false only if it could not be started. */
bool run_program(run_result_t *r, const char *const *argv, const char *const *env,
                 const char *stdin_path, const char *cwd, int timeout_s);
void run_free(run_result_t *r);

/* The libzalloc.so under test (absolute path, from the build). */
const char *zalloc_library(void);
/* Build directory of the test helpers (absolute path) and the source tree's tests/ folder. */
const char *test_bin_dir(void);
const char *test_src_dir(void);

/* Whole file into a malloc'ed NUL-terminated buffer; NULL if it cannot be read. */
char *slurp(const char *path, size_t *len);
/* A fresh empty directory under $TMPDIR (or /tmp); caller removes it with remove_tree. */
char *make_temp_dir(const char *tag);
void remove_tree(const char *dir);
/* Number of non-overlapping occurrences of `needle` in `hay`. */
size_t count_occurrences(const char *hay, const char *needle);
#endif
