/* A hostile program (issue 10, "corruption cannot be turned into control"), run under
 * libzalloc.so by test_hostile.c: one kind of corruption per scenario, then a long stretch of
 * ordinary malloc/realloc/free that checks zalloc never hands out memory that is still in use.
 *
 * Every block the program keeps is filled with its own tag and checked before it is freed and
 * at the end: a block handed out twice (or overlapping another) has the other's tag. A failed
 * check prints "HOSTILE-FAIL: ..." and exits 99; a crash is the status of the signal; success
 * prints "done" and exits 0. What zalloc reported is for the test to read in the log.
 *
 * Scenarios (argv[1]):
 *   overflow LEN KIND   overflow by LEN bytes past blocks of every size range, KIND of garbage:
 *                       A (0x41 bytes), heap (addresses of other blocks), meta (addresses of
 *                       the block's segment: its start, its last word, its page's start)
 *   freed-write KIND    write KIND garbage over freed blocks (gpa mode: with the 16 bytes of
 *                       their slots around them); in or out of the quarantine: the test's
 *                       ZALLOC_QUARANTINE says
 *   bad-free            free addresses inside every anonymous mapping (zalloc's metadata, the
 *                       quarantine's nodes, the heap) that cannot be a block, and inside a
 *                       quarantined block; prints how many it made: "invalid=N double=M"
 *   double-free8 ROUNDS RELEASE
 *                       the same pointer freed by 8 threads at once, ROUNDS times; after each
 *                       round the threads allocate and check their blocks are distinct.
 *                       RELEASE: together (the 8 frees start within a few instructions of each
 *                       other) or staggered (released by a blocking barrier, one by one)
 *   link-poison KIND    free blocks of one page, then overwrite the free-list link zalloc keeps
 *                       in a freed block (the block's first word in arena mode, the 16 bytes
 *                       before it in gpa mode) with KIND: live (a live block of the same page),
 *                       self (the block itself), edge (the last word of the block's segment,
 *                       with an inaccessible page mapped right after the segment), odd (an
 *                       address in the page that is not a block)
 *   overflow-fence W    overflow a page past a large block (W=large) or the last block of a
 *                       segment (W=segment), with no care for what is mapped beyond
 *   delayed-poison      a block freed by another thread into a full page (it waits on the
 *                       owner's list of delayed frees) is overwritten with the address of a live
 *                       block of the owner; then the owner allocates
 * Built -O0 -fno-builtin: every write and call stays as written. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SEG_SIZE ((uintptr_t)4 << 20)   /* zalloc's segments: 4 MiB, aligned (src/segment.h) */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
#include <stdarg.h>
#include <stdatomic.h>
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("HOSTILE-FAIL: ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
  _exit(99);
}

static _Thread_local uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

/* ---- tagged blocks ------------------------------------------------------------------------ */

typedef struct blk {
  unsigned char *p;
  size_t n;
  uint32_t tag;
} blk_t;

static _Atomic uint32_t next_tag = 1;

static void tag_fill(blk_t *b) {
  b->tag = next_tag++;
  for (size_t i = 0; i + 4 <= b->n; i += 4) memcpy(b->p + i, &b->tag, 4);
  for (size_t i = b->n & ~(size_t)3; i < b->n; i++) b->p[i] = (unsigned char)b->tag;
}

static void tag_check(const blk_t *b, const char *when) {
  for (size_t i = 0; i + 4 <= b->n; i += 4) {
    uint32_t v;
    memcpy(&v, b->p + i, 4);
    if (v != b->tag)
      fail("%s: block %p (%zu bytes, tag %u) holds %#x at offset %zu: handed out twice?", when,
           (void *)b->p, b->n, b->tag, v, i);
  }
}

static void *checked_alloc(size_t n) {
  void *p = malloc(n);
  if (!p) fail("malloc(%zu) returned NULL", n);
  if ((uintptr_t)p % 16) fail("malloc(%zu) returned %p: not 16-byte aligned", n, p);
  return p;
}

