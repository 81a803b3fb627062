/* Helper for test_leaks.c: one program, one scenario per first argument, each leaving blocks of
 * known sizes (all different, so each shows as its own group) allocated at exit, referenced in
 * one known way or not at all. It prints "tid=<main thread id>" and "done".
 *
 * Output goes through write(2), never stdio. The blocks are made in functions that return
 * nothing, and the dead stack they used is overwritten before main returns, so that no stale
 * word makes a lost block look reachable. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static void say(const char *s) { (void)!write(1, s, strlen(s)); }

/* A store the compiler must keep: it may otherwise drop stores into blocks nobody reads. */
static void put(void *block, int slot, void *value) { ((void *volatile *)block)[slot] = value; }

void *volatile global_slot;       /* module data */
#ifdef LK_TAKE_MALLOC_ADDRESS
/* Built as a non-PIE program that takes malloc's address (as Debian's python3.11 does): the
 * address is then the program's own PLT entry, not the preloaded library's function. */
void *(*volatile lk_malloc_address)(size_t) = malloc;
#endif
static __thread void *volatile tls_slot;

/* Zero the stack below the caller, where earlier calls left their locals. */
static NOINLINE void scrub(void) {
  volatile char junk[64 * 1024];
  for (size_t i = 0; i < sizeof junk; i += 8) *(volatile long *)&junk[i] = 0;
}

static NOINLINE void lose_one(void) {
  put(malloc(1001), 0, NULL);
}

/* A lost head with two children: 1 definitely lost, 2 indirectly lost. */
static NOINLINE void lose_tree(void) {
  void *head = malloc(1002);
  put(head, 0, malloc(1003));
  put(head, 1, malloc(1003));
}

/* Three blocks in a ring, nothing else pointing at them. */
static NOINLINE void lose_cycle(void) {
  void *a = malloc(1004), *b = malloc(1004), *c = malloc(1004);
  put(a, 0, b);
  put(b, 0, c);
  put(c, 0, a);
}

/* Three lost blocks from one call site: one group. */
static NOINLINE void lose_loop(void) {
  for (int i = 0; i < 3; i++) put(malloc(1013), 0, NULL);
}

static NOINLINE void keep_global(void) { global_slot = malloc(1005); }

static NOINLINE void keep_interior(void) { global_slot = (char *)malloc(1006) + 500; }

static int ready[2];              /* a thread says it holds its block */
static int never[2];              /* nothing is ever written: the thread blocks for good */

/* Holds its block only in a local of its own stack, then blocks until the process exits. */
static void *stack_holder(void *arg) {
  (void)arg;
  void *volatile held = malloc(1007);
  (void)!write(ready[1], "x", 1);
  char c;
  (void)!read(never[0], &c, 1);
  return (void *)held;
}

/* Holds its block only in its thread-local variable. */
static void *tls_holder(void *arg) {
  (void)arg;
  tls_slot = malloc(1009);
  (void)!write(ready[1], "x", 1);
  char c;
  (void)!read(never[0], &c, 1);
  return NULL;
}

static void start_blocked(void *(*fn)(void *)) {
  pthread_t t;
  if (pipe(ready) || pipe(never) || pthread_create(&t, NULL, fn, NULL)) exit(3);
  char c;
  (void)!read(ready[0], &c, 1);
}

static NOINLINE void keep_tls_main(void) { tls_slot = malloc(1008); }

static NOINLINE void keep_mmap(void) {
  void **page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) exit(3);
  put(page, 100, malloc(1010));
}

static NOINLINE void keep_dlopen(const char *lib) {
  void *h = dlopen(lib, RTLD_NOW);
  if (!h) exit(4);
  void **slot = dlsym(h, "lk_lib_slot");
  if (!slot) exit(4);
  put(slot, 0, malloc(1011));
}

static NOINLINE void clean(void) {
  void *p = malloc(1012);
  free(p);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  char line[64];
  snprintf(line, sizeof line, "tid=%d\n", (int)gettid());
  say(line);
  const char *s = argv[1];
  if (!strcmp(s, "clean")) clean();
  else if (!strcmp(s, "definite")) lose_one();
  else if (!strcmp(s, "tree")) lose_tree();
  else if (!strcmp(s, "loop")) lose_loop();
  else if (!strcmp(s, "cycle")) lose_cycle();
  else if (!strcmp(s, "global")) keep_global();
  else if (!strcmp(s, "interior")) keep_interior();
  else if (!strcmp(s, "thread_stack")) start_blocked(stack_holder);
  else if (!strcmp(s, "tls")) {
    keep_tls_main();
    start_blocked(tls_holder);
  } else if (!strcmp(s, "mmap")) keep_mmap();
  else if (!strcmp(s, "dlopen") && argc > 2) keep_dlopen(argv[2]);
  else if (!strcmp(s, "mixed")) {
    lose_one();
    lose_tree();
    keep_global();
  } else return 2;
  scrub();
  say("done\n");
  return 0;
}
