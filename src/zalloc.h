/* zalloc - the malloc family with C and glibc semantics, on top of the chosen backend.
 * preload/ exports these under the standard names; tests call them directly. Every function
 * starts zalloc if it is not started yet. */
#ifndef ZALLOC_H
#define ZALLOC_H
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>

void *za_malloc(size_t size);
void za_free(void *p);
void *za_calloc(size_t n, size_t size);
void *za_realloc(void *p, size_t size);
void *za_reallocarray(void *p, size_t n, size_t size);
int za_posix_memalign(void **out, size_t align, size_t size);
void *za_aligned_alloc(size_t align, size_t size);
void *za_memalign(size_t align, size_t size);
void *za_valloc(size_t size);
void *za_pvalloc(size_t size);
size_t za_malloc_usable_size(void *p);

/* How a block was allocated, so it can be checked against how it is released. */
typedef enum za_kind { ZA_KIND_MALLOC, ZA_KIND_NEW, ZA_KIND_NEW_ARRAY } za_kind_t;

/* The C++ operator new family: `align` 0 for the plain forms, else the align_val_t argument.
 * NULL when out of memory (errno ENOMEM) or when `align` is not a power of two (EINVAL): the
 * caller calls the new-handler and throws, or returns NULL for the nothrow forms. */
void *za_new(size_t size, size_t align, za_kind_t kind);
/* The operator delete family: `size` 0 for the unsized forms, `align` 0 for the plain ones.
 * Records a finding when the kind (or the size of a sized delete) does not match the block. */
void za_delete(void *p, za_kind_t kind, size_t size, size_t align);

/* glibc's tuning and introspection calls: accepted, answered from zalloc's own figures. */
int za_mallopt(int param, int value);
struct mallinfo2 za_mallinfo2(void);
struct mallinfo za_mallinfo(void);
int za_malloc_trim(size_t pad);
void za_malloc_stats(void);
int za_malloc_info(int options, FILE *fp);
#endif
