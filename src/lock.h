/* zalloc - a small spin lock for the slow paths (chunk pool, large blocks, findings, thread
 * registry). Never on the malloc/free fast path. Test-and-test-and-set, yielding after a short
 * spin so an oversubscribed machine still makes progress. Fork-safe by construction: the fork
 * handlers take every lock before fork and reset them in the child (see runtime.c). */
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

static inline void za_lock(za_lock_t *l) {
  for (unsigned spins = 0;; spins++) {
    if (!atomic_exchange_explicit(&l->held, 1, memory_order_acquire)) return;
    while (atomic_load_explicit(&l->held, memory_order_relaxed)) {
      if (++spins > 64) za_os_yield();
      else za_cpu_relax();
    }
  }
}
/* For signal handlers, which must not wait for a lock the interrupted code may hold: up to
 * `tries` attempts, yielding between them; false if it stayed busy. */
static inline bool za_lock_try(za_lock_t *l, int tries) {
  for (int i = 0; i < tries; i++) {
    if (!atomic_exchange_explicit(&l->held, 1, memory_order_acquire)) return true;
    za_os_yield();
  }
  return false;
}
static inline void za_unlock(za_lock_t *l) { atomic_store_explicit(&l->held, 0, memory_order_release); }
static inline void za_lock_reset(za_lock_t *l) { atomic_store_explicit(&l->held, 0, memory_order_relaxed); }
#endif
