/* zalloc - call-stack capture: the unwinders (zalloc's own fast walker, unwind.c, and
 * libunwind, loaded at start-up, for the stacks the fast walker cannot walk), the per-thread
 * re-entry and "internal" flags, and leaving zalloc's own frames out of a captured stack.
 * The depot (depot.c) stores what is captured; symbolize.c turns it into report lines.
 *
 * The fast walker reads the same DWARF call-frame information itself, with a rule cache shared
 * by all threads, and costs about half of unw_backtrace per frame (bench/stack-bench); where it
 * meets a frame it cannot walk (a signal frame, a DWARF expression), the whole capture is
 * taken again by libunwind.
 *
 * Why libunwind, and why dlopen'ed with RTLD_LOCAL: the programs we run under (python3, perl,
 * gcc from Debian) have no frame pointers, so a full stack needs DWARF call-frame information.
 * libunwind's unw_backtrace keeps, per thread, a table from return address to a small frame
 * rule (CFA = rsp or rbp + offset, where rbp was saved), so a warm capture costs a few loads
 * per frame and takes no lock. Linked normally, libunwind.so.8 would also interpose the
 * _Unwind_* C++ exception ABI on every program we are preloaded into; loaded RTLD_LOCAL its
 * symbols stay private to us. libunwind.a is not position-independent: no static link.
 *
 * Re-entry: libunwind allocates the first time a thread unwinds (its per-thread table, a
 * pthread key, dynamic TLS). Those allocations come back into malloc while this thread's
 * `capturing` flag is set, and the capture they start returns no stack at once.
 *
 * Thread-local state is two bytes of initial-exec TLS (see ZA_TLS). */
#include "stack.h"

#include "depot.h"
#include "unwind.h"

#include <dlfcn.h>
#include <link.h>

/* At most this many innermost frames are left out: za_stack_capture's and zalloc's entry
 * points (malloc -> za_malloc -> the backend -> capture, fewer where inlined). */
#define ZA_STACK_SLACK 16

typedef int (*za_unw_backtrace_fn)(void **buffer, int size);
typedef void (*za_unw_flush_fn)(void *as, uintptr_t lo, uintptr_t hi);
typedef int (*za_unw_policy_fn)(void *as, int policy);
#define ZA_UNW_CACHE_NONE 0   /* libunwind's UNW_CACHE_NONE */

typedef struct za_range { uintptr_t lo, hi; } za_range_t;

static struct {
  za_unw_backtrace_fn backtrace;
  za_unw_flush_fn flush_cache;
  void **local_as;          /* &unw_local_addr_space: a variable holding the address space */
  za_range_t self;          /* zalloc's executable segment; empty with self == NULL */
  za_range_t unwinder;      /* libunwind's, whose frames are never the program's */
  atomic_bool ready;
  atomic_int skip;          /* most frames left out by one capture so far: walked in addition */
} za_unw;

typedef struct za_stack_tls {
  uint8_t capturing;        /* inside za_stack_capture on this thread */
  uint8_t internal;         /* nesting depth of za_stack_internal_begin */
} za_stack_tls_t;

static ZA_TLS za_stack_tls_t za_stack_tls;

/* ---- the internal flag ----------------------------------------------------------------- */

/* Also while capturing: what the unwinder allocates (its per-thread table) is zalloc's. */
bool za_stack_internal(void) { return (za_stack_tls.internal | za_stack_tls.capturing) != 0; }
void za_stack_internal_begin(void) { za_stack_tls.internal++; }
void za_stack_internal_end(void) {
  if (za_stack_tls.internal) za_stack_tls.internal--;
}

/* ---- module ranges ------------------------------------------------------------------- */

typedef struct za_find_range {
  uintptr_t addr;
  za_range_t found;
} za_find_range_t;

/* dl_iterate_phdr callback: the executable PT_LOAD segment containing f->addr. */
static int find_exec_segment(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  za_find_range_t *f = arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (f->addr >= lo && f->addr < lo + ph->p_memsz) {
      f->found = (za_range_t){lo, lo + ph->p_memsz};
      return 1;
    }
  }
  return 0;
}

static za_range_t exec_segment_of(const void *addr) {
  za_find_range_t f = {(uintptr_t)addr, {0, 0}};
  if (addr != NULL) dl_iterate_phdr(find_exec_segment, &f);
  return f.found;
}

static inline bool in_range(za_range_t r, uintptr_t pc) { return pc >= r.lo && pc < r.hi; }

/* ---- loading the unwinder ------------------------------------------------------------ */

/* libunwind exports the local unwinder under _ULx86_64_* names (unw_* are macros in its
 * header); unw_backtrace has its plain name too. */
static void *unwinder_symbol(void *lib, const char *plain, const char *arch) {
  void *p = dlsym(lib, plain);
  return p != NULL ? p : dlsym(lib, arch);
}

static bool load_unwinder(void) {
  void *lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) return false;
  za_unw.backtrace = (za_unw_backtrace_fn)unwinder_symbol(lib, "unw_backtrace",
                                                          "_ULx86_64_backtrace");
  za_unw.flush_cache = (za_unw_flush_fn)dlsym(lib, "_Ux86_64_flush_cache");
  za_unw.local_as = (void **)dlsym(lib, "_ULx86_64_local_addr_space");
  if (za_unw.backtrace == NULL) return false;   /* the library stays loaded: harmless */
  /* No shared register-state cache: it is guarded by a mutex that a fork taken while another
   * thread holds it would leave locked in the child, and Debian builds libunwind without the
   * per-thread one. It only speeds up misses; the warm path is unw_backtrace's per-thread
   * table of frame rules, which is unaffected. */
  za_unw_policy_fn policy = (za_unw_policy_fn)dlsym(lib, "_ULx86_64_set_caching_policy");
  if (policy != NULL && za_unw.local_as != NULL) policy(*za_unw.local_as, ZA_UNW_CACHE_NONE);
  za_unw.unwinder = exec_segment_of((const void *)za_unw.backtrace);
  return true;
}

