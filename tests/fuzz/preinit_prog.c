/* Regression (found by the fuzz harness, whose libFuzzer runtime allocates this early): a
 * program that calls malloc from its .preinit_array - before libc has set environ, as every
 * program built with clang's -fsanitize=undefined or -fsanitize=fuzzer does - must still get the
 * ZALLOC_* settings of its environment. It allocates there, then once more from main. */
#include <stdio.h>
#include <stdlib.h>

static void early(int argc, char **argv, char **envp) {
  (void)argc, (void)argv, (void)envp;
  void *p = malloc(40);
  __asm__ volatile("" : : "r"(p) : "memory");
  free(p);
}
__attribute__((section(".preinit_array"), used)) static void (*const preinit)(int, char **, char **) = early;

int main(void) {
  void *p = malloc(24);
  __asm__ volatile("" : : "r"(p) : "memory");
  free(p);
  puts("preinit_prog: done");
  return 0;
}
