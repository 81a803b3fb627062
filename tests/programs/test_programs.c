/* Real, unmodified programs under zalloc.
 *
 * Each test runs a program from the system twice, once plainly and once with libzalloc.so
 * preloaded in the default mode (gpa: ZALLOC_MODE unset, ZALLOC_LOG=<tempdir>/z.%p), and
 * expects the same stdout, stderr and exit status from both. Every process of the zalloc run
 * must leave a report file that says "mode gpa" and "heap errors: none"; the tests count the
 * reports, so a child process that crashed or was never run under zalloc shows up too. (How
 * their leak checks compare with valgrind's is test_valgrind.c's business.)
 *
 * The workloads are sized to keep the whole suite well under a minute and a half on two cores.
 * Scripts and sources the programs run are in scripts/, next to this file. A program that is
 * not installed fails its test with the name of the Debian package to install.
 *
 * ZA_KEEP_TMP=1 keeps the temporary directories (logs, inputs, repositories) for a look.
 * ZA_PROGRAMS_SETTINGS (ZALLOC_* assignments separated by spaces) runs the zalloc runs in another
 * configuration, whose reports must name ZA_PROGRAMS_MODE (default gpa): ctest runs some of
 * these tests in page mode and with ZALLOC_SAMPLE=1 too (CMakeLists.txt). */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "prog_common.h"
#include "spawn.h"

/* Per run: long enough for a loaded CI machine, short enough that a hang fails the test
 * rather than the ctest timeout of the whole binary. */
#define RUN_TIMEOUT 60

/* ---- running a program both ways --------------------------------------------------------- */

typedef struct job {
  const char *label;           /* names the step in failure messages */
  const char *const *argv;     /* argv[0]: an absolute path */
  const char *const *env;      /* extra environment for both runs, or NULL */
  const char *cwd_plain;       /* working directory of the plain run (NULL: current) */
  const char *cwd_zalloc;      /* ... and of the zalloc run (NULL: same as the plain run) */
  const char *logdir;          /* zalloc run: reports go here as z.<pid> (relative: to its cwd) */
} job_t;

static void run_one(const job_t *j, bool under_zalloc, run_result_t *r) {
  strlist_t env = {0};
  for (const char *const *e = j->env; e && *e; e++) sl_add(&env, "%s", *e);
  /* Whatever the environment of the test runner: the plain run is plain, the zalloc run
   * gets exactly this configuration. */
  sl_add(&env, "ZALLOC_ABORT=");
  if (under_zalloc) {
    sl_add(&env, "LD_PRELOAD=%s", zalloc_library());
    sl_add(&env, "ZALLOC_MODE=");
    sl_add(&env, "ZALLOC_LOG=%s/z.%%p", j->logdir);
    const char *settings = getenv("ZA_PROGRAMS_SETTINGS");
    for (const char *p = settings; p && *p;) {
      size_t n = strcspn(p, " ");
      if (n) sl_add(&env, "%.*s", (int)n, p);
      p += n + (p[n] == ' ');
    }
  } else {
    sl_add(&env, "LD_PRELOAD=");
    sl_add(&env, "ZALLOC_MODE=");
    sl_add(&env, "ZALLOC_LOG=");
  }
  const char *cwd = under_zalloc && j->cwd_zalloc ? j->cwd_zalloc : j->cwd_plain;
  cr_assert(run_program(r, j->argv, sl_argv(&env), NULL, cwd, RUN_TIMEOUT),
            "%s: could not start %s", j->label, j->argv[0]);
  sl_free(&env);
}

/* Where two outputs first differ, and a few lines around it from each. */
static void expect_same_bytes(const char *label, const char *stream, const char *a, size_t alen,
                              const char *b, size_t blen) {
  if (alen == blen && memcmp(a, b, alen) == 0) return;
  size_t i = 0;
  while (i < alen && i < blen && a[i] == b[i]) i++;
  size_t from = i > 160 ? i - 160 : 0;
  while (from > 0 && from < i && a[from - 1] != '\n') from++;
  int na = (int)((alen - from) < 400 ? alen - from : 400);
  int nb = (int)((blen - from) < 400 ? blen - from : 400);
  cr_expect_fail("%s: %s differs under zalloc (%zu bytes without, %zu with; first difference at "
                 "byte %zu)\n--- without zalloc, from byte %zu:\n%.*s\n--- with zalloc:\n%.*s",
                 label, stream, alen, blen, i, from, na, a + from, nb, b + from);
}

