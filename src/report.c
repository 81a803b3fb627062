/* zalloc - when a report is made, and in what order (see report.h and report_model.h). */
#include "report.h"
#include "backend.h"
#include "crash.h"
#include "fail.h"
#include "findings.h"
#include "leaks.h"
#include "lock.h"
#include "options.h"
#include "page.h"
#include "prim.h"
#include "prim_signal.h"
#include "report_json.h"
#include "report_model.h"
#include "report_text.h"
#include "runtime.h"
#include "signals.h"
#include "stack.h"
#include "stats.h"
#include "suppress.h"
#include "symbolize.h"
#include "thread.h"
#include "tree.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the process ------------------------------------------------------------------------------- */

static char saved_cmd[200];      /* the command line, copied in the constructor */
static int image_pid;            /* the process whose memory this is (0: not started) */
static _Atomic int final_tid;    /* the thread writing (or that wrote) the final report */
static za_lock_t report_lock = ZA_LOCK_INIT;  /* one report at a time, outside signals */

static _Atomic size_t deepbind_count;
static char deepbind_first[256];

void za_report_note_deepbind(const char *file) {
  if (atomic_fetch_add(&deepbind_count, 1) == 0)
    za_snprintf(deepbind_first, sizeof deepbind_first, "%s", file ? file : "(main program)");
}

static _Atomic bool final_done;
static _Atomic int forking_tid;  /* the thread inside fork(), zalloc's locks taken */

za_final_t za_report_final(int *tid) {
  *tid = atomic_load(&final_tid);
  return atomic_load(&final_done) ? ZA_FINAL_DONE : *tid ? ZA_FINAL_WRITING : ZA_FINAL_NONE;
}

/* This thread writes the final report, unless one is written already or this is a vfork child
 * (same memory as its parent, another pid: whatever it wrote would be the parent's). */
static bool begin_final(void) {
  if (image_pid && za_os_getpid() != image_pid) return false;
  int none = 0;
  return atomic_compare_exchange_strong(&final_tid, &none, za_os_gettid());
}

/* The command line, from argv (or, before the constructor, /proc/self/cmdline), cut at 200
 * characters with " ..." and control characters as spaces; its length. argv is read in the
 * constructor, before main: programs rewrite it (git shifts its arguments, servers write their
 * status there). */
static size_t command_from(char buf[200], int argc, char **argv) {
  size_t n = 0;
  if (argv) {
    for (int i = 0; i < argc && argv[i] && n < 199; i++) {
      if (i) buf[n++] = ' ';
      for (const char *a = argv[i]; *a && n < 199; a++) buf[n++] = *a;
    }
  } else {
    int fd = za_os_open_read("/proc/self/cmdline");
    long got = fd >= 0 ? za_os_read(fd, buf, 199) : 0;
    if (fd >= 0) za_os_close(fd);
    n = got > 0 ? (size_t)got : 0;
    while (n > 0 && buf[n - 1] == '\0') n--;
  }
  if (n == 199) memcpy(buf + 195, " ...", 4);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)buf[i] < ' ') buf[i] = ' '; /* NULs between arguments, newlines in them */
  if (n == 0) n = za_snprintf(buf, 200, "%s", program_invocation_name);
  buf[n] = '\0';
  return n;
}

/* The command line copied at start-up, else (a report before the constructor) /proc's. */
static size_t command_text(char buf[200]) {
  if (!saved_cmd[0]) return command_from(buf, 0, NULL);
  size_t n = strlen(saved_cmd);
  memcpy(buf, saved_cmd, n + 1);
  return n;
}

static const char *command_line(za_rmem_t *m) {
  char buf[200];
  size_t n = command_text(buf);
  return za_rmem_strndup(m, buf, n);
}

static void fill_process(za_report_t *r) {
  za_rprocess_t *p = &r->process;
  p->pid = za_os_getpid();
  p->ppid = za_sig_getppid();
  p->forked_from = za_parent_pid;
  p->command = command_line(&r->mem);
  char exe[512];
  p->program = za_sig_exe_path(exe, sizeof exe) ? za_rmem_strdup(&r->mem, exe) : p->command;
  p->mode = za_mode_name(za_opt.mode);
  za_tree_image_hex(p->image);
  r->deepbind_count = atomic_load(&deepbind_count);
  r->depot_refused = za_depot_refused();
  r->depot_max = za_depot_max_stacks();
  r->deepbind_first = deepbind_first;
  r->stacks_recorded = za_backend && za_backend->checks && za_opt.stack_depth > 0;
  r->print_suppressions = za_opt.print_suppressions;
}

