/* Issue 10, "corruption cannot be turned into control": hostile_prog (one kind of corruption
 * per scenario, then a long run of malloc/realloc/free whose blocks are all checked to keep
 * their own contents) under libzalloc.so in gpa, arena and page mode. Every run must end with
 * "done" and status 0: a crash (in zalloc's code or anywhere) or a block handed out while
 * another still holds it (the program's "HOSTILE-FAIL", status 99) fails the test. The report's
 * "heap errors:" line must count what the mode promises to find (docs/promises.md). */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "zr_harness.h"

#define TIMEOUT 300

#define ENV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define GPA ENV("ZALLOC_MODE=gpa")
#define GPA_NO_QUARANTINE ENV("ZALLOC_MODE=gpa", "ZALLOC_QUARANTINE=0")
/* The GPA's inline paths (gpa.h): the checks that need the general path off. */
#define GPA_CHECKS_OFF ENV("ZALLOC_MODE=gpa", "ZALLOC_QUARANTINE=0", "ZALLOC_GUARD=0", "ZALLOC_STACK_DEPTH=0")
#define ARENA ENV("ZALLOC_MODE=arena")
#define PAGE ENV("ZALLOC_MODE=page")

/* Run hostile_prog with `args` (NULL-terminated) and `env`; it must finish its scenario.
 * Returns its report (malloc'ed). */
static char *survive(zr_run_t *z, const char *const *args, const char *const *env) {
  const char *argv[8] = {HOSTILE_PROG};
  size_t n = 1;
  for (const char *const *a = args; *a && n < 7; a++) argv[n++] = *a;
  argv[n] = NULL;
  zr_start(z, argv, env, TIMEOUT);
  long pid;
  char *log = zr_only_log(z, &pid);
  cr_assert(z->r.status == 0 && strstr(z->r.out, "done\n"),
            "%s %s %s (%s %s): status %d, not a finished run\nstdout:\n%s\nreport:\n%.6000s", argv[1],
            n > 2 ? argv[2] : "", n > 3 ? argv[3] : "", env[0], env[1] ? env[1] : "", z->r.status,
            z->r.out, log);
  return log;
}

/* How many heap errors of kind `what` ("double free", "heap overflow"...) the report's
 * "heap errors:" line counts; 0 when it names none. */
static unsigned long errors_of(const char *log, const char *what) {
  const char *at = strstr(log, "  heap errors: ");
  if (!at) return 0;
  const char *end = strchr(at, '\n');
  size_t len = end ? (size_t)(end - at) : strlen(at);
  char *l = strndup(at, len);
  unsigned long count = 0;
  char *w = zr_fmt(" %s", what);
  for (char *p = strstr(l, w); p; p = strstr(p + 1, w)) {
    char after = p[strlen(w)];
    if (after != ',' && after != ')') continue;   /* "double free" is not "double free..." */
    char *q = p;
    while (q > l && (isdigit((unsigned char)q[-1]) || q[-1] == ',')) q--;
    unsigned long v = 0;
    for (; q < p; q++)
      if (isdigit((unsigned char)*q)) v = v * 10 + (unsigned long)(*q - '0');
    count = v;
    break;
  }
  free(w);
  free(l);
  return count;
}

/* The number the program printed after "NAME=". */
static unsigned long printed(const zr_run_t *z, const char *name) {
  char *key = zr_fmt("%s=", name);
  const char *at = strstr(z->r.out, key);
  cr_assert_not_null(at, "the program did not print %s:\n%s", key, z->r.out);
  unsigned long v = strtoul(at + strlen(key), NULL, 10);
  free(key);
  return v;
}

static const char *const lens[] = {"100", "300", "1000", "4096"};
static const char *const kinds[] = {"A", "heap", "meta"};

/* ---- overflows -------------------------------------------------------------------------- */

/* Overflow by each length with each garbage past blocks of 24 bytes to 300,000 (8 of each size
 * overflowed, 7 sizes), then run on. Returns nothing; checks what every mode promises: no
 * crash, nothing handed out twice, and no live block made to look freed or foreign. */
