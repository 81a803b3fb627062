/* spawn-time - the cost of starting a process under each allocator configuration, for
 * bench/startup.sh.
 *
 *   spawn-time [-n RUNS] [-w WARMUP] [-r RAWFILE] -c NAME 'VAR=value ...' [-c ...] -- PROG [ARG...]
 *
 * Starts PROG RUNS times (default 200) under every configuration given with -c (a name and the
 * variables added to the environment, e.g. 'LD_PRELOAD=/x/libzalloc.so ZALLOC_MODE=gpa'; '' for
 * none), one run of each configuration in turn, their order rotated from one round to the next,
 * so that the load of a shared machine hits them alike. WARMUP rounds (default 5) come first and
 * are not counted. Each run is posix_spawn, then wait4: its wall time is taken around both (a
 * monotonic clock), its minor and major page faults and peak RSS come from wait4's rusage of the
 * child alone. PROG's standard input, output and error are /dev/null; PROG is a path (no PATH
 * search). The spawner itself runs without any of the configurations' variables.
 *
 * Prints a header and one tab-separated line per configuration: name, runs, failed runs (exit
 * status not 0, or killed), and the median, 10th and 90th percentile of wall time (µs), the
 * median minor and major page faults, the median peak RSS (KiB). RAWFILE, if given, gets every
 * run: round, name, wall µs, minor faults, major faults, peak RSS KiB, exit status.
 * Exit status 0 if every run succeeded, 1 if any failed, 2 on bad arguments. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_CONFIGS 32

typedef struct {
  const char *name;
  char **env;          /* environ without LD_PRELOAD, plus the configuration's variables */
  double *wall_us;
  long *minflt, *majflt, *maxrss;
  int failed;
} config_t;

static void usage(const char *why) {
  fprintf(stderr, "spawn-time: %s\n"
                  "usage: spawn-time [-n RUNS] [-w WARMUP] [-r RAWFILE] -c NAME 'VAR=value ...' "
                  "[-c ...] -- PROG [ARG...]\n", why);
  exit(2);
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n, size);
  if (!p) {
    fprintf(stderr, "spawn-time: out of memory\n");
    exit(2);
  }
  return p;
}

/* The environment of a configuration: ours less LD_PRELOAD, then the words of `spec`. */
static char **make_env(const char *spec) {
  size_t n = 0;
  for (char **e = environ; *e; e++) n++;
  char *copy = strdup(spec);
  size_t words = 0;
  for (char *s = copy; *s; s++) words += (*s != ' ' && (s == copy || s[-1] == ' '));
  char **env = xcalloc(n + words + 1, sizeof *env);
  size_t k = 0;
  for (char **e = environ; *e; e++)
    if (strncmp(*e, "LD_PRELOAD=", 11) != 0) env[k++] = *e;
  for (char *save = NULL, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
    if (!strchr(w, '=')) usage("a configuration's variables must be VAR=value words");
    env[k++] = w;
  }
  env[k] = NULL;
  return env;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}
/* The q-quantile of a sorted array (nearest rank). */
static double quantile_d(const double *v, int n, double q) {
  int i = (int)(q * (n - 1) + 0.5);
  return v[i];
}
static double median_l(long *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_long);
  return n % 2 ? (double)v[n / 2] : (double)(v[n / 2 - 1] + v[n / 2]) / 2;
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

int main(int argc, char **argv) {
  config_t cfg[MAX_CONFIGS];
  int nc = 0, runs = 200, warmup = 5, i;
  const char *rawfile = NULL;
  for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-w") && i + 1 < argc) warmup = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-r") && i + 1 < argc) rawfile = argv[++i];
    else if (!strcmp(argv[i], "-c") && i + 2 < argc) {
      if (nc == MAX_CONFIGS) usage("too many configurations");
      memset(&cfg[nc], 0, sizeof cfg[nc]);
      cfg[nc].name = argv[++i];
      cfg[nc].env = make_env(argv[++i]);
      nc++;
    } else usage("unknown or incomplete argument");
  }
  if (i + 1 >= argc) usage("no program after --");
  if (nc == 0) usage("no configuration (-c)");
  if (runs < 1 || warmup < 0) usage("RUNS must be at least 1 and WARMUP at least 0");
  char **prog = &argv[i + 1];
  if (access(prog[0], X_OK) != 0) {
    fprintf(stderr, "spawn-time: %s is not an executable file (give its path)\n", prog[0]);
    return 2;
  }
  FILE *raw = NULL;
  if (rawfile && !(raw = fopen(rawfile, "w"))) {
    fprintf(stderr, "spawn-time: cannot write %s: %s\n", rawfile, strerror(errno));
    return 2;
  }
  if (raw) fprintf(raw, "round\tconfiguration\twall_us\tminflt\tmajflt\tmaxrss_kib\tstatus\n");
  for (int c = 0; c < nc; c++) {
    cfg[c].wall_us = xcalloc((size_t)runs, sizeof(double));
    cfg[c].minflt = xcalloc((size_t)runs, sizeof(long));
    cfg[c].majflt = xcalloc((size_t)runs, sizeof(long));
    cfg[c].maxrss = xcalloc((size_t)runs, sizeof(long));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  for (int fd = 0; fd < 3; fd++)
    posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd ? O_WRONLY : O_RDONLY, 0);

  for (int r = -warmup; r < runs; r++) {
    for (int k = 0; k < nc; k++) {
      config_t *c = &cfg[((r % nc + nc) % nc + k) % nc];
      pid_t pid;
      double t0 = now_us();
      int err = posix_spawn(&pid, prog[0], &fa, NULL, prog, c->env);
      if (err) {
        fprintf(stderr, "spawn-time: cannot start %s: %s\n", prog[0], strerror(err));
        return 2;
      }
      int st;
      struct rusage ru;
      while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR) {
          perror("spawn-time: wait4");
          return 2;
        }
      double wall = now_us() - t0;
      int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
      if (r < 0) continue;
      c->wall_us[r] = wall;
      c->minflt[r] = ru.ru_minflt;
      c->majflt[r] = ru.ru_majflt;
      c->maxrss[r] = ru.ru_maxrss;
      if (!ok) c->failed++;
      if (raw)
        fprintf(raw, "%d\t%s\t%.1f\t%ld\t%ld\t%ld\t%d\n", r + 1, c->name, wall, ru.ru_minflt,
                ru.ru_majflt, ru.ru_maxrss, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
  }
  if (raw) fclose(raw);

  int any_failed = 0;
  printf("configuration\truns\tfailed\twall_median_us\twall_p10_us\twall_p90_us\tminflt_median\t"
         "majflt_median\tmaxrss_median_kib\n");
  for (int c = 0; c < nc; c++) {
    config_t *x = &cfg[c];
    qsort(x->wall_us, (size_t)runs, sizeof(double), cmp_double);
    double med = runs % 2 ? x->wall_us[runs / 2]
                          : (x->wall_us[runs / 2 - 1] + x->wall_us[runs / 2]) / 2;
    printf("%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\n", x->name, runs, x->failed, med,
           quantile_d(x->wall_us, runs, 0.1), quantile_d(x->wall_us, runs, 0.9),
           median_l(x->minflt, runs), median_l(x->majflt, runs), median_l(x->maxrss, runs));
    any_failed |= x->failed > 0;
  }
  return any_failed;
}
