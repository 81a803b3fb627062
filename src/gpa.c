/* zalloc - the GPA backend: the checked general-purpose allocator, ZALLOC_MODE=gpa (default).
 *
 * Memory: 4 MiB segments (registered in the segment map) cut into 128 KiB slabs; a slab
 * serves one size class (40 classes, 16 B to 32 KiB slots, four per doubling). Bigger
 * requests, and alignments above a page, get their own mappings (large.c).
 *
 * Metadata is out of band: a segment's slab descriptors and the per-slot records live in a
 * separate mapping found through a table indexed by segment number, so an overflow in the
 * program can overwrite guard bytes but never the allocator's records. A record holds the
 * block's state, kind (malloc/new/new[]), requested size, allocation and free stack ids and
 * threads, and the offset of the block in its slot.
 *
 * Slot layout with ZALLOC_GUARD=1: [guard >= 16 B][block][guard >= 16 B up to the slot end].
 * The guards are filled with ZA_GUARD_BYTE and checked at free, realloc and exit.
 *
 * Threads: each has a cache of free slots per class (no lock on malloc or free while it has
 * some); it refills or drains half a cache at a time under that class's lock. A free from
 * another thread just lands in the freeing thread's cache. A slab whose slots are all free
 * gives its pages back to the OS and may serve another class (two per class are kept).
 * A slab's free slots are a stack of 16-bit indices, out of band like the records.
 *
 * Free: the record's state moves LIVE -> QUARANTINED by compare-and-swap (two racing frees
 * of one block: exactly one wins, the other is a double free), the block is filled with
 * ZA_FREED_BYTE and waits in the quarantine (quarantine.c); when it leaves, the pattern is
 * checked and the slot becomes FREE (its record keeps the stacks, so a late double free is
 * still explained). With no quarantine the slot is free at once. */
#include "gpa.h"
#include "findings.h"
#include "large.h"
#include "lock.h"
#include "options.h"
#include "prim.h"
#include "quarantine.h"
#include "segmap.h"
#include "stats.h"

#include <string.h>

/* ---- geometry ----------------------------------------------------------------------------- */

#define SLAB_SHIFT 17
#define SLAB_SIZE ((size_t)1 << SLAB_SHIFT)
#define SLABS (ZA_SEGMENT_SIZE / SLAB_SIZE)      /* per segment */
#define MAX_SLOTS (SLAB_SIZE / 16)               /* per slab, for the smallest class */
#define NCLASS 40
#define MAX_SLOT ((size_t)32768)
#define GUARD_MIN 16u
#define CACHE_N 128                              /* room for free slots per class and thread */
#define CACHE_BYTES ((size_t)32 << 10)           /* ...filled up to this many bytes a class */

static inline unsigned class_of(size_t n) {       /* 1 <= n <= MAX_SLOT */
  if (n <= 128) return (unsigned)((n + 15) / 16 - 1);
  unsigned b = 63 - (unsigned)__builtin_clzl(n - 1);
  return 8 + (b - 7) * 4 + (unsigned)((n - 1) >> (b - 2)) - 4;
}

static inline size_t class_size(unsigned c) {
  if (c < 8) return (c + 1) * 16;
  unsigned b = 7 + (c - 8) / 4, m = 4 + (c - 8) % 4;
  return (size_t)(m + 1) << (b - 2);
}

/* How many free slots of class `c` a thread keeps: 128 small ones, fewer big ones (at least 4),
 * about CACHE_BYTES a class. The class lock is taken once per half of that: with 32 slots for
 * every class, 16 threads churning blocks of 16-512 bytes took 3.5x as long as one thread on a
 * 16-core machine; with 128, 1.5x (bench/alloc-bench churn; docs/performance.md). */
static uint8_t cache_limits[NCLASS];             /* filled by gpa_init */

static inline uint32_t cache_limit(unsigned c) { return cache_limits[c]; }

static void init_cache_limits(void) {
  for (unsigned c = 0; c < NCLASS; c++) {
    size_t n = CACHE_BYTES / class_size(c);
    cache_limits[c] = (uint8_t)(n >= CACHE_N ? CACHE_N : n < 4 ? 4 : n);
  }
}

/* ---- records and slabs -------------------------------------------------------------------- */

enum { ST_NEVER, ST_LIVE, ST_QUARANTINED, ST_FREE }; /* record states */

/* One per slot, 24 bytes. `word`: state (bits 0-1), kind (2-3), internal (4), the fork epoch
 * the block was allocated in (16-31); CAS'd on free. `size_lead`: the requested size (bits
 * 0-15: slots are at most 32 KiB) and the block's offset in its slot in 16-byte units (16-31). */
