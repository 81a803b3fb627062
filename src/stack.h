/* zalloc - call stacks: capture (at allocation and at free), the stack depot, and writing a
 * stack in a report.
 *
 * Capture walks the caller's stack with DWARF call-frame information (ordinary distribution
 * binaries have no frame pointers), caching unwind information per return address so a warm
 * capture costs a few loads per frame. It never allocates through zalloc and never takes the
 * loader's lock once warm; a capture started while this thread is already capturing (the
 * unwinder allocating, a signal handler) returns no stack rather than recursing.
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

/* Once, at start-up, outside malloc (the preload constructor): load the unwinder. `self` is an
 * address inside the code whose frames captures must leave out (libzalloc.so: its exported
 * malloc), or NULL (unit tests link the core into the test program). Before this runs, and if
 * the unwinder cannot be loaded, captures return 0. */
void za_stack_init(const void *self);

/* The current call stack, up to `depth` frames (<= ZA_STACK_MAX_DEPTH), zalloc's own frames
 * left out (see za_stack_init), stored in the depot. 0 when depth is 0 or nothing could be
 * captured. */
za_stack_id_t za_stack_capture(int depth);

/* The return addresses stored under `id`: their number, and *pcs set to them (innermost
 * first). 0 for id 0 or an unknown id. */
int za_stack_get(za_stack_id_t id, const uintptr_t **pcs);

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
