/* zalloc - the interposition layer: the symbols a program's malloc calls bind to when
 * libzalloc.so is in LD_PRELOAD, plus start-up and the exit hook. Deliberately thin: all
 * behaviour lives in src/ (api.c for the semantics, runtime.c for start-up and fork).
 *
 * Start-up does not wait for the constructor: the first malloc (often from the loader or
 * libc, before any constructor) starts zalloc. The constructor makes sure start-up (and so
 * the configuration check) happens before main even if nothing allocates, and registers the
 * fork handlers - from here, never from inside malloc, because pthread_atfork may allocate.
 * The report is written from the destructor, never registered with atexit from inside malloc
 * (glibc's atexit calls calloc under its own lock). _exit and _Exit are exported so that
 * processes ending that way (every dash subshell, most forked helpers) report too. */
#include "../src/report.h"
#include "../src/runtime.h"
#include "../src/stack.h"
#include "../src/zalloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT void *malloc(size_t size) { return za_malloc(size); }
EXPORT void free(void *p) { za_free(p); }
EXPORT void *calloc(size_t n, size_t size) { return za_calloc(n, size); }
EXPORT void *realloc(void *p, size_t size) { return za_realloc(p, size); }
EXPORT void *reallocarray(void *p, size_t n, size_t size) { return za_reallocarray(p, n, size); }
EXPORT int posix_memalign(void **out, size_t align, size_t size) { return za_posix_memalign(out, align, size); }
EXPORT void *aligned_alloc(size_t align, size_t size) { return za_aligned_alloc(align, size); }
EXPORT void *memalign(size_t align, size_t size) { return za_memalign(align, size); }
EXPORT void *valloc(size_t size) { return za_valloc(size); }
EXPORT void *pvalloc(size_t size) { return za_pvalloc(size); }
EXPORT size_t malloc_usable_size(void *p) { return za_malloc_usable_size(p); }
EXPORT void cfree(void *p) { za_free(p); }

EXPORT int mallopt(int param, int value) { return za_mallopt(param, value); }
EXPORT struct mallinfo2 mallinfo2(void) { return za_mallinfo2(); }
EXPORT struct mallinfo mallinfo(void) { return za_mallinfo(); }
EXPORT int malloc_trim(size_t pad) { return za_malloc_trim(pad); }
EXPORT void malloc_stats(void) { za_malloc_stats(); }
EXPORT int malloc_info(int options, FILE *fp) { return za_malloc_info(options, fp); }

/* glibc's own names for the same functions: some programs and libraries call them directly. */
EXPORT void *__libc_malloc(size_t size) { return za_malloc(size); }
EXPORT void __libc_free(void *p) { za_free(p); }
EXPORT void *__libc_calloc(size_t n, size_t size) { return za_calloc(n, size); }
EXPORT void *__libc_realloc(void *p, size_t size) { return za_realloc(p, size); }
EXPORT void *__libc_memalign(size_t align, size_t size) { return za_memalign(align, size); }
EXPORT void *__libc_valloc(size_t size) { return za_valloc(size); }
EXPORT void *__libc_pvalloc(size_t size) { return za_pvalloc(size); }
EXPORT int __posix_memalign(void **out, size_t align, size_t size) { return za_posix_memalign(out, align, size); }

/* dlopen with RTLD_DEEPBIND makes the library resolve malloc in its own scope, to glibc's,
 * while the program frees what it returns with ours (and the other way round): glibc then
 * aborts on pointers it never handed out. Drop the flag, so every library shares one heap,
 * and say so in the report. The real dlopen is looked up on first use, outside malloc.
 * Loading or unloading code also makes the stack unwinder's cached frame rules stale. */
EXPORT void *dlopen(const char *file, int mode) {
  static void *(*real_dlopen)(const char *, int);
  if (!real_dlopen) real_dlopen = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
  if (mode & RTLD_DEEPBIND) {
    mode &= ~RTLD_DEEPBIND;
    za_report_note_deepbind(file);
  }
  void *handle = real_dlopen(file, mode);
  za_stack_modules_changed();
  return handle;
}

EXPORT int dlclose(void *handle) {
  static int (*real_dlclose)(void *);
  if (!real_dlclose) real_dlclose = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
  int r = real_dlclose(handle);
  za_stack_modules_changed();
  return r;
}

/* _exit and _Exit: the report, then the end of the process (libc's own calls to _exit, at the
 * end of exit(), are internal to it and never come here). */
EXPORT void _exit(int status) { za_report__exit(status); }
EXPORT void _Exit(int status) { za_report__exit(status); }

/* Stack capture is set up here too (its tables are mapped; libunwind, the fallback unwinder, is
 * loaded only if a capture ever needs it): captures before this point return no stack.
 * glibc passes argc and argv to constructors: the report's command line. */
__attribute__((constructor)) static void zalloc_start(int argc, char **argv) {
  za_runtime_ensure();
  pthread_atfork(za_fork_prepare, za_fork_parent, za_fork_child);
  /* Our own code, named by a function of ours that cannot be interposed: `malloc` is not one,
   * since in a non-PIE program that takes its address (python3) &malloc is the program's PLT
   * entry, and captures then kept zalloc's frames while the leak check skipped the program's
   * data. */
  za_runtime_outside_malloc((const void *)zalloc_start);
  za_report_start(argc, argv);
}

/* Our destructor runs before those of libraries initialised ahead of us (all the program's
 * own libraries: preloaded objects are initialised last), and their frees must be seen.
 * glibc runs exit handlers registered while exit handlers run (the library destructors run
 * inside one), so registering the report here puts it after every destructor; on_exit, not
 * atexit, since it hands the handler the exit status (atexit would also tie it to this
 * library, and __cxa_finalize would run it at once). If it cannot be registered (out of
 * memory), report now, without the status. */
static void report_on_exit(int status, void *unused) {
  (void)unused;
  fflush(NULL); /* the program's buffered output belongs before the report, as it ran first */
  za_report_exit(status);
}
__attribute__((destructor)) static void zalloc_exit(void) {
  if (on_exit(report_on_exit, NULL) != 0) za_report_exit(0);
}