typedef struct rec {
  _Atomic uint32_t word;
  uint32_t size_lead;
  za_stack_id_t alloc_stack, free_stack;
  int32_t alloc_tid, free_tid;
} rec_t;

#define W_STATE(w) ((w) & 3u)
#define W_KIND(w) (((w) >> 2) & 3u)
#define W_INTERNAL 16u
#define W_EPOCH(w) ((w) >> 16)
#define REC_SIZE(r) ((r)->size_lead & 0xffffu)
#define REC_LEAD(r) (((r)->size_lead >> 16) * 16u)
static inline uint32_t size_lead(size_t size, size_t lead) {
  return (uint32_t)size | (uint32_t)(lead / 16) << 16;
}

typedef struct slab {
  uintptr_t base;
  rec_t *recs;
  uint16_t *free;       /* indices of free slots, a stack: pops and pushes touch one line */
  uint32_t slot_size, capacity, fresh, nfree, used;
  uint32_t recip;       /* 2^32 / slot_size, rounded up: index = offset * recip >> 32 */
  int cls;              /* -1: not serving a class */
  bool listed;          /* on its class's partial list */
  struct slab *next, *prev;
} slab_t;

typedef struct segment {
  slab_t slabs[SLABS];
  struct segment *next; /* every segment, newest first (under seg_lock) */
  rec_t *recs;          /* SLABS * MAX_SLOTS records */
  uint16_t *free;       /* SLABS * MAX_SLOTS free-slot indices */
} segment_t;

#define SEG_TABLE_SIZE ((size_t)1 << (47 - ZA_SEGMENT_SHIFT))
static segment_t **seg_table;   /* by segment number; reserved, touched where used */

static inline slab_t *slab_of(uintptr_t p, segment_t **segp) {
  if (!za_segmap_owns((void *)p)) return NULL;
  segment_t *seg = seg_table[p >> ZA_SEGMENT_SHIFT];
  if (!seg) return NULL;
  if (segp) *segp = seg;
  return &seg->slabs[(p & (ZA_SEGMENT_SIZE - 1)) >> SLAB_SHIFT];
}

static inline uint32_t slot_index(const slab_t *s, uintptr_t p) {
  return (uint32_t)(((uint64_t)(p - s->base) * s->recip) >> 32);
}

/* ---- classes: partial slabs, under the class lock ----------------------------------------- */

static struct central {
  _Alignas(64) za_lock_t lock;
  slab_t *partial;      /* slabs with a free slot */
  uint32_t empty_kept;  /* of them, wholly free ones kept committed (at most KEEP_EMPTY) */
} central[NCLASS];

/* Wholly free slabs a class keeps rather than giving their pages back: a program that fills
 * and empties a slab in turn would otherwise fault every page in again each time (measured:
 * a third of alloc-bench fifo's time in the kernel). */
#define KEEP_EMPTY 2

static za_lock_t seg_lock = ZA_LOCK_INIT;  /* empty slabs, new segments */
static slab_t *empty_slabs;
static segment_t *segments;              /* every segment, for the walks at exit */
static _Atomic size_t segments_mapped;   /* written under seg_lock, read by mallinfo */

static void list_push(slab_t **head, slab_t *s) {
  s->prev = NULL;
  s->next = *head;
  if (*head) (*head)->prev = s;
  *head = s;
}

static void list_remove(slab_t **head, slab_t *s) {
  if (s->prev) s->prev->next = s->next;
  else *head = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
}

static bool new_segment(void) {
  void *mem = za_os_map_aligned(ZA_SEGMENT_SIZE, ZA_SEGMENT_SIZE);
  if (!mem) return false;
  segment_t *seg = za_os_map(za_align_up(sizeof(segment_t), ZA_PAGE_SIZE));
  rec_t *recs = za_os_reserve(SLABS * MAX_SLOTS * sizeof(rec_t));
  uint16_t *free_idx = za_os_reserve(SLABS * MAX_SLOTS * sizeof(uint16_t));
  if (!seg || !recs || !free_idx) {
    za_os_unmap(mem, ZA_SEGMENT_SIZE);
    if (seg) za_os_unmap(seg, za_align_up(sizeof(segment_t), ZA_PAGE_SIZE));
    if (recs) za_os_unmap(recs, SLABS * MAX_SLOTS * sizeof(rec_t));
    if (free_idx) za_os_unmap(free_idx, SLABS * MAX_SLOTS * sizeof(uint16_t));
    return false;
  }
  seg->recs = recs;
  seg->free = free_idx;
  for (size_t i = SLABS; i-- > 0;) {
    slab_t *s = &seg->slabs[i];
    s->base = (uintptr_t)mem + i * SLAB_SIZE;
    s->recs = recs + i * MAX_SLOTS;
    s->free = free_idx + i * MAX_SLOTS;
    s->cls = -1;
    list_push(&empty_slabs, s);
  }
  seg_table[(uintptr_t)mem >> ZA_SEGMENT_SHIFT] = seg;
  seg->next = segments;
  segments = seg;
  za_segmap_set(mem, true);
  segments_mapped++;
  return true;
}