static size_t random_size(void) {
  uint64_t r = rnd() % 100;
  if (r < 70) return 1 + rnd() % 256;
  if (r < 95) return 257 + rnd() % 3840;
  return 4097 + rnd() % 300000;          /* every page kind, then large blocks */
}

/* `rounds` random allocations, reallocations and frees over `nlive` tagged blocks, every block
 * checked before it is freed or moved, and all of them at the end. */
static void churn(size_t rounds, size_t nlive) {
  blk_t *live = calloc(nlive, sizeof *live);
  if (!live) fail("calloc for the churn");
  for (size_t r = 0; r < rounds; r++) {
    blk_t *b = &live[rnd() % nlive];
    if (b->p && rnd() % 8 == 0) {
      tag_check(b, "before realloc");
      size_t n = random_size();
      unsigned char *q = realloc(b->p, n);
      if (!q) fail("realloc(%zu) returned NULL", n);
      size_t keep = n < b->n ? n : b->n;
      b->p = q;
      b->n = keep;
      tag_check(b, "after realloc");
      b->n = n;
      tag_fill(b);
      continue;
    }
    if (b->p) {
      tag_check(b, "before free");
      free(b->p);
      b->p = NULL;
    }
    b->n = random_size();
    b->p = checked_alloc(b->n);
    tag_fill(b);
  }
  for (size_t i = 0; i < nlive; i++)
    if (live[i].p) tag_check(&live[i], "at the end");
  for (size_t i = 0; i < nlive; i++) free(live[i].p);
  free(live);
}

/* ---- the address space ------------------------------------------------------------------- */

typedef struct range { uintptr_t lo, hi; bool readable, anon; char name[64]; } range_t;

/* The mappings of the process (at most `max`). */
static size_t read_maps(range_t *r, size_t max) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) fail("cannot read /proc/self/maps");
  char line[512];
  size_t n = 0;
  while (n < max && fgets(line, sizeof line, f)) {
    unsigned long lo, hi, off, inode;
    char perms[8], dev[16];
    int used = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &lo, &hi, perms, &off, dev, &inode, &used) < 6) continue;
    char *name = line + used;
    name[strcspn(name, "\n")] = '\0';
    r[n].lo = lo;
    r[n].hi = hi;
    r[n].readable = perms[0] == 'r';
    r[n].anon = inode == 0 && (name[0] == '\0' || strncmp(name, "[anon", 5) == 0);
    snprintf(r[n].name, sizeof r[n].name, "%s", name);
    n++;
  }
  fclose(f);
  return n;
}

/* The end of the accessible memory that goes on without a gap from `p` (adjacent mappings
 * count: an overflow runs on into them). */
static uintptr_t accessible_end(uintptr_t p) {
  static range_t r[4096];
  size_t n = read_maps(r, 4096);
  uintptr_t end = p;
  for (size_t i = 0; i < n; i++) {
    if (r[i].hi <= end) continue;
    if (r[i].lo > end || !r[i].readable) break;
    end = r[i].hi;
  }
  return end;
}

static bool arena_mode(void) {
  const char *mode = getenv("ZALLOC_MODE");
  return mode && strcmp(mode, "arena") == 0;
}

/* ---- garbage ----------------------------------------------------------------------------- */

/* Fill [dst, dst + n) with garbage of `kind`; `near` is a block of the heap it may point at. */
static void garbage(unsigned char *dst, size_t n, const char *kind, const void *near, const void *other) {
  if (strcmp(kind, "A") == 0) {
    memset(dst, 0x41, n);
    return;
  }
  uintptr_t v[4];
  uintptr_t a = (uintptr_t)near;
  if (strcmp(kind, "heap") == 0) {
    v[0] = (uintptr_t)other, v[1] = a, v[2] = a + 16, v[3] = (uintptr_t)other - 16;
  } else if (strcmp(kind, "meta") == 0) {
    v[0] = a & ~(SEG_SIZE - 1), v[1] = (a | (SEG_SIZE - 1)) - 7, v[2] = a & ~(uintptr_t)0xffff,
    v[3] = (a | (SEG_SIZE - 1)) + 1;
  } else {
    fail("unknown garbage kind %s", kind);
  }
  for (size_t i = 0; i < n; i++) dst[i] = ((unsigned char *)v)[((uintptr_t)(dst + i) % 32)];
}

