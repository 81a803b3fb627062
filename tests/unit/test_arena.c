/* Unit tests of the arena backend (ZALLOC_MODE=arena: the heap core with nothing on top)
 * through the za_* API, linked statically: sizes around every internal boundary, size classes
 * and pages, alignment, reuse of freed blocks in any order, frees from other threads and from
 * exited threads, calloc zeroing, realloc in place / moving / mremap, heap-error findings,
 * trim, mallinfo2, and a random model of every call.
 *
 * The allocator is process-global; Criterion runs each test in its own process, so every
 * test starts with a fresh heap (nothing but the test itself calls za_*). */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "findings.h"
#include "zalloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define SEGMENT (4 * MiB)        /* the heap core's segment */
#define PAGE (64 * KiB)          /* the core's page for small classes */
#define CLASS_MAX (128 * KiB)    /* the largest class; above it a block has its own mapping */

#include "../support/pattern.h"

#define assert_pattern(p, n, seed, ...)                                                       \
  do {                                                                                        \
    size_t bad_ = first_bad((p), (n), (seed));                                                \
    cr_assert_eq(bad_, (size_t)(n), __VA_ARGS__);                                             \
  } while (0)

static bool all_zero(const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i]) return false;
  return true;
}

static uintptr_t page_of(const void *p) { return (uintptr_t)p & ~(uintptr_t)(PAGE - 1); }

static za_findings_summary_t findings(za_finding_t *list) {
  static za_finding_t scratch[ZA_FINDINGS_MAX];
  za_findings_summary_t s;
  za_findings_snapshot(&s, list ? list : scratch);
  return s;
}
static uint64_t total_findings(void) {
  za_findings_summary_t s = findings(NULL);
  return s.double_free + s.invalid_free + s.bad_realloc + s.bad_usable_size + s.write_after_free;
}

/* Every size around a boundary of the arena: 16-byte granules, the size classes, pages, the
 * largest class (128 KiB), the segment (4 MiB). */
static const size_t boundary_sizes[] = {
  0, 1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 127, 128, 129, 160, 161,
  255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 4095, 4096, 4097, 8191, 8192, 8193,
  65535, 65536, 65537, 114688, 114689, 131071, 131072, 131073, 200000,
  256 * 1024, 256 * 1024 + 1, 1024 * 1024, 4 * 1024 * 1024 - 65, 4 * 1024 * 1024 - 1,
  4 * 1024 * 1024, 4 * 1024 * 1024 + 1, 9 * 1024 * 1024 + 7,
};
#define N_BOUNDARY (sizeof boundary_sizes / sizeof boundary_sizes[0])


/* ---- sizes, classes, alignment ---------------------------------------------------------- */

Test(arena, sizes_around_boundaries) {
  void *ptrs[N_BOUNDARY];
  size_t usable[N_BOUNDARY];
  for (size_t i = 0; i < N_BOUNDARY; i++) {
    size_t n = boundary_sizes[i];
    ptrs[i] = za_malloc(n);
    cr_assert_not_null(ptrs[i], "malloc(%zu)", n);
    cr_assert_eq((uintptr_t)ptrs[i] % 16, 0, "malloc(%zu) = %p is not 16-byte aligned", n, ptrs[i]);
    usable[i] = za_malloc_usable_size(ptrs[i]);
    cr_assert_geq(usable[i], n, "malloc(%zu): usable size %zu", n, usable[i]);
    cr_assert_gt(usable[i], 0, "malloc(%zu): usable size 0", n);
    /* A class is at most an eighth bigger than the request (16 bytes for the smallest). */
    if (n > 128 && n <= CLASS_MAX) cr_assert_leq(usable[i], n + n / 8, "malloc(%zu): usable %zu", n, usable[i]);
    fill(ptrs[i], usable[i], (unsigned)i);   /* all of the usable size is writable */
  }
  for (size_t i = 0; i < N_BOUNDARY; i++) {
    assert_pattern(ptrs[i], usable[i], (unsigned)i, "block of %zu bytes was overwritten",
                   boundary_sizes[i]);
    cr_assert_eq(za_malloc_usable_size(ptrs[i]), usable[i]);
  }
  /* No two blocks overlap. */
  for (size_t i = 0; i < N_BOUNDARY; i++)
    for (size_t j = 0; j < N_BOUNDARY; j++)
      if (i != j) {
        uintptr_t a = (uintptr_t)ptrs[i], b = (uintptr_t)ptrs[j];
        cr_assert(a + usable[i] <= b || b + usable[j] <= a, "blocks %zu and %zu overlap",
                  boundary_sizes[i], boundary_sizes[j]);
      }
  for (size_t i = N_BOUNDARY; i-- > 0;) za_free(ptrs[i]);
  cr_assert_eq(total_findings(), 0);
  struct mallinfo2 mi = za_mallinfo2();
  cr_assert_eq(mi.ordblks, 0);
  cr_assert_eq(mi.uordblks, 0);
}

Test(arena, large_threshold_switches_to_own_mapping) {
  /* A block of up to 128 KiB comes from a page: its usable size is its class's. Above, it has
   * its own page-rounded mapping. */
  void *in = za_malloc(CLASS_MAX);
  void *out = za_malloc(CLASS_MAX + 1);
  cr_assert_not_null(in);
  cr_assert_not_null(out);
  cr_assert_eq(za_malloc_usable_size(in), CLASS_MAX);
  cr_assert_eq(za_malloc_usable_size(out), CLASS_MAX + 4096);
  cr_assert_eq((uintptr_t)out % 4096, 0, "a large block starts its own mapping");
  size_t mapped = za_mallinfo2().arena;
  za_free(out);
  /* Kept for reuse (bounded), so the next block of that size costs no system call... */
  cr_assert_eq(za_mallinfo2().arena, mapped, "a freed large block is kept for reuse");
  void *again = za_malloc(CLASS_MAX + 100);
  cr_assert_eq(again, out, "the kept mapping was not reused");
  za_free(again);
  /* ...and malloc_trim gives it back. */
  cr_assert_eq(za_malloc_trim(0), 1);
  cr_assert_leq(za_mallinfo2().arena, mapped - (CLASS_MAX + 4096), "malloc_trim kept the mapping");
  za_free(in);
}

Test(arena, large_block_cache_is_bounded) {
  /* Blocks over 8 MiB go back to the OS on free; the others are kept up to 32 MiB in all. */
  za_malloc_trim(0);
  size_t base = za_mallinfo2().arena;
  void *huge = za_malloc(9 * MiB);
  cr_assert_not_null(huge);
  za_free(huge);
  cr_assert_eq(za_mallinfo2().arena, base, "a 9 MiB block was not unmapped on free");
  void *blocks[8];
  for (int i = 0; i < 8; i++) blocks[i] = za_malloc(6 * MiB);
  for (int i = 0; i < 8; i++) za_free(blocks[i]);
  size_t kept = za_mallinfo2().arena - base;
  cr_assert_leq(kept, 32 * MiB, "%zu bytes of freed large blocks kept", kept);
  cr_assert_geq(kept, 24 * MiB, "the most recent frees should be kept for reuse");
  za_malloc_trim(0);
  cr_assert_eq(za_mallinfo2().arena, base);
}