static void fill_stats(za_report_t *r, bool signal_safe) {
  za_counters_t c;
  if (signal_safe ? !za_thread_try_sum_counters(&c) : (za_thread_sum_counters(&c), false)) return;
  za_rstats_t *s = &r->stats;
  s->known = true;
  s->malloc = za_relaxed_load(&c.v[ZA_C_MALLOC]);
  s->calloc = za_relaxed_load(&c.v[ZA_C_CALLOC]);
  s->realloc = za_relaxed_load(&c.v[ZA_C_REALLOC]);
  s->aligned = za_relaxed_load(&c.v[ZA_C_ALIGNED]);
  s->free = za_relaxed_load(&c.v[ZA_C_FREE]);
  s->blocks = za_relaxed_load(&c.v[ZA_C_BLOCKS_ALLOC]);
  s->bytes = za_relaxed_load(&c.v[ZA_C_BYTES_ALLOC]);
  s->live_blocks = za_counters_live_blocks(&c);
  s->live_bytes = za_counters_live_bytes(&c);
  /* In a signal handler this thread's pending batch may be mid-update: not flushed, but its
   * high-water mark read as it stands (the live figure counts the batch already). */
  s->peak = za_stats_peak(signal_safe ? NULL : za_tls_thread, s->live_bytes);
  za_thread_t *t = za_tls_thread;
  if (signal_safe && t) {
    int64_t candidate = (int64_t)s->live_bytes - t->in_use_pending + t->in_use_high;
    if (candidate > 0 && (uint64_t)candidate > s->peak) s->peak = (uint64_t)candidate;
  }
}

/* ---- where it goes -------------------------------------------------------------------------------- */

static int stderr_fd(void) {
  return za_stderr_copy >= 0 && za_os_fd_open(za_stderr_copy) ? za_stderr_copy : 2;
}

/* The log's descriptor; *err: 0, or why the log file could not be opened (stderr is then
 * returned, so the report is not lost). */
static int open_log(bool *opened, int *err) {
  *opened = false;
  *err = 0;
  if (strcmp(za_opt.log, "stderr") == 0) return stderr_fd();
  char path[ZA_PATH_MAX + 32];
  if (!za_options_log_path(za_opt.log, za_os_getpid(), path, sizeof path)) return 2;
  int fd = za_os_open_append(path);
  if (fd < 0) {   /* checked at start-up; gone since, or a FIFO without a reader */
    *err = -fd;
    return stderr_fd();
  }
  *opened = true;
  return fd;
}

/* One line: the report could not go to the log, and why; it follows on stderr. */
static void say_log_failed(int err) {
  char path[ZA_PATH_MAX + 32], shown[4 * sizeof path + 8], line[sizeof shown + 256];
  za_options_log_path(za_opt.log, za_os_getpid(), path, sizeof path);
  size_t n = za_snprintf(line, sizeof line,
                         "==%d== zalloc: ZALLOC_LOG: cannot write the report to %s (%s); it "
                         "follows on stderr\n",
                         za_os_getpid(), za_shown(path, shown, sizeof shown), za_os_errno_name(err));
  za_os_write_all(stderr_fd(), line, n);
}

/* 0, or the errno of the write that failed. */
static int write_to(int fd, const za_report_t *r, bool json) {
  char buf[8192];
  za_out_t o;
  za_out_init(&o, fd, buf, sizeof buf);
  if (json) za_report_write_json(&o, r);
  else za_report_write_text(&o, r);
  za_out_flush(&o);
  return o.err;
}

static void publish(const za_report_t *r, bool final) {
  bool opened;
  int err, fd = open_log(&opened, &err);
  if (err) say_log_failed(err);
  err = write_to(fd, r, za_opt.format == ZA_FORMAT_JSON);
  if (opened) za_os_close(fd);
  if (err && opened) {
    /* A full disk, /dev/full, a quota: the report must not be lost. */
    say_log_failed(err);
    write_to(stderr_fd(), r, za_opt.format == ZA_FORMAT_JSON);
  }
  if (final && (fd = za_tree_open_report()) >= 0) {
    write_to(fd, r, true);
    za_os_close(fd);
  }
  if (final) atomic_store(&final_done, true);
}

