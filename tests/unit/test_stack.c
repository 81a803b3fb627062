/* Unit tests of call stacks (stack.h): capture through frames without frame pointers, the
 * depot's ids (dedup, many threads, fork), depth limits, the internal flag, and the report
 * lines za_stack_write makes (function, file:line, module+offset). The core is linked into
 * the test, so za_stack_init(NULL) leaves nothing out but the capture itself. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sched.h>
#include <ucontext.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "depot.h"
#include "stack.h"
#include "stack_chain.h"
#include "stack_text.h"
#include "unwind.h"

static void setup(void) { za_stack_init(NULL); }

TestSuite(stack, .init = setup);
TestSuite(depot);

/* ---- capture -------------------------------------------------------------------------- */

Test(stack, capture_has_every_function_innermost_first) {
  za_stack_id_t id = chain_outer(16);
  cr_assert_neq(id, 0, "nothing captured (libunwind.so.8 not loaded?)");
  const char *text = written(id);
  assert_frame_names(text, 0, "chain_inner");  /* za_stack_capture itself is left out */
  assert_frame_names(text, 1, "chain_middle");
  assert_frame_names(text, 2, "chain_outer");
  cr_assert(strstr(text, "__libc_start_main") != NULL || strstr(text, " in _start+0x") != NULL,
            "the stack stops short of the program's start:\n%s", text);
}

Test(stack, write_shows_file_line_and_module) {
  const char *text = written(chain_outer(4));
  char line[512];
  cr_assert(frame_line(text, 0, line, sizeof line));
  cr_assert(strstr(line, "stack_chain.c:") != NULL, "no file:line in frame #0:\n%s", text);
  cr_assert(strstr(line, "(unit_stack+0x") != NULL, "no module+offset in frame #0:\n%s", text);
  cr_assert(strncmp(line, "  #0 0x", 7) == 0, "no address in frame #0:\n%s", text);
}

/* Through libc: a capture inside qsort's comparison callback has libc's frames in the middle
 * (with or without debug information, depending on libc6-dbg) and the program's below them. */
Test(stack, capture_through_libc_callback) {
  za_stack_id_t id = chain_through_qsort(16);
  cr_assert_neq(id, 0);
  const char *text = written(id);
  assert_frame_names(text, 0, "compare_and_capture");
  const char *libc = strstr(text, "(libc.so.6+0x");
  cr_assert(libc != NULL, "no libc.so.6 frame:\n%s", text);
  cr_assert(strstr(libc, " in chain_through_qsort+0x") != NULL,
            "the caller of qsort is missing below libc:\n%s", text);
}

/* A frame in a library without symbols or debug information (stack_stripped.c) shows the
 * module and the offset inside it, and no file:line. */
int stripped_call(int (*callback)(void));
static za_stack_id_t stripped_seen;
static int capture_in_callback(void) {
  stripped_seen = za_stack_capture(16);
  return 1;
}

Test(stack, write_shows_module_offset_for_stripped_library) {
  stripped_call(capture_in_callback);
  cr_assert_neq(stripped_seen, 0);
  const char *text = written(stripped_seen);
  assert_frame_names(text, 0, "capture_in_callback");
  char line[512];
  cr_assert(frame_line(text, 1, line, sizeof line));
  cr_assert(strstr(line, " (libza_stack_stripped.so+0x") != NULL, "frame #1:\n%s", text);
  cr_assert(strstr(line, " at ") == NULL, "file:line in a stripped library:\n%s", text);
  cr_assert(frame_line(text, 2, line, sizeof line));
  cr_assert(strstr(line, " in stripped_call+0x") != NULL, "exported symbol missing:\n%s", text);
  cr_assert(strstr(line, " (libza_stack_stripped.so+0x") != NULL, "frame #2:\n%s", text);
}

Test(stack, depth_limits) {
  const uintptr_t *pcs;
  cr_assert_eq(chain_outer(0), 0);
  cr_assert_eq(za_stack_get(chain_outer(1), &pcs), 1);
  cr_assert_eq(za_stack_get(chain_outer(3), &pcs), 3);
  int n = za_stack_get(chain_outer(1000), &pcs);
  cr_assert(n > 3 && n <= ZA_STACK_MAX_DEPTH, "depth 1000 gave %d frames", n);
  int full = za_stack_get(chain_outer(ZA_STACK_MAX_DEPTH), &pcs);
  cr_assert_eq(n, full, "depth beyond the maximum: %d frames, the maximum: %d", n, full);
}

/* Depth 3 covers exactly chain_inner, chain_middle, chain_outer: the same stack from
 * whichever line of the test it is called. */
