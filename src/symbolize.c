/* zalloc - naming the frames of a report's stacks (see symbolize.h).
 *
 * One libdwfl session serves every report of the process: made on the first report with a
 * stack, refreshed (dwfl_report_begin .. _end, which keeps the modules it already read) for
 * each later one (on-demand reports, where libraries may have been loaded since), and never
 * ended: the exit report runs after the loader's destructors, and dwfl_end then called into
 * libraries bound lazily after that (libdebuginfod's libcurl), which crashed in the dynamic
 * linker. Within a report each address is resolved once (a cache in the report's memory). */
#include "symbolize.h"

#include "elfsym.h"
#include "lock.h"
#include "prim.h"
#include "report_words.h"

#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <dwarf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_INLINE 8               /* frames one address may expand into */

/* libdw's entry points, looked up in libdw.so.1; typed from its header's prototypes. */
static struct {
  bool tried;
  void *lib;
  Dwfl *dwfl;
  bool reported;                  /* the session holds the modules of some earlier report */
  Dwfl_Callbacks callbacks;
  __typeof__(dwfl_begin) *begin;
  __typeof__(dwfl_end) *end;
  __typeof__(dwfl_report_begin) *report_begin;
  __typeof__(dwfl_linux_proc_report) *proc_report;
  __typeof__(dwfl_report_end) *report_end;
  __typeof__(dwfl_addrmodule) *addrmodule;
  __typeof__(dwfl_module_info) *module_info;
  __typeof__(dwfl_module_addrinfo) *addrinfo;
  __typeof__(dwfl_module_getsrc) *getsrc;
  __typeof__(dwfl_lineinfo) *lineinfo;
  __typeof__(dwfl_module_addrdie) *addrdie;
  __typeof__(dwfl_module_getdwarf) *getdwarf;
  __typeof__(dwfl_module_build_id) *build_id;
  __typeof__(dwarf_getscopes) *getscopes;
  __typeof__(dwarf_getscopes_die) *getscopes_die;
  __typeof__(dwarf_tag) *tag;
  __typeof__(dwarf_diename) *diename;
  __typeof__(dwarf_attr) *attr;
  __typeof__(dwarf_attr_integrate) *attr_integrate;
  __typeof__(dwarf_formstring) *formstring;
  __typeof__(dwarf_formudata) *formudata;
  __typeof__(dwarf_diecu) *diecu;
  __typeof__(dwarf_getsrcfiles) *getsrcfiles;
  __typeof__(dwarf_filesrc) *filesrc;
  /* The program's own demangler, if it has libstdc++ (looked up once per report). */
  char *(*demangle)(const char *, char *, size_t *, int *);
} za_dw;

static za_lock_t sym_lock = ZA_LOCK_INIT;

/* ---- libdw -------------------------------------------------------------------------------- */

#define DW_SYM(field, name) (*(void **)&za_dw.field = dlsym(za_dw.lib, name)) != NULL

