/* The zalloc wrapper on whole process trees, as a user or a CI job runs it: one summary at the
 * end on stderr (processes seen, how each ended, findings and leak groups merged across
 * processes by stack, worst first, "in N processes"), the per-process reports where --log puts
 * them, nothing else on stderr, and the exit status CI needs. The trees are real: dash and bash
 * scripts whose subshells run a leaking program, a parent killed by SIGKILL whose child lives
 * on, crashes, make -j2 compiling and running programs with a planted leak in one of them.
 * No test depends on the machine's speed: programs wait for events, timeouts are for hangs. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zr_harness.h"

#define TIMEOUT 300

typedef struct tree_run {
  run_result_t r;
  char *dir;        /* the test's directory: scripts, logs, TMPDIR */
  char *tmp;        /* TMPDIR for the wrapper (its run directories go there) */
} tree_run_t;

static void tree_init(tree_run_t *t) {
  memset(t, 0, sizeof *t);
  t->dir = make_temp_dir("tree");
  cr_assert_not_null(t->dir);
  t->tmp = zr_fmt("%s/tmp", t->dir);
  cr_assert_eq(mkdir(t->tmp, 0700), 0);
}

/* Run `argv` (the wrapper and its arguments) in the test's directory, with a clean zalloc
 * environment plus `extra`. */
static void tree_run(tree_run_t *t, const char *const *argv, const char *const *extra) {
  const char *env[32];
  size_t n = 0;
  static const char *const clean[] = {"ZALLOC_MODE=", "ZALLOC_LOG=", "ZALLOC_ABORT=", "ZALLOC_LEAKS=",
                                      "ZALLOC_STACK_DEPTH=", "ZALLOC_SUPPRESS=", "ZALLOC_EXITCODE=",
                                      "ZALLOC_FORMAT=", "ZALLOC_SUMMARY_DIR=", "ZALLOC_LIBRARY=",
                                      "LD_PRELOAD=", "MAKEFLAGS=", "MFLAGS="};
  for (size_t i = 0; i < sizeof clean / sizeof clean[0]; i++) env[n++] = clean[i];
  char *tmpdir = zr_fmt("TMPDIR=%s", t->tmp);
  env[n++] = tmpdir;
  for (const char *const *e = extra; e && *e && n < 31; e++) env[n++] = *e;
  env[n] = NULL;
  cr_assert(run_program(&t->r, argv, env, NULL, t->dir, TIMEOUT), "cannot run %s", argv[0]);
  cr_assert_not(t->r.timed_out, "no end within %d s (hang?)\nstdout:\n%s\nstderr:\n%s", TIMEOUT, t->r.out, t->r.err);
  free(tmpdir);
}

