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
/* chain_call_outer -> chain_call_middle -> chain_call_inner -> fn() */
void chain_call_outer(void (*fn)(void));
/* fn() from inside qsort's comparison callback. */
void chain_call_through_qsort(void (*fn)(void));
/* A chain built with frame pointers (stack_chain_fp.c) -> fn(). */
void chain_fp_call_outer(void (*fn)(void));
#endif
