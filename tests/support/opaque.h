/* Test support: values the compiler must not reason about - what the allocator returns
 * (alloc_align, malloc attributes) or the sizes passed (alloc_size warnings for deliberate
 * overflows) - so that every call reaches the allocator as written. Header-only. */
#ifndef ZA_TEST_OPAQUE_H
#define ZA_TEST_OPAQUE_H
#include <stddef.h>

static inline void *launder(void *p) {
  __asm__ volatile("" : "+r"(p));
  return p;
}
static inline size_t opaque(size_t n) {
  __asm__ volatile("" : "+r"(n));
  return n;
}
#endif