static void tree_end(tree_run_t *t) {
  run_free(&t->r);
  remove_tree(t->dir);
  free(t->dir);
  free(t->tmp);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

/* Files in `dir` whose names start with `prefix`. */
static size_t count_files(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  cr_assert_not_null(d, "cannot read %s", dir);
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += e->d_name[0] != '.' && strncmp(e->d_name, prefix, strlen(prefix)) == 0;
  closedir(d);
  return n;
}

/* Every line of stderr is the wrapper's ("zalloc: ..."): no per-process report on it. */
static void assert_only_the_summary(const tree_run_t *t) {
  size_t lines = zr_count_lines_with(t->r.err, ""), ours = zr_count_lines_with(t->r.err, "zalloc: ");
  size_t reports = zr_count_lines_with(t->r.err, "== zalloc report for");
  cr_assert(lines == ours && reports == 0, "stderr has more than the summary:\n%s", t->r.err);
  cr_assert_eq(zr_count_lines_with(t->r.err, "zalloc: summary of `"), 1, "%s", t->r.err);
}

/* The number of processes the summary counted. */
static long summary_processes(const tree_run_t *t) {
  char *line = zr_line_starting(t->r.err, "zalloc: summary of `");
  cr_assert_not_null(line, "no summary in:\n%s", t->r.err);
  const char *tail = strrchr(line, ':');
  long n = strtol(tail + 1, NULL, 10);
  free(line);
  cr_assert_gt(n, 0);
  return n;
}

/* The item of the summary that starts with `head` ("zalloc: N. head"), with its frames. */
static char *summary_item(const tree_run_t *t, const char *head) {
  const char *p = t->r.err;
  for (; (p = strstr(p, "\nzalloc: ")) != NULL; p++) {
    const char *q = p + 9;
    while (*q >= '0' && *q <= '9') q++;
    if (q > p + 9 && q[0] == '.' && q[1] == ' ' && strncmp(q + 2, head, strlen(head)) == 0) break;
  }
  cr_assert_not_null(p, "no item \"%s\" in the summary:\n%s", head, t->r.err);
  const char *end = p + 1;
  while ((end = strchr(end, '\n')) != NULL && strncmp(end + 1, "zalloc:        #", 16) == 0) end++;
  return strndup(p + 1, end ? (size_t)(end - p - 1) : strlen(p + 1));
}

/* ---- one program ------------------------------------------------------------------------------ */

/* A program alone, without --log: its report on stderr as without the wrapper, no summary, and
 * nothing left behind in TMPDIR. */
Test(tree, a_program_alone_gets_its_report_and_nothing_is_left) {
  tree_run_t t;
  tree_init(&t);
  tree_run(&t, (const char *const[]){WRAPPER, TREE_PROG, "leak", "2", NULL}, NULL);
  cr_assert_eq(t.r.status, 0, "%s", t.r.err);
  cr_assert(zr_has_line(t.r.out, "leaked 2"), "%s", t.r.out);
  cr_assert_eq(zr_count_lines_with(t.r.err, "== zalloc report for"), 1, "%s", t.r.err);
  cr_assert(strstr(t.r.err, "== definitely lost: 2 blocks, 80 bytes, allocated at") &&
            strstr(t.r.err, " in tree_planted_leak+0x"), "%s", t.r.err);
  cr_assert_null(strstr(t.r.err, "zalloc: summary"), "%s", t.r.err);
  cr_assert_eq(count_files(t.tmp, ""), 0, "the wrapper left files in TMPDIR");
  tree_end(&t);
}

/* ---- shell scripts ---------------------------------------------------------------------------- */

/* Runs of tree_prog from a subshell, a command substitution, a pipeline, a background subshell
 * and a subshell that exits with 3. */
static const char script[] =
  "P=$1\n"
  "( \"$P\" leak 1 )\n"
  "x=$(\"$P\" leak 1); echo \"$x\"\n"
  "\"$P\" leak 1 | cat\n"
  "( \"$P\" leak 1; : ) &\n"
  "wait\n"
  "( \"$P\" clean; exit 3 ); echo \"sub=$?\"\n"
  "exit 0\n";

/* The leaks of `n` tree_prog processes are one item "in n processes" naming the planted
 * function, and no process ended without a report. */
static void assert_merged_leak(const tree_run_t *t, int n) {
  char *head = zr_fmt("definitely lost: %d bytes in %d blocks, in %d processes (tree_prog x%d", 40 * n, n, n, n);
  char *item = summary_item(t, head);
  cr_assert(strstr(item, " tree_planted_leak+0x") && strstr(item, "tree_prog.c:") && strstr(item, " main+0x"),
            "%s", item);
  cr_assert_null(strstr(t->r.err, "no report"), "%s", t->r.err);
  free(item);
  free(head);
}

Test(tree, dash_script_whose_subshells_leak) {
  tree_run_t t;
  tree_init(&t);
  char *path = zr_fmt("%s/s.sh", t.dir);
  write_file(path, script);
  /* Without --log: the reports of the processes with something to say are kept, and the
   * summary says where. */
  tree_run(&t, (const char *const[]){WRAPPER, "dash", path, TREE_PROG, NULL}, NULL);
  cr_assert_eq(t.r.status, 0, "%s", t.r.err);
  cr_assert(zr_has_line(t.r.out, "sub=3") && zr_has_line(t.r.out, "leaked 1"), "%s", t.r.out);
  assert_only_the_summary(&t);
  assert_merged_leak(&t, 4);
  /* dash and its subshells end with _exit: they report too. */
  char *ended = zr_line_starting(t.r.err, "zalloc:   ended:");
  cr_assert(ended && strstr(ended, "_exit(0)") && strstr(ended, "_exit(3)"), "%s", t.r.err);
  free(ended);
  /* The kept reports: the four leaking processes', in one run directory under TMPDIR. */
  char *reports = zr_line_starting(t.r.err, "zalloc: reports: ");
  cr_assert_not_null(reports, "%s", t.r.err);
  cr_assert(strncmp(reports + 17, t.tmp, strlen(t.tmp)) == 0 && strstr(reports, "/PID.log"), "%s", reports);
  char *rundir = strndup(reports + 17, (size_t)(strstr(reports, "/PID.log") - reports - 17));
  cr_assert_eq(count_files(rundir, ""), 4, "kept reports in %s: %zu", rundir, count_files(rundir, ""));
  DIR *d = opendir(rundir);
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    char *f = zr_fmt("%s/%s", rundir, e->d_name), *log = slurp(f, NULL);
    cr_assert(log && strstr(log, "zalloc report for ") && strstr(log, "tree_planted_leak"), "%s: %s", f, log);
    free(log);
    free(f);
  }
  closedir(d);
  free(rundir);
  free(reports);
  free(path);
  tree_end(&t);
}

