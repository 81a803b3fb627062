/* Test support: run a program and capture what it did (see spawn.h). */
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char *zalloc_library(void) { return ZALLOC_LIB_PATH; }
const char *test_bin_dir(void) { return TEST_BIN_DIR; }
const char *test_src_dir(void) { return TEST_SRC_DIR; }

char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t k;
  while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += k;
    if (cap - n - 1 == 0) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

static void apply_env(const char *const *env) {
  for (const char *const *e = env; e && *e; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq) continue;
    char name[256];
    size_t n = (size_t)(eq - *e) < sizeof name - 1 ? (size_t)(eq - *e) : sizeof name - 1;
    memcpy(name, *e, n);
    name[n] = '\0';
    if (eq[1] == '\0') unsetenv(name);
    else setenv(name, eq + 1, 1);
  }
}

bool run_program(run_result_t *r, const char *const *argv, const char *const *env,
                 const char *stdin_path, const char *cwd, int timeout_s) {
  memset(r, 0, sizeof *r);
  char out_path[] = "/tmp/za-out-XXXXXX", err_path[] = "/tmp/za-err-XXXXXX";
  int ofd = mkstemp(out_path), efd = mkstemp(err_path);
  if (ofd < 0 || efd < 0) return false;
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
    if (in < 0) _exit(126);
    dup2(in, 0);
    dup2(ofd, 1);
    dup2(efd, 2);
    if (cwd && chdir(cwd) != 0) _exit(126);
    setpgid(0, 0);
    apply_env(env);
    execvp(argv[0], (char *const *)argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int st = 0;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= timeout_s) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      r->timed_out = true;
      break;
    }
    usleep(2000);
  }
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  close(ofd);
  close(efd);
  r->out = slurp(out_path, &r->out_len);
  r->err = slurp(err_path, &r->err_len);
  unlink(out_path);
  unlink(err_path);
  return true;
}

void run_free(run_result_t *r) {
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

char *make_temp_dir(const char *tag) {
  const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  char *path;
  if (asprintf(&path, "%s/za-%s-XXXXXX", base, tag) < 0) return NULL;
  if (!mkdtemp(path)) {
    free(path);
    return NULL;
  }
  return path;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  return remove(p);
}

void remove_tree(const char *dir) {
  if (dir) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

size_t count_occurrences(const char *hay, const char *needle) {
  size_t n = 0, len = strlen(needle);
  if (!hay || !len) return 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + len, needle)) n++;
  return n;
}