/* An empty slab set up for class `c`, or NULL. Under central[c].lock. */
static slab_t *take_slab(unsigned c) {
  za_lock(&seg_lock);
  if (!empty_slabs && !new_segment()) {
    za_unlock(&seg_lock);
    return NULL;
  }
  slab_t *s = empty_slabs;
  list_remove(&empty_slabs, s);
  za_unlock(&seg_lock);
  s->slot_size = (uint32_t)class_size(c);
  s->capacity = (uint32_t)(SLAB_SIZE / s->slot_size);
  s->recip = (uint32_t)((((uint64_t)1 << 32) + s->slot_size - 1) / s->slot_size);
  s->fresh = s->nfree = s->used = 0;
  s->cls = (int)c;
  return s;
}

/* All of `s`'s slots are free: give its pages back and let any class have it. Under the
 * class lock. Its records go too: nothing in it is live or quarantined. */
static void retire_slab(slab_t *s) {
  za_os_decommit((void *)s->base, SLAB_SIZE);
  za_os_decommit(s->recs, za_align_up((size_t)s->capacity * sizeof(rec_t), ZA_PAGE_SIZE));
  za_os_decommit(s->free, za_align_up((size_t)s->capacity * sizeof(uint16_t), ZA_PAGE_SIZE));
  s->cls = -1;
  za_lock(&seg_lock);
  list_push(&empty_slabs, s);
  za_unlock(&seg_lock);
}

/* ---- per-thread heaps ---------------------------------------------------------------------- */

typedef struct heap {
  uint32_t n[NCLASS];
  uintptr_t slots[NCLASS][CACHE_N];
  za_qbatch_t *qbatch;
  struct heap *next_free;
} heap_t;

static za_lock_t heap_lock = ZA_LOCK_INIT;
static heap_t *heap_pool;

static inline heap_t *heap_of(za_thread_t *t) { return *(heap_t **)t->backend; }

/* Move up to half a cache of free slots of class `c` into `h`. False if out of memory. */
static bool refill(heap_t *h, unsigned c) {
  struct central *k = &central[c];
  za_lock(&k->lock);
  uint32_t want = cache_limit(c) / 2;
  while (h->n[c] < want) {
    slab_t *s = k->partial;
    if (!s) {
      if ((s = take_slab(c)) == NULL) break;
      list_push(&k->partial, s);
      s->listed = true;
    }
    if (s->used == 0 && k->empty_kept) k->empty_kept--; /* a kept empty slab is in use again */
    while (h->n[c] < want) {
      uint32_t idx;
      if (s->nfree) {
        idx = s->free[--s->nfree];
      } else if (s->fresh < s->capacity) {
        idx = s->fresh++;
      } else {
        break;
      }
      s->used++;
      h->slots[c][h->n[c]++] = s->base + (uintptr_t)idx * s->slot_size;
    }
    if (!s->nfree && s->fresh == s->capacity) {
      list_remove(&k->partial, s);
      s->listed = false;
    }
  }
  za_unlock(&k->lock);
  return h->n[c] > 0;
}

/* Return slot `slot` of `s` to its slab. Under the class lock. */
static void slab_put(struct central *k, slab_t *s, uintptr_t slot) {
  uint32_t idx = slot_index(s, slot);
  s->free[s->nfree++] = (uint16_t)idx;
  if (--s->used == 0 && k->empty_kept >= KEEP_EMPTY) {
    if (s->listed) list_remove(&k->partial, s);
    s->listed = false;
    retire_slab(s);
  } else if (s->used == 0) {
    k->empty_kept++;
    if (!s->listed) list_push(&k->partial, s);
    s->listed = true;
  } else if (!s->listed) {
    list_push(&k->partial, s);
    s->listed = true;
  }
}

/* Give back the oldest `count` cached slots of class `c`. */
static void drain(heap_t *h, unsigned c, uint32_t count) {
  struct central *k = &central[c];
  za_lock(&k->lock);
  for (uint32_t i = 0; i < count; i++) slab_put(k, slab_of(h->slots[c][i], NULL), h->slots[c][i]);
  za_unlock(&k->lock);
  memmove(h->slots[c], h->slots[c] + count, (h->n[c] - count) * sizeof(uintptr_t));
  h->n[c] -= count;
}

