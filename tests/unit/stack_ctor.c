/* A library whose constructor calls back into the test program that dlopens it
 * (za_test_ctor_hook, exported by the test executable): code that runs while the dynamic
 * loader holds its lock, for the tests of loading libunwind from inside a capture. */
void za_test_ctor_hook(void);

__attribute__((constructor)) static void stack_ctor(void) { za_test_ctor_hook(); }
