/* zalloc - the segment map: one bit per 4 MiB of address space, set while zalloc owns that
 * segment (a backend's chunk). It answers "may I read the metadata next to this pointer?"
 * without touching the pointer, so free() of a foreign pointer can never fault. The bitmap
 * for the whole 47-bit user address space is 4 MiB of reserved address space, of which only
 * the pages covering segments in use are ever touched. */
#ifndef ZA_SEGMAP_H
#define ZA_SEGMAP_H
#include "common.h"

#define ZA_SEGMENT_SHIFT 22
#define ZA_SEGMENT_SIZE  ((size_t)1 << ZA_SEGMENT_SHIFT)
#define ZA_SEGMAP_BITS   ((size_t)1 << (47 - ZA_SEGMENT_SHIFT))

extern _Atomic uint64_t *za_segmap;

bool za_segmap_init(void);
void za_segmap_set(void *segment, bool owned);

static inline bool za_segmap_owns(const void *p) {
  uintptr_t s = (uintptr_t)p >> ZA_SEGMENT_SHIFT;
  if (za_unlikely(s >= ZA_SEGMAP_BITS)) return false;
  uint64_t word = atomic_load_explicit(&za_segmap[s / 64], memory_order_relaxed);
  return (word >> (s % 64)) & 1;
}

static inline uintptr_t za_segment_of(const void *p) {
  return (uintptr_t)p & ~(uintptr_t)(ZA_SEGMENT_SIZE - 1);
}
#endif
