/* zalloc - the leak check at exit (GPA mode).
 *
 * First glibc's own memory is released (__libc_freeres, as valgrind does), so its caches are
 * not counted. Then every live block is classified by a conservative scan, without stopping
 * threads (at exit only the exiting thread runs user code):
 *   - roots: every readable, writable mapping of the process that is not zalloc's own (module
 *     data and bss, thread stacks and their TLS, mappings the program made itself), and the
 *     calling thread's registers;
 *   - any aligned word that points into a live block (at its start or inside it) reaches it;
 *     reached blocks are scanned in turn;
 *   - a block no root reaches is lost: "indirectly lost" if some other lost block points to it,
 *     else "definitely lost" (of a cycle of lost blocks, one is definitely lost).
 * Lost blocks are collected into the report (report_model.h) grouped by allocation stack,
 * largest group first; still-reachable ones too with ZALLOC_LEAKS=all and in on-demand reports.
 * This file collects; it writes nothing.
 *
 * While the program runs (an on-demand report) other threads go on: glibc's memory is not
 * released, memory is read through a system call that fails rather than faults where another
 * thread unmapped it, and a pointer held only in another thread's registers is not seen. */
#ifndef ZA_LEAKS_H
#define ZA_LEAKS_H
#include "common.h"
#include "stack.h"

/* A live block, as the backend describes it to the leak check. */
typedef struct za_live_block {
  uintptr_t addr;              /* the pointer the program was given */
  size_t size;                 /* bytes requested */
  za_stack_id_t alloc_stack;
  int tid;                     /* allocating thread */
  bool internal;               /* zalloc's own (the libraries it loaded): scanned, since the
                                * program's blocks may be reached only through it (the
                                * loader's list of libraries runs through the link maps of
                                * the libraries zalloc loaded), but never reported */
  bool inherited;              /* allocated before the fork that made this process image: the
                                * parent's to report, so (like internal) scanned, not reported */
} za_live_block_t;

typedef enum za_leak_class { ZA_LEAK_REACHABLE, ZA_LEAK_INDIRECT, ZA_LEAK_DEFINITE } za_leak_class_t;

typedef struct za_leak_totals {
  size_t blocks[3], bytes[3];  /* indexed by za_leak_class_t */
} za_leak_totals_t;

/* Once, at start-up: `self` is an address inside libzalloc.so (its exported malloc), whose
 * writable segments are then left out of the roots; NULL (unit tests, which link the core
 * into the test program: that program's data must stay a root) leaves no module out. */
void za_leaks_init(const void *self);

struct za_report;
/* Release glibc's memory (not when `running`), scan, classify, and set the report's leaks:
 * totals and groups. Uses the backend's for_each_live; at the end it must run after every
 * other thread's last allocation that matters (the exit report). With no live block of the
 * program's, nothing is scanned (a process that allocated nothing pays nothing). */
void za_leaks_collect(struct za_report *r, bool running);
/* The calling thread's stack is scanned from `floor` up instead of from the stack pointer:
 * the report passes its own frame, so that its buffers (stale data from earlier calls, not
 * the program's) are not roots. The program's registers at exit are in the frames above. */
void za_leaks_stack_floor(const void *floor);

/* ---- the steps, on their own for the unit tests ---- */

typedef void (*za_live_walk_t)(void (*fn)(void *ctx, const za_live_block_t *b), void *ctx);

/* za_leaks_collect without __libc_freeres, with the blocks `walk` reports (NULL: not checked,
 * zero totals). */
void za_leaks_scan(za_live_walk_t walk, struct za_report *r, bool running);

typedef struct za_leak_range { uintptr_t lo, hi; } za_leak_range_t;

/* Mark and classify: `blocks` sorted by address and disjoint; `roots` readable ranges whose
 * aligned words are read. Sets cls[i] to block i's za_leak_class_t. A block of size 0 is
 * reached by its start address only. False (cls unset) if memory for the worklist could not
 * be mapped. */
bool za_leaks_classify(const za_live_block_t *blocks, size_t n, const za_leak_range_t *roots,
                       size_t nroots, uint8_t *cls);
#endif
