/* The `zalloc` wrapper, run as a user would run it. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spawn.h"

static const char *const clean_env[] = {"ZALLOC_MODE=", "ZALLOC_LOG=", "ZALLOC_ABORT=",
                                        "LD_PRELOAD=", "ZALLOC_LIBRARY=", NULL};

static void run(run_result_t *r, const char *const *argv, const char *const *env) {
  cr_assert(run_program(r, argv, env ? env : clean_env, NULL, NULL, 60), "cannot run %s", argv[0]);
  cr_assert_not(r->timed_out);
}

Test(wrapper, options_become_variables_and_the_library_is_preloaded) {
  char *dir = make_temp_dir("wrap"), *log, *logopt;
  cr_assert(asprintf(&log, "%s/z.log", dir) > 0 && asprintf(&logopt, "--log=%s", log) > 0);
  run_result_t r;
  run(&r, (const char *const[]){WRAPPER, "--mode=arena", logopt, "--abort", "--", WRAP_ENV, NULL}, NULL);
  cr_assert_eq(r.status, 0, "status %d, stderr: %s", r.status, r.err);
  char *expect;
  cr_assert(asprintf(&expect, "LD_PRELOAD=%s\nZALLOC_MODE=arena\nZALLOC_LOG=%s\nZALLOC_ABORT=1\n",
                     zalloc_library(), log) > 0);
  cr_assert_str_eq(r.out, expect);
  char *report = slurp(log, NULL);
  cr_assert_not_null(report, "no report at %s", log);
  cr_assert(strstr(report, "mode arena") && strstr(report, "1 malloc"), "%s", report);
  free(report); free(expect); run_free(&r); free(logopt); free(log);
  remove_tree(dir); free(dir);
}

Test(wrapper, an_existing_preload_is_kept_after_ours) {
  const char *env[] = {"ZALLOC_MODE=", "ZALLOC_ABORT=", "ZALLOC_LOG=/dev/null", "ZALLOC_LIBRARY=",
                       "LD_PRELOAD=libc.so.6", NULL};
  run_result_t r;
  run(&r, (const char *const[]){WRAPPER, WRAP_ENV, NULL}, env);
  cr_assert_eq(r.status, 0, "stderr: %s", r.err);
  char *expect;
  cr_assert(asprintf(&expect, "LD_PRELOAD=%s:libc.so.6\n", zalloc_library()) > 0);
  cr_assert(strncmp(r.out, expect, strlen(expect)) == 0, "%s", r.out);
  free(expect); run_free(&r);
}

Test(wrapper, a_static_program_is_refused_with_the_reason) {
  run_result_t r;
  run(&r, (const char *const[]){WRAPPER, WRAP_STATIC, NULL}, NULL);
  cr_assert_eq(r.status, 2);
  cr_assert_str_empty(r.out, "the program must not run: %s", r.out);
  cr_assert(strstr(r.err, "statically linked") && strstr(r.err, WRAP_STATIC), "%s", r.err);
  cr_assert_eq(strchr(r.err, '\n') - r.err + 1, (long)r.err_len, "one line: %s", r.err);
  run_free(&r);
}

Test(wrapper, unknown_options_and_a_missing_program_are_usage_errors) {
  run_result_t r;
  run(&r, (const char *const[]){WRAPPER, "--mdoe=arena", WRAP_ENV, NULL}, NULL);
  cr_assert_eq(r.status, 2);
  cr_assert(strstr(r.err, "unknown option --mdoe=arena") && strstr(r.err, "usage:"), "%s", r.err);
  cr_assert_str_empty(r.out);
  run_free(&r);
  run(&r, (const char *const[]){WRAPPER, "--mode=arena", NULL}, NULL);
  cr_assert_eq(r.status, 2);
  cr_assert(strstr(r.err, "usage:"), "%s", r.err);
  run_free(&r);
}

/* The wrapper checks every value with the library's own parser before anything runs. */
Test(wrapper, a_bad_value_is_rejected_before_anything_runs) {
  run_result_t r;
  run(&r, (const char *const[]){WRAPPER, "--mode=fast", WRAP_ENV, NULL}, NULL);
  cr_assert_eq(r.status, 2);
  cr_assert_str_empty(r.out);
  cr_assert(strstr(r.err, "zalloc: --mode: ZALLOC_MODE=fast is not a known value; accepted: gpa,arena"), "%s", r.err);
  cr_assert_eq(strchr(r.err, '\n') - r.err + 1, (long)r.err_len, "one line: %s", r.err);
  run_free(&r);
}

Test(wrapper, help_goes_to_stdout_with_status_0) {
  run_result_t r;
  run(&r, (const char *const[]){WRAPPER, "--help", NULL}, NULL);
  cr_assert_eq(r.status, 0);
  cr_assert(strncmp(r.out, "usage: zalloc", 13) == 0 && strstr(r.out, "--log=PATH"), "%s", r.out);
  cr_assert_str_empty(r.err);
  run_free(&r);
}

/* Values may follow their flag as the next argument; --suppress may be repeated (the files are
 * joined, made absolute); --version; a program that is not there is 127, as in a shell. */
Test(wrapper, flag_forms_version_and_a_missing_program) {
  char *dir = make_temp_dir("wrap");
  char *a, *b;
  cr_assert(asprintf(&a, "%s/a.supp", dir) > 0 && asprintf(&b, "%s/b.supp", dir) > 0);
  FILE *f = fopen(a, "w");
  fputs("leak:nothing_here\n", f);
  fclose(f);
  f = fopen(b, "w");
  fputs("double-free:nothing_either\n", f);
  fclose(f);
  run_result_t r;
  const char *env[] = {"ZALLOC_MODE=", "ZALLOC_ABORT=", "ZALLOC_LOG=", "LD_PRELOAD=", "ZALLOC_LIBRARY=", NULL};
  char *aopt, *bopt;
  cr_assert(asprintf(&aopt, "--suppress=%s", a) > 0 && asprintf(&bopt, "--suppress=%s", b) > 0);
  run(&r, (const char *const[]){WRAPPER, "--mode", "arena", aopt, bopt, "--", WRAP_ENV, NULL}, env);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert(strstr(r.out, "ZALLOC_MODE=arena\n"), "%s", r.out);
  run_free(&r);
  run(&r, (const char *const[]){WRAPPER, "--version", NULL}, NULL);
  cr_assert_eq(r.status, 0);
  cr_assert(strncmp(r.out, "zalloc ", 7) == 0, "%s", r.out);
  run_free(&r);
  run(&r, (const char *const[]){WRAPPER, "no-such-program-anywhere", NULL}, NULL);
  cr_assert_eq(r.status, 127);
  cr_assert_str_eq(r.err, "zalloc: no-such-program-anywhere: command not found\n");
  run_free(&r);
  free(aopt); free(bopt); free(a); free(b);
  remove_tree(dir); free(dir);
}
