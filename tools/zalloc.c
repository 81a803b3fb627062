/* zalloc - the wrapper: run a program, or a whole tree of processes, with libzalloc.so
 * preloaded, and end with one summary.
 *
 *   zalloc [options] [--] program [args...]
 *   zalloc --summary DIR
 *   zalloc [options] --oom-sweep [args...]
 *
 * Options come from the option table in src/options.c (as do `zalloc --help` and zalloc(1)):
 * each sets its ZALLOC_* variable for the tree, and is checked here first with the library's
 * own parser, so a bad value stops before anything runs, with the library's message.
 *
 * A run: a fresh directory (mkdtemp) with a records folder for ZALLOC_SUMMARY_DIR (src/tree.h:
 * every process image records its start there and leaves its final report as JSON), and, unless
 * --log (or ZALLOC_LOG) says otherwise, the reports themselves as DIR/PID.log. The program runs
 * as our child; we become the tree's subreaper, so orphans (a parent killed by SIGKILL, a
 * daemonising helper) are reparented to us and waited for too, and their statuses known. Then:
 * a program that ran alone with the default log gets its report printed on stderr, as without
 * the wrapper; a tree (or reports that went to files) gets the summary (tools/summary.h).
 *
 * The wrapper is never run under libzalloc.so itself; it allocates with the C library. */
#define _GNU_SOURCE
#include "options.h"
#include "summary.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ZALLOC_VERSION
#define ZALLOC_VERSION "?"
#endif
#ifndef ZALLOC_INSTALLED_LIBRARY
#define ZALLOC_INSTALLED_LIBRARY "/usr/local/lib/libzalloc.so"
#endif

extern char **environ;

static _Noreturn void usage_error(const char *fmt, const char *arg) {
  fputs("zalloc: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("; usage: zalloc [options] [--] program [args...] (zalloc --help lists the options)\n", stderr);
  exit(2);
}

static char *xstrdup(const char *s) {
  char *d = strdup(s);
  if (!d) {
    fputs("zalloc: out of memory\n", stderr);
    exit(2);
  }
  return d;
}

/* ---- where things are ------------------------------------------------------------------------ */

/* The directory this executable is in. */
static void self_dir(char *out, size_t cap) {
  ssize_t n = readlink("/proc/self/exe", out, cap - 1);
  if (n <= 0) n = 0;
  out[n] = '\0';
  char *slash = strrchr(out, '/');
  if (slash) *slash = '\0';
  else snprintf(out, cap, ".");
}

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* $ZALLOC_LIBRARY, else libzalloc.so beside us (a build tree), else the installed one; made
 * absolute, so that children that change directory still find it. */
static char *library_path(void) {
  char buf[PATH_MAX], dir[PATH_MAX];
  const char *lib = getenv("ZALLOC_LIBRARY");
  if (!lib || !*lib) {
    self_dir(dir, sizeof dir);
    snprintf(buf, sizeof buf, "%s/libzalloc.so", dir);
    lib = is_file(buf) ? buf : ZALLOC_INSTALLED_LIBRARY;
  }
  char resolved[PATH_MAX];
  if (!realpath(lib, resolved)) {
    fprintf(stderr, "zalloc: cannot find the library %s (%s); set ZALLOC_LIBRARY to libzalloc.so\n", lib,
            strerror(errno));
    exit(2);
  }
  return xstrdup(resolved);
}

/* The program as execvp would find it, or NULL (errno set). */
static char *find_program(const char *name) {
  if (strchr(name, '/')) {
    if (access(name, X_OK) != 0) return NULL;
    return xstrdup(name);
  }
  const char *path = getenv("PATH");
  char *copy = xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
  int err = ENOENT;
  for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
    char candidate[PATH_MAX];
    snprintf(candidate, sizeof candidate, "%s/%s", *dir ? dir : ".", name);
    if (is_file(candidate) && access(candidate, X_OK) == 0) {
      free(copy);
      return xstrdup(candidate);
    }
    if (is_file(candidate)) err = EACCES;
  }
  free(copy);
  errno = err;
  return NULL;
}

/* ---- statically linked programs --------------------------------------------------------------- */

/* 1: an ELF file with no program interpreter (LD_PRELOAD cannot reach it); 0: dynamically
 * linked or not ELF; for a script, its interpreter is judged instead ("#!/usr/bin/env prog"
 * included). `what` gets the file judged. */
