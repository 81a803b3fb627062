/* The fuzz harness's deterministic half (issue 10): fuzz_replay runs the checked-in corpus
 * (tests/fuzz/corpus) through the same decoder and checks as the libFuzzer target fuzz_api,
 * under libzalloc.so, in each mode; with FUZZ_BAD=1 it also makes the bad calls the inputs ask
 * for and prints how many findings of each kind they must give. The JSON report must have
 * exactly those: one finding per bad call or refused request, none of any other kind. And the
 * regressions the fuzzing found. */
#include "zr_harness.h"
#include "modes_harness.h"

#include <dirent.h>

#define E_KINDS 5
static const char *const kinds[E_KINDS] = {"double-free", "invalid-free", "invalid-realloc",
                                           "invalid-usable-size", "impossible-request"};

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* argv of fuzz_replay over every corpus file, in name order (NULL-terminated, malloc'ed). */
static char **corpus_argv(void) {
  DIR *d = opendir(CORPUS_DIR);
  cr_assert_not_null(d, "cannot read %s", CORPUS_DIR);
  char **argv = calloc(256, sizeof *argv);
  size_t n = 1;
  argv[0] = strdup(FUZZ_REPLAY_BIN);
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (e->d_name[0] != '.' && n < 255) argv[n++] = zr_fmt("%s/%s", CORPUS_DIR, e->d_name);
  closedir(d);
  cr_assert_gt(n, 20, "the corpus has only %zu files", n - 1);
  qsort(argv + 1, n - 1, sizeof *argv, cmp_str);
  return argv;
}

/* Run the corpus in `mode`; with `bad`, the bad calls too. Every finding the report counts must
 * be one fuzz_replay expected, kind by kind; no block may be lost. Returns how many bad calls
 * it made (not counting refused requests). */
static unsigned long replay(const char *mode, bool bad) {
  char **argv = corpus_argv();
  char *m = zr_fmt("ZALLOC_MODE=%s", mode);
  const char *extra[] = {m, "ZALLOC_FORMAT=json", bad ? "FUZZ_BAD=1" : "FUZZ_BAD=", NULL};
  zr_run_t z;
  zr_start(&z, (const char *const *)argv, extra, 600);
  cr_assert_eq(z.r.status, 0, "fuzz_replay (%s) failed with status %d:\n%s", mode, z.r.status, z.r.err);
  long pid;
  free(zr_only_log(&z, &pid));
  const char *want[E_KINDS + 4];
  char *own[E_KINDS + 4];
  size_t n = 0;
  unsigned long total = 0, bad_calls = 0;
  for (int k = 0; k < E_KINDS; k++) {
    char *line = zr_fmt("expect %s ", kinds[k]);
    char *at = strstr(z.r.out, line);
    cr_assert_not_null(at, "fuzz_replay did not say %s:\n%s", line, z.r.out);
    unsigned long count = strtoul(at + strlen(line), NULL, 10);
    total += count;
    if (k != E_KINDS - 1) bad_calls += count;
    if (count) want[n] = own[n] = zr_fmt("errors.by_kind.%s=%lu", kinds[k], count);
    else want[n] = own[n] = zr_fmt("errors.by_kind.%s=<missing>", kinds[k]);
    n++;
    free(line);
  }
  want[n] = own[n] = zr_fmt("errors.total=%lu", total); /* and so no finding of another kind */
  n++;
  want[n] = own[n] = zr_fmt("process.mode=\"%s\"", mode);
  n++;
  /* Every block the inputs allocated was freed (arena mode has no leak check). */
  want[n] = own[n] = zr_fmt("leaks.definitely_lost.blocks=%s", strcmp(mode, "arena") ? "0" : "<missing>");
  n++;
  want[n] = NULL;
  char *file = zr_fmt("%s/r.%ld", z.dir, pid);
  json_expect(file, want);
  free(file);
  for (size_t i = 0; i < n; i++) free(own[i]);
  zr_end(&z);
  for (size_t i = 0; argv[i]; i++) free(argv[i]);
  free(argv);
  free(m);
  return bad_calls;
}

/* Valid calls only: contents, alignment, usable sizes and errno as the model says (fuzz_replay
 * aborts otherwise), and no findings but the refused requests. */
Test(fuzz_replay, corpus_valid_calls_gpa, .timeout = 600) { replay("gpa", false); }
Test(fuzz_replay, corpus_valid_calls_arena, .timeout = 600) { replay("arena", false); }
Test(fuzz_replay, corpus_valid_calls_page, .timeout = 600) { replay("page", false); }

/* With the bad calls: double frees (at once, and the second from another thread), frees,
 * reallocs and malloc_usable_size of interior, wild and freed pointers - each exactly one
 * finding of its kind, in every mode. */
Test(fuzz_replay, corpus_bad_calls_one_finding_each_gpa, .timeout = 600) {
  cr_assert_gt(replay("gpa", true), 50, "the corpus makes too few bad calls");
}
Test(fuzz_replay, corpus_bad_calls_one_finding_each_arena, .timeout = 600) {
  cr_assert_gt(replay("arena", true), 50, "the corpus makes too few bad calls");
}
Test(fuzz_replay, corpus_bad_calls_one_finding_each_page, .timeout = 600) {
  cr_assert_gt(replay("page", true), 50, "the corpus makes too few bad calls");
}

/* Run `prog` in `mode` with a JSON report; it must exit 0. Returns the report's path
 * (malloc'ed); *z is to be ended by the caller. */
static char *run_json(zr_run_t *z, const char *prog, const char *mode) {
  char *m = zr_fmt("ZALLOC_MODE=%s", mode);
  const char *extra[] = {m, "ZALLOC_FORMAT=json", NULL};
  zr_start(z, (const char *const[]){prog, NULL}, extra, 60);
  cr_assert_eq(z->r.status, 0, "%s failed: %s", prog, z->r.err);
  long pid;
  free(zr_only_log(z, &pid)); /* ZALLOC_LOG was honoured */
  free(m);
  return zr_fmt("%s/r.%ld", z->dir, pid);
}

/* Found by fuzzing: a malloc from the program's .preinit_array came before libc set environ,
 * and zalloc started with its defaults - ZALLOC_MODE, ZALLOC_LOG, ZALLOC_FORMAT ignored. */
Test(fuzz_regress, preinit_array_malloc_reads_the_environment, .timeout = 120) {
  const char *modes[] = {"arena", "page"};
  for (int i = 0; i < 2; i++) {
    zr_run_t z;
    char *file = run_json(&z, PREINIT_PROG, modes[i]);
    cr_assert(zr_has_line(z.r.out, "preinit_prog: done"));
    char *want_mode = zr_fmt("process.mode=\"%s\"", modes[i]);
    json_expect(file, (const char *const[]){want_mode, NULL});
    free(want_mode);
    free(file);
    zr_end(&z);
  }
}

/* Found by fuzzing (arena mode): a free of an address inside a live large block, where an
 * earlier large block had started before its mapping was given back, was reported as a double
 * free of that earlier block. It is an invalid free; in every mode. */
Test(fuzz_regress, free_inside_large_block_over_old_one_is_invalid_free, .timeout = 120) {
  const char *modes[] = {"arena", "gpa", "page"};
  for (int i = 0; i < 3; i++) {
    zr_run_t z;
    char *file = run_json(&z, STALE_PROG, modes[i]);
    bool made = strstr(z.r.out, "overlap: ") != NULL;
    if (strcmp(modes[i], "arena") == 0) /* the case that was wrong must have been made */
      cr_assert(made, "the layout never came out (%s)", z.r.out);
    json_expect(file, (const char *const[]){made ? "errors.by_kind.invalid-free=1" : "errors.by_kind.invalid-free=<missing>",
                                            "errors.by_kind.double-free=<missing>", NULL});
    free(file);
    zr_end(&z);
  }
}
