/* Every way a process ends writes its report, and the ending stays the program's: end_prog
 * (one scenario per argument) ends by exit, _exit, _Exit, a return from main, a fault, a
 * signal sent to itself, a crash in another thread, inside zalloc or inside fork() while every
 * zalloc lock is held; the exit status (and signal) must be the one the same program has
 * without zalloc, and the report must say how it ended, where, and which heap block the
 * address was in. Then ZALLOC_EXITCODE in CI style, and on-demand reports from a server.
 * No test depends on the machine's speed: timeouts are for hangs only. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zr_harness.h"

#define TIMEOUT 60

static void run(zr_run_t *z, const char *scenario, const char *arg, const char *const *extra) {
  const char *argv[] = {END_PROG, scenario, arg, NULL};
  zr_start(z, argv, extra, TIMEOUT);
}

/* The status of the same scenario without zalloc. */
static int plain_status(const char *scenario, const char *arg) {
  run_result_t r;
  const char *argv[] = {END_PROG, scenario, arg, NULL};
  static const char *const env[] = {"LD_PRELOAD=", NULL};
  cr_assert(run_program(&r, argv, env, NULL, NULL, TIMEOUT));
  cr_assert_not(r.timed_out);
  int st = r.status;
  run_free(&r);
  return st;
}

/* The one report, its pid; the run's status is `status`. */
static char *only_report(zr_run_t *z, int status, long *pid) {
  cr_assert_eq(z->r.status, status, "status %d, expected %d\nstdout:\n%s\nstderr:\n%s", z->r.status,
               status, z->r.out, z->r.err);
  char *log = zr_only_log(z, pid);
  cr_assert_eq(count_occurrences(log, "zalloc report for"), 1, "%s", log);
  zr_assert_all_lines_of(log, *pid);
  return log;
}

/* The lines of `log` from the one starting with `heading` to the next heading of its level. */
static char *section(const char *log, const char *start) {
  const char *at = strstr(log, start);
  cr_assert_not_null(at, "no \"%s\" in:\n%s", start, log);
  const char *end = strstr(at + strlen(start), "\n==");
  while (end && strncmp(strstr(end + 1, "== ") + 3, "    #", 5) == 0) end = strstr(end + 1, "\n==");
  return strndup(at, end ? (size_t)(end - at) : strlen(at));
}

/* ---- exit, _exit, _Exit, return -------------------------------------------------------------- */

static void check_plain_end(const char *scenario, const char *arg, const char *ended, int status) {
  zr_run_t z;
  run(&z, scenario, arg, NULL);
  long pid;
  char *log = only_report(&z, status, &pid);
  zr_assert_line(log, "==%ld==   ended:       %s", pid, ended);
  /* The block leak_one lost, with the stack that allocated it. */
  char *lost = section(log, "definitely lost: 1 block, 77 bytes, allocated at");
  cr_assert(strstr(lost, " in leak_one+0x") && strstr(lost, " in main+0x") && strstr(lost, "end_prog.c:"),
            "%s", lost);
  free(lost);
  free(log);
  zr_end(&z);
}

Test(ends, exit_with_its_status) { check_plain_end("exit", "7", "exit(7)", 7); }
Test(ends, return_from_main_is_exit) { check_plain_end("return", "5", "exit(5)", 5); }
Test(ends, _exit_reports) { check_plain_end("_exit", "3", "_exit(3)", 3); }
Test(ends, _Exit_reports) { check_plain_end("_Exit", "4", "_exit(4)", 4); }

/* vfork's child runs in its parent's memory until it execs or _exits: it must not report (nor
 * mark the parent's report as written). */
Test(ends, vfork_child_writes_nothing) {
  zr_run_t z;
  run(&z, "vfork", NULL, NULL);
  cr_assert(zr_has_line(z.r.out, "child_status=9"), "%s", z.r.out);
  long pid;
  char *log = only_report(&z, 0, &pid);
  zr_assert_line(log, "==%ld==   ended:       exit(0)", pid);
  free(log);
  zr_end(&z);
}

/* ---- crashes ------------------------------------------------------------------------------------ */

/* Run a crashing scenario: the same status as without zalloc (a signal), its log. */
static char *crash(zr_run_t *z, const char *scenario, const char *arg, int signo, long *pid) {
  int plain = plain_status(scenario, arg);
  cr_assert_eq(plain, 128 + signo, "without zalloc %s ends with %d, not signal %d", scenario, plain, signo);
  run(z, scenario, arg, NULL);
  cr_assert(zr_has_line(z->r.out, "ready"), "%s", z->r.out);
  char *log = only_report(z, plain, pid);
  return log;
}

