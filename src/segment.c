/* zalloc - segments and pages (see segment.h). */
#include "segment.h"
#include "lock.h"
#include "prim.h"
#include "stats.h"

#include <string.h>

za_segment_t **za_segment_table;

#define TABLE_ENTRIES ((size_t)1 << (ZA_ADDRESS_BITS - ZA_SEGMENT_SHIFT))

/* Free pages kept with their memory, per page size: a program that empties and refills pages
 * in turn (a phase that frees everything, then allocates again) does not fault them in again.
 * The rest of the pool is given back to the OS. */
#define POOL_KEEP_BYTES ((size_t)8 << 20)

static unsigned ext_bits;                  /* backend extension, bits per 16 bytes */
static za_lock_t lock = ZA_LOCK_INIT;      /* the pool, the segment list */
static za_segment_t *segments;
static struct pool {
  za_page_t *head;                         /* free pages, committed ones first */
  size_t committed;                        /* bytes of pooled pages that keep their memory */
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

static void pool_push(struct pool *pl, za_page_t *pg) {
  pg->prev = NULL;
  pg->next = pl->head;
  if (pl->head) pl->head->prev = pg;
  pl->head = pg;
}

/* A new segment of pages of 2^shift bytes, its pages into the pool. Under the lock. */
static bool new_segment(unsigned shift) {
  void *mem = za_os_map_aligned(ZA_SEGMENT_SIZE, ZA_SEGMENT_SIZE);
  if (!mem) return false;
  za_segment_t *seg = za_os_map(za_align_up(sizeof *seg, ZA_PAGE_SIZE));
  unsigned char *ext = ext_bits ? za_os_reserve(ext_bytes_per_segment()) : NULL;
  if (!seg || (ext_bits && !ext)) {
    za_os_unmap(mem, ZA_SEGMENT_SIZE);
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
    pool_push(pl, pg);  /* not counted as committed: nothing was touched */
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
  if (!pl->head && !new_segment(shift)) {
    za_unlock(&lock);
    return NULL;
  }
  za_page_t *pg = pl->head;
  pl->head = pg->next;
  if (pl->head) pl->head->prev = NULL;
  if (pg->committed) pl->committed -= (size_t)1 << shift;
  else atomic_fetch_add_explicit(&committed_bytes, (size_t)1 << shift, memory_order_relaxed);
  za_unlock(&lock);
  pg->next = pg->prev = NULL;
  pg->free = pg->local_free = NULL;
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
  size_t size = (size_t)1 << pg->shift;
  struct pool *pl = &pools[pg->shift - ZA_PAGE_SHIFT_MIN];
  atomic_store_explicit(&pg->heap, NULL, memory_order_relaxed);
  za_lock(&lock);
  bool keep = pl->committed + size <= POOL_KEEP_BYTES;
  if (keep) pl->committed += size;
  pg->cls = ZA_NO_CLASS;
  pg->committed = keep;
  za_unlock(&lock);
  if (!keep) {
    atomic_fetch_sub_explicit(&committed_bytes, size, memory_order_relaxed);
    /* Outside the lock: a system call. The page is in nobody's hands meanwhile. */
    za_os_decommit((void *)pg->start, size);
    if (pg->ext) za_os_decommit(pg->ext, ext_bytes_per_page(pg->shift));
  }
  pg->zeroed = !keep;
  za_lock(&lock);
  pool_push(pl, pg);
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
    for (za_page_t *pg = pools[k].head; pg; pg = pg->next) {
      if (!pg->committed) continue;
      za_os_decommit((void *)pg->start, (size_t)1 << pg->shift);
      if (pg->ext) za_os_decommit(pg->ext, ext_bytes_per_page(pg->shift));
      pg->committed = false;
      pg->zeroed = true;
      atomic_fetch_sub_explicit(&committed_bytes, (size_t)1 << pg->shift, memory_order_relaxed);
      any = true;
    }
    pools[k].committed = 0;
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
