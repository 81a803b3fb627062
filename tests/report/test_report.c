/* Integration tests of the exit report: small programs with known leaks and heap errors run
 * under libzalloc.so, and the report must say exactly what they did, line by line. The
 * programs (rep_prog.c, one scenario per argument) print the pointers and thread ids the test
 * needs to predict every finding line, and "done" when they get to their end. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "zr_harness.h"

#define TIMEOUT 30

/* Run one rep_prog scenario (extra: environment additions, may be NULL). */
static void run_scenario(zr_run_t *z, const char *scenario, const char *const *extra) {
  const char *argv[] = {REP_PROG, scenario, NULL};
  zr_start(z, argv, extra, TIMEOUT);
}

/* Tests of the arena's own report lines (its exact "leaked:" count) run it explicitly; the
 * others run the default mode, the GPA. */
static const char *const ARENA[] = {"ZALLOC_MODE=arena", NULL};

/* The header line: the command line (cut by the report at 200 characters), pid and mode. */
static void assert_header(const char *log, long pid, const char *cmd, const char *mode,
                          const char *extra) {
  char *prefix = zr_fmt("==%ld== zalloc report for ", pid);
  char *line = zr_line_starting(log, prefix);
  cr_assert_not_null(line, "no report header for pid %ld in:\n%s", pid, log);
  char *tail = zr_fmt(" (pid %ld, mode %s%s)", pid, mode, extra ? extra : "");
  if (strlen(cmd) < 190) {
    char *want = zr_fmt("%s%s%s", prefix, cmd, tail);
    cr_assert_str_eq(line, want);
    free(want);
  } else { /* a very deep build directory: the command is cut, the rest must still be there */
    cr_assert(strncmp(line + strlen(prefix), cmd, 100) == 0, "header \"%s\" does not name %s", line, cmd);
    cr_assert(strlen(line) > strlen(tail) && strcmp(line + strlen(line) - strlen(tail), tail) == 0,
              "header \"%s\" does not end with \"%s\"", line, tail);
  }
  free(tail);
  free(line);
  free(prefix);
}

#define FOREIGN "not a block zalloc handed out (another allocator, static or stack memory)"
#define INTERIOR "inside zalloc's heap but not the start of a block (interior pointer?)"

Test(report, known_leaks_exact_figures, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "leaks", ARENA);
  zr_assert_ran_to_end(&z);
  long pid;
  char *log = zr_only_log(&z, &pid);
  cr_assert_eq(count_occurrences(log, "zalloc report for"), 1, "%s", log);
  assert_header(log, pid, REP_PROG " leaks", "arena", NULL);
  zr_assert_line(log, "==%ld==   calls:       4 malloc, 0 calloc, 0 realloc, 0 aligned, 1 free", pid);
  /* The arena counts a block's usable size, its size class (a large block's own size):
   * 1024 + 2048 + 300000 + 512 = 303,584 bytes = 296.5 KiB, all live at once; the 512 freed. */
  zr_assert_line(log, "==%ld==   allocated:   4 blocks, 296.5 KiB in total; peak in use 296.5 KiB", pid);
  zr_assert_line(log, "==%ld==   leaked:      3 blocks, 303,072 bytes still allocated at exit", pid);
  zr_assert_no_errors(log, pid);
  /* Every line of the report belongs to this process. */
  zr_assert_all_lines_of(log, pid);
  free(log);
  zr_end(&z);
}

Test(report, program_that_frees_everything, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "free-all", NULL);
  zr_assert_ran_to_end(&z);
  long pid;
  char *log = zr_only_log(&z, &pid);
  zr_assert_line(log, "==%ld==   calls:       3 malloc, 1 calloc, 3 realloc, 3 aligned, 8 free", pid);
  zr_assert_no_leaks(log, pid);
  zr_assert_no_errors(log, pid);
  cr_assert_eq(zr_count_lines_with(log, "free("), 0, "%s", log);
  free(log);
  zr_end(&z);
}

