/* zalloc - the GPA backend: the checked general-purpose allocator, ZALLOC_MODE=gpa (default).
 *
 * Memory: the heap core (heap.h) hands out slots - blocks of a size class, from per-thread
 * pages - and the GPA lays its checks around them. Requests whose slot would exceed the
 * largest class, and alignments above a page, get their own mappings (large.c).
 *
 * Metadata is out of band: every slot has a record in its page's extension (segment.h), a
 * separate mapping found through the segment table, so an overflow in the program can
 * overwrite guard bytes but never the allocator's records. A record holds the block's state,
 * kind (malloc/new/new[]), requested size, allocation and free stack ids and threads, and the
 * offset of the block in its slot. Records are reset when the core carves their slots.
 *
 * Slot layout with ZALLOC_GUARD=1: [guard >= 16 B][block][guard >= 16 B up to the slot end].
 * The guards are filled with ZA_GUARD_BYTE and checked at free, realloc and exit. A free
 * slot's first 16 bytes hold the core's list link (inside the leading guard, which the next
 * allocation fills again).
 *
 * Free: the record's state moves LIVE -> QUARANTINED by compare-and-swap (two racing frees
 * of one block: exactly one wins, the other is a double free), the block is filled with
 * ZA_FREED_BYTE and waits in the quarantine (quarantine.c); when it leaves, the pattern is
 * checked and the slot goes back to the core (its record keeps the stacks, so a late double
 * free is still explained). With no quarantine the slot goes back at once.
 *
 * The core checks its links stay inside their page; the GPA also checks that every slot the
 * core hands out is free by its record, so a write after free that forged a link is reported
 * (and the page's list dropped) instead of a live block being handed out twice.
 *
 * With guards, quarantine, stacks and sampling off, malloc, calloc and free of a slot take
 * inline paths (gpa.h) that do what za_gpa_alloc and za_gpa_free do in that case, and leave
 * anything else (a free that is not of a live block, a realloc, a large block) to them. */
#include "gpa.h"
#include "findings.h"
#include "large.h"
#include "options.h"
#include "page.h"
#include "prim.h"
#include "quarantine.h"
#include "heap.h"
#include "stats.h"

#include <string.h>

/* ---- records -------------------------------------------------------------------------------- */

#define GUARD_MIN 16u

/* The core carved `n` fresh slots from `first`: their records may be from an earlier use of
 * the page. */
static void reset_records(za_page_t *pg, uintptr_t first, uint32_t n) {
  za_rec_t *r = za_rec_of(pg, za_page_slot(pg, first));
  memset(r, 0, (size_t)n * sizeof(za_rec_t));
  if (za_opt.stack_depth) memset(za_rec_stacks_of(pg, r), 0, (size_t)n * sizeof(za_rec_stacks_t));
}

/* The stacks of the slot whose record is `r`: none when none are captured. Their array is then
 * neither written nor read (nor reset, above: it may hold records of the page's earlier use),
 * so its memory is never touched. */
static za_rec_stacks_t rec_stacks(const za_page_t *pg, const za_rec_t *r) {
  return za_opt.stack_depth ? *za_rec_stacks_of(pg, r) : (za_rec_stacks_t){0, 0};
}

/* A free slot's link was overwritten: the program wrote to a block after freeing it. */
static void link_broken(const void *where);

/* ---- per-thread state ------------------------------------------------------------------------ */

/* sample_left: allocations until the next one goes on guarded pages (ZALLOC_SAMPLE; never,
 * in practice, when it is off); rng: this thread's draws of that interval. */
typedef struct gpa_thread {
  za_qbatch_t *qbatch;
  uint64_t sample_left, rng;
} gpa_thread_t;
_Static_assert(sizeof(gpa_thread_t) <= ZA_BACKEND_STATE_SIZE, "fits in za_thread_t");

static inline gpa_thread_t *gpa_of(za_thread_t *t) { return (gpa_thread_t *)t->backend; }

