/* zalloc - guarded pages (see page.h), and the page backend (ZALLOC_MODE=page) at the end. */
#include "page.h"
#include "findings.h"
#include "gpa.h"
#include "lock.h"
#include "options.h"
#include "prim.h"
#include "report.h"
#include "report_model.h"
#include "stats.h"

#include <string.h>

#define CHUNK_SHIFT 28
#define CHUNK_SIZE ((size_t)1 << CHUNK_SHIFT)
#define CHUNK_PAGES ((uint32_t)(CHUNK_SIZE / ZA_PAGE_SIZE))
#define REGION_MAX ((size_t)1 << 40)      /* address space asked for; halved until it is had */
#define REGION_MIN ((size_t)1 << 30)

/* ---- records --------------------------------------------------------------------------------- */

enum { ST_NEVER, ST_LIVE, ST_QUARANTINED, ST_FREE };

/* One per slot. `word`: state (bits 0-1), kind (2-3), internal (4), placed at the start of its
 * data pages (5), the fork epoch the block was allocated in (16-31); CAS'd at free. */
typedef struct rec {
  _Atomic uint32_t word;
  uint32_t next;                  /* quarantine or free list: the next slot's id; 0 none */
  size_t size;                    /* requested */
  uint32_t lead;                  /* the block's offset in its slot */
  uint32_t first_page, npages;    /* the pages made accessible, in the slot */
  za_stack_id_t alloc_stack, free_stack;
  int32_t alloc_tid, free_tid;
} rec_t;

#define W_STATE(w) ((w) & 3u)
#define W_KIND(w) (((w) >> 2) & 3u)
#define W_INTERNAL 16u
#define W_AT_START 32u
#define W_EPOCH(w) ((w) >> 16)

typedef struct chunk {
  uint32_t cls;
  uint32_t slot_pages;            /* data pages and the guard page */
  uint32_t nslots;
  _Atomic uint32_t bump;          /* slots used so far */
  rec_t *recs;
} chunk_t;

uintptr_t za_page_base;
size_t za_page_span;
static chunk_t *chunks;
static _Atomic uint32_t nchunks;
static uint32_t max_chunks;

/* Classes: data pages 1-8, then four steps per doubling up to a chunk's worth. */
#define NCLASS_MAX 64
static uint32_t class_pages[NCLASS_MAX];
static unsigned nclasses;
static struct { uint32_t chunk; uint32_t free; } classes[NCLASS_MAX]; /* chunk: index + 1 */

static za_lock_t lock = ZA_LOCK_INIT;
static uint32_t q_head, q_tail;   /* the quarantine, oldest first (slot ids) */
static size_t q_bytes;

/* Figures for the report and the map limit. */
static _Atomic size_t live, live_pages;
static size_t most_live;
static uint64_t max_map_count;
static _Atomic uint64_t guarded, fallback, map_limited;
static atomic_flag limit_said = ATOMIC_FLAG_INIT;

/* Slot ids: chunk << 16 | slot, plus one (0 is "none"). */
static inline uint32_t slot_id(uint32_t c, uint32_t s) { return (c << 16 | s) + 1; }
static inline chunk_t *id_chunk(uint32_t id) { return &chunks[(id - 1) >> 16]; }
static inline uint32_t id_slot(uint32_t id) { return (id - 1) & 0xffff; }
static inline rec_t *id_rec(uint32_t id) { return &id_chunk(id)->recs[id_slot(id)]; }
static inline size_t slot_bytes(const chunk_t *ch) { return (size_t)ch->slot_pages * ZA_PAGE_SIZE; }
static inline uintptr_t slot_addr(const chunk_t *ch, uint32_t s) {
  return za_page_base + (size_t)(ch - chunks) * CHUNK_SIZE + (size_t)s * slot_bytes(ch);
}
/* The data pages of a slot of `ch`, [lo, hi): the guard page is after them (end) or before. */
static inline uintptr_t data_lo(uintptr_t slot) {
  return za_opt.page_align == ZA_PAGE_ALIGN_START ? slot + ZA_PAGE_SIZE : slot;
}
static inline uintptr_t data_hi(const chunk_t *ch, uintptr_t slot) {
  return data_lo(slot) + (size_t)(ch->slot_pages - 1) * ZA_PAGE_SIZE;
}