Test(report, double_free_small_and_large, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "double-free", NULL);
  zr_assert_ran_to_end(&z);
  long pid;
  char *log = zr_only_log(&z, &pid);
  char *small = zr_value(z.r.out, "small"), *large = zr_value(z.r.out, "large");
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld==   heap errors: 2 (2 double free)", pid);
  zr_assert_line(log, "==%ld== double free: free(%s): the block was already freed (100 bytes), thread %ld",
                 pid, small, tid);
  zr_assert_line(log, "==%ld== double free: free(%s): the block was already freed (307,200 bytes), "
                      "thread %ld", pid, large, tid);
  /* The second frees were ignored, not counted as frees of live blocks. */
  zr_assert_line(log, "==%ld==   calls:       2 malloc, 0 calloc, 0 realloc, 0 aligned, 4 free", pid);
  zr_assert_no_leaks(log, pid);
  free(small);
  free(large);
  free(log);
  zr_end(&z);
}

Test(report, invalid_frees_of_every_kind, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "invalid-free", NULL);
  zr_assert_ran_to_end(&z);
  cr_assert(zr_has_line(z.r.out, "intact=yes"), "memory was damaged by an invalid free:\n%s", z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld==   heap errors: 5 (5 invalid free)", pid);
  static const char *const foreign[] = {"stack", "static", "mapped"};
  for (size_t i = 0; i < 3; i++) {
    char *p = zr_value(z.r.out, foreign[i]);
    zr_assert_line(log, "==%ld== invalid free: free(%s): " FOREIGN ", thread %ld", pid, p, tid);
    free(p);
  }
  static const char *const inside[] = {"interior", "misaligned"};
  for (size_t i = 0; i < 2; i++) {
    char *p = zr_value(z.r.out, inside[i]);
    zr_assert_line(log, "==%ld== invalid free: free(%s): " INTERIOR ", thread %ld", pid, p, tid);
    free(p);
  }
  /* The block the interior pointers pointed into was still live and freed properly after. */
  zr_assert_no_leaks(log, pid);
  free(log);
  zr_end(&z);
}

Test(report, realloc_of_freed_and_foreign_pointers, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "bad-realloc", NULL);
  zr_assert_ran_to_end(&z);
  for (int i = 1; i <= 3; i++) {
    char *want = zr_fmt("r%d=NULL ENOMEM", i);
    cr_assert(zr_has_line(z.r.out, want), "expected %s:\n%s", want, z.r.out);
    free(want);
  }
  cr_assert(zr_has_line(z.r.out, "static_intact=yes"), "%s", z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  long tid = zr_value_long(z.r.out, "tid");
  char *freed = zr_value(z.r.out, "freed"), *big = zr_value(z.r.out, "big"),
       *stat = zr_value(z.r.out, "static");
  zr_assert_line(log, "==%ld==   heap errors: 3 (3 invalid realloc)", pid);
  zr_assert_line(log, "==%ld== invalid pointer: realloc(%s): the block was freed (40 bytes), thread %ld",
                 pid, freed, tid);
  zr_assert_line(log, "==%ld== invalid pointer: realloc(%s): the block was freed (300,000 bytes), "
                      "thread %ld", pid, big, tid);
  zr_assert_line(log, "==%ld== invalid pointer: realloc(%s): " FOREIGN ", thread %ld", pid, stat, tid);
  /* A failed realloc allocates nothing. */
  zr_assert_line(log, "==%ld==   calls:       3 malloc, 0 calloc, 3 realloc, 0 aligned, 3 free", pid);
  zr_assert_no_leaks(log, pid);
  free(freed);
  free(big);
  free(stat);
  free(log);
  zr_end(&z);
}