Test(tree, bash_script_whose_subshells_leak) {
  tree_run_t t;
  tree_init(&t);
  char *path = zr_fmt("%s/s.sh", t.dir);
  /* bash adds a process substitution. */
  char *text = zr_fmt("%.*scat <(\"$P\" leak 1) >/dev/null\n", (int)(strstr(script, "exit 0\n") - script), script);
  write_file(path, text);
  char *log = zr_fmt("--log=%s/z.%%p.log", t.dir);
  tree_run(&t, (const char *const[]){WRAPPER, log, "bash", path, TREE_PROG, NULL}, NULL);
  cr_assert_eq(t.r.status, 0, "%s", t.r.err);
  cr_assert(zr_has_line(t.r.out, "sub=3"), "%s", t.r.out);
  assert_only_the_summary(&t);
  assert_merged_leak(&t, 5);
  /* One report per process, where --log put them; a forked bash subshell's says so. */
  long procs = summary_processes(&t);
  cr_assert_eq((long)count_files(t.dir, "z."), procs, "%s", t.r.err);
  char *cmd = zr_fmt("grep -l 'forked from pid' %s/z.*.log >/dev/null", t.dir);
  cr_assert_eq(system(cmd), 0, "no report of a forked subshell");
  free(cmd);
  free(log);
  free(text);
  free(path);
  tree_end(&t);
}

/* ---- ways to end -------------------------------------------------------------------------------- */

/* The parent is killed by SIGKILL (it cannot report); its child lives on, reparented to the
 * wrapper, which waits for it and counts both. The wrapper ends by SIGKILL as the program did. */
Test(tree, parent_killed_by_sigkill_child_lives_on) {
  tree_run_t t;
  tree_init(&t);
  tree_run(&t, (const char *const[]){WRAPPER, "sh", "-c", "\"$0\" orphan $$ & kill -9 $$", TREE_PROG, NULL}, NULL);
  cr_assert_eq(t.r.status, 128 + 9, "%d\n%s", t.r.status, t.r.err);
  cr_assert(zr_has_line(t.r.out, "orphaned"), "%s", t.r.out);
  cr_assert(strstr(t.r.err, "zalloc: sh has ended; waiting for the 1 process it left running"), "%s", t.r.err);
  cr_assert_eq(summary_processes(&t), 2, "%s", t.r.err);
  char *ended = zr_line_starting(t.r.err, "zalloc:   ended:");
  cr_assert(ended && strstr(ended, "1 killed by SIGKILL, no report") && strstr(ended, "1 exit(0)"), "%s", t.r.err);
  free(ended);
  free(summary_item(&t, "definitely lost: 40 bytes in 1 block, in 1 process (tree_prog, pid "));
  tree_end(&t);
}

