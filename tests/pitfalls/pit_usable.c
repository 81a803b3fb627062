/* Pitfall: programs that believe malloc_usable_size. They write every byte it reports, then
 * realloc and expect all of it back (glibc copies the whole old chunk). A block starts as
 * malloc, calloc, aligned_alloc or memalign, and goes through sizes small and large, growing and
 * shrinking, across the arena / large-block boundary (256 KiB) and back; at every step the
 * bytes that must have survived are checked, and the new usable size is filled again. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pit_say.h"

static unsigned char pattern(unsigned step, size_t i) { return (unsigned char)(step * 31 + i * 7 + 1); }

static int check(const unsigned char *p, size_t n, unsigned step, const char *how, size_t size) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != pattern(step, i)) {
      say("mismatch: %s, step %u (size %zu), byte %zu of %zu\n", how, step, size, i, n);
      return 0;
    }
  return 1;
}

static const size_t sizes[] = {1,      17,     100,    4000,   262144, 262145, 300000,
                               1 << 20, 3 << 20, 50,   5000,   262000, 999999, 8,
                               0x10000, 24,     2 << 20, 100};

static int run(const char *how, unsigned char *p, size_t size, size_t align) {
  if (!p) return 0;
  unsigned step = 0;
  size_t usable = malloc_usable_size(p);
  if (usable < size || ((uintptr_t)p & (align - 1)) != 0) {
    say("%s: usable size %zu for %zu bytes at %p\n", how, usable, size, (void *)p);
    return 0;
  }
  for (size_t i = 0; i < usable; i++) p[i] = pattern(step, i);
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t new_size = sizes[k];
    unsigned char *q = realloc(p, new_size);
    if (!q) {
      say("%s: realloc to %zu failed\n", how, new_size);
      return 0;
    }
    if (!check(q, usable < new_size ? usable : new_size, step, how, new_size)) return 0;
    p = q;
    step++;
    usable = malloc_usable_size(p);
    if (usable < new_size) {
      say("%s: usable size %zu after realloc to %zu\n", how, usable, new_size);
      return 0;
    }
    for (size_t i = 0; i < usable; i++) p[i] = pattern(step, i);
  }
  free(p);
  return 1;
}

int main(void) {
  int ok = 1;
  /* Something after each block, so that growing in place is not always possible. */
  void *fence[4];
  unsigned char *p;
  p = malloc(10);
  fence[0] = malloc(10);
  ok &= run("malloc", p, 10, 16);
  p = calloc(3, 33);
  fence[1] = malloc(10);
  for (size_t i = 0; p && i < 99; i++) ok &= p[i] == 0;
  ok &= run("calloc", p, 99, 16);
  p = aligned_alloc(4096, 5000);
  fence[2] = malloc(10);
  ok &= run("aligned_alloc", p, 5000, 4096);
  p = memalign(64, 300000);
  fence[3] = malloc(10);
  ok &= run("memalign", p, 300000, 64);
  for (int i = 0; i < 4; i++) free(fence[i]);
  say("ok=%s\n", ok ? "yes" : "no");
  if (!ok) return 1;
  say("done\n");
  return 0;
}
