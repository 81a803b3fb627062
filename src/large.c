/* zalloc - large blocks in their own mappings (see large.h). */
#include "large.h"
#include "lock.h"
#include "prim.h"
#include "stats.h"

#include <string.h>

typedef struct entry {
  uintptr_t addr;      /* 0: empty; TOMBSTONE: deleted */
  size_t size;         /* requested */
  size_t maplen;       /* mapping length, page multiple; usable == maplen */
  uint32_t epoch;
  uint8_t kind;        /* the checking backend's record (za_large_alloc's meta) */
  bool internal;
  bool fenced;         /* its mapping ends with an inaccessible page (map_block) */
  za_stack_id_t alloc_stack;
  int alloc_tid;
} entry_t;

#define TOMBSTONE ((uintptr_t)1)
#define RECENT 256

static za_lock_t lock = ZA_LOCK_INIT;
static entry_t *table;
static size_t cap;          /* power of two */
static size_t used;         /* live + tombstones */
static size_t live;
static size_t mapped;       /* bytes */
/* Recently freed blocks, with what a double free of them should tell. */
static struct {
  uintptr_t addr;
  size_t size;
  uint8_t kind;
  za_stack_id_t alloc_stack, free_stack;
  int alloc_tid, free_tid;
} recent[RECENT];
static size_t recent_next;

/* Freed mappings kept for reuse, oldest first: a program that allocates and frees big blocks
 * in turn then costs no system call and no page fault per block. Bounded, so memory a program
 * is done with still goes back to the OS. */
#define CACHE_SLOTS      8
#define CACHE_MAX_MAPLEN (8 * ZA_MiB)
#define CACHE_MAX_BYTES  (32 * ZA_MiB)
static struct { uintptr_t addr; size_t maplen; bool fenced; } cache[CACHE_SLOTS];
static size_t cache_count, cache_bytes;

static size_t slot_of(uintptr_t addr) { return (size_t)((addr >> 12) * 0x9e3779b97f4a7c15ull) & (cap - 1); }

static entry_t *find(uintptr_t addr) {
  /* Large blocks start on a page: anything else (NULL-ish values, the tombstone marker, an
   * interior pointer) is not one, and must not match an empty or deleted slot. */
  if (!table || addr % ZA_PAGE_SIZE != 0 || addr == 0) return NULL;
  for (size_t i = slot_of(addr);; i = (i + 1) & (cap - 1)) {
    if (table[i].addr == addr) return &table[i];
    if (table[i].addr == 0) return NULL;
  }
}

/* Rehash into a table big enough for twice the live entries; false if out of memory. */
static bool grow(void) {
  size_t ncap = cap ? cap : 256;
  while (ncap < (live + 1) * 4) ncap *= 2;
  entry_t *old = table;
  size_t oldcap = cap;
  entry_t *nt = za_os_map(ncap * sizeof(entry_t));
  if (!nt) return false;
  table = nt;
  cap = ncap;
  used = live;
  for (size_t i = 0; i < oldcap; i++) {
    if (old[i].addr <= TOMBSTONE) continue;
    size_t j = slot_of(old[i].addr);
    while (table[j].addr) j = (j + 1) & (cap - 1);
    table[j] = old[i];
  }
  if (old) za_os_unmap(old, oldcap * sizeof(entry_t));
  return true;
}

/* Memory from `lo` for `len` bytes is a live block's now: a freed block that started there is
 * gone, and a free of its old address is a bad pointer into this one, not a double free. */
static void forget_recent(uintptr_t lo, size_t len) {
  for (size_t r = 0; r < RECENT; r++)
    if (recent[r].addr >= lo && recent[r].addr - lo < len) recent[r].addr = 0;
}

static bool insert(const entry_t *n) {
  uintptr_t addr = n->addr;
  if ((used + 1) * 2 > cap && !grow()) return false;
  size_t i = slot_of(addr);
  while (table[i].addr > TOMBSTONE) i = (i + 1) & (cap - 1);
  if (table[i].addr == 0) used++;
  table[i] = *n;
  live++;
  mapped += n->maplen;
  /* Addresses we unmapped earlier may be in the new mapping: no longer "recently freed". */
  forget_recent(addr, n->maplen);
  return true;
}

static void fill_info(const entry_t *e, za_block_info_t *info) {
  *info = (za_block_info_t){.size = e->size, .usable = e->maplen, .epoch = e->epoch, .kind = e->kind,
                            .internal = e->internal,
                            .alloc_stack = e->alloc_stack, .alloc_tid = e->alloc_tid};
}