/* The crash's "at:" stack names `fn`, then main, with file:line. */
static void assert_crash_at(const char *log, const char *fn) {
  const char *h = strstr(log, "==   at:\n");
  cr_assert_not_null(h, "no at: stack in:\n%s", log);
  char *s = section(h, "==   at:");
  char *in_fn = zr_fmt(" in %s", fn);
  const char *f = strstr(s, in_fn), *m = strstr(s, " in main+0x");
  cr_assert(f && m && f <= m, "the crash stack does not name %s then main:\n%s", fn, log);
  cr_assert_not_null(strstr(s, "end_prog.c:"), "no file:line in the crash stack:\n%s", log);
  free(in_fn);
  free(s);
}

Test(ends, segv_in_a_freed_large_block_names_the_block) {
  zr_run_t z;
  long pid;
  char *log = crash(&z, "read-freed", NULL, SIGSEGV, &pid);
  char *block = zr_value(z.r.out, "block");
  uintptr_t b = strtoull(block, NULL, 16);
  zr_assert_line(log, "==%ld==   ended:       killed by SIGSEGV (its default action follows, as without zalloc)", pid);
  zr_assert_line(log, "==%ld== SIGSEGV at address %p: address not mapped to object (SEGV_MAPERR), thread %ld",
                 pid, (void *)(b + 100), pid);
  zr_assert_line(log, "==%ld==   read at address %p is at offset 100 in the 9,437,184-byte block %s (freed, "
                      "allocated with malloc)", pid, (void *)(b + 100), block);
  assert_crash_at(log, "read_freed+0x");
  char *alloc = section(log, zr_fmt("==%ld==   allocated at (thread %ld):", pid, pid));
  char *freed = section(log, zr_fmt("==%ld==   freed at (thread %ld):", pid, pid));
  cr_assert(strstr(alloc, " in read_freed+0x") && strstr(freed, " in read_freed+0x"), "%s", log);
  /* The figures follow; no leak check after a crash. */
  zr_assert_line(log, "==%ld==   live:        1 block, 77 bytes in use when the signal arrived (no "
                      "leak check after a crash)", pid);
  zr_assert_no_errors(log, pid);
  free(alloc), free(freed), free(block), free(log);
  zr_end(&z);
}

Test(ends, segv_past_the_end_of_a_block) {
  zr_run_t z;
  long pid;
  char *log = crash(&z, "read-past-freed", NULL, SIGSEGV, &pid);
  char *block = zr_value(z.r.out, "block");
  uintptr_t b = strtoull(block, NULL, 16);
  zr_assert_line(log, "==%ld==   read at address %p is 9 bytes past the end of the 9,437,184-byte block %s "
                      "(freed, allocated with malloc)", pid, (void *)(b + (9 << 20) + 8), block);
  free(block), free(log);
  zr_end(&z);
}

/* A pointer read from a freed block is zalloc's fill pattern: a non-canonical address, for
 * which the kernel gives none; the register that holds it tells. */
Test(ends, pointer_from_freed_memory_is_named_by_its_pattern) {
  zr_run_t z;
  long pid;
  char *log = crash(&z, "follow-freed", NULL, SIGSEGV, &pid);
  cr_assert(strstr(log, "SIGSEGV: general protection fault") != NULL, "%s", log);
  cr_assert(strstr(log, " = 0xfdfdfdfdfdfdfdfd: zalloc's fill byte for freed blocks (0xfd) - a "
                        "pointer read from a freed block (use after free)?") != NULL, "%s", log);
  assert_crash_at(log, "follow_freed+0x");
  free(log);
  zr_end(&z);
}

Test(ends, null_pointer) {
  zr_run_t z;
  long pid;
  char *log = crash(&z, "null", NULL, SIGSEGV, &pid);
  zr_assert_line(log, "==%ld== SIGSEGV at address 0x0: address not mapped to object (SEGV_MAPERR), thread %ld",
                 pid, pid);
  cr_assert_null(strstr(log, " is at offset"), "%s", log);
  assert_crash_at(log, "main+0x");
  free(log);
  zr_end(&z);
}

