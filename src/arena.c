/* zalloc - the arena backend (ZALLOC_MODE=arena): the fast mode.
 *
 * The heap core (heap.h) with nothing on top: per-thread pages, blocks handed out from free
 * lists and carved from fresh memory, no per-block header, no lock and no atomic instruction
 * on the owner's malloc and free. Requests above ZA_CLASS_MAX, or aligned beyond it, get their
 * own mapping (large.c). The allocation and free fast paths are inline (arena.h), called
 * straight from api.c.
 *
 * Checks kept because they cost next to nothing:
 * - a free block's link overwritten after the block was freed no longer matches the block's
 *   key: reported as a write after free and not followed (heap.h);
 * - free, realloc and malloc_usable_size of a pointer zalloc did not hand out (foreign, inside
 *   a block, or in memory never handed out) are recorded, found from out-of-band metadata
 *   without touching the pointer;
 * - a double free: a freed block's second word holds a per-process secret mixed with its
 *   address and its link (as glibc's tcache keeps a key), and the allocation clears it. Two threads freeing one
 *   block at the same moment can both get past that check (a load, then a store): the core
 *   often finds the block on a list twice by its key and drops the list (heap.h), but the
 *   page's count of blocks in use is then wrong, and a block can be handed out while another
 *   thread holds it (tests/hostile, docs/promises.md). A compare-and-swap would close
 *   the race at about 5 ns a free; the GPA's free is one.
 *
 * Sizes: a block's usable size is its class's (sizeclass.h), and the report's byte figures in
 * this mode count those sizes.
 *
 * A forked child counts only what it allocates itself (as every mode does): in a child, each
 * allocation sets a bit in its page's extension (one bit per 16 bytes, reset lazily per fork
 * generation), and a free counts only blocks whose bit is set. The parent pays one load. */
#include "arena.h"
#include "findings.h"
#include "large.h"
#include "prim.h"
#include "stats.h"

#include <string.h>

bool za_arena_fast;

/* ---- blocks allocated in this fork generation (children only) ------------------------------ */

static uint64_t *marks(za_page_t *pg, uint32_t epoch) {
  uint64_t *m = pg->ext;
  if (pg->ext_epoch != epoch) {
    memset(m, 0, ((size_t)1 << pg->shift) / 16 / 8);
    pg->ext_epoch = epoch;
  }
  return m;
}

void za_arena_mark(za_page_t *pg, void *p) {
  uint32_t epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed);
  uint64_t *m = marks(pg, epoch);
  size_t bit = ((uintptr_t)p - pg->start) / 16;
  atomic_fetch_or_explicit((_Atomic uint64_t *)&m[bit / 64], (uint64_t)1 << (bit % 64),
                           memory_order_relaxed);
}

/* Was `p` allocated in this process image? Clears its mark. */
static bool take_mark(za_page_t *pg, void *p) {
  uint32_t epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed);
  if (epoch == 0) return true;
  if (pg->ext_epoch != epoch) return false;
  uint64_t *m = pg->ext;
  size_t bit = ((uintptr_t)p - pg->start) / 16;
  uint64_t mask = (uint64_t)1 << (bit % 64);
  bool was = (atomic_fetch_and_explicit((_Atomic uint64_t *)&m[bit / 64], ~mask,
                                        memory_order_relaxed) & mask) != 0;
  return was;
}

/* ---- the backend ---------------------------------------------------------------------------- */


static void *arena_alloc(za_thread_t *t, size_t size, size_t align, unsigned flags) {
  if (za_unlikely(size > ZA_CLASS_MAX || align > ZA_CLASS_MAX))
    return za_large_alloc(size, align, flags, NULL);
  size_t room = za_arena_room(size, (flags & ZA_ALLOC_GROWING) != 0);
  unsigned c = align <= ZA_MIN_ALIGN ? za_class_of(room) : za_class_pow2_of(room > align ? room : align);
  void *p = za_heap_alloc(&t->heap, c);
  if (za_unlikely(!p)) return NULL;
  if (za_unlikely(atomic_load_explicit(&za_epoch, memory_order_relaxed) != 0)) {
    za_segment_t *seg;
    za_arena_mark(za_heap_page_of(p, &seg), p);
  }
  if (flags & ZA_ALLOC_ZERO) memset(p, 0, za_class_size(c));
  return p;
}

