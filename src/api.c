/* zalloc - the malloc family with C and glibc semantics (see zalloc.h).
 *
 * This layer owns everything every backend must agree on: errno (ENOMEM, EINVAL), overflow
 * checks, alignment rules, malloc(0) (a unique pointer), realloc(NULL, n) (malloc),
 * realloc(p, 0) (free, return NULL, as glibc), content kept by realloc up to the old usable
 * size, statistics, and recording instead of crashing when a pointer is wrong. */
#include "zalloc.h"
#include "arena.h"
#include "backend.h"
#include "fail.h"
#include "findings.h"
#include "gpa.h"
#include "options.h"
#include "prim.h"
#include "runtime.h"
#include "stack.h"
#include "stats.h"
#include "thread.h"

#include <errno.h>
#include <string.h>

/* ---- the backend's calls on the hot paths ---------------------------------------------------
 * The default mode's by direct call, so that link-time optimisation can inline them; every
 * other mode's through the backend table. */

static inline bool gpa_mode(void) { return za_likely(za_backend == &za_gpa_backend); }

static inline void *backend_alloc(za_thread_t *t, size_t size, size_t align, unsigned flags) {
  return gpa_mode() ? za_gpa_alloc(t, size, align, flags) : za_backend->alloc(t, size, align, flags);
}

static inline za_block_state_t backend_free(za_thread_t *t, void *p, za_block_info_t *info) {
  return gpa_mode() ? za_gpa_free(t, p, info) : za_backend->free(t, p, info);
}

/* The GPA counts what was asked for; other backends may count more (the arena its classes). */
static inline size_t counted_size(const void *p, size_t requested) {
  return gpa_mode() ? requested : za_backend->counted_size(p, requested);
}

static inline bool this_epoch(const za_block_info_t *info) {
  return info->epoch == atomic_load_explicit(&za_epoch, memory_order_relaxed);
}

/* Refuse an impossible request as glibc does (NULL and `err` in errno), and record it. */
static ZA_COLD void *refuse(za_op_t op, za_request_problem_t why, size_t a, size_t b,
                            const void *p, int err) {
  za_runtime_ensure();
  za_finding_request(op, why, a, b, p);
  errno = err;
  return NULL;
}

/* The flags every allocation passes: its kind, and whether zalloc itself is asking. */
static inline unsigned alloc_flags(za_kind_t kind) {
  return (unsigned)kind << ZA_ALLOC_KIND_SHIFT | (za_unlikely(za_stack_internal()) ? ZA_ALLOC_INTERNAL : 0);
}

/* ZALLOC_LIMIT: a block just allocated would take the heap over the budget. It goes back. */
static ZA_COLD void *undo(za_thread_t *t, void *p) {
  za_block_info_t info;
  backend_free(t, p, &info);
  return NULL;
}

/* ZALLOC_LIMIT and ZALLOC_FAIL_*: may realloc(p, size) go ahead? (p intact if not) */
static ZA_COLD bool realloc_allowed(void *p, size_t size) {
  za_block_info_t info;
  size_t old = 0;
  if (za_opt.limit && za_backend->lookup(p, &info) == ZA_BLOCK_LIVE && !info.internal) old = info.size;
  return za_fail_allow(ZA_OP_REALLOC, size, old);
}

/* `op`, `a` and `b` only name the request if it must be refused (see refuse). `flags`:
 * ZA_ALLOC_ZERO and the kind (za_kind_t << ZA_ALLOC_KIND_SHIFT; malloc's is 0). */
static void *alloc_block(za_counter_t call, size_t size, size_t align, unsigned flags, za_op_t op,
                         size_t a, size_t b) {
  if (za_unlikely(size > ZA_MAX_REQUEST)) return refuse(op, ZA_REQ_TOO_LARGE, a, b, NULL, ENOMEM);
  za_runtime_ensure();
  za_thread_t *t = za_thread_enter();
  flags |= alloc_flags(ZA_KIND_MALLOC);
  bool counted = !(flags & ZA_ALLOC_INTERNAL); /* zalloc's own blocks are not the program's */
  if (counted) za_stats_call(t, call);
  if (za_unlikely(za_fail_on) && counted && !za_fail_allow(op, size, 0)) {
    za_thread_leave(t);
    errno = ENOMEM;
    return NULL;
  }
  void *p = backend_alloc(t, size, align, flags);
  if (za_likely(p != NULL) && counted) {
    size_t bytes = counted_size(p, size);
    if (za_unlikely(za_fail_on) && !za_budget_take(bytes, 0, op, size)) p = undo(t, p);
    else za_stats_alloc(t, bytes);
  }
  za_thread_leave(t);
  if (za_unlikely(p == NULL)) errno = ENOMEM;
  return p;
}

