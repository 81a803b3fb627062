/* Unit tests of call stacks (stack.h): capture through frames without frame pointers, the
 * depot's ids (dedup, many threads, fork), depth limits, the internal flag, and the report
 * lines za_stack_write makes (function, file:line, module+offset). The core is linked into
 * the test, so za_stack_init(NULL) leaves nothing out but the capture itself. */
#include <criterion/criterion.h>

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "depot.h"
#include "stack.h"
#include "stack_chain.h"
#include "unwind.h"

static void setup(void) { za_stack_init(NULL); }

TestSuite(stack, .init = setup);
TestSuite(depot);

/* The report lines for `id`, NUL-terminated, in a static buffer. */
static const char *written(za_stack_id_t id) {
  static char buf[16384];
  za_out_t o;
  za_out_init(&o, -1, buf, sizeof buf - 1);
  za_stack_write(&o, "  ", id);
  buf[o.len] = '\0';
  return buf;
}

/* The line of frame #i, copied into `line`; false if there is none. */
static bool frame_line(const char *text, int i, char *line, size_t cap) {
  char tag[16];
  snprintf(tag, sizeof tag, "  #%d ", i);
  const char *at = strstr(text, tag);
  if (at == NULL) return false;
  size_t n = strcspn(at, "\n");
  snprintf(line, cap, "%.*s", (int)(n < cap ? n : cap - 1), at);
  return true;
}

static void assert_frame_names(const char *text, int i, const char *function) {
  char line[512];
  cr_assert(frame_line(text, i, line, sizeof line), "no frame #%d in:\n%s", i, text);
  char want[128];
  snprintf(want, sizeof want, " in %s+0x", function);
  cr_assert(strstr(line, want) != NULL, "frame #%d is not %s:\n%s", i, function, text);
}

/* ---- capture -------------------------------------------------------------------------- */

Test(stack, capture_has_every_function_innermost_first) {
  za_stack_id_t id = chain_outer(16);
  cr_assert_neq(id, 0, "nothing captured (libunwind.so.8 not loaded?)");
  const char *text = written(id);
  assert_frame_names(text, 0, "chain_inner");  /* za_stack_capture itself is left out */
  assert_frame_names(text, 1, "chain_middle");
  assert_frame_names(text, 2, "chain_outer");
  cr_assert(strstr(text, "__libc_start_main") != NULL || strstr(text, " in _start+0x") != NULL,
            "the stack stops short of the program's start:\n%s", text);
}

Test(stack, write_shows_file_line_and_module) {
  const char *text = written(chain_outer(4));
  char line[512];
  cr_assert(frame_line(text, 0, line, sizeof line));
  cr_assert(strstr(line, "stack_chain.c:") != NULL, "no file:line in frame #0:\n%s", text);
  cr_assert(strstr(line, "(unit_stack+0x") != NULL, "no module+offset in frame #0:\n%s", text);
  cr_assert(strncmp(line, "  #0 0x", 7) == 0, "no address in frame #0:\n%s", text);
}

/* Through libc: a capture inside qsort's comparison callback has libc's frames in the middle
 * (with or without debug information, depending on libc6-dbg) and the program's below them. */
Test(stack, capture_through_libc_callback) {
  za_stack_id_t id = chain_through_qsort(16);
  cr_assert_neq(id, 0);
  const char *text = written(id);
  assert_frame_names(text, 0, "compare_and_capture");
  const char *libc = strstr(text, "(libc.so.6+0x");
  cr_assert(libc != NULL, "no libc.so.6 frame:\n%s", text);
  cr_assert(strstr(libc, " in chain_through_qsort+0x") != NULL,
            "the caller of qsort is missing below libc:\n%s", text);
}

/* A frame in a library without symbols or debug information (stack_stripped.c) shows the
 * module and the offset inside it, and no file:line. */
int stripped_call(int (*callback)(void));
static za_stack_id_t stripped_seen;
static int capture_in_callback(void) {
  stripped_seen = za_stack_capture(16);
  return 1;
}

Test(stack, write_shows_module_offset_for_stripped_library) {
  stripped_call(capture_in_callback);
  cr_assert_neq(stripped_seen, 0);
  const char *text = written(stripped_seen);
  assert_frame_names(text, 0, "capture_in_callback");
  char line[512];
  cr_assert(frame_line(text, 1, line, sizeof line));
  cr_assert(strstr(line, " (libza_stack_stripped.so+0x") != NULL, "frame #1:\n%s", text);
  cr_assert(strstr(line, " at ") == NULL, "file:line in a stripped library:\n%s", text);
  cr_assert(frame_line(text, 2, line, sizeof line));
  cr_assert(strstr(line, " in stripped_call+0x") != NULL, "exported symbol missing:\n%s", text);
  cr_assert(strstr(line, " (libza_stack_stripped.so+0x") != NULL, "frame #2:\n%s", text);
}

