/* zalloc - the report as data: one model of everything a report says, filled by collectors and
 * read by writers.
 *
 * Design
 * ------
 * A report is made in four steps, always in this order, each owning one file:
 *
 *   1. collect   what happened, into a za_report_t (this file's types), without formatting a
 *                single character:
 *                  report.c      the process (pid, parent, command line, mode), how it ended
 *                                (exit, _exit, a fatal signal, on demand, the first error with
 *                                ZALLOC_ABORT) and the statistics;
 *                  findings.c    the heap errors recorded during the run (za_findings_collect);
 *                  leaks.c       the leak check: lost and live blocks grouped by allocation stack
 *                                (za_leaks_collect);
 *                  crash.c       for a fatal signal: where, which thread, and the heap block the
 *                                faulting address is in or near (za_crash_collect);
 *   2. symbolize every stack the model references (symbolize.c): each return address becomes one
 *                or more za_frame_t (inlined calls expanded), in the model's own memory;
 *   3. suppress  (suppress.c): findings and leak groups matching a ZALLOC_SUPPRESS rule are
 *                marked, not removed, so every writer can count them;
 *   4. write     a writer renders the finished model: report_text.c (the ==PID== report) or
 *                report_json.c (one JSON document). Writers read the model only; they know
 *                nothing of each other, of the collectors or of the backend. Words both writers
 *                need (names of kinds, signals and operations; the one-sentence description of
 *                a finding; which stacks explain a finding) live in report_words.c.
 *
 * Collectors never call a writer, and writers never call a collector: report.c (the controller)
 * is the only file that knows the order. The one call back into it is findings.c asking for
 * the process to end at the first error (ZALLOC_ABORT=1): za_report_first_error.
 *
 * Memory: the model and everything it points to live in a za_rmem_t, an arena of anonymous
 * mappings owned by the report and dropped whole when it is written - never the program's heap,
 * so a report cannot change the heap it describes. Made in a signal handler (a crash), the arena
 * maps memory with the raw system call (no lock, nothing registered); otherwise through
 * za_os_map, whose registry keeps the model's own pointers (block addresses) out of the leak
 * check's roots.
 *
 * Signal safety: every step but symbolize's full resolver and the leak check is async-signal-
 * safe (no lock taken without a try, no malloc, only system calls); crash.c decides which steps
 * a crash report can afford (see crash.h). */
#ifndef ZA_REPORT_MODEL_H
#define ZA_REPORT_MODEL_H
#include "backend.h"
#include "findings.h"
#include "leaks.h"
#include "stack.h"

/* ---- memory --------------------------------------------------------------------------------- */

typedef struct za_rmem_chunk za_rmem_chunk_t;
typedef struct za_rmem {
  za_rmem_chunk_t *chunks;
  char *next, *end;         /* free room in the newest chunk */
  bool raw;                 /* signal context: raw mmap, nothing registered */
  bool failed;              /* a mapping could not be had: some item is missing */
} za_rmem_t;

void za_rmem_init(za_rmem_t *m, bool raw);
/* `n` zeroed bytes, 16-byte aligned; NULL (and m->failed) when out of memory. */
void *za_rmem_alloc(za_rmem_t *m, size_t n);
/* A copy of the string (NULL for NULL); `n` bytes of it with za_rmem_strndup. */
const char *za_rmem_strdup(za_rmem_t *m, const char *s);
const char *za_rmem_strndup(za_rmem_t *m, const char *s, size_t n);
void za_rmem_free(za_rmem_t *m);

/* ---- stacks ----------------------------------------------------------------------------------- */

/* One frame as a report shows it. Strings belong to the model (or to the symbol session, which
 * outlives it). */
typedef struct za_frame {
  uintptr_t pc;               /* the return address (the faulting instruction for a crash's
                               * first frame) */
  const char *function;       /* demangled, without a symbol version; NULL: unknown */
  uintptr_t function_offset;  /* pc's offset in the function's symbol (not for inlined ones) */
  const char *file;           /* source file of the call; NULL: no line information */
  int line;
  const char *module;         /* the module's path as loaded; NULL: no module holds pc */
  uintptr_t module_offset;    /* pc - the module's load address */
  bool inlined;               /* a call inlined into the frame after it (the same pc) */
} za_frame_t;

/* A call stack the report references, once however many items share it. `pcs` are
 * innermost first; `frames` are set by symbolize (more than npcs where calls were inlined). */
typedef struct za_rstack {
  za_stack_id_t id;           /* the depot's id; 0 for a stack not in the depot (a crash) */
  const uintptr_t *pcs;
  int npcs;
  bool exact_first;           /* pcs[0] is an instruction, not a return address */
  za_frame_t *frames;
  int nframes;
  struct za_rstack *next;       /* every stack of the report, in the order first referenced */
  struct za_rstack *next_in_table;
} za_rstack_t;

/* ---- what a report says ----------------------------------------------------------------------- */

