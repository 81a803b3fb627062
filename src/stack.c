/* zalloc - call-stack capture: zalloc's own fast walker (unwind.c) with libunwind behind it for
 * the frames the walker cannot walk, the per-thread re-entry and "internal" flags, and leaving
 * zalloc's own frames out of a captured stack. The depot (depot.c) stores what is captured;
 * symbolize.c turns it into report lines.
 *
 * A capture starts at the caller of za_stack_capture (its frame pointer gives the caller's
 * return address, stack pointer and rbp), steps over zalloc's own frames by their memoised
 * shape, and walks the program's frames through the stack memo, which answers a stack seen
 * before from the same place with its depot id, without a lookup in the depot
 * (za_unwind_walk_memo). Only a stack the memo does not know goes to the depot.
 *
 * libunwind is the fallback, for the rare frame the fast walker cannot walk (a DWARF
 * expression, code without call-frame information; signal frames it walks itself), and is
 * loaded the first time one is met - most processes never load it. Loading it means dlopen,
 * from inside malloc:
 *   - the loader's lock: a thread that is itself inside the loader (a malloc made by ld.so
 *     while it maps or relocates an object) must not start another dlopen. A capture whose
 *     walked frames include ld.so's code does not load it (that capture keeps the frames the
 *     fast walker found; a later one loads it). Other threads' loader work only makes dlopen
 *     wait.
 *   - recursion: what dlopen and libunwind allocate comes back into malloc while this
 *     thread's `capturing` flag is set: zalloc's own, and the nested capture returns 0 at once.
 *   - other threads needing the fallback while one loads it do not wait for it (the loading
 *     thread may be waiting for the loader's lock held by one of them): they keep the frames
 *     the fast walker found.
 *   - fork: a child forked while another thread was loading it may try again (see the fork
 *     hooks).
 *   - signal handlers: the fast walker is async-signal-safe and walks signal frames, and
 *     za_stack_capture_context never falls back. A capture that walked through a signal
 *     frame (a handler that allocates) does not load it either: the interrupted code may be
 *     the loader, or malloc. (A handler whose own frames cannot be walked, before its signal
 *     frame, is not recognised as one.)
 * Where there is no fast walker (not x86-64 glibc 2.35+), libunwind is the only unwinder and
 * is loaded by za_stack_init, outside malloc.
 *
 * Why libunwind, and why dlopen'ed with RTLD_LOCAL: linked normally, libunwind.so.8 would
 * also interpose the _Unwind_* C++ exception ABI on every program we are preloaded into;
 * loaded RTLD_LOCAL its symbols stay private to us. libunwind.a is not position-independent.
 *
 * Thread-local state is two bytes of initial-exec TLS (see ZA_TLS). */
#include "stack.h"

#include "depot.h"
#include "unwind.h"

#include <dlfcn.h>
#include <link.h>

/* At most this many innermost frames are left out of a libunwind capture: its own frames and
 * zalloc's entry points (malloc -> za_malloc -> the backend -> capture). */
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
  za_range_t loader;        /* ld.so's */
  atomic_int unw_state;
  atomic_bool ready;
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
  uintptr_t addr, base;     /* the module containing addr, or (addr 0) the one loaded at base */
  za_range_t found;
} za_find_range_t;

/* dl_iterate_phdr callback: the executable PT_LOAD segment containing f->addr, or of the
 * module loaded at f->base. */
static int find_exec_segment(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  za_find_range_t *f = arg;
  if (f->addr == 0 && info->dlpi_addr != f->base) return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (f->addr == 0 || (f->addr >= lo && f->addr < lo + ph->p_memsz)) {
      f->found = (za_range_t){lo, lo + ph->p_memsz};
      return 1;
    }
  }
  return 0;
}

static za_range_t exec_segment_of(const void *addr) {
  za_find_range_t f = {(uintptr_t)addr, 0, {0, 0}};
  if (addr != NULL) dl_iterate_phdr(find_exec_segment, &f);
  return f.found;
}