static ZA_NOINLINE void *malloc_slow(size_t size) {
  return alloc_block(ZA_C_MALLOC, size, ZA_MIN_ALIGN, 0, ZA_OP_MALLOC, size, 0);
}

/* The calling thread's state if the arena's inline paths (arena.h) may serve it: arena mode,
 * not a forked child, no failure injection, and the thread has called in before. They count
 * every call as the program's: in arena mode a block zalloc allocated for itself could not be
 * told apart at its free anyway. */
static inline za_thread_t *arena_thread(void) {
  za_thread_t *t = za_tls_thread;
  return za_likely(za_arena_fast) ? t : NULL;
}

/* The same for the GPA's (gpa.h): the GPA with its checks off, a thread that has called in
 * before, and a call that is the program's (zalloc's own blocks are not counted or reported). */
static inline za_thread_t *gpa_thread(void) {
  za_thread_t *t = za_tls_thread;
  return za_gpa_fast && t != NULL && !za_stack_internal() ? t : NULL;
}

/* The arena's and the checks-off GPA's blocks of a size class straight from the core (arena.h,
 * gpa.h), with no call on the way; every other case by a tail call to the general path. */
void *za_malloc(size_t size) {
  za_thread_t *t = arena_thread();
  if (za_likely(t != NULL && size <= ZA_SMALL_MAX)) {
    void *p = za_arena_malloc_class(t, size);
    if (za_likely(p != NULL)) return p;
  } else if (size <= ZA_GPA_SLOT_MAX && (t = gpa_thread()) != NULL) {
    void *p = za_gpa_alloc_fast(t, size, false);
    if (za_likely(p != NULL)) return p;
  }
  return malloc_slow(size);
}

void *za_calloc(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total))
    return refuse(ZA_OP_CALLOC, ZA_REQ_OVERFLOW, n, size, NULL, ENOMEM);
  za_thread_t *t = arena_thread();
  if (za_likely(t != NULL && total <= ZA_SMALL_MAX)) {
    void *p = za_arena_calloc_class(t, total);
    if (za_likely(p != NULL)) return p;
  } else if (total <= ZA_GPA_SLOT_MAX && (t = gpa_thread()) != NULL) {
    void *p = za_gpa_alloc_fast(t, total, true);
    if (za_likely(p != NULL)) return p;
  }
  return alloc_block(ZA_C_CALLOC, total, ZA_MIN_ALIGN, ZA_ALLOC_ZERO, ZA_OP_CALLOC, n, size);
}

/* Free `p`: count it if it was live, record a finding if it was not, or if `op` does not
 * match how it was allocated (`kind`; `size` for a sized delete, else 0). False when the block
 * was one of zalloc's own (the call is then not the program's either). */
static bool free_block(za_thread_t *t, za_op_t op, void *p, za_kind_t kind, size_t size) {
  za_block_info_t info;
  za_block_state_t st = backend_free(t, p, &info);
  if (za_likely(st == ZA_BLOCK_LIVE)) {
    if (za_unlikely(info.internal)) return false;
    if (this_epoch(&info)) za_stats_free(t, info.size);
    if (za_unlikely(za_fail_on)) za_budget_release(info.size);
    if (za_unlikely(za_backend->checks && (info.kind != kind || (size && size != info.size))))
      za_finding_mismatch(op, p, &info, size);
  } else {
    za_finding_record(op, p, st, &info);
  }
  return true;
}

static ZA_NOINLINE void free_slow(void *p) {
  za_runtime_ensure();
  za_thread_t *t = za_thread_enter();
  if (free_block(t, ZA_OP_FREE, p, ZA_KIND_MALLOC, 0)) za_stats_call(t, ZA_C_FREE);
  za_thread_leave(t);
}

void za_free(void *p) {
  if (!p) return;
  za_thread_t *t = arena_thread();
  if (za_likely(t != NULL)) {
    if (za_likely(za_arena_free_fast(t, p))) return;
  } else if ((t = gpa_thread()) != NULL && za_gpa_free_fast(t, p)) {
    return;
  }
  free_slow(p);
}

/* The arena's blocks of a size class resized straight in the core (arena.h); every other case
 * on the general path below. */
