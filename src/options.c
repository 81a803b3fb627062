/* zalloc - the option table and its parser (see options.h). */
#include "options.h"

#include <string.h>

za_options_t za_opt;

typedef enum { OPT_ENUM, OPT_BOOL, OPT_PATH, OPT_INT, OPT_SIZE } opt_kind_t;

typedef struct {
  const char *name;
  opt_kind_t kind;
  const char *def;      /* default, spelled as a user would write it */
  const char *values;   /* accepted values, comma separated (ENUM, BOOL); the range (INT,
                         * SIZE), as "lo-hi"; NULL otherwise */
  const char *help;     /* one line for the reference */
  size_t offset;        /* field in za_options_t */
} opt_desc_t;

#define BOOL_VALUES "1,0,yes,no,true,false,on,off"

static const opt_desc_t options[] = {
  {"ZALLOC_MODE", OPT_ENUM, "gpa", "gpa,arena",
   "Allocator backend. `gpa`: the checked general-purpose allocator - call stacks at every "
   "allocation and free, guard bytes, a quarantine of freed blocks, double/invalid free and "
   "mismatch findings, and a leak check at exit. `arena`: per-thread bump allocation, O(1) "
   "malloc and free, no checks beyond invalid and double frees; memory is reused only when the "
   "newest block of a chunk is freed or a whole chunk empties.",
   offsetof(za_options_t, mode)},
  {"ZALLOC_STACK_DEPTH", OPT_INT, "16", "0-64",
   "gpa: frames of call stack recorded at every allocation and free (unwound with DWARF call "
   "frame information, so binaries without frame pointers give full stacks). `0` records none: "
   "faster, but findings and leaks then have no stacks.",
   offsetof(za_options_t, stack_depth)},
  {"ZALLOC_QUARANTINE", OPT_SIZE, "16M", "0-1T",
   "gpa: how much memory freed blocks may hold (their slots, records and queue entries) while "
   "they wait, filled with a pattern, before their memory is reused: a write after free is "
   "caught (checked when a block leaves the quarantine and at exit) and a double free names "
   "the first free. A number of bytes, with an optional K, M, G or T suffix; "
   "`0` turns the quarantine off.",
   offsetof(za_options_t, quarantine)},
  {"ZALLOC_GUARD", OPT_BOOL, "1", BOOL_VALUES,
   "gpa: guard bytes before and after every block, checked at free, realloc and exit, so a "
   "heap overflow or underflow is reported with the block and its allocation stack.",
   offsetof(za_options_t, guard)},
  {"ZALLOC_LEAKS", OPT_ENUM, "lost", "lost,all,off",
   "gpa: the leak check at exit. `lost`: blocks no pointer reaches (definitely and indirectly "
   "lost) grouped by allocation stack, still-reachable memory as one line. `all`: also list "
   "the still-reachable blocks by stack. `off`: no leak check.",
   offsetof(za_options_t, leaks)},
  {"ZALLOC_LOG", OPT_PATH, "stderr", NULL,
   "Where the exit report (and, with ZALLOC_ABORT, the first error) goes: `stderr`, or a file "
   "path opened for appending; `%p` in the path becomes the process id, so a tree of processes "
   "writes one file each. The path is checked at start-up.",
   offsetof(za_options_t, log)},
  {"ZALLOC_ABORT", OPT_BOOL, "0", BOOL_VALUES,
   "Abort (SIGABRT, core dump, debugger stops) at the first heap error after printing it, "
   "instead of recording it for the exit report.",
   offsetof(za_options_t, abort_on_error)},
};
#define N_OPTIONS (sizeof options / sizeof options[0])

const char *za_mode_name(za_mode_t mode) {
  static const char *names[ZA_MODE_COUNT] = {"gpa", "arena"};
  return mode < ZA_MODE_COUNT ? names[mode] : "?";
}

