/* dlopen(plugin, RTLD_DEEPBIND), then pointers cross the boundary both ways. Prints "done"
 * at its end. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_DEEPBIND);
  if (!h) {
    printf("dlopen: %s\n", dlerror());
    return 1;
  }
  char *(*make)(void) = (char *(*)(void))dlsym(h, "plugin_make");
  void (*take)(char *) = (void (*)(char *))dlsym(h, "plugin_take");
  char *s = make();
  printf("%s\n", s);
  free(s);                           /* the plugin's block, freed by the program */
  take(strdup("from the program"));  /* the program's block, freed by the plugin */
  dlclose(h);
  printf("done\n");
  return 0;
}
