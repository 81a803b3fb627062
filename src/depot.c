/* zalloc - the stack depot: every distinct call stack stored once, named by a 32-bit id.
 *
 * Called on every checked malloc and free that the stack memo (unwind.c) does not answer,
 * from any thread and from signal handlers, so it takes no lock: open-addressing hash tables
 * of 64-bit slots, each 0 (empty) or (hash << 32 | id), probed linearly. Inserting writes the
 * stack into an append-only pool, records where it lies in the id index, and only then
 * publishes it with a compare-and-swap on the empty slot; a reader that sees an id (acquire)
 * sees its stack. Two threads inserting the same new stack at once both write it; the loser
 * of the slot returns the winner's id, and its copy is left unused (its id still reads back
 * correctly through za_stack_get).
 *
 * The tables come in levels of growing size (16 KiB, 256 KiB, 4 MiB of slots), so that a
 * process with few stacks touches a few pages, not one page of a big table per stack. Stacks
 * go into the newest level; when it is half full it is frozen - every empty slot is marked
 * FROZEN with a compare-and-swap, so no insertion into it can succeed any more - and the next
 * level becomes the newest. A lookup searches the newest level, then the frozen ones (complete
 * and unchanging), and inserts into the newest only after both; an insertion that meets a
 * FROZEN slot starts again. Any thread that finds
 * a level being frozen finishes the freezing itself (nothing waits for another thread, so a
 * signal handler or a fork cannot catch it half done). Ids stay unique: a stack is only ever
 * inserted into the newest level after the frozen ones were searched.
 *
 * Memory: one reservation from za_os_reserve (address space; pages appear on first touch),
 * made once (za_depot_prepare, or the first insertion), never freed, never from malloc. Ids
 * and stacks stay valid for the life of the process and, as plain memory, in a forked child.
 * Full (the last level half full, or the pool's bytes used up): za_depot_put returns 0, "no
 * stack", and counts it; the report says so (za_depot_refused). The bound: ZA_DEPOT_MAX_STACKS
 * - 1 distinct stacks (279,553), 4.5 MiB of slots, 1.1 MiB of index and at most 64 MiB of pool
 * (8 bytes a frame and 8 a stack; 13 frames, as tests/untrusted's stacks program makes, take
 * 112 bytes): docs/promises.md. */
#include "depot.h"

#include "prim.h"

#define LEVELS 3
static const unsigned level_bits[LEVELS] = {11, 15, 19};   /* slots, 8 bytes each */
#define ZA_DEPOT_MAX_STACKS ((1u << 10) + (1u << 14) + (1u << 18) + 2)
#define ZA_DEPOT_POOL_BYTES ((size_t)64 << 20)      /* the stacks themselves */
#define FROZEN UINT64_MAX                           /* a slot no insertion may take */

typedef struct za_depot_entry {
  uint32_t hash;
  uint32_t depth;
  uintptr_t pcs[];
} za_depot_entry_t;

/* The region: the levels' slots, then the id index (id -> (pool offset / 8) + 1; 0: not
 * written), then the pool. */
#define SLOTS_BYTES ((((size_t)1 << 11) + ((size_t)1 << 15) + ((size_t)1 << 19)) * sizeof(uint64_t))
#define INDEX_AT SLOTS_BYTES
#define POOL_AT  (INDEX_AT + (size_t)ZA_DEPOT_MAX_STACKS * sizeof(uint32_t))
#define REGION_SIZE (POOL_AT + ZA_DEPOT_POOL_BYTES)

static _Atomic(unsigned char *) za_depot_region;
static struct {
  _Alignas(64) atomic_uint ids;          /* ids handed out: the last is `ids` */
  _Alignas(64) atomic_size_t pool_used;
  _Alignas(64) atomic_uint state;        /* the newest level << 1, | 1 while it is being frozen */
  atomic_uint used[LEVELS];              /* stacks inserted into each level */
  _Alignas(64) atomic_size_t refused;    /* new stacks not stored: the depot was full */
} za_depot;

static inline _Atomic uint64_t *level_slots(unsigned char *r, unsigned level) {
  size_t at = 0;
  for (unsigned l = 0; l < level; l++) at += (size_t)1 << level_bits[l];
  return (_Atomic uint64_t *)r + at;
}
static inline _Atomic uint32_t *index_of(unsigned char *r) { return (_Atomic uint32_t *)(r + INDEX_AT); }
static inline unsigned char *pool_of(unsigned char *r) { return r + POOL_AT; }

