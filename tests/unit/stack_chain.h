/* Call chains for the stack unit tests, compiled without frame pointers (stack_chain.c). */
#ifndef ZA_TEST_STACK_CHAIN_H
#define ZA_TEST_STACK_CHAIN_H
#include "stack.h"

/* chain_outer -> chain_middle -> chain_inner -> za_stack_capture(depth) */
za_stack_id_t chain_outer(int depth);
/* The same chain entered through a second call site in chain_outer_other. */
za_stack_id_t chain_outer_other(int depth);
/* A capture from inside qsort's comparison callback: libc frames in the middle. */
za_stack_id_t chain_through_qsort(int depth);
#endif
