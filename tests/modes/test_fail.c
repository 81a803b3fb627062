/* ZALLOC_LIMIT and ZALLOC_FAIL_*, end to end: modes_prog (and modes_cxx for C++) checks what
 * each allocation call returns at the budget's boundaries and under injection, and prints it;
 * the report must count the failures and show the first refusal, and list each injected
 * failure with its call number and a stack naming the scenario. The census file
 * (ZALLOC_FAIL_SITES) is read back too. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "modes_harness.h"

#define TIMEOUT 120
#define ENV(...) ((const char *const[]){__VA_ARGS__, NULL})

static char *run_ok(zr_run_t *z, const char *prog, const char *scenario, const char *const *env, long *pid) {
  zr_start(z, (const char *const[]){prog, scenario, NULL}, env, TIMEOUT);
  zr_assert_ran_to_end(z);
  return zr_only_log(z, pid);
}

/* Every "NAME=..." line of the program's output says ok. */
static void assert_all_ok(const char *out, size_t expected) {
  size_t n = 0;
  for (const char *p = out; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    if (eq && strncmp(p, "held_at_start=", 14) != 0) {
      cr_assert(len - (size_t)(eq + 1 - p) == 2 && strncmp(eq + 1, "ok", 2) == 0, "%.*s\nin:\n%s", (int)len, p, out);
      n++;
    }
    p = nl ? nl + 1 : NULL;
  }
  cr_assert_eq(n, expected, "%zu checks, expected %zu:\n%s", n, expected, out);
}

/* The stack under the line that starts with `line` ("at:" and frames) names `function`, then
 * main. */
static void assert_stack_after(const char *log, long pid, const char *line, const char *function) {
  const char *at = strstr(log, line);
  cr_assert_not_null(at, "no line \"%s\" in:\n%s", line, log);
  char *heading = zr_fmt("\n==%ld==   at:\n", pid), *frame = zr_fmt("==%ld==     #", pid);
  const char *h = strstr(at, heading);
  cr_assert(h && h == strchr(at, '\n'), "no \"at:\" right under \"%s\" in:\n%s", line, log);
  const char *p = h + strlen(heading), *end = p;
  while (strncmp(end, frame, strlen(frame)) == 0) end = strchr(end, '\n') + 1;
  char *frames = strndup(p, (size_t)(end - p));
  char *in = zr_fmt(" in %s+0x", function);
  const char *f = strstr(frames, in), *m = strstr(frames, " in main+0x");
  cr_assert(f && m && m > f, "the stack under \"%s\" does not name %s then main:\n%s", line, function, frames);
  free(in), free(frames), free(heading), free(frame);
}

/* ---- the budget ------------------------------------------------------------------------------ */

static void boundaries(const char *mode) {
  zr_run_t z;
  long pid;
  char *m = zr_fmt("ZALLOC_MODE=%s", mode);
  char *log = run_ok(&z, MODES_PROG, "limit-boundaries", ENV("ZALLOC_LIMIT=1M", m), &pid);
  assert_all_ok(z.r.out, 22);
  cr_assert_str_eq(zr_report_mode(log, pid), mode);
  /* 12 calls were refused; the first was malloc(1) right at the limit, with the whole budget
   * held by the program and what the C library held before main. */
  zr_assert_line(log, "==%ld==   failures:    12 refused over the limit (ZALLOC_LIMIT=1,048,576 bytes)", pid);
  char *first = zr_fmt("==%ld== over the limit: malloc of 1 byte refused while the heap held 1,048,576 of its "
                       "1,048,576 bytes (ZALLOC_LIMIT), thread %ld; the first of 12", pid, pid);
  zr_assert_line(log, "%s", first);
  assert_stack_after(log, pid, first, "scenario_limit_boundaries");
  zr_assert_no_errors(log, pid);
  zr_assert_no_leaks(log, pid);
  free(first), free(log), free(m);
  zr_end(&z);
}

