/* zalloc - the GPA backend's internals shared with its quarantine (quarantine.c) and api.c:
 * its records, and the inline malloc and free it has with its checks off. The backend itself
 * is za_gpa_backend (backend.h); see gpa.c for its design. */
#ifndef ZA_GPA_H
#define ZA_GPA_H
#include "backend.h"
#include "thread.h"
#include "zalloc.h"

#include <string.h>

/* Byte patterns. Guard bytes around every block; freed blocks while in the quarantine. Both
 * odd, non-zero and not a plausible pointer byte, so a program reading them gets an address
 * that faults rather than one that works. */
#define ZA_GUARD_BYTE 0xabu
#define ZA_FREED_BYTE 0xfdu

/* The backend's alloc and free (za_gpa_backend's), for api.c's direct calls. */
void *za_gpa_alloc(za_thread_t *t, size_t size, size_t align, unsigned flags);
za_block_state_t za_gpa_free(za_thread_t *t, void *p, za_block_info_t *info);

/* The GPA's per-slot extension (its records), in bits per 16 bytes of heap: the page backend,
 * which is the GPA with guarded pages in front, declares the same. */
#define ZA_GPA_EXT_BITS 192u

/* ---- records ---------------------------------------------------------------------------------
 * Out of band: every slot has one in its page's extension (segment.h), a separate mapping, so
 * an overflow in the program never reaches them. */

enum { ZA_REC_NEVER, ZA_REC_LIVE, ZA_REC_QUARANTINED, ZA_REC_FREE }; /* record states */

/* One per slot, in two parts. The record, 16 bytes, is what every malloc and free reads or
 * writes: `word` holds the state (bits 0-1), kind (2-3), internal (4) and the fork epoch the
 * block was allocated in (16-31), and is CAS'd on free; `size_lead`: see za_rec_size_lead().
 * The slot's stacks, 8 bytes, are only written when stacks are captured: they sit in a second
 * array after the page's records (za_rec_stacks_of), so that without stacks their memory is
 * never touched (python with the checks off: peak RSS 67.6 -> 62.8 MB; time level). */
typedef struct za_rec {
  _Atomic uint32_t word;
  uint32_t size_lead;
  int32_t alloc_tid, free_tid;
} za_rec_t;

typedef struct za_rec_stacks {
  za_stack_id_t alloc, free;
} za_rec_stacks_t;

/* Extension bits per 16 bytes of heap: one record and its stacks per slot, and no slot is
 * under 16 bytes. */
#define ZA_REC_BITS ((unsigned)(sizeof(za_rec_t) + sizeof(za_rec_stacks_t)) * 8)
_Static_assert(sizeof(za_rec_t) == 16 && sizeof(za_rec_stacks_t) == 8, "records are 24 bytes a slot");
_Static_assert(ZA_REC_BITS == ZA_GPA_EXT_BITS, "gpa.h says how big the records are");

#define ZA_REC_STATE(w) ((w) & 3u)
#define ZA_REC_KIND(w) (((w) >> 2) & 3u)
#define ZA_REC_INTERNAL 16u
#define ZA_REC_EPOCH(w) ((w) >> 16)
/* The requested size (bits 0-17: a slot is at most 128 KiB) and the block's offset in its slot
 * in 16-byte units (bits 18-31). */
#define ZA_REC_SIZE(r) ((r)->size_lead & 0x3ffffu)
#define ZA_REC_LEAD(r) (((r)->size_lead >> 18) * 16u)
static inline uint32_t za_rec_size_lead(size_t size, size_t lead) {
  return (uint32_t)size | (uint32_t)(lead / 16) << 18;
}
_Static_assert(ZA_CLASS_MAX < ((size_t)1 << 18), "sizes fit in size_lead");

static inline za_rec_t *za_rec_of(const za_page_t *pg, uint32_t idx) { return (za_rec_t *)pg->ext + idx; }

/* The stacks of the slot whose record is `r`, after the page's `capacity` records. */
static inline za_rec_stacks_t *za_rec_stacks_of(const za_page_t *pg, const za_rec_t *r) {
  const za_rec_t *recs = pg->ext;
  return (za_rec_stacks_t *)(void *)(recs + pg->capacity) + (r - recs);
}

/* The record word of a block allocated now: `state`, the kind and internal flag of `flags`,
 * and the fork epoch. */
static inline uint32_t za_rec_word(unsigned state, unsigned flags) {
  uint32_t epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed) & 0xffffu;
  return state | ZA_ALLOC_KIND(flags) << 2 | ((flags & ZA_ALLOC_INTERNAL) ? ZA_REC_INTERNAL : 0) |
         epoch << 16;
}

