/* zalloc - turning captured stacks into report lines (za_stack_write), only when a report is
 * written.
 *
 * elfutils' libdwfl names each frame: the module and the offset inside it, the function (ELF
 * symbol table) and, where the module has debug information, the file and line. libdw.so.1
 * is dlopen'ed (RTLD_LOCAL) on the first stack a report writes, so a process that never
 * reports never loads it; without it, dladdr gives the module and exported symbols. One
 * libdwfl session serves a whole report (modules read once, each address looked up once,
 * results cached per address); za_stack_symbols_done ends it.
 *
 * libdw and the loader allocate with malloc: all of this runs between za_stack_internal_begin
 * and _end, so those blocks are zalloc's, not the program's. */
#include "stack.h"

#include "lock.h"
#include "prim.h"

#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <string.h>
#include <unistd.h>

/* What one address resolves to. Strings belong to the libdwfl session or to the loader. */
typedef struct za_frame_info {
  uintptr_t pc;               /* 0: empty cache slot */
  const char *module;         /* NULL: no module contains pc */
  uintptr_t module_offset;
  const char *function;       /* NULL: no symbol */
  uintptr_t function_offset;
  const char *file;           /* NULL: no line information */
  int line;
} za_frame_info_t;

#define ZA_SYM_CACHE_SLOTS 4096u  /* distinct addresses cached in one report */

/* libdwfl's entry points, looked up in libdw.so.1; typed from its header's prototypes. */
static struct {
  bool tried;
  void *lib;
  Dwfl *dwfl;
  Dwfl_Callbacks callbacks;
  __typeof__(dwfl_begin) *begin;
  __typeof__(dwfl_end) *end;
  __typeof__(dwfl_linux_proc_report) *proc_report;
  __typeof__(dwfl_report_end) *report_end;
  __typeof__(dwfl_addrmodule) *addrmodule;
  __typeof__(dwfl_module_info) *module_info;
  __typeof__(dwfl_module_addrinfo) *addrinfo;
  __typeof__(dwfl_module_getsrc) *getsrc;
  __typeof__(dwfl_lineinfo) *lineinfo;
} za_dw;

static za_lock_t za_sym_lock = ZA_LOCK_INIT;
static za_frame_info_t *za_sym_cache;   /* ZA_SYM_CACHE_SLOTS entries, from za_os_map */

/* ---- libdw ----------------------------------------------------------------------------- */

#define ZA_DW_SYM(field, name) (*(void **)&za_dw.field = dlsym(za_dw.lib, name)) != NULL

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
  return ZA_DW_SYM(begin, "dwfl_begin") && ZA_DW_SYM(end, "dwfl_end") &&
         ZA_DW_SYM(proc_report, "dwfl_linux_proc_report") &&
         ZA_DW_SYM(report_end, "dwfl_report_end") && ZA_DW_SYM(addrmodule, "dwfl_addrmodule") &&
         ZA_DW_SYM(module_info, "dwfl_module_info") &&
         ZA_DW_SYM(addrinfo, "dwfl_module_addrinfo") && ZA_DW_SYM(getsrc, "dwfl_module_getsrc") &&
         ZA_DW_SYM(lineinfo, "dwfl_lineinfo");
}

/* A session over this process's modules as they are now; NULL if libdw is not available. */
static Dwfl *dw_session(void) {
  if (za_dw.dwfl != NULL) return za_dw.dwfl;
  if (!za_dw.tried) {
    za_dw.tried = true;
    za_dw.lib = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (za_dw.lib != NULL && !dw_bind()) za_dw.lib = NULL;
  }
  if (za_dw.lib == NULL) return NULL;
  Dwfl *d = za_dw.begin(&za_dw.callbacks);
  if (d == NULL) return NULL;
  if (za_dw.proc_report(d, getpid()) != 0 || za_dw.report_end(d, NULL, NULL) != 0) {
    za_dw.end(d);
    return NULL;
  }
  return za_dw.dwfl = d;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash != NULL ? slash + 1 : path;
}

static bool resolve_dw(Dwfl *d, uintptr_t pc, za_frame_info_t *f) {
  Dwfl_Module *mod = za_dw.addrmodule(d, pc);
  if (mod == NULL) return false;
  Dwarf_Addr start = 0;
  const char *name = za_dw.module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
  f->module = name != NULL ? base_name(name) : "?";
  f->module_offset = pc - start;
  GElf_Off off = 0;
  GElf_Sym sym;
  f->function = za_dw.addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);
  f->function_offset = off;
  Dwfl_Line *line = za_dw.getsrc(mod, pc);
  if (line != NULL) f->file = za_dw.lineinfo(line, NULL, &f->line, NULL, NULL, NULL);
  return true;
}