static void fill_info(const rec_t *r, uint32_t w, za_block_info_t *info) {
  *info = (za_block_info_t){.size = r->size, .usable = r->size, .epoch = W_EPOCH(w),
                            .kind = (uint8_t)W_KIND(w), .internal = (w & W_INTERNAL) != 0,
                            .alloc_stack = r->alloc_stack, .free_stack = r->free_stack,
                            .alloc_tid = r->alloc_tid, .free_tid = r->free_tid};
}

/* The slot `a` lies in, if one was ever used: its chunk, index and address. */
static bool slot_at(uintptr_t a, chunk_t **chp, uint32_t *sp, uintptr_t *slotp) {
  size_t off = a - za_page_base;
  if (off >= za_page_span) return false;
  uint32_t c = (uint32_t)(off >> CHUNK_SHIFT);
  if (c >= atomic_load_explicit(&nchunks, memory_order_acquire)) return false;
  chunk_t *ch = &chunks[c];
  uint32_t s = (uint32_t)((off & (CHUNK_SIZE - 1)) / slot_bytes(ch));
  if (s >= atomic_load_explicit(&ch->bump, memory_order_acquire)) return false;
  *chp = ch;
  *sp = s;
  *slotp = slot_addr(ch, s);
  return true;
}

/* ---- start-up --------------------------------------------------------------------------------- */

static void make_classes(void) {
  unsigned n = 0;
  for (uint32_t p = 1; p <= 8; p++) class_pages[n++] = p;
  for (uint32_t base = 8; n < NCLASS_MAX; base *= 2)
    for (uint32_t q = 1; q <= 4; q++) {
      uint32_t pages = base + base * q / 4;
      if (pages >= CHUNK_PAGES) {   /* the last class fills a chunk with its guard page */
        class_pages[n++] = CHUNK_PAGES - 1;
        nclasses = n;
        return;
      }
      class_pages[n++] = pages;
    }
  nclasses = n;
}

bool za_page_init(void) {
  if (za_page_span) return true;
  make_classes();
  size_t size = REGION_MAX;
  void *region = NULL;
  while (size >= REGION_MIN && (region = za_os_reserve_inaccessible(size)) == NULL) size /= 2;
  max_chunks = (uint32_t)(size >> CHUNK_SHIFT);
  chunks = region ? za_os_map(max_chunks * sizeof(chunk_t)) : NULL;
  if (!chunks) {
    za_report_line("guarded pages: no address space could be reserved for them (ulimit -v?); "
                   "blocks get the GPA's guard bytes instead");
    return false;
  }
  /* The map limit: what the process had at start-up, and an eighth of the limit, stay the
   * program's; each live guarded block takes two mappings. */
  max_map_count = za_os_read_number("/proc/sys/vm/max_map_count");
  if (!max_map_count) max_map_count = 65530;   /* the kernel's default */
  size_t had = za_os_count_lines("/proc/self/maps") + 1, keep = had + max_map_count / 8;
  most_live = max_map_count > keep ? (max_map_count - keep) / 2 : 0;
  za_page_base = (uintptr_t)region;
  za_page_span = size;
  return true;
}

/* ---- slots (under the lock) ---------------------------------------------------------------------- */

