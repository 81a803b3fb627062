/* A library linked into rep_libdtor: its constructor allocates a block and its destructor frees
 * it. The loader runs this destructor after libzalloc.so's (it initialised this library first),
 * so the report must wait for it: the block is not a leak. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *block;

__attribute__((constructor)) static void rep_dtorlib_init(void) { block = malloc(777); }

__attribute__((destructor)) static void rep_dtorlib_fini(void) {
  free(block);
  static const char msg[] = "library destructor ran\n";
  if (write(1, msg, sizeof msg - 1) < 0) _exit(99);
}

int rep_dtorlib_has_block(void) { return block != NULL; }
