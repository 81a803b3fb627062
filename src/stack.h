/* zalloc - call stacks: capture (at allocation and at free, and from a signal's context), the
 * stack depot, and writing a stack in a report.
 *
 * Capture walks the caller's stack with DWARF call-frame information (ordinary distribution
 * binaries have no frame pointers), caching unwind information per return address and
 * remembering the stacks it has seen, so a repeated capture costs a load and a compare per
 * frame. It never allocates through zalloc and never takes a lock once warm but in one case:
 * the first frame the fast walker cannot walk (a DWARF expression, code without call-frame
 * information) makes it load libunwind (dlopen, once per process; see stack.c). A capture
 * started while this thread is already capturing (the unwinder allocating, a signal handler)
 * returns no stack rather than recursing.
 *
 * The depot stores each distinct stack once and hands out a small id: a block records two ids,
 * not two arrays of addresses. Ids are never freed and stay valid for the life of the process
 * (and in a forked child). Symbolisation happens only when a report is written. */
#ifndef ZA_STACK_H
#define ZA_STACK_H
#include "common.h"
#include "out.h"

#define ZA_STACK_MAX_DEPTH 64

typedef uint32_t za_stack_id_t;   /* 0: no stack (capture off, failed, or re-entered) */

/* Once, outside malloc and outside signal handlers (the preload constructor): map the walker's
 * tables and the depot (address space only: pages appear as captures use them). `self` is an
 * address inside the code whose frames captures must leave out (libzalloc.so: a function of
 * its own), or NULL (unit tests link the core into the test program). Loads nothing where
 * zalloc's own walker runs (x86-64, glibc 2.35+; libunwind is loaded when a capture first needs
 * it), libunwind elsewhere. Before this runs, and if no unwinder is available, captures
 * return 0. Cheap enough for any mode to call (a crash handler's set-up). */
void za_stack_init(const void *self);

/* The current call stack, up to `depth` frames (<= ZA_STACK_MAX_DEPTH), zalloc's own frames
 * left out (see za_stack_init), stored in the depot. 0 when depth is 0 or nothing could be
 * captured. */
za_stack_id_t za_stack_capture(int depth);

/* The return addresses stored under `id`: their number, and *pcs set to them (innermost
 * first). 0 for id 0 or an unknown id. */
int za_stack_get(za_stack_id_t id, const uintptr_t **pcs);
/* The depot's bound (depot.c): how many distinct stacks it holds, and how many captures of a
 * new stack found it full (those have no stack; the report says so). */
size_t za_depot_max_stacks(void);
size_t za_depot_refused(void);

/* The stack of the context a signal interrupted, for a crash report: `ucontext` is the third
 * argument of an SA_SIGINFO handler (a ucontext_t), `depth` as for za_stack_capture. Frame #0
 * is the interrupted instruction itself (not a return address: symbolise it as it is, not as
 * pc - 1, if that matters), then its callers; nothing is left out, zalloc's own frames
 * included (the signal may have interrupted zalloc, or another thread's capture, or this
 * thread's). After a call through a null pointer, frame #0 is 0 and #1 the caller.
 * Async-signal-safe: no lock, no allocation, no dlopen - zalloc's walker only, never
 * libunwind. A frame it cannot walk (a DWARF expression, code without call-frame information)
 * ends the stack there: the frames up to it are kept. Returns 0 if depth is 0, before
 * za_stack_init, where zalloc's walker is not available (not x86-64 glibc 2.35+) or if the
 * depot is full. */
za_stack_id_t za_stack_capture_context(const void *ucontext, int depth);

/* libunwind, the fallback unwinder: not tried yet, being loaded (by a capture that needed it),
 * loaded, could not be loaded. For tests. */
typedef enum za_fallback_state {
  ZA_FALLBACK_UNTRIED, ZA_FALLBACK_LOADING, ZA_FALLBACK_LOADED, ZA_FALLBACK_FAILED
} za_fallback_state_t;
za_fallback_state_t za_stack_fallback_state(void);

/* Loaded modules changed (dlopen, dlclose): cached unwind information may be stale. */
void za_stack_modules_changed(void);

/* Write the stack as report lines, one frame per line, each line starting with `prefix`:
 *   <prefix>#0 0x00005555555551a9 in make_node+0x19 at examples/heap-bugs.c:12 (heap-bugs+0x11a9)
 * Function+offset where a symbol is known, file:line where debug information exists, and
 * always the module and the offset inside it. Symbolisation state is set up on first use;
 * call za_stack_symbols_done() when the report is complete. May allocate (through zalloc). */
void za_stack_write(za_out_t *o, const char *prefix, za_stack_id_t id);
void za_stack_symbols_done(void);

/* True while this thread is inside zalloc's own reporting or unwinding: allocations it makes
 * then are zalloc's, not the program's (no stack captured, not a leak). */
bool za_stack_internal(void);
void za_stack_internal_begin(void);
void za_stack_internal_end(void);

void za_stack_fork_prepare(void);
void za_stack_fork_parent(void);
void za_stack_fork_child(void);
#endif
