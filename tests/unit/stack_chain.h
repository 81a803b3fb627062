/* Call chains for the stack unit tests, compiled without frame pointers (stack_chain.c). */
#ifndef ZA_TEST_STACK_CHAIN_H
#define ZA_TEST_STACK_CHAIN_H
#include "stack.h"

/* chain_outer -> chain_middle -> chain_inner -> za_stack_capture(depth) */
za_stack_id_t chain_outer(int depth);
/* The same chain entered through a second call site in chain_outer_other. */
za_stack_id_t chain_outer_other(int depth);
/* chain_via_a and chain_via_b -> chain_middle -> chain_inner -> za_stack_capture(depth): two
 * functions with the same code, so called from the same place, chain_inner's frame is at the
 * same address with different stacks beneath it. chain_inner records its CFA. */
za_stack_id_t chain_via_a(int depth);
za_stack_id_t chain_via_b(int depth);
extern uintptr_t chain_inner_cfa;
/* A capture from inside qsort's comparison callback: libc frames in the middle. */
za_stack_id_t chain_through_qsort(int depth);
/* chain_call_outer -> chain_call_middle -> chain_call_inner -> fn() */
void chain_call_outer(void (*fn)(void));
/* fn() from inside qsort's comparison callback. */
void chain_call_through_qsort(void (*fn)(void));
/* A chain built with frame pointers (stack_chain_fp.c) -> fn(). */
void chain_fp_call_outer(void (*fn)(void));
/* fn() from a frame whose CFA is a DWARF expression (stack_expr.c): the fast walker stops
 * there, libunwind goes on. */
void stack_expr_call(void (*fn)(void));
#endif
