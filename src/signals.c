/* zalloc - the signals zalloc handles (see signals.h). */
#include "signals.h"
#include "options.h"
#include "prim.h"
#include "prim_signal.h"
#include "report.h"
#include "report_words.h"
#include "stack.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <string.h>

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

#define ALTSTACK_SIZE ((size_t)512 << 10)   /* libdw may name frames on it */
#define WAIT_FOR_OTHER_MS 60000             /* a hang, not a slow report */

/* ---- fatal signals ---------------------------------------------------------------------------- */

static _Atomic int crashing_tid;     /* the thread writing the crash report */
static _Atomic int first_signo;      /* the signal it is reporting */
static _Atomic int guarded_tid;      /* the thread inside za_signals_guarded */
static sigjmp_buf guard_env;

bool za_signals_guarded(void (*fn)(void *ctx), void *ctx) {
  if (sigsetjmp(guard_env, 1) != 0) return false;   /* back from a fault inside fn */
  atomic_store(&guarded_tid, za_os_gettid());
  fn(ctx);
  atomic_store(&guarded_tid, 0);
  return true;
}

static void note(const char *what, int signo) {
  char line[256], sig[24];
  za_snprintf(line, sizeof line, "%s in thread %d %s; the default action follows",
              za_words_signal(signo, sig, sizeof sig), za_os_gettid(), what);
  za_report_line(line);
}

/* Let the default action go on. A fault recurs when the handler returns, so the core dump
 * shows the faulting instruction; a sent signal is sent again (delivered when the handler
 * returns and unblocks it). One exception: an access to an unmapped address whose page the
 * report mapped meanwhile (libdw maps files, and the kernel reuses a freed block's addresses)
 * would not fault again, and the program would go on: the signal is sent instead. */
static void default_action(int signo, const siginfo_t *info) {
  /* Under a seccomp filter that denies rt_sigaction or tgkill, the handler stays and a fault
   * would recur into it forever: the process ends with the shell's status for the signal. */
  if (!za_sig_set_default(signo)) za_sig_exit(128 + signo);
  bool refault = info && info->si_code > 0;
  if (refault && signo == SIGSEGV && info->si_code == SEGV_MAPERR &&
      za_sig_page_mapped((uintptr_t)info->si_addr))
    refault = false;
  if (!refault && !za_sig_raise_unblocked(signo)) za_sig_exit(128 + signo);
}

static void on_fatal(int signo, siginfo_t *info, void *ucontext) {
  int saved = errno;
  int me = za_os_gettid();
  if (atomic_load(&guarded_tid) == me) {          /* a fault while naming frames */
    atomic_store(&guarded_tid, 0);
    siglongjmp(guard_env, 1);
  }
  int none = 0;
  if (atomic_compare_exchange_strong(&crashing_tid, &none, me)) {
    atomic_store(&first_signo, signo);
    int writer;
    za_final_t final = za_report_final(&writer);
    if (final == ZA_FINAL_NONE) za_report_signal(signo, info, ucontext);
    else if (final == ZA_FINAL_WRITING && writer == me) note("while zalloc wrote the report", signo);
    else if (final == ZA_FINAL_WRITING) note("while another thread wrote the final report", signo);
    default_action(signo, info);
  } else if (atomic_load(&crashing_tid) == me) {
    /* A fault inside the crash report itself: end by the signal being reported. */
    note("inside zalloc's crash report", signo);
    int first = atomic_load(&first_signo);
    bool ok = za_sig_set_default(first) && za_sig_set_default(signo);
    if (!ok || !za_sig_raise_unblocked(first)) za_sig_exit(128 + first);   /* as above */
  } else {
    /* Another thread is reporting a crash and will end the process: wait for it. */
    for (int waited = 0; waited < WAIT_FOR_OTHER_MS; waited += 10) za_sig_sleep_ms(10);
    default_action(signo, info);
  }
  errno = saved;
}

/* ---- on demand --------------------------------------------------------------------------------- */

static int report_signo;
static _Atomic uint32_t requests;    /* bumped by the handler */
static uint32_t served;
static unsigned sequence;

static void on_report_signal(int signo, siginfo_t *info, void *ucontext) {
  (void)signo, (void)info, (void)ucontext;
  atomic_fetch_add(&requests, 1);
  za_sig_futex_wake(&requests);
}

static void *reporter(void *arg) {
  (void)arg;
  za_stack_internal_begin();   /* everything this thread allocates is zalloc's */
  for (;;) {
    uint32_t now = atomic_load(&requests);
    if (now == served) {
      za_sig_futex_wait(&requests, now);
      continue;
    }
    served = now;   /* signals that came while it reported are one more report */
    za_report_on_demand(report_signo, ++sequence);
  }
  return NULL;
}

#define REPORTER_STACK ((size_t)1 << 20)

/* The reporter's stack is zalloc's own mapping, so the leak check does not read its frames
 * as roots. */
static void start_reporter(void) {
  void *stack = za_os_map(REPORTER_STACK);
  if (!stack) return;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, stack, REPORTER_STACK);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  sigset_t old;
  za_sig_block_all(&old);      /* the thread inherits the mask: no signal of the program's */
  za_stack_internal_begin();   /* pthread_create's allocations are zalloc's */
  pthread_t t;
  if (pthread_create(&t, &attr, reporter, NULL) == 0) pthread_setname_np(t, "zalloc-report");
  else za_os_unmap(stack, REPORTER_STACK);
  za_stack_internal_end();
  za_sig_restore_mask(&old);
  pthread_attr_destroy(&attr);
}

/* ---- start-up ------------------------------------------------------------------------------------ */

void za_signals_start(void) {
  if (za_opt.crash_report) {
    bool any = false;
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
      any |= za_sig_install_if_default(fatal_signals[i], on_fatal, true);
    if (any) za_sig_altstack(ALTSTACK_SIZE);
  }
  if (za_opt.report_signal && za_sig_install(za_opt.report_signal, on_report_signal)) {
    report_signo = za_opt.report_signal;
    start_reporter();
  }
}

void za_signals_fork_child(void) {
  atomic_store(&crashing_tid, 0);
  atomic_store(&guarded_tid, 0);
  if (!report_signo) return;
  atomic_store(&requests, 0);
  served = 0;
  sequence = 0;
  start_reporter();
}