void za_report_line(const char *text) {
  char buf[512];
  size_t n = za_snprintf(buf, sizeof buf, "==%d== zalloc: %s\n", za_os_getpid(), text);
  bool opened;
  int err, fd = open_log(&opened, &err);
  za_os_write_all(fd, buf, n);
  if (opened) za_os_close(fd);
}

/* ---- the steps ------------------------------------------------------------------------------------- */

/* Steps 3 (suppress) and 4 (write), and what ZALLOC_EXITCODE makes of the result. */
static void conclude(za_report_t *r, bool final) {
  za_suppress_apply(r);
  if (za_opt.exitcode && (r->end.how == ZA_END_EXIT || r->end.how == ZA_END__EXIT) &&
      r->end.status == 0 && (za_model_unsuppressed_errors(r) || za_model_unsuppressed_definite_blocks(r)))
    r->end.exitcode = za_opt.exitcode;
  publish(r, final);
}

/* Step 2 outside signal handlers: libdw is loaded only when some stack is shown. */
static void name(za_report_t *r) {
  if (r->nstacks) za_symbolize_report(r, true);
}

/* A final report at exit or _exit; the status the process should end with. */
static int final_report(za_end_how_t how, int status) {
  za_runtime_ensure();
  za_stack_internal_begin();  /* what is allocated from here on is zalloc's, not the program's */
  za_lock(&report_lock);
  if (za_backend->check_all) za_backend->check_all();
  za_report_t r;
  za_model_init(&r, false);
  fill_process(&r);
  r.end = (za_rend_t){.how = how, .status = status};
  fill_stats(&r, false);
  za_findings_collect(&r, false);
  za_fail_collect(&r, false);
  za_fail_write_sites();
  za_page_collect(&r);
  if (za_backend->for_each_live && za_opt.leaks != ZA_LEAKS_OFF) {
    za_leaks_stack_floor(__builtin_frame_address(0));
    za_leaks_collect(&r, false);
  }
  name(&r);
  conclude(&r, true);
  int result = r.end.exitcode ? r.end.exitcode : status;
  za_model_free(&r);
  za_symbolize_done();
  za_unlock(&report_lock);
  za_stack_internal_end();
  return result;
}

void za_report_exit(int status) {
  if (!begin_final()) return;
  int result = final_report(ZA_END_EXIT, status);
  if (result != status) za_sig_exit(result);   /* ZALLOC_EXITCODE: the rest of exit is done */
}

_Noreturn void za_report__exit(int status) {
  /* Not before start-up is over: a bad setting ends the process from there. */
  bool ready = atomic_load_explicit(&za_runtime_state, memory_order_acquire) == 2;
  if (ready && begin_final()) status = final_report(ZA_END__EXIT, status);
  za_sig_exit(status);
}

_Noreturn void za_report_first_error(const za_finding_t *f) {
  atomic_store(&final_tid, za_os_gettid());   /* the SIGABRT that follows reports nothing */
  za_stack_internal_begin();
  za_report_t r;
  za_model_init(&r, false);
  fill_process(&r);
  r.end.how = ZA_END_FIRST_ERROR;
  za_rfinding_t *rf = za_rmem_alloc(&r.mem, sizeof *rf);
  if (rf) {
    rf->f = *f;
    rf->f.times = 1;
    rf->f.tid = za_os_gettid();
    rf->kind = za_finding_kind(f);
    rf->here = za_model_stack(&r, f->here);
    rf->alloc = za_model_stack(&r, f->alloc_stack);
    rf->freed = za_model_stack(&r, f->free_stack);
    r.findings = rf;
    r.counts.listed = 1;
    r.counts.by_kind[rf->kind] = 1;
    r.findings_known = true;
  }
  name(&r);
  publish(&r, true);
  abort();
}

void za_report_on_demand(int signo, unsigned sequence) {
  za_stack_internal_begin();
  za_lock(&report_lock);
  int tid;
  if (za_report_final(&tid) == ZA_FINAL_NONE) {
    za_report_t r;
    za_model_init(&r, false);
    fill_process(&r);
    r.end = (za_rend_t){.how = ZA_END_RUNNING, .signo = signo, .sequence = sequence};
    fill_stats(&r, false);
    za_findings_collect(&r, false);
    za_fail_collect(&r, false);
    za_page_collect(&r);
    if (za_backend->for_each_live && za_opt.leaks != ZA_LEAKS_OFF) za_leaks_collect(&r, true);
    name(&r);
    conclude(&r, false);
    za_model_free(&r);
    za_symbolize_done();
  }
  za_unlock(&report_lock);
  za_stack_internal_end();
}