/* Crashes and heap errors of several processes: crashes first, each with its stack. */
Test(tree, crashes_and_heap_errors_in_a_tree) {
  tree_run_t t;
  tree_init(&t);
  tree_run(&t, (const char *const[]){WRAPPER, "sh", "-c", "\"$0\" segv; \"$0\" abort; \"$0\" double-free; exit 0",
                                     TREE_PROG, NULL}, NULL);
  cr_assert_eq(t.r.status, 0, "%s", t.r.err);
  char *ended = zr_line_starting(t.r.err, "zalloc:   ended:");
  cr_assert(ended && strstr(ended, "1 killed by SIGSEGV") && strstr(ended, "1 killed by SIGABRT"), "%s", t.r.err);
  free(ended);
  cr_assert(strstr(t.r.err, "heap error in 1 process") && strstr(t.r.err, "; 2 crashes\n"), "%s", t.r.err);
  char *segv = summary_item(&t, "crash: SIGSEGV (address not mapped to object), in 1 process (tree_prog");
  cr_assert(strstr(segv, "zalloc: 1. ") && strstr(segv, " main+0x") && strstr(segv, "tree_prog.c:"), "%s", segv);
  char *abrt = summary_item(&t, "crash: SIGABRT");
  cr_assert(strstr(abrt, " abort+0x") && strstr(abrt, " main+0x"), "%s", abrt);
  char *df = summary_item(&t, "double free: free(0x");
  cr_assert(strstr(df, "the block was already freed (24 bytes); 1 time in 1 process (tree_prog"), "%s", df);
  free(segv);
  free(abrt);
  free(df);
  tree_end(&t);
}

/* A statically linked program started inside the tree cannot report: the forked process that
 * ran it is counted as one that ended without a report. (bash forks for it; dash uses vfork,
 * which records nothing, so there zalloc cannot know of it at all.) */
Test(tree, a_static_program_inside_the_tree) {
  tree_run_t t;
  tree_init(&t);
  tree_run(&t, (const char *const[]){WRAPPER, "bash", "-c", "\"$0\" >/dev/null; \"$1\" leak 1", WRAP_STATIC, TREE_PROG,
                                     NULL}, NULL);
  cr_assert_eq(t.r.status, 0, "%s", t.r.err);
  cr_assert(strstr(t.r.err, "zalloc:   1 process ended without a report: ") &&
            strstr(t.r.err, "statically linked"), "%s", t.r.err);
  tree_end(&t);
}

/* ---- make -j2 ------------------------------------------------------------------------------------ */

/* make compiles two programs from tree_prog.c with cc and runs them, two jobs at a time: every
 * process of the toolchain reports to --log, stderr has the summary alone, and the planted
 * leak of `gen` is in it with its stack even if the toolchain loses more. */
