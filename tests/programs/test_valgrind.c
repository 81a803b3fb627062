/* zalloc's leak check against valgrind memcheck's, on the same real programs.
 *
 * Each test runs one workload twice with identical commands, inputs, working directory and
 * TMPDIR: first under `valgrind --leak-check=full --trace-children=yes --log-file=vg/vg.%p`,
 * then with libzalloc.so preloaded in its default mode (gpa) and ZALLOC_LOG=za/za.%p. Every
 * process of both runs leaves a log; the processes are matched by their command line
 * (valgrind's `Command:` line against zalloc's `zalloc report for <cmdline>` header; argv[0]
 * compared by its base name, gcc's random temporary names ignored, zalloc's line cut at 195
 * characters compared as a prefix, forked children only with forked children). Then, process
 * by process:
 *   - valgrind found nothing definitely lost: neither may zalloc;
 *   - otherwise zalloc's definitely lost bytes are at most valgrind's definitely plus possibly
 *     lost bytes (a pointer into the middle of a block reaches it for zalloc, where valgrind
 *     calls the block possibly lost);
 *   - zalloc's report has its leak check and no heap errors;
 *   - every process valgrind saw has its zalloc report, except dash's: dash leaves through
 *     _exit(), so zalloc writes no report for it (valgrind's summary is taken at exit_group).
 * The two runs' stdout, stderr and exit status must be the same too.
 *
 * Each test prints a table of the figures (bytes/blocks) to stdout, which ctest's log keeps.
 * Without valgrind the tests are skipped (scripts/deps.sh test installs it). The workloads are
 * small: valgrind runs programs some 20-50 times slower.
 *
 * ZA_KEEP_TMP=1 keeps the temporary directories (both runs' logs) for a look. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prog_common.h"
#include "spawn.h"

#define VALGRIND "/usr/bin/valgrind"
/* Per command, under valgrind on a loaded machine (gcc's cc1 is the slowest: ~25 s idle). */
#define VG_RUN_TIMEOUT 180
#define MAX_PROCS 128
#define MAX_STEPS 8

enum { RUN_VG, RUN_ZA };
static const char *const run_name[2] = {"valgrind", "zalloc"};

/* ---- one process's figures ---------------------------------------------------------------- */

typedef struct fig {
  size_t bytes, blocks;
} fig_t;

typedef struct proc {
  long pid, ppid;      /* ppid: valgrind's "Parent PID" (0 for zalloc) */
  char *cmd;           /* normalised command line (see normalise) */
  bool truncated;      /* zalloc cut the command line: cmd is a prefix */
  bool forked;         /* a forked child that did not exec */
  bool checked;        /* the log has leak figures */
  bool heap_errors;    /* zalloc: the report does not say "heap errors: none" */
  fig_t definite, indirect, possible;
  int match;           /* index into the other run's list, or -1 */
} proc_t;

typedef struct procs {
  proc_t p[MAX_PROCS];
  size_t n;
} procs_t;

/* The number at `s` ("16", "8,325"), or SIZE_MAX if there is none. */
static size_t parse_num(const char *s) {
  if (s == NULL || *s < '0' || *s > '9') return SIZE_MAX;
  size_t v = 0;
  for (; (*s >= '0' && *s <= '9') || *s == ','; s++)
    if (*s != ',') v = v * 10 + (size_t)(*s - '0');
  return v;
}

/* "<what> X bytes in N block(s)", searched for in [from, to) (valgrind's `what` ends in ':'). False if it is not there. */
static bool parse_fig(const char *from, const char *to, const char *what, fig_t *f) {
  const char *p = strstr(from, what);
  if (p == NULL || p >= to) return false;
  p += strlen(what);
  while (*p == ' ') p++;
  f->bytes = parse_num(p);
  const char *in = strstr(p, " bytes in ");
  if (f->bytes == SIZE_MAX || in == NULL || in >= to) return false;
  f->blocks = parse_num(in + strlen(" bytes in "));
  return f->blocks != SIZE_MAX;
}

