/* Known ways preloaded allocators break, one test each: a purpose-built program (pit_*.c, see
 * each file's comment for the pitfall) runs under libzalloc.so and must finish (no hang: every
 * run has a timeout), print "done", exit 0, and leave a report that counts what it did. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <signal.h>
#include <string.h>

#include "zr_harness.h"

/* For hangs, not speed: several times the slowest run seen on a loaded 2-core machine. */
#define TIMEOUT 120

static void run(zr_run_t *z, const char *const *argv, const char *const *extra) {
  zr_start(z, argv, extra, TIMEOUT);
}

/* The blocks still allocated at exit, in either mode (the arena's "leaked:" line, or the sum
 * of the GPA leak check's classes). */
static void leaked(const char *log, long pid, long *blocks, long *bytes) {
  zr_leaks_t k = zr_leaks(log, pid);
  *blocks = k.live_blocks;
  *bytes = k.live_bytes;
}

/* With the GPA's leak check: no block is lost (what glibc keeps is still reachable). */
static void assert_none_lost(const char *log, long pid, const char *why) {
  zr_leaks_t k = zr_leaks(log, pid);
  if (k.checked)
    cr_assert(k.lost_blocks == 0, "%ld blocks, %ld bytes lost: %s\n%s", k.lost_blocks, k.lost_bytes,
              why, log);
}

/* ---- atexit ------------------------------------------------------------------------------- */

Test(pitfalls, hundred_atexit_handlers_that_allocate, .timeout = 200) {
  long blocks[2], bytes[2], callocs = 0;
  static const char *const counts[] = {"0", "100"};
  for (int i = 0; i < 2; i++) {
    zr_run_t z;
    run(&z, (const char *const[]){PIT_ATEXIT, counts[i], NULL}, NULL);
    zr_assert_ran_to_end(&z);
    if (i == 1) cr_assert(zr_has_line(z.r.out, "handlers ran=100"), "not every handler ran:\n%s", z.r.out);
    long pid;
    char *log = zr_only_log(&z, &pid);
    zr_assert_no_errors(log, pid);
    leaked(log, pid, &blocks[i], &bytes[i]);
    if (i == 1) callocs = zr_report_number(log, pid, "calls:", " calloc");
    free(log);
    zr_end(&z);
  }
  /* glibc's atexit allocates its handler lists with calloc, under its own lock. */
  cr_assert_geq(callocs, 3, "expected atexit to calloc its handler lists, saw %ld callocs", callocs);
  /* Each handler ran before the report and its block is counted: 100 blocks of 100..199 bytes. */
  cr_assert_eq(blocks[1] - blocks[0], 100, "leaked blocks: %ld with 100 handlers, %ld without", blocks[1],
               blocks[0]);
  cr_assert_eq(bytes[1] - bytes[0], 14950, "leaked bytes: %ld with 100 handlers, %ld without", bytes[1],
               bytes[0]);
}

/* ---- fork ----------------------------------------------------------------------------------- */

/* Each fork write-protects the parent's heap, and the GPA's threads then copy every page they
 * touch: with the 16 MiB quarantine cycling, thousands of page copies (each a TLB shoot-down)
 * a fork. Idle, the 20 forks take 5 to 15 s; with both cores busy over 60 s was seen. */
#define FORKSTORM_TIMEOUT 600

Test(pitfalls, fork_while_eight_threads_allocate, .timeout = FORKSTORM_TIMEOUT + 60) {
  zr_run_t z;
  zr_start(&z, (const char *const[]){PIT_FORKSTORM, NULL}, NULL, FORKSTORM_TIMEOUT);
  zr_assert_ran_to_end(&z);
  cr_assert(zr_has_line(z.r.out, "bad=0"), "%s", z.r.out);
  cr_assert(zr_has_line(z.r.out, "ops=some"), "the threads did not allocate:\n%s", z.r.out);
  /* One report per process: the parent's and each child's (written at its _exit), none of
   * them with a heap error - a child must not see the parent's threads' half-done work. */
  long pids[64];
  size_t n = zr_log_pids(&z, pids, 64);
  cr_assert_eq(n, 21, "expected the parent's report and 20 children's, found %zu", n);
  size_t parents = 0;
  for (size_t i = 0; i < n; i++) {
    char *log = zr_log(&z, pids[i]);
    zr_assert_no_errors(log, pids[i]);
    if (zr_report_number(log, pids[i], "calls:", " malloc") > 1000) parents++;
    free(log);
  }
  cr_assert_eq(parents, 1, "the parent's report (its threads' thousands of mallocs) is missing");
  zr_end(&z);
}

