/* Helper for test_leaks.c: a library the program dlopen()s; its data holds a heap pointer. */
void *lk_lib_slot;