Test(arena, calloc_of_a_reused_large_mapping_is_zero) {
  za_malloc_trim(0);
  unsigned char *p = za_malloc(1 * MiB);
  memset(p, 0xab, 1 * MiB);
  za_free(p);
  unsigned char *q = za_calloc(1, 1 * MiB);
  cr_assert_eq(q, p, "expected the kept mapping to be reused");
  for (size_t i = 0; i < 1 * MiB; i++) cr_assert_eq(q[i], 0, "byte %zu not zero", i);
  za_free(q);
}

Test(arena, blocks_of_a_class_share_a_page) {
  /* Consecutive blocks of one class come from one page, side by side, with no header. */
  char *a = za_malloc(40), *b = za_malloc(40), *c = za_malloc(1), *d = za_malloc(33);
  cr_assert_eq(page_of(a), page_of(b));
  cr_assert_eq(b - a, 48, "blocks of the 48-byte class are not packed: %p %p", (void *)a, (void *)b);
  cr_assert_eq(za_malloc_usable_size(a), 48);
  cr_assert_eq(za_malloc_usable_size(c), 16);
  cr_assert_eq(za_malloc_usable_size(d), 48);
  cr_assert_eq(page_of(d), page_of(a), "a block of the same class from another page");
  cr_assert_neq(page_of(c), page_of(a), "two classes share a page");
}

Test(arena, many_blocks_fill_many_pages) {
  /* 8000 small and 60 big blocks, interleaved: over 15 MiB, several segments; contents intact
   * (two blocks sharing memory would overwrite each other's pattern). */
  enum { N = 8060 };
  static void *blocks[N];
  static size_t sizes[N];
  for (size_t i = 0; i < N; i++) {
    size_t n = i % 134 == 0 ? 100 * KiB + i : 1 + i % 700;
    void *p = za_malloc(n);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % 16, 0);
    fill(p, n, (unsigned)i);
    blocks[i] = p;
    sizes[i] = n;
  }
  for (size_t i = 0; i < N; i++) {
    cr_assert_geq(za_malloc_usable_size(blocks[i]), sizes[i]);
    assert_pattern(blocks[i], sizes[i], (unsigned)i, "block %zu (%zu bytes) was overwritten", i,
                   sizes[i]);
  }
  for (size_t i = 0; i < N; i++) za_free(blocks[i]);
  cr_assert_eq(total_findings(), 0);
  cr_assert_eq(za_mallinfo2().uordblks, 0);
}

Test(arena, blocks_of_the_largest_class_fill_their_pages) {
  /* 128 KiB blocks: eight to a 1 MiB page; none may run past its page. */
  enum { N = 48 };
  void *p[N];
  for (int i = 0; i < N; i++) {
    p[i] = za_malloc(CLASS_MAX);
    cr_assert_not_null(p[i]);
    cr_assert_eq((uintptr_t)p[i] % CLASS_MAX, 0, "a 128 KiB block is aligned to its size");
    fill(p[i], CLASS_MAX, (unsigned)i);
  }
  for (int i = 0; i < N; i++) assert_pattern(p[i], CLASS_MAX, (unsigned)i, "block %d", i);
  for (int i = 0; i < N; i++) za_free(p[i]);
  cr_assert_eq(total_findings(), 0);
}

Test(arena, aligned_allocations) {
  static const size_t sizes[] = {0, 1, 100, 4096, 70000, CLASS_MAX, CLASS_MAX + 1, 2 * MiB};
  for (size_t align = 16; align <= 4 * MiB; align *= 2) {
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      size_t n = sizes[s];
      void *filler = za_malloc(1 + (align + s) % 200);   /* move the classes' pages around */
      void *p = NULL;
      cr_assert_eq(za_posix_memalign(&p, align, n), 0, "posix_memalign(%zu, %zu)", align, n);
      void *q = za_memalign(align, n);
      void *r = za_aligned_alloc(align, n);
      void *blocks[] = {p, q, r};
      for (int k = 0; k < 3; k++) {
        cr_assert_not_null(blocks[k], "align %zu size %zu (call %d)", align, n, k);
        cr_assert_eq((uintptr_t)blocks[k] % align, 0, "align %zu size %zu: %p (call %d)", align,
                     n, blocks[k], k);
        size_t u = za_malloc_usable_size(blocks[k]);
        cr_assert_geq(u, n);
        fill(blocks[k], u, (unsigned)(align + n + (size_t)k));
      }
      for (int k = 0; k < 3; k++)
        assert_pattern(blocks[k], za_malloc_usable_size(blocks[k]), (unsigned)(align + n + (size_t)k),
                       "align %zu size %zu (call %d)", align, n, k);
      for (int k = 0; k < 3; k++) za_free(blocks[k]);
      za_free(filler);
    }
  }
  cr_assert_eq(total_findings(), 0);
  cr_assert_eq(za_mallinfo2().ordblks, 0);
}

Test(arena, valloc_and_pvalloc) {
  void *v = za_valloc(1);
  cr_assert_not_null(v);
  cr_assert_eq((uintptr_t)v % 4096, 0);
  void *pv = za_pvalloc(1);
  cr_assert_not_null(pv);
  cr_assert_eq((uintptr_t)pv % 4096, 0);
  cr_assert_geq(za_malloc_usable_size(pv), 4096, "pvalloc rounds the size up to a page");
  memset(pv, 0x5a, 4096);
  void *pv0 = za_pvalloc(0);
  cr_assert_not_null(pv0);
  cr_assert_geq(za_malloc_usable_size(pv0), 4096);
  void *pv2 = za_pvalloc(4097);
  cr_assert_geq(za_malloc_usable_size(pv2), 8192);
  za_free(v);
  za_free(pv);
  za_free(pv0);
  za_free(pv2);
  cr_assert_eq(total_findings(), 0);
}

Test(arena, malloc_zero_gives_unique_blocks) {
  void *p[64];
  for (int i = 0; i < 64; i++) {
    p[i] = za_malloc(0);
    cr_assert_not_null(p[i]);
    for (int j = 0; j < i; j++) cr_assert_neq(p[i], p[j]);
  }
  for (int i = 0; i < 64; i++) za_free(p[i]);
  cr_assert_eq(total_findings(), 0);
}


/* ---- reuse ------------------------------------------------------------------------------- */

/* malloc(n) until `want` comes back, at most `tries` times; the blocks taken meanwhile are
 * freed again. True if it came back. */
static bool comes_back(size_t n, void *want, int tries) {
  void *taken[4096];
  int k = 0;
  bool found = false;
  while (k < tries && k < 4096) {
    void *p = za_malloc(n);
    if (p == want) {
      found = true;
      za_free(p);
      break;
    }
    taken[k++] = p;
  }
  while (k > 0) za_free(taken[--k]);
  return found;
}

Test(arena, a_freed_block_is_handed_out_again) {
  /* Freed blocks go on their page's list, used once the blocks carved ahead of them are: a
   * freed block comes back within a page's worth of allocations of its class. */
  static const size_t sizes[] = {0, 1, 16, 17, 100, 4096, 100000, CLASS_MAX};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    void *keep = za_malloc(32);
    void *p = za_malloc(sizes[s]);
    za_free(p);
    cr_assert(comes_back(sizes[s], p, 4096), "size %zu: the freed block never came back", sizes[s]);
    za_free(keep);
  }
}

