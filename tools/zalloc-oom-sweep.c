/* zalloc-oom-sweep: try a program's handling of out-of-memory at every allocation it makes
 * (Zig's checkAllAllocationFailures, for an unmodified binary). `zalloc --oom-sweep` hands
 * over to this program.
 *
 *   zalloc-oom-sweep [--jobs N] [--max-runs N] [--timeout S] [--json] [--keep] [--] PROGRAM ARGS
 *
 * 1. The count: PROGRAM runs once under libzalloc.so (the GPA) with ZALLOC_FAIL_SITES set, and
 *    writes the census of its allocation calls (src/fail.c): how many, and each one's stack.
 *    Its report is the baseline (the leaks and heap errors the program has anyway).
 * 2. The runs: one per allocation call with that call failing (ZALLOC_FAIL_AT=N); above
 *    --max-runs, the first call of every distinct allocation stack, then calls spread evenly
 *    over the run up to --max-runs in all (every stack still gets its run). --jobs at a time.
 * 3. Each run is judged from its exit status and its JSON report: it passes when the program
 *    failed cleanly (any exit status: an error message and a nonzero status, or a handled
 *    failure) with no heap error and no leak that the baseline did not have; it fails when it
 *    crashed (a fatal signal), hung (--timeout), corrupted the heap (a new heap error) or
 *    leaked (a new definitely lost group). A run whose failing call was never reached (the
 *    program allocated differently) is counted apart.
 * 4. Failing runs are grouped by the stack of the call that failed: each stack is reported
 *    once, with what went wrong and the command that reproduces it. A summary table closes the
 *    output (or one JSON document with --json). Exit status: 0 when every run passed, 1 when
 *    some stack failed, 2 when the sweep itself could not run (usage, the count run).
 *
 * Standard input, when it is not a terminal, is read once and given to every run. Runs write
 * their output and reports in a temporary directory, removed at the end unless --keep. The
 * program should allocate the same way every time (one thread, the same input); each process
 * it starts counts its own calls and fails the same call number. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static _Noreturn void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("zalloc --oom-sweep: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) die("out of memory");
  return p;
}

static char *xstrdup(const char *s) {
  char *d = strdup(s);
  if (!d) die("out of memory");
  return d;
}

__attribute__((format(printf, 1, 2))) static char *fmt(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  char *s = NULL;
  if (vasprintf(&s, f, ap) < 0) die("out of memory");
  va_end(ap);
  return s;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 65536, n = 0;
  char *buf = xcalloc(1, cap + 1);
  for (size_t got; (got = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += got;
    if (n == cap) {
      char *nb = realloc(buf, 2 * cap + 1);
      if (!nb) die("out of memory");
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

/* ---- a small JSON reader (the reports) ----------------------------------------------------------- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype_t;
typedef struct jval {
  jtype_t t;
  double num;
  bool b;
  char *str;
  struct jval *items;    /* array elements or object values */
  char **keys;           /* object keys */
  size_t n;
} jval_t;

typedef struct { const char *p; bool bad; } jpar_t;

static void jspace(jpar_t *j) { while (*j->p && isspace((unsigned char)*j->p)) j->p++; }

static char *jstring(jpar_t *j) {
  if (*j->p != '"') {
    j->bad = true;
    return xstrdup("");
  }
  j->p++;
  size_t cap = 32, n = 0;
  char *s = xcalloc(1, cap);
  for (; *j->p && *j->p != '"'; j->p++) {
    if (n + 8 >= cap) {
      char *ns = realloc(s, cap *= 2);
      if (!ns) die("out of memory");
      s = ns;
    }
    char c = *j->p;
    if (c == '\\') {
      c = *++j->p;
      if (c == 'n') c = '\n';
      else if (c == 't') c = '\t';
      else if (c == 'r') c = '\r';
      else if (c == 'b') c = '\b';
      else if (c == 'f') c = '\f';
      else if (c == 'u') {   /* the reports escape control characters only: keep one byte */
        unsigned v = 0;
        for (int k = 0; k < 4 && isxdigit((unsigned char)j->p[1]); k++) {
          j->p++;
          v = v * 16 + (unsigned)(isdigit((unsigned char)*j->p) ? *j->p - '0' : (tolower(*j->p) - 'a' + 10));
        }
        c = v < 128 ? (char)v : '?';
      } else if (!c) {
        break;
      }
    }
    s[n++] = c;
  }
  if (*j->p != '"') j->bad = true;
  else j->p++;
  s[n] = '\0';
  return s;
}

