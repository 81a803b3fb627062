/* A library whose constructor allocates. The dynamic loader runs it before libzalloc.so's
 * constructor (a preloaded object is initialised after the program's own libraries), so this
 * malloc is the first call into zalloc and has to start it. It allocates three blocks and frees
 * one: the report must count all of it. */
#include <stdlib.h>
#include <string.h>

static void *kept[2];
static int ok;

__attribute__((constructor)) static void pit_ctorlib_init(void) {
  void *a = malloc(1111);
  kept[0] = malloc(2222);
  kept[1] = malloc(3333);
  if (!a || !kept[0] || !kept[1]) return;
  memset(a, 'a', 1111);
  memset(kept[0], 'b', 2222);
  memset(kept[1], 'c', 3333);
  free(a);
  ok = 1;
}

int pit_ctorlib_ok(void) {
  return ok && ((unsigned char *)kept[0])[2221] == 'b' && ((unsigned char *)kept[1])[3332] == 'c';
}
