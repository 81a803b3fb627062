/* Helper for test_report.c: one small program, one scenario per first argument, each with
 * known heap behaviour. It prints what the test needs to predict the report exactly
 * ("key=value" lines: pointers, thread ids, pids) and "done" when it gets to its end.
 *
 * Output goes through write(2), never stdio: stdio's buffer would be a block of its own and
 * spoil exact leak figures. Pointers pass through launder() so the compiler neither warns
 * about nor optimises away the deliberate misuse. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  for (int off = 0; n > 0 && off < n;) {
    ssize_t w = write(1, buf + off, (size_t)(n - off));
    if (w <= 0) break;
    off += (int)w;
  }
}

static void *launder(void *p) {
  void *volatile v = p;
  return v;
}

static const char *errno_name(int e) { return e == ENOMEM ? "ENOMEM" : e == 0 ? "0" : "other"; }

static char static_buf[64];

/* 3 blocks (one of them large) still allocated at exit, one freed. */
static int leaks(void) {
  void *a = malloc(1000), *b = malloc(2000), *c = malloc(300000), *d = malloc(500);
  say("a=%p b=%p c=%p\n", a, b, c);
  free(d);
  say("done\n");
  return 0;
}

/* Every kind of allocation, all freed. */
static int free_all(void) {
  void *p[8];
  p[0] = malloc(10);
  p[1] = calloc(10, 30);
  p[2] = realloc(NULL, 40);
  p[2] = realloc(p[2], 4000);
  p[3] = aligned_alloc(256, 512);
  if (posix_memalign(&p[4], 64, 100) != 0) return 1;
  p[5] = malloc(400000);
  p[5] = realloc(p[5], 800000);
  p[6] = memalign(4096, 10);
  p[7] = malloc(0);
  for (int i = 7; i >= 0; i--) free(p[i]);
  free(NULL);
  say("done\n");
  return 0;
}

static int double_free(void) {
  void *small = malloc(100);
  free(small);
  free(launder(small));
  void *large = malloc(300 * 1024);
  free(large);
  free(launder(large));
  say("small=%p\nlarge=%p\ntid=%d\n", small, large, gettid());
  say("done\n");
  return 0;
}

static int invalid_free(void) {
  char stack_buf[64];
  memset(stack_buf, 1, sizeof stack_buf);
  char *mapped = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) return 1;
  char *p = malloc(64);
  memset(p, 'p', 64);
  char *interior = p + 16, *misaligned = p + 3;
  free(launder(stack_buf));
  free(launder(static_buf));
  free(launder(mapped));
  free(launder(interior));
  free(launder(misaligned));
  say("stack=%p\nstatic=%p\nmapped=%p\ninterior=%p\nmisaligned=%p\ntid=%d\n", (void *)stack_buf,
      (void *)static_buf, (void *)mapped, (void *)interior, (void *)misaligned, gettid());
  /* Nothing was harmed: the memory is still usable and the block can still be freed. */
  mapped[4095] = 'm';
  int intact = mapped[4095] == 'm' && stack_buf[63] == 1 && p[0] == 'p' && p[63] == 'p';
  say("intact=%s\n", intact ? "yes" : "no");
  free(p);
  munmap(mapped, 4096);
  say("done\n");
  return 0;
}

static int bad_realloc(void) {
  char *freed = malloc(40);
  void *guard = malloc(16); /* keeps `freed` from being the newest block (whose space is reused) */
  free(freed);
  errno = 0;
  void *r1 = realloc(launder(freed), 80);
  int e1 = errno;

  void *big = malloc(300000);
  free(big);
  errno = 0;
  void *r2 = realloc(launder(big), 400000);
  int e2 = errno;

  strcpy(static_buf, "original content");
  errno = 0;
  void *r3 = realloc(launder(static_buf), 80);
  int e3 = errno;

  say("freed=%p\nbig=%p\nstatic=%p\ntid=%d\n", (void *)freed, big, (void *)static_buf, gettid());
  say("r1=%s %s\nr2=%s %s\nr3=%s %s\n", r1 ? "ptr" : "NULL", errno_name(e1), r2 ? "ptr" : "NULL",
      errno_name(e2), r3 ? "ptr" : "NULL", errno_name(e3));
  say("static_intact=%s\n", strcmp(static_buf, "original content") == 0 ? "yes" : "no");
  free(guard);
  say("done\n");
  return 0;
}

static int usable_size(void) {
  char *freed = malloc(72);
  void *guard = malloc(16);
  free(freed);
  size_t u1 = malloc_usable_size(launder(static_buf));
  size_t u2 = malloc_usable_size(launder(freed));
  size_t u3 = malloc_usable_size(NULL);
  size_t u4 = malloc_usable_size(guard);
  say("static=%p\nfreed=%p\ntid=%d\n", (void *)static_buf, (void *)freed, gettid());
  say("u1=%zu\nu2=%zu\nu3=%zu\nguard_ok=%s\n", u1, u2, u3, u4 >= 16 ? "yes" : "no");
  free(guard);
  say("done\n");
  return 0;
}

static void *second_thread(void *p) {
  say("thread_tid=%d\n", gettid());
  free(p);
  return NULL;
}

static int thread_double_free(void) {
  void *p = malloc(48);
  void *guard = malloc(16);
  free(p);
  pthread_t th;
  if (pthread_create(&th, NULL, second_thread, launder(p)) != 0) return 1;
  pthread_join(th, NULL);
  say("p=%p\nmain_tid=%d\n", p, gettid());
  free(guard);
  say("done\n");
  return 0;
}

