/* Integration tests of the configuration, as a user meets it: environment variables given to
 * a program run under libzalloc.so.
 *
 * A bad value, or an unknown ZALLOC_ variable, must stop the program before its main with exit
 * status 2 and exactly one line on stderr naming the variable, the value and what is accepted.
 * This is checked with cfg_prog (prints "main ran" first thing, allocates nothing before main),
 * with true(1) and with sh -c 'echo main ran' (real programs). Good values must work.
 *
 * The variables are passed on env(1)'s command line, so an empty value (ZALLOC_LOG=) really
 * reaches the program as an empty value rather than an unset variable. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "zr_harness.h"

#define TIMEOUT 30

/* Run `cmd` via env(1) with LD_PRELOAD and the `assign`ments; the test's own ZALLOC_*
 * variables are removed first. */
static void run_with(run_result_t *r, const char *const *assign, const char *const *cmd) {
  const char *argv[32];
  size_t n = 0;
  argv[n++] = "env";
  char *preload = zr_fmt("LD_PRELOAD=%s", zalloc_library());
  argv[n++] = preload;
  for (const char *const *a = assign; a && *a && n < 20; a++) argv[n++] = *a;
  for (const char *const *c = cmd; *c && n < 31; c++) argv[n++] = *c;
  argv[n] = NULL;
  static const char *const clean[] = {"ZALLOC_MODE=", "ZALLOC_LOG=", "ZALLOC_ABORT=", "LD_PRELOAD=",
                                      "ZALLOC_STACK_DEPTH=", "ZALLOC_QUARANTINE=", "ZALLOC_GUARD=",
                                      "ZALLOC_LEAKS=", NULL};
  cr_assert(run_program(r, argv, clean, NULL, NULL, TIMEOUT), "cannot run env");
  cr_assert_not(r->timed_out, "%s timed out", cmd[0]);
  free(preload);
}

/* A rejected setting: for each kind of program, status 2, one line naming every needle, and
 * the program's main never ran. */
static void assert_rejected(const char *assignment, const char *const *needles) {
  static const char *const programs[][4] = {
    {CFG_PROG, NULL},
    {"true", NULL},
    {"sh", "-c", "echo main ran", NULL},
  };
  for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
    run_result_t r;
    run_with(&r, (const char *const[]){assignment, NULL}, programs[i]);
    const char *what = programs[i][0];
    cr_assert_eq(r.status, 2, "%s with %s: exit status %d, expected 2\nstdout:\n%s\nstderr:\n%s", what,
                 assignment, r.status, r.out, r.err);
    cr_assert_null(strstr(r.out, "main ran"), "%s with %s: main ran\nstdout:\n%s", what, assignment, r.out);
    cr_assert_eq(r.out_len, 0, "%s with %s: printed \"%s\"", what, assignment, r.out);
    cr_assert(r.err_len > 0 && r.err[r.err_len - 1] == '\n' && strchr(r.err, '\n') == r.err + r.err_len - 1,
              "%s with %s: stderr is not exactly one line:\n%s", what, assignment, r.err);
    cr_assert(strncmp(r.err, "zalloc: ", 8) == 0, "%s with %s: \"%s\" does not say it is zalloc's", what,
              assignment, r.err);
    for (const char *const *n = needles; *n; n++)
      cr_assert_not_null(strstr(r.err, *n), "%s with %s: the error does not mention \"%s\":\n%s", what,
                         assignment, *n, r.err);
    run_free(&r);
  }
}

#define NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(config, bad_mode, .timeout = 60) {
  assert_rejected("ZALLOC_MODE=bogus", NEEDLES("ZALLOC_MODE", "bogus", "accepted", "gpa", "arena"));
}

Test(config, bad_stack_depth, .timeout = 60) {
  assert_rejected("ZALLOC_STACK_DEPTH=65", NEEDLES("ZALLOC_STACK_DEPTH", "65", "accepted", "64"));
  assert_rejected("ZALLOC_STACK_DEPTH=-1", NEEDLES("ZALLOC_STACK_DEPTH", "-1", "accepted", "64"));
}

Test(config, bad_quarantine, .timeout = 60) {
  assert_rejected("ZALLOC_QUARANTINE=1X", NEEDLES("ZALLOC_QUARANTINE", "1X", "accepted", "suffix"));
}

Test(config, bad_guard_and_leaks, .timeout = 60) {
  assert_rejected("ZALLOC_GUARD=maybe", NEEDLES("ZALLOC_GUARD", "maybe", "accepted", "yes", "off"));
  assert_rejected("ZALLOC_LEAKS=none", NEEDLES("ZALLOC_LEAKS", "none", "accepted", "lost", "all", "off"));
}