#define CHAIN_ONLY 3

Test(stack, same_site_same_id_other_site_other_id) {
  za_stack_id_t ids[4];
  for (int i = 0; i < 4; i++) ids[i] = chain_outer(16);  /* one call site: one stack */
  for (int i = 1; i < 4; i++) cr_assert_eq(ids[i], ids[0], "the same stack got ids %u and %u", ids[0], ids[i]);
  cr_assert_eq(chain_outer(CHAIN_ONLY), chain_outer(CHAIN_ONLY));
  za_stack_id_t other = chain_outer_other(CHAIN_ONLY);
  cr_assert_neq(other, 0);
  cr_assert_neq(chain_outer(CHAIN_ONLY), other, "different call sites got the same id");
  cr_assert_neq(chain_outer(2), chain_outer(CHAIN_ONLY), "a shorter stack got the same id");
}

Test(stack, internal_flag_stops_capture) {
  cr_assert_not(za_stack_internal());
  za_stack_internal_begin();
  za_stack_internal_begin();
  cr_assert(za_stack_internal());
  cr_assert_eq(chain_outer(16), 0, "captured while internal");
  za_stack_internal_end();
  cr_assert(za_stack_internal(), "nesting lost");
  za_stack_internal_end();
  cr_assert_not(za_stack_internal());
  cr_assert_neq(chain_outer(16), 0);
}

Test(stack, capture_survives_modules_changing) {
  za_stack_id_t before = chain_outer(CHAIN_ONLY);
  void *lib = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
  za_stack_modules_changed();
  cr_assert_eq(chain_outer(CHAIN_ONLY), before);
  if (lib != NULL) dlclose(lib);
  za_stack_modules_changed();
  cr_assert_eq(chain_outer(CHAIN_ONLY), before);
}

/* Ids stay valid in a forked child, and the child finds the parent's stacks in the depot. */
Test(stack, ids_survive_fork) {
  za_stack_id_t before = chain_outer(CHAIN_ONLY);
  const uintptr_t *pcs;
  int n = za_stack_get(before, &pcs);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    za_stack_fork_child();
    const uintptr_t *child_pcs;
    bool ok = za_stack_get(before, &child_pcs) == n && chain_outer(CHAIN_ONLY) == before &&
              chain_outer_other(CHAIN_ONLY) != 0;
    _exit(ok ? 0 : 1);
  }
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child disagreed on ids");
}

/* Captures on threads whose unwinder state is new (first use allocates in libunwind). */
static void *capture_on_thread(void *arg) {
  (void)arg;
  return (void *)(uintptr_t)chain_outer(16);
}

Test(stack, capture_on_new_threads) {
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, capture_on_thread, NULL);
  za_stack_id_t ids[4];
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(t[i], &r);
    ids[i] = (za_stack_id_t)(uintptr_t)r;
    cr_assert_neq(ids[i], 0, "thread %d captured nothing", i);
    assert_frame_names(written(ids[i]), 2, "chain_outer");
  }
  for (int i = 1; i < 4; i++) cr_assert_eq(ids[i], ids[0], "threads' identical stacks differ");
}

/* ---- the fast walker against libunwind ----------------------------------------------- */

/* Both walkers from one function: their first frames are two call sites in it, every frame
 * after that must be the same return address. */
typedef int (*unw_backtrace_fn)(void **, int);

static unw_backtrace_fn libunwind_backtrace(void) {
  void *lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
  return lib != NULL ? (unw_backtrace_fn)dlsym(lib, "unw_backtrace") : NULL;
}

typedef struct walk_pair {
  void *fast[64], *slow[64];
  int nfast, nslow;
  za_unwind_stop_t stop;
} walk_pair_t;

static __thread walk_pair_t *pair_out;

__attribute__((noinline)) static void walk_both_into(walk_pair_t *w) {
  w->nfast = za_unwind_backtrace(w->fast, 64, &w->stop);
  w->nslow = libunwind_backtrace()(w->slow, 64);
  __asm__ volatile("" ::: "memory");   /* not a tail call: both walks start in this frame */
}

__attribute__((noinline)) static void walk_both(void) { walk_both_into(pair_out); }

static void assert_same_walk(const walk_pair_t *w, const char *what) {
  cr_assert(w->nfast > 4, "%s: the fast walker found %d frames (stop %d)", what, w->nfast, w->stop);
  cr_assert_eq(w->stop, ZA_UNWIND_END, "%s: the fast walk did not reach the end (%d frames)", what,
               w->nfast);
  cr_assert_eq(w->nfast, w->nslow, "%s: %d frames, libunwind %d", what, w->nfast, w->nslow);
  for (int i = 1; i < w->nfast; i++)
    cr_assert_eq(w->fast[i], w->slow[i], "%s: frame %d: %p, libunwind %p", what, i, w->fast[i],
                 w->slow[i]);
}

