/* A plugin that allocates for its caller and frees what its caller allocated: loaded with
 * RTLD_DEEPBIND, its malloc and free would bind to glibc's. */
#include <stdlib.h>
#include <string.h>

char *plugin_make(void) { return strdup("from the plugin"); }
void plugin_take(char *p) { free(p); }
