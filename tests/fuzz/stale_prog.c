/* Regression (found by fuzz_replay over the long run's corpus, arena mode): a large block is
 * freed and its mapping given back; a later large block's mapping covers the old address. A
 * free of that address - now a pointer into the middle of a live block - was reported as a
 * double free of the old block, with the old block's size and stacks. It must be an invalid
 * free. Prints "overlap" and makes that one bad free when the layout came out so (mmap places
 * new mappings below the last ones, so it nearly always does; an attempt that fails plugs the
 * hole it fell into and tries again), else "no overlap". */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "opaque.h"

int main(void) {
  for (int attempt = 0; attempt < 20; attempt++) {
    char *above = launder(malloc(opaque(256 << 10)));
    char *old = launder(malloc(opaque(256 << 10))); /* mapped just below `above` */
    free(old);
    malloc_trim(0); /* the freed mapping goes back to the system (the arena keeps some cached) */
    char *big = launder(malloc(opaque(520 << 10))); /* where `old` was, and below */
    if (big < old && old < big + (520 << 10)) {
      printf("overlap: %p inside %p\n", (void *)old, (void *)big);
      free(launder(old)); /* interior pointer of `big` */
      free(big);
      free(above);
      return 0;
    }
    /* A hole in the address space that takes 256 KiB but not 520 KiB (left by earlier
     * mappings) got `old`: plug it and keep the others, so the next attempt maps elsewhere. */
    launder(malloc(opaque(256 << 10)));
    launder(big);
    launder(above);
  }
  puts("no overlap");
  return 0;
}
