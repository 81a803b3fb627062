/* zalloc - when a report is made, and in what order (the controller of report_model.h).
 *
 * Every way a process image ends writes one final report: exit (or a return from main), after
 * the program's atexit handlers and every destructor; _exit and _Exit; a fatal signal
 * (signals.h). ZALLOC_ABORT=1 ends it at the first heap error instead. On demand
 * (ZALLOC_REPORT_SIGNAL) a running process writes a report of what is live and every finding
 * so far, as often as asked. A vfork child (it shares its parent's memory) writes none.
 *
 * Each report goes to ZALLOC_LOG as text or JSON (ZALLOC_FORMAT); a final one also goes, as
 * JSON, to the tree summary's directory when the wrapper set one (tree.h). */
#ifndef ZA_REPORT_H
#define ZA_REPORT_H
#include "findings.h"

#include <signal.h>

/* Once, from the preload constructor, outside malloc: remember the command line, read the
 * suppression files (a bad one stops the process with status 2, as every bad setting does),
 * install the signal handlers and announce the process to the tree summary. */
void za_report_start(int argc, char **argv);

/* The program exits with `status` (exit, or a return from main), after every destructor. The
 * report is written, and with ZALLOC_EXITCODE the process may end here with that status. */
void za_report_exit(int status);
/* _exit(status) or _Exit(status): the report, then the end of the process. */
_Noreturn void za_report__exit(int status);
/* ZALLOC_ABORT=1: the first error, then abort(). */
_Noreturn void za_report_first_error(const za_finding_t *f);
/* A fatal signal, from its handler (signals.c): the crash report. Async-signal-safe. */
void za_report_signal(int signo, const siginfo_t *info, const void *ucontext);
/* An on-demand report (the reporter thread, signals.c); `sequence` counts from 1. */
void za_report_on_demand(int signo, unsigned sequence);

/* Where this process image's final report stands, and the thread writing it (signals.c). */
typedef enum za_final { ZA_FINAL_NONE, ZA_FINAL_WRITING, ZA_FINAL_DONE } za_final_t;
za_final_t za_report_final(int *tid);

/* A dlopen(file, RTLD_DEEPBIND) had the flag dropped (preload.c): the report says so. */
void za_report_note_deepbind(const char *file);
/* One line "==PID== zalloc: ..." to ZALLOC_LOG (signals.c's notes). Async-signal-safe. */
void za_report_line(const char *text);
#endif