/* A command line made comparable between the two tools: valgrind's "\ " escapes undone,
 * argv[0] by its base name (valgrind names the file it ran, zalloc shows argv[0]), and each
 * name under `tmpdir` reduced to `tmpdir`/"*" up to its extension (gcc's /tmp/ccXXXXXX.s). For
 * zalloc, a line that ends in " ..." was cut: it is dropped and *truncated set. */
static char *normalise(const char *line, size_t len, bool vg, const char *tmpdir,
                       bool *truncated) {
  char *s = malloc(len + 1);
  cr_assert(s != NULL);
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (vg && line[i] == '\\' && i + 1 < len) i++;
    s[n++] = line[i];
  }
  s[n] = '\0';
  *truncated = !vg && n >= 4 && strcmp(s + n - 4, " ...") == 0;
  if (*truncated) s[n -= 4] = '\0';
  size_t first = strcspn(s, " ");
  size_t base = first;
  while (base > 0 && s[base - 1] != '/') base--;
  memmove(s, s + base, n - base + 1);
  /* Temporary names: the rest is never longer than what it replaces. */
  size_t tlen = strlen(tmpdir);
  char *w = s;
  for (const char *r = s; *r;) {
    if (strncmp(r, tmpdir, tlen) == 0 && r[tlen] == '/') {
      memmove(w, r, tlen + 1);
      w += tlen + 1;
      r += tlen + 1;
      *w++ = '*';
      r += strcspn(r, " .");
    } else {
      *w++ = *r++;
    }
  }
  *w = '\0';
  return s;
}

static proc_t *new_proc(procs_t *ps, long pid) {
  cr_assert(ps->n < MAX_PROCS, "more than %d processes", MAX_PROCS);
  proc_t *p = &ps->p[ps->n++];
  memset(p, 0, sizeof *p);
  p->pid = pid;
  p->match = -1;
  return p;
}

/* A valgrind log: Command, Parent PID, and the LEAK SUMMARY (or "no leaks are possible"). */
static void parse_vg(const char *text, long pid, const char *tmpdir, procs_t *ps) {
  proc_t *p = new_proc(ps, pid);
  const char *c = strstr(text, "Command: ");
  cr_assert(c != NULL, "valgrind log of pid %ld has no Command line:\n%.2000s", pid, text);
  c += strlen("Command: ");
  bool cut;
  p->cmd = normalise(c, strcspn(c, "\n"), true, tmpdir, &cut);
  const char *pp = strstr(text, "Parent PID: ");
  p->ppid = pp ? strtol(pp + strlen("Parent PID: "), NULL, 10) : 0;
  const char *end = text + strlen(text), *sum;
  if (strstr(text, "All heap blocks were freed -- no leaks are possible")) {
    p->checked = true;
  } else if ((sum = strstr(text, "LEAK SUMMARY:")) != NULL) {
    p->checked = parse_fig(sum, end, "definitely lost:", &p->definite) &&
                 parse_fig(sum, end, "indirectly lost:", &p->indirect) &&
                 parse_fig(sum, end, "possibly lost:", &p->possible);
    cr_expect(p->checked, "valgrind log of pid %ld: unreadable LEAK SUMMARY:\n%.3000s", pid, text);
  }
}

