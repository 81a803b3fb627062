/* zalloc - process start-up and fork handling (see runtime.h). */
#include "runtime.h"
#include "backend.h"
#include "fail.h"
#include "findings.h"
#include "large.h"
#include "leaks.h"
#include "options.h"
#include "out.h"
#include "page.h"
#include "prim.h"
#include "heap.h"
#include "stack.h"
#include "stats.h"
#include "thread.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

atomic_int za_runtime_state;
int za_parent_pid;
int za_stderr_copy = -1;
const za_backend_t *za_backend;
static int init_tid;

static const za_backend_t *const backends[ZA_MODE_COUNT] = {
  [ZA_MODE_GPA] = &za_gpa_backend,
  [ZA_MODE_ARENA] = &za_arena_backend,
  [ZA_MODE_PAGE] = &za_page_backend,
};

static _Noreturn void fatal(const char *line) {
  za_os_write_all(2, line, strlen(line));
  za_os_write_all(2, "\n", 1);
  za_os_exit(2);
}

static void check_log(void) {
  if (strcmp(za_opt.log, "stderr") == 0) return;
  char path[ZA_PATH_MAX + 32], shown_log[4 * ZA_PATH_MAX + 8], shown_path[4 * sizeof path + 8];
  char line[sizeof shown_log + sizeof shown_path + 256];
  za_shown(za_opt.log, shown_log, sizeof shown_log);
  if (!za_options_log_path(za_opt.log, za_os_getpid(), path, sizeof path)) {
    za_snprintf(line, sizeof line,
                "zalloc: ZALLOC_LOG=%s: the path is too long once %%p is expanded; accepted: "
                "'stderr' or a file path of at most %d characters once %%p becomes the pid",
                shown_log, (int)sizeof path - 1);
    fatal(line);
  }
  int err = za_os_check_writable(path);
  if (err < 0) {
    za_snprintf(line, sizeof line,
                "zalloc: ZALLOC_LOG=%s: cannot open %s for writing (%s); accepted: 'stderr' or "
                "a writable file, character device or FIFO (%%p becomes the pid), not through "
                "another user's symbolic link",
                shown_log, za_shown(path, shown_path, sizeof shown_path), za_os_errno_name(-err));
    fatal(line);
  }
}

/* A relative ZALLOC_LOG means relative to the directory the process starts in, where
 * check_log found it writable: the report is written at exit, when the program may have changed
 * directory (git -C, make -C, os.chdir), and must not land there - or on stderr, where it cannot
 * be created. Called after check_log, so its messages still show the path as the user wrote it.
 * getcwd with a buffer does not allocate. A path too long to anchor stays as it is. */
static void anchor_log(void) {
  if (strcmp(za_opt.log, "stderr") == 0 || za_opt.log[0] == '/') return;
  char cwd[ZA_PATH_MAX], anchored[ZA_PATH_MAX], path[ZA_PATH_MAX + 32];
  int saved = errno;
  bool ok = getcwd(cwd, sizeof cwd) != NULL && cwd[0] == '/';
  errno = saved;
  if (!ok) return;
  size_t n = za_snprintf(anchored, sizeof anchored, "%s/%s", cwd[1] ? cwd : "", za_opt.log);
  if (n + 1 >= sizeof anchored || !za_options_log_path(anchored, za_os_getpid(), path, sizeof path))
    return;
  memcpy(za_opt.log, anchored, n + 1);
}

/* A setuid, setgid or capability-raised process (AT_SECURE) must not let its caller's
 * environment choose files to write, programs' behaviour or its exit status: as glibc does with
 * secure_getenv, every ZALLOC_* variable is ignored, and one line on stderr says so (once per
 * process, only if there was one to ignore). zalloc then runs in its defaults, reporting on
 * stderr. */
static bool secure_start(char *const *env) {
  if (!za_os_secure()) return false;
  bool any = false;
  for (char *const *e = env; e && *e && !any; e++) any = strncmp(*e, "ZALLOC_", 7) == 0;
  if (any) {
    static const char line[] =
        "zalloc: this process runs with raised privileges (setuid, setgid or file capabilities):"
        " the ZALLOC_* variables are ignored, the defaults apply and reports go to stderr\n";
    za_os_write_all(2, line, sizeof line - 1);
  }
  return true;
}

