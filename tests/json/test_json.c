/* JSON reports, as a CI job reads them: every document a process writes is parsed by Python's
 * json module and checked against docs/report.schema.json (tests/support/json_check.py), and
 * the values the scenario implies are read back by path. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <signal.h>
#include <string.h>

#include "zr_harness.h"

#define TIMEOUT 60

/* Run argv with JSON reports (plus `extra`); the one report file, checked against the schema,
 * and each "PATH=VALUE" that `paths` (NULL-terminated) asks for, as json_check prints them. */
static char *run_json(zr_run_t *z, const char *const *argv, const char *const *extra,
                      const char *const *paths, long *pid) {
  const char *env[16];
  size_t n = 0;
  env[n++] = "ZALLOC_FORMAT=json";
  for (const char *const *e = extra; e && *e; e++) env[n++] = *e;
  env[n] = NULL;
  zr_start(z, argv, env, TIMEOUT);
  long pids[4];
  cr_assert_eq(zr_log_pids(z, pids, 4), 1, "stdout:\n%s\nstderr:\n%s", z->r.out, z->r.err);
  *pid = pids[0];
  char *file = zr_fmt("%s/r.%ld", z->dir, *pid);
  const char *check[64] = {PYTHON3, JSON_CHECK, SCHEMA, file};
  size_t k = 4;
  for (const char *const *p = paths; p && *p && k < 62; p++) {
    check[k++] = "--get";
    check[k++] = *p;
  }
  check[k] = NULL;
  run_result_t r;
  cr_assert(run_program(&r, check, NULL, NULL, NULL, TIMEOUT));
  char *doc = slurp(file, NULL);
  cr_assert_eq(r.status, 0, "the report does not match the schema:\n%s%s\nthe report:\n%s", r.out, r.err, doc);
  free(doc);
  free(file);
  char *out = strdup(r.out);
  run_free(&r);
  return out;
}

#define ASSERT_GOT(got, ...)                                                                    \
  do {                                                                                          \
    char *want_ = zr_fmt(__VA_ARGS__);                                                          \
    cr_assert(zr_has_line((got), want_), "expected %s in:\n%s", want_, (got));                 \
    free(want_);                                                                                \
  } while (0)

#define PATHS(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(json, exit_with_a_leak) {
  zr_run_t z;
  long pid;
  char *got = run_json(&z, (const char *const[]){END_PROG, "exit", "3", NULL}, NULL,
                       PATHS("schema", "version", "report", "process.pid", "process.mode", "end.how",
                             "end.status", "end.exit_status", "crash", "leaks.definitely_lost.blocks",
                             "leaks.definitely_lost.bytes", "leaks.groups.0.kind",
                             "leaks.groups.0.frames.0.function", "leaks.groups.0.frames.0.inlined",
                             "leaks.groups.0.frames.1.function", "leaks.groups.0.suppression",
                             "errors.total", "findings", "symbols_full"),
                       &pid);
  cr_assert_eq(z.r.status, 3);
  ASSERT_GOT(got, "schema=\"zalloc-report\"");
  ASSERT_GOT(got, "version=1");
  ASSERT_GOT(got, "report=\"final\"");
  ASSERT_GOT(got, "process.pid=%ld", pid);
  ASSERT_GOT(got, "process.mode=\"gpa\"");
  ASSERT_GOT(got, "end.how=\"exit\"");
  ASSERT_GOT(got, "end.status=3");
  ASSERT_GOT(got, "end.exit_status=3");
  ASSERT_GOT(got, "crash=null");
  ASSERT_GOT(got, "leaks.definitely_lost.blocks=1");
  ASSERT_GOT(got, "leaks.definitely_lost.bytes=77");
  ASSERT_GOT(got, "leaks.groups.0.kind=\"definitely-lost\"");
  ASSERT_GOT(got, "leaks.groups.0.frames.0.function=\"leak_one\"");
  ASSERT_GOT(got, "leaks.groups.0.frames.0.inlined=false");
  ASSERT_GOT(got, "leaks.groups.0.frames.1.function=\"main\"");
  ASSERT_GOT(got, "leaks.groups.0.suppression=\"leak:leak_one\"");
  ASSERT_GOT(got, "errors.total=0");
  ASSERT_GOT(got, "findings=[]");
  ASSERT_GOT(got, "symbols_full=true");
  free(got);
  zr_end(&z);
}

