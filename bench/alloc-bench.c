/* alloc-bench - classic malloc patterns, for comparing allocators under LD_PRELOAD.
 *
 *   alloc-bench TEST [SCALE [THREADS]]
 *
 * TEST is one of:
 *   lifo      many small blocks (16..256 bytes) allocated, then freed newest first
 *   fifo      the same, freed oldest first
 *   random    a working set of 20,000 blocks of 8..1024 bytes; each step frees a random one
 *             and allocates a replacement of a random size
 *   realloc   a buffer grown by 16..80 bytes at a time up to 1 MiB, then freed, repeatedly
 *   realloc2  two buffers grown in turn the same way (neither is always the newest block),
 *             fewer times
 *   big       blocks of 256 KiB..1 MiB, a quarter of each written, freed one at a time (a
 *             program reusing large buffers)
 *   prodcons  one thread allocates 16..256-byte messages and passes them through a ring to a
 *             second thread, which reads and frees them (every free is a cross-thread free);
 *             THREADS (default 1) such producer/consumer pairs, each with its own ring, so
 *             2 x THREADS threads (THREADS 1 is exactly the single pair it always was)
 *   churn     THREADS threads (default 1), each with its own working set of 1,000 blocks of
 *             16..512 bytes, each step freeing a random block and allocating a replacement
 *   churn-random  one thread, a working set of 10,000 blocks of 16 B..4 KiB (sizes uniform at
 *             random); each step frees a random one, so blocks die in no particular order, and
 *             allocates a replacement of a random size. Unlike `random` (8..1024 bytes, 20,000
 *             blocks) its sizes reach past the small classes most allocators keep per thread
 *   fork      THREADS threads (default 8) allocate and free continuously (sizes like a real
 *             program's: mostly 16..256 bytes, some up to 64 KiB, a few of 64 KiB..1 MiB) while
 *             the main thread forks (100 times at SCALE 1); each child allocates, checks and
 *             frees a few hundred blocks and leaves with _exit, the parent waits for it and
 *             checks its exit status. An operation is one fork round (fork + child + waitpid);
 *             the line also gives fork_round_us, the mean time of a round
 *   deep      binary trees of 16 levels (65,535 nodes of 32..256 bytes) built and freed by
 *             recursion, so malloc and free run up to 16 recursive calls deep (31 of 32 nodes
 *             at 12 or more): for checkers that record a call stack at each (the other tests
 *             call malloc from 1 or 2 frames below main, which an unwinder walks at once)
 *
 * SCALE (default 1.0) multiplies the amount of work. Every block is written when allocated and
 * read before it is freed, as a program would. One line goes to stdout: the operations done
 * (an operation is one malloc/free pair, or one realloc call), operations per second, and the
 * process's peak resident set size and CPU time (user + system, all threads) from getrusage.
 * The exit status is 1 if a check fails (a block's contents changed under it, or a forked child
 * failed), so a broken allocator does not pass as a fast one. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double scale = 1.0;
static _Atomic int failed;

/* ---- helpers ----------------------------------------------------------------------------- */

static inline uint64_t rng_next(uint64_t *s) { /* xorshift64* */
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545f4914f6cdd1dull;
}
static inline size_t rng_range(uint64_t *s, size_t lo, size_t hi) { /* [lo, hi] */
  return lo + (size_t)(rng_next(s) % (hi - lo + 1));
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    fprintf(stderr, "alloc-bench: malloc(%zu) failed\n", n);
    exit(2);
  }
  return p;
}

/* Write the first word and the last byte of a block (values derived from `tag`); check them
 * back before the block is freed. Blocks are at least 8 bytes. */
static inline void fill(void *p, size_t n, uint64_t tag) {
  memcpy(p, &tag, 8);
  if (n > 8) ((unsigned char *)p)[n - 1] = (unsigned char)(tag * 7 + 1);
}
static inline void check(const void *p, size_t n, uint64_t tag) {
  uint64_t a;
  memcpy(&a, p, 8);
  if (a != tag || (n > 8 && ((const unsigned char *)p)[n - 1] != (unsigned char)(tag * 7 + 1)))
    atomic_store(&failed, 1);
}

