/* Conformance: this binary runs with libzalloc.so in LD_PRELOAD (see CMakeLists.txt) and
 * calls the standard names, checking the semantics glibc has on x86-64: alignment, errno,
 * overflow, malloc(0), realloc edge cases, usable size, calloc zeroing, and behaviour under
 * threads, fork and thread exit. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

#include "../support/opaque.h" /* launder, opaque */
#define MALLOC(n)           launder(malloc(opaque(n)))
#define CALLOC(n, m)        launder(calloc(opaque(n), opaque(m)))
#define REALLOC(p, n)       launder(realloc(launder(p), opaque(n)))
#define MEMALIGN(a, n)      launder(memalign(opaque(a), opaque(n)))
#define ALIGNED_ALLOC(a, n) launder(aligned_alloc(opaque(a), opaque(n)))
#define VALLOC(n)           launder(valloc(opaque(n)))
#define PVALLOC(n)          launder(pvalloc(opaque(n)))

#include "../support/pattern.h"

#define assert_pattern(p, n, seed, ...) cr_assert_eq(first_bad((p), (n), (seed)), (size_t)(n), __VA_ARGS__)

static bool all_zero(const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i]) return false;
  return true;
}

static uint64_t rng_next(uint64_t *s) {   /* xorshift64* */
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545f4914f6cdd1dull;
}

/* Mostly small, sometimes up to 300 KiB (past the 256 KiB large-block threshold). */
static size_t rand_size(uint64_t *s) {
  uint64_t r = rng_next(s);
  unsigned k = (unsigned)(r % 100);
  r >>= 8;
  if (k < 60) return (size_t)(r % 257);
  if (k < 90) return (size_t)(r % 4097);
  if (k < 98) return (size_t)(r % 65537);
  return (size_t)(r % (300 * KiB + 1));
}

static const size_t boundary_sizes[] = {
  0, 1, 2, 7, 8, 15, 16, 17, 24, 25, 31, 32, 33, 63, 64, 65, 255, 256, 257, 1023, 1024, 1025,
  4095, 4096, 4097, 65535, 65536, 65537, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1,
  MiB - 1, MiB, MiB + 1, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1,
};
#define N_BOUNDARY (sizeof boundary_sizes / sizeof boundary_sizes[0])

/* ---- zalloc is the allocator in use ------------------------------------------------------ */

Test(conformance, zalloc_is_preloaded) {
  void *sym = dlsym(RTLD_DEFAULT, "malloc");
  cr_assert_not_null(sym);
  Dl_info info;
  cr_assert_neq(dladdr(sym, &info), 0);
  cr_assert_not_null(info.dli_fname);
  cr_assert_not_null(strstr(info.dli_fname, "libzalloc.so"), "malloc comes from %s, not zalloc",
                     info.dli_fname);
  void *free_sym = dlsym(RTLD_DEFAULT, "free");
  cr_assert_neq(dladdr(free_sym, &info), 0);
  cr_assert_not_null(strstr(info.dli_fname, "libzalloc.so"), "free comes from %s", info.dli_fname);
  /* And the figures move the way zalloc counts: one block per malloc, of its usable size. Every
   * backend gives at least what was asked (the arena its size class, at most an eighth more;
   * the GPA exactly the request, so that a write past it hits the guard). */
  struct mallinfo2 before = mallinfo2();
  void *p = MALLOC(1000);
  struct mallinfo2 after = mallinfo2();
  size_t usable = malloc_usable_size(p);
  cr_assert_eq(after.uordblks - before.uordblks, usable);
  cr_assert_eq(after.ordblks - before.ordblks, 1);
  cr_assert_geq(usable, 1000, "malloc(1000): usable %zu", usable);
  cr_assert_leq(usable, 1000 + 1000 / 4, "malloc(1000): usable %zu", usable);
  free(p);
  cr_assert_eq(mallinfo2().uordblks, before.uordblks);
}

/* ---- alignment --------------------------------------------------------------------------- */

Test(conformance, every_pointer_is_16_byte_aligned) {
  void *p[N_BOUNDARY * 3];
  size_t k = 0;
  for (size_t i = 0; i < N_BOUNDARY; i++) {
    size_t n = boundary_sizes[i];
    p[k++] = MALLOC(n);
    p[k++] = CALLOC(1, n);
    p[k++] = REALLOC(NULL, n);
  }
  for (size_t i = 0; i < k; i++) {
    cr_assert_not_null(p[i]);
    cr_assert_eq((uintptr_t)p[i] % 16, 0, "%p (size %zu) is not 16-byte aligned", p[i],
                 boundary_sizes[i / 3]);
  }
  /* Odd sizes one after another. */
  void *q[512];
  for (size_t i = 0; i < 512; i++) {
    q[i] = MALLOC(i * 3 + 1);
    cr_assert_eq((uintptr_t)q[i] % 16, 0, "malloc(%zu) = %p", i * 3 + 1, q[i]);
  }
  for (size_t i = 0; i < 512; i++) free(q[i]);
  for (size_t i = 0; i < k; i++) free(p[i]);
}