static void name_fully(void *r) { za_symbolize_report(r, true); }

/* The stack naming frames with libdw may need: well under zalloc's own alternate signal stack
 * (512 KiB, signals.c), more than the 8 to 64 KiB a program's usually has. */
#define NAMING_STACK_MIN ((size_t)256 << 10)

void za_report_signal(int signo, const siginfo_t *info, const void *ucontext) {
  if (!begin_final()) return;
  za_report_t r;
  za_model_init(&r, true);
  fill_process(&r);
  r.end = (za_rend_t){.how = ZA_END_SIGNAL, .signo = signo};
  const char *limited = za_crash_collect(&r, signo, info, ucontext);
  /* Between fork's handlers every zalloc lock is this thread's, with no zalloc frame on its
   * stack: libdw's malloc would wait for itself. */
  if (!limited && atomic_load(&forking_tid) == za_os_gettid())
    limited = "the signal arrived inside fork(), while zalloc held its locks";
  /* libdw needs far more stack than the symbol tables: on an alternate signal stack that is not
   * zalloc's own size (the program's, a sanitizer runtime's), naming could overflow it, and a
   * fault there cannot be caught. */
  if (!limited && za_sig_altstack_room() < NAMING_STACK_MIN)
    limited = "little room on the alternate signal stack the program set up";
  fill_stats(&r, true);
  za_findings_collect(&r, true);
  za_fail_collect(&r, true);
  za_page_collect(&r);
  /* Full names (libdw) only where crash.c found them safe; a fault while naming falls back to
   * the symbol tables. */
  if (r.nstacks) {
    if (!limited && !za_signals_guarded(name_fully, &r)) limited = "a fault while naming the frames";
    if (limited) {
      za_model_clear_frames(&r);
      za_symbolize_report(&r, false);
      if (r.crash) r.crash->symbols_limited = limited;
    }
  }
  conclude(&r, true);
  za_model_free(&r);
}

/* stack.h's za_stack_write: a model of one stack, named, in the text writer's lines. */
void za_stack_write(za_out_t *o, const char *prefix, za_stack_id_t id) {
  za_report_t r;
  za_model_init(&r, false);
  za_rstack_t *s = za_model_stack(&r, id);
  if (s) {
    za_symbolize_report(&r, true);
    za_report_text_frames(o, prefix, s);
  }
  za_model_free(&r);
}

void za_stack_symbols_done(void) { za_symbolize_done(); }

/* ---- start-up and fork ---------------------------------------------------------------------------- */

/* No report is half-written across a fork: the child would inherit the reporter thread's locks
 * (and libdw's state) mid-way. Taken before every zalloc lock (handlers registered later run
 * first), as a report takes it before them. */
static void fork_prepare(void) {
  za_lock(&report_lock);
  atomic_store(&forking_tid, za_os_gettid());
}
static void fork_parent(void) {
  atomic_store(&forking_tid, 0);
  za_unlock(&report_lock);
}

/* A forked child: its reports are its own, and the tree hears of it. */
static void fork_child(void) {
  atomic_store(&forking_tid, 0);
  image_pid = za_os_getpid();
  atomic_store(&final_tid, 0);
  atomic_store(&final_done, false);
  za_lock_reset(&report_lock);
  char cmd[200];
  command_text(cmd);
  za_tree_fork_child(cmd);
  za_signals_fork_child();
}

static _Noreturn void fatal(const char *line) {
  atomic_store(&final_tid, -1);   /* no report: the program never ran */
  atomic_store(&final_done, true);
  za_os_write_all(2, line, strlen(line));
  za_os_write_all(2, "\n", 1);
  za_sig_exit(2);
}

void za_report_start(int argc, char **argv) {
  za_runtime_ensure();
  command_from(saved_cmd, argc, argv);
  image_pid = za_os_getpid();
  char err[1024];
  if (!za_suppress_load(za_opt.suppress, err, sizeof err)) fatal(err);
  if (!za_tree_start(saved_cmd, err, sizeof err)) fatal(err);
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  za_signals_start();
}
