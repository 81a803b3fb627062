/* The module pit_dl loads and unloads over and over: its constructor and destructor allocate
 * and free, and its function allocates, so the loader's own allocations (link maps, scope
 * lists, TLS) interleave with the module's. */
#include <stdlib.h>
#include <string.h>

static char *state;

__attribute__((constructor)) static void pit_dlmod_init(void) {
  state = malloc(64);
  if (state) strcpy(state, "pit_dlmod loaded");
}

__attribute__((destructor)) static void pit_dlmod_fini(void) {
  free(state);
  state = NULL;
}

/* Allocates n strings, checks and frees them; returns n if all was well. */
int pit_dlmod_work(int n) {
  if (!state || strcmp(state, "pit_dlmod loaded") != 0) return -1;
  int good = 0;
  for (int i = 0; i < n; i++) {
    char *s = malloc((size_t)i * 16 + 8);
    if (!s) continue;
    memset(s, 'x', (size_t)i * 16 + 7);
    s[i * 16 + 7] = '\0';
    if (strlen(s) == (size_t)i * 16 + 7) good++;
    free(s);
  }
  return good;
}