Test(tree, make_j2_over_a_tree_with_a_planted_leak) {
  tree_run_t t;
  tree_init(&t);
  char *makefile = zr_fmt("%s/Makefile", t.dir);
  char *text = zr_fmt("CFLAGS = -g -O0 -I%s\n"
                      "all: gen.out clean.out\n"
                      "gen:\n\t$(CC) $(CFLAGS) -o gen %s\n"
                      "clean:\n\t$(CC) $(CFLAGS) -o clean %s\n"
                      "gen.out: gen\n\t./gen leak 1 > gen.out\n"
                      "clean.out: clean\n\t./clean clean > clean.out\n",
                      PIT_DIR, TREE_SRC, TREE_SRC);
  write_file(makefile, text);
  char *log = zr_fmt("--log=%s/z.%%p.log", t.dir);
  tree_run(&t, (const char *const[]){WRAPPER, log, MAKE_PROGRAM, "-j2", NULL}, NULL);
  cr_assert_eq(t.r.status, 0, "%s\n%s", t.r.out, t.r.err);
  assert_only_the_summary(&t);
  long procs = summary_processes(&t);
  cr_assert_geq(procs, 5, "make, two compilers, two programs at least:\n%s", t.r.err);
  cr_assert_eq((long)count_files(t.dir, "z."), procs, "%s", t.r.err);
  /* The planted leak, as its own item, and as gen's line with its report. */
  char *item = summary_item(&t, "definitely lost: 40 bytes in 1 block, in 1 process (gen, pid ");
  cr_assert(strstr(item, " tree_planted_leak+0x") && strstr(item, "tree_prog.c:"), "%s", item);
  char *gen = zr_line_starting(t.r.err, "zalloc:   gen: 1 process (pid ");
  cr_assert(gen && strstr(gen, "exit(0); definitely lost 40 bytes in 1 block; report: "), "%s", t.r.err);
  char *report = slurp(strstr(gen, "; report: ") + 10, NULL);
  cr_assert(report && strstr(report, "tree_planted_leak"), "%s", gen);
  cr_assert_null(zr_line_starting(t.r.err, "zalloc:   clean: "), "the clean program has nothing to say:\n%s",
                 t.r.err);
  char *ended = zr_line_starting(t.r.err, "zalloc:   ended:");
  cr_assert(ended && !strstr(ended, "no report") && !strstr(ended, "killed"), "%s", t.r.err);
  free(ended);
  free(report);
  free(gen);
  free(item);
  free(log);
  free(text);
  free(makefile);
  tree_end(&t);
}

/* ---- CI ------------------------------------------------------------------------------------------ */

static int exit_status_of(const char *const *wrapper_args, const char *shell, const char *const *extra,
                          tree_run_t *t) {
  const char *argv[16];
  size_t n = 0;
  argv[n++] = WRAPPER;
  for (const char *const *a = wrapper_args; a && *a; a++) argv[n++] = *a;
  argv[n++] = "sh";
  argv[n++] = "-c";
  argv[n++] = shell;
  argv[n++] = TREE_PROG;
  argv[n] = NULL;
  tree_run(t, argv, extra);
  return t->r.status;
}

/* --exitcode judges the whole tree at its end; the processes keep their statuses, so the tree
 * runs as without zalloc (a child that leaks still exits 0 and the script goes on). */
Test(tree, exitcode_in_ci_style) {
  tree_run_t t;
  tree_init(&t);
  const char *code[] = {"--exitcode=23", NULL};
  cr_assert_eq(exit_status_of(code, "\"$0\" leak 1 && echo child-ok", NULL, &t), 23, "%s", t.r.err);
  cr_assert(zr_has_line(t.r.out, "child-ok"), "%s", t.r.out);
  cr_assert(strstr(t.r.err, "zalloc: exit status 23 (--exitcode): sh exited with 0"), "%s", t.r.err);
  run_free(&t.r);
  cr_assert_eq(exit_status_of(code, "\"$0\" double-free", NULL, &t), 23, "%s", t.r.err);
  run_free(&t.r);
  cr_assert_eq(exit_status_of(code, "\"$0\" clean; \"$0\" clean", NULL, &t), 0, "%s", t.r.err);
  run_free(&t.r);
  /* A failing program's own status is kept. */
  cr_assert_eq(exit_status_of(code, "\"$0\" leak 1; exit 5", NULL, &t), 5, "%s", t.r.err);
  run_free(&t.r);
  /* Off by default. */
  cr_assert_eq(exit_status_of(NULL, "\"$0\" leak 1; \"$0\" leak 1", NULL, &t), 0, "%s", t.r.err);
  run_free(&t.r);
  /* What a suppression file silences does not count, and the summary says it was there. */
  char *supp = zr_fmt("%s/ci.supp", t.dir), *opt = zr_fmt("--suppress=%s", supp);
  write_file(supp, "# a known leak\nleak:tree_planted_leak\n");
  const char *with_rules[] = {"--exitcode=23", opt, NULL};
  cr_assert_eq(exit_status_of(with_rules, "\"$0\" leak 1; \"$0\" leak 2", NULL, &t), 0, "%s", t.r.err);
  cr_assert(strstr(t.r.err, "zalloc:   suppressed: 0 heap errors and 2 leak groups (ZALLOC_SUPPRESS)"), "%s",
            t.r.err);
  cr_assert_null(strstr(t.r.err, "tree_planted_leak"), "%s", t.r.err);
  run_free(&t.r);
  /* A relative suppression file is found from the directory zalloc started in, even by a
   * process that changed directory. */
  const char *relative[] = {"--exitcode=23", "--suppress=ci.supp", NULL};
  cr_assert_eq(exit_status_of(relative, "cd / && \"$0\" leak 1", NULL, &t), 0, "%s", t.r.err);
  free(opt);
  free(supp);
  tree_end(&t);
}

