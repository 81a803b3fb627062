/* Pitfall: fork() while other threads are inside malloc. An allocator must hold every lock
 * across fork (pthread_atfork) and leave the child's heap consistent, or the child hangs on a
 * lock that no thread of its own will ever release, or corrupts the heap. 8 threads allocate
 * and free (small and large blocks) without pause while the main thread forks 20 times; each
 * child allocates, checks and frees a few blocks and leaves with _exit. A child that hangs is
 * killed by its alarm, so the parent reports it instead of hanging as well. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "pit_say.h"

#define THREADS 8
#define FORKS 20
static atomic_int stop;
static atomic_long ops;

static void *hammer(void *arg) {
  unsigned seed = (unsigned)(size_t)arg * 2654435761u;
  void *slots[64] = {0};
  long n = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    int i = rand_r(&seed) % 64;
    free(slots[i]);
    size_t size = rand_r(&seed) % 32 == 0 ? 256 * 1024 + (size_t)(rand_r(&seed) % 100000)
                                           : (size_t)(rand_r(&seed) % 3000);
    slots[i] = rand_r(&seed) % 4 == 0 ? calloc(1, size) : malloc(size);
    if (slots[i]) memset(slots[i], i, size < 64 ? size : 64);
    n++;
  }
  for (int i = 0; i < 64; i++) free(slots[i]);
  atomic_fetch_add(&ops, n);
  return NULL;
}

static int child(int round) {
  alarm(60);
  void *p[16];
  for (int k = 0; k < 16; k++) {
    size_t size = k == 15 ? 1u << 20 : (size_t)(k * 1000 + round + 1);
    p[k] = malloc(size);
    if (!p[k]) return 2;
    memset(p[k], k, size);
  }
  p[3] = realloc(p[3], 50000);
  if (!p[3] || ((unsigned char *)p[3])[0] != 3) return 3;
  for (int k = 0; k < 16; k++) free(p[k]);
  return 0;
}

int main(void) {
  pthread_t th[THREADS];
  for (long i = 0; i < THREADS; i++)
    if (pthread_create(&th[i], NULL, hammer, (void *)(i + 1)) != 0) return 1;
  int bad = 0;
  for (int round = 0; round < FORKS; round++) {
    pid_t pid = fork();
    if (pid < 0) {
      say("fork failed\n");
      bad++;
      break;
    }
    if (pid == 0) _exit(child(round));
    int st;
    if (waitpid(pid, &st, 0) != pid) return 1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      say("child %d: %s %d\n", round, WIFEXITED(st) ? "exit status" : "killed by signal",
          WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
      bad++;
    }
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  say("forks=%d\nbad=%d\nops=%s\n", FORKS, bad, atomic_load(&ops) > 0 ? "some" : "none");
  if (bad) return 1;
  say("done\n");
  return 0;
}