static void expect_same(const char *label, const run_result_t *plain, const run_result_t *za) {
  cr_expect(!plain->timed_out, "%s: the plain run timed out after %d s", label, RUN_TIMEOUT);
  cr_expect(!za->timed_out, "%s: the run under zalloc was killed after %d s (a hang?)", label,
            RUN_TIMEOUT);
  cr_expect(plain->status == za->status,
            "%s: exit status %d under zalloc, %d without%s\n--- stderr under zalloc "
            "(last 1500 bytes):\n%s",
            label, za->status, plain->status,
            za->status > 128 ? " (128 + signal number: killed by a signal)" : "",
            za->err + (za->err_len > 1500 ? za->err_len - 1500 : 0));
  expect_same_bytes(label, "stdout", plain->out, plain->out_len, za->out, za->out_len);
  expect_same_bytes(label, "stderr", plain->err, plain->err_len, za->err, za->err_len);
}

/* Run plainly, then under zalloc, and compare. The results are the caller's to free. */
static void run_pair(const job_t *j, run_result_t *plain, run_result_t *za) {
  run_one(j, false, plain);
  run_one(j, true, za);
  expect_same(j->label, plain, za);
}

static void run_compare(const job_t *j) {
  run_result_t plain, za;
  run_pair(j, &plain, &za);
  run_free(&plain);
  run_free(&za);
}

/* ---- the reports ------------------------------------------------------------------------- */

typedef struct reports {
  size_t files;        /* report files */
  size_t reports;      /* reports in them (a pid reused in one test would append a second) */
  size_t forked;       /* reports of forked children that did not exec */
  char commands[8192]; /* "\n<basename of argv[0]>\n<...>\n" of every report, for has_program */
} reports_t;

/* Check every report file in `logdir`: not empty, "mode gpa" (or ZA_PROGRAMS_MODE's), "heap
 * errors: none". A process
 * that dies of a signal or leaves through _exit() writes no file at all; the tests count the
 * reports to notice one. */
static void scan_reports(const char *logdir, reports_t *r) {
  memset(r, 0, sizeof *r);
  strcpy(r->commands, "\n");
  DIR *d = opendir(logdir);
  cr_assert(d != NULL, "cannot open %s", logdir);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "z.", 2) != 0) continue;
    char *path = path_join(logdir, e->d_name);
    size_t len = 0;
    char *text = slurp(path, &len);
    cr_assert(text != NULL, "cannot read %s", path);
    r->files++;
    cr_expect(len > 0,
              "%s is empty: process %s opened its log but wrote no report into it",
              path, e->d_name + 2);
    if (len > 0) {
      const char *mode = getenv("ZA_PROGRAMS_MODE");
      char want[64];
      snprintf(want, sizeof want, "mode %s", mode ? mode : "gpa");
      cr_expect(strstr(text, want) != NULL, "%s: no \"%s\" in the report:\n%.3000s", path, want, text);
      cr_expect(strstr(text, "heap errors: none") != NULL,
                "%s: zalloc found heap errors:\n%.3000s", path, text);
    }
    r->reports += count_occurrences(text, "zalloc report for ");
    r->forked += count_occurrences(text, ", forked from pid ");
    static const char tag[] = "zalloc report for ";
    for (const char *p = strstr(text, tag); p; p = strstr(p + 1, tag)) {
      const char *cmd = p + strlen(tag);
      size_t n = strcspn(cmd, " \n");
      const char *base = cmd;
      for (size_t i = 0; i < n; i++)
        if (cmd[i] == '/') base = cmd + i + 1;
      size_t blen = (size_t)(cmd + n - base), used = strlen(r->commands);
      if (used + blen + 2 < sizeof r->commands) {
        memcpy(r->commands + used, base, blen);
        strcpy(r->commands + used + blen, "\n");
      }
    }
    free(text);
    free(path);
  }
  closedir(d);
}