static int repeated_double_free(void) {
  void *p = malloc(24);
  void *guard = malloc(16);
  free(p);
  for (int i = 0; i < 5; i++) free(launder(p));
  say("p=%p\ntid=%d\n", p, gettid());
  free(guard);
  say("done\n");
  return 0;
}

static int abort_at_double_free(void) {
  say("before\n");
  void *p = malloc(32);
  void *guard = malloc(16);
  say("p=%p\ntid=%d\n", p, gettid());
  free(p);
  free(launder(p));
  say("after\n");
  free(launder(static_buf));
  free(guard);
  say("done\n");
  return 0;
}

static int forked(void) {
  void *a = malloc(1000), *b = malloc(2000), *c = malloc(3000);
  say("parent=%d\n", getpid());
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    void *x = malloc(111), *y = malloc(222);
    free(a); /* inherited: was allocated before the fork, so not the child's to count */
    say("child=%d\nchild_blocks=%p %p\n", getpid(), x, y);
    exit(0);
  }
  int st;
  if (waitpid(pid, &st, 0) != pid) return 1;
  say("child_status=%d\nparent_blocks=%p %p %p\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1, a, b, c);
  say("done\n");
  return 0;
}

/* The parent exits at once; the child reports after it is gone. Both run on one CPU, so the
 * parent usually exits before the child has run at all. */
static int orphaned_child(void) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  sched_setaffinity(0, sizeof one, &one); /* best effort */
  pid_t parent = getpid();
  say("parent=%d\n", parent);
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    for (int i = 0; i < 500 && getppid() == parent; i++) usleep(10000);
    void *x = malloc(10), *y = malloc(20);
    (void)launder(x);
    (void)launder(y);
    exit(0);
  }
  say("child=%d\ndone\n", pid);
  _exit(0);
}

static int exec_other(const char *target) {
  void *a = malloc(5000), *b = malloc(6000);
  (void)launder(a);
  (void)launder(b);
  say("pid=%d\n", getpid());
  execl(target, target, "via-exec", (char *)NULL);
  say("exec failed: %s\n", strerror(errno));
  return 1;
}

static void *for_atexit, *for_destructor;
static void at_exit_handler(void) {
  free(for_atexit);
  say("atexit ran\n");
}
__attribute__((destructor)) static void program_destructor(void) {
  if (!for_destructor) return;
  free(for_destructor);
  say("destructor ran\n");
}

static int frees_at_exit(void) {
  for_atexit = malloc(500);
  for_destructor = malloc(700);
  if (atexit(at_exit_handler) != 0) return 1;
  say("done\n");
  return 0;
}

/* More distinct errors than the report lists (256): 300 addresses, and the first one twice. */
static int many_errors(void) {
  static _Alignas(16) char area[300 * 16];
  /* The 301st free repeats the first from the same call site: the same error (in gpa mode a
   * finding is also told apart by where it was made). */
  for (int i = 0; i <= 300; i++) free(launder(area + 16 * (i % 300)));
  say("first=%p\ntid=%d\n", (void *)area, gettid());
  say("done\n");
  return 0;
}

/* Requests no allocator can satisfy, as a garbage or negative size produces them: each is
 * refused as glibc refuses it and the program carries on. */
static int impossible(void) {
  volatile size_t minus_one = (size_t)-1, half = SIZE_MAX / 2;
  errno = 0;
  void *a = malloc(minus_one);
  int e1 = errno;
  void *b = calloc(half, 3);
  int e2 = errno;
  void *keep = malloc(10);
  void *c = realloc(keep, minus_one); /* keep stays valid */
  int e3 = errno;
  void *d = NULL;
  int r = posix_memalign(&d, 24, 100);
  errno = 0;
  void *f = aligned_alloc(48, 64);
  int e4 = errno;
  say("null=%d %d %d %d %d\n", a == NULL, b == NULL, c == NULL, d == NULL, f == NULL);
  say("errno=%s %s %s %s posix_memalign=%s\n", errno_name(e1), errno_name(e2), errno_name(e3),
      e4 == EINVAL ? "EINVAL" : "other", r == EINVAL ? "EINVAL" : "other");
  say("keep=%p\ntid=%d\n", keep, gettid());
  free(keep);
  say("done\n");
  return 0;
}

int main(int argc, char **argv) {
  const char *s = argc > 1 ? argv[1] : "";
  if (!strcmp(s, "leaks")) return leaks();
  if (!strcmp(s, "free-all")) return free_all();
  if (!strcmp(s, "double-free")) return double_free();
  if (!strcmp(s, "invalid-free")) return invalid_free();
  if (!strcmp(s, "bad-realloc")) return bad_realloc();
  if (!strcmp(s, "usable-size")) return usable_size();
  if (!strcmp(s, "thread-double-free")) return thread_double_free();
  if (!strcmp(s, "repeated-double-free")) return repeated_double_free();
  if (!strcmp(s, "abort")) return abort_at_double_free();
  if (!strcmp(s, "fork")) return forked();
  if (!strcmp(s, "exec") && argc > 2) return exec_other(argv[2]);
  if (!strcmp(s, "atexit")) return frees_at_exit();
  if (!strcmp(s, "many-errors")) return many_errors();
  if (!strcmp(s, "orphan")) return orphaned_child();
  if (!strcmp(s, "impossible")) return impossible();
  say("unknown scenario '%s'\n", s);
  return 64;
}