Test(stack, depth_limits) {
  const uintptr_t *pcs;
  cr_assert_eq(chain_outer(0), 0);
  cr_assert_eq(za_stack_get(chain_outer(1), &pcs), 1);
  cr_assert_eq(za_stack_get(chain_outer(3), &pcs), 3);
  int n = za_stack_get(chain_outer(1000), &pcs);
  cr_assert(n > 3 && n <= ZA_STACK_MAX_DEPTH, "depth 1000 gave %d frames", n);
  int full = za_stack_get(chain_outer(ZA_STACK_MAX_DEPTH), &pcs);
  cr_assert_eq(n, full, "depth beyond the maximum: %d frames, the maximum: %d", n, full);
}

/* Depth 3 covers exactly chain_inner, chain_middle, chain_outer: the same stack from
 * whichever line of the test it is called. */
#define CHAIN_ONLY 3

Test(stack, same_site_same_id_other_site_other_id) {
  za_stack_id_t ids[4];
  for (int i = 0; i < 4; i++) ids[i] = chain_outer(16);  /* one call site: one stack */
  for (int i = 1; i < 4; i++) cr_assert_eq(ids[i], ids[0], "the same stack got ids %u and %u", ids[0], ids[i]);
  cr_assert_eq(chain_outer(CHAIN_ONLY), chain_outer(CHAIN_ONLY));
  za_stack_id_t other = chain_outer_other(CHAIN_ONLY);
  cr_assert_neq(other, 0);
  cr_assert_neq(chain_outer(CHAIN_ONLY), other, "different call sites got the same id");
  cr_assert_neq(chain_outer(2), chain_outer(CHAIN_ONLY), "a shorter stack got the same id");
}

Test(stack, internal_flag_stops_capture) {
  cr_assert_not(za_stack_internal());
  za_stack_internal_begin();
  za_stack_internal_begin();
  cr_assert(za_stack_internal());
  cr_assert_eq(chain_outer(16), 0, "captured while internal");
  za_stack_internal_end();
  cr_assert(za_stack_internal(), "nesting lost");
  za_stack_internal_end();
  cr_assert_not(za_stack_internal());
  cr_assert_neq(chain_outer(16), 0);
}

Test(stack, capture_survives_modules_changing) {
  za_stack_id_t before = chain_outer(CHAIN_ONLY);
  void *lib = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
  za_stack_modules_changed();
  cr_assert_eq(chain_outer(CHAIN_ONLY), before);
  if (lib != NULL) dlclose(lib);
  za_stack_modules_changed();
  cr_assert_eq(chain_outer(CHAIN_ONLY), before);
}

/* Ids stay valid in a forked child, and the child finds the parent's stacks in the depot. */
Test(stack, ids_survive_fork) {
  za_stack_id_t before = chain_outer(CHAIN_ONLY);
  const uintptr_t *pcs;
  int n = za_stack_get(before, &pcs);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    za_stack_fork_child();
    const uintptr_t *child_pcs;
    bool ok = za_stack_get(before, &child_pcs) == n && chain_outer(CHAIN_ONLY) == before &&
              chain_outer_other(CHAIN_ONLY) != 0;
    _exit(ok ? 0 : 1);
  }
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child disagreed on ids");
}

/* Captures on threads whose unwinder state is new (first use allocates in libunwind). */
static void *capture_on_thread(void *arg) {
  (void)arg;
  return (void *)(uintptr_t)chain_outer(16);
}

Test(stack, capture_on_new_threads) {
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, capture_on_thread, NULL);
  za_stack_id_t ids[4];
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(t[i], &r);
    ids[i] = (za_stack_id_t)(uintptr_t)r;
    cr_assert_neq(ids[i], 0, "thread %d captured nothing", i);
    assert_frame_names(written(ids[i]), 2, "chain_outer");
  }
  for (int i = 1; i < 4; i++) cr_assert_eq(ids[i], ids[0], "threads' identical stacks differ");
}

/* ---- the fast walker against libunwind ----------------------------------------------- */

/* Both walkers from one function: their first frames are two call sites in it, every frame
 * after that must be the same return address. */
typedef int (*unw_backtrace_fn)(void **, int);

static unw_backtrace_fn libunwind_backtrace(void) {
  void *lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
  return lib != NULL ? (unw_backtrace_fn)dlsym(lib, "unw_backtrace") : NULL;
}