static int is_static(const char *path, char *what, size_t cap, int depth) {
  snprintf(what, cap, "%s", path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  unsigned char head[256];
  ssize_t n = read(fd, head, sizeof head - 1);
  if (n >= 2 && head[0] == '#' && head[1] == '!' && depth < 4) {
    close(fd);
    head[n] = '\0';
    char *line = (char *)head + 2;
    line[strcspn(line, "\n")] = '\0';
    char *save = NULL, *interp = strtok_r(line, " \t", &save), *arg = strtok_r(NULL, " \t", &save);
    if (!interp) return 0;
    char *resolved = NULL;
    if (!strcmp(interp + (strrchr(interp, '/') ? strrchr(interp, '/') - interp + 1 : 0), "env") && arg)
      resolved = find_program(arg);
    else
      resolved = xstrdup(interp);
    int r = resolved ? is_static(resolved, what, cap, depth + 1) : 0;
    free(resolved);
    return r;
  }
  bool elf = n >= (ssize_t)sizeof(Elf64_Ehdr) && memcmp(head, ELFMAG, SELFMAG) == 0;
  int result = 0;
  if (elf && (head[EI_CLASS] == ELFCLASS64 || head[EI_CLASS] == ELFCLASS32)) {
    bool is64 = head[EI_CLASS] == ELFCLASS64;
    Elf64_Ehdr e64;
    Elf32_Ehdr e32;
    memcpy(&e64, head, sizeof e64);
    memcpy(&e32, head, sizeof e32);
    unsigned type = is64 ? e64.e_type : e32.e_type, phnum = is64 ? e64.e_phnum : e32.e_phnum;
    unsigned phentsize = is64 ? e64.e_phentsize : e32.e_phentsize;
    uint64_t phoff = is64 ? e64.e_phoff : e32.e_phoff;
    /* An executable (or a static PIE) without a PT_INTERP header; p_type is the first word of a
     * program header in both classes. */
    result = type == ET_EXEC || type == ET_DYN;
    for (unsigned i = 0; result && i < phnum; i++) {
      uint32_t p_type;
      if (pread(fd, &p_type, sizeof p_type, (off_t)(phoff + (uint64_t)i * phentsize)) != sizeof p_type) result = 0;
      else if (p_type == PT_INTERP) result = 0;
    }
  }
  close(fd);
  return result;
}

/* ---- options ---------------------------------------------------------------------------------- */

typedef struct config {
  int exitcode;                 /* --exitcode: applied to the tree's end; 0 off */
  bool log_given;               /* --log or ZALLOC_LOG */
  char *log;                    /* as the processes get it (absolute) */
  char *suppress;               /* --suppress files joined with ':' */
  char *summary_of;             /* --summary DIR */
  bool oom_sweep;
} config_t;

/* A relative path made absolute from our directory ("stderr" stays). */
static char *absolute(const char *path) {
  if (path[0] == '/' || !strcmp(path, "stderr")) return xstrdup(path);
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return xstrdup(path);
  char *abs;
  if (asprintf(&abs, "%s/%s", cwd, path) < 0) exit(2);
  return abs;
}

/* The variables for the program, set only in the process that runs it (the wrapper's own
 * helpers, such as dpkg-query for the hints, must not run under zalloc). */
static struct {
  char *name, *value;
} settings[64];
static size_t nsettings;

static void set(const char *variable, const char *value) {
  for (size_t i = 0; i < nsettings; i++)
    if (!strcmp(settings[i].name, variable)) {
      free(settings[i].value);
      settings[i].value = xstrdup(value);
      return;
    }
  if (nsettings == sizeof settings / sizeof settings[0]) exit(2);
  settings[nsettings].name = xstrdup(variable);
  settings[nsettings++].value = xstrdup(value);
}

/* In the child, before exec. */
static void apply_settings(void) {
  for (size_t i = 0; i < nsettings; i++)
    if (setenv(settings[i].name, settings[i].value, 1) != 0) {
      fprintf(stderr, "zalloc: cannot set %s (%s)\n", settings[i].name, strerror(errno));
      _exit(2);
    }
}

/* Apply one table option: check the value as the library would, then set it. */
static void apply(config_t *c, const za_wrapper_option_t *w, const char *value) {
  char err[1024];
  char *joined = NULL;
  if (!strcmp(w->variable, "ZALLOC_SUPPRESS") && c->suppress) {
    if (asprintf(&joined, "%s:%s", c->suppress, value) < 0) exit(2);
    value = joined;
  }
  if (!za_options_check(w->variable, value, err, sizeof err)) {
    const char *msg = strncmp(err, "zalloc: ", 8) ? err : err + 8;
    fprintf(stderr, "zalloc: %s: %s\n", w->flag, msg);
    exit(2);
  }
  if (!strcmp(w->variable, "ZALLOC_EXITCODE")) {
    c->exitcode = atoi(value);
  } else if (!strcmp(w->variable, "ZALLOC_LOG")) {
    free(c->log);
    c->log = absolute(value);
    c->log_given = true;
  } else if (!strcmp(w->variable, "ZALLOC_SUPPRESS")) {
    /* Files are read by every process, from its own directory: made absolute here. */
    char *abs = NULL, *copy = xstrdup(value), *save = NULL;
    for (char *f = strtok_r(copy, ":", &save); f; f = strtok_r(NULL, ":", &save)) {
      char *a = absolute(f), *next;
      if (asprintf(&next, "%s%s%s", abs ? abs : "", abs ? ":" : "", a) < 0) exit(2);
      free(a);
      free(abs);
      abs = next;
    }
    free(copy);
    free(c->suppress);
    c->suppress = abs ? abs : xstrdup("");
  }
  if (w->exported && strcmp(w->variable, "ZALLOC_LOG") && strcmp(w->variable, "ZALLOC_SUPPRESS"))
    set(w->variable, value);
  free(joined);
}

static void print_help(void) {
  char buf[8192];
  za_out_t o;
  za_out_init(&o, 1, buf, sizeof buf);
  za_options_write_help(&o, 79);
  za_out_flush(&o);
}

/* The index of the first argument that is the program (argc when none). */
static int parse_args(config_t *c, int argc, char **argv) {
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) return i + 1;
    if (a[0] != '-' || !a[1]) return i;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      print_help();
      exit(0);
    }
    if (!strcmp(a, "--version")) {
      printf("zalloc %s\n", ZALLOC_VERSION);
      exit(0);
    }
    if (!strcmp(a, "--oom-sweep")) {
      c->oom_sweep = true;
      return i + 1;
    }
    if (!strncmp(a, "--summary", 9) && (a[9] == '=' || !a[9])) {
      if (a[9] == '=') c->summary_of = xstrdup(a + 10);
      else if (i + 1 < argc) c->summary_of = xstrdup(argv[++i]);
      else usage_error("%s needs a directory", a);
      continue;
    }
    const char *eq = strchr(a, '=');
    size_t flen = eq ? (size_t)(eq - a) : strlen(a);
    za_wrapper_option_t w;
    bool found = false;
    for (size_t k = 0; !found && za_options_wrapper(k, &w); k++) {
      if (strlen(w.flag) != flen || strncmp(w.flag, a, flen)) continue;
      found = true;
      const char *value = eq ? eq + 1 : NULL;
      if (!value && !w.metavar) value = "1";
      if (!value && i + 1 < argc) value = argv[++i];
      if (!value) usage_error("%s needs a value", a);
      apply(c, &w, value);
    }
    if (!found) usage_error("unknown option %s", a);
  }
  return i;
}

