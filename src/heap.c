/* zalloc - the heap core (see heap.h). */
#include "heap.h"
#include "lock.h"
#include "prim.h"

#include <string.h>

za_page_t za_page_empty = {.cls = ZA_NO_CLASS, .shift = ZA_PAGE_SHIFT_MIN};
uintptr_t za_heap_secret;
void (*za_heap_corrupt_hook)(const void *where);
void (*za_heap_carve_hook)(za_page_t *pg, uintptr_t first, uint32_t n);
uint8_t za_class_small[ZA_SMALL_MAX / 16 + 1];

/* Pages whose heap's thread exited while they still held live blocks, per class. */
static za_lock_t abandoned_lock = ZA_LOCK_INIT;
static za_page_list_t abandoned[ZA_NCLASS];

/* Blocks carved from a page's untouched end at a time: about one OS page's worth, so the
 * carving touches memory only just before it is handed out. */
#define CARVE_BYTES 4096u
#define CARVE_MIN   4u

void za_heap_init(void) {
  for (size_t i = 0; i <= ZA_SMALL_MAX / 16; i++) za_class_small[i] = (uint8_t)za_class_of(i ? i * 16 : 1);
  za_heap_secret = (uintptr_t)za_os_random_seed() | 1;
}

void za_heap_new(za_heap_t *h) {
  memset(h, 0, sizeof *h);
  for (unsigned c = 0; c < ZA_NCLASS; c++) h->direct[c] = &za_page_empty;
}

/* ---- page lists ---------------------------------------------------------------------------- */

static void list_append(za_page_list_t *l, za_page_t *pg) {
  pg->next = NULL;
  pg->prev = l->last;
  if (l->last) l->last->next = pg;
  else l->first = pg;
  l->last = pg;
}

static void list_prepend(za_page_list_t *l, za_page_t *pg) {
  pg->prev = NULL;
  pg->next = l->first;
  if (l->first) l->first->prev = pg;
  else l->last = pg;
  l->first = pg;
}

static void list_remove(za_page_list_t *l, za_page_t *pg) {
  if (pg->prev) pg->prev->next = pg->next;
  else l->first = pg->next;
  if (pg->next) pg->next->prev = pg->prev;
  else l->last = pg->prev;
  pg->next = pg->prev = NULL;
}

#define TF_NORMAL    0u
#define TF_NOTIFY    1u
#define TF_NOTIFYING 2u
#define TF_STATE(w)  ((w) & 3u)
#define TF_LIST(w)   ((za_block_t *)((w) & ~(uintptr_t)3))

static inline void set_direct(za_heap_t *h, unsigned c) {
  h->direct[c] = h->queue[c].first ? h->queue[c].first : &za_page_empty;
}

/* ---- broken links ---------------------------------------------------------------------------- */

static _Atomic size_t links_broken;

/* `b`'s link points outside its page: the block was written to after it was freed. Keep `b`
 * (it is inside the page: it was checked when it was reached), drop what followed it. */
ZA_COLD za_block_t *za_heap_link_broken(za_page_t *pg, za_block_t *b) {
  (void)pg;
  atomic_fetch_add_explicit(&links_broken, 1, memory_order_relaxed);
  if (za_heap_corrupt_hook) za_heap_corrupt_hook(b);
  return NULL;
}

/* The block at the head of `pg`'s list does not hold its key (it was written to after it was
 * freed, its link included, or it is on the list twice and was handed out already): neither it
 * nor what follows it is handed out. */
ZA_COLD void za_heap_alloc_bad(za_heap_t *h, unsigned c, za_page_t *pg, za_block_t *b) {
  (void)h;
  (void)c;
  za_heap_link_broken(pg, b);
  pg->free = NULL;
}

/* ---- refilling a page's free list ------------------------------------------------------------ */

/* Take the other threads' frees onto the front of `free`; the word's state stays. */
static bool take_thread_free(za_page_t *pg) {
  uintptr_t tf = atomic_load_explicit(&pg->thread_free, memory_order_relaxed);
  do {
    if (TF_LIST(tf) == NULL) return false;
  } while (!atomic_compare_exchange_weak_explicit(&pg->thread_free, &tf, TF_STATE(tf),
                                                  memory_order_acquire, memory_order_relaxed));
  za_block_t *list = TF_LIST(tf);
  uint32_t n = 1;
  za_block_t *tail = list;
  for (;;) {
    za_block_t *next = tail->next;
    if (za_unlikely(!za_heap_link_ok(pg, tail, next) || n > pg->capacity)) {
      /* Broken, or a cycle (a block two threads freed at once): cut it here. */
      za_heap_link_broken(pg, tail);
      break;
    }
    if (!next) break;
    tail = next;
    n++;
  }
  tail->next = pg->free;
  tail->key = za_heap_key(tail, pg->free);
  pg->free = list;
  pg->used -= n < pg->used ? n : pg->used;
  return true;
}

