/* Helper for test_suppress.c: four heap problems, each made by its own function in its own
 * place, so that a suppression can name one by function, by source file or by module:
 *   leak_here        (this file)        definitely lost, 11 bytes
 *   other_file_leak  (supp_other.c)     definitely lost, 22 bytes
 *   lib_leak         (libsupp_lib.so)   definitely lost, 33 bytes
 *   do_double_free   (this file)        a double free of a 44-byte block */
#include <stdlib.h>
#include <string.h>

#include "pit_say.h"

void other_file_leak(void);
void lib_leak(void);

static void *keep;

__attribute__((noinline)) static void leak_here(void) {
  keep = malloc(11);
  memset(keep, 0, 11);
  keep = NULL;
}

__attribute__((noinline)) static void do_double_free(void) {
  void *p = malloc(44);
  free(p);
  free(launder(p));
}

int main(void) {
  leak_here();
  other_file_leak();
  lib_leak();
  do_double_free();
  say("done\n");
  return 0;
}