static void cache_put(heap_t *h, unsigned c, uintptr_t slot) {
  if (za_unlikely(h->n[c] >= cache_limit(c))) drain(h, c, cache_limit(c) / 2);
  h->slots[c][h->n[c]++] = slot;
}

static void gpa_thread_init(za_thread_t *t) {
  za_lock(&heap_lock);
  heap_t *h = heap_pool;
  if (h) heap_pool = h->next_free;
  za_unlock(&heap_lock);
  if (!h) h = za_os_map(za_align_up(sizeof(heap_t), ZA_PAGE_SIZE));
  if (h) memset(h, 0, sizeof *h);
  /* Out of memory: the thread has no heap; its mallocs return NULL (ENOMEM) and its frees go
   * straight back to the slabs (slot_release). */
  *(heap_t **)t->backend = h;
}

static void gpa_thread_exit(za_thread_t *t) {
  heap_t *h = heap_of(t);
  if (!h) return;
  za_quarantine_flush(t, &h->qbatch);
  for (unsigned c = 0; c < NCLASS; c++)
    if (h->n[c]) drain(h, c, h->n[c]);
  *(heap_t **)t->backend = NULL;
  za_lock(&heap_lock);
  h->next_free = heap_pool;
  heap_pool = h;
  za_unlock(&heap_lock);
}

/* ---- allocation ---------------------------------------------------------------------------- */

static inline uint32_t make_word(unsigned state, unsigned flags) {
  uint32_t epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed) & 0xffffu;
  return state | ZA_ALLOC_KIND(flags) << 2 | ((flags & ZA_ALLOC_INTERNAL) ? W_INTERNAL : 0) |
         epoch << 16;
}

static inline za_stack_id_t capture(unsigned flags) {
  return za_opt.stack_depth && !(flags & ZA_ALLOC_INTERNAL) ? za_stack_capture(za_opt.stack_depth) : 0;
}

static void *large_alloc(za_thread_t *t, size_t size, size_t align, unsigned flags) {
  za_block_info_t meta = {.kind = (uint8_t)ZA_ALLOC_KIND(flags), .alloc_tid = t->tid};
  meta.alloc_stack = capture(flags);
  size_t room = za_opt.guard ? size + GUARD_MIN : size;
  if (room < size) return NULL;
  unsigned char *p = za_large_alloc(room, align, flags, &meta);
  /* The large table records `room`: gpa_lookup reports `size` from it. Fresh or reused, the
   * tail up to the page end is the guard. */
  if (p && za_opt.guard) {
    size_t end = za_align_up(room, ZA_PAGE_SIZE);
    memset(p + size, ZA_GUARD_BYTE, end - size);
  }
  return p;
}

static void *gpa_alloc(za_thread_t *t, size_t size, size_t align, unsigned flags) {
  size_t lead = za_opt.guard ? GUARD_MIN : 0;
  size_t need = size + (za_opt.guard ? 2 * GUARD_MIN : 0);
  if (align > ZA_MIN_ALIGN) need += align - ZA_MIN_ALIGN;
  if (za_unlikely(need > MAX_SLOT || align > ZA_PAGE_SIZE || need < size))
    return large_alloc(t, size, align, flags);
  unsigned c = class_of(need ? need : 1);
  heap_t *h = heap_of(t);
  if (za_unlikely(!h)) return NULL;
  if (za_unlikely(h->n[c] == 0) && !refill(h, c)) return NULL;
  uintptr_t slot = h->slots[c][--h->n[c]];
  slab_t *s = slab_of(slot, NULL);
  rec_t *r = &s->recs[slot_index(s, slot)];
  uintptr_t p = za_align_up_ptr(slot + lead, align);
  r->size_lead = size_lead(size, p - slot);
  r->alloc_stack = capture(flags);
  r->alloc_tid = t->tid;
  r->free_stack = 0;
  r->free_tid = 0;
  if (za_opt.guard) {
    memset((void *)slot, ZA_GUARD_BYTE, p - slot);
    memset((void *)(p + size), ZA_GUARD_BYTE, slot + s->slot_size - (p + size));
  }
  if (flags & ZA_ALLOC_ZERO) memset((void *)p, 0, size);
  atomic_store_explicit(&r->word, make_word(ST_LIVE, flags), memory_order_release);
  return (void *)p;
}

/* ---- classification ------------------------------------------------------------------------ */

typedef struct where {
  slab_t *slab;
  rec_t *rec;
  uintptr_t slot;
} where_t;

static void fill_info(const rec_t *r, uint32_t w, za_block_info_t *info) {
  *info = (za_block_info_t){.size = REC_SIZE(r), .usable = REC_SIZE(r), .epoch = W_EPOCH(w),
                            .kind = (uint8_t)W_KIND(w),
                            .internal = (w & W_INTERNAL) != 0,
                            .alloc_stack = r->alloc_stack, .free_stack = r->free_stack,
                            .alloc_tid = r->alloc_tid, .free_tid = r->free_tid};
}