/* A block's mapping is its `maplen` bytes and, for the first FENCE_MAX mappings that exist at
 * once, an inaccessible page after them (a fence), so an overflow off the block's end faults
 * in the program instead of running on into the next mapping (zalloc's metadata, say). A fence
 * splits what would be one kernel mapping (adjacent blocks merge) into two, so the number is
 * bounded well below vm.max_map_count (65,530 by default); blocks beyond it are not fenced.
 * The fence is made with mprotect: made accessible again for a remap, the two are one mapping. */
#define FENCE_MAX 8192
static _Atomic size_t fences;

static void *map_block(size_t maplen, size_t align, bool *fenced) {
  *fenced = false;
  if (maplen > SIZE_MAX - ZA_PAGE_SIZE) return NULL;
  bool fence = atomic_fetch_add_explicit(&fences, 1, memory_order_relaxed) < FENCE_MAX;
  unsigned char *p = za_os_map_aligned(maplen + (fence ? ZA_PAGE_SIZE : 0), align);
  if (p && fence) fence = za_os_protect(p + maplen, ZA_PAGE_SIZE, false);
  if (!fence) atomic_fetch_sub_explicit(&fences, 1, memory_order_relaxed);
  *fenced = p && fence;
  return p;
}

static void unmap_block(uintptr_t addr, size_t maplen, bool fenced) {
  za_os_unmap((void *)addr, maplen + (fenced ? ZA_PAGE_SIZE : 0));
  if (fenced) atomic_fetch_sub_explicit(&fences, 1, memory_order_relaxed);
}

/* The block at `p` (`maplen` bytes) resized to `new_maplen`, its fence moved after the new
 * end; NULL (the block as it was) if the kernel refused. */
static void *remap_block(void *p, size_t maplen, size_t new_maplen, bool fenced) {
  if (!fenced) return za_os_remap(p, maplen, new_maplen);
  unsigned char *guard = (unsigned char *)p + maplen;
  if (new_maplen > SIZE_MAX - ZA_PAGE_SIZE || !za_os_protect(guard, ZA_PAGE_SIZE, true)) return NULL;
  unsigned char *q = za_os_remap(p, maplen + ZA_PAGE_SIZE, new_maplen + ZA_PAGE_SIZE);
  if (q) za_os_protect(q + new_maplen, ZA_PAGE_SIZE, false);
  else za_os_protect(guard, ZA_PAGE_SIZE, false);
  return q;
}

static void cache_drop_oldest(void) {
  unmap_block(cache[0].addr, cache[0].maplen, cache[0].fenced);
  cache_bytes -= cache[0].maplen;
  cache_count--;
  for (size_t i = 0; i < cache_count; i++) cache[i] = cache[i + 1];
}

/* Keep a freed mapping for reuse, or unmap it. Under the lock. */
static void cache_put(uintptr_t addr, size_t maplen, bool fenced) {
  if (maplen > CACHE_MAX_MAPLEN) {
    unmap_block(addr, maplen, fenced);
    return;
  }
  while (cache_count == CACHE_SLOTS || (cache_count && cache_bytes + maplen > CACHE_MAX_BYTES))
    cache_drop_oldest();
  cache[cache_count].addr = addr;
  cache[cache_count].maplen = maplen;
  cache[cache_count].fenced = fenced;
  cache_count++;
  cache_bytes += maplen;
}

/* The smallest cached mapping of at least `need` bytes, and at most twice that unless the
 * block is being grown (then the extra room will be used); 0 if none. Under the lock. */
static uintptr_t cache_take(size_t need, bool growing, size_t *maplen, bool *fenced) {
  size_t best = CACHE_SLOTS;
  for (size_t i = 0; i < cache_count; i++)
    if (cache[i].maplen >= need && (growing || cache[i].maplen / 2 <= need) &&
        (best == CACHE_SLOTS || cache[i].maplen < cache[best].maplen))
      best = i;
  if (best == CACHE_SLOTS) return 0;
  uintptr_t addr = cache[best].addr;
  *maplen = cache[best].maplen;
  *fenced = cache[best].fenced;
  cache_bytes -= *maplen;
  cache_count--;
  for (size_t i = best; i < cache_count; i++) cache[i] = cache[i + 1];
  return addr;
}

