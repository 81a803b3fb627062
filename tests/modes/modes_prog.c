/* Helper for test_page.c and test_fail.c: one scenario per first argument, run under
 * libzalloc.so with page mode, ZALLOC_SAMPLE, ZALLOC_LIMIT or ZALLOC_FAIL_* set by the test. It
 * prints what the test needs to predict the report ("key=value": pointers, thread ids, what
 * each call returned) and "done" when it gets to its end; the page-mode scenarios are meant to
 * die of SIGSEGV at their bad access instead.
 *
 * Every scenario is a function of its own, never inlined, built with -g -O0: the stacks in the
 * report must name it and main. Output goes through write(2) (say); pointers pass through
 * launder() so the compiler neither warns about nor removes the deliberate misuse. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pit_say.h"

#define SCENARIO __attribute__((noinline, noclone)) static int

static void say_block(const char *key, const void *p) { say("%s=%p\ntid=%d\n", key, p, gettid()); }

/* A read or write the compiler must keep, in a frame of its own. */
__attribute__((noinline)) static int read_at(const char *p, long off) { return ((const volatile char *)p)[off]; }
__attribute__((noinline)) static void write_at(char *p, long off) { ((volatile char *)p)[off] = 'x'; }

/* ---- page mode: bad accesses fault at the instruction ----------------------------------------- */

SCENARIO scenario_read_after_free(void) {
  char *p = malloc(40);
  say_block("p", p);
  free(p);
  return read_at(launder(p), 8);
}

/* 32 bytes: the block ends against its guard page (ZALLOC_PAGE_ALIGN=end), so the first byte
 * past it faults. */
SCENARIO scenario_read_past_end(void) {
  char *p = malloc(32);
  say_block("p", p);
  return read_at(launder(p), 32);
}

/* 100 bytes past a 24-byte block: over the GPA's guard bytes, into the guard page. */
SCENARIO scenario_write_past_guard(void) {
  char *p = malloc(24);
  say_block("p", p);
  write_at(launder(p), 24 + 100);
  return 0;
}

/* A block grown by realloc in steps grows where it is, from the start of its pages: a read a
 * page past its end still faults. */
SCENARIO scenario_grown_overflow(void) {
  char *p = malloc(10);
  for (size_t n = 100; n <= 5000; n += 100) p = realloc(p, n);
  say_block("p", p);
  return read_at(launder(p), 8192);
}

/* ZALLOC_PAGE_ALIGN=start: the block starts right after its guard page. */
SCENARIO scenario_underflow(void) {
  char *p = malloc(24);
  say_block("p", p);
  write_at(launder(p), -8);
  return 0;
}

/* Inside the up to 15 bytes between a 24-byte block's end and its guard page: no fault, but
 * the guard bytes there are checked at free. */
SCENARIO scenario_slack_overflow(void) {
  char *p = malloc(24);
  say_block("p", p);
  write_at(launder(p), 24);
  free(p);
  return 0;
}

/* Every block of the program's in page mode is guarded, with the promises malloc makes: usable
 * sizes, alignment, zeroed calloc, realloc keeping the contents. */
SCENARIO scenario_promises(void) {
  int bad = 0;
  for (size_t n = 0; n < 20000; n = n * 3 + 1) {
    char *p = malloc(n);
    bad += p == NULL || malloc_usable_size(p) != n || (uintptr_t)p % 16 != 0;
    memset(p, 0x5a, n);
    char *q = realloc(p, n + 5000);
    for (size_t i = 0; q && i < n; i++) bad += q[i] != 0x5a;
    free(q);
    unsigned char *z = calloc(n + 1, 3);
    for (size_t i = 0; z && i < (n + 1) * 3; i++) bad += z[i] != 0;
    free(z);
  }
  for (size_t a = 16; a <= (1u << 20); a *= 4) {
    void *p = NULL;
    bad += posix_memalign(&p, a, 100) != 0 || (uintptr_t)p % a != 0 || malloc_usable_size(p) != 100;
    free(p);
    char *v = valloc(5000);
    bad += v == NULL || (uintptr_t)v % 4096 != 0;
    free(v);
  }
  say("bad=%d\n", bad);
  return 0;
}

/* More live blocks than the map limit lets page mode guard: the program goes on (with the
 * GPA's guard bytes), and the mappings it costs are what page.h says. */
static long maps_now(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  long n = 0;
  for (int c; f && (c = fgetc(f)) != EOF;) n += c == '\n';
  if (f) fclose(f);
  return n;
}