static void jparse(jpar_t *j, jval_t *v, int depth) {
  jspace(j);
  memset(v, 0, sizeof *v);
  if (depth > 64) {
    j->bad = true;
    return;
  }
  char c = *j->p;
  if (c == '{' || c == '[') {
    bool obj = c == '{';
    v->t = obj ? J_OBJ : J_ARR;
    j->p++;
    size_t cap = 0;
    for (;;) {
      jspace(j);
      if (*j->p == (obj ? '}' : ']')) {
        j->p++;
        return;
      }
      if (v->n == cap) {
        cap = cap ? cap * 2 : 8;
        v->items = realloc(v->items, cap * sizeof *v->items);
        if (obj) v->keys = realloc(v->keys, cap * sizeof *v->keys);
        if (!v->items || (obj && !v->keys)) die("out of memory");
      }
      if (obj) {
        v->keys[v->n] = jstring(j);
        jspace(j);
        if (*j->p != ':') {
          j->bad = true;
          return;
        }
        j->p++;
      }
      jparse(j, &v->items[v->n++], depth + 1);
      if (j->bad) return;
      jspace(j);
      if (*j->p == ',') j->p++;
      else if (*j->p != (obj ? '}' : ']')) {
        j->bad = true;
        return;
      }
    }
  } else if (c == '"') {
    v->t = J_STR;
    v->str = jstring(j);
  } else if (strncmp(j->p, "true", 4) == 0 || strncmp(j->p, "false", 5) == 0) {
    v->t = J_BOOL;
    v->b = *j->p == 't';
    j->p += v->b ? 4 : 5;
  } else if (strncmp(j->p, "null", 4) == 0) {
    j->p += 4;
  } else {
    char *end;
    v->t = J_NUM;
    v->num = strtod(j->p, &end);
    if (end == j->p) j->bad = true;
    j->p = end;
  }
}