/* ---- a library constructor allocates before zalloc's constructor ---------------------------- */

Test(pitfalls, library_constructor_allocates_before_zalloc_constructor, .timeout = 200) {
  /* The premise: the loader runs the library's constructor before libzalloc.so's. */
  run_result_t r;
  char *preload = zr_fmt("LD_PRELOAD=%s", zalloc_library());
  const char *env[] = {preload, "LD_DEBUG=files", "ZALLOC_LOG=stderr", "ZALLOC_MODE=", "ZALLOC_ABORT=", NULL};
  cr_assert(run_program(&r, (const char *const[]){PIT_CTOR, NULL}, env, NULL, NULL, TIMEOUT));
  cr_assert_eq(r.status, 0, "status %d\n%s", r.status, r.err);
  char *lib_init = zr_fmt("calling init: %s\n", PIT_CTORLIB);
  char *zalloc_init = zr_fmt("calling init: %s\n", zalloc_library());
  const char *a = strstr(r.err, lib_init), *b = strstr(r.err, zalloc_init);
  cr_assert(a && b && a < b, "expected the library's constructor to run before zalloc's:\n%s", r.err);
  run_free(&r);
  free(lib_init);
  free(zalloc_init);
  free(preload);

  zr_run_t z;
  run(&z, (const char *const[]){PIT_CTOR, NULL}, NULL);
  zr_assert_ran_to_end(&z);
  long pid;
  char *log = zr_only_log(&z, &pid);
  /* main allocates nothing: these are the constructor's 1111, 2222 and 3333 bytes. */
  zr_assert_line(log, "==%ld==   calls:       3 malloc, 0 calloc, 0 realloc, 0 aligned, 1 free", pid);
  zr_assert_line(log, "==%ld==   allocated:   3 blocks, 6.5 KiB in total; peak in use 6.5 KiB", pid);
  long blocks, bytes;
  leaked(log, pid, &blocks, &bytes);
  cr_assert(blocks == 2 && bytes == 5555, "expected 2 blocks, 5,555 bytes at exit:\n%s", log);
  zr_assert_no_errors(log, pid);
  free(log);
  zr_end(&z);
}

/* ---- dlopen / dlclose / dlerror from threads ------------------------------------------------ */

