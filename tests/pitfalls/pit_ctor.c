/* Linked to libpit_ctorlib.so, whose constructor allocates before zalloc's constructor runs.
 * main itself allocates nothing. */
#include "pit_say.h"

int pit_ctorlib_ok(void);

int main(void) {
  say("main ran\n");
  if (!pit_ctorlib_ok()) {
    say("the library's blocks are damaged\n");
    return 1;
  }
  say("done\n");
  return 0;
}
