/* zalloc - the stack depot's insertion side, private to stack.c (lookups by id are
 * za_stack_get in stack.h). */
#ifndef ZA_DEPOT_H
#define ZA_DEPOT_H
#include "stack.h"

/* Maps the depot (address space; pages appear on use) if it is not yet: not from a signal
 * handler (the mapping is registered under a lock). False if it cannot be mapped. */
bool za_depot_prepare(void);
bool za_depot_mapped(void);

/* The id of the stack pcs[0..n) (1 <= n <= ZA_STACK_MAX_DEPTH), stored on first sight;
 * 0 if the depot is full or its memory could not be mapped. Lock-free; never allocates;
 * async-signal-safe once the depot is mapped. */
za_stack_id_t za_depot_put(const uintptr_t *pcs, int n);
#endif
