/* supp_prog's leak in a library of its own (see supp_prog.c). */
#include <stdlib.h>
#include <string.h>

static void *keep;

__attribute__((noinline)) void lib_leak(void) {
  keep = malloc(33);
  memset(keep, 0, 33);
  keep = NULL;
}
