/* A leak made by malloc inside two functions inlined into main (-O2, always_inline): the
 * report must show three frames for one return address - inner_dup (inlined) at the malloc
 * line, outer_dup (inlined) at its call of inner_dup, main at its call of outer_dup. */
#include <stdlib.h>
#include <string.h>

static inline __attribute__((always_inline)) char *inner_dup(const char *s) {
  char *p = malloc(strlen(s) + 1);  /* line 8: STK_INNER_LINE */
  strcpy(p, s);
  return p;
}

static inline __attribute__((always_inline)) char *outer_dup(const char *s) {
  return inner_dup(s);  /* line 14: STK_OUTER_LINE */
}

char *volatile stk_keep;

int main(int argc, char **argv) {
  (void)argc;
  stk_keep = outer_dup(argv[0]);  /* line 21: STK_MAIN_LINE */
  stk_keep = NULL;
  return 0;
}