static void jfree(jval_t *v) {
  for (size_t i = 0; i < v->n; i++) {
    jfree(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->str);
}

/* The value at a dotted path ("errors.total", "leaks.groups.0.frames"), or NULL. */
static const jval_t *jget(const jval_t *v, const char *path) {
  while (v && *path) {
    size_t len = strcspn(path, ".");
    const jval_t *next = NULL;
    if (v->t == J_OBJ) {
      for (size_t i = 0; i < v->n && !next; i++)
        if (strlen(v->keys[i]) == len && strncmp(v->keys[i], path, len) == 0) next = &v->items[i];
    } else if (v->t == J_ARR) {
      size_t i = strtoul(path, NULL, 10);
      if (i < v->n) next = &v->items[i];
    }
    v = next;
    path += len + (path[len] == '.');
  }
  return v;
}

static double jnum(const jval_t *v, const char *path) {
  const jval_t *x = jget(v, path);
  return x && x->t == J_NUM ? x->num : 0;
}

static const char *jstr(const jval_t *v, const char *path) {
  const jval_t *x = jget(v, path);
  return x && x->t == J_STR ? x->str : NULL;
}

/* A stack's identity across runs: each frame's module (its file name) and offset in it. */
static char *frames_key(const jval_t *frames) {
  size_t cap = 64, n = 0;
  char *k = xcalloc(1, cap);
  for (size_t i = 0; frames && frames->t == J_ARR && i < frames->n; i++) {
    const jval_t *f = &frames->items[i];
    const jval_t *inl = jget(f, "inlined");
    if (inl && inl->t == J_BOOL && inl->b) continue;   /* the same pc as the next frame */
    const char *mod = jstr(f, "module");
    const char *base = mod ? strrchr(mod, '/') : NULL;
    char *part = fmt("%s+%.0f;", base ? base + 1 : mod ? mod : "?", jnum(f, "module_offset"));
    size_t len = strlen(part);
    if (n + len + 1 > cap) {
      while (n + len + 1 > cap) cap *= 2;
      k = realloc(k, cap);
      if (!k) die("out of memory");
    }
    memcpy(k + n, part, len + 1);
    n += len;
    free(part);
  }
  return k;
}

/* ---- the census ------------------------------------------------------------------------------------ */

typedef struct site {
  uint64_t count, first;
  int nframes;
  char **frames;          /* "MODULE+0xOFF NAME" */
} site_t;

typedef struct census {
  uint64_t calls;
  size_t nsites;
  site_t *sites;
  uint32_t *site_of;      /* by call number - 1 */
} census_t;

static bool read_census(const char *path, census_t *c) {
  size_t len;
  char *text = slurp(path, &len);
  if (!text) return false;
  unsigned long long calls, nsites;
  if (sscanf(text, "zalloc-sites 1\ncalls %llu\nsites %llu\n", &calls, &nsites) != 2) return false;
  c->calls = calls;
  c->nsites = nsites;
  c->sites = xcalloc(nsites, sizeof *c->sites);
  char *p = strstr(text, "\nsite ");
  for (size_t s = 0; s < nsites; s++) {
    unsigned long long k, count, first;
    int nframes, used = 0;
    if (!p || sscanf(p, "\nsite %llu %llu %llu %d%n", &k, &count, &first, &nframes, &used) != 4 || k != s)
      return false;
    c->sites[s] = (site_t){count, first, nframes, xcalloc((size_t)nframes, sizeof(char *))};
    p += used;
    for (int f = 0; f < nframes; f++) {
      p = strstr(p, "\nframe ");
      if (!p) return false;
      p += 7;
      size_t n = strcspn(p, "\n");
      c->sites[s].frames[f] = strndup(p, n);
      p += n;
    }
  }
  char *index = fmt("\nindex %llu\n", calls);
  char *at = strstr(text, index);
  if (!at) return false;
  const char *bin = at + strlen(index);
  if ((size_t)(text + len - bin) != calls * 4) return false;
  c->site_of = xcalloc(calls, sizeof(uint32_t));
  memcpy(c->site_of, bin, calls * 4);
  for (uint64_t i = 0; i < calls; i++)
    if (c->site_of[i] >= nsites) return false;
  free(index);
  free(text);
  return true;
}

/* ---- running the program ---------------------------------------------------------------------------- */

static const char *lib;          /* libzalloc.so, absolute */
static char *workdir;
static char *stdin_file;         /* the saved standard input, or NULL for /dev/null */
static char **prog_argv;
static double timeout_s;

static char **base_env;          /* ours, cleaned, with the library preloaded (see make_env) */

/* The environment of every run: ours without any ZALLOC_* that would change what a run does,
 * with the library prepended to LD_PRELOAD and JSON reports; room for two more entries. */
static void make_env(void) {
  size_t n = 0;
  while (environ[n]) n++;
  base_env = xcalloc(n + 8, sizeof(char *));
  size_t k = 0;
  const char *preload = getenv("LD_PRELOAD");
  static const char *const dropped[] = {"LD_PRELOAD=", "ZALLOC_FAIL_", "ZALLOC_LOG=", "ZALLOC_FORMAT=",
                                        "ZALLOC_LIMIT=", "ZALLOC_EXITCODE=", "ZALLOC_SUMMARY_DIR=",
                                        "ZALLOC_MODE=", "ZALLOC_ABORT=", "ZALLOC_LEAKS=", "ZALLOC_CRASH_REPORT=",
                                        "ZALLOC_LIBRARY="};   /* the wrapper's, not the library's */
  for (size_t i = 0; i < n; i++) {
    bool drop = false;
    for (size_t d = 0; d < sizeof dropped / sizeof dropped[0]; d++)
      drop |= strncmp(environ[i], dropped[d], strlen(dropped[d])) == 0;
    if (!drop) base_env[k++] = environ[i];
  }
  base_env[k++] = preload && *preload ? fmt("LD_PRELOAD=%s:%s", lib, preload) : fmt("LD_PRELOAD=%s", lib);
  base_env[k++] = "ZALLOC_FORMAT=json";
  base_env[k] = NULL;
}

typedef struct job {
  pid_t pid;
  bool running;
  uint64_t call;          /* the call made to fail; 0 for the count */
  double started;
  bool timed_out;
  int status;
} job_t;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *run_name(uint64_t call) {
  static char name[32];
  if (call) snprintf(name, sizeof name, "run.%llu", (unsigned long long)call);
  else snprintf(name, sizeof name, "count");
  return name;
}

/* Start the program: the count (call 0, with the census) or the run failing `call`. */
static void start(job_t *j, uint64_t call) {
  char *log = fmt("ZALLOC_LOG=%s/%s.%%p.json", workdir, run_name(call));
  char *what = call ? fmt("ZALLOC_FAIL_AT=%llu", (unsigned long long)call)
                    : fmt("ZALLOC_FAIL_SITES=%s/sites.%%p", workdir);
  char *out = fmt("%s/%s.out", workdir, run_name(call));
  size_t n = 0;
  while (base_env[n]) n++;
  base_env[n] = log;
  base_env[n + 1] = what;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);   /* a hang is killed with everything it started */
    int in = open(stdin_file ? stdin_file : "/dev/null", O_RDONLY);
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || o < 0) _exit(126);
    dup2(in, 0);
    dup2(o, 1);
    dup2(o, 2);
    execvpe(prog_argv[0], prog_argv, base_env);
    _exit(127);
  }
  setpgid(pid, pid);
  base_env[n] = NULL;
  *j = (job_t){.pid = pid, .running = true, .call = call, .started = now()};
  free(log), free(what), free(out);
}

