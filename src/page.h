/* zalloc - guarded pages: every block on pages of its own, next to a page that faults on any
 * access, and freed blocks made inaccessible for a while (Electric Fence's idea, and Zig's
 * page allocator, with the GPA's records). The allocator behind ZALLOC_MODE=page (the backend
 * at the end of page.c: this allocator first, the GPA when it cannot serve) and behind the
 * GPA's samples (ZALLOC_SAMPLE: one allocation in about N comes here, as GWP-ASan does).
 *
 * A bad access to a guarded block faults at the instruction: the crash report (crash.c) finds
 * the block through the backend's locate(), which answers for these blocks too, and says
 * whether it was a read or a write, where it was, how far out, and the block's allocation and
 * free stacks; then the program dies as it would have.
 *
 * Layout: one reservation of address space, inaccessible, cut into chunks of 256 MiB; each
 * chunk serves one size class of slots (a class is a number of data pages, in steps of a
 * quarter; a slot is its data pages and one guard page). With ZALLOC_PAGE_ALIGN=end the guard
 * page is the slot's last page and a block ends as close to it as malloc's alignment allows
 * (at most 15 bytes between, filled with guard bytes and checked at free); with =start it is
 * the first page and the block starts right after it. Only the pages a block covers are made
 * accessible; the bytes of those pages outside the block are guard bytes, checked at free,
 * realloc and exit. Every slot has an out-of-band record (state, size, where the block lies,
 * kind, allocation and free stacks and threads).
 *
 * Freeing gives the block's pages back to the system and makes them inaccessible in one call;
 * the slot waits in a FIFO quarantine (ZALLOC_PAGE_QUARANTINE bytes of address space) before
 * its class may use it again, so an access after free faults for as long as it waits. A block
 * realloc grows gets room to grow where it is (it then starts its data pages, whatever the
 * alignment option says), so growing a buffer step by step does not copy it at every step.
 *
 * The kernel's map limit (vm.max_map_count, 65530 by default): a live block costs two
 * mappings (its accessible pages split the inaccessible reservation; freed pages merge back),
 * so at most (limit - the mappings the process had at start-up - an eighth of the limit for the
 * program) / 2 blocks are guarded at once. At that point one line says so in the log and
 * allocations are refused here (the caller falls back to the GPA's guard bytes) until guarded
 * blocks are freed; a kernel refusal (ENOMEM) is a fallback too. Blocks larger than a chunk
 * and zalloc's own blocks are never guarded.
 *
 * One lock guards slot allocation and the quarantine; records change state by compare-and-
 * swap (of two threads freeing a block, one wins); lookups take no lock. Fork: the lock is
 * taken before fork (runtime.c), and the child keeps the blocks. */
#ifndef ZA_PAGE_H
#define ZA_PAGE_H
#include "backend.h"

/* The reservation: [za_page_base, za_page_base + za_page_span); span 0 until it is made. */
extern uintptr_t za_page_base;
extern size_t za_page_span;

static inline bool za_page_owns(const void *p) {
  return (uintptr_t)p - za_page_base < za_page_span;
}

/* Reserve the address space (once; page mode and ZALLOC_SAMPLE). False, with one line in the
 * log, if it cannot be had: nothing is guarded then. */
bool za_page_init(void);
/* A guarded block, or NULL when this allocator cannot serve it now (map limit, no address
 * space, too large, zalloc's own): the caller uses another. As backend.h's alloc. */
void *za_page_alloc(za_thread_t *t, size_t size, size_t align, unsigned flags);
/* The backend contract for pointers za_page_owns (see backend.h). resize resizes only blocks
 * placed at the start of their data pages (see page.c). */
za_block_state_t za_page_lookup(const void *p, za_block_info_t *info);
za_block_state_t za_page_free(za_thread_t *t, void *p, za_block_info_t *info);
za_block_state_t za_page_resize(void *p, size_t new_size, za_block_info_t *info, void **resized);
za_block_state_t za_page_locate(uintptr_t addr, uintptr_t *start, za_block_info_t *info);
void za_page_for_each_live(void (*fn)(void *ctx, const za_live_block_t *b), void *ctx);
void za_page_check_all(void);
size_t za_page_mapped_bytes(void);

struct za_report;
void za_page_collect(struct za_report *r);   /* async-signal-safe */

void za_page_fork_prepare(void);
void za_page_fork_parent(void);
void za_page_fork_child(void);
#endif