Test(ends, abort_is_reported_and_still_aborts) {
  zr_run_t z;
  long pid;
  char *log = crash(&z, "abort", NULL, SIGABRT, &pid);
  zr_assert_line(log, "==%ld== SIGABRT: sent by tkill or raise (abort) (SI_TKILL), thread %ld", pid, pid);
  cr_assert(strstr(log, " in abort+0x") && strstr(log, " in main+0x"), "%s", log);
  free(log);
  zr_end(&z);
}

/* A signal the program sends itself is sent again after the report: the program does not go on. */
Test(ends, raised_segv_is_raised_again) {
  zr_run_t z;
  long pid;
  char *log = crash(&z, "kill-segv", NULL, SIGSEGV, &pid);
  cr_assert_null(strstr(z.r.out, "survived"), "the program went on after raise(SIGSEGV):\n%s", z.r.out);
  cr_assert(strstr(log, "SIGSEGV: sent by tkill or raise (abort) (SI_TKILL)") != NULL, "%s", log);
  free(log);
  zr_end(&z);
}

Test(ends, sigfpe) {
  zr_run_t z;
  long pid;
  char *log = crash(&z, "fpe", NULL, SIGFPE, &pid);
  zr_assert_line(log, "==%ld== SIGFPE: integer divide by zero (FPE_INTDIV), thread %ld", pid, pid);
  assert_crash_at(log, "main+0x");
  free(log);
  zr_end(&z);
}

Test(ends, sigill) {
  zr_run_t z;
  long pid;
  char *log = crash(&z, "ill", NULL, SIGILL, &pid);
  cr_assert(strstr(log, "== SIGILL: illegal") != NULL, "%s", log);
  free(log);
  zr_end(&z);
}

Test(ends, sigbus) {
  zr_run_t z;
  long pid;
  char *log = crash(&z, "bus", NULL, SIGBUS, &pid);
  cr_assert(strstr(log, "== SIGBUS at address 0x") != NULL && strstr(log, "(BUS_ADRERR)") != NULL, "%s", log);
  assert_crash_at(log, "bus+0x");
  free(log);
  zr_end(&z);
}

/* Another thread crashes while the main thread allocates without pause. */
Test(ends, segv_in_another_thread) {
  zr_run_t z;
  long pid;
  char *log = crash(&z, "thread-segv", NULL, SIGSEGV, &pid);
  long tid = zr_value_long(z.r.out, "thread");
  cr_assert_neq(tid, pid);
  char *line = zr_fmt(": address not mapped to object (SEGV_MAPERR), thread %ld\n", tid);
  cr_assert_not_null(strstr(log, line), "%s", log);
  cr_assert(strstr(log, " in read_freed+0x") && strstr(log, " in crashing_thread+0x"), "%s", log);
  free(line), free(log);
  zr_end(&z);
}

/* The program's own SIGSEGV handler stays the program's: it runs, and no crash report. */
Test(ends, the_programs_own_handler_stays_its_own) {
  zr_run_t z;
  run(&z, "own-handler", NULL, NULL);
  cr_assert(zr_has_line(z.r.out, "own handler 11"), "%s", z.r.out);
  long pid;
  char *log = only_report(&z, 42, &pid);
  zr_assert_line(log, "==%ld==   ended:       _exit(42)", pid);
  cr_assert_null(strstr(log, "SIGSEGV"), "%s", log);
  free(log);
  zr_end(&z);
}

/* A bad argument makes zalloc itself fault: the report says so, and names frames without
 * libdw (which would allocate through the zalloc that just crashed). */
Test(ends, crash_inside_zalloc) {
  zr_run_t z;
  long pid;
  char *log = crash(&z, "in-malloc", NULL, SIGSEGV, &pid);
  zr_assert_line(log, "==%ld== SIGSEGV at address 0x10: address not mapped to object (SEGV_MAPERR), thread %ld",
                 pid, pid);
  cr_assert(strstr(log, "note:        the signal arrived inside zalloc's own code") != NULL, "%s", log);
  cr_assert(strstr(log, "frames named from symbol tables only (no file:line): the signal arrived "
                        "inside zalloc") != NULL, "%s", log);
  cr_assert(strstr(log, "posix_memalign+0x") && strstr(log, " in main+0x"), "%s", log);
  free(log);
  zr_end(&z);
}

/* A crash between fork's handlers, while this thread holds every zalloc lock: the report is
 * written without waiting for them (a hang would time out), with what can be had. */