/* ---- memory -------------------------------------------------------------------------- */

/* The reservation, made once: threads that race to make it each map one, and all but the
 * first to publish theirs give it back. No lock, so nothing for fork or a signal to catch. */
bool za_depot_prepare(void) {
  if (za_likely(atomic_load_explicit(&za_depot_region, memory_order_acquire) != NULL))
    return true;
  unsigned char *region = za_os_reserve(REGION_SIZE), *none = NULL;
  if (region == NULL) return false;
  if (!atomic_compare_exchange_strong_explicit(&za_depot_region, &none, region,
                                               memory_order_acq_rel, memory_order_acquire))
    za_os_unmap(region, REGION_SIZE);
  return true;
}

bool za_depot_mapped(void) {
  return atomic_load_explicit(&za_depot_region, memory_order_acquire) != NULL;
}

/* ---- hashing and comparing ----------------------------------------------------------- */

/* Four independent lanes (a multiply does not wait for the previous frame's), folded at the
 * end; the slot is the low bits, so those must depend on every bit of every pc. */
static uint32_t stack_hash(const uintptr_t *pcs, int n) {
  const uint64_t m = 0xff51afd7ed558ccdu;
  uint64_t a = (uint64_t)n * 0x9e3779b97f4a7c15u, b = 0xc2b2ae3d27d4eb4fu,
           c = 0x165667b19e3779f9u, d = 0x27d4eb2f165667c5u;
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    a = (a ^ pcs[i]) * m;
    b = (b ^ pcs[i + 1]) * m;
    c = (c ^ pcs[i + 2]) * m;
    d = (d ^ pcs[i + 3]) * m;
  }
  for (; i < n; i++) a = (a ^ pcs[i]) * m;
  uint64_t h = a ^ (b << 16 | b >> 48) ^ (c << 32 | c >> 32) ^ (d << 48 | d >> 16);
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53u;
  h ^= h >> 29;
  return (uint32_t)h;
}

static const za_depot_entry_t *entry_of(unsigned char *r, za_stack_id_t id) {
  if (id >= ZA_DEPOT_MAX_STACKS) return NULL;
  uint32_t at = atomic_load_explicit(&index_of(r)[id], memory_order_acquire);
  return at == 0 ? NULL : (const za_depot_entry_t *)(pool_of(r) + (size_t)(at - 1) * 8);
}

static bool entry_equals(const za_depot_entry_t *e, uint32_t hash, const uintptr_t *pcs, int n) {
  if (e == NULL || e->hash != hash || e->depth != (uint32_t)n) return false;
  for (int i = 0; i < n; i++)
    if (e->pcs[i] != pcs[i]) return false;
  return true;
}

/* ---- inserting ----------------------------------------------------------------------- */

/* A new id with the stack written out and indexed, not yet in a hash table; 0 if full. */
static za_stack_id_t store_new(unsigned char *r, uint32_t hash, const uintptr_t *pcs, int n) {
  size_t bytes = sizeof(za_depot_entry_t) + (size_t)n * sizeof(uintptr_t);
  size_t at = atomic_fetch_add_explicit(&za_depot.pool_used, bytes, memory_order_relaxed);
  if (at + bytes > ZA_DEPOT_POOL_BYTES) return 0;
  uint32_t id = atomic_fetch_add_explicit(&za_depot.ids, 1, memory_order_relaxed) + 1;
  if (id >= ZA_DEPOT_MAX_STACKS) return 0;
  za_depot_entry_t *e = (za_depot_entry_t *)(pool_of(r) + at);
  e->hash = hash;
  e->depth = (uint32_t)n;
  for (int i = 0; i < n; i++) e->pcs[i] = pcs[i];
  atomic_store_explicit(&index_of(r)[id], (uint32_t)(at / 8) + 1, memory_order_release);
  return id;
}

/* Finish freezing the newest level (whoever started it) and make the next one the newest. */
static void finish_freezing(unsigned char *r, unsigned state) {
  unsigned level = state >> 1;
  _Atomic uint64_t *slots = level_slots(r, level);
  for (size_t i = 0; i < (size_t)1 << level_bits[level]; i++) {
    uint64_t empty = 0;
    atomic_compare_exchange_strong_explicit(&slots[i], &empty, FROZEN, memory_order_acq_rel,
                                            memory_order_relaxed);
  }
  atomic_compare_exchange_strong_explicit(&za_depot.state, &state, (level + 1) << 1,
                                          memory_order_acq_rel, memory_order_relaxed);
}

