/* Helper for test_gpa.c: one scenario per first argument, each making one kind of heap error
 * (or checking one promise) of the GPA backend. It prints what the test needs to predict the
 * finding lines ("key=value": pointers, thread ids) and "done" when it gets to its end.
 *
 * Every scenario is a function of its own, never inlined, built with -g: the stacks in the
 * report must name it and main. Output goes through write(2); pointers pass through launder()
 * so the compiler neither warns about nor optimises away the deliberate misuse. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pit_say.h" /* say(): write(2), no stdio; launder() */

#define SCENARIO __attribute__((noinline, noclone)) static int

static void say_block(const char *key, const void *p) { say("%s=%p\ntid=%d\n", key, p, gettid()); }

SCENARIO scenario_double_free(void) {
  char *p = malloc(40);
  say_block("p", p);
  free(p);
  free(launder(p));
  return 0;
}

SCENARIO scenario_invalid_free_stack(void) {
  char local[32] = {0};
  say_block("p", local);
  free(launder(local));
  return 0;
}

SCENARIO scenario_invalid_free_interior(void) {
  char *p = malloc(64);
  say_block("p", p + 8);
  free(launder(p + 8));
  free(p);
  return 0;
}

/* Write one byte at `offset` from the start of a block of `size` bytes, then free it. */
static int write_at_then_free(size_t size, long offset) {
  char *p = malloc(size);
  say_block("p", p);
  ((char *)launder(p))[offset] = 'x';
  free(p);
  return 0;
}

SCENARIO scenario_overflow_1(void) { return write_at_then_free(24, 24); }
SCENARIO scenario_overflow_16(void) { return write_at_then_free(24, 24 + 15); }
SCENARIO scenario_underflow(void) { return write_at_then_free(24, -3); }
SCENARIO scenario_overflow_large(void) { return write_at_then_free(40000, 40000); }

SCENARIO scenario_write_after_free(void) {
  char *p = malloc(40);
  say_block("p", p);
  free(p);
  ((char *)launder(p))[8] = 'x';
  return 0;
}

/* With a small quarantine (ZALLOC_QUARANTINE=4K): the damaged block leaves it after enough
 * other frees, and is checked then. */
SCENARIO scenario_write_after_free_reuse(void) {
  char *p = malloc(40);
  say_block("p", p);
  free(p);
  ((char *)launder(p))[8] = 'x';
  for (int i = 0; i < 2000; i++) free(malloc(100));
  say("pushed=yes\n");
  return 0;
}

SCENARIO scenario_realloc_freed(void) {
  char *p = malloc(40);
  say_block("p", p);
  free(p);
  void *q = realloc(launder(p), 80);
  say("q=%s\n", q ? "block" : "NULL");
  return 0;
}

static void *second_free(void *p) {
  say("thread_tid=%d\n", gettid());
  free(launder(p));
  return NULL;
}

SCENARIO scenario_thread_double_free(void) {
  char *p = malloc(48);
  say("p=%p\nmain_tid=%d\n", (void *)p, gettid());
  free(p);
  pthread_t t;
  if (pthread_create(&t, NULL, second_free, p) != 0 || pthread_join(t, NULL) != 0) return 1;
  return 0;
}

SCENARIO scenario_usable_size(void) {
  static const size_t sizes[] = {1, 7, 16, 24, 100, 1000, 4096, 32768, 40000, 1 << 20};
  int ok = 1;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char *p = malloc(sizes[i]);
    size_t u = malloc_usable_size(p);
    if (u != sizes[i]) {
      say("usable(%zu)=%zu\n", sizes[i], u);
      ok = 0;
    }
    memset(p, 'u', u); /* all of it is the program's: no finding */
    free(p);
  }
  say("usable_ok=%s\n", ok ? "yes" : "no");
  return 0;
}

/* Blocks are dirtied and freed, then calloc'ed again (with no quarantine the same slots come
 * back at once): every byte must read zero. */
SCENARIO scenario_calloc_reuse(void) {
  int ok = 1, reused = 0;
  for (int round = 0; round < 50; round++) {
    char *p[32];
    for (int i = 0; i < 32; i++) {
      p[i] = malloc(200);
      memset(p[i], 0xab, 200);
    }
    void *old[32];
    for (int i = 0; i < 32; i++) {
      old[i] = p[i];
      free(p[i]);
    }
    for (int i = 0; i < 32; i++) {
      p[i] = calloc(25, 8);
      for (int k = 0; k < 32; k++) reused += p[i] == old[k];
      for (int k = 0; k < 200; k++) ok &= p[i][k] == 0;
    }
    for (int i = 0; i < 32; i++) free(p[i]);
  }
  say("zeroed=%s\nreused=%s\n", ok ? "yes" : "no", reused ? "yes" : "no");
  return 0;
}