/* The ZALLOC_* variables of the environment the process started with, from
 * /proc/self/environ, for a first malloc that comes before libc has set environ: from a
 * program's .preinit_array, which runs before any library's initialiser (every program built
 * with clang's -fsanitize=undefined or -fsanitize=fuzzer has one, and allocates there). Kept in
 * static storage, other variables skipped; without /proc, none (the defaults). */
static char **initial_environ(void) {
  static char text[8192];
  static char *vars[64];
  size_t used = 0, nvars = 0, len = 0;
  bool too_long = false;
  char chunk[512], cur[1024]; /* the variable being read */
  int saved = errno;
  int fd = za_os_open_read("/proc/self/environ");
  long got;
  while (fd >= 0 && (got = za_os_read(fd, chunk, sizeof chunk)) > 0) {
    for (long i = 0; i < got; i++) {
      if (chunk[i] != 0) {
        if (len < sizeof cur - 1) cur[len++] = chunk[i];
        else too_long = true;
        continue;
      }
      if (!too_long && len > 7 && memcmp(cur, "ZALLOC_", 7) == 0 &&
          nvars < sizeof vars / sizeof *vars - 1 && used + len + 1 <= sizeof text) {
        memcpy(text + used, cur, len);
        text[used + len] = 0;
        vars[nvars++] = text + used;
        used += len + 1;
      }
      len = 0;
      too_long = false;
    }
  }
  if (fd >= 0) za_os_close(fd);
  errno = saved;
  vars[nvars] = NULL;
  return vars;
}

static void start(void) {
  char err[512];
  /* libc sets environ before any library's initialiser and before the program's own code
   * runs (ls, sort, sh, python3, perl, gcc and git: their first malloc all found it set), but
   * not before a .preinit_array: then the environment is read from /proc. */
  char **env = environ ? environ : initial_environ();
  if (!za_options_parse(secure_start(env) ? NULL : env, &za_opt, err, sizeof err)) fatal(err);
  check_log();
  anchor_log();
  if (strcmp(za_opt.log, "stderr") == 0) za_stderr_copy = za_os_dup_high(2);
  za_backend = backends[za_opt.mode];
  if (!za_segment_init(za_backend->ext_bits))
    fatal("zalloc: cannot reserve address space for the segment table (ulimit -v?)");
  za_heap_init();
  za_backend->init();
  za_fail_init();
  za_thread_init();
}

void za_runtime_init(void) {
  int expected = 0;
  if (atomic_compare_exchange_strong(&za_runtime_state, &expected, 1)) {
    init_tid = za_os_gettid();
    start();
    atomic_store_explicit(&za_runtime_state, 2, memory_order_release);
    return;
  }
  if (expected == 2) return;
  if (init_tid == za_os_gettid())
    fatal("zalloc: internal error: the allocator was re-entered during its own start-up");
  while (atomic_load_explicit(&za_runtime_state, memory_order_acquire) != 2) za_os_yield();
}

void za_runtime_outside_malloc(const void *self) {
  za_runtime_ensure();
  if ((za_backend->checks || za_fail_wants_stacks()) && za_opt.stack_depth > 0) za_stack_init(self);
  za_leaks_init(self);
}

/* The forking process's pid, taken before fork: in the child, getppid() is already 1 (or a
 * subreaper) if the parent exited before the child ran. */
static int forking_pid;

void za_fork_prepare(void) {
  za_runtime_ensure();
  forking_pid = za_os_getpid();
  za_stack_fork_prepare();
  za_thread_fork_prepare();
  za_backend->fork_prepare();
  za_heap_fork_prepare();
  za_segment_fork_prepare();
  za_large_fork_prepare();
  za_fail_fork_prepare();
  za_page_fork_prepare();
  za_findings_fork_prepare();
  za_os_fork_prepare();     /* last: taken inside the other subsystems' locks */
}

void za_fork_parent(void) {
  za_os_fork_parent();
  za_findings_fork_parent();
  za_page_fork_parent();
  za_fail_fork_parent();
  za_large_fork_parent();
  za_segment_fork_parent();
  za_heap_fork_parent();
  za_backend->fork_parent();
  za_thread_fork_parent();
  za_stack_fork_parent();
}

void za_fork_child(void) {
  za_parent_pid = forking_pid;
  za_os_fork_child();
  za_findings_fork_child();
  za_page_fork_child();
  za_fail_fork_child();
  za_large_fork_child();
  za_segment_fork_child();
  za_heap_fork_child();
  za_backend->fork_child();
  za_stack_fork_child();   /* before the dead threads' caches are released */
  za_thread_fork_child();
  za_stats_reset();
}
