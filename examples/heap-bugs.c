/* heap-bugs: a small word counter with the heap mistakes zalloc is built to report.
 * It reads words from stdin into a table, prints the three most frequent, then "cleans up":
 * it forgets some entries (leak), frees one twice (double free), frees a pointer into the
 * middle of a buffer (invalid free), copies a string into a block one byte too small (heap
 * overflow) and resets a counter in the table after freeing it (write after free). Under glibc
 * the double free aborts the program; under zalloc it runs to the end and the report lists
 * every mistake, each with the call stacks that explain it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
  char *word;
  int count;
} entry_t;

static int by_count(const void *a, const void *b) {
  const entry_t *x = a, *y = b;
  return y->count - x->count;
}

int main(void) {
  size_t cap = 16, n = 0;
  entry_t *table = malloc(cap * sizeof *table);
  char buf[256];
  while (scanf("%255s", buf) == 1) {
    size_t i = 0;
    while (i < n && strcmp(table[i].word, buf) != 0) i++;
    if (i == n) {
      if (n == cap) table = realloc(table, (cap *= 2) * sizeof *table);
      table[n].word = strdup(buf);
      table[n++].count = 0;
    }
    table[i].count++;
  }
  qsort(table, n, sizeof *table, by_count);
  char *title = malloc(strlen("top words"));                /* bug: no room for the NUL */
  strcpy(title, "top words");
  printf("%s\n", title);
  free(title);
  for (size_t i = 0; i < n && i < 3; i++) printf("%-10s %d\n", table[i].word, table[i].count);

  for (size_t i = 0; i + 2 < n; i++) free(table[i].word); /* bug: the last two words leak */
  if (n > 0) free(table[0].word);                           /* bug: freed a second time */
  char *line = malloc(64);
  strcpy(line, "scratch");
  free(line + 4);                                           /* bug: not the start of a block */
  free(line);
  free(table);
  ((volatile entry_t *)table)->count = 0;                   /* bug: the table was freed */
  printf("done\n");
  return 0;
}