static void walk_pair(walk_pair_t *w, void (*chain)(void (*)(void))) {
  memset(w, 0, sizeof *w);
  pair_out = w;
  for (int round = 0; round < 2; round++) chain(walk_both);   /* cold, then warm */
}

Test(stack, fast_walker_matches_libunwind_without_frame_pointers) {
  cr_assert(za_unwind_available(), "no fast walker on this system");
  cr_assert_not_null(libunwind_backtrace());
  walk_pair_t w;
  walk_pair(&w, chain_call_outer);
  assert_same_walk(&w, "no frame pointers");
}

Test(stack, fast_walker_matches_libunwind_with_frame_pointers) {
  walk_pair_t w;
  walk_pair(&w, chain_fp_call_outer);
  assert_same_walk(&w, "frame pointers");
}

Test(stack, fast_walker_matches_libunwind_through_libc) {
  walk_pair_t w;
  walk_pair(&w, chain_call_through_qsort);
  assert_same_walk(&w, "qsort callback");
}

static void *walk_pair_on_thread(void *arg) {
  walk_pair_t *w = arg;
  for (int i = 0; i < 200; i++) walk_pair(w, i % 2 ? chain_call_outer : chain_fp_call_outer);
  return NULL;
}

Test(stack, fast_walker_matches_libunwind_on_threads) {
  static walk_pair_t w[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, walk_pair_on_thread, &w[i]);
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_same_walk(&w[i], "thread");   /* ends in clone3, whose return address is undefined */
  }
}

/* A signal handler's frame (__restore_rt): the fast walker reads the interrupted registers from
 * the ucontext the kernel left on the stack and goes on, through the interrupted frames, as
 * libunwind does; a capture in the handler needs no libunwind. */
static za_stack_id_t in_handler_id;
static walk_pair_t in_handler;

static void capture_in_handler(void) {
  walk_both_into(&in_handler);
  in_handler_id = za_stack_capture(32);
}

static void on_signal(int sig) {
  (void)sig;
  chain_call_outer(capture_in_handler);
}

static void raise_usr1(void) { raise(SIGUSR1); }

Test(stack, fast_walker_walks_signal_frames_as_libunwind) {
  signal(SIGUSR1, on_signal);
  chain_fp_call_outer(raise_usr1);
  assert_same_walk(&in_handler, "through a signal frame");
  cr_assert_neq(in_handler_id, 0);
  const char *text = written(in_handler_id);
  assert_frame_names(text, 0, "capture_in_handler");
  cr_assert(strstr(text, " in __restore_rt+0x") != NULL || strstr(text, "(libc.so.6+0x") != NULL,
            "no signal frame:\n%s", text);
  cr_assert(strstr(text, " in chain_fp_call_outer+0x") != NULL,
            "nothing beyond the signal frame:\n%s", text);
  cr_assert_eq(za_stack_fallback_state(), ZA_FALLBACK_UNTRIED, "libunwind was loaded for a signal frame");
}

/* The same on an alternate signal stack: the walk moves from the handler's stack to the
 * thread's. */
Test(stack, fast_walker_walks_from_a_sigaltstack) {
  static char alt[64 * 1024];
  stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
  cr_assert_eq(sigaltstack(&ss, NULL), 0);
  struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_ONSTACK};
  sigaction(SIGUSR1, &sa, NULL);
  chain_fp_call_outer(raise_usr1);
  assert_same_walk(&in_handler, "from a sigaltstack");
  cr_assert(strstr(written(in_handler_id), " in chain_fp_call_outer+0x") != NULL);
}

/* ---- captures from a signal's context -------------------------------------------------- */

static sigjmp_buf context_jump;
static za_stack_id_t context_id;
static walk_pair_t context_walk;   /* libunwind's walk from the handler, for comparison */

static void on_fault(int sig, siginfo_t *info, void *uc) {
  (void)sig;
  (void)info;
  context_id = za_stack_capture_context(uc, 32);
  walk_both_into(&context_walk);
  siglongjmp(context_jump, 1);
}

