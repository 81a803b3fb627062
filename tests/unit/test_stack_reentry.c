/* Unit test of the capture's re-entry guard, in a binary of its own because it replaces malloc:
 * the first capture on a new thread makes libunwind allocate (its thread-local table lives in
 * dynamic TLS, which glibc allocates with malloc), and under LD_PRELOAD that malloc is ours
 * and would capture again, from inside the unwinder. Here malloc is this file's: it forwards
 * to glibc and, while the test thread is inside za_stack_capture, tries a nested capture,
 * which must return 0 at once (without the guard it recurses until the stack overflows). */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdlib.h>

#include "stack.h"
#include "stack_chain.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);

static __thread int in_outer_capture;
static atomic_int nested_calls, nested_captured;

static void try_nested_capture(void) {
  if (!in_outer_capture) return;
  atomic_fetch_add(&nested_calls, 1);
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

static void *first_capture_on_thread(void *arg) {
  (void)arg;
  in_outer_capture = 1;
  za_stack_id_t id = chain_outer(16);
  in_outer_capture = 0;
  return (void *)(uintptr_t)id;
}

Test(stack_reentry, capture_inside_the_unwinder_returns_no_stack) {
  za_stack_init(NULL);
  pthread_t t;
  void *id;
  cr_assert_eq(pthread_create(&t, NULL, first_capture_on_thread, NULL), 0);
  pthread_join(t, &id);
  cr_assert_neq((uintptr_t)id, 0, "the outer capture failed");
  if (atomic_load(&nested_calls) == 0)
    cr_skip_test("libunwind did not allocate on this thread's first capture");
  cr_assert_eq(atomic_load(&nested_captured), 0, "%d of %d nested captures returned a stack",
               atomic_load(&nested_captured), atomic_load(&nested_calls));
}
