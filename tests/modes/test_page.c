/* Page mode and ZALLOC_SAMPLE, end to end: modes_prog makes one bad access per scenario; under
 * page mode (or with every allocation sampled) it must fault at that access, the crash report
 * must say read or write, where the address is against the block (offset, how far out), the
 * faulting stack, the block's allocation and free stacks; and the program must end as it would
 * have without zalloc (killed by SIGSEGV). The rest: guard bytes between a block and its guard
 * page, double frees, the promises malloc makes, the map limit, threads and fork. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "modes_harness.h"

#define TIMEOUT 120
#define ENV(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The frames under `heading` (a line "==PID==   HEADING:" of its own), as one string. */
static char *frames_under(const char *log, long pid, const char *heading) {
  char *want = zr_fmt("\n==%ld==   %s:\n", pid, heading), *frame = zr_fmt("==%ld==     #", pid);
  const char *at = strstr(log, want);
  cr_assert_not_null(at, "no \"%s:\" heading in:\n%s", heading, log);
  const char *p = at + strlen(want), *end = p;
  while (strncmp(end, frame, strlen(frame)) == 0) end = strchr(end, '\n') + 1;
  cr_assert_gt(end, p, "no frames under \"%s\" in:\n%s", heading, log);
  free(want);
  free(frame);
  return strndup(p, (size_t)(end - p));
}

/* The stack under `heading` names each of `functions` (NULL-terminated), in that order, with
 * file:line from modes_prog.c. */
static void assert_stack(const char *log, long pid, const char *heading, const char *const *functions) {
  char *frames = frames_under(log, pid, heading);
  const char *from = frames;
  for (const char *const *f = functions; *f; f++) {
    char *in = zr_fmt(" in %s+0x", *f);
    const char *at = strstr(from, in);
    cr_assert_not_null(at, "the \"%s\" stack does not name %s (after the frames before it):\n%s", heading,
                       *f, frames);
    cr_assert_not_null(strstr(at, "modes_prog.c:"), "no file:line in the \"%s\" stack:\n%s", heading, frames);
    from = at + strlen(in);
    free(in);
  }
  free(frames);
}

#define FNS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Run a scenario that must die of SIGSEGV at its bad access; its log, pid and block. */
static char *crashed(zr_run_t *z, const char *scenario, const char *const *env, long *pid, uintptr_t *p) {
  zr_start(z, (const char *const[]){MODES_PROG, scenario, NULL}, env, TIMEOUT);
  cr_assert_eq(z->r.status, 128 + SIGSEGV, "exit status %d, not killed by SIGSEGV\nstdout:\n%s\nstderr:\n%s",
               z->r.status, z->r.out, z->r.err);
  cr_assert_null(strstr(z->r.out, "done"), "the program went on after its bad access:\n%s", z->r.out);
  char *log = zr_only_log(z, pid);
  char *block = zr_value(z->r.out, "p");
  *p = strtoull(block, NULL, 16);
  free(block);
  return log;
}

/* The report's first lines for a fault at `addr` in thread `tid`. */
static void assert_fault(const char *log, long pid, long tid, uintptr_t addr, const char *mode) {
  zr_assert_line(log, "==%ld==   ended:       killed by SIGSEGV (its default action follows, as without zalloc)", pid);
  zr_assert_line(log, "==%ld== SIGSEGV at address %p: invalid permissions for mapped object (SEGV_ACCERR), thread %ld",
                 pid, (void *)addr, tid);
  cr_assert_str_eq(zr_report_mode(log, pid), mode);
}