Test(config, empty_mode, .timeout = 60) {
  assert_rejected("ZALLOC_MODE=", NEEDLES("ZALLOC_MODE", "accepted", "arena"));
}

Test(config, bad_boolean, .timeout = 60) {
  assert_rejected("ZALLOC_ABORT=maybe", NEEDLES("ZALLOC_ABORT", "maybe", "accepted", "yes", "no", "true",
                                                "false", "on", "off", "1", "0"));
}

Test(config, empty_log, .timeout = 60) {
  assert_rejected("ZALLOC_LOG=", NEEDLES("ZALLOC_LOG", "''", "accepted", "stderr"));
}

Test(config, log_in_missing_directory, .timeout = 60) {
  assert_rejected("ZALLOC_LOG=/nonexistent-dir/x.log",
                  NEEDLES("ZALLOC_LOG", "/nonexistent-dir/x.log", "accepted", "stderr"));
}

Test(config, unwritable_log, .timeout = 60) {
  assert_rejected("ZALLOC_LOG=/proc/x", NEEDLES("ZALLOC_LOG", "/proc/x", "accepted", "stderr"));
}

Test(config, log_that_is_a_directory, .timeout = 60) {
  assert_rejected("ZALLOC_LOG=/tmp", NEEDLES("ZALLOC_LOG", "/tmp", "accepted", "stderr"));
}

/* Longer than zalloc keeps (ZA_PATH_MAX is 512): the error must still be one whole line that
 * names the variable and says what is accepted, however long the value. */
Test(config, overlong_log_path, .timeout = 60) {
  static const size_t lengths[] = {600, 5000};
  for (size_t i = 0; i < 2; i++) {
    char *value = malloc(lengths[i] + 1);
    memcpy(value, "/tmp/", 5);
    memset(value + 5, 'a', lengths[i] - 5);
    value[lengths[i]] = '\0';
    char *assignment = zr_fmt("ZALLOC_LOG=%s", value);
    char *start = strndup(value, 40);
    assert_rejected(assignment, NEEDLES("ZALLOC_LOG", start, "accepted", "stderr"));
    free(start);
    free(assignment);
    free(value);
  }
}

/* Short enough to keep, but too long for the file system. */
Test(config, log_name_too_long_for_the_file_system, .timeout = 60) {
  char name[301];
  memset(name, 'n', 300);
  name[300] = '\0';
  char *assignment = zr_fmt("ZALLOC_LOG=/tmp/%s", name);
  assert_rejected(assignment, NEEDLES("ZALLOC_LOG", name, "accepted", "stderr"));
  free(assignment);
}

/* Short enough to keep, but too long once every %p has become the pid. */
Test(config, log_path_too_long_once_pid_expanded, .timeout = 60) {
  char pattern[2 * 240 + 1];
  for (int i = 0; i < 240; i++) memcpy(pattern + 2 * i, "%p", 2);
  pattern[480] = '\0';
  char *assignment = zr_fmt("ZALLOC_LOG=/tmp/%s", pattern);
  assert_rejected(assignment, NEEDLES("ZALLOC_LOG", "/tmp/%p%p%p", "accepted", "stderr"));
  free(assignment);
}

/* A line break in the path must not split the error into several lines, whichever check
 * rejects it (the parser for an empty or over-long value, the start-up check for the rest). */
Test(config, log_path_with_line_break_stays_one_line, .timeout = 60) {
  assert_rejected("ZALLOC_LOG=/nonexistent-dir/a\nb.log",
                  NEEDLES("ZALLOC_LOG", "/nonexistent-dir/a", "b.log", "accepted", "stderr"));
}

Test(config, unknown_variable, .timeout = 60) {
  assert_rejected("ZALLOC_MOED=arena",
                  NEEDLES("ZALLOC_MOED", "arena", "ZALLOC_MODE", "ZALLOC_LOG", "ZALLOC_ABORT"));
}

/* ---- good values ------------------------------------------------------------------------- */

