/* Integration tests of zalloc in an untrusted environment (docs/promises.md):
 * setuid and capability-raised processes, hostile ZALLOC_LOG targets, a seccomp filter, no
 * /proc. The program is ut_prog, linked directly against libzalloc.so (RUNPATH, absolute): in
 * a secure-mode process the loader would ignore LD_PRELOAD. ZALLOC_* variables of the test's
 * own environment are removed from every run.
 *
 * Tests that need root (file capabilities, a setuid-root copy, a symbolic link owned by another
 * user, a mount namespace) skip, saying so, when not run as root. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zr_harness.h"

#define TIMEOUT 60
#define NOBODY "65534"

static const char *const clean_env[] = {
  "ZALLOC_MODE=", "ZALLOC_LOG=", "ZALLOC_ABORT=", "ZALLOC_STACK_DEPTH=", "ZALLOC_QUARANTINE=",
  "ZALLOC_GUARD=", "ZALLOC_LEAKS=", "ZALLOC_FORMAT=", "ZALLOC_EXITCODE=", "ZALLOC_SUMMARY_DIR=",
  "LD_PRELOAD=", NULL};

/* Run argv with the test's ZALLOC_* removed and `extra` added ("NAME=value"). */
static void run(run_result_t *r, const char *const *argv, const char *const *extra) {
  const char *env[48];
  size_t n = 0;
  for (const char *const *e = clean_env; *e; e++) env[n++] = *e;
  for (const char *const *e = extra; e && *e && n < 47; e++) env[n++] = *e;
  env[n] = NULL;
  cr_assert(run_program(r, argv, env, NULL, NULL, TIMEOUT), "cannot start %s", argv[0]);
  cr_assert_not(r->timed_out, "%s did not finish within %d s (a hang)\nstdout:\n%s\nstderr:\n%s",
                argv[0], TIMEOUT, r->out, r->err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void need_root(void) {
  if (geteuid() != 0) cr_skip_test("needs root (file capabilities, setuid-root copies, chown, mount namespaces)");
}

/* The report of ut_prog leak on `text`: its leak, with the function that made it. */
static void assert_leak_report(const char *text, const char *what) {
  cr_assert_not_null(strstr(text, "zalloc report for"), "%s: no report:\n%s", what, text);
  cr_assert_not_null(strstr(text, "definitely lost: 1 block, 40 bytes"), "%s: the leak is not reported:\n%s",
                     what, text);
  cr_assert_not_null(strstr(text, "ut_leak_site"), "%s: the leak's stack is not named:\n%s", what, text);
}

/* A rejected ZALLOC_LOG: status 2, main never ran, exactly one line naming every needle. */
static void assert_rejected(const run_result_t *r, const char *what, const char *const *needles) {
  cr_assert_eq(r->status, 2, "%s: status %d, expected 2\nstdout:\n%s\nstderr:\n%s", what, r->status, r->out, r->err);
  cr_assert_null(strstr(r->out, "main ran"), "%s: main ran", what);
  cr_assert(r->err_len > 0 && strchr(r->err, '\n') == r->err + r->err_len - 1,
            "%s: stderr is not exactly one line:\n%s", what, r->err);
  for (const char *const *n = needles; *n; n++)
    cr_assert_not_null(strstr(r->err, *n), "%s: the error does not mention \"%s\":\n%s", what, *n, r->err);
}

/* A directory anyone may enter, holding a copy of ut_prog named `name`. */
static char *copy_prog(const char *dir, const char *name) {
  cr_assert_eq(chmod(dir, 0755), 0);
  char *path = zr_fmt("%s/%s", dir, name);
  size_t len;
  char *bytes = slurp(UT_PROG, &len);
  cr_assert_not_null(bytes, "cannot read %s", UT_PROG);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  cr_assert(fd >= 0 && write(fd, bytes, len) == (ssize_t)len && close(fd) == 0, "cannot copy ut_prog");
  free(bytes);
  return path;
}

/* ---- secure mode ---------------------------------------------------------------------------- */

/* As uid/gid 65534, the process raised by file capabilities (AT_SECURE): ZALLOC_* ignored with
 * one line, the defaults apply (gpa, report on stderr, no exit code change, no abort), no log
 * file appears. The same program without capabilities rejects the bad setting: the variables
 * are read there. */
Test(untrusted, secure_file_capabilities_ignore_zalloc_variables, .timeout = 120) {
  need_root();
  char *dir = make_temp_dir("ut");
  char *raised = copy_prog(dir, "raised"), *plain = copy_prog(dir, "plain");
  run_result_t r;
  run(&r, ARGS("setcap", "cap_net_raw+ep", raised), NULL);
  cr_assert_eq(r.status, 0, "setcap failed (scripts/deps.sh test installs libcap2-bin):\n%s", r.err);
  run_free(&r);
  char *log = zr_fmt("ZALLOC_LOG=%s/x.log", dir);
  const char *const settings[] = {"ZALLOC_MODE=bogus", log, "ZALLOC_EXITCODE=7", "ZALLOC_STACK_DEPTH=0", NULL};
  run(&r, ARGS("setpriv", "--reuid=" NOBODY, "--regid=" NOBODY, "--clear-groups", raised, "leak"), settings);
  cr_assert_eq(r.status, 0, "status %d\nstderr:\n%s", r.status, r.err);
  cr_assert_not_null(strstr(r.out, "main ran"));
  cr_assert_eq(count_occurrences(r.err, "raised privileges"), 1, "not exactly one line saying so:\n%s", r.err);
  cr_assert_not_null(strstr(r.err, "ZALLOC_* variables are ignored"), "%s", r.err);
  assert_leak_report(r.err, "capability-raised");   /* stacks recorded: ZALLOC_STACK_DEPTH=0 ignored */
  cr_assert_not_null(strstr(r.err, "mode gpa"), "%s", r.err);
  cr_assert_eq(access(log + strlen("ZALLOC_LOG="), F_OK), -1, "the log file was written");
  run_free(&r);
  run(&r, ARGS("setpriv", "--reuid=" NOBODY, "--regid=" NOBODY, "--clear-groups", plain, "leak"), settings);
  cr_assert_eq(r.status, 2, "without capabilities ZALLOC_MODE=bogus was not rejected:\n%s", r.err);
  cr_assert_null(strstr(r.err, "raised privileges"), "%s", r.err);
  run_free(&r);
  free(log), free(raised), free(plain);
  remove_tree(dir);
  free(dir);
}

/* A setuid-root copy run by uid 65534: the same; and with no ZALLOC_* variable, no line. */
Test(untrusted, secure_setuid_ignores_zalloc_variables, .timeout = 120) {
  need_root();
  char *dir = make_temp_dir("ut");
  char *suid = copy_prog(dir, "suid");
  cr_assert_eq(chown(suid, 0, 0), 0);
  cr_assert_eq(chmod(suid, 04755), 0);
  run_result_t r;
  run(&r, ARGS("setpriv", "--reuid=" NOBODY, "--regid=" NOBODY, "--clear-groups", suid, "leak"),
      ARGS("ZALLOC_MODE=bogus", "ZALLOC_LOG=/etc/passwd"));
  cr_assert_eq(r.status, 0, "status %d\nstderr:\n%s", r.status, r.err);
  cr_assert_eq(count_occurrences(r.err, "raised privileges"), 1, "%s", r.err);
  assert_leak_report(r.err, "setuid");
  run_free(&r);
  run(&r, ARGS("setpriv", "--reuid=" NOBODY, "--regid=" NOBODY, "--clear-groups", suid, "leak"), NULL);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert_null(strstr(r.err, "raised privileges"), "a line with no variable to ignore:\n%s", r.err);
  assert_leak_report(r.err, "setuid, no variables");
  run_free(&r);
  free(suid);
  remove_tree(dir);
  free(dir);
}

/* ---- ZALLOC_LOG ------------------------------------------------------------------------------ */

/* A symbolic link owned by another user (as one planted in /tmp would be) is not followed: its
 * target is neither created nor written. One owned by root (/dev/stderr is one) is. */
Test(untrusted, log_symlink_of_another_user_refused, .timeout = 60) {
  need_root();
  char *dir = make_temp_dir("ut");
  char *target = zr_fmt("%s/target", dir), *link = zr_fmt("%s/planted", dir), *own = zr_fmt("%s/own", dir);
  cr_assert_eq(symlink(target, link), 0);
  cr_assert_eq(lchown(link, 65534, 65534), 0);
  char *set = zr_fmt("ZALLOC_LOG=%s", link);
  run_result_t r;
  run(&r, ARGS(UT_PROG, "leak"), ARGS(set));
  assert_rejected(&r, "a planted link", ARGS("ZALLOC_LOG", link, "symbolic link", "accepted"));
  cr_assert_eq(access(target, F_OK), -1, "the link's target was created");
  run_free(&r);
  cr_assert_eq(symlink(target, own), 0);
  char *set_own = zr_fmt("ZALLOC_LOG=%s", own);
  run(&r, ARGS(UT_PROG, "leak"), ARGS(set_own));
  cr_assert_eq(r.status, 0, "a root-owned link: %s", r.err);
  char *text = slurp(target, NULL);
  cr_assert_not_null(text, "a root-owned link was not followed");
  assert_leak_report(text, "through a root-owned link");
  free(text);
  run_free(&r);
  run(&r, ARGS(UT_PROG, "leak"), ARGS("ZALLOC_LOG=/dev/stderr"));
  cr_assert_eq(r.status, 0, "%s", r.err);
  assert_leak_report(r.err, "ZALLOC_LOG=/dev/stderr");
  run_free(&r);
  free(set), free(set_own), free(target), free(link), free(own);
  remove_tree(dir);
  free(dir);
}

Test(untrusted, log_directory_refused, .timeout = 60) {
  char *dir = make_temp_dir("ut");
  char *set = zr_fmt("ZALLOC_LOG=%s", dir);
  run_result_t r;
  run(&r, ARGS(UT_PROG, "leak"), ARGS(set));
  assert_rejected(&r, "a directory", ARGS("ZALLOC_LOG", dir, "Is a directory", "accepted"));
  run_free(&r);
  free(set);
  remove_tree(dir);
  free(dir);
}

/* A FIFO nobody reads: no hang (the open would block), one line at exit, the report on stderr. */
Test(untrusted, log_fifo_without_reader_no_hang, .timeout = 120) {
  char *dir = make_temp_dir("ut");
  char *fifo = zr_fmt("%s/fifo", dir), *set = zr_fmt("ZALLOC_LOG=%s", fifo);
  cr_assert_eq(mkfifo(fifo, 0600), 0);
  run_result_t r;
  run(&r, ARGS(UT_PROG, "leak"), ARGS(set));
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert_not_null(strstr(r.out, "main ran"));
  char *line = zr_fmt("cannot write the report to %s (", fifo);
  cr_assert_eq(count_occurrences(r.err, line), 1, "no line saying the FIFO had no reader:\n%s", r.err);
  cr_assert_not_null(strstr(r.err, "it follows on stderr"), "%s", r.err);
  assert_leak_report(r.err, "a FIFO without a reader");
  run_free(&r);
  free(line), free(set), free(fifo);
  remove_tree(dir);
  free(dir);
}

/* A FIFO with a reader gets the report (the start-up check does not open it: its reader would
 * see end-of-file). */
Test(untrusted, log_fifo_with_reader_gets_report, .timeout = 120) {
  char *dir = make_temp_dir("ut");
  char *fifo = zr_fmt("%s/fifo", dir), *set = zr_fmt("ZALLOC_LOG=%s", fifo);
  cr_assert_eq(mkfifo(fifo, 0600), 0);
  int rd = open(fifo, O_RDONLY | O_NONBLOCK);
  cr_assert(rd >= 0);
  run_result_t r;
  run(&r, ARGS(UT_PROG, "leak"), ARGS(set));
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert_eq(r.err_len, 0, "stderr:\n%s", r.err);
  char buf[65536];
  ssize_t n = read(rd, buf, sizeof buf - 1);
  cr_assert(n > 0, "nothing came through the FIFO");
  buf[n] = '\0';
  assert_leak_report(buf, "a FIFO with a reader");
  close(rd);
  run_free(&r);
  free(set), free(fifo);
  remove_tree(dir);
  free(dir);
}

/* /dev/full: every write fails. One line naming the path and the error, then the report on
 * stderr: it is not lost. */
Test(untrusted, log_dev_full_report_not_lost, .timeout = 60) {
  run_result_t r;
  run(&r, ARGS(UT_PROG, "leak"), ARGS("ZALLOC_LOG=/dev/full"));
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_assert_eq(count_occurrences(r.err, "cannot write the report to /dev/full (No space left on device)"), 1,
               "%s", r.err);
  assert_leak_report(r.err, "ZALLOC_LOG=/dev/full");
  run_free(&r);
}

/* A file this process may not write, and a new file in a directory it may not write in:
 * rejected before main. As root, run as uid 65534 (root may write anything). */
Test(untrusted, log_unwritable_refused, .timeout = 60) {
  char *dir = make_temp_dir("ut");
  cr_assert_eq(chmod(dir, 0755), 0);
  char *file = zr_fmt("%s/ro.log", dir), *missing = zr_fmt("%s/sub/new.log", dir), *sub = zr_fmt("%s/sub", dir);
  int fd = open(file, O_WRONLY | O_CREAT, 0444);
  cr_assert(fd >= 0);
  close(fd);
  cr_assert_eq(mkdir(sub, 0555), 0);
  const char *paths[] = {file, missing};
  for (int i = 0; i < 2; i++) {
    char *set = zr_fmt("ZALLOC_LOG=%s", paths[i]);
    run_result_t r;
    if (geteuid() == 0)
      run(&r, ARGS("setpriv", "--reuid=" NOBODY, "--regid=" NOBODY, "--clear-groups", UT_PROG, "leak"), ARGS(set));
    else
      run(&r, ARGS(UT_PROG, "leak"), ARGS(set));
    assert_rejected(&r, paths[i], ARGS("ZALLOC_LOG", paths[i], "Permission denied", "accepted"));
    run_free(&r);
    free(set);
  }
  cr_assert_eq(access(missing, F_OK), -1);
  free(file), free(missing), free(sub);
  remove_tree(dir);
  free(dir);
}

/* ---- seccomp, no /proc ------------------------------------------------------------------------ */

/* A seccomp filter installed before the first malloc of main, allowing only the calls the
 * program needs (no getpid, gettid, open, readlink, rt_sigaction): the report is still written
 * at exit, with what zalloc could find: the block still allocated, and why leaks are not told
 * apart from reachable blocks. */
Test(untrusted, seccomp_filter_still_reports, .timeout = 60) {
  run_result_t r;
  run(&r, ARGS(UT_PROG, "seccomp"), NULL);
  cr_assert_eq(r.status, 0, "status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
  cr_assert_not_null(strstr(r.out, "main ran"), "%s", r.out);
  cr_assert_not_null(strstr(r.err, "zalloc report for"), "no report:\n%s", r.err);
  cr_assert_not_null(strstr(r.err, "calls:       1 malloc"), "%s", r.err);
  cr_assert_not_null(strstr(r.err, "leaks:       not checked: /proc/self/maps cannot be read (Operation not permitted)"),
                     "%s", r.err);
  cr_assert_not_null(strstr(r.err, "leaked:      1 block, 40 bytes still allocated at exit"), "%s", r.err);
  cr_assert_null(strstr(r.err, "==-1=="), "a pid of -1:\n%s", r.err);
  run_free(&r);
}

/* The same filter and a crash: the report is written, and the process ends (before, the
 * handler could not be reset and the fault recurred into it forever). */
Test(untrusted, seccomp_filter_crash_ends, .timeout = 120) {
  run_result_t r;
  run(&r, ARGS(UT_PROG, "seccomp-crash"), NULL);
  cr_assert_eq(r.status, 128 + SIGSEGV, "status %d\nstderr:\n%s", r.status, r.err);
  cr_assert_not_null(strstr(r.err, "SIGSEGV at address 0x0"), "no crash report:\n%s", r.err);
  cr_assert_lt(count_occurrences(r.err, "SIGSEGV"), 10, "the fault recurred:\n%.2000s", r.err);
  run_free(&r);
}

/* /proc unmounted (a mount namespace, umount -l): runs and reports as under seccomp. */
Test(untrusted, no_proc_still_reports, .timeout = 60) {
  need_root();
  char *cmd = zr_fmt("umount -l /proc && exec %s leak", UT_PROG);
  run_result_t r;
  run(&r, ARGS("unshare", "--mount", "--fork", "sh", "-c", cmd), NULL);
  cr_assert_eq(r.status, 0, "status %d\nstderr:\n%s", r.status, r.err);
  cr_assert_not_null(strstr(r.out, "main ran"));
  cr_assert_not_null(strstr(r.err, "leaks:       not checked: /proc/self/maps cannot be read (No such file or directory)"),
                     "%s", r.err);
  cr_assert_not_null(strstr(r.err, "leaked:      1 block, 40 bytes still allocated at exit"), "%s", r.err);
  run_free(&r);
  free(cmd);
}
