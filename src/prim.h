/* zalloc - OS primitives. Every system call zalloc makes goes through this contract, so the
 * set of syscalls on the hot path stays small (mmap, munmap, mremap, madvise) and auditable.
 * Nothing here allocates. Functions return NULL / a negative errno on failure.
 *
 * Every mapping made through za_os_map / _map_aligned / _reserve / _remap and not yet given
 * back through za_os_unmap / _remap is recorded in the mapping registry (whole pages), so the
 * leak check can leave zalloc's own memory out of its roots. */
#ifndef ZA_PRIM_H
#define ZA_PRIM_H
#include "common.h"

void *za_os_map(size_t size);                     /* anonymous read-write, zero-filled */
void *za_os_map_aligned(size_t size, size_t align); /* same, start aligned to `align` (pow2) */
void *za_os_reserve(size_t size);                 /* address space only, pages appear on touch */
void  za_os_unmap(void *p, size_t size);
void *za_os_remap(void *p, size_t old_size, size_t new_size); /* may move */
/* Heap memory followed by an inaccessible page (a fence), start aligned to `align` (pow2): an
 * overflow off its end faults in the program instead of running into the mapping after it,
 * which may be zalloc's metadata. Only [p, p + size) is registered. (Underflows are not
 * fenced: a program with ZALLOC_GUARD=0 may write a few bytes before its first block.) */
void *za_os_map_fenced(size_t size, size_t align);
void  za_os_unmap_fenced(void *p, size_t size);
/* Make whole pages of a mapping inaccessible (a guard) or accessible again, in place: the
 * mapping keeps its pages and is split and merged by the kernel around them. */
bool  za_os_protect(void *p, size_t size, bool accessible);
void  za_os_decommit(void *p, size_t size);       /* give pages back, contents read as zero */
/* Guarded pages (page.c): address space that faults on any access, registered like the
 * rest; pages of it made readable and writable (false if the kernel refused: ENOMEM when the
 * process is at its map limit); pages given back and made inaccessible again in one call
 * (their contents read as zero when next made accessible). */
void *za_os_reserve_inaccessible(size_t size);
bool  za_os_make_accessible(void *p, size_t size);
bool  za_os_make_inaccessible(void *p, size_t size);
/* A small whole number read from a file such as /proc/sys/vm/max_map_count; 0 if unreadable. */
uint64_t za_os_read_number(const char *path);
/* Lines in a file such as /proc/self/maps (read in pieces, nothing allocated); 0 if unreadable. */
size_t za_os_count_lines(const char *path);

/* The mapping registry: calls fn(ctx, lo, hi) for each maximal page range [lo, hi) zalloc has
 * mapped, in ascending address order, under the registry's lock: `fn` must not map or unmap
 * through za_os_*. Returns false if the registry ever failed to record a mapping (it could
 * not grow), so the ranges may be missing some of zalloc's memory. */
bool  za_os_for_each_mapping(void (*fn)(void *ctx, uintptr_t lo, uintptr_t hi), void *ctx);
size_t za_os_mapping_count(void);                 /* ranges for_each_mapping would report now */
/* Fork: the registry's lock is a leaf (taken inside every other lock's critical sections), so
 * prepare takes it after every other lock and parent/child release it before them. The child
 * keeps the registry: its mappings are the parent's. */
void  za_os_fork_prepare(void);
void  za_os_fork_parent(void);
void  za_os_fork_child(void);

/* zalloc's own error codes, beyond errno's, for za_os_errno_name. */
#define ZA_ERR_SYMLINK  4097   /* the final component is a link owned by neither root nor us */
#define ZA_ERR_NOT_FILE 4098   /* a socket, a disk, a FIFO with no reader: not for a report */
/* The log, opened for appending (created if missing): never through a final symbolic link
 * owned by another user than root or this one, never blocking, only a regular file, a
 * character device or a FIFO with a reader. fd, or -errno / -ZA_ERR_*. */
int   za_os_open_append(const char *path);
int   za_os_open_read(const char *path);          /* fd, or -errno */
/* 0 if `path` could be opened for appending (created if missing) by za_os_open_append, else
 * -errno or -ZA_ERR_*. Creates nothing: a process that never writes its report leaves no empty file behind. */
int   za_os_check_writable(const char *path);
long  za_os_read(int fd, void *buf, size_t n);
long  za_os_pread(int fd, void *buf, size_t n, uint64_t offset);
int   za_os_dup_high(int fd);                     /* close-on-exec copy numbered high, or -1 */
bool  za_os_fd_open(int fd);
void  za_os_close(int fd);
int   za_os_write_all(int fd, const char *buf, size_t n);  /* 0, or the errno that stopped it */
int   za_os_getpid(void);
int   za_os_gettid(void);
void  za_os_yield(void);
uint32_t za_os_now_ms(void);                      /* a coarse monotonic clock, wrapping */
/* Sleep while *addr == val (or until woken); wake up to `n` sleepers on addr. */
void  za_os_futex_wait(atomic_int *addr, int val);
void  za_os_futex_wake(atomic_int *addr, int n);
_Noreturn void za_os_exit(int status);
/* The kernel's AT_SECURE: setuid, setgid or file capabilities raised this process's rights
 * above its caller's, so its caller's environment is not to be trusted. */
bool  za_os_secure(void);
uint64_t za_os_random_seed(void);                 /* from AT_RANDOM: no getrandom syscall */
const char *za_os_errno_name(int err);            /* "No such file or directory", no malloc */
#endif