/* How the process ended, or that it did not (an on-demand report). */
typedef enum za_end_how {
  ZA_END_EXIT,                /* exit(status) or a return from main */
  ZA_END__EXIT,               /* _exit(status) or _Exit(status) */
  ZA_END_SIGNAL,              /* a fatal signal: see za_rcrash_t */
  ZA_END_RUNNING,             /* an on-demand report; the program goes on */
  ZA_END_FIRST_ERROR,         /* ZALLOC_ABORT=1: aborting at the first heap error */
} za_end_how_t;

typedef struct za_rend {
  za_end_how_t how;
  int status;                 /* EXIT, _EXIT: the status the program asked for */
  int exitcode;               /* > 0: ZALLOC_EXITCODE replaced status 0 by this */
  int signo;                  /* SIGNAL: the signal; RUNNING: the report signal */
  unsigned sequence;          /* RUNNING: 1 for the process's first on-demand report */
} za_rend_t;

typedef struct za_rprocess {
  int pid, ppid;
  int forked_from;            /* the parent whose fork made this process image, else 0 */
  const char *command;        /* argv joined with spaces (control characters as spaces) */
  const char *program;        /* the executable's path */
  const char *mode;           /* ZALLOC_MODE's name */
  char image[17];             /* this process image's id, 16 hex digits (tree.h) */
} za_rprocess_t;

typedef struct za_rstats {
  bool known;                 /* false: not collected (a crash while the registry was busy) */
  uint64_t malloc, calloc, realloc, aligned, free;
  uint64_t blocks, bytes;     /* allocated in all */
  uint64_t peak;              /* most bytes in use at once */
  uint64_t live_blocks, live_bytes;
} za_rstats_t;

/* A suppression rule as the report shows it (suppress.c fills this from its rules). */
typedef struct za_rrule {
  const char *text;           /* "leak:libfoo.so*" */
  const char *file;
  int line;
  uint64_t used;              /* findings and leak groups it matched in this report */
} za_rrule_t;

/* A heap error, with its stacks and whether a rule suppressed it. */
typedef struct za_rfinding {
  za_finding_t f;
  za_finding_kind_t kind;
  za_rstack_t *here, *alloc, *freed;   /* NULL where the finding has none */
  const za_rrule_t *suppressed_by;
} za_rfinding_t;

typedef struct za_rleak_group {
  za_leak_class_t cls;
  za_rstack_t *stack;         /* NULL: no stack recorded */
  int tid;                    /* the lowest allocating thread */
  size_t tids;                /* distinct allocating threads */
  size_t blocks, bytes;
  const za_rrule_t *suppressed_by;
} za_rleak_group_t;

typedef enum za_leak_state {
  ZA_LEAKS_NOT_CHECKED,       /* no leak check (arena, ZALLOC_LEAKS=off, a crash) */
  ZA_LEAKS_CHECKED,
  ZA_LEAKS_NO_MEMORY,         /* the check could not map memory for its work */
  ZA_LEAKS_NO_MAPS,           /* /proc/self/maps could not be read (no /proc, seccomp): the
                               * roots are unknown, so nothing is called lost */
} za_leak_state_t;

typedef struct za_rleaks {
  za_leak_state_t state;
  bool running;               /* checked while other threads ran: a pointer only in another
                               * thread's registers is not seen */
  za_leak_totals_t totals;    /* every program block, suppressed ones included */
  za_rleak_group_t *groups;   /* lost groups, then (when listed) reachable ones, each part
                               * largest first */
  size_t ngroups;
  bool reachable_listed;      /* groups include the still-reachable ones */
  int maps_err;               /* ZA_LEAKS_NO_MAPS: the errno of opening /proc/self/maps */
} za_rleaks_t;

/* What the faulting instruction did (x86-64: the page fault's error code), where known. */
typedef enum za_access { ZA_ACCESS_UNKNOWN, ZA_ACCESS_READ, ZA_ACCESS_WRITE } za_access_t;

/* For a fatal signal. */
typedef struct za_rcrash {
  int signo, code;            /* siginfo's signal and si_code */
  int tid;
  bool has_addr;              /* the signal names a faulting address */
  uintptr_t addr;
  za_access_t access;         /* a read or a write of addr (SIGSEGV, SIGBUS) */
  bool sent;                  /* sent by a process (kill, raise, abort), not a fault */
  int sender_pid;
  bool in_zalloc;             /* a frame of the stack is inside zalloc */
  bool in_loader;             /* a frame of the stack is inside the dynamic loader */
  const char *symbols_limited; /* why frames are named from symbol tables only (see crash.h),
                               * or NULL */
  za_rstack_t *stack;
  /* The heap block the address is in or near, as the backend's locate() says. */
  bool block_known;
  za_block_state_t block_state;
  uintptr_t block;            /* its start */
  za_block_info_t block_info;
  za_rstack_t *block_alloc, *block_free;
  /* Registers holding one of zalloc's fill patterns: a pointer read from freed memory or a
   * guard (a general-protection fault has no address to look up). */
  struct { const char *reg; uintptr_t value; } patterns[4];
  int npatterns;
} za_rcrash_t;