/* ---- hand-offs ---------------------------------------------------------------------------------- */

/* zalloc --oom-sweep ARGS: zalloc-oom-sweep, beside us or on PATH, with the library found. */
static _Noreturn void oom_sweep(int argc, char **argv, int first, const char *lib) {
  char dir[PATH_MAX], tool[PATH_MAX + 32];
  self_dir(dir, sizeof dir);
  snprintf(tool, sizeof tool, "%s/zalloc-oom-sweep", dir);
  char **args = calloc((size_t)(argc - first + 2), sizeof *args);
  args[0] = "zalloc-oom-sweep";
  for (int i = first; i < argc; i++) args[i - first + 1] = argv[i];
  set("ZALLOC_LIBRARY", lib);
  apply_settings();
  if (access(tool, X_OK) == 0) execv(tool, args);
  execvp("zalloc-oom-sweep", args);
  fprintf(stderr, "zalloc: --oom-sweep: cannot run zalloc-oom-sweep (%s); it is installed beside zalloc\n",
          strerror(errno));
  exit(127);
}

/* ---- running the tree ---------------------------------------------------------------------------- */

typedef struct reaped {
  int pid, status;
} reaped_t;

static volatile sig_atomic_t top_pid;

/* Signals meant for the program reach it: a CI timeout that kills us, a terminal hang-up, or a
 * user asking our pid for an on-demand report. */
static void forward(int signo) {
  if (top_pid > 0) kill(top_pid, signo);
}

static const int forwarded[] = {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGPWR, SIGWINCH};

/* The children we still have, for the note about orphans. */
static size_t children_left(int *pids, size_t max) {
  size_t n = 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d/children", getpid(), getpid());
  FILE *f = fopen(path, "r");
  for (int pid; f && fscanf(f, "%d", &pid) == 1;)
    if (n++ < max) pids[n - 1] = pid;
  if (f) fclose(f);
  return n;
}

