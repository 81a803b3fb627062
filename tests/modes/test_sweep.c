/* The OOM sweep (tools/zalloc-oom-sweep.c, `zalloc --oom-sweep`): on sweep_prog, whose three
 * planted mishandled failures (a NULL dereference, a leak on an error path, a double free on an
 * error path) it must find exactly, each once with a command that reproduces it, and no other;
 * with --max-runs, still every stack; as JSON; through the wrapper; on a real program (sort,
 * its input on stdin), which handles every failure. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <signal.h>
#include <string.h>

#include "zr_harness.h"

#define TIMEOUT 280

/* The sweep's environment: nothing of ours that would change it. */
static const char *const clean[] = {"ZALLOC_MODE=", "ZALLOC_LOG=", "ZALLOC_FAIL_AT=", "ZALLOC_LIBRARY=",
                                    "LD_PRELOAD=", "LC_ALL=C", NULL};

static void sweep(run_result_t *r, const char *const *argv, const char *stdin_path) {
  cr_assert(run_program(r, argv, clean, stdin_path, NULL, TIMEOUT), "cannot run %s", argv[0]);
  cr_assert_not(r->timed_out, "the sweep did not finish in %d s\nstdout:\n%s\nstderr:\n%s", TIMEOUT, r->out, r->err);
}

/* The "RESULT when allocation call N fails: DETAIL" line that starts with `head` and contains
 * `detail`; N. Fails unless there is exactly one. */
static long finding(const char *out, const char *head, const char *detail) {
  long call = 0;
  size_t found = 0;
  char *prefix = zr_fmt("%s when allocation call ", head);
  for (const char *p = out; (p = strstr(p, prefix)) != NULL; p++) {
    if (p != out && p[-1] != '\n') continue;
    const char *nl = strchr(p, '\n');
    char *line = strndup(p, nl ? (size_t)(nl - p) : strlen(p));
    cr_assert_not_null(strstr(line, detail), "\"%s\" does not say \"%s\"", line, detail);
    call = strtol(p + strlen(prefix), NULL, 10);
    found++;
    free(line);
  }
  cr_assert_eq(found, 1, "%zu \"%s\" results, expected 1:\n%s", found, head, out);
  free(prefix);
  return call;
}

/* The frames listed under the result for call `call` name `function`. */
static void stack_names(const char *out, long call, const char *function) {
  char *head = zr_fmt("when allocation call %ld fails", call), *in = zr_fmt(" %s (sweep_prog+0x", function);
  const char *at = strstr(out, head), *end = at ? strstr(at, "  reproduce: ") : NULL;
  cr_assert(at && end, "no result for call %ld:\n%s", call, out);
  const char *f = strstr(at, in);
  cr_assert(f && f < end, "the stack of call %ld does not name %s:\n%s", call, function, out);
  free(head), free(in);
}

/* Run the reproduce command printed for call `call` (with the report on stderr). */
static void reproduce(const char *out, long call, run_result_t *r) {
  char *head = zr_fmt("when allocation call %ld fails", call);
  const char *at = strstr(strstr(out, head), "  reproduce: ") + 13;
  char *cmd = strndup(at, strcspn(at, "\n"));
  char *want = zr_fmt("ZALLOC_FAIL_AT=%ld ", call);
  cr_assert(strncmp(cmd, want, strlen(want)) == 0, "%s", cmd);
  cr_assert(run_program(r, (const char *const[]){"/bin/sh", "-c", cmd, NULL}, clean, NULL, NULL, 60));
  free(cmd), free(head), free(want);
}

#define NAMES "alice", "bob", "carol"

