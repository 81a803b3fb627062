/* Helper for test_ends.c: one way for a process to end per scenario (the first argument),
 * each with something on the heap to report. It prints what the test needs to predict the
 * report ("key=value" lines through write(2), never stdio: stdio's buffer would be a block of
 * its own) and "ready" before the ending itself. Built with -g -O0: the frames the report shows
 * are the ones written here. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pit_say.h"

void end_forklib_linked(void);

static void *leaked;            /* cleared before the end: the block is then lost */

/* One lost block of 77 bytes, allocated here. */
__attribute__((noinline)) static void leak_one(void) {
  leaked = malloc(77);
  memset(leaked, 1, 77);
  leaked = NULL;
}

__attribute__((noinline)) static void double_free(void) {
  void *p = malloc(40);
  free(p);
  free(launder(p));
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- crashes ------------------------------------------------------------------------------- */

#define BIG ((size_t)9 << 20)   /* a large block freed is unmapped at once (over 8 MiB) */

/* A read from a large block after its free: its mapping is gone. */
__attribute__((noinline)) static int read_freed(size_t at) {
  char *big = malloc(BIG);
  memset(big, 7, 4096);
  say("block=%p\n", (void *)big);
  free(big);
  say("ready\n");
  return ((volatile char *)big)[at];
}

typedef struct node { struct node *next; long value; } node_t;

/* A use after free through a pointer read from the freed block: zalloc's fill pattern. */
__attribute__((noinline)) static long follow_freed(void) {
  node_t *n = malloc(sizeof *n);
  n->next = malloc(sizeof *n);
  n->next->value = 1;
  free(n->next);
  free(n);
  say("ready\n");
  node_t *freed = launder(n);
  return freed->next->value;
}

static void *crashing_thread(void *arg) {
  (void)arg;
  say("thread=%d\n", gettid());
  read_freed(100);
  return NULL;
}

static void own_handler(int sig) {
  say("own handler %d\n", sig);
  _exit(42);
}

/* A SIGBUS: a mapping of a file past its end. */
static int bus(void) {
  char path[] = "/tmp/end-bus-XXXXXX";
  int fd = mkstemp(path);
  unlink(path);
  volatile char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  say("ready\n");
  return p[0];
}

/* ---- a server ------------------------------------------------------------------------------ */

/* Does round N (allocates a node kept on a list, and loses one block) when the file round-N
 * appears in `dir`, says "did N", and waits for the next; stops when `stop` appears. Between
 * rounds it only polls (no allocation), so a report taken then sees a heap that stands still.
 * With `worker`, a forked child serves the same way. */
static int server(const char *dir, bool worker) {
  char path[512];
  node_t *list = NULL;
  pid_t child = worker ? fork() : -1;
  if (child == 0) say("worker=%d\nworker_ready\n", getpid());
  else say("pid=%d\nready\n", getpid());
  for (int round = 1;; round++) {
    for (;;) {
      snprintf(path, sizeof path, "%s/stop", dir);
      if (access(path, F_OK) == 0) goto done;
      snprintf(path, sizeof path, "%s/round-%d", dir, round);
      if (child != 0 && access(path, F_OK) == 0) break;
      sleep_ms(5);
    }
    node_t *n = malloc(sizeof *n);
    n->next = list;
    n->value = round;
    list = n;
    leak_one();
    say("did %d\n", round);
  }
done:
  if (child > 0) waitpid(child, NULL, 0);
  say("done\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *s = argv[1];
  int code = argc > 2 ? atoi(argv[2]) : 0;
  if (strcmp(s, "clean") != 0) leak_one();
  if (!strcmp(s, "exit")) { say("ready\n"); exit(code); }
  if (!strcmp(s, "_exit")) { say("ready\n"); _exit(code); }
  if (!strcmp(s, "_Exit")) { say("ready\n"); _Exit(code); }
  if (!strcmp(s, "return")) { say("ready\n"); return code; }
  if (!strcmp(s, "double-free")) { double_free(); say("ready\n"); exit(code); }
  if (!strcmp(s, "double-free-_exit")) { double_free(); say("ready\n"); _exit(code); }
  if (!strcmp(s, "vfork")) {          /* the child shares our memory: it must write nothing */
    pid_t pid = vfork();
    if (pid == 0) _exit(9);
    int st;
    waitpid(pid, &st, 0);
    say("child_status=%d\nready\n", WEXITSTATUS(st));
    return 0;
  }
  if (!strcmp(s, "clean")) { free(malloc(10)); say("ready\n"); return 0; }
  if (!strcmp(s, "read-freed")) return read_freed(100);
  if (!strcmp(s, "read-past-freed")) return read_freed(BIG + 8);
  if (!strcmp(s, "small-altstack")) {  /* as sanitizer runtimes do: a small alternate stack */
    static char alt[32 << 10];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) return 3;
    return read_freed(100);
  }
  if (!strcmp(s, "follow-freed")) return (int)follow_freed();
  if (!strcmp(s, "null")) { say("ready\n"); return *(volatile int *)launder(NULL); }
  if (!strcmp(s, "abort")) { say("ready\n"); abort(); }
  if (!strcmp(s, "kill-segv")) { say("ready\n"); raise(SIGSEGV); say("survived\n"); return 0; }
  if (!strcmp(s, "fpe")) { volatile int zero = 0; say("ready\n"); return 10 / zero; }
  if (!strcmp(s, "ill")) { say("ready\n"); __builtin_trap(); }
  if (!strcmp(s, "bus")) return bus();
  if (!strcmp(s, "thread-segv")) {
    pthread_t t;
    pthread_create(&t, NULL, crashing_thread, NULL);
    for (;;) free(malloc(100));       /* the main thread keeps allocating */
  }
  if (!strcmp(s, "own-handler")) {
    signal(SIGSEGV, own_handler);
    say("ready\n");
    return *(volatile int *)launder(NULL);
  }
  if (!strcmp(s, "in-malloc")) {      /* a bad argument: zalloc faults on the caller's pointer */
    say("ready\n");
    return posix_memalign(launder((void *)16), 16, 100);
  }
  if (!strcmp(s, "fork-locks")) {     /* end_forklib's prepare handler crashes inside fork() */
    end_forklib_linked();
    setenv("END_CRASH_IN_FORK", "1", 1);
    say("ready\n");
    return (int)fork();
  }
  if (!strcmp(s, "server")) return server(argv[2], false);
  if (!strcmp(s, "server-fork")) return server(argv[2], true);
  return 2;
}