/* A zalloc log: every report in it (a reused pid appends a second one). */
static void parse_za(const char *text, const char *tmpdir, procs_t *ps) {
  static const char tag[] = "zalloc report for ";
  for (const char *h = strstr(text, tag); h; h = strstr(h + 1, tag)) {
    const char *next = strstr(h + 1, tag), *end = next ? next : text + strlen(text);
    const char *cmd = h + strlen(tag), *eol = cmd + strcspn(cmd, "\n");
    const char *paren = NULL; /* the last " (pid " of the header line */
    for (const char *q = strstr(cmd, " (pid "); q && q < eol; q = strstr(q + 1, " (pid ")) paren = q;
    cr_assert(paren != NULL, "unreadable zalloc report header: %.*s", (int)(eol - h), h);
    proc_t *p = new_proc(ps, strtol(paren + strlen(" (pid "), NULL, 10));
    bool cut;
    p->cmd = normalise(cmd, (size_t)(paren - cmd), false, tmpdir, &cut);
    p->truncated = cut;
    const char *forked = strstr(paren, ", forked from pid ");
    p->forked = forked != NULL && forked < eol;
    const char *errs = strstr(eol, "heap errors: none");
    p->heap_errors = errs == NULL || errs >= end;
    const char *leaks = strstr(eol, "  leaks:       ");
    if (leaks == NULL || leaks >= end) continue;
    leaks += strlen("  leaks:       ");
    const char *leol = leaks + strcspn(leaks, "\n");
    if (strncmp(leaks, "none lost", 9) == 0)
      p->checked = true;
    else
      p->checked = parse_fig(leaks, leol, "definitely lost", &p->definite) &&
                   parse_fig(leaks, leol, "indirectly lost", &p->indirect);
  }
}

/* Every log "<prefix>.<pid>" in `dir`. */
static void read_logs(const char *dir, int which, const char *tmpdir, procs_t *ps) {
  memset(ps, 0, sizeof *ps);
  DIR *d = opendir(dir);
  cr_assert(d != NULL, "cannot open %s", dir);
  const char *prefix = which == RUN_VG ? "vg." : "za.";
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (strncmp(e->d_name, prefix, 3) != 0) continue;
    char *path = path_join(dir, e->d_name);
    char *text = slurp(path, NULL);
    cr_assert(text != NULL, "cannot read %s", path);
    if (which == RUN_VG) parse_vg(text, strtol(e->d_name + 3, NULL, 10), tmpdir, ps);
    else parse_za(text, tmpdir, ps);
    free(text);
    free(path);
  }
  closedir(d);
  /* valgrind: a forked child is a process whose parent ran the same command. */
  if (which == RUN_VG)
    for (size_t i = 0; i < ps->n; i++)
      for (size_t j = 0; j < ps->n; j++)
        if (ps->p[j].pid == ps->p[i].ppid && strcmp(ps->p[j].cmd, ps->p[i].cmd) == 0)
          ps->p[i].forked = true;
}

static bool same_process(const proc_t *vg, const proc_t *za) {
  if (vg->forked != za->forked) return false;
  if (za->truncated) return strncmp(vg->cmd, za->cmd, strlen(za->cmd)) == 0;
  return strcmp(vg->cmd, za->cmd) == 0;
}

/* Processes that leave through _exit(): valgrind checks them at exit_group, zalloc's report is
 * written from exit() and never comes. */
static bool leaves_through_exit_syscall(const proc_t *vg) {
  size_t n = strcspn(vg->cmd, " ");
  return (n == 2 && strncmp(vg->cmd, "sh", 2) == 0) || (n == 4 && strncmp(vg->cmd, "dash", 4) == 0);
}

/* Pair each valgrind process with a zalloc one of the same command. Among several with one
 * command line (the same command run twice), both sides are taken in increasing order of
 * definitely lost bytes. */
static void match(procs_t *vg, procs_t *za) {
  size_t order[MAX_PROCS];
  for (size_t i = 0; i < vg->n; i++) order[i] = i;
  for (size_t i = 1; i < vg->n; i++) /* insertion sort by definitely lost bytes */
    for (size_t k = i; k > 0 && vg->p[order[k]].definite.bytes < vg->p[order[k - 1]].definite.bytes; k--) {
      size_t t = order[k];
      order[k] = order[k - 1];
      order[k - 1] = t;
    }
  for (size_t oi = 0; oi < vg->n; oi++) {
    proc_t *v = &vg->p[order[oi]];
    int best = -1;
    for (size_t j = 0; j < za->n; j++) {
      const proc_t *z = &za->p[j];
      if (z->match >= 0 || !same_process(v, z)) continue;
      if (best < 0 || z->definite.bytes < za->p[best].definite.bytes) best = (int)j;
    }
    if (best >= 0) {
      v->match = best;
      za->p[best].match = (int)order[oi];
    }
  }
}

