/* Linked into pit_keys. With PIT_KEYS_IN_CTOR set, its constructor - which the loader runs
 * before libzalloc.so's - creates 40 pthread keys before anything has allocated, so zalloc
 * starts (at the malloc below) with every key below 40 taken: its own per-thread key is then
 * beyond the 32 that glibc keeps inline, and its pthread_setspecific, made inside malloc
 * for every new thread, itself allocates. */
#include <pthread.h>
#include <stdlib.h>

#define KEYS 40
pthread_key_t pit_keys[KEYS];
int pit_keys_made_in_ctor;

static void drop(void *v) { free(v); }

int pit_keys_create(void) {
  for (int i = 0; i < KEYS; i++)
    if (pthread_key_create(&pit_keys[i], drop) != 0) return -1;
  return 0;
}

__attribute__((constructor)) static void pit_keyslib_init(void) {
  if (!getenv("PIT_KEYS_IN_CTOR")) return;
  if (pit_keys_create() != 0) return;
  pit_keys_made_in_ctor = 1;
  free(malloc(10)); /* the first call into zalloc, after the keys */
}
