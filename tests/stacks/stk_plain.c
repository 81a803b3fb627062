/* Built without -g and stripped of every symbol but the dynamic ones: its frames can only be
 * named by module and offset, and the report must say where file:line would come from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void *lose(void) {
  char *p = malloc(50);
  memset(p, 1, 50);
  void *volatile v = p;
  return v;
}

int main(void) {
  for (int i = 0; i < 3; i++) lose();
  puts("done");
  return 0;
}