/* ---- the table ---------------------------------------------------------------------------- */

static void fmt_fig(char *buf, size_t cap, const fig_t *f, bool known) {
  if (known) snprintf(buf, cap, "%zu/%zu", f->bytes, f->blocks);
  else snprintf(buf, cap, "-");
}

static void table_row(FILE *t, const char *program, const proc_t *v, const proc_t *z,
                      const char *verdict) {
  char vd[32], vi[32], vp[32], zd[32], zi[32];
  fmt_fig(vd, sizeof vd, v ? &v->definite : NULL, v && v->checked);
  fmt_fig(vi, sizeof vi, v ? &v->indirect : NULL, v && v->checked);
  fmt_fig(vp, sizeof vp, v ? &v->possible : NULL, v && v->checked);
  fmt_fig(zd, sizeof zd, z ? &z->definite : NULL, z && z->checked);
  fmt_fig(zi, sizeof zi, z ? &z->indirect : NULL, z && z->checked);
  const char *cmd = v ? v->cmd : z->cmd;
  fprintf(t, "%-8s %-44.44s %14s %14s %16s %14s %14s  %s\n", program, cmd, vd, vi, vp, zd, zi,
          verdict);
}

/* ---- a workload, run both ways ------------------------------------------------------------ */

typedef struct vcase {
  const char *program;               /* the table's first column */
  const char *const *argv[MAX_STEPS]; /* the commands, in order (NULL-terminated list) */
  const char *const *env;            /* extra environment for both runs */
  void (*prepare)(const char *work); /* fills the fresh working directory before each run */
  void (*add_env)(strlist_t *env, const char *home); /* more environment, given the fresh HOME */
} vcase_t;

typedef struct vdirs {
  char *root, *work, *tmp, *home, *logs[2];
} vdirs_t;

static void skip_without_valgrind(void) {
  if (access(VALGRIND, X_OK) != 0)
    cr_skip_test("valgrind is not installed (" VALGRIND "): install the Debian package "
                 "'valgrind' (scripts/deps.sh test installs everything this suite needs)");
}

/* Run every command of `c` in `d->work`, under valgrind or zalloc. */
static void run_case(const vcase_t *c, const vdirs_t *d, int which, run_result_t *res) {
  /* The same fresh directories for both runs: same paths, same command lines. */
  remove_tree(d->work);
  remove_tree(d->home);
  make_dir(d->work);
  make_dir(d->home);
  if (c->prepare) c->prepare(d->work);

  strlist_t env = {0};
  extern char **environ;
  for (char **e = environ; *e; e++) /* whatever the runner's zalloc settings: the defaults */
    if (strncmp(*e, "ZALLOC_", 7) == 0) sl_add(&env, "%.*s=", (int)strcspn(*e, "="), *e);
  sl_add(&env, "TMPDIR=%s", d->tmp);
  sl_add(&env, "DEBUGINFOD_URLS=");
  if (which == RUN_ZA) {
    sl_add(&env, "LD_PRELOAD=%s", zalloc_library());
    sl_add(&env, "ZALLOC_LOG=%s/za.%%p", d->logs[RUN_ZA]);
  } else {
    sl_add(&env, "LD_PRELOAD=");
  }
  sl_add(&env, "HOME=%s", d->home);
  for (const char *const *e = c->env; e && *e; e++) sl_add(&env, "%s", *e);
  if (c->add_env) c->add_env(&env, d->home);

  for (size_t s = 0; c->argv[s]; s++) {
    strlist_t argv = {0};
    if (which == RUN_VG) {
      sl_add(&argv, VALGRIND);
      sl_add(&argv, "--leak-check=full");
      sl_add(&argv, "--trace-children=yes");
      sl_add(&argv, "--log-file=%s/vg.%%p", d->logs[RUN_VG]);
    }
    for (const char *const *a = c->argv[s]; *a; a++) sl_add(&argv, "%s", *a);
    cr_assert(run_program(&res[s], sl_argv(&argv), sl_argv(&env), NULL, d->work, VG_RUN_TIMEOUT),
              "could not start %s", argv.v[0]);
    cr_expect(!res[s].timed_out, "%s: %s under %s did not finish in %d s", c->program,
              c->argv[s][0], run_name[which], VG_RUN_TIMEOUT);
    sl_free(&argv);
  }
  sl_free(&env);
}