Test(conformance, aligned_allocation_functions) {
  static const size_t sizes[] = {1, 100, 5000, 300 * KiB};
  for (size_t align = 16; align <= 2 * MiB; align *= 2) {
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      size_t n = sizes[s];
      void *spacer = MALLOC(24);
      void *a = NULL;
      cr_assert_eq(posix_memalign(&a, opaque(align), opaque(n)), 0, "posix_memalign(%zu, %zu)", align, n);
      a = launder(a);
      void *b = ALIGNED_ALLOC(align, n);
      void *c = MEMALIGN(align, n);
      void *blocks[] = {a, b, c};
      static const char *const names[] = {"posix_memalign", "aligned_alloc", "memalign"};
      for (int k = 0; k < 3; k++) {
        cr_assert_not_null(blocks[k], "%s(%zu, %zu)", names[k], align, n);
        cr_assert_eq((uintptr_t)blocks[k] % align, 0, "%s(%zu, %zu) = %p", names[k], align, n,
                     blocks[k]);
        size_t u = malloc_usable_size(blocks[k]);
        cr_assert_geq(u, n, "%s(%zu, %zu): usable %zu", names[k], align, n, u);
        fill(blocks[k], u, (uint32_t)(align + (size_t)k));
      }
      for (int k = 0; k < 3; k++)
        assert_pattern(blocks[k], malloc_usable_size(blocks[k]), (uint32_t)(align + (size_t)k),
                       "%s(%zu, %zu) block was overwritten", names[k], align, n);
      for (int k = 0; k < 3; k++) free(blocks[k]);
      free(spacer);
    }
  }
}

Test(conformance, posix_memalign_accepts_pointer_sized_alignment) {
  void *p = NULL;
  cr_assert_eq(posix_memalign(&p, opaque(sizeof(void *)), opaque(10)), 0);
  cr_assert_not_null(p);
  cr_assert_eq((uintptr_t)launder(p) % 16, 0);
  free(p);
  p = NULL;
  cr_assert_eq(posix_memalign(&p, opaque(64), opaque(0)), 0, "size 0 is allowed");
  cr_assert_not_null(p);
  free(p);
}

Test(conformance, valloc_and_pvalloc_are_page_aligned) {
  long page = sysconf(_SC_PAGESIZE);
  cr_assert_eq(page, 4096);
  static const size_t sizes[] = {0, 1, 100, 4095, 4096, 4097, 10000, 300 * KiB};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    void *v = VALLOC(n);
    cr_assert_not_null(v, "valloc(%zu)", n);
    cr_assert_eq((uintptr_t)v % 4096, 0, "valloc(%zu) = %p", n, v);
    cr_assert_geq(malloc_usable_size(v), n);
    void *pv = PVALLOC(n);
    cr_assert_not_null(pv, "pvalloc(%zu)", n);
    cr_assert_eq((uintptr_t)pv % 4096, 0, "pvalloc(%zu) = %p", n, pv);
    size_t rounded = (n + 4095) & ~(size_t)4095;   /* glibc rounds 0 to 0 */
    size_t u = malloc_usable_size(pv);
    cr_assert_geq(u, rounded, "pvalloc(%zu): usable %zu, expected at least %zu", n, u, rounded);
    memset(pv, 0x77, rounded);   /* the whole rounded size is the caller's */
    memset(v, 0x66, n);
    free(v);
    free(pv);
  }
}

Test(conformance, posix_memalign_rejects_bad_alignment) {
  static const size_t bad[] = {0, 1, 2, 3, 4, 8 / 2, 12, 24, 48, 100, 4097, SIZE_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    void *p = (void *)0x1234;
    errno = 0;
    int rc = posix_memalign(&p, opaque(bad[i]), opaque(64));
    cr_assert_eq(rc, EINVAL, "posix_memalign(%zu) returned %d", bad[i], rc);
    cr_assert_eq(p, (void *)0x1234, "posix_memalign(%zu) changed the out pointer", bad[i]);
  }
}

Test(conformance, aligned_alloc_rejects_non_power_of_two) {
  static const size_t bad[] = {0, 3, 24, 48, 100, 4097, SIZE_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    errno = 0;
    void *p = ALIGNED_ALLOC(bad[i], 64);
    cr_assert_null(p, "aligned_alloc(%zu) succeeded", bad[i]);
    cr_assert_eq(errno, EINVAL, "aligned_alloc(%zu): errno %d", bad[i], errno);
  }
}

