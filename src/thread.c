/* zalloc - per-thread state (see thread.h). */
#include "thread.h"
#include "backend.h"
#include "lock.h"
#include "prim.h"

#include <pthread.h>
#include <string.h>

ZA_TLS za_thread_t *za_tls_thread;
static ZA_TLS bool tls_exited;      /* the key destructor has run for this thread */

za_thread_t za_orphan_thread;
static za_lock_t orphan_lock = ZA_LOCK_INIT;

static pthread_key_t key;
static za_lock_t registry_lock = ZA_LOCK_INIT;
static za_thread_t *registry;       /* live threads */
static za_thread_t *pool;           /* returned za_thread_t, linked through ->next */

#define SLAB_SIZE (128 * ZA_KiB)

static za_thread_t *take_from_pool(void) {
  if (!pool) {
    za_thread_t *slab = za_os_map(SLAB_SIZE);
    if (!slab) return NULL;
    for (size_t i = 0; i < SLAB_SIZE / sizeof *slab; i++) {
      slab[i].next = pool;
      pool = &slab[i];
    }
  }
  za_thread_t *t = pool;
  pool = t->next;
  return t;
}

static void unregister(za_thread_t *t) {
  if (t->prev) t->prev->next = t->next;
  else registry = t->next;
  if (t->next) t->next->prev = t->prev;
  memset(t, 0, sizeof *t);
  t->next = pool;
  pool = t;
}

static void on_thread_exit(void *arg) {
  za_thread_t *t = arg;
  za_tls_thread = NULL;
  tls_exited = true;
  za_backend->thread_exit(t);
  za_heap_abandon(&t->heap);
  za_stats_fold(t);
  za_lock(&registry_lock);
  unregister(t);
  za_unlock(&registry_lock);
}

void za_thread_init(void) {
  pthread_key_create(&key, on_thread_exit);
  za_heap_new(&za_orphan_thread.heap);
  za_backend->thread_init(&za_orphan_thread);
}

za_thread_t *za_thread_enter_slow(void) {
  za_thread_t *t = NULL;
  if (!tls_exited) {
    za_lock(&registry_lock);
    t = take_from_pool();
    if (t) {
      memset(t, 0, sizeof *t);
      t->tid = za_os_gettid();
      t->next = registry;
      if (registry) registry->prev = t;
      registry = t;
    }
    za_unlock(&registry_lock);
  }
  if (!t) {
    /* After the thread's exit destructor, or if even a slab could not be mapped. */
    za_lock(&orphan_lock);
    return &za_orphan_thread;
  }
  za_heap_new(&t->heap);
  za_backend->thread_init(t);
  /* Set the TLS pointer first: should pthread_setspecific allocate (keys beyond the first 32
   * do), the nested malloc finds this thread's state instead of recursing here. */
  za_tls_thread = t;
  pthread_setspecific(key, t);
  return t;
}

void za_thread_leave_slow(za_thread_t *t) {
  (void)t;
  za_unlock(&orphan_lock);
}

/* Under the registry lock, which it releases. */
static void sum_locked(za_counters_t *out) {
  memset(out, 0, sizeof *out);
  za_stats_exited(out);
  for (za_thread_t *t = registry; t; t = t->next)
    for (int i = 0; i < ZA_C_COUNT; i++) za_relaxed_bump(&out->v[i], za_relaxed_load(&t->counters.v[i]));
  za_unlock(&registry_lock);
  for (int i = 0; i < ZA_C_COUNT; i++)
    za_relaxed_bump(&out->v[i], za_relaxed_load(&za_orphan_thread.counters.v[i]));
  za_counters_fold(out);
}

bool za_thread_try_sum_counters(za_counters_t *out) {
  if (!za_lock_try(&registry_lock, 1000)) return false;
  sum_locked(out);
  return true;
}

void za_thread_sum_counters(za_counters_t *out) {
  za_lock(&registry_lock);
  sum_locked(out);
}

void za_thread_fork_prepare(void) {
  za_lock(&registry_lock);
  za_lock(&orphan_lock);
}

void za_thread_fork_parent(void) {
  za_unlock(&orphan_lock);
  za_unlock(&registry_lock);
}

void za_thread_fork_child(void) {
  za_lock_reset(&orphan_lock);
  za_lock_reset(&registry_lock);
  za_thread_t *self = za_tls_thread;
  za_thread_t *t = registry;
  while (t) {
    za_thread_t *next = t->next;
    if (t != self) {
      za_backend->thread_exit(t);
      za_heap_abandon(&t->heap);
      unregister(t);
    }
    t = next;
  }
  /* The child counts only what it does itself. */
  for (t = registry; t; t = t->next) {
    memset(&t->counters, 0, sizeof t->counters);
    t->in_use_pending = t->in_use_high = 0;
    t->tid = za_os_gettid();
  }
  memset(&za_orphan_thread.counters, 0, sizeof za_orphan_thread.counters);
  za_orphan_thread.in_use_pending = za_orphan_thread.in_use_high = 0;
}
