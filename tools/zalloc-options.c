/* zalloc-options: print the configuration reference generated from the option table
 * (docs/configuration.md is its output). */
#include "options.h"

#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2 || strcmp(argv[1], "--markdown") != 0) {
    static const char usage[] = "usage: zalloc-options --markdown\n";
    return (int)(write(2, usage, sizeof usage - 1) < 0) + 2;
  }
  char buf[4096];
  za_out_t o;
  za_out_init(&o, 1, buf, sizeof buf);
  za_options_write_markdown(&o);
  za_out_flush(&o);
  return 0;
}