Test(arena, frees_in_any_order_are_reused) {
  /* A working set of 4000 blocks of 16 B - 4 KiB freed and replaced in random order: the
   * memory held stops growing once the working set is allocated (freed blocks are reused
   * whatever the order they were freed in). */
  enum { N = 4000, ROUNDS = 60 };
  static void *slot[N];
  static size_t size[N];
  uint64_t r = 42;
  for (int i = 0; i < N; i++) {
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    size[i] = 16 + (size_t)(r >> 33) % 4080;
    slot[i] = za_malloc(size[i]);
    fill(slot[i], size[i], (unsigned)i);
  }
  size_t after_first = za_mallinfo2().arena;
  for (int round = 0; round < ROUNDS; round++)
    for (int k = 0; k < N; k++) {
      r = r * 6364136223846793005ull + 1442695040888963407ull;
      int i = (int)((r >> 33) % N);
      assert_pattern(slot[i], size[i], (unsigned)i, "round %d: block %d", round, i);
      za_free(slot[i]);
      slot[i] = za_malloc(size[i]);
      fill(slot[i], size[i], (unsigned)i);
    }
  size_t held = za_mallinfo2().arena;
  /* 60 x 4000 random-order replacements; the live set is ~8 MiB. */
  cr_assert_leq(held, after_first + after_first / 4, "memory grew from %zu to %zu bytes", after_first, held);
  for (int i = 0; i < N; i++) za_free(slot[i]);
  cr_assert_eq(total_findings(), 0);
}

Test(arena, emptied_pages_serve_other_classes) {
  /* Fill 2 MiB with 64-byte blocks, free them all, then allocate 2 MiB of 4 KiB blocks: the
   * emptied pages are reused, so the memory held does not double. */
  enum { N = 2 * 1024 * 1024 / 64 };
  static void *p[N];
  size_t base = za_mallinfo2().arena;
  for (int i = 0; i < N; i++) p[i] = za_malloc(64);
  size_t full = za_mallinfo2().arena;
  cr_assert_geq(full - base, 2 * MiB);
  for (int i = 0; i < N; i++) za_free(p[i]);
  for (int i = 0; i < N / 64; i++) p[i] = za_malloc(4096);
  cr_assert_leq(za_mallinfo2().arena, full + 2 * PAGE, "emptied pages were not reused: %zu then %zu",
                full, za_mallinfo2().arena);
  for (int i = 0; i < N / 64; i++) za_free(p[i]);
}

Test(arena, calloc_zeroes_reused_space) {
  static const size_t sizes[] = {1, 16, 100, 1000, 4096, 65536, CLASS_MAX, CLASS_MAX * 2};
  enum { N = 64 };
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    unsigned char *p[N];
    for (int i = 0; i < N; i++) {
      p[i] = za_malloc(n);
      memset(p[i], 0xff, za_malloc_usable_size(p[i]));
    }
    for (int i = 0; i < N; i++) za_free(p[i]);
    /* calloc until the freed (dirty) blocks come back: every one must read as zero. */
    static unsigned char *c[4096];
    int reused = 0, k = 0;
    while (k < 4096 && reused < N) {
      c[k] = za_calloc(1, n);
      cr_assert_not_null(c[k]);
      for (int i = 0; i < N; i++) reused += c[k] == p[i];
      cr_assert(all_zero(c[k], za_malloc_usable_size(c[k])), "size %zu: calloc memory is not zero", n);
      k++;
    }
    cr_assert_eq(reused, N, "size %zu: calloc reused %d of the %d freed blocks", n, reused, N);
    while (k > 0) za_free(c[--k]);
  }
}

Test(arena, calloc_after_in_place_shrink) {
  unsigned char *p = za_malloc(4000);
  memset(p, 0xab, 4000);
  cr_assert_eq(za_realloc(p, 2500), p, "a shrink to more than half its class stays in place");
  unsigned char *c = za_calloc(1, 4000);
  cr_assert_not_null(c);
  cr_assert(all_zero(c, 4000), "calloc memory is not zero");
  za_free(c);
  za_free(p);
}

Test(arena, calloc_in_fresh_and_recycled_pages) {
  /* Fill several MiB with dirty blocks, free them all (their pages go back to the pool), then
   * calloc enough to take them again. */
  enum { N = 40 };
  void *p[N];
  for (int i = 0; i < N; i++) {
    p[i] = za_malloc(100 * KiB);
    memset(p[i], 0xcd, 100 * KiB);
  }
  for (int i = 0; i < N; i++) za_free(p[i]);
  for (int i = 0; i < N; i++) {
    p[i] = za_calloc(100, KiB);
    cr_assert_not_null(p[i]);
    cr_assert(all_zero(p[i], 100 * KiB), "calloc block %d is not zero", i);
  }
}

/* ---- realloc ----------------------------------------------------------------------------- */

Test(arena, realloc_stays_in_place_within_its_class) {
  void *p = za_malloc(100);                 /* the 112-byte class */
  fill(p, 100, 1);
  cr_assert_eq(za_realloc(p, 112), p, "growing within the class moved the block");
  cr_assert_eq(za_realloc(p, 60), p, "shrinking to over half the class moved the block");
  assert_pattern(p, 60, 1, "content lost in place");
  void *q = za_realloc(p, 5000);
  cr_assert_neq(q, p, "a block cannot grow past its class in place");
  assert_pattern(q, 60, 1, "content lost moving");
  cr_assert_geq(za_malloc_usable_size(q), 5000);
  za_free(q);
  cr_assert_eq(total_findings(), 0);
}

Test(arena, realloc_moves_to_a_bigger_class) {
  unsigned char *p = za_malloc(100);
  size_t old_usable = za_malloc_usable_size(p);
  fill(p, old_usable, 3);             /* the caller may use all of the usable size */
  void *blocker = za_malloc(100);
  unsigned char *q = za_realloc(p, 1000);
  cr_assert_not_null(q);
  cr_assert_neq(q, p, "grew in place over the next block");
  cr_assert_neq((void *)q, blocker);
  assert_pattern(q, old_usable, 3, "content up to the old usable size was not kept");
  cr_assert_geq(za_malloc_usable_size(q), 1000);
  memset(q, 0, 1000);
  cr_assert_eq(za_malloc_usable_size(blocker), 112, "the block after was disturbed");
  cr_assert_eq(za_mallinfo2().ordblks, 2, "the old block was not freed");
  za_free(q);
  za_free(blocker);
  cr_assert_eq(total_findings(), 0);
}

Test(arena, realloc_shrink_keeps_content) {
  unsigned char *a = za_malloc(5000);      /* the 5120-byte class */
  fill(a, 5000, 4);
  unsigned char *a2 = za_realloc(a, 3000);
  cr_assert_eq(a2, a, "a shrink to over half the class did not stay in place");
  assert_pattern(a2, 3000, 4, "shrink lost content");
  unsigned char *a3 = za_realloc(a2, 17);
  cr_assert_neq(a3, a2, "a shrink to a small part of the class keeps a big block");
  assert_pattern(a3, 17, 4, "shrink lost content");
  cr_assert_geq(za_malloc_usable_size(a3), 17);
  cr_assert_lt(za_malloc_usable_size(a3), 64);
  za_free(a3);
  cr_assert_eq(total_findings(), 0);
}

