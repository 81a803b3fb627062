/* A process of the trees tests/tree runs under the zalloc wrapper; one scenario per argument:
 *   leak N        lose N blocks of 40 bytes from tree_planted_leak, print "leaked N", exit 0
 *   clean         allocate and free, exit 0
 *   status S      lose one block, exit with status S
 *   double-free   free a block twice, exit 0
 *   segv          touch a freed large block: killed by SIGSEGV
 *   abort         abort(): killed by SIGABRT
 *   orphan PID    wait until its parent is no longer PID (killed: reparented to the wrapper),
 *                 then lose one block and exit 0
 *   until FILE    print "waiting", wait until FILE exists, then lose one block and exit 0
 * Built with -g -O0 so the frames are the ones written. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pit_say.h"

__attribute__((noinline)) static void *tree_planted_leak(size_t n) {
  char *p = malloc(n);
  memset(p, 'x', n);
  return launder(p);
}

__attribute__((noinline)) static void lose(int n) {
  for (int i = 0; i < n; i++) tree_planted_leak(40);
}

static void pause_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
  const char *s = argc > 1 ? argv[1] : "clean";
  if (!strcmp(s, "leak")) {
    int n = argc > 2 ? atoi(argv[2]) : 1;
    lose(n);
    say("leaked %d\n", n);
  } else if (!strcmp(s, "clean")) {
    free(launder(malloc(100)));
    say("clean\n");
  } else if (!strcmp(s, "status")) {
    lose(1);
    return argc > 2 ? atoi(argv[2]) : 1;
  } else if (!strcmp(s, "double-free")) {
    char *p = malloc(24);
    free(p);
    free(launder(p));
  } else if (!strcmp(s, "segv")) {
    /* A block over 8 MiB has its own mapping, unmapped at free: the access faults. */
    char *p = malloc((size_t)9 << 20);
    free(p);
    say("ready\n");
    ((volatile char *)launder(p))[8] = 1;
  } else if (!strcmp(s, "abort")) {
    abort();
  } else if (!strcmp(s, "orphan") && argc > 2) {
    pid_t parent = (pid_t)atoi(argv[2]);
    while (getppid() == parent) pause_ms(10);   /* no timing: waits for an event; the test's
                                                  * timeout catches a hang */
    lose(1);
    say("orphaned\n");
  } else if (!strcmp(s, "until") && argc > 2) {
    say("waiting\n");
    while (access(argv[2], F_OK) != 0) pause_ms(10);
    lose(1);
  } else {
    say("unknown scenario %s\n", s);
    return 99;
  }
  return 0;
}