/* ---- scenarios --------------------------------------------------------------------------- */

static const size_t overflow_sizes[] = {24, 100, 500, 2000, 20000, 100000, 300000};
#define ROW 16

static int overflow(size_t len, const char *kind) {
  unsigned char *keep = checked_alloc(777);
  for (size_t s = 0; s < sizeof overflow_sizes / sizeof overflow_sizes[0]; s++) {
    size_t n = overflow_sizes[s];
    unsigned char *row[ROW];
    for (int i = 0; i < ROW; i++) row[i] = checked_alloc(n);
    for (int i = 0; i < ROW; i += 2) {
      unsigned char *p = row[i];
      uintptr_t end = accessible_end((uintptr_t)p + n);
      size_t l = (uintptr_t)p + n + len <= end ? len : end - ((uintptr_t)p + n);
      garbage(p + n, l, kind, row[(i + 1) % ROW], keep);
    }
    for (int i = ROW; i-- > 0;) free(row[i]);
  }
  /* Not checked: the overflows may have reached it (it is a neighbour too). */
  free(keep);
  churn(50000, 512);
  return 0;
}

static int freed_write(const char *kind) {
  enum { N = 64 };
  static const size_t sizes[] = {16, 32, 64, 200, 1000, 4000, 20000};
  unsigned char *p[N];
  size_t n[N];
  blk_t keep = {.n = 333};
  keep.p = checked_alloc(keep.n);
  tag_fill(&keep);
  for (int i = 0; i < N; i++) {
    n[i] = sizes[i % (sizeof sizes / sizeof sizes[0])];
    p[i] = checked_alloc(n[i]);
  }
  for (int i = 0; i < N; i++) free(p[i]);
  /* In gpa mode the 16 bytes before a freed block and after it are its slot's too (its
   * guards, and the link of a slot on a free list): written as well. Arena mode has no guards:
   * the block itself, where it keeps the link. */
  size_t around = arena_mode() ? 0 : 16;
  for (int i = 0; i < N; i++)
    garbage(p[i] - around, n[i] + 2 * around, kind, p[(i + 1) % N], keep.p);
  churn(50000, 512);
  tag_check(&keep, "the block kept through the writes");
  free(keep.p);
  return 0;
}

static int bad_free(void) {
  size_t invalid = 0, dbl = 0;
  /* A block of the heap, so a segment is there, and one in the quarantine (gpa). */
  unsigned char *live = checked_alloc(100), *q = checked_alloc(300);
  free(q);
  free(q + 8), invalid++;
  free(q + 16), invalid++;
  free(q + 256), invalid++;
  free(q), dbl++;
  free(live + 8), invalid++;
  free(live - 8), invalid++;
  free(live - 16), invalid++;     /* gpa: the slot's start (its guard); arena: 16 B into the slot before */
  /* Within every anonymous mapping (zalloc's segment descriptors, records, tables, quarantine
   * nodes, heap segments and large blocks, libc's own): addresses that are never the start of
   * a block (blocks start 16-byte aligned). */
  static range_t r[4096];
  size_t n = read_maps(r, 4096);
  for (size_t i = 0; i < n; i++) {
    if (!r[i].anon || !r[i].readable) continue;
    uintptr_t lo = r[i].lo, hi = r[i].hi;
    uintptr_t at[] = {lo + 8, lo + 24, lo + 4096 + 8, ((lo + hi) / 2) | 8, hi - 8};
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
      if (at[k] >= hi) continue;
      free((void *)at[k]);
      invalid++;
    }
  }
  /* The segment that holds `live`: its first and last words. */
  uintptr_t seg = (uintptr_t)live & ~(SEG_SIZE - 1);
  free((void *)(seg + 8)), invalid++;
  free((void *)(seg + SEG_SIZE - 8)), invalid++;
  if (live[0] == 0xfe) live[1] = 0;   /* keep it live and used */
  free(live);
  churn(50000, 512);
  printf("invalid=%zu double=%zu\n", invalid, dbl);
  return 0;
}