static void overflows(const char *const *env, unsigned long min_found) {
  for (size_t l = 0; l < 4; l++)
    for (size_t k = 0; k < 3; k++) {
      zr_run_t z;
      char *log = survive(&z, ENV("overflow", lens[l], kinds[k]), env);
      cr_expect_eq(errors_of(log, "invalid free"), 0, "overflow %s %s: a live block was lost:\n%.6000s",
                   lens[l], kinds[k], log);
      cr_expect_eq(errors_of(log, "double free"), 0, "overflow %s %s:\n%.6000s", lens[l], kinds[k], log);
      cr_expect_geq(errors_of(log, "heap overflow"), min_found, "overflow %s %s: overflows not found:\n%.6000s",
                    lens[l], kinds[k], log);
      free(log);
      zr_end(&z);
    }
}

/* gpa: every overflowed block's own guard is broken: each of the 56 is found at its free. */
Test(hostile, overflow_gpa) { overflows(GPA, 56); }
/* arena: no guards, nothing found (the overflow may break a free block's link: then that is
 * reported as a write after free); nothing crashes and nothing is handed out twice. */
Test(hostile, overflow_arena) { overflows(ARENA, 0); }
/* page: a block ends at its guard page, so the program's overflow stops there (the program
 * writes only what is mapped): the bytes up to the guard are found at free. */
Test(hostile, overflow_page) { overflows(PAGE, 1); }

/* An overflow that runs off the end of a heap mapping (a large block's, a segment's last
 * block) meets an inaccessible page there and faults in the program's code, instead of running
 * on into the next mapping, which may be zalloc's metadata (it was: overflow_gpa crashed zalloc
 * before the fences). */
static void overflow_fence(const char *const *env) {
  static const char *const where[] = {"large", "segment"};
  for (size_t w = 0; w < 2; w++) {
    zr_run_t z;
    zr_start(&z, ENV(HOSTILE_PROG, "overflow-fence", where[w]), env, TIMEOUT);
    long pid;
    char *log = zr_only_log(&z, &pid);
    const char *hex = strstr(z.r.out, "fence=");
    cr_assert_not_null(hex, "%s: the program did not get to the overflow:\n%s", where[w], z.r.out);
    hex += strlen("fence=");
    char *line = zr_fmt("==%ld== SIGSEGV at address %.*s: invalid permissions for mapped object (SEGV_ACCERR)",
                        pid, (int)strcspn(hex, " \n"), hex);
    cr_expect(strstr(z.r.out, "guard=yes"), "%s: no inaccessible page after the mapping:\n%s", where[w], z.r.out);
    cr_expect_eq(z.r.status, 128 + SIGSEGV, "%s: status %d\nstdout:\n%s\nreport:\n%.4000s", where[w],
                 z.r.status, z.r.out, log);
    cr_expect(strstr(log, line), "%s: not the fault at the fence (%s):\n%.4000s", where[w], line, log);
    cr_expect_null(strstr(log, "inside zalloc's own code"), "%s:\n%.4000s", where[w], log);
    free(line);
    free(log);
    zr_end(&z);
  }
}

Test(hostile, overflow_fence_gpa) { overflow_fence(GPA); }
Test(hostile, overflow_fence_arena) { overflow_fence(ARENA); }

/* ---- writes over freed blocks ----------------------------------------------------------- */

static void freed_writes(const char *const *env, unsigned long min_found, unsigned long max_found) {
  for (size_t k = 0; k < 3; k++) {
    zr_run_t z;
    char *log = survive(&z, ENV("freed-write", kinds[k]), env);
    unsigned long found = errors_of(log, "write after free");
    cr_expect(found >= min_found && found <= max_found,
              "freed-write %s: %lu writes after free found, expected %lu to %lu:\n%.6000s", kinds[k],
              found, min_found, max_found, log);
    cr_expect_eq(errors_of(log, "invalid free") + errors_of(log, "double free"), 0, "%.6000s", log);
    free(log);
    zr_end(&z);
  }
}

/* In the quarantine: each of the 64 blocks is found once, when it leaves. */
Test(hostile, freed_write_gpa_quarantined) { freed_writes(GPA, 64, 64); }
/* Out of it (no quarantine: the slots are on the free lists at once, their links in the bytes
 * written): found as broken links when the lists reach them; never followed. */
Test(hostile, freed_write_gpa_unquarantined) { freed_writes(GPA_NO_QUARANTINE, 1, 64); }
/* arena: the same, for the links it keeps in the blocks. */
Test(hostile, freed_write_arena) { freed_writes(ARENA, 1, 64); }
Test(hostile, freed_write_gpa_checks_off) { freed_writes(GPA_CHECKS_OFF, 1, 64); }