Test(conformance, memalign_rounds_alignment_up) {
  static const size_t cases[][2] = {
    {24, 32}, {3, 16}, {5, 16}, {17, 32}, {48, 64}, {100, 128}, {1000, 1024},
    {4097, 8192}, {100000, 131072}, {(1 << 20) + 1, 2 << 20},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    void *p = MEMALIGN(cases[i][0], 100);
    cr_assert_not_null(p, "memalign(%zu)", cases[i][0]);
    cr_assert_eq((uintptr_t)p % cases[i][1], 0, "memalign(%zu, 100) = %p, not %zu-aligned",
                 cases[i][0], p, cases[i][1]);
    memset(p, 1, 100);
    free(p);
  }
  void *p = MEMALIGN(0, 10);
  cr_assert_not_null(p, "memalign(0) is malloc");
  cr_assert_eq((uintptr_t)p % 16, 0);
  free(p);
  errno = 0;
  cr_assert_null(MEMALIGN(SIZE_MAX / 2 + 2, 10));
  cr_assert_eq(errno, EINVAL);
}

Test(conformance, realloc_of_aligned_blocks_keeps_content) {
  static const size_t aligns[] = {32, 4096, 64 * KiB, 128 * KiB, MiB};
  static const size_t sizes[] = {10, 5000, 200 * KiB, 600 * KiB};
  for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++)
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      size_t n = sizes[s];
      void *p = NULL;
      cr_assert_eq(posix_memalign(&p, opaque(aligns[a]), opaque(n)), 0);
      p = launder(p);
      fill(p, n, (uint32_t)(a * 10 + s));
      unsigned char *q = REALLOC(p, 3 * n);
      cr_assert_not_null(q);
      assert_pattern(q, n, (uint32_t)(a * 10 + s), "align %zu: grow from %zu lost content", aligns[a], n);
      unsigned char *r = REALLOC(q, n / 2);
      cr_assert_not_null(r);
      assert_pattern(r, n / 2, (uint32_t)(a * 10 + s), "align %zu: shrink from %zu lost content", aligns[a], 3 * n);
      free(r);
    }
}

/* ---- sizes that cannot be satisfied ------------------------------------------------------ */

Test(conformance, overflowing_sizes_give_enomem) {
  errno = 0;
  cr_assert_null(CALLOC(SIZE_MAX / 2, 3));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(CALLOC(3, SIZE_MAX / 2));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(CALLOC((size_t)1 << 32, (size_t)1 << 32));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(MALLOC(SIZE_MAX));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(MALLOC((size_t)PTRDIFF_MAX + 1));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(MALLOC((size_t)PTRDIFF_MAX));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(MALLOC(SIZE_MAX - 4095));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(launder(reallocarray(NULL, opaque(SIZE_MAX / 2), opaque(3))));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(VALLOC(SIZE_MAX));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(PVALLOC(SIZE_MAX));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(PVALLOC(SIZE_MAX - 4095));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(MEMALIGN(64, SIZE_MAX));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(ALIGNED_ALLOC(4096, SIZE_MAX));
  cr_assert_eq(errno, ENOMEM);
  void *p = (void *)0x1234;
  cr_assert_eq(posix_memalign(&p, opaque(64), opaque(SIZE_MAX)), ENOMEM);
  cr_assert_eq(p, (void *)0x1234);
  cr_assert_eq(posix_memalign(&p, opaque(1 << 20), opaque(SIZE_MAX - (1 << 19))), ENOMEM);
  cr_assert_eq(p, (void *)0x1234);
}

Test(conformance, failed_realloc_keeps_the_block) {
  static const size_t sizes[] = {1, 100, 4096, 300 * KiB, 2 * MiB};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    void *p = MALLOC(n);
    cr_assert_not_null(p);
    fill(p, n, (uint32_t)n);
    size_t u = malloc_usable_size(p);
    errno = 0;
    cr_assert_null(REALLOC(p, SIZE_MAX), "realloc(%zu -> SIZE_MAX)", n);
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(REALLOC(p, (size_t)PTRDIFF_MAX + 1));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(REALLOC(p, (size_t)PTRDIFF_MAX));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(launder(reallocarray(launder(p), opaque(SIZE_MAX / 2), opaque(3))));
    cr_assert_eq(errno, ENOMEM);
    assert_pattern(p, n, (uint32_t)n, "a failed realloc of %zu bytes changed the block", n);
    cr_assert_eq(malloc_usable_size(p), u, "a failed realloc of %zu bytes changed the block", n);
    void *q = REALLOC(p, n + 1);   /* still a live, working block */
    cr_assert_not_null(q);
    assert_pattern(q, n, (uint32_t)n, "content lost");
    free(q);
  }
}

Test(conformance, zero_sized_requests) {
  enum { N = 100 };
  void *p[N];
  for (int i = 0; i < N; i++) {
    p[i] = MALLOC(0);
    cr_assert_not_null(p[i], "malloc(0) returned NULL");
    cr_assert_eq((uintptr_t)p[i] % 16, 0);
    for (int j = 0; j < i; j++) cr_assert_neq(p[i], p[j], "malloc(0) returned %p twice", p[i]);
  }
  for (int i = 0; i < N; i++) free(p[i]);
  void *c1 = CALLOC(0, 10), *c2 = CALLOC(10, 0), *c3 = CALLOC(0, SIZE_MAX);
  cr_assert_not_null(c1);
  cr_assert_not_null(c2);
  cr_assert_not_null(c3);
  cr_assert_neq(c1, c2);
  free(c1);
  free(c2);
  free(c3);
  void *a = launder(reallocarray(NULL, opaque(0), opaque(10)));
  cr_assert_not_null(a);
  free(a);
  free(NULL);
  cr_assert_eq(malloc_usable_size(NULL), 0);
}