static long iters(double base) {
  long n = (long)(base * scale);
  return n > 0 ? n : 1;
}

/* ---- single-threaded patterns ------------------------------------------------------------ */

#define BATCH 50000

static long order_test(int lifo) {
  void **p = xmalloc(BATCH * sizeof *p);
  size_t *sz = xmalloc(BATCH * sizeof *sz);
  uint64_t s = 0x9e3779b97f4a7c15ull;
  long rounds = iters(100), ops = 0;
  for (long r = 0; r < rounds; r++) {
    for (long i = 0; i < BATCH; i++) {
      sz[i] = rng_range(&s, 16, 256);
      p[i] = xmalloc(sz[i]);
      fill(p[i], sz[i], (uint64_t)i);
    }
    for (long k = 0; k < BATCH; k++) {
      long i = lifo ? BATCH - 1 - k : k;
      check(p[i], sz[i], (uint64_t)i);
      free(p[i]);
    }
    ops += BATCH;
  }
  free(sz);
  free(p);
  return ops;
}

/* A working set of w blocks of lo..hi bytes; each of n steps frees a random one and allocates a
 * replacement of a random size. */
static long random_set_test(long w, size_t lo, size_t hi, uint64_t s, long n) {
  void **p = xmalloc((size_t)w * sizeof *p);
  size_t *sz = xmalloc((size_t)w * sizeof *sz);
  for (long i = 0; i < w; i++) {
    sz[i] = rng_range(&s, lo, hi);
    p[i] = xmalloc(sz[i]);
    fill(p[i], sz[i], (uint64_t)i);
  }
  for (long k = 0; k < n; k++) {
    long i = (long)(rng_next(&s) % (uint64_t)w);
    check(p[i], sz[i], (uint64_t)i);
    free(p[i]);
    sz[i] = rng_range(&s, lo, hi);
    p[i] = xmalloc(sz[i]);
    fill(p[i], sz[i], (uint64_t)i);
  }
  for (long i = 0; i < w; i++) {
    check(p[i], sz[i], (uint64_t)i);
    free(p[i]);
  }
  free(sz);
  free(p);
  return n + w;
}

static long random_test(void) {
  return random_set_test(20000, 8, 1024, 0x243f6a8885a308d3ull, iters(5e6));
}

/* Sizes of 16 B..4 KiB and a working set of 10,000 blocks (about 20 MiB): blocks die in random
 * order, and a quarter of the sizes are past 3 KiB. */
static long churn_random_test(void) {
  return random_set_test(10000, 16, 4096, 0x3243f6a8885a308dull, iters(2e6));
}

