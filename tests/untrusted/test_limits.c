/* zalloc's own memory stays bounded over long runs (docs/promises.md): short versions of
 * the long runs measured there. ut_prog prints its VmRSS and what zalloc has mapped for blocks
 * (mallinfo2().arena) after every tenth of the run; after warm-up (the first half) both must
 * stay flat: thread states recycled, nothing kept per dlopen, the stack depot capped.
 *
 * The quarantines are off (ZALLOC_QUARANTINE=0, ZALLOC_PAGE_QUARANTINE=0): they hold freed
 * memory up to their own configured bounds, which a short run does not reach. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include "zr_harness.h"

#define TIMEOUT 300
#define RSS_SLACK_KIB 1024L          /* growth allowed from the 5th tenth to the 10th */
#define ARENA_SLACK ((size_t)512 << 10)

typedef struct figure { long rss_kib; size_t arena; } figure_t;

static figure_t at_tenth(const char *out, int tenth) {
  char *key = zr_fmt("at %d rss ", tenth);
  const char *p = strstr(out, key);
  cr_assert_not_null(p, "no figures for tenth %d:\n%s", tenth, out);
  figure_t f;
  cr_assert_eq(sscanf(p + strlen(key), "%ld arena %zu", &f.rss_kib, &f.arena), 2);
  free(key);
  return f;
}

/* Run ut_prog with `args` in `mode`; the figures at the 5th and 10th tenth must be flat. */
static run_result_t run_flat(const char *mode, const char *const *args) {
  const char *argv[8] = {UT_PROG};
  for (int i = 0; args[i]; i++) argv[i + 1] = args[i];
  char *set_mode = zr_fmt("ZALLOC_MODE=%s", mode);
  const char *env[] = {"LD_PRELOAD=", "ZALLOC_LOG=", "ZALLOC_STACK_DEPTH=", "ZALLOC_FORMAT=",
                       "ZALLOC_QUARANTINE=0", "ZALLOC_PAGE_QUARANTINE=0", set_mode, NULL};
  run_result_t r;
  cr_assert(run_program(&r, argv, env, NULL, NULL, TIMEOUT), "cannot start ut_prog");
  cr_assert_not(r.timed_out, "ut_prog %s timed out", args[0]);
  cr_assert_eq(r.status, 0, "ut_prog %s (%s): status %d\n%s", args[0], mode, r.status, r.err);
  cr_assert_not_null(strstr(r.err, "heap errors: none"), "%s", r.err);
  figure_t half = at_tenth(r.out, 5), end = at_tenth(r.out, 10);
  cr_assert_leq(end.rss_kib, half.rss_kib + RSS_SLACK_KIB,
                "ut_prog %s (%s): VmRSS grew from %ld KiB at half-way to %ld KiB\n%s", args[0], mode,
                half.rss_kib, end.rss_kib, r.out);
  cr_assert_leq(end.arena, half.arena + ARENA_SLACK,
                "ut_prog %s (%s): zalloc's mapped heap grew from %zu to %zu bytes\n%s", args[0], mode,
                half.arena, end.arena, r.out);
  free(set_mode);
  return r;
}

/* 4,000 threads, created and joined 8 at a time, each allocating and freeing. */
Test(limits, thread_exits_keep_memory_flat, .timeout = TIMEOUT) {
  static const char *const modes[] = {"gpa", "arena", "page"};
  for (int i = 0; i < 3; i++) {
    run_result_t r = run_flat(modes[i], (const char *const[]){"threads", "4000", NULL});
    run_free(&r);
  }
}

/* 1,000 dlopen/dlclose cycles of a library that allocates when loaded, called and unloaded. */
Test(limits, dlopen_cycles_keep_memory_flat, .timeout = TIMEOUT) {
  char *lib = zr_fmt("%s", UT_LIB);
  static const char *const modes[] = {"gpa", "arena", "page"};
  for (int i = 0; i < 3; i++) {
    run_result_t r = run_flat(modes[i], (const char *const[]){"dlopen", "1000", lib, NULL});
    run_free(&r);
  }
  free(lib);
}

/* 400,000 iterations, each a malloc and a free from a stack never seen before: 800,000
 * distinct stacks, more than the depot holds. Memory stops growing once it is full, and the
 * report says how many captures it refused. */
Test(limits, stack_depot_capped_and_said, .timeout = TIMEOUT) {
  run_result_t r = run_flat("gpa", (const char *const[]){"stacks", "400000", NULL});
  const char *note = strstr(r.err, "note:        the stack depot is full (279,553 distinct stacks): ");
  cr_assert_not_null(note, "no note saying the depot is full:\n%s", r.err);
  /* 800,000 new stacks (and the few of start-up) less the 279,553 stored: over 520,000. */
  long refused = 0;
  for (const char *p = strstr(note, "stacks): ") + 9; (*p >= '0' && *p <= '9') || *p == ','; p++)
    if (*p != ',') refused = refused * 10 + (*p - '0');
  cr_assert_geq(refused, 520447, "%ld captures refused:\n%s", refused, note);
  figure_t end = at_tenth(r.out, 10);
  cr_assert_lt(end.rss_kib, 80L << 10, "VmRSS %ld KiB: above the depot's documented bound", end.rss_kib);
  run_free(&r);
}
