/* Unit tests of the option parser (za_options_parse) and the log path expansion
 * (za_options_log_path), on hand-built environment arrays: nothing here reads the real
 * environment. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "options.h"

#define ERRLEN 4096

/* Parse `envp`; the error buffer starts filled with a marker so "no error written" shows. */
static bool parse(char *const *envp, za_options_t *o, char *err) {
  memset(err, '#', ERRLEN);
  err[ERRLEN - 1] = '\0';
  memset(o, 0xa5, sizeof *o);
  return za_options_parse(envp, o, err, ERRLEN);
}

static void assert_defaults(const za_options_t *o) {
  cr_assert_eq(o->mode, ZA_MODE_GPA);
  cr_assert_eq(o->abort_on_error, false);
  cr_assert_eq(o->stack_depth, 16);
  cr_assert_eq(o->quarantine, (size_t)16 << 20);
  cr_assert_eq(o->guard, true);
  cr_assert_eq(o->leaks, ZA_LEAKS_LOST);
  cr_assert_str_eq(o->log, "stderr");
}

/* One line (no newline anywhere), naming each of `needles`. */
static void assert_error_line(const char *err, const char *const *needles) {
  cr_assert_neq(err[0], '#', "no error message was written");
  cr_assert(strlen(err) > 0);
  cr_assert_null(strchr(err, '\n'), "error is not one line: \"%s\"", err);
  cr_assert_null(strchr(err, '\r'), "error is not one line: \"%s\"", err);
  for (const char *const *n = needles; *n; n++)
    cr_assert_not_null(strstr(err, *n), "error \"%s\" does not mention \"%s\"", err, *n);
}

/* ---- defaults ---------------------------------------------------------------------------- */

Test(options, defaults_with_null_environment) {
  za_options_t o;
  char err[ERRLEN];
  cr_assert(parse(NULL, &o, err));
  assert_defaults(&o);
}

