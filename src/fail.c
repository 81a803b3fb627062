/* zalloc - allocations that fail on purpose (see fail.h). */
#include "fail.h"
#include "arena.h"
#include "gpa.h"
#include "elfsym.h"
#include "lock.h"
#include "options.h"
#include "prim.h"
#include "report_model.h"
#include "report_words.h"
#include "stack.h"
#include "suppress.h"

#include <string.h>

bool za_fail_on;
static bool injecting;            /* ZALLOC_FAIL_AT, _EVERY, _RATE or _MATCH */
static bool census;               /* ZALLOC_FAIL_SITES */
static char settings[ZA_MATCH_MAX + 160];  /* the injection settings in words, for the report */

static za_lock_t lock = ZA_LOCK_INIT;   /* the lists below */

/* ---- what failed ----------------------------------------------------------------------------- */

typedef struct failrec {
  za_op_t op;
  size_t size;
  uint64_t call, times;
  size_t held;
  int tid;
  za_stack_id_t stack;
} failrec_t;

#define LISTED_MAX 256
static failrec_t listed[LISTED_MAX];
static size_t nlisted;
static uint64_t injected, not_listed;
static uint64_t refused;
static failrec_t first_refused;

static za_stack_id_t capture(void) {
  return za_opt.stack_depth ? za_stack_capture(za_opt.stack_depth) : 0;
}

static void note_injected(za_op_t op, size_t size, uint64_t call, za_stack_id_t stack) {
  za_lock(&lock);
  injected++;
  size_t i = 0;
  while (i < nlisted && !(listed[i].stack == stack && listed[i].op == op)) i++;
  if (i < nlisted) listed[i].times++;
  else if (nlisted < LISTED_MAX)
    listed[nlisted++] = (failrec_t){op, size, call, 1, 0, za_os_gettid(), stack};
  else not_listed++;
  za_unlock(&lock);
}

/* ---- the budget -------------------------------------------------------------------------------- */

static _Atomic size_t held;       /* bytes of the program's live blocks */

static void note_refused(za_op_t op, size_t size, size_t now) {
  za_stack_id_t stack = 0;
  bool first = false;
  za_lock(&lock);
  first = refused++ == 0;
  za_unlock(&lock);
  if (!first) return;
  stack = capture();
  za_lock(&lock);
  first_refused = (failrec_t){op, size, 0, 1, now, za_os_gettid(), stack};
  za_unlock(&lock);
}

bool za_budget_take(size_t add, size_t freeing, za_op_t op, size_t size) {
  size_t limit = za_opt.limit;
  if (!limit) return true;
  size_t now = atomic_load_explicit(&held, memory_order_relaxed);
  for (;;) {
    size_t after = now - (freeing < now ? freeing : now);
    if (add > limit || after > limit - add) {
      note_refused(op, size, now);
      return false;
    }
    if (atomic_compare_exchange_weak_explicit(&held, &now, now + add, memory_order_relaxed,
                                              memory_order_relaxed))
      return true;
  }
}

void za_budget_release(size_t n) {
  if (za_opt.limit) atomic_fetch_sub_explicit(&held, n, memory_order_relaxed);
}

void za_budget_resized(size_t old, size_t now) {
  if (!za_opt.limit) return;
  if (now >= old) atomic_fetch_add_explicit(&held, now - old, memory_order_relaxed);
  else atomic_fetch_sub_explicit(&held, old - now, memory_order_relaxed);
}

static bool budget_fits(size_t old, size_t size, za_op_t op) {
  size_t limit = za_opt.limit;
  if (!limit) return true;
  size_t now = atomic_load_explicit(&held, memory_order_relaxed);
  size_t after = now - (old < now ? old : now);
  if (size <= limit && after <= limit - size) return true;
  note_refused(op, size, now);
  return false;
}

/* ---- ZALLOC_FAIL_MATCH ------------------------------------------------------------------------- */

/* Verdicts by stack id (0 unknown, 1 no, 2 yes): a stack is named once. */
#define VERDICTS ((size_t)1 << 20)
static _Atomic uint8_t *verdicts;

static bool frame_matches(uintptr_t pc) {
  za_elfsym_t s;
  if (!za_elfsym_lookup(pc - 1, &s)) return false;   /* return addresses: the call before */
  const char *pat = za_opt.fail_match;
  return (s.function && za_suppress_glob(pat, s.function)) ||
         (s.module && (za_suppress_glob(pat, s.module) ||
                       za_suppress_glob(pat, za_words_base_name(s.module))));
}

static bool stack_matches(za_stack_id_t id) {
  if (!id) return false;
  if (verdicts && id < VERDICTS) {
    uint8_t v = atomic_load_explicit(&verdicts[id], memory_order_relaxed);
    if (v) return v == 2;
  }
  const uintptr_t *pcs;
  int n = za_stack_get(id, &pcs);
  while (!za_elfsym_try_begin()) za_os_yield();  /* shared with the reports' resolver */
  bool yes = false;
  for (int i = 0; i < n && !yes; i++) yes = frame_matches(pcs[i]);
  za_elfsym_end();
  if (verdicts && id < VERDICTS) atomic_store_explicit(&verdicts[id], yes ? 2 : 1, memory_order_relaxed);
  return yes;
}