static bool has_program(const reports_t *r, const char *name) {
  char needle[128];
  snprintf(needle, sizeof needle, "\n%s\n", name);
  return strstr(r->commands, needle) != NULL;
}

static void expect_programs(const reports_t *r, const char *const *names) {
  for (const char *const *n = names; *n; n++)
    cr_expect(has_program(r, *n), "no zalloc report from %s; reports from:%s", *n, r->commands);
}

/* ---- ls ---------------------------------------------------------------------------------- */

static void set_time(const char *path, time_t t) {
  struct timespec ts[2] = {{t, 0}, {t, 0}};
  cr_assert(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0, "utimensat %s: %s", path,
            strerror(errno));
}

/* A directory whose listing never changes: fixed names, sizes, modes and times. */
static void make_ls_fixture(const char *root) {
  static const char *const files[] = {"a.txt", "b.txt", "file with spaces", ".hidden",
                                      "exec.sh", "sub/one", "sub/two", "sub/deeper/three"};
  static const char *const dirs[] = {"sub/deeper", "sub"};
  char *p;
  make_dir(root);
  p = path_join(root, "sub");
  make_dir(p);
  free(p);
  p = path_join(root, "sub/deeper");
  make_dir(p);
  free(p);
  char buf[5000];
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    size_t len = (i * 1237) % sizeof buf;
    memset(buf, 'a' + (int)i, len);
    p = path_join(root, files[i]);
    write_file(p, buf, len);
    cr_assert(chmod(p, strcmp(files[i], "exec.sh") == 0 ? 0755 : 0640) == 0);
    set_time(p, 981173106 + (time_t)i * 86400 * 31); /* 2001-02-03 and on */
    free(p);
  }
  static char big[100000];
  memset(big, 'z', sizeof big);
  p = path_join(root, "big.bin");
  write_file(p, big, sizeof big);
  set_time(p, 1262304000);
  free(p);
  p = path_join(root, "link");
  cr_assert(symlink("a.txt", p) == 0);
  set_time(p, 1262304000);
  free(p);
  p = path_join(root, "dangling");
  cr_assert(symlink("nowhere", p) == 0);
  set_time(p, 1262304000);
  free(p);
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    p = path_join(root, dirs[i]);
    set_time(p, 1300000000);
    free(p);
  }
  set_time(root, 1300000000);
}

Test(programs, ls) {
  require("/bin/ls", "coreutils");
  char *tmp = make_temp_dir("prog-ls");
  cr_assert(tmp != NULL);
  /* The listing includes "..": the fixture's parent holds nothing else and its time is fixed
   * too; the logs go elsewhere. */
  char *top = path_join(tmp, "top"), *fixture = path_join(top, "fixture");
  char *logdir = path_join(tmp, "logs");
  make_dir(top);
  make_ls_fixture(fixture);
  set_time(top, 1300000000);
  /* Settle delayed allocation, so that the block counts ls shows cannot move between runs. */
  int fd = open(top, O_RDONLY | O_DIRECTORY);
  cr_assert(fd >= 0 && syncfs(fd) == 0, "syncfs %s: %s", top, strerror(errno));
  close(fd);
  make_dir(logdir);

  static const char *const env[] = {"LC_ALL=C", "TZ=UTC", "LS_COLORS=", "COLUMNS=80", NULL};
  static const char *const la[] = {"/bin/ls", "-la", "fixture", NULL};
  static const char *const laR[] = {"/bin/ls", "-laR", "--color=always", "-F", "fixture", NULL};
  static const char *const size[] = {"/bin/ls",  "-lai",       "--sort=size",
                                     "fixture", "fixture/sub", NULL};
  static const char *const missing[] = {"/bin/ls", "-la", "fixture/sub", "no-such-file", NULL};
  const char *const *cmds[] = {la, laR, size, missing};
  const char *labels[] = {"ls -la", "ls -laR --color=always -F", "ls -lai --sort=size",
                          "ls -la on a missing file"};
  for (size_t i = 0; i < 4; i++) {
    job_t j = {labels[i], cmds[i], env, top, NULL, logdir};
    run_result_t plain, za;
    run_pair(&j, &plain, &za);
    if (i == 0)
      cr_expect(strstr(plain.out, "file with spaces") != NULL, "ls -la: fixture not listed");
    if (i == 3)
      cr_expect(plain.status == 2 && plain.err_len > 0, "ls on a missing file: status %d",
                plain.status);
    run_free(&plain);
    run_free(&za);
  }
  reports_t r;
  scan_reports(logdir, &r);
  cr_expect(r.reports == 4 && r.files == 4, "expected 4 reports, one per ls; got %zu in %zu files",
            r.reports, r.files);
  free(top);
  free(fixture);
  free(logdir);
  cleanup(tmp);
}