/* What `p` is, for a pointer inside a slab segment; `wh` filled when it is a slot's block. */
static za_block_state_t classify(uintptr_t p, where_t *wh, za_block_info_t *info, uint32_t *wordp) {
  slab_t *s = slab_of(p, NULL);
  if (!s) return ZA_BLOCK_FOREIGN;
  if (s->cls < 0) return ZA_BLOCK_INTERIOR;
  uint32_t idx = slot_index(s, p);
  if (idx >= s->capacity) return ZA_BLOCK_INTERIOR;
  rec_t *r = &s->recs[idx];
  uintptr_t slot = s->base + (uintptr_t)idx * s->slot_size;
  uint32_t w = atomic_load_explicit(&r->word, memory_order_acquire);
  if (W_STATE(w) == ST_NEVER || p != slot + REC_LEAD(r)) return ZA_BLOCK_INTERIOR;
  wh->slab = s;
  wh->rec = r;
  wh->slot = slot;
  *wordp = w;
  fill_info(r, w, info);
  return W_STATE(w) == ST_LIVE ? ZA_BLOCK_LIVE : ZA_BLOCK_FREED;
}

/* The large table records the block with its guard room: give the program's view. */
static za_block_state_t large_view(za_block_state_t st, za_block_info_t *info) {
  if (st == ZA_BLOCK_LIVE || st == ZA_BLOCK_FREED)
    info->size = info->usable = info->size - (za_opt.guard ? GUARD_MIN : 0);
  return st;
}

static za_block_state_t large_classify(const void *p, za_block_info_t *info) {
  return large_view(za_large_lookup(p, info), info);
}

static za_block_state_t gpa_lookup(const void *p, za_block_info_t *info) {
  where_t wh;
  uint32_t w;
  if (!za_segmap_owns(p)) return large_classify(p, info);
  return classify((uintptr_t)p, &wh, info, &w);
}

/* ---- checks ---------------------------------------------------------------------------- */

/* First byte in [p, p + n) that is not `byte`, or NULL. */
static const unsigned char *pattern_mismatch(const unsigned char *p, size_t n, unsigned char byte) {
  uint64_t word = 0x0101010101010101ull * byte;
  size_t i = 0;
  while (i < n && ((uintptr_t)(p + i) & 7)) {
    if (p[i] != byte) return p + i;
    i++;
  }
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, p + i, 8);
    if (v != word) break;
  }
  for (; i < n; i++)
    if (p[i] != byte) return p + i;
  return NULL;
}

/* Check the guards of the live block at `p` (slot `slot` of `s`); record what is broken.
 * `when`: the call that found it (free, realloc, exit). */
static void check_guards(const slab_t *s, uintptr_t slot, uintptr_t p, const za_block_info_t *info,
                         za_op_t when) {
  const unsigned char *bad = pattern_mismatch((const unsigned char *)slot, p - slot, ZA_GUARD_BYTE);
  if (bad) {
    /* The byte nearest the block tells how far before it the write went. */
    const unsigned char *last = bad;
    for (const unsigned char *q = bad; q < (const unsigned char *)p; q++)
      if (*q != ZA_GUARD_BYTE) last = q;
    za_finding_corrupt(ZA_CORRUPT_UNDERFLOW, (void *)p, info, (ptrdiff_t)((uintptr_t)last - p), when);
  }
  uintptr_t end = p + info->size, slot_end = slot + s->slot_size;
  bad = pattern_mismatch((const unsigned char *)end, slot_end - end, ZA_GUARD_BYTE);
  if (bad) za_finding_corrupt(ZA_CORRUPT_OVERFLOW, (void *)p, info, (ptrdiff_t)((uintptr_t)bad - p), when);
}

/* Check the fill pattern of the quarantined block at `p`; record a write after free. */
static void check_freed(uintptr_t p, const za_block_info_t *info, za_op_t when) {
  const unsigned char *b = (const unsigned char *)p, *bad = pattern_mismatch(b, info->size, ZA_FREED_BYTE);
  if (bad) za_finding_corrupt(ZA_CORRUPT_WRITE_AFTER_FREE, (void *)p, info, bad - b, when);
}

static void check_large_guard(const void *p, const za_block_info_t *info, za_op_t when) {
  if (!za_opt.guard) return;
  const unsigned char *b = p;
  size_t end = za_align_up(info->size + GUARD_MIN, ZA_PAGE_SIZE);
  const unsigned char *bad = pattern_mismatch(b + info->size, end - info->size, ZA_GUARD_BYTE);
  if (bad) za_finding_corrupt(ZA_CORRUPT_OVERFLOW, p, info, bad - b, when);
}

