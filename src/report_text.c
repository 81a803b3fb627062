/* zalloc - the text writer (see report_text.h). */
#include "report_text.h"

#include "prim.h"
#include "report_words.h"

#include <string.h>

#define MAX_LISTED_GROUPS 100       /* per kind of listing: lost, and still reachable */

static const char *plural(size_t n) { return n == 1 ? "" : "s"; }

/* ---- stacks ------------------------------------------------------------------------------------- */

static void write_frame(za_out_t *o, const char *prefix, int i, const za_frame_t *f) {
  za_out_printf(o, "%s#%d %p", prefix, i, (void *)f->pc);
  if (f->function && f->inlined) za_out_printf(o, " in %s (inlined)", f->function);
  else if (f->function) za_out_printf(o, " in %s+0x%zx", f->function, (size_t)f->function_offset);
  if (f->file) za_out_printf(o, " at %s:%d", f->file, f->line);
  if (f->module)
    za_out_printf(o, " (%s+0x%zx)\n", za_words_base_name(f->module), (size_t)f->module_offset);
  else
    za_out_str(o, " (no module)\n");
}

void za_report_text_frames(za_out_t *o, const char *prefix, const za_rstack_t *s) {
  if (!s) return;
  if (s->frames) {
    for (int i = 0; i < s->nframes; i++) write_frame(o, prefix, i, &s->frames[i]);
    return;
  }
  for (int i = 0; i < s->npcs; i++) /* not symbolized: the addresses at least */
    za_out_printf(o, "%s#%d %p\n", prefix, i, (void *)s->pcs[i]);
}

/* A heading and its frames: "  allocated at (thread 12):" */
static void write_stack(za_out_t *o, const char *pre, const char *heading, int tid,
                        const za_rstack_t *s) {
  za_out_printf(o, "%s  %s", pre, heading);
  if (tid) za_out_printf(o, " (thread %d)", tid);
  if (!s) {
    za_out_str(o, ": no stack recorded\n");
    return;
  }
  za_out_str(o, ":\n");
  char inner[64];
  za_snprintf(inner, sizeof inner, "%s    ", pre);
  za_report_text_frames(o, inner, s);
}

/* ZALLOC_PRINT_SUPPRESSIONS=1: the rule that would silence an item. */
static void write_suppression(za_out_t *o, const char *pre, const za_report_t *r, const char *kind,
                              const za_rstack_t *s) {
  if (!r->print_suppressions) return;
  const za_frame_t *f = za_words_suppression_frame(s);
  if (!f) return;
  const char *what = f->function ? f->function : za_words_base_name(f->module);
  if (what) za_out_printf(o, "%s  suppression: %s:%s\n", pre, kind, what);
}

/* ---- the parts ---------------------------------------------------------------------------------- */

static void write_header(za_out_t *o, const char *pre, const za_report_t *r) {
  const za_rprocess_t *p = &r->process;
  za_out_printf(o, "%szalloc report for %s (pid %d, mode %s", pre, p->command, p->pid, p->mode);
  if (p->forked_from) za_out_printf(o, ", forked from pid %d: counts start at the fork", p->forked_from);
  za_out_str(o, ")\n");
}

static void write_ended(za_out_t *o, const char *pre, const za_report_t *r) {
  const za_rend_t *e = &r->end;
  char sig[24];
  za_out_printf(o, "%s  ended:       ", pre);
  switch (e->how) {
  case ZA_END_EXIT:
  case ZA_END__EXIT:
    za_out_printf(o, "%s(%d)", e->how == ZA_END_EXIT ? "exit" : "_exit", e->status);
    if (e->exitcode)
      za_out_printf(o, "; exit status %d instead (ZALLOC_EXITCODE: heap errors or definitely lost "
                       "blocks)", e->exitcode);
    break;
  case ZA_END_SIGNAL:
    za_out_printf(o, "killed by %s (its default action follows, as without zalloc)",
                  za_words_signal(e->signo, sig, sizeof sig));
    break;
  case ZA_END_RUNNING:
    za_out_printf(o, "still running: on-demand report %u (%s)", e->sequence,
                  za_words_signal(e->signo, sig, sizeof sig));
    break;
  case ZA_END_FIRST_ERROR:
    za_out_str(o, "aborting at the first heap error (ZALLOC_ABORT=1)");
    break;
  }
  za_out_str(o, "\n");
}

/* "address 0x..38 is 9 bytes past the end of the 32-byte block 0x..10 (freed)" (the first byte
 * past the end is 1 byte past it, as heap overflow findings count); "read at address ..." where
 * the access is known. */
