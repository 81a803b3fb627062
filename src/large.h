/* zalloc - large blocks: each in its own mapping, resized with mremap (growing by half as much
 * again, so a buffer realloc'ed a page at a time is not remapped a page at a time), returned
 * to the OS on free except for a few kept for reuse (at most 32 MiB, each at most 8 MiB). Shared by the backends for requests above their size threshold and for alignments
 * their chunks cannot serve. Bookkeeping is out of band, in an open-addressing table keyed by
 * the block's address, so a foreign or interior pointer is never dereferenced; a ring of
 * recently unmapped blocks turns a second free of one into a reported double free. */
#ifndef ZA_LARGE_H
#define ZA_LARGE_H
#include "backend.h"

void *za_large_alloc(size_t size, size_t align, unsigned flags); /* ZA_ALLOC_* flags */
/* LIVE (and info) if `p` is a live large block; FREED if it is one we unmapped recently;
 * FOREIGN otherwise. */
za_block_state_t za_large_lookup(const void *p, za_block_info_t *info);
za_block_state_t za_large_free(void *p, za_block_info_t *info);
/* Resize `p` if it is a live large block (mremap; may move): its state as za_large_lookup
 * gives it, and in *resized its new address, or NULL (p intact) if that failed. */
za_block_state_t za_large_resize(void *p, size_t new_size, za_block_info_t *info, void **resized);
size_t za_large_mapped_bytes(void);
bool za_large_trim(void);           /* unmap the kept mappings; true if there were any */
void za_large_fork_prepare(void);
void za_large_fork_parent(void);
void za_large_fork_child(void);
#endif