/* ---- eight threads, one pointer -------------------------------------------------------- */

#define THREADS 8
#define PER_THREAD 16
static pthread_barrier_t bar;
static void *volatile shared_p;
static int rounds_total;
static unsigned char *got[THREADS][PER_THREAD];

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return (x > y) - (x < y);
}

static _Atomic int spin_arrived, turn;
static bool together;
/* `together`: wait until all 8 threads are here, spinning (yielding the CPU to those that are
 * not), so that the frees that follow start within a few instructions of each other. Else
 * (staggered) wait for this thread's turn: the frees go one after another, each after the one
 * before has returned. (A blocking barrier alone released them close enough together, on a
 * 2-CPU machine, for two frees to pass the arena's check at once now and then.) */
static void spin_wait(int round, int me) {
  if (together) {
    int target = (round + 1) * THREADS;
    atomic_fetch_add(&spin_arrived, 1);
    while (atomic_load(&spin_arrived) < target) sched_yield();
    return;
  }
  while (atomic_load(&turn) != round * THREADS + me) sched_yield();
}

static void end_turn(void) {
  if (!together) atomic_fetch_add(&turn, 1);
}

static void *df_thread(void *arg) {
  int me = (int)(intptr_t)arg;
  rng ^= (uint64_t)(me + 1) * 0x2545f4914f6cdd1dull;
  for (int round = 0; round < rounds_total; round++) {
    /* The block is allocated by one of the freeing threads in odd rounds (its owner frees it
     * too), by the main thread in even ones (every free is another thread's). */
    if (round % 2 == 1 && me == (round / 2) % THREADS) {
      size_t n = 16 + (size_t)(round * 37) % 5000;
      shared_p = checked_alloc(n);
    }
    pthread_barrier_wait(&bar);
    spin_wait(round, me);
    free(shared_p);
    end_turn();
    pthread_barrier_wait(&bar);
    blk_t b[PER_THREAD];
    for (int i = 0; i < PER_THREAD; i++) {
      b[i].n = 16 + rnd() % 5000;
      b[i].p = checked_alloc(b[i].n);
      tag_fill(&b[i]);
      got[me][i] = b[i].p;
    }
    pthread_barrier_wait(&bar);
    for (int i = 0; i < PER_THREAD; i++) tag_check(&b[i], "after the racing frees");
    pthread_barrier_wait(&bar);   /* main compares the addresses */
    pthread_barrier_wait(&bar);
    for (int i = 0; i < PER_THREAD; i++) free(b[i].p);
  }
  return NULL;
}