enum { FOUND, ABSENT, RETRY };

/* Probe `level` for the stack; with `insert`, take the first empty slot (its id in *mine, made
 * first if 0). FOUND with *id; ABSENT (not there, nothing inserted); RETRY (the level was
 * frozen meanwhile, or is full, or the depot is). */
static int probe(unsigned char *r, unsigned level, uint32_t hash, const uintptr_t *pcs, int n,
                 bool insert, za_stack_id_t *mine, za_stack_id_t *id) {
  _Atomic uint64_t *slots = level_slots(r, level);
  size_t mask = ((size_t)1 << level_bits[level]) - 1;
  for (size_t probe = 0, s = hash & mask; probe <= mask; probe++, s = (s + 1) & mask) {
    uint64_t v = atomic_load_explicit(&slots[s], memory_order_acquire);
    while (v == 0) {
      if (!insert) return ABSENT;
      if (*mine == 0 && (*mine = store_new(r, hash, pcs, n)) == 0) return RETRY;
      uint64_t want = (uint64_t)hash << 32 | *mine;
      if (atomic_compare_exchange_strong_explicit(&slots[s], &v, want, memory_order_acq_rel,
                                                  memory_order_acquire)) {
        *id = *mine;
        /* Half full: freeze it (the next insertion goes to the next level). */
        unsigned used = atomic_fetch_add_explicit(&za_depot.used[level], 1, memory_order_relaxed);
        unsigned state = level << 1;
        if (used + 1 > (mask + 1) / 2 && level + 1 < LEVELS &&
            atomic_compare_exchange_strong(&za_depot.state, &state, state | 1))
          finish_freezing(r, state | 1);
        return FOUND;
      }
    }
    if (v == FROZEN) return insert ? RETRY : ABSENT;
    /* v: the slot's occupant (perhaps just written by another thread). */
    if ((uint32_t)(v >> 32) == hash && entry_equals(entry_of(r, (za_stack_id_t)v), hash, pcs, n)) {
      *id = (za_stack_id_t)v;
      return FOUND;
    }
  }
  return insert ? RETRY : ABSENT;
}

za_stack_id_t za_depot_put(const uintptr_t *pcs, int n) {
  if (n <= 0 || n > ZA_STACK_MAX_DEPTH || !za_depot_prepare()) return 0;
  unsigned char *r = atomic_load_explicit(&za_depot_region, memory_order_acquire);
  uint32_t hash = stack_hash(pcs, n);
  za_stack_id_t mine = 0, id = 0;
  for (;;) {
    unsigned state = atomic_load_explicit(&za_depot.state, memory_order_acquire);
    if (za_unlikely(state & 1)) {
      finish_freezing(r, state);
      continue;
    }
    /* The newest level first (most stacks of a program with many are there), then the
     * frozen ones; only then may the stack be inserted (into the newest). */
    unsigned newest = state >> 1;
    if (newest > 0 && probe(r, newest, hash, pcs, n, false, &mine, &id) == FOUND) return id;
    for (unsigned level = 0; level < newest; level++)
      if (probe(r, level, hash, pcs, n, false, &mine, &id) == FOUND) return id;
    int got = probe(r, newest, hash, pcs, n, true, &mine, &id);
    if (got == FOUND) return id;
    /* RETRY: the level was frozen under us (go on in the next), or it or the pool is full. */
    if (atomic_load_explicit(&za_depot.state, memory_order_acquire) == state) {
      atomic_fetch_add_explicit(&za_depot.refused, 1, memory_order_relaxed);
      return 0;
    }
  }
}

size_t za_depot_refused(void) {
  return atomic_load_explicit(&za_depot.refused, memory_order_relaxed);
}

size_t za_depot_max_stacks(void) { return ZA_DEPOT_MAX_STACKS - 1; }   /* ids 1 .. MAX - 1 */

/* ---- reading ------------------------------------------------------------------------- */

int za_stack_get(za_stack_id_t id, const uintptr_t **pcs) {
  *pcs = NULL;
  unsigned char *r = atomic_load_explicit(&za_depot_region, memory_order_acquire);
  if (id == 0 || r == NULL || id >= ZA_DEPOT_MAX_STACKS ||
      id > atomic_load_explicit(&za_depot.ids, memory_order_acquire))
    return 0;
  const za_depot_entry_t *e = entry_of(r, id);
  if (e == NULL) return 0;
  *pcs = e->pcs;
  return (int)e->depth;
}