/* ---- free ------------------------------------------------------------------------------------ */

/* The slot of a block that is now dead (freed, out of the quarantine) becomes reusable. */
static void slot_release(za_thread_t *t, const where_t *wh) {
  uint32_t w = atomic_load_explicit(&wh->rec->word, memory_order_relaxed);
  if (W_STATE(w) != ST_FREE)
    atomic_store_explicit(&wh->rec->word, (w & ~3u) | ST_FREE, memory_order_release);
  heap_t *h = heap_of(t);
  unsigned c = (unsigned)wh->slab->cls;
  if (h) {
    cache_put(h, c, wh->slot);
  } else {
    za_lock(&central[c].lock);
    slab_put(&central[c], wh->slab, wh->slot);
    za_unlock(&central[c].lock);
  }
}

void za_gpa_release(za_thread_t *t, uintptr_t p) {
  where_t wh;
  za_block_info_t info;
  uint32_t w;
  if (classify(p, &wh, &info, &w) != ZA_BLOCK_FREED) return; /* cannot happen */
  check_freed(p, &info, ZA_OP_REUSE);
  slot_release(t, &wh);
}

/* Free the live block `p` at `wh` whose record word is `w`: exactly one caller wins. */
static za_block_state_t free_slot(za_thread_t *t, uintptr_t p, const where_t *wh, uint32_t w,
                                  za_block_info_t *info, za_op_t op) {
  rec_t *r = wh->rec;
  uint32_t dead = (w & ~3u) | (za_opt.quarantine ? ST_QUARANTINED : ST_FREE);
  if (!atomic_compare_exchange_strong_explicit(&r->word, &w, dead, memory_order_acq_rel, memory_order_acquire)) {
    fill_info(r, w, info);
    return W_STATE(w) == ST_LIVE ? ZA_BLOCK_INTERIOR : ZA_BLOCK_FREED; /* reused meanwhile */
  }
  if (za_opt.guard) check_guards(wh->slab, wh->slot, p, info, op);
  r->free_stack = (w & W_INTERNAL) ? 0 : capture(0);
  r->free_tid = t->tid;
  if (za_opt.quarantine) {
    memset((void *)p, ZA_FREED_BYTE, info->size);
    heap_t *h = heap_of(t);
    /* What the block holds while it waits: its slot, its record and its quarantine entry, so
     * ZALLOC_QUARANTINE bounds the memory the quarantine really costs. */
    size_t held = wh->slab->slot_size + sizeof(rec_t) + sizeof(uintptr_t);
    if (h && za_quarantine_put(t, &h->qbatch, p, held)) return ZA_BLOCK_LIVE;
    atomic_store_explicit(&r->word, (dead & ~3u) | ST_FREE, memory_order_release);
  }
  slot_release(t, wh);
  return ZA_BLOCK_LIVE;
}

static za_block_state_t large_free(za_thread_t *t, void *p, za_block_info_t *info, za_op_t op) {
  za_block_info_t before;
  if (large_classify(p, &before) == ZA_BLOCK_LIVE) check_large_guard(p, &before, op);
  za_stack_id_t fs = capture(0);
  return large_view(za_large_free(p, info, fs, t->tid), info);
}

static za_block_state_t gpa_free(za_thread_t *t, void *p, za_block_info_t *info) {
  if (!za_segmap_owns(p)) return large_free(t, p, info, ZA_OP_FREE);
  where_t wh;
  uint32_t w;
  za_block_state_t st = classify((uintptr_t)p, &wh, info, &w);
  if (st != ZA_BLOCK_LIVE) return st;
  return free_slot(t, (uintptr_t)p, &wh, w, info, ZA_OP_FREE);
}