/* Run the program; every status we reap; *top: the program's pid. */
static reaped_t *run_tree(char **argv, const char *path, size_t *nreaped, int *top) {
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "zalloc: cannot start %s (%s)\n", argv[0], strerror(errno));
    exit(2);
  }
  if (pid == 0) {
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    sigprocmask(SIG_SETMASK, &old, NULL);
    apply_settings();
    execv(path, argv);
    fprintf(stderr, "zalloc: cannot run %s (%s)\n", path, strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  top_pid = pid;
  *top = pid;
  /* A Ctrl-C reaches the whole process group: the program decides; we stay for the summary. */
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  struct sigaction sa = {.sa_handler = forward};
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaction(forwarded[i], &sa, NULL);
  sigprocmask(SIG_SETMASK, &old, NULL);
  reaped_t *r = NULL;
  size_t n = 0;
  bool top_done = false;
  for (;;) {
    int st;
    pid_t w = waitpid(-1, &st, __WALL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) break;
    r = realloc(r, (n + 1) * sizeof *r);
    r[n++] = (reaped_t){w, st};
    if (w == pid) {
      top_done = true;
      top_pid = 0;
      int pids[8];
      size_t left = children_left(pids, 8);
      if (left) {
        fprintf(stderr, "zalloc: %s has ended; waiting for the %zu process%s it left running (pid%s", argv[0],
                left, left == 1 ? "" : "es", left == 1 ? "" : "s");
        for (size_t k = 0; k < left && k < 8; k++) fprintf(stderr, "%s %d", k ? "," : "", pids[k]);
        fprintf(stderr, "%s) for the summary\n", left > 8 ? ", ..." : "");
      }
    }
  }
  if (!top_done) {
    fprintf(stderr, "zalloc: lost track of %s\n", argv[0]);
    exit(2);
  }
  *nreaped = n;
  return r;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void remove_tree(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* Copy a file to stderr. */
static void cat(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  char buf[65536];
  fflush(stderr);
  for (size_t k; (k = fread(buf, 1, sizeof buf, f)) > 0;)
    if (fwrite(buf, 1, k, stderr) != k) break;
  fclose(f);
  fflush(stderr);
}

/* In the default log directory: the reports of the processes with nothing to say go. */
static size_t prune_logs(const char *dir, const zs_tree_t *t) {
  size_t kept = 0;
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
    int pid, used = 0;
    if (sscanf(e->d_name, "%d.%n", &pid, &used) != 1 || (strcmp(e->d_name + used, "log") && strcmp(e->d_name + used, "json")))
      continue;
    bool keep = false;
    for (size_t i = 0; i < t->n && !keep; i++) keep = t->images[i].pid == pid && zs_notable(&t->images[i]);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (keep) kept++;
    else unlink(path);
  }
  if (d) closedir(d);
  return kept;
}

/* End as the program ended: its status, or its signal (without a core dump of our own). */
static _Noreturn void end_like(int status, int exitcode_applied) {
  fflush(NULL);
  if (exitcode_applied) exit(exitcode_applied);
  if (WIFEXITED(status)) exit(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int signo = WTERMSIG(status);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    signal(signo, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(signo);
  }
  exit(128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
}

int main(int argc, char **argv) {
  config_t c = {0};
  const char *env_log = getenv("ZALLOC_LOG");
  if (env_log && *env_log) {
    c.log = absolute(env_log);
    c.log_given = true;
  }
  int first = parse_args(&c, argc, argv);
  if (c.summary_of) {
    if (first < argc) usage_error("--summary runs nothing: %s is one argument too many", argv[first]);
    zs_tree_t t;
    char err[4200];
    if (!zs_load(&t, c.summary_of, err, sizeof err)) {
      fprintf(stderr, "%s\n", err);
      return 2;
    }
    zs_print(stderr, &t, c.log_given ? c.log : NULL);
    int status = c.exitcode && zs_has_errors(&t) ? c.exitcode : 0;
    zs_free(&t);
    return status;
  }
  char *lib = library_path();
  if (c.oom_sweep) {
    if (c.log) set("ZALLOC_LOG", c.log);
    if (c.suppress) set("ZALLOC_SUPPRESS", c.suppress);
    oom_sweep(argc, argv, first, lib);
  }
  if (first >= argc) usage_error("%s", "no program given");
  char *path = find_program(argv[first]);
  if (!path) {
    fprintf(stderr, "zalloc: %s: %s\n", argv[first], errno == EACCES ? "not executable" : "command not found");
    return errno == EACCES ? 126 : 127;
  }
  char judged[PATH_MAX];
  if (is_static(path, judged, sizeof judged, 0)) {
    fprintf(stderr, "zalloc: %s is statically linked; LD_PRELOAD cannot reach its malloc, so zalloc would "
                    "see nothing\n", judged);
    return 2;
  }

  /* The run's directory: records for the summary, and the reports by default. */
  const char *tmp = getenv("TMPDIR");
  char dir[PATH_MAX], records[PATH_MAX + 16], logs[PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s/zalloc.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    fprintf(stderr, "zalloc: cannot make a directory for the run's reports in %s (%s); set TMPDIR\n",
            tmp && *tmp ? tmp : "/tmp", strerror(errno));
    return 2;
  }
  char *abs_dir = absolute(dir);   /* TMPDIR may be relative; processes change directory */
  snprintf(dir, sizeof dir, "%s", abs_dir);
  free(abs_dir);
  snprintf(records, sizeof records, "%s/records", dir);
  if (mkdir(records, 0700) != 0) {
    fprintf(stderr, "zalloc: cannot make %s (%s)\n", records, strerror(errno));
    return 2;
  }
  /* The reports' own format decides the name: PID.log, or PID.json for ZALLOC_FORMAT=json. */
  const char *format = getenv("ZALLOC_FORMAT");
  for (size_t i = 0; i < nsettings; i++)
    if (!strcmp(settings[i].name, "ZALLOC_FORMAT")) format = settings[i].value;
  const char *ext = format && !strcmp(format, "json") ? "json" : "log";
  snprintf(logs, sizeof logs, "%s/%%p.%s", dir, ext);
  set("ZALLOC_SUMMARY_DIR", records);
  set("ZALLOC_LOG", c.log_given ? c.log : logs);
  if (c.suppress) set("ZALLOC_SUPPRESS", c.suppress);
  const char *preload = getenv("LD_PRELOAD");
  char *value;
  if (asprintf(&value, "%s%s%s", lib, preload && *preload ? ":" : "", preload ? preload : "") < 0) return 2;
  set("LD_PRELOAD", value);

  size_t nreaped;
  int top;
  reaped_t *reaped = run_tree(argv + first, path, &nreaped, &top);
  int status = 0;
  for (size_t i = 0; i < nreaped; i++)
    if (reaped[i].pid == top) status = reaped[i].status;

  zs_tree_t t;
  char err[4200];
  int applied = 0;
  if (!zs_load(&t, records, err, sizeof err)) {
    /* The program never started under zalloc: a bad setting stopped it (the library said why),
     * or it could not be run. */
    if (!(WIFEXITED(status) && (WEXITSTATUS(status) == 2 || WEXITSTATUS(status) >= 126)))
      fprintf(stderr, "zalloc: no process of %s ran under zalloc (did it drop LD_PRELOAD?)\n", argv[first]);
    remove_tree(dir);
    end_like(status, 0);
  }
  for (size_t i = 0; i < nreaped; i++) zs_set_status(&t, reaped[i].pid, reaped[i].status);
  if (c.exitcode && WIFEXITED(status) && WEXITSTATUS(status) == 0 && zs_has_errors(&t)) applied = c.exitcode;

  bool alone = zs_processes(&t) == 1;
  bool to_stderr = c.log_given && !strcmp(c.log, "stderr");
  fflush(stdout);
  if (!c.log_given && alone) {
    /* As without the wrapper: the report on stderr (or, when there is none, why). */
    const zs_image_t *im = &t.images[0];
    for (size_t i = 0; i < t.n; i++)
      if (!t.images[i].replaced) im = &t.images[i];
    char one[PATH_MAX + 32];
    snprintf(one, sizeof one, "%s/%d.%s", dir, im->pid, ext);
    if (im->report) {
      cat(one);
      zs_print_hints(stderr, &t, true);
    } else {
      zs_print(stderr, &t, NULL);
    }
    remove_tree(dir);
  } else if (!alone || !to_stderr) {
    size_t kept = c.log_given ? 0 : prune_logs(dir, &t);
    zs_print(stderr, &t, c.log_given ? (to_stderr ? NULL : c.log) : kept ? logs : NULL);
    if (kept) remove_tree(records);
    else remove_tree(dir);
  } else {
    remove_tree(dir);
  }
  if (applied)
    fprintf(stderr, "zalloc: exit status %d (--exitcode): %s exited with 0 but the tree had heap errors or "
                    "definitely lost blocks\n", applied, argv[first]);
  zs_free(&t);
  end_like(status, applied);
}
