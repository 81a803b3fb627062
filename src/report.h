/* zalloc - the exit report, one mechanism for every backend: who ran (program, pid, mode),
 * what it did (calls, blocks, bytes, peak), what it left (blocks still live at exit) and every
 * heap error recorded during the run. Written once per process from the library destructor,
 * after the program's own atexit handlers and destructors, to ZALLOC_LOG. */
#ifndef ZA_REPORT_H
#define ZA_REPORT_H
#include "findings.h"

void za_report_exit(void);
/* A dlopen(file, RTLD_DEEPBIND) had the flag dropped (preload.c): the report says so. */
void za_report_note_deepbind(const char *file);
/* ZALLOC_ABORT=1: print the finding (and where the report would go) and abort. */
_Noreturn void za_report_abort(const za_finding_t *f);
#endif
