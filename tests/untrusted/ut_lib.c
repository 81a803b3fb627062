/* Helper for ut_prog dlopen: a small library that allocates when loaded, when called and when
 * unloaded, and frees it all. */
#include <stdlib.h>
#include <string.h>

static char *kept;

__attribute__((constructor)) static void ut_lib_load(void) { kept = malloc(64); }
__attribute__((destructor)) static void ut_lib_unload(void) { free(kept); }

void ut_lib_work(void) {
  char *p = malloc(200);
  if (p) memset(p, 1, 200);
  char *q = realloc(p, 400);
  free(q ? q : p);
}