/* Wait for any job of `jobs` to end (killing those past the timeout); its index. */
static size_t wait_any(job_t *jobs, size_t n) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0)
      for (size_t i = 0; i < n; i++)
        if (jobs[i].running && jobs[i].pid == pid) {
          jobs[i].status = status;
          jobs[i].running = false;
          kill(-pid, SIGKILL);   /* whatever it left running */
          return i;
        }
    if (pid < 0 && errno == ECHILD) die("internal error: no job to wait for");
    double t = now();
    for (size_t i = 0; i < n; i++)
      if (jobs[i].running && !jobs[i].timed_out && t - jobs[i].started > timeout_s) {
        jobs[i].timed_out = true;
        kill(-jobs[i].pid, SIGKILL);
      }
    if (pid <= 0) usleep(2000);
  }
}

/* The JSON report of the process the run started (its pid), parsed; false if there is none. */
static bool read_report(uint64_t call, pid_t pid, jval_t *doc) {
  char *path = fmt("%s/%s.%d.json", workdir, run_name(call), (int)pid);
  char *text = slurp(path, NULL);
  free(path);
  if (!text) return false;
  char *nl = strchr(text, '\n');   /* the first document: the final report */
  if (nl) *nl = '\0';
  jpar_t j = {text, false};
  jparse(&j, doc, 0);
  free(text);
  if (j.bad) jfree(doc);
  return !j.bad;
}

/* ---- judging a run ---------------------------------------------------------------------------------- */

typedef enum { R_PASSED, R_CRASH, R_HANG, R_HEAP, R_LEAK, R_UNREACHED, R_NOREPORT, R_COUNT } result_t;
static const char *const result_names[R_COUNT] = {"passed", "crash", "hang", "heap error", "leak",
                                                  "not reached", "no report"};
static const char *const result_ids[R_COUNT] = {"passed", "crash", "hang", "heap-error", "leak",
                                                "not-reached", "no-report"};

/* The baseline: what the program has anyway (keys of its lost groups and heap errors). */
typedef struct keyset {
  char **keys;
  double *counts;
  size_t n;
} keyset_t;

static double keyset_count(const keyset_t *s, const char *key) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->keys[i], key) == 0) return s->counts[i];
  return -1;
}

static void keyset_add(keyset_t *s, char *key, double count) {
  s->keys = realloc(s->keys, (s->n + 1) * sizeof *s->keys);
  s->counts = realloc(s->counts, (s->n + 1) * sizeof *s->counts);
  if (!s->keys || !s->counts) die("out of memory");
  s->keys[s->n] = key;
  s->counts[s->n++] = count;
}

/* Lost groups (definitely lost) by allocation stack, with their blocks. */
static void lost_groups(const jval_t *doc, keyset_t *out) {
  const jval_t *groups = jget(doc, "leaks.groups");
  for (size_t i = 0; groups && groups->t == J_ARR && i < groups->n; i++) {
    const jval_t *g = &groups->items[i];
    const char *kind = jstr(g, "kind");
    if (!kind || strcmp(kind, "definitely-lost") != 0) continue;
    keyset_add(out, frames_key(jget(g, "frames")), jnum(g, "blocks"));
  }
}

/* Heap errors by kind and the stack they were found at (or the block's allocation). */
static char *finding_key(const jval_t *f) {
  const jval_t *st = jget(f, "stacks.at.frames");
  if (!st) st = jget(f, "stacks.allocated.frames");
  char *k = frames_key(st), *key = fmt("%s:%s", jstr(f, "kind") ? jstr(f, "kind") : "?", k);
  free(k);
  return key;
}

static void heap_errors(const jval_t *doc, keyset_t *out) {
  const jval_t *list = jget(doc, "findings");
  for (size_t i = 0; list && list->t == J_ARR && i < list->n; i++)
    if (!(jget(&list->items[i], "suppressed") && jget(&list->items[i], "suppressed")->b))
      keyset_add(out, finding_key(&list->items[i]), jnum(&list->items[i], "times"));
}

typedef struct verdict {
  result_t result;
  char *detail;           /* what went wrong, in words */
} verdict_t;

static keyset_t base_lost, base_errors;