/* ZALLOC_SAMPLE=N: the next interval, uniform in [1, 2N - 1] (N on average). */
static uint64_t sample_interval(gpa_thread_t *g) {
  if (!za_opt.sample) return UINT64_MAX;
  g->rng ^= g->rng << 13, g->rng ^= g->rng >> 7, g->rng ^= g->rng << 17;   /* xorshift64 */
  return 1 + g->rng % (2 * (uint64_t)za_opt.sample - 1);
}

static void gpa_thread_init(za_thread_t *t) {
  gpa_thread_t *g = gpa_of(t);
  g->qbatch = NULL;
  g->rng = (za_os_random_seed() ^ (uint64_t)(uintptr_t)t) | 1;
  g->sample_left = sample_interval(g);
}

static void gpa_thread_exit(za_thread_t *t) { za_quarantine_flush(t, &gpa_of(t)->qbatch); }

/* ---- allocation ---------------------------------------------------------------------------- */

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

/* A slot of class `c` whose record says it is free. Anything else means the program forged a
 * free slot's link (a write after free): reported, and the page's list dropped - the slot
 * handed out is left alone (it belongs to a live or quarantined block). */
static uintptr_t take_slot(za_thread_t *t, unsigned c, za_page_t **pgp, za_rec_t **rp) {
  for (;;) {
    za_page_t *pg = t->heap.direct[c];
    uintptr_t slot = (uintptr_t)za_heap_pop(pg);
    if (za_unlikely(!slot)) {
      slot = (uintptr_t)za_heap_alloc_slow(&t->heap, c);
      if (za_unlikely(!slot)) return 0;
      pg = za_segment_page(za_segment_find((void *)slot), (void *)slot);
    }
    za_rec_t *r = za_gpa_popped(pg, slot);
    if (za_likely(r != NULL)) {
      *pgp = pg;
      *rp = r;
      return slot;
    }
  }
}

/* This allocation is the sample: on guarded pages if they can take it. */
static ZA_NOINLINE void *sampled(za_thread_t *t, size_t size, size_t align, unsigned flags) {
  gpa_thread_t *g = gpa_of(t);
  g->sample_left = sample_interval(g);
  return za_page_alloc(t, size, align, flags);
}

void *za_gpa_alloc(za_thread_t *t, size_t size, size_t align, unsigned flags) {
  if (za_unlikely(--gpa_of(t)->sample_left == 0)) {
    void *p = sampled(t, size, align, flags);
    if (p) return p;
  }
  size_t lead = za_opt.guard ? GUARD_MIN : 0;
  size_t need = size + (za_opt.guard ? 2 * GUARD_MIN : 0);
  if (align > ZA_MIN_ALIGN) need += align - ZA_MIN_ALIGN;
  if (za_unlikely(need > ZA_GPA_SLOT_MAX || align > ZA_PAGE_SIZE || need < size))
    return large_alloc(t, size, align, flags);
  za_page_t *pg;
  za_rec_t *r;
  uintptr_t slot = take_slot(t, za_class_of(need ? need : 1), &pg, &r);
  if (za_unlikely(!slot)) return NULL;
  uintptr_t p = za_align_up_ptr(slot + lead, align);
  r->size_lead = za_rec_size_lead(size, p - slot);
  r->alloc_tid = t->tid;
  r->free_tid = 0;
  if (za_opt.stack_depth) { /* else never read (rec_stacks), and their memory untouched */
    za_rec_stacks_t *s = za_rec_stacks_of(pg, r);
    s->alloc = capture(flags);
    s->free = 0;
  }
  if (za_opt.guard) {
    memset((void *)slot, ZA_GUARD_BYTE, p - slot);
    memset((void *)(p + size), ZA_GUARD_BYTE, slot + pg->block_size - (p + size));
  }
  if (flags & ZA_ALLOC_ZERO) memset((void *)p, 0, size);
  atomic_store_explicit(&r->word, za_rec_word(ZA_REC_LIVE, flags), memory_order_release);
  return (void *)p;
}

/* ---- classification ------------------------------------------------------------------------ */