static za_block_state_t arena_lookup(const void *p, za_block_info_t *info) {
  za_segment_t *seg;
  za_page_t *pg = za_heap_page_of(p, &seg);
  if (!seg) return za_large_lookup(p, info);
  za_block_state_t st = za_arena_classify(pg, p);
  if (st == ZA_BLOCK_LIVE || st == ZA_BLOCK_FREED)
    *info = (za_block_info_t){.size = pg->block_size, .usable = pg->block_size,
                              .epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed)};
  return st;
}

ZA_NOINLINE za_block_state_t za_arena_free_slow(za_thread_t *t, void *p, za_block_info_t *info) {
  za_segment_t *seg;
  za_page_t *pg = za_heap_page_of(p, &seg);
  if (!seg) return za_large_free(p, info, 0, 0);
  za_block_state_t st = za_arena_classify(pg, p);
  uint32_t now = atomic_load_explicit(&za_epoch, memory_order_relaxed);
  *info = (za_block_info_t){.size = pg ? pg->block_size : 0, .usable = pg ? pg->block_size : 0,
                            .epoch = now};
  if (st != ZA_BLOCK_LIVE) return st;
  if (!take_mark(pg, p)) info->epoch = now + 1; /* the parent's block: not counted */
  za_heap_free(&t->heap, pg, (za_block_t *)p);
  return ZA_BLOCK_LIVE;
}

static za_block_state_t arena_resize(za_thread_t *t, void *p, size_t size, za_block_info_t *info,
                                     void **resized) {
  (void)t;
  *resized = NULL;
  za_segment_t *seg;
  za_page_t *pg = za_heap_page_of(p, &seg);
  if (!seg) /* a large block: mremap, unless it now belongs in a page */
    return size > ZA_CLASS_MAX ? za_large_resize(p, size, info, resized) : za_large_lookup(p, info);
  za_block_state_t st = arena_lookup(p, info);
  if (st != ZA_BLOCK_LIVE) return st;
  if (za_arena_in_place(pg->block_size, size)) *resized = p;
  return st;
}

/* A block's usable size: its class's, or what was asked for a large block (lookup agrees). */
static size_t arena_counted_size(const void *p, size_t requested) {
  za_segment_t *seg;
  za_page_t *pg = za_heap_page_of(p, &seg);
  return pg ? pg->block_size : requested;
}

/* The core found a free block's link pointing out of its page: the program wrote to the block
 * after freeing it. Reported as a write after free (the rest of that list is dropped). */
static void link_broken(const void *where) {
  za_segment_t *seg;
  za_page_t *pg = za_heap_page_of(where, &seg);
  za_block_info_t info = {.size = pg ? pg->block_size : 0, .usable = pg ? pg->block_size : 0};
  za_finding_corrupt(ZA_CORRUPT_WRITE_AFTER_FREE, where, &info, 0, ZA_OP_REUSE);
}

static void arena_init(void) {
  za_arena_fast = true;
  za_heap_corrupt_hook = link_broken;
}
static void arena_thread_init(za_thread_t *t) { (void)t; }
static void arena_thread_exit(za_thread_t *t) { (void)t; }
static bool arena_trim(void) {
  za_heap_trim_abandoned();
  bool pages = za_segment_trim();
  return za_large_trim() || pages;
}
static size_t arena_mapped_bytes(void) { return za_segment_mapped_bytes() + za_large_mapped_bytes(); }
static void arena_fork_prepare(void) {}
static void arena_fork_parent(void) {}
/* The child counts only its own blocks: the marks, on the slow paths. */
static void arena_fork_child(void) { za_arena_fast = false; }

const za_backend_t za_arena_backend = {
  .name = "arena",
  .ext_bits = 1,
  .init = arena_init,
  .thread_init = arena_thread_init,
  .thread_exit = arena_thread_exit,
  .alloc = arena_alloc,
  .lookup = arena_lookup,
  .free = za_arena_free_slow,
  .resize = arena_resize,
  .counted_size = arena_counted_size,
  .trim = arena_trim,
  .mapped_bytes = arena_mapped_bytes,
  .fork_prepare = arena_fork_prepare,
  .fork_parent = arena_fork_parent,
  .fork_child = arena_fork_child,
};