static void catch_with(int sig, void (*handler)(int, siginfo_t *, void *)) {
  struct sigaction sa = {.sa_sigaction = handler, .sa_flags = SA_SIGINFO | SA_NODEFER};
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static volatile int *volatile nowhere;

__attribute__((noinline)) static void write_nowhere(void) {
  *nowhere = 1;
  __asm__ volatile("" ::: "memory");
}

/* A fault in a known call chain: frame #0 is the faulting function, then its callers; the
 * frames after it are those libunwind finds beyond the signal frame. */
Test(stack, context_capture_starts_at_the_interrupted_instruction) {
  catch_with(SIGSEGV, on_fault);
  context_id = 0;
  if (sigsetjmp(context_jump, 1) == 0) chain_call_outer(write_nowhere);
  cr_assert_neq(context_id, 0);
  const char *text = written(context_id);
  assert_frame_names(text, 0, "write_nowhere");
  assert_frame_names(text, 1, "chain_call_inner");
  assert_frame_names(text, 2, "chain_call_middle");
  assert_frame_names(text, 3, "chain_call_outer");
  const uintptr_t *pcs;
  int n = za_stack_get(context_id, &pcs);
  /* libunwind from the handler: its frames, past the handler's and __restore_rt, are the
   * interrupted ones. */
  int at = 0;
  while (at < context_walk.nslow && (uintptr_t)context_walk.slow[at] != pcs[0]) at++;
  cr_assert_lt(at, context_walk.nslow, "libunwind did not find the interrupted instruction");
  for (int i = 1; i < n && at + i < context_walk.nslow; i++)
    cr_assert_eq(pcs[i], (uintptr_t)context_walk.slow[at + i], "frame %d differs from libunwind", i);
  cr_assert_eq(za_stack_fallback_state(), ZA_FALLBACK_UNTRIED);
}

static void (*volatile null_fn)(void);
__attribute__((noinline)) static void call_null(void) {
  null_fn();
  __asm__ volatile("" ::: "memory");   /* not a tail call: call_null keeps its frame */
}

Test(stack, context_capture_after_a_call_through_null) {
  catch_with(SIGSEGV, on_fault);
  context_id = 0;
  if (sigsetjmp(context_jump, 1) == 0) chain_call_outer(call_null);
  cr_assert_neq(context_id, 0);
  const uintptr_t *pcs;
  cr_assert_gt(za_stack_get(context_id, &pcs), 3);
  cr_assert_eq(pcs[0], 0);
  /* The report writes the caller as the first frame it can name (the crash report says the
   * program jumped to address 0). */
  const char *text = written(context_id);
  cr_assert(strstr(text, " in call_null+0x") != NULL, "%s", text);
  cr_assert(strstr(text, " in chain_call_outer+0x") != NULL, "%s", text);
}

Test(stack, context_capture_needs_init_and_a_context) {
  cr_assert_eq(za_stack_capture_context(NULL, 16), 0);
  ucontext_t uc;
  getcontext(&uc);
  cr_assert_eq(za_stack_capture_context(&uc, 0), 0);
  cr_assert_neq(za_stack_capture_context(&uc, 16), 0);
}

/* The PLT: a signal may land in a stub, whose CFA the call-frame information gives by a DWARF
 * expression of rip (rsp + 8, or rsp + 16 once a lazy-binding stub has pushed its index).
 * The context is made by hand: rip inside this program's .plt, rsp on a made-up stack that
 * holds (the index and) a return address; frame #1 must be that return address. */
static int find_main_bias(struct dl_phdr_info *info, size_t size, void *bias) {
  (void)size;
  *(uintptr_t *)bias = info->dlpi_addr;
  return 1;   /* the first is the program */
}

static bool plt_of_this_program(uintptr_t *lo, size_t *len) {
  FILE *f = fopen("/proc/self/exe", "rb");
  if (f == NULL) return false;
  Elf64_Ehdr eh;
  Elf64_Shdr sh[256], names;
  bool found = false;
  if (fread(&eh, sizeof eh, 1, f) == 1 && eh.e_shnum <= 256 && eh.e_shentsize == sizeof sh[0] &&
      fseek(f, (long)eh.e_shoff, SEEK_SET) == 0 && fread(sh, sizeof sh[0], eh.e_shnum, f) == eh.e_shnum) {
    names = sh[eh.e_shstrndx];
    for (int i = 0; i < eh.e_shnum && !found; i++) {
      char name[8] = {0};
      if (fseek(f, (long)(names.sh_offset + sh[i].sh_name), SEEK_SET) == 0 &&
          fread(name, 1, sizeof name - 1, f) > 0 && strcmp(name, ".plt") == 0) {
        uintptr_t bias = 0;
        dl_iterate_phdr(find_main_bias, &bias);
        *lo = bias + sh[i].sh_addr;
        *len = sh[i].sh_size;
        found = true;
      }
    }
  }
  fclose(f);
  return found;
}

__attribute__((noinline)) static uintptr_t a_return_address(void) {
  return (uintptr_t)__builtin_return_address(0);
}

Test(stack, context_capture_in_a_plt_stub) {
  uintptr_t plt;
  size_t len;
  cr_assert(plt_of_this_program(&plt, &len), "no .plt in this program");
  cr_assert_geq(len, 32);
  uintptr_t ra = a_return_address();
  static uintptr_t fake[64];
  for (int pushed = 0; pushed < 2; pushed++) {
    memset(fake, 0, sizeof fake);
    fake[pushed] = ra;   /* after the push, the index lies on top of the return address */
    ucontext_t uc;
    getcontext(&uc);
    uintptr_t rip = plt + 16 + (pushed ? 11 : 0);   /* the second entry: its jmp, or after its push */
    uc.uc_mcontext.gregs[REG_RIP] = (greg_t)rip;
    uc.uc_mcontext.gregs[REG_RSP] = (greg_t)&fake[0];
    const uintptr_t *pcs;
    int n = za_stack_get(za_stack_capture_context(&uc, 8), &pcs);
    cr_assert_geq(n, 2, "pushed %d: %d frames", pushed, n);
    cr_assert_eq(pcs[0], rip);
    cr_assert_eq(pcs[1], ra, "pushed %d: frame #1 is %#lx, not the return address", pushed,
                 (unsigned long)pcs[1]);
  }
}

/* Signals that interrupt a thread in the middle of its own captures (inside zalloc: the walk,
 * the memo, the depot, the rule cache): the handler's context capture must neither wait for
 * anything the interrupted capture holds nor return a wrong stack - each must reach the
 * thread's function. */
#define INTERRUPTS 300
static za_stack_id_t interrupted[INTERRUPTS];
static atomic_int interrupted_seen;
static atomic_bool stop_capturing;

static void on_interrupt(int sig, siginfo_t *info, void *uc) {
  (void)sig;
  (void)info;
  int i = atomic_load(&interrupted_seen);
  interrupted[i] = za_stack_capture_context(uc, ZA_STACK_MAX_DEPTH);
  atomic_store(&interrupted_seen, i + 1);
}

static atomic_bool capturing_started;

__attribute__((noinline)) void *capturing_thread(void *arg) {
  (void)arg;
  atomic_store(&capturing_started, true);
  while (!atomic_load(&stop_capturing)) {
    chain_outer(16);
    chain_via_a(16);
    chain_via_b(16);
    za_stack_modules_changed();   /* misses too: rules read and cached, memos written */
  }
  return NULL;
}

Test(stack, context_capture_interrupting_captures) {
  catch_with(SIGUSR2, on_interrupt);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, capturing_thread, NULL), 0);
  while (!atomic_load(&capturing_started)) sched_yield();
  for (int i = 0; i < INTERRUPTS; i++) {
    pthread_kill(t, SIGUSR2);
    while (atomic_load(&interrupted_seen) == i) sched_yield();
  }
  atomic_store(&stop_capturing, true);
  pthread_join(t, NULL);
  for (int i = 0; i < INTERRUPTS; i++) {
    cr_assert_neq(interrupted[i], 0, "interrupt %d: no stack", i);
    const char *text = written(interrupted[i]);
    cr_assert(strstr(text, " in capturing_thread+0x") != NULL, "interrupt %d:\n%s", i, text);
  }
}