/* An allocation that failed on purpose (fail.h). */
typedef struct za_rfailure {
  za_op_t op;                 /* the call (malloc, realloc, new, ...) */
  size_t size;                /* bytes it asked for */
  uint64_t call;              /* its number among the process's allocation calls, from 1 */
  uint64_t times;             /* injected: failures with this stack and call (the first's
                               * number is `call`) */
  size_t held;                /* refused: bytes the heap held then */
  int tid;
  za_rstack_t *stack;         /* NULL: no stack recorded */
} za_rfailure_t;

/* ZALLOC_LIMIT and ZALLOC_FAIL_*: what failed on purpose. */
typedef struct za_rfailures {
  bool active;                /* something is set (else nothing below is shown) */
  bool known;                 /* false: not collected (a crash while the list was busy) */
  size_t limit;               /* ZALLOC_LIMIT; 0: none */
  uint64_t refused;           /* calls refused over the limit */
  za_rfailure_t first_refused;
  const char *injecting;      /* the injection settings in words ("ZALLOC_FAIL_AT=7"), or NULL */
  uint64_t calls;             /* allocation calls counted for injection */
  uint64_t injected;          /* calls failed on purpose */
  za_rfailure_t *listed;      /* by stack and call, in the order they happened */
  size_t nlisted;
  uint64_t not_listed;        /* injected failures beyond the list, counted only */
} za_rfailures_t;

/* Guarded pages (page mode, ZALLOC_SAMPLE; page.h). */
typedef struct za_rguarded {
  bool active;
  uint64_t blocks;            /* blocks put on guarded pages */
  uint64_t fallback;          /* blocks that got the GPA's guard bytes instead */
  uint64_t map_limited;       /* ... of those, because the map limit was near */
  size_t most_live;           /* guarded blocks live at once that the map limit allows */
  uint64_t max_map_count;     /* the kernel's vm.max_map_count */
} za_rguarded_t;

/* A module some frames are in that has no debug information: those frames have no file:line
 * (the report suggests where debug information would come from). */
typedef struct za_rnodebug {
  const char *module;         /* its path */
  const char *build_id;       /* hex, or NULL */
} za_rnodebug_t;

typedef struct za_report {
  za_rmem_t mem;
  za_rprocess_t process;
  za_rend_t end;
  za_rcrash_t *crash;         /* only for ZA_END_SIGNAL */
  za_rstats_t stats;
  size_t deepbind_count;      /* dlopen calls whose RTLD_DEEPBIND was dropped */
  size_t depot_refused;       /* captures of a new stack that the full stack depot refused */
  size_t depot_max;           /* the distinct stacks it holds */
  const char *deepbind_first;
  bool findings_known;        /* false: not collected (the list was busy in a crash) */
  za_findings_summary_t counts;
  za_rfinding_t *findings;    /* counts.listed of them */
  za_rleaks_t leaks;
  za_rfailures_t failures;
  za_rguarded_t guarded;
  za_rrule_t *rules;          /* every ZALLOC_SUPPRESS rule */
  size_t nrules;
  bool print_suppressions;    /* ZALLOC_PRINT_SUPPRESSIONS=1 */
  bool stacks_recorded;       /* ZALLOC_STACK_DEPTH > 0 in a checking mode */
  za_rnodebug_t *nodebug;     /* set by symbolize */
  size_t nnodebug;
  bool symbols_full;          /* frames named by libdw (else from symbol tables only) */
  /* the stacks referenced, by depot id (and those not in the depot) */
  za_rstack_t **stack_table;
  size_t stack_slots;
  za_rstack_t *stacks;        /* every stack, in the order first referenced */
  za_rstack_t **stacks_tail;
  size_t nstacks;
} za_report_t;

/* An empty report whose memory is raw (signal context) or registered. */
void za_model_init(za_report_t *r, bool raw);
void za_model_free(za_report_t *r);
/* The report's stack for depot id `id`, made on first reference; NULL for id 0 (or when out of
 * memory). */
za_rstack_t *za_model_stack(za_report_t *r, za_stack_id_t id);
/* Forget every stack's frames (to name them again another way). */
void za_model_clear_frames(za_report_t *r);
/* A stack that is not in the depot (`pcs` copied). */
za_rstack_t *za_model_stack_pcs(za_report_t *r, const uintptr_t *pcs, int n, bool exact_first);
/* Calls fn for every stack referenced so far. */
void za_model_for_each_stack(za_report_t *r, void (*fn)(void *ctx, za_rstack_t *s), void *ctx);

/* Whether the report has anything to say beyond its figures: a heap error or a definitely lost
 * block not suppressed, or a crash. */
bool za_model_has_errors(const za_report_t *r);
/* Unsuppressed figures: heap errors (occurrences) and definitely lost blocks. */
uint64_t za_model_unsuppressed_errors(const za_report_t *r);
size_t za_model_unsuppressed_definite_blocks(const za_report_t *r);
#endif