static unsigned class_for(size_t pages) {
  unsigned lo = 0, hi = nclasses;   /* the first class with at least `pages` pages */
  while (lo < hi) {
    unsigned mid = (lo + hi) / 2;
    if (class_pages[mid] < pages) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static uint32_t new_chunk(unsigned c) {
  uint32_t n = atomic_load_explicit(&nchunks, memory_order_relaxed);
  if (n == max_chunks) return 0;
  chunk_t *ch = &chunks[n];
  ch->cls = c;
  ch->slot_pages = class_pages[c] + 1;
  ch->nslots = CHUNK_PAGES / ch->slot_pages;
  ch->recs = za_os_reserve((size_t)ch->nslots * sizeof(rec_t));
  if (!ch->recs) return 0;
  atomic_store_explicit(&ch->bump, 0, memory_order_relaxed);
  atomic_store_explicit(&nchunks, n + 1, memory_order_release);
  return n + 1;
}

/* A free slot of class `c`: one out of the quarantine, else a fresh one. 0 if none. */
static uint32_t take_slot(unsigned c) {
  uint32_t id = classes[c].free;
  if (id) {
    classes[c].free = id_rec(id)->next;
    return id;
  }
  uint32_t k = classes[c].chunk;
  if (!k || atomic_load_explicit(&chunks[k - 1].bump, memory_order_relaxed) == chunks[k - 1].nslots) {
    if ((k = new_chunk(c)) == 0) return 0;
    classes[c].chunk = k;
  }
  chunk_t *ch = &chunks[k - 1];
  uint32_t s = atomic_load_explicit(&ch->bump, memory_order_relaxed);
  atomic_store_explicit(&ch->bump, s + 1, memory_order_release);
  return slot_id(k - 1, s);
}

static void put_free(uint32_t id) {
  chunk_t *ch = id_chunk(id);
  id_rec(id)->next = classes[ch->cls].free;
  classes[ch->cls].free = id;
}

/* A freed slot waits in the quarantine; the oldest leave it for their class's free list while
 * it holds more than ZALLOC_PAGE_QUARANTINE bytes of address space. */
static void quarantine_put(uint32_t id) {
  rec_t *r = id_rec(id);
  r->next = 0;
  if (q_tail) id_rec(q_tail)->next = id;
  else q_head = id;
  q_tail = id;
  q_bytes += slot_bytes(id_chunk(id));
  while (q_head && q_bytes > za_opt.page_quarantine) {
    uint32_t old = q_head;
    rec_t *o = id_rec(old);
    q_head = o->next;
    if (!q_head) q_tail = 0;
    q_bytes -= slot_bytes(id_chunk(old));
    uint32_t w = atomic_load_explicit(&o->word, memory_order_relaxed);
    atomic_store_explicit(&o->word, (w & ~3u) | ST_FREE, memory_order_release);
    put_free(old);
  }
}

/* ---- allocation ------------------------------------------------------------------------------- */

static void limit_reached(void) {
  atomic_fetch_add_explicit(&map_limited, 1, memory_order_relaxed);
  if (atomic_flag_test_and_set(&limit_said)) return;
  char line[320];
  za_snprintf(line, sizeof line,
              "guarded pages: %N blocks are live on them, as many as the kernel's map limit "
              "(vm.max_map_count %N) leaves room for; new blocks get the GPA's guard bytes "
              "until guarded ones are freed",
              atomic_load(&live), (size_t)max_map_count);
  za_report_line(line);
}

static void *refuse(void) {
  atomic_fetch_add_explicit(&fallback, 1, memory_order_relaxed);
  return NULL;
}

/* A block realloc is growing (ZA_ALLOC_GROWING) is placed at the start of its data pages, with
 * room for half as much again, so that it can grow where it is (za_page_resize) rather than be
 * copied at every step: a buffer grown a few bytes at a time would otherwise cost a copy and two
 * system calls per step. The pages after it are inaccessible until it grows into them, so an
 * overflow still faults within a page of its end (the bytes between are guard bytes). */
void *za_page_alloc(za_thread_t *t, size_t size, size_t align, unsigned flags) {
  if (!za_page_span || (flags & ZA_ALLOC_INTERNAL)) return NULL;
  bool start = za_opt.page_align == ZA_PAGE_ALIGN_START || (flags & ZA_ALLOC_GROWING);
  /* Bytes from the data pages' edge to the block's far end, at worst. */
  size_t need = align > ZA_PAGE_SIZE ? size + (align - ZA_PAGE_SIZE) : start ? size : za_align_up(size, align);
  size_t max = (size_t)class_pages[nclasses - 1] * ZA_PAGE_SIZE;
  if (need < size || need > max) return refuse();
  size_t room = (flags & ZA_ALLOC_GROWING) && need <= max / 3 * 2 ? need + need / 2 : need;
  if (atomic_load_explicit(&live, memory_order_relaxed) >= most_live) {
    limit_reached();
    return refuse();
  }
  unsigned c = class_for(room ? (room + ZA_PAGE_SIZE - 1) / ZA_PAGE_SIZE : 1);
  za_lock(&lock);
  uint32_t id = take_slot(c);
  za_unlock(&lock);
  if (!id) return refuse();
  chunk_t *ch = id_chunk(id);
  rec_t *r = id_rec(id);
  uintptr_t slot = slot_addr(ch, id_slot(id)), lo = data_lo(slot), hi = data_hi(ch, slot);
  uintptr_t p = start ? za_align_up_ptr(lo, align) : (hi - size) & ~(uintptr_t)(align - 1);
  uintptr_t first = p & ~(uintptr_t)(ZA_PAGE_SIZE - 1), last = za_align_up_ptr(p + size, ZA_PAGE_SIZE);
  size_t npages = (last - first) / ZA_PAGE_SIZE;
  if (npages && !za_os_make_accessible((void *)first, npages * ZA_PAGE_SIZE)) {
    za_lock(&lock);   /* the kernel's map limit came first: the slot goes back unused */
    put_free(id);
    za_unlock(&lock);
    limit_reached();
    return refuse();
  }
  /* The accessible bytes around the block are guard bytes; the rest reads as zero (pages that
   * were never accessible, or given back at a free). */
  memset((void *)first, ZA_GUARD_BYTE, p - first);
  memset((void *)(p + size), ZA_GUARD_BYTE, last - (p + size));
  r->size = size;
  r->lead = (uint32_t)(p - slot);
  r->first_page = (uint32_t)((first - slot) / ZA_PAGE_SIZE);
  r->npages = (uint32_t)npages;
  r->alloc_stack = za_opt.stack_depth ? za_stack_capture(za_opt.stack_depth) : 0;
  r->alloc_tid = t->tid;
  r->free_stack = 0;
  r->free_tid = 0;
  atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&live_pages, npages, memory_order_relaxed);
  atomic_fetch_add_explicit(&guarded, 1, memory_order_relaxed);
  uint32_t epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed) & 0xffffu;
  atomic_store_explicit(&r->word, ST_LIVE | ZA_ALLOC_KIND(flags) << 2 | (start ? W_AT_START : 0) | epoch << 16,
                        memory_order_release);
  return (void *)p;
}

