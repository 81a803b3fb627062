/* zalloc - the option table and its parser (see options.h). */
#include "options.h"

#include <signal.h>
#include <string.h>

za_options_t za_opt;

/* OPT_COUNT: a whole number stored as uint64_t; OPT_RATE: a probability (a fraction or a
 * percentage) stored as uint64_t in units of 1/ZA_RATE_ONE. */
typedef enum { OPT_ENUM, OPT_BOOL, OPT_PATH, OPT_INT, OPT_SIZE, OPT_TEXT, OPT_SIGNAL, OPT_COUNT,
               OPT_RATE } opt_kind_t;

typedef struct {
  const char *name;
  opt_kind_t kind;
  const char *def;      /* default, spelled as a user would write it */
  const char *values;   /* accepted values, comma separated (ENUM, BOOL, SIGNAL); the range
                         * (INT, SIZE), as "lo-hi"; what it is (TEXT); NULL otherwise */
  const char *help;     /* one line for the reference */
  size_t offset;        /* field in za_options_t */
  size_t size;          /* TEXT: the field's size */
  const char *metavar;  /* the wrapper's --flag=METAVAR; NULL: a boolean flag, or (with
                         * WRAP_NO) no flag at all */
  int wrap;             /* WRAP_NO: no flag; WRAP_ENV: --flag sets the variable for the tree;
                         * WRAP_TREE: --flag is the wrapper's, applied to the whole tree */
  const char *wrapper_help; /* what the flag does, where it is not just the variable */
} opt_desc_t;

enum { WRAP_NO, WRAP_ENV, WRAP_TREE };

#define BOOL_VALUES "1,0,yes,no,true,false,on,off"
#define SIGNAL_VALUES "off,SIGUSR1,SIGUSR2,SIGHUP,SIGPWR,SIGWINCH"
static const int signal_numbers[] = {0, SIGUSR1, SIGUSR2, SIGHUP, SIGPWR, SIGWINCH};
#define TEXT(field) offsetof(za_options_t, field), sizeof(((za_options_t *)0)->field)