static void write_crash_block(za_out_t *o, const char *pre, const za_rcrash_t *c) {
  const za_block_info_t *b = &c->block_info;
  const char *state = c->block_state == ZA_BLOCK_LIVE ? "live" : "freed";
  const char *access = za_words_access(c->access);
  za_out_printf(o, "%s  %s%saddress %p is ", pre, access ? access : "", access ? " at " : "",
                (void *)c->addr);
  if (c->addr < c->block)
    za_out_printf(o, "%N byte%s before the start of", (size_t)(c->block - c->addr),
                  plural(c->block - c->addr));
  else if (c->addr - c->block < (b->size ? b->size : 1))
    za_out_printf(o, "at offset %N in", (size_t)(c->addr - c->block));
  else
    za_out_printf(o, "%N byte%s past the end of", (size_t)(c->addr - c->block - b->size + 1),
                  plural(c->addr - c->block - b->size + 1));
  za_out_printf(o, " the %N-byte block %p (%s, allocated with %s)\n", b->size, (void *)c->block,
                state, za_words_alloc_kind(b->kind));
  write_stack(o, pre, "allocated at", b->alloc_tid, c->block_alloc);
  if (c->block_state == ZA_BLOCK_FREED) write_stack(o, pre, "freed at", b->free_tid, c->block_free);
}

static void write_crash(za_out_t *o, const char *pre, const za_report_t *r) {
  const za_rcrash_t *c = r->crash;
  char sig[24];
  const char *code_name, *meaning = za_words_signal_code(c->signo, c->code, &code_name);
  za_out_printf(o, "%s%s", pre, za_words_signal(c->signo, sig, sizeof sig));
  if (c->has_addr) za_out_printf(o, " at address %p", (void *)c->addr);
  if (meaning) za_out_printf(o, ": %s", meaning);
  if (code_name) za_out_printf(o, " (%s)", code_name);
  if (c->sent && c->sender_pid) za_out_printf(o, " from pid %d", c->sender_pid);
  za_out_printf(o, ", thread %d\n", c->tid);
  write_stack(o, pre, "at", 0, c->stack);
  if (c->in_zalloc)
    za_out_printf(o, "%s  note:        the signal arrived inside zalloc's own code: a bad "
                     "argument to an allocation function, or zalloc's memory overwritten\n", pre);
  if (c->symbols_limited)
    za_out_printf(o, "%s  note:        frames named from symbol tables only (no file:line): %s; "
                     "addr2line -f -i -e MODULE OFFSET names them\n", pre, c->symbols_limited);
  if (c->block_known) write_crash_block(o, pre, c);
  for (int i = 0; i < c->npatterns; i++) {
    bool freed = (c->patterns[i].value & 0xff) == 0xfd;
    za_out_printf(o, "%s  register %s = %p: zalloc's fill byte for %s (0x%s) - a pointer read "
                     "from %s?\n", pre, c->patterns[i].reg, (void *)c->patterns[i].value,
                  freed ? "freed blocks" : "guard bytes", freed ? "fd" : "ab",
                  freed ? "a freed block (use after free)" : "past the end or before the start of a block");
  }
}

/* ZALLOC_LIMIT and ZALLOC_FAIL_*: a summary line, the first refusal, each injected failure. */
static void write_failures(za_out_t *o, const char *pre, const za_report_t *r) {
  const za_rfailures_t *f = &r->failures;
  if (!f->active) return;
  if (!f->known) {
    za_out_printf(o, "%s  failures:    not listed (the list was busy when the signal arrived)\n", pre);
    return;
  }
  za_out_printf(o, "%s  failures:    ", pre);
  if (f->limit)
    za_out_printf(o, "%N refused over the limit (ZALLOC_LIMIT=%N bytes)%s", (size_t)f->refused,
                  f->limit, f->injecting ? "; " : "");
  if (f->injecting)
    za_out_printf(o, "%N injected (%s) in %N allocation call%s", (size_t)f->injected, f->injecting,
                  (size_t)f->calls, plural(f->calls));
  za_out_str(o, "\n");
  if (f->refused) {
    za_out_str(o, pre);
    za_words_failure(o, &f->first_refused, false, f->limit);
    za_out_printf(o, ", thread %d", f->first_refused.tid);
    if (f->refused > 1) za_out_printf(o, "; the first of %N", (size_t)f->refused);
    za_out_str(o, "\n");
    write_stack(o, pre, "at", 0, f->first_refused.stack);
  }
  for (size_t i = 0; i < f->nlisted; i++) {
    const za_rfailure_t *x = &f->listed[i];
    za_out_str(o, pre);
    za_words_failure(o, x, true, f->limit);
    za_out_printf(o, ", thread %d", x->tid);
    if (x->times > 1) za_out_printf(o, ", %N times with this stack", (size_t)x->times);
    za_out_str(o, "\n");
    write_stack(o, pre, "at", 0, x->stack);
  }
  if (f->not_listed)
    za_out_printf(o, "%s%N more injected failures, counted but not listed\n", pre, (size_t)f->not_listed);
}