Test(ends, crash_while_zalloc_holds_its_locks) {
  zr_run_t z;
  long pid;
  char *log = crash(&z, "fork-locks", NULL, SIGSEGV, &pid);
  cr_assert(strstr(log, "inside fork(), while zalloc held its locks") != NULL, "%s", log);
  zr_assert_line(log, "==%ld==   calls:       not counted (the thread registry was busy when the "
                      "signal arrived)", pid);
  zr_assert_line(log, "==%ld==   heap errors: not listed (the list was busy when the signal arrived)", pid);
  cr_assert(strstr(log, " in prepare+0x") && strstr(log, " in main+0x"), "%s", log);
  free(log);
  zr_end(&z);
}

/* A program (or a sanitizer runtime) that set up its own small alternate signal stack: the
 * crash report runs on it, so frames are named from the symbol tables (libdw could overflow
 * it), and the report still names the block and the crash's function. */
Test(ends, crash_on_the_programs_small_alternate_stack) {
  zr_run_t z;
  long pid;
  char *log = crash(&z, "small-altstack", NULL, SIGSEGV, &pid);
  cr_assert(strstr(log, "frames named from symbol tables only (no file:line): little room on the "
                        "alternate signal stack the program set up") != NULL, "%s", log);
  cr_assert(strstr(log, "is at offset 100 in the 9,437,184-byte block") != NULL, "the block is not named:\n%s", log);
  cr_assert(strstr(log, "#0 0x") && strstr(log, " in read_freed+0x"), "the crash is not placed:\n%s", log);
  free(log);
  zr_end(&z);
}

Test(ends, crash_reports_can_be_turned_off) {
  zr_run_t z;
  run(&z, "null", NULL, (const char *const[]){"ZALLOC_CRASH_REPORT=0", NULL});
  cr_assert_eq(z.r.status, 128 + SIGSEGV);
  long pids[4];
  cr_assert_eq(zr_log_pids(&z, pids, 4), 0, "a report with ZALLOC_CRASH_REPORT=0");
  zr_end(&z);
}

/* ---- ZALLOC_EXITCODE, as a CI job uses it ----------------------------------------------------- */

static void check_exitcode(const char *scenario, const char *arg, const char *const *extra, int status,
                           bool changed) {
  static const char *env[8];
  size_t n = 0;
  env[n++] = "ZALLOC_EXITCODE=23";
  for (const char *const *e = extra; e && *e; e++) env[n++] = *e;
  env[n] = NULL;
  zr_run_t z;
  run(&z, scenario, arg, env);
  long pid;
  char *log = only_report(&z, status, &pid);
  cr_assert_eq(strstr(log, "exit status 23 instead (ZALLOC_EXITCODE") != NULL, changed, "%s", log);
  free(log);
  zr_end(&z);
}

Test(exitcode, heap_error_turns_status_0_into_the_code) { check_exitcode("double-free", "0", NULL, 23, true); }
Test(exitcode, at__exit_too) { check_exitcode("double-free-_exit", "0", NULL, 23, true); }
Test(exitcode, a_definite_leak_counts) { check_exitcode("exit", "0", NULL, 23, true); }
Test(exitcode, a_nonzero_status_is_kept) { check_exitcode("double-free", "5", NULL, 5, false); }
Test(exitcode, a_clean_program_keeps_0) { check_exitcode("clean", NULL, NULL, 0, false); }
Test(exitcode, leaks_not_checked_do_not_count) {
  check_exitcode("exit", "0", (const char *const[]){"ZALLOC_LEAKS=off", NULL}, 0, false);
}
Test(exitcode, off_by_default) {
  zr_run_t z;
  run(&z, "double-free", "0", NULL);
  cr_assert_eq(z.r.status, 0);
  zr_end(&z);
}

/* ---- on demand ----------------------------------------------------------------------------------- */

typedef struct server {
  pid_t pid;
  char *dir, *out;
} server_t;