Test(arena, realloc_across_every_boundary) {
  /* Grow one block through every size, then shrink it back, checking content each step. */
  unsigned char *p = za_malloc(1);
  fill(p, 1, 9);
  size_t have = 1;
  for (size_t i = 0; i < N_BOUNDARY; i++) {
    size_t n = boundary_sizes[i];
    if (n == 0) continue;
    void *blocker = (i % 2) ? za_malloc(8) : NULL;   /* half the time, not at the top */
    unsigned char *q = za_realloc(p, n);
    cr_assert_not_null(q, "realloc to %zu", n);
    cr_assert_eq((uintptr_t)q % 16, 0);
    size_t keep = have < n ? have : n;
    assert_pattern(q, keep, 9, "grow to %zu lost content", n);
    cr_assert_geq(za_malloc_usable_size(q), n);
    fill(q, n, 9);
    have = n;
    p = q;
    za_free(blocker);
  }
  for (size_t i = N_BOUNDARY; i-- > 0;) {
    size_t n = boundary_sizes[i];
    if (n == 0) continue;
    void *blocker = (i % 3) ? za_malloc(8) : NULL;
    unsigned char *q = za_realloc(p, n);
    cr_assert_not_null(q, "realloc to %zu", n);
    assert_pattern(q, n, 9, "shrink to %zu lost content", n);
    cr_assert_geq(za_malloc_usable_size(q), n);
    p = q;
    za_free(blocker);
  }
  za_free(p);
  cr_assert_eq(total_findings(), 0);
  cr_assert_eq(za_mallinfo2().ordblks, 0);
  cr_assert_eq(za_mallinfo2().uordblks, 0);
}

Test(arena, realloc_large_block_mremap) {
  size_t n1 = MiB;
  unsigned char *p = za_malloc(n1);
  cr_assert_not_null(p);
  fill(p, n1, 11);
  void *blocker = za_malloc(2 * MiB);     /* another mapping, so growth may have to move */
  unsigned char *q = za_realloc(p, 32 * MiB);
  cr_assert_not_null(q);
  cr_assert_eq((uintptr_t)q % 16, 0);
  assert_pattern(q, n1, 11, "grow by mremap lost content");
  cr_assert_geq(za_malloc_usable_size(q), 32 * MiB);
  fill(q, 32 * MiB, 12);
  unsigned char *r = za_realloc(q, 300 * KiB);   /* shrink, still large */
  cr_assert_not_null(r);
  assert_pattern(r, 300 * KiB, 12, "shrink by mremap lost content");
  cr_assert_geq(za_malloc_usable_size(r), 300 * KiB);
  unsigned char *s = za_realloc(r, 100 * KiB);   /* back into a page */
  cr_assert_not_null(s);
  assert_pattern(s, 100 * KiB, 12, "large to small lost content");
  unsigned char *t = za_realloc(s, 3 * MiB);     /* and out again */
  cr_assert_not_null(t);
  assert_pattern(t, 100 * KiB, 12, "small to large lost content");
  struct mallinfo2 mi = za_mallinfo2();
  cr_assert_eq(mi.ordblks, 2);
  cr_assert_eq(mi.uordblks, 3 * MiB + 2 * MiB);
  za_free(t);
  za_free(blocker);
  cr_assert_eq(total_findings(), 0);
  cr_assert_eq(za_mallinfo2().uordblks, 0);
}


Test(arena, realloc_null_and_zero) {
  void *p = za_realloc(NULL, 50);
  cr_assert_not_null(p);
  cr_assert_geq(za_malloc_usable_size(p), 50);
  cr_assert_eq(za_mallinfo2().ordblks, 1);
  cr_assert_null(za_realloc(p, 0), "realloc(p, 0) frees and returns NULL");
  cr_assert_eq(za_mallinfo2().ordblks, 0);
  cr_assert_eq(total_findings(), 0);
  void *z = za_realloc(NULL, 0);
  cr_assert_not_null(z, "realloc(NULL, 0) is malloc(0)");
  za_free(z);
}

Test(arena, out_of_range_requests) {
  errno = 0;
  cr_assert_null(za_malloc(SIZE_MAX));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(za_malloc((size_t)PTRDIFF_MAX + 1));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(za_malloc((size_t)PTRDIFF_MAX));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(za_calloc(SIZE_MAX / 2, 3));
  cr_assert_eq(errno, ENOMEM);
  void *p = za_malloc(64);
  fill(p, 64, 13);
  errno = 0;
  cr_assert_null(za_realloc(p, SIZE_MAX));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(za_reallocarray(p, SIZE_MAX / 2, 3));
  cr_assert_eq(errno, ENOMEM);
  assert_pattern(p, 64, 13, "a failed realloc changed the block");
  cr_assert_eq(za_malloc_usable_size(p), 64);
  void *big = za_malloc(2 * MiB);
  errno = 0;
  cr_assert_null(za_realloc(big, (size_t)PTRDIFF_MAX));
  cr_assert_eq(errno, ENOMEM);
  cr_assert_geq(za_malloc_usable_size(big), 2 * MiB, "a failed large realloc lost the block");
  za_free(big);
  za_free(p);
  cr_assert_eq(total_findings(), 0);
}

/* ---- heap errors ------------------------------------------------------------------------- */

Test(arena, double_free_is_recorded) {
  void *p = za_malloc(64);
  void *q = za_malloc(64);   /* p is not the newest */
  fill(q, 64, 14);
  za_free(p);
  cr_assert_eq(total_findings(), 0);
  za_free(p);
  za_finding_t list[ZA_FINDINGS_MAX];
  za_findings_summary_t s = findings(list);
  cr_assert_eq(s.double_free, 1);
  cr_assert_eq(s.invalid_free + s.bad_realloc + s.bad_usable_size, 0);
  cr_assert_eq(s.listed, 1);
  cr_assert_eq(list[0].op, ZA_OP_FREE);
  cr_assert_eq(list[0].state, ZA_BLOCK_FREED);
  cr_assert_eq(list[0].addr, (uintptr_t)p);
  cr_assert_eq(list[0].size, 64);
  cr_assert_eq(list[0].times, 1);
  cr_assert_gt(list[0].tid, 0);
  /* The same error again: counted on the same entry. */
  za_free(p);
  s = findings(list);
  cr_assert_eq(s.double_free, 2);
  cr_assert_eq(s.listed, 1);
  cr_assert_eq(list[0].times, 2);
  /* Nothing else changed: q is intact and live, and p - freed once - is handed out once. */
  assert_pattern(q, 64, 14, "a double free disturbed a live block");
  cr_assert_eq(za_malloc_usable_size(q), 64);
  void *r = za_malloc(64), *r2 = za_malloc(64);
  cr_assert_not_null(r);
  cr_assert_not_null(r2);
  cr_assert_neq(r, r2, "p was handed out twice");
  cr_assert_neq(r, q);
  cr_assert_neq(r2, q);
  cr_assert_eq(za_mallinfo2().ordblks, 3);
}

