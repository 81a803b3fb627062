/* zalloc - the arena backend (ZALLOC_MODE=arena).
 *
 * Zig's ArenaAllocator brought to a whole process, for short-lived, allocation-heavy programs:
 *
 * - Each thread bumps a pointer through its own 4 MiB chunk: malloc is a few instructions and
 *   takes no lock. A chunk that cannot fit the next block is retired and a fresh one taken.
 * - free is O(1) amortised. Freeing the newest block of the thread's current chunk gives its
 *   space back (the bump pointer moves down), together with the blocks beneath it that were
 *   already freed (each header links to the block allocated before it); any other free only
 *   marks the block freed. realloc grows and shrinks in place at the top of the current chunk.
 *   A block realloc has to move to grow gets half as much again as room to grow into, so a
 *   buffer that keeps growing while other blocks are allocated after it is copied O(log n)
 *   times, not once per call.
 * - A retired chunk whose blocks have all been freed is kept for the next thread that needs a
 *   chunk (two with their pages, six more decommitted) or goes back to the OS, so a program
 *   with phases does not grow without bound.
 * - Requests above ARENA_LARGE_MIN, or aligned beyond ARENA_MAX_ALIGN, get their own mapping
 *   (large.c): grown with mremap, kept for reuse within a bound when freed, otherwise
 *   unmapped, so a program that keeps reallocating one big buffer does not run out of memory.
 *
 * Each block carries a 16-byte header just before it: the requested and usable sizes, a link
 * to the block allocated before it (with the epoch), and a tag word holding the state (live /
 * freed) mixed with a per-process secret and the header's address, so a stray pointer into
 * the middle of a block is almost never mistaken for a block. The tag changes state with a
 * compare-and-swap: of two frees of one block, one wins and the other is a double free.
 * Chunks are found from any pointer by address (segmap.h), so a pointer zalloc never handed
 * out is recognised without being dereferenced.
 *
 * Chunk liveness uses a biased counter: `refs` starts at REFS_BIAS and frees from other threads
 * decrement it, while the owner counts its own allocations and frees in `nalloc` without
 * atomics. Retiring adds nalloc - REFS_BIAS, leaving exactly the live count; whoever brings
 * it to zero releases the chunk. */
#include "backend.h"
#include "large.h"
#include "lock.h"
#include "prim.h"
#include "segmap.h"
#include "stats.h"

#include <string.h>

#define CHUNK_SIZE        ZA_SEGMENT_SIZE
#define CHUNK_HEADER      64
#define ARENA_LARGE_MIN   (256 * ZA_KiB)
#define ARENA_MAX_ALIGN   (64 * ZA_KiB)
#define POOL_MAX          8     /* emptied chunks kept for reuse */
#define POOL_DIRTY_MAX    2     /* of which kept with their pages: reuse without page faults */
#define REFS_BIAS         ((int64_t)1 << 40)

#define TAG_LIVE  0x4c495645u   /* "LIVE" */
#define TAG_FREED 0x46524545u   /* "FREE" */

typedef struct chunk {
  _Atomic int64_t refs;
  struct chunk *next;           /* in the pool */
  uintptr_t dirty_end;          /* memory below this may have been written; above it is zero */
} chunk_t;

typedef struct header {
  uint32_t size;                /* requested (chunk blocks are at most ARENA_LARGE_MIN) */
  uint32_t usable;              /* room the block owns: usable_of(size), or more when reserved */
  _Atomic uint32_t tag;
  uint32_t link;                /* epoch (high bits) and the previous block (LINK_PREV_BITS) */
} header_t;

/* The previous block of the chunk, as its header's offset in 16-byte units (0: none): 18 bits
 * span a 4 MiB chunk; the epoch keeps the other 14 (it only needs to tell this process image
 * from the one it was forked from). */
#define LINK_PREV_BITS 18
#define LINK_PREV_MASK ((1u << LINK_PREV_BITS) - 1)
_Static_assert(CHUNK_SIZE / ZA_MIN_ALIGN <= ((size_t)1 << LINK_PREV_BITS), "link must span a chunk");

