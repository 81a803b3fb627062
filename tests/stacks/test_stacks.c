/* Reading stacks: C++ names demangled, inlined calls expanded into frames of their own, a hint
 * for a module without debug information - in the text report and in the JSON one. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <string.h>

#include "zr_harness.h"

#define TIMEOUT 60

/* The definitely-lost section of a text report: from its heading to the next line that is
 * not a frame. */
static char *lost_section(const char *log) {
  const char *at = strstr(log, "== definitely lost: ");
  cr_assert_not_null(at, "no definitely lost group in:\n%s", log);
  const char *end = strchr(at, '\n');
  for (; end; end = strchr(end + 1, '\n')) {
    const char *prefix_end = strstr(end + 1, "== ");
    if (!prefix_end || strncmp(prefix_end + 3, "    #", 5) != 0 || memchr(end + 1, '\n', (size_t)(prefix_end - end - 1)))
      break;
  }
  return strndup(at, end ? (size_t)(end - at) : strlen(at));
}

/* The line of `file` holding `marker`. */
static int line_of(const char *file, const char *marker) {
  char *text = slurp(file, NULL);
  cr_assert_not_null(text, "cannot read %s", file);
  const char *m = strstr(text, marker);
  cr_assert_not_null(m);
  int line = 1;
  for (const char *p = text; p < m; p++) line += *p == '\n';
  free(text);
  return line;
}

/* The n-th frame line ("#n ...") of a section. */
static char *frame(const char *section, int n) {
  char *tag = zr_fmt("     #%d ", n);
  const char *at = strstr(section, tag);
  cr_assert_not_null(at, "no frame #%d in:\n%s", n, section);
  const char *nl = strchr(at, '\n');
  free(tag);
  return strndup(at, nl ? (size_t)(nl - at) : strlen(at));
}

Test(stacks, cxx_names_are_demangled) {
  zr_run_t z;
  zr_start(&z, (const char *const[]){STK_CXX, NULL}, NULL, TIMEOUT);
  cr_assert_eq(z.r.status, 0);
  long pid;
  char *log = zr_only_log(&z, &pid);
  /* The Widgets are definitely lost (their parts indirectly; a stale copy of a pointer may keep
   * one reachable), allocated by make through build. */
  char *group = lost_section(log);
  const char *make = strstr(group, " in shop::Widget::make(int)+0x");
  const char *build = strstr(group, " in shop::Widget* build<shop::Widget>(int)+0x");
  const char *main_ = strstr(group, " in main+0x");
  cr_assert(make && build && main_ && make < build && build < main_, "%s", group);
  cr_assert(strstr(group, "#0 ") < make && make < strstr(group, "#1 "), "%s", group);
  free(group);
  cr_assert_null(strstr(log, " in _ZN"), "a mangled name:\n%s", log);
  free(log);
  zr_end(&z);
}

/* One return address, three frames: the two inlined calls, innermost first, each at the line
 * of its call, then the function they were inlined into. */
