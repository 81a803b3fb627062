/* zalloc - the signal-safe symbol resolver (see elfsym.h). */
#include "elfsym.h"
#include "prim_signal.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_MODULES 128

typedef struct module {
  const void *map_start;       /* _dl_find_object's dlfo_map_start: the module's key */
  const char *path;
  uintptr_t base;
  bool loaded;                 /* its file was tried */
  const ElfW(Sym) *syms;
  size_t nsyms;
  const char *strs;
  size_t strs_size;
} module_t;

static module_t modules[MAX_MODULES];
static size_t nmodules;
static char exe_path[512];
static atomic_flag busy = ATOMIC_FLAG_INIT;

bool za_elfsym_try_begin(void) { return !atomic_flag_test_and_set_explicit(&busy, memory_order_acquire); }
void za_elfsym_end(void) { atomic_flag_clear_explicit(&busy, memory_order_release); }

/* The symbol table of the ELF file at `path`, mapped whole (read-only, lazily paged). */
static void load(module_t *m) {
  m->loaded = true;
  int fd = open(m->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  void *file = MAP_FAILED;
  if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(ElfW(Ehdr)))
    file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (file == MAP_FAILED) return;
  size_t size = (size_t)st.st_size;
  const ElfW(Ehdr) *eh = file;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
      eh->e_shoff == 0 || eh->e_shentsize != sizeof(ElfW(Shdr)) ||
      eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > size)
    return;
  const ElfW(Shdr) *sh = (const ElfW(Shdr) *)((const char *)file + eh->e_shoff);
  const ElfW(Shdr) *best = NULL;
  for (unsigned i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_type == SHT_SYMTAB) best = &sh[i];
    else if (sh[i].sh_type == SHT_DYNSYM && !best) best = &sh[i];
  }
  if (!best || best->sh_link >= eh->e_shnum || best->sh_entsize != sizeof(ElfW(Sym))) return;
  const ElfW(Shdr) *str = &sh[best->sh_link];
  if (best->sh_offset + best->sh_size > size || str->sh_offset + str->sh_size > size) return;
  m->syms = (const ElfW(Sym) *)((const char *)file + best->sh_offset);
  m->nsyms = best->sh_size / sizeof(ElfW(Sym));
  m->strs = (const char *)file + str->sh_offset;
  m->strs_size = str->sh_size;
}

static module_t *module_of(uintptr_t addr) {
  struct dl_find_object dlfo;
  if (_dl_find_object((void *)addr, &dlfo) != 0) return NULL;
  for (size_t i = 0; i < nmodules; i++)
    if (modules[i].map_start == dlfo.dlfo_map_start) return &modules[i];
  if (nmodules == MAX_MODULES) return NULL;
  module_t *m = &modules[nmodules];
  const struct link_map *lm = dlfo.dlfo_link_map;
  const char *name = lm && lm->l_name ? lm->l_name : "";
  if (name[0] == '\0') {                       /* the main program */
    if (!exe_path[0] && !za_sig_exe_path(exe_path, sizeof exe_path)) return NULL;
    name = exe_path;
  }
  *m = (module_t){.map_start = dlfo.dlfo_map_start, .path = name, .base = lm ? lm->l_addr : 0};
  nmodules++;
  return m;
}

bool za_elfsym_lookup(uintptr_t addr, za_elfsym_t *out) {
  *out = (za_elfsym_t){0};
  module_t *m = module_of(addr);
  if (!m) return false;
  out->module = m->path;
  out->module_base = m->base;
  if (!m->loaded) load(m);
  uintptr_t off = addr - m->base, best_start = 0;
  const ElfW(Sym) *best = NULL;
  for (size_t i = 0; i < m->nsyms; i++) {
    const ElfW(Sym) *s = &m->syms[i];
    unsigned type = s->st_info & 0xf;  /* ELF32_ST_TYPE and ELF64_ST_TYPE alike */
    if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s->st_shndx == SHN_UNDEF || s->st_size == 0)
      continue;
    if (off >= s->st_value && off - s->st_value < s->st_size && s->st_name < m->strs_size &&
        (!best || s->st_value > best_start)) {
      best = s;
      best_start = s->st_value;
    }
  }
  if (best) {
    out->function = m->strs + best->st_name;
    out->function_start = m->base + best->st_value;
  }
  return true;
}
