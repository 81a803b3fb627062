/* zalloc - suppressions (see suppress.h). */
#include "suppress.h"
#include "options.h"
#include "prim.h"
#include "report_words.h"

#include <string.h>

#define KIND_LEAK (-1)

typedef struct rule {
  int kind;                  /* za_finding_kind_t, or KIND_LEAK */
  const char *pattern;
  const char *text;          /* the line as written, trimmed */
  const char *file;
  int line;
} rule_t;

/* Everything lives in one growing mapping of zalloc's: the files' text, then the rules. */
static rule_t *rules;
static size_t nrules, rules_cap;

/* ---- loading ----------------------------------------------------------------------------------- */

/* The whole file in a fresh mapping (NUL-terminated); NULL with -errno in *error. */
static char *read_file(const char *path, size_t *len, size_t *cap, int *error) {
  int fd = za_os_open_read(path);
  if (fd < 0) {
    *error = fd;
    return NULL;
  }
  size_t size = 64 * ZA_KiB, n = 0;
  char *text = za_os_map(size);
  long got = 0;
  while (text && (got = za_os_read(fd, text + n, size - 1 - n)) > 0) {
    n += (size_t)got;
    if (n == size - 1) {
      char *bigger = za_os_remap(text, size, size * 2);
      if (!bigger) za_os_unmap(text, size);
      text = bigger;
      size *= 2;
    }
  }
  za_os_close(fd);
  if (!text || got < 0) {
    if (text) za_os_unmap(text, size);
    *error = got < 0 ? (int)got : -12 /* ENOMEM */;
    return NULL;
  }
  text[n] = '\0';
  *len = n;
  *cap = size;
  return text;
}

static bool add_rule(const rule_t *r) {
  if (nrules == rules_cap) {
    size_t ncap = rules_cap ? rules_cap * 2 : ZA_PAGE_SIZE / sizeof *rules;
    rule_t *bigger = rules ? za_os_remap(rules, rules_cap * sizeof *rules, ncap * sizeof *rules)
                           : za_os_map(ncap * sizeof *rules);
    if (!bigger) return false;
    rules = bigger;
    rules_cap = ncap;
  }
  rules[nrules++] = *r;
  return true;
}

static const char *accepted_kinds(void) {
  return "leak, double-free, invalid-free, invalid-realloc, invalid-usable-size, "
         "impossible-request, heap-overflow, heap-underflow, write-after-free, "
         "mismatched-deallocation";
}

