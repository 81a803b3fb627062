/* Helper for test_untrusted.c and test_limits.c: a program linked directly against
 * libzalloc.so (not preloaded: in a setuid or capability-raised process the loader ignores
 * LD_PRELOAD outside the system's directories, but honours the absolute RUNPATH).
 *   ut_prog leak                 "main ran", one 40-byte block leaked by ut_leak_site, exit 0
 *   ut_prog seccomp              the same under a seccomp filter installed first thing in
 *                                main, before any malloc: only the calls this program needs
 *                                are allowed, every other fails with EPERM (no open, openat,
 *                                readlink, stat...)
 *   ut_prog seccomp-crash        the same filter, then a write through a null pointer: the crash
 *                                report cannot reset the handler or re-send the signal
 *   ut_prog threads N            N threads created and joined, 8 at a time, each allocating
 *                                and freeing; prints "at K rss KIB arena BYTES" after each
 *                                tenth K of the N
 *   ut_prog dlopen N LIB         N dlopen/dlclose cycles of LIB (ut_lib.so: allocates, frees);
 *                                same figures after N/10 and N
 *   ut_prog stacks N             N mallocs and frees, each from a distinct call stack (a path
 *                                through 16 functions x 6 levels); same figures
 * The figures: VmRSS from /proc/self/status and mallinfo2().arena (what zalloc has mapped for
 * blocks); the tests compare the figures at 5 and at 10 tenths. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void say(const char *s) {
  if (write(1, s, strlen(s)) < 0) _exit(99);
}

static void *volatile sink;

__attribute__((noinline)) static void ut_leak_site(void) {
  char *p = malloc(40);
  if (!p) _exit(98);
  memcpy(p, "leaked", 7);
  sink = p;
  sink = NULL;
}

/* Allow `nrs`, EPERM for every other call (and kill a process of another architecture). */
static void seccomp_only(const int *nrs, size_t n) {
  struct sock_filter f[128];
  size_t k = 0;
  f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (size_t i = 0; i < n; i++) {
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i], 0, 1);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  }
  f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
  struct sock_fprog prog = {.len = (unsigned short)k, .filter = f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    say("cannot install the seccomp filter\n");
    _exit(97);
  }
}

static long rss_kib(void) {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  char *p = strstr(buf, "VmRSS:");
  return p ? strtol(p + 6, NULL, 10) : -1;
}

/* After step `i` of `n`, at every tenth: "at TENTH rss KIB arena BYTES". */
static void figures(long i, long n) {
  if (n < 10 || i % (n / 10) != 0) return;
  struct mallinfo2 mi = mallinfo2();
  char line[160];
  snprintf(line, sizeof line, "at %ld rss %ld arena %zu\n", i / (n / 10), rss_kib(), mi.arena);
  say(line);
}

static void *thread_body(void *arg) {
  (void)arg;
  void *p[4];
  for (int i = 0; i < 4; i++) p[i] = malloc(24 + 100 * (size_t)i);
  for (int i = 0; i < 4; i++) free(p[i]);
  return NULL;
}

static void run_threads(long n) {
  for (long done = 0; done < n;) {
    pthread_t t[8];
    int k = 0;
    for (; k < 8 && done + k < n; k++)
      if (pthread_create(&t[k], NULL, thread_body, NULL) != 0) { say("pthread_create failed\n"); _exit(96); }
    for (int i = 0; i < k; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < k; i++) figures(++done, n);
  }
}

static void run_dlopen(long n, const char *lib) {
  for (long i = 1; i <= n; i++) {
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) { say(dlerror()); say("\n"); _exit(95); }
    void (*work)(void) = (void (*)(void))dlsym(h, "ut_lib_work");
    if (!work) _exit(94);
    work();
    dlclose(h);
    figures(i, n);
  }
}

/* 16 functions, 6 levels: call path `code` (6 hex digits, the innermost level the lowest)
 * gives a distinct stack of 13 frames, within the default ZALLOC_STACK_DEPTH of 16: 16^6 =
 * 16.7 million distinct stacks. walkK calls step from a return address of its own. */
#define LEVELS 6
typedef void walk_fn(unsigned code, int level);
static walk_fn *const walks[16];
__attribute__((noinline)) static void step(unsigned code, int level) {
  if (level == LEVELS) {
    void *p = malloc(16);
    sink = p;
    free(p);
    return;
  }
  walks[(code >> (4 * (LEVELS - 1 - level))) & 15](code, level + 1);
  __asm__ volatile("" ::: "memory");   /* not a tail call: the frame stays on the stack */
}
#define WALK(k) \
  __attribute__((noinline)) static void walk##k(unsigned code, int level) { \
    step(code, level); \
    __asm__ volatile("" ::: "memory"); \
  }
WALK(0) WALK(1) WALK(2) WALK(3) WALK(4) WALK(5) WALK(6) WALK(7)
WALK(8) WALK(9) WALK(10) WALK(11) WALK(12) WALK(13) WALK(14) WALK(15)
static walk_fn *const walks[16] = {walk0, walk1, walk2,  walk3,  walk4,  walk5,  walk6,  walk7,
                                   walk8, walk9, walk10, walk11, walk12, walk13, walk14, walk15};

static void run_stacks(long n) {
  for (long i = 1; i <= n; i++) {
    step((unsigned)i, 0);
    figures(i, n);
  }
}

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "leak";
  if (strcmp(what, "seccomp") == 0 || strcmp(what, "seccomp-crash") == 0) {
    static const int allowed[] = {SYS_read, SYS_write, SYS_exit_group, SYS_exit, SYS_brk, SYS_mmap,
                                  SYS_munmap, SYS_mremap, SYS_madvise, SYS_mprotect, SYS_futex,
                                  SYS_rt_sigprocmask, SYS_rt_sigreturn};
    seccomp_only(allowed, sizeof allowed / sizeof allowed[0]);
    if (open("/proc/self/maps", O_RDONLY) >= 0 || errno != EPERM) { say("open was allowed\n"); return 93; }
  }
  say("main ran\n");
  if (strcmp(what, "seccomp-crash") == 0) {
    ut_leak_site();
    *(volatile int *)sink = 1;
  }
  if (argc > 2 && strcmp(what, "threads") == 0) run_threads(atol(argv[2]));
  else if (argc > 3 && strcmp(what, "dlopen") == 0) run_dlopen(atol(argv[2]), argv[3]);
  else if (argc > 2 && strcmp(what, "stacks") == 0) run_stacks(atol(argv[2]));
  else ut_leak_site();
  return 0;
}
