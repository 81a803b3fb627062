/* zalloc - the JSON writer (see report_json.h). */
#include "report_json.h"

#include "prim.h"
#include "report_words.h"

#include <string.h>

#define MAX_LISTED_GROUPS 1000

/* ---- values ------------------------------------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at p, or 0. */
static size_t utf8_len(const unsigned char *p) {
  size_t n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 && p[0] < 0xe0 ? 2 : 0;
  for (size_t i = 1; i < n; i++)
    if ((p[i] & 0xc0) != 0x80) return 0;
  return n;
}

static void str(za_out_t *o, const char *s) {
  if (!s) {
    za_out_str(o, "null");
    return;
  }
  za_out_str(o, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\', esc[1] = (char)*p, esc[2] = 0;
      za_out_str(o, esc);
      p++;
    } else if (*p < 0x20) {
      za_snprintf(esc, sizeof esc, "\\u%04x", *p);
      za_out_str(o, esc);
      p++;
    } else if (*p < 0x80) {
      esc[0] = (char)*p, esc[1] = 0;
      za_out_str(o, esc);
      p++;
    } else {
      size_t n = utf8_len(p);
      if (n == 0) {
        za_out_str(o, "\\ufffd");
        p++;
      } else {
        memcpy(esc, p, n);
        esc[n] = 0;
        za_out_str(o, esc);
        p += n;
      }
    }
  }
  za_out_str(o, "\"");
}

static void key(za_out_t *o, bool *first, const char *k) {
  za_out_printf(o, "%s\"%s\":", *first ? "" : ",", k);
  *first = false;
}

static void kstr(za_out_t *o, bool *first, const char *k, const char *v) {
  key(o, first, k);
  str(o, v);
}

static void knum(za_out_t *o, bool *first, const char *k, unsigned long long v) {
  key(o, first, k);
  za_out_printf(o, "%llu", v);
}

static void kint(za_out_t *o, bool *first, const char *k, long long v) {
  key(o, first, k);
  za_out_printf(o, "%lld", v);
}

static void kbool(za_out_t *o, bool *first, const char *k, bool v) {
  key(o, first, k);
  za_out_str(o, v ? "true" : "false");
}

static void kaddr(za_out_t *o, bool *first, const char *k, uintptr_t v) {
  key(o, first, k);
  za_out_printf(o, "\"%p\"", (void *)v);
}

static void knull(za_out_t *o, bool *first, const char *k) {
  key(o, first, k);
  za_out_str(o, "null");
}

/* ---- stacks -------------------------------------------------------------------------------------- */

static void frame(za_out_t *o, const za_frame_t *f) {
  bool first = true;
  za_out_str(o, "{");
  kaddr(o, &first, "pc", f->pc);
  kstr(o, &first, "function", f->function);
  if (f->function && !f->inlined) knum(o, &first, "offset", f->function_offset);
  else knull(o, &first, "offset");
  kstr(o, &first, "file", f->file);
  if (f->file) kint(o, &first, "line", f->line);
  else knull(o, &first, "line");
  kstr(o, &first, "module", f->module);
  if (f->module) knum(o, &first, "module_offset", f->module_offset);
  else knull(o, &first, "module_offset");
  kbool(o, &first, "inlined", f->inlined);
  za_out_str(o, "}");
}

static void frames(za_out_t *o, const za_rstack_t *s) {
  za_out_str(o, "[");
  if (s && s->frames) {
    for (int i = 0; i < s->nframes; i++) {
      if (i) za_out_str(o, ",");
      frame(o, &s->frames[i]);
    }
  } else if (s) {
    for (int i = 0; i < s->npcs; i++)
      za_out_printf(o, "%s{\"pc\":\"%p\",\"function\":null,\"offset\":null,\"file\":null,\"line\":null,"
                       "\"module\":null,\"module_offset\":null,\"inlined\":false}",
                    i ? "," : "", (void *)s->pcs[i]);
  }
  za_out_str(o, "]");
}

/* {"thread": T, "frames": [...]} */
static void kstack(za_out_t *o, bool *first, const char *k, int tid, const za_rstack_t *s) {
  key(o, first, k);
  bool f2 = true;
  za_out_str(o, "{");
  if (tid) kint(o, &f2, "thread", tid);
  else knull(o, &f2, "thread");
  key(o, &f2, "frames");
  frames(o, s);
  za_out_str(o, "}");
}