Test(report, malloc_usable_size_of_bad_pointers, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "usable-size", NULL);
  zr_assert_ran_to_end(&z);
  static const char *const zero[] = {"u1=0", "u2=0", "u3=0", "guard_ok=yes"};
  for (size_t i = 0; i < 4; i++) cr_assert(zr_has_line(z.r.out, zero[i]), "expected %s:\n%s", zero[i], z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  long tid = zr_value_long(z.r.out, "tid");
  char *freed = zr_value(z.r.out, "freed"), *stat = zr_value(z.r.out, "static");
  zr_assert_line(log, "==%ld==   heap errors: 2 (2 invalid malloc_usable_size)", pid);
  zr_assert_line(log, "==%ld== invalid pointer: malloc_usable_size(%s): " FOREIGN ", thread %ld", pid,
                 stat, tid);
  zr_assert_line(log, "==%ld== invalid pointer: malloc_usable_size(%s): the block was freed (72 bytes), "
                      "thread %ld", pid, freed, tid);
  free(freed);
  free(stat);
  free(log);
  zr_end(&z);
}

Test(report, double_free_from_a_second_thread_names_that_thread, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "thread-double-free", NULL);
  zr_assert_ran_to_end(&z);
  long pid;
  char *log = zr_only_log(&z, &pid);
  long thread_tid = zr_value_long(z.r.out, "thread_tid"), main_tid = zr_value_long(z.r.out, "main_tid");
  cr_assert_neq(thread_tid, main_tid);
  cr_assert_eq(main_tid, pid);
  char *p = zr_value(z.r.out, "p");
  zr_assert_line(log, "==%ld==   heap errors: 1 (1 double free)", pid);
  zr_assert_line(log, "==%ld== double free: free(%s): the block was already freed (48 bytes), thread %ld",
                 pid, p, thread_tid);
  free(p);
  free(log);
  zr_end(&z);
}

Test(report, same_double_free_five_times_is_one_entry, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "repeated-double-free", NULL);
  zr_assert_ran_to_end(&z);
  long pid;
  char *log = zr_only_log(&z, &pid);
  long tid = zr_value_long(z.r.out, "tid");
  char *p = zr_value(z.r.out, "p");
  zr_assert_line(log, "==%ld==   heap errors: 5 (5 double free)", pid);
  zr_assert_line(log, "==%ld== double free: free(%s): the block was already freed (24 bytes), "
                      "thread %ld, 5 times", pid, p, tid);
  char *call = zr_fmt("free(%s)", p);
  cr_assert_eq(zr_count_lines_with(log, call), 1, "the repeated error must be listed once:\n%s", log);
  free(call);
  free(p);
  free(log);
  zr_end(&z);
}

Test(report, abort_at_first_double_free, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "abort", (const char *const[]){"ZALLOC_ABORT=1", NULL});
  cr_assert_eq(z.r.status, 128 + SIGABRT, "expected death by SIGABRT, got status %d\nstdout:\n%s\nstderr:\n%s",
               z.r.status, z.r.out, z.r.err);
  cr_assert(zr_has_line(z.r.out, "before"), "%s", z.r.out);
  cr_assert_null(strstr(z.r.out, "after"), "the program went on after the double free:\n%s", z.r.out);
  cr_assert_null(strstr(z.r.out, "done"), "%s", z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  long tid = zr_value_long(z.r.out, "tid");
  char *p = zr_value(z.r.out, "p");
  assert_header(log, pid, REP_PROG " abort", "gpa", NULL);
  zr_assert_line(log, "==%ld== double free: free(%s): the block was already freed (32 bytes), thread %ld",
                 pid, p, tid);
  zr_assert_line(log, "==%ld== zalloc: aborting at the first heap error (ZALLOC_ABORT=1)", pid);
  /* Only the first error, and no exit report: the process never got to exit. */
  cr_assert_eq(zr_count_lines_with(log, "free("), 1, "%s", log);
  cr_assert_null(strstr(log, "calls:"), "%s", log);
  cr_assert_eq(count_occurrences(log, "zalloc report for"), 1, "%s", log);
  free(p);
  free(log);
  zr_end(&z);
}

