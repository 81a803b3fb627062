/* The C++ operator new/delete family under libzalloc.so: every operator resolves to zalloc,
 * returns memory aligned as asked, and fails the way the standard says (new-handler first,
 * then std::bad_alloc, or nullptr for nothrow); C++ programs behave as they do without
 * zalloc; and the report names memory released with the wrong operator. The program is
 * cxx_prog.cpp, one scenario per argument. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <signal.h>
#include <stdarg.h>
#include <string.h>

#include "zr_harness.h"

#define TIMEOUT 60

static void run_zalloc(zr_run_t *z, const char *scenario) {
  const char *argv[] = {CXX_PROG, scenario, NULL};
  zr_start(z, argv, NULL, TIMEOUT);
}

/* The same scenario without any preload: the C++ runtime's own operators and glibc's malloc. */
static void run_plain(run_result_t *r, const char *scenario) {
  const char *argv[] = {CXX_PROG, scenario, NULL};
  static const char *const env[] = {"LD_PRELOAD=", NULL};
  cr_assert(run_program(r, argv, env, NULL, NULL, TIMEOUT), "cannot start %s", CXX_PROG);
  cr_assert_not(r->timed_out, "%s %s did not finish without zalloc", CXX_PROG, scenario);
  cr_assert_eq(r->status, 0, "%s %s fails without zalloc (status %d)\nstdout:\n%s\nstderr:\n%s",
               CXX_PROG, scenario, r->status, r->out, r->err);
}

/* Run `scenario` with and without zalloc: it must get to its end under zalloc and print the
 * same thing both ways. The zalloc run is left in *z, its report in *log, its pid in *pid. */
static char *run_both_same(zr_run_t *z, const char *scenario, long *pid) {
  run_zalloc(z, scenario);
  zr_assert_ran_to_end(z);
  run_result_t plain;
  run_plain(&plain, scenario);
  cr_assert_str_eq(z->r.out, plain.out, "%s prints something else under zalloc", scenario);
  run_free(&plain);
  return zr_only_log(z, pid);
}

/* The first line of `text` that contains every one of the NULL-terminated needles
 * (malloc'ed), or NULL. */
static char *line_with(const char *text, ...) {
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    char *line = strndup(p, n);
    bool all = true;
    va_list ap;
    va_start(ap, text);
    for (const char *needle; all && (needle = va_arg(ap, const char *)) != NULL;)
      all = strstr(line, needle) != NULL;
    va_end(ap);
    if (all) return line;
    free(line);
    p = nl ? nl + 1 : NULL;
  }
  return NULL;
}

static bool ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), k = strlen(tail);
  return n >= k && strcmp(s + n - k, tail) == 0;
}

/* ---- interposition ---------------------------------------------------------------------- */

/* The program prints "<mangled name>=<file that defines it>" for each of the 20 operators. */
Test(cxx, every_operator_resolves_to_zalloc, .timeout = 60) {
  zr_run_t z;
  run_zalloc(&z, "where");
  zr_assert_ran_to_end(&z);
  cr_assert_eq(zr_count_lines_with(z.r.out, "=libzalloc.so"), 20, "%s", z.r.out);
  /* Without the preload the same lookup finds the C++ runtime's: the check can tell. */
  run_result_t plain;
  run_plain(&plain, "where");
  cr_assert_eq(zr_count_lines_with(plain.out, "=libstdc++.so"), 20, "%s", plain.out);
  run_free(&plain);
  zr_end(&z);
}

Test(cxx, library_does_not_need_libstdcxx, .timeout = 60) {
  const char *argv[] = {"readelf", "-d", zalloc_library(), NULL};
  run_result_t r;
  cr_assert(run_program(&r, argv, NULL, NULL, NULL, TIMEOUT), "cannot run readelf");
  cr_assert_eq(r.status, 0, "readelf -d %s failed:\n%s", zalloc_library(), r.err);
  cr_assert_not_null(strstr(r.out, "(NEEDED)"), "no NEEDED entries in:\n%s", r.out);
  cr_assert_null(strstr(r.out, "libstdc++"), "libzalloc.so depends on libstdc++:\n%s", r.out);
  run_free(&r);
}

/* ---- scenarios that behave as they do without zalloc ------------------------------------- */

/* Run `scenario` with and without zalloc: the output must be the same both ways and have
 * each of `lines` (NULL-terminated). `clean`: the report has no heap error at all; else (the
 * impossible requests are findings) at least no mismatch. */
