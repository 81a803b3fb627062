/* zalloc - statistics (see stats.h). */
#include "stats.h"
#include "thread.h"

#include <string.h>

_Atomic uint32_t za_epoch;

static za_counters_t exited;          /* counters of threads that have exited */
static _Atomic int64_t in_use;        /* bytes in use, all threads, in batches */
static _Atomic int64_t peak;

/* Add the thread's batch to the shared figure. The thread's own high-water mark within the
 * batch, on top of the shared figure as it was, is a peak candidate: exact when one thread
 * allocates, and off by at most the other threads' unflushed batches otherwise. */
void za_stats_flush(za_thread_t *t) {
  int64_t base = atomic_fetch_add_explicit(&in_use, t->in_use_pending, memory_order_relaxed);
  int64_t candidate = base + t->in_use_high;
  t->in_use_pending = t->in_use_high = 0;
  int64_t p = atomic_load_explicit(&peak, memory_order_relaxed);
  while (candidate > p && !atomic_compare_exchange_weak_explicit(&peak, &p, candidate,
                                                                 memory_order_relaxed,
                                                                 memory_order_relaxed)) {
  }
}

void za_stats_resize(za_thread_t *t, size_t old_size, size_t new_size) {
  if (new_size > old_size) za_relaxed_bump(&t->counters.v[ZA_C_BYTES_ALLOC], new_size - old_size);
  else za_relaxed_bump(&t->counters.v[ZA_C_BYTES_FREED], old_size - new_size);
  za_stats_in_use(t, (int64_t)new_size - (int64_t)old_size);
}

void za_stats_fold(za_thread_t *t) {
  for (int i = 0; i < ZA_C_COUNT; i++) {
    atomic_fetch_add_explicit(&exited.v[i], za_relaxed_load(&t->counters.v[i]), memory_order_relaxed);
    za_relaxed_store(&t->counters.v[i], 0);
  }
  za_stats_flush(t);
}

void za_stats_exited(za_counters_t *out) {
  for (int i = 0; i < ZA_C_COUNT; i++)
    za_relaxed_bump(&out->v[i], za_relaxed_load(&exited.v[i]));
}

size_t za_stats_peak(za_thread_t *t, size_t live_now) {
  if (t) za_stats_flush(t);
  int64_t p = atomic_load_explicit(&peak, memory_order_relaxed);
  size_t recorded = p > 0 ? (size_t)p : 0;
  return recorded > live_now ? recorded : live_now;
}

void za_stats_reset(void) {
  for (int i = 0; i < ZA_C_COUNT; i++) za_relaxed_store(&exited.v[i], 0);
  atomic_store(&in_use, 0);
  atomic_store(&peak, 0);
  atomic_fetch_add(&za_epoch, 1);
}
