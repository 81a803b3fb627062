/* zalloc - heap errors seen during the run (double free, invalid free, bad realloc or
 * malloc_usable_size pointer). Each is recorded, with the pointer left alone, and listed in
 * the exit report; repeats of the same error on the same address are counted, not repeated.
 * With ZALLOC_ABORT=1 the first error is printed and the process aborts instead. */
#ifndef ZA_FINDINGS_H
#define ZA_FINDINGS_H
#include "backend.h"
#include "out.h"

typedef enum za_op { ZA_OP_FREE, ZA_OP_REALLOC, ZA_OP_USABLE_SIZE } za_op_t;

typedef struct za_finding {
  za_op_t op;
  za_block_state_t state;   /* FREED, INTERIOR or FOREIGN */
  uintptr_t addr;
  size_t size;              /* the block's requested size, when state is FREED and known */
  int tid;
  uint64_t times;
} za_finding_t;

#define ZA_FINDINGS_MAX 256

void za_finding_record(za_op_t op, const void *p, za_block_state_t state, const za_block_info_t *info);

typedef struct za_findings_summary {
  uint64_t double_free, invalid_free, bad_realloc, bad_usable_size;
  size_t listed;            /* entries in the list (at most ZA_FINDINGS_MAX) */
  uint64_t not_listed;      /* errors on further addresses, counted only */
} za_findings_summary_t;

/* Counts, and a copy of the listed findings into `list` (room for ZA_FINDINGS_MAX). */
void za_findings_snapshot(za_findings_summary_t *sum, za_finding_t *list);
/* One line describing a finding, prefixed with `prefix`. */
void za_finding_write(za_out_t *o, const char *prefix, const za_finding_t *f);
void za_findings_fork_prepare(void);
void za_findings_fork_parent(void);
void za_findings_fork_child(void);  /* the child starts with none */
#endif