/* Carve fresh blocks from the untouched end into `free` (which is empty). */
static bool carve(za_page_t *pg) {
  if (pg->bump >= pg->end) return false;
  uint32_t bs = pg->block_size;
  uint32_t n = CARVE_BYTES / bs;
  if (n < CARVE_MIN) n = CARVE_MIN;
  uint32_t left = (uint32_t)((pg->end - pg->bump) / bs);
  if (n > left) n = left;
  uintptr_t b = pg->bump;
  if (za_heap_carve_hook) za_heap_carve_hook(pg, b, n);
  for (uint32_t i = 1; i < n; i++, b += bs) {
    ((za_block_t *)b)->next = (za_block_t *)(b + bs);
    ((za_block_t *)b)->key = za_heap_key((void *)b, (void *)(b + bs));
  }
  ((za_block_t *)b)->next = NULL;
  ((za_block_t *)b)->key = za_heap_key((void *)b, NULL);
  pg->free = (za_block_t *)pg->bump;
  pg->bump = b + bs;
  return true;
}

/* Give `free` (which is empty) blocks again: the owner's own frees first, then other
 * threads', then fresh ones. False if the page has none left. */
static bool refill(za_page_t *pg) {
  return take_thread_free(pg) || carve(pg);
}

/* ---- full pages and frees from other threads -------------------------------------------------
 * A page's thread_free word is a list of blocks and, in its two low bits, a state:
 *   TF_NORMAL    a free from another thread pushes onto the list;
 *   TF_NOTIFY    the owner set the page aside as full: the next free from another thread
 *                tells the owner instead, by pushing its block onto the owner heap's `delayed`
 *                list (the owner frees it into the page itself, and the page is back in use);
 *   TF_NOTIFYING that free is under way; others push onto the list meanwhile.
 * The owner sets TF_NOTIFY with a compare-and-swap that expects an empty list, so a page with
 * frees waiting is never set aside, and a free into a page set aside always reaches its owner:
 * one notification per time the page fills, one free's worth of work per block. */

/* `pg` (the queue's first page) has nothing left: set it aside, unless another thread freed
 * into it meanwhile (those blocks are taken instead). */
static bool set_aside(za_heap_t *h, unsigned c, za_page_t *pg) {
  uintptr_t expect = TF_NORMAL;
  if (!atomic_compare_exchange_strong(&pg->thread_free, &expect, TF_NOTIFY)) return false;
  list_remove(&h->queue[c], pg);
  pg->flags = ZA_PAGE_IN_FULL;
  list_append(&h->full[c], pg);
  set_direct(h, c);
  return true;
}

/* Set the page's thread_free state to `state`, keeping its list. */
static void tf_set_state(za_page_t *pg, uintptr_t state) {
  uintptr_t tf = atomic_load_explicit(&pg->thread_free, memory_order_relaxed);
  while (TF_STATE(tf) != state &&
         !atomic_compare_exchange_weak(&pg->thread_free, &tf, (uintptr_t)TF_LIST(tf) | state)) {
  }
}

/* The owner freed into `pg`, a page set aside as full: it waits on the `unfull` list. No
 * atomic instruction: the page stays set aside for other threads until it is requeued. */
static void to_unfull(za_heap_t *h, unsigned c, za_page_t *pg) {
  list_remove(&h->full[c], pg);
  pg->flags = ZA_PAGE_IN_UNFULL;
  list_append(&h->unfull[c], pg);
}

/* The queue of class `c` ran dry: the pages freed into since they were full go back to it,
 * and frees from other threads into them go to their lists again. False if there were none. */
static bool requeue_unfull(za_heap_t *h, unsigned c) {
  za_page_t *pg = h->unfull[c].first;
  if (!pg) return false;
  for (za_page_t *next; pg; pg = next) {
    next = pg->next;
    pg->flags = ZA_PAGE_IN_QUEUE;
    list_append(&h->queue[c], pg);
    /* A free from another thread that is notifying finishes on its own (it sets NORMAL). */
    uintptr_t expect = atomic_load_explicit(&pg->thread_free, memory_order_relaxed);
    while (TF_STATE(expect) == TF_NOTIFY &&
           !atomic_compare_exchange_weak(&pg->thread_free, &expect, (uintptr_t)TF_LIST(expect))) {
    }
  }
  h->unfull[c].first = h->unfull[c].last = NULL;
  set_direct(h, c);
  return true;
}

