/* zalloc - the leak check at exit (see leaks.h). This file owns the whole check: collecting the
 * backend's live blocks, the roots (/proc/self/maps minus zalloc's own memory, plus the calling
 * thread's registers and live stack), marking and classifying, and the leak lines of the
 * report.
 *
 * Everything the scan needs comes from za_os_map and goes back with za_os_unmap: it never calls
 * malloc, so the heap it looks at does not change under it. Those mappings are in prim's
 * registry, so the scan does not read its own arrays as roots either.
 *
 * Cost: the blocks are sorted by address (a merge of the runs the walk gives in order), and
 * every word of every root and reached block costs one compare against the heap's bounds, and
 * when it falls inside them and not into the block the word before it reached, a lookup: a
 * table of about 8 entries a block narrows it to a probe or two. Large root mappings are read
 * page by page through /proc/self/pagemap first, so address space a program reserved but never
 * touched is not faulted in. */
#include "leaks.h"
#include "backend.h"
#include "options.h"
#include "prim.h"
#include "prim_signal.h"
#include "report_model.h"

#include <link.h>
#include <string.h>

/* glibc: frees its own caches and buffers (valgrind and glibc's mtrace call it at exit). */
extern void __libc_freeres(void);

/* Words are read from arbitrary memory: let the compiler assume nothing about their type. */
typedef uintptr_t __attribute__((may_alias)) za_word_t;

#define UNREACHED 3                 /* cls[] while marking, next to za_leak_class_t's values */
#define NOT_REPORTED 4              /* cls[] of zalloc's own blocks once classified */
#define MAX_LISTED_GROUPS 100       /* per kind of listing: lost, and still reachable */
#define PAGEMAP_MIN (256 * ZA_KiB)  /* root ranges at least this large are read page by page */

/* ---- memory for the scan --------------------------------------------------------------------- */

typedef struct vec {
  void *p;
  size_t n, cap;         /* elements */
  size_t elem;           /* bytes each */
  bool failed;
} vec_t;

static bool vec_reserve(vec_t *v, size_t want) {
  if (want <= v->cap) return true;
  size_t ncap = v->cap ? v->cap : ZA_PAGE_SIZE / v->elem;
  while (ncap < want) ncap *= 2;
  size_t old_bytes = za_align_up(v->cap * v->elem, ZA_PAGE_SIZE);
  size_t new_bytes = za_align_up(ncap * v->elem, ZA_PAGE_SIZE);
  void *q = v->p ? za_os_remap(v->p, old_bytes, new_bytes) : za_os_map(new_bytes);
  if (!q) {
    v->failed = true;
    return false;
  }
  v->p = q;
  v->cap = new_bytes / v->elem;
  return true;
}

static void *vec_push(vec_t *v) {
  if (v->n == v->cap && !vec_reserve(v, v->n + 1)) return NULL;
  return (char *)v->p + v->n++ * v->elem;
}

static void vec_free(vec_t *v) {
  if (v->p) za_os_unmap(v->p, za_align_up(v->cap * v->elem, ZA_PAGE_SIZE));
  v->p = NULL;
  v->n = v->cap = 0;
}

/* Heapsort: no allocation (glibc's qsort may malloc), no recursion, O(n log n) always. */
static void swap_bytes(char *a, char *b, size_t sz) {
  for (size_t i = 0; i < sz; i++) {
    char t = a[i];
    a[i] = b[i];
    b[i] = t;
  }
}

static void sift_down(char *base, size_t root, size_t n, size_t sz,
                      int (*cmp)(const void *, const void *)) {
  for (size_t child; (child = 2 * root + 1) < n; root = child) {
    if (child + 1 < n && cmp(base + child * sz, base + (child + 1) * sz) < 0) child++;
    if (cmp(base + root * sz, base + child * sz) >= 0) return;
    swap_bytes(base + root * sz, base + child * sz, sz);
  }
}

