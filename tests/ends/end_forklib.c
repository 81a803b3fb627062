/* Linked into end_prog: its constructor runs before libzalloc.so's (preloaded objects are
 * initialised last), so its fork prepare handler is registered first and runs last, while every
 * zalloc lock is held. With END_CRASH_IN_FORK set it crashes there. */
#include <pthread.h>
#include <stdlib.h>

static void prepare(void) {
  if (getenv("END_CRASH_IN_FORK")) *(volatile int *)(long)getenv("END_NO_SUCH_VARIABLE") = 1;
}

__attribute__((constructor)) static void init(void) { pthread_atfork(prepare, NULL, NULL); }

/* end_prog calls this, so the linker keeps the library (--as-needed). */
void end_forklib_linked(void) {}