/* A frame whose CFA is kept in rbx while it realigns the stack, as the loader's lazy-binding
 * trampoline (_dl_runtime_resolve) keeps it: sets *entered, then spins until *release is set. */
__asm__(".text\n"
        ".globl za_test_rbx_cfa_spin\n"
        ".type za_test_rbx_cfa_spin, @function\n"
        "za_test_rbx_cfa_spin:\n"
        ".cfi_startproc\n"
        "  push %rbx\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  .cfi_rel_offset %rbx, 0\n"
        "  mov %rsp, %rbx\n"
        "  .cfi_def_cfa_register %rbx\n"
        "  and $-64, %rsp\n"
        "  sub $64, %rsp\n"
        "  movb $1, (%rsi)\n"
        "1:\n"
        "  pause\n"
        "  cmpb $0, (%rdi)\n"
        "  je 1b\n"
        "  mov %rbx, %rsp\n"
        "  .cfi_def_cfa_register %rsp\n"
        "  pop %rbx\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  .cfi_restore %rbx\n"
        "  ret\n"
        ".cfi_endproc\n"
        ".size za_test_rbx_cfa_spin, .-za_test_rbx_cfa_spin\n");
void za_test_rbx_cfa_spin(volatile char *release, volatile char *entered);

static volatile char rbx_release, rbx_entered;
static za_stack_id_t rbx_captured;
static atomic_bool rbx_done;