static void sort_any(void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *)) {
  char *b = base;
  bool sorted = true;
  for (size_t i = 1; i < n && sorted; i++) sorted = cmp(b + (i - 1) * sz, b + i * sz) <= 0;
  if (sorted) return;
  for (size_t i = n / 2; i-- > 0;) sift_down(b, i, n, sz, cmp);
  for (size_t end = n; end-- > 1;) {
    swap_bytes(b, b + end * sz, sz);
    sift_down(b, 0, end, sz, cmp);
  }
}

/* ---- marking and classifying ----------------------------------------------------------------- */

typedef struct marker {
  const za_live_block_t *b;
  size_t n;
  uintptr_t min, span;   /* every block lies in [min, min + span) */
  /* bucket[k]: the last block starting at or below min + (k << shift); a search starts there
   * and ends at the next bucket's, so it is a probe or two where blocks are dense. */
  uint32_t *bucket;
  size_t nbuckets;
  unsigned shift;
  uint8_t *cls;
  uint32_t *work;        /* blocks whose contents are still to be read */
  size_t top;
  /* While flooding: each indirectly lost block's owner, the lost block whose flood reached it;
   * following owners ends at a definitely lost block (a union-find forest, path-compressed). */
  uint32_t *owner;
  size_t start;          /* flooding from this lost block; SIZE_MAX while marking from roots */
  int pagemap_fd;        /* < 0: read root ranges whole */
  bool copy;             /* read memory through za_sig_read_self (other threads run) */
} marker_t;

/* Size 0: one byte, so that its start address (and only that) reaches it. */
static inline size_t reach_len(const za_live_block_t *b) { return b->size ? b->size : 1; }

/* The block `v` points into (start or interior), or SIZE_MAX. */
static inline size_t find_block(const marker_t *m, uintptr_t v) {
  if (v - m->min >= m->span) return SIZE_MAX;
  size_t k = (v - m->min) >> m->shift;
  size_t lo = m->bucket[k];          /* the last block starting at or below v is in [lo, hi) */
  size_t hi = k + 1 < m->nbuckets ? m->bucket[k + 1] + 1 : m->n;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->b[mid].addr <= v) lo = mid;
    else hi = mid;
  }
  return v - m->b[lo].addr < reach_len(&m->b[lo]) ? lo : SIZE_MAX;
}

/* The definitely lost block whose flood (directly or through floods it took over) reached i. */
static size_t flood_root(marker_t *m, size_t i) {
  size_t r = i;
  while (m->cls[r] == ZA_LEAK_INDIRECT) r = m->owner[r];
  while (m->cls[i] == ZA_LEAK_INDIRECT && m->owner[i] != r) {
    size_t next = m->owner[i];
    m->owner[i] = (uint32_t)r;
    i = next;
  }
  return r;
}

/* A word pointing into block i was found. From the roots: an unreached block becomes
 * reachable. While flooding from a lost block: every other lost block it reaches is indirectly
 * lost; one that was definitely lost (an earlier flood's start) is too, and so is the start of
 * any earlier flood that reached a block this one reaches: their blocks are all marked already,
 * so only unreached ones are read. */
static inline void reach(marker_t *m, size_t i) {
  uint8_t c = m->cls[i];
  if (m->start == SIZE_MAX) {
    if (c != UNREACHED) return;
    m->cls[i] = ZA_LEAK_REACHABLE;
  } else {
    if (i == m->start || c == ZA_LEAK_REACHABLE) return;
    if (c == ZA_LEAK_INDIRECT) {
      i = flood_root(m, i);
      if (i == m->start) return;
      c = ZA_LEAK_DEFINITE;
    }
    m->cls[i] = ZA_LEAK_INDIRECT;
    m->owner[i] = (uint32_t)m->start;
    if (c == ZA_LEAK_DEFINITE) return;
  }
  m->work[m->top++] = (uint32_t)i;
}