Test(conformance, realloc_null_is_malloc) {
  struct mallinfo2 m0 = mallinfo2();
  void *p = REALLOC(NULL, 100);
  cr_assert_not_null(p);
  cr_assert_eq((uintptr_t)p % 16, 0);
  cr_assert_geq(malloc_usable_size(p), 100);
  cr_assert_eq(mallinfo2().ordblks, m0.ordblks + 1);
  fill(p, 100, 1);
  void *z = REALLOC(NULL, 0);
  cr_assert_not_null(z, "realloc(NULL, 0) is malloc(0): a unique pointer");
  cr_assert_neq(z, p);
  void *r = launder(reallocarray(NULL, opaque(10), opaque(10)));
  cr_assert_not_null(r);
  cr_assert_geq(malloc_usable_size(r), 100);
  assert_pattern(p, 100, 1, "");
  free(p);
  free(z);
  free(r);
  cr_assert_eq(mallinfo2().ordblks, m0.ordblks);
}

Test(conformance, realloc_to_zero_frees) {
  static const size_t sizes[] = {0, 1, 100, 4096, 300 * KiB};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    void *p = MALLOC(sizes[s]);
    cr_assert_not_null(p);
    struct mallinfo2 m0 = mallinfo2();
    size_t usable = malloc_usable_size(p);
    void *q = REALLOC(p, 0);
    cr_assert_null(q, "realloc(p, 0) returns NULL (glibc)");
    struct mallinfo2 m1 = mallinfo2();
    cr_assert_eq(m1.ordblks, m0.ordblks - 1, "realloc(p, 0) did not free p (size %zu)", sizes[s]);
    /* What malloc counted goes: the block's usable size (the request in the GPA, so 0 bytes
     * for malloc(0); its size class in the arena). */
    cr_assert_eq(m0.uordblks - m1.uordblks, usable, "size %zu: %zu bytes went, usable %zu",
                 sizes[s], m0.uordblks - m1.uordblks, usable);
  }
}

/* ---- usable size ------------------------------------------------------------------------- */

Test(conformance, usable_size_is_all_writable_and_kept_by_realloc) {
  for (size_t i = 0; i < N_BOUNDARY; i++) {
    size_t n = boundary_sizes[i];
    unsigned char *p = MALLOC(n);
    cr_assert_not_null(p);
    size_t u = malloc_usable_size(p);
    cr_assert_geq(u, n, "malloc(%zu): usable %zu", n, u);
    fill(p, u, (uint32_t)i);                        /* every usable byte */
    void *blocker = MALLOC(1);                      /* p cannot just grow in place */
    unsigned char *q = REALLOC(p, u + u / 2 + 32);
    cr_assert_not_null(q);
    assert_pattern(q, u, (uint32_t)i, "malloc(%zu): the %zu usable bytes did not survive realloc", n, u);
    free(blocker);
    /* Same at the top, where the block may grow in place. */
    size_t u2 = malloc_usable_size(q);
    fill(q, u2, (uint32_t)i + 1000);
    unsigned char *r = REALLOC(q, u2 + 1);
    cr_assert_not_null(r);
    assert_pattern(r, u2, (uint32_t)i + 1000, "growing from %zu usable bytes", u2);
    free(r);
  }
}

/* ---- calloc ------------------------------------------------------------------------------ */

Test(conformance, calloc_is_zero) {
  for (size_t i = 0; i < N_BOUNDARY; i++) {
    size_t n = boundary_sizes[i];
    unsigned char *p = CALLOC(1, n);
    cr_assert_not_null(p);
    cr_assert(all_zero(p, n), "calloc(1, %zu) not zero", n);
    free(p);
    p = CALLOC(n, 1);
    cr_assert(all_zero(p, n), "calloc(%zu, 1) not zero", n);
    free(p);
  }
  unsigned char *p = CALLOC(1000, 1000);
  cr_assert(all_zero(p, 1000000));
  free(p);
}