/* ld.so's code: the dynamic linker records its load address in _r_debug. */
static za_range_t loader_segment(void) {
  za_find_range_t f = {0, (uintptr_t)_r_debug.r_ldbase, {0, 0}};
  if (f.base != 0) dl_iterate_phdr(find_exec_segment, &f);
  return f.found;
}

static inline bool in_range(za_range_t r, uintptr_t pc) { return pc >= r.lo && pc < r.hi; }

/* ---- libunwind ----------------------------------------------------------------------- */

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

/* True once libunwind can be used; loads it the first time, if that is safe here (see the
 * top of this file). `walked`: the frames this capture has walked so far; `in_handler`: they
 * went through a signal frame (this is a signal handler, and the code it interrupted could
 * be anywhere, the loader included). */
static bool fallback_ready(const uintptr_t *walked, int n, bool in_handler) {
  int state = atomic_load_explicit(&za_unw.unw_state, memory_order_acquire);
  if (za_likely(state == ZA_FALLBACK_LOADED)) return true;
  if (state != ZA_FALLBACK_UNTRIED || in_handler) return false;
  for (int i = 0; i < n; i++)
    if (in_range(za_unw.loader, walked[i])) return false;   /* inside the loader */
  if (!atomic_compare_exchange_strong(&za_unw.unw_state, &state, ZA_FALLBACK_LOADING))
    return state == ZA_FALLBACK_LOADED;
  za_stack_internal_begin();   /* what dlopen allocates is zalloc's */
  bool ok = load_unwinder();
  za_stack_internal_end();
  atomic_store_explicit(&za_unw.unw_state, ok ? ZA_FALLBACK_LOADED : ZA_FALLBACK_FAILED, memory_order_release);
  return ok;
}

za_fallback_state_t za_stack_fallback_state(void) {
  return (za_fallback_state_t)atomic_load_explicit(&za_unw.unw_state, memory_order_acquire);
}

/* ---- set-up -------------------------------------------------------------------------- */

void za_stack_init(const void *self) {
  if (atomic_load(&za_unw.ready)) return;
  za_unw.self = exec_segment_of(self);
  za_unw.loader = loader_segment();
  bool fast = za_unwind_init() && za_depot_prepare();
  if (!fast && !fallback_ready(NULL, 0, false)) return;   /* libunwind alone: loaded now */
  atomic_store_explicit(&za_unw.ready, true, memory_order_release);
}

void za_stack_modules_changed(void) {
  za_unwind_modules_changed();
  if (za_stack_fallback_state() != ZA_FALLBACK_LOADED) return;
  if (za_unw.flush_cache != NULL && za_unw.local_as != NULL)
    za_unw.flush_cache(*za_unw.local_as, 0, 0);
}

/* ---- capture ------------------------------------------------------------------------- */

/* The whole stack from libunwind, past its own frames and za_stack_capture's (up to our
 * caller's return address `ra`; libunwind reports call sites, ra - 1, or return addresses),
 * then past every innermost frame inside zalloc. Each frame walked costs, so it asks for the
 * frames left out last time plus one, and walks again in the rare case that this capture
 * left out more and came up short. */
static atomic_int za_unw_skip = 4;

static ZA_NOINLINE za_stack_id_t libunwind_capture(uintptr_t ra, int depth) {
  void *pcs[ZA_STACK_MAX_DEPTH + ZA_STACK_SLACK + 1];
  int skip = atomic_load_explicit(&za_unw_skip, memory_order_relaxed), n, i;
  for (;;) {
    int want = depth + skip + 1;
    n = za_unw.backtrace(pcs, want);
    i = 0;
    for (int k = 0; k < n && k < 6; k++) {
      uintptr_t pc = (uintptr_t)pcs[k];
      if (pc == ra - 1 || pc == ra) {
        i = k;
        break;
      }
      if (in_range(za_unw.unwinder, pc)) i = k + 1;
    }
    while (i < n && in_range(za_unw.self, (uintptr_t)pcs[i])) i++;
    if (i <= skip || skip == ZA_STACK_SLACK) break;
    skip = i < ZA_STACK_SLACK ? i : ZA_STACK_SLACK;
    atomic_store_explicit(&za_unw_skip, skip, memory_order_relaxed);
    if (n < want) break;
  }
  int kept = n - i < depth ? n - i : depth;
  return kept > 0 ? za_depot_put((const uintptr_t *)&pcs[i], kept) : 0;
}

