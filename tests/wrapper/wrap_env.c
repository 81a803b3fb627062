/* Prints the variables the wrapper sets, one per line, then allocates so it has a report. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  const char *names[] = {"LD_PRELOAD", "ZALLOC_MODE", "ZALLOC_LOG", "ZALLOC_ABORT"};
  for (int i = 0; i < 4; i++) {
    const char *v = getenv(names[i]);
    printf("%s=%s\n", names[i], v ? v : "(unset)");
  }
  free(malloc(10));
  return 0;
}