static const opt_desc_t options[] = {
  {"ZALLOC_MODE", OPT_ENUM, "gpa", "gpa,arena,page",
   "Allocator backend. `gpa`: the checked general-purpose allocator - call stacks at every "
   "allocation and free, guard bytes, a quarantine of freed blocks, double/invalid free and "
   "mismatch findings, and a leak check at exit. `arena`: the fast mode - per-thread "
   "pages per size class, bump allocation into fresh memory, freed blocks reused at once, no "
   "locks and no per-block headers; no checks beyond invalid and double frees. `page`: the GPA with every block "
   "on pages of its own next to an inaccessible guard page (`ZALLOC_PAGE_ALIGN`) and freed "
   "blocks made inaccessible, so a read or write past a block or after its free faults at the "
   "instruction and the crash report names the block, its allocation and its free; slow (system "
   "calls at every malloc and free). Near the kernel's limit on mappings (vm.max_map_count) new "
   "blocks get the GPA's guard bytes instead, and the report says so.",
   offsetof(za_options_t, mode), 0, "M", WRAP_ENV, NULL},
  {"ZALLOC_STACK_DEPTH", OPT_INT, "16", "0-64",
   "gpa: frames of call stack recorded at every allocation and free (unwound with DWARF call "
   "frame information, so binaries without frame pointers give full stacks). `0` records none: "
   "faster, but findings and leaks then have no stacks.",
   offsetof(za_options_t, stack_depth), 0, "N", WRAP_ENV, NULL},
  {"ZALLOC_QUARANTINE", OPT_SIZE, "16M", "0-1T",
   "gpa: how much memory freed blocks may hold (their slots, records and queue entries) while "
   "they wait, filled with a pattern, before their memory is reused: a write after free is "
   "caught (checked when a block leaves the quarantine and at exit) and a double free names "
   "the first free. A number of bytes, with an optional K, M, G or T suffix; "
   "`0` turns the quarantine off.",
   offsetof(za_options_t, quarantine), 0, "BYTES", WRAP_ENV, NULL},
  {"ZALLOC_GUARD", OPT_BOOL, "1", BOOL_VALUES,
   "gpa: guard bytes before and after every block, checked at free, realloc and exit, so a "
   "heap overflow or underflow is reported with the block and its allocation stack.",
   offsetof(za_options_t, guard), 0, NULL, WRAP_ENV, NULL},
  {"ZALLOC_LEAKS", OPT_ENUM, "lost", "lost,all,off",
   "gpa: the leak check at exit. `lost`: blocks no pointer reaches (definitely and indirectly "
   "lost) grouped by allocation stack, still-reachable memory as one line. `all`: also list "
   "the still-reachable blocks by stack. `off`: no leak check.",
   offsetof(za_options_t, leaks), 0, "L", WRAP_ENV, NULL},
  {"ZALLOC_PAGE_ALIGN", OPT_ENUM, "end", "end,start",
   "page mode and `ZALLOC_SAMPLE`: `end` puts a block's end against the guard page after it "
   "(an overflow faults; to keep malloc's 16-byte alignment up to 15 bytes may lie between, "
   "filled with guard bytes and checked at free); `start` puts its start right after a guard "
   "page (an underflow faults; the bytes after its end up to the page's end are guard bytes, "
   "checked at free).",
   offsetof(za_options_t, page_align), 0, "A", WRAP_ENV, NULL},
  {"ZALLOC_PAGE_QUARANTINE", OPT_SIZE, "1G", "0-1T",
   "page mode and `ZALLOC_SAMPLE`: how much address space freed guarded blocks keep, "
   "inaccessible (any access faults and is reported with the block's free), before their "
   "pages are used again. Their memory goes back to the system at the free: this costs address "
   "space, not memory. A number of bytes, with an optional K, M, G or T suffix.",
   offsetof(za_options_t, page_quarantine), 0, "BYTES", WRAP_ENV, NULL},
  {"ZALLOC_SAMPLE", OPT_INT, "0", "0-1000000000",
   "gpa: about one allocation in N (at random intervals, as GWP-ASan does) goes on guarded "
   "pages as in page mode, so a bad read or write of it faults at the access and is reported: "
   "for long runs, test suites and canaries at little cost. `0`: off.",
   offsetof(za_options_t, sample), 0, "N", WRAP_ENV, NULL},
  {"ZALLOC_LOG", OPT_PATH, "stderr", NULL,
   "Where reports go: `stderr`, or a file path opened for appending; `%p` in the path becomes "
   "the process id, so a tree of processes writes one file each. The path is checked at "
   "start-up. A final symbolic link owned by another user than root or the process's is not "
   "followed; the log must be a regular file, a character device or a FIFO with a reader (a "
   "FIFO without one, a full disk or any failed write: one line says so and the report goes to "
   "stderr). In a setuid, setgid or capability-raised process every `ZALLOC_*` variable is "
   "ignored, with one line saying so: reports go to stderr.",
   offsetof(za_options_t, log), 0, "PATH", WRAP_ENV,
   "Where every process of the tree writes its reports: `stderr`, or a file path in which `%p` "
   "becomes the pid (one file per process); a relative path is taken from the directory zalloc "
   "starts in. The summary follows on stderr when the tree had more than one process or the "
   "reports went to files. Without --log the reports are collected in a temporary directory: "
   "the report of a program that ran alone is printed on stderr when it ends; for a tree, the "
   "summary is printed and the reports of the processes with something to say are kept there "
   "(the summary says where)."},
  {"ZALLOC_ABORT", OPT_BOOL, "0", BOOL_VALUES,
   "Abort (SIGABRT, core dump, debugger stops) at the first heap error after printing it, "
   "instead of recording it for the exit report.",
   offsetof(za_options_t, abort_on_error), 0, NULL, WRAP_ENV, NULL},
  {"ZALLOC_FORMAT", OPT_ENUM, "text", "text,json",
   "How reports are written: `text` (the `==PID==` lines of docs/report.md) or `json` (one JSON "
   "document per report, on one line, as docs/report.schema.json describes).",
   offsetof(za_options_t, format), 0, "F", WRAP_ENV, NULL},
  {"ZALLOC_EXITCODE", OPT_INT, "0", "0-255",
   "A process that would exit with status 0 (exit, a return from main, _exit) but has heap "
   "errors or definitely lost blocks that no rule suppresses exits with this status instead. "
   "`0`: off, the program's status is kept.",
   offsetof(za_options_t, exitcode), 0, "N", WRAP_TREE,
   "Judge the whole tree once it has ended: exit with N when the program exits with status 0 "
   "but some process of the tree had heap errors or definitely lost blocks that no rule "
   "suppresses. The processes themselves keep their statuses, so the tree runs as it would "
   "without zalloc (set ZALLOC_EXITCODE yourself for a status per process)."},
  {"ZALLOC_SUPPRESS", OPT_TEXT, "", "files separated by `:`",
   "Suppression files: lines `KIND:PATTERN`, where KIND is a finding kind (`double-free`, "
   "`heap-overflow`, ...) or `leak`, and PATTERN a glob (`*`, `?`) matched against the "
   "function, the source file (its path or its name) and the module (its path or its name) of "
   "every frame of the finding's stacks. Matching items are counted on one line of the report, "
   "not listed. Read at start-up: a bad line stops the program with its file and line.",
   TEXT(suppress), "FILE", WRAP_ENV,
   "A suppression file: lines `KIND:PATTERN`, KIND a finding kind such as `double-free` or "
   "`leak`, PATTERN a glob matched against the function, source file and module of every "
   "frame; repeat the option for several files. Suppressed items are counted "
   "on one line of each report and left out of the summary and of --exitcode's judgement."},
  {"ZALLOC_PRINT_SUPPRESSIONS", OPT_BOOL, "0", BOOL_VALUES,
   "Under every heap error and lost-block group, print a suppression line for it "
   "(`suppression: leak:parse_config`), ready to paste into a ZALLOC_SUPPRESS file.",
   offsetof(za_options_t, print_suppressions), 0, NULL, WRAP_ENV, NULL},
  {"ZALLOC_REPORT_SIGNAL", OPT_SIGNAL, "off", SIGNAL_VALUES,
   "A signal that makes the running process write a report (what is live, grouped by "
   "stack, and every finding so far) and go on, as often as it is sent: for servers. A "
   "thread of zalloc's waits for it (the handler only wakes that thread).",
   offsetof(za_options_t, report_signal), 0, "SIG", WRAP_ENV, NULL},
  {"ZALLOC_CRASH_REPORT", OPT_BOOL, "1", BOOL_VALUES,
   "Write a report when the program is killed by SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT "
   "(where it crashed, the heap block the address is in or near), then let the signal's "
   "default action go on. Only for signals whose action is the default when the program "
   "starts; a handler the program installs stays the program's.",
   offsetof(za_options_t, crash_report), 0, NULL, WRAP_ENV, NULL},
  {"ZALLOC_LIMIT", OPT_SIZE, "0", "0-1024T",
   "Any mode: a budget for the program's heap. An allocation that would make its live blocks "
   "hold more than this many bytes (as the report counts them: requested sizes, the arena's "
   "size classes) fails as out of memory (NULL and ENOMEM; C++ new throws std::bad_alloc), "
   "and the report says how often and where it first happened. `0`: no limit.",
   offsetof(za_options_t, limit), 0, "BYTES", WRAP_ENV, NULL},
  {"ZALLOC_FAIL_AT", OPT_COUNT, "0", "0-18446744073709551615",
   "Any mode: the Nth allocation call of the process fails as out of memory (malloc, calloc, "
   "realloc to a nonzero size, the aligned forms, C++ new; counted from 1, only calls matching "
   "`ZALLOC_FAIL_MATCH` when it is set). The report lists each injected failure with its "
   "stack. `0`: off.",
   offsetof(za_options_t, fail_at), 0, "N", WRAP_ENV, NULL},
  {"ZALLOC_FAIL_EVERY", OPT_COUNT, "0", "0-18446744073709551615",
   "Any mode: every Nth allocation call fails (the Nth, the 2Nth, ...), counted as for "
   "`ZALLOC_FAIL_AT`. `0`: off.",
   offsetof(za_options_t, fail_every), 0, "N", WRAP_ENV, NULL},
  {"ZALLOC_FAIL_RATE", OPT_RATE, "0", "0-1",
   "Any mode: each allocation call fails with this probability, a fraction (`0.001`) or a "
   "percentage (`0.1%`), drawn from `ZALLOC_FAIL_SEED`: the same seed fails the same calls of a "
   "program that allocates in the same order. `0`: off.",
   offsetof(za_options_t, fail_rate), 0, "P", WRAP_ENV, NULL},
  {"ZALLOC_FAIL_SEED", OPT_COUNT, "1", "0-18446744073709551615",
   "The seed of `ZALLOC_FAIL_RATE`'s draws.",
   offsetof(za_options_t, fail_seed), 0, "N", WRAP_ENV, NULL},
  {"ZALLOC_FAIL_MATCH", OPT_TEXT, "", "a glob (`*`, `?`)",
   "Only allocation calls whose stack has a frame whose function (as the symbol table names "
   "it: C++ names mangled) or module (its path or its file name) matches this glob may fail, "
   "and only they are counted by `ZALLOC_FAIL_AT` and `ZALLOC_FAIL_EVERY`; without those and "
   "`ZALLOC_FAIL_RATE`, every such call fails. For example the program's own code rather than "
   "the C library's start-up: `myprog`, `parse_*`. Needs stacks (`ZALLOC_STACK_DEPTH` > 0).",
   TEXT(fail_match), "GLOB", WRAP_ENV, NULL},
  {"ZALLOC_SUMMARY_DIR", OPT_TEXT, "", "a directory",
   "Set by the `zalloc` wrapper: every process of the tree records its start and writes its "
   "final report as JSON there, for the wrapper's summary. Empty: none.",
   TEXT(summary_dir), NULL, WRAP_NO, NULL},
  {"ZALLOC_FAIL_SITES", OPT_TEXT, "", "a file path",
   "Set by `zalloc --oom-sweep`: at exit the process writes its allocation calls and their "
   "stacks to this file, for the sweep to choose which calls to fail. Empty: none.",
   TEXT(fail_sites), NULL, WRAP_NO, NULL},
};
#define N_OPTIONS (sizeof options / sizeof options[0])