static void on_rbx_interrupt(int sig, siginfo_t *info, void *uc) {
  (void)sig;
  (void)info;
  rbx_captured = za_stack_capture_context(uc, ZA_STACK_MAX_DEPTH);
  atomic_store(&rbx_done, true);
}

__attribute__((noinline)) void *rbx_cfa_thread(void *arg) {
  (void)arg;
  za_test_rbx_cfa_spin(&rbx_release, &rbx_entered);
  __asm__ volatile("" ::: "memory");   /* a call, not a tail jump: this frame stays */
  return NULL;
}

/* A signal interrupting such a frame: the capture steps it with rbx from the ucontext and goes
 * on to its callers. Before, the walk stopped at the interrupted frame (one frame). */
Test(stack, context_capture_through_a_frame_with_its_cfa_in_rbx) {
  catch_with(SIGUSR2, on_rbx_interrupt);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, rbx_cfa_thread, NULL), 0);
  while (!rbx_entered) sched_yield();
  pthread_kill(t, SIGUSR2);
  while (!atomic_load(&rbx_done)) sched_yield();
  rbx_release = 1;
  pthread_join(t, NULL);
  cr_assert_neq(rbx_captured, 0);
  const char *text = written(rbx_captured);
  cr_assert(strstr(text, "#0 ") != NULL && strstr(text, " in za_test_rbx_cfa_spin+0x") != NULL,
            "%s", text);
  cr_assert(strstr(text, " in rbx_cfa_thread+0x") != NULL, "%s", text);
}

/* Rules cached for a library's code are dropped when modules change: the same walk through a
 * library loaded, unloaded and loaded again (perhaps elsewhere) still matches libunwind. */
typedef int (*stripped_call_fn)(int (*)(void));

static int walk_both_in_library(void) {
  walk_both();
  return 1;
}

Test(stack, fast_walker_follows_dlopen_and_dlclose) {
  walk_pair_t w;
  for (int round = 0; round < 3; round++) {
    void *lib = dlopen(ZA_STACK_DL, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(lib, "%s", dlerror());
    za_stack_modules_changed();
    stripped_call_fn call = (stripped_call_fn)dlsym(lib, "stripped_call");
    cr_assert_not_null(call);
    memset(&w, 0, sizeof w);
    pair_out = &w;
    call(walk_both_in_library);
    call(walk_both_in_library);
    assert_same_walk(&w, "dlopen'ed library");
    dlclose(lib);
    za_stack_modules_changed();
  }
}

/* ---- the stack memo ------------------------------------------------------------------ */


/* A capture repeated from the same place is answered by the memo, with the id the walk gave
 * - the same libunwind's stack gets from the depot. */
Test(stack, memo_answers_repeated_captures_with_the_same_id) {
  za_unwind_count(true);
  za_stack_id_t ids[12];
  for (int i = 0; i < rounds(12); i++) {
    za_stack_use_libunwind_only(i == 11);
    ids[i] = chain_outer(16);
  }
  za_stack_use_libunwind_only(false);
  for (int i = 1; i < 12; i++) cr_assert_eq(ids[i], ids[0], "capture %d got another id", i);
  za_unwind_counts_t n = za_unwind_counts();
  cr_assert_geq(n.memo_hits, 10, "memo hits %lu, misses %lu", (unsigned long)n.memo_hits,
                (unsigned long)n.memo_misses);
}

/* Two stacks that share their first frame's pc and stack pointer (chain_inner's frame at the
 * same address, twins beneath it): the memo holds one at a time, and each capture must still
 * be its own stack. The libunwind capture of each is the reference. */
Test(stack, memo_tells_apart_stacks_under_the_same_frame) {
  za_unwind_count(true);
  za_stack_id_t a[6], b[6];
  uintptr_t cfa_a = 0, cfa_b = 0;
  for (int i = 0; i < rounds(6); i++) {
    za_stack_use_libunwind_only(i == 5);
    a[i] = chain_via_a(16);
    cfa_a = chain_inner_cfa;
    b[i] = chain_via_b(16);
    cfa_b = chain_inner_cfa;
  }
  za_stack_use_libunwind_only(false);
  cr_assert_eq(cfa_a, cfa_b, "the twins' frames differ: the test needs them at one address");
  cr_assert_neq(a[0], b[0]);
  for (int i = 1; i < 6; i++) {
    cr_assert_eq(a[i], a[0], "capture %d through chain_via_a got another id", i);
    cr_assert_eq(b[i], b[0], "capture %d through chain_via_b got another id", i);
  }
  assert_frame_names(written(a[0]), 2, "chain_via_a");
  assert_frame_names(written(b[0]), 2, "chain_via_b");
  /* The twins take turns under one key: the memo keeps the first (which hits) rather than
   * rewriting the entry at every capture (when nothing would hit). */
  za_unwind_counts_t n = za_unwind_counts();
  cr_assert(n.memo_hits >= 3 && n.memo_misses >= 5, "memo hits %lu, misses %lu",
            (unsigned long)n.memo_hits, (unsigned long)n.memo_misses);
}

/* Loaded code changing makes every memo stale. */
Test(stack, memo_is_dropped_when_modules_change) {
  za_unwind_count(true);
  za_stack_id_t ids[3];
  for (int i = 0; i < rounds(3); i++) {
    if (i == 2) za_stack_modules_changed();
    ids[i] = chain_outer(16);
  }
  cr_assert(ids[1] == ids[0] && ids[2] == ids[0], "ids %u %u %u", ids[0], ids[1], ids[2]);
  za_unwind_counts_t n = za_unwind_counts();
  cr_assert_eq(n.memo_hits, 1);
  cr_assert_eq(n.memo_misses, 2);
}

static za_stack_id_t twin_ids[4][2][500];

static void *capture_twins(void *arg) {
  int t = (int)(intptr_t)arg;
  for (int i = 0; i < 500; i++) {
    twin_ids[t][0][i] = chain_via_a(16);
    twin_ids[t][1][i] = chain_via_b(16);
  }
  return NULL;
}

/* Threads racing on memo entries (the same code, other stacks: other keys, but entries
 * written and read at once as the table grows). */
Test(stack, memo_on_threads) {
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, capture_twins, (void *)(intptr_t)i);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  za_stack_id_t a = twin_ids[0][0][0], b = twin_ids[0][1][0];
  cr_assert(a != 0 && b != 0 && a != b);
  assert_frame_names(written(a), 2, "chain_via_a");
  assert_frame_names(written(b), 2, "chain_via_b");
  for (int th = 0; th < 4; th++)
    for (int i = 0; i < 500; i++)
      cr_assert(twin_ids[th][0][i] == a && twin_ids[th][1][i] == b, "thread %d, round %d", th, i);
}