/* Page mode and ZALLOC_SAMPLE: how many blocks had guard pages. */
static void write_guarded(za_out_t *o, const char *pre, const za_report_t *r) {
  const za_rguarded_t *g = &r->guarded;
  if (!g->active) return;
  za_out_printf(o, "%s  guarded:     %N block%s on guarded pages", pre, (size_t)g->blocks, plural(g->blocks));
  if (g->fallback) za_out_printf(o, "; %N with guard bytes instead", (size_t)g->fallback);
  if (g->map_limited)
    za_out_printf(o, " (%N of them while the map limit was near: vm.max_map_count %N allows %N "
                     "guarded blocks at once)", (size_t)g->map_limited, (size_t)g->max_map_count,
                  g->most_live);
  za_out_str(o, "\n");
}

static void write_stats(za_out_t *o, const char *pre, const za_report_t *r) {
  const za_rstats_t *s = &r->stats;
  if (!s->known) {
    za_out_printf(o, "%s  calls:       not counted (the thread registry was busy when the signal "
                     "arrived)\n", pre);
    return;
  }
  za_out_printf(o, "%s  calls:       %N malloc, %N calloc, %N realloc, %N aligned, %N free\n", pre,
                (size_t)s->malloc, (size_t)s->calloc, (size_t)s->realloc, (size_t)s->aligned,
                (size_t)s->free);
  za_out_printf(o, "%s  allocated:   %N block%s, %B in total; peak in use %B\n", pre,
                (size_t)s->blocks, plural(s->blocks), (size_t)s->bytes, (size_t)s->peak);
}

/* Without a leak check: the blocks still allocated. */
static void write_live(za_out_t *o, const char *pre, const za_report_t *r) {
  const za_rstats_t *s = &r->stats;
  if (!s->known) return;
  if (r->end.how == ZA_END_SIGNAL)
    za_out_printf(o, "%s  live:        %N block%s, %N byte%s in use when the signal arrived (no "
                     "leak check after a crash)\n", pre, (size_t)s->live_blocks, plural(s->live_blocks),
                  (size_t)s->live_bytes, plural(s->live_bytes));
  else if (r->end.how == ZA_END_RUNNING)
    za_out_printf(o, "%s  live:        %N block%s, %N byte%s in use now\n", pre,
                  (size_t)s->live_blocks, plural(s->live_blocks), (size_t)s->live_bytes,
                  plural(s->live_bytes));
  else if (s->live_blocks)
    za_out_printf(o, "%s  leaked:      %N block%s, %N byte%s still allocated at exit\n", pre,
                  (size_t)s->live_blocks, plural(s->live_blocks), (size_t)s->live_bytes,
                  plural(s->live_bytes));
  else
    za_out_printf(o, "%s  leaked:      nothing: every block was freed\n", pre);
}

static void write_finding(za_out_t *o, const char *pre, const za_report_t *r,
                          const za_rfinding_t *rf) {
  const za_finding_t *f = &rf->f;
  za_out_str(o, pre);
  za_words_finding(o, f);
  if (za_words_finding_has_thread(f)) za_out_printf(o, ", thread %d", f->tid);
  if (f->times > 1) za_out_printf(o, ", %N times", (size_t)f->times);
  za_out_str(o, "\n");
  za_finding_stack_t st[3];
  int n = za_words_finding_stacks(rf, st);
  for (int i = 0; r->stacks_recorded && i < n; i++)
    write_stack(o, pre, st[i].heading, st[i].tid, st[i].stack);
  write_suppression(o, pre, r, za_words_kind_id(rf->kind), n ? st[0].stack : NULL);
}