/* The same program without ZALLOC_ABORT: both errors recorded, and it runs to its end. */
Test(report, without_abort_the_same_program_carries_on, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "abort", NULL);
  zr_assert_ran_to_end(&z);
  cr_assert(zr_has_line(z.r.out, "after"), "%s", z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  zr_assert_line(log, "==%ld==   heap errors: 2 (1 double free, 1 invalid free)", pid);
  cr_assert_null(strstr(log, "aborting"), "%s", log);
  free(log);
  zr_end(&z);
}

Test(report, forked_child_has_its_own_report, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "fork", ARENA); /* exact "leaked:" counts */
  zr_assert_ran_to_end(&z);
  cr_assert(zr_has_line(z.r.out, "child_status=0"), "%s", z.r.out);
  long parent = zr_value_long(z.r.out, "parent"), child = zr_value_long(z.r.out, "child");
  long pids[8];
  size_t n = zr_log_pids(&z, pids, 8);
  cr_assert_eq(n, 2, "expected a log for the parent and one for the child, found %zu", n);
  cr_assert(pids[0] == (parent < child ? parent : child) && pids[1] == (parent < child ? child : parent),
            "log files for pids %ld and %ld, expected %ld and %ld", pids[0], pids[1], parent, child);

  char *clog = zr_log(&z, child);
  cr_assert_eq(count_occurrences(clog, "zalloc report for"), 1, "%s", clog);
  char *extra = zr_fmt(", forked from pid %ld: counts start at the fork", parent);
  assert_header(clog, child, REP_PROG " fork", "arena", extra);
  /* Only the child's two blocks (111 and 222 bytes: size classes 112 and 224); its free of an
   * inherited block is a call but frees nothing. */
  zr_assert_line(clog, "==%ld==   calls:       2 malloc, 0 calloc, 0 realloc, 0 aligned, 1 free", child);
  zr_assert_line(clog, "==%ld==   allocated:   2 blocks, 336 bytes in total; peak in use 336 bytes", child);
  zr_assert_line(clog, "==%ld==   leaked:      2 blocks, 336 bytes still allocated at exit", child);
  zr_assert_no_errors(clog, child);

  char *plog = zr_log(&z, parent);
  cr_assert_eq(count_occurrences(plog, "zalloc report for"), 1, "%s", plog);
  assert_header(plog, parent, REP_PROG " fork", "arena", NULL);
  cr_assert_null(strstr(plog, "forked from"), "%s", plog);
  zr_assert_line(plog, "==%ld==   calls:       3 malloc, 0 calloc, 0 realloc, 0 aligned, 0 free", parent);
  zr_assert_line(plog, "==%ld==   leaked:      3 blocks, 6,144 bytes still allocated at exit", parent); /* 1024 + 2048 + 3072 */
  zr_assert_no_errors(plog, parent);
  free(extra);
  free(clog);
  free(plog);
  zr_end(&z);
}

/* The child outlives its parent: the report still names the parent (not init, which getppid()
 * returns once the parent is gone). */
Test(report, orphaned_child_names_its_real_parent, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "orphan", ARENA); /* an exact "leaked:" count */
  zr_assert_ran_to_end(&z);
  long parent = zr_value_long(z.r.out, "parent"), child = zr_value_long(z.r.out, "child");
  char *clog = NULL;
  for (int i = 0; i < 1000; i++) { /* the child writes its report after the parent is gone */
    clog = zr_log(&z, child);
    if (clog && strstr(clog, "heap errors:")) break;
    free(clog);
    clog = NULL;
    usleep(10000);
  }
  cr_assert_not_null(clog, "the child wrote no report");
  char *extra = zr_fmt(", forked from pid %ld: counts start at the fork", parent);
  assert_header(clog, child, REP_PROG " orphan", "arena", extra);
  /* 10 and 20 bytes: size classes 16 and 32 */
  zr_assert_line(clog, "==%ld==   leaked:      2 blocks, 48 bytes still allocated at exit", child);
  free(extra);
  free(clog);
  zr_end(&z);
}