/* ---- classification, checks, free ----------------------------------------------------------------- */

typedef struct where {
  chunk_t *chunk;
  uint32_t slot;
  uintptr_t addr;     /* the slot's */
  rec_t *rec;
  uint32_t word;
} where_t;

static za_block_state_t classify(const void *p, where_t *wh, za_block_info_t *info) {
  if (!slot_at((uintptr_t)p, &wh->chunk, &wh->slot, &wh->addr)) return ZA_BLOCK_INTERIOR;
  wh->rec = &wh->chunk->recs[wh->slot];
  wh->word = atomic_load_explicit(&wh->rec->word, memory_order_acquire);
  if (W_STATE(wh->word) == ST_NEVER || (uintptr_t)p != wh->addr + wh->rec->lead) return ZA_BLOCK_INTERIOR;
  fill_info(wh->rec, wh->word, info);
  return W_STATE(wh->word) == ST_LIVE ? ZA_BLOCK_LIVE : ZA_BLOCK_FREED;
}

za_block_state_t za_page_lookup(const void *p, za_block_info_t *info) {
  where_t wh;
  return classify(p, &wh, info);
}

/* The guard bytes on the block's accessible pages, before and after it. */
static void check_guards(const rec_t *r, uintptr_t slot, const za_block_info_t *info, za_op_t when) {
  const unsigned char *p = (const unsigned char *)(slot + r->lead);
  const unsigned char *first = (const unsigned char *)(slot + (size_t)r->first_page * ZA_PAGE_SIZE);
  const unsigned char *last = first + (size_t)r->npages * ZA_PAGE_SIZE;
  if (!r->npages) return;
  for (const unsigned char *q = p; q-- > first;)   /* the bad byte nearest the block */
    if (*q != ZA_GUARD_BYTE) {
      za_finding_corrupt(ZA_CORRUPT_UNDERFLOW, p, info, q - p, when);
      break;
    }
  for (const unsigned char *q = p + r->size; q < last; q++)
    if (*q != ZA_GUARD_BYTE) {
      za_finding_corrupt(ZA_CORRUPT_OVERFLOW, p, info, q - p, when);
      break;
    }
}