void *za_realloc(void *p, size_t size) {
  za_thread_t *ft = arena_thread();
  if (za_likely(ft != NULL && p != NULL && size - 1 < ZA_SMALL_MAX)) {
    void *q = za_arena_realloc_fast(ft, p, size);
    if (za_likely(q != NULL)) return q;
  }
  if (!p) return alloc_block(ZA_C_REALLOC, size, ZA_MIN_ALIGN, 0, ZA_OP_REALLOC, size, 0);
  if (za_unlikely(size > ZA_MAX_REQUEST)) /* p is left as it was */
    return refuse(ZA_OP_REALLOC, ZA_REQ_TOO_LARGE, size, 0, p, ENOMEM);
  za_runtime_ensure();
  za_thread_t *t = za_thread_enter();
  bool counted = !za_stack_internal();
  if (counted) za_stats_call(t, ZA_C_REALLOC);
  if (size == 0) {
    free_block(t, ZA_OP_REALLOC, p, ZA_KIND_MALLOC, 0); /* glibc: free, return NULL */
    za_thread_leave(t);
    return NULL;
  }
  if (za_unlikely(za_fail_on) && counted && !realloc_allowed(p, size)) {
    za_thread_leave(t);
    errno = ENOMEM;
    return NULL;
  }
  void *q = NULL;
  za_block_info_t info;
  za_block_state_t st = za_backend->resize(t, p, size, &info, &q);
  if (st != ZA_BLOCK_LIVE) {
    za_finding_record(ZA_OP_REALLOC, p, st, &info); /* p is left as it was */
  } else if (q) {
    size_t bytes = counted_size(q, size);
    if (this_epoch(&info) && !info.internal) za_stats_resize(t, info.size, bytes);
    if (za_unlikely(za_fail_on) && !info.internal) za_budget_resized(info.size, bytes); /* checked by realloc_allowed */
    if (za_unlikely(info.kind != ZA_KIND_MALLOC)) za_finding_mismatch(ZA_OP_REALLOC, p, &info, 0);
  } else if ((q = backend_alloc(t, size, ZA_MIN_ALIGN,
                                    (size > info.size ? ZA_ALLOC_GROWING : 0) |
                                        (info.internal ? ZA_ALLOC_INTERNAL : 0) |
                                        alloc_flags(ZA_KIND_MALLOC))) != NULL) {
    size_t bytes = counted_size(q, size);
    bool mine = !info.internal && counted;
    if (za_unlikely(za_fail_on) && mine && !za_budget_take(bytes, info.size, ZA_OP_REALLOC, size)) {
      undo(t, q);          /* p is left as it was */
      za_thread_leave(t);
      errno = ENOMEM;
      return NULL;
    }
    if (mine) za_stats_alloc(t, bytes);
    /* Up to the old usable size: a program may have used all that malloc_usable_size said. */
    memcpy(q, p, info.usable < size ? info.usable : size);
    free_block(t, ZA_OP_REALLOC, p, ZA_KIND_MALLOC, 0);
  }
  za_thread_leave(t);
  if (!q) errno = ENOMEM;
  return q;
}

void *za_reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total))
    return refuse(ZA_OP_REALLOCARRAY, ZA_REQ_OVERFLOW, n, size, p, ENOMEM);
  if (total > ZA_MAX_REQUEST) return refuse(ZA_OP_REALLOCARRAY, ZA_REQ_TOO_LARGE, n, size, p, ENOMEM);
  return za_realloc(p, total);
}

/* ---- aligned allocation ------------------------------------------------------------------ */

/* `op`, `a` and `b` name the request as the program made it (see alloc_block). */
static void *aligned_block(size_t align, size_t size, za_op_t op, size_t a, size_t b) {
  return alloc_block(ZA_C_ALIGNED, size, align < ZA_MIN_ALIGN ? ZA_MIN_ALIGN : align, 0, op,
                     a, b);
}

/* ---- C++: operator new and delete ---------------------------------------------------------- */

void *za_new(size_t size, size_t align, za_kind_t kind) {
  za_op_t op = kind == ZA_KIND_NEW_ARRAY ? ZA_OP_NEW_ARRAY : ZA_OP_NEW;
  if (align && !za_is_pow2(align)) return refuse(op, ZA_REQ_BAD_ALIGNMENT, size, align, NULL, EINVAL);
  return alloc_block(align ? ZA_C_ALIGNED : ZA_C_MALLOC, size, align < ZA_MIN_ALIGN ? ZA_MIN_ALIGN : align,
                     (unsigned)kind << ZA_ALLOC_KIND_SHIFT, op, size, align);
}

void za_delete(void *p, za_kind_t kind, size_t size, size_t align) {
  (void)align;
  if (!p) return;
  za_runtime_ensure();
  za_thread_t *t = za_thread_enter();
  if (free_block(t, kind == ZA_KIND_NEW_ARRAY ? ZA_OP_DELETE_ARRAY : ZA_OP_DELETE, p, kind, size))
    za_stats_call(t, ZA_C_FREE);
  za_thread_leave(t);
}

