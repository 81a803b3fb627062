/* Helper for test_cxx.c: a C program, without libstdc++, that calls zalloc's operator new by
 * its mangled name. A block it can have comes back; for an impossible size there is no
 * new-handler to ask nor bad_alloc to throw, and zalloc must say so and abort. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  void *(*new_)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "_Znwm");
  void (*delete_)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "_ZdlPv");
  if (!new_ || !delete_) {
    printf("no operator new in this process\n");
    return 1;
  }
  void *p = new_(100);
  memset(p, 1, 100);
  delete_(p);
  printf("new(100): a block\n");
  fflush(stdout);
  volatile size_t huge = SIZE_MAX / 2;
  p = new_(huge);
  printf("new(huge) returned %p\n", p);
  return 0;
}