static void compare_outputs(const vcase_t *c, const run_result_t *vg, const run_result_t *za) {
  for (size_t s = 0; c->argv[s]; s++) {
    const char *what = c->argv[s][1] ? c->argv[s][1] : "";
    cr_expect(vg[s].status == 0, "%s (step %zu, %s): exit status %d under valgrind:\n%s",
              c->program, s + 1, what, vg[s].status, vg[s].err);
    cr_expect(vg[s].status == za[s].status, "%s (step %zu, %s): exit status %d under zalloc, %d "
              "under valgrind", c->program, s + 1, what, za[s].status, vg[s].status);
    cr_expect(vg[s].out_len == za[s].out_len && memcmp(vg[s].out, za[s].out, vg[s].out_len) == 0,
              "%s (step %zu, %s): stdout differs\n--- under valgrind:\n%.1500s\n--- under "
              "zalloc:\n%.1500s", c->program, s + 1, what, vg[s].out, za[s].out);
    cr_expect(vg[s].err_len == za[s].err_len && memcmp(vg[s].err, za[s].err, vg[s].err_len) == 0,
              "%s (step %zu, %s): stderr differs\n--- under valgrind:\n%.1500s\n--- under "
              "zalloc:\n%.1500s", c->program, s + 1, what, vg[s].err, za[s].err);
  }
}

