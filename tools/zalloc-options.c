/* zalloc-options: print the configuration reference (docs/configuration.md) or the zalloc(1)
 * manual page (docs/zalloc.1), both generated from the option table in src/options.c. */
#include "options.h"

#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  bool markdown = argc == 2 && strcmp(argv[1], "--markdown") == 0;
  bool man = argc == 2 && strcmp(argv[1], "--man") == 0;
  if (!markdown && !man) {
    static const char usage[] = "usage: zalloc-options --markdown | --man\n";
    return (int)(write(2, usage, sizeof usage - 1) < 0) + 2;
  }
  char buf[4096];
  za_out_t o;
  za_out_init(&o, 1, buf, sizeof buf);
  if (markdown) za_options_write_markdown(&o);
  else za_options_write_man(&o);
  za_out_flush(&o);
  return 0;
}