/* ---- sort -------------------------------------------------------------------------------- */

#define SORT_LINES 500000

static void sort_case(const char *label, const char *const *opts) {
  require("/usr/bin/sort", "coreutils");
  char *tmp = make_temp_dir("prog-sort");
  cr_assert(tmp != NULL);
  char *input = path_join(tmp, "input.txt"), *logdir = path_join(tmp, "logs");
  char *sorttmp = path_join(tmp, "sorttmp");
  make_dir(logdir);
  make_dir(sorttmp);
  make_sort_input(input, SORT_LINES);

  strlist_t argv = {0};
  sl_add(&argv, "/usr/bin/sort");
  for (const char *const *o = opts; *o; o++) sl_add(&argv, "%s", *o);
  sl_add(&argv, "-T");
  sl_add(&argv, "%s", sorttmp);
  sl_add(&argv, "%s", input);
  static const char *const env[] = {"LC_ALL=C", NULL};
  job_t j = {label, sl_argv(&argv), env, tmp, NULL, logdir};
  run_result_t plain, za;
  run_pair(&j, &plain, &za);
  cr_expect(plain.status == 0 && plain.out_len > 0, "%s: status %d, %zu bytes out", label,
            plain.status, plain.out_len);
  run_free(&plain);
  run_free(&za);

  reports_t r;
  scan_reports(logdir, &r);
  cr_expect(r.reports == 1 && r.files == 1, "%s: expected 1 report, got %zu in %zu files", label,
            r.reports, r.files);
  sl_free(&argv);
  free(input);
  free(logdir);
  free(sorttmp);
  cleanup(tmp);
}

Test(programs, sort) {
  static const char *const opts[] = {NULL};
  sort_case("sort", opts);
}

Test(programs, sort_numeric) {
  static const char *const opts[] = {"-n", NULL};
  sort_case("sort -n", opts);
}

Test(programs, sort_unique) {
  static const char *const opts[] = {"-u", NULL};
  sort_case("sort -u", opts);
}

/* A small buffer forces temporary files and merge passes, two threads sort each buffer. */
Test(programs, sort_keys_external_merge) {
  static const char *const opts[] = {"-t", " ",  "-k3,3", "-k1,1nr",
                                     "-S", "1M", "--parallel=2", NULL};
  sort_case("sort -t' ' -k3,3 -k1,1nr -S 1M --parallel=2", opts);
}

/* ---- sh (dash) --------------------------------------------------------------------------- */

/* The reports scripts/sh_pipes.sh produces: one per external command it runs (25, see its
 * comments) and one per subshell dash forks (11: they leave through _exit(), which reports
 * too); the exec at the end makes the shell's own pid write /bin/echo's report. */
#define EXPECTED_SH_REPORTS 36

