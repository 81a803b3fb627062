/* zalloc - the segment map (see segmap.h). */
#include "segmap.h"
#include "prim.h"

_Atomic uint64_t *za_segmap;

bool za_segmap_init(void) {
  za_segmap = za_os_reserve(ZA_SEGMAP_BITS / 8);
  return za_segmap != NULL;
}

void za_segmap_set(void *segment, bool owned) {
  uintptr_t s = (uintptr_t)segment >> ZA_SEGMENT_SHIFT;
  uint64_t bit = (uint64_t)1 << (s % 64);
  if (owned) atomic_fetch_or_explicit(&za_segmap[s / 64], bit, memory_order_release);
  else atomic_fetch_and_explicit(&za_segmap[s / 64], ~bit, memory_order_release);
}