/* In place when the new size still fits the slot (guards included); else the caller moves it. */
static za_block_state_t gpa_resize(za_thread_t *t, void *p, size_t new_size, za_block_info_t *info,
                                   void **resized) {
  *resized = NULL;
  (void)t;
  if (!za_segmap_owns(p)) {
    za_block_state_t st = large_classify(p, info);
    if (st != ZA_BLOCK_LIVE) return st;
    check_large_guard(p, info, ZA_OP_REALLOC);
    size_t room = za_opt.guard ? new_size + GUARD_MIN : new_size;
    if (room < new_size) return st;
    /* In its mapping, grown geometrically (a buffer realloc'ed a page at a time is not
     * copied a page at a time); the guard follows the new end. */
    st = large_view(za_large_resize(p, room, info, resized), info);
    if (st == ZA_BLOCK_LIVE) {
      if (*resized && za_opt.guard) {
        unsigned char *q = *resized;
        memset(q + new_size, ZA_GUARD_BYTE, za_align_up(room, ZA_PAGE_SIZE) - new_size);
      }
    }
    return st;
  }
  where_t wh;
  uint32_t w;
  za_block_state_t st = classify((uintptr_t)p, &wh, info, &w);
  if (st != ZA_BLOCK_LIVE) return st;
  if (za_opt.guard) check_guards(wh.slab, wh.slot, (uintptr_t)p, info, ZA_OP_REALLOC);
  uintptr_t slot_end = wh.slot + wh.slab->slot_size;
  size_t room = slot_end - (uintptr_t)p - (za_opt.guard ? GUARD_MIN : 0);
  /* Shrinking a lot moves the block too, so a big slot is not held by a small block. */
  if (new_size <= room && new_size >= room / 4) {
    wh.rec->size_lead = size_lead(new_size, (uintptr_t)p - wh.slot);
    if (za_opt.guard)
      memset((char *)p + new_size, ZA_GUARD_BYTE, slot_end - ((uintptr_t)p + new_size));
    *resized = p;
  }
  return st;
}

/* ---- whole-heap walks (exit) ------------------------------------------------------------------ */

/* Every slab serving a class, in every segment. Called at exit, with other threads possibly
 * still running: records are read as they are. The list, not the segment table: scanning the
 * table's 4 MiB of segment map cost every process about 1,000 page faults at exit. */
static void for_each_slab(void (*fn)(void *ctx, slab_t *s), void *ctx) {
  za_lock(&seg_lock);
  for (segment_t *seg = segments; seg; seg = seg->next)
    for (size_t k = 0; k < SLABS; k++)
      if (seg->slabs[k].cls >= 0) fn(ctx, &seg->slabs[k]);
  za_unlock(&seg_lock);
}

typedef struct live_ctx {
  void (*fn)(void *ctx, const za_live_block_t *b);
  void *ctx;
} live_ctx_t;

static void live_in_slab(void *arg, slab_t *s) {
  live_ctx_t *lc = arg;
  uint32_t epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed) & 0xffffu;
  for (uint32_t i = 0; i < s->fresh; i++) {
    rec_t *r = &s->recs[i];
    uint32_t w = atomic_load_explicit(&r->word, memory_order_acquire);
    if (W_STATE(w) != ST_LIVE) continue;
    za_live_block_t b = {.addr = s->base + (uintptr_t)i * s->slot_size + REC_LEAD(r), .size = REC_SIZE(r),
                         .alloc_stack = r->alloc_stack, .tid = r->alloc_tid,
                         .internal = (w & W_INTERNAL) != 0, .inherited = W_EPOCH(w) != epoch};
    lc->fn(lc->ctx, &b);
  }
}

static void live_large(void *arg, void *p, const za_block_info_t *info, bool internal) {
  live_ctx_t *lc = arg;
  za_live_block_t b = {.addr = (uintptr_t)p, .size = za_opt.guard ? info->size - GUARD_MIN : info->size,
                       .alloc_stack = info->alloc_stack, .tid = info->alloc_tid, .internal = internal,
                       .inherited = info->epoch != atomic_load_explicit(&za_epoch, memory_order_relaxed)};
  lc->fn(lc->ctx, &b);
}

static void gpa_for_each_live(void (*fn)(void *ctx, const za_live_block_t *b), void *ctx) {
  live_ctx_t lc = {fn, ctx};
  for_each_slab(live_in_slab, &lc);
  za_large_for_each(live_large, &lc);
}

/* In a forked child, blocks from before the fork are left to the parent: a thread that did not
 * survive the fork may have been half-way through allocating or freeing one (guards not yet
 * written, fill pattern half done), which would read as an overflow or a write after free. */
static void check_slab(void *arg, slab_t *s) {
  (void)arg;
  uint32_t epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed) & 0xffffu;
  for (uint32_t i = 0; i < s->fresh; i++) {
    rec_t *r = &s->recs[i];
    uint32_t w = atomic_load_explicit(&r->word, memory_order_acquire);
    if (W_EPOCH(w) != epoch) continue;
    uintptr_t slot = s->base + (uintptr_t)i * s->slot_size, p = slot + REC_LEAD(r);
    za_block_info_t info;
    fill_info(r, w, &info);
    if (W_STATE(w) == ST_LIVE && za_opt.guard && !(w & W_INTERNAL)) {
      check_guards(s, slot, p, &info, ZA_OP_EXIT);
    } else if (W_STATE(w) == ST_QUARANTINED) {
      check_freed(p, &info, ZA_OP_EXIT);
    }
  }
}