Test(report, exec_report_names_the_new_program, .timeout = 60) {
  zr_run_t z;
  const char *argv[] = {REP_PROG, "exec", REP_TARGET, NULL};
  zr_start(&z, argv, ARENA, TIMEOUT); /* an exact "leaked:" count */
  cr_assert_eq(z.r.status, 0, "status %d\nstdout:\n%s\nstderr:\n%s", z.r.status, z.r.out, z.r.err);
  cr_assert(zr_has_line(z.r.out, "target ran (via-exec)"), "%s", z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  cr_assert_eq(pid, zr_value_long(z.r.out, "pid"));
  cr_assert_eq(count_occurrences(log, "zalloc report for"), 1, "%s", log);
  assert_header(log, pid, REP_TARGET " via-exec", "arena", NULL);
  /* The program that exec'ed leaked two blocks; they are gone with its image. */
  zr_assert_line(log, "==%ld==   calls:       1 malloc, 0 calloc, 0 realloc, 0 aligned, 0 free", pid);
  zr_assert_line(log, "==%ld==   leaked:      1 block, 4,608 bytes still allocated at exit", pid); /* 4321's class */
  free(log);
  zr_end(&z);
}

Test(report, report_comes_after_atexit_handlers_and_destructors, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "atexit", NULL);
  zr_assert_ran_to_end(&z);
  cr_assert(zr_has_line(z.r.out, "atexit ran"), "%s", z.r.out);
  cr_assert(zr_has_line(z.r.out, "destructor ran"), "%s", z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  zr_assert_line(log, "==%ld==   calls:       2 malloc, 0 calloc, 0 realloc, 0 aligned, 2 free", pid);
  zr_assert_no_leaks(log, pid);
  zr_assert_no_errors(log, pid);
  free(log);
  zr_end(&z);
}

/* A library's destructor runs after libzalloc.so's; what it frees is still not a leak. */
Test(report, report_comes_after_library_destructors, .timeout = 60) {
  zr_run_t z;
  const char *argv[] = {REP_LIBDTOR, NULL};
  zr_start(&z, argv, NULL, TIMEOUT);
  zr_assert_ran_to_end(&z);
  cr_assert(zr_has_line(z.r.out, "library destructor ran"), "%s", z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  zr_assert_line(log, "==%ld==   calls:       2 malloc, 0 calloc, 0 realloc, 0 aligned, 2 free", pid);
  zr_assert_no_leaks(log, pid);
  zr_assert_no_errors(log, pid);
  free(log);
  zr_end(&z);
}

/* 300 distinct errors: 256 are listed, the rest counted; a repeat of a listed one is folded
 * into its entry. */
Test(report, more_errors_than_the_list_holds, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "many-errors", NULL);
  zr_assert_ran_to_end(&z);
  long pid;
  char *log = zr_only_log(&z, &pid);
  long tid = zr_value_long(z.r.out, "tid");
  char *first = zr_value(z.r.out, "first");
  zr_assert_line(log, "==%ld==   heap errors: 301 (301 invalid free)", pid);
  cr_assert_eq(zr_count_lines_with(log, "invalid free: free("), 256, "%s", log);
  zr_assert_line(log, "==%ld== invalid free: free(%s): " FOREIGN ", thread %ld, 2 times", pid, first, tid);
  zr_assert_line(log, "==%ld== 44 more distinct errors, counted but not listed", pid);
  free(first);
  free(log);
  zr_end(&z);
}

/* The header names the command line, cut to fit (195 characters and " ...") and kept on one
 * line whatever the arguments hold. */
Test(report, long_command_line_is_cut_and_kept_on_one_line, .timeout = 60) {
  char arg[301];
  for (int i = 0; i < 300; i++) arg[i] = (char)('a' + i % 26);
  arg[100] = '\n';
  arg[200] = '\t';
  arg[300] = '\0';
  zr_run_t z;
  const char *argv[] = {REP_TARGET, arg, NULL};
  /* rep_target leaks a block: without the leak check's group the report is six lines. */
  zr_start(&z, argv, (const char *const[]){"ZALLOC_LEAKS=off", NULL}, TIMEOUT);
  cr_assert_eq(z.r.status, 0, "status %d: %s", z.r.status, z.r.err);
  long pid;
  char *log = zr_only_log(&z, &pid);
  char *cmd = zr_fmt("%s %s", REP_TARGET, arg);
  for (char *c = cmd; *c; c++)
    if (*c == '\n' || *c == '\t') *c = ' ';
  cmd[195] = '\0';
  zr_assert_line(log, "==%ld== zalloc report for %s ... (pid %ld, mode gpa)", pid, cmd, pid);
  cr_assert_eq(zr_count_lines_with(log, ""), 6, "the report is not six lines:\n%s", log);
  free(cmd);
  free(log);
  zr_end(&z);
}

/* coreutils close stderr from an atexit handler (close_stdout), before zalloc's report runs:
 * with the default ZALLOC_LOG=stderr the report must still reach the original stderr. */
Test(report, default_stderr_report_survives_a_program_closing_stderr, .timeout = 60) {
  zr_run_t z;
  static const char *const to_stderr[] = {"ZALLOC_LOG=", NULL};
  zr_start(&z, (const char *const[]){"/usr/bin/sort", "/dev/null", NULL}, to_stderr, 30);
  cr_assert_eq(z.r.status, 0, "sort failed: %s", z.r.err);
  cr_assert(strstr(z.r.err, "zalloc report for /usr/bin/sort /dev/null"), "no report on stderr:\n%s", z.r.err);
  cr_assert(strstr(z.r.err, "heap errors: none"), "%s", z.r.err);
  zr_end(&z);
}

/* Impossible requests are refused as glibc refuses them, and each is listed with the arguments
 * the program passed. */
Test(report, impossible_requests_are_listed, .timeout = 60) {
  zr_run_t z;
  run_scenario(&z, "impossible", NULL);
  zr_assert_ran_to_end(&z);
  cr_assert(zr_has_line(z.r.out, "null=1 1 1 1 1"), "%s", z.r.out);
  cr_assert(zr_has_line(z.r.out, "errno=ENOMEM ENOMEM ENOMEM EINVAL posix_memalign=EINVAL"), "%s", z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  char *keep = zr_value(z.r.out, "keep");
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld==   heap errors: 5 (5 impossible requests)", pid);
  const char *big = "larger than PTRDIFF_MAX, which no object can be (a negative size?)";
  zr_assert_line(log, "==%ld== impossible request: malloc(18446744073709551615): %s; returned NULL, "
                      "errno ENOMEM, thread %ld", pid, big, tid);
  zr_assert_line(log, "==%ld== impossible request: calloc(9223372036854775807, 3): the count times the "
                      "size does not fit in size_t; returned NULL, errno ENOMEM, thread %ld", pid, tid);
  zr_assert_line(log, "==%ld== impossible request: realloc(%s, 18446744073709551615): %s; returned NULL, "
                      "errno ENOMEM, thread %ld", pid, keep, big, tid);
  zr_assert_line(log, "==%ld== impossible request: posix_memalign(&p, 24, 100): the alignment must be a "
                      "power of two and a multiple of sizeof(void *); returned EINVAL, thread %ld", pid, tid);
  zr_assert_line(log, "==%ld== impossible request: aligned_alloc(48, 64): the alignment must be a power "
                      "of two; returned NULL, errno EINVAL, thread %ld", pid, tid);
  zr_assert_no_leaks(log, pid);
  free(keep);
  free(log);
  zr_end(&z);
}