/* ---- signals and hand-offs ---------------------------------------------------------------------- */

/* Signals sent to the wrapper reach the program: SIGUSR2 asks for an on-demand report, SIGTERM
 * ends it (the wrapper then ends by SIGTERM too). */
Test(tree, signals_sent_to_the_wrapper_reach_the_program) {
  tree_run_t t;
  tree_init(&t);
  const char *drive =
    "W=$1 P=$2 D=$3\n"
    "\"$W\" --log=\"$D/z.%p.log\" --report-signal=SIGUSR2 \"$P\" until \"$D/go\" >\"$D/out\" 2>\"$D/err\" & w=$!\n"
    "until grep -q waiting \"$D/out\" 2>/dev/null; do sleep 0.05; done\n"
    "kill -USR2 $w\n"
    "until grep -q 'on-demand report 1' \"$D\"/z.*.log 2>/dev/null; do sleep 0.05; done\n"
    "touch \"$D/go\"; wait $w; echo \"first=$?\"\n"
    "rm -f \"$D/go\" \"$D/out\"\n"
    "\"$W\" --log=\"$D/t.%p.log\" \"$P\" until \"$D/go\" >\"$D/out\" 2>\"$D/err2\" & w=$!\n"
    "until grep -q waiting \"$D/out\" 2>/dev/null; do sleep 0.05; done\n"
    "kill -TERM $w; wait $w; echo \"second=$?\"\n";
  char *script_path = zr_fmt("%s/drive.sh", t.dir);
  write_file(script_path, drive);
  tree_run(&t, (const char *const[]){"sh", script_path, WRAPPER, TREE_PROG, t.dir, NULL}, NULL);
  cr_assert(zr_has_line(t.r.out, "first=0") && zr_has_line(t.r.out, "second=143"), "%s\n%s", t.r.out, t.r.err);
  char *err2 = zr_fmt("%s/err2", t.dir), *text = slurp(err2, NULL);
  cr_assert(text && strstr(text, "killed by SIGTERM, no report"), "%s", text);
  free(text);
  free(err2);
  free(script_path);
  tree_end(&t);
}

/* Processes run by hand with ZALLOC_SUMMARY_DIR: zalloc --summary DIR prints their summary. */
Test(tree, summary_of_a_directory_filled_by_hand) {
  tree_run_t t;
  tree_init(&t);
  char *records = zr_fmt("%s/records", t.dir), *preload = zr_fmt("LD_PRELOAD=%s", zalloc_library());
  char *dirvar = zr_fmt("ZALLOC_SUMMARY_DIR=%s", records);
  cr_assert_eq(mkdir(records, 0700), 0);
  const char *env[] = {preload, dirvar, "ZALLOC_LOG=/dev/null", NULL};
  tree_run(&t, (const char *const[]){"sh", "-c", "\"$0\" leak 2; \"$0\" leak 2", TREE_PROG, NULL}, env);
  cr_assert_eq(t.r.status, 0);
  run_free(&t.r);
  tree_run(&t, (const char *const[]){WRAPPER, "--exitcode=3", "--summary", records, NULL}, NULL);
  cr_assert_eq(t.r.status, 3, "%s", t.r.err);
  cr_assert_eq(summary_processes(&t), 3, "%s", t.r.err);
  free(summary_item(&t, "definitely lost: 160 bytes in 4 blocks, in 2 processes (tree_prog x2"));
  free(dirvar);
  free(preload);
  free(records);
  tree_end(&t);
}