/* Words pointing into the block the previous hit found are skipped: reaching a block twice
 * changes nothing, and neighbouring words often point into one block (a program's own pools
 * of small objects, carved from one big block). */
static void scan_direct(marker_t *m, uintptr_t lo, uintptr_t hi) {
  const uintptr_t min = m->min, span = m->span;
  uintptr_t last = 0, last_len = 0;
  for (const za_word_t *w = (const za_word_t *)lo; (uintptr_t)w < hi; w++) {
    uintptr_t v = *w;
    if (za_likely(v - min >= span) || v - last < last_len) continue;
    size_t i = find_block(m, v);
    if (i == SIZE_MAX) continue;
    last = m->b[i].addr;
    last_len = reach_len(&m->b[i]);
    reach(m, i);
  }
}

/* While other threads run, memory can be unmapped under the scan (a thread exits, a block is
 * freed): it is copied a page at a time by a system call that fails instead of faulting. */
static void scan_copied(marker_t *m, uintptr_t lo, uintptr_t hi) {
  uintptr_t buf[ZA_PAGE_SIZE / sizeof(uintptr_t)];
  while (lo < hi) {
    uintptr_t end = (lo & ~(uintptr_t)(ZA_PAGE_SIZE - 1)) + ZA_PAGE_SIZE;
    if (end > hi) end = hi;
    long got = za_sig_read_self(buf, lo, end - lo);
    if (got > 0) scan_direct(m, (uintptr_t)buf, (uintptr_t)buf + ((size_t)got & ~(sizeof(uintptr_t) - 1)));
    lo = end;
  }
}

static void scan_words(marker_t *m, uintptr_t lo, uintptr_t hi) {
  lo = za_align_up_ptr(lo, sizeof(uintptr_t));
  hi &= ~(uintptr_t)(sizeof(uintptr_t) - 1);
  if (lo >= hi) return;
  if (za_unlikely(m->copy)) scan_copied(m, lo, hi);
  else scan_direct(m, lo, hi);
}

static void drain(marker_t *m) {
  while (m->top > 0) {
    const za_live_block_t *b = &m->b[m->work[--m->top]];
    scan_words(m, b->addr, b->addr + b->size);
  }
}

/* A root range: the pages of a large one that are neither present nor swapped out (reserved,
 * never touched) are skipped rather than faulted in as zero pages. */
static void scan_root(marker_t *m, uintptr_t lo, uintptr_t hi) {
  if (m->pagemap_fd < 0 || hi - lo < PAGEMAP_MIN) {
    scan_words(m, lo, hi);
    drain(m);
    return;
  }
  uint64_t entries[512];
  uintptr_t page = lo & ~(uintptr_t)(ZA_PAGE_SIZE - 1);
  while (page < hi) {
    size_t want = (hi - page + ZA_PAGE_SIZE - 1) / ZA_PAGE_SIZE;
    if (want > 512) want = 512;
    long got = za_os_pread(m->pagemap_fd, entries, want * sizeof entries[0],
                           (uint64_t)(page / ZA_PAGE_SIZE) * sizeof entries[0]);
    size_t have = got > 0 ? (size_t)got / sizeof entries[0] : 0;
    for (size_t k = 0; k < want; k++, page += ZA_PAGE_SIZE) {
      /* bit 63: present, bit 62: swapped; unreadable entries count as present */
      if (k < have && !(entries[k] >> 62)) continue;
      uintptr_t a = page > lo ? page : lo, z = page + ZA_PAGE_SIZE < hi ? page + ZA_PAGE_SIZE : hi;
      scan_words(m, a, z);
    }
    drain(m);
  }
}