/* Index of `value` in the comma-separated list, or -1. */
static int list_index(const char *list, const char *value) {
  size_t vlen = strlen(value);
  int i = 0;
  for (const char *p = list; *p; i++) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == vlen && n > 0 && memcmp(p, value, n) == 0) return i;
    if (!end) break;
    p = end + 1;
  }
  return -1;
}

/* Longest a user's string may take in an error line, so what is accepted still fits after it. */
#define SHOWN_MAX 160
#define shown(s, buf) za_shown((s), (buf), SHOWN_MAX)

/* A decimal number at the start of `s`, ending at '\0' or at `end` (pass '-' for the low end
 * of a range string "lo-hi", '\0' otherwise, so a value such as "1-2" is refused); with
 * `suffixes`, optionally followed by K, M, G or T (powers of 1024). False on anything else or
 * on overflow. */
static bool parse_number(const char *s, bool suffixes, char end, unsigned long long *out) {
  unsigned long long v = 0;
  const char *p = s;
  for (; *p >= '0' && *p <= '9'; p++)
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (unsigned)(*p - '0'), &v))
      return false;
  if (p == s) return false;
  if (suffixes && *p) {
    const char *units = "KMGT", *u = strchr(units, *p >= 'a' ? *p - 32 : *p);
    if (!u || !*u) return false;
    for (const char *k = units; k <= u; k++)
      if (__builtin_mul_overflow(v, 1024, &v)) return false;
    p++;
  }
  if (*p && *p != end) return false;
  *out = v;
  return true;
}

static void set_defaults(za_options_t *o) {
  memset(o, 0, sizeof *o);
  o->mode = ZA_MODE_GPA;
  o->abort_on_error = false;
  o->stack_depth = 16;
  o->quarantine = 16 * ZA_MiB;
  o->guard = true;
  o->leaks = ZA_LEAKS_LOST;
  strcpy(o->log, "stderr");
}

static bool parse_one(const opt_desc_t *d, const char *value, za_options_t *out, char *err,
                      size_t errlen) {
  char *field = (char *)out + d->offset;
  char buf[SHOWN_MAX];
  switch (d->kind) {
  case OPT_ENUM: {
    int i = list_index(d->values, value);
    if (i < 0) {
      za_snprintf(err, errlen, "zalloc: %s=%s is not a known value; accepted: %s", d->name,
                  shown(value, buf), d->values);
      return false;
    }
    *(za_mode_t *)field = (za_mode_t)i;
    return true;
  }
  case OPT_BOOL: {
    int i = list_index(BOOL_VALUES, value);
    if (i < 0) {
      za_snprintf(err, errlen, "zalloc: %s=%s is not a boolean; accepted: %s", d->name,
                  shown(value, buf), d->values);
      return false;
    }
    *(bool *)field = (i % 2) == 0; /* even entries of BOOL_VALUES are the true spellings */
    return true;
  }
  case OPT_INT:
  case OPT_SIZE: {
    unsigned long long lo, hi, v;
    if (!parse_number(d->values, false, '-', &lo) ||
        !parse_number(strchr(d->values, '-') + 1, true, '\0', &hi))
      return false; /* the table itself is wrong: caught by the unit tests */
    if (!parse_number(value, d->kind == OPT_SIZE, '\0', &v) || v < lo || v > hi) {
      const char *hi_text = strchr(d->values, '-') + 1;
      char lo_text[24];
      za_snprintf(lo_text, sizeof lo_text, "%llu", lo);
      za_snprintf(err, errlen, "zalloc: %s=%s is not %s; accepted: %s from %s to %s%s", d->name,
                  shown(value, buf), d->kind == OPT_SIZE ? "a valid size" : "a valid number",
                  d->kind == OPT_SIZE ? "a size in bytes" : "a whole number", lo_text, hi_text,
                  d->kind == OPT_SIZE ? ", optionally with a K, M, G or T suffix (e.g. 64M)" : "");
      return false;
    }
    if (d->kind == OPT_INT) *(int *)field = (int)v;
    else *(size_t *)field = (size_t)v;
    return true;
  }
  case OPT_PATH: {
    size_t n = strlen(value);
    if (n == 0 || n >= ZA_PATH_MAX) {
      za_snprintf(err, errlen,
                  "zalloc: %s='%s' is not a usable path; accepted: 'stderr' or a file path of "
                  "1 to %d characters (%%p becomes the pid)",
                  d->name, shown(value, buf), ZA_PATH_MAX - 1);
      return false;
    }
    memcpy(field, value, n + 1);
    return true;
  }
  }
  return false;
}

