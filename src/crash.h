/* zalloc - what a crash report says about the crash: the collector for a fatal signal.
 *
 * From the handler's siginfo and ucontext: the signal, its code, the faulting address, who
 * sent it (kill, raise, abort), the interrupted thread's stack (walked from the ucontext), the
 * heap block the address is in or near (the backend's locate(), which takes no lock), and any
 * register holding one of zalloc's fill patterns (a pointer read from a freed block or a guard
 * faults at a non-canonical address, where the kernel gives no address).
 *
 * What a handler can afford (the decision, documented in docs/usage.md): the signal may have
 * interrupted zalloc holding one of its locks, the dynamic loader holding its lock, or the
 * report itself. Collecting never takes a lock without a bounded try and never allocates; the
 * one expensive step, naming frames with libdw (which loads libraries and allocates), is taken
 * only when no frame of the crashed stack is inside zalloc or the dynamic loader - then no
 * lock this thread holds can be one libdw or zalloc's malloc needs - and a fault while naming
 * falls back to symbol tables (signals.h). */
#ifndef ZA_CRASH_H
#define ZA_CRASH_H
#include "report_model.h"

#include <signal.h>

/* Fill r->crash. Returns NULL when frames may be named in full, else why not (a phrase for
 * the report). Async-signal-safe. */
const char *za_crash_collect(za_report_t *r, int signo, const siginfo_t *info, const void *ucontext);
#endif