static long realloc_test(int nbuf) {
  enum { LIMIT = 1 << 20 };
  uint64_t s = 0x13198a2e03707344ull;
  long rounds = iters(nbuf == 1 ? 300 : 16), ops = 0;
  for (long r = 0; r < rounds; r++) {
    char *b[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    while (len[nbuf - 1] < LIMIT) {
      for (int j = 0; j < nbuf; j++) {
        size_t grow = rng_range(&s, 16, 80);
        char *q = realloc(b[j], len[j] + grow);
        if (!q) {
          fprintf(stderr, "alloc-bench: realloc(%zu) failed\n", len[j] + grow);
          exit(2);
        }
        /* The contents so far must have moved with the block: check the last byte written. */
        if (len[j] && q[len[j] - 1] != (char)(len[j] - 1)) atomic_store(&failed, 1);
        for (size_t i = len[j]; i < len[j] + grow; i++) q[i] = (char)i;
        b[j] = q;
        len[j] += grow;
        ops++;
      }
    }
    for (int j = 0; j < nbuf; j++) free(b[j]);
  }
  return ops;
}

static long big_test(void) {
  uint64_t s = 0x452821e638d01377ull;
  long n = iters(50000);
  for (long k = 0; k < n; k++) {
    size_t size = rng_range(&s, 256 << 10, 1 << 20);
    unsigned char *p = xmalloc(size);
    memset(p, (int)k, size / 4);
    if (p[size / 4 - 1] != (unsigned char)k || p[size / 8] != (unsigned char)k)
      atomic_store(&failed, 1);
    free(p);
  }
  return n;
}

/* ---- producer / consumer: every free is a cross-thread free ------------------------------ */

#define RING 4096
#define MAX_THREADS 64
/* One ring per producer/consumer pair. */
static struct ring {
  _Alignas(64) _Atomic size_t head;   /* written by the producer */
  _Alignas(64) _Atomic size_t tail;   /* written by the consumer */
  _Alignas(64) void *slot[RING];
} rings[MAX_THREADS];
static long pc_messages;

static void *consumer(void *arg) {
  struct ring *ring = &rings[(uintptr_t)arg];
  size_t tail = 0;
  for (long k = 0; k < pc_messages; k++) {
    while (atomic_load_explicit(&ring->head, memory_order_acquire) == tail) sched_yield();
    unsigned char *m = ring->slot[tail % RING];
    atomic_store_explicit(&ring->tail, ++tail, memory_order_release);
    size_t n = (size_t)m[0] * 8 + 8;           /* the producer wrote the size in the block */
    if (m[n - 1] != (unsigned char)k) atomic_store(&failed, 1);
    free(m);
  }
  return NULL;
}

static void *producer(void *arg) {
  uintptr_t pair = (uintptr_t)arg;
  struct ring *ring = &rings[pair];
  uint64_t s = 0xa4093822299f31d0ull + pair * 0x9e3779b97f4a7c15ull;
  size_t head = 0;
  for (long k = 0; k < pc_messages; k++) {
    size_t words = rng_range(&s, 1, 31);       /* 16..256 bytes */
    unsigned char *m = xmalloc(words * 8 + 8);
    m[0] = (unsigned char)words;
    m[words * 8 + 7] = (unsigned char)k;
    while (head - atomic_load_explicit(&ring->tail, memory_order_acquire) == RING) sched_yield();
    ring->slot[head % RING] = m;
    atomic_store_explicit(&ring->head, ++head, memory_order_release);
  }
  return NULL;
}

/* pairs producer/consumer pairs; the main thread is the first pair's producer. */
static long prodcons_test(int pairs) {
  pc_messages = iters(4e6);
  pthread_t c[MAX_THREADS], p[MAX_THREADS];
  for (int i = 0; i < pairs; i++)
    if (pthread_create(&c[i], NULL, consumer, (void *)(uintptr_t)i) != 0) exit(2);
  for (int i = 1; i < pairs; i++)
    if (pthread_create(&p[i], NULL, producer, (void *)(uintptr_t)i) != 0) exit(2);
  producer((void *)(uintptr_t)0);
  for (int i = 1; i < pairs; i++) pthread_join(p[i], NULL);
  for (int i = 0; i < pairs; i++) pthread_join(c[i], NULL);
  return pc_messages * pairs;
}

/* ---- deep call stacks ---------------------------------------------------------------------- */

typedef struct node {
  struct node *kid[2];
  size_t size;
  uint64_t tag;
} node_t;

/* Not inlined and not tail calls: every level is a real frame, as in a recursive program. */
__attribute__((noinline)) static node_t *tree_build(int depth, uint64_t *s) {
  size_t n = rng_range(s, sizeof(node_t), 256);
  node_t *t = xmalloc(n);
  t->size = n;
  t->tag = rng_next(s) | 1;
  if (n > sizeof(node_t)) ((unsigned char *)t)[n - 1] = (unsigned char)(t->tag * 7 + 1);
  t->kid[0] = depth > 1 ? tree_build(depth - 1, s) : NULL;
  t->kid[1] = depth > 1 ? tree_build(depth - 1, s) : NULL;
  __asm__ volatile("" ::: "memory");
  return t;
}
__attribute__((noinline)) static long tree_free(node_t *t) {
  if (!t) return 0;
  long n = 1 + tree_free(t->kid[0]);
  n += tree_free(t->kid[1]);
  if (!t->tag || (t->size > sizeof(node_t) &&
                  ((unsigned char *)t)[t->size - 1] != (unsigned char)(t->tag * 7 + 1)))
    atomic_store(&failed, 1);
  free(t);
  __asm__ volatile("" ::: "memory");
  return n;
}

static long deep_test(void) {
  uint64_t s = 0x13198a2e03707344ull;
  long rounds = iters(100), ops = 0;
  for (long r = 0; r < rounds; r++) ops += tree_free(tree_build(16, &s));
  return ops;
}

/* ---- per-thread churn ---------------------------------------------------------------------- */

static void *churn_thread(void *arg) {
  enum { W = 1000 };
  uint64_t s = 0x082efa98ec4e6c89ull + (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull;
  void *p[W];
  size_t sz[W];
  for (int i = 0; i < W; i++) {
    sz[i] = rng_range(&s, 16, 512);
    p[i] = xmalloc(sz[i]);
    fill(p[i], sz[i], (uint64_t)i);
  }
  long n = iters(8e6);
  for (long k = 0; k < n; k++) {
    int i = (int)(rng_next(&s) % W);
    check(p[i], sz[i], (uint64_t)i);
    free(p[i]);
    sz[i] = rng_range(&s, 16, 512);
    p[i] = xmalloc(sz[i]);
    fill(p[i], sz[i], (uint64_t)i);
  }
  for (int i = 0; i < W; i++) {
    check(p[i], sz[i], (uint64_t)i);
    free(p[i]);
  }
  return NULL;
}

static long churn_test(int threads) {
  pthread_t t[MAX_THREADS];
  for (int i = 0; i < threads; i++)
    if (pthread_create(&t[i], NULL, churn_thread, (void *)(uintptr_t)(i + 1)) != 0) exit(2);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  return iters(8e6) * threads;
}

/* ---- fork while threads allocate ------------------------------------------------------------ */

static _Atomic int fork_stop, fork_ready;
static char extra[64];   /* more fields for the result line */

/* A size as real programs ask for them: 90% of 16..256 bytes, 9.5% up to 64 KiB, 0.5% up to
 * 1 MiB. */
static size_t program_size(uint64_t *s) {
  uint64_t r = rng_next(s) % 1000;
  if (r < 900) return rng_range(s, 16, 256);
  if (r < 995) return rng_range(s, 257, 64 << 10);
  return rng_range(s, (64 << 10) + 1, 1 << 20);
}

static void *fork_worker(void *arg) {
  enum { W = 1000 };
  uint64_t s = 0x6a09e667f3bcc908ull + (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull;
  void **p = xmalloc(W * sizeof *p);
  size_t *sz = xmalloc(W * sizeof *sz);
  for (int i = 0; i < W; i++) {
    sz[i] = program_size(&s);
    p[i] = xmalloc(sz[i]);
    memset(p[i], 0x5a, sz[i]);   /* the whole block, so the heap's pages are resident */
    fill(p[i], sz[i], (uint64_t)i);
  }
  atomic_fetch_add(&fork_ready, 1);
  while (!atomic_load_explicit(&fork_stop, memory_order_relaxed)) {
    int i = (int)(rng_next(&s) % W);
    check(p[i], sz[i], (uint64_t)i);
    free(p[i]);
    sz[i] = program_size(&s);
    p[i] = xmalloc(sz[i]);
    memset(p[i], 0x5a, sz[i]);
    fill(p[i], sz[i], (uint64_t)i);
  }
  for (int i = 0; i < W; i++) {
    check(p[i], sz[i], (uint64_t)i);
    free(p[i]);
  }
  free(sz);
  free(p);
  return NULL;
}

/* The child's work: a few hundred blocks, as a child does before exec or a forked worker does,
 * allocated, checked and freed newest first. Exit status 0 if every check held. */
static void fork_child(long round) {
  enum { N = 300 };
  alarm(60);   /* a child that deadlocks in malloc dies of SIGALRM and fails the run */
  uint64_t s = 0xbb67ae8584caa73bull + (uint64_t)round;
  void *p[N];
  size_t sz[N];
  for (int i = 0; i < N; i++) {
    sz[i] = i % 50 == 49 ? rng_range(&s, 4096, 16 << 10) : rng_range(&s, 16, 512);
    p[i] = malloc(sz[i]);
    if (!p[i]) _exit(3);
    fill(p[i], sz[i], (uint64_t)i);
  }
  for (int i = N - 1; i >= 0; i--) {
    check(p[i], sz[i], (uint64_t)i);
    free(p[i]);
  }
  _exit(atomic_load(&failed) ? 1 : 0);
}

static long fork_test(int threads) {
  pthread_t t[MAX_THREADS];
  for (int i = 0; i < threads; i++)
    if (pthread_create(&t[i], NULL, fork_worker, (void *)(uintptr_t)(i + 1)) != 0) exit(2);
  while (atomic_load(&fork_ready) < threads) sched_yield();
  long n = iters(100);
  double t0 = now();
  for (long k = 0; k < n; k++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("alloc-bench: fork");
      exit(2);
    }
    if (pid == 0) fork_child(k);
    int st;
    while (waitpid(pid, &st, 0) < 0) {
      perror("alloc-bench: waitpid");
      exit(2);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {   /* the run has failed: no more rounds */
      atomic_store(&failed, 1);
      if (WIFSIGNALED(st))
        fprintf(stderr, "alloc-bench: fork round %ld: the child died of signal %d%s\n", k,
                WTERMSIG(st), WTERMSIG(st) == SIGALRM ? " (hung for 60 s: deadlocked?)" : "");
      else
        fprintf(stderr, "alloc-bench: fork round %ld: the child exited with %d\n", k,
                WEXITSTATUS(st));
      n = k + 1;
      break;
    }
  }
  double secs = now() - t0;
  atomic_store(&fork_stop, 1);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  snprintf(extra, sizeof extra, " fork_round_us=%.1f", secs / (double)n * 1e6);
  return n;
}

/* ---- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: alloc-bench lifo|fifo|random|churn-random|realloc|realloc2|big|"
                    "prodcons|churn|fork|deep [SCALE [THREADS]]\n");
    return 2;
  }
  const char *test = argv[1];
  if (argc > 2) scale = atof(argv[2]);
  int threads = argc > 3 ? atoi(argv[3]) : !strcmp(test, "fork") ? 8 : 1;
  if (scale <= 0 || threads < 1 || threads > MAX_THREADS) {
    fprintf(stderr, "alloc-bench: SCALE must be > 0 and THREADS within 1..%d\n", MAX_THREADS);
    return 2;
  }
  double t0 = now();
  long ops;
  if (!strcmp(test, "lifo")) ops = order_test(1);
  else if (!strcmp(test, "fifo")) ops = order_test(0);
  else if (!strcmp(test, "random")) ops = random_test();
  else if (!strcmp(test, "churn-random")) ops = churn_random_test();
  else if (!strcmp(test, "realloc")) ops = realloc_test(1);
  else if (!strcmp(test, "realloc2")) ops = realloc_test(2);
  else if (!strcmp(test, "big")) ops = big_test();
  else if (!strcmp(test, "prodcons")) ops = prodcons_test(threads);
  else if (!strcmp(test, "churn")) ops = churn_test(threads);
  else if (!strcmp(test, "fork")) ops = fork_test(threads);
  else if (!strcmp(test, "deep")) ops = deep_test();
  else {
    fprintf(stderr, "alloc-bench: unknown test '%s'\n", test);
    return 2;
  }
  double secs = now() - t0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
  printf("%s threads=%d ops=%ld secs=%.3f ops_per_s=%.0f peak_rss_kib=%ld cpu_s=%.3f%s%s\n", test,
         threads, ops, secs, (double)ops / secs, ru.ru_maxrss, cpu, extra,
         atomic_load(&failed) ? " CHECK-FAILED" : "");
  return atomic_load(&failed) ? 1 : 0;
}