static size_t page_round(size_t n) { return za_align_up(n ? n : 1, ZA_PAGE_SIZE); }

/* Room for `need` bytes and half as much again, for a block that realloc keeps growing:
 * address space only, pages appear when written. */
static size_t with_growth_room(size_t need) {
  return need <= ZA_MAX_REQUEST / 2 ? page_round(need + need / 2) : need;
}

void *za_large_alloc(size_t size, size_t align, unsigned flags, const za_block_info_t *meta) {
  if (size > ZA_MAX_REQUEST - ZA_PAGE_SIZE) return NULL;
  size_t need = page_round(size), maplen = need;
  entry_t n = {.size = size, .epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed),
               .internal = (flags & ZA_ALLOC_INTERNAL) != 0};
  if (meta) {
    n.kind = meta->kind;
    n.alloc_stack = meta->alloc_stack;
    n.alloc_tid = meta->alloc_tid;
  }
  void *p = NULL;
  za_lock(&lock);
  bool fenced = false;
  if (align <= ZA_PAGE_SIZE && (p = (void *)cache_take(need, flags & ZA_ALLOC_GROWING, &maplen, &fenced)) != NULL &&
      (n.addr = (uintptr_t)p, n.maplen = maplen, n.fenced = fenced, !insert(&n))) {
    cache_put((uintptr_t)p, maplen, fenced);
    p = NULL;
  }
  za_unlock(&lock);
  if (p) {
    if (flags & ZA_ALLOC_ZERO) memset(p, 0, size); /* a reused mapping holds old data */
    return p;
  }
  if (flags & ZA_ALLOC_GROWING) maplen = with_growth_room(need);
  else maplen = need;
  p = map_block(maplen, align, &fenced); /* fresh mappings are zero */
  if (!p) return NULL;
  n.addr = (uintptr_t)p;
  n.maplen = maplen;
  n.fenced = fenced;
  za_lock(&lock);
  bool ok = insert(&n);
  za_unlock(&lock);
  if (!ok) {
    unmap_block((uintptr_t)p, maplen, fenced);
    return NULL;
  }
  return p;
}

/* What `addr` is, under the lock: a live large block (its entry and info), one we freed
 * recently (FREED, with its size), or none of ours (FOREIGN). */
static za_block_state_t classify_locked(uintptr_t addr, entry_t **ep, za_block_info_t *info) {
  entry_t *e = find(addr);
  if (e) {
    fill_info(e, info);
    *ep = e;
    return ZA_BLOCK_LIVE;
  }
  for (size_t r = 0; r < RECENT; r++)
    if (recent[r].addr == addr && addr) {
      *info = (za_block_info_t){.size = recent[r].size, .kind = recent[r].kind,
                                .alloc_stack = recent[r].alloc_stack, .free_stack = recent[r].free_stack,
                                .alloc_tid = recent[r].alloc_tid, .free_tid = recent[r].free_tid};
      return ZA_BLOCK_FREED;
    }
  return ZA_BLOCK_FOREIGN;
}

za_block_state_t za_large_lookup(const void *p, za_block_info_t *info) {
  entry_t *e;
  za_lock(&lock);
  za_block_state_t st = classify_locked((uintptr_t)p, &e, info);
  za_unlock(&lock);
  return st;
}

za_block_state_t za_large_free(void *p, za_block_info_t *info, za_stack_id_t free_stack, int free_tid) {
  entry_t *e;
  za_lock(&lock);
  za_block_state_t st = classify_locked((uintptr_t)p, &e, info);
  if (st == ZA_BLOCK_LIVE) {
    e->addr = TOMBSTONE;
    live--;
    mapped -= info->usable;
    recent[recent_next].addr = (uintptr_t)p;
    recent[recent_next].size = info->size;
    recent[recent_next].kind = info->kind;
    recent[recent_next].alloc_stack = info->alloc_stack;
    recent[recent_next].alloc_tid = info->alloc_tid;
    recent[recent_next].free_stack = free_stack;
    recent[recent_next].free_tid = free_tid;
    recent_next = (recent_next + 1) % RECENT;
    /* Under the lock: were it unmapped outside, a concurrent mmap could get this address and
     * insert it before we record it as recently freed. */
    cache_put((uintptr_t)p, info->usable, e->fenced);
  }
  za_unlock(&lock);
  return st;
}

