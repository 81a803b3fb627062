/* Output for the pitfall programs: formatted into a stack buffer and written with write(2),
 * so printing allocates nothing and cannot disturb the figures a test checks. */
#ifndef PIT_SAY_H
#define PIT_SAY_H
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((format(printf, 1, 2), unused)) static void say(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 1) n = (int)sizeof buf - 1;
  for (int off = 0; n > 0 && off < n;) {
    ssize_t w = write(1, buf + off, (size_t)(n - off));
    if (w <= 0) break;
    off += (int)w;
  }
}

/* Hide a pointer's origin from the compiler (deliberate misuse must not be optimised or
 * warned about). */
__attribute__((unused)) static void *launder(void *p) {
  void *volatile v = p;
  return v;
}
#endif