typedef struct walk_pair {
  void *fast[64], *slow[64];
  int nfast, nslow;
  za_unwind_stop_t stop;
} walk_pair_t;

static __thread walk_pair_t *pair_out;

__attribute__((noinline)) static void walk_both(void) {
  walk_pair_t *w = pair_out;
  w->nfast = za_unwind_backtrace(w->fast, 64, &w->stop);
  w->nslow = libunwind_backtrace()(w->slow, 64);
}

static void assert_same_walk(const walk_pair_t *w, const char *what) {
  cr_assert(w->nfast > 4, "%s: the fast walker found %d frames (stop %d)", what, w->nfast, w->stop);
  cr_assert_eq(w->stop, ZA_UNWIND_END, "%s: the fast walk did not reach the end (%d frames)", what,
               w->nfast);
  cr_assert_eq(w->nfast, w->nslow, "%s: %d frames, libunwind %d", what, w->nfast, w->nslow);
  for (int i = 1; i < w->nfast; i++)
    cr_assert_eq(w->fast[i], w->slow[i], "%s: frame %d: %p, libunwind %p", what, i, w->fast[i],
                 w->slow[i]);
}

static void walk_pair(walk_pair_t *w, void (*chain)(void (*)(void))) {
  memset(w, 0, sizeof *w);
  pair_out = w;
  for (int round = 0; round < 2; round++) chain(walk_both);   /* cold, then warm */
}

Test(stack, fast_walker_matches_libunwind_without_frame_pointers) {
  cr_assert(za_unwind_available(), "no fast walker on this system");
  cr_assert_not_null(libunwind_backtrace());
  walk_pair_t w;
  walk_pair(&w, chain_call_outer);
  assert_same_walk(&w, "no frame pointers");
}

Test(stack, fast_walker_matches_libunwind_with_frame_pointers) {
  walk_pair_t w;
  walk_pair(&w, chain_fp_call_outer);
  assert_same_walk(&w, "frame pointers");
}

Test(stack, fast_walker_matches_libunwind_through_libc) {
  walk_pair_t w;
  walk_pair(&w, chain_call_through_qsort);
  assert_same_walk(&w, "qsort callback");
}

static void *walk_pair_on_thread(void *arg) {
  walk_pair_t *w = arg;
  for (int i = 0; i < 200; i++) walk_pair(w, i % 2 ? chain_call_outer : chain_fp_call_outer);
  return NULL;
}

Test(stack, fast_walker_matches_libunwind_on_threads) {
  static walk_pair_t w[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, walk_pair_on_thread, &w[i]);
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_same_walk(&w[i], "thread");   /* ends in clone3, whose return address is undefined */
  }
}

/* A signal handler's frame (__restore_rt, a DWARF expression rule) stops the fast walker as
 * unsupported, and za_stack_capture then takes the whole stack from libunwind. */
static za_stack_id_t in_handler_id;
static walk_pair_t in_handler;

static void capture_in_handler(void) {
  in_handler.nfast = za_unwind_backtrace(in_handler.fast, 64, &in_handler.stop);
  in_handler_id = za_stack_capture(32);
}

static void on_signal(int sig) {
  (void)sig;
  chain_call_outer(capture_in_handler);
}

static void raise_usr1(void) { raise(SIGUSR1); }

Test(stack, capture_across_a_signal_frame_falls_back_to_libunwind) {
  signal(SIGUSR1, on_signal);
  chain_fp_call_outer(raise_usr1);
  cr_assert_eq(in_handler.stop, ZA_UNWIND_UNSUPPORTED, "the fast walk went through the signal frame");
  cr_assert_neq(in_handler_id, 0);
  const char *text = written(in_handler_id);
  assert_frame_names(text, 0, "capture_in_handler");
  cr_assert(strstr(text, " in chain_fp_call_outer+0x") != NULL,
            "nothing beyond the signal frame:\n%s", text);
}

/* Rules cached for a library's code are dropped when modules change: the same walk through a
 * library loaded, unloaded and loaded again (perhaps elsewhere) still matches libunwind. */
typedef int (*stripped_call_fn)(int (*)(void));

static int walk_both_in_library(void) {
  walk_both();
  return 1;
}

