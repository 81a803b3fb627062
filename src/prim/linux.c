/* zalloc - OS primitives for Linux (see prim.h for the contract). */
#include "../prim.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

void *za_os_map(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void *za_os_reserve(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* Over-map by `align`, then trim both ends so the mapping starts on the boundary. */
void *za_os_map_aligned(size_t size, size_t align) {
  if (align <= ZA_PAGE_SIZE) return za_os_map(size);
  if (size > SIZE_MAX - align) return NULL;
  uint8_t *raw = za_os_map(size + align);
  if (raw == NULL) return NULL;
  uint8_t *start = (uint8_t *)za_align_up_ptr((uintptr_t)raw, align);
  size_t head = (size_t)(start - raw);
  size_t tail = align - head;
  if (head) munmap(raw, head);
  if (tail) munmap(start + size, tail);
  return start;
}

void za_os_unmap(void *p, size_t size) { munmap(p, size); }

void *za_os_remap(void *p, size_t old_size, size_t new_size) {
  void *q = mremap(p, old_size, new_size, MREMAP_MAYMOVE);
  return q == MAP_FAILED ? NULL : q;
}

void za_os_decommit(void *p, size_t size) { madvise(p, size, MADV_DONTNEED); }

int za_os_open_append(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  return fd < 0 ? -errno : fd;
}

int za_os_open_read(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

int za_os_check_writable(const char *path) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
  if (errno != ENOENT) return -errno;
  /* Missing: create it to be sure it can be (access() says yes to root where the file system
   * says no), then remove it again. */
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return errno == EEXIST ? 0 : -errno;
  close(fd);
  unlink(path);
  return 0;
}

long za_os_read(int fd, void *buf, size_t n) {
  long r;
  do r = read(fd, buf, n); while (r < 0 && errno == EINTR);
  return r;
}

void za_os_close(int fd) { close(fd); }

/* High, so a program that opens files or dup2()s onto low numbers does not meet it. */
int za_os_dup_high(int fd) {
  int saved = errno;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 500);
  errno = saved;
  return copy;
}

bool za_os_fd_open(int fd) {
  int saved = errno;
  bool open = fcntl(fd, F_GETFD) >= 0;
  errno = saved;
  return open;
}

void za_os_write_all(int fd, const char *buf, size_t n) {
  int saved = errno;
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    buf += w;
    n -= (size_t)w;
  }
  errno = saved;
}

int za_os_getpid(void) { return (int)syscall(SYS_getpid); }
int za_os_gettid(void) { return (int)syscall(SYS_gettid); }
void za_os_yield(void) { sched_yield(); }
_Noreturn void za_os_exit(int status) { _exit(status); }

uint64_t za_os_random_seed(void) {
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  const uint8_t *r = (const uint8_t *)getauxval(AT_RANDOM);
  if (r) memcpy(&seed, r + 8, sizeof seed); /* glibc uses the first 8 bytes for its canary */
  return seed ^ (uint64_t)(uintptr_t)&seed;
}

const char *za_os_errno_name(int err) {
  switch (err) {
  case ENOENT: return "No such file or directory";
  case EACCES: return "Permission denied";
  case EROFS: return "Read-only file system";
  case EISDIR: return "Is a directory";
  case ENOTDIR: return "Not a directory";
  case ENOSPC: return "No space left on device";
  case ENAMETOOLONG: return "File name too long";
  case ELOOP: return "Too many levels of symbolic links";
  case EMFILE: return "Too many open files";
  default: return "error";
  }
}