/* The rule text that would silence an item: KIND:FUNCTION (or module). */
static void ksuppression(za_out_t *o, bool *first, const char *kind, const za_rstack_t *s) {
  const za_frame_t *f = za_words_suppression_frame(s);
  const char *what = f ? (f->function ? f->function : za_words_base_name(f->module)) : NULL;
  key(o, first, "suppression");
  if (!what) {
    za_out_str(o, "null");
    return;
  }
  char buf[600];
  za_snprintf(buf, sizeof buf, "%s:%s", kind, what);
  str(o, buf);
}

/* ---- the parts ----------------------------------------------------------------------------------- */

static void process(za_out_t *o, bool *first, const za_report_t *r) {
  const za_rprocess_t *p = &r->process;
  key(o, first, "process");
  bool f = true;
  za_out_str(o, "{");
  kint(o, &f, "pid", p->pid);
  kint(o, &f, "parent", p->ppid);
  if (p->forked_from) kint(o, &f, "forked_from", p->forked_from);
  else knull(o, &f, "forked_from");
  kstr(o, &f, "image", p->image);
  kstr(o, &f, "program", p->program);
  kstr(o, &f, "command", p->command);
  kstr(o, &f, "mode", p->mode);
  za_out_str(o, "}");
}

static void end(za_out_t *o, bool *first, const za_report_t *r) {
  static const char *const how[] = {"exit", "_exit", "signal", "running", "first-error"};
  const za_rend_t *e = &r->end;
  char sig[24];
  key(o, first, "end");
  bool f = true;
  za_out_str(o, "{");
  kstr(o, &f, "how", how[e->how]);
  bool exited = e->how == ZA_END_EXIT || e->how == ZA_END__EXIT;
  if (exited) kint(o, &f, "status", e->status);
  else knull(o, &f, "status");
  if (exited) kint(o, &f, "exit_status", e->exitcode ? e->exitcode : e->status);
  else knull(o, &f, "exit_status");
  kbool(o, &f, "exitcode_applied", e->exitcode != 0);
  bool signalled = e->how == ZA_END_SIGNAL || e->how == ZA_END_RUNNING;
  kstr(o, &f, "signal", signalled ? za_words_signal(e->signo, sig, sizeof sig) : NULL);
  if (signalled) kint(o, &f, "signal_number", e->signo);
  else knull(o, &f, "signal_number");
  if (e->how == ZA_END_RUNNING) knum(o, &f, "sequence", e->sequence);
  else knull(o, &f, "sequence");
  za_out_str(o, "}");
}

static void crash(za_out_t *o, bool *first, const za_report_t *r) {
  const za_rcrash_t *c = r->crash;
  key(o, first, "crash");
  if (!c) {
    za_out_str(o, "null");
    return;
  }
  char sig[24];
  const char *code_name, *meaning = za_words_signal_code(c->signo, c->code, &code_name);
  bool f = true;
  za_out_str(o, "{");
  kstr(o, &f, "signal", za_words_signal(c->signo, sig, sizeof sig));
  kint(o, &f, "signal_number", c->signo);
  kstr(o, &f, "code", code_name);
  kint(o, &f, "code_number", c->code);
  kstr(o, &f, "meaning", meaning);
  if (c->has_addr) kaddr(o, &f, "address", c->addr);
  else knull(o, &f, "address");
  kstr(o, &f, "access", za_words_access(c->access));
  kint(o, &f, "thread", c->tid);
  if (c->sent && c->sender_pid) kint(o, &f, "sender_pid", c->sender_pid);
  else knull(o, &f, "sender_pid");
  kbool(o, &f, "inside_zalloc", c->in_zalloc);
  kbool(o, &f, "inside_loader", c->in_loader);
  kstr(o, &f, "symbols_limited", c->symbols_limited);
  key(o, &f, "frames");
  frames(o, c->stack);
  key(o, &f, "block");
  if (!c->block_known) {
    za_out_str(o, "null");
  } else {
    const za_block_info_t *b = &c->block_info;
    size_t size = b->size;
    const char *relation = c->addr < c->block ? "before" : c->addr - c->block < (size ? size : 1) ? "inside" : "after";
    size_t distance = c->addr < c->block ? c->block - c->addr
                      : c->addr - c->block < (size ? size : 1) ? c->addr - c->block
                                                                : c->addr - c->block - size + 1;
    bool g = true;
    za_out_str(o, "{");
    kaddr(o, &g, "address", c->block);
    knum(o, &g, "size", size);
    kstr(o, &g, "state", c->block_state == ZA_BLOCK_LIVE ? "live" : "freed");
    kstr(o, &g, "allocated_with", za_words_alloc_kind(b->kind));
    kstr(o, &g, "relation", relation);
    knum(o, &g, "distance", distance);
    kstack(o, &g, "allocated", b->alloc_tid, c->block_alloc);
    if (c->block_state == ZA_BLOCK_FREED) kstack(o, &g, "freed", b->free_tid, c->block_free);
    else knull(o, &g, "freed");
    za_out_str(o, "}");
  }
  key(o, &f, "registers");
  za_out_str(o, "[");
  for (int i = 0; i < c->npatterns; i++) {
    bool g = true;
    za_out_str(o, i ? ",{" : "{");
    kstr(o, &g, "name", c->patterns[i].reg);
    kaddr(o, &g, "value", c->patterns[i].value);
    kstr(o, &g, "pattern", (c->patterns[i].value & 0xff) == 0xfd ? "freed" : "guard");
    za_out_str(o, "}");
  }
  za_out_str(o, "]}");
}