/* Start end_prog as a server (not waiting for it): stdout to dir/out, logs to dir/r.%p. */
static void server_start(server_t *s, const char *scenario) {
  s->dir = make_temp_dir("end-srv");
  s->out = zr_fmt("%s/out", s->dir);
  char *log = zr_fmt("ZALLOC_LOG=%s/r.%%p", s->dir), *pre = zr_fmt("LD_PRELOAD=%s", zalloc_library());
  s->pid = fork();
  cr_assert(s->pid >= 0);
  if (s->pid == 0) {
    int fd = open(s->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    setpgid(0, 0);
    putenv(pre);
    putenv(log);
    putenv("ZALLOC_REPORT_SIGNAL=SIGUSR2");
    unsetenv("ZALLOC_MODE");
    execl(END_PROG, END_PROG, scenario, s->dir, (char *)NULL);
    _exit(127);
  }
  free(log), free(pre);
}

/* Wait until `path` has `needle` (a hang fails the test after TIMEOUT s); its text. */
static char *wait_for(const char *path, const char *needle) {
  for (int ms = 0; ms < TIMEOUT * 1000; ms += 20) {
    char *text = slurp(path, NULL);
    if (text && strstr(text, needle)) return text;
    free(text);
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
  }
  cr_assert_fail("no \"%s\" in %s after %d s", needle, path, TIMEOUT);
  return NULL;
}

static int server_stop(server_t *s) {
  char *stop = zr_fmt("%s/stop", s->dir);
  close(open(stop, O_WRONLY | O_CREAT, 0644));
  int st = 0;
  for (int ms = 0; waitpid(s->pid, &st, WNOHANG) == 0; ms += 20) {
    if (ms > TIMEOUT * 1000) {
      kill(-s->pid, SIGKILL);
      cr_assert_fail("the server did not stop");
    }
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
  }
  free(stop);
  return st;
}

Test(ondemand, a_server_reports_each_time_it_is_asked_and_goes_on) {
  server_t s;
  server_start(&s, "server");
  free(wait_for(s.out, "ready\n"));
  char *log = zr_fmt("%s/r.%d", s.dir, s.pid);
  long before = 0;
  for (int n = 1; n <= 3; n++) {
    char *round = zr_fmt("%s/round-%d", s.dir, n), *did = zr_fmt("did %d\n", n);
    close(open(round, O_WRONLY | O_CREAT, 0644));
    free(wait_for(s.out, did));
    free(round), free(did);
    cr_assert_eq(kill(s.pid, SIGUSR2), 0);
    char *want = zr_fmt("ended:       still running: on-demand report %d (SIGUSR2)", n);
    char *text = wait_for(log, want);
    /* The report just written: from its header on. */
    const char *last = strstr(text, want);
    while (last > text && strncmp(last, "zalloc report for", 17) != 0) last--;
    cr_assert(strstr(last, "leaks:") && strstr(last, "(checked while the program runs)"), "%s", last);
    /* At report n: n nodes on the list and n + 1 blocks leak_one lost. Lost ones are lost for
     * good, so their count never falls; the scan is conservative (a stale copy in a dead stack
     * slot of the running thread may keep one reachable), so it is at least 1, not exactly n + 1. */
    zr_leaks_t k = zr_leaks(last, s.pid);
    cr_assert_eq(k.live_blocks, 2 * n + 1, "report %d:\n%s", n, last);
    cr_assert(k.lost_blocks >= 1 && k.lost_blocks >= before, "report %d: %ld lost blocks after %ld:\n%s", n,
              k.lost_blocks, before, last);
    before = k.lost_blocks;
    /* What is live is listed too: the server's list, grouped by the stack that made it. */
    cr_assert(strstr(last, "still reachable: ") && strstr(last, " in server+0x"), "%s", last);
    free(text), free(want);
  }
  int st = server_stop(&s);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the server did not survive its reports: %#x", st);
  char *text = wait_for(log, "ended:       exit(0)");
  cr_assert_eq(count_occurrences(text, "zalloc report for"), 4, "%s", text);
  free(text), free(log);
  remove_tree(s.dir);
}

Test(ondemand, a_forked_worker_has_its_own_reporter) {
  server_t s;
  server_start(&s, "server-fork");
  char *out = wait_for(s.out, "worker_ready\n");
  free(out);
  out = wait_for(s.out, "ready\n");
  long worker = zr_value_long(out, "worker");
  char *log = zr_fmt("%s/r.%ld", s.dir, worker);
  cr_assert_eq(kill((pid_t)worker, SIGUSR2), 0);
  free(wait_for(log, "ended:       still running: on-demand report 1 (SIGUSR2)"));
  /* The master wrote none: the signal was the worker's. */
  char *master = zr_fmt("%s/r.%d", s.dir, s.pid);
  char *mtext = slurp(master, NULL);
  cr_assert(mtext == NULL || strstr(mtext, "on-demand") == NULL, "%s", mtext);
  int st = server_stop(&s);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  free(mtext), free(master), free(out), free(log);
  remove_tree(s.dir);
}