/* ---- frees of metadata ------------------------------------------------------------------ */

static void bad_frees(const char *const *env) {
  zr_run_t z;
  char *log = survive(&z, ENV("bad-free"), env);
  unsigned long invalid = printed(&z, "invalid"), dbl = printed(&z, "double");
  cr_expect_gt(invalid, 20, "too few addresses tried:\n%s", z.r.out);
  cr_expect_eq(errors_of(log, "invalid free"), invalid, "each bad free is one invalid free:\n%.6000s", log);
  cr_expect_eq(errors_of(log, "double free"), dbl, "%.6000s", log);
  free(log);
  zr_end(&z);
}

Test(hostile, bad_free_gpa) { bad_frees(GPA); }
Test(hostile, bad_free_arena) { bad_frees(ARENA); }
Test(hostile, bad_free_page) { bad_frees(PAGE); }
Test(hostile, bad_free_gpa_checks_off) { bad_frees(GPA_CHECKS_OFF); }

/* ---- one pointer, eight threads --------------------------------------------------------- */

static void double_free8(const char *const *env, const char *rounds, const char *release) {
  zr_run_t z;
  char *log = survive(&z, ENV("double-free8", rounds, release), env);
  unsigned long want = printed(&z, "double");
  cr_expect_eq(want, strtoul(rounds, NULL, 10) * 7);
  cr_expect_eq(errors_of(log, "double free"), want, "exactly one free in 8 wins:\n%.6000s", log);
  cr_expect_eq(errors_of(log, "invalid free"), 0, "%.6000s", log);
  cr_expect_eq(errors_of(log, "write after free"), 0, "%.6000s", log);
  free(log);
  zr_end(&z);
}

/* The 8 frees start within a few instructions of each other: the record's compare-and-swap
 * lets exactly one win, every round. */
Test(hostile, double_free8_gpa) { double_free8(GPA, "1000", "together"); }
Test(hostile, double_free8_page) { double_free8(PAGE, "300", "together"); }
/* The same on the GPA's inline free: the compare-and-swap is the same. */
Test(hostile, double_free8_gpa_checks_off) { double_free8(GPA_CHECKS_OFF, "1000", "together"); }
/* arena: its check (the block's key) is a load and a store, no atomic instruction. Released
 * one by one, the frees are found as double frees, every round; frees that start together can
 * both pass it (docs/promises.md), which is not tested here: it is not repeatable. */
Test(hostile, double_free8_arena_staggered) { double_free8(ARENA, "3000", "staggered"); }

/* ---- links in freed blocks -------------------------------------------------------------- */

static const char *const links[] = {"live", "self", "edge", "odd"};

/* The link is checked before it is followed: reported once (a write after free), the list
 * dropped, nothing read outside the page, no live block handed out. */
static void link_poison(const char *const *env) {
  for (size_t k = 0; k < 4; k++) {
    zr_run_t z;
    char *log = survive(&z, ENV("link-poison", links[k]), env);
    cr_expect_eq(errors_of(log, "write after free"), 1, "link-poison %s:\n%.6000s", links[k], log);
    free(log);
    zr_end(&z);
  }
}

Test(hostile, link_poison_gpa) { link_poison(GPA_NO_QUARANTINE); }
Test(hostile, link_poison_arena) { link_poison(ARENA); }
Test(hostile, link_poison_gpa_checks_off) { link_poison(GPA_CHECKS_OFF); }

/* A block on a heap's list of frees from other threads, its link overwritten with a live
 * block: the list is checked as it is taken. */
static void delayed_poison(const char *const *env) {
  zr_run_t z;
  char *log = survive(&z, ENV("delayed-poison"), env);
  cr_expect_eq(errors_of(log, "write after free"), 1, "%.6000s", log);
  free(log);
  zr_end(&z);
}

Test(hostile, delayed_poison_gpa) { delayed_poison(GPA_NO_QUARANTINE); }
Test(hostile, delayed_poison_arena) { delayed_poison(ARENA); }
Test(hostile, delayed_poison_gpa_checks_off) { delayed_poison(GPA_CHECKS_OFF); }