Test(stack, fast_walker_follows_dlopen_and_dlclose) {
  walk_pair_t w;
  for (int round = 0; round < 3; round++) {
    void *lib = dlopen(ZA_STACK_DL, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(lib, "%s", dlerror());
    za_stack_modules_changed();
    stripped_call_fn call = (stripped_call_fn)dlsym(lib, "stripped_call");
    cr_assert_not_null(call);
    memset(&w, 0, sizeof w);
    pair_out = &w;
    call(walk_both_in_library);
    call(walk_both_in_library);
    assert_same_walk(&w, "dlopen'ed library");
    dlclose(lib);
    za_stack_modules_changed();
  }
}

/* ---- the depot ------------------------------------------------------------------------ */

static void fake_stack(uintptr_t *pcs, int n, unsigned seed) {
  for (int i = 0; i < n; i++) pcs[i] = 0x400000u + seed * 0x1000u + (unsigned)i * 8u;
}

Test(depot, same_stack_same_id_and_reads_back) {
  uintptr_t a[8], b[8];
  fake_stack(a, 8, 1);
  fake_stack(b, 8, 1);
  za_stack_id_t ia = za_depot_put(a, 8);
  cr_assert_neq(ia, 0);
  cr_assert_eq(za_depot_put(b, 8), ia);
  const uintptr_t *pcs;
  cr_assert_eq(za_stack_get(ia, &pcs), 8);
  cr_assert_arr_eq(pcs, a, sizeof a);
}

Test(depot, different_stacks_different_ids) {
  uintptr_t a[8];
  fake_stack(a, 8, 2);
  za_stack_id_t full = za_depot_put(a, 8);
  za_stack_id_t prefix = za_depot_put(a, 7);
  a[7]++;
  za_stack_id_t last = za_depot_put(a, 8);
  cr_assert(full != prefix && full != last && prefix != last, "%u %u %u", full, prefix, last);
}

Test(depot, no_stack_for_unknown_ids) {
  const uintptr_t *pcs = (const uintptr_t *)1;
  cr_assert_eq(za_stack_get(0, &pcs), 0);
  cr_assert_null(pcs);
  cr_assert_eq(za_stack_get(12345, &pcs), 0);
  uintptr_t a[1] = {42};
  za_stack_id_t id = za_depot_put(a, 1);
  cr_assert_eq(za_stack_get(id + 1, &pcs), 0);
  cr_assert_eq(za_depot_put(a, 0), 0);
  cr_assert_eq(za_depot_put(a, ZA_STACK_MAX_DEPTH + 1), 0);
}

/* Stacks stored before a level of the depot filled up are found in it afterwards. */
Test(depot, stacks_found_across_levels) {
  static za_stack_id_t ids[3000];
  uintptr_t pcs[5];
  for (int round = 0; round < 2; round++)
    for (int s = 0; s < 3000; s++) {
      fake_stack(pcs, 5, 50000 + (unsigned)s);
      za_stack_id_t id = za_depot_put(pcs, 5);
      if (round == 0) ids[s] = id;
      cr_assert(id != 0 && id == ids[s], "round %d, stack %d: id %u, first %u", round, s, id, ids[s]);
    }
}

/* More stacks than the depot's first two levels hold (1024 and 16384): they are frozen and
 * their successors taken while threads insert. */
#define THREADS 8
#define STACKS  20000

static za_stack_id_t thread_ids[THREADS][STACKS];

/* Every thread inserts the same stacks, each in its own order, racing for new slots (and for
 * freezing the levels that fill). */
static void *put_many(void *arg) {
  int t = (int)(intptr_t)arg;
  for (int k = 0; k < STACKS; k++) {
    int s = (k * 7 + t * 613) % STACKS;
    uintptr_t pcs[12];
    fake_stack(pcs, 12, 100 + (unsigned)s);
    thread_ids[t][s] = za_depot_put(pcs, 12);
  }
  return NULL;
}

Test(depot, ids_agree_across_threads) {
  pthread_t th[THREADS];
  for (int t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, put_many, (void *)(intptr_t)t);
  for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
  for (int s = 0; s < STACKS; s++) {
    cr_assert_neq(thread_ids[0][s], 0);
    for (int t = 1; t < THREADS; t++)
      cr_assert_eq(thread_ids[t][s], thread_ids[0][s], "stack %d: thread %d got another id", s, t);
    uintptr_t want[12];
    fake_stack(want, 12, 100 + (unsigned)s);
    const uintptr_t *pcs;
    cr_assert_eq(za_stack_get(thread_ids[0][s], &pcs), 12);
    cr_assert_arr_eq(pcs, want, sizeof want, "stack %d reads back wrong", s);
  }
  static int owner[4 * STACKS];
  for (int s = 0; s < STACKS; s++) {
    za_stack_id_t id = thread_ids[0][s];
    cr_assert_lt(id, 4 * STACKS);
    cr_assert_eq(owner[id], 0, "stacks %d and %d share an id", owner[id] - 1, s);
    owner[id] = s + 1;
  }
}