/* ---- dladdr, the fallback -------------------------------------------------------------- */

static bool resolve_dladdr(uintptr_t pc, za_frame_info_t *f) {
  Dl_info info;
  if (dladdr((void *)pc, &info) == 0 || info.dli_fname == NULL) return false;
  f->module = info.dli_fname[0] != '\0' ? base_name(info.dli_fname) : "?";
  f->module_offset = pc - (uintptr_t)info.dli_fbase;
  if (info.dli_sname != NULL) {
    f->function = info.dli_sname;
    f->function_offset = pc - (uintptr_t)info.dli_saddr;
  }
  return true;
}

/* ---- the per-report cache -------------------------------------------------------------- */

/* Every captured address is a return address: the call that made the frame is the
 * instruction before it, and its line (and, after a call to a noreturn function, even its
 * function) is that of pc - 1. Offsets are shown for pc itself. */
static za_frame_info_t resolve(uintptr_t pc) {
  za_frame_info_t f = {.pc = pc};
  Dwfl *d = dw_session();
  if (d == NULL || !resolve_dw(d, pc - 1, &f)) resolve_dladdr(pc - 1, &f);
  f.module_offset++;
  if (f.function != NULL) f.function_offset++;
  return f;
}

static za_frame_info_t lookup(uintptr_t pc) {
  if (za_sym_cache == NULL) za_sym_cache = za_os_map(ZA_SYM_CACHE_SLOTS * sizeof *za_sym_cache);
  if (za_sym_cache == NULL) return resolve(pc);
  uint32_t mask = ZA_SYM_CACHE_SLOTS - 1;
  uint32_t s = (uint32_t)((pc * 0x9e3779b97f4a7c15u) >> 40) & mask;
  for (uint32_t probe = 0; probe < ZA_SYM_CACHE_SLOTS / 2; probe++, s = (s + 1) & mask) {
    if (za_sym_cache[s].pc == pc) return za_sym_cache[s];
    if (za_sym_cache[s].pc == 0) return za_sym_cache[s] = resolve(pc);
  }
  return resolve(pc);   /* crowded: still correct, just not cached */
}

/* ---- writing --------------------------------------------------------------------------- */

/* A symbol's name without its version ("__libc_start_main@@GLIBC_2.34"), in `buf`. */
static const char *unversioned(const char *name, char *buf, size_t cap) {
  size_t n = strcspn(name, "@");
  if (name[n] == '\0' || n == 0) return name;
  za_snprintf(buf, n + 1 < cap ? n + 1 : cap, "%s", name);
  return buf;
}

static void write_frame(za_out_t *o, const char *prefix, int i, const za_frame_info_t *f) {
  za_out_printf(o, "%s#%d %p", prefix, i, (void *)f->pc);
  char name[256];
  if (f->function != NULL)
    za_out_printf(o, " in %s+0x%zx", unversioned(f->function, name, sizeof name),
                  (size_t)f->function_offset);
  if (f->file != NULL) za_out_printf(o, " at %s:%d", f->file, f->line);
  if (f->module != NULL) za_out_printf(o, " (%s+0x%zx)\n", f->module, (size_t)f->module_offset);
  else za_out_str(o, " (no module)\n");
}

void za_stack_write(za_out_t *o, const char *prefix, za_stack_id_t id) {
  const uintptr_t *pcs;
  int n = za_stack_get(id, &pcs);
  if (n == 0) return;
  za_stack_internal_begin();
  za_lock(&za_sym_lock);
  for (int i = 0; i < n; i++) {
    za_frame_info_t f = lookup(pcs[i]);
    write_frame(o, prefix, i, &f);
  }
  za_unlock(&za_sym_lock);
  za_stack_internal_end();
}

void za_stack_symbols_done(void) {
  za_stack_internal_begin();
  za_lock(&za_sym_lock);
  /* The libdw session is left open: the report runs while the process exits, after the
   * loader's destructors, and dwfl_end then calls into libraries bound lazily after that
   * (libdebuginfod's libcurl), which crashed in the dynamic linker. The process is ending. */
  if (za_sym_cache != NULL) za_os_unmap(za_sym_cache, ZA_SYM_CACHE_SLOTS * sizeof *za_sym_cache);
  za_sym_cache = NULL;
  za_unlock(&za_sym_lock);
  za_stack_internal_end();
}