Test(config, every_boolean_spelling, .timeout = 60) {
  static const char *const spellings[][2] = {
    {"1", "y"}, {"yes", "y"}, {"true", "y"}, {"on", "y"},
    {"0", "n"}, {"no", "n"},  {"false", "n"}, {"off", "n"},
  };
  for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
    bool on = spellings[i][1][0] == 'y';
    char *assignment = zr_fmt("ZALLOC_ABORT=%s", spellings[i][0]);
    zr_run_t z;
    const char *argv[] = {CFG_PROG, "double-free", NULL};
    zr_start(&z, argv, (const char *const[]){assignment, NULL}, TIMEOUT);
    cr_assert(zr_has_line(z.r.out, "main ran"), "%s: %s", assignment, z.r.err);
    long pid;
    char *log = zr_only_log(&z, &pid);
    if (on) {
      cr_assert_eq(z.r.status, 128 + SIGABRT, "%s: status %d, expected SIGABRT\n%s", assignment, z.r.status,
                   z.r.err);
      cr_assert_null(strstr(z.r.out, "done"), "%s: the program went on", assignment);
      zr_assert_line(log, "==%ld== zalloc: aborting at the first heap error (ZALLOC_ABORT=1)", pid);
    } else {
      cr_assert_eq(z.r.status, 0, "%s: status %d\n%s", assignment, z.r.status, z.r.err);
      cr_assert(zr_has_line(z.r.out, "done"), "%s: %s", assignment, z.r.out);
      zr_assert_line(log, "==%ld==   heap errors: 1 (1 double free)", pid);
      cr_assert_null(strstr(log, "aborting"), "%s:\n%s", assignment, log);
    }
    cr_assert_eq(z.r.err_len, 0, "%s: stderr: %s", assignment, z.r.err);
    free(log);
    free(assignment);
    zr_end(&z);
  }
}

Test(config, mode_arena, .timeout = 60) {
  zr_run_t z;
  const char *argv[] = {CFG_PROG, NULL};
  zr_start(&z, argv, (const char *const[]){"ZALLOC_MODE=arena", NULL}, TIMEOUT);
  zr_assert_ran_to_end(&z);
  long pid;
  char *log = zr_only_log(&z, &pid);
  char *header = zr_fmt("==%ld== zalloc report for %s (pid %ld, mode arena)", pid, CFG_PROG, pid);
  cr_assert(zr_has_line(log, header), "no \"%s\" in:\n%s", header, log);
  free(header);
  free(log);
  zr_end(&z);
}

/* Without ZALLOC_MODE the checked allocator runs, and says so; its GPA options take effect. */
Test(config, default_mode_is_gpa, .timeout = 60) {
  static const char *const settings[][4] = {
    {NULL},
    {"ZALLOC_MODE=gpa", "ZALLOC_STACK_DEPTH=0", NULL},
    {"ZALLOC_QUARANTINE=4K", "ZALLOC_GUARD=0", "ZALLOC_LEAKS=all", NULL},
  };
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
    zr_run_t z;
    const char *argv[] = {CFG_PROG, NULL};
    zr_start(&z, argv, settings[i], TIMEOUT);
    zr_assert_ran_to_end(&z);
    long pid;
    char *log = zr_only_log(&z, &pid);
    char *header = zr_fmt("==%ld== zalloc report for %s (pid %ld, mode gpa)", pid, CFG_PROG, pid);
    cr_assert(zr_has_line(log, header), "no \"%s\" in:\n%s", header, log);
    cr_assert_str_eq(zr_report_mode(log, pid), "gpa");
    zr_leaks(log, pid); /* a leak-check summary or a count: one of the two is there */
    free(header);
    free(log);
    zr_end(&z);
  }
}

/* ZALLOC_LOG=stderr, and no ZALLOC_LOG at all (the default): the report is on stderr, after
 * everything the program printed, and no file is written. */
Test(config, log_to_stderr, .timeout = 60) {
  static const char *const settings[] = {"ZALLOC_LOG=stderr", "ZALLOC_LOG="};
  for (size_t i = 0; i < 2; i++) {
    zr_run_t z;
    const char *argv[] = {CFG_PROG, NULL};
    zr_start(&z, argv, (const char *const[]){settings[i], NULL}, TIMEOUT);
    zr_assert_ran_to_end(&z);
    long pids[4];
    cr_assert_eq(zr_log_pids(&z, pids, 4), 0, "%s: a log file was written", settings[i]);
    cr_assert_eq(count_occurrences(z.r.err, "zalloc report for"), 1, "%s: stderr:\n%s", settings[i], z.r.err);
    cr_assert_not_null(strstr(z.r.err, "heap errors: none"), "%s: stderr:\n%s", settings[i], z.r.err);
    cr_assert_null(strstr(z.r.out, "zalloc"), "%s: the report went to stdout", settings[i]);
    zr_end(&z);
  }
}

