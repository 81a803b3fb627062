/* Suppressions: rules naming supp_prog's four problems by function, by source file (name or
 * path glob) and by module take exactly those out of the report, count them on one line, and
 * keep them from ZALLOC_EXITCODE; ZALLOC_PRINT_SUPPRESSIONS prints rules that work when fed
 * back; a bad suppression file stops the program before main with one line naming the file and
 * the line. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "zr_harness.h"

#define TIMEOUT 60

typedef struct supp_run {
  zr_run_t z;
  long pid;
  char *log;
} supp_run_t;

/* Write `rules` to dir/name; its path. */
static char *write_file(const char *dir, const char *name, const char *rules) {
  char *path = zr_fmt("%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(rules, f);
  fclose(f);
  return path;
}

/* Run supp_prog with `rules` as one suppression file (NULL: none), plus `extra`. */
static void run_with(supp_run_t *s, const char *rules, const char *const *extra) {
  char *dir = make_temp_dir("supp"), *path = rules ? write_file(dir, "z.supp", rules) : NULL;
  char *var = path ? zr_fmt("ZALLOC_SUPPRESS=%s", path) : strdup("ZALLOC_SUPPRESS=");
  const char *env[8] = {var};
  size_t n = 1;
  for (const char *const *e = extra; e && *e; e++) env[n++] = *e;
  env[n] = NULL;
  zr_start(&s->z, (const char *const[]){SUPP_PROG, NULL}, env, TIMEOUT);
  s->log = zr_only_log(&s->z, &s->pid);
  free(var), free(path);
  remove_tree(dir);
  free(dir);
}

static void end(supp_run_t *s) {
  free(s->log);
  zr_end(&s->z);
}

/* Which of the four problems the report lists. */
static bool listed(const supp_run_t *s, const char *what) {
  if (strcmp(what, "double_free") == 0) return strstr(s->log, "double free: free(") != NULL;
  char *line = zr_fmt("definitely lost: 1 block, %s bytes", what);
  bool found = strstr(s->log, line) != NULL;
  free(line);
  return found;
}

static void assert_listed(const supp_run_t *s, bool b11, bool b22, bool b33, bool df) {
  cr_assert_eq(listed(s, "11"), b11, "leak_here %s:\n%s", b11 ? "missing" : "listed", s->log);
  cr_assert_eq(listed(s, "22"), b22, "other_file_leak %s:\n%s", b22 ? "missing" : "listed", s->log);
  cr_assert_eq(listed(s, "33"), b33, "lib_leak %s:\n%s", b33 ? "missing" : "listed", s->log);
  cr_assert_eq(listed(s, "double_free"), df, "the double free %s:\n%s", df ? "missing" : "listed", s->log);
}

Test(suppress, nothing_without_rules) {
  supp_run_t s;
  run_with(&s, NULL, NULL);
  zr_assert_ran_to_end(&s.z);
  assert_listed(&s, true, true, true, true);
  cr_assert_null(strstr(s.log, "suppressed:"), "%s", s.log);
  end(&s);
}

Test(suppress, by_function) {
  supp_run_t s;
  run_with(&s, "leak:leak_here\n", NULL);
  assert_listed(&s, false, true, true, true);
  zr_assert_line(s.log, "==%ld==   suppressed:  0 heap errors and 1 leak group (11 bytes in 1 block) by "
                        "ZALLOC_SUPPRESS: leak:leak_here (z.supp:1, 1 time)", s.pid);
  /* The totals leave it out: 22 + 33 bytes in 2 blocks. */
  zr_leaks_t k = zr_leaks(s.log, s.pid);
  cr_assert(k.lost_blocks == 2 && k.lost_bytes == 55, "%s", s.log);
  end(&s);
}

Test(suppress, by_source_file_name_and_path) {
  static const char *const rules[] = {"leak:supp_other.c\n", "leak:*/suppress/supp_other.c\n",
                                      "leak:supp_o*.c\n"};
  for (size_t i = 0; i < 3; i++) {
    supp_run_t s;
    run_with(&s, rules[i], NULL);
    assert_listed(&s, true, false, true, true);
    end(&s);
  }
}

Test(suppress, by_module_name_and_path) {
  static const char *const rules[] = {"leak:libsupp_lib.so\n", "leak:*/libsupp_lib.so\n",
                                      "leak:libsupp_*\n"};
  for (size_t i = 0; i < 3; i++) {
    supp_run_t s;
    run_with(&s, rules[i], NULL);
    assert_listed(&s, true, true, false, true);
    end(&s);
  }
}

/* A rule applies to its kind only, and a pattern must match a whole name. */
Test(suppress, kind_and_whole_name) {
  supp_run_t s;
  run_with(&s, "# not these:\ndouble-free:leak_here\nleak:leak_her\nleak:eak_here\n\n"
               "double-free:do_double_free\n", NULL);
  assert_listed(&s, true, true, true, false);
  zr_assert_line(s.log, "==%ld==   heap errors: none", s.pid);
  zr_assert_line(s.log, "==%ld==   suppressed:  1 heap error and 0 leak groups (0 bytes in 0 blocks) by "
                        "ZALLOC_SUPPRESS: double-free:do_double_free (z.supp:6, 1 time)", s.pid);
  end(&s);
}

/* main is in every stack: a rule naming it takes everything out. */
Test(suppress, any_frame_matches) {
  supp_run_t s;
  run_with(&s, "leak:main\ndouble-free:main\n", NULL);
  assert_listed(&s, false, false, false, false);
  end(&s);
}

Test(suppress, several_files) {
  char *dir = make_temp_dir("supp2");
  char *a = write_file(dir, "a.supp", "leak:leak_here\n"), *b = write_file(dir, "b.supp", "leak:lib_leak\n");
  char *var = zr_fmt("ZALLOC_SUPPRESS=%s:%s", a, b);
  supp_run_t s;
  zr_start(&s.z, (const char *const[]){SUPP_PROG, NULL}, (const char *const[]){var, NULL}, TIMEOUT);
  s.log = zr_only_log(&s.z, &s.pid);
  assert_listed(&s, false, true, false, true);
  cr_assert_not_null(strstr(s.log, "leak:leak_here (a.supp:1, 1 time), leak:lib_leak (b.supp:1, 1 time)"), "%s",
                     s.log);
  end(&s);
  free(var), free(a), free(b);
  remove_tree(dir);
  free(dir);
}

/* What is suppressed does not fail a CI job. */
Test(suppress, suppressed_items_do_not_set_the_exit_code) {
  supp_run_t s;
  run_with(&s, "leak:*\ndouble-free:*\n", (const char *const[]){"ZALLOC_EXITCODE=23", NULL});
  cr_assert_eq(s.z.r.status, 0, "%s", s.log);
  end(&s);
  run_with(&s, "leak:leak_here\n", (const char *const[]){"ZALLOC_EXITCODE=23", NULL});
  cr_assert_eq(s.z.r.status, 23, "%s", s.log);
  end(&s);
}

/* The printed suppressions, fed back as a file, take every problem out. */
Test(suppress, printed_suppressions_work_when_fed_back) {
  supp_run_t s;
  run_with(&s, NULL, (const char *const[]){"ZALLOC_PRINT_SUPPRESSIONS=1", NULL});
  char *prefix = zr_fmt("==%ld==   suppression: ", s.pid);
  char rules[1024] = "";
  size_t n = 0;
  for (const char *p = s.log; (p = strstr(p, prefix)) != NULL; p += strlen(prefix)) {
    const char *rule = p + strlen(prefix);
    size_t len = strcspn(rule, "\n");
    cr_assert_lt(strlen(rules) + len + 2, sizeof rules);
    strncat(rules, rule, len);
    strcat(rules, "\n");
    n++;
  }
  cr_assert_eq(n, 4, "%s", s.log);
  cr_assert(strstr(rules, "leak:leak_here\n") && strstr(rules, "leak:other_file_leak\n") &&
            strstr(rules, "leak:lib_leak\n") && strstr(rules, "double-free:do_double_free\n"), "%s", rules);
  end(&s);
  run_with(&s, rules, NULL);
  assert_listed(&s, false, false, false, false);
  free(prefix);
  end(&s);
}

Test(suppress, json_marks_and_counts) {
  char *dir = make_temp_dir("suppj");
  char *rules = write_file(dir, "j.supp", "leak:lib_leak\nleak:never_matches\n");
  char *var = zr_fmt("ZALLOC_SUPPRESS=%s", rules);
  supp_run_t s;
  zr_start(&s.z, (const char *const[]){SUPP_PROG, NULL}, (const char *const[]){var, "ZALLOC_FORMAT=json", NULL},
           TIMEOUT);
  long pids[2];
  cr_assert_eq(zr_log_pids(&s.z, pids, 2), 1);
  char *file = zr_fmt("%s/r.%ld", s.z.dir, pids[0]);
  run_result_t r;
  cr_assert(run_program(&r, (const char *const[]){PYTHON3, JSON_CHECK, SCHEMA, file, "--get", "leaks.suppressed",
                                                   "--get", "suppression_rules.0.used", "--get",
                                                   "suppression_rules.1.used", "--get", "leaks.definitely_lost",
                                                   NULL}, NULL, NULL, NULL, TIMEOUT));
  cr_assert_eq(r.status, 0, "%s", r.out);
  cr_assert(zr_has_line(r.out, "leaks.suppressed={\"blocks\": 1, \"bytes\": 33, \"groups\": 1}"), "%s", r.out);
  cr_assert(zr_has_line(r.out, "suppression_rules.0.used=1"), "%s", r.out);
  cr_assert(zr_has_line(r.out, "suppression_rules.1.used=0"), "%s", r.out);
  cr_assert(zr_has_line(r.out, "leaks.definitely_lost={\"blocks\": 2, \"bytes\": 33}"), "%s", r.out);
  run_free(&r);
  s.log = NULL;
  end(&s);
  free(file), free(var), free(rules);
  remove_tree(dir);
  free(dir);
}

/* ---- bad files ----------------------------------------------------------------------------------- */

/* The program must not run; stderr is one line with each of `needles`. */
static void check_refused(const char *rules, const char *const *needles) {
  char *dir = make_temp_dir("suppbad");
  char *path = rules ? write_file(dir, "bad.supp", rules) : zr_fmt("%s/missing.supp", dir);
  char *var = zr_fmt("ZALLOC_SUPPRESS=%s", path);
  zr_run_t z;
  zr_start(&z, (const char *const[]){SUPP_PROG, NULL}, (const char *const[]){var, NULL}, TIMEOUT);
  cr_assert_eq(z.r.status, 2, "status %d\n%s", z.r.status, z.r.err);
  cr_assert_str_empty(z.r.out, "the program ran: %s", z.r.out);
  cr_assert_eq(count_occurrences(z.r.err, "\n"), 1, "not one line: %s", z.r.err);
  cr_assert_not_null(strstr(z.r.err, path), "the file is not named: %s", z.r.err);
  for (const char *const *n = needles; *n; n++)
    cr_assert_not_null(strstr(z.r.err, *n), "no \"%s\" in: %s", *n, z.r.err);
  long pids[2];
  cr_assert_eq(zr_log_pids(&z, pids, 2), 0, "a report from a program that never ran");
  zr_end(&z);
  free(var), free(path);
  remove_tree(dir);
  free(dir);
}

Test(suppress_files, missing_file) {
  check_refused(NULL, (const char *const[]){"cannot read", "No such file or directory", "accepted", NULL});
}
Test(suppress_files, line_without_a_kind) {
  check_refused("leak:ok\nno colon here\n",
                (const char *const[]){"bad.supp:2:", "'no colon here' is not KIND:PATTERN", "accepted", NULL});
}
Test(suppress_files, unknown_kind) {
  check_refused("# comment\nleek:foo\n",
                (const char *const[]){"bad.supp:2:", "'leek:foo' does not start with a kind",
                                      "double-free", "leak", NULL});
}
Test(suppress_files, empty_pattern) {
  check_refused("leak:\n", (const char *const[]){"bad.supp:1:", "has an empty pattern", NULL});
}
