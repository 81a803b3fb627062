/* zalloc - formatted output without stdio or malloc. Reports and error lines are built in a
 * fixed buffer and written with write(2); a buffer with fd < 0 only collects (and truncates). */
#ifndef ZA_OUT_H
#define ZA_OUT_H
#include "common.h"
#include <stdarg.h>

typedef struct za_out {
  int fd;          /* where flushes go; < 0: no flushing, excess is dropped */
  size_t len;
  size_t cap;
  char *buf;
  int err;         /* the errno of the first failed write (0: none); later output is dropped */
} za_out_t;

void za_out_init(za_out_t *o, int fd, char *buf, size_t cap);
void za_out_flush(za_out_t *o);
/* printf subset: %s %c %d %i %u %x %p %% with l, ll, z modifiers and an optional width (and
 * '-' for left alignment). Extras: %B prints a byte count as "1.5 MiB" (size_t argument),
 * %N prints an unsigned with thousands separators (size_t argument). */
void za_out_printf(za_out_t *o, const char *fmt, ...);
void za_out_vprintf(za_out_t *o, const char *fmt, va_list ap);
void za_out_str(za_out_t *o, const char *s);
/* A user's string as a one-line error message shows it: control characters as \xNN, and cut
 * with "..." if it does not fit in `cap` bytes (NUL included). Returns `buf`. */
const char *za_shown(const char *s, char *buf, size_t cap);
/* Format into a NUL-terminated buffer (truncating); returns the length written. */
size_t za_snprintf(char *buf, size_t cap, const char *fmt, ...);
#endif
