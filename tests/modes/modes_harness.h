/* Shared by the tests of tests/modes (header-only: static functions; include after
 * zr_harness.h). */
#ifndef MODES_HARNESS_H
#define MODES_HARNESS_H
#include "zr_harness.h"

/* The JSON report `file` matches docs/report.schema.json and has every "PATH=VALUE" of `want`
 * (NULL-terminated; VALUE as json_check.py prints it). */
ZR_UNUSED static void json_expect(const char *file, const char *const *want) {
  const char *argv[80] = {PYTHON3, JSON_CHECK, SCHEMA, file};
  size_t n = 4;
  char *paths[38];
  size_t npaths = 0;
  for (const char *const *w = want; *w && npaths < 38; w++) {
    paths[npaths] = strndup(*w, strcspn(*w, "="));
    argv[n++] = "--get";
    argv[n++] = paths[npaths++];
  }
  argv[n] = NULL;
  run_result_t r;
  cr_assert(run_program(&r, argv, NULL, NULL, NULL, 60), "cannot run %s", JSON_CHECK);
  cr_assert_eq(r.status, 0, "the report does not match the schema:\n%s%s", r.out, r.err);
  for (const char *const *w = want; *w; w++) cr_assert(zr_has_line(r.out, *w), "expected %s in:\n%s", *w, r.out);
  for (size_t i = 0; i < npaths; i++) free(paths[i]);
  run_free(&r);
}
#endif