/* The stack from the frame at c (za_stack_capture's caller), zalloc's frames left out. */
static za_stack_id_t capture_from(const za_unwind_cursor_t *c, int depth) {
  if (za_likely(za_unwind_available())) {
    za_unwind_cursor_t at = *c;
    za_unwind_stop_t stop = za_unwind_skip(&at, za_unw.self.lo, za_unw.self.hi);
    if (za_likely(stop == ZA_UNWIND_FULL)) {
      uintptr_t pcs[ZA_STACK_MAX_DEPTH];
      za_unwind_ticket_t ticket;
      uint32_t id;
      int n = za_unwind_walk_memo(&at, pcs, depth, &stop, &id, &ticket);
      if (za_likely(id != 0)) return id;
      if (za_likely(stop != ZA_UNWIND_UNSUPPORTED) || !fallback_ready(pcs, n, ticket.signal)) {
        /* Complete, or as far as can be walked without libunwind. */
        id = n > 0 ? za_depot_put(pcs, n) : 0;
        za_unwind_memo_put(&ticket, pcs, id);
        return id;
      }
    } else if (stop == ZA_UNWIND_END || za_stack_fallback_state() != ZA_FALLBACK_LOADED) {
      return 0;   /* zalloc's own frames did not walk: not a place to start loading libunwind */
    }
  } else if (!fallback_ready(NULL, 0, false)) {
    return 0;
  }
  return libunwind_capture(c->pc, depth);
}

ZA_NOINLINE za_stack_id_t za_stack_capture(int depth) {
  if (depth <= 0 || za_stack_tls.capturing || za_stack_tls.internal) return 0;
  if (!atomic_load_explicit(&za_unw.ready, memory_order_acquire)) return 0;
  if (depth > ZA_STACK_MAX_DEPTH) depth = ZA_STACK_MAX_DEPTH;
  za_unwind_cursor_t c;
  za_unwind_here(&c);
  za_stack_tls.capturing = 1;
  za_stack_id_t id = capture_from(&c, depth);
  za_stack_tls.capturing = 0;
  return id;
}

za_stack_id_t za_stack_capture_context(const void *ucontext, int depth) {
  if (ucontext == NULL || depth <= 0 || !atomic_load_explicit(&za_unw.ready, memory_order_acquire) ||
      !za_depot_mapped())
    return 0;
  if (depth > ZA_STACK_MAX_DEPTH) depth = ZA_STACK_MAX_DEPTH;
  za_unwind_cursor_t c;
  za_unwind_from_context(&c, ucontext);
  uintptr_t pcs[ZA_STACK_MAX_DEPTH];
  int n = 0;
  if (c.pc == 0 && c.rsp != 0 && (c.rsp & 7) == 0) {
    /* A call through a null pointer: the caller's return address is on top of the stack. */
    pcs[n++] = 0;
    c.pc = *(const uintptr_t *)c.rsp;
    c.rsp += 8;
    c.exact = false;
  }
  za_unwind_stop_t stop;
  n += za_unwind_walk(&c, pcs + n, depth - n, &stop);
  return n > 0 ? za_depot_put(pcs, n) : 0;
}

/* ---- fork ---------------------------------------------------------------------------- */

/* Nothing to take before fork: the depot and the walker's tables are lock-free (a stack
 * half-inserted by another thread is never published in the child; a memo entry being
 * written stays unused), and libunwind's shared cache is off (see load_unwinder). A cold
 * capture may take glibc's loader lock (dl_iterate_phdr in libunwind), which glibc resets in
 * the child. A fork that caught another thread loading libunwind lets the child try again:
 * nothing in the child will finish that load. The child keeps the forking thread's flags,
 * which are clear outside a capture. */
void za_stack_fork_prepare(void) {}
void za_stack_fork_parent(void) {}
void za_stack_fork_child(void) {
  int loading = ZA_FALLBACK_LOADING;
  atomic_compare_exchange_strong(&za_unw.unw_state, &loading, ZA_FALLBACK_UNTRIED);
}
