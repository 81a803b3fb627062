/* Linked to librep_dtorlib.so, whose destructor frees the block its constructor allocated. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rep_dtorlib_has_block(void);

int main(void) {
  void *p = malloc(50);
  free(p);
  const char *msg = rep_dtorlib_has_block() ? "done\n" : "the library has no block\n";
  if (write(1, msg, strlen(msg)) < 0) return 1;
  return 0;
}
