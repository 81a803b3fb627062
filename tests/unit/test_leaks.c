/* Unit tests of the leak check (leaks.h) and of the mapping registry it relies on (prim.h):
 *   - za_leaks_classify over synthetic blocks in mmap'd memory, with explicit root ranges:
 *     chains, cycles, interior pointers, blocks reached only from lost blocks, unaligned words,
 *     pointers just past a block's end, empty blocks;
 *   - the registry after map, partial unmap, remap (in place and moving), aligned maps and
 *     enough mappings to make its array grow;
 *   - za_leaks_scan end to end over blocks the test describes itself (no backend, no stacks):
 *     roots from /proc/self/maps, the registry's exclusions, the groups it puts into a report
 *     and the lines the text writer makes of them.
 * Criterion runs each test in its own process. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "leaks.h"
#include "prim.h"
#include "report_model.h"
#include "report_text.h"

#define NB 16                 /* blocks in a synthetic heap */
#define STRIDE 256            /* bytes between their starts (blocks are smaller: gaps) */

typedef struct heap {
  uint8_t *mem;               /* NB blocks of STRIDE bytes */
  uintptr_t *roots;           /* one page of root words */
  za_live_block_t b[NB];
  uint8_t cls[NB];
} heap_t;

static void heap_init(heap_t *h, size_t size) {
  h->mem = mmap(NULL, NB * STRIDE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  h->roots = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert(h->mem != MAP_FAILED && h->roots != MAP_FAILED);
  for (size_t i = 0; i < NB; i++)
    h->b[i] = (za_live_block_t){.addr = (uintptr_t)h->mem + i * STRIDE, .size = size};
}

/* Block `from` holds, in its word `slot`, a pointer `off` bytes into block `to`. */
static void link_to(heap_t *h, int from, int slot, int to, size_t off) {
  ((uintptr_t *)h->b[from].addr)[slot] = h->b[to].addr + off;
}

static void classify(heap_t *h) {
  za_leak_range_t r = {(uintptr_t)h->roots, (uintptr_t)h->roots + 4096};
  cr_assert(za_leaks_classify(h->b, NB, &r, 1, h->cls));
}

static int count(const heap_t *h, za_leak_class_t c) {
  int n = 0;
  for (int i = 0; i < NB; i++) n += h->cls[i] == c;
  return n;
}

#define assert_cls(h, i, c) cr_assert_eq((h)->cls[i], (c), "block %d: class %d, expected %d", (i), (h)->cls[i], (c))

Test(leaks_classify, nothing_referenced_is_all_definite) {
  heap_t h;
  heap_init(&h, 64);
  classify(&h);
  cr_assert_eq(count(&h, ZA_LEAK_DEFINITE), NB);
}

Test(leaks_classify, chain_from_a_root_is_reachable) {
  heap_t h;
  heap_init(&h, 64);
  h.roots[7] = h.b[3].addr;
  link_to(&h, 3, 0, 9, 0);
  link_to(&h, 9, 5, 1, 0);
  classify(&h);
  assert_cls(&h, 3, ZA_LEAK_REACHABLE);
  assert_cls(&h, 9, ZA_LEAK_REACHABLE);
  assert_cls(&h, 1, ZA_LEAK_REACHABLE);
  cr_assert_eq(count(&h, ZA_LEAK_DEFINITE), NB - 3);
  cr_assert_eq(count(&h, ZA_LEAK_INDIRECT), 0);
}

Test(leaks_classify, lost_chain_one_definite_rest_indirect) {
  heap_t h;
  heap_init(&h, 64);
  /* 2 -> 5 -> 11 in ascending order, and 14 -> 12 -> 10 descending: the head of each chain is
   * definite whichever way the addresses run. */
  link_to(&h, 2, 0, 5, 0);
  link_to(&h, 5, 1, 11, 0);
  link_to(&h, 14, 2, 12, 0);
  link_to(&h, 12, 3, 10, 0);
  classify(&h);
  assert_cls(&h, 2, ZA_LEAK_DEFINITE);
  assert_cls(&h, 5, ZA_LEAK_INDIRECT);
  assert_cls(&h, 11, ZA_LEAK_INDIRECT);
  assert_cls(&h, 14, ZA_LEAK_DEFINITE);
  assert_cls(&h, 12, ZA_LEAK_INDIRECT);
  assert_cls(&h, 10, ZA_LEAK_INDIRECT);
}

Test(leaks_classify, cycle_has_exactly_one_definite) {
  heap_t h;
  heap_init(&h, 64);
  link_to(&h, 4, 0, 8, 0);
  link_to(&h, 8, 0, 6, 0);
  link_to(&h, 6, 0, 4, 0);
  classify(&h);
  int definite = (h.cls[4] == ZA_LEAK_DEFINITE) + (h.cls[6] == ZA_LEAK_DEFINITE) +
                 (h.cls[8] == ZA_LEAK_DEFINITE);
  int indirect = (h.cls[4] == ZA_LEAK_INDIRECT) + (h.cls[6] == ZA_LEAK_INDIRECT) +
                 (h.cls[8] == ZA_LEAK_INDIRECT);
  cr_assert_eq(definite, 1);
  cr_assert_eq(indirect, 2);
}

Test(leaks_classify, cycle_pointed_to_by_a_later_lost_block_is_all_indirect) {
  heap_t h;
  heap_init(&h, 64);
  link_to(&h, 1, 0, 2, 0);
  link_to(&h, 2, 0, 1, 0);
  link_to(&h, 13, 4, 2, 8);   /* interior pointer into the cycle from a higher address */
  classify(&h);
  assert_cls(&h, 13, ZA_LEAK_DEFINITE);
  assert_cls(&h, 1, ZA_LEAK_INDIRECT);
  assert_cls(&h, 2, ZA_LEAK_INDIRECT);
}

Test(leaks_classify, self_pointer_stays_definite) {
  heap_t h;
  heap_init(&h, 64);
  link_to(&h, 7, 0, 7, 16);
  classify(&h);
  assert_cls(&h, 7, ZA_LEAK_DEFINITE);
}

Test(leaks_classify, interior_pointers_reach) {
  heap_t h;
  heap_init(&h, 100);
  h.roots[0] = h.b[0].addr + 99;   /* last byte */
  h.roots[1] = h.b[1].addr + 50;
  link_to(&h, 1, 2, 2, 1);
  classify(&h);
  assert_cls(&h, 0, ZA_LEAK_REACHABLE);
  assert_cls(&h, 1, ZA_LEAK_REACHABLE);
  assert_cls(&h, 2, ZA_LEAK_REACHABLE);
}

/* The scan skips words that point into the block the word before it reached: a word into the
 * next block, right after, must still reach that one. Fails if the skip covers the gap up to
 * the next block (STRIDE) instead of the block's own size. */
Test(leaks_classify, neighbouring_words_into_neighbouring_blocks_reach_each) {
  heap_t h;
  heap_init(&h, 64);
  h.roots[0] = h.b[4].addr;
  h.roots[1] = h.b[4].addr + 8;             /* the same block again: skipped */
  h.roots[2] = h.b[4].addr + 64;            /* just past it, in the gap: reaches nothing */
  h.roots[3] = h.b[5].addr;                 /* the next block */
  link_to(&h, 5, 0, 6, 63);
  link_to(&h, 5, 1, 7, 0);
  classify(&h);
  assert_cls(&h, 4, ZA_LEAK_REACHABLE);
  assert_cls(&h, 5, ZA_LEAK_REACHABLE);
  assert_cls(&h, 6, ZA_LEAK_REACHABLE);
  assert_cls(&h, 7, ZA_LEAK_REACHABLE);
  cr_assert_eq(count(&h, ZA_LEAK_DEFINITE), NB - 4);
}

/* The same inside a lost block's flood: both neighbours become indirectly lost. */
Test(leaks_classify, a_flood_reaches_neighbouring_blocks_through_neighbouring_words) {
  heap_t h;
  heap_init(&h, 64);
  link_to(&h, 0, 0, 8, 0);
  link_to(&h, 0, 1, 8, 32);
  link_to(&h, 0, 2, 9, 0);
  classify(&h);
  assert_cls(&h, 0, ZA_LEAK_DEFINITE);
  assert_cls(&h, 8, ZA_LEAK_INDIRECT);
  assert_cls(&h, 9, ZA_LEAK_INDIRECT);
}

Test(leaks_classify, pointer_just_past_the_end_does_not_reach) {
  heap_t h;
  heap_init(&h, 100);
  h.roots[0] = h.b[3].addr + 100;  /* one past the end, inside the gap before block 4 */
  h.roots[1] = h.b[5].addr - 1;    /* just below the start */
  classify(&h);
  assert_cls(&h, 3, ZA_LEAK_DEFINITE);
  assert_cls(&h, 4, ZA_LEAK_DEFINITE);
  assert_cls(&h, 5, ZA_LEAK_DEFINITE);
}

Test(leaks_classify, unaligned_words_are_ignored) {
  heap_t h;
  heap_init(&h, 64);
  uintptr_t p = h.b[6].addr;
  memcpy((char *)h.roots + 12, &p, sizeof p);          /* a root word at offset 12 */
  p = h.b[9].addr;
  memcpy((char *)h.b[6].addr + 4, &p, sizeof p);       /* inside a lost block, offset 4 */
  h.roots[10] = h.b[2].addr;
  p = h.b[11].addr;
  memcpy((char *)h.b[2].addr + 20, &p, sizeof p);      /* inside a reachable block */
  classify(&h);
  assert_cls(&h, 6, ZA_LEAK_DEFINITE);
  assert_cls(&h, 9, ZA_LEAK_DEFINITE);
  assert_cls(&h, 2, ZA_LEAK_REACHABLE);
  assert_cls(&h, 11, ZA_LEAK_DEFINITE);
}

Test(leaks_classify, words_beyond_the_requested_size_are_not_read) {
  heap_t h;
  heap_init(&h, 64);
  h.roots[0] = h.b[0].addr;
  link_to(&h, 0, 8, 1, 0);     /* word 8 is at byte 64: outside the 64-byte block */
  classify(&h);
  assert_cls(&h, 0, ZA_LEAK_REACHABLE);
  assert_cls(&h, 1, ZA_LEAK_DEFINITE);
}

Test(leaks_classify, lost_block_does_not_demote_a_reachable_one) {
  heap_t h;
  heap_init(&h, 64);
  h.roots[0] = h.b[8].addr;
  link_to(&h, 3, 0, 8, 0);     /* lost 3 -> reachable 8 */
  link_to(&h, 12, 0, 8, 0);    /* lost 12 -> reachable 8 */
  classify(&h);
  assert_cls(&h, 8, ZA_LEAK_REACHABLE);
  assert_cls(&h, 3, ZA_LEAK_DEFINITE);
  assert_cls(&h, 12, ZA_LEAK_DEFINITE);
}

Test(leaks_classify, empty_block_is_reached_by_its_start_only) {
  heap_t h;
  heap_init(&h, 0);
  h.roots[0] = h.b[1].addr;
  h.roots[1] = h.b[2].addr + 1;
  classify(&h);
  assert_cls(&h, 1, ZA_LEAK_REACHABLE);
  assert_cls(&h, 2, ZA_LEAK_DEFINITE);
}

Test(leaks_classify, roots_reading_ends_at_the_range_end) {
  heap_t h;
  heap_init(&h, 64);
  h.roots[0] = h.b[0].addr;
  h.roots[1] = h.b[1].addr;    /* outside the one-word range below */
  za_leak_range_t r = {(uintptr_t)h.roots, (uintptr_t)h.roots + 8};
  cr_assert(za_leaks_classify(h.b, NB, &r, 1, h.cls));
  assert_cls(&h, 0, ZA_LEAK_REACHABLE);
  assert_cls(&h, 1, ZA_LEAK_DEFINITE);
}

/* ---- the mapping registry ---- */

typedef struct probe {
  uintptr_t lo, hi;           /* the range asked about */
  uintptr_t covered;          /* bytes of it the registry holds */
  uintptr_t last_hi;
  bool sorted;
} probe_t;

static void probe_fn(void *ctx, uintptr_t lo, uintptr_t hi) {
  probe_t *p = ctx;
  if (lo < p->last_hi || hi <= lo) p->sorted = false;
  p->last_hi = hi;
  uintptr_t a = lo > p->lo ? lo : p->lo, z = hi < p->hi ? hi : p->hi;
  if (a < z) p->covered += z - a;
}

/* Bytes of [lo, hi) the registry records; also checks it is sorted, disjoint and not empty. */
static uintptr_t recorded(const void *lo, size_t len) {
  probe_t p = {(uintptr_t)lo, (uintptr_t)lo + len, 0, 0, true};
  cr_assert(za_os_for_each_mapping(probe_fn, &p));
  cr_assert(p.sorted, "registry ranges out of order or overlapping");
  return p.covered;
}

#define PG 4096u

Test(leaks_registry, map_and_unmap) {
  uint8_t *p = za_os_map(10 * PG);
  cr_assert_not_null(p);
  cr_assert_eq(recorded(p, 10 * PG), 10 * PG);
  za_os_unmap(p, 10 * PG);
  cr_assert_eq(recorded(p, 10 * PG), 0);
}

Test(leaks_registry, partial_unmaps_split_and_trim) {
  uint8_t *p = za_os_map(10 * PG);
  cr_assert_not_null(p);
  za_os_unmap(p + 4 * PG, 2 * PG);              /* the middle: splits */
  cr_assert_eq(recorded(p, 4 * PG), 4 * PG);
  cr_assert_eq(recorded(p + 4 * PG, 2 * PG), 0);
  cr_assert_eq(recorded(p + 6 * PG, 4 * PG), 4 * PG);
  za_os_unmap(p, PG);                           /* the head */
  cr_assert_eq(recorded(p, PG), 0);
  cr_assert_eq(recorded(p + PG, 3 * PG), 3 * PG);
  za_os_unmap(p + 9 * PG, PG);                  /* the tail */
  cr_assert_eq(recorded(p + 6 * PG, 4 * PG), 3 * PG);
  za_os_unmap(p, 10 * PG);                      /* across all that is left, and the holes */
  cr_assert_eq(recorded(p, 10 * PG), 0);
}

Test(leaks_registry, unaligned_length_counts_whole_pages) {
  uint8_t *p = za_os_map(PG + 1);
  cr_assert_not_null(p);
  cr_assert_eq(recorded(p, 2 * PG), 2 * PG);
  za_os_unmap(p, PG + 1);
  cr_assert_eq(recorded(p, 2 * PG), 0);
}

Test(leaks_registry, remap_grows_and_moves) {
  uint8_t *p = za_os_map(4 * PG);
  cr_assert_not_null(p);
  /* Something right after it, so growing in place is impossible and the mapping moves. */
  uint8_t *fence = mmap(p + 4 * PG, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                        -1, 0);
  uint8_t *q = za_os_remap(p, 4 * PG, 64 * PG);
  cr_assert_not_null(q);
  cr_assert_eq(recorded(q, 64 * PG), 64 * PG);
  if (fence != MAP_FAILED) {
    cr_assert_neq(q, p);
    cr_assert_eq(recorded(p, 4 * PG), 0);
    munmap(fence, PG);
  }
  uint8_t *r = za_os_remap(q, 64 * PG, 8 * PG);   /* shrinks in place */
  cr_assert_eq(r, q);
  cr_assert_eq(recorded(q, 64 * PG), 8 * PG);
  za_os_unmap(r, 8 * PG);
  cr_assert_eq(recorded(q, 64 * PG), 0);
}

Test(leaks_registry, aligned_map_records_only_what_it_keeps) {
  size_t align = 4 << 20;
  uint8_t *p = za_os_map_aligned(align, align);
  cr_assert_not_null(p);
  cr_assert_eq((uintptr_t)p % align, 0);
  cr_assert_eq(recorded(p - align, 3 * align), align);
  za_os_unmap(p, align);
}

Test(leaks_registry, many_mappings_grow_the_registry) {
  enum { N = 3000 };
  static uint8_t *maps[N];
  for (int i = 0; i < N; i++) {
    maps[i] = za_os_map(2 * PG);
    cr_assert_not_null(maps[i]);
  }
  for (int i = 0; i < N; i++) za_os_unmap(maps[i] + PG, PG);   /* a hole in each */
  cr_assert_geq(za_os_mapping_count(), (size_t)N);
  for (int i = 0; i < N; i++) {
    cr_assert_eq(recorded(maps[i], PG), PG);
    cr_assert_eq(recorded(maps[i] + PG, PG), 0);
  }
  for (int i = 0; i < N; i++) za_os_unmap(maps[i], PG);
  for (int i = 0; i < N; i++) cr_assert_eq(recorded(maps[i], 2 * PG), 0);
}

/* ---- the whole scan, over blocks the test describes ---- */

/* The synthetic heap lives in a mapping of zalloc's (so it is no root), and its address is kept
 * only scrambled, so that no word of the test itself points into it. */
#define SCRAMBLE ((uintptr_t)0x5a5a5a5a5a5a5a5aull)
static uintptr_t heap_scrambled;
void *volatile global_root;     /* a root: module data */

enum { S_A, S_B, S_C, S_D, S_E, S_F, S_N };
static const size_t scan_sizes[S_N] = {48, 32, 40, 24, 24, 1000};

/* Away from page boundaries, which stale words often hold. */
static uintptr_t scan_block(int i) { return (heap_scrambled ^ SCRAMBLE) + 136 + (uintptr_t)i * 1032; }

static void walk(void (*fn)(void *ctx, const za_live_block_t *b), void *ctx) {
  for (int i = S_N - 1; i >= 0; i--) {   /* not in address order: the scan sorts */
    za_live_block_t b = {.addr = scan_block(i), .size = scan_sizes[i], .tid = 42};
    fn(ctx, &b);
  }
}

/* A (global) -> B: reachable, 80 bytes in 2 blocks. C: definitely lost. D <-> E: one definitely,
 * one indirectly lost. F: reachable from a word in a mapping the program made itself. */
static ZA_NOINLINE void *build_heap(void) {
  uint8_t *mem = za_os_map(S_N * 1032 + 136);
  cr_assert_not_null(mem);
  heap_scrambled = (uintptr_t)mem ^ SCRAMBLE;
  *(uintptr_t *)scan_block(S_A) = scan_block(S_B) + 8;
  *(uintptr_t *)scan_block(S_D) = scan_block(S_E);
  *(uintptr_t *)scan_block(S_E) = scan_block(S_D);
  global_root = (void *)scan_block(S_A);
  uintptr_t *own = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert(own != MAP_FAILED);
  own[100] = scan_block(S_F) + 999;
  return own;
}

/* Overwrite the dead stack below here, where build_heap's locals were. */
static ZA_NOINLINE void scrub_stack(void) {
  volatile char junk[16384];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = 0;
}

/* The scan of `walk`'s blocks, into a fresh report (freed with za_model_free). */
static void scan_into(za_report_t *r, za_live_walk_t walk) {
  za_model_init(r, false);
  r->process.pid = 1;
  r->process.command = "test";
  r->process.mode = "gpa";
  r->stats.known = true;
  r->findings_known = true;
  za_leaks_scan(walk, r, false);
}

/* The text writer's lines for the report, in a static buffer. */
static const char *text_of(const za_report_t *r) {
  static char buf[8192];
  za_out_t o;
  za_out_init(&o, -1, buf, sizeof buf - 1);
  za_report_write_text(&o, r);
  buf[o.len] = '\0';
  return buf;
}

Test(leaks_scan, classifies_and_reports) {
  build_heap();
  scrub_stack();
  za_report_t r;
  scan_into(&r, walk);
  const za_leak_totals_t *t = &r.leaks.totals;
  const char *buf = text_of(&r);
  cr_assert_eq(r.leaks.state, ZA_LEAKS_CHECKED);
  cr_assert_eq(t->blocks[ZA_LEAK_REACHABLE], 3, "%s", buf);
  cr_assert_eq(t->bytes[ZA_LEAK_REACHABLE], 48 + 32 + 1000, "%s", buf);
  cr_assert_eq(t->blocks[ZA_LEAK_DEFINITE], 2, "%s", buf);
  cr_assert_eq(t->bytes[ZA_LEAK_DEFINITE], 40 + 24, "%s", buf);
  cr_assert_eq(t->blocks[ZA_LEAK_INDIRECT], 1, "%s", buf);
  cr_assert_eq(t->bytes[ZA_LEAK_INDIRECT], 24, "%s", buf);
  /* Two groups, largest first, without stacks; the reachable ones are not grouped. */
  cr_assert_eq(r.leaks.ngroups, 2);
  cr_assert(r.leaks.groups[0].cls == ZA_LEAK_DEFINITE && r.leaks.groups[0].blocks == 2 &&
            r.leaks.groups[0].bytes == 64 && r.leaks.groups[0].stack == NULL);
  cr_assert(r.leaks.groups[1].cls == ZA_LEAK_INDIRECT && r.leaks.groups[1].blocks == 1 &&
            r.leaks.groups[1].bytes == 24 && r.leaks.groups[1].tid == 42);
  const char *want =
    "==1== definitely lost: 2 blocks, 64 bytes, allocated at: (no stack recorded)\n"
    "==1== indirectly lost: 1 block, 24 bytes, allocated at: (no stack recorded)\n"
    "==1==   leaks:       definitely lost 64 bytes in 2 blocks, indirectly lost 24 bytes in "
    "1 block, still reachable 1,080 bytes in 3 blocks\n";
  cr_assert_not_null(strstr(buf, want), "%s", buf);
  za_model_free(&r);
}

static void walk_reachable(void (*fn)(void *ctx, const za_live_block_t *b), void *ctx) {
  za_live_block_t b = {.addr = scan_block(S_A), .size = 48, .tid = 7};
  fn(ctx, &b);
}

Test(leaks_scan, nothing_lost) {
  build_heap();
  scrub_stack();
  za_report_t r;
  scan_into(&r, walk_reachable);
  cr_assert_eq(r.leaks.ngroups, 0);
  const char *buf = text_of(&r);
  cr_assert_not_null(strstr(buf, "\n==1==   leaks:       none lost (still reachable: 48 bytes in 1 block)\n"),
                     "%s", buf);
  za_model_free(&r);
}

Test(leaks_scan, no_walker_checks_nothing) {
  za_report_t r;
  scan_into(&r, NULL);
  cr_assert_eq(r.leaks.state, ZA_LEAKS_NOT_CHECKED);
  for (int c = 0; c < 3; c++) cr_assert(r.leaks.totals.blocks[c] == 0 && r.leaks.totals.bytes[c] == 0);
  cr_assert_null(strstr(text_of(&r), "leaks:"));
  za_model_free(&r);
}

/* Blocks that are all zalloc's own: nothing to classify, nothing read. */
static void walk_internal(void (*fn)(void *ctx, const za_live_block_t *b), void *ctx) {
  za_live_block_t b = {.addr = scan_block(S_C), .size = 40, .tid = 7, .internal = true};
  fn(ctx, &b);
}

Test(leaks_scan, only_zallocs_own_blocks_are_not_scanned) {
  build_heap();
  za_report_t r;
  scan_into(&r, walk_internal);
  cr_assert_eq(r.leaks.state, ZA_LEAKS_CHECKED);
  for (int c = 0; c < 3; c++) cr_assert(r.leaks.totals.blocks[c] == 0);
  cr_assert_eq(r.leaks.ngroups, 0);
  za_model_free(&r);
}

/* While other threads run, memory is read through a system call: the same answer. */
Test(leaks_scan, copied_reads_classify_alike) {
  build_heap();
  scrub_stack();
  za_report_t r;
  za_model_init(&r, false);
  za_leaks_scan(walk, &r, true);
  cr_assert(r.leaks.running);
  cr_assert_eq(r.leaks.totals.blocks[ZA_LEAK_DEFINITE], 2);
  cr_assert_eq(r.leaks.totals.blocks[ZA_LEAK_INDIRECT], 1);
  cr_assert_eq(r.leaks.totals.blocks[ZA_LEAK_REACHABLE], 3);
  /* Reachable blocks are grouped too in a running process's report: what is live. */
  cr_assert(r.leaks.reachable_listed);
  cr_assert_eq(r.leaks.ngroups, 3);
  za_model_free(&r);
}

/* A pointer held only in this thread's live stack frame reaches its block. */
static ZA_NOINLINE void scan_with_local(za_report_t *r) {
  volatile uintptr_t local = scan_block(S_C);
  za_model_init(r, false);
  za_leaks_scan(walk, r, false);
  (void)local;
}

/* Many blocks, walked as a backend walks them: in runs each in address order (pages, segments),
 * the runs out of order. Block k points to block k + 1, the first is held by a root, the last
 * block of all is lost: every other block must be found reachable, so the scan must have put
 * them all in address order (a block missing from its place is not found, and counts lost). */
#define R_N 3000
#define R_STRIDE 48
static uintptr_t runs_block(int k) { return (heap_scrambled ^ SCRAMBLE) + 64 + (uintptr_t)k * R_STRIDE; }

static void walk_runs(void (*fn)(void *ctx, const za_live_block_t *b), void *ctx) {
  /* Runs of 7 blocks; the runs taken with a stride of 5 through the 429 runs (coprime). */
  const int runs = (R_N + 6) / 7;
  for (int r = 0, j = 0; r < runs; r++, j = (j + 5) % runs)
    for (int k = j * 7; k < j * 7 + 7 && k < R_N; k++) {
      za_live_block_t b = {.addr = runs_block(k), .size = 16, .tid = 3};
      fn(ctx, &b);
    }
}

Test(leaks_scan, blocks_walked_in_runs_out_of_order_are_all_found) {
  uint8_t *mem = za_os_map(R_N * R_STRIDE + 64);
  cr_assert_not_null(mem);
  heap_scrambled = (uintptr_t)mem ^ SCRAMBLE;
  for (int k = 0; k + 2 < R_N; k++) *(uintptr_t *)runs_block(k) = runs_block(k + 1) + 8;
  global_root = (void *)runs_block(0);
  scrub_stack();
  za_report_t r;
  scan_into(&r, walk_runs);
  cr_assert_eq(r.leaks.state, ZA_LEAKS_CHECKED);
  cr_assert_eq(r.leaks.totals.blocks[ZA_LEAK_REACHABLE], R_N - 1);
  cr_assert_eq(r.leaks.totals.blocks[ZA_LEAK_DEFINITE], 1);
  cr_assert_eq(r.leaks.totals.blocks[ZA_LEAK_INDIRECT], 0);
  global_root = NULL;
  za_model_free(&r);
}

Test(leaks_scan, live_stack_is_a_root) {
  build_heap();
  scrub_stack();
  za_report_t r;
  scan_with_local(&r);
  cr_assert_eq(r.leaks.totals.blocks[ZA_LEAK_REACHABLE], 4);
  cr_assert_eq(r.leaks.totals.blocks[ZA_LEAK_DEFINITE], 1);
  za_model_free(&r);
}