static void check_same(const char *scenario, bool clean, const char *const *lines) {
  zr_run_t z;
  long pid;
  char *log = run_both_same(&z, scenario, &pid);
  for (const char *const *l = lines; *l; l++)
    cr_assert(zr_has_line(z.r.out, *l), "%s: no line \"%s\" in:\n%s", scenario, *l, z.r.out);
  if (clean) zr_assert_no_errors(log, pid);
  cr_assert_eq(zr_count_lines_with(log, "mismatched"), 0, "%s", log);
  free(log);
  zr_end(&z);
}

Test(cxx, every_form_and_alignment, .timeout = 60) {
  /* 13 alignments (none, 1..4096) x new/new[] x throwing/nothrow x 8 sizes, all checked, then
   * released with a matching form each, unsized, sized and nothrow in turn. */
  static const char *const lines[] = {"blocks=448", "failures=0", NULL};
  check_same("forms", true, lines);
}

Test(cxx, delete_of_null_is_nothing, .timeout = 60) {
  static const char *const lines[] = {"deleted null 14 ways", NULL};
  check_same("delete-null", true, lines);
}

Test(cxx, impossible_sizes_call_the_handler_then_throw, .timeout = 60) {
  static const char *const lines[] = {
    "new: bad_alloc",
    "new with handler: bad_alloc after 1 handler call(s)",
    /* An exception thrown by the handler unwinds through libzalloc.so to the caller. */
    "new with throwing handler: its exception after 1 call(s)",
    "new[]: bad_alloc",
    "new[] with handler: bad_alloc after 1 handler call(s)",
    "new[] with throwing handler: its exception after 1 call(s)",
    "new(align): bad_alloc",
    "new(align) with handler: bad_alloc after 1 handler call(s)",
    "new(align) with throwing handler: its exception after 1 call(s)",
    "new[](align): bad_alloc",
    "new[](align) with handler: bad_alloc after 1 handler call(s)",
    "new[](align) with throwing handler: its exception after 1 call(s)",
    /* A bad alignment is not a shortage of memory: no handler call. */
    "new(align 48): bad_alloc after 0 handler call(s)",
    "new line64[huge]: bad_alloc",
    NULL,
  };
  check_same("throw", false, lines);
}

Test(cxx, nothrow_forms_return_null, .timeout = 60) {
  static const char *const lines[] = {
    "new(nothrow): nullptr",
    "new(nothrow) with handler: nullptr after 1 handler call(s)",
    "new(nothrow) of 200 bytes: a block",
    "new[](nothrow): nullptr",
    "new[](nothrow) with handler: nullptr after 1 handler call(s)",
    "new[](nothrow) of 200 bytes: a block",
    "new(align, nothrow): nullptr",
    "new(align, nothrow) with handler: nullptr after 1 handler call(s)",
    "new(align, nothrow) of 200 bytes: a block",
    "new[](align, nothrow): nullptr",
    "new[](align, nothrow) with handler: nullptr after 1 handler call(s)",
    "new[](align, nothrow) of 200 bytes: a block",
    "new(align 48, nothrow): nullptr",
    NULL,
  };
  check_same("nothrow", false, lines);
}

/* Address space limited with RLIMIT_AS: the request fails, the handler deletes a reserve, and
 * the retry gets its block. */
Test(cxx, handler_that_frees_a_reserve_lets_the_retry_succeed, .timeout = 60) {
  static const char *const lines[] = {
    "new(384 MiB): a block after 1 handler call(s); reserve released", NULL};
  check_same("handler-reserve", true, lines);
}

Test(cxx, containers_strings_threads_exceptions, .timeout = 60) {
  static const char *const lines[] = {
    "caught=1000", "parse(12z) threw: trailing characters in \"12z\"", "at(10): out_of_range",
    "words=20000 distinct=10007 twice=9993 first=w0 last=w9999", NULL};
  check_same("stl", true, lines);
}

/* operator new called in a process without libstdc++ (a C program, by mangled name): a
 * block it can have comes back; a failure has no new-handler or bad_alloc to turn to, and
 * zalloc says so in one line and aborts. */
Test(cxx, failure_without_a_cxx_runtime_aborts_with_a_reason, .timeout = 60) {
  zr_run_t z;
  const char *argv[] = {CXX_NORUNTIME, NULL};
  zr_start(&z, argv, NULL, TIMEOUT);
  cr_assert(zr_has_line(z.r.out, "new(100): a block"), "stdout:\n%s\nstderr:\n%s", z.r.out, z.r.err);
  cr_assert_eq(z.r.status, 128 + SIGABRT, "status %d\nstdout:\n%s\nstderr:\n%s", z.r.status,
               z.r.out, z.r.err);
  cr_assert(zr_has_line(z.r.err, "zalloc: operator new failed and libstdc++'s std::get_new_handler "
                                 "cannot be found (a C++ runtime other than libstdc++?); aborting"),
            "stderr:\n%s", z.r.err);
  zr_end(&z);
}

