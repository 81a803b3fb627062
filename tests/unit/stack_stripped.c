/* A library with no debug information and no .symtab (built with -g0 and linked with -s), for
 * the stack unit tests: its frames can show only the module, the offset inside it and, for
 * exported functions, the dynamic symbol. */
__attribute__((noinline)) static int stripped_inner(int (*callback)(void)) {
  volatile int after = callback();
  return after + 1;
}

__attribute__((visibility("default"))) int stripped_call(int (*callback)(void)) {
  volatile int after = stripped_inner(callback);
  return after + 1;
}
