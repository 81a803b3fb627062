/* zalloc - the report's words (see report_words.h). */
#include "report_words.h"
#include "zalloc.h"

#include <signal.h>
#include <string.h>

static const struct { const char *id, *one, *many; } kind_words[ZA_FK_COUNT] = {
  [ZA_FK_DOUBLE_FREE] = {"double-free", "double free", "double free"},
  [ZA_FK_INVALID_FREE] = {"invalid-free", "invalid free", "invalid free"},
  [ZA_FK_BAD_REALLOC] = {"invalid-realloc", "invalid realloc", "invalid realloc"},
  [ZA_FK_BAD_USABLE_SIZE] = {"invalid-usable-size", "invalid malloc_usable_size",
                             "invalid malloc_usable_size"},
  [ZA_FK_BAD_REQUEST] = {"impossible-request", "impossible request", "impossible requests"},
  [ZA_FK_OVERFLOW] = {"heap-overflow", "heap overflow", "heap overflow"},
  [ZA_FK_UNDERFLOW] = {"heap-underflow", "heap underflow", "heap underflow"},
  [ZA_FK_WRITE_AFTER_FREE] = {"write-after-free", "write after free", "write after free"},
  [ZA_FK_MISMATCH] = {"mismatched-deallocation", "mismatched deallocation",
                      "mismatched deallocation"},
};

const char *za_words_kind_id(za_finding_kind_t k) { return k < ZA_FK_COUNT ? kind_words[k].id : "?"; }

const char *za_words_kind_name(za_finding_kind_t k, uint64_t n) {
  return k < ZA_FK_COUNT ? (n == 1 ? kind_words[k].one : kind_words[k].many) : "?";
}

za_finding_kind_t za_words_kind_from_id(const char *id, size_t n) {
  for (int k = 0; k < ZA_FK_COUNT; k++)
    if (strlen(kind_words[k].id) == n && memcmp(kind_words[k].id, id, n) == 0)
      return (za_finding_kind_t)k;
  return ZA_FK_COUNT;
}

static const char *const op_words[] = {
  "free", "realloc", "malloc_usable_size", "malloc", "calloc", "reallocarray", "posix_memalign",
  "aligned_alloc", "memalign", "valloc", "pvalloc", "new", "new[]", "delete", "delete[]",
  "reuse", "exit"};

const char *za_words_op(za_op_t op) {
  return (size_t)op < sizeof op_words / sizeof op_words[0] ? op_words[op] : "?";
}

void za_words_failure(za_out_t *o, const za_rfailure_t *f, bool injected, size_t limit) {
  if (injected)
    za_out_printf(o, "injected failure: %s of %N byte%s failed on purpose, allocation call %N",
                  za_words_op(f->op), f->size, f->size == 1 ? "" : "s", (size_t)f->call);
  else
    za_out_printf(o, "over the limit: %s of %N byte%s refused while the heap held %N of its %N "
                     "bytes (ZALLOC_LIMIT)", za_words_op(f->op), f->size, f->size == 1 ? "" : "s",
                  f->held, limit);
}

const char *za_words_access(za_access_t a) {
  return a == ZA_ACCESS_READ ? "read" : a == ZA_ACCESS_WRITE ? "write" : NULL;
}

const char *za_words_alloc_kind(unsigned kind) {
  static const char *const names[] = {"malloc", "new", "new[]", "?"};
  return names[kind & 3];
}

const char *za_words_leak_class(za_leak_class_t c) {
  static const char *const names[3] = {
    [ZA_LEAK_REACHABLE] = "still reachable",
    [ZA_LEAK_INDIRECT] = "indirectly lost",
    [ZA_LEAK_DEFINITE] = "definitely lost",
  };
  return (unsigned)c < 3 ? names[c] : "?";
}

const char *za_words_leak_class_id(za_leak_class_t c) {
  static const char *const ids[3] = {
    [ZA_LEAK_REACHABLE] = "still-reachable",
    [ZA_LEAK_INDIRECT] = "indirectly-lost",
    [ZA_LEAK_DEFINITE] = "definitely-lost",
  };
  return (unsigned)c < 3 ? ids[c] : "?";
}

/* ---- signals -------------------------------------------------------------------------------- */