/* Match the processes, check each pair, print the table. */
static void compare_leaks(const vcase_t *c, const vdirs_t *d) {
  static procs_t vg, za; /* large: not on the stack */
  read_logs(d->logs[RUN_VG], RUN_VG, d->tmp, &vg);
  read_logs(d->logs[RUN_ZA], RUN_ZA, d->tmp, &za);
  cr_expect(vg.n > 0, "%s: no valgrind logs in %s", c->program, d->logs[RUN_VG]);
  match(&vg, &za);

  char *table = NULL;
  size_t table_len = 0;
  FILE *t = open_memstream(&table, &table_len);
  cr_assert(t != NULL);
  fprintf(t, "\n%s: %zu processes under valgrind, %zu zalloc reports (bytes/blocks)\n",
          c->program, vg.n, za.n);
  fprintf(t, "%-8s %-44s %14s %14s %16s %14s %14s\n", "program", "process", "vg definitely",
          "vg indirectly", "vg possibly", "za definitely", "za indirectly");
  for (size_t i = 0; i < vg.n; i++) {
    const proc_t *v = &vg.p[i];
    const proc_t *z = v->match >= 0 ? &za.p[v->match] : NULL;
    const char *verdict = "ok";
    if (!v->checked) {
      verdict = "FAIL: no valgrind leak summary";
      cr_expect_fail("%s: valgrind's log of pid %ld (%s) has no leak summary (killed by a "
                     "signal?)", c->program, v->pid, v->cmd);
    } else if (z == NULL) {
      if (leaves_through_exit_syscall(v)) {
        verdict = "no zalloc report: leaves through _exit()";
      } else {
        verdict = "FAIL: no zalloc report";
        cr_expect_fail("%s: no zalloc report for the process valgrind saw as pid %ld: %s",
                       c->program, v->pid, v->cmd);
      }
    } else if (!z->checked) {
      verdict = "FAIL: no zalloc leak check";
      cr_expect_fail("%s: zalloc's report of pid %ld (%s) has no leak figures", c->program,
                     z->pid, z->cmd);
    } else if (v->definite.bytes == 0 && z->definite.blocks > 0) {
      verdict = "FAIL: zalloc lost, valgrind none";
      cr_expect_fail("%s: zalloc (pid %ld) reports %zu bytes in %zu blocks definitely lost, "
                     "valgrind (pid %ld) none, in: %s", c->program, z->pid, z->definite.bytes,
                     z->definite.blocks, v->pid, v->cmd);
    } else if (z->definite.bytes > v->definite.bytes + v->possible.bytes) {
      verdict = "FAIL: zalloc lost more";
      cr_expect_fail("%s: zalloc (pid %ld) reports %zu bytes definitely lost, more than "
                     "valgrind's (pid %ld) %zu definitely + %zu possibly, in: %s", c->program,
                     z->pid, z->definite.bytes, v->pid, v->definite.bytes, v->possible.bytes,
                     v->cmd);
    }
    if (z && z->heap_errors) {
      verdict = "FAIL: heap errors";
      cr_expect_fail("%s: zalloc's report of pid %ld (%s) has heap errors", c->program, z->pid,
                     z->cmd);
    }
    table_row(t, c->program, v, z, verdict);
  }
  for (size_t j = 0; j < za.n; j++) {
    const proc_t *z = &za.p[j];
    if (z->match >= 0) continue;
    table_row(t, c->program, NULL, z, "zalloc only");
    cr_expect(!z->heap_errors, "%s: zalloc's report of pid %ld (%s) has heap errors", c->program,
              z->pid, z->cmd);
  }
  fclose(t);
  fputs(table, stdout);
  fflush(stdout);
  free(table);
  for (size_t i = 0; i < vg.n; i++) free(vg.p[i].cmd);
  for (size_t j = 0; j < za.n; j++) free(za.p[j].cmd);
}

static void run_vcase(const vcase_t *c) {
  skip_without_valgrind();
  for (size_t s = 0; c->argv[s]; s++) require(c->argv[s][0], c->program);
  vdirs_t d;
  d.root = make_temp_dir("prog-vg");
  cr_assert(d.root != NULL);
  d.work = path_join(d.root, "work");
  d.tmp = path_join(d.root, "tmp");
  d.home = path_join(d.root, "home");
  d.logs[RUN_VG] = path_join(d.root, "vg");
  d.logs[RUN_ZA] = path_join(d.root, "za");
  make_dir(d.tmp);
  make_dir(d.logs[RUN_VG]);
  make_dir(d.logs[RUN_ZA]);
  run_result_t res[2][MAX_STEPS];
  run_case(c, &d, RUN_VG, res[RUN_VG]);
  run_case(c, &d, RUN_ZA, res[RUN_ZA]);
  compare_outputs(c, res[RUN_VG], res[RUN_ZA]);
  compare_leaks(c, &d);
  for (size_t s = 0; c->argv[s]; s++) {
    run_free(&res[RUN_VG][s]);
    run_free(&res[RUN_ZA][s]);
  }
  free(d.work);
  free(d.tmp);
  free(d.home);
  free(d.logs[RUN_VG]);
  free(d.logs[RUN_ZA]);
  cleanup(d.root);
}

/* ---- the programs ------------------------------------------------------------------------- */

#define CMD(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(valgrind, ls) {
  static const char *const env[] = {"LC_ALL=C", "TZ=UTC", "LS_COLORS=", "COLUMNS=80", NULL};
  vcase_t c = {.program = "ls", .argv = {CMD("/bin/ls", "-la", "/usr/lib")}, .env = env};
  run_vcase(&c);
}

static void prepare_sort(const char *work) {
  char *input = path_join(work, "input.txt");
  make_sort_input(input, 20000);
  free(input);
}

