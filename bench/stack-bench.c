/* zalloc - what one stack capture costs, warm: za_stack_capture at the bottom of a call chain
 * built without frame pointers, as zalloc makes it (zalloc's own walker, src/unwind.c, through
 * the stack memo: a repeated capture is checked against the stack memoised at the same place,
 * up to ZA_UNWIND_MEMO_FRAMES frames), and for comparison in the same run with the memo off
 * (every frame walked, the stack looked up in the depot) and by libunwind's unw_backtrace
 * alone; and the depot lookup alone, in nanoseconds per call.
 *
 *   stack-bench [iterations]      (a CMake target: ninja -C build stack-bench)
 *
 * The chain's functions are compiled with -fomit-frame-pointer (see CMakeLists.txt), so every
 * frame is unwound from DWARF call-frame information, as in Debian's python3, perl and gcc.
 * The same stack is captured again and again: the warm case that a program's hot allocation
 * sites see. The core is linked statically, so nothing is left out but the capture itself. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "depot.h"
#include "stack.h"
#include "unwind.h"

#define CHAIN 40  /* frames beneath the capture, more than any depth measured */

static const int depths[] = {4, 16, 32, 64};
enum { MEMO, WALK, LIBUNWIND, MODES };
static double results[MODES][sizeof depths / sizeof depths[0]];  /* [mode][depth] */
static long iterations = 1000000;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static __attribute__((noinline)) double time_captures(int depth) {
  za_stack_id_t first = 0;
  double t0 = 0;
  for (long i = -1; i < iterations; i++) {   /* i == -1: cold, fills the unwinder's tables */
    za_stack_id_t id = za_stack_capture(depth);
    if (i == -1) {
      first = id;
      t0 = now_ns();
    } else if (id != first) {
      fprintf(stderr, "stack-bench: the same stack got another id\n");
      exit(1);
    }
  }
  return (now_ns() - t0) / iterations;
}

/* A chain of frames through four distinct functions (distinct return addresses, as in a real
 * program), each with locals so the compiler keeps a real frame. */
static int chain_a(int left, volatile int *sink);

static __attribute__((noinline)) int bottom(volatile int *sink) {
  for (int mode = 0; mode < MODES; mode++) {
    za_unwind_use_memo(mode == MEMO);
    za_stack_use_libunwind_only(mode == LIBUNWIND);
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++)
      results[mode][i] = time_captures(depths[i]);
  }
  za_unwind_use_memo(true);
  za_stack_use_libunwind_only(false);
  return *sink;
}

#define CHAIN_FN(name, next, k)                                                               \
  static __attribute__((noinline)) int name(int left, volatile int *sink) {                   \
    volatile int local[k] = {left};                                                           \
    int r = left == 0 ? bottom(sink) : next(left - 1, sink);                                  \
    *sink += r + local[0];                                                                    \
    return r + (k);                                                                           \
  }
CHAIN_FN(chain_d, chain_a, 5)
CHAIN_FN(chain_c, chain_d, 3)
CHAIN_FN(chain_b, chain_c, 2)
CHAIN_FN(chain_a, chain_b, 4)

static double time_depot(int depth) {
  uintptr_t pcs[ZA_STACK_MAX_DEPTH];
  for (int i = 0; i < depth; i++) pcs[i] = 0x555555550000u + (uintptr_t)i * 0x1234;
  za_stack_id_t first = za_depot_put(pcs, depth);
  double t0 = now_ns();
  for (long i = 0; i < iterations; i++)
    if (za_depot_put(pcs, depth) != first) exit(1);
  return (now_ns() - t0) / iterations;
}

int main(int argc, char **argv) {
  if (argc > 1) iterations = atol(argv[1]);
  za_stack_init(NULL);
  volatile int sink = 0;
  chain_a(CHAIN, &sink);
  if (za_stack_capture(16) == 0) {
    fprintf(stderr, "stack-bench: no stack captured\n");
    return 1;
  }
  printf("%-8s %12s %14s %14s %14s\n", "frames", "capture ns", "no-memo ns", "libunwind ns",
         "depot-only ns");
  for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++)
    printf("%-8d %12.1f %14.1f %14.1f %14.1f\n", depths[i], results[MEMO][i], results[WALK][i],
           results[LIBUNWIND][i], time_depot(depths[i]));
  return 0;
}
