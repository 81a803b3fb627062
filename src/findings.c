/* zalloc - heap errors seen during the run (see findings.h). */
#include "findings.h"
#include "lock.h"
#include "options.h"
#include "prim.h"
#include "report.h"
#include "zalloc.h"

#include <stdlib.h>
#include <string.h>

static za_lock_t lock = ZA_LOCK_INIT;
static za_finding_t list[ZA_FINDINGS_MAX];
static za_findings_summary_t sum;

static bool same(const za_finding_t *a, const za_finding_t *b) {
  return a->op == b->op && a->request == b->request && a->corrupt == b->corrupt &&
         a->mismatch == b->mismatch && a->state == b->state && a->addr == b->addr &&
         a->args[0] == b->args[0] && a->args[1] == b->args[1] && a->here == b->here;
}

static bool is_delete(za_op_t op) { return op == ZA_OP_DELETE || op == ZA_OP_DELETE_ARRAY; }

static void record(za_finding_t *f) {
  f->tid = za_os_gettid();
  f->times = 1;
  /* Where the program was: not for what the checks at exit or the quarantine found, which
   * happened somewhere unknown before. */
  if (f->op != ZA_OP_EXIT && f->op != ZA_OP_REUSE && za_opt.stack_depth)
    f->here = za_stack_capture(za_opt.stack_depth);
  /* The checks at exit walk the heap under its locks; the report follows at once anyway. */
  if (za_opt.abort_on_error && f->op != ZA_OP_EXIT) za_report_abort(f); /* does not return */
  za_lock(&lock);
  if (f->request != ZA_REQ_NONE) sum.bad_request++;
  else if (f->corrupt == ZA_CORRUPT_OVERFLOW) sum.overflow++;
  else if (f->corrupt == ZA_CORRUPT_UNDERFLOW) sum.underflow++;
  else if (f->corrupt == ZA_CORRUPT_WRITE_AFTER_FREE) sum.write_after_free++;
  else if (f->mismatch) sum.mismatch++;
  else if ((f->op == ZA_OP_FREE || is_delete(f->op)) && f->state == ZA_BLOCK_FREED) sum.double_free++;
  else if (f->op == ZA_OP_FREE || is_delete(f->op)) sum.invalid_free++;
  else if (f->op == ZA_OP_REALLOC) sum.bad_realloc++;
  else sum.bad_usable_size++;
  size_t i = 0;
  while (i < sum.listed && !same(&list[i], f)) i++;
  if (i < sum.listed) list[i].times++;
  else if (sum.listed < ZA_FINDINGS_MAX) list[sum.listed++] = *f;
  else sum.not_listed++;
  za_unlock(&lock);
}

/* The block's own story, from its record. */
static void take_block(za_finding_t *f, const za_block_info_t *info) {
  f->size = info->size;
  f->kind = info->kind;
  f->alloc_stack = info->alloc_stack;
  f->free_stack = info->free_stack;
  f->alloc_tid = info->alloc_tid;
  f->free_tid = info->free_tid;
}

void za_finding_record(za_op_t op, const void *p, za_block_state_t state,
                       const za_block_info_t *info) {
  za_finding_t f = {.op = op, .state = state, .addr = (uintptr_t)p};
  if (state == ZA_BLOCK_FREED) take_block(&f, info);
  record(&f);
}

void za_finding_corrupt(za_corruption_t what, const void *p, const za_block_info_t *info,
                        ptrdiff_t offset, za_op_t when) {
  za_finding_t f = {.op = when, .corrupt = what, .state = ZA_BLOCK_LIVE, .addr = (uintptr_t)p,
                    .offset = offset};
  take_block(&f, info);
  record(&f);
}

void za_finding_mismatch(za_op_t op, const void *p, const za_block_info_t *info, size_t size) {
  za_finding_t f = {.op = op, .mismatch = true, .state = ZA_BLOCK_LIVE, .addr = (uintptr_t)p,
                    .args = {size, 0}};
  take_block(&f, info);
  record(&f);
}

void za_finding_request(za_op_t op, za_request_problem_t why, size_t a, size_t b, const void *p) {
  za_finding_t f = {.op = op, .request = why, .addr = (uintptr_t)p, .args = {a, b}};
  record(&f);
}