static bool dw_bind(void) {
  void *find_elf = dlsym(za_dw.lib, "dwfl_linux_proc_find_elf");
  /* Not dwfl_standard_find_debuginfo: when the usual places have nothing it asks debuginfod,
   * which starts libcurl (and OpenSSL) inside the exiting process - a crash where the program
   * had already shut OpenSSL down - and goes to the network. Build-id lookup under
   * /usr/lib/debug is local. */
  void *find_debuginfo = dlsym(za_dw.lib, "dwfl_build_id_find_debuginfo");
  if (find_elf == NULL || find_debuginfo == NULL) return false;
  *(void **)&za_dw.callbacks.find_elf = find_elf;
  *(void **)&za_dw.callbacks.find_debuginfo = find_debuginfo;
  return DW_SYM(begin, "dwfl_begin") && DW_SYM(end, "dwfl_end") &&
         DW_SYM(report_begin, "dwfl_report_begin") &&
         DW_SYM(proc_report, "dwfl_linux_proc_report") && DW_SYM(report_end, "dwfl_report_end") &&
         DW_SYM(addrmodule, "dwfl_addrmodule") && DW_SYM(module_info, "dwfl_module_info") &&
         DW_SYM(addrinfo, "dwfl_module_addrinfo") && DW_SYM(getsrc, "dwfl_module_getsrc") &&
         DW_SYM(lineinfo, "dwfl_lineinfo") && DW_SYM(addrdie, "dwfl_module_addrdie") &&
         DW_SYM(getdwarf, "dwfl_module_getdwarf") && DW_SYM(build_id, "dwfl_module_build_id") &&
         DW_SYM(getscopes, "dwarf_getscopes") && DW_SYM(getscopes_die, "dwarf_getscopes_die") &&
         DW_SYM(tag, "dwarf_tag") &&
         DW_SYM(diename, "dwarf_diename") && DW_SYM(attr, "dwarf_attr") &&
         DW_SYM(attr_integrate, "dwarf_attr_integrate") &&
         DW_SYM(formstring, "dwarf_formstring") && DW_SYM(formudata, "dwarf_formudata") &&
         DW_SYM(diecu, "dwarf_diecu") && DW_SYM(getsrcfiles, "dwarf_getsrcfiles") &&
         DW_SYM(filesrc, "dwarf_filesrc");
}

/* The session, with this process's modules as they are now; NULL without libdw. */
static Dwfl *dw_session(void) {
  if (!za_dw.tried) {
    za_dw.tried = true;
    za_dw.lib = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (za_dw.lib != NULL && !dw_bind()) za_dw.lib = NULL;
  }
  if (za_dw.lib == NULL) return NULL;
  if (za_dw.dwfl == NULL && (za_dw.dwfl = za_dw.begin(&za_dw.callbacks)) == NULL) return NULL;
  if (za_dw.reported) za_dw.report_begin(za_dw.dwfl);
  if (za_dw.proc_report(za_dw.dwfl, getpid()) != 0 ||
      za_dw.report_end(za_dw.dwfl, NULL, NULL) != 0) {
    za_dw.end(za_dw.dwfl);
    za_dw.dwfl = NULL;
    za_dw.reported = false;
    return NULL;
  }
  za_dw.reported = true;
  return za_dw.dwfl;
}

/* ---- names --------------------------------------------------------------------------------- */

/* A symbol's name without its version ("__libc_start_main@@GLIBC_2.34"), demangled if it is a
 * C++ name and the program has a demangler; in the report's memory. */
static const char *clean_name(za_report_t *r, const char *name, bool full) {
  if (!name) return NULL;
  size_t n = strcspn(name, "@");
  if (n == 0) n = strlen(name);
  if (full && za_dw.demangle && name[0] == '_' && name[1] == 'Z') {
    char mangled[1024];
    if (n < sizeof mangled) {
      memcpy(mangled, name, n);
      mangled[n] = '\0';
      int status = -1;
      char *d = za_dw.demangle(mangled, NULL, NULL, &status);
      if (d && status == 0) {
        const char *copy = za_rmem_strdup(&r->mem, d);
        free(d);
        return copy;
      }
      free(d);
    }
  }
  return name[n] ? za_rmem_strndup(&r->mem, name, n) : name;
}

/* ---- full resolution: libdw ------------------------------------------------------------------ */

typedef struct module_note {
  Dwfl_Module *mod;
  const char *path;
  bool debug;                     /* some frame in it has file:line */
  struct module_note *next;
} module_note_t;

typedef struct session {
  za_report_t *r;
  Dwfl *dwfl;
  module_note_t *modules;
} session_t;

static void note_module(session_t *s, Dwfl_Module *mod, const char *path, bool has_line) {
  for (module_note_t *m = s->modules; m; m = m->next)
    if (m->mod == mod) {
      m->debug |= has_line;
      return;
    }
  module_note_t *m = za_rmem_alloc(&s->r->mem, sizeof *m);
  if (!m) return;
  *m = (module_note_t){mod, path, has_line, s->modules};
  s->modules = m;
}

