/* zalloc - the quarantine (see quarantine.h): freed GPA blocks wait here, filled with
 * ZA_FREED_BYTE, before their memory may be reused, so a write through a dangling pointer
 * changes the pattern (found when the block leaves, or at exit) instead of another block.
 *
 * First in, first out, bounded by ZALLOC_QUARANTINE bytes. A thread collects its frees in a
 * private batch; full batches join one global FIFO under a lock taken once per batch, and the
 * thread that pushes the total over the bound takes the oldest batches out and releases their
 * blocks, outside the lock. Batch nodes come from the OS and are recycled.
 *
 * A forked child starts with an empty quarantine: the parent's quarantined blocks (in the FIFO
 * and in every thread's batch) stay quarantined in the child for good - their memory is shared
 * with the parent until written, and releasing them would make the child copy pages it need
 * not touch while the parent's threads, still running, copy every page the child shares. */
#include "quarantine.h"
#include "gpa.h"
#include "lock.h"
#include "options.h"
#include "prim.h"
#include "stats.h"

#define NODE_SIZE 1024u
#define BATCH_N ((NODE_SIZE - 3 * sizeof(size_t)) / sizeof(uintptr_t))

struct za_qbatch {
  struct za_qbatch *next;
  uint32_t count, epoch;       /* epoch: za_epoch when the batch was started */
  size_t bytes;
  uintptr_t p[BATCH_N];
};

static za_lock_t lock = ZA_LOCK_INIT;
static za_qbatch_t *head, *tail; /* oldest first */
static size_t total;             /* bytes in the FIFO */
static za_qbatch_t *pool;        /* recycled nodes */

static za_qbatch_t *node_get(void) {
  za_lock(&lock);
  za_qbatch_t *b = pool;
  if (b) pool = b->next;
  za_unlock(&lock);
  if (!b) {
    b = za_os_map(64 * NODE_SIZE);
    if (!b) return NULL;
    za_lock(&lock);
    for (size_t i = 1; i < 64; i++) {
      za_qbatch_t *n = (za_qbatch_t *)((char *)b + i * NODE_SIZE);
      n->next = pool;
      pool = n;
    }
    za_unlock(&lock);
  }
  b->next = NULL;
  b->count = 0;
  b->bytes = 0;
  b->epoch = atomic_load_explicit(&za_epoch, memory_order_relaxed);
  return b;
}

/* Append `b` to the FIFO and take out the oldest batches that no longer fit. */
static void publish(za_thread_t *t, za_qbatch_t *b) {
  za_qbatch_t *out = NULL, **out_tail = &out;
  za_lock(&lock);
  if (tail) tail->next = b;
  else head = b;
  tail = b;
  total += b->bytes;
  while (head && total > za_opt.quarantine) {
    za_qbatch_t *old = head;
    head = old->next;
    if (!head) tail = NULL;
    total -= old->bytes;
    old->next = NULL;
    *out_tail = old;
    out_tail = &old->next;
  }
  za_unlock(&lock);
  while (out) {
    za_qbatch_t *next = out->next;
    for (size_t i = 0; i < out->count; i++) za_gpa_release(t, out->p[i]);
    za_lock(&lock);
    out->next = pool;
    pool = out;
    za_unlock(&lock);
    out = next;
  }
}

/* A batch from before a fork: its blocks stay quarantined in this child (see the top). */
static bool inherited(const za_qbatch_t *b) {
  return b->epoch != atomic_load_explicit(&za_epoch, memory_order_relaxed);
}

bool za_quarantine_put(za_thread_t *t, za_qbatch_t **mine, uintptr_t p, size_t bytes) {
  za_qbatch_t *b = *mine;
  if (b && za_unlikely(inherited(b))) b = *mine = NULL;
  if (!b && (b = *mine = node_get()) == NULL) return false;
  b->p[b->count++] = p;
  b->bytes += bytes;
  if (b->count == BATCH_N || b->bytes >= za_opt.quarantine / 64) {
    *mine = NULL;
    publish(t, b);
  }
  return true;
}

void za_quarantine_flush(za_thread_t *t, za_qbatch_t **mine) {
  if (*mine) {
    za_qbatch_t *b = *mine;
    *mine = NULL;
    if (b->count && !inherited(b)) publish(t, b);
  }
}

void za_quarantine_fork_prepare(void) { za_lock(&lock); }
void za_quarantine_fork_parent(void) { za_unlock(&lock); }
void za_quarantine_fork_child(void) {
  za_lock_reset(&lock);
  head = tail = NULL;
  total = 0;
}
