/* zalloc - the stack depot: every distinct call stack stored once, named by a 32-bit id.
 *
 * Called on every checked malloc and free, from any thread, so lookups take no lock: an
 * open-addressing hash table of 64-bit slots, each 0 (empty) or (hash << 32 | id), probed
 * linearly. Inserting writes the stack into an append-only pool, records where it lies in
 * the id index, and only then publishes it with a compare-and-swap on the empty slot; a
 * reader that sees an id (acquire) sees its stack. Two threads inserting the same new stack
 * at once both write it; the loser of the slot returns the winner's id, and its copy is left
 * unused (its id still reads back correctly through za_stack_get).
 *
 * Memory: one reservation from za_os_reserve (address space; pages appear on first touch),
 * made on first use, never freed, never from malloc. Ids and stacks stay valid for the life
 * of the process and, as plain memory, in a forked child. Full (ZA_DEPOT_MAX_STACKS ids or
 * the pool's bytes used up): za_depot_put returns 0, "no stack". */
#include "depot.h"

#include "prim.h"

#define ZA_DEPOT_SLOTS      ((size_t)1 << 19)       /* hash slots, 8 bytes each: 4 MiB */
#define ZA_DEPOT_MAX_STACKS (ZA_DEPOT_SLOTS / 2)    /* load factor at most 1/2 */
#define ZA_DEPOT_POOL_BYTES ((size_t)64 << 20)      /* the stacks themselves */

typedef struct za_depot_entry {
  uint32_t hash;
  uint32_t depth;
  uintptr_t pcs[];
} za_depot_entry_t;

typedef struct za_depot {
  _Atomic uint64_t *slots;
  _Atomic uint32_t *index;      /* id -> (pool offset / 8) + 1; 0: not written */
  unsigned char *pool;
  _Alignas(64) atomic_uint next_id;
  _Alignas(64) atomic_size_t pool_used;
} za_depot_t;

static za_depot_t za_depot;
static _Atomic(void *) za_depot_region;

/* ---- memory -------------------------------------------------------------------------- */

static size_t region_size(void) {
  return ZA_DEPOT_SLOTS * sizeof(uint64_t) + ZA_DEPOT_MAX_STACKS * sizeof(uint32_t) +
         ZA_DEPOT_POOL_BYTES;
}

/* The reservation, made once by whichever thread gets here first. */
static atomic_flag za_depot_filling = ATOMIC_FLAG_INIT;

static bool depot_ready(void) {
  if (za_likely(atomic_load_explicit(&za_depot_region, memory_order_acquire) != NULL))
    return true;
  while (atomic_flag_test_and_set_explicit(&za_depot_filling, memory_order_acquire))
    za_os_yield();
  unsigned char *region = atomic_load_explicit(&za_depot_region, memory_order_relaxed);
  if (region == NULL && (region = za_os_reserve(region_size())) != NULL) {
    za_depot.slots = (_Atomic uint64_t *)region;
    za_depot.index = (_Atomic uint32_t *)(region + ZA_DEPOT_SLOTS * sizeof(uint64_t));
    za_depot.pool = region + ZA_DEPOT_SLOTS * sizeof(uint64_t) +
                    ZA_DEPOT_MAX_STACKS * sizeof(uint32_t);
    atomic_store_explicit(&za_depot.next_id, 1, memory_order_relaxed);
    atomic_store_explicit(&za_depot_region, region, memory_order_release);
  }
  atomic_flag_clear_explicit(&za_depot_filling, memory_order_release);
  return region != NULL;
}

/* The only lock is the one-time set-up's: a fork that caught another thread inside it
 * leaves it held in the child. */
void za_depot_fork_child(void) { atomic_flag_clear(&za_depot_filling); }

/* ---- hashing and comparing ----------------------------------------------------------- */

static uint32_t stack_hash(const uintptr_t *pcs, int n) {
  uint64_t h = (uint64_t)n * 0x9e3779b97f4a7c15u;
  for (int i = 0; i < n; i++) {
    h = (h ^ pcs[i]) * 0xff51afd7ed558ccdu;
    h ^= h >> 32;
  }
  return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

static const za_depot_entry_t *entry_of(za_stack_id_t id) {
  uint32_t at = atomic_load_explicit(&za_depot.index[id], memory_order_acquire);
  return at == 0 ? NULL : (const za_depot_entry_t *)(za_depot.pool + (size_t)(at - 1) * 8);
}

static bool entry_equals(const za_depot_entry_t *e, uint32_t hash, const uintptr_t *pcs, int n) {
  if (e == NULL || e->hash != hash || e->depth != (uint32_t)n) return false;
  for (int i = 0; i < n; i++)
    if (e->pcs[i] != pcs[i]) return false;
  return true;
}

/* ---- inserting ----------------------------------------------------------------------- */

/* A new id with the stack written out and indexed, not yet in the hash table; 0 if full. */
static za_stack_id_t store_new(uint32_t hash, const uintptr_t *pcs, int n) {
  size_t bytes = sizeof(za_depot_entry_t) + (size_t)n * sizeof(uintptr_t);
  size_t at = atomic_fetch_add_explicit(&za_depot.pool_used, bytes, memory_order_relaxed);
  if (at + bytes > ZA_DEPOT_POOL_BYTES) return 0;
  uint32_t id = atomic_fetch_add_explicit(&za_depot.next_id, 1, memory_order_relaxed);
  if (id >= ZA_DEPOT_MAX_STACKS) return 0;
  za_depot_entry_t *e = (za_depot_entry_t *)(za_depot.pool + at);
  e->hash = hash;
  e->depth = (uint32_t)n;
  for (int i = 0; i < n; i++) e->pcs[i] = pcs[i];
  atomic_store_explicit(&za_depot.index[id], (uint32_t)(at / 8) + 1, memory_order_release);
  return id;
}

za_stack_id_t za_depot_put(const uintptr_t *pcs, int n) {
  if (n <= 0 || n > ZA_STACK_MAX_DEPTH || !depot_ready()) return 0;
  uint32_t hash = stack_hash(pcs, n);
  za_stack_id_t mine = 0;
  size_t mask = ZA_DEPOT_SLOTS - 1;
  for (size_t probe = 0, s = hash & mask; probe < ZA_DEPOT_SLOTS; probe++, s = (s + 1) & mask) {
    uint64_t v = atomic_load_explicit(&za_depot.slots[s], memory_order_acquire);
    while (v == 0) {
      if (mine == 0 && (mine = store_new(hash, pcs, n)) == 0) return 0;
      uint64_t want = (uint64_t)hash << 32 | mine;
      if (atomic_compare_exchange_strong_explicit(&za_depot.slots[s], &v, want,
                                                  memory_order_acq_rel, memory_order_acquire))
        return mine;
    }
    /* v: the slot's occupant (perhaps just written by another thread). */
    if ((uint32_t)(v >> 32) == hash && entry_equals(entry_of((za_stack_id_t)v), hash, pcs, n))
      return (za_stack_id_t)v;
  }
  return 0;
}

/* ---- reading ------------------------------------------------------------------------- */

int za_stack_get(za_stack_id_t id, const uintptr_t **pcs) {
  *pcs = NULL;
  if (id == 0 || atomic_load_explicit(&za_depot_region, memory_order_acquire) == NULL) return 0;
  if (id >= atomic_load_explicit(&za_depot.next_id, memory_order_acquire) ||
      id >= ZA_DEPOT_MAX_STACKS)
    return 0;
  const za_depot_entry_t *e = entry_of(id);
  if (e == NULL) return 0;
  *pcs = e->pcs;
  return (int)e->depth;
}
