/* Helper for test_report.c: the program rep_prog execs. It leaks one block of a size no other
 * helper uses, so its report can be told from the one of the program it replaced. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  char *p = malloc(4321);
  if (!p) return 1;
  memset(p, 't', 4321);
  char buf[128];
  int n = snprintf(buf, sizeof buf, "target ran (%s)\npid=%d\n", argc > 1 ? argv[1] : "", getpid());
  if (n > 0 && write(1, buf, (size_t)n) != n) return 1;
  return 0;
}