Test(conformance, calloc_is_zero_after_heavy_reuse) {
  uint64_t seed = 0x1234567;
  void *keep[64] = {0};
  for (int it = 0; it < 20000; it++) {
    size_t n = rand_size(&seed) % (70 * KiB);
    unsigned char *p = MALLOC(n);
    cr_assert_not_null(p);
    memset(p, 0xff, malloc_usable_size(p));
    if (it % 3 == 0) {   /* realloc it smaller, leaving dirty space behind */
      p = REALLOC(p, n / 4 + 1);
      cr_assert_not_null(p);
    }
    free(p);
    size_t m = (size_t)(rng_next(&seed) % 8) + 1, e = n / m + 1;
    unsigned char *c = CALLOC(m, e);
    cr_assert_not_null(c);
    cr_assert(all_zero(c, m * e), "iteration %d: calloc(%zu, %zu) over reused memory is not zero", it, m, e);
    memset(c, 0xee, m * e);
    /* Keep some blocks alive so the heap shape changes. */
    size_t slot = (size_t)(rng_next(&seed) % 64);
    if (it % 5 == 0) {
      free(keep[slot]);
      keep[slot] = c;
    } else {
      free(c);
    }
  }
  for (int i = 0; i < 64; i++) free(keep[i]);
}

/* ---- realloc content across size boundaries ---------------------------------------------- */

Test(conformance, realloc_preserves_content_across_boundaries) {
  for (int mode = 0; mode < 3; mode++) {   /* 0: at the top, 1: blocked, 2: alternate */
    unsigned char *p = MALLOC(1);
    fill(p, 1, 77);
    size_t have = 1;
    for (int dir = 0; dir < 2; dir++) {
      for (size_t k = 0; k < N_BOUNDARY; k++) {
        size_t i = dir == 0 ? k : N_BOUNDARY - 1 - k;
        size_t n = boundary_sizes[i];
        if (n == 0) continue;
        bool block = mode == 1 || (mode == 2 && k % 2);
        void *blocker = block ? MALLOC(16) : NULL;
        unsigned char *q = REALLOC(p, n);
        cr_assert_not_null(q, "realloc to %zu", n);
        cr_assert_eq((uintptr_t)q % 16, 0);
        size_t keep = have < n ? have : n;
        assert_pattern(q, keep, 77, "mode %d: realloc %zu -> %zu lost content", mode, have, n);
        cr_assert_geq(malloc_usable_size(q), n);
        fill(q, n, 77);
        have = n;
        p = q;
        free(blocker);
      }
    }
    free(p);
  }
}

Test(conformance, realloc_same_size_and_shrink_in_place) {
  unsigned char *p = MALLOC(1000);
  fill(p, 1000, 5);
  void *after = MALLOC(10);
  unsigned char *q = REALLOC(p, 1000);
  cr_assert_not_null(q);
  assert_pattern(q, 1000, 5, "same-size realloc lost content");
  unsigned char *r = REALLOC(q, 10);
  cr_assert_not_null(r);
  assert_pattern(r, 10, 5, "shrink lost content");
  free(after);
  free(r);
}

/* ---- threads ----------------------------------------------------------------------------- */

typedef struct rec {
  unsigned char *p;
  size_t n;
  uint32_t seed;
} rec_t;

#define NSLOTS 2048
#define NTHREADS 8
#define OPS_PER_THREAD 25000

static _Atomic(rec_t *) slots[NSLOTS];
static atomic_int stress_errors;
static atomic_flag stress_msg_taken = ATOMIC_FLAG_INIT;
static char stress_msg[256];

static void stress_fail(const char *what, const rec_t *r, size_t at) {
  atomic_fetch_add(&stress_errors, 1);
  if (!atomic_flag_test_and_set(&stress_msg_taken))
    snprintf(stress_msg, sizeof stress_msg, "%s: block %p of %zu bytes, byte %zu", what,
             (void *)r->p, r->n, at);
}

/* The bytes written in a block: all of a small one; both ends and every 251st byte of a big
 * one (so that 300 KiB blocks do not dominate the run time). */
static size_t sample_next(size_t i, size_t n) {
  if (n <= 4096 || i < 1024 || i + 1024 >= n) return i + 1;
  size_t nx = i + 251;
  return nx + 1024 > n ? n - 1024 : nx;
}
static void rec_fill(rec_t *r) {
  for (size_t i = 0; i < r->n; i = sample_next(i, r->n)) r->p[i] = pat(i, r->seed);
}
/* Check the bytes of the block's current layout below `limit`; SIZE_MAX when intact. */
static size_t rec_check(const rec_t *r, size_t limit) {
  for (size_t i = 0; i < r->n && i < limit; i = sample_next(i, r->n))
    if (r->p[i] != pat(i, r->seed)) return i;
  return SIZE_MAX;
}

static void rec_release(rec_t *r) {
  size_t bad = rec_check(r, SIZE_MAX);
  if (bad != SIZE_MAX) stress_fail("corrupted block", r, bad);
  free(r->p);
  free(r);
}

/* Put `r` in slot i; whatever was there is checked and freed (by this thread, whichever
 * thread allocated it). */
static void put(size_t i, rec_t *r) {
  rec_t *old = atomic_exchange(&slots[i], r);
  if (old) rec_release(old);
}