Test(programs, sh_pipes_subshells_exec) {
  require("/bin/sh", "dash");
  require("/usr/bin/seq", "coreutils");
  char *tmp = make_temp_dir("prog-sh");
  cr_assert(tmp != NULL);
  char *logdir = path_join(tmp, "logs"), *script = script_path("sh_pipes.sh");
  make_dir(logdir);
  const char *argv[] = {"/bin/sh", script, NULL};
  static const char *const env[] = {"LC_ALL=C", NULL};
  job_t j = {"sh sh_pipes.sh", argv, env, tmp, NULL, logdir};
  run_result_t plain, za;
  run_pair(&j, &plain, &za);
  cr_expect(plain.status == 0 && strstr(plain.out, "\ndone\n") != NULL,
            "sh_pipes.sh did not run to the end without zalloc (status %d):\n%s", plain.status,
            plain.err);
  run_free(&plain);
  run_free(&za);

  reports_t r;
  scan_reports(logdir, &r);
  cr_expect(r.reports == EXPECTED_SH_REPORTS && r.files == EXPECTED_SH_REPORTS,
            "expected %d reports (one per command and subshell), got %zu in %zu files; "
            "reports from:%s",
            EXPECTED_SH_REPORTS, r.reports, r.files, r.commands);
  static const char *const progs[] = {"seq", "sort", "tail", "head", "sed", "ls", "wc", "tr",
                                      "echo", "cat", "uniq", "awk", "grep", NULL};
  expect_programs(&r, progs);
  free(logdir);
  free(script);
  cleanup(tmp);
}

/* ---- python3 ----------------------------------------------------------------------------- */

Test(programs, python_threads_json_re) {
  require("/usr/bin/python3", "python3");
  char *tmp = make_temp_dir("prog-py");
  cr_assert(tmp != NULL);
  char *logdir = path_join(tmp, "logs"), *script = script_path("python_threads.py");
  make_dir(logdir);
  const char *argv[] = {"/usr/bin/python3", "-s", script, NULL};
  /* PYTHONMALLOC=malloc: every object through malloc, not Python's own small-object pools. */
  static const char *const env[] = {"PYTHONMALLOC=malloc", "PYTHONHASHSEED=0",
                                    "PYTHONDONTWRITEBYTECODE=1", "LC_ALL=C", NULL};
  job_t j = {"python3 python_threads.py", argv, env, tmp, NULL, logdir};
  run_result_t plain, za;
  run_pair(&j, &plain, &za);
  cr_expect(plain.status == 0 && count_occurrences(plain.out, "\n") == 5,
            "python_threads.py failed without zalloc (status %d):\n%s", plain.status, plain.err);
  run_free(&plain);
  run_free(&za);

  reports_t r;
  scan_reports(logdir, &r);
  cr_expect(r.reports == 2 && r.files == 2 && r.forked == 1,
            "expected 2 reports (python3 and its forked child), got %zu in %zu files, %zu forked",
            r.reports, r.files, r.forked);
  free(logdir);
  free(script);
  cleanup(tmp);
}

/* ---- perl -------------------------------------------------------------------------------- */

Test(programs, perl_hashes_regex_sort) {
  require("/usr/bin/perl", "perl");
  char *tmp = make_temp_dir("prog-perl");
  cr_assert(tmp != NULL);
  char *logdir = path_join(tmp, "logs"), *script = script_path("perl_workload.pl");
  make_dir(logdir);
  const char *argv[] = {"/usr/bin/perl", script, NULL};
  static const char *const env[] = {"PERL_HASH_SEED=0", "PERL_PERTURB_KEYS=0", "LC_ALL=C", NULL};
  job_t j = {"perl perl_workload.pl", argv, env, tmp, NULL, logdir};
  run_result_t plain, za;
  run_pair(&j, &plain, &za);
  cr_expect(plain.status == 0 && plain.out_len > 0,
            "perl_workload.pl failed without zalloc (status %d):\n%s", plain.status, plain.err);
  run_free(&plain);
  run_free(&za);

  reports_t r;
  scan_reports(logdir, &r);
  cr_expect(r.reports == 1 && r.files == 1, "expected 1 report, got %zu in %zu files", r.reports,
            r.files);
  free(logdir);
  free(script);
  cleanup(tmp);
}

/* ---- gcc --------------------------------------------------------------------------------- */

