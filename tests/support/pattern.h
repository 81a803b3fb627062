/* Test support: fill memory with a pattern derived from a seed, and find where it was lost.
 * Header-only, for the unit and conformance tests alike. */
#ifndef ZA_TEST_PATTERN_H
#define ZA_TEST_PATTERN_H
#include <stddef.h>
#include <stdint.h>

static inline uint8_t pat(size_t i, uint32_t seed) {
  return (uint8_t)(seed * 2654435761u + i * 7u + (i >> 8) * 31u + 1u);
}

static inline void fill(void *p, size_t n, uint32_t seed) {
  uint8_t *b = p;
  for (size_t i = 0; i < n; i++) b[i] = pat(i, seed);
}

/* Index of the first byte that differs from the pattern, or n. */
static inline size_t first_bad(const void *p, size_t n, uint32_t seed) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != pat(i, seed)) return i;
  return n;
}
#endif