/* ---- injection ------------------------------------------------------------------------------ */

static _Atomic uint64_t calls;    /* the calls numbered for injection */

static uint64_t mix(uint64_t x) {   /* splitmix64's finaliser */
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static bool due(uint64_t n) {
  const za_options_t *o = &za_opt;
  if (o->fail_at && n == o->fail_at) return true;
  if (o->fail_every && n % o->fail_every == 0) return true;
  if (o->fail_rate && (mix(o->fail_seed ^ mix(n)) >> 32) < o->fail_rate) return true;
  /* ZALLOC_FAIL_MATCH alone: every matching call */
  return !o->fail_at && !o->fail_every && !o->fail_rate && o->fail_match[0];
}

/* ---- the census (ZALLOC_FAIL_SITES) ---------------------------------------------------------------
 * Every call's stack id, by call number, in a reservation (pages appear as they are used). */
#define CENSUS_MAX ((size_t)1 << 28)
static _Atomic za_stack_id_t *census_ids;
static _Atomic uint64_t census_calls;
static int census_pid;

static za_stack_id_t count_call(void) {
  za_stack_id_t st = capture();
  uint64_t n = atomic_fetch_add_explicit(&census_calls, 1, memory_order_relaxed);
  if (n < CENSUS_MAX) atomic_store_explicit(&census_ids[n], st, memory_order_relaxed);
  return st;
}

bool za_fail_allow(za_op_t op, size_t size, size_t freeing) {
  if (census || injecting) {
    za_stack_id_t st = census ? count_call() : 0;
    bool stacked = census;
    if (injecting && za_opt.fail_match[0]) {
      if (!stacked) st = capture();
      stacked = true;
      if (!stack_matches(st)) goto budget;
    }
    if (injecting) {
      uint64_t n = atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed) + 1;
      if (due(n)) {
        note_injected(op, size, n, stacked ? st : capture());
        return false;
      }
    }
  }
budget:
  return budget_fits(freeing, size, op);
}

/* ---- start-up ---------------------------------------------------------------------------------- */

static void describe(void) {
  za_out_t o;
  za_out_init(&o, -1, settings, sizeof settings - 1);
  const char *sep = "";
  if (za_opt.fail_at) za_out_printf(&o, "%sZALLOC_FAIL_AT=%llu", sep, (unsigned long long)za_opt.fail_at), sep = ", ";
  if (za_opt.fail_every)
    za_out_printf(&o, "%sZALLOC_FAIL_EVERY=%llu", sep, (unsigned long long)za_opt.fail_every), sep = ", ";
  if (za_opt.fail_rate) {
    uint64_t ppm = (za_opt.fail_rate * 1000000 + ZA_RATE_ONE / 2) / ZA_RATE_ONE;
    za_out_printf(&o, "%sZALLOC_FAIL_RATE=%llu.%06llu (ZALLOC_FAIL_SEED=%llu)", sep,
                  (unsigned long long)(ppm / 1000000), (unsigned long long)(ppm % 1000000),
                  (unsigned long long)za_opt.fail_seed);
    sep = ", ";
  }
  if (za_opt.fail_match[0]) za_out_printf(&o, "%sZALLOC_FAIL_MATCH=%s", sep, za_opt.fail_match);
  settings[o.len] = '\0';
}

void za_fail_init(void) {
  injecting = za_opt.fail_at || za_opt.fail_every || za_opt.fail_rate || za_opt.fail_match[0];
  census = za_opt.fail_sites[0] != '\0';
  if (census) census_ids = za_os_reserve(CENSUS_MAX * sizeof(za_stack_id_t));
  census = census_ids != NULL;
  census_pid = za_os_getpid();
  if (za_opt.fail_match[0]) verdicts = za_os_reserve(VERDICTS);
  za_fail_on = injecting || census || za_opt.limit;
  if (injecting) describe();
  /* The inline paths (arena.h, gpa.h) know nothing of this layer: everything takes the general path. */
  if (za_fail_on) za_arena_fast = za_gpa_fast = false;
}

bool za_fail_wants_stacks(void) { return injecting || census || za_opt.limit; }

/* ---- the report --------------------------------------------------------------------------------- */

static void to_model(za_report_t *r, const failrec_t *f, za_rfailure_t *out) {
  *out = (za_rfailure_t){.op = f->op, .size = f->size, .call = f->call, .times = f->times,
                         .held = f->held, .tid = f->tid, .stack = za_model_stack(r, f->stack)};
}

