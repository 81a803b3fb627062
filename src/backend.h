/* zalloc - the backend contract. A backend owns where blocks live and what each block records;
 * the API layer (api.c) owns the C semantics (errno, overflow, realloc rules), the statistics
 * and the findings, so every backend behaves the same at the edges. One backend serves the
 * whole process, chosen by ZALLOC_MODE at start-up. */
#ifndef ZA_BACKEND_H
#define ZA_BACKEND_H
#include "common.h"
#include "leaks.h"
#include "stack.h"
#include "thread.h"

typedef enum za_block_state {
  ZA_BLOCK_LIVE,       /* a block zalloc handed out and that was not freed */
  ZA_BLOCK_FREED,      /* the start of a block that was freed (a second free is a double free) */
  ZA_BLOCK_INTERIOR,   /* inside zalloc's heap, but not the start of any block */
  ZA_BLOCK_FOREIGN,    /* not memory zalloc manages (another allocator, static, stack) */
} za_block_state_t;

typedef struct za_block_info {
  size_t size;         /* bytes requested (LIVE, and FREED where the backend still knows) */
  size_t usable;       /* bytes the caller may use, >= size (LIVE) */
  uint32_t epoch;      /* za_epoch when it was allocated */
  /* What a checking backend records (zero where it does not): how the block was allocated
   * (za_kind_t), where and by which thread it was allocated and freed. */
  uint8_t kind;
  bool internal;       /* allocated with ZA_ALLOC_INTERNAL: not counted as the program's */
  za_stack_id_t alloc_stack, free_stack;
  int alloc_tid, free_tid;
} za_block_info_t;

#define ZA_ALLOC_ZERO     1u  /* the block must read as zeros (calloc) */
#define ZA_ALLOC_GROWING  2u  /* realloc is moving a block to make it larger: it may grow again,
                               * so the backend may reserve room beyond `size` */
#define ZA_ALLOC_INTERNAL 4u  /* zalloc's own (made while reporting): not the program's, never
                               * a leak */
#define ZA_ALLOC_KIND_SHIFT 4 /* bits 4-5: the za_kind_t the block is allocated as */
#define ZA_ALLOC_KIND(flags) (((flags) >> ZA_ALLOC_KIND_SHIFT) & 3u)

typedef struct za_backend {
  const char *name;
  bool checks;         /* records how blocks were allocated: mismatched releases are reported */
  unsigned ext_bits;   /* its per-slot metadata beside the heap core's pages, in bits per 16
                        * bytes of heap (segment.h) */
  void (*init)(void);
  void (*thread_init)(za_thread_t *t);
  void (*thread_exit)(za_thread_t *t);      /* also for threads that died in a fork */
  /* `align` is a power of two >= ZA_MIN_ALIGN, `size` <= ZA_MAX_REQUEST; NULL when out of
   * memory. `flags`: ZA_ALLOC_* below. */
  void *(*alloc)(za_thread_t *t, size_t size, size_t align, unsigned flags);
  /* Classify `p`; fills `info` when the answer is LIVE (and FREED when known). */
  za_block_state_t (*lookup)(const void *p, za_block_info_t *info);
  /* Free `p`. Returns LIVE when it was live and is now freed (with `info` as it was), else
   * the state that made the free wrong; a wrong free changes nothing. Safe against two
   * threads freeing the same block at once: exactly one of them gets LIVE. */
  za_block_state_t (*free)(za_thread_t *t, void *p, za_block_info_t *info);
  /* Resize `p` cheaply if the backend can: in place, or by moving its mapping. Classifies `p`
   * as lookup does and returns that state, with `info` as the block was; when it is LIVE,
   * *resized is its new address, or NULL when the caller must allocate, copy and free. */
  za_block_state_t (*resize)(za_thread_t *t, void *p, size_t new_size, za_block_info_t *info,
                             void **resized);
  /* The bytes the statistics count for the live block `p` the program asked `requested`
   * bytes for: the requested size where the backend keeps it (every free must count the
   * same figure as its allocation: lookup()'s size). */
  size_t (*counted_size)(const void *p, size_t requested);
  /* Give cached free memory back to the OS; true if anything was released. */
  bool (*trim)(void);
  size_t (*mapped_bytes)(void);             /* memory currently taken from the OS */
  void (*fork_prepare)(void);
  void (*fork_parent)(void);
  void (*fork_child)(void);
  /* Checking backends only (NULL otherwise). Every live block, zalloc's internal ones
   * flagged, for the leak check; called at exit. */
  void (*for_each_live)(void (*fn)(void *ctx, const za_live_block_t *b), void *ctx);
  /* Check every block's guard bytes and every quarantined block's fill pattern, recording
   * what is broken; called at exit, before the report. */
  void (*check_all)(void);
  /* For a crash report: the block that contains `addr` or, failing that, the nearest one
   * around it (small blocks: in the same or the previous slot; large ones: within a page of
   * its mapping). LIVE or FREED (*start and `info` filled; FREED while the record still
   * describes the block), else FOREIGN. Runs in a signal handler that may have interrupted
   * the backend: takes no lock (or only tries one, briefly), allocates nothing, and never
   * reads `addr` itself. NULL where the backend keeps no per-block records. */
  za_block_state_t (*locate)(uintptr_t addr, uintptr_t *start, za_block_info_t *info);
} za_backend_t;

extern const za_backend_t za_arena_backend;
extern const za_backend_t za_gpa_backend;
extern const za_backend_t za_page_backend;

/* The backend chosen at start-up (runtime.c). */
extern const za_backend_t *za_backend;
#endif