static void write_errors(za_out_t *o, const char *pre, const za_report_t *r) {
  if (!r->findings_known) {
    za_out_printf(o, "%s  heap errors: not listed (the list was busy when the signal arrived)\n", pre);
    return;
  }
  uint64_t shown[ZA_FK_COUNT], total = 0;
  memcpy(shown, r->counts.by_kind, sizeof shown);
  for (size_t i = 0; i < r->counts.listed; i++)
    if (r->findings[i].suppressed_by) shown[r->findings[i].kind] -= r->findings[i].f.times;
  for (int k = 0; k < ZA_FK_COUNT; k++) total += shown[k];
  if (!total) {
    za_out_printf(o, "%s  heap errors: none\n", pre);
    return;
  }
  /* Only the kinds that occurred: "heap errors: 3 (1 double free, 2 invalid free)". */
  za_out_printf(o, "%s  heap errors: %N (", pre, (size_t)total);
  const char *sep = "";
  for (int k = 0; k < ZA_FK_COUNT; k++)
    if (shown[k]) {
      za_out_printf(o, "%s%N %s", sep, (size_t)shown[k], za_words_kind_name((za_finding_kind_t)k, shown[k]));
      sep = ", ";
    }
  za_out_str(o, ")\n");
  for (size_t i = 0; i < r->counts.listed; i++)
    if (!r->findings[i].suppressed_by) write_finding(o, pre, r, &r->findings[i]);
  if (r->counts.not_listed)
    za_out_printf(o, "%s%N more distinct errors, counted but not listed\n", pre,
                  (size_t)r->counts.not_listed);
}

static void write_group(za_out_t *o, const char *pre, const za_report_t *r,
                        const za_rleak_group_t *g) {
  za_out_printf(o, "%s%s: %N block%s, %N byte%s, allocated at", pre, za_words_leak_class(g->cls),
                g->blocks, plural(g->blocks), g->bytes, plural(g->bytes));
  if (!g->stack) {
    za_out_str(o, ": (no stack recorded)\n");
    return;
  }
  if (g->tids == 1) za_out_printf(o, " (thread %d):\n", g->tid);
  else za_out_printf(o, " (thread %d and %N other threads):\n", g->tid, g->tids - 1);
  char inner[64];
  za_snprintf(inner, sizeof inner, "%s    ", pre);
  za_report_text_frames(o, inner, g->stack);
  write_suppression(o, pre, r, "leak", g->stack);
}

/* The unsuppressed groups whose class is in `want`, at most MAX_LISTED_GROUPS, and a line for
 * the rest. */
static void write_groups(za_out_t *o, const char *pre, const za_report_t *r, unsigned want,
                         const char *what) {
  size_t listed = 0, more = 0, blocks = 0, bytes = 0;
  for (size_t i = 0; i < r->leaks.ngroups; i++) {
    const za_rleak_group_t *g = &r->leaks.groups[i];
    if (!((want >> g->cls) & 1) || g->suppressed_by) continue;
    if (listed < MAX_LISTED_GROUPS) {
      write_group(o, pre, r, g);
      listed++;
    } else {
      more++;
      blocks += g->blocks;
      bytes += g->bytes;
    }
  }
  if (more)
    za_out_printf(o, "%sand %N more group%s of %s blocks not listed: %N byte%s in %N block%s\n", pre,
                  more, plural(more), what, bytes, plural(bytes), blocks, plural(blocks));
}

static void write_leaks(za_out_t *o, const char *pre, const za_report_t *r) {
  const za_rleaks_t *lk = &r->leaks;
  if (lk->state == ZA_LEAKS_NO_MEMORY) {
    za_out_printf(o, "%s  leaks:       not checked: out of memory for the scan\n", pre);
    return;
  }
  if (lk->state == ZA_LEAKS_NO_MAPS) {
    za_out_printf(o, "%s  leaks:       not checked: /proc/self/maps cannot be read (%s), so what "
                     "points to the blocks is unknown\n", pre, za_os_errno_name(lk->maps_err));
    write_live(o, pre, r);
    return;
  }
  write_groups(o, pre, r, 1u << ZA_LEAK_DEFINITE | 1u << ZA_LEAK_INDIRECT, "lost");
  if (lk->reachable_listed) write_groups(o, pre, r, 1u << ZA_LEAK_REACHABLE, "still-reachable");
  size_t by[3], bl[3];
  memcpy(by, lk->totals.bytes, sizeof by);
  memcpy(bl, lk->totals.blocks, sizeof bl);
  for (size_t i = 0; i < lk->ngroups; i++)
    if (lk->groups[i].suppressed_by) {
      by[lk->groups[i].cls] -= lk->groups[i].bytes;
      bl[lk->groups[i].cls] -= lk->groups[i].blocks;
    }
  const char *running = lk->running ? " (checked while the program runs)" : "";
  if (bl[ZA_LEAK_DEFINITE] + bl[ZA_LEAK_INDIRECT] == 0) {
    za_out_printf(o, "%s  leaks:       none lost (still reachable: %N byte%s in %N block%s)%s\n",
                  pre, by[ZA_LEAK_REACHABLE], plural(by[ZA_LEAK_REACHABLE]),
                  bl[ZA_LEAK_REACHABLE], plural(bl[ZA_LEAK_REACHABLE]), running);
    return;
  }
  za_out_printf(o, "%s  leaks:       ", pre);
  for (int c = ZA_LEAK_DEFINITE; c >= ZA_LEAK_REACHABLE; c--)
    za_out_printf(o, "%s %N byte%s in %N block%s%s", za_words_leak_class((za_leak_class_t)c), by[c],
                  plural(by[c]), bl[c], plural(bl[c]), c == ZA_LEAK_REACHABLE ? running : ", ");
  za_out_str(o, "\n");
}