Test(pitfalls, dlopen_dlclose_dlerror_from_eight_threads, .timeout = 200) {
  zr_run_t z;
  run(&z, (const char *const[]){PIT_DL, PIT_DLMOD, NULL}, NULL);
  zr_assert_ran_to_end(&z);
  cr_assert(zr_has_line(z.r.out, "failures=0"), "%s", z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  zr_assert_no_errors(log, pid);
  /* What the loader allocated for 320 loads was given back by the unloads: only its few
   * process-wide tables remain. */
  long blocks, bytes;
  leaked(log, pid, &blocks, &bytes);
  cr_assert_lt(blocks, 64, "%ld blocks leaked: did dlclose's frees get lost?\n%s", blocks, log);
  assert_none_lost(log, pid, "did dlclose's frees get lost?");
  free(log);
  zr_end(&z);
}

/* ---- memory from another allocator ---------------------------------------------------------- */

Test(pitfalls, free_of_memory_from_another_allocator, .timeout = 200) {
  zr_run_t z;
  run(&z, (const char *const[]){PIT_FOREIGN, NULL}, NULL);
  zr_assert_ran_to_end(&z);
  cr_assert(zr_has_line(z.r.out, "intact=yes"), "%s", z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld==   heap errors: 3 (3 invalid free)", pid);
  static const char *const keys[] = {"mapped", "static", "pooled"};
  for (size_t i = 0; i < 3; i++) {
    char *p = zr_value(z.r.out, keys[i]);
    zr_assert_line(log, "==%ld== invalid free: free(%s): not a block zalloc handed out (another allocator, "
                        "static or stack memory), thread %ld", pid, p, tid);
    free(p);
  }
  zr_assert_no_leaks(log, pid);
  free(log);
  zr_end(&z);
}

/* ---- RTLD_DEEPBIND ------------------------------------------------------------------------ */

/* A plugin opened with RTLD_DEEPBIND would bind malloc and free to glibc's, and glibc aborts
 * on the program's pointers ("free(): invalid size"). zalloc drops the flag and says so. */
Test(pitfalls, rtld_deepbind_plugin_shares_the_heap, .timeout = 200) {
  zr_run_t z;
  run(&z, (const char *const[]){PIT_DEEPBIND, PIT_DEEPBIND_LIB, NULL}, NULL);
  zr_assert_ran_to_end(&z);
  cr_assert(zr_has_line(z.r.out, "from the plugin"), "%s", z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  zr_assert_line(log, "==%ld==   note:        RTLD_DEEPBIND dropped from 1 dlopen call (first: %s), "
                      "so those libraries share zalloc's heap", pid, PIT_DEEPBIND_LIB);
  zr_assert_line(log, "==%ld==   heap errors: none", pid);
  free(log);
  zr_end(&z);
}

/* ---- malloc_usable_size ------------------------------------------------------------------- */

Test(pitfalls, usable_size_written_then_realloc_keeps_content, .timeout = 200) {
  zr_run_t z;
  run(&z, (const char *const[]){PIT_USABLE, NULL}, NULL);
  zr_assert_ran_to_end(&z);
  cr_assert(zr_has_line(z.r.out, "ok=yes"), "%s", z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  zr_assert_no_errors(log, pid);
  zr_assert_no_leaks(log, pid);
  free(log);
  zr_end(&z);
}

Test(pitfalls, fortify_source_3_program_using_the_slack, .timeout = 200) {
  zr_run_t z;
  run(&z, (const char *const[]){PIT_FORTIFY, NULL}, NULL);
  zr_assert_ran_to_end(&z);
  cr_assert(zr_has_line(z.r.out, "checked=160"), "%s", z.r.out);
  cr_assert_null(strstr(z.r.err, "overflow"), "%s", z.r.err);
  long pid;
  char *log = zr_only_log(&z, &pid);
  zr_assert_no_errors(log, pid);
  zr_assert_no_leaks(log, pid);
  free(log);
  zr_end(&z);
}

/* The premise of the test above: the program really is fortified, so writing the slack without
 * telling the compiler is caught - by glibc's check, not by zalloc. */
Test(pitfalls, fortify_source_3_checks_are_compiled_in, .timeout = 200) {
  zr_run_t z;
  run(&z, (const char *const[]){PIT_FORTIFY, "raw", NULL}, NULL);
  if (zr_has_line(z.r.out, "no-slack")) {
    zr_end(&z);
    cr_skip_test("no block size with slack: nothing to check");
  }
  cr_assert_eq(z.r.status, 128 + SIGABRT, "status %d\nstdout:\n%s\nstderr:\n%s", z.r.status, z.r.out, z.r.err);
  cr_assert_not_null(strstr(z.r.err, "buffer overflow detected"), "%s", z.r.err);
  cr_assert_null(strstr(z.r.out, "not caught"), "%s", z.r.out);
  zr_end(&z);
}

/* ---- pthread keys ----------------------------------------------------------------------------- */

static void keys_run(const char *const *extra, bool in_ctor) {
  zr_run_t z;
  run(&z, (const char *const[]){PIT_KEYS, NULL}, extra);
  zr_assert_ran_to_end(&z);
  cr_assert(zr_has_line(z.r.out, "failures=0"), "%s", z.r.out);
  if (in_ctor) {
    /* The premise: the 40 keys came first, so zalloc's own key is number 40 or more. */
    cr_assert(zr_has_line(z.r.out, "keys_in_ctor=1"), "%s", z.r.out);
    cr_assert(zr_has_line(z.r.out, "first_key=0"), "%s", z.r.out);
  }
  long pid;
  char *log = zr_only_log(&z, &pid);
  zr_assert_no_errors(log, pid);
  /* 24 threads x 40 key values, freed by the key destructors at thread exit: none may be lost. */
  long blocks, bytes;
  leaked(log, pid, &blocks, &bytes);
  cr_assert_lt(blocks, 40, "%ld blocks leaked: were key destructors' frees lost?\n%s", blocks, log);
  assert_none_lost(log, pid, "were key destructors' frees lost?");
  cr_assert_geq(zr_report_number(log, pid, "calls:", " malloc"), 24 * 40, "%s", log);
  free(log);
  zr_end(&z);
}

Test(pitfalls, forty_pthread_keys_created_in_main, .timeout = 200) { keys_run(NULL, false); }

Test(pitfalls, forty_pthread_keys_created_before_zalloc_starts, .timeout = 200) {
  keys_run((const char *const[]){"PIT_KEYS_IN_CTOR=1", NULL}, true);
}
