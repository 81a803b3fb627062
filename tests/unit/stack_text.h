/* Stack unit tests: reading a captured stack as the report writes it (za_stack_write). */
#ifndef ZA_TEST_STACK_TEXT_H
#define ZA_TEST_STACK_TEXT_H
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "stack.h"

/* The report lines for `id`, NUL-terminated, in a static buffer. */
static inline const char *written(za_stack_id_t id) {
  static char buf[16384];
  za_out_t o;
  za_out_init(&o, -1, buf, sizeof buf - 1);
  za_stack_write(&o, "  ", id);
  buf[o.len] = '\0';
  return buf;
}

/* The line of frame #i, copied into `line`; false if there is none. */
static inline bool frame_line(const char *text, int i, char *line, size_t cap) {
  char tag[16];
  snprintf(tag, sizeof tag, "  #%d ", i);
  const char *at = strstr(text, tag);
  if (at == NULL) return false;
  size_t n = strcspn(at, "\n");
  snprintf(line, cap, "%.*s", (int)(n < cap ? n : cap - 1), at);
  return true;
}

static inline void assert_frame_names(const char *text, int i, const char *function) {
  char line[512];
  cr_assert(frame_line(text, i, line, sizeof line), "no frame #%d in:\n%s", i, text);
  char want[128];
  snprintf(want, sizeof want, " in %s+0x", function);
  cr_assert(strstr(line, want) != NULL, "frame #%d is not %s:\n%s", i, function, text);
}

/* The number of the last frame of `text`, -1 if none. */
static inline int last_frame(const char *text) {
  int last = -1;
  char line[512];
  while (frame_line(text, last + 1, line, sizeof line)) last++;
  return last;
}

/* A loop bound the compiler cannot see: a loop it unrolled would capture from several call
 * sites, several stacks. */
static volatile int stack_loop_bound;
static inline int rounds(int n) {
  stack_loop_bound = n;
  return stack_loop_bound;
}
#endif