/* Findings may be recorded from here: the findings lock is not taken while walking. */
static void check_large(void *arg, void *p, const za_block_info_t *info, bool internal) {
  (void)arg;
  if (internal || !za_opt.guard || info->epoch != atomic_load_explicit(&za_epoch, memory_order_relaxed))
    return;
  za_block_info_t i2 = *info;
  i2.size = i2.usable = info->size - GUARD_MIN;
  check_large_guard(p, &i2, ZA_OP_EXIT);
}

static void gpa_check_all(void) {
  for_each_slab(check_slab, NULL);
  za_large_for_each(check_large, NULL);
}

/* ---- locating an address (crash reports) ---------------------------------------------------- */

/* The block in slot `idx` of `s` (*start, info), if the slot ever held one. */
static za_block_state_t slot_block(const slab_t *s, uint32_t idx, uintptr_t *start, za_block_info_t *info) {
  const rec_t *r = &s->recs[idx];
  uint32_t w = atomic_load_explicit(&r->word, memory_order_acquire);
  if (W_STATE(w) == ST_NEVER) return ZA_BLOCK_FOREIGN;
  *start = s->base + (uintptr_t)idx * s->slot_size + REC_LEAD(r);
  fill_info(r, w, info);
  return W_STATE(w) == ST_LIVE ? ZA_BLOCK_LIVE : ZA_BLOCK_FREED;
}

/* Lock-free: records and slab descriptors are only read. An address in a slot's leading guard
 * is nearer either that slot's block (an underflow) or the previous slot's (an overflow run
 * through its trailing guard): the nearer of the two. */
static za_block_state_t gpa_locate(uintptr_t addr, uintptr_t *start, za_block_info_t *info) {
  if (!za_segmap_owns((void *)addr)) return large_view(za_large_locate(addr, start, info), info);
  slab_t *s = slab_of(addr, NULL);
  if (!s || s->cls < 0) return ZA_BLOCK_FOREIGN;
  uint32_t idx = slot_index(s, addr);
  if (idx >= s->capacity) return ZA_BLOCK_FOREIGN;
  uintptr_t here;
  za_block_info_t here_info;
  za_block_state_t st = slot_block(s, idx, &here, &here_info);
  if (idx > 0 && (st == ZA_BLOCK_FOREIGN || addr < here)) {
    uintptr_t prev;
    za_block_info_t prev_info;
    za_block_state_t pst = slot_block(s, idx - 1, &prev, &prev_info);
    if (pst != ZA_BLOCK_FOREIGN &&
        (st == ZA_BLOCK_FOREIGN || addr - (prev + prev_info.size) < here - addr)) {
      *start = prev;
      *info = prev_info;
      return pst;
    }
  }
  if (st != ZA_BLOCK_FOREIGN) {
    *start = here;
    *info = here_info;
  }
  return st;
}

/* ---- the rest of the contract --------------------------------------------------------------- */

static void gpa_init(void) {
  init_cache_limits();
  seg_table = za_os_reserve(SEG_TABLE_SIZE * sizeof(segment_t *));
}

static bool gpa_trim(void) { return za_large_trim(); }

static size_t gpa_mapped_bytes(void) {
  return za_relaxed_load(&segments_mapped) * ZA_SEGMENT_SIZE + za_large_mapped_bytes();
}

static void gpa_fork_prepare(void) {
  za_quarantine_fork_prepare();
  za_lock(&heap_lock);
  for (unsigned c = 0; c < NCLASS; c++) za_lock(&central[c].lock);
  za_lock(&seg_lock);
}

static void gpa_fork_parent(void) {
  za_unlock(&seg_lock);
  for (unsigned c = NCLASS; c-- > 0;) za_unlock(&central[c].lock);
  za_unlock(&heap_lock);
  za_quarantine_fork_parent();
}

static void gpa_fork_child(void) {
  za_lock_reset(&seg_lock);
  for (unsigned c = 0; c < NCLASS; c++) za_lock_reset(&central[c].lock);
  za_lock_reset(&heap_lock);
  za_quarantine_fork_child();
}

const za_backend_t za_gpa_backend = {
  .name = "gpa",
  .checks = true,
  .init = gpa_init,
  .thread_init = gpa_thread_init,
  .thread_exit = gpa_thread_exit,
  .alloc = gpa_alloc,
  .lookup = gpa_lookup,
  .free = gpa_free,
  .resize = gpa_resize,
  .trim = gpa_trim,
  .mapped_bytes = gpa_mapped_bytes,
  .fork_prepare = gpa_fork_prepare,
  .fork_parent = gpa_fork_parent,
  .fork_child = gpa_fork_child,
  .for_each_live = gpa_for_each_live,
  .check_all = gpa_check_all,
  .locate = gpa_locate,
};