const char *za_mode_name(za_mode_t mode) {
  static const char *names[ZA_MODE_COUNT] = {"gpa", "arena", "page"};
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
  o->format = ZA_FORMAT_TEXT;
  o->crash_report = true;
  o->page_align = ZA_PAGE_ALIGN_END;
  o->page_quarantine = (size_t)1 << 30;
  o->fail_seed = 1;
}

/* A probability: a fraction ("0", "1", "0.001", ".5") or a percentage ("0.1%"), at most 1,
 * in units of 1/ZA_RATE_ONE (rounded to the nearest). False on anything else. */
static bool parse_rate(const char *s, uint64_t *out) {
  uint64_t whole = 0, frac = 0, scale = 1;
  const char *p = s;
  for (; *p >= '0' && *p <= '9'; p++)
    if ((whole = whole * 10 + (uint64_t)(*p - '0')) > 100) return false;
  bool digits = p != s;
  if (*p == '.') {
    for (p++; *p >= '0' && *p <= '9'; p++) {
      digits = true;
      if (scale < 1000000000000ull) {   /* 12 decimals are plenty */
        frac = frac * 10 + (uint64_t)(*p - '0');
        scale *= 10;
      }
    }
  }
  uint64_t div = 1;
  if (*p == '%') {
    div = 100;
    p++;
  }
  if (!digits || *p) return false;
  /* (whole + frac/scale) / div, as a fraction of ZA_RATE_ONE */
  unsigned __int128 num = ((unsigned __int128)whole * scale + frac) * ZA_RATE_ONE;
  unsigned __int128 den = (unsigned __int128)scale * div;
  unsigned __int128 v = (num + den / 2) / den;
  if (v > ZA_RATE_ONE) return false;
  *out = (uint64_t)v;
  return true;
}