Test(options, defaults_with_empty_environment) {
  char *envp[] = {NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert(parse(envp, &o, err));
  assert_defaults(&o);
}

Test(options, unrelated_variables_are_ignored) {
  char *envp[] = {"PATH=/usr/bin:/bin", "HOME=/root", "ZALLOC=1", "zalloc_mode=bogus",
                  "XZALLOC_MODE=bogus", "MY_ZALLOC_ABORT=maybe", "LD_PRELOAD=libzalloc.so",
                  "EMPTY=", "NOEQUALS", NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert(parse(envp, &o, err), "unexpected error: %s", err);
  assert_defaults(&o);
}

/* ---- accepted values --------------------------------------------------------------------- */

Test(options, mode_arena) {
  char *envp[] = {"HOME=/", "ZALLOC_MODE=arena", NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert(parse(envp, &o, err), "unexpected error: %s", err);
  cr_assert_eq(o.mode, ZA_MODE_ARENA);
  cr_assert_str_eq(za_mode_name(o.mode), "arena");
  cr_assert_eq(o.abort_on_error, false);
  cr_assert_str_eq(o.log, "stderr");
}

Test(options, mode_gpa) {
  char *envp[] = {"ZALLOC_MODE=gpa", NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert(parse(envp, &o, err), "unexpected error: %s", err);
  cr_assert_eq(o.mode, ZA_MODE_GPA);
  cr_assert_str_eq(za_mode_name(o.mode), "gpa");
  assert_defaults(&o);
}

/* The last assignment of a variable wins (an environment may hold a name twice). */
Test(options, mode_later_value_wins) {
  char *envp[] = {"ZALLOC_MODE=arena", "ZALLOC_MODE=gpa", NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert(parse(envp, &o, err), "unexpected error: %s", err);
  cr_assert_eq(o.mode, ZA_MODE_GPA);
}

Test(options, mode_names) {
  cr_assert_str_eq(za_mode_name(ZA_MODE_GPA), "gpa");
  cr_assert_str_eq(za_mode_name(ZA_MODE_ARENA), "arena");
  cr_assert_str_eq(za_mode_name(ZA_MODE_COUNT), "?");
}

Test(options, abort_every_boolean_spelling) {
  static const struct { const char *var; bool value; } cases[] = {
    {"ZALLOC_ABORT=1", true},     {"ZALLOC_ABORT=yes", true},  {"ZALLOC_ABORT=true", true},
    {"ZALLOC_ABORT=on", true},    {"ZALLOC_ABORT=0", false},   {"ZALLOC_ABORT=no", false},
    {"ZALLOC_ABORT=false", false}, {"ZALLOC_ABORT=off", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i].var, NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert(parse(envp, &o, err), "%s rejected: %s", cases[i].var, err);
    cr_assert_eq(o.abort_on_error, cases[i].value, "%s parsed as %d", cases[i].var,
                 o.abort_on_error);
    cr_assert_eq(o.mode, ZA_MODE_GPA);
    cr_assert_str_eq(o.log, "stderr");
  }
}

Test(options, log_values) {
  static const char *const cases[][2] = {
    {"ZALLOC_LOG=stderr", "stderr"},
    {"ZALLOC_LOG=/tmp/zalloc.log", "/tmp/zalloc.log"},
    {"ZALLOC_LOG=/tmp/zalloc.%p.log", "/tmp/zalloc.%p.log"},   /* %p kept for later */
    {"ZALLOC_LOG=relative/report-%p-%p", "relative/report-%p-%p"},
    {"ZALLOC_LOG=a=b", "a=b"},                                /* '=' inside the value */
    {"ZALLOC_LOG=x", "x"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i][0], NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert(parse(envp, &o, err), "%s rejected: %s", cases[i][0], err);
    cr_assert_str_eq(o.log, cases[i][1]);
    cr_assert_eq(o.mode, ZA_MODE_GPA);
    cr_assert_eq(o.abort_on_error, false);
  }
}

Test(options, log_longest_path_accepted) {
  char var[16 + ZA_PATH_MAX];
  strcpy(var, "ZALLOC_LOG=");
  size_t len = ZA_PATH_MAX - 1;
  memset(var + 11, 'a', len);
  var[11 + len] = '\0';
  char *envp[] = {var, NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert(parse(envp, &o, err), "a %zu-character path was rejected: %s", len, err);
  cr_assert_eq(strlen(o.log), len);
  cr_assert_str_eq(o.log, var + 11);
}

Test(options, all_variables_together) {
  char *envp[] = {"ZALLOC_ABORT=yes", "USER=me", "ZALLOC_LOG=/tmp/r.%p", "ZALLOC_MODE=arena",
                  "ZALLOC_STACK_DEPTH=8", "ZALLOC_QUARANTINE=1M", "ZALLOC_GUARD=off",
                  "ZALLOC_LEAKS=all", NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert(parse(envp, &o, err), "unexpected error: %s", err);
  cr_assert_eq(o.mode, ZA_MODE_ARENA);
  cr_assert_eq(o.abort_on_error, true);
  cr_assert_str_eq(o.log, "/tmp/r.%p");
  cr_assert_eq(o.stack_depth, 8);
  cr_assert_eq(o.quarantine, (size_t)1 << 20);
  cr_assert_eq(o.guard, false);
  cr_assert_eq(o.leaks, ZA_LEAKS_ALL);
}

/* ---- the GPA options: accepted values and boundaries ---------------------------------------- */

Test(options, stack_depth_values) {
  static const struct { const char *var; int value; } cases[] = {
    {"ZALLOC_STACK_DEPTH=0", 0},   {"ZALLOC_STACK_DEPTH=1", 1},   {"ZALLOC_STACK_DEPTH=16", 16},
    {"ZALLOC_STACK_DEPTH=63", 63}, {"ZALLOC_STACK_DEPTH=64", 64}, {"ZALLOC_STACK_DEPTH=007", 7},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i].var, NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert(parse(envp, &o, err), "%s rejected: %s", cases[i].var, err);
    cr_assert_eq(o.stack_depth, cases[i].value, "%s parsed as %d", cases[i].var, o.stack_depth);
    cr_assert_eq(o.mode, ZA_MODE_GPA);
    cr_assert_eq(o.quarantine, (size_t)16 << 20);
  }
}

Test(options, quarantine_values) {
  static const struct { const char *var; size_t value; } cases[] = {
    {"ZALLOC_QUARANTINE=0", 0},
    {"ZALLOC_QUARANTINE=1", 1},
    {"ZALLOC_QUARANTINE=4096", 4096},
    {"ZALLOC_QUARANTINE=4K", 4096},
    {"ZALLOC_QUARANTINE=4k", 4096},
    {"ZALLOC_QUARANTINE=16M", (size_t)16 << 20},
    {"ZALLOC_QUARANTINE=16m", (size_t)16 << 20},
    {"ZALLOC_QUARANTINE=0M", 0},
    {"ZALLOC_QUARANTINE=2G", (size_t)2 << 30},
    {"ZALLOC_QUARANTINE=1024G", (size_t)1 << 40},  /* the top of the range, 1T */
    {"ZALLOC_QUARANTINE=1T", (size_t)1 << 40},
    {"ZALLOC_QUARANTINE=1099511627776", (size_t)1 << 40},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i].var, NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert(parse(envp, &o, err), "%s rejected: %s", cases[i].var, err);
    cr_assert_eq(o.quarantine, cases[i].value, "%s parsed as %zu", cases[i].var, o.quarantine);
    cr_assert_eq(o.stack_depth, 16);
  }
}

Test(options, guard_every_boolean_spelling) {
  static const struct { const char *var; bool value; } cases[] = {
    {"ZALLOC_GUARD=1", true},     {"ZALLOC_GUARD=yes", true},  {"ZALLOC_GUARD=true", true},
    {"ZALLOC_GUARD=on", true},    {"ZALLOC_GUARD=0", false},   {"ZALLOC_GUARD=no", false},
    {"ZALLOC_GUARD=false", false}, {"ZALLOC_GUARD=off", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i].var, NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert(parse(envp, &o, err), "%s rejected: %s", cases[i].var, err);
    cr_assert_eq(o.guard, cases[i].value, "%s parsed as %d", cases[i].var, o.guard);
    cr_assert_eq(o.abort_on_error, false);
  }
}

Test(options, leaks_values) {
  static const struct { const char *var; za_leaks_mode_t value; } cases[] = {
    {"ZALLOC_LEAKS=lost", ZA_LEAKS_LOST},
    {"ZALLOC_LEAKS=all", ZA_LEAKS_ALL},
    {"ZALLOC_LEAKS=off", ZA_LEAKS_OFF},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i].var, NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert(parse(envp, &o, err), "%s rejected: %s", cases[i].var, err);
    cr_assert_eq(o.leaks, cases[i].value, "%s parsed as %d", cases[i].var, (int)o.leaks);
    cr_assert_eq(o.mode, ZA_MODE_GPA);
  }
}

/* ---- errors ------------------------------------------------------------------------------ */

Test(options, unknown_variable) {
  char *envp[] = {"HOME=/", "ZALLOC_MOED=arena", NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert_not(parse(envp, &o, err));
  assert_error_line(err, (const char *[]){"ZALLOC_MOED", "arena", "ZALLOC_MODE", "ZALLOC_LOG",
                                          "ZALLOC_ABORT", "ZALLOC_STACK_DEPTH", "ZALLOC_QUARANTINE",
                                          "ZALLOC_GUARD", "ZALLOC_LEAKS", NULL});
}

Test(options, unknown_variable_with_odd_value) {
  char *envp[] = {"ZALLOC_VERBOSE=17", NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert_not(parse(envp, &o, err));
  assert_error_line(err, (const char *[]){"ZALLOC_VERBOSE", "17", "ZALLOC_MODE", "ZALLOC_LOG",
                                          "ZALLOC_ABORT", NULL});
}

Test(options, unknown_variables_that_are_prefixes_or_extensions) {
  static const char *const cases[][2] = {
    {"ZALLOC_MOD=arena", "ZALLOC_MOD"},
    {"ZALLOC_MODES=arena", "ZALLOC_MODES"},
    {"ZALLOC_=1", "ZALLOC_"},
    {"ZALLOC_mode=arena", "ZALLOC_mode"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i][0], NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert_not(parse(envp, &o, err), "%s accepted", cases[i][0]);
    assert_error_line(err, (const char *[]){cases[i][1], "ZALLOC_MODE", NULL});
  }
}

Test(options, bad_mode) {
  static const char *const cases[][2] = {
    {"ZALLOC_MODE=bogus", "bogus"},
    {"ZALLOC_MODE=aren", "aren"},       /* a prefix of a valid value */
    {"ZALLOC_MODE=arenas", "arenas"},   /* a valid value as a prefix */
    {"ZALLOC_MODE=ARENA", "ARENA"},
    {"ZALLOC_MODE=arena ", "arena "},
    {"ZALLOC_MODE=arena,arena", "arena,arena"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i][0], NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert_not(parse(envp, &o, err), "%s accepted", cases[i][0]);
    assert_error_line(err, (const char *[]){"ZALLOC_MODE", cases[i][1], "accepted", "gpa", "arena",
                                            NULL});
  }
}

Test(options, bad_stack_depth) {
  static const char *const cases[][2] = {
    {"ZALLOC_STACK_DEPTH=65", "=65"},         /* one past the top */
    {"ZALLOC_STACK_DEPTH=-1", "=-1"},         /* below the bottom */
    {"ZALLOC_STACK_DEPTH=abc", "=abc"},
    {"ZALLOC_STACK_DEPTH=1000", "=1000"},
    {"ZALLOC_STACK_DEPTH=99999999999999999999", "=99999999999999999999"}, /* overflows */
    {"ZALLOC_STACK_DEPTH=16K", "=16K"},       /* no suffixes on a count */
    {"ZALLOC_STACK_DEPTH=1.5", "=1.5"},
    {"ZALLOC_STACK_DEPTH= 8", "= 8"},
    {"ZALLOC_STACK_DEPTH=8 ", "=8 "},
    {"ZALLOC_STACK_DEPTH=+8", "=+8"},
    {"ZALLOC_STACK_DEPTH=1-2", "=1-2"},       /* shaped like the range, not a number */
    {"ZALLOC_STACK_DEPTH=0x10", "=0x10"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i][0], NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert_not(parse(envp, &o, err), "%s accepted", cases[i][0]);
    assert_error_line(err, (const char *[]){"ZALLOC_STACK_DEPTH", cases[i][1], "accepted",
                                            "whole number", "0", "64", NULL});
    cr_assert_eq(o.stack_depth, 16, "%s: a refused value must not be stored", cases[i][0]);
  }
}

Test(options, bad_quarantine) {
  static const char *const cases[][2] = {
    {"ZALLOC_QUARANTINE=1X", "=1X"},          /* unknown suffix */
    {"ZALLOC_QUARANTINE=99999999999999999999", "=99999999999999999999"}, /* overflows */
    {"ZALLOC_QUARANTINE=17179869184G", "=17179869184G"},                 /* overflows by the suffix */
    {"ZALLOC_QUARANTINE=2T", "=2T"},          /* above the top */
    {"ZALLOC_QUARANTINE=1099511627777", "=1099511627777"},               /* 1T + 1 */
    {"ZALLOC_QUARANTINE=-1", "=-1"},
    {"ZALLOC_QUARANTINE=M", "=M"},            /* a suffix without a number */
    {"ZALLOC_QUARANTINE=16MB", "=16MB"},
    {"ZALLOC_QUARANTINE=16 M", "=16 M"},
    {"ZALLOC_QUARANTINE=1.5M", "=1.5M"},
    {"ZALLOC_QUARANTINE=1-2", "=1-2"},
    {"ZALLOC_QUARANTINE=abc", "=abc"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i][0], NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert_not(parse(envp, &o, err), "%s accepted", cases[i][0]);
    assert_error_line(err, (const char *[]){"ZALLOC_QUARANTINE", cases[i][1], "accepted", "size",
                                            "bytes", "0", "1T", "K", "M", "G", "suffix", NULL});
    cr_assert_eq(o.quarantine, (size_t)16 << 20, "%s: a refused value must not be stored", cases[i][0]);
  }
}

Test(options, bad_guard) {
  static const char *const cases[][2] = {
    {"ZALLOC_GUARD=2", "=2"}, {"ZALLOC_GUARD=guard", "guard"}, {"ZALLOC_GUARD=ON", "ON"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i][0], NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert_not(parse(envp, &o, err), "%s accepted", cases[i][0]);
    assert_error_line(err, (const char *[]){"ZALLOC_GUARD", cases[i][1], "accepted", "1", "0",
                                            "yes", "no", "true", "false", "on", "off", NULL});
  }
}

Test(options, bad_leaks) {
  static const char *const cases[][2] = {
    {"ZALLOC_LEAKS=none", "none"}, {"ZALLOC_LEAKS=LOST", "LOST"}, {"ZALLOC_LEAKS=1", "=1"},
    {"ZALLOC_LEAKS=los", "los"},   {"ZALLOC_LEAKS=lost,all", "lost,all"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i][0], NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert_not(parse(envp, &o, err), "%s accepted", cases[i][0]);
    assert_error_line(err, (const char *[]){"ZALLOC_LEAKS", cases[i][1], "accepted", "lost", "all",
                                            "off", NULL});
  }
}

Test(options, bad_boolean) {
  static const char *const cases[][2] = {
    {"ZALLOC_ABORT=2", "=2"},         {"ZALLOC_ABORT=maybe", "maybe"},
    {"ZALLOC_ABORT=y", "=y"},         {"ZALLOC_ABORT=10", "10"},
    {"ZALLOC_ABORT=onn", "onn"},      {"ZALLOC_ABORT=-1", "-1"},
    {"ZALLOC_ABORT=yes,no", "yes,no"}, {"ZALLOC_ABORT=1 ", "1 "},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i][0], NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert_not(parse(envp, &o, err), "%s accepted", cases[i][0]);
    assert_error_line(err, (const char *[]){"ZALLOC_ABORT", cases[i][1], "accepted", "1", "0",
                                            "yes", "no", "true", "false", "on", "off", NULL});
  }
}

Test(options, empty_values) {
  static const char *const cases[][2] = {
    {"ZALLOC_MODE=", "ZALLOC_MODE"},
    {"ZALLOC_ABORT=", "ZALLOC_ABORT"},
    {"ZALLOC_LOG=", "ZALLOC_LOG"},
    {"ZALLOC_STACK_DEPTH=", "ZALLOC_STACK_DEPTH"},
    {"ZALLOC_QUARANTINE=", "ZALLOC_QUARANTINE"},
    {"ZALLOC_GUARD=", "ZALLOC_GUARD"},
    {"ZALLOC_LEAKS=", "ZALLOC_LEAKS"},
    {"ZALLOC_QUARANTINE", "ZALLOC_QUARANTINE"},
    {"ZALLOC_MODE", "ZALLOC_MODE"},     /* no '=' at all */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i][0], NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert_not(parse(envp, &o, err), "%s accepted", cases[i][0]);
    assert_error_line(err, (const char *[]){cases[i][1], "accepted", NULL});
  }
}

Test(options, empty_log_names_what_is_accepted) {
  char *envp[] = {"ZALLOC_LOG=", NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert_not(parse(envp, &o, err));
  assert_error_line(err, (const char *[]){"ZALLOC_LOG", "''", "stderr", "path", NULL});
}

Test(options, overlong_log_path) {
  char var[32 + 2 * ZA_PATH_MAX];
  strcpy(var, "ZALLOC_LOG=");
  size_t len = ZA_PATH_MAX;   /* one more than fits */
  memset(var + 11, 'b', len);
  var[11 + len] = '\0';
  char *envp[] = {var, NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert_not(parse(envp, &o, err));
  char limit[16], start[64];
  snprintf(limit, sizeof limit, "%d", ZA_PATH_MAX - 1);
  memcpy(start, var + 11, 63);   /* the start of the value is named */
  start[63] = '\0';
  assert_error_line(err, (const char *[]){"ZALLOC_LOG", start, "stderr", limit, NULL});
  cr_assert_str_eq(o.log, "stderr", "an over-long path must not be stored");
}

/* zalloc's start-up formats the error in 512 bytes: a long value must not push what is
 * accepted out of the line. */
Test(options, long_values_leave_room_for_what_is_accepted) {
  static char mode[2048], abrt[2048], log[2048], unknown[2048], depth[2048], quar[2048],
      leaks[2048];
  const struct { char *var; const char *prefix; const char *accepted; } cases[] = {
    {mode, "ZALLOC_MODE=", "arena"},
    {depth, "ZALLOC_STACK_DEPTH=", "64"},
    {quar, "ZALLOC_QUARANTINE=", "suffix"},
    {leaks, "ZALLOC_LEAKS=", "off"},
    {abrt, "ZALLOC_ABORT=", "yes"},
    {log, "ZALLOC_LOG=", "stderr"},
    {unknown, "ZALLOC_LONG=", "ZALLOC_ABORT"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t plen = strlen(cases[i].prefix);
    memcpy(cases[i].var, cases[i].prefix, plen);
    memset(cases[i].var + plen, 'v', 1500);
    cases[i].var[plen + 1500] = '\0';
    char *envp[] = {cases[i].var, NULL};
    za_options_t o;
    char err[512];
    memset(err, '#', sizeof err);
    cr_assert_not(za_options_parse(envp, &o, err, sizeof err));
    cr_assert_lt(strlen(err), sizeof err);
    assert_error_line(err, (const char *[]){"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
                                            cases[i].accepted, NULL});
  }
}

Test(options, error_leaves_defaults_for_unparsed_options) {
  char *envp[] = {"ZALLOC_ABORT=on", "ZALLOC_MODE=fast", "ZALLOC_LOG=/tmp/x", NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert_not(parse(envp, &o, err));
  assert_error_line(err, (const char *[]){"ZALLOC_MODE", "fast", NULL});
  cr_assert_eq(o.abort_on_error, true);      /* parsed before the error */
  cr_assert_str_eq(o.log, "stderr");         /* not parsed: default */
  cr_assert_eq(o.mode, ZA_MODE_GPA);
}

Test(options, first_error_is_reported) {
  char *envp[] = {"ZALLOC_ABORT=perhaps", "ZALLOC_MODE=fast", NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert_not(parse(envp, &o, err));
  assert_error_line(err, (const char *[]){"ZALLOC_ABORT", "perhaps", NULL});
  cr_assert_null(strstr(err, "fast"));
}

/* A value with a line break in it must not split the error into several lines. */
Test(options, error_stays_one_line_with_control_characters_in_value) {
  static const char *const cases[][3] = {
    {"ZALLOC_MODE=are\nna", "ZALLOC_MODE", "accepted"},
    {"ZALLOC_ABORT=1\n", "ZALLOC_ABORT", "accepted"},
    {"ZALLOC_MOED=x\ny", "ZALLOC_MOED", "known"},
    {"ZALLOC_ABORT=\r\n", "ZALLOC_ABORT", "accepted"},
    {"ZALLOC_MODE=\t\x7f", "ZALLOC_MODE", "accepted"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i][0], NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert_not(parse(envp, &o, err), "value %zu accepted", i);
    assert_error_line(err, (const char *[]){cases[i][1], cases[i][2], NULL});
  }
  /* The control character is still shown, escaped. */
  char *envp[] = {"ZALLOC_MODE=are\nna", NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert_not(parse(envp, &o, err));
  cr_assert_not_null(strstr(err, "are\\x0ana"), "%s", err);
}

Test(options, small_error_buffer_truncates_safely) {
  static const char *const cases[] = {"ZALLOC_MODE=bogus", "ZALLOC_ABORT=maybe",
                                      "ZALLOC_MOED=arena", "ZALLOC_LOG=",
                                      "ZALLOC_STACK_DEPTH=65", "ZALLOC_QUARANTINE=1X"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    for (size_t cap = 1; cap <= 24; cap++) {
      char buf[64];
      memset(buf, 'Z', sizeof buf);
      char *envp[] = {(char *)cases[i], NULL};
      za_options_t o;
      cr_assert_not(za_options_parse(envp, &o, buf, cap));
      cr_assert_eq(strnlen(buf, cap), strlen(buf), "%s, cap %zu: not NUL-terminated", cases[i], cap);
      cr_assert_eq(strlen(buf), cap - 1, "%s, cap %zu: length %zu", cases[i], cap, strlen(buf));
      for (size_t k = cap; k < sizeof buf; k++)
        cr_assert_eq(buf[k], 'Z', "%s, cap %zu: wrote past the buffer at %zu", cases[i], cap, k);
    }
  }
}

/* ---- log path expansion ------------------------------------------------------------------ */

Test(options, log_path_single_pid) {
  char out[64];
  cr_assert(za_options_log_path("/tmp/zalloc.%p.log", 1234, out, sizeof out));
  cr_assert_str_eq(out, "/tmp/zalloc.1234.log");
}

Test(options, log_path_several_pids) {
  char out[64];
  cr_assert(za_options_log_path("%p/%p-%p", 42, out, sizeof out));
  cr_assert_str_eq(out, "42/42-42");
  cr_assert(za_options_log_path("%p%p", 7, out, sizeof out));
  cr_assert_str_eq(out, "77");
}

Test(options, log_path_without_pid) {
  char out[64];
  cr_assert(za_options_log_path("/var/log/zalloc.txt", 99, out, sizeof out));
  cr_assert_str_eq(out, "/var/log/zalloc.txt");
  cr_assert(za_options_log_path("100%", 99, out, sizeof out));   /* a lone trailing % */
  cr_assert_str_eq(out, "100%");
  cr_assert(za_options_log_path("a%db", 99, out, sizeof out));   /* only %p is special */
  cr_assert_str_eq(out, "a%db");
}

Test(options, log_path_large_pid) {
  char out[64];
  cr_assert(za_options_log_path("z.%p", 4194304, out, sizeof out));
  cr_assert_str_eq(out, "z.4194304");
}

Test(options, log_path_too_long) {
  char out[8];
  memset(out, 'Z', sizeof out);
  cr_assert_not(za_options_log_path("%p%p", 12345, out, sizeof out));   /* 10 characters */
  cr_assert_eq(strnlen(out, sizeof out), strlen(out), "not NUL-terminated");
  char big[2 * ZA_PATH_MAX];
  memset(big, 'p', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  char res[ZA_PATH_MAX + 32];
  cr_assert_not(za_options_log_path(big, 1, res, sizeof res));
  /* A path that fits, but whose expansion does not. */
  char pattern[ZA_PATH_MAX];
  memset(pattern, 'x', sizeof pattern);
  memcpy(pattern + ZA_PATH_MAX - 1 - 2 * 8, "%p%p%p%p%p%p%p%p", 16);
  pattern[ZA_PATH_MAX - 1] = '\0';
  cr_assert(za_options_log_path(pattern, 1, res, sizeof res));
  cr_assert_not(za_options_log_path(pattern, 1234567, res, sizeof res)); /* 551 characters */
}

/* The boundary: a result of exactly cap - 1 characters fits (with its NUL), cap does not. */
Test(options, log_path_exact_fit) {
  char out[5];
  cr_assert(za_options_log_path("ab%p", 12, out, sizeof out), "\"ab12\" fits in 5 bytes");
  cr_assert_str_eq(out, "ab12");
  cr_assert(za_options_log_path("abcd", 1, out, sizeof out), "\"abcd\" fits in 5 bytes");
  cr_assert_str_eq(out, "abcd");
  cr_assert_not(za_options_log_path("ab%p", 123, out, sizeof out));
  cr_assert_not(za_options_log_path("abcde", 1, out, sizeof out));
  char one[1];
  cr_assert(za_options_log_path("", 1, one, sizeof one));
  cr_assert_str_eq(one, "");
}

/* ---- the reference ----------------------------------------------------------------------- */

/* Lines of `md` that are rows of the variable table. */
static size_t zr_rows(const char *md) {
  size_t n = 0;
  for (const char *p = md; (p = strstr(p, "\n| `ZALLOC_")) != NULL; p++) n++;
  return n;
}

Test(options, markdown_lists_every_variable) {
  static char buf[16384];
  za_out_t o;
  za_out_init(&o, -1, buf, sizeof buf - 1);
  za_options_write_markdown(&o);
  buf[o.len] = '\0';
  cr_assert_lt(o.len, sizeof buf - 1, "reference truncated");
  cr_assert_not_null(strstr(buf, "| `ZALLOC_MODE` | `gpa` | `gpa`, `arena`, `page` |"), "%s", buf);
  cr_assert_not_null(strstr(buf, "| `ZALLOC_STACK_DEPTH` | `16` | `0-64` |"), "%s", buf);
  cr_assert_not_null(strstr(buf, "| `ZALLOC_QUARANTINE` | `16M` | bytes, `0-1T` |"), "%s", buf);
  cr_assert_not_null(strstr(buf, "| `ZALLOC_GUARD` | `1` |"), "%s", buf);
  cr_assert_not_null(strstr(buf, "| `ZALLOC_LEAKS` | `lost` | `lost`, `all`, `off` |"), "%s", buf);
  cr_assert_not_null(strstr(buf, "| `ZALLOC_LOG` | `stderr` |"));
  cr_assert_not_null(strstr(buf, "| `ZALLOC_ABORT` | `0` |"));
  static const char *const bools[] = {"| `ZALLOC_ABORT`", "| `ZALLOC_GUARD`"};
  static const char *const spellings[] = {"1", "0", "yes", "no", "true", "false", "on", "off"};
  for (size_t b = 0; b < 2; b++) {
    const char *row = strstr(buf, bools[b]);
    const char *end = strchr(row, '\n');
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
      char quoted[16];
      snprintf(quoted, sizeof quoted, "`%s`", spellings[i]);
      const char *at = strstr(row, quoted);
      cr_assert(at && at < end, "%s missing from the %s row", quoted, bools[b]);
    }
  }
  cr_assert_not_null(strstr(buf, "| `ZALLOC_FORMAT` | `text` | `text`, `json` |"), "%s", buf);
  cr_assert_not_null(strstr(buf, "| `ZALLOC_EXITCODE` | `0` | `0-255` |"), "%s", buf);
  cr_assert_not_null(strstr(buf, "| `ZALLOC_SUPPRESS` | (none) | files separated by `:` |"), "%s", buf);
  cr_assert_not_null(strstr(buf, "| `ZALLOC_REPORT_SIGNAL` | `off` | `off`, `SIGUSR1`, `SIGUSR2`,"), "%s", buf);
  cr_assert_not_null(strstr(buf, "| `ZALLOC_CRASH_REPORT` | `1` |"), "%s", buf);
  /* One row per variable, each on one line, in the table. */
  cr_assert_eq(zr_rows(buf), 24, "%s", buf);
}

Test(options, report_options) {
  char *envp[] = {"ZALLOC_FORMAT=json", "ZALLOC_EXITCODE=23", "ZALLOC_SUPPRESS=/a.supp:/b.supp",
                  "ZALLOC_PRINT_SUPPRESSIONS=yes", "ZALLOC_REPORT_SIGNAL=SIGUSR2",
                  "ZALLOC_CRASH_REPORT=0", "ZALLOC_SUMMARY_DIR=/tmp/x", NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert(parse(envp, &o, err), "unexpected error: %s", err);
  cr_assert_eq(o.format, ZA_FORMAT_JSON);
  cr_assert_eq(o.exitcode, 23);
  cr_assert_str_eq(o.suppress, "/a.supp:/b.supp");
  cr_assert(o.print_suppressions);
  cr_assert_eq(o.report_signal, SIGUSR2);
  cr_assert_not(o.crash_report);
  cr_assert_str_eq(o.summary_dir, "/tmp/x");
}

Test(options, report_option_defaults) {
  za_options_t o;
  char err[ERRLEN];
  cr_assert(parse(NULL, &o, err));
  cr_assert_eq(o.format, ZA_FORMAT_TEXT);
  cr_assert_eq(o.exitcode, 0);
  cr_assert_str_eq(o.suppress, "");
  cr_assert_not(o.print_suppressions);
  cr_assert_eq(o.report_signal, 0);
  cr_assert(o.crash_report);
  cr_assert_str_eq(o.summary_dir, "");
}

Test(options, bad_report_options) {
  static const char *const cases[][3] = {
    {"ZALLOC_FORMAT=xml", "ZALLOC_FORMAT", "json"},
    {"ZALLOC_EXITCODE=256", "ZALLOC_EXITCODE", "0 to 255"},
    {"ZALLOC_EXITCODE=-1", "ZALLOC_EXITCODE", "0 to 255"},
    {"ZALLOC_REPORT_SIGNAL=SIGKILL", "ZALLOC_REPORT_SIGNAL", "SIGUSR2"},
    {"ZALLOC_REPORT_SIGNAL=usr2", "ZALLOC_REPORT_SIGNAL", "SIGUSR1"},
    {"ZALLOC_CRASH_REPORT=maybe", "ZALLOC_CRASH_REPORT", "yes"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *envp[] = {(char *)cases[i][0], NULL};
    za_options_t o;
    char err[ERRLEN];
    cr_assert_not(parse(envp, &o, err), "%s accepted", cases[i][0]);
    assert_error_line(err, (const char *[]){cases[i][1], "accepted", cases[i][2], NULL});
  }
}

Test(options, overlong_suppression_list) {
  static char var[ZA_SUPPRESS_MAX + 64];
  int n = snprintf(var, sizeof var, "ZALLOC_SUPPRESS=");
  memset(var + n, 'a', ZA_SUPPRESS_MAX);
  char *envp[] = {var, NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert_not(parse(envp, &o, err));
  assert_error_line(err, (const char *[]){"ZALLOC_SUPPRESS", "too long", "accepted", NULL});
}

/* The wrapper's flags come from the same table: every option it takes, spelled from the
 * variable's name, and none for the variable only the wrapper itself sets. */
Test(options, wrapper_flags_follow_the_table) {
  za_wrapper_option_t w;
  size_t n = 0;
  bool stack_depth = false, abort_flag = false;
  for (; za_options_wrapper(n, &w); n++) {
    cr_assert_str_neq(w.variable, "ZALLOC_SUMMARY_DIR");
    cr_assert_str_neq(w.variable, "ZALLOC_FAIL_SITES");
    cr_assert(strncmp(w.flag, "--", 2) == 0 && strchr(w.flag, '_') == NULL, "%s", w.flag);
    if (strcmp(w.variable, "ZALLOC_STACK_DEPTH") == 0) {
      stack_depth = true;
      cr_assert_str_eq(w.flag, "--stack-depth");
      cr_assert_str_eq(w.metavar, "N");
    }
    if (strcmp(w.variable, "ZALLOC_ABORT") == 0) {
      abort_flag = true;
      cr_assert_str_eq(w.flag, "--abort");
      cr_assert_null(w.metavar);
    }
  }
  cr_assert_eq(n, 22);
  cr_assert(stack_depth && abort_flag);
  char err[ERRLEN];
  cr_assert(za_options_check("ZALLOC_MODE", "arena", err, sizeof err));
  cr_assert_not(za_options_check("ZALLOC_MODE", "fast", err, sizeof err));
  assert_error_line(err, (const char *[]){"ZALLOC_MODE=fast", "accepted", NULL});
}

/* The manual page: every variable and every wrapper flag, in troff. */
Test(options, man_page_lists_every_variable_and_flag) {
  static char buf[65536];
  za_out_t o;
  za_out_init(&o, -1, buf, sizeof buf - 1);
  za_options_write_man(&o);
  buf[o.len] = '\0';
  cr_assert_lt(o.len, sizeof buf - 1);
  cr_assert(strncmp(buf, ".\\\"", 3) == 0 && strstr(buf, "\n.TH ZALLOC 1 "), "%.200s", buf);
  static const char *const vars[] = {"ZALLOC_MODE", "ZALLOC_LOG", "ZALLOC_SUPPRESS",
                                     "ZALLOC_SUMMARY_DIR", "ZALLOC_EXITCODE", NULL};
  for (const char *const *v = vars; *v; v++) {
    char want[64];
    snprintf(want, sizeof want, "\n.B %s\n", *v);
    cr_assert_not_null(strstr(buf, want), "%s missing", *v);
  }
  cr_assert_not_null(strstr(buf, "\n.B \\-\\-stack\\-depth=\\fIN\\fR\n"), "%s", buf);
  cr_assert_not_null(strstr(buf, "\n.B \\-\\-abort\n"), "%s", buf);
  /* No line starts with a stray '.' or '\'' of the help text. */
  for (const char *p = buf; (p = strchr(p, '\n')) != NULL; p++)
    if (p[1] == '\'') cr_assert_fail("a line starts with a quote: %.60s", p + 1);
}

/* The table's own figures parse: the defaults it shows are what the parser sets. */
Test(options, documented_defaults_are_the_defaults) {
  char *envp[] = {"ZALLOC_MODE=gpa", "ZALLOC_STACK_DEPTH=16", "ZALLOC_QUARANTINE=16M",
                  "ZALLOC_GUARD=1", "ZALLOC_LEAKS=lost", "ZALLOC_LOG=stderr", "ZALLOC_ABORT=0",
                  NULL};
  za_options_t o;
  char err[ERRLEN];
  cr_assert(parse(envp, &o, err), "unexpected error: %s", err);
  assert_defaults(&o);
}

/* --exitcode is the wrapper's own judgement of the tree: it must not set ZALLOC_EXITCODE for
 * every process (a compiler that leaks would then fail the build it is part of). */
Test(options, exitcode_is_applied_by_the_wrapper_not_exported) {
  za_wrapper_option_t w;
  bool seen = false;
  for (size_t i = 0; za_options_wrapper(i, &w); i++) {
    if (strcmp(w.variable, "ZALLOC_EXITCODE") == 0) {
      seen = true;
      cr_assert_not(w.exported);
    } else {
      cr_assert(w.exported, "%s", w.variable);
    }
  }
  cr_assert(seen);
}

/* The wrapper's own flags, and `zalloc --help`, come from the tables too: every flag of both
 * appears in the help, lines fit the width, backquotes of the reference are gone. */
Test(options, help_lists_every_flag_within_the_width) {
  static char buf[32768];
  za_out_t o;
  za_out_init(&o, -1, buf, sizeof buf - 1);
  za_options_write_help(&o, 79);
  buf[o.len] = '\0';
  cr_assert_lt(o.len, sizeof buf - 1);
  cr_assert(strncmp(buf, "usage: zalloc [options]", 23) == 0, "%.100s", buf);
  za_wrapper_option_t w;
  size_t own = 0;
  for (size_t i = 0; za_options_wrapper(i, &w); i++) {
    char want[64];
    snprintf(want, sizeof want, "\n  %s%s", w.flag, w.metavar ? "=" : "");
    cr_assert_not_null(strstr(buf, want), "%s missing from:\n%s", w.flag, buf);
  }
  for (; za_options_wrapper_only(own, &w); own++) {
    cr_assert_null(w.variable);
    char want[64];
    snprintf(want, sizeof want, "\n  %s", w.flag);
    cr_assert_not_null(strstr(buf, want), "%s missing", w.flag);
  }
  cr_assert_geq(own, 4);
  cr_assert_null(strchr(buf, '`'), "a backquote in the help");
  /* Wrapped lines (indented by 6) fit in 79 columns. */
  for (const char *line = buf; *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    if (strncmp(line, "      ", 6) == 0) cr_assert_leq(len, 79, "%.*s", (int)len, line);
    line += len + (nl != NULL);
  }
}