/* A frame's file, line and module are what addr2line would say. */
Test(json, frames_have_file_line_and_module_offset) {
  zr_run_t z;
  long pid;
  char *got = run_json(&z, (const char *const[]){END_PROG, "exit", "0", NULL}, NULL,
                       PATHS("leaks.groups.0.frames.0.file", "leaks.groups.0.frames.0.line",
                             "leaks.groups.0.frames.0.module", "leaks.groups.0.frames.0.module_offset",
                             "leaks.groups.0.frames.0.pc"),
                       &pid);
  ASSERT_GOT(got, "leaks.groups.0.frames.0.file=\"%s/ends/end_prog.c\"", TESTS_DIR);
  ASSERT_GOT(got, "leaks.groups.0.frames.0.module=\"%s\"", END_PROG);
  cr_assert_not_null(strstr(got, "leaks.groups.0.frames.0.pc=\"0x"), "%s", got);
  /* addr2line -e MODULE OFFSET-1 names the call's line (offsets are return addresses). */
  char *off = zr_value(got, "leaks.groups.0.frames.0.module_offset");
  char *line = zr_value(got, "leaks.groups.0.frames.0.line");
  char *hex = zr_fmt("%lx", strtol(off, NULL, 10) - 1);
  run_result_t r;
  cr_assert(run_program(&r, (const char *const[]){"addr2line", "-e", END_PROG, hex, NULL}, NULL, NULL, NULL,
                        TIMEOUT));
  char *want = zr_fmt("end_prog.c:%s", line);
  cr_assert_not_null(strstr(r.out, want), "addr2line says %s, the report %s", r.out, want);
  run_free(&r);
  free(want), free(hex), free(line), free(off), free(got);
  zr_end(&z);
}

Test(json, double_free_with_its_stacks) {
  zr_run_t z;
  long pid;
  char *got = run_json(&z, (const char *const[]){GPA_PROG, "double-free", NULL}, NULL,
                       PATHS("errors.total", "errors.by_kind", "findings.0.kind", "findings.0.operation",
                             "findings.0.times", "findings.0.suppressed", "findings.0.stacks.at.thread",
                             "findings.0.stacks.freed.frames.0.function",
                             "findings.0.stacks.allocated.frames.0.file"),
                       &pid);
  ASSERT_GOT(got, "errors.total=1");
  ASSERT_GOT(got, "errors.by_kind={\"double-free\": 1}");
  ASSERT_GOT(got, "findings.0.kind=\"double-free\"");
  ASSERT_GOT(got, "findings.0.operation=\"free\"");
  ASSERT_GOT(got, "findings.0.times=1");
  ASSERT_GOT(got, "findings.0.suppressed=false");
  ASSERT_GOT(got, "findings.0.stacks.at.thread=null");
  cr_assert_not_null(strstr(got, "findings.0.stacks.freed.frames.0.function=\"scenario_double_free\""), "%s", got);
  cr_assert_not_null(strstr(got, "gpa_prog.c\""), "%s", got);
  free(got);
  zr_end(&z);
}

/* Every kind of finding rep_prog and gpa_prog make: each document matches the schema. */
Test(json, every_finding_kind_matches_the_schema) {
  static const char *const rep[] = {"invalid-free", "bad-realloc", "usable-size", "thread-double-free",
                                    "repeated-double-free", "many-errors", "impossible", NULL};
  static const char *const gpa[] = {"underflow", "overflow-large", "write-after-free", "realloc-freed",
                                    "several", NULL};
  for (const char *const *s = rep; *s; s++) {
    zr_run_t z;
    long pid;
    free(run_json(&z, (const char *const[]){REP_PROG, *s, NULL}, NULL, NULL, &pid));
    zr_end(&z);
  }
  for (const char *const *s = gpa; *s; s++) {
    zr_run_t z;
    long pid;
    free(run_json(&z, (const char *const[]){GPA_PROG, *s, NULL}, NULL, NULL, &pid));
    zr_end(&z);
  }
}

