/* zalloc - the system calls the report's ends need beyond prim.h: signal handling, waiting
 * between threads, reading memory that may go away, and mappings made where no lock may be
 * taken (a signal handler). Every function here is async-signal-safe: a system call and a few
 * instructions, no lock, no malloc, errno left as it was. Implemented in prim/signal.c. */
#ifndef ZA_PRIM_SIGNAL_H
#define ZA_PRIM_SIGNAL_H
#include "common.h"

#include <signal.h>

/* Anonymous read-write memory that the mapping registry does not record (the registry has a
 * lock; a crash may have interrupted its holder). NULL on failure. */
void *za_sig_map(size_t size);
void  za_sig_unmap(void *p, size_t size);

typedef void (*za_sig_handler_t)(int signo, siginfo_t *info, void *ucontext);
/* Install `fn` for `signo` (SA_SIGINFO | SA_ONSTACK | SA_RESTART, plus SA_NODEFER when
 * `nodefer`) only if the signal's action is the default one now; true if installed. */
bool  za_sig_install_if_default(int signo, za_sig_handler_t fn, bool nodefer);
/* Install `fn` whatever the action was (the report signal: the user asked for it). */
bool  za_sig_install(int signo, za_sig_handler_t fn);
/* Whether `fn` is the handler installed for `signo` now. */
bool  za_sig_is_ours(int signo, za_sig_handler_t fn);
/* False if the action could not be changed (a seccomp filter denying rt_sigaction). */
bool  za_sig_set_default(int signo);
/* Give the calling thread an alternate signal stack of `size` bytes (for a stack overflow's
 * SIGSEGV), unless it has one. */
void  za_sig_altstack(size_t size);
/* Bytes of stack left below the caller's frame when it runs on an alternate signal stack
 * (zalloc's, or a smaller one the program or a sanitizer runtime set up); SIZE_MAX when it runs
 * on a thread's own stack. */
size_t za_sig_altstack_room(void);
/* Deliver `signo` to the calling thread, and let it through the signal mask; false if it could
 * not be sent (a seccomp filter denying tgkill). */
bool  za_sig_raise_unblocked(int signo);
/* Block every signal in the calling thread; the old mask in *old (restore with
 * za_sig_restore_mask). */
void  za_sig_block_all(sigset_t *old);
void  za_sig_restore_mask(const sigset_t *old);

/* Whether the page holding `addr` is mapped now (mincore). */
bool  za_sig_page_mapped(uintptr_t addr);

/* Sleep until *word != expected (or a spurious wake-up, or a signal); wake every waiter. */
void  za_sig_futex_wait(_Atomic uint32_t *word, uint32_t expected);
void  za_sig_futex_wake(_Atomic uint32_t *word);
void  za_sig_sleep_ms(unsigned ms);

/* Copy `n` bytes from `addr` in this process into `buf` without faulting when the memory has
 * gone (another thread unmapped it): the bytes copied, or -1 (the call is not allowed: the
 * caller must not read such memory directly). */
long  za_sig_read_self(void *buf, uintptr_t addr, size_t n);

/* The executable's path (readlink of /proc/self/exe) into buf, NUL-terminated; false if none. */
bool  za_sig_exe_path(char *buf, size_t cap);
int   za_sig_getppid(void);
/* End the process now with `status` (exit_group): not through _exit, which zalloc exports. */
_Noreturn void za_sig_exit(int status);
#endif
