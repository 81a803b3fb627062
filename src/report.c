/* zalloc - the exit report (see report.h). */
#include "report.h"
#include "backend.h"
#include "findings.h"
#include "leaks.h"
#include "stack.h"
#include "options.h"
#include "prim.h"
#include "runtime.h"
#include "stats.h"
#include "thread.h"

#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

static int open_log(bool *opened) {
  *opened = false;
  if (strcmp(za_opt.log, "stderr") == 0)
    return za_stderr_copy >= 0 && za_os_fd_open(za_stderr_copy) ? za_stderr_copy : 2;
  char path[ZA_PATH_MAX + 32];
  if (!za_options_log_path(za_opt.log, za_os_getpid(), path, sizeof path)) return 2;
  int fd = za_os_open_append(path);
  if (fd < 0) return 2; /* checked at start-up; if it has gone since, stderr still works */
  *opened = true;
  return fd;
}

/* The command line, from /proc (no allocation), NULs turned into spaces and cut at `cap`. */
static void command_line(char *buf, size_t cap) {
  buf[0] = '\0';
  int fd = za_os_open_read("/proc/self/cmdline");
  if (fd < 0) return;
  long n = za_os_read(fd, buf, cap - 1);
  za_os_close(fd);
  if (n <= 0) return;
  if ((size_t)n == cap - 1) memcpy(buf + cap - 5, " ...", 4);
  buf[n] = '\0';
  while (n > 0 && buf[n - 1] == '\0') n--;
  for (long i = 0; i < n; i++)
    if ((unsigned char)buf[i] < ' ') buf[i] = ' '; /* NULs between arguments, newlines in them */
  buf[n] = '\0';
}

static void write_header(za_out_t *o, const char *pre) {
  char cmd[200];
  command_line(cmd, sizeof cmd);
  za_out_printf(o, "%szalloc report for %s (pid %d, mode %s", pre,
                cmd[0] ? cmd : program_invocation_name, za_os_getpid(), za_mode_name(za_opt.mode));
  if (za_parent_pid) za_out_printf(o, ", forked from pid %d: counts start at the fork", za_parent_pid);
  za_out_str(o, ")\n");
}

static _Atomic size_t deepbind_count;
static char deepbind_first[256];

void za_report_note_deepbind(const char *file) {
  if (atomic_fetch_add(&deepbind_count, 1) == 0)
    za_snprintf(deepbind_first, sizeof deepbind_first, "%s", file ? file : "(main program)");
}

/* A report in the making: where it goes, the "==PID== " prefix of its lines, its header. */
typedef struct report {
  za_out_t o;
  bool opened;
  char pre[32];
} report_t;

static void report_begin(report_t *r, char *buf, size_t cap) {
  za_snprintf(r->pre, sizeof r->pre, "==%d== ", za_os_getpid());
  za_out_init(&r->o, open_log(&r->opened), buf, cap);
  write_header(&r->o, r->pre);
}

static void report_end(report_t *r) {
  za_out_flush(&r->o);
  if (r->opened) za_os_close(r->o.fd);
}

void za_report_exit(void) {
  static atomic_flag done = ATOMIC_FLAG_INIT;
  if (atomic_flag_test_and_set(&done)) return;
  za_runtime_ensure();
  /* Everything zalloc allocates from here on (symbolisation) is its own, not the program's. */
  za_stack_internal_begin();
  if (za_backend->check_all) za_backend->check_all();

  za_counters_t c;
  za_thread_sum_counters(&c);
  uint64_t v[ZA_C_COUNT];
  for (int i = 0; i < ZA_C_COUNT; i++) v[i] = za_relaxed_load(&c.v[i]);
  size_t live_blocks = za_counters_live_blocks(&c), live_bytes = za_counters_live_bytes(&c);
  size_t peak = za_stats_peak(za_tls_thread, live_bytes);

  static za_finding_t list[ZA_FINDINGS_MAX];
  za_findings_summary_t fs;
  za_findings_snapshot(&fs, list);

  char buf[8192];
  report_t r;
  report_begin(&r, buf, sizeof buf);
  za_out_t *o = &r.o;
  const char *pre = r.pre;
  za_out_printf(o, "%s  calls:       %N malloc, %N calloc, %N realloc, %N aligned, %N free\n", pre,
                (size_t)v[ZA_C_MALLOC], (size_t)v[ZA_C_CALLOC], (size_t)v[ZA_C_REALLOC],
                (size_t)v[ZA_C_ALIGNED], (size_t)v[ZA_C_FREE]);
  za_out_printf(o, "%s  allocated:   %N blocks, %B in total; peak in use %B\n", pre,
                (size_t)v[ZA_C_BLOCKS_ALLOC], (size_t)v[ZA_C_BYTES_ALLOC], peak);
  /* With a leak check, its groups and its summary line close the report (below). */
  bool leak_check = za_backend->for_each_live && za_opt.leaks != ZA_LEAKS_OFF;
  if (!leak_check && live_blocks)
    za_out_printf(o, "%s  leaked:      %N blocks, %N bytes still allocated at exit\n", pre,
                  live_blocks, live_bytes);
  else if (!leak_check)
    za_out_printf(o, "%s  leaked:      nothing: every block was freed\n", pre);
  size_t deepbinds = atomic_load(&deepbind_count);
  if (deepbinds)
    za_out_printf(o, "%s  note:        RTLD_DEEPBIND dropped from %N dlopen call%s (first: %s), "
                     "so those libraries share zalloc's heap\n",
                  pre, deepbinds, deepbinds == 1 ? "" : "s", deepbind_first);
  const struct { uint64_t n; const char *what; } kinds[] = {
    {fs.double_free, "double free"},
    {fs.invalid_free, "invalid free"},
    {fs.bad_realloc, "invalid realloc"},
    {fs.bad_usable_size, "invalid malloc_usable_size"},
    {fs.bad_request, fs.bad_request == 1 ? "impossible request" : "impossible requests"},
    {fs.overflow, "heap overflow"},
    {fs.underflow, "heap underflow"},
    {fs.write_after_free, "write after free"},
    {fs.mismatch, "mismatched deallocation"},
  };
  uint64_t errors = 0;
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) errors += kinds[k].n;
  if (!errors) {
    za_out_printf(o, "%s  heap errors: none\n", pre);
  } else {
    /* Only the kinds that occurred: "heap errors: 3 (1 double free, 2 invalid free)". */
    za_out_printf(o, "%s  heap errors: %N (", pre, (size_t)errors);
    const char *sep = "";
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
      if (kinds[k].n) {
        za_out_printf(o, "%s%N %s", sep, (size_t)kinds[k].n, kinds[k].what);
        sep = ", ";
      }
    za_out_str(o, ")\n");
    for (size_t i = 0; i < fs.listed; i++) za_finding_write(o, pre, &list[i]);
    if (fs.not_listed)
      za_out_printf(o, "%s%N more distinct errors, counted but not listed\n", pre, (size_t)fs.not_listed);
  }
  if (leak_check) {
    za_leak_totals_t totals;
    za_leaks_stack_floor(__builtin_frame_address(0));
    za_leaks_check(o, pre, &totals);
  }
  report_end(&r);
  za_stack_symbols_done();
  za_stack_internal_end();
}

_Noreturn void za_report_abort(const za_finding_t *f) {
  char buf[1024];
  report_t r;
  za_stack_internal_begin();
  report_begin(&r, buf, sizeof buf);
  za_finding_write(&r.o, r.pre, f);
  za_out_printf(&r.o, "%szalloc: aborting at the first heap error (ZALLOC_ABORT=1)\n", r.pre);
  report_end(&r);
  abort();
}
