/* The GPA backend's findings, end to end: gpa_prog (one scenario per argument) makes one kind
 * of heap error under libzalloc.so in the default mode, and the report must show the finding's
 * shape: its line (exact, built from the pointers and thread ids the program prints), the
 * headings of the stacks that explain it, in order, and frames under each heading that name
 * the scenario's function and main (gpa_prog is built with -g). */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <signal.h>
#include <string.h>

#include "zr_harness.h"

#define TIMEOUT 60

/* The GPA with every check that needs its general path off: malloc, calloc and free of a slot
 * take the inline paths (gpa.h). */
#define CHECKS_OFF "ZALLOC_STACK_DEPTH=0", "ZALLOC_QUARANTINE=0", "ZALLOC_GUARD=0"

static void run(zr_run_t *z, const char *scenario, const char *const *extra) {
  zr_start(z, (const char *const[]){GPA_PROG, scenario, NULL}, extra, TIMEOUT);
}

/* The finding line `line` and the lines that belong to it: stack headings ("==PID==   ...:")
 * and frames ("==PID==     #N ..."); malloc'ed, or fails. */
static char *finding_section(const char *log, long pid, const char *line) {
  const char *at = strstr(log, line);
  cr_assert(at && (at == log || at[-1] == '\n') && at[strlen(line)] == '\n',
            "missing finding line:\n%s\nin:\n%s", line, log);
  char *heading = zr_fmt("==%ld==   ", pid), *frame = zr_fmt("==%ld==     #", pid);
  const char *end = strchr(at, '\n') + 1;
  for (;;) {
    const char *nl = strchr(end, '\n');
    if (!nl) break;
    bool is_frame = strncmp(end, frame, strlen(frame)) == 0;
    bool is_heading = strncmp(end, heading, strlen(heading)) == 0 && end[strlen(heading)] != ' ' &&
                      nl[-1] == ':';
    if (!is_frame && !is_heading) break;
    end = nl + 1;
  }
  free(heading);
  free(frame);
  return strndup(at, (size_t)(end - at));
}

/* The stack lines under `heading` ("freed again at", "allocated at (thread 12)") in a finding
 * section: the heading must be there, on a line of its own ending in ':'; returns its frame
 * lines (malloc'ed), every one of the "==PID==     #N 0x... in ..." shape. */
static char *stack_under(const char *section, long pid, const char *heading) {
  char *want = zr_fmt("\n==%ld==   %s:\n", pid, heading);
  const char *at = strstr(section, want);
  cr_assert_not_null(at, "no \"%s:\" heading in:\n%s", heading, section);
  const char *p = at + strlen(want);
  char *frame = zr_fmt("==%ld==     #", pid);
  const char *end = p;
  size_t frames = 0;
  while (strncmp(end, frame, strlen(frame)) == 0) {
    cr_assert_not_null(strstr(end, " 0x"), "frame line without an address in:\n%s", section);
    frames++;
    end = strchr(end, '\n') + 1;
  }
  cr_assert_gt(frames, 0, "no frames under \"%s\" in:\n%s", heading, section);
  free(frame);
  free(want);
  return strndup(p, (size_t)(end - p));
}

/* The frames under `heading` name `function` and, further out, main. */
static void assert_stack_names(const char *section, long pid, const char *heading,
                               const char *function) {
  char *frames = stack_under(section, pid, heading);
  char *in_fn = zr_fmt(" in %s+0x", function);
  const char *f = strstr(frames, in_fn), *m = strstr(frames, " in main+0x");
  cr_assert_not_null(f, "\"%s\" stack does not name %s:\n%s", heading, function, section);
  cr_assert(m && m > f, "\"%s\" stack does not name main after %s:\n%s", heading, function, section);
  cr_assert_not_null(strstr(frames, "gpa_prog.c:"), "no file:line in the \"%s\" stack:\n%s", heading,
                     section);
  free(in_fn);
  free(frames);
}