/* ---- zalloc's own frames --------------------------------------------------------------- */

/* libza_stack_self.so stands in for zalloc (stack_self.c): with it as `self`, its frames are
 * left out, and the first frame kept is its caller's. */
typedef uint32_t (*self_capture_fn)(int depth);
uint32_t self_entry_a(self_capture_fn capture, int depth);
uint32_t self_entry_b(self_capture_fn capture, int depth);
uint32_t self_entry_fp(self_capture_fn capture, int depth);

static void setup_self(void) { za_stack_init((const void *)self_entry_a); }
TestSuite(stack_self, .init = setup_self);

static volatile int self_sink;
#define SELF_CALLER(name, entry)                                     \
  __attribute__((noinline)) static za_stack_id_t name(void) {        \
    za_stack_id_t id = entry(za_stack_capture, 8);                   \
    self_sink++;                                                     \
    return id;                                                       \
  }
SELF_CALLER(via_self_a, self_entry_a)
SELF_CALLER(via_self_b, self_entry_b)
SELF_CALLER(via_self_fp, self_entry_fp)

/* Every entry, in turn, several times over (the shapes are learnt, then fitted): the stack
 * starts at the entry's caller and is the one libunwind gives. */
Test(stack_self, frames_of_self_are_left_out) {
  za_stack_id_t (*callers[3])(void) = {via_self_a, via_self_b, via_self_fp};
  const char *names[3] = {"via_self_a", "via_self_b", "via_self_fp"};
  za_unwind_count(true);
  for (int round = 0; round < 4; round++)
    for (int k = 0; k < 3; k++) {
      za_stack_use_libunwind_only(round == 3);
      za_stack_id_t id = callers[k]();
      za_stack_use_libunwind_only(false);
      const char *text = written(id);
      assert_frame_names(text, 0, names[k]);
      cr_assert(strstr(text, "libza_stack_self.so") == NULL, "a frame of self kept:\n%s", text);
      static za_stack_id_t first[3];
      if (round == 0) first[k] = id;
      cr_assert_eq(id, first[k], "%s, round %d: another stack", names[k], round);
    }
  za_unwind_counts_t n = za_unwind_counts();
  /* a and b fitted in rounds 1 and 2; the frame-pointer entry is never memoised. */
  cr_assert_eq(n.shape_hits, 4, "shape hits %lu, misses %lu", (unsigned long)n.shape_hits,
               (unsigned long)n.shape_misses);
  cr_assert_eq(n.shape_misses, 5);
}

