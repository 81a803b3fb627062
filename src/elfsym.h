/* zalloc - naming code addresses without a lock or malloc: the signal-safe symbol resolver.
 *
 * The module comes from glibc's _dl_find_object (lock-free, async-signal-safe since 2.35);
 * the function from the module's own symbol table (.symtab where the file has one, else the
 * exported .dynsym), read from its file with open, fstat and mmap - no libdw, no loader lock,
 * no allocation. It gives what dladdr would and more (static functions of unstripped
 * programs), never file:line. Used by crash reports that cannot afford libdw (crash.h) and by
 * every report where libdw is missing. */
#ifndef ZA_ELFSYM_H
#define ZA_ELFSYM_H
#include "common.h"

typedef struct za_elfsym {
  const char *module;          /* the module's path (the executable's real path for the main
                                * program); NULL: no module holds the address */
  uintptr_t module_base;       /* its load address (the link map's l_addr) */
  const char *function;        /* NULL: no symbol covers the address */
  uintptr_t function_start;    /* the symbol's address */
} za_elfsym_t;

/* Name `addr` (an instruction address). False when no module holds it. Strings stay valid for
 * the life of the process. Safe in a signal handler; callers must not run it twice at once
 * (crash.c and symbolize.c take turns through za_elfsym_try_begin / _end). */
bool za_elfsym_lookup(uintptr_t addr, za_elfsym_t *out);
bool za_elfsym_try_begin(void);
void za_elfsym_end(void);
#endif