/* The headings of a section, in order, each followed by frames; nothing else. */
static void assert_headings(const char *section, long pid, const char *const *headings) {
  const char *p = strchr(section, '\n') + 1;
  char *pre = zr_fmt("==%ld==   ", pid), *frame = zr_fmt("==%ld==     #", pid);
  for (const char *const *h = headings; *h; h++) {
    char *want = zr_fmt("%s%s:\n", pre, *h);
    cr_assert(strncmp(p, want, strlen(want)) == 0, "expected the heading \"%s:\" at\n%s\nin:\n%s", *h, p,
              section);
    p += strlen(want);
    while (strncmp(p, frame, strlen(frame)) == 0) p = strchr(p, '\n') + 1;
    free(want);
  }
  cr_assert_str_empty(p, "more after the expected headings:\n%s", section);
  free(pre);
  free(frame);
}

#define HEADINGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The finding line, exact; its headings; the stacks name `fn` (NULL: not checked). */
typedef struct expect {
  const char *line;
  const char *const *headings;
  const char *fn;
} expect_t;

static void check_finding(const char *log, long pid, const expect_t *e) {
  char *section = finding_section(log, pid, e->line);
  assert_headings(section, pid, e->headings);
  if (e->fn)
    for (const char *const *h = e->headings; *h; h++) assert_stack_names(section, pid, *h, e->fn);
  free(section);
}

/* Run a scenario that ends normally; its log and pid. */
static char *run_log(zr_run_t *z, const char *scenario, const char *const *extra, long *pid) {
  run(z, scenario, extra);
  zr_assert_ran_to_end(z);
  char *log = zr_only_log(z, pid);
  cr_assert_str_eq(zr_report_mode(log, *pid), "gpa");
  return log;
}

/* ---- double and invalid frees -------------------------------------------------------------- */

Test(gpa, double_free_names_both_frees_and_the_allocation) {
  zr_run_t z;
  long pid;
  char *log = run_log(&z, "double-free", NULL, &pid);
  char *p = zr_value(z.r.out, "p");
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld==   heap errors: 1 (1 double free)", pid);
  char *line = zr_fmt("==%ld== double free: free(%s): the block was already freed (40 bytes), thread %ld",
                      pid, p, tid);
  char *first = zr_fmt("first freed at (thread %ld)", tid), *alloc = zr_fmt("allocated at (thread %ld)", tid);
  check_finding(log, pid, &(expect_t){line, HEADINGS("freed again at", first, alloc), "scenario_double_free"});
  zr_assert_no_leaks(log, pid);
  free(first), free(alloc), free(line), free(p), free(log);
  zr_end(&z);
}

Test(gpa, invalid_free_of_a_stack_address) {
  zr_run_t z;
  long pid;
  char *log = run_log(&z, "invalid-free-stack", NULL, &pid);
  char *p = zr_value(z.r.out, "p");
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld==   heap errors: 1 (1 invalid free)", pid);
  char *line = zr_fmt("==%ld== invalid free: free(%s): not a block zalloc handed out (another allocator, "
                      "static or stack memory), thread %ld", pid, p, tid);
  check_finding(log, pid, &(expect_t){line, HEADINGS("at"), "scenario_invalid_free_stack"});
  free(line), free(p), free(log);
  zr_end(&z);
}

Test(gpa, invalid_free_of_an_interior_pointer) {
  zr_run_t z;
  long pid;
  char *log = run_log(&z, "invalid-free-interior", NULL, &pid);
  char *p = zr_value(z.r.out, "p");
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld==   heap errors: 1 (1 invalid free)", pid);
  char *line = zr_fmt("==%ld== invalid free: free(%s): inside zalloc's heap but not the start of a block "
                      "(interior pointer?), thread %ld", pid, p, tid);
  check_finding(log, pid, &(expect_t){line, HEADINGS("at"), "scenario_invalid_free_interior"});
  zr_assert_no_leaks(log, pid); /* the block itself was freed properly after */
  free(line), free(p), free(log);
  zr_end(&z);
}

Test(gpa, realloc_of_a_freed_pointer) {
  zr_run_t z;
  long pid;
  char *log = run_log(&z, "realloc-freed", NULL, &pid);
  cr_assert(zr_has_line(z.r.out, "q=NULL"), "%s", z.r.out);
  char *p = zr_value(z.r.out, "p");
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld==   heap errors: 1 (1 invalid realloc)", pid);
  char *line = zr_fmt("==%ld== invalid pointer: realloc(%s): the block was freed (40 bytes), thread %ld",
                      pid, p, tid);
  char *freed = zr_fmt("freed at (thread %ld)", tid), *alloc = zr_fmt("allocated at (thread %ld)", tid);
  check_finding(log, pid, &(expect_t){line, HEADINGS("at", freed, alloc), "scenario_realloc_freed"});
  free(freed), free(alloc), free(line), free(p), free(log);
  zr_end(&z);
}