Test(arena, double_free_of_newest_block_hands_it_out_once) {
  void *keep = za_malloc(32);
  void *a = za_malloc(48);
  za_free(a);          /* the newest block: its space is back */
  za_free(a);          /* a double free: must not give the space back a second time */
  cr_assert_eq(findings(NULL).double_free, 1);
  void *b = za_malloc(48);
  void *c = za_malloc(48);
  cr_assert_neq(b, c, "the same block was handed out twice");
  fill(b, 48, 15);
  fill(c, 48, 16);
  assert_pattern(b, 48, 15, "two live blocks share memory");
  za_free(b);
  za_free(c);
  za_free(keep);
  cr_assert_eq(findings(NULL).double_free, 1);
}


Test(arena, double_free_after_reuse_is_a_plain_free) {
  /* a's block is legitimately handed out again (as b, at the same address): freeing b is not
   * an error, freeing it again is. */
  void *a = za_malloc(48);
  za_free(a);
  void *b = NULL, *others[4096];
  int k = 0;
  while (k < 4096 && (b = za_malloc(48)) != a) others[k++] = b;
  cr_assert_eq(b, a, "a's block never came back");
  za_free(b);
  cr_assert_eq(total_findings(), 0);
  za_free(b);
  cr_assert_eq(findings(NULL).double_free, 1);
  cr_assert_eq(total_findings(), 1);
  while (k > 0) za_free(others[--k]);
  cr_assert_eq(total_findings(), 1);
}

Test(arena, racing_double_free_never_hands_a_block_out_twice) {
  /* The arena's double-free check is not atomic: two threads freeing one block at the same
   * moment can both pass it. Simulated here by a second free whose check is defeated (the
   * key word overwritten, as a racing thread would see it): the block is then on its page's
   * list twice, a cycle the core must cut, not hand out twice. */
  enum { N = 200 };
  void *p[N];
  for (int i = 0; i < N; i++) p[i] = za_malloc(64);
  void *victim = p[N / 2];
  za_free(victim);
  ((uintptr_t *)victim)[1] = 0;     /* what a racing free would have read */
  za_free(victim);
  void *q[3 * N];
  for (int i = 0; i < 3 * N; i++) {
    q[i] = za_malloc(64);
    cr_assert_not_null(q[i]);
    memset(q[i], i & 0xff, 64);
  }
  for (int i = 0; i < 3 * N; i++) {
    const unsigned char *b = q[i];
    for (int j = 0; j < 64; j++)
      cr_assert_eq(b[j], (unsigned char)(i & 0xff), "block %d (%p) was handed out twice", i, q[i]);
  }
}

Test(arena, a_link_overwritten_after_free_is_reported_not_followed) {
  /* A write after free over a freed block's link: the core must not follow it out of the
   * page, and it is reported as a write after free. */
  void *p[64];
  for (int i = 0; i < 64; i++) p[i] = za_malloc(64);
  for (int i = 0; i < 64; i++) za_free(p[i]);
  uintptr_t wild = 0x4141414141414140ull;
  memcpy(p[40], &wild, sizeof wild);        /* the program writes through a dangling pointer */
  for (int i = 0; i < 200; i++) {
    unsigned char *q = za_malloc(64);
    cr_assert_not_null(q);
    cr_assert_neq((uintptr_t)q, wild, "the allocator followed the overwritten link");
    memset(q, 0x5a, 64);
  }
  za_findings_summary_t s = findings(NULL);
  cr_assert_eq(s.write_after_free, 1, "the broken link was not reported");
}

Test(arena, a_link_moved_to_another_free_block_is_reported) {
  /* A write after free that keeps the link inside the page, pointing at another free block:
   * the block's key covers its link, so the change is seen (before, such a link was followed
   * and the blocks it skipped were lost to the page). */
  unsigned char *a = za_malloc(48), *b = za_malloc(48), *c = za_malloc(48);
  cr_assert_eq(page_of(a), page_of(c));
  za_free(a);
  za_free(b);
  za_free(c);                               /* the list: c, b, a */
  memcpy(c, &a, sizeof a);                  /* c's link now skips b */
  for (int i = 0; i < 3; i++) {
    unsigned char *q = za_malloc(48);
    cr_assert_not_null(q);
    memset(q, 0x5a, 48);
  }
  za_findings_summary_t s = findings(NULL);
  cr_assert_eq(s.write_after_free, 1, "the moved link was not reported");
}

Test(arena, double_free_of_large_block) {
  void *p = za_malloc(MiB);
  za_free(p);
  za_free(p);
  za_finding_t list[ZA_FINDINGS_MAX];
  za_findings_summary_t s = findings(list);
  cr_assert_eq(s.double_free, 1);
  cr_assert_eq(s.listed, 1);
  cr_assert_eq(list[0].state, ZA_BLOCK_FREED);
  cr_assert_eq(list[0].size, MiB);
  void *q = za_malloc(MiB);
  cr_assert_not_null(q);
  memset(q, 1, MiB);
  za_free(q);
  cr_assert_eq(findings(NULL).double_free, 1);
}

static int static_var;

Test(arena, invalid_free_is_recorded) {
  int stack_var = 0;
  void *live = za_malloc(100);
  fill(live, 100, 17);
  void *big = za_malloc(MiB);
  fill(big, 4096, 18);
  void *glibc = malloc(32);
  void *bad[] = {
    &stack_var,                  /* foreign: the stack */
    &static_var,                 /* foreign: static data */
    glibc,                       /* foreign: another allocator */
    (char *)live + 16,           /* interior, 16-aligned */
    (char *)live + 1,            /* interior, misaligned */
    (char *)live + 64,
    (char *)live + 112 * 100,    /* in its page, beyond every block handed out */
    (char *)big + 4096,          /* inside a large block: not one of ours */
  };
  const size_t n = sizeof bad / sizeof bad[0];
  for (size_t i = 0; i < n; i++) za_free(bad[i]);
  za_finding_t list[ZA_FINDINGS_MAX];
  za_findings_summary_t s = findings(list);
  cr_assert_eq(s.invalid_free, n);
  cr_assert_eq(s.double_free, 0);
  cr_assert_eq(s.listed, n);
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq(list[i].op, ZA_OP_FREE);
    cr_assert_eq(list[i].addr, (uintptr_t)bad[i]);
    cr_assert(list[i].state == ZA_BLOCK_FOREIGN || list[i].state == ZA_BLOCK_INTERIOR,
              "entry %zu: state %d", i, (int)list[i].state);
  }
  cr_assert_eq(list[0].state, ZA_BLOCK_FOREIGN);
  cr_assert_eq(list[1].state, ZA_BLOCK_FOREIGN);
  cr_assert_eq(list[2].state, ZA_BLOCK_FOREIGN);
  cr_assert_eq(list[3].state, ZA_BLOCK_INTERIOR);
  cr_assert_eq(list[4].state, ZA_BLOCK_INTERIOR);
  cr_assert_eq(list[6].state, ZA_BLOCK_INTERIOR);
  /* Nothing changed: the blocks are live and intact, and freeing them is fine. */
  cr_assert_eq(za_malloc_usable_size(live), 112);
  assert_pattern(live, 100, 17, "an invalid free disturbed a live block");
  assert_pattern(big, 4096, 18, "an invalid free disturbed a live block");
  cr_assert_eq(stack_var, 0);
  void *next = za_malloc(100);
  cr_assert_not_null(next);
  cr_assert_neq(next, live);
  za_free(live);
  za_free(big);
  za_free(next);
  free(glibc);
  cr_assert_eq(findings(NULL).invalid_free, n);
  cr_assert_eq(findings(NULL).double_free, 0);
}

