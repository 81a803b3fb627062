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

/* glibc's tuning and introspection calls: accepted, answered from zalloc's own figures. */
int za_mallopt(int param, int value);
struct mallinfo2 za_mallinfo2(void);
struct mallinfo za_mallinfo(void);
int za_malloc_trim(size_t pad);
void za_malloc_stats(void);
int za_malloc_info(int options, FILE *fp);
#endif
