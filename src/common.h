/* zalloc - common definitions shared by every source file.
 *
 * Naming: internal cross-file symbols are `za_*`, types `za_<name>_t`, macros `ZA_*`.
 * Everything is built with -fvisibility=hidden; only preload/ exports symbols. */
#ifndef ZA_COMMON_H
#define ZA_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define za_likely(x)   __builtin_expect(!!(x), 1)
#define za_unlikely(x) __builtin_expect(!!(x), 0)
#define ZA_NOINLINE    __attribute__((noinline))
#define ZA_COLD        __attribute__((cold, noinline))
/* Thread-local storage: initial-exec so access is one %fs-relative load, and kept to a few
 * words so we do not eat the static TLS reserve that dlopen'ed libraries need. */
#define ZA_TLS         __thread __attribute__((tls_model("initial-exec")))

#define ZA_MIN_ALIGN   16u          /* glibc's guarantee on x86-64 */
#define ZA_PAGE_SIZE   4096u
#define ZA_KiB         ((size_t)1 << 10)
#define ZA_MiB         ((size_t)1 << 20)
/* Largest request we try to satisfy: glibc refuses anything above PTRDIFF_MAX too. */
#define ZA_MAX_REQUEST ((size_t)PTRDIFF_MAX)

static inline size_t za_align_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }
static inline uintptr_t za_align_up_ptr(uintptr_t p, size_t a) { return (p + a - 1) & ~(uintptr_t)(a - 1); }
static inline bool za_is_pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* Relaxed atomic counter helpers: single-writer counters that other threads only read. */
#define za_relaxed_load(p)      atomic_load_explicit((p), memory_order_relaxed)
#define za_relaxed_store(p, v)  atomic_store_explicit((p), (v), memory_order_relaxed)
#define za_relaxed_bump(p, v)   za_relaxed_store((p), za_relaxed_load(p) + (v))

#endif
