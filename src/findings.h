/* zalloc - heap errors seen during the run: bad pointers (double free, invalid free, bad
 * realloc or malloc_usable_size pointer) and impossible requests (a size no object can have,
 * a size computation that overflows, an invalid alignment: usually a negative or garbage
 * argument). Each is recorded, with the pointer left alone or the request refused as glibc
 * refuses it, and listed in the exit report; repeats of the same error are counted, not
 * repeated.
 * With ZALLOC_ABORT=1 the first error is printed and the process aborts instead. */
#ifndef ZA_FINDINGS_H
#define ZA_FINDINGS_H
#include "backend.h"
#include "out.h"

typedef enum za_op {
  ZA_OP_FREE, ZA_OP_REALLOC, ZA_OP_USABLE_SIZE, ZA_OP_MALLOC, ZA_OP_CALLOC, ZA_OP_REALLOCARRAY,
  ZA_OP_POSIX_MEMALIGN, ZA_OP_ALIGNED_ALLOC, ZA_OP_MEMALIGN, ZA_OP_VALLOC, ZA_OP_PVALLOC,
} za_op_t;

/* Why a request was impossible. */
typedef enum za_request_problem {
  ZA_REQ_NONE,              /* not a request finding: a bad pointer */
  ZA_REQ_TOO_LARGE,         /* above PTRDIFF_MAX: no object can be that big */
  ZA_REQ_OVERFLOW,          /* count x size does not fit in size_t */
  ZA_REQ_BAD_ALIGNMENT,     /* not an alignment this function accepts */
} za_request_problem_t;

typedef struct za_finding {
  za_op_t op;
  za_request_problem_t request; /* ZA_REQ_NONE for a bad pointer */
  za_block_state_t state;   /* bad pointer: FREED, INTERIOR or FOREIGN */
  uintptr_t addr;           /* the pointer (realloc's, for a request) */
  size_t size;              /* bad pointer: the block's requested size, when FREED and known */
  size_t args[2];           /* request: its size arguments as the program passed them */
  int tid;
  uint64_t times;
} za_finding_t;

#define ZA_FINDINGS_MAX 256

void za_finding_record(za_op_t op, const void *p, za_block_state_t state, const za_block_info_t *info);
/* An impossible request: `a` and `b` are its arguments in the order the function takes them
 * (b is 0 for one-argument functions), `p` realloc's pointer. */
void za_finding_request(za_op_t op, za_request_problem_t why, size_t a, size_t b, const void *p);

typedef struct za_findings_summary {
  uint64_t double_free, invalid_free, bad_realloc, bad_usable_size, bad_request;
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
