/* zalloc - the report's words: what both writers (report_text.c, report_json.c) say the same
 * way, so that neither needs the other: the names of finding kinds, operations, leak classes
 * and signals, the one sentence that describes a finding, and which stacks explain it. Pure
 * functions of the model; async-signal-safe. */
#ifndef ZA_REPORT_WORDS_H
#define ZA_REPORT_WORDS_H
#include "out.h"
#include "report_model.h"

/* "double-free": the kind as JSON and ZALLOC_SUPPRESS spell it. */
const char *za_words_kind_id(za_finding_kind_t k);
/* "double free", or the plural ("impossible requests") for n != 1. */
const char *za_words_kind_name(za_finding_kind_t k, uint64_t n);
/* The kind whose id is `id` (`n` characters), or ZA_FK_COUNT. */
za_finding_kind_t za_words_kind_from_id(const char *id, size_t n);

const char *za_words_op(za_op_t op);                 /* "free", "new[]", ... */
const char *za_words_alloc_kind(unsigned kind);      /* "malloc", "new", "new[]" */
const char *za_words_leak_class(za_leak_class_t c);  /* "definitely lost" */
const char *za_words_leak_class_id(za_leak_class_t c); /* "definitely-lost" */

/* "SIGSEGV" (or "signal 40"), into buf when it must be made up. */
const char *za_words_signal(int signo, char *buf, size_t cap);
/* What si_code says, for the signals zalloc catches: "address not mapped to object"; NULL
 * when there is nothing to say. `code_name` gets "SEGV_MAPERR" (or NULL). */
const char *za_words_signal_code(int signo, int code, const char **code_name);

/* The finding in one sentence, without who or how often: "double free: free(0x...): the block
 * was already freed (32 bytes)". */
void za_words_finding(za_out_t *o, const za_finding_t *f);
/* Whether the finding names the thread that made the call (not one found by a check at exit or
 * when a block left the quarantine). */
bool za_words_finding_has_thread(const za_finding_t *f);

/* An allocation that failed on purpose, in one sentence, without who or how often: "injected
 * failure: malloc of 24 bytes failed on purpose, allocation call 7" or "over the limit: ...". */
void za_words_failure(za_out_t *o, const za_rfailure_t *f, bool injected, size_t limit);
/* "read", "write", or NULL when unknown. */
const char *za_words_access(za_access_t a);

/* The stacks that explain a finding, in the order a report shows them. */
typedef struct za_finding_stack {
  const char *role;           /* "at", "freed", "allocated" (JSON's keys) */
  const char *heading;        /* "freed again at", "first freed at", ... (the text's) */
  int tid;                    /* the thread, where it is not the finding's own (0) */
  za_rstack_t *stack;         /* NULL: no stack recorded */
} za_finding_stack_t;
int za_words_finding_stacks(const za_rfinding_t *rf, za_finding_stack_t out[3]);

/* The frame of a stack a suppression rule should name: the innermost one with a function
 * that is not in the C or C++ runtime (malloc's callers there are everybody's); else the
 * innermost with a function; else the innermost. NULL for no frames. */
const za_frame_t *za_words_suppression_frame(const za_rstack_t *s);
/* A module path's last component. */
const char *za_words_base_name(const char *path);
#endif