static void *stress_thread(void *arg) {
  uint64_t seed = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
  for (int op = 0; op < OPS_PER_THREAD; op++) {
    size_t i = (size_t)(rng_next(&seed) % NSLOTS);
    rec_t *r = atomic_exchange(&slots[i], NULL);
    unsigned what = (unsigned)(rng_next(&seed) % 4);
    if (!r) {
      r = malloc(sizeof *r);
      if (!r) { stress_fail("malloc of a record failed", &(rec_t){0}, 0); continue; }
      r->n = rand_size(&seed);
      r->seed = (uint32_t)rng_next(&seed);
      if (what == 0) {
        r->p = calloc(1, r->n);
        if (r->p && !all_zero(r->p, r->n)) stress_fail("calloc not zero", r, 0);
      } else if (what == 1) {
        r->p = memalign(64, r->n);
        if ((uintptr_t)r->p % 64) stress_fail("memalign(64) misaligned", r, 0);
      } else {
        r->p = malloc(r->n);
      }
      if (!r->p) { stress_fail("allocation failed", r, 0); free(r); continue; }
      if ((uintptr_t)r->p % 16) stress_fail("misaligned block", r, 0);
      if (malloc_usable_size(r->p) < r->n) stress_fail("usable size too small", r, 0);
      rec_fill(r);
      put(i, r);
    } else if (what == 0) {
      rec_release(r);
    } else {
      size_t bad = rec_check(r, SIZE_MAX);
      if (bad != SIZE_MAX) stress_fail("corrupted block before realloc", r, bad);
      size_t n = rand_size(&seed);
      unsigned char *q = realloc(r->p, n);
      if (n == 0) {   /* glibc: frees and returns NULL */
        if (q) stress_fail("realloc(p, 0) did not return NULL", r, 0);
        free(r);
        continue;
      }
      if (!q) { stress_fail("realloc failed", r, 0); free(r); continue; }
      size_t old_n = r->n;
      r->p = q;
      bad = rec_check(r, n < old_n ? n : old_n);
      if (bad != SIZE_MAX) stress_fail("realloc lost content", r, bad);
      r->n = n;
      r->seed = (uint32_t)rng_next(&seed);
      rec_fill(r);
      put(i, r);
    }
  }
  return NULL;
}

/* Allocates once, as every thread of the test will: per-thread memory made on a thread's
 * first allocation (dynamic TLS of the libraries the allocator uses) then stays with the
 * cached stack, like glibc's TLS vector. */
static void *idle_thread(void *arg) {
  free(malloc(1));
  return arg;
}

/* glibc keeps the stacks of joined threads, and with them blocks it allocated for each (the
 * TLS vector): create and join the threads a test will need once, so that what glibc keeps
 * is in place before the test takes its baseline. */
static void warm_thread_cache(int n) {
  for (int round = 0; round < 2; round++) {
    pthread_t th[16];
    for (int t = 0; t < n; t++) cr_assert_eq(pthread_create(&th[t], NULL, idle_thread, NULL), 0);
    for (int t = 0; t < n; t++) cr_assert_eq(pthread_join(th[t], NULL), 0);
  }
}

Test(conformance, threads_stress_with_cross_thread_frees, .timeout = 300) {
  warm_thread_cache(NTHREADS);
  struct mallinfo2 m0 = mallinfo2();
  pthread_t th[NTHREADS];
  for (uintptr_t t = 0; t < NTHREADS; t++)
    cr_assert_eq(pthread_create(&th[t], NULL, stress_thread, (void *)t), 0);
  for (int t = 0; t < NTHREADS; t++) cr_assert_eq(pthread_join(th[t], NULL), 0);
  size_t live = 0;
  for (size_t i = 0; i < NSLOTS; i++) {
    rec_t *r = atomic_exchange(&slots[i], NULL);
    if (r) {
      live++;
      rec_release(r);
    }
  }
  cr_assert_eq(atomic_load(&stress_errors), 0, "%d errors, first: %s", atomic_load(&stress_errors),
               stress_msg);
  cr_assert_gt(live, 0);
  struct mallinfo2 m1 = mallinfo2();
  cr_assert_eq(m1.ordblks, m0.ordblks, "blocks in use: %zu before, %zu after everything was freed",
               m0.ordblks, m1.ordblks);
  cr_assert_eq(m1.uordblks, m0.uordblks);
}

/* ---- fork -------------------------------------------------------------------------------- */

static atomic_bool hammer_stop;
static atomic_long hammer_ops;

static void *hammer(void *arg) {
  uint64_t seed = 0xabcdef12345ull * ((uintptr_t)arg + 7);
  void *ring[16] = {0};
  unsigned k = 0;
  while (!atomic_load_explicit(&hammer_stop, memory_order_relaxed)) {
    size_t n = rand_size(&seed);
    unsigned char *p = (rng_next(&seed) & 3) ? malloc(n) : calloc(1, n);
    if (p && n) p[0] = p[n - 1] = 0x42;
    if ((rng_next(&seed) & 7) == 0 && p) p = realloc(p, n + 100);
    free(ring[k % 16]);
    ring[k++ % 16] = p;
    atomic_fetch_add_explicit(&hammer_ops, 1, memory_order_relaxed);
  }
  for (int i = 0; i < 16; i++) free(ring[i]);
  return NULL;
}