za_block_state_t za_large_resize(void *p, size_t new_size, za_block_info_t *info, void **resized) {
  *resized = NULL;
  entry_t *e;
  za_lock(&lock);
  za_block_state_t st = classify_locked((uintptr_t)p, &e, info);
  /* Make room first, so that once the mapping has moved its new address can be recorded. */
  if (st == ZA_BLOCK_LIVE && new_size <= ZA_MAX_REQUEST - ZA_PAGE_SIZE &&
      ((used + 1) * 2 <= cap || (grow() && (e = find((uintptr_t)p)) != NULL))) {
    size_t need = page_round(new_size), maplen = e->maplen;
    if (need > maplen) maplen = need > with_growth_room(maplen) ? need : with_growth_room(maplen);
    /* Give back what a big shrink frees; a block that grows keeps the room it has (one taken
     * from the cache with room to spare, say), or a growing buffer would be cut down and
     * remapped again at every step. */
    else if (new_size < e->size && need < maplen / 2) maplen = need;
    void *q = maplen == e->maplen ? p : remap_block(p, e->maplen, maplen, e->fenced);
    if (q == p) {
      if (maplen > e->maplen) forget_recent((uintptr_t)p + e->maplen, maplen - e->maplen);
      mapped = mapped - e->maplen + maplen;
      e->size = new_size;
      e->maplen = maplen;
    } else if (q) {
      entry_t n = *e;
      n.addr = (uintptr_t)q;
      n.size = new_size;
      n.maplen = maplen;
      mapped -= e->maplen;
      e->addr = TOMBSTONE;
      live--;
      insert(&n);
    }
    *resized = q;
  }
  za_unlock(&lock);
  return st;
}

/* The distance from `addr` to [lo, hi), or SIZE_MAX when it is more than a page. */
static size_t distance(uintptr_t addr, uintptr_t lo, uintptr_t hi) {
  size_t d = addr < lo ? lo - addr : addr >= hi ? addr - hi + 1 : 0;
  return d <= ZA_PAGE_SIZE ? d : SIZE_MAX;
}

za_block_state_t za_large_locate(uintptr_t addr, uintptr_t *start, za_block_info_t *info) {
  if (!za_lock_try(&lock, 1000)) return ZA_BLOCK_FOREIGN;
  za_block_state_t st = ZA_BLOCK_FOREIGN;
  size_t best = SIZE_MAX;
  for (size_t i = 0; i < cap; i++) {
    const entry_t *e = &table[i];
    size_t d = e->addr > TOMBSTONE ? distance(addr, e->addr, e->addr + e->maplen) : SIZE_MAX;
    if (d < best) {
      best = d;
      st = ZA_BLOCK_LIVE;
      *start = e->addr;
      fill_info(e, info);
    }
  }
  for (size_t r = 0; r < RECENT; r++) {
    size_t d = recent[r].addr ? distance(addr, recent[r].addr, recent[r].addr + page_round(recent[r].size))
                              : SIZE_MAX;
    if (d < best) {
      best = d;
      st = ZA_BLOCK_FREED;
      *start = recent[r].addr;
      *info = (za_block_info_t){.size = recent[r].size, .kind = recent[r].kind,
                                .alloc_stack = recent[r].alloc_stack, .free_stack = recent[r].free_stack,
                                .alloc_tid = recent[r].alloc_tid, .free_tid = recent[r].free_tid};
    }
  }
  za_unlock(&lock);
  return st;
}

bool za_large_trim(void) {
  za_lock(&lock);
  bool any = cache_count > 0;
  while (cache_count) cache_drop_oldest();
  za_unlock(&lock);
  return any;
}

size_t za_large_mapped_bytes(void) {
  za_lock(&lock);
  size_t m = mapped + cache_bytes;
  za_unlock(&lock);
  return m;
}

void za_large_for_each(void (*fn)(void *ctx, void *p, const za_block_info_t *info, bool internal),
                       void *ctx) {
  za_lock(&lock);
  for (size_t i = 0; i < cap; i++)
    if (table[i].addr > TOMBSTONE) {
      za_block_info_t info;
      fill_info(&table[i], &info);
      fn(ctx, (void *)table[i].addr, &info, table[i].internal);
    }
  za_unlock(&lock);
}

void za_large_fork_prepare(void) { za_lock(&lock); }
void za_large_fork_parent(void) { za_unlock(&lock); }
void za_large_fork_child(void) { za_lock_reset(&lock); }
