/* zalloc - a small lock for the slow paths (page pool, abandoned pages, large blocks, findings,
 * thread registry, quarantine). Never on the malloc/free fast path. It spins briefly, then
 * sleeps on a futex: on a machine with few cores, threads that kept spinning or yielding while
 * the holder was descheduled (or forking, which holds every lock) stole the CPU from it.
 * States: 0 free, 1 held, 2 held with sleepers (a classic three-state futex mutex). Fork-safe
 * by construction: the fork handlers take every lock before fork and reset them in the child
 * (see runtime.c). */
#ifndef ZA_LOCK_H
#define ZA_LOCK_H
#include "common.h"
#include "prim.h"

static inline void za_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

typedef struct za_lock { atomic_int held; } za_lock_t;
#define ZA_LOCK_INIT {0}

void za_lock_wait(za_lock_t *l);

static inline void za_lock(za_lock_t *l) {
  int expect = 0;
  if (za_likely(atomic_compare_exchange_strong_explicit(&l->held, &expect, 1, memory_order_acquire,
                                                        memory_order_relaxed)))
    return;
  za_lock_wait(l);
}
static inline void za_unlock(za_lock_t *l) {
  if (za_unlikely(atomic_exchange_explicit(&l->held, 0, memory_order_release) == 2))
    za_os_futex_wake(&l->held, 1);
}
/* For signal handlers, which must not wait for a lock the interrupted code may hold: up to
 * `tries` attempts, yielding between them; false if it stayed busy. */
static inline bool za_lock_try(za_lock_t *l, int tries) {
  for (int i = 0; i < tries; i++) {
    int expect = 0;
    if (atomic_compare_exchange_strong_explicit(&l->held, &expect, 1, memory_order_acquire,
                                                memory_order_relaxed))
      return true;
    za_os_yield();
  }
  return false;
}
static inline void za_lock_reset(za_lock_t *l) { atomic_store_explicit(&l->held, 0, memory_order_relaxed); }
#endif
