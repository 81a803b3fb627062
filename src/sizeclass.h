/* zalloc - size classes of the heap core (heap.h): 88 classes from 16 bytes to 128 KiB,
 * every one a multiple of 16 (so every block is 16-byte aligned), eight 16 bytes apart up to
 * 128 and then eight per doubling (at most 12.5% of a block is slack, about 6% on average).
 * Every power of two is a class: a block of a power-of-two class is aligned to its size (pages
 * start on a multiple of their size), which is how aligned requests are served.
 *
 *   class  0..7   16, 32, ..., 128
 *   class  8..15  144, 160, ..., 256
 *   class 16..23  288, 320, ..., 512        ...and so on, eight per doubling, up to
 *   class 80..87  73728, 81920, ..., 131072
 *
 * Eight per doubling rather than four: sqlite3 on a 200,000-row dump peaked at 51.1 MB with
 * four (glibc: 39.8 MB), 47.5 MB with eight (bench/workloads/gen-sql.py). */
#ifndef ZA_SIZECLASS_H
#define ZA_SIZECLASS_H
#include "common.h"

#ifndef ZA_CLASS_STEPS
#define ZA_CLASS_STEPS  8                    /* classes per doubling above 128 bytes (4 or 8) */
#endif
#define ZA_CLASS_LOG    (ZA_CLASS_STEPS == 8 ? 3 : 2)
#define ZA_NCLASS       (8 + 10 * ZA_CLASS_STEPS)
#define ZA_CLASS_MAX    ((size_t)128 << 10)  /* the largest class; bigger blocks: large.c */
#define ZA_SMALL_MAX    ZA_CLASS_MAX         /* sizes with a direct class table (za_class_small) */

/* The class serving `n` bytes, 1 <= n <= ZA_CLASS_MAX. */
static inline unsigned za_class_of(size_t n) {
  if (n <= 128) return (unsigned)((n + 15) / 16 - 1);
  unsigned b = 63 - (unsigned)__builtin_clzl(n - 1);
  return 8 + (b - 7) * ZA_CLASS_STEPS + (unsigned)((n - 1) >> (b - ZA_CLASS_LOG)) - ZA_CLASS_STEPS;
}

static inline size_t za_class_size(unsigned c) {
  if (c < 8) return (size_t)(c + 1) * 16;
  unsigned b = 7 + (c - 8) / ZA_CLASS_STEPS, m = ZA_CLASS_STEPS + (c - 8) % ZA_CLASS_STEPS;
  return (size_t)(m + 1) << (b - ZA_CLASS_LOG);
}

/* The class of a request of at most ZA_SMALL_MAX bytes, by table: one load instead of a
 * bit scan on the allocation fast path. Indexed by (n + 15) / 16; filled by za_heap_init. */
extern uint8_t za_class_small[ZA_SMALL_MAX / 16 + 1];
static inline unsigned za_class_small_of(size_t n) { return za_class_small[(n + 15) >> 4]; }

/* The smallest power-of-two class of at least `n` bytes (n <= ZA_CLASS_MAX): its blocks are
 * aligned to their size. */
static inline unsigned za_class_pow2_of(size_t n) {
  size_t p = n <= 16 ? 16 : (size_t)1 << (64 - __builtin_clzl(n - 1));
  return za_class_of(p);
}
#endif