static void read_after_free(const char *const *env, const char *mode) {
  zr_run_t z;
  long pid;
  uintptr_t p;
  char *log = crashed(&z, "read-after-free", env, &pid, &p);
  long tid = zr_value_long(z.r.out, "tid");
  assert_fault(log, pid, tid, p + 8, mode);
  zr_assert_line(log, "==%ld==   read at address %p is at offset 8 in the 40-byte block %p (freed, allocated with malloc)",
                 pid, (void *)(p + 8), (void *)p);
  assert_stack(log, pid, "at", FNS("read_at", "scenario_read_after_free", "main"));
  char *alloc = zr_fmt("allocated at (thread %ld)", tid), *freed = zr_fmt("freed at (thread %ld)", tid);
  assert_stack(log, pid, alloc, FNS("scenario_read_after_free", "main"));
  assert_stack(log, pid, freed, FNS("scenario_read_after_free", "main"));
  free(alloc), free(freed), free(log);
  zr_end(&z);
}

Test(page, read_after_free_faults_and_names_the_free) { read_after_free(ENV("ZALLOC_MODE=page"), "page"); }

/* Every allocation sampled: the GPA's blocks on guarded pages, the same report. */
Test(page, sample_1_guards_every_block) { read_after_free(ENV("ZALLOC_SAMPLE=1"), "gpa"); }

Test(page, read_past_the_end_faults) {
  zr_run_t z;
  long pid;
  uintptr_t p;
  char *log = crashed(&z, "read-past-end", ENV("ZALLOC_MODE=page"), &pid, &p);
  long tid = zr_value_long(z.r.out, "tid");
  assert_fault(log, pid, tid, p + 32, "page");
  zr_assert_line(log, "==%ld==   read at address %p is 1 byte past the end of the 32-byte block %p (live, allocated with malloc)",
                 pid, (void *)(p + 32), (void *)p);
  assert_stack(log, pid, "at", FNS("read_at", "scenario_read_past_end", "main"));
  char *alloc = zr_fmt("allocated at (thread %ld)", tid);
  assert_stack(log, pid, alloc, FNS("scenario_read_past_end", "main"));
  cr_assert_null(strstr(log, "freed at"), "a live block has no free:\n%s", log);
  free(alloc), free(log);
  zr_end(&z);
}

Test(page, write_past_the_guard_bytes_faults) {
  zr_run_t z;
  long pid;
  uintptr_t p;
  char *log = crashed(&z, "write-past-guard", ENV("ZALLOC_MODE=page"), &pid, &p);
  long tid = zr_value_long(z.r.out, "tid");
  assert_fault(log, pid, tid, p + 124, "page");
  zr_assert_line(log, "==%ld==   write at address %p is 101 bytes past the end of the 24-byte block %p (live, allocated with malloc)",
                 pid, (void *)(p + 124), (void *)p);
  assert_stack(log, pid, "at", FNS("write_at", "scenario_write_past_guard", "main"));
  free(log);
  zr_end(&z);
}

Test(page, underflow_faults_with_start_alignment) {
  zr_run_t z;
  long pid;
  uintptr_t p;
  char *log = crashed(&z, "underflow", ENV("ZALLOC_MODE=page", "ZALLOC_PAGE_ALIGN=start"), &pid, &p);
  long tid = zr_value_long(z.r.out, "tid");
  cr_assert_eq(p % 4096, 0, "with ZALLOC_PAGE_ALIGN=start a block starts a page: %#lx", (unsigned long)p);
  assert_fault(log, pid, tid, p - 8, "page");
  zr_assert_line(log, "==%ld==   write at address %p is 8 bytes before the start of the 24-byte block %p (live, allocated with malloc)",
                 pid, (void *)(p - 8), (void *)p);
  assert_stack(log, pid, "at", FNS("write_at", "scenario_underflow", "main"));
  char *alloc = zr_fmt("allocated at (thread %ld)", tid);
  assert_stack(log, pid, alloc, FNS("scenario_underflow", "main"));
  free(alloc), free(log);
  zr_end(&z);
}

/* A block grown step by step with realloc (in place, from the start of its pages) still faults
 * a page past its end. */
