/* zalloc - the crash collector (see crash.h). */
#include "crash.h"
#include "gpa.h"
#include "options.h"
#include "prim.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>
#include <ucontext.h>

#define CRASH_DEPTH 32

/* The interrupted thread's stack, walked from its ucontext; its first frame the faulting
 * instruction. Uses stack.c's za_stack_capture_context where it exists. Until then (a
 * temporary fallback): a capture from inside the handler (stack.c hands a signal frame to
 * libunwind, which walks through it), cut at the interrupted instruction. */
extern za_stack_id_t za_stack_capture_context(const void *ucontext, int depth) __attribute__((weak));

static uintptr_t context_pc(const void *uc) {
#if defined(__x86_64__)
  return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.pc;
#else
  (void)uc;
  return 0;
#endif
}

static za_rstack_t *crash_stack(za_report_t *r, const void *uc) {
  uintptr_t pc = context_pc(uc);
  const uintptr_t *pcs;
  int n = 0;
  if (za_stack_capture_context) {
    n = za_stack_get(za_stack_capture_context(uc, CRASH_DEPTH), &pcs);
  } else {
    n = za_stack_get(za_stack_capture(CRASH_DEPTH), &pcs);
    int at = 0;
    while (at < n && pcs[at] != pc) at++;
    if (at < n) {
      pcs += at;
      n -= at;
    } else {
      n = 0;
    }
  }
  if (n > 0) return za_model_stack_pcs(r, pcs, n, true);
  return pc ? za_model_stack_pcs(r, &pc, 1, true) : NULL;
}

/* A page fault's read or write, from the error code the kernel passes (x86-64: bit 1 of
 * REG_ERR, set for a write); unknown elsewhere. */
static za_access_t context_access(const void *uc) {
#if defined(__x86_64__)
  return (((const ucontext_t *)uc)->uc_mcontext.gregs[REG_ERR] & 2) ? ZA_ACCESS_WRITE : ZA_ACCESS_READ;
#else
  (void)uc;
  return ZA_ACCESS_UNKNOWN;
#endif
}

/* ---- where the frames are ------------------------------------------------------------------- */

static const void *module_of(uintptr_t pc) {
  struct dl_find_object dlfo;
  return _dl_find_object((void *)pc, &dlfo) == 0 ? dlfo.dlfo_map_start : NULL;
}

static void classify_frames(za_rcrash_t *c) {
  const void *self = module_of((uintptr_t)classify_frames);
  uintptr_t ld_base = (uintptr_t)getauxval(AT_BASE);   /* the dynamic loader's load address */
  const void *loader = ld_base ? module_of(ld_base) : NULL;
  for (int i = 0; c->stack && i < c->stack->npcs; i++) {
    /* A return address's call is the instruction before it. */
    const void *m = module_of(c->stack->pcs[i] - (i > 0 || !c->stack->exact_first));
    c->in_zalloc |= m && m == self;
    c->in_loader |= m && m == loader && loader != NULL;
  }
}

/* ---- the heap block ----------------------------------------------------------------------------- */

static void find_block(za_report_t *r, za_rcrash_t *c) {
  if (!c->has_addr || !za_backend || !za_backend->locate) return;
  uintptr_t start;
  za_block_info_t info;
  za_block_state_t st = za_backend->locate(c->addr, &start, &info);
  if (st != ZA_BLOCK_LIVE && st != ZA_BLOCK_FREED) return;
  c->block_known = true;
  c->block_state = st;
  c->block = start;
  c->block_info = info;
  c->block_alloc = za_model_stack(r, info.alloc_stack);
  c->block_free = za_model_stack(r, info.free_stack);
}

/* ---- registers ------------------------------------------------------------------------------------ */

/* Six high bytes of one of the fill bytes: a pointer loaded from a freed block or a guard, a
 * small offset added. */
static bool fill_pattern(uintptr_t v) {
  unsigned top = (unsigned)(v >> 56);
  if (top != ZA_FREED_BYTE && top != ZA_GUARD_BYTE) return false;
  for (int shift = 16; shift < 64; shift += 8)
    if (((v >> shift) & 0xff) != top) return false;
  return true;
}

static void find_patterns(za_rcrash_t *c, const void *uc) {
#if defined(__x86_64__)
  static const struct { int reg; const char *name; } regs[] = {
    {REG_RAX, "rax"}, {REG_RBX, "rbx"}, {REG_RCX, "rcx"}, {REG_RDX, "rdx"}, {REG_RSI, "rsi"},
    {REG_RDI, "rdi"}, {REG_RBP, "rbp"}, {REG_R8, "r8"},   {REG_R9, "r9"},   {REG_R10, "r10"},
    {REG_R11, "r11"}, {REG_R12, "r12"}, {REG_R13, "r13"}, {REG_R14, "r14"}, {REG_R15, "r15"}};
  const greg_t *g = ((const ucontext_t *)uc)->uc_mcontext.gregs;
  for (size_t i = 0; i < sizeof regs / sizeof regs[0] && c->npatterns < 4; i++)
    if (fill_pattern((uintptr_t)g[regs[i].reg]))
      c->patterns[c->npatterns++] = (typeof(c->patterns[0])){regs[i].name, (uintptr_t)g[regs[i].reg]};
#else
  (void)c;
  (void)uc;
#endif
}

const char *za_crash_collect(za_report_t *r, int signo, const siginfo_t *info, const void *uc) {
  za_rcrash_t *c = za_rmem_alloc(&r->mem, sizeof *c);
  if (!c) return "out of memory";
  r->crash = c;
  c->signo = signo;
  c->code = info ? info->si_code : 0;
  c->tid = za_os_gettid();
  c->sent = info && info->si_code <= 0;
  /* raise and abort send to themselves: no sender worth naming */
  c->sender_pid = c->sent && info->si_pid != za_os_getpid() ? info->si_pid : 0;
  /* Address 0 too (a NULL pointer); not for a general-protection fault, which has none. */
  c->has_addr = info && !c->sent && (signo == SIGSEGV || signo == SIGBUS) && info->si_code != SI_KERNEL;
  c->addr = c->has_addr ? (uintptr_t)info->si_addr : 0;
  if (c->has_addr && signo == SIGSEGV && uc) c->access = context_access(uc);
  c->stack = uc ? crash_stack(r, uc) : NULL;
  classify_frames(c);
  find_block(r, c);
  if (uc) find_patterns(c, uc);
  if (c->in_zalloc) return "the signal arrived inside zalloc, which may hold its locks";
  if (c->in_loader) return "the signal arrived inside the dynamic loader";
  if (!c->stack || c->stack->npcs < 2) return "the stack could not be walked";
  return NULL;
}