Test(gpa, double_free_from_a_second_thread) {
  zr_run_t z;
  long pid;
  char *log = run_log(&z, "thread-double-free", NULL, &pid);
  char *p = zr_value(z.r.out, "p");
  long main_tid = zr_value_long(z.r.out, "main_tid"), thread_tid = zr_value_long(z.r.out, "thread_tid");
  cr_assert_neq(thread_tid, main_tid);
  cr_assert_eq(main_tid, pid);
  char *line = zr_fmt("==%ld== double free: free(%s): the block was already freed (48 bytes), thread %ld",
                      pid, p, thread_tid);
  char *first = zr_fmt("first freed at (thread %ld)", main_tid);
  char *alloc = zr_fmt("allocated at (thread %ld)", main_tid);
  check_finding(log, pid, &(expect_t){line, HEADINGS("freed again at", first, alloc), NULL});
  char *section = finding_section(log, pid, line);
  assert_stack_names(section, pid, first, "scenario_thread_double_free");
  assert_stack_names(section, pid, alloc, "scenario_thread_double_free");
  char *again = stack_under(section, pid, "freed again at"); /* on the thread: no main there */
  cr_assert_not_null(strstr(again, " in second_free+0x"), "%s", section);
  free(again), free(section), free(first), free(alloc), free(line), free(p), free(log);
  zr_end(&z);
}

/* ---- guards -------------------------------------------------------------------------------- */

static void check_corruption(const char *scenario, const char *size, const char *what) {
  zr_run_t z;
  long pid;
  char *log = run_log(&z, scenario, NULL, &pid);
  char *p = zr_value(z.r.out, "p");
  long tid = zr_value_long(z.r.out, "tid");
  const char *kind = strncmp(what, "heap underflow", 14) == 0 ? "heap underflow" : "heap overflow";
  zr_assert_line(log, "==%ld==   heap errors: 1 (1 %s)", pid, kind);
  char *line = zr_fmt("==%ld== %s: block %s (%s bytes) %s, found by free, thread %ld", pid, kind, p, size,
                      what + strlen(kind) + 2, tid);
  char *alloc = zr_fmt("allocated at (thread %ld)", tid);
  /* The write is in a helper the scenario calls: its frames name the scenario, then main. */
  check_finding(log, pid, &(expect_t){line, HEADINGS("at", alloc), "write_at_then_free"});
  char *section = finding_section(log, pid, line);
  char *fn = zr_fmt("scenario_%s", scenario);
  for (char *c = fn; *c; c++)
    if (*c == '-') *c = '_';
  assert_stack_names(section, pid, alloc, fn);
  zr_assert_no_leaks(log, pid);
  free(fn), free(section), free(alloc), free(line), free(p), free(log);
  zr_end(&z);
}

Test(gpa, overflow_by_one_byte) {
  check_corruption("overflow-1", "24", "heap overflow: was written at offset 24 (1 byte past its end)");
}

Test(gpa, overflow_by_sixteen_bytes) {
  check_corruption("overflow-16", "24", "heap overflow: was written at offset 39 (16 bytes past its end)");
}

Test(gpa, underflow) {
  check_corruption("underflow", "24", "heap underflow: was written at offset -3 (3 bytes before its start)");
}

Test(gpa, overflow_of_a_large_block) {
  check_corruption("overflow-large", "40,000",
                   "heap overflow: was written at offset 40000 (1 byte past its end)");
}

