/* zalloc - segments and pages (see segment.h). */
#include "segment.h"
#include "lock.h"
#include "prim.h"
#include "stats.h"

#include <string.h>

za_segment_t **za_segment_table;

#define TABLE_ENTRIES ((size_t)1 << (ZA_ADDRESS_BITS - ZA_SEGMENT_SHIFT))

/* Free pages keep their memory while they wait in the pool, and give it back to the OS once
 * they have waited PURGE_MS unused (checked whenever a page comes or goes). Taking a page uses
 * the most recently pooled one first, so pooling never raises a program's peak memory: a page
 * that would have been given back and faulted in again is only reused sooner. Giving pages
 * back at once cost python (objects.py) 450 madvise calls and 7,000 page faults of its 15,000
 * in one run; jemalloc and mimalloc also give back after a delay. */
#define PURGE_MS 500

static unsigned ext_bits;                  /* backend extension, bits per 16 bytes */
static za_lock_t lock = ZA_LOCK_INIT;      /* the pool, the segment list */
static za_segment_t *segments;
static struct pool {
  za_page_list_t kept;                     /* with their memory, newest first */
  za_page_t *given;                        /* memory given back (reads as zero) */
} pools[ZA_PAGE_KINDS];
static _Atomic size_t segments_mapped;
/* Bytes of pages in use or pooled with their memory: what the heap holds from the OS (pages
 * never used and pages given back are not counted). */
static _Atomic size_t committed_bytes;

bool za_segment_init(unsigned ext_bits_per_16) {
  ext_bits = ext_bits_per_16;
  za_segment_table = za_os_reserve(TABLE_ENTRIES * sizeof *za_segment_table);
  return za_segment_table != NULL;
}

unsigned za_page_shift_for(unsigned c) {
  size_t want = 8 * za_class_size(c);
  unsigned shift = ZA_PAGE_SHIFT_MIN;
  while (shift < ZA_PAGE_SHIFT_MAX && ((size_t)1 << shift) < want) shift++;
  return shift;
}

static size_t ext_bytes_per_segment(void) { return ZA_SEGMENT_SIZE / 16 * ext_bits / 8; }
static size_t ext_bytes_per_page(unsigned shift) { return ((size_t)1 << shift) / 16 * ext_bits / 8; }

/* The page's memory and its extension go back to the OS. The extension only where it covers
 * whole OS pages (the arena's is 512 bytes a page: kept). */
static void give_back(za_page_t *pg) {
  za_os_decommit((void *)pg->start, (size_t)1 << pg->shift);
  size_t ext = ext_bytes_per_page(pg->shift);
  if (pg->ext && ext >= ZA_PAGE_SIZE) za_os_decommit(pg->ext, ext);
  pg->zeroed = true;
}

static void push_given(struct pool *pl, za_page_t *pg) {
  pg->committed = false;
  pg->prev = NULL;
  pg->next = pl->given;
  pl->given = pg;
}

static void push_kept(struct pool *pl, za_page_t *pg) {
  pg->committed = true;
  pg->zeroed = false;
  pg->prev = NULL;
  pg->next = pl->kept.first;
  if (pl->kept.first) pl->kept.first->prev = pg;
  else pl->kept.last = pg;
  pl->kept.first = pg;
}

static void unlink_kept(struct pool *pl, za_page_t *pg) {
  if (pg->prev) pg->prev->next = pg->next;
  else pl->kept.first = pg->next;
  if (pg->next) pg->next->prev = pg->prev;
  else pl->kept.last = pg->prev;
  pg->next = pg->prev = NULL;
}

/* The pooled pages that have waited PURGE_MS give their memory back, oldest first. Takes and
 * drops the lock (held on entry and on return) around each system call. */
static void purge_locked(struct pool *pl, uint32_t now) {
  za_page_t *pg;
  while ((pg = pl->kept.last) != NULL && (uint32_t)(now - pg->pool_ms) > PURGE_MS) {
    unlink_kept(pl, pg);
    pg->cls = ZA_NO_CLASS;   /* in nobody's hands while unlinked; still not a class's */
    za_unlock(&lock);
    give_back(pg);
    atomic_fetch_sub_explicit(&committed_bytes, (size_t)1 << pg->shift, memory_order_relaxed);
    za_lock(&lock);
    push_given(pl, pg);
  }
}