int za_posix_memalign(void **out, size_t align, size_t size) {
  if (!za_is_pow2(align) || align % sizeof(void *) != 0) {
    int saved = errno;
    refuse(ZA_OP_POSIX_MEMALIGN, ZA_REQ_BAD_ALIGNMENT, align, size, NULL, 0);
    errno = saved;
    return EINVAL;
  }
  int saved = errno;
  void *p = aligned_block(align, size, ZA_OP_POSIX_MEMALIGN, align, size);
  errno = saved; /* posix_memalign reports through its result, not errno */
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

/* C17 (and glibc from 2.38): the alignment must be a power of two. */
void *za_aligned_alloc(size_t align, size_t size) {
  if (!za_is_pow2(align))
    return refuse(ZA_OP_ALIGNED_ALLOC, ZA_REQ_BAD_ALIGNMENT, align, size, NULL, EINVAL);
  return aligned_block(align, size, ZA_OP_ALIGNED_ALLOC, align, size);
}

/* glibc: an alignment that is not a power of two is rounded up to one. */
void *za_memalign(size_t align, size_t size) {
  if (align > SIZE_MAX / 2 + 1)
    return refuse(ZA_OP_MEMALIGN, ZA_REQ_BAD_ALIGNMENT, align, size, NULL, EINVAL);
  size_t rounded = za_is_pow2(align) || align < 2 ? align : (size_t)1 << (64 - __builtin_clzl(align - 1));
  return aligned_block(rounded, size, ZA_OP_MEMALIGN, align, size);
}

void *za_valloc(size_t size) { return aligned_block(ZA_PAGE_SIZE, size, ZA_OP_VALLOC, size, 0); }

void *za_pvalloc(size_t size) {
  if (size > ZA_MAX_REQUEST) return refuse(ZA_OP_PVALLOC, ZA_REQ_TOO_LARGE, size, 0, NULL, ENOMEM);
  return aligned_block(ZA_PAGE_SIZE, za_align_up(size ? size : 1, ZA_PAGE_SIZE), ZA_OP_PVALLOC,
                       size, 0);
}

size_t za_malloc_usable_size(void *p) {
  if (!p) return 0;
  za_runtime_ensure();
  za_block_info_t info;
  za_block_state_t st = za_backend->lookup(p, &info);
  if (st == ZA_BLOCK_LIVE) return info.usable;
  za_finding_record(ZA_OP_USABLE_SIZE, p, st, &info);
  return 0;
}

/* ---- glibc's tuning and introspection calls ---------------------------------------------- */

/* Every M_* parameter tunes glibc's own heap, which is not in use: accept and ignore. */
int za_mallopt(int param, int value) {
  (void)param;
  (void)value;
  return 1;
}

struct mallinfo2 za_mallinfo2(void) {
  za_runtime_ensure();
  za_counters_t c;
  za_thread_sum_counters(&c);
  size_t blocks = za_counters_live_blocks(&c), bytes = za_counters_live_bytes(&c);
  size_t mapped = za_backend->mapped_bytes();
  struct mallinfo2 mi;
  memset(&mi, 0, sizeof mi);
  mi.arena = mapped;
  mi.ordblks = blocks;
  mi.uordblks = bytes;
  mi.fordblks = mapped > bytes ? mapped - bytes : 0;
  return mi;
}

struct mallinfo za_mallinfo(void) {
  struct mallinfo2 m2 = za_mallinfo2();
  struct mallinfo mi;
  memset(&mi, 0, sizeof mi);
  mi.arena = (int)m2.arena;
  mi.ordblks = (int)m2.ordblks;
  mi.uordblks = (int)m2.uordblks;
  mi.fordblks = (int)m2.fordblks;
  return mi;
}

int za_malloc_trim(size_t pad) {
  (void)pad;
  za_runtime_ensure();
  return za_backend->trim() ? 1 : 0;
}

void za_malloc_stats(void) {
  struct mallinfo2 mi = za_mallinfo2();
  char buf[256];
  size_t n = za_snprintf(buf, sizeof buf,
                         "zalloc (mode %s): %N blocks, %N bytes in use, %N bytes mapped\n",
                         za_mode_name(za_opt.mode), mi.ordblks, mi.uordblks, mi.arena);
  za_os_write_all(2, buf, n);
}

int za_malloc_info(int options, FILE *fp) {
  if (options != 0) {
    errno = EINVAL;
    return -1;
  }
  struct mallinfo2 mi = za_mallinfo2();
  fprintf(fp, "<malloc version=\"zalloc-%s\">\n<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
              "<system type=\"current\" size=\"%zu\"/>\n<inuse size=\"%zu\"/>\n</malloc>\n",
          za_mode_name(za_opt.mode), mi.ordblks, mi.uordblks, mi.arena, mi.uordblks);
  return 0;
}
