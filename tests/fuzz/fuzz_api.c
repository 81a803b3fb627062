/* Differential fuzzing of the malloc family (issue 10).
 *
 * Bytes become a sequence of calls - malloc, calloc, realloc (to 0, from NULL, too large),
 * reallocarray (overflowing), free, posix_memalign / aligned_alloc / memalign with valid and
 * invalid alignments, valloc, pvalloc, malloc_usable_size, frees and allocations on a second
 * thread - with sizes at every size-class boundary of src/sizeclass.h, around the large-block
 * thresholds and far beyond what can be mapped. A shadow model of the live blocks checks every
 * result against what the C library and glibc promise: a pattern written over each block's
 * whole usable size survives until it is freed (and realloc keeps it up to the old usable size
 * or the new size), calloc's memory is zero, every block is aligned (16 bytes, or what was
 * asked), malloc_usable_size is at least the size asked, a refused request gives NULL with
 * the right errno (posix_memalign: the result, errno untouched), a successful one leaves errno
 * alone. Any difference aborts, naming the op.
 *
 * The program is built twice from this file:
 *  - fuzz_api: with clang -fsanitize=fuzzer (libFuzzer), run with LD_PRELOAD=libzalloc.so so
 *    that every call, the harness's and libFuzzer's own, goes through zalloc's exported entry
 *    points. It makes only valid calls.
 *  - fuzz_replay (FUZZ_REPLAY): a plain program that runs the files it is given through the
 *    same decoder, also under LD_PRELOAD. With FUZZ_BAD=1 it also makes the bad calls the
 *    bytes ask for (the op BAD: double frees, also from another thread, frees of interior and
 *    wild pointers, realloc and malloc_usable_size of them), and at exit prints how many of
 *    each kind of finding zalloc must have reported - one per bad call, one per refused
 *    request - as "expect KIND N" lines; tests/fuzz/test_fuzz.c compares them with the JSON
 *    report.
 *
 * Input format: a sequence of ops, each an opcode byte (taken modulo NOPS) and the bytes its
 * arguments take (see the cases of run_op); reading past the end gives zeros. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "opaque.h"    /* tests/support: launder, opaque */
#include "pattern.h"   /* tests/support: pat() */
#include "sizeclass.h" /* src: za_class_size, ZA_NCLASS, ZA_CLASS_MAX */


#define FAIL(...)                                                                                  \
  do {                                                                                             \
    fprintf(stderr, "fuzz_api: op %zu: ", g_opno);                                                 \
    fprintf(stderr, __VA_ARGS__);                                                                  \
    fputc('\n', stderr);                                                                           \
    abort();                                                                                       \
  } while (0)
#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) FAIL(__VA_ARGS__);                                                                \
  } while (0)

static size_t g_opno;

/* ---- the byte reader --------------------------------------------------------------------- */
typedef struct { const uint8_t *d; size_t n, i; } reader_t;
static uint8_t u8(reader_t *r) { return r->i < r->n ? r->d[r->i++] : 0; }
static uint16_t u16(reader_t *r) { uint16_t a = u8(r); return (uint16_t)(a | u8(r) << 8); }

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define MAX_BLOCK (9 * MiB)  /* the largest block asked for (the arena keeps up to 8 MiB ones) */
#define MAX_LIVE_BYTES (64 * MiB)
#define NSLOT 256

/* Sizes where the backends change how they serve a block: the GPA's slab classes end at
 * 32 KiB, the heap core's at 128 KiB, the arena's small blocks at 256 KiB; the arena keeps
 * freed large blocks of up to 8 MiB. */
static const size_t boundaries[] = {32 * KiB, 64 * KiB, 128 * KiB, 256 * KiB, 512 * KiB, 1 * MiB,
                                    2 * MiB, 4 * MiB, 8 * MiB};

/* A size: small, at a class boundary (and one byte either side), around a threshold, or 0. */
static size_t dec_size(reader_t *r) {
  uint8_t sel = u8(r) % 8;
  int delta = (int)(u8(r) % 3) - 1;
  switch (sel) {
  case 0: case 1: return u8(r);
  case 2: case 3: {
    size_t s = za_class_size(u8(r) % ZA_NCLASS);
    return s + (size_t)(ptrdiff_t)delta;
  }
  case 4: return u16(r);
  case 5: return boundaries[u8(r) % (sizeof boundaries / sizeof *boundaries)] + (size_t)(ptrdiff_t)delta;
  case 6: return 0;
  default: return (size_t)u16(r) * 64 % MAX_BLOCK;
  }
}