static verdict_t judge(const job_t *j) {
  verdict_t v = {R_PASSED, NULL};
  if (j->timed_out) {
    v.result = R_HANG;
    v.detail = fmt("still running after %.0f s: killed", timeout_s);
    return v;
  }
  jval_t doc;
  bool have = read_report(j->call, j->pid, &doc);
  if (WIFSIGNALED(j->status)) {
    v.result = R_CRASH;
    const char *where = have ? jstr(&doc, "crash.frames.0.function") : NULL;
    const char *sig = sigabbrev_np(WTERMSIG(j->status));
    char num[16];
    snprintf(num, sizeof num, "%d", WTERMSIG(j->status));
    v.detail = fmt("killed by %s%s%s%s", sig ? "SIG" : "signal ", sig ? sig : num, where ? " in " : "",
                   where ? where : "");
    if (have) jfree(&doc);
    return v;
  }
  if (!have) {
    v.result = R_NOREPORT;
    v.detail = fmt("exit status %d and no report (the process did not end through exit)",
                   WIFEXITED(j->status) ? WEXITSTATUS(j->status) : -1);
    return v;
  }
  if (jnum(&doc, "failures.injected") < 1) {
    v.result = R_UNREACHED;
    v.detail = fmt("the program made only %.0f allocation calls", jnum(&doc, "failures.allocation_calls"));
    jfree(&doc);
    return v;
  }
  keyset_t errs = {0}, lost = {0};
  heap_errors(&doc, &errs);
  lost_groups(&doc, &lost);
  const jval_t *list = jget(&doc, "findings");
  for (size_t i = 0; i < errs.n && !v.detail; i++)
    if (keyset_count(&base_errors, errs.keys[i]) < 0) {
      v.result = R_HEAP;
      v.detail = xstrdup(jstr(&list->items[i], "message") ? jstr(&list->items[i], "message") : "a heap error");
    }
  const jval_t *groups = jget(&doc, "leaks.groups");
  for (size_t i = 0, g = 0; i < lost.n && !v.detail; i++, g++) {
    while (groups && g < groups->n && (!jstr(&groups->items[g], "kind") ||
                                       strcmp(jstr(&groups->items[g], "kind"), "definitely-lost") != 0))
      g++;
    double before = keyset_count(&base_lost, lost.keys[i]);
    if (before < 0 || lost.counts[i] > before) {
      const jval_t *gr = groups && g < groups->n ? &groups->items[g] : NULL;
      const char *fn = gr ? jstr(gr, "frames.0.function") : NULL;
      v.result = R_LEAK;
      v.detail = fmt("definitely lost: %.0f block%s, %.0f bytes, allocated in %s", lost.counts[i],
                     lost.counts[i] == 1 ? "" : "s", gr ? jnum(gr, "bytes") : 0, fn ? fn : "?");
    }
  }
  if (!v.detail) {
    int st = WIFEXITED(j->status) ? WEXITSTATUS(j->status) : -1;
    v.detail = st ? fmt("failed cleanly: exit status %d", st) : xstrdup("handled: exit status 0");
  }
  for (size_t i = 0; i < errs.n; i++) free(errs.keys[i]);
  for (size_t i = 0; i < lost.n; i++) free(lost.keys[i]);
  free(errs.keys), free(errs.counts), free(lost.keys), free(lost.counts);
  jfree(&doc);
  return v;
}

/* ---- choosing the calls ---------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Every call, or (above max_runs) every site's first and then an even spread. */
static uint64_t *choose(const census_t *c, uint64_t max_runs, size_t *nout) {
  if (c->calls <= max_runs) {
    uint64_t *all = xcalloc(c->calls, sizeof *all);
    for (uint64_t i = 0; i < c->calls; i++) all[i] = i + 1;
    *nout = c->calls;
    return all;
  }
  size_t cap = c->nsites + max_runs, n = 0;
  uint64_t *pick = xcalloc(cap, sizeof *pick);
  bool *taken = xcalloc(c->calls + 1, 1);
  for (size_t s = 0; s < c->nsites; s++)
    if (!taken[c->sites[s].first]) taken[c->sites[s].first] = true, pick[n++] = c->sites[s].first;
  for (uint64_t k = 0; n < max_runs && k < max_runs; k++) {
    uint64_t call = 1 + (uint64_t)((double)k * (double)c->calls / (double)max_runs);
    if (call <= c->calls && !taken[call]) taken[call] = true, pick[n++] = call;
  }
  free(taken);
  qsort(pick, n, sizeof *pick, cmp_u64);
  *nout = n;
  return pick;
}