/* The epoch to report for a block: the current one if the stored bits match it, else any
 * other value (callers only ask "allocated in this process image?"). */
static inline uint32_t epoch_of(const header_t *hd) {
  uint32_t now = atomic_load_explicit(&za_epoch, memory_order_relaxed);
  return (hd->link >> LINK_PREV_BITS) == (now << LINK_PREV_BITS >> LINK_PREV_BITS) ? now : now + 1;
}

typedef struct heap {
  chunk_t *chunk;               /* current chunk, NULL before the first allocation */
  uintptr_t top;                /* next free byte */
  uintptr_t end;
  uintptr_t clean;              /* memory at and above this was never handed out: zero */
  int64_t nalloc;               /* blocks allocated minus blocks freed locally, this chunk */
  uint32_t newest;              /* the newest block's header, in 16-byte units (0: none) */
} heap_t;

_Static_assert(sizeof(heap_t) <= ZA_BACKEND_STATE_SIZE, "arena heap must fit in za_thread_t");
_Static_assert(sizeof(header_t) == ZA_MIN_ALIGN, "header keeps blocks 16-byte aligned");

static uint32_t secret;
static za_lock_t pool_lock = ZA_LOCK_INIT;
static chunk_t *pool;
static size_t pool_count;
static _Atomic size_t chunks_mapped;

static inline heap_t *heap_of(za_thread_t *t) { return (heap_t *)t->backend; }
static inline uint32_t tag_key(const header_t *h) {
  uintptr_t a = (uintptr_t)h;
  return secret ^ (uint32_t)(a >> 4) ^ (uint32_t)(a >> 36);
}
static inline size_t usable_of(size_t size) { return size ? za_align_up(size, ZA_MIN_ALIGN) : ZA_MIN_ALIGN; }

/* ---- chunks ------------------------------------------------------------------------------ */

static chunk_t *chunk_take(void) {
  za_lock(&pool_lock);
  chunk_t *c = pool;
  if (c) {
    pool = c->next;
    pool_count--;
  }
  za_unlock(&pool_lock);
  if (!c) {
    c = za_os_map_aligned(CHUNK_SIZE, CHUNK_SIZE);
    if (!c) return NULL;
    atomic_fetch_add_explicit(&chunks_mapped, 1, memory_order_relaxed);
    za_segmap_set(c, true);
    c->dirty_end = (uintptr_t)c + CHUNK_HEADER;
  }
  atomic_store_explicit(&c->refs, REFS_BIAS, memory_order_relaxed);
  c->next = NULL;
  return c;
}

/* Every block of `c` is freed and no thread allocates from it: keep it for the next thread
 * that needs a chunk, or give it back. The first few kept keep their pages, so a program that
 * empties and refills chunks (a producer and a consumer) does not fault every page in again;
 * the others are decommitted: they cost no memory and read as zero. */
static void chunk_release(chunk_t *c) {
  za_lock(&pool_lock);
  bool keep = pool_count < POOL_MAX, dirty = pool_count < POOL_DIRTY_MAX;
  if (keep) pool_count++;
  za_unlock(&pool_lock);
  if (keep) {
    if (!dirty) {
      za_os_decommit(c, CHUNK_SIZE);
      c->dirty_end = (uintptr_t)c + CHUNK_HEADER;
    }
    za_lock(&pool_lock);
    c->next = pool;
    pool = c;
    za_unlock(&pool_lock);
    return;
  }
  za_segmap_set(c, false);
  za_os_unmap(c, CHUNK_SIZE);
  atomic_fetch_sub_explicit(&chunks_mapped, 1, memory_order_relaxed);
}

static void retire(heap_t *h) {
  chunk_t *c = h->chunk;
  if (!c) return;
  int64_t add = h->nalloc - REFS_BIAS;
  c->dirty_end = h->clean; /* published to whoever releases it by the atomic add below */
  *h = (heap_t){0};
  if (atomic_fetch_add_explicit(&c->refs, add, memory_order_acq_rel) + add == 0) chunk_release(c);
}