Test(limit, every_boundary_gpa) { boundaries("gpa"); }
Test(limit, every_boundary_page) { boundaries("page"); }

/* The arena counts its size classes: the budget holds as many blocks as fit whole. */
Test(limit, arena_counts_size_classes) {
  zr_run_t z;
  long pid;
  char *log = run_ok(&z, MODES_PROG, "limit-classes", ENV("ZALLOC_LIMIT=1M", "ZALLOC_MODE=arena"), &pid);
  long blocks = zr_value_long(z.r.out, "blocks"), expected = zr_value_long(z.r.out, "expected");
  long usable = zr_value_long(z.r.out, "usable");
  cr_assert_geq(usable, 100);
  cr_assert_eq(blocks, expected, "%ld blocks of %ld bytes fitted, expected %ld", blocks, usable, expected);
  cr_assert(zr_has_line(z.r.out, "after_free=ok"), "%s", z.r.out);
  zr_assert_line(log, "==%ld==   failures:    1 refused over the limit (ZALLOC_LIMIT=1,048,576 bytes)", pid);
  free(log);
  zr_end(&z);
}

Test(limit, cxx_new_throws_and_calls_the_new_handler) {
  zr_run_t z;
  zr_start(&z, (const char *const[]){MODES_CXX, NULL}, ENV("ZALLOC_LIMIT=1M"), TIMEOUT);
  zr_assert_ran_to_end(&z);
  assert_all_ok(z.r.out, 5);
  long pid;
  char *log = zr_only_log(&z, &pid);
  char *first = zr_fmt("==%ld== over the limit: new[] of 16 bytes refused", pid);
  cr_assert_not_null(strstr(log, first), "%s", log);
  free(first), free(log);
  zr_end(&z);
}

/* Without ZALLOC_LIMIT nothing is counted or said. */
Test(limit, off_by_default) {
  zr_run_t z;
  long pid;
  zr_start(&z, (const char *const[]){MODES_PROG, "inject", NULL}, NULL, TIMEOUT);
  zr_assert_ran_to_end(&z);
  cr_assert(zr_has_line(z.r.out, "failed="), "%s", z.r.out);
  char *log = zr_only_log(&z, &pid);
  cr_assert_null(strstr(log, "failures:"), "%s", log);
  free(log);
  zr_end(&z);
}

/* ---- injection ----------------------------------------------------------------------------------- */

/* scenario_inject's twenty calls, counted alone (ZALLOC_FAIL_MATCH); the failed ones and the
 * report. */
static char *inject(zr_run_t *z, const char *const *env, const char *failed, long *pid) {
  char *log = run_ok(z, MODES_PROG, "inject", env, pid);
  char *want = zr_fmt("failed=%s", failed);
  cr_assert(zr_has_line(z->r.out, want), "expected %s, got:\n%s", want, z->r.out);
  free(want);
  zr_assert_no_errors(log, *pid);
  zr_assert_no_leaks(log, *pid);
  return log;
}

Test(inject, fail_at_fails_that_call_only) {
  zr_run_t z;
  long pid;
  char *log = inject(&z, ENV("ZALLOC_FAIL_MATCH=scenario_inject", "ZALLOC_FAIL_AT=3"), "3", &pid);
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld==   failures:    1 injected (ZALLOC_FAIL_AT=3, ZALLOC_FAIL_MATCH=scenario_inject) "
                      "in 20 allocation calls", pid);
  char *line = zr_fmt("==%ld== injected failure: malloc of 40 bytes failed on purpose, allocation call 3, thread %ld",
                      pid, tid);
  zr_assert_line(log, "%s", line);
  assert_stack_after(log, pid, line, "scenario_inject");
  free(line), free(log);
  zr_end(&z);
}