static void stats(za_out_t *o, bool *first, const za_report_t *r) {
  const za_rstats_t *s = &r->stats;
  key(o, first, "stats");
  if (!s->known) {
    za_out_str(o, "null");
    return;
  }
  bool f = true;
  za_out_str(o, "{");
  knum(o, &f, "malloc", s->malloc);
  knum(o, &f, "calloc", s->calloc);
  knum(o, &f, "realloc", s->realloc);
  knum(o, &f, "aligned", s->aligned);
  knum(o, &f, "free", s->free);
  knum(o, &f, "blocks_allocated", s->blocks);
  knum(o, &f, "bytes_allocated", s->bytes);
  knum(o, &f, "peak_bytes", s->peak);
  knum(o, &f, "live_blocks", s->live_blocks);
  knum(o, &f, "live_bytes", s->live_bytes);
  za_out_str(o, "}");
}

static void notes(za_out_t *o, bool *first, const za_report_t *r) {
  key(o, first, "notes");
  za_out_str(o, "[");
  if (r->deepbind_count) {
    char buf[400];
    za_snprintf(buf, sizeof buf, "RTLD_DEEPBIND dropped from %zu dlopen call%s (first: %s)",
                r->deepbind_count, r->deepbind_count == 1 ? "" : "s", r->deepbind_first);
    str(o, buf);
  }
  bool any = r->deepbind_count;
  if (r->depot_refused) {
    char buf[200];
    za_snprintf(buf, sizeof buf, "the stack depot is full (%zu distinct stacks): %zu captures of "
                "a new stack were not stored, and show no stack", r->depot_max, r->depot_refused);
    if (any) za_out_str(o, ",");
    str(o, buf);
    any = true;
  }
  if (r->leaks.state == ZA_LEAKS_NO_MAPS) {
    char buf[200];
    za_snprintf(buf, sizeof buf, "leaks not checked: /proc/self/maps cannot be read (%s)",
                za_os_errno_name(r->leaks.maps_err));
    if (any) za_out_str(o, ",");
    str(o, buf);
  }
  za_out_str(o, "]");
}

static void finding(za_out_t *o, const za_report_t *r, const za_rfinding_t *rf) {
  const za_finding_t *fi = &rf->f;
  bool f = true;
  char msg[600];
  za_out_t m;
  za_out_init(&m, -1, msg, sizeof msg - 1);
  za_words_finding(&m, fi);
  msg[m.len] = '\0';
  za_out_str(o, "{");
  kstr(o, &f, "kind", za_words_kind_id(rf->kind));
  kstr(o, &f, "message", msg);
  kstr(o, &f, "operation", za_words_op(fi->op));
  kaddr(o, &f, "address", fi->addr);
  if (fi->size || fi->state == ZA_BLOCK_FREED || fi->corrupt || fi->mismatch) knum(o, &f, "size", fi->size);
  else knull(o, &f, "size");
  knum(o, &f, "times", fi->times);
  if (za_words_finding_has_thread(fi)) kint(o, &f, "thread", fi->tid);
  else knull(o, &f, "thread");
  kbool(o, &f, "suppressed", rf->suppressed_by != NULL);
  kstr(o, &f, "suppressed_by", rf->suppressed_by ? rf->suppressed_by->text : NULL);
  za_finding_stack_t st[3];
  int n = za_words_finding_stacks(rf, st);
  ksuppression(o, &f, za_words_kind_id(rf->kind), n ? st[0].stack : NULL);
  key(o, &f, "stacks");
  bool g = true;
  za_out_str(o, "{");
  for (int i = 0; i < n && r->stacks_recorded; i++) kstack(o, &g, st[i].role, st[i].tid, st[i].stack);
  za_out_str(o, "}}");
}

