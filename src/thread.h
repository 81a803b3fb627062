/* zalloc - per-thread state. Each thread that calls into zalloc gets a za_thread_t, found
 * through one initial-exec TLS pointer: its heap (the core's pages and free lists), its
 * statistics counters (written only by that thread) and its backend's own state. A pthread
 * key destructor returns it when the thread exits; calls the thread makes after that (other
 * TLS destructors freeing memory) share one locked "orphan" thread state. A registry of live threads lets the report sum their counters and
 * lets a forked child drop the threads that did not survive fork. */
#ifndef ZA_THREAD_H
#define ZA_THREAD_H
#include "common.h"
#include "heap.h"
#include "stats.h"

#define ZA_BACKEND_STATE_SIZE 64

/* Cache-line aligned: these sit side by side in a slab, and every malloc and free writes its
 * thread's counters and heap; sharing a line with another thread's would bounce it between
 * cores on every call (measured: 2.5x slower two-thread churn, see docs/performance.md). */
typedef struct za_thread {
  za_heap_t heap;                        /* the core heap: its pages, free lists (heap.h) */
  _Alignas(64) struct za_thread *next, *prev; /* registry, under the registry lock */
  za_counters_t counters;                /* this thread's calls, blocks and bytes */
  int64_t in_use_pending;                /* bytes not yet added to the global in-use figure */
  int64_t in_use_high;                   /* highest in_use_pending since the last flush */
  int tid;
  _Alignas(16) unsigned char backend[ZA_BACKEND_STATE_SIZE]; /* the backend's own state */
} za_thread_t;

extern ZA_TLS za_thread_t *za_tls_thread;

za_thread_t *za_thread_enter_slow(void);
void za_thread_leave_slow(za_thread_t *t);
extern za_thread_t za_orphan_thread;

/* The calling thread's state; every entry point brackets its work with enter/leave. */
static inline za_thread_t *za_thread_enter(void) {
  za_thread_t *t = za_tls_thread;
  return za_likely(t != NULL) ? t : za_thread_enter_slow();
}
static inline void za_thread_leave(za_thread_t *t) {
  if (za_unlikely(t == &za_orphan_thread)) za_thread_leave_slow(t);
}

void za_thread_init(void);          /* once, at start-up: creates the pthread key */
/* Sum every thread's counters (live, exited, orphan) into `out`. */
void za_thread_sum_counters(za_counters_t *out);
/* The same from a signal handler, which must not wait for the registry's lock: false (out
 * unset) if it stayed busy through a few tries. */
bool za_thread_try_sum_counters(za_counters_t *out);
void za_thread_fork_prepare(void);
void za_thread_fork_parent(void);
void za_thread_fork_child(void);    /* drops every thread but the caller */
#endif