Test(arena, bad_realloc_and_usable_size_are_recorded) {
  void *p = za_malloc(32);
  void *q = za_malloc(32);
  za_free(p);
  int local;
  errno = 0;
  cr_assert_null(za_realloc(p, 64), "realloc of a freed block");
  cr_assert_null(za_realloc(&local, 64), "realloc of a foreign pointer");
  cr_assert_eq(za_malloc_usable_size(p), 0);
  cr_assert_eq(za_malloc_usable_size((char *)q + 16), 0);
  za_findings_summary_t s = findings(NULL);
  cr_assert_eq(s.bad_realloc, 2);
  cr_assert_eq(s.bad_usable_size, 2);
  cr_assert_eq(s.double_free + s.invalid_free, 0);
  cr_assert_eq(za_malloc_usable_size(q), 32);
  cr_assert_eq(za_mallinfo2().ordblks, 1);
}

Test(arena, usable_size_of_null) {
  cr_assert_eq(za_malloc_usable_size(NULL), 0);
  za_free(NULL);
  cr_assert_eq(total_findings(), 0);
}

Test(arena, findings_list_is_bounded) {
  /* More distinct bad addresses than the list holds: the rest are counted only. */
  static char junk[16 * (ZA_FINDINGS_MAX + 10)];
  for (size_t i = 0; i < ZA_FINDINGS_MAX + 10; i++) za_free(junk + 16 * i);
  za_findings_summary_t s = findings(NULL);
  cr_assert_eq(s.invalid_free, ZA_FINDINGS_MAX + 10);
  cr_assert_eq(s.listed, ZA_FINDINGS_MAX);
  cr_assert_eq(s.not_listed, 10);
}


/* ---- trim, statistics, threads ----------------------------------------------------------- */

Test(arena, malloc_trim_gives_emptied_pages_back) {
  /* 8 MiB of blocks, all freed: their pages wait in the pool (some with their memory); trim
   * gives that memory back. mallinfo2's arena is the memory the heap holds. */
  enum { N = 8 * 1024 * 1024 / 4096 };
  static void *p[N];
  size_t base = za_mallinfo2().arena;
  for (int i = 0; i < N; i++) {
    p[i] = za_malloc(4000);
    memset(p[i], 1, 4000);
  }
  cr_assert_geq(za_mallinfo2().arena, base + 8 * MiB);
  void *keep = za_malloc(16);
  for (int i = 0; i < N; i++) za_free(p[i]);
  cr_assert_eq(za_mallinfo2().ordblks, 1);
  cr_assert_eq(za_malloc_trim(0), 1, "pooled pages should be given back");
  cr_assert_leq(za_mallinfo2().arena, base + 2 * PAGE, "still held after trim: %zu bytes", za_mallinfo2().arena - base);
  cr_assert_eq(za_malloc_trim(0), 0, "nothing left to release");
  /* Pages given back read as zero when used again; the live block is unaffected. */
  unsigned char *z = za_calloc(1, 4000);
  cr_assert(all_zero(z, 4000));
  za_free(z);
  za_free(keep);
}

Test(arena, trim_with_nothing_to_release) {
  cr_assert_eq(za_malloc_trim(0), 0);
  void *p = za_malloc(10);
  cr_assert_eq(za_malloc_trim(0), 0, "the only page is in use");
  za_free(p);
}

Test(arena, mallinfo2_reflects_live_bytes) {
  struct mallinfo2 m0 = za_mallinfo2();
  cr_assert_eq(m0.ordblks, 0);
  cr_assert_eq(m0.uordblks, 0);
  /* The arena counts a block's usable size: its class's, a large block's own size. */
  void *a = za_malloc(1000);
  struct mallinfo2 m1 = za_mallinfo2();
  cr_assert_eq(m1.ordblks, 1);
  cr_assert_eq(m1.uordblks, 1024);
  cr_assert_eq(m1.uordblks, za_malloc_usable_size(a));
  cr_assert_geq(m1.arena, PAGE);
  cr_assert_eq(m1.fordblks, m1.arena - m1.uordblks);
  void *b = za_calloc(3, 100);               /* 320 */
  void *c = za_memalign(256, 50);            /* a power-of-two class: 256 */
  cr_assert_eq(za_mallinfo2().ordblks, 3);
  cr_assert_eq(za_mallinfo2().uordblks, 1024 + 320 + 256);
  a = za_realloc(a, 3000);   /* moves, with room to grow: half as much again, the 4608 class */
  cr_assert_eq(za_malloc_usable_size(a), 4608);
  cr_assert_eq(za_mallinfo2().uordblks, 4608 + 320 + 256);
  c = za_realloc(c, 10);                     /* under half its block: moves to 16 */
  cr_assert_eq(za_mallinfo2().uordblks, 4608 + 320 + 16);
  void *big = za_malloc(2 * MiB);
  struct mallinfo2 m2 = za_mallinfo2();
  cr_assert_eq(m2.ordblks, 4);
  cr_assert_eq(m2.uordblks, 4608 + 320 + 16 + 2 * MiB);
  cr_assert_geq(m2.arena, m1.arena + 2 * MiB);
  za_free(big);
  cr_assert_eq(za_mallinfo2().arena, m2.arena, "kept for reuse: still mapped");
  za_malloc_trim(0);
  cr_assert_leq(za_mallinfo2().arena, m2.arena - 2 * MiB);
  za_free(a);
  za_free(b);
  za_free(c);
  struct mallinfo2 m3 = za_mallinfo2();
  cr_assert_eq(m3.ordblks, 0);
  cr_assert_eq(m3.uordblks, 0);
  struct mallinfo old = za_mallinfo();
  cr_assert_eq(old.ordblks, 0);
  cr_assert_eq((size_t)old.arena, m3.arena);
  cr_assert_eq(za_mallopt(M_ARENA_MAX, 1), 1);
}

/* The fast paths count a block in a counter of its size class (one increment, the class
 * gives the bytes). The free that empties a page retires it; it must still count the block in
 * the class it had. */
Test(arena, counts_by_class_add_up_when_a_free_retires_the_page) {
  enum { SZ = 2 * KiB, N = PAGE / SZ };
  static void *b[2 * N];            /* two pages: the first is no longer the one allocated from */
  for (int i = 0; i < 2 * N; i++) cr_assert_not_null(b[i] = za_malloc(SZ));
  cr_assert_eq(page_of(b[N - 1]), page_of(b[0]));
  cr_assert_neq(page_of(b[N]), page_of(b[0]));
  void *odd[3] = {za_malloc(1), za_malloc(200), za_malloc(70000)};
  cr_assert_eq(za_mallinfo2().ordblks, 2 * N + 3);
  cr_assert_eq(za_mallinfo2().uordblks, 2 * N * SZ + 16 + 208 + 73728);
  size_t mapped = za_mallinfo2().arena;
  for (int i = 0; i < N; i++) za_free(b[i]);  /* the last one empties the first page */
  cr_assert_eq(za_mallinfo2().ordblks, N + 3);
  cr_assert_eq(za_mallinfo2().uordblks, N * SZ + 16 + 208 + 73728);
  za_malloc_trim(0);
  cr_assert_lt(za_mallinfo2().arena, mapped, "the emptied page was not retired");
  for (int i = N; i < 2 * N; i++) za_free(b[i]);
  for (int i = 0; i < 3; i++) za_free(odd[i]);
  cr_assert_eq(za_mallinfo2().ordblks, 0);
  cr_assert_eq(za_mallinfo2().uordblks, 0);
}

