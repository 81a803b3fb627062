/* zalloc - process start-up and fork handling. Start-up is lazy and idempotent: the first
 * call into zalloc from any thread (often from the dynamic loader or libc, before any
 * constructor) reads the options, checks the log path and starts the backend; other threads
 * wait for it. A bad configuration stops the process here with exit status 2. */
#ifndef ZA_RUNTIME_H
#define ZA_RUNTIME_H
#include "common.h"

extern atomic_int za_runtime_state;   /* 0 not started, 1 starting, 2 ready */
extern int za_parent_pid;             /* in a forked child: the parent's pid, else 0 */
/* With ZALLOC_LOG=stderr: a private copy of stderr taken at start-up (-1 if none), because
 * programs close stderr before exit (coreutils' close_stderr runs from atexit). */
extern int za_stderr_copy;

void za_runtime_init(void);
static inline void za_runtime_ensure(void) {
  if (za_unlikely(atomic_load_explicit(&za_runtime_state, memory_order_acquire) != 2))
    za_runtime_init();
}

/* Start-up work that must not run inside malloc (it loads libraries): from the preload
 * constructor. `self` is an address in zalloc's own code. Loads the unwinder when the mode
 * records stacks, and tells the leak check which module is zalloc. */
void za_runtime_outside_malloc(const void *self);

/* pthread_atfork handlers: every zalloc lock is taken before fork, in one order, and released
 * (parent) or reset (child) after it. The child then counts only its own allocations. */
void za_fork_prepare(void);
void za_fork_parent(void);
void za_fork_child(void);
#endif