za_block_state_t za_page_free(za_thread_t *t, void *p, za_block_info_t *info) {
  where_t wh;
  za_block_state_t st = classify(p, &wh, info);
  if (st != ZA_BLOCK_LIVE) return st;
  rec_t *r = wh.rec;
  uint32_t w = wh.word;
  if (!atomic_compare_exchange_strong_explicit(&r->word, &w, (w & ~3u) | ST_QUARANTINED,
                                               memory_order_acq_rel, memory_order_acquire)) {
    fill_info(r, w, info);
    return W_STATE(w) == ST_LIVE ? ZA_BLOCK_INTERIOR : ZA_BLOCK_FREED;   /* reused meanwhile */
  }
  check_guards(r, wh.addr, info, ZA_OP_FREE);
  r->free_stack = za_opt.stack_depth && !(w & W_INTERNAL) ? za_stack_capture(za_opt.stack_depth) : 0;
  r->free_tid = t->tid;
  if (r->npages)
    za_os_make_inaccessible((void *)(wh.addr + (size_t)r->first_page * ZA_PAGE_SIZE),
                            (size_t)r->npages * ZA_PAGE_SIZE);
  atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&live_pages, r->npages, memory_order_relaxed);
  za_lock(&lock);
  quarantine_put(slot_id((uint32_t)(wh.chunk - chunks), wh.slot));
  za_unlock(&lock);
  return ZA_BLOCK_LIVE;
}

/* A block placed at the start of its data pages grows or shrinks where it is while it fits
 * them: the pages it needs made accessible, those it no longer needs given back, the bytes
 * after its new end guard bytes. A block against its guard page at its end always moves. */
za_block_state_t za_page_resize(void *p, size_t new_size, za_block_info_t *info, void **resized) {
  where_t wh;
  *resized = NULL;
  za_block_state_t st = classify(p, &wh, info);
  if (st != ZA_BLOCK_LIVE) return st;
  rec_t *r = wh.rec;
  check_guards(r, wh.addr, info, ZA_OP_REALLOC);
  uintptr_t b = (uintptr_t)p, first = wh.addr + (size_t)r->first_page * ZA_PAGE_SIZE;
  uintptr_t old_last = first + (size_t)r->npages * ZA_PAGE_SIZE;
  if (!(wh.word & W_AT_START) || new_size > data_hi(wh.chunk, wh.addr) - b || r->npages == 0) return st;
  uintptr_t last = za_align_up_ptr(b + new_size, ZA_PAGE_SIZE);
  if (last < first + ZA_PAGE_SIZE) last = first + ZA_PAGE_SIZE;
  if (last > old_last && !za_os_make_accessible((void *)old_last, last - old_last)) return st;
  if (last < old_last) za_os_make_inaccessible((void *)last, old_last - last);
  memset((void *)(b + new_size), ZA_GUARD_BYTE, last - (b + new_size));
  size_t npages = (last - first) / ZA_PAGE_SIZE;
  if (npages >= r->npages) atomic_fetch_add_explicit(&live_pages, npages - r->npages, memory_order_relaxed);
  else atomic_fetch_sub_explicit(&live_pages, r->npages - npages, memory_order_relaxed);
  r->npages = (uint32_t)npages;
  r->size = new_size;
  *resized = p;
  return st;
}

