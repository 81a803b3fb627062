/* zalloc - the C++ operator new/delete family: every replaceable global allocation and
 * deallocation function, exported under its Itanium-ABI mangled name, so that a C++ program's
 * new and delete reach zalloc and the kind of each block (new, new[], malloc) can be checked
 * against how it is released. Written in C: libzalloc.so must not depend on libstdc++.
 *
 * The allocation itself is za_new / za_delete (src/api.c); what lives here is the C++ side of
 * a failed allocation. A throwing form calls the current new-handler and retries while there
 * is one, then throws std::bad_alloc. Both are libstdc++'s, looked up with dlsym on that path
 * only (a program calling operator new has libstdc++ loaded); if either cannot be found, one
 * line on stderr and abort(). This file is compiled with -fexceptions so that an exception
 * thrown by a new-handler, or the bad_alloc we throw, unwinds through our frames.
 *
 * The nothrow forms return NULL where the throwing ones would throw. One deviation from the
 * standard, which specifies them as the throwing form inside try/catch: C cannot catch, so an
 * exception thrown by a new-handler during a nothrow new is not turned into NULL. It
 * propagates from a noexcept function, which in practice calls std::terminate.
 *
 * A request with an alignment that is not a power of two fails with EINVAL: no new-handler
 * can fix that, so it throws (or returns NULL) at once, as libstdc++ does. */
#include "../src/zalloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

typedef void (*new_handler_t)(void);

/* A libstdc++ function by mangled name, or a line on stderr and abort(). */
static void *cxx_runtime(const char *mangled, const char *what) {
  void *fn = dlsym(RTLD_DEFAULT, mangled);
  if (fn) return fn;
  static const char head[] = "zalloc: operator new failed and libstdc++'s ";
  static const char tail[] = " cannot be found (a C++ runtime other than libstdc++?); aborting\n";
  ssize_t ignored = write(2, head, sizeof head - 1);
  ignored = write(2, what, strlen(what));
  ignored = write(2, tail, sizeof tail - 1);
  (void)ignored;
  abort();
}

/* std::get_new_handler(). */
static new_handler_t current_new_handler(void) {
  new_handler_t (*get)(void) =
      (new_handler_t(*)(void))cxx_runtime("_ZSt15get_new_handlerv", "std::get_new_handler");
  return get();
}

/* std::__throw_bad_alloc(): throws std::bad_alloc. */
__attribute__((noreturn)) static void throw_bad_alloc(void) {
  void (*thrower)(void) = (void (*)(void))cxx_runtime("_ZSt17__throw_bad_allocv", "std::__throw_bad_alloc");
  thrower();
  abort(); /* not reached: it throws */
}

/* One try, then the new-handler and another try while there is a handler. NULL when the
 * request cannot be met and no handler is installed (or the alignment is invalid). */
static void *new_with_handler(size_t size, size_t align, za_kind_t kind) {
  for (;;) {
    void *p = za_new(size, align, kind);
    if (p || errno == EINVAL) return p;
    new_handler_t handler = current_new_handler();
    if (!handler) return NULL;
    handler();
  }
}

static void *new_or_throw(size_t size, size_t align, za_kind_t kind) {
  void *p = new_with_handler(size, align, kind);
  if (!p) throw_bad_alloc();
  return p;
}

/* ---- operator new, operator new[] ------------------------------------------------------------
 * Names: _Znwm = new(size_t), _Znam = new[](size_t); RKSt9nothrow_t = std::nothrow_t const&;
 * St11align_val_t = std::align_val_t (passed as a size_t). */
EXPORT void *_Znwm(size_t size) { return new_or_throw(size, 0, ZA_KIND_NEW); }
EXPORT void *_Znam(size_t size) { return new_or_throw(size, 0, ZA_KIND_NEW_ARRAY); }
EXPORT void *_ZnwmSt11align_val_t(size_t size, size_t align) { return new_or_throw(size, align, ZA_KIND_NEW); }
EXPORT void *_ZnamSt11align_val_t(size_t size, size_t align) {
  return new_or_throw(size, align, ZA_KIND_NEW_ARRAY);
}

EXPORT void *_ZnwmRKSt9nothrow_t(size_t size, const void *nothrow) {
  (void)nothrow;
  return new_with_handler(size, 0, ZA_KIND_NEW);
}
EXPORT void *_ZnamRKSt9nothrow_t(size_t size, const void *nothrow) {
  (void)nothrow;
  return new_with_handler(size, 0, ZA_KIND_NEW_ARRAY);
}
EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *nothrow) {
  (void)nothrow;
  return new_with_handler(size, align, ZA_KIND_NEW);
}
EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *nothrow) {
  (void)nothrow;
  return new_with_handler(size, align, ZA_KIND_NEW_ARRAY);
}

/* ---- operator delete, operator delete[] ------------------------------------------------------
 * _ZdlPv = delete(void *), _ZdaPv = delete[](void *); a trailing m is the size of a sized
 * delete. The nothrow forms are what a new-expression using nothrow new calls when the
 * constructor throws. */
EXPORT void _ZdlPv(void *p) { za_delete(p, ZA_KIND_NEW, 0, 0); }
EXPORT void _ZdaPv(void *p) { za_delete(p, ZA_KIND_NEW_ARRAY, 0, 0); }
EXPORT void _ZdlPvm(void *p, size_t size) { za_delete(p, ZA_KIND_NEW, size, 0); }
EXPORT void _ZdaPvm(void *p, size_t size) { za_delete(p, ZA_KIND_NEW_ARRAY, size, 0); }
EXPORT void _ZdlPvSt11align_val_t(void *p, size_t align) { za_delete(p, ZA_KIND_NEW, 0, align); }
EXPORT void _ZdaPvSt11align_val_t(void *p, size_t align) { za_delete(p, ZA_KIND_NEW_ARRAY, 0, align); }
EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align) {
  za_delete(p, ZA_KIND_NEW, size, align);
}
EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align) {
  za_delete(p, ZA_KIND_NEW_ARRAY, size, align);
}

EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nothrow) {
  (void)nothrow;
  za_delete(p, ZA_KIND_NEW, 0, 0);
}
EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nothrow) {
  (void)nothrow;
  za_delete(p, ZA_KIND_NEW_ARRAY, 0, 0);
}
EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *nothrow) {
  (void)nothrow;
  za_delete(p, ZA_KIND_NEW, 0, align);
}
EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *nothrow) {
  (void)nothrow;
  za_delete(p, ZA_KIND_NEW_ARRAY, 0, align);
}