const char *za_words_signal(int signo, char *buf, size_t cap) {
  switch (signo) {
  case SIGSEGV: return "SIGSEGV";
  case SIGBUS: return "SIGBUS";
  case SIGFPE: return "SIGFPE";
  case SIGILL: return "SIGILL";
  case SIGABRT: return "SIGABRT";
  case SIGUSR1: return "SIGUSR1";
  case SIGUSR2: return "SIGUSR2";
  case SIGHUP: return "SIGHUP";
  case SIGPWR: return "SIGPWR";
  case SIGWINCH: return "SIGWINCH";
  case SIGTERM: return "SIGTERM";
  case SIGINT: return "SIGINT";
  case SIGKILL: return "SIGKILL";
  case SIGQUIT: return "SIGQUIT";
  case SIGPIPE: return "SIGPIPE";
  case SIGTRAP: return "SIGTRAP";
  case SIGSYS: return "SIGSYS";
  default: za_snprintf(buf, cap, "signal %d", signo); return buf;
  }
}

const char *za_words_signal_code(int signo, int code, const char **code_name) {
  static const struct { int signo, code; const char *name, *meaning; } codes[] = {
    {SIGSEGV, SEGV_MAPERR, "SEGV_MAPERR", "address not mapped to object"},
    {SIGSEGV, SEGV_ACCERR, "SEGV_ACCERR", "invalid permissions for mapped object"},
    {SIGBUS, BUS_ADRALN, "BUS_ADRALN", "invalid address alignment"},
    {SIGBUS, BUS_ADRERR, "BUS_ADRERR", "nonexistent physical address (past the end of a mapped file?)"},
    {SIGBUS, BUS_OBJERR, "BUS_OBJERR", "object-specific hardware error"},
    {SIGFPE, FPE_INTDIV, "FPE_INTDIV", "integer divide by zero"},
    {SIGFPE, FPE_INTOVF, "FPE_INTOVF", "integer overflow"},
    {SIGFPE, FPE_FLTDIV, "FPE_FLTDIV", "floating-point divide by zero"},
    {SIGFPE, FPE_FLTOVF, "FPE_FLTOVF", "floating-point overflow"},
    {SIGFPE, FPE_FLTUND, "FPE_FLTUND", "floating-point underflow"},
    {SIGFPE, FPE_FLTRES, "FPE_FLTRES", "floating-point inexact result"},
    {SIGFPE, FPE_FLTINV, "FPE_FLTINV", "invalid floating-point operation"},
    {SIGILL, ILL_ILLOPC, "ILL_ILLOPC", "illegal opcode"},
    {SIGILL, ILL_ILLOPN, "ILL_ILLOPN", "illegal operand"},
    {SIGILL, ILL_ILLADR, "ILL_ILLADR", "illegal addressing mode"},
    {SIGILL, ILL_ILLTRP, "ILL_ILLTRP", "illegal trap"},
    {SIGILL, ILL_PRVOPC, "ILL_PRVOPC", "privileged opcode"},
    {SIGILL, ILL_BADSTK, "ILL_BADSTK", "internal stack error"},
  };
  *code_name = NULL;
  if (code == SI_USER) { *code_name = "SI_USER"; return "sent by kill"; }
  if (code == SI_TKILL) { *code_name = "SI_TKILL"; return "sent by tkill or raise (abort)"; }
  if (code == SI_QUEUE) { *code_name = "SI_QUEUE"; return "sent by sigqueue"; }
  if (code == SI_KERNEL && signo == SIGSEGV) {
    *code_name = "SI_KERNEL";
    return "general protection fault (a non-canonical address, such as a fill pattern read as a pointer)";
  }
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (codes[i].signo == signo && codes[i].code == code) {
      *code_name = codes[i].name;
      return codes[i].meaning;
    }
  return NULL;
}

/* ---- findings ------------------------------------------------------------------------------- */

static bool is_delete(za_op_t op) { return op == ZA_OP_DELETE || op == ZA_OP_DELETE_ARRAY; }
static bool is_release(za_op_t op) { return op == ZA_OP_FREE || is_delete(op); }

