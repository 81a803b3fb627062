/* Integration tests of the leak check at exit: lk_prog.c scenarios run under libzalloc.so in
 * GPA mode, and the report must call each block definitely lost, indirectly lost or still
 * reachable exactly as the scenario made it. The wording checked here is the report's contract
 * (docs/report.md). */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <string.h>

#include "zr_harness.h"

#define TIMEOUT 60

typedef struct lk_run {
  zr_run_t z;
  long pid, tid;
  char *log;
} lk_run_t;

static void run_prog(lk_run_t *r, const char *prog, const char *scenario, const char *leaks_mode) {
  const char *argv[] = {prog, scenario, LK_LIB, NULL};
  char *mode = zr_fmt("ZALLOC_LEAKS=%s", leaks_mode ? leaks_mode : "lost");
  const char *extra[] = {"ZALLOC_MODE=gpa", mode, NULL};
  zr_start(&r->z, argv, extra, TIMEOUT);
  free(mode);
  zr_assert_ran_to_end(&r->z);
  r->tid = zr_value_long(r->z.r.out, "tid");
  r->log = zr_only_log(&r->z, &r->pid);
  zr_assert_all_lines_of(r->log, r->pid);
}

static void run(lk_run_t *r, const char *scenario, const char *leaks_mode) {
  run_prog(r, LK_PROG, scenario, leaks_mode);
}

static void done(lk_run_t *r) {
  free(r->log);
  zr_end(&r->z);
}

/* The summary line, after "leaks:" and its padding (malloc'ed). */
static char *summary(const lk_run_t *r) {
  char *prefix = zr_fmt("==%ld==   leaks:       ", r->pid);
  char *line = zr_line_starting(r->log, prefix);
  cr_assert_not_null(line, "no leaks summary in:\n%s", r->log);
  char *s = strdup(line + strlen(prefix));
  free(line);
  free(prefix);
  return s;
}

static void assert_none_lost(const lk_run_t *r) {
  char *s = summary(r);
  cr_assert(strncmp(s, "none lost (still reachable: ", 28) == 0, "summary: %s\nlog:\n%s", s, r->log);
  cr_assert_eq(zr_count_lines_with(r->log, " lost: "), 0, "%s", r->log);
  free(s);
}

static void assert_summary_starts(const lk_run_t *r, const char *start) {
  char *s = summary(r);
  cr_assert(strncmp(s, start, strlen(start)) == 0, "summary: %s\nexpected it to start: %s\nlog:\n%s",
            s, start, r->log);
  free(s);
}

/* The group header line is there, and the allocation stack under it names `fn`. */
static void assert_group(const lk_run_t *r, const char *header, const char *fn) {
  char *want = zr_fmt("==%ld== %s", r->pid, header);
  const char *at = strstr(r->log, want);
  cr_assert(at && (at == r->log || at[-1] == '\n') && at[strlen(want)] == '\n',
            "missing line:\n%s\nin:\n%s", want, r->log);
  const char *next = at + strlen(want) + 1;
  char *frame0 = zr_fmt("==%ld==     #0 ", r->pid);
  cr_assert(strncmp(next, frame0, strlen(frame0)) == 0, "no stack under %s in:\n%s", want, r->log);
  /* The stack ends where a line stops starting with the frame indent. */
  char *indent = zr_fmt("==%ld==     #", r->pid);
  bool named = false;
  for (const char *p = next; p && strncmp(p, indent, strlen(indent)) == 0;) {
    const char *nl = strchr(p, '\n');
    if (memmem(p, nl ? (size_t)(nl - p) : strlen(p), fn, strlen(fn))) named = true;
    p = nl ? nl + 1 : NULL;
  }
  cr_assert(named, "the stack under %s does not name %s:\n%s", want, fn, r->log);
  free(indent);
  free(frame0);
  free(want);
}

/* The block each of these scenarios keeps is referenced in one way only (see lk_prog.c). */
static void assert_scenario_none_lost(const char *scenario) {
  lk_run_t r;
  run(&r, scenario, NULL);
  assert_none_lost(&r);
  done(&r);
}

Test(leaks, clean_program_says_none_lost) { assert_scenario_none_lost("clean"); }

Test(leaks, definitely_lost_block_with_its_stack) {
  lk_run_t r;
  run(&r, "definite", NULL);
  char *h = zr_fmt("definitely lost: 1 block, 1,001 bytes, allocated at (thread %ld):", r.tid);
  assert_group(&r, h, "lose_one");
  assert_summary_starts(&r, "definitely lost 1,001 bytes in 1 block, indirectly lost 0 bytes in "
                            "0 blocks, still reachable ");
  free(h);
  done(&r);
}

/* Each malloc call site is its own stack, so the two children are two groups. */
Test(leaks, blocks_reached_only_from_a_lost_block_are_indirect) {
  lk_run_t r;
  run(&r, "tree", NULL);
  char *d = zr_fmt("definitely lost: 1 block, 1,002 bytes, allocated at (thread %ld):", r.tid);
  char *i = zr_fmt("==%ld== indirectly lost: 1 block, 1,003 bytes, allocated at (thread %ld):",
                   r.pid, r.tid);
  assert_group(&r, d, "lose_tree");
  cr_assert_eq(zr_count_lines_with(r.log, i), 2, "%s", r.log);
  assert_summary_starts(&r, "definitely lost 1,002 bytes in 1 block, indirectly lost 2,006 bytes "
                            "in 2 blocks, still reachable ");
  free(d);
  free(i);
  done(&r);
}