static bool classify(const za_live_block_t *blocks, size_t n, const za_leak_range_t *roots,
                     size_t nroots, uint8_t *cls, int pagemap_fd, bool copy) {
  if (n == 0) return true;
  uintptr_t min = blocks[0].addr, max = 0;
  for (size_t i = 0; i < n; i++) {
    cls[i] = UNREACHED;
    if (blocks[i].addr + reach_len(&blocks[i]) > max) max = blocks[i].addr + reach_len(&blocks[i]);
  }
  /* About 8 buckets a block (32 bytes, as much as the block's entry in the array): on perl's
   * heap at exit, 2 a block left 2.4 probes a lookup; 8 take the whole check from 524 to 458
   * million instructions (docs/performance.md). */
  unsigned shift = 4;
  while (((max - min) >> shift) > 8 * n) shift++;
  size_t nbuckets = ((max - min) >> shift) + 1;
  uint32_t *work = NULL;
  size_t work_bytes = za_align_up((2 * n + nbuckets) * sizeof *work, ZA_PAGE_SIZE);
  if (n > UINT32_MAX / 2 || (work = za_os_map(work_bytes)) == NULL) return false;
  marker_t m = {.b = blocks, .n = n, .cls = cls, .work = work, .owner = work + n,
                .bucket = work + 2 * n, .nbuckets = nbuckets, .shift = shift,
                .start = SIZE_MAX, .pagemap_fd = pagemap_fd, .min = min, .span = max - min,
                .copy = copy};
  for (size_t k = 0, i = 0; k < nbuckets; k++) {
    while (i + 1 < n && blocks[i + 1].addr <= min + ((uintptr_t)k << shift)) i++;
    m.bucket[k] = (uint32_t)i;
  }
  for (size_t r = 0; r < nroots; r++) scan_root(&m, roots[r].lo, roots[r].hi);
  /* What no root reaches is lost. In address order, each lost block not yet known to be
   * reached from another is definitely lost, and floods what it reaches. */
  for (size_t i = 0; i < n; i++) {
    if (cls[i] != UNREACHED) continue;
    cls[i] = ZA_LEAK_DEFINITE;
    m.start = i;
    m.work[m.top++] = (uint32_t)i;
    drain(&m);
  }
  za_os_unmap(work, work_bytes);
  return true;
}

bool za_leaks_classify(const za_live_block_t *blocks, size_t n, const za_leak_range_t *roots,
                       size_t nroots, uint8_t *cls) {
  return classify(blocks, n, roots, nroots, cls, -1, false);
}

/* ---- roots -------------------------------------------------------------------------------------- */

static const void *leaks_self;       /* inside libzalloc.so; NULL: exclude no module */

void za_leaks_init(const void *self) { leaks_self = self; }

/* dl_iterate_phdr callback: the writable segments of the module containing `leaks_self`. */
typedef struct self_segments {
  za_leak_range_t r[8];
  size_t n;
} self_segments_t;

static int find_self(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  self_segments_t *s = arg;
  uintptr_t self = (uintptr_t)leaks_self;
  bool mine = false;
  for (int i = 0; i < info->dlpi_phnum && !mine; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    mine = ph->p_type == PT_LOAD && self >= lo && self < lo + ph->p_memsz;
  }
  if (!mine) return 0;
  for (int i = 0; i < info->dlpi_phnum && s->n < 8; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W)) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    s->r[s->n++] = (za_leak_range_t){lo & ~(uintptr_t)(ZA_PAGE_SIZE - 1),
                                     za_align_up_ptr(lo + ph->p_memsz, ZA_PAGE_SIZE)};
  }
  return 1;
}

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *parse_hex(const char *p, uintptr_t *out) {
  uintptr_t v = 0;
  for (;; p++) {
    unsigned d;
    if (*p >= '0' && *p <= '9') d = (unsigned)(*p - '0');
    else if (*p >= 'a' && *p <= 'f') d = (unsigned)(*p - 'a' + 10);
    else break;
    v = v * 16 + d;
  }
  *out = v;
  return p;
}