/* One line: what the rules took out of the report, and which rules. */
static void write_suppressed(za_out_t *o, const char *pre, const za_report_t *r) {
  uint64_t errors = 0;
  size_t groups = 0, blocks = 0, bytes = 0;
  for (size_t i = 0; r->findings && i < r->counts.listed; i++)
    if (r->findings[i].suppressed_by) errors += r->findings[i].f.times;
  for (size_t i = 0; i < r->leaks.ngroups; i++)
    if (r->leaks.groups[i].suppressed_by) {
      groups++;
      blocks += r->leaks.groups[i].blocks;
      bytes += r->leaks.groups[i].bytes;
    }
  if (!errors && !groups) return;
  za_out_printf(o, "%s  suppressed:  %N heap error%s and %N leak group%s (%N byte%s in %N block%s) "
                   "by ZALLOC_SUPPRESS:", pre, (size_t)errors, plural(errors), groups,
                plural(groups), bytes, plural(bytes), blocks, plural(blocks));
  const char *sep = " ";
  for (size_t i = 0; i < r->nrules; i++)
    if (r->rules[i].used) {
      za_out_printf(o, "%s%s (%s:%d, %N time%s)", sep, r->rules[i].text,
                    za_words_base_name(r->rules[i].file), r->rules[i].line, (size_t)r->rules[i].used,
                    plural(r->rules[i].used));
      sep = ", ";
    }
  za_out_str(o, "\n");
}

static void write_hint(za_out_t *o, const char *pre, const za_report_t *r) {
  if (!r->nnodebug) return;
  za_out_printf(o, "%s  hint:        no file:line for frames in", pre);
  for (size_t i = 0; i < r->nnodebug; i++)
    za_out_printf(o, "%s %s", i ? "," : "", r->nodebug[i].module);
  za_out_str(o, ": no debug information in the file or under /usr/lib/debug (by build id); "
                "install the debug symbols of the package that owns it (Debian, Ubuntu: "
                "PACKAGE-dbgsym, where `dpkg -S FILE` names PACKAGE; Fedora: debuginfo-install "
                "PACKAGE) or build it with -g\n");
}

void za_report_write_text(za_out_t *o, const za_report_t *r) {
  char pre[32];
  za_snprintf(pre, sizeof pre, "==%d== ", r->process.pid);
  write_header(o, pre, r);
  write_ended(o, pre, r);
  if (r->end.how == ZA_END_FIRST_ERROR) {
    /* The first error alone: the process never got to its end. */
    for (size_t i = 0; r->findings && i < r->counts.listed; i++) write_finding(o, pre, r, &r->findings[i]);
    za_out_printf(o, "%szalloc: aborting at the first heap error (ZALLOC_ABORT=1)\n", pre);
    return;
  }
  if (r->crash) write_crash(o, pre, r);
  write_stats(o, pre, r);
  write_guarded(o, pre, r);
  if (r->leaks.state == ZA_LEAKS_NOT_CHECKED) write_live(o, pre, r);
  if (r->deepbind_count)
    za_out_printf(o, "%s  note:        RTLD_DEEPBIND dropped from %N dlopen call%s (first: %s), "
                     "so those libraries share zalloc's heap\n",
                  pre, r->deepbind_count, plural(r->deepbind_count), r->deepbind_first);
  if (r->depot_refused)
    za_out_printf(o, "%s  note:        the stack depot is full (%N distinct stacks): %N captures "
                     "of a new stack were not stored, and show no stack\n",
                  pre, r->depot_max, r->depot_refused);
  write_errors(o, pre, r);
  write_failures(o, pre, r);
  if (r->leaks.state != ZA_LEAKS_NOT_CHECKED) write_leaks(o, pre, r);
  write_suppressed(o, pre, r);
  write_hint(o, pre, r);
}