Test(gpa, abort_at_an_overflow_found_by_free) {
  zr_run_t z;
  run(&z, "overflow-1", (const char *const[]){"ZALLOC_ABORT=1", NULL});
  cr_assert_eq(z.r.status, 128 + SIGABRT, "expected death by SIGABRT, got status %d\nstdout:\n%s\nstderr:\n%s",
               z.r.status, z.r.out, z.r.err);
  cr_assert_null(strstr(z.r.out, "done"), "the program went on:\n%s", z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  char *p = zr_value(z.r.out, "p");
  long tid = zr_value_long(z.r.out, "tid");
  char *line = zr_fmt("==%ld== heap overflow: block %s (24 bytes) was written at offset 24 (1 byte past its "
                      "end), found by free, thread %ld", pid, p, tid);
  char *alloc = zr_fmt("allocated at (thread %ld)", tid);
  check_finding(log, pid, &(expect_t){line, HEADINGS("at", alloc), "write_at_then_free"});
  zr_assert_line(log, "==%ld== zalloc: aborting at the first heap error (ZALLOC_ABORT=1)", pid);
  cr_assert_eq(zr_count_lines_with(log, "heap overflow:"), 1, "%s", log);
  cr_assert_null(strstr(log, "calls:"), "no exit report after an abort:\n%s", log);
  free(alloc), free(line), free(p), free(log);
  zr_end(&z);
}

Test(gpa, guard_off_turns_overflow_detection_off) {
  static const char *const scenarios[] = {"overflow-1", "underflow"};
  for (size_t i = 0; i < 2; i++) {
    zr_run_t z;
    long pid;
    char *log = run_log(&z, scenarios[i], (const char *const[]){"ZALLOC_GUARD=0", NULL}, &pid);
    zr_assert_no_errors(log, pid);
    cr_assert_null(strstr(log, "heap overflow"), "%s", log);
    cr_assert_null(strstr(log, "heap underflow"), "%s", log);
    free(log);
    zr_end(&z);
  }
}

/* ---- the quarantine ------------------------------------------------------------------------ */

Test(gpa, write_after_free_found_at_exit) {
  zr_run_t z;
  long pid;
  char *log = run_log(&z, "write-after-free", NULL, &pid);
  char *p = zr_value(z.r.out, "p");
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld==   heap errors: 1 (1 write after free)", pid);
  /* Found by the check at exit: no "thread" (no call made it) and no "at" stack. */
  char *line = zr_fmt("==%ld== write after free: block %s (40 bytes) was written at offset 8 after it was "
                      "freed, found at exit", pid, p);
  char *freed = zr_fmt("freed at (thread %ld)", tid), *alloc = zr_fmt("allocated at (thread %ld)", tid);
  check_finding(log, pid, &(expect_t){line, HEADINGS(freed, alloc), "scenario_write_after_free"});
  free(freed), free(alloc), free(line), free(p), free(log);
  zr_end(&z);
}

Test(gpa, write_after_free_found_when_it_leaves_a_small_quarantine) {
  zr_run_t z;
  long pid;
  char *log = run_log(&z, "write-after-free-reuse", (const char *const[]){"ZALLOC_QUARANTINE=4K", NULL}, &pid);
  char *p = zr_value(z.r.out, "p");
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld==   heap errors: 1 (1 write after free)", pid);
  char *line = zr_fmt("==%ld== write after free: block %s (40 bytes) was written at offset 8 after it was "
                      "freed, found when it left the quarantine", pid, p);
  char *freed = zr_fmt("freed at (thread %ld)", tid), *alloc = zr_fmt("allocated at (thread %ld)", tid);
  check_finding(log, pid, &(expect_t){line, HEADINGS(freed, alloc), "scenario_write_after_free_reuse"});
  cr_assert_null(strstr(log, "found at exit"), "%s", log);
  free(freed), free(alloc), free(line), free(p), free(log);
  zr_end(&z);
}

Test(gpa, no_quarantine_no_write_after_free_but_double_free_still_found) {
  static const char *const off[] = {"ZALLOC_QUARANTINE=0", NULL};
  zr_run_t z;
  long pid;
  char *log = run_log(&z, "write-after-free", off, &pid);
  zr_assert_no_errors(log, pid);
  free(log);
  zr_end(&z);

  log = run_log(&z, "double-free", off, &pid);
  char *p = zr_value(z.r.out, "p");
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld==   heap errors: 1 (1 double free)", pid);
  zr_assert_line(log, "==%ld== double free: free(%s): the block was already freed (40 bytes), thread %ld",
                 pid, p, tid);
  free(p), free(log);
  zr_end(&z);
}

/* ---- checks off: the inline paths ---------------------------------------------------------- */

/* Every free that is not of a live block leaves the inline path for the general one, which
 * finds it as with the checks on (the stacks aside: none are captured). */
Test(gpa, checks_off_still_finds_double_invalid_and_cross_thread_frees) {
  static const char *const off[] = {CHECKS_OFF, NULL};
  static const struct { const char *scenario, *errors, *line; } cases[] = {
    {"double-free", "1 (1 double free)", "double free: free(%s): the block was already freed (40 bytes)"},
    {"invalid-free-interior", "1 (1 invalid free)",
     "invalid free: free(%s): inside zalloc's heap but not the start of a block (interior pointer?)"},
    {"invalid-free-stack", "1 (1 invalid free)",
     "invalid free: free(%s): not a block zalloc handed out (another allocator, static or stack memory)"},
    {"realloc-freed", "1 (1 invalid realloc)", "invalid pointer: realloc(%s): the block was freed (40 bytes)"},
    {"thread-double-free", "1 (1 double free)", "double free: free(%s): the block was already freed (48 bytes)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    zr_run_t z;
    long pid;
    char *log = run_log(&z, cases[i].scenario, off, &pid);
    char *p = zr_value(z.r.out, "p");
    char *what = zr_fmt(cases[i].line, p);
    zr_assert_line(log, "==%ld==   heap errors: %s", pid, cases[i].errors);
    cr_assert_not_null(strstr(log, what), "%s: no \"%s\" in\n%s", cases[i].scenario, what, log);
    free(what), free(p), free(log);
    zr_end(&z);
  }
}

/* The JSON report's object `key` (flat: no nested objects), or fails. */
static char *json_object(const char *json, const char *key) {
  char *at = strstr(json, key);
  cr_assert_not_null(at, "no %s in %s", key, json);
  char *end = strchr(at, '}');
  cr_assert_not_null(end);
  return strndup(at, (size_t)(end - at + 1));
}

/* The counts (calls, blocks, bytes requested, peak, live) and the leaks come out the same
 * whichever path served each call: ZALLOC_LIMIT sends every call down the general path. */
Test(gpa, checks_off_inline_paths_count_as_the_general_path) {
  static const char *const settings[][6] = {{CHECKS_OFF, "ZALLOC_FORMAT=json", NULL},
                                            {CHECKS_OFF, "ZALLOC_FORMAT=json", "ZALLOC_LIMIT=1G", NULL}};
  char *stats[2], *lost[2];
  for (size_t i = 0; i < 2; i++) {
    zr_run_t z;
    long pid;
    run(&z, "mixed", settings[i]);
    zr_assert_ran_to_end(&z);
    cr_assert(zr_has_line(z.r.out, "intact=yes"), "%s", z.r.out);
    char *log = zr_only_log(&z, &pid);
    cr_assert_not_null(strstr(log, "\"errors\":{\"total\":0,"), "%s", log);
    stats[i] = json_object(log, "\"stats\":");
    lost[i] = json_object(log, "\"definitely_lost\":");
    free(log);
    zr_end(&z);
  }
  cr_assert_str_eq(stats[0], stats[1]);
  cr_assert_str_eq(lost[0], lost[1]);
  cr_assert_str_eq(lost[0], "\"definitely_lost\":{\"bytes\":72298,\"blocks\":10}");
  for (size_t i = 0; i < 2; i++) free(stats[i]), free(lost[i]);
}

/* ---- promises ------------------------------------------------------------------------------ */

Test(gpa, usable_size_is_the_requested_size) {
  zr_run_t z;
  long pid;
  char *log = run_log(&z, "usable-size", NULL, &pid);
  cr_assert(zr_has_line(z.r.out, "usable_ok=yes"), "%s", z.r.out);
  zr_assert_no_errors(log, pid); /* writing all of the usable size is no overflow */
  zr_assert_no_leaks(log, pid);
  free(log);
  zr_end(&z);
}

Test(gpa, calloc_memory_is_zeroed_after_reuse) {
  static const char *const settings[][5] = {{NULL}, {"ZALLOC_QUARANTINE=0", NULL}, {CHECKS_OFF, NULL}};
  for (size_t i = 0; i < 3; i++) {
    zr_run_t z;
    long pid;
    char *log = run_log(&z, "calloc-reuse", settings[i], &pid);
    cr_assert(zr_has_line(z.r.out, "zeroed=yes"), "%s", z.r.out);
    if (i > 0) cr_assert(zr_has_line(z.r.out, "reused=yes"), "no slot was reused:\n%s", z.r.out);
    zr_assert_no_errors(log, pid);
    free(log);
    zr_end(&z);
  }
}

Test(gpa, realloc_keeps_contents_and_the_guard_follows_the_new_size) {
  zr_run_t z;
  long pid;
  char *log = run_log(&z, "realloc-guard", NULL, &pid);
  cr_assert(zr_has_line(z.r.out, "kept=yes"), "%s", z.r.out);
  char *q = zr_value(z.r.out, "shrunk");
  long tid = zr_value_long(z.r.out, "tid");
  /* Writing all 100 bytes of the grown block was fine; one byte past the shrunk one is not. */
  zr_assert_line(log, "==%ld==   heap errors: 1 (1 heap overflow)", pid);
  char *line = zr_fmt("==%ld== heap overflow: block %s (10 bytes) was written at offset 10 (1 byte past its "
                      "end), found by free, thread %ld", pid, q, tid);
  char *alloc = zr_fmt("allocated at (thread %ld)", tid);
  check_finding(log, pid, &(expect_t){line, HEADINGS("at", alloc), "scenario_realloc_guard"});
  free(alloc), free(line), free(q), free(log);
  zr_end(&z);
}

/* ---- one report, many findings ---------------------------------------------------------------- */

Test(gpa, the_report_survives_the_first_error) {
  zr_run_t z;
  long pid;
  char *log = run_log(&z, "several", NULL, &pid);
  char *a = zr_value(z.r.out, "a"), *b = zr_value(z.r.out, "b"), *stack = zr_value(z.r.out, "stack");
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_all_lines_of(log, pid);
  zr_assert_line(log, "==%ld==   heap errors: 3 (1 double free, 1 invalid free, 1 heap overflow)", pid);
  char *alloc = zr_fmt("allocated at (thread %ld)", tid), *first = zr_fmt("first freed at (thread %ld)", tid);
  char *l1 = zr_fmt("==%ld== double free: free(%s): the block was already freed (32 bytes), thread %ld",
                    pid, a, tid);
  check_finding(log, pid, &(expect_t){l1, HEADINGS("freed again at", first, alloc), "scenario_several"});
  char *l2 = zr_fmt("==%ld== heap overflow: block %s (24 bytes) was written at offset 24 (1 byte past its "
                    "end), found by free, thread %ld", pid, b, tid);
  check_finding(log, pid, &(expect_t){l2, HEADINGS("at", alloc), "scenario_several"});
  char *l3 = zr_fmt("==%ld== invalid free: free(%s): not a block zalloc handed out (another allocator, "
                    "static or stack memory), thread %ld", pid, stack, tid);
  check_finding(log, pid, &(expect_t){l3, HEADINGS("at"), "scenario_several"});
  /* The leak check follows: the lost block grouped by its stack, then the summary. */
  char *group = zr_fmt("==%ld== definitely lost: 1 block, 77 bytes, allocated at (thread %ld):", pid, tid);
  cr_assert(zr_has_line(log, group), "missing line:\n%s\nin:\n%s", group, log);
  const char *g = strstr(log, group);
  char *in_fn = zr_fmt("==%ld==     #0 0x", pid);
  cr_assert(strncmp(strchr(g, '\n') + 1, in_fn, strlen(in_fn)) == 0, "no frames under the group:\n%s", log);
  cr_assert_not_null(strstr(g, " in scenario_several+0x"), "%s", log);
  zr_leaks_t k = zr_leaks(log, pid);
  cr_assert(k.checked && k.lost_blocks == 1 && k.lost_bytes == 77, "%s", log);
  cr_assert(k.live_blocks >= 2 && k.live_bytes >= 1077, "the reachable 1,000 bytes are missing:\n%s", log);
  char *summary = zr_fmt("==%ld==   leaks:       definitely lost 77 bytes in 1 block, indirectly lost 0 bytes "
                         "in 0 blocks, still reachable ", pid);
  cr_assert_not_null(zr_line_starting(log, summary), "no summary \"%s...\" in:\n%s", summary, log);
  cr_assert(strstr(log, l1) < strstr(log, group) && strstr(log, group) < strstr(log, summary),
            "the findings come first, the leak groups, then the summary:\n%s", log);
  free(summary), free(in_fn), free(group), free(l1), free(l2), free(l3), free(alloc), free(first);
  free(a), free(b), free(stack), free(log);
  zr_end(&z);
}
