/* Pitfall: the dynamic loader allocates through the program's malloc once it is up: dlopen and
 * dlclose (link maps, search lists, TLS slots), dlerror (its message string, per thread, freed
 * at the next dlerror or when the thread exits - after an allocator's own thread destructor
 * may have run). 8 threads load and unload a module, provoke errors and read them, and
 * allocate in between. Usage: pit_dl MODULE-PATH */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pit_say.h"

#define THREADS 8
#define ROUNDS 40
static const char *module;
static atomic_int failures;

static void fail(const char *what, const char *detail) {
  atomic_fetch_add(&failures, 1);
  say("failure: %s: %s\n", what, detail ? detail : "(null)");
}

static void *worker(void *arg) {
  unsigned seed = (unsigned)(size_t)arg;
  void *keep[8] = {0};
  for (int r = 0; r < ROUNDS; r++) {
    void *h = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      fail("dlopen", dlerror());
      continue;
    }
    int (*work)(int) = (int (*)(int))dlsym(h, "pit_dlmod_work");
    if (!work) fail("dlsym", dlerror());
    else if (work(10) != 10) fail("pit_dlmod_work", "wrong result");
    if (dlsym(h, "pit_no_such_symbol") != NULL) fail("dlsym", "found a symbol that does not exist");
    const char *e = dlerror();
    if (!e || !strstr(e, "pit_no_such_symbol")) fail("dlerror after dlsym", e);
    int i = rand_r(&seed) % 8;
    free(keep[i]);
    keep[i] = malloc((size_t)(rand_r(&seed) % 5000));
    if (dlclose(h) != 0) fail("dlclose", dlerror());
    if (dlopen("/nonexistent-dir/libpit-nope.so", RTLD_NOW) != NULL) fail("dlopen", "opened a missing file");
    e = dlerror();
    if (!e || !strstr(e, "libpit-nope")) fail("dlerror after dlopen", e);
    if (dlerror() != NULL) fail("dlerror", "the error was not cleared");
  }
  for (int i = 0; i < 8; i++) free(keep[i]);
  /* Leave an error pending: its message is freed by the thread's exit, after zalloc's own
   * thread state has been handed back. */
  dlopen("/nonexistent-dir/libpit-last.so", RTLD_NOW);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) return 64;
  module = argv[1];
  pthread_t th[THREADS];
  for (long i = 0; i < THREADS; i++)
    if (pthread_create(&th[i], NULL, worker, (void *)(i + 1)) != 0) return 1;
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  say("failures=%d\n", atomic_load(&failures));
  if (atomic_load(&failures)) return 1;
  say("done\n");
  return 0;
}
