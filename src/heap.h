/* zalloc - the heap core: per-thread heaps of pages with free lists, the fast path every
 * backend builds on. The arena mode is this core with nothing on top; the GPA keeps its
 * out-of-band records, guards and quarantine around the same calls.
 *
 * Design (after mimalloc's free-list sharding, written from its papers and docs):
 * - Memory comes in pages (segment.h), one size class each, owned by one thread's heap. A heap
 *   has, per class, the page it allocates from first (`direct`), a queue of its other pages
 *   with free blocks, and a list of pages it found full.
 * - A page keeps two lists of free blocks, linked through the blocks themselves: `free`, which
 *   the owner's malloc pops and its free pushes (last in, first out: the block freed last, still
 *   in the cache, is the next one handed out), and `thread_free`, which other threads push with
 *   a compare-and-swap. The owner takes `thread_free` whole when `free` runs out, then carves
 *   new blocks from the page's untouched end (`bump`). (mimalloc keeps the owner's frees on a
 *   third list; one list measured as fast here, and a malloc after a free stays on the fast
 *   path.)
 * - malloc and free by the owner take no lock and no atomic instruction: a free from another
 *   thread is one compare-and-swap on the page's list. Pages go to a shared pool (one lock)
 *   only when they fill up from empty or empty out.
 * - A page the owner found full is put aside; the first free from another thread into it goes
 *   to the owner heap's `delayed` list instead, and the owner frees it there before it takes a
 *   new page, which puts the page back in use (mimalloc's delayed free).
 * - A page the owner frees into while it is set aside as full waits on the `unfull` list and
 *   goes back to the queue only when the queue runs dry, with every block freed meanwhile: a
 *   page goes round once per batch of frees, not once per free (when frees come in random
 *   order, most of them land in full pages).
 * - When a thread exits, its pages with live blocks are abandoned: other threads' frees still
 *   land in them, and the next heap that needs a page of that class takes one over.
 * - A block on a free list holds, in its second word, a per-process secret mixed with its own
 *   address and with its link, the first word (za_heap_key; malloc clears it). Every block the
 *   core takes from a list must hold it: a link overwritten after the free no longer matches
 *   the key and is not followed (nor can a write after free forge one without the secret), and
 *   a block on a list twice (freed twice at once by two threads) is not handed out twice.
 *   Lists other threads push (whose links the owner has not written) are also checked to stay
 *   inside their page. A broken list is reported (za_heap_corrupt_hook) and dropped. The
 *   arena's double-free check reads the same key. */
#ifndef ZA_HEAP_H
#define ZA_HEAP_H
#include "segment.h"


typedef struct za_heap {
  za_page_t *direct[ZA_NCLASS];     /* where each class allocates first: never NULL */
  za_page_list_t queue[ZA_NCLASS];  /* owned pages that may have free blocks (direct first) */
  za_page_list_t full[ZA_NCLASS];   /* owned pages found full */
  za_page_list_t unfull[ZA_NCLASS]; /* full pages the owner freed into since: back to the queue
                                       when it runs dry (heap.c) */
  /* Written by other threads: blocks they freed into this heap's full pages (heap.c). */
  _Alignas(64) _Atomic uintptr_t delayed;
} za_heap_t;

/* An empty page with no blocks: a heap's direct pages before it has real ones. */
extern za_page_t za_page_empty;
/* Per process, random: a freed block's second word holds it mixed with the block's address. */
extern uintptr_t za_heap_secret;
/* Called with every run of blocks carved from a page's untouched end (n blocks from `first`),
 * before any is handed out: the GPA resets their records. NULL: nothing to do. */
extern void (*za_heap_carve_hook)(za_page_t *pg, uintptr_t first, uint32_t n);
/* Called when a block's link is found broken (the block at `where` was overwritten after it
 * was freed); the rest of that list is dropped. NULL: only counted. */
extern void (*za_heap_corrupt_hook)(const void *where);

void za_heap_init(void);            /* once, at start-up */
void za_heap_new(za_heap_t *h);     /* a thread's heap, empty */
/* The thread is gone: its pages are abandoned (those with live blocks) or pooled. */
void za_heap_abandon(za_heap_t *h);

/* Pool the abandoned pages that have emptied meanwhile (malloc_trim). */
bool za_heap_trim_abandoned(void);

void *za_heap_alloc_slow(za_heap_t *h, unsigned c);
void za_heap_page_event(za_heap_t *h, za_page_t *pg);
void za_heap_free_remote(za_page_t *pg, za_block_t *b);
za_block_t *za_heap_link_broken(za_page_t *pg, za_block_t *b);
void za_heap_alloc_bad(za_heap_t *h, unsigned c, za_page_t *pg, za_block_t *b);

