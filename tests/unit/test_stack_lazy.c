/* Unit tests of the fallback unwinder's lazy loading (stack.c): libunwind is not loaded by
 * za_stack_init nor by captures the fast walker completes (signal frames included); the first
 * capture through a frame the fast walker cannot walk (stack_expr_call: a DWARF-expression CFA)
 * loads it and gets the whole stack - also from a library constructor that dlopen runs, with
 * the loader's lock held; a capture made by code the loader itself called (its frames on the
 * stack), or from a signal handler, does not load it and keeps the frames walked; and a child
 * forked while another thread was loading it loads it itself. Each test is a process of its own (Criterion forks), so each
 * starts with libunwind unloaded. */
#include <criterion/criterion.h>

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stack.h"
#include "stack_chain.h"
#include "stack_text.h"

static void setup(void) { za_stack_init(NULL); }
TestSuite(stack_lazy, .init = setup);

static bool libunwind_mapped(void) {
  void *lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_NOLOAD);
  if (lib != NULL) dlclose(lib);
  return lib != NULL;
}

static za_stack_id_t expr_id;
static void capture_under_expr(void) { expr_id = za_stack_capture(32); }
/* Not tail calls: each of these keeps its frame. */
__attribute__((noinline)) static void through_expr(void) {
  stack_expr_call(capture_under_expr);
  __asm__ volatile("" ::: "memory");
}

/* The stack of a capture through stack_expr_call: complete (its callers found by libunwind). */
static void assert_through_expr(za_stack_id_t id, const char *caller) {
  cr_assert_neq(id, 0);
  const char *text = written(id);
  assert_frame_names(text, 0, "capture_under_expr");
  assert_frame_names(text, 1, "stack_expr_call");
  assert_frame_names(text, 2, caller);
}

static void capture_in_signal(int sig) {
  (void)sig;
  chain_outer(16);
}

Test(stack_lazy, captures_the_fast_walker_completes_load_nothing) {
  cr_assert_neq(chain_outer(16), 0);
  cr_assert_neq(chain_through_qsort(16), 0);
  signal(SIGUSR1, capture_in_signal);
  raise(SIGUSR1);
  cr_assert_eq(za_stack_fallback_state(), ZA_FALLBACK_UNTRIED);
  cr_assert_not(libunwind_mapped(), "libunwind.so.8 is mapped");
}

Test(stack_lazy, a_frame_the_walker_cannot_walk_loads_libunwind) {
  cr_assert_not(libunwind_mapped());
  za_stack_id_t ids[2];
  for (int i = 0; i < rounds(2); i++) {   /* cold (loads it), then warm: the same stack */
    chain_call_outer(through_expr);
    ids[i] = expr_id;
  }
  cr_assert_eq(za_stack_fallback_state(), ZA_FALLBACK_LOADED);
  cr_assert(libunwind_mapped());
  assert_through_expr(ids[0], "through_expr");
  assert_frame_names(written(ids[0]), 3, "chain_call_inner");
  char first[16384];
  snprintf(first, sizeof first, "%s", written(ids[0]));
  cr_assert_eq(ids[1], ids[0], "cold:\n%s\nwarm:\n%s", first, written(ids[1]));
}

/* libunwind was not loaded, and the capture kept the frames from capture_in_ctor_or_handler
 * through `beyond` (a frame past the signal frame, or the loader's) up to stack_expr_call. */
static void assert_not_loaded_kept_up_to_expr(const char *beyond) {
  cr_assert_eq(za_stack_fallback_state(), ZA_FALLBACK_UNTRIED, "libunwind was loaded");
  cr_assert_not(libunwind_mapped());
  const char *text = written(expr_id);
  assert_frame_names(text, 0, "capture_in_ctor_or_handler");
  cr_assert(strstr(text, beyond) != NULL, "no %s frame:\n%s", beyond, text);
  assert_frame_names(text, last_frame(text), "stack_expr_call");
}

/* A handler that captures, for a signal raised beneath stack_expr_call: the code a signal
 * interrupts may be the loader or malloc, so a capture that walked through a signal frame
 * does not start loading libunwind. It keeps the frames up to stack_expr_call. */
static void capture_in_ctor_or_handler(void);
static void on_usr2(int sig) {
  (void)sig;
  capture_in_ctor_or_handler();
}

__attribute__((noinline)) static void raise_usr2(void) {
  raise(SIGUSR2);
  __asm__ volatile("" ::: "memory");
}