/* zalloc --oom-sweep hands everything after it to zalloc-oom-sweep beside the wrapper, with the
 * options given before it set and the library named; without the tool, a clear error. */
Test(tree, oom_sweep_is_handed_to_its_tool) {
  tree_run_t t;
  tree_init(&t);
  char *bin = zr_fmt("%s/bin", t.dir), *copy = zr_fmt("%s/zalloc", bin), *tool = zr_fmt("%s/zalloc-oom-sweep", bin);
  cr_assert_eq(mkdir(bin, 0700), 0);
  char *cp = zr_fmt("cp '%s' '%s'", WRAPPER, copy);
  cr_assert_eq(system(cp), 0);
  write_file(tool, "#!/bin/sh\necho \"args=$*\"\necho \"lib=$ZALLOC_LIBRARY\"\necho \"mode=$ZALLOC_MODE\"\n");
  cr_assert_eq(chmod(tool, 0755), 0);
  char *lib = zr_fmt("ZALLOC_LIBRARY=%s", zalloc_library());
  const char *env[] = {lib, NULL};
  tree_run(&t, (const char *const[]){copy, "--mode=arena", "--oom-sweep", "--from=3", "./prog", "x", NULL}, env);
  cr_assert_eq(t.r.status, 0, "%s", t.r.err);
  char *want = zr_fmt("args=--from=3 ./prog x\nlib=%s\nmode=arena\n", zalloc_library());
  cr_assert_str_eq(t.r.out, want);
  run_free(&t.r);
  cr_assert_eq(unlink(tool), 0);
  const char *no_path[] = {lib, "PATH=/nonexistent", NULL};
  tree_run(&t, (const char *const[]){copy, "--oom-sweep", "./prog", NULL}, no_path);
  cr_assert_eq(t.r.status, 127);
  cr_assert(strstr(t.r.err, "zalloc: --oom-sweep: cannot run zalloc-oom-sweep"), "%s", t.r.err);
  free(want);
  free(lib);
  free(cp);
  free(tool);
  free(copy);
  free(bin);
  tree_end(&t);
}

/* --format=json without --log: the kept reports are PID.json, one JSON document each, which
 * Python's json module reads; a relative TMPDIR still gives the processes an absolute place. */
Test(tree, json_reports_of_a_tree_are_kept_as_json) {
  tree_run_t t;
  tree_init(&t);
  const char *env[] = {"TMPDIR=tmp", NULL};
  tree_run(&t, (const char *const[]){WRAPPER, "--format=json", "sh", "-c", "cd / && \"$0\" leak 1; \"$0\" leak 2",
                                     TREE_PROG, NULL}, env);
  cr_assert_eq(t.r.status, 0, "%s", t.r.err);
  char *reports = zr_line_starting(t.r.err, "zalloc: reports: ");
  cr_assert(reports && strstr(reports, "/PID.json") && strncmp(reports + 17, t.tmp, strlen(t.tmp)) == 0, "%s",
            t.r.err);
  char *rundir = strndup(reports + 17, (size_t)(strstr(reports, "/PID.json") - reports - 17));
  char *check = zr_fmt("cd '%s' && [ $(ls | wc -l) = 2 ] && for f in *.json; do %s -c 'import json,sys; "
                       "d = json.load(open(sys.argv[1])); assert d[\"leaks\"][\"definitely_lost\"][\"blocks\"] > 0' "
                       "\"$f\" || exit 1; done", rundir, PYTHON3);
  cr_assert_eq(system(check), 0, "the kept reports in %s are not two JSON documents", rundir);
  free(check);
  free(rundir);
  free(reports);
  tree_end(&t);
}