Test(programs, gcc_compile_and_run) {
  require("/usr/bin/gcc", "gcc");
  require("/usr/bin/as", "binutils");
  require("/usr/bin/ld", "binutils");
  char *tmp = make_temp_dir("prog-gcc");
  cr_assert(tmp != NULL);
  char *plain_dir = path_join(tmp, "plain"), *za_dir = path_join(tmp, "zalloc");
  char *logdir = path_join(tmp, "logs"), *gcctmp = path_join(tmp, "gcctmp");
  char *src = script_path("gcc_prog.c");
  make_dir(plain_dir);
  make_dir(za_dir);
  make_dir(logdir);
  make_dir(gcctmp);
  for (int k = 0; k < 2; k++) {
    char *to = path_join(k ? za_dir : plain_dir, "prog.c");
    copy_file(src, to);
    free(to);
  }

  /* Compile in two directories with the same relative names: cc1, as, collect2 and ld all run
   * under zalloc the second time. The warning about `unused` must come out the same. */
  strlist_t env = {0};
  sl_add(&env, "LC_ALL=C");
  sl_add(&env, "TMPDIR=%s", gcctmp);
  sl_add(&env, "GCC_COLORS=");
  static const char *const cc[] = {"/usr/bin/gcc", "-O2", "-Wall", "-o", "prog", "prog.c", NULL};
  job_t compile = {"gcc -O2 -Wall -o prog prog.c", cc, sl_argv(&env), plain_dir, za_dir, logdir};
  run_result_t plain, za;
  run_pair(&compile, &plain, &za);
  cr_assert(plain.status == 0, "gcc failed without zalloc:\n%s", plain.err);
  cr_expect(strstr(plain.err, "unused variable") != NULL, "no -Wall warning from gcc:\n%s",
            plain.err);
  run_free(&plain);
  run_free(&za);

  reports_t r;
  scan_reports(logdir, &r);
  static const char *const progs[] = {"gcc", "cc1", "as", "collect2", "ld", NULL};
  expect_programs(&r, progs);
  cr_expect(r.reports == r.files && r.reports >= 5, "expected a report from each of gcc, cc1, as, "
            "collect2, ld; got %zu in %zu files, from:%s", r.reports, r.files, r.commands);

  /* The two compilers produced the same binary ... */
  char *pa = path_join(plain_dir, "prog"), *pb = path_join(za_dir, "prog");
  size_t la = 0, lb = 0;
  char *ba = slurp(pa, &la), *bb = slurp(pb, &lb);
  cr_assert(ba != NULL && bb != NULL, "gcc left no binary");
  cr_expect(la == lb && memcmp(ba, bb, la) == 0,
            "gcc under zalloc produced a different binary (%zu bytes, %zu without)", lb, la);
  free(ba);
  free(bb);

  /* ... which behaves the same: the zalloc-built one run without zalloc, and under it. */
  static const char *const run[] = {"./prog", "argument", NULL};
  char *logdir2 = path_join(tmp, "logs-run");
  make_dir(logdir2);
  job_t exec_plain = {"./prog built under zalloc, run without", run, NULL, plain_dir, NULL, NULL};
  run_result_t a, b;
  run_one(&exec_plain, false, &a);
  exec_plain.cwd_plain = za_dir;
  run_one(&exec_plain, false, &b);
  expect_same(exec_plain.label, &a, &b);
  cr_expect(a.status >= 1 && a.status <= 7 && strstr(a.out, "depth sum") != NULL,
            "./prog: status %d, output %s", a.status, a.out);
  run_free(&a);
  run_free(&b);
  job_t exec_za = {"./prog built under zalloc, run under it", run, NULL, plain_dir, za_dir,
                   logdir2};
  run_compare(&exec_za);
  scan_reports(logdir2, &r);
  cr_expect(r.reports == 1 && has_program(&r, "prog"), "expected 1 report from ./prog, got %zu",
            r.reports);

  sl_free(&env);
  free(pa);
  free(pb);
  free(plain_dir);
  free(za_dir);
  free(logdir);
  free(logdir2);
  free(gcctmp);
  free(src);
  cleanup(tmp);
}