Test(sweep, finds_exactly_the_three_planted_failures) {
  run_result_t r;
  sweep(&r, (const char *const[]){SWEEP, "--jobs", "2", SWEEP_PROG, NAMES, NULL}, NULL);
  cr_assert_eq(r.status, 1, "status %d (1: failing stacks found)\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
  /* Three names, nine allocation calls each, from nine stacks: one run per call. */
  cr_assert(strstr(r.out, "  allocation calls: 27, from 9 distinct stacks (the count run exited with status 0)\n"), "%s", r.out);
  cr_assert(strstr(r.out, "  runs:             27, each with one allocation call failing\n"), "%s", r.out);
  long crash = finding(r.out, "crash", "killed by SIGSEGV in capitalize");
  long leak = finding(r.out, "leak", "definitely lost: 1 block, 16 bytes, allocated in pair_new");
  long dfree = finding(r.out, "heap error", "double free: free(");
  stack_names(r.out, crash, "capitalize");
  stack_names(r.out, leak, "pair_new");
  stack_names(r.out, dfree, "pair_copy");
  /* Each failing stack failed in all three of its runs; everything else passed. */
  cr_assert_eq(count_occurrences(r.out, "  3 of 3 runs failing a call from this stack failed"), 3, "%s", r.out);
  cr_assert(strstr(r.out, "  passed           18\n") && strstr(r.out, "  crash             3       1\n") &&
            strstr(r.out, "  hang              0       0\n") && strstr(r.out, "  heap error        3       1\n") &&
            strstr(r.out, "  leak              3       1\n") && strstr(r.out, "  3 failing stacks\n"),
            "%s", r.out);
  cr_assert(strstr(r.err, "27/27 runs"), "no progress line:\n%s", r.err);
  /* The commands reproduce what the sweep saw. */
  run_result_t x;
  reproduce(r.out, crash, &x);
  cr_assert_eq(x.status, 128 + SIGSEGV, "status %d:\n%s", x.status, x.err);
  run_free(&x);
  reproduce(r.out, leak, &x);
  cr_assert(strstr(x.err, "definitely lost: 1 block, 16 bytes") && strstr(x.out, "out of memory in pair_new"), "%s%s",
            x.out, x.err);
  run_free(&x);
  reproduce(r.out, dfree, &x);
  cr_assert(strstr(x.err, "heap errors: 1 (1 double free)") && strstr(x.out, "out of memory in pair_copy"), "%s%s",
            x.out, x.err);
  run_free(&x);
  run_free(&r);
}

/* Above --max-runs: every stack's first call, then a spread; the three are still found. */
Test(sweep, max_runs_still_covers_every_stack) {
  run_result_t r;
  sweep(&r, (const char *const[]){SWEEP, "--max-runs=12", SWEEP_PROG, NAMES, "dave", "erin", "frank", NULL}, NULL);
  cr_assert_eq(r.status, 1, "status %d\n%s%s", r.status, r.out, r.err);
  cr_assert(strstr(r.out, "  allocation calls: 54, from 9 distinct stacks"), "%s", r.out);
  cr_assert(strstr(r.out, "  runs:             12, each with one allocation call failing (every stack's first "
                          "call, then calls spread over the run)\n"), "%s", r.out);
  finding(r.out, "crash", "capitalize");
  finding(r.out, "leak", "pair_new");
  finding(r.out, "heap error", "double free");
  cr_assert(strstr(r.out, "  3 failing stacks\n"), "%s", r.out);
  run_free(&r);
}

Test(sweep, json_output) {
  run_result_t r;
  sweep(&r, (const char *const[]){SWEEP, "--json", SWEEP_PROG, NAMES, NULL}, NULL);
  cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
  char *dir = make_temp_dir("sweep-json"), *file = zr_fmt("%s/out.json", dir);
  FILE *f = fopen(file, "w");
  cr_assert(f && fwrite(r.out, 1, r.out_len, f) == r.out_len && fclose(f) == 0);
  static const char script[] =
    "import json,sys\n"
    "d = json.load(open(sys.argv[1]))\n"
    "print('runs', d['runs'], d['allocation_calls'], d['stacks'], d['results']['passed'])\n"
    "for x in sorted(d['failing'], key=lambda x: x['result']):\n"
    "    names = [f.split(' ', 1)[1] for f in x['frames']]\n"
    "    print(x['result'], x['failing_runs'], x['runs'], names[0] if x['result'] != 'crash' else names[1],\n"
    "          x['reproduce'].startswith('ZALLOC_FAIL_AT=%d ' % x['call']))\n";
  run_result_t p;
  cr_assert(run_program(&p, (const char *const[]){PYTHON3, "-c", script, file, NULL}, NULL, NULL, NULL, 60));
  cr_assert_eq(p.status, 0, "%s%s\n%s", p.out, p.err, r.out);
  cr_assert_str_eq(p.out, "runs 27 27 9 18\ncrash 3 3 capitalize True\nheap-error 3 3 pair_copy True\n"
                          "leak 3 3 pair_new True\n");
  run_free(&p), run_free(&r);
  remove_tree(dir);
  free(file), free(dir);
}

/* zalloc --oom-sweep hands over to the sweep. */
Test(sweep, through_the_wrapper) {
  run_result_t r;
  sweep(&r, (const char *const[]){WRAPPER, "--oom-sweep", "--jobs=1", "--", SWEEP_PROG, "zoe", NULL}, NULL);
  cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
  cr_assert(strstr(r.out, "  allocation calls: 9, from 9 distinct stacks") && strstr(r.out, "  3 failing stacks\n"),
            "%s%s", r.out, r.err);
  run_free(&r);
}

/* A real program: sort, its input on stdin (saved once, given to every run). Every allocation's
 * failure is handled (sort says "memory exhausted" and exits 2). */
Test(sweep, sort_handles_every_failure) {
  char *dir = make_temp_dir("sweep-sort"), *input = zr_fmt("%s/in.txt", dir);
  FILE *f = fopen(input, "w");
  cr_assert(f && fputs("pear\napple\nfig\nbanana\ncherry\n", f) >= 0 && fclose(f) == 0);
  run_result_t r;
  sweep(&r, (const char *const[]){SWEEP, "/usr/bin/sort", NULL}, input);
  cr_assert_eq(r.status, 0, "status %d\n%s%s", r.status, r.out, r.err);
  long calls = 0, stacks = 0;
  const char *line = strstr(r.out, "  allocation calls: ");
  cr_assert(line && sscanf(line, "  allocation calls: %ld, from %ld distinct stacks", &calls, &stacks) == 2, "%s", r.out);
  cr_assert_geq(calls, 5, "%s", r.out);
  char *runs = zr_fmt("  runs:             %ld, each with one allocation call failing\n", calls);
  char *passed = zr_fmt("  passed       %6ld\n", calls);
  cr_assert(strstr(r.out, runs) && strstr(r.out, passed) && strstr(r.out, "  0 failing stacks\n"), "%s", r.out);
  free(runs), free(passed);
  run_free(&r);
  remove_tree(dir);
  free(input), free(dir);
}

Test(sweep, usage_errors) {
  const char *const *const cases[] = {
    (const char *const[]){SWEEP, NULL},
    (const char *const[]){SWEEP, "--jobs", "0", SWEEP_PROG, NULL},
    (const char *const[]){SWEEP, "--max-runs=x", SWEEP_PROG, NULL},
    (const char *const[]){SWEEP, "--frobnicate", SWEEP_PROG, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    run_result_t r;
    sweep(&r, cases[i], NULL);
    cr_assert_eq(r.status, 2, "case %zu: status %d", i, r.status);
    cr_assert(strstr(r.err, "usage: zalloc --oom-sweep"), "case %zu: %s", i, r.err);
    cr_assert_str_empty(r.out);
    run_free(&r);
  }
  /* A program that cannot be counted (it crashes on its own) is not swept. */
  run_result_t r;
  sweep(&r, (const char *const[]){SWEEP, MODES_PROG, "segv", NULL}, NULL);
  cr_assert_eq(r.status, 0 + 2, "%s%s", r.out, r.err);
  cr_assert(strstr(r.err, "was killed by signal 11 without any failure injected"), "%s", r.err);
  run_free(&r);
}