static bool bad_line(char *err, size_t errlen, const char *file, int line, const char *text,
                     const char *what) {
  char shown_text[160], shown_file[300];
  za_snprintf(err, errlen, "zalloc: ZALLOC_SUPPRESS: %s:%d: '%s' %s; accepted: KIND:PATTERN "
                           "lines, KIND one of %s", za_shown(file, shown_file, sizeof shown_file),
              line, za_shown(text, shown_text, sizeof shown_text), what, accepted_kinds());
  return false;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Parse `text` (the file's, kept for the rules' strings) line by line. */
static bool parse(char *text, const char *file, char *err, size_t errlen) {
  int line = 0;
  for (char *p = text; *p;) {
    char *nl = strchr(p, '\n');
    char *end = nl ? nl : p + strlen(p);
    char *next = nl ? nl + 1 : end;
    line++;
    while (p < end && is_space(*p)) p++;
    while (end > p && is_space(end[-1])) end--;
    *end = '\0';
    if (*p && *p != '#') {
      char *colon = strchr(p, ':');
      if (!colon || colon == p)
        return bad_line(err, errlen, file, line, p, "is not KIND:PATTERN");
      if (!colon[1]) return bad_line(err, errlen, file, line, p, "has an empty pattern");
      size_t klen = (size_t)(colon - p);
      int kind = klen == 4 && memcmp(p, "leak", 4) == 0 ? KIND_LEAK : (int)za_words_kind_from_id(p, klen);
      if (kind == ZA_FK_COUNT) return bad_line(err, errlen, file, line, p, "does not start with a kind");
      rule_t r = {.kind = kind, .pattern = colon + 1, .text = p, .file = file, .line = line};
      if (!add_rule(&r)) {
        za_snprintf(err, errlen, "zalloc: ZALLOC_SUPPRESS: out of memory for the rules");
        return false;
      }
    }
    p = next;
  }
  return true;
}

bool za_suppress_load(const char *files, char *err, size_t errlen) {
  for (const char *p = files; p && *p;) {
    const char *colon = strchr(p, ':');
    size_t n = colon ? (size_t)(colon - p) : strlen(p);
    if (n > 0) {
      /* The name is kept with the rules: in a mapping of its own, with the file's text. */
      char path[ZA_PATH_MAX];
      if (n >= sizeof path) {
        za_snprintf(err, errlen, "zalloc: ZALLOC_SUPPRESS: a file name is longer than %d "
                                 "characters; accepted: files separated by ':'", ZA_PATH_MAX - 1);
        return false;
      }
      memcpy(path, p, n);
      path[n] = '\0';
      size_t len, cap;
      int error = 0;
      char *text = read_file(path, &len, &cap, &error);
      if (!text) {
        char shown_path[600];
        za_snprintf(err, errlen, "zalloc: ZALLOC_SUPPRESS: cannot read %s (%s); accepted: "
                                 "readable files of KIND:PATTERN lines, separated by ':'",
                    za_shown(path, shown_path, sizeof shown_path), za_os_errno_name(-error));
        return false;
      }
      /* The path after the text, so both live as long as the rules. */
      char *kept = len + 1 + n + 1 <= cap ? text + len + 1 : NULL;
      if (kept) memcpy(kept, path, n + 1);
      if (!parse(text, kept ? kept : "?", err, errlen)) return false;
    }
    p = colon ? colon + 1 : p + n;
  }
  return true;
}

/* ---- matching ---------------------------------------------------------------------------------- */

bool za_suppress_glob(const char *pat, const char *s) {
  const char *star = NULL, *resume = NULL;
  while (*s) {
    if (*pat == '*') {
      star = pat++;
      resume = s;
    } else if (*pat == '?' || *pat == *s) {
      pat++;
      s++;
    } else if (star) {
      pat = star + 1;
      s = ++resume;
    } else {
      return false;
    }
  }
  while (*pat == '*') pat++;
  return *pat == '\0';
}

static bool frame_matches(const char *pat, const za_frame_t *f) {
  return (f->function && za_suppress_glob(pat, f->function)) ||
         (f->file && (za_suppress_glob(pat, f->file) ||
                      za_suppress_glob(pat, za_words_base_name(f->file)))) ||
         (f->module && (za_suppress_glob(pat, f->module) ||
                        za_suppress_glob(pat, za_words_base_name(f->module))));
}

static bool stack_matches(const char *pat, const za_rstack_t *s) {
  for (int i = 0; s && i < s->nframes; i++)
    if (frame_matches(pat, &s->frames[i])) return true;
  return false;
}

void za_suppress_apply(za_report_t *r) {
  if (nrules == 0) return;
  za_rrule_t *out = za_rmem_alloc(&r->mem, nrules * sizeof *out);
  if (!out) return;
  for (size_t i = 0; i < nrules; i++)
    out[i] = (za_rrule_t){.text = rules[i].text, .file = rules[i].file, .line = rules[i].line};
  r->rules = out;
  r->nrules = nrules;
  for (size_t k = 0; r->findings && k < r->counts.listed; k++) {
    za_rfinding_t *f = &r->findings[k];
    for (size_t i = 0; i < nrules && !f->suppressed_by; i++)
      if (rules[i].kind == (int)f->kind &&
          (stack_matches(rules[i].pattern, f->here) || stack_matches(rules[i].pattern, f->alloc) ||
           stack_matches(rules[i].pattern, f->freed))) {
        f->suppressed_by = &out[i];
        out[i].used++;
      }
  }
  for (size_t k = 0; k < r->leaks.ngroups; k++) {
    za_rleak_group_t *g = &r->leaks.groups[k];
    if (g->cls == ZA_LEAK_REACHABLE) continue;
    for (size_t i = 0; i < nrules && !g->suppressed_by; i++)
      if (rules[i].kind == KIND_LEAK && stack_matches(rules[i].pattern, g->stack)) {
        g->suppressed_by = &out[i];
        out[i].used++;
      }
  }
}