/* ---- git --------------------------------------------------------------------------------- */

/* The work tree's files, identical in both repositories. Round 0: the first commit; round 1:
 * some files changed, one deleted, new ones added. */
static void write_repo_files(const char *repo, int round) {
  char *dir = path_join(repo, "src");
  make_dir(dir);
  free(dir);
  uint64_t st = 77 + (uint64_t)round;
  for (int i = 0; i < 40; i++) {
    if (round == 1 && i % 7 != 3) continue;
    char name[64];
    snprintf(name, sizeof name, i % 2 ? "src/mod%02d.c" : "notes%02d.txt", i);
    char *p = path_join(repo, name);
    if (round == 1 && i == 10) {
      cr_assert(unlink(p) == 0);
      free(p);
      continue;
    }
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap);
    int lines = 50 + (int)(lcg_next(&st) % 400);
    for (int l = 0; l < lines; l++)
      len += (size_t)snprintf(buf + len, cap - len, "line %d of %s: %u\n", l, name,
                              lcg_next(&st) % 1000);
    if (round == 1) {
      FILE *f = fopen(p, "a");
      cr_assert(f != NULL);
      fwrite(buf, 1, len / 3, f);
      fclose(f);
    } else {
      write_file(p, buf, len);
    }
    free(buf);
    free(p);
  }
  if (round == 1) {
    char *p = path_join(repo, "NEWS");
    write_str(p, "second round\n");
    free(p);
    p = path_join(repo, "untracked.tmp");
    write_str(p, "not added\n");
    free(p);
  }
}

Test(programs, git_repository) {
  require("/usr/bin/git", "git");
  char *tmp = make_temp_dir("prog-git");
  cr_assert(tmp != NULL);
  char *home = path_join(tmp, "home"), *logdir = path_join(tmp, "logs");
  char *repo_plain = path_join(tmp, "plain"), *repo_za = path_join(tmp, "zalloc");
  make_dir(home);
  make_dir(logdir);
  make_dir(repo_plain);
  make_dir(repo_za);

  strlist_t env = {0};
  git_env(&env, home);

#define GIT(...) ((const char *const[]){"/usr/bin/git", __VA_ARGS__, NULL})
  struct step {
    int files_round;            /* write the work tree's files first: -1 none, else the round */
    const char *const *argv;
  } steps[] = {
    {-1, GIT("init", "-q", "-b", "main", ".")},
    {0, GIT("add", ".")},
    {-1, GIT("commit", "-q", "-m", "first commit")},
    {1, GIT("status", "--short", "--untracked-files=all")},
    {-1, GIT("diff")},
    {-1, GIT("add", "-A", "src", "NEWS", "notes10.txt")},
    {-1, GIT("commit", "-q", "-m", "second commit\n\nchanges, a deletion and NEWS")},
    {-1, GIT("log", "--stat", "--date=iso", "--format=%H %an <%ae> %ad%n%s%n%b")},
    {-1, GIT("diff", "HEAD~1", "HEAD", "--stat", "--summary")},
    {-1, GIT("grep", "-n", "-e", "line 7 of", "--", "src")},
    {-1, GIT("gc", "-q")},
    {-1, GIT("count-objects", "-v")},
    {-1, GIT("fsck", "--full", "--no-progress", "--strict")},
    {-1, GIT("cat-file", "-p", "HEAD^{tree}")},
    {-1, GIT("status")},
  };
#undef GIT
  size_t nsteps = sizeof steps / sizeof *steps;
  for (size_t i = 0; i < nsteps; i++) {
    if (steps[i].files_round >= 0) {
      write_repo_files(repo_plain, steps[i].files_round);
      write_repo_files(repo_za, steps[i].files_round);
    }
    char label[128];
    snprintf(label, sizeof label, "git %s (step %zu)", steps[i].argv[1], i + 1);
    job_t j = {label, steps[i].argv, sl_argv(&env), repo_plain, repo_za, logdir};
    run_result_t plain, za;
    run_pair(&j, &plain, &za);
    cr_expect(plain.status == 0, "%s failed without zalloc (status %d):\n%s", label, plain.status,
              plain.err);
    bool same = plain.status == za.status && plain.out_len == za.out_len;
    run_free(&plain);
    run_free(&za);
    if (!same) break; /* the repositories have diverged: later steps would only repeat it */
  }

  reports_t r;
  scan_reports(logdir, &r);
  /* Every git command, and the helpers it starts (git gc: pack-refs, reflog, repack,
   * pack-objects, prune, ...), leaves a report. */
  cr_expect(r.reports == r.files && r.reports >= nsteps + 5,
            "expected at least %zu reports, got %zu in %zu files; from:%s", nsteps + 5, r.reports,
            r.files, r.commands);
  sl_free(&env);
  free(home);
  free(logdir);
  free(repo_plain);
  free(repo_za);
  cleanup(tmp);
}