static const char *die_name(za_report_t *r, Dwarf_Die *die) {
  Dwarf_Attribute attr;
  const char *linkage = za_dw.formstring(za_dw.attr_integrate(die, DW_AT_linkage_name, &attr));
  if (!linkage) linkage = za_dw.formstring(za_dw.attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
  if (linkage) return clean_name(r, linkage, true);
  return za_dw.diename(die);
}

/* Where the inlined call `die` was made: DW_AT_call_file and DW_AT_call_line. */
static void call_site(Dwarf_Die *die, Dwarf_Die *cu, const char **file, int *line) {
  Dwarf_Attribute attr;
  Dwarf_Word idx = 0, ln = 0;
  *file = NULL;
  *line = 0;
  if (za_dw.formudata(za_dw.attr(die, DW_AT_call_line, &attr), &ln) == 0) *line = (int)ln;
  Dwarf_Files *files;
  size_t nfiles;
  if (za_dw.formudata(za_dw.attr(die, DW_AT_call_file, &attr), &idx) == 0 &&
      za_dw.getsrcfiles(cu, &files, &nfiles) == 0 && idx < nfiles)
    *file = za_dw.filesrc(files, idx, NULL, NULL);
}

/* The calls inlined at `pc` (the call's address), innermost first, as frames; the function
 * they are inlined into is the last. *count frames set in out; false if debug information
 * says nothing of pc (the caller falls back to the line table and the symbol). */
static bool inline_frames(za_report_t *r, Dwfl_Module *mod, uintptr_t pc, za_frame_t *out,
                          int *count) {
  Dwarf_Addr bias = 0;
  Dwarf_Die *cudie = za_dw.addrdie(mod, pc, &bias);
  if (!cudie) return false;
  /* dwarf_getscopes gives the innermost scope at pc, then the scopes of its abstract origin
   * (an inlined function's definition, not where it was inlined); dwarf_getscopes_die on that
   * innermost DIE gives the physical nesting: each inlined call in the one it was inlined into,
   * up to the function, as eu-addr2line -i walks them. */
  Dwarf_Die *scopes = NULL;
  int n = za_dw.getscopes(cudie, pc - bias, &scopes);
  if (n > 0) {
    Dwarf_Die innermost = scopes[0], *nested = NULL;
    int m = za_dw.getscopes_die(&innermost, &nested);
    free(scopes);
    scopes = nested;
    n = m;
  }
  if (n <= 0) {
    free(scopes);
    return false;
  }
  /* scopes: innermost first, lexical blocks among them. Each inlined subroutine is a frame;
   * its call site is the line of the frame that contains it. */
  int k = 0;
  for (int i = 0; i < n && k < MAX_INLINE; i++) {
    int tag = za_dw.tag(&scopes[i]);
    if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
    out[k].function = die_name(r, &scopes[i]);
    out[k].inlined = tag == DW_TAG_inlined_subroutine;
    if (k + 1 < MAX_INLINE && tag == DW_TAG_inlined_subroutine) {
      Dwarf_Die cu;
      if (za_dw.diecu(&scopes[i], &cu, NULL, NULL))
        call_site(&scopes[i], &cu, &out[k + 1].file, &out[k + 1].line);
    }
    k++;
    if (tag == DW_TAG_subprogram) break;
  }
  free(scopes);
  *count = k;
  return k > 0;
}

/* Resolve `pc` into out[0..n): module, function, file:line, inlined calls. */
static int resolve_full(session_t *s, uintptr_t pc, bool exact, za_frame_t *out) {
  uintptr_t at = exact ? pc : pc - 1;  /* the call, for a return address */
  Dwfl_Module *mod = za_dw.addrmodule(s->dwfl, at);
  if (mod == NULL) return 0;
  Dwarf_Addr start = 0;
  const char *path = za_dw.module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
  for (int i = 0; i < MAX_INLINE; i++) out[i] = (za_frame_t){0};
  GElf_Off off = 0;
  GElf_Sym sym;
  const char *symbol = za_dw.addrinfo(mod, at, &off, &sym, NULL, NULL, NULL);
  int n = 1;
  if (!inline_frames(s->r, mod, at, out, &n)) n = 1;
  /* The innermost frame's line is the line table's; the outermost frame is the symbol's
   * function (debug information's name only where the symbol table has none). */
  Dwfl_Line *line = za_dw.getsrc(mod, at);
  if (line != NULL) out[0].file = za_dw.lineinfo(line, NULL, &out[0].line, NULL, NULL, NULL);
  za_frame_t *outer = &out[n - 1];
  if (symbol) {
    outer->function = clean_name(s->r, symbol, true);
    outer->function_offset = off + (exact ? 0 : 1);
  }
  outer->inlined = false;
  note_module(s, mod, path, out[0].file != NULL);
  for (int i = 0; i < n; i++) {
    out[i].pc = pc;
    out[i].module = path;
    out[i].module_offset = pc - start;
    if (out[i].function && i < n - 1) out[i].function_offset = 0;
  }
  return n;
}

/* ---- signal-safe resolution -------------------------------------------------------------------- */

static int resolve_safe(za_report_t *r, uintptr_t pc, bool exact, za_frame_t *out, bool full) {
  uintptr_t at = exact ? pc : pc - 1;
  *out = (za_frame_t){.pc = pc};
  za_elfsym_t e;
  if (!za_elfsym_try_begin()) return 1;
  bool found = za_elfsym_lookup(at, &e);
  za_elfsym_end();
  if (!found) return 1;
  out->module = e.module;
  out->module_offset = pc - e.module_base;
  if (e.function) {
    out->function = clean_name(r, e.function, full);
    out->function_offset = pc - e.function_start;
  }
  return 1;
}

/* ---- the report's stacks ------------------------------------------------------------------------ */

typedef struct cached {
  uintptr_t pc;                   /* 0: empty */
  bool exact, cheap;
  za_frame_t *frames;
  int n;
} cached_t;

typedef struct pass {
  session_t s;
  bool full;
  cached_t *cache;
  size_t slots;
} pass_t;

static cached_t *lookup(pass_t *p, uintptr_t pc, bool exact, bool cheap) {
  za_report_t *r = p->s.r;
  size_t mask = p->slots - 1, i = (size_t)((pc * 0x9e3779b97f4a7c15u) >> 40) & mask;
  for (size_t probe = 0; p->slots && probe < p->slots; probe++, i = (i + 1) & mask) {
    if (p->cache[i].pc == pc && p->cache[i].exact == exact && p->cache[i].cheap == cheap)
      return &p->cache[i];
    if (p->cache[i].pc == 0) break;
  }
  za_frame_t tmp[MAX_INLINE];
  int n = p->s.dwfl && !cheap ? resolve_full(&p->s, pc, exact, tmp) : 0;
  if (n == 0) n = resolve_safe(r, pc, exact, tmp, p->full);
  za_frame_t *frames = za_rmem_alloc(&r->mem, (size_t)n * sizeof *frames);
  if (!frames) return NULL;
  memcpy(frames, tmp, (size_t)n * sizeof *frames);
  static cached_t none;
  cached_t *c = p->slots && p->cache[i].pc == 0 ? &p->cache[i] : &none;
  *c = (cached_t){pc, exact, cheap, frames, n};
  return c;
}

/* The C library's code: the debug information of a distribution's libc is large and
 * compressed, and reading it made a report cost 90 ms in a process as small as `gcc
 * --version` - for the frames of __libc_start_main below main, in nearly every stack. Its
 * frames get file:line only where the block was allocated inside libc itself (strdup,
 * getline, fopen: the libc frames at the top of the stack); libc frames further out (the
 * start of the program, qsort calling back) are named from its symbol table. */
static bool in_libc(uintptr_t pc) {
  static uintptr_t lo, hi;
  static bool known;
  if (!known) {
    struct dl_find_object o;
    if (_dl_find_object((void *)(uintptr_t)&fopen, &o) == 0) {
      lo = (uintptr_t)o.dlfo_map_start;
      hi = (uintptr_t)o.dlfo_map_end;
    }
    known = true;
  }
  return pc - lo < hi - lo;
}

static void name_stack(void *ctx, za_rstack_t *st) {
  pass_t *p = ctx;
  za_frame_t *parts[ZA_STACK_MAX_DEPTH];
  int counts[ZA_STACK_MAX_DEPTH], total = 0;
  int npcs = st->npcs < ZA_STACK_MAX_DEPTH ? st->npcs : ZA_STACK_MAX_DEPTH;
  bool top = true;   /* still in the libc frames at the top of the stack (see in_libc) */
  for (int i = 0; i < npcs; i++) {
    bool libc = in_libc(st->pcs[i]);
    if (!libc) top = false;
    cached_t *c = lookup(p, st->pcs[i], i == 0 && st->exact_first, libc && !top);
    parts[i] = c ? c->frames : NULL;
    counts[i] = c ? c->n : 0;
    total += counts[i];
  }
  za_frame_t *frames = total ? za_rmem_alloc(&p->s.r->mem, (size_t)total * sizeof *frames) : NULL;
  if (!frames) return;
  int k = 0;
  for (int i = 0; i < npcs; i++)
    for (int j = 0; j < counts[i]; j++) frames[k++] = parts[i][j];
  st->frames = frames;
  st->nframes = k;
}

static void hex(char *out, const unsigned char *bits, int len) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < len; i++) {
    out[2 * i] = digits[bits[i] >> 4];
    out[2 * i + 1] = digits[bits[i] & 15];
  }
  out[2 * len] = '\0';
}