typedef struct handoff {
  void *blocks[3000];
  size_t n, size;
} handoff_t;

static void *alloc_many(void *arg) {
  handoff_t *h = arg;
  for (size_t i = 0; i < h->n; i++) {
    h->blocks[i] = za_malloc(h->size);
    if (h->blocks[i]) fill(h->blocks[i], h->size, (unsigned)i);
  }
  return NULL;
}

static void *free_all(void *arg) {
  handoff_t *h = arg;
  for (size_t i = 0; i < h->n; i++) za_free(h->blocks[i]);
  return NULL;
}

Test(arena, blocks_freed_by_another_thread_are_reused_by_their_owner) {
  /* The main thread allocates; another thread frees everything (frees into pages the main
   * thread owns, most of them set aside as full); the main thread allocates as much again:
   * the memory held does not grow. */
  static handoff_t h = {.n = 3000, .size = 1000};
  for (int round = 0; round < 5; round++) {
    alloc_many(&h);
    size_t held = za_mallinfo2().arena;
    for (size_t i = 0; i < h.n; i++) assert_pattern(h.blocks[i], h.size, (unsigned)i, "block %zu", i);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, free_all, &h), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(za_mallinfo2().ordblks, 0);
    alloc_many(&h);
    cr_assert_leq(za_mallinfo2().arena, held + PAGE, "round %d: %zu bytes held, %zu before", round,
                  za_mallinfo2().arena, held);
    free_all(&h);
  }
  cr_assert_eq(total_findings(), 0);
}

Test(arena, pages_of_an_exited_thread_are_freed_into_and_taken_over) {
  void *mine = za_malloc(16);
  size_t base = za_mallinfo2().arena;
  static handoff_t h = {.n = 600, .size = 100 * KiB};
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, alloc_many, &h), 0);
  cr_assert_eq(pthread_join(th, NULL), 0);
  for (size_t i = 0; i < h.n; i++) {
    cr_assert_not_null(h.blocks[i]);
    assert_pattern(h.blocks[i], h.size, (unsigned)i, "block %zu from the exited thread", i);
  }
  struct mallinfo2 mi = za_mallinfo2();
  cr_assert_eq(mi.ordblks, 601, "the exited thread's blocks are not counted");
  cr_assert_geq(mi.arena, base + h.n * h.size);
  /* Half freed here: another thread then allocates as many blocks of that class again, and
   * takes over the exited thread's pages rather than new ones. */
  for (size_t i = 0; i < h.n; i += 2) za_free(h.blocks[i]);
  static handoff_t again = {.n = 300, .size = 100 * KiB};
  cr_assert_eq(pthread_create(&th, NULL, alloc_many, &again), 0);
  cr_assert_eq(pthread_join(th, NULL), 0);
  cr_assert_leq(za_mallinfo2().arena, mi.arena + 2 * MiB, "the exited thread's pages were not reused");
  for (size_t i = 1; i < h.n; i += 2) za_free(h.blocks[i]);
  for (size_t i = 0; i < again.n; i++) za_free(again.blocks[i]);
  cr_assert_eq(total_findings(), 0);
  cr_assert_eq(za_mallinfo2().ordblks, 1);
  /* Every page of both exited threads is empty now: trim gives them all back. */
  za_malloc_trim(0);
  cr_assert_leq(za_mallinfo2().arena, base + PAGE, "pages of exited threads were not released");
  za_free(mine);
}

static void *alloc_free_exit(void *arg) {
  void *p[100];
  for (int i = 0; i < 100; i++) p[i] = za_malloc((size_t)(i * 997) % 50000);
  for (int i = 0; i < 100; i++) za_free(p[i]);
  if ((uintptr_t)arg & 1) pthread_exit(NULL);
  return NULL;
}