static bool parse_one(const opt_desc_t *d, const char *value, za_options_t *out, char *err,
                      size_t errlen) {
  char *field = (char *)out + d->offset;
  char buf[SHOWN_MAX];
  switch (d->kind) {
  case OPT_SIGNAL:
  case OPT_ENUM: {
    int i = list_index(d->values, value);
    if (i < 0) {
      za_snprintf(err, errlen, "zalloc: %s=%s is not a known value; accepted: %s", d->name,
                  shown(value, buf), d->values);
      return false;
    }
    if (d->kind == OPT_SIGNAL) *(int *)field = signal_numbers[i];
    else *(za_mode_t *)field = (za_mode_t)i;
    return true;
  }
  case OPT_TEXT: {
    size_t n = strlen(value);
    if (n >= d->size) {
      za_snprintf(err, errlen, "zalloc: %s=%s is too long; accepted: %s, at most %zu characters",
                  d->name, shown(value, buf), d->values, d->size - 1);
      return false;
    }
    memcpy(field, value, n + 1);
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
  case OPT_RATE: {
    if (!parse_rate(value, (uint64_t *)field)) {
      za_snprintf(err, errlen, "zalloc: %s=%s is not a probability; accepted: a fraction from 0 "
                  "to 1 (0.001) or a percentage (0.1%%)", d->name, shown(value, buf));
      return false;
    }
    return true;
  }
  case OPT_COUNT:
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
    else if (d->kind == OPT_COUNT) *(uint64_t *)field = v;
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
    if (d->def[0]) za_out_printf(o, "| `%s` | `%s` | ", d->name, d->def);
    else za_out_printf(o, "| `%s` | (none) | ", d->name);
    if (d->kind == OPT_PATH) {
      za_out_str(o, "`stderr` or a file path");
    } else if (d->kind == OPT_TEXT) {
      za_out_str(o, d->values);
    } else if (d->kind == OPT_INT || d->kind == OPT_SIZE || d->kind == OPT_COUNT) {
      za_out_printf(o, "%s`%s`", d->kind == OPT_SIZE ? "bytes, " : "", d->values);
    } else if (d->kind == OPT_RATE) {
      za_out_str(o, "a fraction `0`-`1` or a percentage");
    } else {
      za_out_str(o, "`");
      for (const char *p = d->values; *p; p++) /* "a,b" -> "`a`, `b`" */
        za_out_str(o, *p == ',' ? "`, `" : (char[2]){*p, 0});
      za_out_str(o, "`");
    }
    za_out_printf(o, " | %s |\n", d->help);
  }
}

/* ---- the wrapper's view: zalloc --help and zalloc(1) ---------------------------------------- */

bool za_options_wrapper(size_t i, za_wrapper_option_t *out) {
  for (size_t k = 0; k < N_OPTIONS; k++) {
    const opt_desc_t *d = &options[k];
    if (d->wrap == WRAP_NO) continue;
    if (i-- > 0) continue;
    memset(out, 0, sizeof *out);
    out->variable = d->name;
    size_t n = za_snprintf(out->flag, sizeof out->flag, "--%s", d->name + 7);
    for (size_t j = 2; j < n; j++)
      out->flag[j] = out->flag[j] == '_' ? '-' : (char)(out->flag[j] | 0x20);
    out->metavar = d->metavar;
    out->values = d->values;
    out->def = d->def;
    out->help = d->wrapper_help ? d->wrapper_help : d->help;
    out->exported = d->wrap == WRAP_ENV;
    out->own_help = d->wrapper_help != NULL;
    return true;
  }
  return false;
}

/* The wrapper's own flags, which set no variable. */
static const struct {
  const char *flag, *metavar, *help;
} wrapper_only[] = {
  {"--summary", "DIR",
   "Run nothing: print the summary of the processes that recorded themselves in DIR (a "
   "ZALLOC_SUMMARY_DIR set by hand for processes run with LD_PRELOAD), as the wrapper prints "
   "it at the end of a run."},
  {"--oom-sweep", "ARGS...",
   "Hand the rest of the command line to zalloc-oom-sweep (beside zalloc, else on PATH), "
   "which runs a program again and again with its N-th allocation failing; the options given "
   "before --oom-sweep are set for it. See zalloc-oom-sweep --help."},
  {"--help", NULL, "Print this help and exit (also -h)."},
  {"--version", NULL, "Print zalloc's version and exit."},
};

bool za_options_wrapper_only(size_t i, za_wrapper_option_t *out) {
  if (i >= sizeof wrapper_only / sizeof wrapper_only[0]) return false;
  memset(out, 0, sizeof *out);
  za_snprintf(out->flag, sizeof out->flag, "%s", wrapper_only[i].flag);
  out->metavar = wrapper_only[i].metavar;
  out->help = wrapper_only[i].help;
  return true;
}

/* `s` without the Markdown backquotes, wrapped at `width` with `indent` spaces before every
 * line. */
static void wrapped(za_out_t *o, const char *s, int indent, int width) {
  int col = 0;
  for (const char *p = s; *p;) {
    while (*p == ' ') p++;
    const char *w = p;
    int len = 0;
    for (; *p && *p != ' '; p++) len += *p != '`';
    if (len == 0) break;
    if (col && col + 1 + len > width) {
      za_out_str(o, "\n");
      col = 0;
    }
    if (col == 0) {
      for (int i = 0; i < indent; i++) za_out_str(o, " ");
      col = indent;
    } else {
      za_out_str(o, " ");
      col++;
    }
    for (const char *c = w; c < p; c++)
      if (*c != '`') za_out_printf(o, "%c", *c);
    col += len;
  }
  za_out_str(o, "\n");
}

void za_options_write_help(za_out_t *o, int width) {
  za_out_str(o, "usage: zalloc [options] [--] program [args...]\n"
                "       zalloc --summary DIR\n"
                "       zalloc [options] --oom-sweep [args...]\n\n");
  wrapped(o, "Runs program with libzalloc.so preloaded: it and every dynamically linked process "
             "it starts use zalloc's checked allocator, and each writes a heap report when it ends "
             "- at exit, at _exit, or killed by SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT. Then "
             "zalloc prints the report of a program that ran alone, or one summary of the whole "
             "tree: how each process ended, and the heap errors, crashes and leaks of all of them "
             "merged by call stack, worst first.", 0, width);
  za_out_str(o, "\nOptions (each sets the variable named; a boolean option alone means 1):\n");
  za_wrapper_option_t w;
  for (size_t i = 0; za_options_wrapper(i, &w); i++) {
    char head[64];
    za_snprintf(head, sizeof head, "%s%s%s", w.flag, w.metavar ? "=" : "", w.metavar ? w.metavar : "");
    za_out_printf(o, "  %-22s", head);
    if (w.exported) za_out_printf(o, " %s", w.variable);
    if (w.metavar && w.values && !strchr(w.values, ' ')) {  /* not a boolean's spellings */
      za_out_str(o, w.exported ? ": " : " ");
      for (const char *p = w.values; *p; p++) za_out_str(o, *p == ',' ? ", " : (char[2]){*p == '`' ? ' ' : *p, 0});
    }
    if (w.def[0] && !w.own_help) za_out_printf(o, " (default %s)", w.def);
    za_out_str(o, "\n");
    wrapped(o, w.help, 6, width);
  }
  for (size_t i = 0; za_options_wrapper_only(i, &w); i++) {
    za_out_printf(o, "  %s%s%s\n", w.flag, w.metavar ? " " : "", w.metavar ? w.metavar : "");
    wrapped(o, w.help, 6, width);
  }
  za_out_str(o, "\n");
  wrapped(o, "Exit status: the program's; when it was killed by a signal, zalloc ends by the same "
             "signal. With --exitcode=N, N when the program exited with 0 but some process had "
             "heap errors or definitely lost blocks that no rule suppresses. 2: a usage error, a "
             "bad option or a statically linked program; 127: the program was not found.", 0, width);
  wrapped(o, "Every ZALLOC_* variable already in the environment is kept unless an option sets it; "
             "docs/configuration.md and zalloc(1) list them all. The library: $ZALLOC_LIBRARY, "
             "else libzalloc.so beside zalloc, else the installed one.", 0, width);
}

bool za_options_check(const char *variable, const char *value, char *err, size_t errlen) {
  char var[ZA_SUPPRESS_MAX + 64];
  za_snprintf(var, sizeof var, "%s=%s", variable, value);
  char *envp[] = {var, NULL};
  za_options_t scratch;
  return za_options_parse(envp, &scratch, err, errlen);
}

/* Text for troff: `code` as bold, a leading '.' or '\'' escaped, '-' and '\\' escaped. */
static void man_text(za_out_t *o, const char *s) {
  bool bold = false, line_start = true;
  for (const char *p = s; *p; p++) {
    if (*p == '`') {
      za_out_str(o, bold ? "\\fR" : "\\fB");
      bold = !bold;
    } else if (*p == '-') {
      za_out_str(o, "\\-");
    } else if (*p == '\\') {
      za_out_str(o, "\\e");
    } else if ((*p == '.' || *p == '\'') && line_start) {
      za_out_str(o, "\\&");
      za_out_printf(o, "%c", *p);
    } else {
      za_out_printf(o, "%c", *p);
    }
    line_start = *p == '\n';
  }
  if (bold) za_out_str(o, "\\fR");
}

static void man_accepted(za_out_t *o, const opt_desc_t *d) {
  if (d->kind == OPT_PATH) za_out_str(o, "stderr or a file path");
  else if (d->kind == OPT_TEXT) man_text(o, d->values);
  else if (d->kind == OPT_INT || d->kind == OPT_SIZE || d->kind == OPT_COUNT) man_text(o, d->values);
  else if (d->kind == OPT_RATE) man_text(o, "a fraction from 0 to 1, or a percentage");
  else for (const char *p = d->values; *p; p++) za_out_str(o, *p == ',' ? ", " : (char[2]){*p, 0});
}

void za_options_write_man(za_out_t *o) {
  za_out_str(o,
    ".\\\" Generated from the option table in src/options.c by zalloc-options --man; do not edit.\n"
    ".TH ZALLOC 1 \"\" \"zalloc\" \"User Commands\"\n"
    ".SH NAME\nzalloc \\- run a program, or a whole tree of processes, under the zalloc heap checker\n"
    ".SH SYNOPSIS\n.B zalloc\n[\\fIoptions\\fR] [\\fB\\-\\-\\fR] \\fIprogram\\fR [\\fIargs\\fR...]\n"
    ".br\n.B zalloc \\-\\-summary\n\\fIdirectory\\fR\n"
    ".br\n.B zalloc\n[\\fIoptions\\fR] \\fB\\-\\-oom\\-sweep\\fR [\\fIargs\\fR...]\n"
    ".SH DESCRIPTION\n"
    "\\fBzalloc\\fR runs \\fIprogram\\fR with \\fBlibzalloc.so\\fR in \\fBLD_PRELOAD\\fR (prepended to any "
    "preload already there), so that the program and every dynamically linked process it starts "
    "use zalloc's checked allocator. Each process writes a report when it ends: at exit, at "
    "\\fB_exit\\fR, or when a fatal signal kills it; heap errors with their call stacks, and leaks "
    "grouped by the stack that allocated them.\n"
    ".PP\nWithout \\fB\\-\\-log\\fR the reports are kept in a temporary directory: when the program ran "
    "alone its report is printed on standard error; when it started other processes, one summary "
    "is printed instead (how each process ended, findings and leaks merged across processes by "
    "stack, worst first), and the reports of the processes that had something to say are kept "
    "where the summary says. With \\fB\\-\\-log\\fR each report goes where it says and the summary "
    "follows.\n"
    ".PP\nThe wrapper waits for every process of the tree: it is the tree's subreaper, so a process "
    "whose parent died is reparented to it, and how that process ended is known. SIGTERM, SIGHUP, "
    "SIGUSR1, SIGUSR2, SIGPWR and SIGWINCH sent to the wrapper are passed to the program; SIGINT and "
    "SIGQUIT are left to the process group, and the wrapper stays to print the summary.\n"
    ".PP\nA statically linked program is refused: \\fBLD_PRELOAD\\fR cannot reach its allocator.\n"
    ".SH OPTIONS\n"
    "Each option sets the environment variable named with it (see \\fBENVIRONMENT\\fR); variables "
    "already set are kept unless an option overrides them. A boolean option alone means 1.\n");
  za_wrapper_option_t w;
  for (size_t i = 0; za_options_wrapper(i, &w); i++) {
    za_out_str(o, ".TP\n.B ");
    man_text(o, w.flag);
    za_out_str(o, w.metavar ? "=" : "");
    if (w.metavar) za_out_printf(o, "\\fI%s\\fR", w.metavar);
    if (w.exported) za_out_printf(o, "\n(%s) ", w.variable);
    else za_out_str(o, "\n");
    man_text(o, w.help);
    za_out_str(o, "\n");
  }
  for (size_t i = 0; za_options_wrapper_only(i, &w); i++) {
    za_out_str(o, ".TP\n.B ");
    man_text(o, w.flag);
    if (w.metavar) za_out_printf(o, " \\fI%s\\fR", w.metavar);
    za_out_str(o, "\n");
    man_text(o, w.help);
    za_out_str(o, "\n");
  }
  za_out_str(o,
    ".SH ENVIRONMENT\n"
    "libzalloc.so reads these once, when a process starts. A variable that starts with "
    "\\fBZALLOC_\\fR but is not listed, or a value that is not accepted, stops the program before "
    "\\fBmain\\fR with exit status 2 and one line naming what is wrong and what is accepted.\n");
  for (size_t i = 0; i < N_OPTIONS; i++) {
    const opt_desc_t *d = &options[i];
    za_out_printf(o, ".TP\n.B %s\n", d->name);
    man_text(o, d->help);
    za_out_str(o, " Default: ");
    man_text(o, d->def[0] ? d->def : "none");
    za_out_str(o, ". Accepted: ");
    man_accepted(o, d);
    za_out_str(o, ".\n");
  }
  za_out_str(o,
    ".TP\n.B ZALLOC_LIBRARY\nThe library the wrapper preloads; else the one beside the wrapper, "
    "else the installed one.\n"
    ".SH EXIT STATUS\n"
    "The program's status; when it was killed by a signal, the wrapper ends by the same signal. "
    "With \\fB\\-\\-exitcode\\fR=\\fIN\\fR, \\fIN\\fR when the program exited with 0 but some process "
    "had heap errors or definitely lost blocks that no rule suppresses. 2: a usage error, a bad "
    "setting or a statically linked program; 127: the program was not found.\n"
    ".SH EXAMPLES\n.nf\n"
    "zalloc ./prog args                        # the report on standard error\n"
    "zalloc \\-\\-log=/tmp/z.%p.log make \\-j2         # a report per process, and a summary\n"
    "zalloc \\-\\-exitcode=23 \\-\\-suppress=ci.supp \\-\\- make check   # in CI\n"
    "zalloc \\-\\-format=json \\-\\-log=out.%p.json ./prog  # JSON reports\n"
    ".fi\n"
    ".SH SEE ALSO\n"
    "docs/report.md (every line of a report), docs/report.schema.json (the JSON reports), "
    "docs/usage.md, docs/configuration.md; \\fBvalgrind\\fR(1).\n");
}
