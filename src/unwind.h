/* zalloc - the fast stack walker: return addresses of a thread's stack from DWARF call-frame
 * information (.eh_frame), with the frame rules cached per return address.
 *
 * x86-64 Linux with glibc 2.35+ (_dl_find_object) only; elsewhere za_unwind_available() is
 * false and stack.c uses libunwind alone. Never allocates, never takes a lock (its tables are
 * mapped and filled with compare-and-swap; _dl_find_object is lock-free), so it is
 * async-signal-safe; never faults on a stack whose call-frame information is right: each step
 * is checked to stay within the stack. It walks signal frames itself (the x86-64 rt_sigreturn
 * trampoline: the interrupted registers are read from the ucontext the kernel left on the
 * stack). Frames it cannot walk (DWARF expressions, code without call-frame information) end
 * the walk and say so; stack.c then asks libunwind, loaded on first need.
 *
 * Two memos make a repeated capture cheap (see unwind.c): the shapes of zalloc's own frames
 * (za_unwind_skip), and whole stacks keyed by their first frame's return address and stack
 * pointer, each with an id the caller chose (za_unwind_walk_memo, za_unwind_memo_put). */
#ifndef ZA_UNWIND_H
#define ZA_UNWIND_H
#include "common.h"

/* Maps the walker's tables (address space; pages appear on use), once: outside a signal
 * handler (the mapping is registered under a lock). Until then walks return no frames. False
 * where the fast walker is not available. */
bool za_unwind_init(void);
bool za_unwind_available(void);

/* Why a walk ended. */
typedef enum za_unwind_stop {
  ZA_UNWIND_FULL,        /* `size` frames written */
  ZA_UNWIND_END,         /* the outermost frame (its return address is undefined, or 0) */
  ZA_UNWIND_UNSUPPORTED  /* a frame it cannot walk: the stack goes on, libunwind may do better */
} za_unwind_stop_t;

/* One frame of a walk: its pc (a return address, or with `exact` the interrupted instruction
 * itself), its stack pointer (the CFA of the frame it called) and rbp. `bottom` is where the
 * stack being walked starts (each step must stay within 64 MiB above it). */
typedef struct za_unwind_cursor {
  uintptr_t pc, rsp, rbp, bottom;
  bool exact;
  const void *uc;   /* with `exact` from a signal: its ucontext, every register of the frame */
} za_unwind_cursor_t;

/* The cursor of the caller of the function this is expanded in: that function gets a frame
 * pointer, whose saved rbp and return address are the caller's. */
#define za_unwind_here(c)                                                                       \
  do {                                                                                          \
    uintptr_t *za_fp_ = __builtin_frame_address(0);                                             \
    *(c) = (za_unwind_cursor_t){.pc = za_fp_[1], .rsp = (uintptr_t)(za_fp_ + 2),                 \
                                .rbp = za_fp_[0], .bottom = (uintptr_t)(za_fp_ + 2)};            \
  } while (0)

/* The cursor of the context a signal interrupted (a ucontext_t, as the third argument of an
 * SA_SIGINFO handler): its first frame is the interrupted instruction. */
void za_unwind_from_context(za_unwind_cursor_t *c, const void *ucontext);

/* Up to `size` pcs into buf, innermost first, from c's frame outwards; their number. */
int za_unwind_walk(const za_unwind_cursor_t *c, uintptr_t *buf, int size, za_unwind_stop_t *stop);

/* Up to `size` return addresses into buf, starting with the return address into the caller
 * of this function (as libunwind's unw_backtrace does); their number. */
int za_unwind_backtrace(void **buf, int size, za_unwind_stop_t *stop);

/* Moves c past the frames whose pc lies in [lo, hi) (zalloc's own code): on ZA_UNWIND_FULL,
 * c is the first frame outside it; otherwise the walk ended (END) or could not go on
 * (UNSUPPORTED) inside it. The frames of [lo, hi) are expected to be ordinary (CFA = rsp +
 * offset) and never to change: their shapes are memoised. */
za_unwind_stop_t za_unwind_skip(za_unwind_cursor_t *c, uintptr_t lo, uintptr_t hi);

/* ---- the stack memo ------------------------------------------------------------------- */

/* Captures of up to this many frames are memoised. */
#define ZA_UNWIND_MEMO_FRAMES 18

/* What za_unwind_walk_memo learned on a miss, for za_unwind_memo_put. */
typedef struct za_unwind_ticket {
  uintptr_t pc, rsp;                        /* the first frame: the memo's key */
  uint32_t rules[ZA_UNWIND_MEMO_FRAMES];
  int size, n;
  za_unwind_stop_t stop;
  bool ok;                                  /* the walk can be memoised */
  bool signal;                              /* it went through a signal frame */
} za_unwind_ticket_t;

/* za_unwind_walk from c, through the memo: when the stack is the one last memoised under c's
 * pc and stack pointer (checked frame by frame, so the result is exactly the walk's), returns
 * its length with *id set to the id given to za_unwind_memo_put; otherwise walks (reusing
 * the memo's frames as far as they match), sets *id to 0 and fills *t. */
int za_unwind_walk_memo(const za_unwind_cursor_t *c, uintptr_t *buf, int size,
                        za_unwind_stop_t *stop, uint32_t *id, za_unwind_ticket_t *t);
/* Memoise the walk that filled t and buf under `id` (never 0). */
void za_unwind_memo_put(const za_unwind_ticket_t *t, const uintptr_t *buf, uint32_t id);

/* ---- upkeep and tests ----------------------------------------------------------------- */

/* Loaded code changed (dlopen, dlclose): every cached rule and memoised stack becomes stale. */
void za_unwind_modules_changed(void);

/* For tests and stack-bench: captures use libunwind alone (true) or the fast walker first. */
void za_stack_use_libunwind_only(bool only);

/* For tests and stack-bench: captures use the stack memo (true, the default) or walk every
 * time. */
void za_unwind_use_memo(bool on);

/* For tests: count memo hits and misses (off by default: the counters are shared). */
typedef struct za_unwind_counts {
  uint64_t memo_hits, memo_misses, shape_hits, shape_misses;
} za_unwind_counts_t;
void za_unwind_count(bool on);
za_unwind_counts_t za_unwind_counts(void);
#endif
