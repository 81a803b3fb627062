/* zalloc - signal, waiting and self-reading primitives for Linux (see prim_signal.h). */
#include "../prim_signal.h"
#include "../prim.h"

#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

void *za_sig_map(size_t size) {
  int saved = errno;
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  errno = saved;
  return p == MAP_FAILED ? NULL : p;
}

void za_sig_unmap(void *p, size_t size) {
  int saved = errno;
  munmap(p, size);
  errno = saved;
}

static bool set_action(int signo, za_sig_handler_t fn, bool nodefer) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = fn;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART | (nodefer ? SA_NODEFER : 0);
  sigemptyset(&sa.sa_mask);
  return sigaction(signo, &sa, NULL) == 0;
}

bool za_sig_install_if_default(int signo, za_sig_handler_t fn, bool nodefer) {
  int saved = errno;
  struct sigaction old;
  bool ok = sigaction(signo, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
            old.sa_handler == SIG_DFL && set_action(signo, fn, nodefer);
  errno = saved;
  return ok;
}

bool za_sig_install(int signo, za_sig_handler_t fn) {
  int saved = errno;
  bool ok = set_action(signo, fn, false);
  errno = saved;
  return ok;
}

bool za_sig_is_ours(int signo, za_sig_handler_t fn) {
  int saved = errno;
  struct sigaction now;
  bool ours = sigaction(signo, NULL, &now) == 0 && (now.sa_flags & SA_SIGINFO) &&
              now.sa_sigaction == fn;
  errno = saved;
  return ours;
}

bool za_sig_set_default(int signo) {
  int saved = errno;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  bool ok = sigaction(signo, &sa, NULL) == 0;
  errno = saved;
  return ok;
}

void za_sig_altstack(size_t size) {
  int saved = errno;
  stack_t old;
  if (sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
    /* Untouched pages cost nothing: only a stack overflow's handler ever writes them. */
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p != MAP_FAILED) {
      stack_t ss = {.ss_sp = p, .ss_size = size, .ss_flags = 0};
      if (sigaltstack(&ss, NULL) != 0) munmap(p, size);
    }
  }
  errno = saved;
}

size_t za_sig_altstack_room(void) {
  int saved = errno;
  stack_t cur;
  size_t room = SIZE_MAX;
  if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_ONSTACK)) {
    uintptr_t here = (uintptr_t)__builtin_frame_address(0), base = (uintptr_t)cur.ss_sp;
    room = here > base ? here - base : 0;
  }
  errno = saved;
  return room;
}

bool za_sig_raise_unblocked(int signo) {
  int saved = errno;
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signo);
  bool ok = syscall(SYS_tgkill, za_os_getpid(), za_os_gettid(), signo) == 0;
  syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &one, NULL, _NSIG / 8);
  errno = saved;
  return ok;
}

void za_sig_block_all(sigset_t *old) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, old);
}

void za_sig_restore_mask(const sigset_t *old) { pthread_sigmask(SIG_SETMASK, old, NULL); }

bool za_sig_page_mapped(uintptr_t addr) {
  int saved = errno;
  unsigned char vec;
  bool mapped = mincore((void *)(addr & ~(uintptr_t)4095), 4096, &vec) == 0 || errno != ENOMEM;
  errno = saved;
  return mapped;
}

void za_sig_futex_wait(_Atomic uint32_t *word, uint32_t expected) {
  int saved = errno;
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
  errno = saved;
}

void za_sig_futex_wake(_Atomic uint32_t *word) {
  int saved = errno;
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
  errno = saved;
}

void za_sig_sleep_ms(unsigned ms) {
  int saved = errno;
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  errno = saved;
}

long za_sig_read_self(void *buf, uintptr_t addr, size_t n) {
  int saved = errno;
  struct iovec local = {.iov_base = buf, .iov_len = n};
  struct iovec remote = {.iov_base = (void *)addr, .iov_len = n};
  long got = syscall(SYS_process_vm_readv, za_os_getpid(), &local, 1, &remote, 1, 0);
  if (got < 0) got = errno == EFAULT || errno == ESRCH ? 0 : -1;
  errno = saved;
  return got;
}

bool za_sig_exe_path(char *buf, size_t cap) {
  int saved = errno;
  ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
  errno = saved;
  if (n <= 0) return false;
  buf[n] = '\0';
  return true;
}

int za_sig_getppid(void) { return (int)syscall(SYS_getppid); }

_Noreturn void za_sig_exit(int status) {
  for (;;) syscall(SYS_exit_group, status);
}