void za_heap_free_remote(za_page_t *pg, za_block_t *b) {
  uintptr_t tf = atomic_load_explicit(&pg->thread_free, memory_order_relaxed);
  for (;;) {
    if (za_unlikely(TF_STATE(tf) == TF_NOTIFY)) {
      if (!atomic_compare_exchange_weak(&pg->thread_free, &tf, (uintptr_t)TF_LIST(tf) | TF_NOTIFYING))
        continue;
      za_heap_t *owner = atomic_load_explicit(&pg->heap, memory_order_acquire);
      if (owner) {
        uintptr_t head = atomic_load_explicit(&owner->delayed, memory_order_relaxed);
        do {
          b->next = (za_block_t *)head;
          b->key = za_heap_key_delayed(b, b->next);
        } while (!atomic_compare_exchange_weak_explicit(&owner->delayed, &head, (uintptr_t)b,
                                                        memory_order_release, memory_order_relaxed));
        tf_set_state(pg, TF_NORMAL);
        return;
      }
      tf_set_state(pg, TF_NORMAL);   /* abandoned meanwhile: the list will do */
      tf = atomic_load_explicit(&pg->thread_free, memory_order_relaxed);
    }
    b->next = TF_LIST(tf);
    b->key = za_heap_key(b, b->next);
    if (atomic_compare_exchange_weak_explicit(&pg->thread_free, &tf, (uintptr_t)b | TF_STATE(tf),
                                              memory_order_release, memory_order_relaxed))
      return;
  }
}

/* The page of `b` if it is a block waiting on a `delayed` list: the start of a slot handed
 * out from a page serving a class, holding the delayed key; else NULL. Links on that list are
 * written in freed blocks, where a write after free can reach them: each is checked before it
 * is followed, and a block taken from the list loses the key, so a link back to one already
 * taken (a cycle) is not followed either. Reads only inside the page. */
static za_page_t *delayed_page(za_block_t *b) {
  za_segment_t *seg = za_segment_find(b);
  if (!seg || ((uintptr_t)b & 15)) return NULL;
  za_page_t *pg = za_segment_page(seg, b);
  uintptr_t a = (uintptr_t)b;
  if (pg->cls == ZA_NO_CLASS || a < pg->start || a >= pg->bump ||
      za_page_slot_addr(pg, za_page_slot(pg, a)) != a || !za_heap_keyed(b, true))
    return NULL;
  return pg;
}

/* Blocks other threads freed into this heap's full pages: freed here, which puts their pages
 * back in use. A block whose page this heap no longer owns (the heap's thread exited and a new
 * one took the heap over) goes to that page's list. A broken link is reported and what
 * follows it dropped. */
static bool take_delayed(za_heap_t *h) {
  if (atomic_load_explicit(&h->delayed, memory_order_relaxed) == 0) return false;
  za_block_t *b = (za_block_t *)atomic_exchange_explicit(&h->delayed, 0, memory_order_acquire);
  bool any = b != NULL;
  za_page_t *pg = b ? delayed_page(b) : NULL;
  if (za_unlikely(b && !pg)) za_heap_link_broken(NULL, b);  /* its key was overwritten */
  while (pg) {
    za_block_t *next = b->next;
    za_heap_free(h, pg, b);
    if (!next) break;
    za_page_t *npg = delayed_page(next);
    if (za_unlikely(!npg)) {
      za_heap_link_broken(pg, b);
      break;
    }
    b = next;
    pg = npg;
  }
  return any;
}

/* ---- abandoned pages ----------------------------------------------------------------------- */

static bool reclaim(za_heap_t *h, unsigned c) {
  if (!abandoned[c].first) return false;  /* a racy peek: a miss only costs a new page */
  za_lock(&abandoned_lock);
  za_page_t *pg = abandoned[c].first;
  if (pg) list_remove(&abandoned[c], pg);
  za_unlock(&abandoned_lock);
  if (!pg) return false;
  atomic_store_explicit(&pg->heap, h, memory_order_release);
  tf_set_state(pg, TF_NORMAL);
  pg->flags = ZA_PAGE_IN_QUEUE;
  list_prepend(&h->queue[c], pg);
  set_direct(h, c);
  return true;
}