Test(arena, exiting_threads_do_not_keep_memory) {
  void *mine = za_malloc(16);
  size_t base = za_mallinfo2().arena;
  for (int round = 0; round < 200; round++) {
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
      cr_assert_eq(pthread_create(&th[i], NULL, alloc_free_exit, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  }
  struct mallinfo2 mi = za_mallinfo2();
  cr_assert_eq(mi.ordblks, 1);
  cr_assert_eq(mi.uordblks, 16);
  /* At most the pool's pages kept with their memory (8 MiB per page size) on top. */
  cr_assert_leq(mi.arena, base + 5 * 8 * MiB, "held %zu bytes after 800 threads", mi.arena);
  za_malloc_trim(0);
  cr_assert_leq(za_mallinfo2().arena, base + PAGE);
  za_free(mine);
}

Test(arena, interleaved_growing_buffers_move_logarithmically) {
  /* Two buffers grown in turn: neither is the newest block for long, so growth cannot happen
   * at the top. A block realloc moves gets room to grow, so each moves O(log n) times (about
   * 25 here), not once per call (thousands), and keeps its content. */
  size_t na = 16, nb = 16, moves = 0;
  unsigned char *a = za_malloc(na), *b = za_malloc(nb);
  memset(a, 1, na);
  memset(b, 2, nb);
  while (na < 200 * KiB) {
    unsigned char *a2 = za_realloc(a, na + 48);
    cr_assert_not_null(a2);
    moves += a2 != a;
    memset(a2 + na, 1, 48);
    a = a2;
    na += 48;
    b = za_realloc(b, nb + 48);
    memset(b + nb, 2, 48);
    nb += 48;
  }
  cr_assert_leq(moves, 40, "a moved %zu times while growing to %zu bytes", moves, na);
  for (size_t i = 0; i < na; i++) cr_assert_eq(a[i], 1, "a[%zu] lost", i);
  for (size_t i = 0; i < nb; i++) cr_assert_eq(b[i], 2, "b[%zu] lost", i);
  cr_assert_geq(za_malloc_usable_size(a), na);
  za_free(a);
  za_free(b);
}

Test(arena, small_integer_pointers_are_invalid_and_harmless) {
  /* Values like (void *)1 must never match the large-block table's empty or deleted slots. */
  void *big = za_malloc((2 * CLASS_MAX) * 2); /* puts a table in place, then a deleted slot */
  za_free(big);
  for (uintptr_t v = 1; v < 64; v++) {
    za_free((void *)v);
    errno = 0;
    cr_assert_null(za_realloc((void *)v, 100));
    cr_assert_eq(za_malloc_usable_size((void *)v), 0);
  }
  cr_assert_geq(total_findings(), 63 * 3);
  void *again = za_malloc((2 * CLASS_MAX) * 2);
  cr_assert_not_null(again);
  cr_assert_geq((uintptr_t)again, 4096, "a bogus pointer was recycled as a mapping");
  memset(again, 1, (2 * CLASS_MAX) * 2);
  za_free(again);
}

static uint64_t xorshift(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* A random mix of every call, biased towards freeing recent blocks (so the top rolls back over
 * freed blocks often), with realloc growth (room to grow), aligned blocks and large blocks
 * (mapping reuse). Every live block holds a pattern that is checked before it is freed or
 * resized: if the top ever rolled back under a live block, or two blocks overlapped, a later
 * block would overwrite it and the check fails. calloc'd blocks are checked for zeros first. */
Test(arena, random_model_keeps_every_live_block_intact, .timeout = 120) {
  enum { SLOTS = 1500, STEPS = 300000 };
  static struct { unsigned char *p; size_t n; uint32_t seed; } live[SLOTS];
  uint64_t rng = 0x9e3779b97f4a7c15ull;
#define NEXT() xorshift(&rng)
  size_t count = 0;
  for (uint32_t step = 1; step <= STEPS; step++) {
    uint64_t r = NEXT();
    unsigned op = (unsigned)(r % 100);
    if (count > 0 && (op < 35 || count == SLOTS)) {
      /* free: mostly one of the newest few, sometimes any */
      size_t i = op < 25 ? count - 1 - (size_t)(NEXT() % (count < 4 ? count : 4)) : (size_t)(NEXT() % count);
      cr_assert_eq(first_bad(live[i].p, live[i].n, live[i].seed), live[i].n, "step %u: block lost", step);
      za_free(live[i].p);
      live[i] = live[--count];
    } else if (count > 0 && op < 50) {
      /* realloc, mostly growing */
      size_t i = (size_t)(NEXT() % count);
      size_t n = live[i].n + (size_t)(NEXT() % 3000) - (op < 45 ? 0 : live[i].n / 2);
      if (NEXT() % 50 == 0) n += (2 * CLASS_MAX);
      cr_assert_eq(first_bad(live[i].p, live[i].n, live[i].seed), live[i].n, "step %u: block lost", step);
      unsigned char *q = za_realloc(live[i].p, n);
      cr_assert_not_null(q);
      size_t kept = n < live[i].n ? n : live[i].n;
      cr_assert_eq(first_bad(q, kept, live[i].seed), kept, "step %u: realloc lost content", step);
      cr_assert_geq(za_malloc_usable_size(q), n);
      live[i].p = q;
      live[i].n = n;
      fill(q, n, live[i].seed);
    } else {
      size_t n = (size_t)(NEXT() % (NEXT() % 20 == 0 ? 3 * (2 * CLASS_MAX) : 700));
      size_t align = (size_t)1 << (4 + NEXT() % 14); /* 16 .. 128 KiB */
      unsigned char *p;
      if (op < 60) {
        p = za_calloc(1, n);
        cr_assert_not_null(p);
        for (size_t k = 0; k < n; k++) cr_assert_eq(p[k], 0, "step %u: calloc byte %zu", step, k);
      } else if (op < 68) {
        p = za_memalign(align, n);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % align, 0, "step %u: alignment %zu", step, align);
      } else {
        p = za_malloc(n);
        cr_assert_not_null(p);
      }
      cr_assert_eq((uintptr_t)p % 16, 0);
      cr_assert_geq(za_malloc_usable_size(p), n);
      live[count].p = p;
      live[count].n = n;
      live[count].seed = step;
      fill(p, n, step);
      count++;
    }
  }
#undef NEXT
  for (size_t i = 0; i < count; i++) {
    cr_assert_eq(first_bad(live[i].p, live[i].n, live[i].seed), live[i].n, "final check: block lost");
    za_free(live[i].p);
  }
  cr_assert_eq(total_findings(), 0, "a correct program produced heap-error findings");
  cr_assert_eq(za_mallinfo2().ordblks, 0);
}

Test(arena, a_growing_block_keeps_the_room_of_a_reused_mapping) {
  /* A buffer grown past the largest class and freed leaves its mapping in the cache; the next
   * buffer grown the same way takes it. Growing by a few bytes is not a shrink: the block keeps
   * the mapping's room (usable size), instead of being cut down to its size and remapped at
   * every step after (which cost alloc-bench's realloc case 4x glibc's time in page faults). */
  unsigned char *p = NULL;
  size_t n = 0;
  while (n < MiB) {
    p = za_realloc(p, n + 64);
    cr_assert_not_null(p);
    memset(p + n, 7, 64);
    n += 64;
  }
  size_t room = za_malloc_usable_size(p);
  cr_assert_geq(room, MiB);
  za_free(p);
  p = NULL;
  n = 0;
  size_t least = SIZE_MAX;
  while (n < MiB) {
    p = za_realloc(p, n + 64);
    cr_assert_not_null(p);
    memset(p + n, 7, 64);
    n += 64;
    if (n > 2 * CLASS_MAX && za_malloc_usable_size(p) < least) least = za_malloc_usable_size(p);
  }
  cr_assert_geq(least, room, "a growing block was cut to %zu bytes in a %zu-byte mapping", least, room);
  for (size_t i = 0; i < n; i++) cr_assert_eq(p[i], 7, "p[%zu] lost", i);
  za_free(p);
  cr_assert_eq(total_findings(), 0);
}

static void *free_elsewhere(void *p) {
  za_free(p);
  return NULL;
}

Test(arena, blocks_freed_into_full_pages_are_reused_before_a_new_page) {
  /* Eight pages' worth of 1 KiB blocks (64 KiB pages), then one block in eight freed, in
   * random order, while every page is full: the next allocations get exactly those blocks
   * back (the pages wait on the heap's unfull list and return when the queue runs dry) before
   * any new page is taken. One of them is freed by another thread meanwhile, and is reused
   * too. */
  enum { N = 8 * 64, SZ = 1024 };
  static void *b[N], *freed[N / 8];
  for (int i = 0; i < N; i++) cr_assert_not_null(b[i] = za_malloc(SZ));
  cr_assert_eq((uintptr_t)b[N - 1] / (64 * KiB), (uintptr_t)b[0] / (64 * KiB) + 7,
               "the blocks do not fill eight pages exactly");
  size_t nf = 0;
  uint64_t s = 88172645463325252ull;
  for (int k = 0; k < N / 8; k++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    int i = (int)(s % (N / 8)) * 8;
    while (!b[i]) i = (i + 8) % N;
    freed[nf++] = b[i];
    if (k == 5) {
      pthread_t th;
      cr_assert_eq(pthread_create(&th, NULL, free_elsewhere, b[i]), 0);
      pthread_join(th, NULL);
    } else {
      za_free(b[i]);
    }
    b[i] = NULL;
  }
  size_t mapped = za_mallinfo2().arena;
  for (size_t k = 0; k < nf; k++) {
    void *p = za_malloc(SZ);
    bool known = false;
    for (size_t j = 0; j < nf; j++)
      if (freed[j] == p) { known = true; freed[j] = NULL; }
    cr_assert(known, "allocation %zu got %p, not one of the blocks freed", k, p);
    memset(p, 0x5a, SZ);
  }
  cr_assert_eq(za_mallinfo2().arena, mapped, "a new page was taken while freed blocks waited");
  cr_assert_eq(total_findings(), 0);
}