/* True if `next`, read from the free block `b`, may be followed: the end of the list, or a
 * 16-byte aligned address in the same page (pages are aligned to their size, blocks start
 * 16-byte aligned): a block's two words read there lie inside the page, never past its end
 * (a link pointing at a page's last word would have its key read from beyond the segment). */
static inline bool za_heap_link_ok(const za_page_t *pg, const za_block_t *b, const za_block_t *next) {
  return next == NULL ||
         ((((uintptr_t)next ^ (uintptr_t)b) >> pg->shift) | ((uintptr_t)next & 15)) == 0;
}

/* The key a block holds in its second word while it is on a free list whose next block is
 * `next` (its first word). One check of the key covers the link too: the pop reads no page
 * field to check it (alloc-bench lifo and fifo about 5% faster than checking the link against
 * the page). */
static inline uintptr_t za_heap_key(const void *b, const void *next) {
  return za_heap_secret ^ (uintptr_t)b ^ (uintptr_t)next;
}
/* The key of a block waiting on a heap's `delayed` list (heap.c): a different one, so that
 * taking the list follows links only to blocks that are on it, once each. */
static inline uintptr_t za_heap_key_delayed(const void *b, const void *next) {
  return za_heap_key(b, next) ^ 2;
}
/* Does free block `b` hold its key for its current link (either key: `delayed` says which)? */
static inline bool za_heap_keyed(const za_block_t *b, bool delayed) {
  return b->key == (delayed ? za_heap_key_delayed(b, b->next) : za_heap_key(b, b->next));
}

/* The first block of `pg`'s free list if it is sound (see the top), or NULL (the list is empty,
 * or its head is broken: za_heap_alloc's slow path deals with that). The owner only. */
static inline void *za_heap_pop(za_page_t *pg) {
  za_block_t *b = pg->free;
  if (za_unlikely(b == NULL)) return NULL;
  za_block_t *next = b->next;
  if (za_unlikely(b->key != za_heap_key(b, next))) return NULL;
  pg->free = next;
  /* The next malloc of the class reads the next block: a free list's order is the order of
   * the frees, so it is often out of the CPU cache. Fetched now, the wait overlaps the
   * program's own work (python 4% faster, docs/performance.md). */
  __builtin_prefetch(next, 1);
  pg->used++;
  b->key = 0;
  return b;
}

/* A block of class `c` from heap `h` (the calling thread's), or NULL if out of memory. Its
 * contents are undefined but for the second word, which is zero. */
static inline void *za_heap_alloc(za_heap_t *h, unsigned c) {
  za_page_t *pg = h->direct[c];
  void *b = za_heap_pop(pg);
  return za_likely(b != NULL) ? b : za_heap_alloc_slow(h, c);
}

/* Give back block `b` of page `pg` (za_segment_page of it); `h` is the calling thread's heap. */
static inline void za_heap_free(za_heap_t *h, za_page_t *pg, za_block_t *b) {
  if (za_likely(atomic_load_explicit(&pg->heap, memory_order_relaxed) == h)) {
    za_block_t *next = pg->free;
    b->next = next;
    b->key = za_heap_key(b, next);
    pg->free = b;
    if (za_unlikely(--pg->used == 0 || (pg->flags & ZA_PAGE_IN_FULL))) za_heap_page_event(h, pg);
  } else {
    za_heap_free_remote(pg, b);
  }
}

/* The page of `p` if `p` lies in a page of ours that serves a class; NULL otherwise, with *seg
 * set when the address is in a segment at all. Reads only out-of-band metadata. */
static inline za_page_t *za_heap_page_of(const void *p, za_segment_t **segp) {
  za_segment_t *seg = za_segment_find(p);
  *segp = seg;
  if (!seg) return NULL;
  za_page_t *pg = za_segment_page(seg, p);
  if (pg->cls == ZA_NO_CLASS) return NULL;
  return pg;
}

/* Is `a` the start of a block of page `pg` that was ever handed out (carved, below the page's
 * untouched end)? *idx: its slot. */
static inline bool za_heap_block_start(const za_page_t *pg, uintptr_t a, uint32_t *idx) {
  *idx = za_page_slot(pg, a);
  return za_page_slot_addr(pg, *idx) == a && a < pg->bump;
}

void za_heap_fork_prepare(void);
void za_heap_fork_parent(void);
void za_heap_fork_child(void);
#endif