bool za_options_parse(char *const *envp, za_options_t *out, char *err, size_t errlen) {
  set_defaults(out);
  if (!envp) return true;
  for (char *const *e = envp; *e; e++) {
    const char *var = *e;
    if (strncmp(var, "ZALLOC_", 7) != 0) continue;
    const char *eq = strchr(var, '=');
    size_t nlen = eq ? (size_t)(eq - var) : strlen(var);
    const opt_desc_t *d = NULL;
    for (size_t i = 0; i < N_OPTIONS; i++)
      if (strlen(options[i].name) == nlen && memcmp(options[i].name, var, nlen) == 0)
        d = &options[i];
    if (!d) {
      char buf[SHOWN_MAX];
      za_out_t o;
      za_out_init(&o, -1, err, errlen - 1);
      za_out_printf(&o, "zalloc: %s is not a zalloc variable; known:", shown(var, buf));
      for (size_t i = 0; i < N_OPTIONS; i++)
        za_out_printf(&o, "%s %s", i ? "," : "", options[i].name);
      err[o.len] = '\0';
      return false;
    }
    if (!parse_one(d, eq ? eq + 1 : "", out, err, errlen)) return false;
  }
  return true;
}

bool za_options_log_path(const char *pattern, int pid, char *out, size_t cap) {
  if (cap == 0) return false;
  za_out_t o;
  za_out_init(&o, -1, out, cap); /* collects up to cap characters: cap of them do not fit */
  for (const char *p = pattern; *p; p++) {
    if (p[0] == '%' && p[1] == 'p') {
      za_out_printf(&o, "%d", pid);
      p++;
    } else {
      za_out_printf(&o, "%c", *p);
    }
  }
  bool fits = o.len < cap;
  out[fits ? o.len : cap - 1] = '\0';
  return fits;
}

void za_options_write_markdown(za_out_t *o) {
  za_out_str(o, "# Configuration reference\n\n"
                "zalloc reads these environment variables once, when the program starts. A "
                "variable that starts with `ZALLOC_` but is not listed here, or a value that is "
                "not accepted, stops the program before `main` with exit status 2 and one line "
                "on stderr naming the variable, the value and what is accepted.\n\n"
                "This file is generated from the option table in `src/options.c` by "
                "`build/zalloc-options --markdown`; a test keeps the two identical.\n\n"
                "| Variable | Default | Accepted | Meaning |\n|---|---|---|---|\n");
  for (size_t i = 0; i < N_OPTIONS; i++) {
    const opt_desc_t *d = &options[i];
    za_out_printf(o, "| `%s` | `%s` | ", d->name, d->def);
    if (d->kind == OPT_PATH) {
      za_out_str(o, "`stderr` or a file path");
    } else if (d->kind == OPT_INT || d->kind == OPT_SIZE) {
      za_out_printf(o, "%s`%s`", d->kind == OPT_SIZE ? "bytes, " : "", d->values);
    } else {
      za_out_str(o, "`");
      for (const char *p = d->values; *p; p++) /* "a,b" -> "`a`, `b`" */
        za_out_str(o, *p == ',' ? "`, `" : (char[2]){*p, 0});
      za_out_str(o, "`");
    }
    za_out_printf(o, " | %s |\n", d->help);
  }
}
