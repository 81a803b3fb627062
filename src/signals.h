/* zalloc - the signals zalloc handles.
 *
 * Fatal signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT; ZALLOC_CRASH_REPORT=1): a handler,
 * installed at start-up only where the action is the default one (a program's own handler,
 * installed before or after, stays the program's), writes the crash report and then lets the
 * default action go on: the handler resets the action to the default and returns, so a fault
 * happens again and kills the process as it would have without zalloc (same status, same core
 * dump), and a signal that was sent (kill, raise, abort) is sent again. The main thread gets an
 * alternate signal stack, so a stack overflow is reported too.
 *
 * Who reports: one crash report per process. A second thread that crashes meanwhile waits for
 * the first to end the process. A fault while the final report (exit, _exit) is being written
 * is noted in one line and the default action follows at once (the report is cut short, but
 * nothing waits on the faulting thread). A fault inside the crash report's own naming of
 * frames (libdw) goes back to the handler, which names them from symbol tables instead
 * (za_signals_guarded); any other fault inside the crash report ends the process by the first
 * signal.
 *
 * On demand (ZALLOC_REPORT_SIGNAL): the handler does nothing but wake a thread of zalloc's
 * (one per process, its signals blocked), which writes the report while the program goes on.
 * A forked child gets a thread of its own. */
#ifndef ZA_SIGNALS_H
#define ZA_SIGNALS_H
#include "common.h"

/* From za_report_start (the preload constructor, the main thread). */
void za_signals_start(void);
/* In a forked child (atfork): a reporter thread of its own. */
void za_signals_fork_child(void);
/* In a fatal signal's handler: run fn(ctx); false if a fatal signal on this thread
 * interrupted it (the handler came back here). */
bool za_signals_guarded(void (*fn)(void *ctx), void *ctx);
#endif
