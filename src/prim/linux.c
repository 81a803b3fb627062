/* zalloc - OS primitives for Linux (see prim.h for the contract): every system call, and the
 * registry of zalloc's own mappings. */
#include "../prim.h"
#include "../lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- the mapping registry ------------------------------------------------------------------
 * A sorted array of disjoint, non-adjacent page ranges [lo, hi) (adjacent ones are merged), in
 * memory from raw mmap, itself recorded in it. Updates are a binary search and a memmove under
 * a leaf lock; the system call happens outside the lock, ordered so that no range is ever
 * recorded after another thread could have been given its address: a mapping is recorded
 * after mmap returns it and forgotten before munmap gives it back. In between, a mapping the
 * registry does not show is only scanned as a root (conservative), never the reverse. */

typedef struct reg_range { uintptr_t lo, hi; } reg_range_t;

static reg_range_t *reg;         /* the ranges, ascending */
static size_t reg_n, reg_cap;
static bool reg_lost;            /* the array could not grow once: some mapping is missing */
static za_lock_t reg_lock = ZA_LOCK_INIT;

static void *raw_map(size_t size, int extra_flags) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static uintptr_t page_up(uintptr_t x) { return za_align_up_ptr(x, ZA_PAGE_SIZE); }

/* Index of the first range that ends above `addr` (reg_n if none). */
static size_t reg_find(uintptr_t addr) {
  size_t lo = 0, hi = reg_n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (reg[mid].hi <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Record [lo, hi), merging with whatever it touches or overlaps. Needs one free slot. */
static void reg_add_locked(uintptr_t lo, uintptr_t hi) {
  size_t i = lo ? reg_find(lo - 1) : 0;      /* first range with hi >= lo: touching counts */
  size_t j = i;
  while (j < reg_n && reg[j].lo <= hi) j++;  /* ranges [i, j) touch or overlap [lo, hi) */
  if (i == j) {
    memmove(&reg[i + 1], &reg[i], (reg_n - i) * sizeof *reg);
    reg[i] = (reg_range_t){lo, hi};
    reg_n++;
    return;
  }
  if (reg[i].lo < lo) lo = reg[i].lo;
  if (reg[j - 1].hi > hi) hi = reg[j - 1].hi;
  reg[i] = (reg_range_t){lo, hi};
  memmove(&reg[i + 1], &reg[j], (reg_n - j) * sizeof *reg);
  reg_n -= j - i - 1;
}

/* Forget [lo, hi): ranges inside it go, ranges across its ends are cut, and a range that
 * contains it is split in two. Needs one free slot. */
static void reg_remove_locked(uintptr_t lo, uintptr_t hi) {
  size_t i = reg_find(lo);
  if (i == reg_n || reg[i].lo >= hi) return;
  if (reg[i].lo < lo && reg[i].hi > hi) {    /* split */
    memmove(&reg[i + 1], &reg[i], (reg_n - i) * sizeof *reg);
    reg_n++;
    reg[i].hi = lo;
    reg[i + 1].lo = hi;
    return;
  }
  if (reg[i].lo < lo) {                      /* keep its head */
    reg[i].hi = lo;
    i++;
  }
  size_t j = i;
  while (j < reg_n && reg[j].hi <= hi) j++;  /* [i, j) lie wholly inside: drop them */
  if (j < reg_n && reg[j].lo < hi) reg[j].lo = hi;  /* keep its tail */
  memmove(&reg[i], &reg[j], (reg_n - j) * sizeof *reg);
  reg_n -= j - i;
}

/* Make room for an update (each adds at most one range). Growing records the new array and
 * forgets the old one in the new array, which has room for both. False: out of memory. */
static bool reg_reserve_locked(void) {
  if (reg_n + 2 <= reg_cap) return true;
  size_t ncap = reg_cap ? reg_cap * 2 : ZA_PAGE_SIZE / sizeof *reg;
  reg_range_t *nr = raw_map(ncap * sizeof *reg, 0);
  if (!nr) {
    reg_lost = true;
    return false;
  }
  reg_range_t *old = reg;
  size_t oldcap = reg_cap;
  if (old) memcpy(nr, old, reg_n * sizeof *reg);
  reg = nr;
  reg_cap = ncap;
  reg_add_locked((uintptr_t)nr, (uintptr_t)nr + ncap * sizeof *reg);
  if (old) {
    reg_remove_locked((uintptr_t)old, (uintptr_t)old + oldcap * sizeof *reg);
    munmap(old, oldcap * sizeof *reg);
  }
  return true;
}

static void reg_add(void *p, size_t size) {
  uintptr_t lo = (uintptr_t)p;
  za_lock(&reg_lock);
  if (reg_reserve_locked()) reg_add_locked(lo, page_up(lo + size));
  za_unlock(&reg_lock);
}

static void reg_remove(void *p, size_t size) {
  uintptr_t lo = (uintptr_t)p;
  za_lock(&reg_lock);
  /* Out of room, the range stays recorded: the scan then misses a root it would have read,
   * not memory of ours; mark the registry imprecise either way. */
  if (reg_reserve_locked()) reg_remove_locked(lo, page_up(lo + size));
  za_unlock(&reg_lock);
}

bool za_os_for_each_mapping(void (*fn)(void *ctx, uintptr_t lo, uintptr_t hi), void *ctx) {
  za_lock(&reg_lock);
  for (size_t i = 0; i < reg_n; i++) fn(ctx, reg[i].lo, reg[i].hi);
  bool complete = !reg_lost;
  za_unlock(&reg_lock);
  return complete;
}

size_t za_os_mapping_count(void) {
  za_lock(&reg_lock);
  size_t n = reg_n;
  za_unlock(&reg_lock);
  return n;
}

void za_os_fork_prepare(void) { za_lock(&reg_lock); }
void za_os_fork_parent(void) { za_unlock(&reg_lock); }
void za_os_fork_child(void) { za_lock_reset(&reg_lock); }

/* ---- mappings ------------------------------------------------------------------------------ */

void *za_os_map(size_t size) {
  void *p = raw_map(size, 0);
  if (p) reg_add(p, size);
  return p;
}

void *za_os_reserve(size_t size) {
  void *p = raw_map(size, MAP_NORESERVE);
  if (p) reg_add(p, size);
  return p;
}

/* Over-map by `align`, then trim both ends so the mapping starts on the boundary. */
void *za_os_map_aligned(size_t size, size_t align) {
  if (align <= ZA_PAGE_SIZE) return za_os_map(size);
  if (size > SIZE_MAX - align) return NULL;
  uint8_t *raw = raw_map(size + align, 0);
  if (raw == NULL) return NULL;
  uint8_t *start = (uint8_t *)za_align_up_ptr((uintptr_t)raw, align);
  size_t head = (size_t)(start - raw);
  size_t tail = align - head;
  if (head) munmap(raw, head);
  if (tail) munmap(start + size, tail);
  reg_add(start, size);
  return start;
}

void *za_os_map_fenced(size_t size, size_t align) {
  const size_t page = ZA_PAGE_SIZE;
  if (align < page) align = page;
  if (size > SIZE_MAX - align - page) return NULL;
  size_t len = size + align + page;
  uint8_t *raw = raw_map(len, 0);
  if (raw == NULL) return NULL;
  uint8_t *start = (uint8_t *)za_align_up_ptr((uintptr_t)raw, align), *end = start + size;
  if (start > raw) munmap(raw, (size_t)(start - raw));
  if (end + page < raw + len) munmap(end + page, (size_t)(raw + len - (end + page)));
  za_os_protect(end, page, false);
  reg_add(start, size);
  return start;
}

void za_os_unmap_fenced(void *p, size_t size) {
  reg_remove(p, size);
  munmap(p, size + ZA_PAGE_SIZE);
}

bool za_os_protect(void *p, size_t size, bool accessible) {
  int saved = errno;
  bool ok = mprotect(p, size, accessible ? PROT_READ | PROT_WRITE : PROT_NONE) == 0;
  errno = saved;
  return ok;
}

void za_os_unmap(void *p, size_t size) {
  reg_remove(p, size);
  munmap(p, size);
}

/* Forgotten before the call (the old range may be given back), recorded again after it. */
void *za_os_remap(void *p, size_t old_size, size_t new_size) {
  reg_remove(p, old_size);
  void *q = mremap(p, old_size, new_size, MREMAP_MAYMOVE);
  if (q == MAP_FAILED) {
    reg_add(p, old_size);
    return NULL;
  }
  reg_add(q, new_size);
  return q;
}

void za_os_decommit(void *p, size_t size) { madvise(p, size, MADV_DONTNEED); }

void *za_os_reserve_inaccessible(size_t size) {
  void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return NULL;
  reg_add(p, size);
  return p;
}

bool za_os_make_accessible(void *p, size_t size) {
  int saved = errno;
  bool ok = mprotect(p, size, PROT_READ | PROT_WRITE) == 0;
  errno = saved;
  return ok;
}

/* A fresh inaccessible mapping over the pages: their memory goes back at once, and the new
 * mapping merges with the inaccessible ones around it. */
bool za_os_make_inaccessible(void *p, size_t size) {
  int saved = errno;
  bool ok = mmap(p, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
                 0) != MAP_FAILED;
  errno = saved;
  return ok;
}

uint64_t za_os_read_number(const char *path) {
  int saved = errno;
  char buf[32];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  long n = fd >= 0 ? za_os_read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  errno = saved;
  uint64_t v = 0;
  for (long i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) v = v * 10 + (uint64_t)(buf[i] - '0');
  return v;
}

size_t za_os_count_lines(const char *path) {
  int saved = errno;
  char buf[4096];
  size_t lines = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    long n;
    while ((n = za_os_read(fd, buf, sizeof buf)) > 0)
      for (long i = 0; i < n; i++) lines += buf[i] == '\n';
    close(fd);
  }
  errno = saved;
  return lines;
}

/* A final component that is a symbolic link is followed only if root or this process's
 * effective user owns it, as fs.protected_symlinks does in sticky directories: a link planted
 * by someone else (/tmp/z.log -> ~victim/.bashrc) is refused, /dev/stderr still works. */
static int final_link_rule(const char *path) {
  struct stat ls;
  if (fstatat(AT_FDCWD, path, &ls, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(ls.st_mode) &&
      ls.st_uid != 0 && ls.st_uid != geteuid())
    return -ZA_ERR_SYMLINK;
  return 0;
}

/* The log's open: the link rule above; never blocking (O_NONBLOCK: a FIFO with no reader fails
 * at once instead of hanging), cleared once open; only onto a regular file, a character device
 * (/dev/null, a terminal) or a FIFO with a reader - not a directory, a socket or a disk. */
static int open_log_file(const char *path, int flags) {
  int fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0 && errno == ELOOP) {
    if (final_link_rule(path) < 0) return -ZA_ERR_SYMLINK;
    fd = open(path, flags | O_NONBLOCK | O_CLOEXEC, 0644);
  }
  if (fd < 0) return errno == ENXIO ? -ZA_ERR_NOT_FILE : -errno;
  struct stat st;
  if (fstat(fd, &st) != 0 ||
      !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) {
    close(fd);
    return -ZA_ERR_NOT_FILE;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

int za_os_open_append(const char *path) {
  int saved = errno;
  int fd = open_log_file(path, O_WRONLY | O_CREAT | O_APPEND);
  errno = saved;
  return fd;
}

int za_os_open_read(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

int za_os_check_writable(const char *path) {
  int saved = errno;
  int fd = final_link_rule(path);
  if (fd < 0) {
    errno = saved;
    return fd;
  }
  struct stat st;
  /* A FIFO is not opened now: its reader, seeing its only writer close, would stop. It needs
   * a reader at exit, when there is none is said in one line and the report goes to stderr. */
  if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode)) {
    errno = saved;
    return 0;
  }
  fd = open_log_file(path, O_WRONLY | O_APPEND);
  if (fd >= 0) {
    close(fd);
    errno = saved;
    return 0;
  }
  if (fd != -ENOENT) {
    errno = saved;
    return fd;
  }
  /* Missing: create it to be sure it can be (access() says yes to root where the file system
   * says no), then remove it again. O_EXCL follows no link. */
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  int err = fd < 0 ? (errno == EEXIST ? 0 : -errno) : 0;
  if (fd >= 0) {
    close(fd);
    unlink(path);
  }
  errno = saved;
  return err;
}

long za_os_read(int fd, void *buf, size_t n) {
  long r;
  do r = read(fd, buf, n); while (r < 0 && errno == EINTR);
  return r;
}

long za_os_pread(int fd, void *buf, size_t n, uint64_t offset) {
  long r;
  do r = pread(fd, buf, n, (off_t)offset); while (r < 0 && errno == EINTR);
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

int za_os_write_all(int fd, const char *buf, size_t n) {
  int saved = errno, err = 0;
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      err = w < 0 ? errno : EIO;
      break;
    }
    buf += w;
    n -= (size_t)w;
  }
  errno = saved;
  return err;
}

/* Under a seccomp filter that denies getpid or gettid (EPERM, or a made-up value from
 * SECCOMP_RET_ERRNO), the last answer the kernel gave is kept: the pid, process-wide; the tid,
 * per thread, or for a thread that never got one a number made from where its thread-local
 * storage lies (distinct while the thread lives). */
static _Atomic int known_pid;
static ZA_TLS int known_tid;   /* initial-exec, like all of zalloc's TLS: no __tls_get_addr */

int za_os_getpid(void) {
  long r = syscall(SYS_getpid);
  if (r > 0) {
    atomic_store_explicit(&known_pid, (int)r, memory_order_relaxed);
    return (int)r;
  }
  return atomic_load_explicit(&known_pid, memory_order_relaxed);
}

int za_os_gettid(void) {
  long r = syscall(SYS_gettid);
  if (r > 0) return known_tid = (int)r;
  if (!known_tid) known_tid = (int)(((uintptr_t)&known_tid >> 12) & 0x3fffffff) | 0x40000000;
  return known_tid;
}
void za_os_yield(void) { sched_yield(); }

uint32_t za_os_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

void za_os_futex_wait(atomic_int *addr, int val) {
  int saved = errno;
  syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
  errno = saved;
}

void za_os_futex_wake(atomic_int *addr, int n) {
  int saved = errno;
  syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
  errno = saved;
}

/* The contended path of za_lock (lock.h): spin a little while the holder may be about to
 * release, then sleep. */
void za_lock_wait(za_lock_t *l) {
  for (int spins = 0; spins < 100; spins++) {
    za_cpu_relax();
    int expect = 0;
    if (atomic_load_explicit(&l->held, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_weak_explicit(&l->held, &expect, 1, memory_order_acquire,
                                              memory_order_relaxed))
      return;
  }
  while (atomic_exchange_explicit(&l->held, 2, memory_order_acquire) != 0)
    za_os_futex_wait(&l->held, 2);
}
_Noreturn void za_os_exit(int status) { _exit(status); }

bool za_os_secure(void) { return getauxval(AT_SECURE) != 0; }

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
  case EPERM: return "Operation not permitted";
  case ENXIO: return "No such device or address";
  case EIO: return "Input/output error";
  case EFBIG: return "File too large";
  case EDQUOT: return "Disk quota exceeded";
  case EPIPE: return "Broken pipe";
  case EBADF: return "Bad file descriptor";
  case ZA_ERR_SYMLINK: return "a symbolic link owned by another user, which zalloc does not follow";
  case ZA_ERR_NOT_FILE: return "not a regular file, a character device or a FIFO with a reader";
  default: return "error";
  }
}
