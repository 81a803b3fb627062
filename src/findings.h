/* zalloc - heap errors seen during the run: bad pointers (double free, invalid free, bad
 * realloc or malloc_usable_size pointer) and impossible requests (a size no object can have,
 * a size computation that overflows, an invalid alignment: usually a negative or garbage
 * argument). Each is recorded, with the pointer left alone or the request refused as glibc
 * refuses it, and collected into the report (report_model.h); repeats of the same error are
 * counted, not repeated. This file records and collects; it writes nothing.
 * With ZALLOC_ABORT=1 the first error ends the process instead (za_report_first_error). */
#ifndef ZA_FINDINGS_H
#define ZA_FINDINGS_H
#include "backend.h"

typedef enum za_op {
  ZA_OP_FREE, ZA_OP_REALLOC, ZA_OP_USABLE_SIZE, ZA_OP_MALLOC, ZA_OP_CALLOC, ZA_OP_REALLOCARRAY,
  ZA_OP_POSIX_MEMALIGN, ZA_OP_ALIGNED_ALLOC, ZA_OP_MEMALIGN, ZA_OP_VALLOC, ZA_OP_PVALLOC,
  ZA_OP_NEW, ZA_OP_NEW_ARRAY, ZA_OP_DELETE, ZA_OP_DELETE_ARRAY,
  ZA_OP_REUSE,              /* a block leaving the quarantine */
  ZA_OP_EXIT,               /* the checks at exit */
} za_op_t;

/* What a guard or fill-pattern check found. */
typedef enum za_corruption {
  ZA_CORRUPT_NONE,
  ZA_CORRUPT_OVERFLOW,      /* a guard byte after the block changed */
  ZA_CORRUPT_UNDERFLOW,     /* a guard byte before the block changed */
  ZA_CORRUPT_WRITE_AFTER_FREE, /* the freed block's fill pattern changed */
} za_corruption_t;

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
  za_corruption_t corrupt;  /* a broken guard or fill pattern */
  bool mismatch;            /* released with a call that does not match its allocation */
  za_block_state_t state;   /* bad pointer: FREED, INTERIOR or FOREIGN */
  uintptr_t addr;           /* the pointer (realloc's, for a request) */
  size_t size;              /* the block's requested size, when known */
  size_t args[2];           /* request: its size arguments as the program passed them;
                             * mismatch: the size a sized delete passed */
  ptrdiff_t offset;         /* corruption: the first changed byte, from the block's start */
  uint8_t kind;             /* how the block was allocated (za_kind_t) */
  za_stack_id_t here, alloc_stack, free_stack; /* the call that went wrong; the block's */
  int tid, alloc_tid, free_tid;
  uint64_t times;
} za_finding_t;

#define ZA_FINDINGS_MAX 256

/* What a finding is, as the report counts it and ZALLOC_SUPPRESS names it. */
typedef enum za_finding_kind {
  ZA_FK_DOUBLE_FREE, ZA_FK_INVALID_FREE, ZA_FK_BAD_REALLOC, ZA_FK_BAD_USABLE_SIZE,
  ZA_FK_BAD_REQUEST, ZA_FK_OVERFLOW, ZA_FK_UNDERFLOW, ZA_FK_WRITE_AFTER_FREE, ZA_FK_MISMATCH,
  ZA_FK_COUNT
} za_finding_kind_t;

za_finding_kind_t za_finding_kind(const za_finding_t *f);

void za_finding_record(za_op_t op, const void *p, za_block_state_t state, const za_block_info_t *info);
/* A broken guard (`what` OVERFLOW/UNDERFLOW) or fill pattern (WRITE_AFTER_FREE) of the block
 * at `p` described by `info`, first bad byte at p + offset, found by `when` (free, realloc,
 * delete, reuse, exit). */
void za_finding_corrupt(za_corruption_t what, const void *p, const za_block_info_t *info,
                        ptrdiff_t offset, za_op_t when);
/* `p` (a live block, now freed) was released by `op` (free, delete, delete[], with `size` for
 * a sized delete, else 0) but allocated as `info->kind`. */
void za_finding_mismatch(za_op_t op, const void *p, const za_block_info_t *info, size_t size);
/* An impossible request: `a` and `b` are its arguments in the order the function takes them
 * (b is 0 for one-argument functions), `p` realloc's pointer. */
void za_finding_request(za_op_t op, za_request_problem_t why, size_t a, size_t b, const void *p);

typedef struct za_findings_summary {
  union {                   /* occurrences of each kind, by name or by za_finding_kind_t */
    struct {
      uint64_t double_free, invalid_free, bad_realloc, bad_usable_size, bad_request;
      uint64_t overflow, underflow, write_after_free, mismatch;
    };
    uint64_t by_kind[ZA_FK_COUNT];
  };
  size_t listed;            /* entries in the list (at most ZA_FINDINGS_MAX) */
  uint64_t not_listed;      /* errors on further addresses, counted only */
} za_findings_summary_t;

/* Counts, and a copy of the listed findings into `list` (room for ZA_FINDINGS_MAX). */
void za_findings_snapshot(za_findings_summary_t *sum, za_finding_t *list);

struct za_report;
/* The counts and every listed finding, with its stacks, into the report. `signal_safe`: in a
 * signal handler, where the list's lock is only tried (a while); false if it stayed busy (the
 * report then says the findings were not collected). */
bool za_findings_collect(struct za_report *r, bool signal_safe);
void za_findings_fork_prepare(void);
void za_findings_fork_parent(void);
void za_findings_fork_child(void);  /* the child starts with none */
#endif