static ZA_NOINLINE bool refill(heap_t *h) {
  retire(h);
  chunk_t *c = chunk_take();
  if (!c) return false;
  h->chunk = c;
  h->top = (uintptr_t)c + CHUNK_HEADER;
  h->clean = c->dirty_end;
  h->end = (uintptr_t)c + CHUNK_SIZE;
  h->nalloc = 0;
  return true;
}

/* ---- blocks ------------------------------------------------------------------------------ */

/* Room for a block of `size`: its 16-byte multiple, and half as much again for one that
 * realloc is growing (bounded by the largest chunk block). */
static inline size_t room_for(size_t size, unsigned flags) {
  size_t usable = usable_of(size);
  if (za_unlikely(flags & ZA_ALLOC_GROWING)) {
    size_t more = usable_of(size + size / 2);
    usable = more < ARENA_LARGE_MIN ? more : usable_of(ARENA_LARGE_MIN);
  }
  return usable;
}

static void *arena_alloc(za_thread_t *t, size_t size, size_t align, unsigned flags) {
  if (za_unlikely(size > ARENA_LARGE_MIN || align > ARENA_MAX_ALIGN))
    return za_large_alloc(size, align, flags, NULL);
  heap_t *h = heap_of(t);
  size_t usable = room_for(size, flags);
  uintptr_t user = za_align_up_ptr(h->top + sizeof(header_t), align);
  if (za_unlikely(user + usable > h->end)) {
    if (!refill(h)) return NULL;
    user = za_align_up_ptr(h->top + sizeof(header_t), align);
  }
  header_t *hd = (header_t *)(user - sizeof(header_t));
  hd->size = (uint32_t)size;
  hd->usable = (uint32_t)usable;
  uint32_t epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed);
  hd->link = epoch << LINK_PREV_BITS | h->newest;
  h->newest = (uint32_t)((user - sizeof(header_t) - (uintptr_t)h->chunk) / ZA_MIN_ALIGN);
  atomic_store_explicit(&hd->tag, TAG_LIVE ^ tag_key(hd), memory_order_relaxed);
  h->top = user + usable;
  h->nalloc++;
  if ((flags & ZA_ALLOC_ZERO) && user < h->clean) {
    size_t dirty = h->clean - user;
    memset((void *)user, 0, dirty < usable ? dirty : usable);
  }
  if (h->top > h->clean) h->clean = h->top;
  return (void *)user;
}

/* Classify a pointer inside one of our chunks, without trusting anything it points at. */
static za_block_state_t classify(const void *p, header_t **hdp, za_block_info_t *info) {
  uintptr_t a = (uintptr_t)p;
  if (a % ZA_MIN_ALIGN != 0 || a - za_segment_of(p) < CHUNK_HEADER + sizeof(header_t))
    return ZA_BLOCK_INTERIOR;
  header_t *hd = (header_t *)(a - sizeof(header_t));
  uint32_t state = atomic_load_explicit(&hd->tag, memory_order_acquire) ^ tag_key(hd);
  if (state != TAG_LIVE && state != TAG_FREED) return ZA_BLOCK_INTERIOR;
  *hdp = hd;
  *info = (za_block_info_t){.size = hd->size, .usable = hd->usable, .epoch = epoch_of(hd)};
  return state == TAG_LIVE ? ZA_BLOCK_LIVE : ZA_BLOCK_FREED;
}

static za_block_state_t arena_lookup(const void *p, za_block_info_t *info) {
  if (!za_segmap_owns(p)) return za_large_lookup(p, info);
  header_t *hd;
  return classify(p, &hd, info);
}

/* The newest block `hd` was freed: move the top down over it, and over the blocks beneath it
 * that were already freed, so their space is used again. A block another thread frees at the
 * same moment is either seen freed (its tag changed) or stops the walk. */
static void give_back_top(heap_t *h, header_t *hd) {
  uintptr_t base = (uintptr_t)h->chunk;
  for (;;) {
    h->top = (uintptr_t)hd;
    uint32_t prev = hd->link & LINK_PREV_MASK;
    h->newest = prev;
    if (!prev) return;
    hd = (header_t *)(base + (uintptr_t)prev * ZA_MIN_ALIGN);
    uint32_t state = atomic_load_explicit(&hd->tag, memory_order_acquire) ^ tag_key(hd);
    if (state != TAG_FREED) return;
  }
}

