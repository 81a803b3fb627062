/* zalloc - segments and pages: the memory of the heap core (heap.h).
 *
 * A segment is 4 MiB of address space, aligned to 4 MiB, cut into pages of one size: 64 KiB
 * for small blocks, up to 1 MiB for the biggest classes (a page holds at least eight blocks).
 * A page serves one size class at a time and belongs to one thread's heap while it does.
 *
 * Everything zalloc knows about a segment lives out of band, in a descriptor (its own
 * mapping): the page descriptors, and the backend's per-slot extension (the GPA's records),
 * reserved for the whole segment and touched only where used. The segment table maps an
 * address's 4 MiB segment number to its descriptor, so "is this pointer zalloc's, and what is
 * it?" is one load that never touches the pointer itself: a foreign pointer is never
 * dereferenced, and a heap overflow can reach other blocks but never the allocator's
 * metadata (the way musl's mallocng keeps its metadata out of band): a segment is followed
 * by an inaccessible page (za_os_map_fenced), so an overflow off its last block faults in the
 * program instead of running on into the mapping after it.
 *
 * Free pages wait in a pool per page size, keeping their memory for a while (segment.c: a page
 * unused for half a second gives it back to the OS, MADV_DONTNEED, and reads as zero when used
 * again). */
#ifndef ZA_SEGMENT_H
#define ZA_SEGMENT_H
#include "common.h"
#include "sizeclass.h"

#define ZA_SEGMENT_SHIFT 22
#define ZA_SEGMENT_SIZE  ((size_t)1 << ZA_SEGMENT_SHIFT)
#define ZA_PAGE_SHIFT_MIN 16                 /* 64 KiB pages */
#define ZA_PAGE_SHIFT_MAX 20                 /* 1 MiB pages */
#define ZA_PAGE_KINDS (ZA_PAGE_SHIFT_MAX - ZA_PAGE_SHIFT_MIN + 1)
#define ZA_SEGMENT_PAGES_MAX (ZA_SEGMENT_SIZE >> ZA_PAGE_SHIFT_MIN)
/* Address bits the table covers: the x86-64 user address space. */
#define ZA_ADDRESS_BITS 47

/* A free block, as the core keeps it: the next free block of its page. The arena also keeps a
 * key in the second word (a double free finds it there). */
typedef struct za_block {
  struct za_block *next;
  uintptr_t key;
} za_block_t;

struct za_heap;

#define ZA_NO_CLASS 0xffu

/* Page flags (za_page_t.flags, written by the page's owner only). */
#define ZA_PAGE_IN_QUEUE 1u   /* on its heap's queue of pages with free blocks */
#define ZA_PAGE_IN_FULL  2u   /* on its heap's list of full pages */
#define ZA_PAGE_IN_UNFULL 4u  /* on its heap's list of pages freed into since they were full */

typedef struct za_page {
  /* The first cache line: what malloc and free touch. */
  _Alignas(64) za_block_t *free;  /* ready to hand out: the owner's frees, newest first */
  uint32_t used;                  /* handed out, minus those freed onto `free` */
  uint32_t block_size;
  uint8_t flags;                  /* ZA_PAGE_IN_* (the owner's) */
  uint8_t cls;                    /* its class while it serves one, else ZA_NO_CLASS */
  uint8_t shift;                  /* log2 of the page size */
  uint8_t unused;
  uint32_t recip;                 /* 2^32 / block_size, rounded up: index = off * recip >> 32 */
  struct za_heap *_Atomic heap;   /* the owner; NULL when abandoned or in the pool */
  _Atomic uintptr_t thread_free;  /* freed by other threads: a list and a state (heap.c) */
  uintptr_t start;                /* the page's first block */
  uintptr_t bump;                 /* blocks never handed out: [bump, end) */
  /* The rest: the slow paths'. */
  uintptr_t end;
  uint32_t capacity;              /* blocks that fit */
  uint32_t epoch;                 /* za_epoch when it started serving its class */
  uint32_t ext_epoch;             /* the backend's: when it last reset the page's extension */
  bool committed;                 /* its memory was not given back since last use */
  uint32_t pool_ms;               /* when it entered the pool (za_os_now_ms) */
  bool zeroed;                    /* [bump, end) reads as zero (fresh or given back) */
  struct za_page *next, *prev;    /* heap queue, full list, pool or abandoned list */
  void *ext;                      /* the backend's per-slot extension for this page */
} za_page_t;
_Static_assert(offsetof(za_page_t, bump) < 64, "what free reads is in the first cache line");

typedef struct za_page_list { za_page_t *first, *last; } za_page_list_t;

typedef struct za_segment {
  uintptr_t base;
  uint8_t shift;                  /* page size of this segment's pages */
  uint32_t npages;
  struct za_segment *next;        /* every segment, newest first */
  unsigned char *ext;             /* backend extension for the whole segment (reserved) */
  za_page_t pages[ZA_SEGMENT_PAGES_MAX];
} za_segment_t;

/* By segment number; NULL where the memory is not a segment of ours. Reserved address space:
 * reading any entry is safe (untouched pages read as zero). */
extern za_segment_t **za_segment_table;

/* Once, at start-up. `ext_bits_per_16` is the backend's extension per 16 bytes of segment
 * memory, in bits (0: none): the GPA keeps a record per slot, the arena a bit. False if the
 * address space could not be reserved. */
bool za_segment_init(unsigned ext_bits_per_16);

static inline za_segment_t *za_segment_find(const void *p) {
  uintptr_t s = (uintptr_t)p >> ZA_SEGMENT_SHIFT;
  if (za_unlikely(s >= ((uintptr_t)1 << (ZA_ADDRESS_BITS - ZA_SEGMENT_SHIFT)))) return NULL;
  return za_segment_table[s];
}

/* The page `p` lies in, in segment `seg` (which za_segment_find gave for p). */
static inline za_page_t *za_segment_page(za_segment_t *seg, const void *p) {
  return &seg->pages[((uintptr_t)p & (ZA_SEGMENT_SIZE - 1)) >> seg->shift];
}

/* Index of the slot `p` lies in (may be >= capacity: past the last slot). */
static inline uint32_t za_page_slot(const za_page_t *pg, uintptr_t p) {
  return (uint32_t)(((uint64_t)(p - pg->start) * pg->recip) >> 32);
}
static inline uintptr_t za_page_slot_addr(const za_page_t *pg, uint32_t idx) {
  return pg->start + (uintptr_t)idx * pg->block_size;
}

/* The page size (as a shift) that serves class `c`. */
unsigned za_page_shift_for(unsigned c);

/* A free page of 2^shift bytes, from the pool or a new segment, set up for class `c` with no
 * owner; NULL if out of memory. */
za_page_t *za_page_take(unsigned shift, unsigned c);
/* Every block of `pg` is free and no heap owns it: back to the pool. */
void za_page_give(za_page_t *pg);

/* Every page serving a class (owned or abandoned), under the segment lock: `fn` must not
 * allocate through the core. For the walks at exit (leak check, guard checks). */
void za_segment_for_each_page(void (*fn)(void *ctx, za_page_t *pg), void *ctx);
/* Give every pooled page's memory back. True if anything went. */
bool za_segment_trim(void);
/* Bytes of pages the heap holds: in use, or pooled with their memory. Address space reserved
 * for segments but never touched, or given back, is not counted. */
size_t za_segment_mapped_bytes(void);

void za_segment_fork_prepare(void);
void za_segment_fork_parent(void);
void za_segment_fork_child(void);
#endif
