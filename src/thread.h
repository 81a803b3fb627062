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

/* ---- statistics per call (stats.h): inline on the allocation and free fast paths ---------- */

static inline void za_stats_call(za_thread_t *t, za_counter_t call) {
  za_relaxed_bump(&t->counters.v[call], 1);
}

/* Bytes in use: the thread's batch, and its high-water mark within the batch (stats.c). */
static inline void za_stats_in_use(za_thread_t *t, int64_t delta) {
  int64_t p = t->in_use_pending += delta;
  if (p > t->in_use_high) t->in_use_high = p;
  if (za_unlikely(p > ZA_STATS_BATCH || p < -ZA_STATS_BATCH)) za_stats_flush(t);
}

/* The same going up (an allocation): the batch can only overflow at a new high-water mark, so
 * most calls compare once. */
static inline void za_stats_in_use_up(za_thread_t *t, int64_t size) {
  int64_t p = t->in_use_pending += size;
  if (p > t->in_use_high) {
    t->in_use_high = p;                  /* at most ZA_STATS_BATCH: a flush resets both */
    if (za_unlikely(p > ZA_STATS_BATCH)) za_stats_flush(t);
  }
}

static inline void za_stats_alloc(za_thread_t *t, size_t size) {
  za_relaxed_bump(&t->counters.v[ZA_C_BLOCKS_ALLOC], 1);
  za_relaxed_bump(&t->counters.v[ZA_C_BYTES_ALLOC], size);
  za_stats_in_use_up(t, (int64_t)size);
}

/* The fast paths: one malloc call that allocated one block of class `c` (of `size` bytes,
 * za_class_size(c)), one free that freed one. */
static inline void za_stats_malloc_block(za_thread_t *t, unsigned c, size_t size) {
  za_relaxed_bump(&t->counters.v[ZA_C_CLASS_MALLOC + c], 1);
  za_stats_in_use_up(t, (int64_t)size);
}

static inline void za_stats_free_block(za_thread_t *t, unsigned c, size_t size) {
  za_relaxed_bump(&t->counters.v[ZA_C_CLASS_FREE + c], 1);
  /* Going down: no new high-water mark within the batch. */
  int64_t p = t->in_use_pending -= (int64_t)size;
  if (za_unlikely(p < -ZA_STATS_BATCH)) za_stats_flush(t);
}

static inline void za_stats_free(za_thread_t *t, size_t size) {
  za_relaxed_bump(&t->counters.v[ZA_C_BLOCKS_FREED], 1);
  za_relaxed_bump(&t->counters.v[ZA_C_BYTES_FREED], size);
  za_stats_in_use(t, -(int64_t)size);
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