/* ---- a relative ZALLOC_LOG and a program that changes directory -------------------------- */

/* ZALLOC_LOG=logs/z.%p is checked where the program starts; the report, written at exit, must
 * go there too, even after the program has moved elsewhere (git -C, os.chdir) - not into a
 * logs/ under the new directory, nor onto stderr when there is none. */
Test(programs, relative_log_after_chdir) {
  require("/usr/bin/git", "git");
  require("/usr/bin/python3", "python3");
  char *tmp = make_temp_dir("prog-chdir");
  cr_assert(tmp != NULL);
  /* plain/ and zalloc/ each hold repo/ and logs/; repo/logs/ exists too, so a report resolved
   * against the directory the program moved to would land there. */
  char *base[2], *home = path_join(tmp, "home");
  make_dir(home);
  for (int k = 0; k < 2; k++) {
    base[k] = path_join(tmp, k ? "zalloc" : "plain");
    make_dir(base[k]);
    static const char *const sub[] = {"logs", "repo", "repo/logs"};
    for (size_t i = 0; i < 3; i++) {
      char *p = path_join(base[k], sub[i]);
      make_dir(p);
      free(p);
    }
  }
  strlist_t env = {0};
  sl_add(&env, "HOME=%s", home);
  sl_add(&env, "GIT_CONFIG_NOSYSTEM=1");
  sl_add(&env, "LC_ALL=C");

  static const char *const init[] = {"/usr/bin/git", "-C", "repo", "init", "-q",
                                     "-b",           "main", ".",  NULL};
  static const char *const status[] = {"/usr/bin/git", "-C", "repo", "status", "--short", NULL};
  static const char *const py[] = {"/usr/bin/python3", "-c",
                                   "import os\nos.chdir('repo')\nprint(sorted(os.listdir('.')))",
                                   NULL};
  job_t steps[] = {
    {"git -C repo init, ZALLOC_LOG=logs/z.%p", init, sl_argv(&env), base[0], base[1], "logs"},
    {"git -C repo status, ZALLOC_LOG=logs/z.%p", status, sl_argv(&env), base[0], base[1], "logs"},
    {"python3 os.chdir('repo'), ZALLOC_LOG=logs/z.%p", py, sl_argv(&env), base[0], base[1], "logs"},
  };
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
    if (i == 1) {
      for (int k = 0; k < 2; k++) {
        char *f = path_join(base[k], "repo/file.txt");
        write_str(f, "tracked soon\n");
        free(f);
      }
    }
    run_compare(&steps[i]);
  }
  char *logdir = path_join(base[1], "logs"), *stray = path_join(base[1], "repo/logs");
  reports_t r;
  scan_reports(logdir, &r);
  cr_expect(r.reports == 3 && r.files == 3,
            "expected 3 reports in %s (git init, git status, python3), got %zu in %zu files",
            logdir, r.reports, r.files);
  scan_reports(stray, &r);
  cr_expect(r.files == 0, "%zu reports went to %s, under the directory the program moved to",
            r.files, stray);
  sl_free(&env);
  free(logdir);
  free(stray);
  free(base[0]);
  free(base[1]);
  free(home);
  cleanup(tmp);
}