SCENARIO scenario_map_limit(void) {
  static void *blocks[40000];
  long before = maps_now();
  for (int i = 0; i < 1000; i++) blocks[i] = malloc(100);
  long with = maps_now();
  for (int i = 0; i < 1000; i++) free(blocks[i]);
  long after = maps_now();
  say("maps_before=%ld\nmaps_with_1000=%ld\nmaps_after=%ld\n", before, with, after);
  int null = 0;
  for (int i = 0; i < 40000; i++) null += (blocks[i] = malloc(64)) == NULL;
  for (int i = 0; i < 40000; i++) memset(blocks[i], 1, 64);
  say("null=%d\nmaps_40000=%ld\n", null, maps_now());
  for (int i = 0; i < 40000; i++) free(blocks[i]);
  return 0;
}

/* Threads allocating and freeing guarded blocks, one of them forking meanwhile. */
static void *churn(void *arg) {
  (void)arg;
  for (int round = 0; round < 300; round++) {
    void *p[8];
    for (int i = 0; i < 8; i++) p[i] = malloc((size_t)(round * 7 + i * 100) % 9000);
    for (int i = 0; i < 8; i++) free(p[i]);
  }
  return NULL;
}

SCENARIO scenario_threads_fork(void) {
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, churn, NULL);
  int statuses = 0;
  for (int k = 0; k < 3; k++) {
    pid_t pid = fork();
    if (pid == 0) {
      churn(NULL);
      _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    statuses += WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  say("children_ok=%d\n", statuses);
  return 0;
}

/* ---- ZALLOC_LIMIT: the budget at its boundaries --------------------------------------------------
 * Run with ZALLOC_LIMIT=1M in gpa and page mode (requested sizes count). The C library holds a
 * few blocks before main: `room` is what is left (mallinfo2 counts the bytes held as the
 * budget does). Every check prints "NAME=ok" or "NAME=bad ..."; the first refusal is malloc(1)
 * right at the limit. */

#define LIMIT ((size_t)1 << 20)

static size_t room_left(void) {
  size_t held = mallinfo2().uordblks;
  say("held_at_start=%zu\n", held);
  return LIMIT - held;
}

static void check(const char *name, int ok, const char *detail) {
  say("%s=%s%s%s\n", name, ok ? "ok" : "bad", ok ? "" : " ", ok ? "" : detail);
}

static int refused(void *p) { return p == NULL && errno == ENOMEM; }

SCENARIO scenario_limit_boundaries(void) {
  size_t room = room_left();
  char *all = malloc(room);                    /* exactly the limit */
  check("whole", all != NULL, "malloc(limit) failed");
  errno = 0;
  check("one_more", refused(malloc(1)), "malloc(1) at the limit did not fail with ENOMEM");
  void *zero = malloc(0);
  check("zero_bytes", zero != NULL, "malloc(0) at the limit failed: it holds nothing");
  free(zero);
  free(all);
  errno = 0;
  check("over", refused(malloc(room + 1)), "malloc(limit + 1) succeeded");
  char *a = malloc(room - 100), *b = malloc(100);
  check("fill", a && b, "limit - 100 and 100 did not fit");
  errno = 0;
  check("full", refused(malloc(1)), "a byte more fitted");
  free(b);
  b = malloc(100);
  check("freed_room", b != NULL, "the room a free made was not usable");
  free(a);
  free(b);
  /* calloc counts count x size */
  char *c = calloc(room / 8, 8);
  check("calloc_whole", c != NULL, "calloc up to the limit failed");
  free(c);
  errno = 0;
  check("calloc_over", refused(calloc(room / 8 + 1, 8)), "calloc over the limit succeeded");
  /* realloc: judged by what is held after it; a refused one leaves the block as it was */
  char *r = malloc(1000);
  memset(r, 'r', 1000);
  char *r2 = realloc(r, room);
  check("realloc_to_limit", r2 != NULL, "realloc to the limit failed");
  if (r2) r = r2;
  errno = 0;
  char *r3 = realloc(r, room + 1);
  check("realloc_over", refused(r3), "realloc over the limit succeeded");
  int kept = 1;
  for (int i = 0; i < 1000; i++) kept &= r[i] == 'r';
  check("realloc_over_kept", kept, "the block changed");
  r = realloc(r, 10);
  check("realloc_shrink", r != NULL, "shrinking failed");
  char *rest = malloc(room - 10);
  check("after_shrink", rest != NULL, "the room realloc gave back was not usable");
  errno = 0;
  check("after_shrink_full", refused(malloc(1)), "a byte more fitted");
  free(rest);
  free(r);
  /* the aligned forms count the size asked for */
  void *al = NULL;
  check("posix_memalign_whole", posix_memalign(&al, 4096, room) == 0, "posix_memalign(limit) failed");
  void *al2 = (void *)1;
  int rc = posix_memalign(&al2, 64, 1);
  check("posix_memalign_over", rc == ENOMEM && al2 == (void *)1, "posix_memalign over the limit did not return ENOMEM");
  free(al);
  char *full = malloc(room);
  errno = 0;
  check("aligned_alloc_over", refused(aligned_alloc(64, 64)), "aligned_alloc over the limit succeeded");
  errno = 0;
  check("memalign_over", refused(memalign(256, 16)), "memalign over the limit succeeded");
  errno = 0;
  check("valloc_over", refused(valloc(1)), "valloc over the limit succeeded");
  errno = 0;
  check("realloc_null_over", refused(realloc(NULL, 1)), "realloc(NULL, 1) over the limit succeeded");
  errno = 0;
  check("strdup_over", refused(strdup("x")), "strdup over the limit succeeded");
  free(full);
  return 0;
}

/* The arena counts its size classes: blocks of one size fill the budget to the last whole
 * block of their class. Run with ZALLOC_LIMIT=1M. */
SCENARIO scenario_limit_classes(void) {
  static void *blocks[LIMIT / 16];
  size_t room = room_left(), n = 0;
  while (n < sizeof blocks / sizeof blocks[0] && (blocks[n] = malloc(100)) != NULL) n++;
  size_t usable = malloc_usable_size(blocks[0]);
  say("blocks=%zu\nusable=%zu\nexpected=%zu\n", n, usable, room / usable);
  free(blocks[0]);
  blocks[0] = malloc(100);
  say("after_free=%s\n", blocks[0] ? "ok" : "bad");
  for (size_t i = 0; i < n; i++) free(blocks[i]);
  return 0;
}

/* ---- ZALLOC_FAIL_*: which calls fail ---------------------------------------------------------------
 * Twenty allocations from this function (ZALLOC_FAIL_MATCH=scenario_inject counts only them);
 * prints the numbers of those that failed, e.g. "failed=3,8". */
SCENARIO scenario_inject(void) {
  char failed[256] = "";
  size_t len = 0;
  void *blocks[20];
  for (int i = 1; i <= 20; i++) {
    errno = 0;
    blocks[i - 1] = malloc(40);
    if (!blocks[i - 1] && errno == ENOMEM)
      len += (size_t)snprintf(failed + len, sizeof failed - len, "%s%d", len ? "," : "", i);
  }
  for (int i = 0; i < 20; i++) free(blocks[i]);
  say("failed=%s\ntid=%d\n", failed, gettid());
  return 0;
}

/* Allocations that record the census: a few from here, under main. */
SCENARIO scenario_census(void) {
  for (int i = 0; i < 5; i++) free(malloc(10));
  return 0;
}

/* A crash of its own, in any mode. */
SCENARIO scenario_segv(void) { return *(volatile int *)launder(NULL); }

/* ---- main --------------------------------------------------------------------------------------- */

typedef struct { const char *name; int (*fn)(void); } scenario_t;

static const scenario_t scenarios[] = {
  {"read-after-free", scenario_read_after_free},   {"read-past-end", scenario_read_past_end},
  {"write-past-guard", scenario_write_past_guard}, {"underflow", scenario_underflow},
  {"slack-overflow", scenario_slack_overflow},     {"grown-overflow", scenario_grown_overflow},
  {"promises", scenario_promises},                 {"map-limit", scenario_map_limit},
  {"threads-fork", scenario_threads_fork},         {"limit-boundaries", scenario_limit_boundaries},
  {"limit-classes", scenario_limit_classes},       {"inject", scenario_inject},
  {"census", scenario_census},                     {"segv", scenario_segv},
};

int main(int argc, char **argv) {
  if (argc < 2) {
    say("usage: modes_prog SCENARIO\n");
    return 2;
  }
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
    if (strcmp(argv[1], scenarios[i].name) == 0) {
      int rc = scenarios[i].fn();
      say("done\n");
      return rc;
    }
  say("unknown scenario %s\n", argv[1]);
  return 2;
}