typedef struct where {
  za_page_t *page;
  za_rec_t *rec;
  uintptr_t slot;
} where_t;

static void fill_info(const za_page_t *pg, const za_rec_t *r, uint32_t w, za_block_info_t *info) {
  za_rec_stacks_t s = rec_stacks(pg, r);
  *info = (za_block_info_t){.size = ZA_REC_SIZE(r), .usable = ZA_REC_SIZE(r), .epoch = ZA_REC_EPOCH(w),
                            .kind = (uint8_t)ZA_REC_KIND(w),
                            .internal = (w & ZA_REC_INTERNAL) != 0,
                            .alloc_stack = s.alloc, .free_stack = s.free,
                            .alloc_tid = r->alloc_tid, .free_tid = r->free_tid};
}

/* What `p` is, for a pointer inside segment `seg`; `wh` filled when it is a slot's block. */
static za_block_state_t classify(za_segment_t *seg, uintptr_t p, where_t *wh, za_block_info_t *info,
                                 uint32_t *wordp) {
  za_page_t *pg = za_segment_page(seg, (void *)p);
  if (pg->cls == ZA_NO_CLASS) return ZA_BLOCK_INTERIOR;
  uint32_t idx = za_page_slot(pg, p);
  uintptr_t slot = za_page_slot_addr(pg, idx);
  if (slot >= pg->bump) return ZA_BLOCK_INTERIOR;   /* never carved: nothing was there */
  za_rec_t *r = za_rec_of(pg, idx);
  uint32_t w = atomic_load_explicit(&r->word, memory_order_acquire);
  if (ZA_REC_STATE(w) == ZA_REC_NEVER || p != slot + ZA_REC_LEAD(r)) return ZA_BLOCK_INTERIOR;
  wh->page = pg;
  wh->rec = r;
  wh->slot = slot;
  *wordp = w;
  fill_info(pg, r, w, info);
  return ZA_REC_STATE(w) == ZA_REC_LIVE ? ZA_BLOCK_LIVE : ZA_BLOCK_FREED;
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
  za_segment_t *seg = za_segment_find(p);
  if (!seg) return za_page_owns(p) ? za_page_lookup(p, info) : large_classify(p, info);
  return classify(seg, (uintptr_t)p, &wh, info, &w);
}

/* ---- checks ---------------------------------------------------------------------------- */

/* First byte in [p, p + n) that is not `byte`, or NULL. Freed blocks are checked whole when
 * they leave the quarantine: 64 bytes a step, the differences of eight words or'ed together,
 * so the loop is a run of loads and one branch (it was a third of the quarantine's cost). */