/* One line of /proc/self/maps (NUL-terminated): its range if it is a root. Readable and
 * writable, and not [vvar] / [vsyscall] or a device other than /dev/zero (reading device
 * memory can have effects, or fault). */
static bool maps_line_root(const char *line, za_leak_range_t *r) {
  const char *p = parse_hex(line, &r->lo);
  if (*p != '-') return false;
  p = parse_hex(p + 1, &r->hi);
  if (*p != ' ' || p[1] != 'r' || p[2] != 'w' || r->hi <= r->lo) return false;
  for (int field = 0; field < 4 && *p; field++) { /* perms, offset, dev, inode */
    while (*p == ' ') p++;
    while (*p && *p != ' ') p++;
  }
  while (*p == ' ') p++;
  if (starts_with(p, "[vvar") || starts_with(p, "[vsyscall")) return false;
  if (starts_with(p, "/dev/") && !starts_with(p, "/dev/zero") && !starts_with(p, "/dev/shm/"))
    return false;
  return true;
}

/* /proc/self/maps, whole, into a fresh mapping (*cap bytes): read again into a larger one
 * until it fits, so the text never describes a buffer that has since moved. */
static char *read_maps(size_t *len, size_t *cap, int *maps_err) {
  for (size_t size = ZA_MiB;; size *= 2) {
    char *text = za_os_reserve(size);
    if (!text) return NULL;
    int fd = za_os_open_read("/proc/self/maps");
    if (fd < 0) {
      *maps_err = -fd;
      za_os_unmap(text, size);
      return NULL;
    }
    size_t n = 0;
    long got;
    while (n < size - 1 && (got = za_os_read(fd, text + n, size - 1 - n)) > 0) n += (size_t)got;
    za_os_close(fd);
    if (n < size - 1) {
      text[n] = '\0';
      *len = n;
      *cap = size;
      return text;
    }
    za_os_unmap(text, size);
  }
}

typedef struct bounded {
  za_leak_range_t *r;
  size_t n, max;
} bounded_t;

static void add_exclusion(void *ctx, uintptr_t lo, uintptr_t hi) {
  bounded_t *b = ctx;
  if (b->n < b->max) b->r[b->n] = (za_leak_range_t){lo, hi};
  b->n++;
}

static int cmp_range(const void *a, const void *b) {
  const za_leak_range_t *x = a, *y = b;
  return (x->lo > y->lo) - (x->lo < y->lo);
}

/* zalloc's own memory: the registry's mappings and libzalloc.so's writable segments, sorted
 * and merged. */
static bool collect_exclusions(vec_t *excl) {
  self_segments_t self = {.n = 0};
  if (leaks_self) dl_iterate_phdr(find_self, &self);
  for (size_t want = za_os_mapping_count() + self.n + 16;; want *= 2) {
    if (!vec_reserve(excl, want)) return false;
    bounded_t b = {excl->p, 0, excl->cap - self.n};
    za_os_for_each_mapping(add_exclusion, &b);
    excl->n = b.n;
    if (b.n <= b.max) break;  /* else mappings came meanwhile: more room, and again */
  }
  za_leak_range_t *e = excl->p;
  for (size_t i = 0; i < self.n; i++) e[excl->n++] = self.r[i];
  sort_any(e, excl->n, sizeof *e, cmp_range);
  size_t k = 0;
  for (size_t i = 0; i < excl->n; i++) {
    if (k > 0 && e[i].lo <= e[k - 1].hi) {
      if (e[i].hi > e[k - 1].hi) e[k - 1].hi = e[i].hi;
    } else {
      e[k++] = e[i];
    }
  }
  excl->n = k;
  return true;
}

/* The roots: the maps' readable, writable ranges minus the exclusions; the range holding the
 * calling thread's stack pointer starts at it (below it is dead data). */
