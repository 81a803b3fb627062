/* zalloc - large blocks: each in its own mapping, resized with mremap (growing by half as much
 * again, so a buffer realloc'ed a page at a time is not remapped a page at a time), returned
 * to the OS on free except for a few kept for reuse (at most 32 MiB, each at most 8 MiB). Shared by the backends for requests above their size threshold and for alignments
 * their chunks cannot serve. Bookkeeping is out of band, in an open-addressing table keyed by
 * the block's address, so a foreign or interior pointer is never dereferenced; a ring of
 * recently unmapped blocks turns a second free of one into a reported double free. A
 * mapping ends with an inaccessible page (the first 8,192 that exist at once: large.c): an
 * overflow off a block's end faults in the program instead of running on into the next
 * mapping, which may be zalloc's metadata. */
#ifndef ZA_LARGE_H
#define ZA_LARGE_H
#include "backend.h"

/* `flags`: ZA_ALLOC_*; `meta`: what a checking backend records with the block (its kind,
 * alloc_stack and alloc_tid are kept and given back in every za_block_info_t), or NULL. */
void *za_large_alloc(size_t size, size_t align, unsigned flags, const za_block_info_t *meta);
/* LIVE (and info) if `p` is a live large block; FREED if it is one we unmapped recently;
 * FOREIGN otherwise. */
za_block_state_t za_large_lookup(const void *p, za_block_info_t *info);
/* `free_stack` and `free_tid` are remembered with the freed block (a later double free shows
 * them). */
za_block_state_t za_large_free(void *p, za_block_info_t *info, za_stack_id_t free_stack, int free_tid);
/* Resize `p` if it is a live large block (mremap; may move): its state as za_large_lookup
 * gives it, and in *resized its new address, or NULL (p intact) if that failed. */
za_block_state_t za_large_resize(void *p, size_t new_size, za_block_info_t *info, void **resized);
size_t za_large_mapped_bytes(void);
/* Every live large block, under the lock: `fn` must not allocate. `internal` tells blocks
 * allocated with ZA_ALLOC_INTERNAL. */
void za_large_for_each(void (*fn)(void *ctx, void *p, const za_block_info_t *info, bool internal),
                       void *ctx);
/* The live or recently freed large block whose mapping holds `addr`, or that `addr` is within a
 * page of (before its start, or past its mapping's end); FOREIGN if none, or if the lock stayed
 * busy (it is only tried: a signal handler calls this). `info->size` is the block's size as
 * recorded (with any guard room the backend added). */
za_block_state_t za_large_locate(uintptr_t addr, uintptr_t *start, za_block_info_t *info);
bool za_large_trim(void);           /* unmap the kept mappings; true if there were any */
void za_large_fork_prepare(void);
void za_large_fork_parent(void);
void za_large_fork_child(void);
#endif
