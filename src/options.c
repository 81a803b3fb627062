/* zalloc - the option table and its parser (see options.h). */
#include "options.h"

#include <string.h>

za_options_t za_opt;

typedef enum { OPT_ENUM, OPT_BOOL, OPT_PATH } opt_kind_t;

typedef struct {
  const char *name;
  opt_kind_t kind;
  const char *def;      /* default, spelled as a user would write it */
  const char *values;   /* accepted values, comma separated (ENUM, BOOL); NULL otherwise */
  const char *help;     /* one line for the reference */
  size_t offset;        /* field in za_options_t */
} opt_desc_t;

#define BOOL_VALUES "1,0,yes,no,true,false,on,off"

static const opt_desc_t options[] = {
  {"ZALLOC_MODE", OPT_ENUM, "arena", "arena",
   "Allocator backend. `arena`: per-thread bump allocation, O(1) malloc and free, memory "
   "is reused only when the newest block of a chunk is freed or a whole chunk empties.",
   offsetof(za_options_t, mode)},
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
  static const char *names[ZA_MODE_COUNT] = {"arena"};
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

static void set_defaults(za_options_t *o) {
  memset(o, 0, sizeof *o);
  o->mode = ZA_MODE_ARENA;
  o->abort_on_error = false;
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
    } else {
      za_out_str(o, "`");
      for (const char *p = d->values; *p; p++) /* "a,b" -> "`a`, `b`" */
        za_out_str(o, *p == ',' ? "`, `" : (char[2]){*p, 0});
      za_out_str(o, "`");
    }
    za_out_printf(o, " | %s |\n", d->help);
  }
}