Test(page, grown_block_still_faults_past_its_end) {
  zr_run_t z;
  long pid;
  uintptr_t p;
  char *log = crashed(&z, "grown-overflow", ENV("ZALLOC_MODE=page"), &pid, &p);
  long tid = zr_value_long(z.r.out, "tid");
  cr_assert_eq(p % 4096, 0, "a growing block starts its page: %#lx", (unsigned long)p);
  assert_fault(log, pid, tid, p + 8192, "page");
  zr_assert_line(log, "==%ld==   read at address %p is 3,193 bytes past the end of the 5,000-byte block %p (live, allocated with malloc)",
                 pid, (void *)(p + 8192), (void *)p);
  free(log);
  zr_end(&z);
}

/* Without a crash report (ZALLOC_CRASH_REPORT=0) the fault still kills the program as it
 * would have; nothing is written. */
Test(page, fault_without_crash_report_still_kills) {
  zr_run_t z;
  zr_start(&z, (const char *const[]){MODES_PROG, "read-after-free", NULL},
           ENV("ZALLOC_MODE=page", "ZALLOC_CRASH_REPORT=0"), TIMEOUT);
  cr_assert_eq(z.r.status, 128 + SIGSEGV, "exit status %d", z.r.status);
  long pids[2];
  cr_assert_eq(zr_log_pids(&z, pids, 2), 0, "a report was written");
  zr_end(&z);
}

/* The up to 15 bytes between a 24-byte block and its guard page are guard bytes: a write there
 * does not fault, and free reports it as the GPA would. */
Test(page, write_between_block_and_guard_page_is_found_at_free) {
  zr_run_t z;
  zr_start(&z, (const char *const[]){MODES_PROG, "slack-overflow", NULL}, ENV("ZALLOC_MODE=page"), TIMEOUT);
  zr_assert_ran_to_end(&z);
  long pid;
  char *log = zr_only_log(&z, &pid);
  char *p = zr_value(z.r.out, "p");
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld==   heap errors: 1 (1 heap overflow)", pid);
  zr_assert_line(log, "==%ld== heap overflow: block %s (24 bytes) was written at offset 24 (1 byte past its end), found by free, thread %ld",
                 pid, p, tid);
  free(p), free(log);
  zr_end(&z);
}

/* gpa_prog's double free (tests/gpa), in page mode. */
Test(page, double_free_names_both_frees) {
  zr_run_t z;
  zr_start(&z, (const char *const[]){GPA_PROG, "double-free", NULL}, ENV("ZALLOC_MODE=page"), TIMEOUT);
  zr_assert_ran_to_end(&z);
  long pid;
  char *log = zr_only_log(&z, &pid);
  char *p = zr_value(z.r.out, "p");
  long tid = zr_value_long(z.r.out, "tid");
  zr_assert_line(log, "==%ld== double free: free(%s): the block was already freed (40 bytes), thread %ld", pid, p, tid);
  char *first = zr_fmt("first freed at (thread %ld)", tid);
  char *frames = frames_under(log, pid, first);
  cr_assert(strstr(frames, " in scenario_double_free+0x") && strstr(frames, "gpa_prog.c:"), "%s", log);
  free(frames);
  free(first), free(p), free(log);
  zr_end(&z);
}

/* Usable sizes, alignment, zeroed calloc, realloc's contents, valloc and posix_memalign up to
 * 1 MiB alignment, with every block guarded, at both alignments. */
Test(page, malloc_promises_hold_on_guarded_blocks) {
  for (int start = 0; start < 2; start++) {
    zr_run_t z;
    zr_start(&z, (const char *const[]){MODES_PROG, "promises", NULL},
             ENV("ZALLOC_MODE=page", start ? "ZALLOC_PAGE_ALIGN=start" : "ZALLOC_PAGE_ALIGN=end"), TIMEOUT);
    zr_assert_ran_to_end(&z);
    cr_assert(zr_has_line(z.r.out, "bad=0"), "%s", z.r.out);
    long pid;
    char *log = zr_only_log(&z, &pid);
    zr_assert_no_errors(log, pid);
    zr_assert_no_leaks(log, pid);
    /* Every block of the program's was guarded: none fell back. */
    char *line = zr_line_starting(log, zr_fmt("==%ld==   guarded:     ", pid));
    cr_assert(line && !strstr(line, "instead"), "%s", log);
    free(line), free(log);
    zr_end(&z);
  }
}

