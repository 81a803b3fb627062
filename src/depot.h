/* zalloc - the stack depot's insertion side, private to stack.c (lookups by id are
 * za_stack_get in stack.h). */
#ifndef ZA_DEPOT_H
#define ZA_DEPOT_H
#include "stack.h"

/* The id of the stack pcs[0..n) (1 <= n <= ZA_STACK_MAX_DEPTH), stored on first sight;
 * 0 if the depot is full or its memory could not be mapped. Lock-free; never allocates. */
za_stack_id_t za_depot_put(const uintptr_t *pcs, int n);
/* In a forked child: release the one-time set-up's flag (stack.c's fork hook calls it). */
void za_depot_fork_child(void);
#endif