void za_findings_snapshot(za_findings_summary_t *out, za_finding_t *copy) {
  za_lock(&lock);
  *out = sum;
  memcpy(copy, list, sum.listed * sizeof *list);
  za_unlock(&lock);
}

static const char *const ops[] = {"free", "realloc", "malloc_usable_size", "malloc", "calloc",
                                  "reallocarray", "posix_memalign", "aligned_alloc", "memalign",
                                  "valloc", "pvalloc", "new", "new[]", "delete", "delete[]",
                                  "reuse", "exit"};
static const char *const kinds[] = {"malloc", "new", "new[]", "?"};

/* One of the stacks that explain a finding: a heading, then a line per frame. */
static void write_stack(za_out_t *o, const char *prefix, const char *heading, int tid,
                        za_stack_id_t id) {
  za_out_printf(o, "%s  %s", prefix, heading);
  if (tid) za_out_printf(o, " (thread %d)", tid);
  if (!id) {
    za_out_str(o, ": no stack recorded\n");
    return;
  }
  za_out_str(o, ":\n");
  char inner[64];
  za_snprintf(inner, sizeof inner, "%s    ", prefix);
  za_stack_write(o, inner, id);
}

/* Every finding line ends the same way: who made the call, and how often; then the stacks
 * that explain it: where it happened, and the block's allocation and free. */
static void write_tail(za_out_t *o, const char *prefix, const za_finding_t *f) {
  if (f->op != ZA_OP_EXIT && f->op != ZA_OP_REUSE) za_out_printf(o, ", thread %d", f->tid);
  if (f->times > 1) za_out_printf(o, ", %N times", (size_t)f->times);
  za_out_str(o, "\n");
  if (!za_opt.stack_depth) return;
  bool freed = f->state == ZA_BLOCK_FREED || f->corrupt == ZA_CORRUPT_WRITE_AFTER_FREE;
  bool release = f->op == ZA_OP_FREE || is_delete(f->op); /* not a realloc of a freed block */
  if (f->op != ZA_OP_EXIT && f->op != ZA_OP_REUSE)
    write_stack(o, prefix, release && freed && f->corrupt == ZA_CORRUPT_NONE ? "freed again at" : "at",
                0, f->here);
  if (freed) write_stack(o, prefix, release && f->state == ZA_BLOCK_FREED ? "first freed at" : "freed at",
                         f->free_tid, f->free_stack);
  if (freed || f->corrupt != ZA_CORRUPT_NONE || f->mismatch)
    write_stack(o, prefix, "allocated at", f->alloc_tid, f->alloc_stack);
}

static const char *found_by(za_op_t op) {
  switch (op) {
  case ZA_OP_EXIT: return "found at exit";
  case ZA_OP_REUSE: return "found when it left the quarantine";
  case ZA_OP_REALLOC: return "found by realloc";
  case ZA_OP_DELETE: return "found by delete";
  case ZA_OP_DELETE_ARRAY: return "found by delete[]";
  default: return "found by free";
  }
}

static void write_corrupt(za_out_t *o, const char *prefix, const za_finding_t *f) {
  if (f->corrupt == ZA_CORRUPT_WRITE_AFTER_FREE) {
    za_out_printf(o, "%swrite after free: block %p (%N bytes) was written at offset %zd after "
                     "it was freed, %s", prefix, (void *)f->addr, f->size, f->offset, found_by(f->op));
  } else if (f->corrupt == ZA_CORRUPT_OVERFLOW) {
    ptrdiff_t past = f->offset - (ptrdiff_t)f->size + 1; /* offset == size: the 1st byte past */
    za_out_printf(o, "%sheap overflow: block %p (%N bytes) was written at offset %zd (%zd byte%s "
                     "past its end), %s", prefix, (void *)f->addr, f->size, f->offset, past,
                  past == 1 ? "" : "s", found_by(f->op));
  } else {
    za_out_printf(o, "%sheap underflow: block %p (%N bytes) was written at offset %zd (%zd byte%s "
                     "before its start), %s", prefix, (void *)f->addr, f->size, f->offset, -f->offset,
                  f->offset == -1 ? "" : "s", found_by(f->op));
  }
  write_tail(o, prefix, f);
}