/* Sizes no allocator can give: beyond PTRDIFF_MAX (refused: an impossible-request finding)
 * or merely bigger than the address space (ENOMEM, no finding). */
static const size_t huge_sizes[] = {SIZE_MAX, SIZE_MAX - 15, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1,
                                    (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX - 4095, (size_t)1 << 47,
                                    ((size_t)1 << 48) + 16};
#define NHUGE (sizeof huge_sizes / sizeof *huge_sizes)
static bool refused(size_t n) { return n > (size_t)PTRDIFF_MAX; }

/* ---- the shadow model --------------------------------------------------------------------- */
typedef struct {
  unsigned char *p;
  size_t n, usable, align;
  uint32_t seed;
} block_t;

static block_t g_live[NSLOT];
static size_t g_nlive, g_live_bytes;
static uint32_t g_seed;

/* Expected findings, by kind (replay with bad calls; refused requests in both builds). */
enum { E_DOUBLE, E_INVALID_FREE, E_BAD_REALLOC, E_BAD_USABLE, E_REQUEST, E_COUNT };
__attribute__((unused)) static const char *const e_name[E_COUNT] = {"double-free", "invalid-free", "invalid-realloc",
                                            "invalid-usable-size", "impossible-request"};
static unsigned long g_expect[E_COUNT];
static bool g_bad; /* make the bad calls (fuzz_replay with FUZZ_BAD=1) */

/* The bytes of a block of `usable` bytes that carry the pattern: all of them up to 64 KiB;
 * above, the first and last 4 KiB and the first 64 bytes of every 4 KiB between (a lost or
 * misplaced page still shows, and an 8 MiB block costs a few hundred KiB to check). skip(i)
 * is the first such byte at or after i. */
#define DENSE_MAX (64 * KiB)
static inline size_t skip(size_t i, size_t usable) {
  if (usable <= DENSE_MAX || i < 4096 || i + 4096 >= usable || i % 4096 < 64) return i;
  size_t next = (i | 4095) + 1;
  return next + 4096 > usable ? usable - 4096 : next;
}

static void fill_from(unsigned char *p, size_t from, size_t to, size_t usable, uint32_t seed) {
  for (size_t i = skip(from, usable); i < to; i = skip(i + 1, usable)) p[i] = pat(i, seed);
}

static void verify(const block_t *b, const char *what) {
  for (size_t i = 0; i < b->usable; i = skip(i + 1, b->usable))
    CHECK(b->p[i] == pat(i, b->seed), "%s: block %p (size %zu, usable %zu): byte %zu changed",
          what, (void *)b->p, b->n, b->usable, i);
}

/* A block just returned for `n` bytes aligned to `align`: check it, fill it, remember it. */
static void adopt(void *q, size_t n, size_t align, const char *what) {
  CHECK(q != NULL, "%s(%zu) failed (errno %d)", what, n, errno);
  CHECK((uintptr_t)q % align == 0, "%s(%zu): %p is not aligned to %zu", what, n, q, align);
  size_t u = malloc_usable_size(q);
  CHECK(u >= n, "%s(%zu): malloc_usable_size is %zu", what, n, u);
  block_t b = {q, n, u, align, ++g_seed};
  fill_from(b.p, 0, u, u, b.seed);
  g_live[g_nlive++] = b;
  g_live_bytes += u;
}

static block_t take(size_t i) {
  block_t b = g_live[i];
  g_live[i] = g_live[--g_nlive];
  g_live_bytes -= b.usable;
  return b;
}

static bool room_for(size_t n) { return g_nlive < NSLOT && g_live_bytes + n <= MAX_LIVE_BYTES; }

/* ---- the second thread: frees (and allocates) what it is handed ------------------------------ */
static struct {
  pthread_t t;
  sem_t go, done;
  void *ptrs[NSLOT];
  size_t nptrs;
  size_t alloc_size; /* nonzero: malloc this much into ptrs[0] instead */
} w;
static bool w_started;

static void *worker(void *arg) {
  (void)arg;
  for (;;) {
    while (sem_wait(&w.go) != 0) {}
    if (w.alloc_size) w.ptrs[0] = launder(malloc(opaque(w.alloc_size)));
    else
      for (size_t i = 0; i < w.nptrs; i++) free(launder(w.ptrs[i]));
    sem_post(&w.done);
  }
  return NULL;
}

static void on_worker(void) {
  if (!w_started) {
    sem_init(&w.go, 0, 0);
    sem_init(&w.done, 0, 0);
    CHECK(pthread_create(&w.t, NULL, worker, NULL) == 0, "pthread_create");
    w_started = true;
  }
  sem_post(&w.go);
  while (sem_wait(&w.done) != 0) {}
}

/* ---- bad calls (fuzz_replay with FUZZ_BAD=1 only) ------------------------------------------ */
static unsigned char g_static[64] __attribute__((aligned(64)));
static unsigned char *g_page; /* a page of our own from mmap: not zalloc's */

/* An address that is no block's start: inside a live block, in static data, on the stack, in
 * a mapping of ours. NULL if the bytes ask for a live block and there is none. */
static void *bad_pointer(reader_t *r, unsigned char *stack) {
  uint8_t sel = u8(r) % 4;
  uint16_t off = u16(r);
  if (sel == 0) {
    if (g_nlive == 0) return NULL;
    block_t *b = &g_live[u8(r) % g_nlive];
    if (b->usable < 2) return NULL;
    return b->p + 1 + off % (b->usable - 1);
  }
  if (sel == 1) return g_static + off % sizeof g_static;
  if (sel == 2) return stack + off % 64;
  if (!g_page) g_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return g_page + off % 4096;
}

static void bad_call(reader_t *r) {
  unsigned char stack[64];
  uint8_t sub = u8(r) % 6;
  if (sub <= 1) { /* double free: at once, or the second from the other thread */
    if (g_nlive == 0) return;
    block_t b = take(u8(r) % g_nlive);
    verify(&b, "free");
    free(launder(b.p));
    if (sub == 0) free(launder(b.p));
    else {
      w.ptrs[0] = b.p, w.nptrs = 1, w.alloc_size = 0;
      on_worker();
    }
    g_expect[E_DOUBLE]++;
    return;
  }
  if (sub == 2) { /* realloc or malloc_usable_size of a block just freed */
    if (g_nlive == 0) return;
    block_t b = take(u8(r) % g_nlive);
    free(launder(b.p));
    if (u8(r) & 1) {
      CHECK(launder(realloc(launder(b.p), opaque(16))) == NULL, "realloc of a freed block succeeded");
      g_expect[E_BAD_REALLOC]++;
    } else {
      CHECK(malloc_usable_size(launder(b.p)) == 0, "malloc_usable_size of a freed block is not 0");
      g_expect[E_BAD_USABLE]++;
    }
    return;
  }
  void *p = bad_pointer(r, stack);
  if (!p) return;
  if (sub == 3) {
    free(launder(p));
    g_expect[E_INVALID_FREE]++;
  } else if (sub == 4) {
    CHECK(launder(realloc(launder(p), opaque(32))) == NULL, "realloc of a bad pointer succeeded");
    g_expect[E_BAD_REALLOC]++;
  } else {
    CHECK(malloc_usable_size(launder(p)) == 0, "malloc_usable_size of a bad pointer is not 0");
    g_expect[E_BAD_USABLE]++;
  }
}

/* ---- the ops --------------------------------------------------------------------------------- */
enum {
  OP_MALLOC, OP_CALLOC, OP_REALLOC, OP_REALLOC0, OP_FREE, OP_POSIX_MEMALIGN, OP_ALIGNED_ALLOC,
  OP_MEMALIGN, OP_VALLOC, OP_REALLOCARRAY, OP_USABLE, OP_CHECK, OP_XFREE, OP_XALLOC, OP_HUGE,
  OP_BAD, NOPS
};

#define ERRNO_CANARY 0x7a11

/* A refused request: NULL, errno `err`, and the finding it makes if `finding`. */
static void expect_refusal(void *q, int err, bool finding, const char *what, size_t n) {
  CHECK(q == NULL, "%s(%zu) succeeded", what, n);
  CHECK(errno == err, "%s(%zu): errno %d, not %d", what, n, errno, err);
  if (finding) g_expect[E_REQUEST]++;
}

/* An alignment: every power of two from 1 to 2^63, or (odd selectors) one that is not. */
static size_t dec_align(reader_t *r) {
  uint8_t a = u8(r);
  if (a & 0x80) {
    static const size_t bad[] = {0, 3, 24, 48, 4097, SIZE_MAX, (size_t)3 << 20};
    return bad[a % (sizeof bad / sizeof *bad)];
  }
  unsigned lg = a % 64;
  if (lg > 22 && !(a & 0x40)) lg %= 23; /* mostly alignments that can be served */
  return (size_t)1 << lg;
}

static void run_op(reader_t *r) {
  uint8_t op = u8(r) % NOPS;
  errno = ERRNO_CANARY;
  switch (op) {
  case OP_MALLOC: {
    size_t n = dec_size(r);
    if (!room_for(n)) break;
    void *q = launder(malloc(opaque(n)));
    CHECK(errno == ERRNO_CANARY, "malloc(%zu): errno changed to %d", n, errno);
    adopt(q, n, 16, "malloc");
    break;
  }
  case OP_CALLOC: {
    size_t n = dec_size(r), m = u8(r) % 4 + 1;
    if (!room_for(n * m)) break;
    unsigned char *q = launder(calloc(opaque(m), opaque(n)));
    CHECK(errno == ERRNO_CANARY, "calloc(%zu, %zu): errno changed to %d", m, n, errno);
    CHECK(q != NULL, "calloc(%zu, %zu) failed", m, n);
    for (size_t i = 0; i < n * m; i = skip(i + 1, n * m)) CHECK(q[i] == 0, "calloc(%zu, %zu): byte %zu is not 0", m, n, i);
    adopt(q, n * m, 16, "calloc");
    break;
  }
  case OP_REALLOC: case OP_REALLOCARRAY: {
    size_t n = dec_size(r), m = op == OP_REALLOCARRAY ? u8(r) % 3 + 1 : 1;
    if (op == OP_REALLOCARRAY && (u8(r) & 3) == 0) { /* n * m overflows: refused, block intact */
      size_t big = SIZE_MAX / 2 + 1 + n;
      void *old = g_nlive ? g_live[0].p : NULL;
      void *q = launder(reallocarray(launder(old), opaque(big), opaque(m + 1)));
      expect_refusal(q, ENOMEM, true, "reallocarray overflowing", big);
      if (old) verify(&g_live[0], "reallocarray overflowing");
      break;
    }
    if (g_nlive == 0) { /* realloc(NULL, n) is malloc(n) */
      if (!room_for(n * m)) break;
      void *q = op == OP_REALLOC ? launder(realloc(NULL, opaque(n)))
                                 : launder(reallocarray(NULL, opaque(m), opaque(n)));
      CHECK(errno == ERRNO_CANARY, "realloc(NULL, %zu): errno changed to %d", n * m, errno);
      if (n * m == 0 && q == NULL) break; /* realloc(NULL, 0) may give NULL (it is malloc(0): not here) */
      adopt(q, n * m, 16, "realloc(NULL)");
      break;
    }
    size_t i = u8(r) % g_nlive;
    if (n * m == 0) break; /* OP_REALLOC0's */
    if (!room_for(n * m)) break;
    block_t b = take(i);
    verify(&b, "realloc");
    void *q = op == OP_REALLOC ? launder(realloc(launder(b.p), opaque(n)))
                               : launder(reallocarray(launder(b.p), opaque(m), opaque(n)));
    CHECK(errno == ERRNO_CANARY, "realloc(%zu -> %zu): errno changed to %d", b.n, n * m, errno);
    CHECK(q != NULL, "realloc(%zu -> %zu) failed", b.n, n * m);
    CHECK((uintptr_t)q % 16 == 0, "realloc: %p is not aligned", q);
    size_t keep = b.usable < n * m ? b.usable : n * m;
    unsigned char *c = q;
    for (size_t k = 0; k < keep; k = skip(k + 1, b.usable))
      CHECK(c[k] == pat(k, b.seed), "realloc(%p, %zu -> %zu) gave %p: byte %zu not kept", (void *)b.p,
            b.n, n * m, q, k);
    size_t u = malloc_usable_size(q);
    CHECK(u >= n * m, "realloc(%zu): malloc_usable_size is %zu", n * m, u);
    fill_from(c, 0, u, u, b.seed); /* the bytes that carry it may differ with the usable size */
    g_live[g_nlive++] = (block_t){c, n * m, u, 16, b.seed};
    g_live_bytes += u;
    break;
  }
  case OP_REALLOC0: { /* glibc: realloc(p, 0) frees p and gives NULL */
    if (g_nlive == 0) break;
    block_t b = take(u8(r) % g_nlive);
    verify(&b, "realloc(p, 0)");
    void *q = launder(realloc(launder(b.p), opaque(0)));
    CHECK(q == NULL, "realloc(p, 0) gave %p, not NULL", q);
    break;
  }
  case OP_FREE: {
    if (g_nlive == 0) break;
    block_t b = take(u8(r) % g_nlive);
    verify(&b, "free");
    free(launder(b.p));
    CHECK(errno == ERRNO_CANARY, "free: errno changed to %d", errno);
    break;
  }
  case OP_POSIX_MEMALIGN: case OP_ALIGNED_ALLOC: case OP_MEMALIGN: {
    size_t a = dec_align(r), n = dec_size(r);
    bool pow2 = a && !(a & (a - 1));
    if (!room_for(n + (a < 4096 ? a : 4096))) break;
    void *q = (void *)0x5a5a;
    if (op == OP_POSIX_MEMALIGN) {
      int rc = posix_memalign(&q, opaque(a), opaque(n));
      CHECK(errno == ERRNO_CANARY, "posix_memalign(%zu, %zu): errno changed to %d", a, n, errno);
      if (!pow2 || a % sizeof(void *)) {
        CHECK(rc == EINVAL && q == (void *)0x5a5a, "posix_memalign(%zu, %zu): %d, not EINVAL", a, n, rc);
        g_expect[E_REQUEST]++;
        break;
      }
      if (rc == ENOMEM && a >= ((size_t)1 << 30)) { CHECK(q == (void *)0x5a5a, "posix_memalign changed *p"); break; }
      CHECK(rc == 0, "posix_memalign(%zu, %zu): %d", a, n, rc);
    } else if (op == OP_ALIGNED_ALLOC) {
      q = launder(aligned_alloc(opaque(a), opaque(n)));
      if (!pow2) { expect_refusal(q, EINVAL, true, "aligned_alloc with a bad alignment", a); break; }
      if (q == NULL && a >= ((size_t)1 << 30)) { CHECK(errno == ENOMEM, "aligned_alloc: errno %d", errno); break; }
      CHECK(errno == ERRNO_CANARY, "aligned_alloc(%zu, %zu): errno changed to %d", a, n, errno);
    } else {
      q = launder(memalign(opaque(a), opaque(n)));
      if (a > SIZE_MAX / 2 + 1) { expect_refusal(q, EINVAL, true, "memalign with a huge alignment", a); break; }
      if (q == NULL && a >= ((size_t)1 << 30)) { CHECK(errno == ENOMEM, "memalign: errno %d", errno); break; }
      CHECK(errno == ERRNO_CANARY, "memalign(%zu, %zu): errno changed to %d", a, n, errno);
      if (!pow2) a = a ? (size_t)1 << (64 - __builtin_clzl(a)) : 16; /* glibc rounds it up */
    }
    adopt(q, n, a < 16 ? 16 : a, "aligned");
    break;
  }
  case OP_VALLOC: {
    size_t n = dec_size(r);
    bool pv = u8(r) & 1;
    if (!room_for(n + 4096)) break;
    void *q = pv ? launder(pvalloc(opaque(n))) : launder(valloc(opaque(n)));
    CHECK(errno == ERRNO_CANARY, "valloc(%zu): errno changed to %d", n, errno);
    adopt(q, pv ? (n + 4095) / 4096 * 4096 : n, 4096, pv ? "pvalloc" : "valloc");
    break;
  }
  case OP_USABLE: {
    if (g_nlive == 0) break;
    block_t *b = &g_live[u8(r) % g_nlive];
    size_t u = malloc_usable_size(launder(b->p));
    CHECK(u == b->usable, "malloc_usable_size(%p) changed from %zu to %zu", (void *)b->p, b->usable, u);
    verify(b, "malloc_usable_size");
    break;
  }
  case OP_CHECK:
    for (size_t i = 0; i < g_nlive; i++) verify(&g_live[i], "check");
    break;
  case OP_XFREE: { /* up to 8 blocks freed by the other thread */
    size_t k = u8(r) % 8 + 1;
    w.nptrs = 0, w.alloc_size = 0;
    while (k-- && g_nlive) {
      block_t b = take(u8(r) % g_nlive);
      verify(&b, "free on another thread");
      w.ptrs[w.nptrs++] = b.p;
    }
    if (w.nptrs) on_worker();
    break;
  }
  case OP_XALLOC: { /* a block allocated by the other thread, used and freed here */
    size_t n = dec_size(r);
    if (!room_for(n)) break;
    w.alloc_size = n ? n : 1;
    on_worker();
    w.alloc_size = 0;
    adopt(w.ptrs[0], n ? n : 1, 16, "malloc on another thread");
    break;
  }
  case OP_HUGE: {
    size_t n = huge_sizes[u8(r) % NHUGE];
    uint8_t f = u8(r) % 6;
    void *q;
    switch (f) {
    case 0: q = launder(malloc(opaque(n))); expect_refusal(q, ENOMEM, refused(n), "malloc", n); break;
    case 1: { /* calloc: too large, or the product overflows */
      size_t m = u8(r) % 2 ? 1 : 3;
      size_t total;
      bool over = __builtin_mul_overflow(m, n, &total);
      q = launder(calloc(opaque(m), opaque(n)));
      expect_refusal(q, ENOMEM, over || refused(total), "calloc", n);
      break;
    }
    case 2: { /* realloc to a size it cannot have: NULL, the block intact */
      block_t *b = g_nlive ? &g_live[u8(r) % g_nlive] : NULL;
      q = launder(realloc(b ? launder(b->p) : NULL, opaque(n)));
      expect_refusal(q, ENOMEM, refused(n), "realloc", n);
      if (b) verify(b, "realloc too large");
      break;
    }
    case 3: q = launder(valloc(opaque(n))); expect_refusal(q, ENOMEM, refused(n), "valloc", n); break;
    case 4: q = launder(pvalloc(opaque(n)));
      expect_refusal(q, ENOMEM, n > SIZE_MAX - 4095 || refused((n + 4095) & ~(size_t)4095), "pvalloc", n);
      break;
    default: {
      int rc = posix_memalign(&q, 64, opaque(n));
      CHECK(rc == ENOMEM && errno == ERRNO_CANARY, "posix_memalign(64, %zu): %d, errno %d", n, rc, errno);
      if (refused(n)) g_expect[E_REQUEST]++;
    }
    }
    break;
  }
  case OP_BAD:
    if (g_bad) bad_call(r);
    break;
  }
}

static void run_input(const uint8_t *data, size_t size) {
  reader_t r = {data, size, 0};
  for (g_opno = 0; r.i < r.n; g_opno++) run_op(&r);
  while (g_nlive) {
    block_t b = take(g_nlive - 1);
    verify(&b, "free at the end");
    free(launder(b.p));
  }
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run_input(data, size);
  return 0;
}
#else
/* fuzz_replay FILE... : each file one input, in order, in this process. */
int main(int argc, char **argv) {
  const char *bad = getenv("FUZZ_BAD");
  g_bad = bad && strcmp(bad, "1") == 0;
  for (int a = 1; a < argc; a++) {
    FILE *f = fopen(argv[a], "rb");
    if (!f) { perror(argv[a]); return 2; }
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    run_input(buf, n);
  }
  for (int k = 0; k < E_COUNT; k++) printf("expect %s %lu\n", e_name[k], g_expect[k]);
  return 0;
}
#endif