static za_block_state_t arena_free(za_thread_t *t, void *p, za_block_info_t *info) {
  if (!za_segmap_owns(p)) return za_large_free(p, info, 0, 0);
  header_t *hd;
  za_block_state_t st = classify(p, &hd, info);
  if (st != ZA_BLOCK_LIVE) return st;
  uint32_t key = tag_key(hd), expect = TAG_LIVE ^ key;
  if (!atomic_compare_exchange_strong_explicit(&hd->tag, &expect, TAG_FREED ^ key,
                                               memory_order_acq_rel, memory_order_acquire))
    return (expect ^ key) == TAG_FREED ? ZA_BLOCK_FREED : ZA_BLOCK_INTERIOR;
  heap_t *h = heap_of(t);
  chunk_t *c = (chunk_t *)za_segment_of(p);
  if (c == h->chunk) {
    h->nalloc--;
    if ((uintptr_t)p + info->usable == h->top) give_back_top(h, hd);
  } else if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
    chunk_release(c);
  }
  return ZA_BLOCK_LIVE;
}

static za_block_state_t arena_resize(za_thread_t *t, void *p, size_t size, za_block_info_t *info,
                                     void **resized) {
  *resized = NULL;
  if (!za_segmap_owns(p))   /* a large block: mremap, unless it now belongs in a chunk */
    return size > ARENA_LARGE_MIN ? za_large_resize(p, size, info, resized)
                                  : za_large_lookup(p, info);
  header_t *hd;
  za_block_state_t st = classify(p, &hd, info);
  if (st != ZA_BLOCK_LIVE || size > ARENA_LARGE_MIN) return st;
  heap_t *h = heap_of(t);
  uintptr_t a = (uintptr_t)p;
  size_t usable = usable_of(size);
  if (za_segment_of(p) == (uintptr_t)h->chunk && a + info->usable == h->top) {
    if (a + usable > h->end) return st;     /* the newest block: move the top */
    h->top = a + usable;
    if (h->top > h->clean) h->clean = h->top;
    hd->usable = (uint32_t)usable;
  } else if (usable > info->usable) {
    return st;                              /* no room: the caller moves it */
  }
  hd->size = (uint32_t)size;
  *resized = p;
  return st;
}

/* ---- process and threads ----------------------------------------------------------------- */

static void arena_init(void) { secret = (uint32_t)(za_os_random_seed() >> 16) | 1u; }
static void arena_thread_init(za_thread_t *t) { memset(heap_of(t), 0, sizeof(heap_t)); }
static void arena_thread_exit(za_thread_t *t) { retire(heap_of(t)); }

static bool arena_trim(void) {
  bool large = za_large_trim();
  za_lock(&pool_lock);
  chunk_t *list = pool;
  pool = NULL;
  pool_count = 0;
  za_unlock(&pool_lock);
  bool any = list != NULL || large;
  while (list) {
    chunk_t *next = list->next;
    za_segmap_set(list, false);
    za_os_unmap(list, CHUNK_SIZE);
    atomic_fetch_sub_explicit(&chunks_mapped, 1, memory_order_relaxed);
    list = next;
  }
  return any;
}

static size_t arena_mapped_bytes(void) {
  return atomic_load_explicit(&chunks_mapped, memory_order_relaxed) * CHUNK_SIZE +
         za_large_mapped_bytes();
}

static void arena_fork_prepare(void) { za_lock(&pool_lock); }
static void arena_fork_parent(void) { za_unlock(&pool_lock); }
static void arena_fork_child(void) { za_lock_reset(&pool_lock); }

const za_backend_t za_arena_backend = {
  .name = "arena",
  .init = arena_init,
  .thread_init = arena_thread_init,
  .thread_exit = arena_thread_exit,
  .alloc = arena_alloc,
  .lookup = arena_lookup,
  .free = arena_free,
  .resize = arena_resize,
  .trim = arena_trim,
  .mapped_bytes = arena_mapped_bytes,
  .fork_prepare = arena_fork_prepare,
  .fork_parent = arena_fork_parent,
  .fork_child = arena_fork_child,
};