Test(inject, fail_every_groups_by_stack) {
  zr_run_t z;
  long pid;
  char *log = inject(&z, ENV("ZALLOC_FAIL_MATCH=scenario_inject", "ZALLOC_FAIL_EVERY=4"), "4,8,12,16,20", &pid);
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld== injected failure: malloc of 40 bytes failed on purpose, allocation call 4, thread %ld, "
                      "5 times with this stack", pid, tid);
  free(log);
  zr_end(&z);
}

/* The same seed fails the same calls; the report names the rate and the seed. */
Test(inject, fail_rate_repeats_with_its_seed) {
  char *failed[3];
  for (int i = 0; i < 3; i++) {
    zr_run_t z;
    zr_start(&z, (const char *const[]){MODES_PROG, "inject", NULL},
             ENV("ZALLOC_FAIL_MATCH=scenario_inject", "ZALLOC_FAIL_RATE=50%", i == 2 ? "ZALLOC_FAIL_SEED=8" : "ZALLOC_FAIL_SEED=7"),
             TIMEOUT);
    zr_assert_ran_to_end(&z);
    failed[i] = zr_value(z.r.out, "failed");
    long pid;
    char *log = zr_only_log(&z, &pid);
    size_t n = failed[i][0] ? 1 : 0;
    for (const char *c = failed[i]; *c; c++) n += *c == ',';
    zr_assert_line(log, "==%ld==   failures:    %zu injected (ZALLOC_FAIL_RATE=0.500000 (ZALLOC_FAIL_SEED=%d), "
                        "ZALLOC_FAIL_MATCH=scenario_inject) in 20 allocation calls", pid, n, i == 2 ? 8 : 7);
    free(log);
    zr_end(&z);
  }
  cr_assert_str_eq(failed[0], failed[1], "seed 7 failed %s, then %s", failed[0], failed[1]);
  cr_assert_str_neq(failed[0], failed[2], "seeds 7 and 8 failed the same calls (%s)", failed[0]);
  for (int i = 0; i < 3; i++) free(failed[i]);
}

/* ZALLOC_FAIL_MATCH alone fails every matching call, and only those: the program's stdio and
 * start-up allocate too, and keep working. */
Test(inject, match_alone_fails_every_matching_call) {
  zr_run_t z;
  long pid;
  char *log = inject(&z, ENV("ZALLOC_FAIL_MATCH=scenario_inj*"), "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20", &pid);
  zr_assert_line(log, "==%ld==   failures:    20 injected (ZALLOC_FAIL_MATCH=scenario_inj*) in 20 allocation calls", pid);
  free(log);
  zr_end(&z);
}

/* Injection in the arena, which records no stacks of its own: the failure's stack is still
 * captured. */
Test(inject, arena_mode_lists_the_stack) {
  zr_run_t z;
  long pid;
  char *log = inject(&z, ENV("ZALLOC_MODE=arena", "ZALLOC_FAIL_MATCH=scenario_inject", "ZALLOC_FAIL_AT=2"), "2", &pid);
  char *line = zr_fmt("==%ld== injected failure: malloc of 40 bytes failed on purpose, allocation call 2", pid);
  assert_stack_after(log, pid, line, "scenario_inject");
  free(line), free(log);
  zr_end(&z);
}