Test(valgrind, sort) {
  static const char *const env[] = {"LC_ALL=C", NULL};
  vcase_t c = {.program = "sort", .argv = {CMD("/usr/bin/sort", "-k2", "input.txt")}, .env = env,
               .prepare = prepare_sort};
  run_vcase(&c);
}

/* One line (zalloc shows a newline in an argument as a space, valgrind as itself): pipelines,
 * subshells and command substitutions; every pipeline's last command reads all its input, so
 * nothing dies of SIGPIPE before its report. */
Test(valgrind, sh) {
  static const char *const env[] = {"LC_ALL=C", NULL};
  vcase_t c = {.program = "sh",
               .argv = {CMD("/bin/sh", "-c",
                    "seq 1 2000 | sort -rn | sed -n '1,3p'; (cd /usr; ls | wc -l); "
                    "n=$(seq 1 500 | wc -l); echo \"n=$n\"; "
                    "x=$( (echo b; echo a; echo b) | sort | uniq -c | tr a-z A-Z); echo \"$x\"; "
                    "seq 1 3000 | awk '{ s += $1 } END { print s }'; echo done")},
               .env = env};
  run_vcase(&c);
}

Test(valgrind, perl) {
  static const char *const env[] = {"PERL_HASH_SEED=0", "PERL_PERTURB_KEYS=0", "LC_ALL=C", NULL};
  vcase_t c = {.program = "perl",
               .argv = {CMD("/usr/bin/perl", "-e",
                    "my %h; for my $i (1..30000) { $h{\"k$i\"} = [$i, \"v\" x ($i % 7)]; } "
                    "my $n = 0; for my $k (sort keys %h) { $n += $h{$k}[0] + length $h{$k}[1]; } "
                    "delete $h{\"k$_\"} for 1..10000; print scalar(keys %h), \" $n\\n\";")},
               .env = env};
  run_vcase(&c);
}

/* scripts/python_threads.py at 3000 items a thread: four threads of json and dicts, and a
 * forked child. /usr/bin/python3, not whatever python3 is first in PATH (a pyenv shim is a
 * shell script). */
Test(valgrind, python3_threads) {
  static const char *const env[] = {"PYTHONMALLOC=malloc", "PYTHONHASHSEED=0",
                                    "PYTHONDONTWRITEBYTECODE=1", "LC_ALL=C", NULL};
  char *script = script_path("python_threads.py");
  vcase_t c = {.program = "python3", .argv = {CMD("/usr/bin/python3", "-s", script, "3000")},
               .env = env};
  run_vcase(&c);
  free(script);
}

static void prepare_gcc(const char *work) {
  char *src = script_path("gcc_prog.c"), *to = path_join(work, "prog.c");
  copy_file(src, to);
  free(src);
  free(to);
}

/* gcc, cc1, as, collect2 and ld; their temporary files under TMPDIR. */
Test(valgrind, gcc) {
  static const char *const env[] = {"LC_ALL=C", "GCC_COLORS=", NULL};
  vcase_t c = {.program = "gcc", .argv = {CMD("/usr/bin/gcc", "-O2", "-o", "prog", "prog.c")},
               .env = env, .prepare = prepare_gcc};
  run_vcase(&c);
}

static void prepare_git(const char *work) {
  for (int i = 0; i < 6; i++) {
    char name[32], text[128];
    snprintf(name, sizeof name, "file%d.txt", i);
    snprintf(text, sizeof text, "file %d\nline two of %d\n", i, i);
    char *p = path_join(work, name);
    write_str(p, text);
    free(p);
  }
}

Test(valgrind, git) {
  vcase_t c = {.program = "git",
               .argv = {CMD("/usr/bin/git", "init", "-q", "-b", "main", "."), CMD("/usr/bin/git", "add", "."),
                CMD("/usr/bin/git", "commit", "-q", "-m", "first commit"),
                CMD("/usr/bin/git", "log", "--stat")},
               .prepare = prepare_git, .add_env = git_env};
  run_vcase(&c);
}
