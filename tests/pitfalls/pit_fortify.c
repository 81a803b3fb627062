/* Pitfall: _FORTIFY_SOURCE=3 knows a block's size from malloc's alloc_size attribute, so a
 * memset over the slack malloc_usable_size reports is an overflow as far as the checks go,
 * whatever the allocator. A program that wants the slack must say so (systemd's way): pass the
 * block through a function whose alloc_size is the usable size. Built with -O2
 * -D_FORTIFY_SOURCE=3.
 *   pit_fortify        many blocks: every usable byte written through the conduit; each
 *                      block's whole usable size must be its own (no overlap with its neighbours
 *                      or zalloc's headers), all freed: runs clean
 *   pit_fortify raw    memset over the slack without the conduit: the fortify check fires
 *                      (shows the checks are really compiled in) */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "pit_say.h"

void *expand_to_usable(void *p, size_t size) __attribute__((alloc_size(2), noinline));

#define N 160

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "raw") == 0) {
    for (size_t size = 1; size <= 256; size++) { /* the first size that has slack */
      char *p = malloc(size);
      size_t u = malloc_usable_size(p);
      if (u > size) {
        say("size=%zu\nusable=%zu\n", size, u);
        memset(p, 0, u);
        say("not caught\n");
        free(p);
        return 0;
      }
      free(p);
    }
    say("no-slack\n");
    return 0;
  }
  unsigned char *blocks[N];
  size_t usable[N];
  for (int i = 0; i < N; i++) {
    size_t size = i < 120 ? (size_t)i + 1 : i < 150 ? (size_t)(i - 119) * 997 : 256 * 1024 + (size_t)i;
    unsigned char *p = malloc(size);
    if (!p) return 1;
    usable[i] = malloc_usable_size(p);
    if (usable[i] < size) {
      say("usable size %zu < %zu\n", usable[i], size);
      return 1;
    }
    p = expand_to_usable(p, usable[i]);
    memset(p, i + 1, usable[i]);
    blocks[i] = p;
  }
  size_t slack = 0;
  for (int i = 0; i < N; i++) {
    for (size_t k = 0; k < usable[i]; k++)
      if (blocks[i][k] != (unsigned char)(i + 1)) {
        say("block %d: byte %zu of its usable %zu was overwritten\n", i, k, usable[i]);
        return 1;
      }
    slack += usable[i];
  }
  for (int i = 0; i < N; i++) free(blocks[i]);
  say("checked=%d\nslack_used=%s\ndone\n", N, slack > 0 ? "yes" : "no");
  return 0;
}
