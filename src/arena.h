/* zalloc - the arena backend's fast paths (see arena.c), inline for api.c: malloc of a small
 * block and free of any block the core handed out, with the statistics, and no call. */
#ifndef ZA_ARENA_H
#define ZA_ARENA_H
#include "backend.h"
#include "thread.h"

#include <string.h>

/* True in arena mode in a process that was not forked (a forked child takes the slow paths,
 * which tell its own blocks from the parent's). */
extern bool za_arena_fast;

void za_arena_mark(za_page_t *pg, void *p);
za_block_state_t za_arena_free_slow(za_thread_t *t, void *p, za_block_info_t *info);

/* What `p` is in page `pg` (NULL: not a page serving a class): LIVE, FREED (it holds a
 * freed-block key) or INTERIOR (not the start of a block handed out). */
static inline za_block_state_t za_arena_classify(const za_page_t *pg, const void *p) {
  if (za_unlikely(pg == NULL)) return ZA_BLOCK_INTERIOR;
  uint32_t idx;
  if (za_unlikely(!za_heap_block_start(pg, (uintptr_t)p, &idx))) return ZA_BLOCK_INTERIOR;
  /* Either key: on a free list, or waiting on a heap's list of delayed frees (heap.h). */
  const za_block_t *b = p;
  if (za_unlikely(((b->key ^ za_heap_key(b, b->next)) & ~(uintptr_t)2) == 0)) return ZA_BLOCK_FREED;
  return ZA_BLOCK_LIVE;
}

/* The room a request of `size` bytes gets: half as much again for a realloc that grows (so a
 * buffer grown a little at a time moves logarithmically often), up to the largest class. */
static inline size_t za_arena_room(size_t size, bool growing) {
  if (za_unlikely(growing)) {
    size_t more = size + size / 2;
    return more < ZA_CLASS_MAX ? more : ZA_CLASS_MAX;
  }
  return size ? size : 1;
}

/* A realloc to `size` stays in its block of `block_size` bytes while it fits and fills at
 * least half of it (a big block is not held by a small one). */
static inline bool za_arena_in_place(size_t block_size, size_t size) {
  return size <= block_size && size >= block_size / 2;
}

/* malloc of at most ZA_SMALL_MAX (= ZA_CLASS_MAX) bytes on the fast path: a block from the
 * class's page's free list, the class by table (8 KiB; a branch to a bit scan above 1 KiB cost
 * alloc-bench lifo 4%); NULL (the list is empty or broken): take the general path. */
static inline void *za_arena_malloc_class(za_thread_t *t, size_t size) {
  unsigned c = za_class_small_of(size);
  za_page_t *pg = t->heap.direct[c];
  void *p = za_heap_pop(pg);
  if (za_likely(p != NULL)) {
    za_stats_malloc_block(t, c, pg->block_size);
  }
  return p;
}

/* calloc of at most ZA_SMALL_MAX bytes on the fast path: a block as malloc's, zeroed whole
 * as the general path zeroes one; NULL (its page's list is empty or broken): the general path. */
static inline void *za_arena_calloc_class(za_thread_t *t, size_t total) {
  za_page_t *pg = t->heap.direct[za_class_small_of(total)];
  void *p = za_heap_pop(pg);
  if (za_unlikely(p == NULL)) return NULL;
  memset(p, 0, pg->block_size);
  za_stats_call(t, ZA_C_CALLOC);
  za_stats_alloc(t, pg->block_size);
  return p;
}

/* The page of `p` if `p` is a live block of a size class; NULL for anything else (a large
 * block, a freed one, a pointer into a block or outside zalloc's segments): the general
 * paths tell which and record it. */
static inline za_page_t *za_arena_live_page(const void *p) {
  za_segment_t *seg;
  za_page_t *pg = za_heap_page_of(p, &seg);
  if (za_unlikely(pg == NULL) || za_arena_classify(pg, p) != ZA_BLOCK_LIVE) return NULL;
  return pg;
}

/* free on the fast path: true if done (a live block of a page, freed and counted). */
static inline bool za_arena_free_fast(za_thread_t *t, void *p) {
  za_page_t *pg = za_arena_live_page(p);
  if (za_unlikely(pg == NULL)) return false;
  unsigned c = pg->cls;                  /* read first: the free may retire the page */
  uint32_t size = pg->block_size;
  za_heap_free(&t->heap, pg, (za_block_t *)p);
  za_stats_free_block(t, c, size);
  return true;
}

/* realloc of a block of a page to 1..ZA_SMALL_MAX bytes on the fast path, as the general path
 * does it (arena.c): in place if it stays (za_arena_in_place), else a block with its room
 * from the class's page's free list, the contents copied and the old block freed. NULL: take
 * the general path, `p` untouched. */
static inline void *za_arena_realloc_fast(za_thread_t *t, void *p, size_t size) {
  za_page_t *pg = za_arena_live_page(p);
  if (za_unlikely(pg == NULL)) return NULL;
  size_t old = pg->block_size;
  if (za_arena_in_place(old, size)) {
    za_stats_call(t, ZA_C_REALLOC);
    return p;
  }
  za_page_t *to = t->heap.direct[za_class_small_of(za_arena_room(size, size > old))];
  void *q = za_heap_pop(to);
  if (za_unlikely(q == NULL)) return NULL;
  size_t bytes = to->block_size;
  memcpy(q, p, old < size ? old : size);
  za_heap_free(&t->heap, pg, (za_block_t *)p);
  za_stats_call(t, ZA_C_REALLOC);
  za_stats_alloc(t, bytes);
  za_stats_free(t, old);
  return q;
}
#endif
