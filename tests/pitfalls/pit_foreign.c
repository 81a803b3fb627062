/* Pitfall: a program that frees memory another allocator produced: a block from mmap, a static
 * buffer, a block from the program's own little pool allocator. glibc would crash or corrupt
 * its heap; zalloc must report each one and let the program carry on, with that memory intact
 * and its own heap unharmed. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pit_say.h"

static char static_buf[256];
static _Alignas(16) char pool[4096];
static size_t pool_used;
static void *pool_alloc(size_t n) {
  void *p = pool + pool_used;
  pool_used += (n + 15) & ~(size_t)15;
  return p;
}

int main(void) {
  char *mapped = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) return 1;
  char *pooled = pool_alloc(32);
  pool_alloc(64);
  char *pooled2 = pool_alloc(48);
  memset(mapped, 'm', 8192);
  memset(static_buf, 's', sizeof static_buf);
  memset(pooled2, 'q', 48);
  char *mine = malloc(200);
  if (!mine) return 1;
  memset(mine, 'z', 200);
  free(launder(mapped));
  free(launder(static_buf));
  free(launder(pooled2));
  say("mapped=%p\nstatic=%p\npooled=%p\ntid=%d\n", (void *)mapped, (void *)static_buf,
      (void *)pooled2, gettid());
  /* Carry on: all that memory is still the program's, and malloc still works. */
  int ok = mapped[0] == 'm' && mapped[8191] == 'm' && static_buf[255] == 's' && pooled2[47] == 'q' &&
           mine[199] == 'z';
  memset(mapped, 'M', 8192);
  strcpy(pooled, "still usable");
  char *more = malloc(5000);
  ok = ok && more && mapped[4096] == 'M';
  free(more);
  free(mine);
  munmap(mapped, 8192);
  say("intact=%s\n", ok ? "yes" : "no");
  if (!ok) return 1;
  say("done\n");
  return 0;
}