bool za_words_finding_has_thread(const za_finding_t *f) {
  return f->op != ZA_OP_EXIT && f->op != ZA_OP_REUSE;
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

static void corrupt_words(za_out_t *o, const za_finding_t *f) {
  if (f->corrupt == ZA_CORRUPT_WRITE_AFTER_FREE) {
    za_out_printf(o, "write after free: block %p (%N bytes) was written at offset %zd after "
                     "it was freed, %s", (void *)f->addr, f->size, f->offset, found_by(f->op));
  } else if (f->corrupt == ZA_CORRUPT_OVERFLOW) {
    ptrdiff_t past = f->offset - (ptrdiff_t)f->size + 1; /* offset == size: the 1st byte past */
    za_out_printf(o, "heap overflow: block %p (%N bytes) was written at offset %zd (%zd byte%s "
                     "past its end), %s", (void *)f->addr, f->size, f->offset, past,
                  past == 1 ? "" : "s", found_by(f->op));
  } else {
    za_out_printf(o, "heap underflow: block %p (%N bytes) was written at offset %zd (%zd byte%s "
                     "before its start), %s", (void *)f->addr, f->size, f->offset, -f->offset,
                  f->offset == -1 ? "" : "s", found_by(f->op));
  }
}

static void mismatch_words(za_out_t *o, const za_finding_t *f) {
  bool kind_ok = (f->op == ZA_OP_DELETE && f->kind == ZA_KIND_NEW) ||
                 (f->op == ZA_OP_DELETE_ARRAY && f->kind == ZA_KIND_NEW_ARRAY);
  if (kind_ok) /* a sized delete with the wrong size */
    za_out_printf(o, "mismatched deallocation: %s(%p, %zu) of a %N-byte block allocated with %s",
                  za_words_op(f->op), (void *)f->addr, f->args[0], f->size,
                  za_words_alloc_kind(f->kind));
  else
    za_out_printf(o, "mismatched deallocation: %s(%p) of a block allocated with %s (%N bytes)",
                  za_words_op(f->op), (void *)f->addr, za_words_alloc_kind(f->kind), f->size);
}

static void request_words(za_out_t *o, const za_finding_t *f) {
  za_out_printf(o, "impossible request: %s(", za_words_op(f->op));
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
}

void za_words_finding(za_out_t *o, const za_finding_t *f) {
  if (f->request != ZA_REQ_NONE) {
    request_words(o, f);
    return;
  }
  if (f->corrupt != ZA_CORRUPT_NONE) {
    corrupt_words(o, f);
    return;
  }
  if (f->mismatch) {
    mismatch_words(o, f);
    return;
  }
  bool release = is_release(f->op);
  const char *what = release && f->state == ZA_BLOCK_FREED ? "double free"
                     : release                             ? "invalid free"
                                                           : "invalid pointer";
  za_out_printf(o, "%s: %s(%p)", what, za_words_op(f->op), (void *)f->addr);
  if (f->state == ZA_BLOCK_FREED) {
    za_out_str(o, release ? ": the block was already freed" : ": the block was freed");
    if (f->size || release) za_out_printf(o, " (%N bytes)", f->size);
  } else if (f->state == ZA_BLOCK_INTERIOR) {
    za_out_str(o, ": inside zalloc's heap but not the start of a block (interior pointer?)");
  } else {
    za_out_str(o, ": not a block zalloc handed out (another allocator, static or stack memory)");
  }
}

int za_words_finding_stacks(const za_rfinding_t *rf, za_finding_stack_t out[3]) {
  const za_finding_t *f = &rf->f;
  int n = 0;
  bool freed = f->state == ZA_BLOCK_FREED || f->corrupt == ZA_CORRUPT_WRITE_AFTER_FREE;
  bool release = is_release(f->op); /* not a realloc of a freed block */
  if (za_words_finding_has_thread(f))
    out[n++] = (za_finding_stack_t){"at",
                                    release && freed && f->corrupt == ZA_CORRUPT_NONE ? "freed again at" : "at",
                                    0, rf->here};
  if (freed)
    out[n++] = (za_finding_stack_t){"freed",
                                    release && f->state == ZA_BLOCK_FREED ? "first freed at" : "freed at",
                                    f->free_tid, rf->freed};
  if (freed || f->corrupt != ZA_CORRUPT_NONE || f->mismatch)
    out[n++] = (za_finding_stack_t){"allocated", "allocated at", f->alloc_tid, rf->alloc};
  return n;
}

/* ---- suppressions and modules ----------------------------------------------------------------- */

const char *za_words_base_name(const char *path) {
  if (!path) return NULL;
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static bool runtime_module(const char *module) {
  static const char *const runtimes[] = {"libc.so", "libstdc++.so", "ld-linux", "libzalloc.so",
                                         "libgcc_s.so"};
  const char *base = za_words_base_name(module);
  if (!base) return false;
  for (size_t i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++)
    if (strncmp(base, runtimes[i], strlen(runtimes[i])) == 0) return true;
  return false;
}

const za_frame_t *za_words_suppression_frame(const za_rstack_t *s) {
  if (!s || s->nframes == 0) return NULL;
  for (int i = 0; i < s->nframes; i++)
    if (s->frames[i].function && !runtime_module(s->frames[i].module)) return &s->frames[i];
  for (int i = 0; i < s->nframes; i++)
    if (s->frames[i].function) return &s->frames[i];
  return &s->frames[0];
}