static void errors(za_out_t *o, bool *first, const za_report_t *r) {
  key(o, first, "errors");
  if (!r->findings_known) {
    za_out_str(o, "null");
    return;
  }
  uint64_t shown[ZA_FK_COUNT], total = 0, suppressed = 0;
  memcpy(shown, r->counts.by_kind, sizeof shown);
  for (size_t i = 0; i < r->counts.listed; i++)
    if (r->findings[i].suppressed_by) {
      shown[r->findings[i].kind] -= r->findings[i].f.times;
      suppressed += r->findings[i].f.times;
    }
  for (int k = 0; k < ZA_FK_COUNT; k++) total += shown[k];
  bool f = true;
  za_out_str(o, "{");
  knum(o, &f, "total", total);
  key(o, &f, "by_kind");
  bool g = true;
  za_out_str(o, "{");
  for (int k = 0; k < ZA_FK_COUNT; k++)
    if (shown[k]) knum(o, &g, za_words_kind_id((za_finding_kind_t)k), shown[k]);
  za_out_str(o, "}");
  knum(o, &f, "suppressed", suppressed);
  knum(o, &f, "not_listed", r->counts.not_listed);
  za_out_str(o, "}");
}

static void findings(za_out_t *o, bool *first, const za_report_t *r) {
  key(o, first, "findings");
  za_out_str(o, "[");
  for (size_t i = 0; r->findings_known && i < r->counts.listed; i++) {
    if (i) za_out_str(o, ",");
    finding(o, r, &r->findings[i]);
  }
  za_out_str(o, "]");
}

static void kamount(za_out_t *o, bool *first, const char *k, size_t bytes, size_t blocks) {
  key(o, first, k);
  za_out_printf(o, "{\"bytes\":%zu,\"blocks\":%zu}", bytes, blocks);
}

static void leaks(za_out_t *o, bool *first, const za_report_t *r) {
  const za_rleaks_t *lk = &r->leaks;
  key(o, first, "leaks");
  if (lk->state == ZA_LEAKS_NOT_CHECKED) {
    za_out_str(o, "null");
    return;
  }
  size_t by[3], bl[3], sgroups = 0, sbytes = 0, sblocks = 0, listed = 0;
  memcpy(by, lk->totals.bytes, sizeof by);
  memcpy(bl, lk->totals.blocks, sizeof bl);
  for (size_t i = 0; i < lk->ngroups; i++) {
    const za_rleak_group_t *g = &lk->groups[i];
    if (g->suppressed_by) {
      by[g->cls] -= g->bytes;
      bl[g->cls] -= g->blocks;
      sgroups++, sbytes += g->bytes, sblocks += g->blocks;
    }
  }
  bool f = true;
  za_out_str(o, "{");
  kbool(o, &f, "checked", lk->state == ZA_LEAKS_CHECKED);
  kbool(o, &f, "while_running", lk->running);
  kamount(o, &f, "definitely_lost", by[ZA_LEAK_DEFINITE], bl[ZA_LEAK_DEFINITE]);
  kamount(o, &f, "indirectly_lost", by[ZA_LEAK_INDIRECT], bl[ZA_LEAK_INDIRECT]);
  kamount(o, &f, "still_reachable", by[ZA_LEAK_REACHABLE], bl[ZA_LEAK_REACHABLE]);
  key(o, &f, "suppressed");
  za_out_printf(o, "{\"groups\":%zu,\"bytes\":%zu,\"blocks\":%zu}", sgroups, sbytes, sblocks);
  kbool(o, &f, "reachable_listed", lk->reachable_listed);
  key(o, &f, "groups");
  za_out_str(o, "[");
  for (size_t i = 0; i < lk->ngroups && listed < MAX_LISTED_GROUPS; i++) {
    const za_rleak_group_t *gr = &lk->groups[i];
    bool g = true;
    za_out_str(o, listed++ ? ",{" : "{");
    kstr(o, &g, "kind", za_words_leak_class_id(gr->cls));
    knum(o, &g, "bytes", gr->bytes);
    knum(o, &g, "blocks", gr->blocks);
    kint(o, &g, "thread", gr->tid);
    knum(o, &g, "threads", gr->tids);
    kbool(o, &g, "suppressed", gr->suppressed_by != NULL);
    kstr(o, &g, "suppressed_by", gr->suppressed_by ? gr->suppressed_by->text : NULL);
    if (gr->cls == ZA_LEAK_REACHABLE) knull(o, &g, "suppression");
    else ksuppression(o, &g, "leak", gr->stack);
    key(o, &g, "frames");
    frames(o, gr->stack);
    za_out_str(o, "}");
  }
  za_out_str(o, "]");
  knum(o, &f, "groups_not_listed", lk->ngroups - listed);
  za_out_str(o, "}");
}