static bool collect_roots(vec_t *roots, uintptr_t sp, int *maps_err) {
  size_t len, cap;
  char *text = read_maps(&len, &cap, maps_err);
  if (!text) return false;
  size_t lines = 1;
  for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
  vec_t excl = {.elem = sizeof(za_leak_range_t)};
  bool ok = vec_reserve(roots, lines) && collect_exclusions(&excl) &&
            vec_reserve(roots, lines + excl.n);
  if (!ok) {
    vec_free(&excl);
    za_os_unmap(text, cap);
    return false;
  }
  const za_leak_range_t *e = excl.p;
  za_leak_range_t *out = roots->p;
  size_t k = 0;   /* the first exclusion that may overlap the current range */
  for (char *line = text; *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    za_leak_range_t r;
    if (maps_line_root(line, &r)) {
      if (sp >= r.lo && sp < r.hi) r.lo = sp;
      while (k < excl.n && e[k].hi <= r.lo) k++;
      for (size_t j = k; j < excl.n && e[j].lo < r.hi; j++) {
        if (e[j].lo > r.lo) out[roots->n++] = (za_leak_range_t){r.lo, e[j].lo};
        if (e[j].hi > r.lo) r.lo = e[j].hi;
      }
      if (r.lo < r.hi) out[roots->n++] = r;
    }
    if (!nl) break;
    line = nl + 1;
  }
  vec_free(&excl);
  za_os_unmap(text, cap);
  return true;
}

/* ---- the live blocks --------------------------------------------------------------------------- */

static void add_block(void *ctx, const za_live_block_t *b) {
  za_live_block_t *slot = vec_push(ctx);
  if (slot) *slot = *b;
}

static int cmp_block(const void *a, const void *b) {
  const za_live_block_t *x = a, *y = b;
  return (x->addr > y->addr) - (x->addr < y->addr);
}

/* The live blocks in address order. The walk gives them in runs already in order (a page's
 * slots, a segment's pages), so a merge of those runs through a second array is a few passes
 * over memory; the generic heap sort (a call per compare, a byte loop per swap) took about as
 * long as the rest of the check on perl's heap. Without memory for the second array, the heap
 * sort. */
static void sort_blocks(za_live_block_t *b, size_t n) {
  size_t sorted = 1;
  while (sorted < n && b[sorted - 1].addr <= b[sorted].addr) sorted++;
  if (sorted >= n) return;
  size_t bytes = za_align_up(n * sizeof *b, ZA_PAGE_SIZE);
  za_live_block_t *tmp = za_os_map(bytes);
  if (!tmp) {
    sort_any(b, n, sizeof *b, cmp_block);
    return;
  }
  za_live_block_t *from = b, *to = tmp;
  for (;;) {
    size_t runs = 0;
    for (size_t lo = 0; lo < n; runs++) {
      size_t mid = lo + 1;
      while (mid < n && from[mid - 1].addr <= from[mid].addr) mid++;
      size_t hi = mid;
      if (mid < n) {
        hi = mid + 1;
        while (hi < n && from[hi - 1].addr <= from[hi].addr) hi++;
      }
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) to[k++] = from[j].addr < from[i].addr ? from[j++] : from[i++];
      while (i < mid) to[k++] = from[i++];
      while (j < hi) to[k++] = from[j++];
      lo = hi;
    }
    za_live_block_t *t = from;
    from = to;
    to = t;
    if (runs <= 1) break;
  }
  if (from != b) memcpy(b, from, n * sizeof *b);
  za_os_unmap(tmp, bytes);
}

/* ---- the groups ------------------------------------------------------------------------------ */

typedef struct group {
  uint8_t cls;
  za_stack_id_t stack;
  int tid;               /* the lowest allocating thread */
  size_t tids;           /* distinct allocating threads */
  size_t blocks, bytes;
} group_t;

static int cmp_key(const group_t *x, const group_t *y) {
  if (x->cls != y->cls) return x->cls < y->cls ? -1 : 1;
  if (x->stack != y->stack) return x->stack < y->stack ? -1 : 1;
  return (x->tid > y->tid) - (x->tid < y->tid);
}