Test(inject, bad_settings_stop_the_program) {
  static const char *const cases[][2] = {
    {"ZALLOC_FAIL_RATE=1.5", "a probability"}, {"ZALLOC_FAIL_RATE=50", "a probability"},
    {"ZALLOC_FAIL_RATE=x", "a probability"},   {"ZALLOC_FAIL_AT=-1", "a whole number"},
    {"ZALLOC_LIMIT=1Q", "a size"},             {"ZALLOC_SAMPLE=2000000000", "a whole number"},
    {"ZALLOC_PAGE_ALIGN=middle", "end,start"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    zr_run_t z;
    zr_start(&z, (const char *const[]){MODES_PROG, "inject", NULL}, ENV(cases[i][0]), TIMEOUT);
    cr_assert_eq(z.r.status, 2, "%s: status %d", cases[i][0], z.r.status);
    cr_assert_null(strstr(z.r.out, "done"), "%s: main ran", cases[i][0]);
    char *name = strndup(cases[i][0], strcspn(cases[i][0], "="));
    cr_assert(strstr(z.r.err, name) && strstr(z.r.err, "accepted") && strstr(z.r.err, cases[i][1]),
              "%s: %s", cases[i][0], z.r.err);
    cr_assert_eq(zr_count_lines_with(z.r.err, ""), 1, "%s: more than one line:\n%s", cases[i][0], z.r.err);
    free(name);
    zr_end(&z);
  }
}

/* The JSON form of the failures. */
Test(inject, json_report) {
  zr_run_t z;
  long pid;
  free(run_ok(&z, MODES_PROG, "inject",
              ENV("ZALLOC_FORMAT=json", "ZALLOC_FAIL_MATCH=scenario_inject", "ZALLOC_FAIL_AT=5", "ZALLOC_LIMIT=1G"), &pid));
  char *file = zr_fmt("%s/r.%ld", z.dir, pid);
  json_expect(file, ENV("failures.limit=1073741824", "failures.refused=0", "failures.first_refused=null",
                        "failures.injected=1", "failures.allocation_calls=20", "failures.injected_listed.0.call=5",
                        "failures.injected_listed.0.operation=\"malloc\"", "failures.injected_listed.0.size=40",
                        "failures.injected_listed.0.frames.0.function=\"scenario_inject\"", "guarded=null"));
  free(file);
  zr_end(&z);
}

/* ---- the census (ZALLOC_FAIL_SITES) ------------------------------------------------------------ */

Test(census, lists_every_call_and_its_site) {
  zr_run_t z;
  char *dir = make_temp_dir("census"), *sites = zr_fmt("ZALLOC_FAIL_SITES=%s/sites.%%p", dir);
  zr_start(&z, (const char *const[]){MODES_PROG, "census", NULL}, ENV(sites), TIMEOUT);
  zr_assert_ran_to_end(&z);
  long pid;
  free(zr_only_log(&z, &pid));
  char *path = zr_fmt("%s/sites.%ld", dir, pid);
  size_t len;
  char *text = slurp(path, &len);
  cr_assert_not_null(text, "no census at %s", path);
  unsigned long calls = 0, nsites = 0;
  cr_assert_eq(sscanf(text, "zalloc-sites 1\ncalls %lu\nsites %lu\n", &calls, &nsites), 2, "%.500s", text);
  cr_assert_geq(calls, 5);
  /* scenario_census's call site: 5 calls, one stack naming it and main. */
  const char *line = strstr(text, " scenario_census\n");
  cr_assert_not_null(line, "no frame of scenario_census:\n%.4000s", text);
  const char *site = line;
  while (site > text && strncmp(site, "\nsite ", 6) != 0) site--;
  unsigned long k, count, first;
  cr_assert_eq(sscanf(site, "\nsite %lu %lu %lu", &k, &count, &first), 3);
  cr_assert_eq(count, 5, "%.300s", site);
  cr_assert_not_null(strstr(line, " main\n"), "no main under scenario_census");
  /* Then each call's site, as uint32: the five of scenario_census are the site's. */
  char *index = zr_fmt("index %lu\n", calls);
  const char *at = strstr(text, index);
  cr_assert_not_null(at);
  const unsigned char *bin = (const unsigned char *)at + strlen(index);
  cr_assert_eq(len - (size_t)(bin - (const unsigned char *)text), calls * 4);
  size_t here = 0;
  for (unsigned long i = 0; i < calls; i++) {
    uint32_t s;
    memcpy(&s, bin + i * 4, 4);
    cr_assert_lt(s, nsites);
    here += s == k;
    if (i + 1 == first) cr_assert_eq(s, k, "call %lu is the site's first", first);
  }
  cr_assert_eq(here, 5);
  free(index), free(text), free(path), free(sites);
  remove_tree(dir);
  free(dir);
  zr_end(&z);
}