Test(stack_lazy, no_loading_from_a_signal_handler) {
  signal(SIGUSR2, on_usr2);
  stack_expr_call(raise_usr2);
  assert_not_loaded_kept_up_to_expr(" in raise_usr2+0x");
}

/* ---- inside the dynamic loader --------------------------------------------------------- */

/* Called by the constructor of libza_stack_ctor.so (exported from this program). */
static void (*ctor_action)(void);
void za_test_ctor_hook(void);
void za_test_ctor_hook(void) {
  if (ctor_action != NULL) ctor_action();
}

static void *open_ctor_lib(void) {
  void *lib = dlopen(ZA_STACK_CTOR, RTLD_NOW | RTLD_LOCAL);
  cr_assert_not_null(lib, "%s", dlerror());
  return lib;
}

/* A constructor that dlopen runs (the loader's lock held, its objects mapped and relocated):
 * loading libunwind there is a dlopen nested in another, as constructors may do. */
Test(stack_lazy, loads_libunwind_in_a_constructor_dlopen_runs) {
  ctor_action = through_expr;
  open_ctor_lib();
  cr_assert_eq(za_stack_fallback_state(), ZA_FALLBACK_LOADED);
  assert_through_expr(expr_id, "through_expr");
  cr_assert(strstr(written(expr_id), "(ld-linux-x86-64.so.2+0x") != NULL, "no loader frames:\n%s",
            written(expr_id));
}

__attribute__((noinline)) static void capture_in_ctor_or_handler(void) {
  expr_id = za_stack_capture(48);
  __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) static void open_ctor_lib_void(void) {
  open_ctor_lib();
  __asm__ volatile("" ::: "memory");
}

/* The frame the fast walker cannot walk lies beyond the loader's frames: this capture comes
 * from code the loader called (as a malloc by ld.so while it maps an object would), so it must
 * not start another dlopen. It keeps the frames it walked, up to stack_expr_call. */
Test(stack_lazy, no_loading_from_code_the_loader_called) {
  ctor_action = capture_in_ctor_or_handler;
  stack_expr_call(open_ctor_lib_void);
  assert_not_loaded_kept_up_to_expr("(ld-linux-x86-64.so.2+0x");
  /* Outside the loader, the next capture that needs it loads it. */
  chain_call_outer(through_expr);
  cr_assert_eq(za_stack_fallback_state(), ZA_FALLBACK_LOADED);
  assert_through_expr(expr_id, "through_expr");
}

/* ---- fork ------------------------------------------------------------------------------ */

static sem_t release_ctor;
static atomic_bool in_ctor;

static void block_in_ctor(void) {
  atomic_store(&in_ctor, true);
  while (sem_wait(&release_ctor) != 0) {}
}

static void *open_blocking(void *arg) {
  (void)arg;
  open_ctor_lib();
  return NULL;
}

static void *capture_through_expr(void *arg) {
  (void)arg;
  chain_call_outer(through_expr);
  return (void *)(uintptr_t)expr_id;
}

/* One thread holds the loader's lock (its dlopen waits in a constructor), another thread's
 * capture is loading libunwind (its dlopen waits for that lock): a child forked now has
 * neither thread, and must load libunwind itself rather than wait for a load that will never
 * finish in it. The parent's threads then finish as usual. */
Test(stack_lazy, a_child_forked_while_another_thread_loads_it_loads_it_itself) {
  sem_init(&release_ctor, 0, 0);
  ctor_action = block_in_ctor;
  pthread_t opener, loader;
  cr_assert_eq(pthread_create(&opener, NULL, open_blocking, NULL), 0);
  while (!atomic_load(&in_ctor)) sched_yield();
  cr_assert_eq(pthread_create(&loader, NULL, capture_through_expr, NULL), 0);
  while (za_stack_fallback_state() != ZA_FALLBACK_LOADING) sched_yield();
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    za_stack_fork_child();   /* as the preload's pthread_atfork handler does */
    ctor_action = NULL;
    expr_id = 0;
    chain_call_outer(through_expr);
    const uintptr_t *pcs;
    bool ok = za_stack_fallback_state() == ZA_FALLBACK_LOADED && za_stack_get(expr_id, &pcs) > 3;
    _exit(ok ? 0 : 1);
  }
  sem_post(&release_ctor);
  void *id;
  pthread_join(opener, NULL);
  pthread_join(loader, &id);
  assert_through_expr((za_stack_id_t)(uintptr_t)id, "through_expr");
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child did not load libunwind");
}