static int cmp_entry(const void *a, const void *b) { return cmp_key(a, b); }

/* Largest first; at equal bytes definite before indirect before reachable, then by stack. */
static int cmp_group(const void *a, const void *b) {
  const group_t *x = a, *y = b;
  if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
  if (x->cls != y->cls) return x->cls > y->cls ? -1 : 1;
  return (x->stack > y->stack) - (x->stack < y->stack);
}

/* Group the blocks of the classes in `want` (a bit per class) by class, stack and thread, then
 * merge the threads: `groups` ends sorted as cmp_group says. */
static bool make_groups(const za_live_block_t *b, const uint8_t *cls, size_t n, unsigned want,
                        vec_t *groups) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++) count += (want >> cls[i]) & 1;
  if (count == 0) return true;
  if (!vec_reserve(groups, count)) return false;
  group_t *g = groups->p;
  for (size_t i = 0; i < n; i++)
    if ((want >> cls[i]) & 1)
      g[groups->n++] = (group_t){.cls = cls[i], .stack = b[i].alloc_stack, .tid = b[i].tid,
                                 .tids = 1, .blocks = 1, .bytes = b[i].size};
  sort_any(g, count, sizeof *g, cmp_entry);
  size_t k = 0;
  int prev_tid = 0;
  for (size_t i = 0; i < count; i++) {
    group_t e = g[i];
    group_t *last = k ? &g[k - 1] : NULL;
    if (last && last->cls == e.cls && last->stack == e.stack) {
      last->tids += e.tid != prev_tid;
      last->blocks++;
      last->bytes += e.bytes;
    } else {
      g[k++] = e;
    }
    prev_tid = e.tid;
  }
  groups->n = k;
  sort_any(g, k, sizeof *g, cmp_group);
  return true;
}

/* Append the groups of the classes in `want` to the report's. */
static bool add_groups(za_report_t *r, const za_live_block_t *b, const uint8_t *cls, size_t n,
                       unsigned want) {
  vec_t groups = {.elem = sizeof(group_t)};
  bool ok = make_groups(b, cls, n, want, &groups);
  za_rleaks_t *lk = &r->leaks;
  za_rleak_group_t *all = ok && groups.n ? za_rmem_alloc(&r->mem, (lk->ngroups + groups.n) * sizeof *all) : NULL;
  if (all) {
    if (lk->ngroups) memcpy(all, lk->groups, lk->ngroups * sizeof *all);
    const group_t *g = groups.p;
    for (size_t i = 0; i < groups.n; i++)
      all[lk->ngroups + i] = (za_rleak_group_t){
        .cls = (za_leak_class_t)g[i].cls, .stack = za_model_stack(r, g[i].stack), .tid = g[i].tid,
        .tids = g[i].tids, .blocks = g[i].blocks, .bytes = g[i].bytes};
    lk->groups = all;
    lk->ngroups += groups.n;
  } else if (ok && groups.n) {
    ok = false;
  }
  vec_free(&groups);
  return ok;
}

/* ---- the check --------------------------------------------------------------------------------- */