Test(stacks, inlined_calls_are_frames_of_their_own) {
  zr_run_t z;
  zr_start(&z, (const char *const[]){STK_INLINE, NULL}, NULL, TIMEOUT);
  cr_assert_eq(z.r.status, 0);
  long pid;
  char *log = zr_only_log(&z, &pid);
  char *lost = lost_section(log);
  char *f0 = frame(lost, 0), *f1 = frame(lost, 1), *f2 = frame(lost, 2);
  cr_assert(strstr(f0, " in inner_dup (inlined) at ") && strstr(f0, "stk_inline.c:"), "%s", lost);
  cr_assert(strstr(f1, " in outer_dup (inlined) at ") && strstr(f1, "stk_inline.c:"), "%s", lost);
  cr_assert(strstr(f2, " in main+0x") && strstr(f2, "stk_inline.c:"), "%s", lost);
  char *l0 = zr_fmt("stk_inline.c:%d ", line_of(STK_INLINE_SRC, "STK_INNER_LINE"));
  char *l1 = zr_fmt("stk_inline.c:%d ", line_of(STK_INLINE_SRC, "STK_OUTER_LINE"));
  char *l2 = zr_fmt("stk_inline.c:%d ", line_of(STK_INLINE_SRC, "STK_MAIN_LINE"));
  cr_assert(strstr(f0, l0) && strstr(f1, l1) && strstr(f2, l2), "lines %s %s %s:\n%s", l0, l1, l2, lost);
  /* The three share the return address and the module offset. */
  const char *a0 = strstr(f0, " 0x"), *a2 = strstr(f2, " 0x");
  cr_assert(a0 && a2 && strcspn(a0 + 1, " ") == strcspn(a2 + 1, " ") && !strncmp(a0, a2, strcspn(a0 + 1, " ")),
            "%s", lost);
  free(l0); free(l1); free(l2);
  free(f0); free(f1); free(f2);
  free(lost);
  free(log);
  zr_end(&z);
  /* The same in JSON: inlined frames have no offset in a function, and say so. */
  zr_start(&z, (const char *const[]){STK_INLINE, NULL}, (const char *const[]){"ZALLOC_FORMAT=json", NULL}, TIMEOUT);
  log = zr_only_log(&z, &pid);
  const char *in = strstr(log, "\"function\":\"inner_dup\",\"offset\":null,\"file\":");
  const char *out = strstr(log, "\"function\":\"outer_dup\",\"offset\":null,\"file\":");
  const char *mn = strstr(log, "\"function\":\"main\",\"offset\":");
  cr_assert(in && out && mn && in < out && out < mn, "%s", log);
  cr_assert(strstr(in, "\"inlined\":true}") < out && strstr(out, "\"inlined\":true}") < mn, "%s", log);
  free(log);
  zr_end(&z);
}

/* A module without debug information: its frames have module and offset, and one line says
 * where file:line would come from; JSON lists the module with its build id. */
Test(stacks, a_module_without_debug_information_gets_one_hint) {
  zr_run_t z;
  zr_start(&z, (const char *const[]){STK_PLAIN, NULL}, NULL, TIMEOUT);
  cr_assert_eq(z.r.status, 0);
  long pid;
  char *log = zr_only_log(&z, &pid);
  char *lost = lost_section(log);
  char *f0 = frame(lost, 0);
  cr_assert(strstr(f0, " (stk_plain+0x") && !strstr(f0, " at "), "%s", lost);
  cr_assert_eq(zr_count_lines_with(log, "  hint:  "), 1, "%s", log);
  char *want = zr_fmt("hint:        no file:line for frames in %s: ", STK_PLAIN);
  cr_assert(strstr(log, want) && strstr(log, "-dbgsym") && strstr(log, "build it with -g"), "%s", log);
  free(want);
  free(f0);
  free(lost);
  free(log);
  zr_end(&z);
  zr_start(&z, (const char *const[]){STK_PLAIN, NULL}, (const char *const[]){"ZALLOC_FORMAT=json", NULL}, TIMEOUT);
  log = zr_only_log(&z, &pid);
  char *mod = zr_fmt("\"modules_without_debug_info\":[{\"module\":\"%s\",\"build_id\":", STK_PLAIN);
  cr_assert_not_null(strstr(log, mod), "%s", log);
  free(mod);
  free(log);
  zr_end(&z);
}

/* Under the wrapper, a tree's summary names such a module once, whatever the number of
 * processes it appeared in. */
Test(stacks, the_summary_names_the_module_once) {
  char *dir = make_temp_dir("stk");
  run_result_t r;
  char *tmp = zr_fmt("TMPDIR=%s", dir);
  const char *env[] = {"ZALLOC_LOG=", "LD_PRELOAD=", "ZALLOC_LIBRARY=", tmp, NULL};
  cr_assert(run_program(&r, (const char *const[]){WRAPPER, "sh", "-c", "\"$0\"; \"$0\"", STK_PLAIN, NULL}, env,
                        NULL, NULL, TIMEOUT));
  cr_assert_eq(r.status, 0, "%s", r.err);
  char *want = zr_fmt("zalloc: hint: no file:line in %s: ", STK_PLAIN);
  cr_assert_eq(count_occurrences(r.err, want), 1, "%s", r.err);
  cr_assert(strstr(r.err, "in 2 processes (stk_plain x2"), "%s", r.err);
  free(want);
  run_free(&r);
  free(tmp);
  remove_tree(dir);
  free(dir);
}