/* A path without %p is opened for appending: two runs leave two reports. */
Test(config, log_file_is_appended_to, .timeout = 60) {
  char *dir = make_temp_dir("cfg");
  char *path = zr_fmt("%s/shared.log", dir);
  char *assignment = zr_fmt("ZALLOC_LOG=%s", path);
  long pids[2];
  for (int i = 0; i < 2; i++) {
    run_result_t r;
    run_with(&r, (const char *const[]){assignment, NULL}, (const char *const[]){CFG_PROG, NULL});
    cr_assert_eq(r.status, 0, "status %d: %s", r.status, r.err);
    cr_assert_eq(r.err_len, 0, "stderr: %s", r.err);
    run_free(&r);
    char *log = slurp(path, NULL);
    cr_assert_not_null(log, "%s was not written", path);
    cr_assert_eq(count_occurrences(log, "zalloc report for"), (size_t)i + 1, "after run %d:\n%s", i + 1, log);
    /* The pid of the newest report. */
    const char *h = log;
    for (const char *p = strstr(log, " zalloc report for "); p; p = strstr(p + 1, " zalloc report for ")) h = p;
    while (h > log && h[-1] != '\n') h--;
    pids[i] = strtol(h + 2, NULL, 10);
    free(log);
  }
  cr_assert_neq(pids[0], pids[1], "the second run did not add its own report");
  remove_tree(dir);
  free(assignment);
  free(path);
  free(dir);
}

/* %p in a tree of processes: every process gets its own file, and each report is in the file of
 * the process it describes. dash runs each ls in a forked child. */
Test(config, pid_in_log_name_for_a_tree_of_processes, .timeout = 60) {
  zr_run_t z;
  const char *argv[] = {"sh", "-c", "ls >/dev/null; ls >/dev/null", NULL};
  zr_start(&z, argv, NULL, TIMEOUT);
  cr_assert_eq(z.r.status, 0, "status %d: %s", z.r.status, z.r.err);
  cr_assert_eq(z.r.err_len, 0, "stderr: %s", z.r.err);
  long pids[16];
  size_t n = zr_log_pids(&z, pids, 16);
  cr_assert(n >= 2 && n <= 16, "%zu log files for sh and two ls", n);
  size_t reports = 0, ls_reports = 0;
  for (size_t i = 0; i < n; i++) {
    char *log = zr_log(&z, pids[i]);
    cr_assert_not_null(log);
    size_t k = count_occurrences(log, "zalloc report for");
    /* Exactly one: start-up checks the path without creating the file, so a process that
     * ends with _exit (dash does) leaves no empty log behind. */
    cr_assert_eq(k, 1, "pid %ld's file holds %zu reports:\n%s", pids[i], k, log);
    if (k == 1) {
      char *prefix = zr_fmt("==%ld== zalloc report for ", pids[i]);
      char *header = zr_line_starting(log, prefix);
      cr_assert_not_null(header, "the report in r.%ld is not pid %ld's:\n%s", pids[i], pids[i], log);
      char *ls = zr_fmt("==%ld== zalloc report for ls (pid %ld, mode gpa)", pids[i], pids[i]);
      if (strcmp(header, ls) == 0) ls_reports++;
      zr_assert_all_lines_of(log, pids[i]);
      zr_assert_no_errors(log, pids[i]);
      reports++;
      free(ls);
      free(header);
      free(prefix);
    }
    free(log);
  }
  cr_assert_eq(ls_reports, 2, "expected one report for each ls, found %zu (of %zu reports)", ls_reports,
               reports);
  zr_end(&z);
}

/* A relative path is taken from the directory the program starts in (where it is checked),
 * even if the program has changed directory by the time it exits. */
Test(config, relative_log_path_is_anchored_at_start, .timeout = 60) {
  char *dir = make_temp_dir("cfg");
  run_result_t r;
  static const char *const clean[] = {"ZALLOC_MODE=", "ZALLOC_ABORT=", NULL};
  char *preload = zr_fmt("LD_PRELOAD=%s", zalloc_library());
  const char *env[] = {clean[0], clean[1], preload, "ZALLOC_LOG=rel.%p.log", NULL};
  cr_assert(run_program(&r, (const char *const[]){CFG_PROG, "chdir", NULL}, env, NULL, dir, TIMEOUT));
  cr_assert_eq(r.status, 0, "status %d: %s", r.status, r.err);
  cr_assert(zr_has_line(r.out, "done"), "%s", r.out);
  cr_assert_eq(r.err_len, 0, "the report did not go to the file:\n%s", r.err);
  DIR *d = opendir(dir);
  cr_assert_not_null(d);
  size_t logs = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (strncmp(e->d_name, "rel.", 4) != 0) continue;
    char *path = zr_fmt("%s/%s", dir, e->d_name);
    char *log = slurp(path, NULL);
    cr_assert(log && count_occurrences(log, "zalloc report for") == 1, "%s:\n%s", path, log);
    free(log);
    free(path);
    logs++;
  }
  closedir(d);
  cr_assert_eq(logs, 1, "expected the report in %s, found %zu files", dir, logs);
  run_free(&r);
  remove_tree(dir);
  free(preload);
  free(dir);
}
