/* zalloc - naming the frames of a report's stacks (step 2 of report_model.h).
 *
 * Full resolution uses elfutils' libdwfl (libdw.so.1, dlopen'ed with RTLD_LOCAL on the first
 * report that has a stack to show, so a process that never shows one never loads it): the
 * module and the offset in it, the function (ELF symbol table or debug information), file and
 * line where the module has debug information (in the file, or by build id under
 * /usr/lib/debug), calls inlined at the address expanded into frames of their own (DWARF's
 * inlined-subroutine scopes), and C++ names demangled by the program's own __cxa_demangle
 * when it has one (zalloc does not depend on libstdc++). libdw and the loader allocate with
 * malloc: resolution runs with zalloc's internal flag set, so those blocks are zalloc's.
 *
 * Signal-safe resolution (a crash that cannot afford libdw, or no libdw at all) names the
 * module, the offset and the function from the module's symbol table only (elfsym.h). */
#ifndef ZA_SYMBOLIZE_H
#define ZA_SYMBOLIZE_H
#include "report_model.h"

/* Fill frames/nframes of every stack of `r` (and r->nodebug). `full`: libdw where available;
 * false: the signal-safe resolver only. Returns whether libdw was used. */
bool za_symbolize_report(za_report_t *r, bool full);
/* The last report is written: drop per-report state (the libdw session stays; see .c). */
void za_symbolize_done(void);
#endif
