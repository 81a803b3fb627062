/* Pitfall: glibc's atexit takes its own lock and calls calloc for every 32 handlers, and the
 * handlers run at exit, around the time an allocator writes its report. This program registers
 * N handlers (argument); each allocates a block of its own size (100 + its index) when it runs
 * and keeps it, so the report must count exactly N more leaked blocks than with N = 0. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "pit_say.h"

#define MAX 1000
static void *blocks[MAX];
static int count, ran;

static void handler(void) {
  int i = ran++;
  blocks[i] = malloc(100 + (size_t)i);
  if (blocks[i]) memset(blocks[i], 'h', 100 + (size_t)i);
  if (ran == count) say("handlers ran=%d\n", ran);
}

int main(int argc, char **argv) {
  count = argc > 1 ? atoi(argv[1]) : 100;
  if (count < 0 || count > MAX) return 64;
  for (int i = 0; i < count; i++)
    if (atexit(handler) != 0) {
      say("atexit failed at %d\n", i);
      return 1;
    }
  say("registered=%d\ndone\n", count);
  return 0;
}
