/* zalloc - the fast stack walker: return addresses of the current thread's stack from DWARF
 * call-frame information (.eh_frame), with the frame rules cached per return address.
 *
 * x86-64 Linux with glibc 2.35+ (_dl_find_object) only; elsewhere za_unwind_available() is
 * false and stack.c uses libunwind alone. Never allocates, never takes a lock (the cache is
 * filled with compare-and-swap; _dl_find_object is lock-free), never faults on a stack whose
 * call-frame information is right: each step is checked to stay within the stack. Frames it
 * cannot walk (signal frames, DWARF expressions, code without call-frame information) end the
 * walk and say so, and the caller falls back to libunwind for the whole capture. */
#ifndef ZA_UNWIND_H
#define ZA_UNWIND_H
#include "common.h"

/* Once, outside malloc: map the rule cache. False where the fast walker is not available. */
bool za_unwind_init(void);
bool za_unwind_available(void);

/* Why a walk ended. */
typedef enum za_unwind_stop {
  ZA_UNWIND_FULL,        /* `size` frames written */
  ZA_UNWIND_END,         /* the outermost frame (its return address is undefined, or 0) */
  ZA_UNWIND_UNSUPPORTED  /* a frame it cannot walk: the stack goes on, libunwind may do better */
} za_unwind_stop_t;

/* Up to `size` return addresses into buf, innermost first, starting with the return address
 * into the caller of this function (as libunwind's unw_backtrace does); their number. */
int za_unwind_backtrace(void **buf, int size, za_unwind_stop_t *stop);

/* Loaded code changed (dlopen, dlclose): every cached rule becomes stale. */
void za_unwind_modules_changed(void);

/* For tests and stack-bench: captures use libunwind alone (true) or the fast walker first. */
void za_stack_use_libunwind_only(bool only);
#endif