/* ---- the depot ------------------------------------------------------------------------ */

static void fake_stack(uintptr_t *pcs, int n, unsigned seed) {
  for (int i = 0; i < n; i++) pcs[i] = 0x400000u + seed * 0x1000u + (unsigned)i * 8u;
}

Test(depot, same_stack_same_id_and_reads_back) {
  uintptr_t a[8], b[8];
  fake_stack(a, 8, 1);
  fake_stack(b, 8, 1);
  za_stack_id_t ia = za_depot_put(a, 8);
  cr_assert_neq(ia, 0);
  cr_assert_eq(za_depot_put(b, 8), ia);
  const uintptr_t *pcs;
  cr_assert_eq(za_stack_get(ia, &pcs), 8);
  cr_assert_arr_eq(pcs, a, sizeof a);
}

Test(depot, different_stacks_different_ids) {
  uintptr_t a[8];
  fake_stack(a, 8, 2);
  za_stack_id_t full = za_depot_put(a, 8);
  za_stack_id_t prefix = za_depot_put(a, 7);
  a[7]++;
  za_stack_id_t last = za_depot_put(a, 8);
  cr_assert(full != prefix && full != last && prefix != last, "%u %u %u", full, prefix, last);
}

Test(depot, no_stack_for_unknown_ids) {
  const uintptr_t *pcs = (const uintptr_t *)1;
  cr_assert_eq(za_stack_get(0, &pcs), 0);
  cr_assert_null(pcs);
  cr_assert_eq(za_stack_get(12345, &pcs), 0);
  uintptr_t a[1] = {42};
  za_stack_id_t id = za_depot_put(a, 1);
  cr_assert_eq(za_stack_get(id + 1, &pcs), 0);
  cr_assert_eq(za_depot_put(a, 0), 0);
  cr_assert_eq(za_depot_put(a, ZA_STACK_MAX_DEPTH + 1), 0);
}

/* Stacks stored before a level of the depot filled up are found in it afterwards. */
Test(depot, stacks_found_across_levels) {
  static za_stack_id_t ids[3000];
  uintptr_t pcs[5];
  for (int round = 0; round < 2; round++)
    for (int s = 0; s < 3000; s++) {
      fake_stack(pcs, 5, 50000 + (unsigned)s);
      za_stack_id_t id = za_depot_put(pcs, 5);
      if (round == 0) ids[s] = id;
      cr_assert(id != 0 && id == ids[s], "round %d, stack %d: id %u, first %u", round, s, id, ids[s]);
    }
}

/* More stacks than the depot's first two levels hold (1024 and 16384): they are frozen and
 * their successors taken while threads insert. */
#define THREADS 8
#define STACKS  20000

static za_stack_id_t thread_ids[THREADS][STACKS];

/* Every thread inserts the same stacks, each in its own order, racing for new slots (and for
 * freezing the levels that fill). */
static void *put_many(void *arg) {
  int t = (int)(intptr_t)arg;
  for (int k = 0; k < STACKS; k++) {
    int s = (k * 7 + t * 613) % STACKS;
    uintptr_t pcs[12];
    fake_stack(pcs, 12, 100 + (unsigned)s);
    thread_ids[t][s] = za_depot_put(pcs, 12);
  }
  return NULL;
}

Test(depot, ids_agree_across_threads) {
  pthread_t th[THREADS];
  for (int t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, put_many, (void *)(intptr_t)t);
  for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
  for (int s = 0; s < STACKS; s++) {
    cr_assert_neq(thread_ids[0][s], 0);
    for (int t = 1; t < THREADS; t++)
      cr_assert_eq(thread_ids[t][s], thread_ids[0][s], "stack %d: thread %d got another id", s, t);
    uintptr_t want[12];
    fake_stack(want, 12, 100 + (unsigned)s);
    const uintptr_t *pcs;
    cr_assert_eq(za_stack_get(thread_ids[0][s], &pcs), 12);
    cr_assert_arr_eq(pcs, want, sizeof want, "stack %d reads back wrong", s);
  }
  static int owner[4 * STACKS];
  for (int s = 0; s < STACKS; s++) {
    za_stack_id_t id = thread_ids[0][s];
    cr_assert_lt(id, 4 * STACKS);
    cr_assert_eq(owner[id], 0, "stacks %d and %d share an id", owner[id] - 1, s);
    owner[id] = s + 1;
  }
}
