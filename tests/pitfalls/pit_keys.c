/* Pitfall: pthread keys beyond the first 32 make pthread_setspecific allocate (glibc's
 * second-level key array), and their destructors run at thread exit in no particular order
 * with the allocator's own. 40 keys are created (in main, or with PIT_KEYS_IN_CTOR in a
 * library constructor before zalloc starts), then rounds of 8 threads each set all 40 keys to
 * fresh blocks, allocate, and exit; the key destructors free the blocks. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pit_say.h"

#define KEYS 40
#define THREADS 8
#define ROUNDS 3
extern pthread_key_t pit_keys[KEYS];
extern int pit_keys_made_in_ctor;
int pit_keys_create(void);
static atomic_int failures;

static void *worker(void *arg) {
  unsigned seed = (unsigned)(size_t)arg;
  for (int k = 0; k < KEYS; k++) {
    char *v = malloc(32);
    if (!v || pthread_setspecific(pit_keys[k], v) != 0) atomic_fetch_add(&failures, 1);
    else memset(v, k, 32);
  }
  void *slots[16] = {0};
  for (int i = 0; i < 2000; i++) {
    int s = rand_r(&seed) % 16;
    free(slots[s]);
    slots[s] = malloc((size_t)(rand_r(&seed) % 2000));
  }
  for (int s = 0; s < 16; s++) free(slots[s]);
  for (int k = 0; k < KEYS; k++) {
    unsigned char *v = pthread_getspecific(pit_keys[k]);
    if (!v || v[31] != k) atomic_fetch_add(&failures, 1);
  }
  return NULL;
}

int main(void) {
  if (!pit_keys_made_in_ctor && pit_keys_create() != 0) return 1;
  say("keys_in_ctor=%d\nfirst_key=%u\nlast_key=%u\n", pit_keys_made_in_ctor, (unsigned)pit_keys[0],
      (unsigned)pit_keys[KEYS - 1]);
  for (int r = 0; r < ROUNDS; r++) {
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++)
      if (pthread_create(&th[i], NULL, worker, (void *)(r * THREADS + i + 1)) != 0) return 1;
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  }
  say("failures=%d\n", atomic_load(&failures));
  if (atomic_load(&failures)) return 1;
  say("done\n");
  return 0;
}
