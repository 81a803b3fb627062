/* Call chains for the stack unit tests. Built with -O2 -fomit-frame-pointer -g (see
 * CMakeLists.txt): every frame must be unwound from DWARF call-frame information, as in
 * Debian's own programs. The volatile store after each call keeps it from being a tail call,
 * so each function keeps its frame. */
#include "stack_chain.h"

#include <stdlib.h>

static volatile int sink;

uintptr_t chain_inner_cfa;

__attribute__((noinline)) static za_stack_id_t chain_inner(int depth) {
  chain_inner_cfa = (uintptr_t)__builtin_dwarf_cfa();
  za_stack_id_t id = za_stack_capture(depth);
  sink++;
  return id;
}

__attribute__((noinline)) static za_stack_id_t chain_middle(int depth) {
  za_stack_id_t id = chain_inner(depth);
  sink++;
  return id;
}

__attribute__((noinline)) za_stack_id_t chain_outer(int depth) {
  za_stack_id_t id = chain_middle(depth);
  sink++;
  return id;
}

__attribute__((noinline)) za_stack_id_t chain_outer_other(int depth) {
  sink++;
  za_stack_id_t id = chain_middle(depth);
  sink++;
  return id;
}

/* Twins: the same code, so the same frame, around different call sites of chain_middle. */
#define CHAIN_TWIN(name)                                                                      \
  __attribute__((noinline)) za_stack_id_t name(int depth) {                                   \
    za_stack_id_t id = chain_middle(depth);                                                   \
    sink++;                                                                                   \
    return id;                                                                                \
  }
CHAIN_TWIN(chain_via_a)
CHAIN_TWIN(chain_via_b)

static za_stack_id_t qsort_seen;
static int qsort_depth;

__attribute__((noinline)) static int compare_and_capture(const void *a, const void *b) {
  if (qsort_seen == 0) qsort_seen = za_stack_capture(qsort_depth);
  sink++;
  return *(const int *)a - *(const int *)b;
}

__attribute__((noinline)) za_stack_id_t chain_through_qsort(int depth) {
  int v[2] = {2, 1};
  qsort_seen = 0;
  qsort_depth = depth;
  qsort(v, 2, sizeof v[0], compare_and_capture);
  sink++;
  return qsort_seen;
}

/* The same chain around a callback: chain_call_outer -> _middle -> _inner -> fn(). */
__attribute__((noinline)) static void chain_call_inner(void (*fn)(void)) {
  fn();
  sink++;
}

__attribute__((noinline)) static void chain_call_middle(void (*fn)(void)) {
  chain_call_inner(fn);
  sink++;
}

__attribute__((noinline)) void chain_call_outer(void (*fn)(void)) {
  chain_call_middle(fn);
  sink++;
}

static void (*qsort_fn)(void);

__attribute__((noinline)) static int compare_and_call(const void *a, const void *b) {
  if (qsort_fn != NULL) qsort_fn();
  qsort_fn = NULL;
  sink++;
  return *(const int *)a - *(const int *)b;
}

__attribute__((noinline)) void chain_call_through_qsort(void (*fn)(void)) {
  int v[2] = {2, 1};
  qsort_fn = fn;
  qsort(v, 2, sizeof v[0], compare_and_call);
  sink++;
}