static const unsigned char *pattern_mismatch(const unsigned char *p, size_t n, unsigned char byte) {
  const uint64_t word = 0x0101010101010101ull * byte;
  size_t i = 0;
  while (i < n && ((uintptr_t)(p + i) & 7)) {
    if (p[i] != byte) return p + i;
    i++;
  }
  for (; i + 64 <= n; i += 64) {
    typedef uint64_t __attribute__((may_alias)) word_t;
    const word_t *w = (const word_t *)(const void *)(p + i);
    uint64_t diff = (w[0] ^ word) | (w[1] ^ word) | (w[2] ^ word) | (w[3] ^ word) |
                    (w[4] ^ word) | (w[5] ^ word) | (w[6] ^ word) | (w[7] ^ word);
    if (diff) break;
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
static void check_guards(const za_page_t *pg, uintptr_t slot, uintptr_t p, const za_block_info_t *info,
                         za_op_t when) {
  const unsigned char *bad = pattern_mismatch((const unsigned char *)slot, p - slot, ZA_GUARD_BYTE);
  if (bad) {
    /* The byte nearest the block tells how far before it the write went. */
    const unsigned char *last = bad;
    for (const unsigned char *q = bad; q < (const unsigned char *)p; q++)
      if (*q != ZA_GUARD_BYTE) last = q;
    za_finding_corrupt(ZA_CORRUPT_UNDERFLOW, (void *)p, info, (ptrdiff_t)((uintptr_t)last - p), when);
  }
  uintptr_t end = p + info->size, slot_end = slot + pg->block_size;
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

/* The slot of a block that is now dead (freed, out of the quarantine) goes back to the core. */
static void slot_release(za_thread_t *t, const where_t *wh) {
  uint32_t w = atomic_load_explicit(&wh->rec->word, memory_order_relaxed);
  if (ZA_REC_STATE(w) != ZA_REC_FREE)
    atomic_store_explicit(&wh->rec->word, (w & ~3u) | ZA_REC_FREE, memory_order_release);
  za_heap_free(&t->heap, wh->page, (za_block_t *)wh->slot);
}

void za_gpa_release(za_thread_t *t, uintptr_t p) {
  where_t wh;
  za_block_info_t info;
  uint32_t w;
  za_segment_t *seg = za_segment_find((void *)p);
  if (!seg || classify(seg, p, &wh, &info, &w) != ZA_BLOCK_FREED) return; /* cannot happen */
  check_freed(p, &info, ZA_OP_REUSE);
  slot_release(t, &wh);
}

/* Free the live block `p` at `wh` whose record word is `w`: exactly one caller wins. */
static za_block_state_t free_slot(za_thread_t *t, uintptr_t p, const where_t *wh, uint32_t w,
                                  za_block_info_t *info, za_op_t op) {
  za_rec_t *r = wh->rec;
  uint32_t dead = (w & ~3u) | (za_opt.quarantine ? ZA_REC_QUARANTINED : ZA_REC_FREE);
  if (!atomic_compare_exchange_strong_explicit(&r->word, &w, dead, memory_order_acq_rel, memory_order_acquire)) {
    fill_info(wh->page, r, w, info);
    return ZA_REC_STATE(w) == ZA_REC_LIVE ? ZA_BLOCK_INTERIOR : ZA_BLOCK_FREED; /* reused meanwhile */
  }
  if (za_opt.guard) check_guards(wh->page, wh->slot, p, info, op);
  if (za_opt.stack_depth) za_rec_stacks_of(wh->page, r)->free = (w & ZA_REC_INTERNAL) ? 0 : capture(0);
  r->free_tid = t->tid;
  if (za_opt.quarantine) {
    memset((void *)p, ZA_FREED_BYTE, info->size);
    /* What the block holds while it waits: its slot, its record and its quarantine entry, so
     * ZALLOC_QUARANTINE bounds the memory the quarantine really costs. */
    size_t held = wh->page->block_size + sizeof(za_rec_t) + sizeof(za_rec_stacks_t) + sizeof(uintptr_t);
    if (za_quarantine_put(t, &gpa_of(t)->qbatch, p, held)) return ZA_BLOCK_LIVE;
    atomic_store_explicit(&r->word, (dead & ~3u) | ZA_REC_FREE, memory_order_release);
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

za_block_state_t za_gpa_free(za_thread_t *t, void *p, za_block_info_t *info) {
  za_segment_t *seg = za_segment_find(p);
  if (!seg) return za_page_owns(p) ? za_page_free(t, p, info) : large_free(t, p, info, ZA_OP_FREE);
  where_t wh;
  uint32_t w;
  za_block_state_t st = classify(seg, (uintptr_t)p, &wh, info, &w);
  if (st != ZA_BLOCK_LIVE) return st;
  return free_slot(t, (uintptr_t)p, &wh, w, info, ZA_OP_FREE);
}

/* In place when the new size still fits the slot (guards included); else the caller moves it. */
static za_block_state_t gpa_resize(za_thread_t *t, void *p, size_t new_size, za_block_info_t *info,
                                   void **resized) {
  *resized = NULL;
  (void)t;
  za_segment_t *seg = za_segment_find(p);
  if (!seg && za_page_owns(p)) return za_page_resize(p, new_size, info, resized);
  if (!seg) {
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
  za_block_state_t st = classify(seg, (uintptr_t)p, &wh, info, &w);
  if (st != ZA_BLOCK_LIVE) return st;
  if (za_opt.guard) check_guards(wh.page, wh.slot, (uintptr_t)p, info, ZA_OP_REALLOC);
  uintptr_t slot_end = wh.slot + wh.page->block_size;
  size_t room = slot_end - (uintptr_t)p - (za_opt.guard ? GUARD_MIN : 0);
  /* Shrinking a lot moves the block too, so a big slot is not held by a small block. */
  if (new_size <= room && new_size >= room / 4) {
    wh.rec->size_lead = za_rec_size_lead(new_size, (uintptr_t)p - wh.slot);
    if (za_opt.guard)
      memset((char *)p + new_size, ZA_GUARD_BYTE, slot_end - ((uintptr_t)p + new_size));
    *resized = p;
  }
  return st;
}

/* ---- whole-heap walks (exit) ------------------------------------------------------------------ */

typedef struct live_ctx {
  void (*fn)(void *ctx, const za_live_block_t *b);
  void *ctx;
} live_ctx_t;

/* Slots carved so far in page `pg` (the others never held a block). */
static uint32_t carved(const za_page_t *pg) {
  return (uint32_t)((pg->bump - pg->start) / pg->block_size);
}

static void live_in_page(void *arg, za_page_t *pg) {
  live_ctx_t *lc = arg;
  uint32_t epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed) & 0xffffu;
  for (uint32_t i = 0, n = carved(pg); i < n; i++) {
    za_rec_t *r = za_rec_of(pg, i);
    uint32_t w = atomic_load_explicit(&r->word, memory_order_acquire);
    if (ZA_REC_STATE(w) != ZA_REC_LIVE) continue;
    za_live_block_t b = {.addr = za_page_slot_addr(pg, i) + ZA_REC_LEAD(r), .size = ZA_REC_SIZE(r),
                         .alloc_stack = rec_stacks(pg, r).alloc, .tid = r->alloc_tid,
                         .internal = (w & ZA_REC_INTERNAL) != 0, .inherited = ZA_REC_EPOCH(w) != epoch};
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
  za_segment_for_each_page(live_in_page, &lc);
  za_large_for_each(live_large, &lc);
  za_page_for_each_live(fn, ctx);
}

/* In a forked child, blocks from before the fork are left to the parent: a thread that did not
 * survive the fork may have been half-way through allocating or freeing one (guards not yet
 * written, fill pattern half done), which would read as an overflow or a write after free. */
static void check_page(void *arg, za_page_t *pg) {
  (void)arg;
  uint32_t epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed) & 0xffffu;
  for (uint32_t i = 0, n = carved(pg); i < n; i++) {
    za_rec_t *r = za_rec_of(pg, i);
    uint32_t w = atomic_load_explicit(&r->word, memory_order_acquire);
    if (ZA_REC_EPOCH(w) != epoch) continue;
    uintptr_t slot = za_page_slot_addr(pg, i), p = slot + ZA_REC_LEAD(r);
    za_block_info_t info;
    fill_info(pg, r, w, &info);
    if (ZA_REC_STATE(w) == ZA_REC_LIVE && za_opt.guard && !(w & ZA_REC_INTERNAL)) {
      check_guards(pg, slot, p, &info, ZA_OP_EXIT);
    } else if (ZA_REC_STATE(w) == ZA_REC_QUARANTINED) {
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
  za_segment_for_each_page(check_page, NULL);
  za_large_for_each(check_large, NULL);
  za_page_check_all();
}

/* ---- locating an address (crash reports) ---------------------------------------------------- */

/* The block in slot `idx` of `pg` (*start, info), if the slot ever held one. */
static za_block_state_t slot_block(const za_page_t *pg, uint32_t idx, uintptr_t *start,
                                   za_block_info_t *info) {
  if (za_page_slot_addr(pg, idx) >= pg->bump) return ZA_BLOCK_FOREIGN;
  const za_rec_t *r = za_rec_of(pg, idx);
  uint32_t w = atomic_load_explicit(&r->word, memory_order_acquire);
  if (ZA_REC_STATE(w) == ZA_REC_NEVER) return ZA_BLOCK_FOREIGN;
  *start = za_page_slot_addr(pg, idx) + ZA_REC_LEAD(r);
  fill_info(pg, r, w, info);
  return ZA_REC_STATE(w) == ZA_REC_LIVE ? ZA_BLOCK_LIVE : ZA_BLOCK_FREED;
}

/* Lock-free: records and page descriptors are only read. An address in a slot's leading guard
 * is nearer either that slot's block (an underflow) or the previous slot's (an overflow run
 * through its trailing guard): the nearer of the two. */
static za_block_state_t gpa_locate(uintptr_t addr, uintptr_t *start, za_block_info_t *info) {
  za_segment_t *seg = za_segment_find((void *)addr);
  if (!seg && za_page_owns((void *)addr)) return za_page_locate(addr, start, info);
  if (!seg) return large_view(za_large_locate(addr, start, info), info);
  const za_page_t *pg = za_segment_page(seg, (void *)addr);
  if (pg->cls == ZA_NO_CLASS) return ZA_BLOCK_FOREIGN;
  uint32_t idx = za_page_slot(pg, addr);
  if (idx >= pg->capacity) return ZA_BLOCK_FOREIGN;
  uintptr_t here;
  za_block_info_t here_info;
  za_block_state_t st = slot_block(pg, idx, &here, &here_info);
  if (idx > 0 && (st == ZA_BLOCK_FOREIGN || addr < here)) {
    uintptr_t prev;
    za_block_info_t prev_info;
    za_block_state_t pst = slot_block(pg, idx - 1, &prev, &prev_info);
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

static void link_broken(const void *where) {
  za_block_info_t none = {0};
  za_finding_corrupt(ZA_CORRUPT_WRITE_AFTER_FREE, where, &none, 0, ZA_OP_REUSE);
}

bool za_gpa_fast;

void za_gpa_slot_refused(za_page_t *pg, uintptr_t slot) {
  link_broken((void *)slot);
  pg->free = NULL;
  pg->used--;       /* not handed out after all */
}

static void gpa_init(void) {
  za_heap_carve_hook = reset_records;
  za_heap_corrupt_hook = link_broken;
  if (za_opt.sample) za_page_init();
  /* Not in page mode, which calls this too: its blocks are on guarded pages. */
  za_gpa_fast = za_backend == &za_gpa_backend && !za_opt.guard && !za_opt.quarantine &&
                !za_opt.stack_depth && !za_opt.sample;
}

static size_t gpa_counted_size(const void *p, size_t requested) {
  (void)p;
  return requested;
}

static bool gpa_trim(void) {
  za_heap_trim_abandoned();
  bool pages = za_segment_trim();
  return za_large_trim() || pages;
}

static size_t gpa_mapped_bytes(void) {
  return za_segment_mapped_bytes() + za_large_mapped_bytes() + za_page_mapped_bytes();
}

static void gpa_fork_prepare(void) { za_quarantine_fork_prepare(); }
static void gpa_fork_parent(void) { za_quarantine_fork_parent(); }
/* A forked child takes the general paths, which tell its blocks from its parent's. */
static void gpa_fork_child(void) {
  za_gpa_fast = false;
  za_quarantine_fork_child();
}

const za_backend_t za_gpa_backend = {
  .name = "gpa",
  .checks = true,
  .ext_bits = ZA_REC_BITS,
  .init = gpa_init,
  .thread_init = gpa_thread_init,
  .thread_exit = gpa_thread_exit,
  .alloc = za_gpa_alloc,
  .lookup = gpa_lookup,
  .free = za_gpa_free,
  .resize = gpa_resize,
  .counted_size = gpa_counted_size,
  .trim = gpa_trim,
  .mapped_bytes = gpa_mapped_bytes,
  .fork_prepare = gpa_fork_prepare,
  .fork_parent = gpa_fork_parent,
  .fork_child = gpa_fork_child,
  .for_each_live = gpa_for_each_live,
  .check_all = gpa_check_all,
  .locate = gpa_locate,
};