/* `pg` loses its owner: pooled if nothing in it is live, else left for another heap. */
static void abandon_page(za_page_t *pg) {
  atomic_store(&pg->heap, NULL);
  tf_set_state(pg, TF_NORMAL);
  take_thread_free(pg);
  pg->flags = 0;
  if (pg->used == 0) {
    za_page_give(pg);
    return;
  }
  za_lock(&abandoned_lock);
  list_append(&abandoned[pg->cls], pg);
  za_unlock(&abandoned_lock);
}

void za_heap_abandon(za_heap_t *h) {
  take_delayed(h);
  for (unsigned c = 0; c < ZA_NCLASS; c++) {
    za_page_list_t *lists[3] = {&h->queue[c], &h->full[c], &h->unfull[c]};
    for (int k = 0; k < 3; k++)
      for (za_page_t *pg = lists[k]->first, *next; pg; pg = next) {
        next = pg->next;
        pg->next = pg->prev = NULL;
        abandon_page(pg);
      }
  }
  /* A free that read this heap as its page's owner just before the page was abandoned may
   * still land in `delayed`: kept for whichever thread takes this heap next. */
  uintptr_t late = atomic_exchange(&h->delayed, 0);
  za_heap_new(h);
  atomic_store(&h->delayed, late);
}

/* Abandoned pages whose blocks have all been freed (by other threads) go to the pool: what
 * malloc_trim does before giving pooled memory back. */
bool za_heap_trim_abandoned(void) {
  bool any = false;
  za_lock(&abandoned_lock);
  for (unsigned c = 0; c < ZA_NCLASS; c++)
    for (za_page_t *pg = abandoned[c].first, *next; pg; pg = next) {
      next = pg->next;
      take_thread_free(pg);
      if (pg->used != 0) continue;
      list_remove(&abandoned[c], pg);
      za_page_give(pg);
      any = true;
    }
  za_unlock(&abandoned_lock);
  return any;
}

/* ---- the slow paths ---------------------------------------------------------------------- */

static za_page_t *fresh_page(za_heap_t *h, unsigned c) {
  za_page_t *pg = za_page_take(za_page_shift_for(c), c);
  if (!pg) return NULL;
  atomic_store_explicit(&pg->heap, h, memory_order_release);
  pg->flags = ZA_PAGE_IN_QUEUE;
  list_prepend(&h->queue[c], pg);
  set_direct(h, c);
  return pg;
}

/* An empty page that is not the one its class allocates from goes back to the pool. */
static void retire(za_heap_t *h, za_page_t *pg) {
  unsigned c = pg->cls;
  if (pg->flags & ZA_PAGE_IN_FULL) list_remove(&h->full[c], pg);
  else if (pg->flags & ZA_PAGE_IN_UNFULL) list_remove(&h->unfull[c], pg);
  else list_remove(&h->queue[c], pg);
  set_direct(h, c);
  pg->flags = 0;
  za_page_give(pg);
}

ZA_NOINLINE void *za_heap_alloc_slow(za_heap_t *h, unsigned c) {
  for (;;) {
    za_page_t *pg = h->direct[c];
    za_block_t *head = pg->free;
    if (za_unlikely(head && !za_heap_keyed(head, false))) {
      za_heap_alloc_bad(h, c, pg, head);   /* reported, the list dropped */
      continue;
    }
    if (pg != &za_page_empty) {
      if (pg->free || refill(pg)) return za_heap_alloc(h, c);
      if (!set_aside(h, c, pg)) continue;     /* another thread freed into it: take those */
      continue;                               /* the next page of the queue */
    }
    if (take_delayed(h)) continue;
    if (requeue_unfull(h, c)) continue;
    if (reclaim(h, c)) continue;
    if (!fresh_page(h, c)) return NULL;
  }
}

/* A local free made `pg` empty, or freed into a page that was set aside as full. */
ZA_NOINLINE void za_heap_page_event(za_heap_t *h, za_page_t *pg) {
  unsigned c = pg->cls;
  if (pg->flags & ZA_PAGE_IN_FULL) to_unfull(h, c, pg);
  if (pg->used == 0 && h->direct[c] != pg) retire(h, pg);
}

/* ---- fork ------------------------------------------------------------------------------ */

void za_heap_fork_prepare(void) { za_lock(&abandoned_lock); }
void za_heap_fork_parent(void) { za_unlock(&abandoned_lock); }
void za_heap_fork_child(void) { za_lock_reset(&abandoned_lock); }