void za_stack_init(const void *self) {
  if (atomic_load(&za_unw.ready)) return;
  za_stack_internal_begin(); /* dlopen's allocations are zalloc's, not the program's */
  bool loaded = load_unwinder();
  bool fast = za_unwind_init();
  za_stack_internal_end();
  if (!loaded && !fast) return;
  za_unw.self = exec_segment_of(self);
  atomic_store_explicit(&za_unw.ready, true, memory_order_release);
  /* Warm up here, outside malloc: libunwind's one-time set-up and this thread's table. */
  void *warm[4];
  za_stack_tls.capturing = 1; /* also marks what libunwind allocates as zalloc's own */
  if (loaded) za_unw.backtrace(warm, 4);
  za_stack_tls.capturing = 0;
}

void za_stack_modules_changed(void) {
  za_unwind_modules_changed();
  if (!atomic_load_explicit(&za_unw.ready, memory_order_acquire)) return;
  if (za_unw.flush_cache != NULL && za_unw.local_as != NULL)
    za_unw.flush_cache(*za_unw.local_as, 0, 0);
}

/* ---- capture ------------------------------------------------------------------------- */

/* Index of the first frame that belongs to the program: past the unwinder's frames and
 * za_stack_capture's (found by our return address `ra`; libunwind reports call sites, ra - 1),
 * then past every innermost frame inside zalloc itself. */
static int first_program_frame(void *const *pcs, int n, uintptr_t ra) {
  int i = 0;
  for (int k = 0; k < n && k < 4; k++) {
    uintptr_t pc = (uintptr_t)pcs[k];
    if (pc == ra - 1 || pc == ra) {
      i = k;
      break;
    }
    if (in_range(za_unw.unwinder, pc)) i = k + 1;
  }
  while (i < n && in_range(za_unw.self, (uintptr_t)pcs[i])) i++;
  return i;
}

/* The fast walker (unwind.c) first; libunwind for the whole stack where the fast walker met
 * a frame it cannot walk (a signal frame, a DWARF expression, code without call-frame
 * information) before it had the frames asked for. An ordinary end of the stack is no reason
 * to ask libunwind: it would stop there too. */
static inline int backtrace(void **pcs, int want) {
  if (za_likely(za_unwind_available())) {
    za_unwind_stop_t stop;
    int n = za_unwind_backtrace(pcs, want, &stop);
    if (za_likely(stop != ZA_UNWIND_UNSUPPORTED) || za_unw.backtrace == NULL) return n;
  }
  return za_unw.backtrace != NULL ? za_unw.backtrace(pcs, want) : 0;
}

/* Walk the stack into pcs (depth frames beyond those left out); the index of the first kept
 * frame in *first, the number of frames walked returned. Each frame walked costs (about 9 ns
 * warm), so the walk asks for the frames left out last time plus one, and walks again in the
 * rare case that this capture left out more and came up short. */
static int walk(void **pcs, int depth, uintptr_t ra, int *first) {
  int skip = atomic_load_explicit(&za_unw.skip, memory_order_relaxed);
  for (;;) {
    int want = depth + skip + 1;
    int n = backtrace(pcs, want);
    *first = first_program_frame(pcs, n, ra);
    if (*first <= skip || skip == ZA_STACK_SLACK) return n;
    skip = *first < ZA_STACK_SLACK ? *first : ZA_STACK_SLACK;
    atomic_store_explicit(&za_unw.skip, skip, memory_order_relaxed);
    if (n < want) return n;
  }
}

ZA_NOINLINE za_stack_id_t za_stack_capture(int depth) {
  if (depth <= 0 || za_stack_tls.capturing || za_stack_tls.internal) return 0;
  if (!atomic_load_explicit(&za_unw.ready, memory_order_acquire)) return 0;
  if (depth > ZA_STACK_MAX_DEPTH) depth = ZA_STACK_MAX_DEPTH;
  void *pcs[ZA_STACK_MAX_DEPTH + ZA_STACK_SLACK + 1];
  za_stack_tls.capturing = 1;
  int first;
  int n = walk(pcs, depth, (uintptr_t)__builtin_return_address(0), &first);
  int kept = n - first < depth ? n - first : depth;
  za_stack_id_t id = kept > 0 ? za_depot_put((const uintptr_t *)&pcs[first], kept) : 0;
  za_stack_tls.capturing = 0;
  return id;
}

/* ---- fork ---------------------------------------------------------------------------- */

/* Nothing to take before fork: the depot is lock-free and append-only (a stack half-inserted
 * by another thread is never published in the child), its set-up included. A warm capture takes no lock; a cold one (a return address not yet in this
 * thread's table) may take glibc's loader lock in dl_iterate_phdr, which glibc resets in the
 * child, and libunwind's shared cache is off (see load_unwinder). The child keeps the
 * forking thread's flags, which are clear outside a capture. */
void za_stack_fork_prepare(void) {}
void za_stack_fork_parent(void) {}
void za_stack_fork_child(void) {}
