/* Kept in a translation unit of its own, so the compiler cannot see that it returns its
 * argument: its only job is the alloc_size attribute in pit_fortify.c, which tells
 * _FORTIFY_SOURCE that the block is now `size` bytes long. */
#include <stddef.h>

void *expand_to_usable(void *p, size_t size);
void *expand_to_usable(void *p, size_t size) {
  (void)size;
  return p;
}