/* ---- a fault's address (crash reports; no lock) --------------------------------------------------- */

/* Bytes from `addr` to the block in slot `s` of `ch` (0 inside it), or SIZE_MAX if the slot
 * never held one. */
static size_t distance_to(const chunk_t *ch, uint32_t s, uintptr_t addr, uintptr_t *start,
                          za_block_info_t *info, za_block_state_t *st) {
  if (s >= atomic_load_explicit(&ch->bump, memory_order_acquire)) return SIZE_MAX;
  const rec_t *r = &ch->recs[s];
  uint32_t w = atomic_load_explicit(&r->word, memory_order_acquire);
  if (W_STATE(w) == ST_NEVER) return SIZE_MAX;
  uintptr_t b = slot_addr(ch, s) + r->lead;
  *start = b;
  fill_info(r, w, info);
  *st = W_STATE(w) == ST_LIVE ? ZA_BLOCK_LIVE : ZA_BLOCK_FREED;
  if (addr < b) return b - addr;
  return addr - b < (r->size ? r->size : 1) ? 0 : addr - (b + r->size) + 1;
}

/* The block nearest `addr` of its slot's and the two neighbouring slots' (GWP-ASan's rule: a
 * guard page lies between two blocks, and the nearer one was more likely meant), within one
 * slot's size; inside a block, that block. */
za_block_state_t za_page_locate(uintptr_t addr, uintptr_t *start, za_block_info_t *info) {
  chunk_t *ch;
  uint32_t s;
  uintptr_t slot;
  if (!slot_at(addr, &ch, &s, &slot)) return ZA_BLOCK_FOREIGN;
  za_block_state_t best = ZA_BLOCK_FOREIGN;
  size_t best_d = SIZE_MAX;
  for (uint32_t k = s ? s - 1 : s; k <= s + 1; k++) {
    uintptr_t b;
    za_block_info_t i;
    za_block_state_t st;
    size_t d = distance_to(ch, k, addr, &b, &i, &st);
    if (d < best_d) {
      best_d = d;
      best = st;
      *start = b;
      *info = i;
    }
  }
  return best_d <= slot_bytes(ch) ? best : ZA_BLOCK_FOREIGN;
}

/* ---- walks at exit ----------------------------------------------------------------------------- */

static void for_each_slot(void (*fn)(void *ctx, const rec_t *r, uintptr_t slot, uint32_t w), void *ctx) {
  za_lock(&lock);
  uint32_t n = atomic_load_explicit(&nchunks, memory_order_acquire);
  for (uint32_t c = 0; c < n; c++) {
    const chunk_t *ch = &chunks[c];
    for (uint32_t s = 0, used = atomic_load_explicit(&ch->bump, memory_order_acquire); s < used; s++) {
      uint32_t w = atomic_load_explicit(&ch->recs[s].word, memory_order_acquire);
      if (W_STATE(w) == ST_LIVE) fn(ctx, &ch->recs[s], slot_addr(ch, s), w);
    }
  }
  za_unlock(&lock);
}

typedef struct live_ctx {
  void (*fn)(void *ctx, const za_live_block_t *b);
  void *ctx;
} live_ctx_t;

static void live_one(void *arg, const rec_t *r, uintptr_t slot, uint32_t w) {
  live_ctx_t *lc = arg;
  uint32_t epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed) & 0xffffu;
  za_live_block_t b = {.addr = slot + r->lead, .size = r->size, .alloc_stack = r->alloc_stack,
                       .tid = r->alloc_tid, .internal = (w & W_INTERNAL) != 0,
                       .inherited = W_EPOCH(w) != epoch};
  lc->fn(lc->ctx, &b);
}

void za_page_for_each_live(void (*fn)(void *ctx, const za_live_block_t *b), void *ctx) {
  if (!za_page_span) return;
  live_ctx_t lc = {fn, ctx};
  for_each_slot(live_one, &lc);
}