/* ---- output ---------------------------------------------------------------------------------------- */

static char *shell_quote(const char *s) {
  bool plain = *s != '\0';
  for (const char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("@%+=:,./-_", *p)) plain = false;
  if (plain) return xstrdup(s);
  size_t n = 2;
  for (const char *p = s; *p; p++) n += *p == '\'' ? 4 : 1;
  char *q = xcalloc(1, n + 1), *o = q;
  *o++ = '\'';
  for (const char *p = s; *p; p++) {
    if (*p == '\'') memcpy(o, "'\\''", 4), o += 4;
    else *o++ = *p;
  }
  *o++ = '\'';
  return q;
}

static char *reproduce(uint64_t call) {
  char *cmd = fmt("ZALLOC_FAIL_AT=%llu LD_PRELOAD=%s", (unsigned long long)call, lib);
  for (char **a = prog_argv; *a; a++) {
    char *q = shell_quote(*a), *next = fmt("%s %s", cmd, q);
    free(q);
    free(cmd);
    cmd = next;
  }
  if (stdin_file) {
    char *next = fmt("%s < (the same standard input)", cmd);
    free(cmd);
    cmd = next;
  }
  return cmd;
}

static void json_str(FILE *o, const char *s) {
  fputc('"', o);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(o, "\\%c", c);
    else if (c < 0x20) fprintf(o, "\\u%04x", c);
    else fputc(c, o);
  }
  fputc('"', o);
}

typedef struct failing {
  size_t site;
  result_t result;
  uint64_t call;          /* the first failing call of this stack */
  char *detail;
  size_t runs;            /* runs of this stack that failed */
  size_t tried;           /* runs of this stack */
} failing_t;

/* ---- main ------------------------------------------------------------------------------------------ */

static void usage(void) {
  fputs("usage: zalloc --oom-sweep [--jobs N] [--max-runs N] [--timeout S] [--json] [--keep] [--] PROGRAM [ARGS...]\n"
        "Runs PROGRAM once to count its allocation calls, then once per call with that call failing\n"
        "(above --max-runs: every distinct allocation stack once, then an even spread), --jobs at a\n"
        "time, and reports each stack whose failure makes the program crash, hang, corrupt the heap\n"
        "or leak, with the command that reproduces it.\n"
        "  --jobs N       runs at a time (default: the number of processors)\n"
        "  --max-runs N   runs at most, unless the stacks alone need more (default 1000)\n"
        "  --timeout S    a run still going after S seconds hangs (default: 10 times the count\n"
        "                 run, at least 30 s)\n"
        "  --json         one JSON document on standard output instead of the text\n"
        "  --keep         keep the runs' output and reports (the directory is named at the end)\n",
        stderr);
}

static bool parse_count(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (!*s || *end || errno || v == 0 || *s == '-') return false;
  *out = v;
  return true;
}

static const char *find_library(void) {
  const char *env = getenv("ZALLOC_LIBRARY");
  if (env && *env) {
    char *abs = realpath(env, NULL);
    return abs ? abs : env;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) {
      strcpy(slash + 1, "libzalloc.so");
      if (access(self, R_OK) == 0) return xstrdup(self);
    }
  }
  return ZALLOC_INSTALLED_LIBRARY;
}

static void remove_dir(const char *dir) {
  char *cmd = fmt("rm -rf -- '%s'", dir);   /* mkdtemp names have no quote in them */
  if (system(cmd) != 0) fprintf(stderr, "zalloc --oom-sweep: could not remove %s\n", dir);
  free(cmd);
}