/* Two mappings per live guarded block, merged back when freed; past the map limit the program
 * goes on with the GPA's guard bytes, and the log says so once. */
Test(page, map_limit_falls_back_and_says_so_once) {
  zr_run_t z;
  zr_start(&z, (const char *const[]){MODES_PROG, "map-limit", NULL}, ENV("ZALLOC_MODE=page"), TIMEOUT);
  zr_assert_ran_to_end(&z);
  long before = zr_value_long(z.r.out, "maps_before"), with = zr_value_long(z.r.out, "maps_with_1000");
  long after = zr_value_long(z.r.out, "maps_after");
  /* (and a mapping for the records of each chunk of slots the blocks opened) */
  cr_assert(with - before >= 2000 && with - before <= 2004, "1000 live guarded blocks took %ld mappings, not 2000",
            with - before);
  cr_assert_leq(after - before, 2, "freed guarded blocks left %ld mappings", after - before);
  cr_assert(zr_has_line(z.r.out, "null=0"), "%s", z.r.out);
  long pid;
  char *log = zr_only_log(&z, &pid);
  uint64_t limit = 65530;
  FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
  if (f) {
    cr_assert_eq(fscanf(f, "%lu", &limit), 1);
    fclose(f);
  }
  long maps40k = zr_value_long(z.r.out, "maps_40000");
  cr_assert_lt(maps40k, (long)limit - (long)limit / 8 + 64, "%ld mappings: too close to the limit %lu", maps40k, limit);
  if (limit < 100000) {   /* 40,000 live blocks are more than the default limit lets page mode guard */
    cr_assert_eq(zr_count_lines_with(log, "zalloc: guarded pages: "), 1, "%s", log);
    char *line = zr_line_starting(log, zr_fmt("==%ld==   guarded:     ", pid));
    cr_assert(line && strstr(line, "with guard bytes instead") && strstr(line, "while the map limit was near"), "%s", log);
    free(line);
  }
  zr_assert_no_errors(log, pid);
  free(log);
  zr_end(&z);
}

Test(page, threads_and_fork) {
  for (int sample = 0; sample < 2; sample++) {
    zr_run_t z;
    zr_start(&z, (const char *const[]){MODES_PROG, "threads-fork", NULL},
             sample ? ENV("ZALLOC_SAMPLE=3") : ENV("ZALLOC_MODE=page"), TIMEOUT);
    zr_assert_ran_to_end(&z);
    cr_assert(zr_has_line(z.r.out, "children_ok=3"), "%s", z.r.out);
    long pids[8];
    size_t n = zr_log_pids(&z, pids, 8);
    cr_assert_eq(n, 4, "the program and its three children: %zu reports", n);
    for (size_t i = 0; i < n; i++) {
      char *log = zr_log(&z, pids[i]);
      zr_assert_no_errors(log, pids[i]);
      zr_assert_no_leaks(log, pids[i]);
      free(log);
    }
    zr_end(&z);
  }
}

/* The JSON report of a guarded fault: the access, the block, the guarded figures. */
Test(page, json_report_of_a_fault) {
  zr_run_t z;
  zr_start(&z, (const char *const[]){MODES_PROG, "read-past-end", NULL},
           ENV("ZALLOC_MODE=page", "ZALLOC_FORMAT=json"), TIMEOUT);
  cr_assert_eq(z.r.status, 128 + SIGSEGV);
  long pid;
  free(zr_only_log(&z, &pid));
  char *file = zr_fmt("%s/r.%ld", z.dir, pid);
  json_expect(file, ENV("process.mode=\"page\"", "crash.access=\"read\"", "crash.block.relation=\"after\"",
                        "crash.block.distance=1", "crash.block.state=\"live\"", "guarded.fallback=0"));
  free(file);
  zr_end(&z);
}
