/* zalloc - heap errors seen during the run (see findings.h). */
#include "findings.h"
#include "lock.h"
#include "options.h"
#include "prim.h"
#include "report.h"

#include <stdlib.h>
#include <string.h>

static za_lock_t lock = ZA_LOCK_INIT;
static za_finding_t list[ZA_FINDINGS_MAX];
static za_findings_summary_t sum;

static bool same(const za_finding_t *a, const za_finding_t *b) {
  return a->op == b->op && a->request == b->request && a->state == b->state &&
         a->addr == b->addr && a->args[0] == b->args[0] && a->args[1] == b->args[1];
}

static void record(za_finding_t *f) {
  f->tid = za_os_gettid();
  f->times = 1;
  if (za_opt.abort_on_error) za_report_abort(f); /* does not return */
  za_lock(&lock);
  if (f->request != ZA_REQ_NONE) sum.bad_request++;
  else if (f->op == ZA_OP_FREE && f->state == ZA_BLOCK_FREED) sum.double_free++;
  else if (f->op == ZA_OP_FREE) sum.invalid_free++;
  else if (f->op == ZA_OP_REALLOC) sum.bad_realloc++;
  else sum.bad_usable_size++;
  size_t i = 0;
  while (i < sum.listed && !same(&list[i], f)) i++;
  if (i < sum.listed) list[i].times++;
  else if (sum.listed < ZA_FINDINGS_MAX) list[sum.listed++] = *f;
  else sum.not_listed++;
  za_unlock(&lock);
}

void za_finding_record(za_op_t op, const void *p, za_block_state_t state,
                       const za_block_info_t *info) {
  za_finding_t f = {.op = op, .state = state, .addr = (uintptr_t)p,
                    .size = state == ZA_BLOCK_FREED ? info->size : 0};
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
                                  "valloc", "pvalloc"};

/* Every finding line ends the same way: who made the call, and how often. */
static void write_tail(za_out_t *o, const za_finding_t *f) {
  za_out_printf(o, ", thread %d", f->tid);
  if (f->times > 1) za_out_printf(o, ", %N times", (size_t)f->times);
  za_out_str(o, "\n");
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
  write_tail(o, f);
}

void za_finding_write(za_out_t *o, const char *prefix, const za_finding_t *f) {
  if (f->request != ZA_REQ_NONE) {
    write_request(o, prefix, f);
    return;
  }
  const char *what = f->op == ZA_OP_FREE && f->state == ZA_BLOCK_FREED ? "double free"
                     : f->op == ZA_OP_FREE                             ? "invalid free"
                                                                       : "invalid pointer";
  za_out_printf(o, "%s%s: %s(%p)", prefix, what, ops[f->op], (void *)f->addr);
  if (f->state == ZA_BLOCK_FREED) {
    za_out_str(o, f->op == ZA_OP_FREE ? ": the block was already freed" : ": the block was freed");
    if (f->size || f->op == ZA_OP_FREE) za_out_printf(o, " (%N bytes)", f->size);
  } else if (f->state == ZA_BLOCK_INTERIOR) {
    za_out_str(o, ": inside zalloc's heap but not the start of a block (interior pointer?)");
  } else {
    za_out_str(o, ": not a block zalloc handed out (another allocator, static or stack memory)");
  }
  write_tail(o, f);
}

void za_findings_fork_prepare(void) { za_lock(&lock); }
void za_findings_fork_parent(void) { za_unlock(&lock); }
void za_findings_fork_child(void) {
  memset(&sum, 0, sizeof sum);
  za_lock_reset(&lock);
}