/* The scan proper, below the frame of za_leaks_scan that holds the registers. */
static ZA_NOINLINE void scan(za_live_walk_t walk, za_report_t *r, bool running, uintptr_t sp) {
  za_rleaks_t *lk = &r->leaks;
  vec_t blocks = {.elem = sizeof(za_live_block_t)};
  vec_t roots = {.elem = sizeof(za_leak_range_t)};
  uint8_t *cls = NULL;
  size_t cls_bytes = 0;
  walk(add_block, &blocks);
  za_live_block_t *b = blocks.p;
  size_t n = blocks.n;
  bool ok = !blocks.failed;
  /* zalloc's own blocks (and a forked child's inherited ones) are scanned only for the blocks
   * they reach: with none to report, there is nothing to classify, and /proc/self/maps is not
   * even read. */
  size_t program_blocks = 0;
  for (size_t i = 0; ok && i < n; i++) program_blocks += !b[i].internal && !b[i].inherited;
  if (ok && program_blocks > 0) {
    sort_blocks(b, n);
    /* Before the roots are read, so that every mapping the scan makes is in the registry. */
    cls_bytes = za_align_up(n, ZA_PAGE_SIZE);
    ok = (cls = za_os_map(cls_bytes)) != NULL && collect_roots(&roots, sp, &lk->maps_err);
  }
  int pagemap = ok && program_blocks > 0 ? za_os_open_read("/proc/self/pagemap") : -1;
  if (ok && program_blocks > 0) ok = classify(b, n, roots.p, roots.n, cls, pagemap, running);
  if (pagemap >= 0) za_os_close(pagemap);
  lk->running = running;
  if (!ok) {
    /* Without the maps the roots are unknown: calling blocks lost would be guessing. */
    lk->state = lk->maps_err ? ZA_LEAKS_NO_MAPS : ZA_LEAKS_NO_MEMORY;
  } else {
    lk->state = ZA_LEAKS_CHECKED;
    for (size_t i = 0; i < n && program_blocks > 0; i++) {
      if (b[i].internal || b[i].inherited) {
        cls[i] = NOT_REPORTED;
        continue;
      }
      lk->totals.blocks[cls[i]]++;
      lk->totals.bytes[cls[i]] += b[i].size;
    }
    if (program_blocks > 0) {
      const unsigned lost = 1u << ZA_LEAK_DEFINITE | 1u << ZA_LEAK_INDIRECT;
      bool all = za_opt.leaks == ZA_LEAKS_ALL || running;
      bool grouped = add_groups(r, b, cls, n, lost) &&
                     (!all || add_groups(r, b, cls, n, 1u << ZA_LEAK_REACHABLE));
      lk->reachable_listed = all && grouped;
      if (!grouped) lk->state = ZA_LEAKS_NO_MEMORY;
    }
  }
  if (cls) za_os_unmap(cls, cls_bytes);
  vec_free(&roots);
  vec_free(&blocks);
}

static uintptr_t stack_floor; /* see za_leaks_stack_floor */

/* Not inlined, and the callee-saved registers spilled into this frame: the stack from here up
 * holds every pointer the calling thread has, and scan() runs below it. */
ZA_NOINLINE void za_leaks_scan(za_live_walk_t walk, za_report_t *r, bool running) {
  memset(&r->leaks, 0, sizeof r->leaks);
  if (walk == NULL || za_opt.leaks == ZA_LEAKS_OFF) return;
  __builtin_unwind_init();
  uintptr_t sp;
#if defined(__x86_64__)
  __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
#elif defined(__aarch64__)
  __asm__ volatile("mov %0, sp" : "=r"(sp));
#else
  volatile char here;
  sp = (uintptr_t)&here;
#endif
  /* Above the floor, if one was set: the frames between it and here are zalloc's own, whose
   * uninitialised buffers hold stale words from earlier, deeper calls. */
  if (stack_floor > sp) sp = stack_floor;
  scan(walk, r, running, sp & ~(uintptr_t)(sizeof(uintptr_t) - 1));
  __asm__ volatile("" ::: "memory");  /* keep this frame (and its spills) live until here */
}

void za_leaks_collect(za_report_t *r, bool running) {
  za_live_walk_t walk = za_backend ? za_backend->for_each_live : NULL;
  /* glibc's caches are freed only when nothing will use them again: at the end. */
  if (walk && za_opt.leaks != ZA_LEAKS_OFF && !running) __libc_freeres();
  za_leaks_scan(walk, r, running);
}

void za_leaks_stack_floor(const void *floor) { stack_floor = (uintptr_t)floor; }