static void write_mismatch(za_out_t *o, const char *prefix, const za_finding_t *f) {
  bool kind_ok = (f->op == ZA_OP_DELETE && f->kind == ZA_KIND_NEW) ||
                 (f->op == ZA_OP_DELETE_ARRAY && f->kind == ZA_KIND_NEW_ARRAY);
  if (kind_ok) /* a sized delete with the wrong size */
    za_out_printf(o, "%smismatched deallocation: %s(%p, %zu) of a %N-byte block allocated with %s",
                  prefix, ops[f->op], (void *)f->addr, f->args[0], f->size, kinds[f->kind & 3]);
  else
    za_out_printf(o, "%smismatched deallocation: %s(%p) of a block allocated with %s (%N bytes)",
                  prefix, ops[f->op], (void *)f->addr, kinds[f->kind & 3], f->size);
  write_tail(o, prefix, f);
}

static void write_request(za_out_t *o, const char *prefix, const za_finding_t *f) {
  za_out_printf(o, "%simpossible request: %s(", prefix, ops[f->op]);
  if (f->op == ZA_OP_REALLOC || f->op == ZA_OP_REALLOCARRAY) za_out_printf(o, "%p, ", (void *)f->addr);
  if (f->op == ZA_OP_POSIX_MEMALIGN) za_out_str(o, "&p, ");
  za_out_printf(o, "%zu", f->args[0]);
  if (f->op == ZA_OP_CALLOC || f->op == ZA_OP_REALLOCARRAY || f->op == ZA_OP_POSIX_MEMALIGN ||
      f->op == ZA_OP_ALIGNED_ALLOC || f->op == ZA_OP_MEMALIGN)
    za_out_printf(o, ", %zu", f->args[1]);
  za_out_str(o, ")");
  bool einval = f->request == ZA_REQ_BAD_ALIGNMENT;
  if (f->request == ZA_REQ_OVERFLOW)
    za_out_str(o, ": the count times the size does not fit in size_t");
  else if (f->request == ZA_REQ_TOO_LARGE)
    za_out_str(o, ": larger than PTRDIFF_MAX, which no object can be (a negative size?)");
  else if (f->op == ZA_OP_POSIX_MEMALIGN)
    za_out_str(o, ": the alignment must be a power of two and a multiple of sizeof(void *)");
  else
    za_out_str(o, ": the alignment must be a power of two");
  if (f->op == ZA_OP_POSIX_MEMALIGN) za_out_printf(o, "; returned %s", einval ? "EINVAL" : "ENOMEM");
  else za_out_printf(o, "; returned NULL, errno %s", einval ? "EINVAL" : "ENOMEM");
  write_tail(o, prefix, f);
}

void za_finding_write(za_out_t *o, const char *prefix, const za_finding_t *f) {
  if (f->request != ZA_REQ_NONE) {
    write_request(o, prefix, f);
    return;
  }
  if (f->corrupt != ZA_CORRUPT_NONE) {
    write_corrupt(o, prefix, f);
    return;
  }
  if (f->mismatch) {
    write_mismatch(o, prefix, f);
    return;
  }
  bool release = f->op == ZA_OP_FREE || is_delete(f->op);
  const char *what = release && f->state == ZA_BLOCK_FREED ? "double free"
                     : release                             ? "invalid free"
                                                           : "invalid pointer";
  za_out_printf(o, "%s%s: %s(%p)", prefix, what, ops[f->op], (void *)f->addr);
  if (f->state == ZA_BLOCK_FREED) {
    za_out_str(o, release ? ": the block was already freed" : ": the block was freed");
    if (f->size || release) za_out_printf(o, " (%N bytes)", f->size);
  } else if (f->state == ZA_BLOCK_INTERIOR) {
    za_out_str(o, ": inside zalloc's heap but not the start of a block (interior pointer?)");
  } else {
    za_out_str(o, ": not a block zalloc handed out (another allocator, static or stack memory)");
  }
  write_tail(o, prefix, f);
}

void za_findings_fork_prepare(void) { za_lock(&lock); }
void za_findings_fork_parent(void) { za_unlock(&lock); }
void za_findings_fork_child(void) {
  memset(&sum, 0, sizeof sum);
  za_lock_reset(&lock);
}