int main(int argc, char **argv) {
  uint64_t jobs = (uint64_t)sysconf(_SC_NPROCESSORS_ONLN), max_runs = 1000, timeout = 0;
  bool json = false, keep = false;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    const char *val = strchr(a, '=') ? strchr(a, '=') + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
    bool inline_val = strchr(a, '=') != NULL;
    size_t name_len = inline_val ? (size_t)(strchr(a, '=') - a) : strlen(a);
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    } else if (strcmp(a, "--json") == 0) {
      json = true;
    } else if (strcmp(a, "--keep") == 0) {
      keep = true;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage();
      return 0;
    } else if ((name_len == 6 && strncmp(a, "--jobs", 6) == 0) || (name_len == 10 && strncmp(a, "--max-runs", 10) == 0) ||
               (name_len == 9 && strncmp(a, "--timeout", 9) == 0)) {
      uint64_t *dst = a[2] == 'j' ? &jobs : a[2] == 'm' ? &max_runs : &timeout;
      if (!val || !parse_count(val, dst)) {
        fprintf(stderr, "zalloc --oom-sweep: %.*s needs a whole number above 0, not '%s'\n", (int)name_len, a,
                val ? val : "");
        usage();
        return 2;
      }
      if (!inline_val) i++;
    } else {
      fprintf(stderr, "zalloc --oom-sweep: unknown option %s\n", a);
      usage();
      return 2;
    }
  }
  if (i >= argc) {
    usage();
    return 2;
  }
  prog_argv = argv + i;
  if (jobs == 0) jobs = 1;
  lib = find_library();
  if (access(lib, R_OK) != 0) die("cannot find libzalloc.so (%s); set ZALLOC_LIBRARY", lib);
  make_env();
  const char *tmp = getenv("TMPDIR");
  workdir = fmt("%s/zalloc-oom-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(workdir)) die("cannot make a directory %s: %s", workdir, strerror(errno));
  if (!isatty(0)) {   /* every run reads the same input */
    stdin_file = fmt("%s/stdin", workdir);
    FILE *f = fopen(stdin_file, "wb");
    if (!f) die("cannot write %s", stdin_file);
    char buf[65536];
    for (size_t n; (n = fread(buf, 1, sizeof buf, stdin)) > 0;) fwrite(buf, 1, n, f);
    if (fclose(f) != 0) die("cannot write %s", stdin_file);
    struct stat st;
    if (stat(stdin_file, &st) == 0 && st.st_size == 0) {
      unlink(stdin_file);
      free(stdin_file);
      stdin_file = NULL;
    }
  }
  bool tty = isatty(2);

  /* 1. The count. */
  timeout_s = timeout ? (double)timeout : 3600;
  job_t count;
  start(&count, 0);
  pid_t count_pid = count.pid;
  wait_any(&count, 1);
  double took = now() - count.started;
  if (!timeout) timeout_s = took * 10 > 30 ? took * 10 : 30;
  if (WIFSIGNALED(count.status)) {
    char *out = fmt("%s/count.out", workdir);
    die("%s was killed by signal %d without any failure injected: fix that first (its output: %s)", prog_argv[0],
        WTERMSIG(count.status), out);
  }
  census_t census = {0};
  char *sites = fmt("%s/sites.%d", workdir, (int)count_pid);
  if (!read_census(sites, &census))
    die("%s wrote no allocation census (%s): is it dynamically linked, and does it end through exit?", prog_argv[0],
        sites);
  jval_t base;
  if (read_report(0, count_pid, &base)) {
    heap_errors(&base, &base_errors);
    lost_groups(&base, &base_lost);
    jfree(&base);
  }
  int base_status = WIFEXITED(count.status) ? WEXITSTATUS(count.status) : -1;

  /* 2. The runs. */
  size_t nruns;
  uint64_t *calls = choose(&census, max_runs, &nruns);
  verdict_t *verdicts = xcalloc(nruns, sizeof *verdicts);
  job_t *running = xcalloc(jobs, sizeof *running);
  size_t *slot_run = xcalloc(jobs, sizeof *slot_run);
  size_t next = 0, done = 0, active = 0, nfailed = 0, step = nruns / 10 ? nruns / 10 : 1;
  if (!json || tty)
    fprintf(stderr, "zalloc --oom-sweep: %llu allocation calls from %zu stacks; %zu runs, %llu at a time\n",
            (unsigned long long)census.calls, census.nsites, nruns, (unsigned long long)jobs);
  while (done < nruns) {
    while (active < jobs && next < nruns) {
      size_t s = 0;
      while (running[s].running) s++;
      start(&running[s], calls[next]);
      slot_run[s] = next++;
      active++;
    }
    size_t s = wait_any(running, jobs);
    active--;
    done++;
    verdict_t *v = &verdicts[slot_run[s]];
    *v = judge(&running[s]);
    if (v->result != R_PASSED && v->result != R_UNREACHED) nfailed++;
    if (tty) fprintf(stderr, "\rzalloc --oom-sweep: %zu/%zu runs, %zu failing", done, nruns, nfailed);
    else if (done % step == 0 || done == nruns)
      fprintf(stderr, "zalloc --oom-sweep: %zu/%zu runs, %zu failing\n", done, nruns, nfailed);
  }
  if (tty) fputc('\n', stderr);

  /* 3. Failing runs by the stack of the call that failed. */
  failing_t *fails = xcalloc(census.nsites, sizeof *fails);
  size_t nfails = 0, by_result[R_COUNT] = {0}, stacks_by_result[R_COUNT] = {0};
  size_t *tried = xcalloc(census.nsites, sizeof *tried);
  for (size_t r = 0; r < nruns; r++) {
    size_t site = census.site_of[calls[r] - 1];
    tried[site]++;
    by_result[verdicts[r].result]++;
    if (verdicts[r].result == R_PASSED || verdicts[r].result == R_UNREACHED) continue;
    size_t f = 0;
    while (f < nfails && fails[f].site != site) f++;
    if (f == nfails) {
      fails[nfails++] = (failing_t){site, verdicts[r].result, calls[r], verdicts[r].detail, 0, 0};
      stacks_by_result[verdicts[r].result]++;
    }
    fails[f].runs++;
  }
  for (size_t f = 0; f < nfails; f++) fails[f].tried = tried[fails[f].site];

  /* 4. What was found. */
  char *command = xstrdup("");
  for (char **a = prog_argv; *a; a++) {
    char *q = shell_quote(*a), *c = fmt("%s%s%s", command, *command ? " " : "", q);
    free(q), free(command);
    command = c;
  }
  if (json) {
    printf("{\"program\":");
    json_str(stdout, command);
    printf(",\"library\":");
    json_str(stdout, lib);
    printf(",\"count_run_status\":%d,\"allocation_calls\":%llu,\"stacks\":%zu,\"runs\":%zu,\"results\":{",
           base_status, (unsigned long long)census.calls, census.nsites, nruns);
    for (int k = 0; k < R_COUNT; k++) printf("%s\"%s\":%zu", k ? "," : "", result_ids[k], by_result[k]);
    printf("},\"failing\":[");
    for (size_t f = 0; f < nfails; f++) {
      const site_t *st = &census.sites[fails[f].site];
      char *rep = reproduce(fails[f].call);
      printf("%s{\"result\":\"%s\",\"call\":%llu,\"detail\":", f ? "," : "", result_ids[fails[f].result],
             (unsigned long long)fails[f].call);
      json_str(stdout, fails[f].detail);
      printf(",\"failing_runs\":%zu,\"runs\":%zu,\"stack_calls\":%llu,\"reproduce\":", fails[f].runs, fails[f].tried,
             (unsigned long long)st->count);
      json_str(stdout, rep);
      printf(",\"frames\":[");
      for (int k = 0; k < st->nframes; k++) {
        if (k) putchar(',');
        json_str(stdout, st->frames[k]);
      }
      printf("]}");
      free(rep);
    }
    printf("],\"kept\":");
    if (keep) json_str(stdout, workdir);
    else printf("null");
    printf("}\n");
  } else {
    printf("zalloc --oom-sweep: %s\n", command);
    printf("  allocation calls: %llu, from %zu distinct stacks (the count run exited with status %d)\n",
           (unsigned long long)census.calls, census.nsites, base_status);
    printf("  runs:             %zu, each with one allocation call failing%s\n", nruns,
           nruns < census.calls ? " (every stack's first call, then calls spread over the run)" : "");
    for (size_t f = 0; f < nfails; f++) {
      const failing_t *x = &fails[f];
      const site_t *st = &census.sites[x->site];
      char *rep = reproduce(x->call);
      printf("\n%s when allocation call %llu fails: %s\n", result_names[x->result], (unsigned long long)x->call,
             x->detail);
      printf("  %zu of %zu run%s failing a call from this stack failed (it made %llu of the calls):\n", x->runs, x->tried,
             x->tried == 1 ? "" : "s", (unsigned long long)st->count);
      for (int k = 0; k < st->nframes; k++) {
        const char *sp = strchr(st->frames[k], ' ');
        printf("    #%d %s (%.*s)\n", k, sp ? sp + 1 : "?", sp ? (int)(sp - st->frames[k]) : 0, st->frames[k]);
      }
      printf("  reproduce: %s\n", rep);
      free(rep);
    }
    printf("\n  %-12s %6s %7s\n", "result", "runs", "stacks");
    for (int k = 0; k < R_COUNT; k++) {
      if (k == R_PASSED || k == R_UNREACHED) {
        if (k == R_PASSED || by_result[k]) printf("  %-12s %6zu\n", result_names[k], by_result[k]);
      } else if (k <= R_LEAK || by_result[k]) {
        printf("  %-12s %6zu %7zu\n", result_names[k], by_result[k], stacks_by_result[k]);
      }
    }
    printf("  %zu failing stack%s\n", nfails, nfails == 1 ? "" : "s");
    if (keep) printf("  runs kept in %s\n", workdir);
  }
  if (!keep) remove_dir(workdir);
  return nfails ? 1 : 0;
}