static void *child_thread(void *arg) {
  int *ok = arg;
  for (int i = 0; i < 2000; i++) {
    unsigned char *p = malloc((size_t)(i % 500) + 1);
    if (!p) { *ok = 0; break; }
    p[0] = 1;
    free(p);
  }
  return NULL;
}

/* In the forked child: allocate, check, free; 0 if all went well. */
static int child_work(unsigned round) {
  uint64_t seed = 0x5555 + round;
  void *keep[32] = {0};
  for (int i = 0; i < 3000; i++) {
    size_t n = rand_size(&seed) % (40 * KiB);
    unsigned char *p = malloc(n);
    if (!p) return 10;
    fill(p, n, (uint32_t)i);
    unsigned char *q = realloc(p, n * 2 + 1);
    if (!q) return 11;
    if (first_bad(q, n, (uint32_t)i) != n) return 12;
    free(keep[i % 32]);
    keep[i % 32] = q;
  }
  for (int i = 0; i < 32; i++) free(keep[i]);
  unsigned char *big = calloc(1, 3 * MiB);
  if (!big || !all_zero(big, 3 * MiB)) return 13;
  free(big);
  void *a = NULL;
  if (posix_memalign(&a, 1 << 20, 100) != 0 || (uintptr_t)a % (1 << 20)) return 14;
  free(a);
  /* A thread in the child has its own heap. */
  int ok = 1;
  pthread_t th;
  if (pthread_create(&th, NULL, child_thread, &ok) != 0) return 15;
  pthread_join(th, NULL);
  if (!ok) return 16;
  return 0;
}

/* Wait for `pid` at most `seconds`; -1 (after killing it) if it did not finish. */
static int wait_child(pid_t pid, int seconds) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (r < 0) return -2;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= seconds) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -1;
    }
    usleep(1000);
  }
}

/* Timeouts in this file are for hangs, several times the slowest run seen on a loaded 2-core
 * machine: a fork from 8 busy threads there takes from 0.1 to over 1 s a round. */
Test(conformance, fork_while_threads_allocate, .timeout = 400) {
  pthread_t th[8];
  for (uintptr_t t = 0; t < 8; t++) cr_assert_eq(pthread_create(&th[t], NULL, hammer, (void *)t), 0);
  while (atomic_load(&hammer_ops) < 1000) usleep(100);   /* the threads are in full swing */
  for (unsigned round = 0; round < 25; round++) {
    long before = atomic_load(&hammer_ops);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0) _exit(child_work(round));
    int st = wait_child(pid, 120);
    cr_assert_neq(st, -1, "round %u: the child hung (killed after 120 s)", round);
    cr_assert_eq(st, 0, "round %u: the child exited with status %d", round, st);
    /* The parent's threads were not stopped by the fork. */
    while (atomic_load(&hammer_ops) == before) usleep(100);
  }
  atomic_store(&hammer_stop, true);
  for (int t = 0; t < 8; t++) pthread_join(th[t], NULL);
  void *p = MALLOC(100);
  cr_assert_not_null(p);
  free(p);
}

/* ---- introspection ----------------------------------------------------------------------- */

Test(conformance, glibc_introspection_calls) {
  cr_assert_eq(mallopt(M_MMAP_THRESHOLD, 128 * 1024), 1);
  cr_assert_eq(mallopt(M_ARENA_MAX, 2), 1);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_not_null(f);
  cr_assert_eq(malloc_info(0, f), 0);
  fclose(f);
  cr_assert_not_null(strstr(buf, "<malloc"), "%s", buf);
  cr_assert_not_null(strstr(buf, "</malloc>"), "%s", buf);
  free(buf);
  errno = 0;
  cr_assert_eq(malloc_info(1, stderr), -1);
  cr_assert_eq(errno, EINVAL);
  int trimmed = malloc_trim(0);
  cr_assert(trimmed == 0 || trimmed == 1);
  struct mallinfo2 mi = mallinfo2();
  cr_assert_geq(mi.arena, mi.uordblks, "more bytes in use than mapped");
  cr_assert_gt(mi.arena, 0);
}

/* ---- threads that exit ------------------------------------------------------------------- */

typedef struct exit_job {
  unsigned id;
  void *handoff[8];      /* blocks the thread leaves for the main thread to free */
  size_t handoff_n[8];
} exit_job_t;

static void *exiting_thread(void *arg) {
  exit_job_t *j = arg;
  uint64_t seed = 0x777 + j->id;
  void *mine[40];
  for (int i = 0; i < 40; i++) {
    size_t n = i == 0 ? 300 * KiB : rand_size(&seed);
    mine[i] = malloc(n);
    if (mine[i]) memset(mine[i], 0x3c, n);
  }
  for (int i = 0; i < 8; i++) {
    j->handoff_n[i] = rand_size(&seed);
    j->handoff[i] = malloc(j->handoff_n[i]);
    if (j->handoff[i]) fill(j->handoff[i], j->handoff_n[i], j->id * 8 + (unsigned)i);
  }
  for (int i = 0; i < 40; i++) free(mine[i]);
  if (j->id % 2) pthread_exit(NULL);
  return NULL;
}

