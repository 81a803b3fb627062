/* zalloc - heap errors seen during the run (see findings.h). */
#include "findings.h"
#include "lock.h"
#include "options.h"
#include "prim.h"
#include "report.h"
#include "report_model.h"
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

za_finding_kind_t za_finding_kind(const za_finding_t *f) {
  if (f->request != ZA_REQ_NONE) return ZA_FK_BAD_REQUEST;
  if (f->corrupt == ZA_CORRUPT_OVERFLOW) return ZA_FK_OVERFLOW;
  if (f->corrupt == ZA_CORRUPT_UNDERFLOW) return ZA_FK_UNDERFLOW;
  if (f->corrupt == ZA_CORRUPT_WRITE_AFTER_FREE) return ZA_FK_WRITE_AFTER_FREE;
  if (f->mismatch) return ZA_FK_MISMATCH;
  bool release = f->op == ZA_OP_FREE || is_delete(f->op);
  if (release) return f->state == ZA_BLOCK_FREED ? ZA_FK_DOUBLE_FREE : ZA_FK_INVALID_FREE;
  return f->op == ZA_OP_REALLOC ? ZA_FK_BAD_REALLOC : ZA_FK_BAD_USABLE_SIZE;
}

static void record(za_finding_t *f) {
  f->tid = za_os_gettid();
  f->times = 1;
  /* Where the program was: not for what the checks at exit or the quarantine found, which
   * happened somewhere unknown before. */
  if (f->op != ZA_OP_EXIT && f->op != ZA_OP_REUSE && za_opt.stack_depth)
    f->here = za_stack_capture(za_opt.stack_depth);
  /* The checks at exit walk the heap under its locks; the report follows at once anyway. */
  if (za_opt.abort_on_error && f->op != ZA_OP_EXIT) za_report_first_error(f); /* no return */
  za_lock(&lock);
  sum.by_kind[za_finding_kind(f)]++;
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

bool za_findings_collect(za_report_t *r, bool signal_safe) {
  za_rfinding_t *out = za_rmem_alloc(&r->mem, ZA_FINDINGS_MAX * sizeof *out);
  if (!out) return false;
  if (signal_safe) {
    /* The interrupted code may hold the lock, on this thread or another: never wait. */
    if (!za_lock_try(&lock, 1000)) return false;
  } else {
    za_lock(&lock);
  }
  r->counts = sum;
  for (size_t i = 0; i < sum.listed; i++) out[i].f = list[i];
  za_unlock(&lock);
  for (size_t i = 0; i < r->counts.listed; i++) {
    za_rfinding_t *rf = &out[i];
    rf->kind = za_finding_kind(&rf->f);
    rf->here = za_model_stack(r, rf->f.here);
    rf->alloc = za_model_stack(r, rf->f.alloc_stack);
    rf->freed = za_model_stack(r, rf->f.free_stack);
  }
  r->findings = out;
  r->findings_known = true;
  return true;
}

void za_findings_fork_prepare(void) { za_lock(&lock); }
void za_findings_fork_parent(void) { za_unlock(&lock); }
void za_findings_fork_child(void) {
  memset(&sum, 0, sizeof sum);
  za_lock_reset(&lock);
}
