/* Helper for test_config.c. The first thing main does is print "main ran", so a test can tell
 * whether a bad configuration stopped the program before main. It allocates nothing before
 * main (no constructors, no stdio): zalloc's own start-up must catch the bad setting.
 *   cfg_prog               one block allocated and freed
 *   cfg_prog double-free   a double free (for ZALLOC_ABORT), then "done"
 *   cfg_prog chdir         changes to / before it exits */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void say(const char *s) {
  if (write(1, s, strlen(s)) < 0) _exit(99);
}

static void *launder(void *p) {
  void *volatile v = p;
  return v;
}

int main(int argc, char **argv) {
  say("main ran\n");
  void *p = malloc(100);
  if (!p) return 1;
  if (argc > 1 && strcmp(argv[1], "double-free") == 0) {
    void *guard = malloc(16);
    free(p);
    free(launder(p));
    free(guard);
  } else {
    free(p);
  }
  if (argc > 1 && strcmp(argv[1], "chdir") == 0 && chdir("/") != 0) return 1;
  say("done\n");
  return 0;
}
