/* supp_prog's leak in a source file of its own (see supp_prog.c). */
#include <stdlib.h>
#include <string.h>

static void *keep;

__attribute__((noinline)) void other_file_leak(void) {
  keep = malloc(22);
  memset(keep, 0, 22);
  keep = NULL;
}