/* realloc keeps the contents and moves the guard: a write right after the new end is found. */
SCENARIO scenario_realloc_guard(void) {
  char *p = malloc(16);
  for (int i = 0; i < 16; i++) p[i] = (char)('a' + i);
  p = realloc(p, 100);
  int kept = 1;
  for (int i = 0; i < 16; i++) kept &= p[i] == (char)('a' + i);
  memset(p + 16, 'b', 84); /* all of the new size is usable: no finding */
  char *q = realloc(p, 10); /* shrinking: the guard moves in */
  for (int i = 0; i < 10; i++) kept &= q[i] == (char)('a' + i);
  say("kept=%s\ngrown=%p\nshrunk=%p\ntid=%d\n", kept ? "yes" : "no", (void *)p, (void *)q, gettid());
  ((char *)launder(q))[10] = 'x';
  free(q);
  return 0;
}

static void *volatile kept_pointer;

/* Several findings and a leak in one run: the report carries on after the first error. */
SCENARIO scenario_several(void) {
  char *a = malloc(32);
  free(a);
  free(launder(a));                      /* double free */
  char *b = malloc(24);
  ((char *)launder(b))[24] = 'x';
  free(b);                               /* heap overflow, found by free */
  int local;
  free(launder(&local));                 /* invalid free */
  kept_pointer = malloc(77);
  kept_pointer = NULL;                   /* definitely lost */
  kept_pointer = malloc(1000);           /* still reachable */
  say("a=%p\nb=%p\nstack=%p\ntid=%d\n", (void *)a, (void *)b, (void *)&local, gettid());
  return 0;
}

/* A deterministic mix of malloc, calloc, realloc and free over sizes 0 to 40000 (both sides of
 * the GPA's largest slot), blocks freed in random order, and 10 of them lost at the end: the
 * report's counts must not depend on which path (inline or general) served each call. */
SCENARIO scenario_mixed(void) {
  enum { SLOTS = 256, OPS = 40000 };
  static char *held[SLOTS];
  static size_t held_size[SLOTS];
  uint64_t x = 0x9e3779b97f4a7c15u;
  int bad = 0;
  for (int op = 0; op < OPS; op++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    unsigned i = (unsigned)(x % SLOTS), what = (unsigned)(x >> 32) % 4;
    size_t size = (x >> 40) % 8 == 0 ? (size_t)(x >> 20) % 40001 : (size_t)(x >> 20) % 600;
    if (held[i] && what < 2) {
      for (size_t k = 0; k < held_size[i] && k < 64; k++) bad |= held[i][k] != (char)(i + k);
      free(held[i]);
      held[i] = NULL;
    } else if (held[i]) {
      char *q = realloc(held[i], size);
      if (size == 0) {     /* freed, as glibc */
        held[i] = NULL;
        continue;
      }
      for (size_t k = 0; k < held_size[i] && k < size && k < 64; k++) bad |= q[k] != (char)(i + k);
      held[i] = q, held_size[i] = size;
      for (size_t k = 0; k < size && k < 64; k++) q[k] = (char)(i + k);
    } else {
      char *q = what == 3 ? calloc(1, size) : malloc(size);
      if (what == 3)
        for (size_t k = 0; k < size; k++) bad |= q[k] != 0;
      held[i] = q, held_size[i] = size;
      for (size_t k = 0; k < size && k < 64; k++) q[k] = (char)(i + k);
    }
  }
  int lost = 0;
  for (int i = 0; i < SLOTS; i++) {
    if (held[i] && lost < 10) {
      held[i] = launder(NULL);   /* dropped: definitely lost */
      lost++;
    }
    free(held[i]);
  }
  say("intact=%s\n", bad ? "no" : "yes");
  return 0;
}

int main(int argc, char **argv) {
  static const struct { const char *name; int (*run)(void); } scenarios[] = {
    {"double-free", scenario_double_free},
    {"invalid-free-stack", scenario_invalid_free_stack},
    {"invalid-free-interior", scenario_invalid_free_interior},
    {"overflow-1", scenario_overflow_1},
    {"overflow-16", scenario_overflow_16},
    {"underflow", scenario_underflow},
    {"overflow-large", scenario_overflow_large},
    {"write-after-free", scenario_write_after_free},
    {"write-after-free-reuse", scenario_write_after_free_reuse},
    {"realloc-freed", scenario_realloc_freed},
    {"thread-double-free", scenario_thread_double_free},
    {"usable-size", scenario_usable_size},
    {"calloc-reuse", scenario_calloc_reuse},
    {"realloc-guard", scenario_realloc_guard},
    {"several", scenario_several},
    {"mixed", scenario_mixed},
  };
  if (argc < 2) return 64;
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
    if (strcmp(argv[1], scenarios[i].name) == 0) {
      say("before\n");
      int rc = scenarios[i].run();
      if (rc == 0) say("done\n");
      return rc;
    }
  say("unknown scenario '%s'\n", argv[1]);
  return 64;
}