/* One failure: its sentence, the call, the stack. */
static void failure(za_out_t *o, const za_rfailure_t *x, bool injected, size_t limit) {
  char msg[400];
  za_out_t m;
  za_out_init(&m, -1, msg, sizeof msg - 1);
  za_words_failure(&m, x, injected, limit);
  msg[m.len] = '\0';
  bool f = true;
  za_out_str(o, "{");
  kstr(o, &f, "message", msg);
  kstr(o, &f, "operation", za_words_op(x->op));
  knum(o, &f, "size", x->size);
  if (injected) {
    knum(o, &f, "call", x->call);
    knum(o, &f, "times", x->times);
  } else {
    knum(o, &f, "held", x->held);
  }
  kint(o, &f, "thread", x->tid);
  key(o, &f, "frames");
  frames(o, x->stack);
  za_out_str(o, "}");
}

static void failures(za_out_t *o, bool *first, const za_report_t *r) {
  const za_rfailures_t *fl = &r->failures;
  key(o, first, "failures");
  if (!fl->active || !fl->known) {
    za_out_str(o, "null");
    return;
  }
  bool f = true;
  za_out_str(o, "{");
  if (fl->limit) knum(o, &f, "limit", fl->limit);
  else knull(o, &f, "limit");
  knum(o, &f, "refused", fl->refused);
  key(o, &f, "first_refused");
  if (fl->refused) failure(o, &fl->first_refused, false, fl->limit);
  else za_out_str(o, "null");
  kstr(o, &f, "injection", fl->injecting);
  knum(o, &f, "allocation_calls", fl->calls);
  knum(o, &f, "injected", fl->injected);
  key(o, &f, "injected_listed");
  za_out_str(o, "[");
  for (size_t i = 0; i < fl->nlisted; i++) {
    if (i) za_out_str(o, ",");
    failure(o, &fl->listed[i], true, fl->limit);
  }
  za_out_str(o, "]");
  knum(o, &f, "injected_not_listed", fl->not_listed);
  za_out_str(o, "}");
}

static void guarded(za_out_t *o, bool *first, const za_report_t *r) {
  const za_rguarded_t *g = &r->guarded;
  key(o, first, "guarded");
  if (!g->active) {
    za_out_str(o, "null");
    return;
  }
  bool f = true;
  za_out_str(o, "{");
  knum(o, &f, "blocks", g->blocks);
  knum(o, &f, "fallback", g->fallback);
  knum(o, &f, "map_limited", g->map_limited);
  knum(o, &f, "most_live", g->most_live);
  knum(o, &f, "max_map_count", g->max_map_count);
  za_out_str(o, "}");
}

static void rules(za_out_t *o, bool *first, const za_report_t *r) {
  key(o, first, "suppression_rules");
  za_out_str(o, "[");
  for (size_t i = 0; i < r->nrules; i++) {
    bool f = true;
    za_out_str(o, i ? ",{" : "{");
    kstr(o, &f, "rule", r->rules[i].text);
    kstr(o, &f, "file", r->rules[i].file);
    kint(o, &f, "line", r->rules[i].line);
    knum(o, &f, "used", r->rules[i].used);
    za_out_str(o, "}");
  }
  za_out_str(o, "]");
}

static void nodebug(za_out_t *o, bool *first, const za_report_t *r) {
  key(o, first, "modules_without_debug_info");
  za_out_str(o, "[");
  for (size_t i = 0; i < r->nnodebug; i++) {
    bool f = true;
    za_out_str(o, i ? ",{" : "{");
    kstr(o, &f, "module", r->nodebug[i].module);
    kstr(o, &f, "build_id", r->nodebug[i].build_id);
    za_out_str(o, "}");
  }
  za_out_str(o, "]");
}

void za_report_write_json(za_out_t *o, const za_report_t *r) {
  bool first = true;
  za_out_str(o, "{");
  kstr(o, &first, "schema", "zalloc-report");
  kint(o, &first, "version", ZA_REPORT_JSON_VERSION);
  kstr(o, &first, "report", r->end.how == ZA_END_RUNNING ? "on-demand" : "final");
  process(o, &first, r);
  end(o, &first, r);
  crash(o, &first, r);
  stats(o, &first, r);
  notes(o, &first, r);
  errors(o, &first, r);
  findings(o, &first, r);
  leaks(o, &first, r);
  failures(o, &first, r);
  guarded(o, &first, r);
  rules(o, &first, r);
  nodebug(o, &first, r);
  kbool(o, &first, "symbols_full", r->symbols_full);
  za_out_str(o, "}\n");
}