/* Blocks from before a fork are the parent's to check (see gpa.c's check_page). */
static void check_one(void *arg, const rec_t *r, uintptr_t slot, uint32_t w) {
  (void)arg;
  if (W_EPOCH(w) != (atomic_load_explicit(&za_epoch, memory_order_relaxed) & 0xffffu)) return;
  za_block_info_t info;
  fill_info(r, w, &info);
  check_guards(r, slot, &info, ZA_OP_EXIT);
}

void za_page_check_all(void) {
  if (za_page_span) for_each_slot(check_one, NULL);
}

size_t za_page_mapped_bytes(void) {
  return atomic_load_explicit(&live_pages, memory_order_relaxed) * ZA_PAGE_SIZE;
}

void za_page_collect(za_report_t *r) {
  if (!za_page_span) return;
  r->guarded = (za_rguarded_t){.active = true, .blocks = atomic_load(&guarded),
                               .fallback = atomic_load(&fallback),
                               .map_limited = atomic_load(&map_limited), .most_live = most_live,
                               .max_map_count = max_map_count};
}

void za_page_fork_prepare(void) { za_lock(&lock); }
void za_page_fork_parent(void) { za_unlock(&lock); }
void za_page_fork_child(void) { za_lock_reset(&lock); }

/* ---- the page backend ------------------------------------------------------------------------------
 * The GPA, with every block of the program's on guarded pages where this allocator can serve
 * it; the GPA's functions answer for both kinds of blocks (gpa.c hands guarded ones to this
 * file). */

static void page_init(void) {
  za_gpa_backend.init();
  za_page_init();
}
static void *page_alloc(za_thread_t *t, size_t size, size_t align, unsigned flags) {
  void *p = za_page_alloc(t, size, align, flags);
  return p ? p : za_gpa_backend.alloc(t, size, align, flags);
}
static void page_thread_init(za_thread_t *t) { za_gpa_backend.thread_init(t); }
static void page_thread_exit(za_thread_t *t) { za_gpa_backend.thread_exit(t); }
static za_block_state_t page_lookup(const void *p, za_block_info_t *info) {
  return za_gpa_backend.lookup(p, info);
}
static za_block_state_t page_free(za_thread_t *t, void *p, za_block_info_t *info) {
  return za_gpa_backend.free(t, p, info);
}
static za_block_state_t page_resize(za_thread_t *t, void *p, size_t n, za_block_info_t *info, void **q) {
  return za_gpa_backend.resize(t, p, n, info, q);
}
static size_t page_counted_size(const void *p, size_t requested) {
  return za_gpa_backend.counted_size(p, requested);
}
static bool page_trim(void) { return za_gpa_backend.trim(); }
static size_t page_mapped(void) { return za_gpa_backend.mapped_bytes(); }
static void page_fork_prepare(void) { za_gpa_backend.fork_prepare(); }
static void page_fork_parent(void) { za_gpa_backend.fork_parent(); }
static void page_fork_child(void) { za_gpa_backend.fork_child(); }
static void page_for_each_live(void (*fn)(void *ctx, const za_live_block_t *b), void *ctx) {
  za_gpa_backend.for_each_live(fn, ctx);
}
static void page_check_all(void) { za_gpa_backend.check_all(); }
static za_block_state_t page_locate(uintptr_t addr, uintptr_t *start, za_block_info_t *info) {
  return za_gpa_backend.locate(addr, start, info);
}

const za_backend_t za_page_backend = {
  .name = "page",
  .checks = true,
  .ext_bits = ZA_GPA_EXT_BITS,
  .init = page_init,
  .thread_init = page_thread_init,
  .thread_exit = page_thread_exit,
  .alloc = page_alloc,
  .lookup = page_lookup,
  .free = page_free,
  .resize = page_resize,
  .counted_size = page_counted_size,
  .trim = page_trim,
  .mapped_bytes = page_mapped,
  .fork_prepare = page_fork_prepare,
  .fork_parent = page_fork_parent,
  .fork_child = page_fork_child,
  .for_each_live = page_for_each_live,
  .check_all = page_check_all,
  .locate = page_locate,
};
