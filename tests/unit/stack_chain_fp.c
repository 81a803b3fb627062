/* A call chain built with frame pointers (-fno-omit-frame-pointer, see CMakeLists.txt): the
 * fast walker reads rbp-based CFA rules here. */
#include "stack_chain.h"

static volatile int sink;

__attribute__((noinline)) static void fp_inner(void (*fn)(void)) {
  volatile char pad[40];
  pad[0] = 1;
  fn();
  sink += pad[0];
}

__attribute__((noinline)) static void fp_middle(void (*fn)(void)) {
  fp_inner(fn);
  sink++;
}

__attribute__((noinline)) void chain_fp_call_outer(void (*fn)(void)) {
  fp_middle(fn);
  sink++;
}
