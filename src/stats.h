/* zalloc - statistics for the exit report: calls by kind, blocks and bytes allocated and
 * freed, bytes in use and their peak. Counters are per thread (no shared cache line on the
 * fast path) and summed when the report is written; the in-use figure is shared but updated
 * in batches of up to ZA_STATS_BATCH bytes per thread. Each thread remembers the high-water
 * mark of its batch, so the peak is exact when one thread allocates and within one batch per
 * other thread otherwise. Only blocks allocated in this process image count: a forked child starts at zero
 * and does not count frees of blocks it inherited (see za_epoch). */
#ifndef ZA_STATS_H
#define ZA_STATS_H
#include "common.h"
#include "sizeclass.h"

typedef enum za_counter {
  ZA_C_MALLOC, ZA_C_CALLOC, ZA_C_REALLOC, ZA_C_ALIGNED, ZA_C_FREE,
  ZA_C_BLOCKS_ALLOC, ZA_C_BLOCKS_FREED, ZA_C_BYTES_ALLOC, ZA_C_BYTES_FREED,
  /* The fast paths count a malloc of one block, or a free of one, in one counter per size
   * class: a single increment, and no byte sum (the class gives the bytes). They are folded
   * into the calls, blocks and bytes above when counters are summed (za_counters_fold).
   * The statistics were 13-20% of alloc-bench lifo's and fifo's time with three values
   * bumped on every call (docs/performance.md). */
  ZA_C_CLASS_MALLOC,
  ZA_C_CLASS_FREE = ZA_C_CLASS_MALLOC + ZA_NCLASS,
  ZA_C_COUNT = ZA_C_CLASS_FREE + ZA_NCLASS
} za_counter_t;

typedef struct za_counters { _Atomic uint64_t v[ZA_C_COUNT]; } za_counters_t;

/* Fold the fast paths' counters into the calls, blocks and bytes they stand for. */
static inline void za_counters_fold(za_counters_t *c) {
  for (unsigned k = 0; k < ZA_NCLASS; k++) {
    uint64_t m = za_relaxed_load(&c->v[ZA_C_CLASS_MALLOC + k]);
    uint64_t f = za_relaxed_load(&c->v[ZA_C_CLASS_FREE + k]);
    uint64_t size = za_class_size(k);
    za_relaxed_bump(&c->v[ZA_C_MALLOC], m);
    za_relaxed_bump(&c->v[ZA_C_BLOCKS_ALLOC], m);
    za_relaxed_bump(&c->v[ZA_C_BYTES_ALLOC], m * size);
    za_relaxed_bump(&c->v[ZA_C_FREE], f);
    za_relaxed_bump(&c->v[ZA_C_BLOCKS_FREED], f);
    za_relaxed_bump(&c->v[ZA_C_BYTES_FREED], f * size);
    za_relaxed_store(&c->v[ZA_C_CLASS_MALLOC + k], 0);
    za_relaxed_store(&c->v[ZA_C_CLASS_FREE + k], 0);
  }
}

/* Blocks and bytes still allocated, from summed counters. */
static inline size_t za_counters_live_blocks(const za_counters_t *c) {
  return za_relaxed_load(&c->v[ZA_C_BLOCKS_ALLOC]) - za_relaxed_load(&c->v[ZA_C_BLOCKS_FREED]);
}
static inline size_t za_counters_live_bytes(const za_counters_t *c) {
  return za_relaxed_load(&c->v[ZA_C_BYTES_ALLOC]) - za_relaxed_load(&c->v[ZA_C_BYTES_FREED]);
}

#define ZA_STATS_BATCH ((int64_t)64 << 10)

/* Bumped in a forked child: blocks remember the epoch they were allocated in. */
extern _Atomic uint32_t za_epoch;

struct za_thread;
/* Per call and per block - za_stats_call, za_stats_alloc, za_stats_free - inline in thread.h
 * (they need the thread's layout). */
void za_stats_resize(struct za_thread *t, size_t old_size, size_t new_size);
/* The thread's batch of bytes in use reached ZA_STATS_BATCH: add it to the shared figure. */
void za_stats_flush(struct za_thread *t);
/* Move a thread's counters into the process totals (thread exit, fork child). */
void za_stats_fold(struct za_thread *t);
void za_stats_exited(za_counters_t *out);       /* adds the folded totals into out */
/* The peak of bytes in use; flushes the caller's batch first and is never below live_now. */
size_t za_stats_peak(struct za_thread *t, size_t live_now);
void za_stats_reset(void);                       /* forked child */
#endif