static size_t resident_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  int n = fscanf(f, "%lu %lu", &size, &resident);
  fclose(f);
  return n == 2 ? resident * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

static void exit_round(unsigned round) {
  pthread_t th[8];
  exit_job_t jobs[8];
  for (unsigned t = 0; t < 8; t++) {
    jobs[t].id = round * 8 + t;
    cr_assert_eq(pthread_create(&th[t], NULL, exiting_thread, &jobs[t]), 0);
  }
  for (int t = 0; t < 8; t++) cr_assert_eq(pthread_join(th[t], NULL), 0);
  for (unsigned t = 0; t < 8; t++)
    for (unsigned i = 0; i < 8; i++) {
      cr_assert_not_null(jobs[t].handoff[i]);
      assert_pattern(jobs[t].handoff[i], jobs[t].handoff_n[i], jobs[t].id * 8 + i,
                     "a block of an exited thread was overwritten");
      free(jobs[t].handoff[i]);
    }
}

Test(conformance, exiting_threads_keep_memory_bounded, .timeout = 300) {
  for (unsigned round = 0; round < 5; round++) exit_round(round);   /* warm up */
  struct mallinfo2 m0 = mallinfo2();
  size_t rss0 = resident_bytes();
  cr_assert_gt(rss0, 0);
  for (unsigned round = 5; round < 150; round++) exit_round(round);
  struct mallinfo2 m1 = mallinfo2();
  size_t rss1 = resident_bytes();
  cr_assert_eq(m1.ordblks, m0.ordblks, "blocks in use grew from %zu to %zu", m0.ordblks, m1.ordblks);
  cr_assert_eq(m1.uordblks, m0.uordblks);
  /* 1160 threads each used at least one 4 MiB chunk; a handful may be cached. */
  cr_assert_leq(m1.arena, m0.arena + 64 * MiB, "mapped memory grew from %zu to %zu bytes",
                m0.arena, m1.arena);
  cr_assert_leq(rss1, rss0 + 64 * MiB, "resident memory grew from %zu to %zu bytes", rss0, rss1);
}

/* Thread-specific data destructors run after zalloc's own per-thread clean-up (or not, in
 * whatever order the keys were made): memory they allocate and free must still work, and the
 * blocks they leave behind stay valid. */
static pthread_key_t late_key;
static _Atomic(unsigned char *) late_blocks[64];
static atomic_int late_errors;

static void late_destructor(void *arg) {
  unsigned id = (unsigned)(uintptr_t)arg - 1;
  void *tmp[20];
  for (int i = 0; i < 20; i++) {
    tmp[i] = malloc((size_t)i * 100 + 1);
    if (!tmp[i]) atomic_fetch_add(&late_errors, 1);
    else memset(tmp[i], 0x11, (size_t)i * 100 + 1);
  }
  tmp[3] = realloc(tmp[3], 70000);
  for (int i = 0; i < 20; i++) free(tmp[i]);
  unsigned char *keep = malloc(1000);
  if (!keep) {
    atomic_fetch_add(&late_errors, 1);
    return;
  }
  fill(keep, 1000, id);
  unsigned char *old = atomic_exchange(&late_blocks[id % 64], keep);
  if (old) atomic_fetch_add(&late_errors, 1);
}

static void *late_thread(void *arg) {
  void *p = malloc(100);   /* zalloc knows this thread before the key is set */
  free(p);
  pthread_setspecific(late_key, arg);
  if ((uintptr_t)arg % 2) pthread_exit(NULL);
  return NULL;
}

Test(conformance, thread_destructors_can_allocate, .timeout = 300) {
  cr_assert_eq(pthread_key_create(&late_key, late_destructor), 0);
  for (unsigned round = 0; round < 20; round++) {
    pthread_t th[8];
    for (unsigned t = 0; t < 8; t++)
      cr_assert_eq(pthread_create(&th[t], NULL, late_thread, (void *)(uintptr_t)(round * 8 + t + 1)), 0);
    for (unsigned t = 0; t < 8; t++) cr_assert_eq(pthread_join(th[t], NULL), 0);
    for (unsigned t = 0; t < 8; t++) {
      unsigned id = round * 8 + t;
      unsigned char *b = atomic_exchange(&late_blocks[id % 64], NULL);
      cr_assert_not_null(b, "thread %u's destructor left no block", id);
      assert_pattern(b, 1000, id, "a block made in a thread destructor was overwritten");
      free(b);
    }
  }
  cr_assert_eq(atomic_load(&late_errors), 0);
  pthread_key_delete(late_key);
}