Test(json, crash_names_the_block) {
  zr_run_t z;
  long pid;
  char *got = run_json(&z, (const char *const[]){END_PROG, "read-past-freed", NULL}, NULL,
                       PATHS("end.how", "end.signal", "end.signal_number", "end.status", "crash.signal",
                             "crash.code", "crash.thread", "crash.block.state", "crash.block.relation",
                             "crash.block.distance", "crash.block.size", "crash.block.allocated_with",
                             "crash.frames.0.function", "leaks", "stats.live_blocks"),
                       &pid);
  cr_assert_eq(z.r.status, 128 + SIGSEGV);
  ASSERT_GOT(got, "end.how=\"signal\"");
  ASSERT_GOT(got, "end.signal=\"SIGSEGV\"");
  ASSERT_GOT(got, "end.signal_number=11");
  ASSERT_GOT(got, "end.status=null");
  ASSERT_GOT(got, "crash.code=\"SEGV_MAPERR\"");
  ASSERT_GOT(got, "crash.thread=%ld", pid);
  ASSERT_GOT(got, "crash.block.state=\"freed\"");
  ASSERT_GOT(got, "crash.block.relation=\"after\"");
  ASSERT_GOT(got, "crash.block.distance=9");
  ASSERT_GOT(got, "crash.block.size=9437184");
  ASSERT_GOT(got, "crash.block.allocated_with=\"malloc\"");
  ASSERT_GOT(got, "crash.frames.0.function=\"read_freed\"");
  ASSERT_GOT(got, "leaks=null");
  ASSERT_GOT(got, "stats.live_blocks=1");
  free(got);
  zr_end(&z);
}

Test(json, exitcode_and__exit) {
  zr_run_t z;
  long pid;
  char *got = run_json(&z, (const char *const[]){END_PROG, "double-free-_exit", "0", NULL},
                       (const char *const[]){"ZALLOC_EXITCODE=23", NULL},
                       PATHS("end.how", "end.status", "end.exit_status", "end.exitcode_applied"), &pid);
  cr_assert_eq(z.r.status, 23);
  ASSERT_GOT(got, "end.how=\"_exit\"");
  ASSERT_GOT(got, "end.status=0");
  ASSERT_GOT(got, "end.exit_status=23");
  ASSERT_GOT(got, "end.exitcode_applied=true");
  free(got);
  zr_end(&z);
}

Test(json, arena_has_no_leak_check) {
  zr_run_t z;
  long pid;
  char *got = run_json(&z, (const char *const[]){REP_PROG, "leaks", NULL},
                       (const char *const[]){"ZALLOC_MODE=arena", NULL},
                       PATHS("process.mode", "leaks", "stats.live_blocks", "stats.malloc"), &pid);
  ASSERT_GOT(got, "process.mode=\"arena\"");
  ASSERT_GOT(got, "leaks=null");
  ASSERT_GOT(got, "stats.live_blocks=3");
  ASSERT_GOT(got, "stats.malloc=4");
  free(got);
  zr_end(&z);
}

/* Quotes, backslashes, control characters and bytes that are not UTF-8 in the command line: the
 * document stays valid JSON and says what it can. */
Test(json, strings_are_escaped) {
  zr_run_t z;
  long pid;
  char *got = run_json(&z, (const char *const[]){END_PROG, "exit", "0", "a\"b\\c\td\xff" "e", NULL}, NULL,
                       PATHS("process.command"), &pid);
  ASSERT_GOT(got, "process.command=\"%s exit 0 a\\\"b\\\\c d\\ufffde\"", END_PROG);
  free(got);
  zr_end(&z);
}

/* The checker itself: a document with a field missing, or of the wrong type, is refused. */
Test(json, the_checker_refuses_what_the_schema_does_not_allow) {
  zr_run_t z;
  long pid;
  free(run_json(&z, (const char *const[]){END_PROG, "exit", "0", NULL}, NULL, NULL, &pid));
  char *file = zr_fmt("%s/r.%ld", z.dir, pid);
  char *doc = slurp(file, NULL);
  static const char *const breakages[][2] = {
    {"\"version\":1", "\"version\":2"},
    {"\"how\":\"exit\"", "\"how\":\"quit\""},
    {"\"crash\":null,", ""},
    {"\"pid\":", "\"pid\":\"x\",\"was\":"},
  };
  for (size_t i = 0; i < sizeof breakages / sizeof breakages[0]; i++) {
    char *at = strstr(doc, breakages[i][0]);
    cr_assert_not_null(at, "no %s in %s", breakages[i][0], doc);
    char *broken = zr_fmt("%.*s%s%s", (int)(at - doc), doc, breakages[i][1], at + strlen(breakages[i][0]));
    FILE *f = fopen(file, "w");
    fputs(broken, f);
    fclose(f);
    run_result_t r;
    cr_assert(run_program(&r, (const char *const[]){PYTHON3, JSON_CHECK, SCHEMA, file, NULL}, NULL, NULL,
                          NULL, TIMEOUT));
    cr_assert_eq(r.status, 1, "accepted a document with %s: %s", breakages[i][1], r.out);
    run_free(&r);
    free(broken);
  }
  free(doc), free(file);
  zr_end(&z);
}