/* The largest slot the GPA takes from the core; bigger blocks get their own mappings (large.c)
 * and, like them, skip the quarantine, as before the core: filling and checking blocks of
 * 32 KiB to 128 KiB at every free made a multi-threaded program that forks copy more pages
 * (tests/conformance fork_while_threads_allocate: 1.73 -> 1.48 million page faults). */
#define ZA_GPA_SLOT_MAX ((size_t)32 << 10)

/* A quarantined block leaves the quarantine: check its fill pattern (recording a write after
 * free), then make its memory reusable. Called by the quarantine without any lock held. */
void za_gpa_release(za_thread_t *t, uintptr_t p);

/* ---- the fast paths, inline for api.c ------------------------------------------------------
 * With the checks that need the general path off (ZALLOC_GUARD=0, ZALLOC_QUARANTINE=0,
 * ZALLOC_STACK_DEPTH=0, no sampling, no failure injection or limit) and not in a forked child,
 * malloc, calloc and free of a slot are the core's pop and push with the record written or
 * checked and compare-and-swapped, and the statistics; no call. What they do not handle goes
 * to the general path, which tells and records what is wrong. */

extern bool za_gpa_fast;

/* The core handed out slot `slot` of `pg` whose record says it is in use: a forged link. */
ZA_COLD void za_gpa_slot_refused(za_page_t *pg, uintptr_t slot);

/* The record of `slot`, which the core just popped from `pg`, if the record says the slot is
 * free; anything else means the link that led to it was forged (a write after free): reported,
 * the page's list dropped, NULL. */
static inline za_rec_t *za_gpa_popped(za_page_t *pg, uintptr_t slot) {
  uint32_t idx = za_page_slot(pg, slot);
  za_rec_t *r = za_rec_of(pg, idx);
  unsigned st = ZA_REC_STATE(atomic_load_explicit(&r->word, memory_order_relaxed));
  if (za_likely((st == ZA_REC_NEVER || st == ZA_REC_FREE) && za_page_slot_addr(pg, idx) == slot)) return r;
  za_gpa_slot_refused(pg, slot);
  return NULL;
}

/* malloc (zero: calloc) of at most ZA_GPA_SLOT_MAX bytes by the program: a slot from its
 * class's page, as za_gpa_alloc takes one with no guards; NULL: take the general path. */
static inline void *za_gpa_alloc_fast(za_thread_t *t, size_t size, bool zero) {
  za_page_t *pg = t->heap.direct[za_class_small_of(size)];
  uintptr_t slot = (uintptr_t)za_heap_pop(pg);
  if (za_unlikely(!slot)) return NULL;
  /* The next malloc of the class writes the next block's record: fetched now, as the core
   * fetches the block itself (heap.h). */
  uintptr_t next = (uintptr_t)pg->free;
  if (next) __builtin_prefetch(za_rec_of(pg, za_page_slot(pg, next)), 1);
  za_rec_t *r = za_gpa_popped(pg, slot);
  if (za_unlikely(r == NULL)) return NULL;
  r->size_lead = za_rec_size_lead(size, 0);   /* no stacks: none are captured */
  r->alloc_tid = t->tid;
  r->free_tid = 0;
  if (zero) memset((void *)slot, 0, size);
  atomic_store_explicit(&r->word, za_rec_word(ZA_REC_LIVE, 0), memory_order_release);
  za_stats_call(t, zero ? ZA_C_CALLOC : ZA_C_MALLOC);
  za_stats_alloc(t, size);
  return (void *)slot;
}

/* free on the fast path: true if done (a live block malloc'ed by the program, at the start of
 * its slot, freed and counted); false, `p` untouched: the general path. */
static inline bool za_gpa_free_fast(za_thread_t *t, void *p) {
  za_segment_t *seg;
  za_page_t *pg = za_heap_page_of(p, &seg);
  uint32_t idx;
  if (za_unlikely(pg == NULL || !za_heap_block_start(pg, (uintptr_t)p, &idx))) return false;
  za_rec_t *r = za_rec_of(pg, idx);
  uint32_t w = atomic_load_explicit(&r->word, memory_order_acquire);
  const uint32_t want = ZA_REC_LIVE | ZA_KIND_MALLOC << 2;
  if (za_unlikely((w & (3u | 3u << 2 | ZA_REC_INTERNAL)) != want || ZA_REC_LEAD(r) != 0)) return false;
  /* Two threads freeing the block at once: exactly one wins. */
  if (za_unlikely(!atomic_compare_exchange_strong_explicit(&r->word, &w, (w & ~3u) | ZA_REC_FREE,
                                                           memory_order_acq_rel, memory_order_relaxed)))
    return false;
  uint32_t size = ZA_REC_SIZE(r);
  r->free_tid = t->tid;
  za_heap_free(&t->heap, pg, (za_block_t *)p);
  za_stats_call(t, ZA_C_FREE);
  za_stats_free(t, size);
  return true;
}

#endif