/* The modules some frame is in whose frames have no file:line, with their build ids. */
static void collect_nodebug(pass_t *p) {
  za_report_t *r = p->s.r;
  size_t n = 0;
  for (module_note_t *m = p->s.modules; m; m = m->next) n += !m->debug;
  if (n == 0 || !(r->nodebug = za_rmem_alloc(&r->mem, n * sizeof *r->nodebug))) return;
  for (module_note_t *m = p->s.modules; m; m = m->next) {
    if (m->debug) continue;
    za_rnodebug_t *h = &r->nodebug[r->nnodebug++];
    h->module = m->path;
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = za_dw.build_id(m->mod, &bits, &vaddr);
    char *id = len > 0 && len <= 64 ? za_rmem_alloc(&r->mem, (size_t)len * 2 + 1) : NULL;
    if (id) {
      hex(id, bits, len);
      h->build_id = id;
    }
  }
}

bool za_symbolize_report(za_report_t *r, bool full) {
  if (r->nstacks == 0) return false;
  pass_t p = {.s = {.r = r}, .full = full};
  p.slots = 4096;
  p.cache = za_rmem_alloc(&r->mem, p.slots * sizeof *p.cache);
  if (!p.cache) p.slots = 0;
  if (!full) {
    za_model_for_each_stack(r, name_stack, &p);
    return false;
  }
  za_stack_internal_begin();
  za_lock(&sym_lock);
  p.s.dwfl = dw_session();
  if (!za_dw.demangle) *(void **)&za_dw.demangle = dlsym(RTLD_DEFAULT, "__cxa_demangle");
  za_model_for_each_stack(r, name_stack, &p);
  if (p.s.dwfl) collect_nodebug(&p);
  za_unlock(&sym_lock);
  za_stack_internal_end();
  r->symbols_full = p.s.dwfl != NULL;
  return r->symbols_full;
}

void za_symbolize_done(void) {}
