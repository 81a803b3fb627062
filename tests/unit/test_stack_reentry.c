/* Unit tests of the capture's re-entry guard, in a binary of their own because they replace
 * malloc: what the unwinder allocates inside a capture (libunwind's per-thread table, which
 * lives in dynamic TLS that glibc allocates with malloc; and dlopen's allocations when a capture
 * first needs libunwind and loads it) comes back into malloc, under LD_PRELOAD ours, which
 * would capture again from inside the unwinder. Here malloc is this file's: it forwards to
 * glibc and, while the test thread is inside a capture, checks that zalloc calls the
 * allocation its own (za_stack_internal) and that a nested capture returns 0 at once (without
 * the guard it recurses until the stack overflows). */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdlib.h>

#include "stack.h"
#include "stack_chain.h"
#include "stack_text.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

static __thread int in_outer_capture;
static atomic_int nested_calls, nested_captured, nested_not_internal;

static void try_nested_capture(void) {
  if (!in_outer_capture) return;
  atomic_fetch_add(&nested_calls, 1);
  if (!za_stack_internal()) atomic_fetch_add(&nested_not_internal, 1);
  if (za_stack_capture(16) != 0) atomic_fetch_add(&nested_captured, 1);
}

void *malloc(size_t size) {
  try_nested_capture();
  return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
  try_nested_capture();
  return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
  try_nested_capture();
  return __libc_realloc(p, size);
}

static void assert_no_nested_stack(void) {
  cr_assert_eq(atomic_load(&nested_captured), 0, "%d of %d nested captures returned a stack",
               atomic_load(&nested_captured), atomic_load(&nested_calls));
  cr_assert_eq(atomic_load(&nested_not_internal), 0,
               "%d of %d allocations inside a capture were the program's",
               atomic_load(&nested_not_internal), atomic_load(&nested_calls));
}

static za_stack_id_t expr_id;
static void capture_under_expr(void) { expr_id = za_stack_capture(16); }
/* Not tail calls: each of these keeps its frame. */
__attribute__((noinline)) static void capture_under_expr_via_expr(void) {
  stack_expr_call(capture_under_expr);
  __asm__ volatile("" ::: "memory");
}

/* A capture through a frame only libunwind can walk, from a new thread: loads libunwind (the
 * first time) and starts its per-thread table. */
static void *capture_needing_libunwind(void *arg) {
  (void)arg;
  in_outer_capture = 1;
  chain_call_outer(capture_under_expr_via_expr);
  in_outer_capture = 0;
  return (void *)(uintptr_t)expr_id;
}

Test(stack_reentry, loading_libunwind_inside_a_capture_is_zallocs_own) {
  za_stack_init(NULL);
  in_outer_capture = 1;
  chain_call_outer(capture_under_expr_via_expr);
  in_outer_capture = 0;
  cr_assert_eq(za_stack_fallback_state(), ZA_FALLBACK_LOADED);
  cr_assert_gt(atomic_load(&nested_calls), 0, "dlopen allocated nothing?");
  assert_no_nested_stack();
  assert_frame_names(written(expr_id), 1, "stack_expr_call");
  assert_frame_names(written(expr_id), 2, "capture_under_expr_via_expr");
}

Test(stack_reentry, capture_inside_the_unwinder_returns_no_stack) {
  za_stack_init(NULL);
  chain_call_outer(capture_under_expr_via_expr);   /* loaded on this thread */
  atomic_store(&nested_calls, 0);
  pthread_t t;
  void *id;
  cr_assert_eq(pthread_create(&t, NULL, capture_needing_libunwind, NULL), 0);
  pthread_join(t, &id);
  cr_assert_neq((uintptr_t)id, 0, "the outer capture failed");
  if (atomic_load(&nested_calls) == 0)
    cr_skip_test("libunwind did not allocate on this thread's first capture");
  assert_no_nested_stack();
}