/* ---- misuse in the report ----------------------------------------------------------------- */

/* The finding line for pointer `p` (from the program's "key=p" output) with every needle,
 * ending with ", thread <tid>" (malloc'ed). */
static char *finding(const char *log, const char *what, const char *call, const char *with,
                     long tid) {
  char *line = line_with(log, what, call, with, (char *)NULL);
  cr_assert_not_null(line, "no line with \"%s\", \"%s\" and \"%s\" in:\n%s", what, call, with, log);
  char *tail = zr_fmt(", thread %ld", tid);
  cr_assert(ends_with(line, tail), "\"%s\" does not end with \"%s\"", line, tail);
  free(tail);
  return line;
}

Test(cxx, mismatched_deallocations_are_reported, .timeout = 60) {
  zr_run_t z;
  run_zalloc(&z, "mismatch");
  zr_assert_ran_to_end(&z);
  long pid;
  char *log = zr_only_log(&z, &pid);
  long tid = zr_value_long(z.r.out, "tid");
  static const struct {
    const char *key, *call, *with, *not_with;
  } cases[] = {
    {"new_arr_delete", "delete(%s)", "allocated with new[] (40 bytes)", NULL},
    {"new_delete_arr", "delete[](%s)", "allocated with new (40 bytes)", "new[]"},
    {"new_arr_free", "free(%s)", "allocated with new[] (40 bytes)", NULL},
    {"new_free", "free(%s)", "allocated with new (40 bytes)", "new[]"},
    {"malloc_delete", "delete(%s)", "allocated with malloc (40 bytes)", NULL},
    {"sized_wrong", "delete(%s, 24)", "of a 40-byte block allocated with new", "new[]"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *p = zr_value(z.r.out, cases[i].key);
    char *call = zr_fmt(cases[i].call, p);
    char *line = finding(log, "mismatched deallocation: ", call, cases[i].with, tid);
    if (cases[i].not_with)
      cr_assert_null(strstr(line, cases[i].not_with), "%s: \"%s\"", cases[i].key, line);
    free(line);
    free(call);
    free(p);
  }
  cr_assert_eq(zr_count_lines_with(log, "mismatched deallocation: "), 6, "%s", log);
  /* The sized delete with the right size is no finding. */
  char *right = zr_value(z.r.out, "sized_right");
  cr_assert_eq(zr_count_lines_with(log, right), 0, "%s", log);
  free(right);
  free(log);
  zr_end(&z);
}

Test(cxx, double_delete_is_a_double_free, .timeout = 60) {
  zr_run_t z;
  run_zalloc(&z, "double-delete");
  zr_assert_ran_to_end(&z);
  long pid;
  char *log = zr_only_log(&z, &pid);
  long tid = zr_value_long(z.r.out, "tid");
  char *array = zr_value(z.r.out, "array"), *single = zr_value(z.r.out, "single");
  char *call = zr_fmt("delete[](%s)", array);
  free(finding(log, "double free: ", call, "already freed", tid));
  free(call);
  call = zr_fmt("(%s", single);
  free(finding(log, "double free: ", call, "already freed", tid));
  free(call);
  cr_assert_eq(zr_count_lines_with(log, "double free: "), 2, "%s", log);
  cr_assert_eq(zr_count_lines_with(log, "mismatched"), 0, "%s", log);
  free(array);
  free(single);
  free(log);
  zr_end(&z);
}

Test(cxx, mismatch_on_another_thread_names_that_thread, .timeout = 60) {
  zr_run_t z;
  run_zalloc(&z, "thread-mismatch");
  zr_assert_ran_to_end(&z);
  long pid;
  char *log = zr_only_log(&z, &pid);
  long tid = zr_value_long(z.r.out, "tid"), main_tid = zr_value_long(z.r.out, "main_tid");
  cr_assert_neq(tid, main_tid);
  char *p = zr_value(z.r.out, "p");
  char *call = zr_fmt("delete(%s)", p);
  free(finding(log, "mismatched deallocation: ", call, "allocated with new[]", tid));
  free(call);
  free(p);
  free(log);
  zr_end(&z);
}