void za_fail_collect(za_report_t *r, bool signal_safe) {
  za_rfailures_t *m = &r->failures;
  if (!za_fail_on || (!za_opt.limit && !injecting)) return;
  m->active = true;
  m->limit = za_opt.limit;
  m->injecting = injecting ? settings : NULL;
  za_rfailure_t *out = za_rmem_alloc(&r->mem, LISTED_MAX * sizeof *out);
  if (!out) return;
  if (signal_safe ? !za_lock_try(&lock, 1000) : (za_lock(&lock), false)) return;
  failrec_t copy[LISTED_MAX], first = first_refused;
  size_t n = nlisted;
  memcpy(copy, listed, n * sizeof *copy);
  m->refused = refused;
  m->injected = injected;
  m->not_listed = not_listed;
  za_unlock(&lock);
  m->known = true;
  m->calls = atomic_load_explicit(&calls, memory_order_relaxed);
  if (m->refused) to_model(r, &first, &m->first_refused);
  for (size_t i = 0; i < n; i++) to_model(r, &copy[i], &out[i]);
  m->listed = out;
  m->nlisted = n;
}

/* ---- the census file ----------------------------------------------------------------------------
 * Text lines, then the calls in binary:
 *   zalloc-sites 1
 *   calls N                      allocation calls made (numbered 1..N, as ZALLOC_FAIL_AT counts)
 *   sites S                      distinct stacks (site 0 is "no stack")
 *   site K COUNT FIRST FRAMES    site K: COUNT calls, the first numbered FIRST, FRAMES frames:
 *   frame MODULE+0xOFFSET NAME   each frame (the module's file name; NAME "?" when unknown)
 *   index N                      then N little-endian uint32: each call's site, in call order */

static void write_frames(za_out_t *o, za_stack_id_t id) {
  const uintptr_t *pcs;
  int n = za_stack_get(id, &pcs);
  za_out_printf(o, " %d\n", n);
  bool named = n > 0 && za_elfsym_try_begin();
  for (int i = 0; i < n; i++) {
    za_elfsym_t s = {0};
    if (named) za_elfsym_lookup(pcs[i] - 1, &s);
    za_out_printf(o, "frame %s+0x%zx %s\n", s.module ? za_words_base_name(s.module) : "?",
                  (size_t)(pcs[i] - s.module_base), s.function ? s.function : "?");
  }
  if (named) za_elfsym_end();
}

void za_fail_write_sites(void) {
  if (!census || za_os_getpid() != census_pid) return;
  char path[ZA_PATH_MAX + 32];
  if (!za_options_log_path(za_opt.fail_sites, za_os_getpid(), path, sizeof path)) return;
  uint64_t total = atomic_load(&census_calls);
  size_t n = total < CENSUS_MAX ? (size_t)total : CENSUS_MAX;
  /* Site numbers by stack id, in order of first call. */
  size_t cap = (size_t)1 << 20;
  uint32_t *site_of = za_os_reserve(cap * sizeof(uint32_t));           /* 0: not seen; else site + 1 */
  uint64_t *count = za_os_reserve(cap * sizeof(uint64_t)), *first = za_os_reserve(cap * sizeof(uint64_t));
  za_stack_id_t *ids = za_os_reserve(cap * sizeof(za_stack_id_t));
  uint32_t *calls_site = n ? za_os_reserve(n * sizeof(uint32_t)) : NULL;
  int fd = site_of && count && first && ids && (calls_site || !n) ? za_os_open_append(path) : -1;
  size_t sites = 0;
  if (fd >= 0) {
    for (size_t i = 0; i < n; i++) {
      za_stack_id_t id = atomic_load_explicit(&census_ids[i], memory_order_relaxed);
      size_t key = id < cap ? id : 0;   /* ids past the table share site 0 */
      if (!site_of[key]) {
        ids[sites] = (za_stack_id_t)key;
        first[sites] = i + 1;
        site_of[key] = (uint32_t)++sites;
      }
      uint32_t s = site_of[key] - 1;
      count[s]++;
      calls_site[i] = s;
    }
    char buf[8192];
    za_out_t o;
    za_out_init(&o, fd, buf, sizeof buf);
    za_out_printf(&o, "zalloc-sites 1\ncalls %zu\nsites %zu\n", n, sites);
    for (size_t s = 0; s < sites; s++) {
      za_out_printf(&o, "site %zu %llu %llu", s, (unsigned long long)count[s], (unsigned long long)first[s]);
      write_frames(&o, ids[s]);
    }
    za_out_printf(&o, "index %zu\n", n);
    za_out_flush(&o);
    za_os_write_all(fd, (const char *)calls_site, n * sizeof(uint32_t));   /* x86-64: little-endian */
    za_os_close(fd);
  }
  if (site_of) za_os_unmap(site_of, cap * sizeof(uint32_t));
  if (count) za_os_unmap(count, cap * sizeof(uint64_t));
  if (first) za_os_unmap(first, cap * sizeof(uint64_t));
  if (ids) za_os_unmap(ids, cap * sizeof(za_stack_id_t));
  if (calls_site) za_os_unmap(calls_site, n * sizeof(uint32_t));
}

/* ---- fork ------------------------------------------------------------------------------------------ */

void za_fail_fork_prepare(void) { za_lock(&lock); }
void za_fail_fork_parent(void) { za_unlock(&lock); }
/* The child goes on counting from where the parent was (its allocation calls continue the
 * program's), but its report lists only its own failures; the heap it holds is the parent's
 * too, so the budget's figure stays. */
void za_fail_fork_child(void) {
  za_lock_reset(&lock);
  nlisted = 0;
  injected = not_listed = refused = 0;
}