static int double_free8(int rounds, const char *release) {
  rounds_total = rounds;
  together = strcmp(release, "together") == 0;
  pthread_barrier_init(&bar, NULL, THREADS + 1);
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    if (pthread_create(&th[i], NULL, df_thread, (void *)(intptr_t)i) != 0) fail("pthread_create");
  for (int round = 0; round < rounds; round++) {
    if (round % 2 == 0) shared_p = checked_alloc(16 + (size_t)(round * 53) % (round % 10 == 0 ? 200000 : 5000));
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    uintptr_t all[THREADS * PER_THREAD];
    memcpy(all, got, sizeof all);
    qsort(all, THREADS * PER_THREAD, sizeof all[0], cmp_ptr);
    for (int i = 1; i < THREADS * PER_THREAD; i++)
      if (all[i] == all[i - 1]) fail("round %d: %p handed out to two threads at once", round, (void *)all[i]);
    pthread_barrier_wait(&bar);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  churn(50000, 512);
  printf("rounds=%d double=%d\n", rounds, rounds * (THREADS - 1));
  return 0;
}

/* ---- free-list links --------------------------------------------------------------------- */

/* Where zalloc keeps a freed block's list link: the block's first word (arena, and gpa with
 * ZALLOC_GUARD=0), the slot's first word, 16 bytes before the block (gpa, whose slots start
 * with a 16-byte guard). */
static uintptr_t *link_of(unsigned char *p) {
  const char *guard = getenv("ZALLOC_GUARD");
  bool guarded = !arena_mode() && !(guard && strcmp(guard, "0") == 0);
  return (uintptr_t *)(guarded ? p - 16 : p);
}

static int link_poison(const char *kind) {
  /* Blocks until one lies in the last page of its segment: 100,000 bytes in arena mode (1 MiB
   * pages), 20,000 in gpa mode (slots of about 20 KiB, 256 KiB pages). */
  bool arena = arena_mode();
  size_t n = arena ? 100000 : 20000;
  enum { MAX = 4096 };
  static unsigned char *p[MAX];
  int count = 0, victim = -1;
  size_t page = arena ? (1u << 20) : (1u << 18);
  while (count < MAX) {
    p[count] = checked_alloc(n);
    uintptr_t a = (uintptr_t)p[count];
    count++;
    if ((a & (SEG_SIZE - 1)) >= SEG_SIZE - page && count >= 3) {
      victim = count - 1;
      break;
    }
  }
  if (victim < 0) fail("no block in the last page of a segment after %d blocks", count);
  unsigned char *v = p[victim], *live = p[victim - 1];
  uintptr_t seg_end = ((uintptr_t)v | (SEG_SIZE - 1)) + 1;
  if (strcmp(kind, "edge") == 0) {
    /* Nothing readable right after the segment: what zalloc reads there faults. */
    void *g = mmap((void *)seg_end, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (g == MAP_FAILED && errno != EEXIST) fail("mmap after the segment: %s", strerror(errno));
    if (g == MAP_FAILED && accessible_end(seg_end) > seg_end) printf("layout: memory after the segment is mapped\n");
  }
  blk_t keep = {.p = live, .n = n};
  tag_fill(&keep);
  free(v);
  uintptr_t *link = link_of(v);
  if (strcmp(kind, "live") == 0) *link = (uintptr_t)live;
  else if (strcmp(kind, "self") == 0) *link = (uintptr_t)v;
  else if (strcmp(kind, "edge") == 0) *link = seg_end - 8;
  else if (strcmp(kind, "odd") == 0) *link = (uintptr_t)v + 40;
  else fail("unknown link kind %s", kind);
  /* Allocate the class again and again: neither `live` nor anything twice. */
  static blk_t again[64];
  for (int i = 0; i < 64; i++) {
    again[i].n = n;
    again[i].p = checked_alloc(n);
    if (again[i].p == live) fail("the live block %p was handed out again", (void *)live);
    tag_fill(&again[i]);
  }
  tag_check(&keep, "the live block the link pointed at");
  for (int i = 0; i < 64; i++) tag_check(&again[i], "after the poisoned link");
  for (int i = 0; i < 64; i++) free(again[i].p);
  for (int i = 0; i < count; i++)
    if (i != victim) free(p[i]);
  churn(30000, 512);
  return 0;
}

/* A thread frees a block of the main thread's full page: it waits on the main heap's delayed
 * list, its first word the list's link. The program overwrites that word with a live block of
 * the same page; then the main thread allocates until the delayed list is taken. */
static unsigned char *delayed_victim;
static void *delayed_free(void *arg) {
  (void)arg;
  free(delayed_victim);
  return NULL;
}

static int delayed_poison(void) {
  bool arena = arena_mode();
  size_t n = arena ? 48 : 16;   /* gpa: a 48-byte slot */
  enum { MAX = 8192 };
  static blk_t b[MAX];
  /* Fill pages of the class until the current one is full and the next begins. */
  for (int i = 0; i < MAX; i++) {
    b[i].n = n;
    b[i].p = checked_alloc(n);
    tag_fill(&b[i]);
  }
  /* A block of the first page (long full, set aside) freed by another thread. */
  delayed_victim = b[10].p;
  pthread_t t;
  pthread_create(&t, NULL, delayed_free, NULL);
  pthread_join(t, NULL);
  b[10].p = NULL;
  *link_of(delayed_victim) = (uintptr_t)b[11].p;   /* a live block */
  static blk_t more[MAX];
  for (int i = 0; i < MAX; i++) {
    more[i].n = n;
    more[i].p = checked_alloc(n);
    tag_fill(&more[i]);
  }
  for (int i = 0; i < MAX; i++) if (b[i].p) tag_check(&b[i], "the blocks of the full page");
  for (int i = 0; i < MAX; i++) tag_check(&more[i], "after the poisoned delayed free");
  for (int i = 0; i < MAX; i++) free(b[i].p), free(more[i].p);
  churn(30000, 512);
  return 0;
}

/* Overflow with no care for what follows the block: from a large block (`large`), or from the
 * last block of a segment (`segment`), 0x41 bytes to a page past the block's mapping. zalloc's heap mappings end with an
 * inaccessible page, so the program must die of SIGSEGV at that page (printed before the
 * write: "fence=ADDR") instead of writing into the mapping beyond. */
static int overflow_fence(const char *where) {
  unsigned char *p;
  size_t n;
  uintptr_t fence;
  if (strcmp(where, "large") == 0) {
    n = 300000;
    p = checked_alloc(n);
    fence = ((uintptr_t)p + n + (arena_mode() ? 0 : 16) + 4095) & ~(uintptr_t)4095;
  } else {
    n = arena_mode() ? 100000 : 20000;
    unsigned char *prev = checked_alloc(n);
    for (;;) {
      p = checked_alloc(n);
      if (((uintptr_t)p ^ (uintptr_t)prev) >= SEG_SIZE) break;   /* a new segment */
      prev = p;
    }
    p = prev;
    fence = ((uintptr_t)p | (SEG_SIZE - 1)) + 1;
  }
  static range_t r[4096];
  size_t nr = read_maps(r, 4096);
  bool guard = false;
  for (size_t i = 0; i < nr; i++)
    if (r[i].lo <= fence && fence < r[i].hi) guard = !r[i].readable;
  printf("fence=%#lx guard=%s\n", (unsigned long)fence, guard ? "yes" : "no");
  memset(p + n, 0x41, fence - ((uintptr_t)p + n) + 4096);
  printf("the overflow ran past %#lx\n", (unsigned long)fence);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 2) fail("usage: hostile_prog SCENARIO [ARGS]");
  const char *s = argv[1];
  int rc;
  if (strcmp(s, "overflow") == 0 && argc == 4) rc = overflow(strtoul(argv[2], NULL, 10), argv[3]);
  else if (strcmp(s, "freed-write") == 0 && argc == 3) rc = freed_write(argv[2]);
  else if (strcmp(s, "bad-free") == 0) rc = bad_free();
  else if (strcmp(s, "double-free8") == 0 && argc == 4) rc = double_free8(atoi(argv[2]), argv[3]);
  else if (strcmp(s, "link-poison") == 0 && argc == 3) rc = link_poison(argv[2]);
  else if (strcmp(s, "delayed-poison") == 0) rc = delayed_poison();
  else if (strcmp(s, "overflow-fence") == 0 && argc == 3) rc = overflow_fence(argv[2]);
  else fail("unknown scenario %s", s);
  printf("done\n");
  return rc;
}
