/* zalloc - allocations that fail on purpose, in any mode: a byte budget for the whole heap
 * (ZALLOC_LIMIT: Zig's FixedBufferAllocator, for a whole process) and failure injection
 * (ZALLOC_FAIL_AT, _EVERY, _RATE with _SEED, _MATCH: Zig's FailingAllocator), so a program's
 * handling of out-of-memory can be tried at every allocation (tools/zalloc-oom-sweep.c).
 *
 * api.c asks this layer at each of the program's allocation calls (malloc, calloc, realloc to
 * a nonzero size, the aligned forms, new; never zalloc's own) whether it may go ahead, and
 * tells it what every allocation and free holds. A refused call fails as the C standard says:
 * NULL and ENOMEM (posix_memalign returns ENOMEM; C++ new calls the new-handler and throws
 * std::bad_alloc). The arena's inline fast paths are switched off while anything here is set,
 * so they carry no cost for it; everything else pays one predictable branch on za_fail_on.
 *
 * The budget counts the bytes the report counts as in use (requested sizes; the arena's size
 * classes): an allocation that would take the program's live blocks over ZALLOC_LIMIT fails.
 * A realloc that moves a block is judged by what the heap holds after it (the old block gone).
 * The count and the first refusal (stack, size, what was held) go into the report.
 *
 * Injection numbers the program's allocation calls from 1 (only those whose stack matches
 * ZALLOC_FAIL_MATCH when it is set); ZALLOC_FAIL_AT fails one, _EVERY every Nth, _RATE each
 * with a probability drawn from _SEED and the call's number (the same seed fails the same
 * calls of a program that allocates in the same order). Each injected failure is listed in the
 * report with its stack (grouped by stack, with the first call's number).
 *
 * ZALLOC_FAIL_SITES (the OOM sweep's census): every call's stack is recorded, and at exit the
 * process writes the file the sweep reads (format in fail.c). */
#ifndef ZA_FAIL_H
#define ZA_FAIL_H
#include "findings.h"

/* Something here is configured: api.c's hooks run. Set once, at start-up. */
extern bool za_fail_on;

/* At start-up, after the backend's init. */
void za_fail_init(void);
/* Whether stacks must be captured in any mode (ZALLOC_FAIL_MATCH, the census, the report). */
bool za_fail_wants_stacks(void);

/* One allocation call of the program's, of `size` bytes (as asked), by `op`, which frees a
 * block of `freeing` bytes if it succeeds (realloc; else 0): false if it must fail (injected,
 * or `size` alone would take the heap over the budget), recorded for the report. Counts the
 * call. */
bool za_fail_allow(za_op_t op, size_t size, size_t freeing);
/* The budget: the heap is to hold `add` more bytes while `freeing` bytes of it go (a realloc
 * that moves a block frees the old one after). False, with nothing changed and the refusal
 * recorded for `op` and `size`, if that would take it over ZALLOC_LIMIT; else `add` is held.
 * Always true without a limit. */
bool za_budget_take(size_t add, size_t freeing, za_op_t op, size_t size);
/* `n` bytes of the program's blocks were freed. */
void za_budget_release(size_t n);
/* A block was resized where it lies, from `old` to `now` bytes (za_budget_fits said yes). */
void za_budget_resized(size_t old, size_t now);


struct za_report;
/* The failures so far into the report (signal_safe: the lock only tried). */
void za_fail_collect(struct za_report *r, bool signal_safe);
/* At the final report: the census file for ZALLOC_FAIL_SITES, if set (this process image's). */
void za_fail_write_sites(void);

void za_fail_fork_prepare(void);
void za_fail_fork_parent(void);
void za_fail_fork_child(void);
#endif