Test(leaks, cycle_of_lost_blocks_is_one_definite_two_indirect) {
  lk_run_t r;
  run(&r, "cycle", NULL);
  char *d = zr_fmt("==%ld== definitely lost: 1 block, 1,004 bytes, allocated at (thread %ld):",
                   r.pid, r.tid);
  char *i = zr_fmt("==%ld== indirectly lost: 1 block, 1,004 bytes, allocated at (thread %ld):",
                   r.pid, r.tid);
  cr_assert_eq(zr_count_lines_with(r.log, d), 1, "%s", r.log);
  cr_assert_eq(zr_count_lines_with(r.log, i), 2, "%s", r.log);
  assert_summary_starts(&r, "definitely lost 1,004 bytes in 1 block, indirectly lost 2,008 bytes "
                            "in 2 blocks, still reachable ");
  free(d);
  free(i);
  done(&r);
}

Test(leaks, blocks_from_one_stack_are_one_group) {
  lk_run_t r;
  run(&r, "loop", NULL);
  char *d = zr_fmt("definitely lost: 3 blocks, 3,039 bytes, allocated at (thread %ld):", r.tid);
  assert_group(&r, d, "lose_loop");
  assert_summary_starts(&r, "definitely lost 3,039 bytes in 3 blocks, indirectly lost 0 bytes in "
                            "0 blocks, still reachable ");
  free(d);
  done(&r);
}

Test(leaks, reachable_from_module_data) { assert_scenario_none_lost("global"); }

/* Regression: zalloc named its own code by &malloc, which in a non-PIE program that takes
 * malloc's address is the program's PLT entry: the program's data was then left out of the
 * roots, and zalloc's own frames were left in every stack. */
Test(leaks, non_pie_program_taking_mallocs_address) {
  lk_run_t r;
  run_prog(&r, LK_PROG_NOPIE, "global", NULL);
  assert_none_lost(&r);
  done(&r);
  run_prog(&r, LK_PROG_NOPIE, "definite", NULL);
  char *h = zr_fmt("definitely lost: 1 block, 1,001 bytes, allocated at (thread %ld):", r.tid);
  assert_group(&r, h, "lose_one");
  char *frame0 = zr_fmt("==%ld==     #0 ", r.pid);
  const char *f = strstr(r.log, frame0);
  cr_assert(f && strstr(f, "lose_one") && strstr(f, "lose_one") < strchr(f, '\n'),
            "frame #0 is not the program's lose_one:\n%s", r.log);
  cr_assert_null(strstr(r.log, "libzalloc.so+"), "zalloc's own frames in a stack:\n%s", r.log);
  free(frame0);
  free(h);
  done(&r);
}

Test(leaks, interior_pointer_keeps_a_block_reachable) { assert_scenario_none_lost("interior"); }

Test(leaks, reachable_from_a_blocked_threads_stack) { assert_scenario_none_lost("thread_stack"); }

Test(leaks, reachable_from_thread_local_storage) { assert_scenario_none_lost("tls"); }

Test(leaks, reachable_from_an_mmapped_region) { assert_scenario_none_lost("mmap"); }

Test(leaks, reachable_from_a_dlopened_librarys_data) { assert_scenario_none_lost("dlopen"); }

Test(leaks, all_lists_still_reachable_groups) {
  lk_run_t r;
  run(&r, "mixed", "all");
  char *k = zr_fmt("still reachable: 1 block, 1,005 bytes, allocated at (thread %ld):", r.tid);
  char *d = zr_fmt("definitely lost: 1 block, 1,002 bytes, allocated at (thread %ld):", r.tid);
  assert_group(&r, k, "keep_global");
  assert_group(&r, d, "lose_tree");
  zr_assert_line(r.log, "==%ld== definitely lost: 1 block, 1,001 bytes, allocated at (thread %ld):",
                 r.pid, r.tid);
  /* Lost groups come first, largest first; then the reachable ones. */
  const char *ind = strstr(r.log, "indirectly lost: 1 block, 1,003 bytes");
  const char *d2 = strstr(r.log, "definitely lost: 1 block, 1,002 bytes");
  const char *d1 = strstr(r.log, "definitely lost: 1 block, 1,001 bytes");
  const char *kept = strstr(r.log, "still reachable: 1 block, 1,005 bytes");
  cr_assert(ind && d2 && d1 && kept && ind < d2 && d2 < d1 && d1 < kept, "order:\n%s", r.log);
  assert_summary_starts(&r, "definitely lost 2,003 bytes in 2 blocks, indirectly lost 2,006 bytes "
                            "in 2 blocks, still reachable ");
  free(k);
  free(d);
  done(&r);
}

Test(leaks, lost_mode_does_not_list_reachable_groups) {
  lk_run_t r;
  run(&r, "mixed", NULL);
  cr_assert_eq(zr_count_lines_with(r.log, "still reachable:"), 0, "%s", r.log);
  done(&r);
}

Test(leaks, off_does_no_scan) {
  lk_run_t r;
  run(&r, "definite", "off");
  cr_assert_eq(zr_count_lines_with(r.log, "leaks:"), 0, "%s", r.log);
  cr_assert_eq(zr_count_lines_with(r.log, " lost"), 0, "%s", r.log);
  done(&r);
}
