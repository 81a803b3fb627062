/* zalloc - the report's model: its memory and its table of stacks (see report_model.h). */
#include "report_model.h"
#include "prim.h"
#include "prim_signal.h"

#include <string.h>

/* ---- memory ----------------------------------------------------------------------------------- */

struct za_rmem_chunk {
  za_rmem_chunk_t *next;
  size_t size;                /* bytes mapped, this header included */
};

#define CHUNK_MIN ((size_t)64 << 10)

void za_rmem_init(za_rmem_t *m, bool raw) { *m = (za_rmem_t){.raw = raw}; }

static void *map(const za_rmem_t *m, size_t n) { return m->raw ? za_sig_map(n) : za_os_map(n); }

static void unmap(const za_rmem_t *m, void *p, size_t n) {
  if (m->raw) za_sig_unmap(p, n);
  else za_os_unmap(p, n);
}

void *za_rmem_alloc(za_rmem_t *m, size_t n) {
  n = za_align_up(n ? n : 1, 16);
  if ((size_t)(m->end - m->next) < n) {
    size_t head = za_align_up(sizeof(za_rmem_chunk_t), 16);
    size_t size = za_align_up(n + head > CHUNK_MIN ? n + head : CHUNK_MIN, ZA_PAGE_SIZE);
    za_rmem_chunk_t *c = n + head < n ? NULL : map(m, size);
    if (!c) {
      m->failed = true;
      return NULL;
    }
    c->size = size;
    c->next = m->chunks;
    m->chunks = c;
    m->next = (char *)c + head;
    m->end = (char *)c + size;
  }
  void *p = m->next;
  m->next += n;
  return p;   /* fresh mappings are zero, and nothing is handed out twice */
}

const char *za_rmem_strndup(za_rmem_t *m, const char *s, size_t n) {
  if (!s) return NULL;
  char *d = za_rmem_alloc(m, n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

const char *za_rmem_strdup(za_rmem_t *m, const char *s) {
  return s ? za_rmem_strndup(m, s, strlen(s)) : NULL;
}

void za_rmem_free(za_rmem_t *m) {
  for (za_rmem_chunk_t *c = m->chunks, *next; c; c = next) {
    next = c->next;
    unmap(m, c, c->size);
  }
  *m = (za_rmem_t){.raw = m->raw};
}

/* ---- the model -------------------------------------------------------------------------------- */

#define STACK_SLOTS 1024u     /* hash heads; chains grow past it */

void za_model_init(za_report_t *r, bool raw) {
  memset(r, 0, sizeof *r);
  za_rmem_init(&r->mem, raw);
  r->stacks_tail = &r->stacks;
  r->stack_table = za_rmem_alloc(&r->mem, STACK_SLOTS * sizeof *r->stack_table);
  r->stack_slots = r->stack_table ? STACK_SLOTS : 0;
}

void za_model_free(za_report_t *r) { za_rmem_free(&r->mem); }

static za_rstack_t *new_stack(za_report_t *r) {
  za_rstack_t *s = za_rmem_alloc(&r->mem, sizeof *s);
  if (!s) return NULL;
  *r->stacks_tail = s;
  r->stacks_tail = &s->next;
  r->nstacks++;
  return s;
}

za_rstack_t *za_model_stack(za_report_t *r, za_stack_id_t id) {
  if (id == 0 || r->stack_slots == 0) return NULL;
  size_t h = (id * 0x9e3779b9u) & (r->stack_slots - 1);
  for (za_rstack_t *s = r->stack_table[h]; s; s = s->next_in_table)
    if (s->id == id) return s;
  const uintptr_t *pcs;
  int n = za_stack_get(id, &pcs);
  if (n <= 0) return NULL;
  za_rstack_t *s = new_stack(r);
  if (!s) return NULL;
  s->id = id;
  s->pcs = pcs;
  s->npcs = n;
  s->next_in_table = r->stack_table[h];
  r->stack_table[h] = s;
  return s;
}

za_rstack_t *za_model_stack_pcs(za_report_t *r, const uintptr_t *pcs, int n, bool exact_first) {
  if (n <= 0) return NULL;
  uintptr_t *copy = za_rmem_alloc(&r->mem, (size_t)n * sizeof *copy);
  za_rstack_t *s = copy ? new_stack(r) : NULL;
  if (!s) return NULL;
  memcpy(copy, pcs, (size_t)n * sizeof *copy);
  s->pcs = copy;
  s->npcs = n;
  s->exact_first = exact_first;
  return s;
}

void za_model_clear_frames(za_report_t *r) {
  for (za_rstack_t *s = r->stacks; s; s = s->next) {
    s->frames = NULL;
    s->nframes = 0;
  }
  r->nodebug = NULL;
  r->nnodebug = 0;
  r->symbols_full = false;
}

void za_model_for_each_stack(za_report_t *r, void (*fn)(void *ctx, za_rstack_t *s), void *ctx) {
  for (za_rstack_t *s = r->stacks; s; s = s->next) fn(ctx, s);
}

/* ---- what it adds up to ------------------------------------------------------------------------ */

uint64_t za_model_unsuppressed_errors(const za_report_t *r) {
  uint64_t n = 0;
  for (int k = 0; k < ZA_FK_COUNT; k++) n += r->counts.by_kind[k];
  for (size_t i = 0; r->findings && i < r->counts.listed; i++)
    if (r->findings[i].suppressed_by) n -= r->findings[i].f.times;
  return n;
}

size_t za_model_unsuppressed_definite_blocks(const za_report_t *r) {
  size_t n = r->leaks.totals.blocks[ZA_LEAK_DEFINITE];
  for (size_t i = 0; i < r->leaks.ngroups; i++) {
    const za_rleak_group_t *g = &r->leaks.groups[i];
    if (g->cls == ZA_LEAK_DEFINITE && g->suppressed_by) n -= g->blocks;
  }
  return n;
}

bool za_model_has_errors(const za_report_t *r) {
  return r->crash || za_model_unsuppressed_errors(r) || za_model_unsuppressed_definite_blocks(r);
}
