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

void za_finding_record(za_op_t op, const void *p, za_block_state_t state,
                       const za_block_info_t *info) {
  za_finding_t f = {op, state, (uintptr_t)p, state == ZA_BLOCK_FREED ? info->size : 0,
                    za_os_gettid(), 1};
  if (za_opt.abort_on_error) za_report_abort(&f); /* does not return */
  za_lock(&lock);
  if (op == ZA_OP_FREE && state == ZA_BLOCK_FREED) sum.double_free++;
  else if (op == ZA_OP_FREE) sum.invalid_free++;
  else if (op == ZA_OP_REALLOC) sum.bad_realloc++;
  else sum.bad_usable_size++;
  size_t i = 0;
  while (i < sum.listed && !(list[i].addr == f.addr && list[i].op == op && list[i].state == state)) i++;
  if (i < sum.listed) list[i].times++;
  else if (sum.listed < ZA_FINDINGS_MAX) list[sum.listed++] = f;
  else sum.not_listed++;
  za_unlock(&lock);
}

void za_findings_snapshot(za_findings_summary_t *out, za_finding_t *copy) {
  za_lock(&lock);
  *out = sum;
  memcpy(copy, list, sum.listed * sizeof *list);
  za_unlock(&lock);
}

void za_finding_write(za_out_t *o, const char *prefix, const za_finding_t *f) {
  static const char *ops[] = {"free", "realloc", "malloc_usable_size"};
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
  za_out_printf(o, ", thread %d", f->tid);
  if (f->times > 1) za_out_printf(o, ", %N times", (size_t)f->times);
  za_out_str(o, "\n");
}

void za_findings_fork_prepare(void) { za_lock(&lock); }
void za_findings_fork_parent(void) { za_unlock(&lock); }
void za_findings_fork_child(void) {
  memset(&sum, 0, sizeof sum);
  za_lock_reset(&lock);
}