/* A new segment of pages of 2^shift bytes, its pages into the pool. Under the lock. */
static bool new_segment(unsigned shift) {
  void *mem = za_os_map_fenced(ZA_SEGMENT_SIZE, ZA_SEGMENT_SIZE);
  if (!mem) return false;
  za_segment_t *seg = za_os_map(za_align_up(sizeof *seg, ZA_PAGE_SIZE));
  unsigned char *ext = ext_bits ? za_os_reserve(ext_bytes_per_segment()) : NULL;
  if (!seg || (ext_bits && !ext)) {
    za_os_unmap_fenced(mem, ZA_SEGMENT_SIZE);
    if (seg) za_os_unmap(seg, za_align_up(sizeof *seg, ZA_PAGE_SIZE));
    return false;
  }
  seg->base = (uintptr_t)mem;
  seg->shift = (uint8_t)shift;
  seg->npages = (uint32_t)(ZA_SEGMENT_SIZE >> shift);
  seg->ext = ext;
  struct pool *pl = &pools[shift - ZA_PAGE_SHIFT_MIN];
  for (uint32_t i = seg->npages; i-- > 0;) {
    za_page_t *pg = &seg->pages[i];
    pg->start = seg->base + ((uintptr_t)i << shift);
    pg->shift = (uint8_t)shift;
    pg->cls = ZA_NO_CLASS;
    pg->zeroed = true;
    pg->ext = ext ? ext + i * ext_bytes_per_page(shift) : NULL;
    push_given(pl, pg);  /* not counted as committed: nothing was touched */
  }
  seg->next = segments;
  segments = seg;
  /* Published last: a lookup that finds the segment finds it whole. */
  atomic_store_explicit((_Atomic(za_segment_t *) *)&za_segment_table[seg->base >> ZA_SEGMENT_SHIFT],
                        seg, memory_order_release);
  atomic_fetch_add_explicit(&segments_mapped, 1, memory_order_relaxed);
  return true;
}

za_page_t *za_page_take(unsigned shift, unsigned c) {
  struct pool *pl = &pools[shift - ZA_PAGE_SHIFT_MIN];
  za_lock(&lock);
  za_page_t *pg = pl->kept.first;
  if (pg) {
    unlink_kept(pl, pg);
  } else {
    if (!pl->given && !new_segment(shift)) {
      za_unlock(&lock);
      return NULL;
    }
    pg = pl->given;
    pl->given = pg->next;
    atomic_fetch_add_explicit(&committed_bytes, (size_t)1 << shift, memory_order_relaxed);
  }
  za_unlock(&lock);
  pg->next = pg->prev = NULL;
  pg->free = NULL;
  atomic_store_explicit(&pg->thread_free, 0, memory_order_relaxed);
  pg->flags = 0;
  pg->used = 0;
  pg->cls = (uint8_t)c;
  pg->block_size = (uint32_t)za_class_size(c);
  pg->capacity = (uint32_t)(((size_t)1 << shift) / pg->block_size);
  pg->recip = (uint32_t)((((uint64_t)1 << 32) + pg->block_size - 1) / pg->block_size);
  pg->bump = pg->start;
  pg->end = pg->start + (uintptr_t)pg->capacity * pg->block_size;
  pg->committed = true;
  pg->epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed);
  return pg;
}

void za_page_give(za_page_t *pg) {
  struct pool *pl = &pools[pg->shift - ZA_PAGE_SHIFT_MIN];
  atomic_store_explicit(&pg->heap, NULL, memory_order_relaxed);
  uint32_t now = za_os_now_ms();
  pg->pool_ms = now;
  za_lock(&lock);
  pg->cls = ZA_NO_CLASS;
  push_kept(pl, pg);
  purge_locked(pl, now);
  za_unlock(&lock);
}

void za_segment_for_each_page(void (*fn)(void *ctx, za_page_t *pg), void *ctx) {
  za_lock(&lock);
  for (za_segment_t *seg = segments; seg; seg = seg->next)
    for (uint32_t i = 0; i < seg->npages; i++)
      if (seg->pages[i].cls != ZA_NO_CLASS) fn(ctx, &seg->pages[i]);
  za_unlock(&lock);
}

bool za_segment_trim(void) {
  bool any = false;
  za_lock(&lock);
  for (unsigned k = 0; k < ZA_PAGE_KINDS; k++) {
    any |= pools[k].kept.first != NULL;
    purge_locked(&pools[k], za_os_now_ms() + PURGE_MS + 1);   /* all of them, whatever their age */
  }
  za_unlock(&lock);
  return any;
}

size_t za_segment_mapped_bytes(void) {
  return atomic_load_explicit(&committed_bytes, memory_order_relaxed);
}

void za_segment_fork_prepare(void) { za_lock(&lock); }
void za_segment_fork_parent(void) { za_unlock(&lock); }
void za_segment_fork_child(void) { za_lock_reset(&lock); }
